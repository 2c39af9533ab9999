import MuNetRuntime

// Small pieces the components share: prefix views of planned tensors, and the two halves of
// the LayerNorm backward (parameters only, input only) so that a frozen component can skip
// the first and the lowest trainable component the second.

extension Tensor {
  /// The first `rows` rows of this tensor seen as a dense `rows × cols` matrix (a batch may
  /// use only a prefix of the planned capacity).
  @inline(__always)
  func rows(_ rows: Int, cols: Int) -> Matrix {
    precondition(rows * cols <= elementCount, "view \(rows)x\(cols) exceeds \(shape)")
    return Matrix(base: base, rows: rows, cols: cols)
  }

  /// The first `count` elements.
  @inline(__always)
  func prefix(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
    precondition(count <= elementCount, "prefix \(count) exceeds \(shape)")
    return UnsafeMutableBufferPointer(start: base, count: count)
  }

  /// All elements as one row (for parameters kept as vectors).
  @inline(__always)
  var vector: UnsafeMutableBufferPointer<Float> { buffer }
}

/// A LayerNorm's saved forward state: its output, and each row's mean and reciprocal deviation.
struct LayerNormSaved {
  let output: Tensor
  let mean: Tensor
  let rstd: Tensor

  init(_ allocator: TensorAllocator, rows: Int, cols: Int) {
    output = allocator.take(Shape(rows, cols))
    mean = allocator.take(Shape(rows))
    rstd = allocator.take(Shape(rows))
  }
}

extension Compute {
  /// LayerNorm forward of the first `rows` rows of `x` into `saved` (helper for components).
  func layerNormForward(
    _ x: Matrix, scale: Tensor, bias: Tensor, epsilon: Float, saved: LayerNormSaved
  ) {
    layerNorm(
      x, scale: scale.vector, bias: bias.vector, epsilon: epsilon,
      into: saved.output.rows(x.rows, cols: x.cols),
      mean: saved.mean.prefix(x.rows), rstd: saved.rstd.prefix(x.rows))
  }

  /// `dγ`, `dβ` of a LayerNorm (``LayerNormKernel/backwardParameters``), split by columns.
  func layerNormParameterGradients(
    _ x: Matrix, outputGradient dy: Matrix, saved: LayerNormSaved,
    scaleGradient: Tensor, biasGradient: Tensor, accumulate: Bool
  ) {
    layerNormParameterGradients(
      x, outputGradient: dy, mean: saved.mean.prefix(x.rows), rstd: saved.rstd.prefix(x.rows),
      scaleGradient: scaleGradient.vector, biasGradient: biasGradient.vector, accumulate: accumulate)
  }

  /// `dx` of a LayerNorm (``LayerNormKernel/backwardInput``), split by rows; `dx` may be `dy`.
  func layerNormInputGradient(
    _ x: Matrix, outputGradient dy: Matrix, scale: Tensor, saved: LayerNormSaved, into dx: Matrix
  ) {
    layerNormInputGradient(
      x, outputGradient: dy, scale: scale.vector, mean: saved.mean.prefix(x.rows),
      rstd: saved.rstd.prefix(x.rows), into: dx)
  }
}

/// Hands out the tensors of a planned layout. Run once without an arena to plan (every tensor
/// is then a placeholder that must not be touched), then again with the planned arena: the
/// same code decides both, so plan and allocation cannot drift apart.
final class TensorAllocator {
  /// A non-null address for planning-pass placeholders (never dereferenced).
  private static var placeholder: UnsafeMutablePointer<Float> {
    UnsafeMutablePointer<Float>(bitPattern: Arena.alignmentBytes)!
  }

  private(set) var plan = ArenaPlan()
  private let arena: Arena?

  /// A planning allocator (`arena == nil`) or a real one.
  init(arena: Arena?) { self.arena = arena }

  func take(_ shape: Shape) -> Tensor {
    if let arena { return arena.allocatePlanned(shape) }
    plan.reserve(shape)
    return Tensor(base: TensorAllocator.placeholder, shape: shape)
  }
}
