/// Layer normalization on the executor (``LayerNormKernel``).
extension Compute {
  /// `y = γ ⊙ (x − mean) · rstd + β` per row, saving each row's `mean` and `rstd`
  /// (``LayerNormKernel/forward(_:scale:bias:epsilon:into:mean:rstd:rows:)``). Tier 1 splits
  /// rows. `y` may be the same view as `x`.
  public func layerNorm(
    _ x: Matrix, scale: UnsafeMutableBufferPointer<Float>, bias: UnsafeMutableBufferPointer<Float>,
    epsilon: Float = LayerNormKernel.defaultEpsilon, into y: Matrix,
    mean: UnsafeMutableBufferPointer<Float>, rstd: UnsafeMutableBufferPointer<Float>
  ) {
    let job = LayerNormJob(x: x, scale: scale, bias: bias, epsilon: epsilon, y: y, mean: mean, rstd: rstd)
    parallelRows(x.rows, cols: x.cols, job)
  }

  /// The gradients of ``layerNorm(_:scale:bias:epsilon:into:mean:rstd:)``: `dx` (written),
  /// `dγ` and `dβ` (written, or added to when `accumulate`).
  ///
  /// First the parameter gradients, split by *columns* in Tier 1, each column summed over the
  /// rows in ascending order (`LayerNormKernel.backwardParameters`); then `dx`, split by rows
  /// (`LayerNormKernel.backwardInput`). Because `dx` is written last it may be the same view
  /// as `dy` or `x`.
  public func layerNormBackward(
    _ x: Matrix, outputGradient dy: Matrix, scale: UnsafeMutableBufferPointer<Float>,
    mean: UnsafeMutableBufferPointer<Float>, rstd: UnsafeMutableBufferPointer<Float>,
    inputGradient dx: Matrix, scaleGradient: UnsafeMutableBufferPointer<Float>,
    biasGradient: UnsafeMutableBufferPointer<Float>, accumulate: Bool = false
  ) {
    layerNormParameterGradients(
      x, outputGradient: dy, mean: mean, rstd: rstd, scaleGradient: scaleGradient,
      biasGradient: biasGradient, accumulate: accumulate)
    layerNormInputGradient(x, outputGradient: dy, scale: scale, mean: mean, rstd: rstd, into: dx)
  }

  /// The `dγ`, `dβ` half of ``layerNormBackward(_:outputGradient:scale:mean:rstd:inputGradient:scaleGradient:biasGradient:accumulate:)``
  /// (`LayerNormKernel.backwardParameters`), split by columns. Components call the halves
  /// separately when a frozen LayerNorm needs only `dx`, or nothing below needs `dx`.
  public func layerNormParameterGradients(
    _ x: Matrix, outputGradient dy: Matrix, mean: UnsafeMutableBufferPointer<Float>,
    rstd: UnsafeMutableBufferPointer<Float>, scaleGradient: UnsafeMutableBufferPointer<Float>,
    biasGradient: UnsafeMutableBufferPointer<Float>, accumulate: Bool
  ) {
    let job = LayerNormParameterGradientJob(
      x: x, dy: dy, mean: mean, rstd: rstd, scaleGradient: scaleGradient, biasGradient: biasGradient,
      accumulate: accumulate)
    parallelColumns(x.cols, rows: x.rows, job)
  }

  /// The `dx` half (`LayerNormKernel.backwardInput`), split by rows; `dx` may be `dy` or `x`.
  public func layerNormInputGradient(
    _ x: Matrix, outputGradient dy: Matrix, scale: UnsafeMutableBufferPointer<Float>,
    mean: UnsafeMutableBufferPointer<Float>, rstd: UnsafeMutableBufferPointer<Float>, into dx: Matrix
  ) {
    let job = LayerNormInputGradientJob(x: x, dy: dy, scale: scale, mean: mean, rstd: rstd, dx: dx)
    parallelRows(x.rows, cols: x.cols, job)
  }
}

private struct LayerNormJob: RangeJob {
  let x: Matrix
  let scale: UnsafeMutableBufferPointer<Float>, bias: UnsafeMutableBufferPointer<Float>
  let epsilon: Float
  let y: Matrix
  let mean: UnsafeMutableBufferPointer<Float>, rstd: UnsafeMutableBufferPointer<Float>

  func run(range: Range<Int>) {
    LayerNormKernel.forward(
      x, scale: scale, bias: bias, epsilon: epsilon, into: y, mean: mean, rstd: rstd, rows: range)
  }
}

private struct LayerNormParameterGradientJob: RangeJob {
  let x: Matrix, dy: Matrix
  let mean: UnsafeMutableBufferPointer<Float>, rstd: UnsafeMutableBufferPointer<Float>
  let scaleGradient: UnsafeMutableBufferPointer<Float>, biasGradient: UnsafeMutableBufferPointer<Float>
  let accumulate: Bool

  func run(range: Range<Int>) {
    LayerNormKernel.backwardParameters(
      x, outputGradient: dy, mean: mean, rstd: rstd, scaleGradient: scaleGradient,
      biasGradient: biasGradient, accumulate: accumulate, cols: range)
  }
}

private struct LayerNormInputGradientJob: RangeJob {
  let x: Matrix, dy: Matrix
  let scale: UnsafeMutableBufferPointer<Float>
  let mean: UnsafeMutableBufferPointer<Float>, rstd: UnsafeMutableBufferPointer<Float>
  let dx: Matrix

  func run(range: Range<Int>) {
    LayerNormKernel.backwardInput(
      x, outputGradient: dy, scale: scale, mean: mean, rstd: rstd, into: dx, rows: range)
  }
}
