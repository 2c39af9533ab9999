/// How Tier 1 splits the non-GEMM kernels. None of this changes a bit of any result: every
/// kernel computes each output with the same code whatever range it is handed, and no
/// reduction chain is ever split. It only decides how much work a task gets.
extension Compute {
  /// Tier 1 gives each task at least about this many elements, so that small operations are not
  /// slowed by waking threads (a few microseconds per run).
  public static let elementsPerTaskMin = 4096

  /// Column ranges handed to tasks are multiples of this (a 64-byte cache line of `Float`), so
  /// two tasks never write the same cache line of a column-reduction output.
  public static let columnBlock = 16

  /// The row grain for rows of `cols` elements: enough rows to make ``elementsPerTaskMin``.
  @inlinable
  public static func rowGrain(cols: Int) -> Int {
    max(1, elementsPerTaskMin / max(1, cols))
  }

  /// The column grain for columns of `rows` elements: a multiple of ``columnBlock`` holding at
  /// least ``elementsPerTaskMin`` elements.
  @inlinable
  public static func columnGrain(rows: Int) -> Int {
    let wanted = max(1, elementsPerTaskMin / max(1, rows))
    return (wanted + columnBlock - 1) / columnBlock * columnBlock
  }

  /// Runs `job` over the rows of a `rows × cols` operation split by ``rowGrain(cols:)``.
  @inlinable
  public func parallelRows<Job: RangeJob>(_ rows: Int, cols: Int, _ job: Job) {
    parallelFor(count: rows, grain: Compute.rowGrain(cols: cols), job)
  }

  /// Runs `job` over the columns of a `rows × cols` operation split by ``columnGrain(rows:)``.
  @inlinable
  public func parallelColumns<Job: RangeJob>(_ cols: Int, rows: Int, _ job: Job) {
    parallelFor(count: cols, grain: Compute.columnGrain(rows: rows), job)
  }

  /// Like ``parallelFor(count:grain:_:)`` for a job that counts something in its range; the
  /// counts are added. Integer addition is exact and associative, so the total does not depend
  /// on the partition. Makes no heap allocation (per-task counts live on the stack).
  public func parallelCount<Job: CountingRangeJob>(count: Int, grain: Int, _ job: Job) -> Int {
    guard count > 0 else { return 0 }
    guard let pool, pool.threadCount > 1 else { return job.count(range: 0..<count) }
    let parts = Partition.partCount(count: count, grain: grain, partsMax: pool.threadCount)
    if parts == 1 { return job.count(range: 0..<count) }
    return withUnsafeTemporaryAllocation(of: Int.self, capacity: parts) { counts in
      let counting = CountParts(
        job: job, counts: counts.baseAddress!, parts: parts, count: count, grain: grain)
      pool.run(taskCount: parts, counting)
      var total = 0
      for part in 0..<parts { total += counts[part] }
      return total
    }
  }
}

/// Work over a range that returns a count (see ``Compute/parallelCount(count:grain:_:)``).
public protocol CountingRangeJob {
  /// How many items of `range` count (only reads shared data).
  func count(range: Range<Int>) -> Int
}

/// Task `p` counts over part `p` of the static partition and stores the count at `counts[p]`.
private struct CountParts<Job: CountingRangeJob>: ParallelJob {
  let job: Job
  let counts: UnsafeMutablePointer<Int>
  let parts: Int
  let count: Int
  let grain: Int

  func run(task: Int) {
    counts[task] = job.count(range: Partition.range(part: task, parts: parts, count: count, grain: grain))
  }
}
