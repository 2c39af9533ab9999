/// The engine's executor: which tier runs, on how many threads.
///
/// Every kernel the model calls goes through a `Compute`. Kernels are written over a range of
/// independent outputs (rows, columns or batch items); ``parallelFor(count:grain:_:)`` hands
/// out contiguous ranges, one per thread, decided before anything runs (a static partition).
/// Because every output is computed by the same code whichever range it falls in, the result
/// does not depend on the thread count. No reduction is ever split across threads.
public final class Compute: @unchecked Sendable {
  public let tier: Tier
  public let threadCount: Int
  public let gemmEngine: any GEMMEngine
  /// nil in Tier 0.
  public let pool: ThreadPool?

  /// Tier 0 (`threadCount` is 1) or Tier 1. Tier 2 is made by `MuNetBLAS` with ``init(tier:pool:gemmEngine:)``.
  public convenience init(tier: Tier, threadCount: Int = 1) {
    precondition(tier != .blas, "Tier 2 needs an OpenBLAS engine: use Compute.blas(threads:) from MuNetBLAS")
    if tier == .reference {
      self.init(tier: .reference, pool: nil, gemmEngine: ReferenceGEMM())
    } else {
      let pool = ThreadPool(threadCount: threadCount)
      self.init(tier: .threads, pool: pool, gemmEngine: ThreadedGEMM(pool: pool))
    }
  }

  public init(tier: Tier, pool: ThreadPool?, gemmEngine: any GEMMEngine) {
    self.tier = tier
    self.pool = pool
    self.threadCount = pool?.threadCount ?? 1
    self.gemmEngine = gemmEngine
  }

  /// Runs `job` over `0..<count` split into at most `threadCount` contiguous ranges whose
  /// bounds are multiples of `grain` (except the last). The job must only write outputs inside
  /// the range it is given. In Tier 0 it runs once over the whole range.
  @inlinable
  public func parallelFor<Job: RangeJob>(count: Int, grain: Int = 1, _ job: Job) {
    guard count > 0 else { return }
    guard let pool, pool.threadCount > 1 else { return job.run(range: 0..<count) }
    let parts = Partition.partCount(count: count, grain: grain, partsMax: pool.threadCount)
    if parts == 1 { return job.run(range: 0..<count) }
    pool.run(taskCount: parts, PartitionedJob(job: job, parts: parts, count: count, grain: grain))
  }
}

/// Work over a range of independent outputs (rows, columns or batch items).
///
/// Kernels are wrapped in small structs conforming to this protocol rather than closures:
/// a closure handed to other threads would need a heap-allocated context on every call.
public protocol RangeJob {
  func run(range: Range<Int>)
}

/// A ``RangeJob`` cut into `parts` static ranges: task `p` runs range `p`.
@usableFromInline
struct PartitionedJob<Job: RangeJob>: ParallelJob {
  @usableFromInline let job: Job
  @usableFromInline let parts: Int
  @usableFromInline let count: Int
  @usableFromInline let grain: Int

  @inlinable
  init(job: Job, parts: Int, count: Int, grain: Int) {
    self.job = job
    self.parts = parts
    self.count = count
    self.grain = grain
  }

  @inlinable
  func run(task: Int) {
    job.run(range: Partition.range(part: task, parts: parts, count: count, grain: grain))
  }
}

/// Static partition of `0..<count` into contiguous ranges aligned to `grain`.
public enum Partition {
  @inlinable
  public static func partCount(count: Int, grain: Int, partsMax: Int) -> Int {
    precondition(grain >= 1 && partsMax >= 1)
    let blocks = (count + grain - 1) / grain
    return max(1, min(partsMax, blocks))
  }

  /// Part `part` of `parts`: blocks of `grain` are dealt out as evenly as possible, earlier parts
  /// taking the remainder.
  @inlinable
  public static func range(part: Int, parts: Int, count: Int, grain: Int) -> Range<Int> {
    let blocks = (count + grain - 1) / grain
    let base = blocks / parts
    let extra = blocks % parts
    let firstBlock = part * base + min(part, extra)
    let blockCount = base + (part < extra ? 1 : 0)
    let lower = min(count, firstBlock * grain)
    let upper = min(count, (firstBlock + blockCount) * grain)
    return lower..<upper
  }
}
