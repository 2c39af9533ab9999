#if canImport(Glibc)
import Glibc
#endif
import COpenBLAS
import MuNetRuntime

/// Facts about the OpenBLAS this process runs with, for run headers.
public enum MuNetBLASInfo {
  /// The kernel family DYNAMIC_ARCH chose for this CPU, e.g. `Cooperlake`.
  public static var coreName: String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name)
  }

  /// The build string, e.g. `OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Cooperlake ...`.
  public static var config: String {
    guard let config = openblas_get_config() else { return "unknown" }
    return String(cString: config)
  }

  /// The version number from ``config``, e.g. `0.3.21`.
  public static var version: String {
    let words = config.split(separator: " ")
    guard words.count >= 2, words[0] == "OpenBLAS" else { return "unknown" }
    return String(words[1])
  }

  /// OpenBLAS's current thread count (a process-wide setting).
  public static var threadCount: Int { Int(openblas_get_num_threads()) }
}

/// Tier 2 matrix product: OpenBLAS `cblas_sgemm` with a pinned thread count.
///
/// OpenBLAS promises no bits (its blocking, kernels and K order differ from Tier 0 and may
/// change with the CPU or version), so Tier 2 results are only checked against Tier 0 within
/// ``GEMMBound``. Reproducibility comes from pinning: the core name, version and thread count
/// are in ``name`` for run headers.
///
/// OpenBLAS's thread count is process-wide; each product sets it to this engine's count when it
/// differs, under a process-wide lock, so engines with different counts may be used from
/// different threads (their products then run one at a time).
///
/// Views map to `cblas_sgemm` without copies when their rows or columns are contiguous with a
/// valid leading dimension (`colStride == 1` is `NoTrans`, `rowStride == 1` is `Trans`). A `c`
/// whose columns are contiguous is handled as `cᵀ = bᵀ · aᵀ`. Other views are copied into a
/// dense buffer allocated for that call (the only case where Tier 2 allocates per product).
///
/// Batched products (the per-head attention products: hundreds of 50 × 16 · 16 × 50) can be
/// handed to another engine (`batchedEngine`): one OpenBLAS call per item costs more in call
/// overhead and edge handling than the item's arithmetic. ``Compute/blas(threads:)`` hands them
/// to the Tier 1 kernel on the same pool, which is exact, so the tier's bound holds trivially.
public final class OpenBLASGEMM: GEMMEngine {
  public let threads: Int
  public let name: String
  /// Runs ``gemmBatched(_:_:_:accumulate:)`` when set; else OpenBLAS runs every item.
  public let batchedEngine: (any GEMMEngine)?
  /// When set, OpenBLAS runs single-threaded on each part of a static split of `c` over this
  /// pool (see ``init(splittingOver:batchedEngine:)``); else OpenBLAS threads itself.
  public let splitPool: ThreadPool?

  /// Pins OpenBLAS to `threads` threads (1 for a deterministic, thread-count-free Tier 2 run).
  public init(threads: Int, batchedEngine: (any GEMMEngine)? = nil) {
    precondition(threads >= 1, "OpenBLAS needs at least one thread, got \(threads)")
    self.threads = threads
    self.batchedEngine = batchedEngine
    splitPool = nil
    openblas_set_num_threads(Int32(threads))
    let actual = MuNetBLASInfo.threadCount
    let batched = batchedEngine.map { "; batched: \($0.name)" } ?? ""
    name = "openblas(core=\(MuNetBLASInfo.coreName), threads=\(actual), \(MuNetBLASInfo.version))\(batched)"
  }

  /// OpenBLAS on one thread per part of a static split of `c` (rows, or columns when `c` is
  /// wide) over `pool`, like Tier 1 splits its own kernel.
  ///
  /// Why: after a call OpenBLAS's own workers busy-wait (about 2^28 cycles) for the next one, so
  /// on a 2-core machine they take a core from munet's pool during every non-GEMM kernel of a
  /// training step (measured: 26 steps/s against 36 for Tier 1). Split over the pool, only the
  /// pool's threads run. The bits depend on the split, hence on the pool's thread count, as
  /// OpenBLAS's own threading does; each product stays within ``GEMMBound`` of Tier 0.
  public init(splittingOver pool: ThreadPool, batchedEngine: (any GEMMEngine)? = nil) {
    threads = 1
    self.batchedEngine = batchedEngine
    splitPool = pool
    openblas_set_num_threads(1)
    let batched = batchedEngine.map { "; batched: \($0.name)" } ?? ""
    name = "openblas(core=\(MuNetBLASInfo.coreName), threads=1 per part, \(pool.threadCount) parts, "
      + "\(MuNetBLASInfo.version))\(batched)"
  }

  public func gemm(_ a: Matrix, _ b: Matrix, _ c: Matrix, accumulate: Bool) {
    checkShapes(a, b, c)
    multiply(a, b, c, accumulate: accumulate, bias: nil)
  }

  /// The product, then `c[i, j] + bias[j]`; with a split pool each part adds the bias to its
  /// own outputs right after its product.
  public func gemm(
    _ a: Matrix, _ b: Matrix, _ c: Matrix, addingBias bias: UnsafeMutableBufferPointer<Float>
  ) {
    checkShapes(a, b, c)
    precondition(bias.count == c.cols, "gemm: bias has \(bias.count) values for \(c.cols) columns")
    multiply(a, b, c, accumulate: false, bias: bias)
  }

  private func multiply(
    _ a: Matrix, _ b: Matrix, _ c: Matrix, accumulate: Bool, bias: UnsafeMutableBufferPointer<Float>?
  ) {
    guard c.rows > 0 && c.cols > 0 else { return }
    guard a.cols > 0 else {
      // An empty sum: BLAS would reject lda = 0, and the answer is known.
      if !accumulate { BLASOperands.fill(c, with: 0) }
      if let bias { ElementwiseKernel.addBias(c, bias, into: c, rows: 0..<c.rows) }
      return
    }
    // OpenBLAS's thread count is process-wide: setting it and running the product happen under
    // one lock, so engines with different counts used from different threads cannot interleave.
    pthread_mutex_lock(OpenBLASLock.mutex)
    defer { pthread_mutex_unlock(OpenBLASLock.mutex) }
    if openblas_get_num_threads() != Int32(threads) { openblas_set_num_threads(Int32(threads)) }
    let job = BLASPartJob(
      a: a, b: b, c: c, accumulate: accumulate, bias: bias, parts: splitPool?.threadCount ?? 1)
    if let splitPool, c.rows * c.cols * a.cols >= ThreadedGEMM.defaultMultiplyAddsPerThreadMin {
      splitPool.run(taskCount: splitPool.threadCount, job)
    } else {
      job.multiply(rows: 0..<c.rows, cols: 0..<c.cols)
    }
  }

  public func gemmBatched(_ a: MatrixBatch, _ b: MatrixBatch, _ c: MatrixBatch, accumulate: Bool) {
    checkShapes(a, b, c)
    if let batchedEngine { return batchedEngine.gemmBatched(a, b, c, accumulate: accumulate) }
    for index in 0..<c.count {
      gemm(a[index], b[index], c[index], accumulate: accumulate)
    }
  }
}

/// Part `task` of a split OpenBLAS product: rows of `c` in blocks of 16, or columns when `c`
/// has fewer rows than columns; each part then gets the bias, when there is one.
struct BLASPartJob: ParallelJob {
  let a: Matrix, b: Matrix, c: Matrix
  let accumulate: Bool
  /// Added to every row after the product, when set (`c.cols` floats).
  let bias: UnsafeMutableBufferPointer<Float>?
  let parts: Int

  func run(task: Int) {
    if c.rows >= c.cols {
      multiply(rows: Partition.range(part: task, parts: parts, count: c.rows, grain: 16), cols: 0..<c.cols)
    } else {
      multiply(rows: 0..<c.rows, cols: Partition.range(part: task, parts: parts, count: c.cols, grain: 16))
    }
  }

  /// `c[rows, cols]` by one single-threaded OpenBLAS call, then its bias.
  func multiply(rows: Range<Int>, cols: Range<Int>) {
    guard !rows.isEmpty && !cols.isEmpty else { return }
    let part = c.block(rows: rows, cols: cols)
    BLASOperands.multiply(
      a.block(rows: rows, cols: 0..<a.cols), b.block(rows: 0..<b.rows, cols: cols), part,
      accumulate: accumulate)
    if let bias {
      let partBias = UnsafeMutableBufferPointer(rebasing: bias[cols])
      ElementwiseKernel.addBias(part, partBias, into: part, rows: 0..<part.rows)
    }
  }
}

/// Serialises OpenBLAS calls within the process (see ``OpenBLASGEMM/gemm(_:_:_:accumulate:)``).
enum OpenBLASLock {
  nonisolated(unsafe) static let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
    let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    pthread_mutex_init(mutex, nil)
    return mutex
  }()
}

extension Compute {
  /// Tier 2: OpenBLAS for matrix products, a pool of `threads` for every other kernel.
  ///
  /// Products run single-threaded OpenBLAS on each part of a static split over the pool
  /// (``OpenBLASGEMM/init(splittingOver:batchedEngine:)``), so only the pool's threads ever
  /// run, the machine is never oversubscribed, and one number, recorded in
  /// ``Compute/gemmEngine``'s name, describes the run.
  ///
  /// Batched (per-head attention) products run on the Tier 1 kernel over the same pool: on the
  /// project's machine it is 1.5–2× faster than one OpenBLAS call per item (`munet bench gemm
  /// --shapes 50x16x50:bt`), and it is exact.
  public static func blas(threads: Int) -> Compute {
    let pool = ThreadPool(threadCount: threads)
    let engine = OpenBLASGEMM(splittingOver: pool, batchedEngine: ThreadedGEMM(pool: pool))
    return Compute(tier: .blas, pool: pool, gemmEngine: engine)
  }
}

/// How `Matrix` views become `cblas_sgemm` arguments.
enum BLASOperands {
  /// A matrix as BLAS sees it (row-major): `NoTrans` with leading dimension `ld ≥ cols`, or
  /// `Trans` (the storage is row-major `cols × rows`) with `ld ≥ rows`.
  struct Operand {
    var pointer: UnsafeMutablePointer<Float>
    var transpose: CBLAS_TRANSPOSE
    var leadingDimension: Int32
  }

  /// The operand for `m` read in place, or nil when its layout needs a copy.
  static func operand(_ m: Matrix) -> Operand? {
    let limit = Int(Int32.max)
    // A single row (column) never steps between rows (columns): any stride will do.
    if m.colStride == 1 || m.cols <= 1 {
      let ld = m.rows <= 1 ? max(1, m.cols) : m.rowStride
      if ld >= max(1, m.cols) && ld <= limit {
        return Operand(pointer: m.base, transpose: CblasNoTrans, leadingDimension: Int32(ld))
      }
    }
    if m.rowStride == 1 || m.rows <= 1 {
      let ld = m.cols <= 1 ? max(1, m.rows) : m.colStride
      if ld >= max(1, m.rows) && ld <= limit {
        return Operand(pointer: m.base, transpose: CblasTrans, leadingDimension: Int32(ld))
      }
    }
    return nil
  }

  /// `c = (accumulate ? c : 0) + a · b` for non-empty extents.
  static func multiply(_ a: Matrix, _ b: Matrix, _ c: Matrix, accumulate: Bool) {
    if let out = operand(c), out.transpose == CblasNoTrans {
      return multiplyInto(a, b, out, rows: c.rows, cols: c.cols, accumulate: accumulate)
    }
    if let out = operand(c.transposed), out.transpose == CblasNoTrans {
      // cᵀ = bᵀ · aᵀ with cᵀ row-major.
      return multiplyInto(
        b.transposed, a.transposed, out, rows: c.cols, cols: c.rows, accumulate: accumulate)
    }
    let dense = DenseCopy(of: c, copyingValues: accumulate)
    defer { dense.release() }
    multiplyInto(a, b, dense.operand, rows: c.rows, cols: c.cols, accumulate: accumulate)
    dense.copyBack(to: c)
  }

  /// The product into a row-major `out`, copying `a` or `b` when their layouts need it.
  private static func multiplyInto(
    _ a: Matrix, _ b: Matrix, _ out: Operand, rows: Int, cols: Int, accumulate: Bool
  ) {
    let denseA = operand(a) == nil ? DenseCopy(of: a, copyingValues: true) : nil
    let denseB = operand(b) == nil ? DenseCopy(of: b, copyingValues: true) : nil
    defer {
      denseA?.release()
      denseB?.release()
    }
    let left = denseA?.operand ?? operand(a)!
    let right = denseB?.operand ?? operand(b)!
    cblas_sgemm(
      CblasRowMajor, left.transpose, right.transpose,
      Int32(rows), Int32(cols), Int32(a.cols),
      1, left.pointer, left.leadingDimension, right.pointer, right.leadingDimension,
      accumulate ? 1 : 0, out.pointer, out.leadingDimension)
  }

  static func fill(_ c: Matrix, with value: Float) {
    for i in 0..<c.rows {
      for j in 0..<c.cols { c[i, j] = value }
    }
  }

  /// A dense row-major copy of a view whose layout BLAS cannot take.
  struct DenseCopy {
    let matrix: Matrix

    init(of source: Matrix, copyingValues: Bool) {
      let count = max(1, source.rows * source.cols)
      let base = UnsafeMutablePointer<Float>.allocate(capacity: count)
      base.initialize(repeating: 0, count: count)
      matrix = Matrix(base: base, rows: source.rows, cols: source.cols)
      if copyingValues { copy(source, to: matrix) }
    }

    var operand: Operand {
      Operand(pointer: matrix.base, transpose: CblasNoTrans, leadingDimension: Int32(max(1, matrix.cols)))
    }

    func copyBack(to target: Matrix) { copy(matrix, to: target) }

    func release() { matrix.base.deallocate() }

    private func copy(_ source: Matrix, to target: Matrix) {
      for i in 0..<source.rows {
        for j in 0..<source.cols { target[i, j] = source[i, j] }
      }
    }
  }
}
