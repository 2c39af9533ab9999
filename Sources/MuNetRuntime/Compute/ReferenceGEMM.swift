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
    let rowGrain = GEMMKernel.rowGrain
    let colGrain = GEMMKernel.colGrain
    if c.rows >= rowGrain * threads || c.rows >= c.cols {
      let parts = Partition.partCount(count: c.rows, grain: rowGrain, partsMax: threads)
      pool.run(taskCount: parts) { part in
        let rows = Partition.range(part: part, parts: parts, count: c.rows, grain: rowGrain)
        GEMMKernel.multiply(a, b, c, accumulate: accumulate, rows: rows, cols: 0..<c.cols)
      }
    } else {
      let parts = Partition.partCount(count: c.cols, grain: colGrain, partsMax: threads)
      pool.run(taskCount: parts) { part in
        let cols = Partition.range(part: part, parts: parts, count: c.cols, grain: colGrain)
        GEMMKernel.multiply(a, b, c, accumulate: accumulate, rows: 0..<c.rows, cols: cols)
      }
    }
  }

  public func gemmBatched(_ a: MatrixBatch, _ b: MatrixBatch, _ c: MatrixBatch, accumulate: Bool) {
    checkShapes(a, b, c)
    guard c.count >= pool.threadCount else {
      for index in 0..<c.count { gemm(a[index], b[index], c[index], accumulate: accumulate) }
      return
    }
    let parts = Partition.partCount(count: c.count, grain: 1, partsMax: pool.threadCount)
    pool.run(taskCount: parts) { part in
      for index in Partition.range(part: part, parts: parts, count: c.count, grain: 1) {
        let ci = c[index]
        GEMMKernel.multiply(a[index], b[index], ci, accumulate: accumulate, rows: 0..<ci.rows, cols: 0..<ci.cols)
      }
    }
  }
}
