/// Tier 0 softmax over the columns of each row (the last axis), and its backward.
///
/// Every row is computed by the same code, independent of the other rows, so Tier 1 splits rows.
public enum SoftmaxKernel {
  /// `y[i, :] = softmax(x[i, :])` for the rows in `rows`. `y` may be the same view as `x`.
  ///
  /// Per row, exactly:
  /// 1. `m = x[i, 0]`, then for `j` ascending `if x[i, j] > m { m = x[i, j] }` (a NaN never
  ///    replaces `m`; it still makes the row NaN in step 2).
  /// 2. `e_j = Elementary.exp(x[i, j] - m)` in `Float`, stored in `y[i, j]`;
  ///    `s = +0 + Double(e_0) + Double(e_1) + ...` in `Double`, ascending `j`.
  /// 3. `y[i, j] = e_j / Float(s)` (one `Float` division).
  ///
  /// Subtracting the row maximum means no `exp` overflows for finite inputs: the largest term
  /// is `exp(0) = 1`. A row whose maximum is ±∞ or NaN gives NaN.
  public static func forward(_ x: Matrix, into y: Matrix, rows: Range<Int>) {
    KernelCheck.sameShape(x, y, "softmax")
    KernelCheck.range(rows, within: y.rows, "softmax")
    guard x.cols > 0 else { return }
    for i in rows {
      let yRow = y.rowPointer(i)
      let yStride = y.colStride
      let maximum = rowMaximum(x, row: i)
      let total = exponentiateShifted(x, row: i, maximum: maximum, into: yRow, stride: yStride)
      let divisor = Float(total)
      for j in 0..<y.cols { yRow[j &* yStride] = yRow[j &* yStride] / divisor }
    }
  }

  /// The gradient of softmax: `dx = y ⊙ (dy − Σ_j dy_j y_j)` per row, for the rows in `rows`.
  ///
  /// `y` is the forward output. Per row, exactly: `dot = +0 + Double(dy_0) * Double(y_0) + ...`
  /// in `Double`, ascending `j` (each product is exact in `Double`, so FMA or not makes no
  /// difference), `d = Float(dot)`, then `dx_j = y_j * (dy_j - d)` in `Float`. `dx` may be the
  /// same view as `dy` or `y`.
  public static func backward(
    outputs y: Matrix, outputGradient dy: Matrix, into dx: Matrix, rows: Range<Int>
  ) {
    KernelCheck.sameShape(y, dx, "softmaxBackward")
    KernelCheck.sameShape(dy, dx, "softmaxBackward")
    KernelCheck.range(rows, within: dx.rows, "softmaxBackward")
    for i in rows {
      let yRow = y.rowPointer(i), dyRow = dy.rowPointer(i), dxRow = dx.rowPointer(i)
      let yStride = y.colStride, dyStride = dy.colStride, dxStride = dx.colStride
      var dot = 0.0
      for j in 0..<dx.cols {
        dot += Double(dyRow[j &* dyStride]) * Double(yRow[j &* yStride])
      }
      let d = Float(dot)
      for j in 0..<dx.cols {
        let yj = yRow[j &* yStride]
        dxRow[j &* dxStride] = yj * (dyRow[j &* dyStride] - d)
      }
    }
  }

  /// The row maximum of `x[row, :]` by the rule of ``forward(_:into:rows:)`` step 1; `x.cols > 0`.
  @inline(__always)
  static func rowMaximum(_ x: Matrix, row: Int) -> Float {
    let xRow = x.rowPointer(row)
    let xStride = x.colStride
    var maximum = xRow[0]
    for j in 1..<x.cols {
      let value = xRow[j &* xStride]
      if value > maximum { maximum = value }
    }
    return maximum
  }

  /// Step 2 of ``forward(_:into:rows:)``: writes `exp(x[row, j] - maximum)` to
  /// `output[j * stride]` and returns their sum in `Double`. `output` may alias the row of `x`.
  @inline(__always)
  static func exponentiateShifted(
    _ x: Matrix, row: Int, maximum: Float, into output: UnsafeMutablePointer<Float>, stride: Int
  ) -> Double {
    let xRow = x.rowPointer(row)
    let xStride = x.colStride
    var total = 0.0
    if xStride == 1 && stride == 1 {
      // Same values, same order as the loop below, in three passes: the differences, their
      // exp by the buffer form of `Elementary.exp` (bit-identical to the scalar form, and
      // vectorisable once apart from the ordered sum), then the ascending `Double` sum.
      for j in 0..<x.cols { output[j] = xRow[j] - maximum }
      Elementary.exp(output, output, count: x.cols)
      for j in 0..<x.cols { total += Double(output[j]) }
      return total
    }
    for j in 0..<x.cols {
      let e = Elementary.exp(xRow[j &* xStride] - maximum)
      output[j &* stride] = e
      total += Double(e)
    }
    return total
  }
}
