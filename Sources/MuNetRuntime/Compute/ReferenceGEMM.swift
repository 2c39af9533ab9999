/// Tier 0 matrix product: one thread, deterministic FMA chains (see ``GEMMReference``).
public final class ReferenceGEMM: GEMMEngine {
  public let name = "reference"

  public init() {}

  public func gemm(_ a: Matrix, _ b: Matrix, _ c: Matrix, accumulate: Bool) {
    checkShapes(a, b, c)
    GEMMKernel.multiply(a, b, c, accumulate: accumulate, rows: 0..<c.rows, cols: 0..<c.cols)
  }

  public func gemm(
    _ a: Matrix, _ b: Matrix, _ c: Matrix, addingBias bias: UnsafeMutableBufferPointer<Float>
  ) {
    checkShapes(a, b, c)
    precondition(bias.count == c.cols, "gemm: bias has \(bias.count) values for \(c.cols) columns")
    GEMMKernel.multiply(
      a, b, c, accumulate: false, rows: 0..<c.rows, cols: 0..<c.cols,
      bias: bias.baseAddress.map { UnsafePointer($0) })
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
/// Rows or columns of `c` are split, in multiples of the kernel's tile (6 or 12 rows × 16), whichever gives
/// the busiest thread fewer tiles (rows on a near tie: each thread then reads only its rows of
/// `a`); batches are split by batch item. Small products use fewer threads (see
/// ``multiplyAddsPerThreadMin``). Each output's FMA chain is the same as in Tier 0, so the bits
/// are too, whatever the split.
public final class ThreadedGEMM: GEMMEngine {
  /// Waking a parked worker costs about 5–60 µs on the project's 2-vCPU VMs (more when the
  /// other vCPU is busy), about the time of 2^20 multiply-adds; smaller shares are not worth it.
  public static let defaultMultiplyAddsPerThreadMin = 1 << 20

  public let pool: ThreadPool
  /// A product of `m·n·k` multiply-adds uses at most `m·n·k / multiplyAddsPerThreadMin` threads.
  public let multiplyAddsPerThreadMin: Int
  public var name: String { "threads(\(pool.threadCount))" }

  /// `multiplyAddsPerThreadMin: 1` splits every product (tests use it to exercise the splits).
  public init(
    pool: ThreadPool, multiplyAddsPerThreadMin: Int = ThreadedGEMM.defaultMultiplyAddsPerThreadMin
  ) {
    precondition(multiplyAddsPerThreadMin >= 1, "multiplyAddsPerThreadMin must be positive")
    self.pool = pool
    self.multiplyAddsPerThreadMin = multiplyAddsPerThreadMin
  }

  public func gemm(_ a: Matrix, _ b: Matrix, _ c: Matrix, accumulate: Bool) {
    checkShapes(a, b, c)
    multiply(a, b, c, accumulate: accumulate, bias: nil)
  }

  public func gemm(
    _ a: Matrix, _ b: Matrix, _ c: Matrix, addingBias bias: UnsafeMutableBufferPointer<Float>
  ) {
    checkShapes(a, b, c)
    precondition(bias.count == c.cols, "gemm: bias has \(bias.count) values for \(c.cols) columns")
    multiply(a, b, c, accumulate: false, bias: bias.baseAddress.map { UnsafePointer($0) })
  }

  private func multiply(
    _ a: Matrix, _ b: Matrix, _ c: Matrix, accumulate: Bool, bias: UnsafePointer<Float>?
  ) {
    let threads = threadCount(multiplyAdds: c.rows * c.cols * a.cols)
    guard threads > 1 else {
      return GEMMKernel.multiply(
        a, b, c, accumulate: accumulate, rows: 0..<c.rows, cols: 0..<c.cols, bias: bias)
    }
    let splitRows = ThreadedGEMM.splitsRows(rows: c.rows, cols: c.cols, threads: threads)
    let count = splitRows ? c.rows : c.cols
    let grain = splitRows ? GEMMKernel.rowGrain : GEMMKernel.colGrain
    let parts = Partition.partCount(count: count, grain: grain, partsMax: threads)
    let job = GEMMPartJob(a: a, b: b, c: c, accumulate: accumulate, bias: bias, splitRows: splitRows,
                          parts: parts, count: count, grain: grain)
    pool.run(taskCount: parts, job)
  }

  /// Threads worth using for `multiplyAdds` (at least 1, at most the pool's).
  private func threadCount(multiplyAdds: Int) -> Int {
    max(1, min(pool.threadCount, multiplyAdds / multiplyAddsPerThreadMin))
  }

  /// True when splitting rows leaves the busiest thread at most ~5% more kernel tiles than
  /// splitting columns would. E.g. 64 × 64 on 2 threads with 6-row tiles: rows give 6 × 4 = 24 tiles to the
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
    let first = c.first
    let threads = threadCount(multiplyAdds: c.count * first.rows * first.cols * a.first.cols)
    guard threads > 1 && c.count >= threads else {
      // Few items: each product decides its own split (none when the work is small).
      for index in 0..<c.count { gemm(a[index], b[index], c[index], accumulate: accumulate) }
      return
    }
    let parts = Partition.partCount(count: c.count, grain: 1, partsMax: threads)
    pool.run(taskCount: parts, GEMMBatchPartJob(a: a, b: b, c: c, accumulate: accumulate, parts: parts))
  }
}

/// One static part (rows or columns of `c`) of a Tier 1 product.
struct GEMMPartJob: ParallelJob {
  let a: Matrix, b: Matrix, c: Matrix
  let accumulate: Bool
  let bias: UnsafePointer<Float>?
  let splitRows: Bool
  let parts: Int, count: Int, grain: Int

  func run(task: Int) {
    let range = Partition.range(part: task, parts: parts, count: count, grain: grain)
    let rows = splitRows ? range : 0..<c.rows
    let cols = splitRows ? 0..<c.cols : range
    GEMMKernel.multiply(a, b, c, accumulate: accumulate, rows: rows, cols: cols, bias: bias)
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
