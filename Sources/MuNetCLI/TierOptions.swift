import ArgumentParser
import MuNetBLAS
import MuNetRuntime

/// `--tier` and `--threads`, shared by every command that computes.
struct TierOptions: ParsableArguments {
  @Option(help: "reference (Tier 0: one thread), threads (Tier 1: same bits, N threads), blas (Tier 2: OpenBLAS).")
  var tier: String = "threads"

  @Option(help: "Threads for Tiers 1 and 2 (results in Tiers 0 and 1 do not depend on it).")
  var threads: Int = 2

  func validate() throws {
    guard Tier(rawValue: tier) != nil else {
      throw ValidationError("--tier must be reference, threads or blas, not '\(tier)'")
    }
    guard threads >= 1 && threads <= ThreadPool.threadCountMax else {
      throw ValidationError("--threads must be in 1...\(ThreadPool.threadCountMax), not \(threads)")
    }
  }

  /// The executor these options describe.
  func makeCompute() -> Compute {
    switch Tier(rawValue: tier)! {
    case .reference: return Compute(tier: .reference)
    case .threads: return Compute(tier: .threads, threadCount: threads)
    case .blas: return Compute.blas(threads: threads)
    }
  }
}
