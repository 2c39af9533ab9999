/// A strided two-dimensional view of `Float` storage.
///
/// A `Matrix` does not own memory: it points into an ``Arena`` (or any buffer the caller keeps
/// alive for as long as the view is used). Element `(i, j)` lives at
/// `base[i * rowStride + j * colStride]`. Transposing a view swaps the extents and the strides,
/// so every transpose combination of a GEMM is expressed by the views passed in, not by flags.
public struct Matrix: @unchecked Sendable {
  public var base: UnsafeMutablePointer<Float>
  public var rows: Int
  public var cols: Int
  public var rowStride: Int
  public var colStride: Int

  @inlinable
  public init(base: UnsafeMutablePointer<Float>, rows: Int, cols: Int, rowStride: Int, colStride: Int = 1) {
    precondition(rows >= 0 && cols >= 0, "Matrix extents must be non-negative")
    self.base = base
    self.rows = rows
    self.cols = cols
    self.rowStride = rowStride
    self.colStride = colStride
  }

  /// A dense row-major view: `rowStride == cols`, `colStride == 1`.
  @inlinable
  public init(base: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
    self.init(base: base, rows: rows, cols: cols, rowStride: cols, colStride: 1)
  }

  @inlinable
  public subscript(row: Int, col: Int) -> Float {
    get {
      assert(row >= 0 && row < rows && col >= 0 && col < cols, "Matrix index out of range")
      return base[row &* rowStride &+ col &* colStride]
    }
    nonmutating set {
      assert(row >= 0 && row < rows && col >= 0 && col < cols, "Matrix index out of range")
      base[row &* rowStride &+ col &* colStride] = newValue
    }
  }

  /// The transposed view (no data moves).
  @inlinable
  public var transposed: Matrix {
    Matrix(base: base, rows: cols, cols: rows, rowStride: colStride, colStride: rowStride)
  }

  /// The sub-view of `rows × cols` (no data moves).
  @inlinable
  public func block(rows rowRange: Range<Int>, cols colRange: Range<Int>) -> Matrix {
    precondition(rowRange.lowerBound >= 0 && rowRange.upperBound <= rows, "block rows out of range")
    precondition(colRange.lowerBound >= 0 && colRange.upperBound <= cols, "block cols out of range")
    return Matrix(
      base: base + (rowRange.lowerBound * rowStride + colRange.lowerBound * colStride),
      rows: rowRange.count, cols: colRange.count, rowStride: rowStride, colStride: colStride)
  }

  /// The rows in `range`, all columns.
  @inlinable
  public func rows(_ range: Range<Int>) -> Matrix { block(rows: range, cols: 0..<cols) }

  /// True when each row is contiguous and rows follow each other with no gap.
  @inlinable
  public var isDenseRowMajor: Bool { colStride == 1 && (rowStride == cols || rows <= 1) }

  /// Pointer to the first element of `row` (valid when `colStride == 1` for contiguous access).
  @inlinable
  public func rowPointer(_ row: Int) -> UnsafeMutablePointer<Float> { base + row * rowStride }
}

/// `count` matrices of equal shape, each `batchStride` elements after the previous one.
public struct MatrixBatch: @unchecked Sendable {
  public var first: Matrix
  public var count: Int
  public var batchStride: Int

  @inlinable
  public init(first: Matrix, count: Int, batchStride: Int) {
    precondition(count >= 0, "batch count must be non-negative")
    self.first = first
    self.count = count
    self.batchStride = batchStride
  }

  @inlinable
  public subscript(index: Int) -> Matrix {
    precondition(index >= 0 && index < count, "batch index out of range")
    var matrix = first
    matrix.base = first.base + index * batchStride
    return matrix
  }

  @inlinable
  public var transposed: MatrixBatch {
    MatrixBatch(first: first.transposed, count: count, batchStride: batchStride)
  }
}
