/// Tier 0 matrix product: one thread, deterministic FMA chains (see ``GEMMReference``).
public final class ReferenceGEMM: GEMMEngine {
  public let name = "reference"

  public init() {}

  public func gemm(_ a: Matrix, _ b: Matrix, _ c: Matrix, accumulate: Bool) {
    checkShapes(a, b, c)
    GEMMKernel.multiply(a, b, c, accumulate: accumulate, rows: 0..<c.rows, cols: 0..<c.cols)
  }

  public func gemmBatched(_ a: MatrixBatch, _ b: MatrixBatch, _ c: MatrixBatch, accumulate: Bool) {
    checkShapes(a, b, c)
    for index in 0..<c.count {
      gemm(a[index], b[index], c[index], accumulate: accumulate)
    }
  }
}

/// Tier 1 matrix product: the Tier 0 kernel over a static partition of the outputs.
///
/// Rows of `c` are split when there are enough of them, else columns; batches are split by
/// batch item. Each output's FMA chain is the same as in Tier 0, so the bits are too.
public final class ThreadedGEMM: GEMMEngine {
  public let pool: ThreadPool
  public var name: String { "threads(\(pool.threadCount))" }

  public init(pool: ThreadPool) { self.pool = pool }

  public func gemm(_ a: Matrix, _ b: Matrix, _ c: Matrix, accumulate: Bool) {
    checkShapes(a, b, c)
    let threads = pool.threadCount
    let splitRows = c.rows >= GEMMKernel.rowGrain * threads || c.rows >= c.cols
    let count = splitRows ? c.rows : c.cols
    let grain = splitRows ? GEMMKernel.rowGrain : GEMMKernel.colGrain
    let parts = Partition.partCount(count: count, grain: grain, partsMax: threads)
    let job = GEMMPartJob(a: a, b: b, c: c, accumulate: accumulate, splitRows: splitRows,
                          parts: parts, count: count, grain: grain)
    pool.run(taskCount: parts, job)
  }

  public func gemmBatched(_ a: MatrixBatch, _ b: MatrixBatch, _ c: MatrixBatch, accumulate: Bool) {
    checkShapes(a, b, c)
    guard c.count >= pool.threadCount else {
      for index in 0..<c.count { gemm(a[index], b[index], c[index], accumulate: accumulate) }
      return
    }
    let parts = Partition.partCount(count: c.count, grain: 1, partsMax: pool.threadCount)
    pool.run(taskCount: parts, GEMMBatchPartJob(a: a, b: b, c: c, accumulate: accumulate, parts: parts))
  }
}

/// One static part (rows or columns of `c`) of a Tier 1 product.
struct GEMMPartJob: ParallelJob {
  let a: Matrix, b: Matrix, c: Matrix
  let accumulate: Bool
  let splitRows: Bool
  let parts: Int, count: Int, grain: Int

  func run(task: Int) {
    let range = Partition.range(part: task, parts: parts, count: count, grain: grain)
    let rows = splitRows ? range : 0..<c.rows
    let cols = splitRows ? 0..<c.cols : range
    GEMMKernel.multiply(a, b, c, accumulate: accumulate, rows: rows, cols: cols)
  }
}

/// One static part (batch items) of a Tier 1 batched product.
struct GEMMBatchPartJob: ParallelJob {
  let a: MatrixBatch, b: MatrixBatch, c: MatrixBatch
  let accumulate: Bool
  let parts: Int

  func run(task: Int) {
    for index in Partition.range(part: task, parts: parts, count: c.count, grain: 1) {
      let output = c[index]
      GEMMKernel.multiply(a[index], b[index], output, accumulate: accumulate,
                          rows: 0..<output.rows, cols: 0..<output.cols)
    }
  }
}
