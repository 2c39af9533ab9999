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
  ///
  /// Rows with unit column stride take the vectorised path: the same operations on the same
  /// values as ``scalarForward(_:scale:bias:epsilon:into:mean:rstd:rows:)``, so the same bits.
  /// The two `Double` chains of four rows at a time run side by side, lane `r` of a
  /// `SIMD4<Double>` being row `r`'s chain in its own order (these latency-bound chains were
  /// the cost); a remainder of fewer than four rows runs the chains one row at a time. Step 4
  /// then runs a vector of columns at a time. All statistics of a block are complete before its
  /// `y` is written, and each `y_j` reads only `x_j` of its row, so `y` may be `x`.
  public static func forward(
    _ x: Matrix, scale: UnsafeMutableBufferPointer<Float>, bias: UnsafeMutableBufferPointer<Float>,
    epsilon: Float, into y: Matrix, mean: UnsafeMutableBufferPointer<Float>,
    rstd: UnsafeMutableBufferPointer<Float>, rows: Range<Int>
  ) {
    checkArguments(x, y, scale: scale, bias: bias, mean: mean, rstd: rstd, "layerNorm")
    KernelCheck.range(rows, within: x.rows, "layerNorm")
    guard x.colStride == 1 && y.colStride == 1, let gamma = scale.baseAddress, let beta = bias.baseAddress
    else {
      return scalarForward(
        x, scale: scale, bias: bias, epsilon: epsilon, into: y, mean: mean, rstd: rstd, rows: rows)
    }
    let n = x.cols
    var first = rows.lowerBound
    while first &+ rowBlock <= rows.upperBound {
      let statistics = blockStatistics(x, firstRow: first, epsilon: epsilon)
      for r in 0..<rowBlock {
        let i = first &+ r
        mean[i] = statistics.mean[r]
        rstd[i] = statistics.rstd[r]
        normalizeContiguous(
          x.rowPointer(i), mean: statistics.mean[r], rstd: statistics.rstd[r], scale: gamma, bias: beta,
          into: y.rowPointer(i), count: n)
      }
      first &+= rowBlock
    }
    for i in first..<rows.upperBound {
      let statistics = rowStatistics(x.rowPointer(i), count: n, epsilon: epsilon)
      mean[i] = statistics.mean
      rstd[i] = statistics.rstd
      normalizeContiguous(
        x.rowPointer(i), mean: statistics.mean, rstd: statistics.rstd, scale: gamma, bias: beta,
        into: y.rowPointer(i), count: n)
    }
  }

  /// Rows handled side by side by the vectorised passes.
  static var rowBlock: Int { 4 }

  /// The plain per-element loop of ``forward(_:scale:bias:epsilon:into:mean:rstd:rows:)``: the
  /// definition of its bits, kept as the reference the vectorised path is tested against; also
  /// used for strided columns.
  public static func scalarForward(
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
  ///
  /// Rows with unit column stride take the vectorised path, the same operations on the same
  /// values as ``scalarBackwardInput(_:outputGradient:scale:mean:rstd:into:rows:)``: the
  /// `sumG` and `sumGX` chains of four rows at a time run side by side as the lanes of two
  /// `SIMD4<Double>` (a remainder of fewer than four rows one row at a time), then step 3 a
  /// vector of columns at a time. A block's sums are complete before its `dx` is written.
  public static func backwardInput(
    _ x: Matrix, outputGradient dy: Matrix, scale: UnsafeMutableBufferPointer<Float>,
    mean: UnsafeMutableBufferPointer<Float>, rstd: UnsafeMutableBufferPointer<Float>,
    into dx: Matrix, rows: Range<Int>
  ) {
    checkArguments(x, dx, scale: scale, bias: scale, mean: mean, rstd: rstd, "layerNormBackward")
    KernelCheck.sameShape(dy, dx, "layerNormBackward")
    KernelCheck.range(rows, within: x.rows, "layerNormBackward")
    guard x.colStride == 1 && dy.colStride == 1 && dx.colStride == 1, let gamma = scale.baseAddress else {
      return scalarBackwardInput(
        x, outputGradient: dy, scale: scale, mean: mean, rstd: rstd, into: dx, rows: rows)
    }
    let n = x.cols
    var first = rows.lowerBound
    while first &+ rowBlock <= rows.upperBound {
      let rowMeans = SIMD4(mean[first], mean[first &+ 1], mean[first &+ 2], mean[first &+ 3])
      let rowRstds = SIMD4(rstd[first], rstd[first &+ 1], rstd[first &+ 2], rstd[first &+ 3])
      let means = blockGradientMeans(
        x, dy, firstRow: first, mean: rowMeans, rstd: rowRstds, scale: gamma)
      for r in 0..<rowBlock {
        let i = first &+ r
        inputGradientContiguous(
          x.rowPointer(i), dy.rowPointer(i), mean: rowMeans[r], rstd: rowRstds[r], scale: gamma,
          meanG: means.meanG[r], meanGX: means.meanGX[r], into: dx.rowPointer(i), count: n)
      }
      first &+= rowBlock
    }
    for i in first..<rows.upperBound {
      let xRow = x.rowPointer(i), dyRow = dy.rowPointer(i)
      let rowMean = mean[i], rowRstd = rstd[i]
      var sumG = 0.0, sumGX = 0.0
      for j in 0..<n {
        let normalized = (xRow[j] - rowMean) * rowRstd
        let g = dyRow[j] * gamma[j]
        sumG += Double(g)
        sumGX += Double(g) * Double(normalized)
      }
      inputGradientContiguous(
        xRow, dyRow, mean: rowMean, rstd: rowRstd, scale: gamma, meanG: Float(sumG / Double(n)),
        meanGX: Float(sumGX / Double(n)), into: dx.rowPointer(i), count: n)
    }
  }

  /// The plain per-element loop of ``backwardInput(_:outputGradient:scale:mean:rstd:into:rows:)``
  /// (the reference, as ``scalarForward(_:scale:bias:epsilon:into:mean:rstd:rows:)``).
  public static func scalarBackwardInput(
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
  ///
  /// When `x` and `dy` have unit column stride, each row's columns are added a vector of
  /// columns at a time: every column is still its own accumulator, the same operations in the
  /// same order as the plain loop
  /// (``scalarBackwardParameters(_:outputGradient:mean:rstd:scaleGradient:biasGradient:accumulate:cols:)``).
  public static func backwardParameters(
    _ x: Matrix, outputGradient dy: Matrix,
    mean: UnsafeMutableBufferPointer<Float>, rstd: UnsafeMutableBufferPointer<Float>,
    scaleGradient: UnsafeMutableBufferPointer<Float>, biasGradient: UnsafeMutableBufferPointer<Float>,
    accumulate: Bool, cols: Range<Int>
  ) {
    parameterGradients(
      x, outputGradient: dy, mean: mean, rstd: rstd, scaleGradient: scaleGradient,
      biasGradient: biasGradient, accumulate: accumulate, cols: cols,
      vectorised: x.colStride == 1 && dy.colStride == 1)
  }

  /// The plain per-element loop of
  /// ``backwardParameters(_:outputGradient:mean:rstd:scaleGradient:biasGradient:accumulate:cols:)``
  /// (the reference, as ``scalarForward(_:scale:bias:epsilon:into:mean:rstd:rows:)``).
  public static func scalarBackwardParameters(
    _ x: Matrix, outputGradient dy: Matrix,
    mean: UnsafeMutableBufferPointer<Float>, rstd: UnsafeMutableBufferPointer<Float>,
    scaleGradient: UnsafeMutableBufferPointer<Float>, biasGradient: UnsafeMutableBufferPointer<Float>,
    accumulate: Bool, cols: Range<Int>
  ) {
    parameterGradients(
      x, outputGradient: dy, mean: mean, rstd: rstd, scaleGradient: scaleGradient,
      biasGradient: biasGradient, accumulate: accumulate, cols: cols, vectorised: false)
  }

  private static func parameterGradients(
    _ x: Matrix, outputGradient dy: Matrix,
    mean: UnsafeMutableBufferPointer<Float>, rstd: UnsafeMutableBufferPointer<Float>,
    scaleGradient: UnsafeMutableBufferPointer<Float>, biasGradient: UnsafeMutableBufferPointer<Float>,
    accumulate: Bool, cols: Range<Int>, vectorised: Bool
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
      if vectorised {
        let first = cols.lowerBound
        addParameterGradientsContiguous(
          xRow + first, dyRow + first, mean: rowMean, rstd: rowRstd, scaleGradient: dScale + first,
          biasGradient: dBias + first, count: cols.count)
        continue
      }
      for j in cols {
        let normalized = (xRow[j &* xStride] - rowMean) * rowRstd
        let upstream = dyRow[j &* dyStride]
        let product = upstream * normalized
        dScale[j] = dScale[j] + product
        dBias[j] = dBias[j] + upstream
      }
    }
  }

  /// Step 1 to 3 of ``forward(_:scale:bias:epsilon:into:mean:rstd:rows:)`` for rows
  /// `firstRow ..< firstRow + 4` (unit column stride): lane `r` of each `Double` vector is row
  /// `firstRow + r`'s chain, one addition per element in ascending `j`, exactly the scalar
  /// chain. Written with explicit 4 × 4 transposes of `SIMD4<Float>` loads because LLVM turns
  /// four scalar chains into gathers (see `SoftmaxKernel.rowDots`).
  @inline(__always)
  static func blockStatistics(
    _ x: Matrix, firstRow: Int, epsilon: Float
  ) -> (mean: SIMD4<Float>, rstd: SIMD4<Float>) {
    let n = x.cols
    let x0 = x.rowPointer(firstRow), x1 = x.rowPointer(firstRow &+ 1)
    let x2 = x.rowPointer(firstRow &+ 2), x3 = x.rowPointer(firstRow &+ 3)
    var sums = SIMD4<Double>()
    var j = 0
    while j &+ 4 <= n {
      let v0 = load4(x0 + j), v1 = load4(x1 + j), v2 = load4(x2 + j), v3 = load4(x3 + j)
      for lane in 0..<4 {
        sums = sums + SIMD4<Double>(SIMD4(v0[lane], v1[lane], v2[lane], v3[lane]))
      }
      j &+= 4
    }
    while j < n {
      sums = sums + SIMD4<Double>(Double(x0[j]), Double(x1[j]), Double(x2[j]), Double(x3[j]))
      j &+= 1
    }
    let meansD = sums / Double(n)
    var squares = SIMD4<Double>()
    j = 0
    while j &+ 4 <= n {
      let v0 = load4(x0 + j), v1 = load4(x1 + j), v2 = load4(x2 + j), v3 = load4(x3 + j)
      for lane in 0..<4 {
        let deviations = SIMD4<Double>(SIMD4(v0[lane], v1[lane], v2[lane], v3[lane])) - meansD
        squares = squares + deviations * deviations
      }
      j &+= 4
    }
    while j < n {
      let deviations =
        SIMD4<Double>(Double(x0[j]), Double(x1[j]), Double(x2[j]), Double(x3[j])) - meansD
      squares = squares + deviations * deviations
      j &+= 1
    }
    let variances = squares / Double(n)
    var means = SIMD4<Float>(), rstds = SIMD4<Float>()
    for lane in 0..<4 {
      means[lane] = Float(meansD[lane])
      rstds[lane] = Float(1 / (variances[lane] + Double(epsilon)).squareRoot())
    }
    return (means, rstds)
  }

  /// Steps 1 to 3 for one contiguous row, one element at a time (the scalar chains).
  @inline(__always)
  static func rowStatistics(
    _ x: UnsafePointer<Float>, count n: Int, epsilon: Float
  ) -> (mean: Float, rstd: Float) {
    var sum = 0.0
    for j in 0..<n { sum += Double(x[j]) }
    let meanD = sum / Double(n)
    var squares = 0.0
    for j in 0..<n {
      let deviation = Double(x[j]) - meanD
      squares += deviation * deviation
    }
    let variance = squares / Double(n)
    return (Float(meanD), Float(1 / (variance + Double(epsilon)).squareRoot()))
  }

  /// Step 4 on contiguous memory: `y[j] = ((x[j] - mean) * rstd) * scale[j] + bias[j]` in
  /// vectors of 16 and then 8 lanes, the remainder one at a time. `y` may equal `x`.
  @inline(__always)
  static func normalizeContiguous(
    _ x: UnsafePointer<Float>, mean: Float, rstd: Float, scale: UnsafePointer<Float>,
    bias: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int
  ) {
    var j = normalizeLanes(
      ElementaryKernels.WideLanes.self, x, mean: mean, rstd: rstd, scale: scale, bias: bias, into: y,
      from: 0, count: count)
    j = normalizeLanes(
      ElementaryKernels.HalfLanes.self, x, mean: mean, rstd: rstd, scale: scale, bias: bias, into: y,
      from: j, count: count)
    while j < count {
      let normalized = (x[j] - mean) * rstd
      y[j] = normalized * scale[j] + bias[j]
      j &+= 1
    }
  }

  @inline(__always)
  static func normalizeLanes<Lanes: ElementaryLanes>(
    _: Lanes.Type, _ x: UnsafePointer<Float>, mean: Float, rstd: Float, scale: UnsafePointer<Float>,
    bias: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, from start: Int, count: Int
  ) -> Int {
    var j = start
    while j &+ Lanes.scalarCount <= count {
      let normalized = (ElementaryKernels.loadLanes(x + j, as: Lanes.self) - mean) * rstd
      let scaled = normalized * ElementaryKernels.loadLanes(scale + j, as: Lanes.self)
      ElementaryKernels.storeLanes(scaled + ElementaryKernels.loadLanes(bias + j, as: Lanes.self), y + j)
      j &+= Lanes.scalarCount
    }
    return j
  }

  /// Steps 1 and 2 of ``backwardInput(_:outputGradient:scale:mean:rstd:into:rows:)`` for rows
  /// `firstRow ..< firstRow + 4` (unit column stride), the chains side by side like
  /// ``blockStatistics(_:firstRow:epsilon:)``: lane `r` is row `firstRow + r`. `g` and `xhat`
  /// are formed in `Float` four columns of a row at a time (lane-wise the scalar expressions),
  /// then transposed.
  @inline(__always)
  static func blockGradientMeans(
    _ x: Matrix, _ dy: Matrix, firstRow: Int, mean: SIMD4<Float>, rstd: SIMD4<Float>,
    scale: UnsafePointer<Float>
  ) -> (meanG: SIMD4<Float>, meanGX: SIMD4<Float>) {
    let n = x.cols
    let x0 = x.rowPointer(firstRow), x1 = x.rowPointer(firstRow &+ 1)
    let x2 = x.rowPointer(firstRow &+ 2), x3 = x.rowPointer(firstRow &+ 3)
    let dy0 = dy.rowPointer(firstRow), dy1 = dy.rowPointer(firstRow &+ 1)
    let dy2 = dy.rowPointer(firstRow &+ 2), dy3 = dy.rowPointer(firstRow &+ 3)
    var sumG = SIMD4<Double>(), sumGX = SIMD4<Double>()
    var j = 0
    while j &+ 4 <= n {
      let gamma = load4(scale + j)
      let g0 = load4(dy0 + j) * gamma, g1 = load4(dy1 + j) * gamma
      let g2 = load4(dy2 + j) * gamma, g3 = load4(dy3 + j) * gamma
      let h0 = (load4(x0 + j) - mean[0]) * rstd[0], h1 = (load4(x1 + j) - mean[1]) * rstd[1]
      let h2 = (load4(x2 + j) - mean[2]) * rstd[2], h3 = (load4(x3 + j) - mean[3]) * rstd[3]
      for lane in 0..<4 {
        let g = SIMD4<Double>(SIMD4(g0[lane], g1[lane], g2[lane], g3[lane]))
        let normalized = SIMD4<Double>(SIMD4(h0[lane], h1[lane], h2[lane], h3[lane]))
        sumG = sumG + g
        sumGX = sumGX + g * normalized
      }
      j &+= 4
    }
    while j < n {
      let column = SIMD4(x0[j], x1[j], x2[j], x3[j])
      let g = SIMD4<Double>(SIMD4(dy0[j], dy1[j], dy2[j], dy3[j]) * scale[j])
      let normalized = SIMD4<Double>((column - mean) * rstd)
      sumG = sumG + g
      sumGX = sumGX + g * normalized
      j &+= 1
    }
    return (SIMD4<Float>(sumG / Double(n)), SIMD4<Float>(sumGX / Double(n)))
  }

  /// Step 3 on contiguous memory: `dx[j] = rstd * ((g_j - meanG) - xhat_j * meanGX)` with
  /// `g_j = dy[j] * scale[j]` and `xhat_j = (x[j] - mean) * rstd`, in vectors of 16 and then 8
  /// lanes, the remainder one at a time. `dx` may equal `x` or `dy`.
  @inline(__always)
  static func inputGradientContiguous(
    _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, mean: Float, rstd: Float,
    scale: UnsafePointer<Float>, meanG: Float, meanGX: Float, into dx: UnsafeMutablePointer<Float>,
    count: Int
  ) {
    let moments = GradientMoments(mean: mean, rstd: rstd, meanG: meanG, meanGX: meanGX)
    var j = inputGradientLanes(
      ElementaryKernels.WideLanes.self, x, dy, moments, scale: scale, into: dx, from: 0, count: count)
    j = inputGradientLanes(
      ElementaryKernels.HalfLanes.self, x, dy, moments, scale: scale, into: dx, from: j, count: count)
    while j < count {
      let normalized = (x[j] - mean) * rstd
      let g = dy[j] * scale[j]
      dx[j] = rstd * ((g - meanG) - normalized * meanGX)
      j &+= 1
    }
  }

  /// One row's scalars of step 3.
  struct GradientMoments {
    var mean: Float, rstd: Float, meanG: Float, meanGX: Float
  }

  @inline(__always)
  static func inputGradientLanes<Lanes: ElementaryLanes>(
    _: Lanes.Type, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ moments: GradientMoments,
    scale: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>, from start: Int, count: Int
  ) -> Int {
    var j = start
    while j &+ Lanes.scalarCount <= count {
      let normalized = (ElementaryKernels.loadLanes(x + j, as: Lanes.self) - moments.mean) * moments.rstd
      let g = ElementaryKernels.loadLanes(dy + j, as: Lanes.self) * ElementaryKernels.loadLanes(scale + j)
      ElementaryKernels.storeLanes(
        moments.rstd * ((g - moments.meanG) - normalized * moments.meanGX), dx + j)
      j &+= Lanes.scalarCount
    }
    return j
  }

  /// One row's contribution to the parameter gradients of `count` contiguous columns:
  /// `dScale[j] = dScale[j] + dy[j] * xhat_j`, `dBias[j] = dBias[j] + dy[j]`, in vectors of 16
  /// and then 8 lanes, the remainder one at a time (each column its own accumulator).
  @inline(__always)
  static func addParameterGradientsContiguous(
    _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, mean: Float, rstd: Float,
    scaleGradient dScale: UnsafeMutablePointer<Float>, biasGradient dBias: UnsafeMutablePointer<Float>,
    count: Int
  ) {
    var j = addParameterGradientLanes(
      ElementaryKernels.WideLanes.self, x, dy, mean: mean, rstd: rstd, dScale, dBias, from: 0, count: count)
    j = addParameterGradientLanes(
      ElementaryKernels.HalfLanes.self, x, dy, mean: mean, rstd: rstd, dScale, dBias, from: j, count: count)
    while j < count {
      let normalized = (x[j] - mean) * rstd
      let upstream = dy[j]
      dScale[j] = dScale[j] + upstream * normalized
      dBias[j] = dBias[j] + upstream
      j &+= 1
    }
  }

  @inline(__always)
  static func addParameterGradientLanes<Lanes: ElementaryLanes>(
    _: Lanes.Type, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, mean: Float, rstd: Float,
    _ dScale: UnsafeMutablePointer<Float>, _ dBias: UnsafeMutablePointer<Float>, from start: Int,
    count: Int
  ) -> Int {
    var j = start
    while j &+ Lanes.scalarCount <= count {
      let normalized = (ElementaryKernels.loadLanes(x + j, as: Lanes.self) - mean) * rstd
      let upstream = ElementaryKernels.loadLanes(dy + j, as: Lanes.self)
      let product = upstream * normalized
      let scaleSums = ElementaryKernels.loadLanes(dScale + j, as: Lanes.self)
      let biasSums = ElementaryKernels.loadLanes(dBias + j, as: Lanes.self)
      ElementaryKernels.storeLanes(scaleSums + product, dScale + j)
      ElementaryKernels.storeLanes(biasSums + upstream, dBias + j)
      j &+= Lanes.scalarCount
    }
    return j
  }

  @inline(__always)
  private static func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
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
