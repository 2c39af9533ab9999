import CMuNetSupport
import MuNetBLAS
import MuNetRuntime

/// The executors a check runs every case on.
final class NumericsEngines {
  /// The thread counts Tier 1 must agree on (spec/determinism.md).
  static let tier1ThreadCounts = [1, 2, 3, 4, 7]
  /// Tier 2 runs with these thread counts (each twice).
  static let tier2ThreadCounts = [1, 2]

  let reference = Compute(tier: .reference)
  /// Per thread count: the default Tier 1 executor, and the same pool with a GEMM engine that
  /// splits every product (`multiplyAddsPerThreadMin: 1`).
  let tier1: [(threads: Int, computes: [(variant: String, compute: Compute)])]
  let tier2: [(threads: Int, compute: Compute)]

  /// `threadsMax` limits Tier 1 to the counts in ``tier1ThreadCounts`` up to it, plus
  /// `threadsMax` itself.
  init(threadsMax: Int) {
    tier1 = NumericsEngines.tier1Threads(threadsMax: threadsMax).map { threads in
      let standard = Compute(tier: .threads, threadCount: threads)
      let pool = standard.pool!
      let split = Compute(
        tier: .threads, pool: pool, gemmEngine: ThreadedGEMM(pool: pool, multiplyAddsPerThreadMin: 1))
      return (threads, [("default", standard), ("split", split)])
    }
    tier2 = NumericsEngines.tier2ThreadCounts.map { ($0, Compute.blas(threads: $0)) }
  }

  /// The counts of ``tier1ThreadCounts`` up to `threadsMax`, and `threadsMax`, ascending.
  static func tier1Threads(threadsMax: Int) -> [Int] {
    Set(tier1ThreadCounts.filter { $0 <= threadsMax } + [threadsMax]).sorted()
  }

  var tier1Threads: [Int] { tier1.map(\.threads) }
  var tier2Threads: [Int] { tier2.map(\.threads) }
}

/// Runs cases through every tier and judges them.
enum NumericsRunner {
  /// Runs one case: Tier 0, every Tier 1 executor (both GEMM variants for products), every
  /// Tier 2 executor twice.
  static func run(_ numericsCase: NumericsCase, engines: NumericsEngines) -> NumericsCaseResult {
    let start = munet_monotonic_ns()
    let prepared = numericsCase.prepare()
    let reference = prepared.run(engines.reference)
    var tier1: [Tier1Run] = []
    for (threads, computes) in engines.tier1 {
      let used = numericsCase.kind == .gemm ? computes : [computes[0]]
      for (variant, compute) in used {
        tier1.append(Tier1Run(threads: threads, variant: variant, output: prepared.run(compute)))
      }
    }
    let tier2 = engines.tier2.map { threads, compute in
      Tier2Run(threads: threads, first: prepared.run(compute), second: prepared.run(compute))
    }
    var result = NumericsEvaluation.evaluate(
      op: numericsCase.op, shape: numericsCase.shape, kind: numericsCase.kind, reference: reference,
      tier1: tier1, tier2: tier2, boundCheck: prepared.boundCheck)
    result.elapsedMilliseconds = Double(munet_monotonic_ns() - start) / 1e6
    return result
  }
}
