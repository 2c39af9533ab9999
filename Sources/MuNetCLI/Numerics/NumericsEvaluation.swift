import MuNetRuntime

/// One Tier 1 output: which thread count, which GEMM engine setting.
struct Tier1Run {
  let threads: Int
  /// `default` (the engine as the model uses it) or `split` (a GEMM engine that splits every
  /// product, however small, so that edge shapes exercise the partition too).
  let variant: String
  let output: NumericsOutput
}

/// Two Tier 2 outputs with the same thread count, one after the other.
struct Tier2Run {
  let threads: Int
  let first: NumericsOutput
  let second: NumericsOutput
}

/// The verdict on one case: one row of the table.
struct NumericsCaseResult: Codable, Equatable {
  var op: String
  var shape: String
  var kind: NumericsCase.Kind
  /// Tier 1 thread counts run, ascending.
  var tier1Threads: [Int]
  /// Thread counts whose output differed from Tier 0 in some bit (must be empty).
  var tier1MismatchedThreads: [Int]
  /// Largest `|Tier 1 − Tier 0|` over all Tier 1 runs (0 when bitwise equal).
  var tier1MaxAbsoluteError: Double
  /// Tier 2 thread counts run, ascending.
  var tier2Threads: [Int]
  /// Largest `|Tier 2 − Tier 0|` over all Tier 2 runs.
  var tier2MaxAbsoluteError: Double
  /// GEMM only: largest `|Tier 2 − Tier 0| / bound` (must be ≤ 1).
  var tier2BoundRatio: Double?
  /// Every Tier 2 output had the Tier 0 bits.
  var tier2BitwiseEqualTier0: Bool
  /// Measured, not promised for GEMM: Tier 2 on the first and last thread counts gave the same bits.
  var tier2ThreadCountsBitwiseEqual: Bool?
  /// Measured: each pair of Tier 2 runs with the same thread count gave the same bits.
  var tier2RepeatsBitwiseEqual: Bool
  var violations: [String]
  var elapsedMilliseconds: Double = 0

  var passed: Bool { violations.isEmpty }
}

/// Turns the outputs of one case into a ``NumericsCaseResult``. Pure: tests feed it planted
/// outputs to show that each kind of violation is caught.
enum NumericsEvaluation {
  /// Violations: a Tier 1 output not bitwise equal to Tier 0; for `.gemm` a Tier 2 output
  /// outside the bound (or that touched storage outside its view); for `.deterministic` a Tier 2
  /// output not bitwise equal to Tier 0. Tier 2's cross-thread and repeat equality are reported only.
  static func evaluate(
    op: String, shape: String, kind: NumericsCase.Kind, reference: NumericsOutput,
    tier1: [Tier1Run], tier2: [Tier2Run],
    boundCheck: ((NumericsOutput, NumericsOutput) -> NumericsBoundSummary)?
  ) -> NumericsCaseResult {
    precondition(kind == .deterministic || boundCheck != nil, "a GEMM case needs a bound check")
    let name = "\(op) \(shape)"
    var violations: [String] = []
    var mismatched = Set<Int>()
    var tier1Error = 0.0
    for run in tier1 where !run.output.isBitwiseEqual(to: reference) {
      mismatched.insert(run.threads)
      let error = run.output.maxAbsoluteError(from: reference)
      tier1Error = max(tier1Error, error)
      violations.append("\(name): Tier 1 (\(threadsLabel(run.threads)), \(run.variant)) is not bitwise "
                        + "equal to Tier 0 (max |err| \(NumericsFormat.error(error)))")
    }
    var tier2Error = 0.0
    var ratio: Double? = kind == .gemm ? 0 : nil
    var tier2Equal = true
    var repeatsEqual = true
    for run in tier2 {
      repeatsEqual = repeatsEqual && run.first.isBitwiseEqual(to: run.second)
      let outputs = run.first.isBitwiseEqual(to: run.second) ? [run.first] : [run.first, run.second]
      for output in outputs {
        tier2Error = max(tier2Error, output.maxAbsoluteError(from: reference))
        let equal = output.isBitwiseEqual(to: reference)
        tier2Equal = tier2Equal && equal
        if let boundCheck {
          let summary = boundCheck(output, reference)
          ratio = max(ratio ?? 0, summary.maxBoundRatio)
          if summary.failureCount > 0 {
            violations.append("\(name): Tier 2 (\(threadsLabel(run.threads))) outside the GEMM bound in "
                              + "\(summary.failureCount) of \(summary.comparedCount) outputs (ratio "
                              + "\(NumericsFormat.ratio(summary.maxBoundRatio)))")
          }
          if !summary.paddingIntact {
            violations.append("\(name): Tier 2 (\(threadsLabel(run.threads))) wrote outside the output view")
          }
        } else if !equal {
          violations.append("\(name): Tier 2 (\(threadsLabel(run.threads))) is not bitwise equal to Tier 0 "
                            + "(max |err| \(NumericsFormat.error(output.maxAbsoluteError(from: reference)))")
        }
      }
    }
    var threadCountsEqual: Bool?
    if let first = tier2.first, let last = tier2.last, tier2.count > 1 {
      threadCountsEqual = first.first.isBitwiseEqual(to: last.first)
    }
    return NumericsCaseResult(
      op: op, shape: shape, kind: kind, tier1Threads: Set(tier1.map(\.threads)).sorted(),
      tier1MismatchedThreads: mismatched.sorted(), tier1MaxAbsoluteError: tier1Error,
      tier2Threads: tier2.map(\.threads).sorted(), tier2MaxAbsoluteError: tier2Error, tier2BoundRatio: ratio,
      tier2BitwiseEqualTier0: tier2Equal, tier2ThreadCountsBitwiseEqual: threadCountsEqual,
      tier2RepeatsBitwiseEqual: repeatsEqual, violations: violations)
  }

  static func threadsLabel(_ threads: Int) -> String { threads == 1 ? "1 thread" : "\(threads) threads" }
}
