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
/// Rows or columns of `c` are split, in multiples of the kernel's 6 × 16 tile, whichever gives
/// the busiest thread fewer tiles (rows on a near tie: each thread then reads only its rows of
/// `a`); batches are split by batch item. Each output's FMA chain is the same as in Tier 0,
/// so the bits are too, whatever the split.
public final class ThreadedGEMM: GEMMEngine {
  public let pool: ThreadPool
  public var name: String { "threads(\(pool.threadCount))" }

  public init(pool: ThreadPool) { self.pool = pool }

  public func gemm(_ a: Matrix, _ b: Matrix, _ c: Matrix, accumulate: Bool) {
    checkShapes(a, b, c)
    let threads = pool.threadCount
    let rowGrain = GEMMKernel.rowGrain
    let colGrain = GEMMKernel.colGrain
    if ThreadedGEMM.splitsRows(rows: c.rows, cols: c.cols, threads: threads) {
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

  /// True when splitting rows leaves the busiest thread at most ~5% more kernel tiles than
  /// splitting columns would. E.g. 64 × 64 on 2 threads: rows give 6 × 4 = 24 tiles to the
  /// busiest thread, columns 11 × 2 = 22, so columns are split.
  static func splitsRows(rows: Int, cols: Int, threads: Int) -> Bool {
    let rowTiles = (rows + GEMMKernel.rowGrain - 1) / GEMMKernel.rowGrain
    let colTiles = (cols + GEMMKernel.colGrain - 1) / GEMMKernel.colGrain
    let busiestByRows = (rowTiles + threads - 1) / threads * colTiles
    let busiestByCols = (colTiles + threads - 1) / threads * rowTiles
    return busiestByCols * 20 >= busiestByRows * 19
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
        GEMMKernel.multiply(
          a[index], b[index], ci, accumulate: accumulate, rows: 0..<ci.rows, cols: 0..<ci.cols)
      }
    }
  }
}
