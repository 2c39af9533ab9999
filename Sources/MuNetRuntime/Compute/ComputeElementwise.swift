/// Elementwise operations on the executor: the ``ElementwiseKernel`` functions over a static
/// split of rows (Tier 1) or in one call (Tier 0). Bits are identical in both tiers.
extension Compute {
  /// `out = x + y`. `out` may be the same view as `x` or `y`.
  public func add(_ x: Matrix, _ y: Matrix, into out: Matrix) {
    parallelRows(out.rows, cols: out.cols, AddJob(x: x, y: y, out: out))
  }

  /// `y = y + x`, e.g. a residual connection or a gradient accumulation.
  public func addInPlace(_ x: Matrix, to y: Matrix) {
    parallelRows(y.rows, cols: y.cols, AddJob(x: y, y: x, out: y))
  }

  /// `y = alpha * x`. `y` may be the same view as `x`.
  public func scale(_ x: Matrix, by alpha: Float, into y: Matrix) {
    parallelRows(y.rows, cols: y.cols, ScaleJob(x: x, alpha: alpha, y: y, accumulate: false))
  }

  /// `y = y + (alpha * x)`, two roundings (no FMA).
  public func accumulateScaled(_ x: Matrix, by alpha: Float, into y: Matrix) {
    parallelRows(y.rows, cols: y.cols, ScaleJob(x: x, alpha: alpha, y: y, accumulate: true))
  }

  /// `out[i, :] = x[i, :] + bias` for every row. `out` may be the same view as `x`.
  public func addBias(_ x: Matrix, _ bias: UnsafeMutableBufferPointer<Float>, into out: Matrix) {
    parallelRows(out.rows, cols: out.cols, AddBiasJob(x: x, bias: bias, out: out))
  }

  /// `y = x`.
  public func copy(_ x: Matrix, into y: Matrix) {
    parallelRows(y.rows, cols: y.cols, CopyJob(x: x, y: y))
  }

  /// `out = x ⊙ y` (elementwise product). `out` may be the same view as `x` or `y`.
  public func multiplyElementwise(_ x: Matrix, _ y: Matrix, into out: Matrix) {
    parallelRows(out.rows, cols: out.cols, MultiplyJob(x: x, y: y, out: out))
  }

  /// Sets every element of `y` to `value`.
  public func fill(_ y: Matrix, with value: Float) {
    parallelRows(y.rows, cols: y.cols, FillJob(y: y, value: value))
  }

  /// `buffer[k] = alpha * buffer[k]` for every element of a flat buffer.
  public func scale(_ buffer: UnsafeMutableBufferPointer<Float>, by alpha: Float) {
    let job = ScaleBufferJob(buffer: buffer, alpha: alpha)
    parallelFor(count: buffer.count, grain: Compute.elementsPerTaskMin, job)
  }
}

private struct AddJob: RangeJob {
  let x: Matrix, y: Matrix, out: Matrix
  func run(range: Range<Int>) { ElementwiseKernel.add(x, y, into: out, rows: range) }
}

private struct ScaleJob: RangeJob {
  let x: Matrix, alpha: Float, y: Matrix, accumulate: Bool
  func run(range: Range<Int>) {
    if accumulate {
      ElementwiseKernel.accumulateScaled(x, by: alpha, into: y, rows: range)
    } else {
      ElementwiseKernel.scale(x, by: alpha, into: y, rows: range)
    }
  }
}

private struct AddBiasJob: RangeJob {
  let x: Matrix, bias: UnsafeMutableBufferPointer<Float>, out: Matrix
  func run(range: Range<Int>) { ElementwiseKernel.addBias(x, bias, into: out, rows: range) }
}

private struct CopyJob: RangeJob {
  let x: Matrix, y: Matrix
  func run(range: Range<Int>) { ElementwiseKernel.copy(x, into: y, rows: range) }
}

private struct MultiplyJob: RangeJob {
  let x: Matrix, y: Matrix, out: Matrix
  func run(range: Range<Int>) { ElementwiseKernel.multiply(x, y, into: out, rows: range) }
}

private struct FillJob: RangeJob {
  let y: Matrix, value: Float
  func run(range: Range<Int>) { ElementwiseKernel.fill(y, with: value, rows: range) }
}

private struct ScaleBufferJob: RangeJob {
  let buffer: UnsafeMutableBufferPointer<Float>, alpha: Float
  func run(range: Range<Int>) { ElementwiseKernel.scale(buffer, by: alpha, elements: range) }
}
