import MuNetRuntime

/// One operation on one shape, as check-numerics runs it: Tier 0 gives the reference bits,
/// Tier 1 must reproduce them, Tier 2 must reproduce them (deterministic kernels) or stay within
/// ``GEMMBound`` (matrix products).
struct NumericsCase {
  /// How Tier 2 is judged.
  enum Kind: String, Codable {
    /// OpenBLAS: within ``GEMMBound`` of Tier 0.
    case gemm
    /// munet's own kernels in every tier: bitwise equal to Tier 0.
    case deterministic
  }

  /// The operation, e.g. `gemm TN acc` or `softmax bwd`.
  let op: String
  /// The shape, e.g. `3136x64·64x192`.
  let shape: String
  let kind: Kind
  /// Builds the inputs (from the case's Philox stream). Called once per check, so the inputs of
  /// only one case are in memory at a time.
  let prepare: () -> PreparedNumericsCase

  var name: String { "\(op) \(shape)" }
}

/// A case with its inputs built.
struct PreparedNumericsCase {
  /// Runs the operation on an executor and returns every output. Each call starts from the same
  /// inputs and fresh output buffers pre-filled with ``NumericsInputs/sentinel``.
  let run: (Compute) -> NumericsOutput
  /// GEMM only: how far a Tier 2 output is from the Tier 0 output, in units of the bound.
  let boundCheck: ((_ candidate: NumericsOutput, _ reference: NumericsOutput) -> NumericsBoundSummary)?

  init(
    run: @escaping (Compute) -> NumericsOutput,
    boundCheck: ((NumericsOutput, NumericsOutput) -> NumericsBoundSummary)? = nil
  ) {
    self.run = run
    self.boundCheck = boundCheck
  }
}

/// ``GEMMBoundReport``s of one or more products (a batch) merged, plus a check that the
/// storage around an output view was left alone.
struct NumericsBoundSummary: Equatable {
  var comparedCount = 0
  var maxAbsoluteError = 0.0
  var maxBoundRatio = 0.0
  /// Outputs outside the bound (and non-finite mismatches).
  var failureCount = 0
  /// False when a value outside the output view changed.
  var paddingIntact = true

  var passed: Bool { failureCount == 0 && paddingIntact }

  mutating func merge(_ report: GEMMBoundReport) {
    comparedCount += report.comparedCount
    maxAbsoluteError = max(maxAbsoluteError, report.maxAbsoluteError)
    maxBoundRatio = max(maxBoundRatio, report.maxBoundRatio)
    failureCount += report.failureCount
  }
}
