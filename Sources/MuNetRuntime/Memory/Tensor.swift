/// A dense row-major tensor view (rank ≤ 4) into arena memory.
///
/// Like ``Matrix`` it owns nothing; the ``Arena`` it came from must outlive it. Tensors handed
/// out by an arena start at a 64-byte-aligned address and are zero-filled.
public struct Tensor: @unchecked Sendable {
  public let base: UnsafeMutablePointer<Float>
  public let shape: Shape

  @inlinable
  public init(base: UnsafeMutablePointer<Float>, shape: Shape) {
    self.base = base
    self.shape = shape
  }

  @inlinable public var elementCount: Int { shape.elementCount }

  @inlinable
  public var buffer: UnsafeMutableBufferPointer<Float> {
    UnsafeMutableBufferPointer(start: base, count: elementCount)
  }

  /// The same elements seen as `rows × cols` (row-major); `rows * cols` must equal the count.
  @inlinable
  public func matrix(rows: Int, cols: Int) -> Matrix {
    precondition(rows * cols == elementCount, "cannot view \(shape) as \(rows)x\(cols)")
    return Matrix(base: base, rows: rows, cols: cols)
  }

  /// The tensor as a matrix whose columns are the last axis and rows are all other axes.
  @inlinable
  public var matrix: Matrix {
    let cols = shape.rank == 0 ? 1 : shape[shape.rank - 1]
    return matrix(rows: cols == 0 ? 0 : elementCount / cols, cols: cols)
  }

  /// The same elements with another shape of equal count.
  @inlinable
  public func reshaped(_ newShape: Shape) -> Tensor {
    precondition(newShape.elementCount == elementCount, "cannot reshape \(shape) to \(newShape)")
    return Tensor(base: base, shape: newShape)
  }

  /// Copies `source` (same count) into this tensor.
  @inlinable
  public func copy(from source: Tensor) {
    precondition(source.elementCount == elementCount, "copy: \(source.shape) into \(shape)")
    base.update(from: source.base, count: elementCount)
  }

  @inlinable
  public func fill(_ value: Float) { base.update(repeating: value, count: elementCount) }
}
