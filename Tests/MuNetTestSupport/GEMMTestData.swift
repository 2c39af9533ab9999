// Shared GEMM test data: matrices in every layout the engine accepts, and seeded random
// products (RuntimeTests and BLASTests check the same cases).
import MuNetRuntime

/// How a test matrix is laid out in its storage.
public enum TestLayout: Int, CaseIterable, Sendable {
  /// Dense row-major.
  case rowMajor
  /// The transposed view of a dense row-major matrix (`rowStride == 1`).
  case transposed
  /// A block inside a larger row-major matrix (padded rows, offset start).
  case rowMajorBlock
  /// A block inside a larger transposed matrix.
  case transposedBlock
  /// Neither stride is 1.
  case strided
}

/// A matrix view with its own storage (freed on deinit), padded around the view so writes
/// outside it are detected by comparing the whole storage.
public final class TestMatrix {
  /// The whole storage: the view and the padding around it.
  public let storage: UnsafeMutableBufferPointer<Float>
  /// The matrix under test, somewhere inside ``storage``.
  public let view: Matrix

  /// A `rows × cols` view in `layout`; storage (view and padding) filled from `rng`.
  public init(rows: Int, cols: Int, layout: TestLayout, rng: inout SplitMix64) {
    let (parentRows, parentCols, rowOffset, colOffset, colStride): (Int, Int, Int, Int, Int)
    switch layout {
    case .rowMajor, .transposed:
      (parentRows, parentCols, rowOffset, colOffset, colStride) = (rows, cols, 0, 0, 1)
    case .rowMajorBlock, .transposedBlock:
      (parentRows, parentCols, rowOffset, colOffset, colStride) =
        (rows + rng.int(in: 0...3), cols + rng.int(in: 1...5), rng.int(in: 0...2), rng.int(in: 0...3), 1)
    case .strided:
      (parentRows, parentCols, rowOffset, colOffset, colStride) = (rows, 2 * cols + 3, 0, 1, 2)
    }
    let isTransposed = layout == .transposed || layout == .transposedBlock
    // Storage is row-major `storedRows × storedCols`; a transposed layout stores the transpose.
    let storedRows = (isTransposed ? parentCols : parentRows) + rowOffset + 1
    let storedCols = isTransposed ? parentRows + colOffset : parentCols + colOffset
    let count = max(1, storedRows * storedCols + 7)
    storage = .allocate(capacity: count)
    for index in 0..<count { storage[index] = rng.float() }
    let start = storage.baseAddress! + rowOffset * storedCols + colOffset
    if isTransposed {
      view = Matrix(base: start, rows: cols, cols: rows, rowStride: storedCols, colStride: 1).transposed
    } else {
      view = Matrix(base: start, rows: rows, cols: cols, rowStride: storedCols, colStride: colStride)
    }
  }

  /// A copy with identical storage contents and layout.
  public init(copying other: TestMatrix) {
    storage = .allocate(capacity: other.storage.count)
    _ = storage.initialize(from: other.storage)
    var view = other.view
    view.base = storage.baseAddress! + (other.view.base - other.storage.baseAddress!)
    self.view = view
  }

  deinit { storage.deallocate() }

  /// Every stored float's bits, including the padding around the view.
  public var bits: [UInt32] { storage.map(\.bitPattern) }

  /// The bits of the stored floats that are not elements of the view.
  public var bitsOutsideView: [UInt32] {
    var inView = [Bool](repeating: false, count: storage.count)
    let offset = view.base - storage.baseAddress!
    for i in 0..<view.rows {
      for j in 0..<view.cols { inView[offset + i * view.rowStride + j * view.colStride] = true }
    }
    return storage.indices.filter { !inView[$0] }.map { storage[$0].bitPattern }
  }
}

/// One random product: operands, the output before the product, and a sub-range.
public struct RandomProduct: CustomStringConvertible {
  /// The left operand (`m × k`).
  public let a: TestMatrix
  /// The right operand (`k × n`).
  public let b: TestMatrix
  /// The output (`m × n`), holding its contents before the product.
  public let c: TestMatrix
  /// Whether the product is added to `c` rather than replacing it.
  public let accumulate: Bool
  /// The output rows to compute.
  public private(set) var rows: Range<Int>
  /// The output columns to compute.
  public private(set) var cols: Range<Int>
  /// The layouts of `a`, `b` and `c`.
  public let layouts: (TestLayout, TestLayout, TestLayout)

  /// Random layouts, accumulation and (when `subRanges`) output ranges, all from `seed`.
  public init(m: Int, k: Int, n: Int, seed: UInt64, subRanges: Bool) {
    var rng = SplitMix64(seed: seed)
    let all = TestLayout.allCases
    let layouts = (all[rng.int(in: 0...all.count - 1)], all[rng.int(in: 0...all.count - 1)],
                   all[rng.int(in: 0...all.count - 1)])
    let accumulate = rng.bool()
    self.init(m: m, k: k, n: n, layouts: layouts, accumulate: accumulate, rng: &rng)
    if subRanges {
      rows = RandomProduct.subRange(of: m, rng: &rng)
      cols = RandomProduct.subRange(of: n, rng: &rng)
    }
  }

  /// Given layouts and accumulation, random contents; the whole output range.
  public init(
    m: Int, k: Int, n: Int, layouts: (TestLayout, TestLayout, TestLayout), accumulate: Bool,
    rng: inout SplitMix64
  ) {
    self.layouts = layouts
    a = TestMatrix(rows: m, cols: k, layout: layouts.0, rng: &rng)
    b = TestMatrix(rows: k, cols: n, layout: layouts.1, rng: &rng)
    c = TestMatrix(rows: m, cols: n, layout: layouts.2, rng: &rng)
    self.accumulate = accumulate
    rows = 0..<m
    cols = 0..<n
  }

  private static func subRange(of count: Int, rng: inout SplitMix64) -> Range<Int> {
    guard count > 0 && rng.int(in: 0...2) > 0 else { return 0..<count }
    let lower = rng.int(in: 0...count)
    return lower..<rng.int(in: lower...count)
  }

  public var description: String {
    "\(a.view.rows)x\(a.view.cols)·\(b.view.rows)x\(b.view.cols) layouts \(layouts) "
      + "accumulate \(accumulate) rows \(rows) cols \(cols)"
  }
}

/// Equal-shape matrices `batchStride` apart in storage of their own (freed on deinit), with
/// gaps between them.
public final class TestMatrixBatch {
  /// The whole storage: the matrices and the gaps.
  public let storage: UnsafeMutableBufferPointer<Float>
  /// The batch under test, starting at the beginning of ``storage``.
  public let batch: MatrixBatch

  /// `count` matrices, each dense row-major or transposed (chosen by `rng`), 0 to 3 gap
  /// elements apart; all storage (gaps included) filled from `rng`.
  public init(count: Int, rows: Int, cols: Int, rng: inout SplitMix64) {
    let stride = rows * cols + rng.int(in: 0...3)
    storage = .allocate(capacity: max(1, count * stride))
    for index in 0..<storage.count { storage[index] = rng.float() }
    let base = storage.baseAddress!
    let first = rng.bool()
      ? Matrix(base: base, rows: rows, cols: cols)
      : Matrix(base: base, rows: cols, cols: rows).transposed
    batch = MatrixBatch(first: first, count: count, batchStride: stride)
  }

  /// Dense row-major copies of `matrices` (all of one shape), 3 NaN gap elements apart.
  public init(_ matrices: [Matrix]) {
    let (rows, cols) = (matrices[0].rows, matrices[0].cols)
    let stride = rows * cols + 3
    storage = .allocate(capacity: max(1, matrices.count * stride))
    storage.initialize(repeating: .nan)
    let first = Matrix(base: storage.baseAddress!, rows: rows, cols: cols)
    batch = MatrixBatch(first: first, count: matrices.count, batchStride: stride)
    for (index, matrix) in matrices.enumerated() {
      let target = batch[index]
      for i in 0..<rows {
        for j in 0..<cols { target[i, j] = matrix[i, j] }
      }
    }
  }

  /// A copy with identical storage contents and layout.
  public init(copying other: TestMatrixBatch) {
    storage = .allocate(capacity: other.storage.count)
    _ = storage.initialize(from: other.storage)
    var first = other.batch.first
    first.base = storage.baseAddress!
    batch = MatrixBatch(first: first, count: other.batch.count, batchStride: other.batch.batchStride)
  }

  deinit { storage.deallocate() }

  /// Every stored float's bits, gaps included.
  public var bits: [UInt32] { storage.map(\.bitPattern) }
}
