/// Tier 0 layer normalization over the columns of each row, with a learned scale γ and bias β
/// (flax `nn.LayerNorm`; ViT uses `epsilon = 1e-6`).
///
/// The forward pass saves each row's mean and reciprocal standard deviation (`rstd`) as `Float`;
/// the normalized value `xhat = (x − mean) · rstd` is recomputed from them, with the same
/// expression, wherever it is needed, so forward and backward agree on its bits.
public enum LayerNormKernel {
  /// ViT's (and flax's default for ViT) epsilon.
  public static let defaultEpsilon: Float = 1e-6

  /// `y[i, :] = γ ⊙ (x[i, :] − mean_i) · rstd_i + β` for the rows in `rows`, saving
  /// `mean[i]` and `rstd[i]`. `y` may be the same view as `x`; `x.cols ≥ 1`.
  ///
  /// Per row (n = cols), exactly:
  /// 1. `sum = +0 + Double(x_0) + Double(x_1) + ...` in `Double`, ascending `j`;
  ///    `meanD = sum / Double(n)`.
  /// 2. `squares = +0 + d_0 * d_0 + d_1 * d_1 + ...` in `Double`, ascending `j`, where
  ///    `d_j = Double(x_j) - meanD` (two-pass variance: no cancellation for large means);
  ///    `variance = squares / Double(n)` (biased, like flax).
  /// 3. `mean[i] = Float(meanD)`; `rstd[i] = Float(1 / (variance + Double(epsilon)).squareRoot())`.
  /// 4. `y_j = ((x_j - mean) * rstd) * γ_j + β_j` in `Float`, one rounding per operation, no FMA.
  public static func forward(
    _ x: Matrix, scale: UnsafeMutableBufferPointer<Float>, bias: UnsafeMutableBufferPointer<Float>,
    epsilon: Float, into y: Matrix, mean: UnsafeMutableBufferPointer<Float>,
    rstd: UnsafeMutableBufferPointer<Float>, rows: Range<Int>
  ) {
    checkArguments(x, y, scale: scale, bias: bias, mean: mean, rstd: rstd, "layerNorm")
    KernelCheck.range(rows, within: x.rows, "layerNorm")
    let n = x.cols
    for i in rows {
      let xRow = x.rowPointer(i), yRow = y.rowPointer(i)
      let xStride = x.colStride, yStride = y.colStride
      var sum = 0.0
      for j in 0..<n { sum += Double(xRow[j &* xStride]) }
      let meanD = sum / Double(n)
      var squares = 0.0
      for j in 0..<n {
        let deviation = Double(xRow[j &* xStride]) - meanD
        squares += deviation * deviation
      }
      let variance = squares / Double(n)
      let rowMean = Float(meanD)
      let rowRstd = Float(1 / (variance + Double(epsilon)).squareRoot())
      mean[i] = rowMean
      rstd[i] = rowRstd
      for j in 0..<n {
        let normalized = (xRow[j &* xStride] - rowMean) * rowRstd
        yRow[j &* yStride] = normalized * scale[j] + bias[j]
      }
    }
  }

  /// The input gradient for the rows in `rows`, from the saved `mean` and `rstd`.
  ///
  /// Per row (n = cols), with `xhat_j = (x_j - mean) * rstd` and `g_j = dy_j * γ_j` in `Float`:
  /// 1. `sumG = +0 + Double(g_0) + ...` and `sumGX = +0 + Double(g_0) * Double(xhat_0) + ...`,
  ///    both in `Double`, ascending `j` (products exact in `Double`: FMA makes no difference).
  /// 2. `meanG = Float(sumG / Double(n))`, `meanGX = Float(sumGX / Double(n))`.
  /// 3. `dx_j = rstd * ((g_j - meanG) - xhat_j * meanGX)` in `Float`, no FMA.
  ///
  /// `dx` may be the same view as `dy` or `x`.
  public static func backwardInput(
    _ x: Matrix, outputGradient dy: Matrix, scale: UnsafeMutableBufferPointer<Float>,
    mean: UnsafeMutableBufferPointer<Float>, rstd: UnsafeMutableBufferPointer<Float>,
    into dx: Matrix, rows: Range<Int>
  ) {
    checkArguments(x, dx, scale: scale, bias: scale, mean: mean, rstd: rstd, "layerNormBackward")
    KernelCheck.sameShape(dy, dx, "layerNormBackward")
    KernelCheck.range(rows, within: x.rows, "layerNormBackward")
    let n = x.cols
    for i in rows {
      let xRow = x.rowPointer(i), dyRow = dy.rowPointer(i), dxRow = dx.rowPointer(i)
      let xStride = x.colStride, dyStride = dy.colStride, dxStride = dx.colStride
      let rowMean = mean[i], rowRstd = rstd[i]
      var sumG = 0.0, sumGX = 0.0
      for j in 0..<n {
        let normalized = (xRow[j &* xStride] - rowMean) * rowRstd
        let g = dyRow[j &* dyStride] * scale[j]
        sumG += Double(g)
        sumGX += Double(g) * Double(normalized)
      }
      let meanG = Float(sumG / Double(n))
      let meanGX = Float(sumGX / Double(n))
      for j in 0..<n {
        let normalized = (xRow[j &* xStride] - rowMean) * rowRstd
        let g = dyRow[j &* dyStride] * scale[j]
        dxRow[j &* dxStride] = rowRstd * ((g - meanG) - normalized * meanGX)
      }
    }
  }

  /// The parameter gradients for the columns in `cols`, summed over all rows:
  /// `dγ_j = start + dy[0, j] * xhat[0, j] + dy[1, j] * xhat[1, j] + ...` and
  /// `dβ_j = start + dy[0, j] + dy[1, j] + ...`.
  ///
  /// Order: one `Float` accumulator per column (the output itself), rows ascending, each
  /// product rounded to `Float` before it is added (no FMA), `start` the old value when
  /// `accumulate` is true and +0 otherwise. `xhat` is recomputed exactly as in the forward pass.
  public static func backwardParameters(
    _ x: Matrix, outputGradient dy: Matrix,
    mean: UnsafeMutableBufferPointer<Float>, rstd: UnsafeMutableBufferPointer<Float>,
    scaleGradient: UnsafeMutableBufferPointer<Float>, biasGradient: UnsafeMutableBufferPointer<Float>,
    accumulate: Bool, cols: Range<Int>
  ) {
    KernelCheck.sameShape(x, dy, "layerNormBackward")
    KernelCheck.count(mean.count, x.rows, "mean", "layerNormBackward")
    KernelCheck.count(rstd.count, x.rows, "rstd", "layerNormBackward")
    KernelCheck.count(scaleGradient.count, x.cols, "scaleGradient", "layerNormBackward")
    KernelCheck.count(biasGradient.count, x.cols, "biasGradient", "layerNormBackward")
    KernelCheck.range(cols, within: x.cols, "layerNormBackward")
    guard let dScale = scaleGradient.baseAddress, let dBias = biasGradient.baseAddress else { return }
    if !accumulate {
      for j in cols {
        dScale[j] = 0
        dBias[j] = 0
      }
    }
    for i in 0..<x.rows {
      let xRow = x.rowPointer(i), dyRow = dy.rowPointer(i)
      let xStride = x.colStride, dyStride = dy.colStride
      let rowMean = mean[i], rowRstd = rstd[i]
      for j in cols {
        let normalized = (xRow[j &* xStride] - rowMean) * rowRstd
        let upstream = dyRow[j &* dyStride]
        let product = upstream * normalized
        dScale[j] = dScale[j] + product
        dBias[j] = dBias[j] + upstream
      }
    }
  }

  static func checkArguments(
    _ x: Matrix, _ y: Matrix, scale: UnsafeMutableBufferPointer<Float>,
    bias: UnsafeMutableBufferPointer<Float>, mean: UnsafeMutableBufferPointer<Float>,
    rstd: UnsafeMutableBufferPointer<Float>, _ operation: StaticString
  ) {
    KernelCheck.sameShape(x, y, operation)
    precondition(x.cols >= 1 || x.rows == 0, "\(operation): rows need at least one column")
    KernelCheck.count(scale.count, x.cols, "scale", operation)
    KernelCheck.count(bias.count, x.cols, "bias", operation)
    KernelCheck.count(mean.count, x.rows, "mean", operation)
    KernelCheck.count(rstd.count, x.rows, "rstd", operation)
  }
}
