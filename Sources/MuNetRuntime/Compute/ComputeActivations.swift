/// Softmax and GELU on the executor: the kernels over a static split of rows (Tier 1) or in
/// one call (Tier 0). Every row is computed by the same code, so the bits are identical.
extension Compute {
  /// `y[i, :] = softmax(x[i, :])` per row (``SoftmaxKernel/forward(_:into:rows:)``).
  /// `y` may be the same view as `x`.
  public func softmaxRows(_ x: Matrix, into y: Matrix) {
    parallelRows(y.rows, cols: y.cols, SoftmaxJob(x: x, y: y))
  }

  /// `dx = y ⊙ (dy − Σ_j dy_j y_j)` per row, `y` the softmax output
  /// (``SoftmaxKernel/backward(outputs:outputGradient:into:rows:)``).
  public func softmaxRowsBackward(outputs y: Matrix, outputGradient dy: Matrix, into dx: Matrix) {
    parallelRows(dx.rows, cols: dx.cols, SoftmaxBackwardJob(y: y, dy: dy, dx: dx))
  }

  /// `y = gelu(x)` elementwise (``GELUKernel``); `form` defaults to the tanh form ViT uses.
  public func gelu(_ x: Matrix, form: GELUForm = .tanh, into y: Matrix) {
    parallelRows(y.rows, cols: y.cols, GELUJob(x: x, form: form, y: y))
  }

  /// `dx = dy ⊙ gelu'(x)`, `x` the forward input (``GELUKernel``).
  public func geluBackward(_ x: Matrix, outputGradient dy: Matrix, form: GELUForm = .tanh, into dx: Matrix) {
    parallelRows(dx.rows, cols: dx.cols, GELUBackwardJob(x: x, dy: dy, form: form, dx: dx))
  }

  /// `h = x + bias` per row, then `y = gelu(h)`, in one pass; with `terms`, also saves each
  /// element's `tanh` (or `erf`) term for ``geluBackward(_:terms:outputGradient:form:into:)``
  /// (``GELUKernel/biasForward(_:bias:form:sums:into:terms:rows:)``). The bits of
  /// ``addBias(_:_:into:)`` then ``gelu(_:form:into:)``. `h` may be the same view as `x`.
  public func addBiasGELU(
    _ x: Matrix, _ bias: UnsafeMutableBufferPointer<Float>, form: GELUForm = .tanh, sums h: Matrix,
    into y: Matrix, terms: Matrix? = nil
  ) {
    parallelRows(y.rows, cols: y.cols, BiasGELUJob(x: x, bias: bias, form: form, h: h, y: y, terms: terms))
  }

  /// `dx = dy ⊙ gelu'(x)` from `x`, the forward input, and `terms`, the terms saved by
  /// ``addBiasGELU(_:_:form:sums:into:terms:)`` with the same `form`: the bits of
  /// ``geluBackward(_:outputGradient:form:into:)`` without recomputing the terms.
  public func geluBackward(
    _ x: Matrix, terms: Matrix, outputGradient dy: Matrix, form: GELUForm = .tanh, into dx: Matrix
  ) {
    parallelRows(dx.rows, cols: dx.cols, GELUTermsBackwardJob(x: x, terms: terms, dy: dy, form: form, dx: dx))
  }
}

private struct SoftmaxJob: RangeJob {
  let x: Matrix, y: Matrix
  func run(range: Range<Int>) { SoftmaxKernel.forward(x, into: y, rows: range) }
}

private struct SoftmaxBackwardJob: RangeJob {
  let y: Matrix, dy: Matrix, dx: Matrix
  func run(range: Range<Int>) {
    SoftmaxKernel.backward(outputs: y, outputGradient: dy, into: dx, rows: range)
  }
}

private struct GELUJob: RangeJob {
  let x: Matrix, form: GELUForm, y: Matrix
  func run(range: Range<Int>) { GELUKernel.forward(x, form: form, into: y, rows: range) }
}

private struct GELUBackwardJob: RangeJob {
  let x: Matrix, dy: Matrix, form: GELUForm, dx: Matrix
  func run(range: Range<Int>) {
    GELUKernel.backward(x, outputGradient: dy, form: form, into: dx, rows: range)
  }
}

private struct BiasGELUJob: RangeJob {
  let x: Matrix, bias: UnsafeMutableBufferPointer<Float>, form: GELUForm, h: Matrix, y: Matrix, terms: Matrix?
  func run(range: Range<Int>) {
    GELUKernel.biasForward(x, bias: bias, form: form, sums: h, into: y, terms: terms, rows: range)
  }
}

private struct GELUTermsBackwardJob: RangeJob {
  let x: Matrix, terms: Matrix, dy: Matrix, form: GELUForm, dx: Matrix
  func run(range: Range<Int>) {
    GELUKernel.backward(x, terms: terms, outputGradient: dy, form: form, into: dx, rows: range)
  }
}
