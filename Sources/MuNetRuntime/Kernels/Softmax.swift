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
  ///
  /// Rows with unit column stride take the vectorised path: the same operations on the same
  /// values as ``scalarForward(_:into:rows:)``, so the same bits. Step 1 keeps a running
  /// maximum per lane (``rowMaximumContiguous(_:count:)``); step 2 computes the differences
  /// and `exp` a vector of lanes at a time; the sums of up to four rows are then formed side
  /// by side, each still one `Double` addition per element in ascending `j` (four independent
  /// chains instead of one; this latency-bound loop was the largest cost); step 3 divides a
  /// vector of lanes at a time. Remainders that do not fill a vector use the scalar expressions.
  public static func forward(_ x: Matrix, into y: Matrix, rows: Range<Int>) {
    KernelCheck.sameShape(x, y, "softmax")
    KernelCheck.range(rows, within: y.rows, "softmax")
    guard x.cols > 0 else { return }
    guard x.colStride == 1 && y.colStride == 1 else { return scalarForward(x, into: y, rows: rows) }
    let count = y.cols
    var first = rows.lowerBound
    while first < rows.upperBound {
      let block = min(rowBlock, rows.upperBound - first)
      for i in first..<(first + block) {
        let xRow = x.rowPointer(i)
        let maximum = rowMaximumContiguous(xRow, count: count)
        exponentiateShiftedContiguous(xRow, maximum: maximum, into: y.rowPointer(i), count: count)
      }
      let totals = rowSums(y, rows: first..<(first + block))
      for r in 0..<block { divideContiguous(y.rowPointer(first + r), by: Float(totals[r]), count: count) }
      first += block
    }
  }

  /// Rows handled side by side by the vectorised forward and backward passes.
  static var rowBlock: Int { 4 }

  /// The plain per-element loop of ``forward(_:into:rows:)``: the definition of its bits, kept
  /// as the reference the vectorised loop is tested against; also used for strided columns.
  public static func scalarForward(_ x: Matrix, into y: Matrix, rows: Range<Int>) {
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
  ///
  /// Rows with unit column stride take the vectorised path: the dot products of up to four
  /// rows are formed side by side (each still one `Double` addition per element in ascending
  /// `j`), then `dx` a vector of lanes at a time: the same operations as
  /// ``scalarBackward(outputs:outputGradient:into:rows:)``, so the same bits. All of a block's
  /// dot products are complete before its `dx` is written, so `dx` may alias `dy` or `y`.
  public static func backward(
    outputs y: Matrix, outputGradient dy: Matrix, into dx: Matrix, rows: Range<Int>
  ) {
    KernelCheck.sameShape(y, dx, "softmaxBackward")
    KernelCheck.sameShape(dy, dx, "softmaxBackward")
    KernelCheck.range(rows, within: dx.rows, "softmaxBackward")
    guard y.colStride == 1 && dy.colStride == 1 && dx.colStride == 1 else {
      return scalarBackward(outputs: y, outputGradient: dy, into: dx, rows: rows)
    }
    let count = dx.cols
    var first = rows.lowerBound
    while first < rows.upperBound {
      let block = min(rowBlock, rows.upperBound - first)
      let dots = rowDots(dy, y, rows: first..<(first + block))
      for r in 0..<block {
        let i = first + r
        scaleDifferencesContiguous(
          y.rowPointer(i), dy.rowPointer(i), minus: Float(dots[r]), into: dx.rowPointer(i), count: count)
      }
      first += block
    }
  }

  /// The plain per-element loop of ``backward(outputs:outputGradient:into:rows:)`` (the
  /// reference, as ``scalarForward(_:into:rows:)``).
  public static func scalarBackward(
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

  /// Step 2 of ``forward(_:into:rows:)``, one element at a time: writes
  /// `exp(x[row, j] - maximum)` to `output[j * stride]` and returns their sum in `Double`.
  /// `output` may alias the row of `x`.
  @inline(__always)
  static func exponentiateShifted(
    _ x: Matrix, row: Int, maximum: Float, into output: UnsafeMutablePointer<Float>, stride: Int
  ) -> Double {
    let xRow = x.rowPointer(row)
    let xStride = x.colStride
    var total = 0.0
    for j in 0..<x.cols {
      let e = Elementary.exp(xRow[j &* xStride] - maximum)
      output[j &* stride] = e
      total += Double(e)
    }
    return total
  }

  /// Step 1 on contiguous memory, a vector of lanes at a time; the same result as
  /// ``rowMaximum(_:row:)``.
  ///
  /// Why the same bits: when `x[0]` is not NaN, the scalar rule returns the *first* element,
  /// in index order, whose value is the largest of the non-NaN elements (a NaN is never
  /// greater; an equal value never replaces). Each lane applies the same rule to the elements
  /// of its positions, starting from `x[0]` (so no lane starts at a NaN), and the lanes and the
  /// scalar remainder are then reduced by the same rule: the value found is the largest. A
  /// non-zero, non-NaN value has only one bit pattern, so the bits agree; when the largest
  /// value is ±0 the sign of the first zero decides, and the scalar loop is run instead. When
  /// `x[0]` is NaN the result is `x[0]`.
  @inline(__always)
  static func rowMaximumContiguous(_ x: UnsafePointer<Float>, count: Int) -> Float {
    typealias Lanes = ElementaryKernels.HalfLanes
    let first = x[0]
    if count < 2 &* Lanes.scalarCount || first.isNaN { return rowMaximumScalar(x, count: count) }
    var laneMaxima = Lanes(repeating: first)
    var j = 0
    while j &+ Lanes.scalarCount <= count {
      let values: Lanes = ElementaryKernels.loadLanes(x + j)
      laneMaxima.replace(with: values, where: Lanes.lanesGreater(values, laneMaxima))
      j &+= Lanes.scalarCount
    }
    var maximum = first
    while j < count {
      if x[j] > maximum { maximum = x[j] }
      j &+= 1
    }
    for lane in 0..<Lanes.scalarCount where laneMaxima[lane] > maximum { maximum = laneMaxima[lane] }
    return maximum == 0 ? rowMaximumScalar(x, count: count) : maximum
  }

  /// ``rowMaximum(_:row:)`` on contiguous memory, one element at a time.
  @inline(__always)
  static func rowMaximumScalar(_ x: UnsafePointer<Float>, count: Int) -> Float {
    var maximum = x[0]
    for j in 1..<max(count, 1) where x[j] > maximum { maximum = x[j] }
    return maximum
  }

  /// Step 2 on contiguous memory without the sum: `output[j] = exp(x[j] - maximum)` in
  /// vectors of 16 and then 8 lanes (lane-wise the same `-` and `exp`), the remainder one at a
  /// time. `output` may equal `x`.
  @inline(__always)
  static func exponentiateShiftedContiguous(
    _ x: UnsafePointer<Float>, maximum: Float, into output: UnsafeMutablePointer<Float>, count: Int
  ) {
    var j = ElementaryKernels.mapLanes(ElementaryKernels.WideLanes.self, x, output, from: 0, count: count) {
      Elementary.exp($0 - maximum)
    }
    j = ElementaryKernels.mapLanes(ElementaryKernels.HalfLanes.self, x, output, from: j, count: count) {
      Elementary.exp($0 - maximum)
    }
    while j < count {
      output[j] = Elementary.exp(x[j] - maximum)
      j &+= 1
    }
  }

  /// `+0 + Double(v[i, 0]) + Double(v[i, 1]) + ...` (ascending `j`) for each row `i` in `rows`
  /// (at most ``rowBlock`` rows, unit column stride): the rows' chains run side by side, each
  /// in its own order.
  @inline(__always)
  static func rowSums(_ v: Matrix, rows: Range<Int>) -> SIMD4<Double> {
    var totals = SIMD4<Double>()
    if rows.count == rowBlock {
      let a = v.rowPointer(rows.lowerBound), b = v.rowPointer(rows.lowerBound + 1)
      let c = v.rowPointer(rows.lowerBound + 2), d = v.rowPointer(rows.lowerBound + 3)
      // Lane r is row r's chain (explicit transposes: see rowDots).
      var total = SIMD4<Double>()
      var j = 0
      while j &+ 4 <= v.cols {
        let ra = load4(a + j), rb = load4(b + j), rc = load4(c + j), rd = load4(d + j)
        for lane in 0..<4 {
          total = total + SIMD4<Double>(SIMD4(ra[lane], rb[lane], rc[lane], rd[lane]))
        }
        j &+= 4
      }
      while j < v.cols {
        total = total + SIMD4<Double>(Double(a[j]), Double(b[j]), Double(c[j]), Double(d[j]))
        j &+= 1
      }
      return total
    }
    for r in 0..<rows.count {
      let row = v.rowPointer(rows.lowerBound + r)
      var total = 0.0
      for j in 0..<v.cols { total += Double(row[j]) }
      totals[r] = total
    }
    return totals
  }

  /// `+0 + Double(a[i, 0]) * Double(b[i, 0]) + ...` (ascending `j`) for each row `i` in `rows`
  /// (at most ``rowBlock`` rows, unit column stride), the chains side by side like
  /// ``rowSums(_:rows:)``. Each product of two `Float`s is exact in `Double`.
  @inline(__always)
  static func rowDots(_ a: Matrix, _ b: Matrix, rows: Range<Int>) -> SIMD4<Double> {
    var totals = SIMD4<Double>()
    if rows.count == rowBlock {
      let i = rows.lowerBound
      // Lane r of `total` is row r's chain: each step is one multiply and one add per lane,
      // exactly the scalar chain. Written with explicit 4 × 4 transposes because, left to
      // itself, LLVM turned four scalar chains into gathers (7× slower with AVX-512).
      let a0 = a.rowPointer(i), a1 = a.rowPointer(i + 1), a2 = a.rowPointer(i + 2), a3 = a.rowPointer(i + 3)
      let b0 = b.rowPointer(i), b1 = b.rowPointer(i + 1), b2 = b.rowPointer(i + 2), b3 = b.rowPointer(i + 3)
      var total = SIMD4<Double>()
      var j = 0
      while j &+ 4 <= a.cols {
        let ra0 = load4(a0 + j), ra1 = load4(a1 + j), ra2 = load4(a2 + j), ra3 = load4(a3 + j)
        let rb0 = load4(b0 + j), rb1 = load4(b1 + j), rb2 = load4(b2 + j), rb3 = load4(b3 + j)
        for lane in 0..<4 {
          let columnA = SIMD4<Double>(SIMD4(ra0[lane], ra1[lane], ra2[lane], ra3[lane]))
          let columnB = SIMD4<Double>(SIMD4(rb0[lane], rb1[lane], rb2[lane], rb3[lane]))
          total = total + columnA * columnB
        }
        j &+= 4
      }
      while j < a.cols {
        let columnA = SIMD4<Double>(Double(a0[j]), Double(a1[j]), Double(a2[j]), Double(a3[j]))
        let columnB = SIMD4<Double>(Double(b0[j]), Double(b1[j]), Double(b2[j]), Double(b3[j]))
        total = total + columnA * columnB
        j &+= 1
      }
      return total
    }
    for r in 0..<rows.count {
      let aRow = a.rowPointer(rows.lowerBound + r), bRow = b.rowPointer(rows.lowerBound + r)
      var total = 0.0
      for j in 0..<a.cols { total += Double(aRow[j]) * Double(bRow[j]) }
      totals[r] = total
    }
    return totals
  }

  @inline(__always)
  private static func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
  }

  /// `dx[j] = y[j] * (dy[j] - d)` on contiguous memory, in vectors of 16 and then 8 lanes,
  /// the remainder one at a time.
  @inline(__always)
  static func scaleDifferencesContiguous(
    _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, minus d: Float,
    into dx: UnsafeMutablePointer<Float>, count: Int
  ) {
    var j = scaleDifferencesLanes(
      ElementaryKernels.WideLanes.self, y, dy, minus: d, into: dx, from: 0, count: count)
    j = scaleDifferencesLanes(
      ElementaryKernels.HalfLanes.self, y, dy, minus: d, into: dx, from: j, count: count)
    while j < count {
      dx[j] = y[j] * (dy[j] - d)
      j &+= 1
    }
  }

  @inline(__always)
  static func scaleDifferencesLanes<Lanes: ElementaryLanes>(
    _: Lanes.Type, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, minus d: Float,
    into dx: UnsafeMutablePointer<Float>, from start: Int, count: Int
  ) -> Int {
    var j = start
    while j &+ Lanes.scalarCount <= count {
      let yj: Lanes = ElementaryKernels.loadLanes(y + j), dyj: Lanes = ElementaryKernels.loadLanes(dy + j)
      ElementaryKernels.storeLanes(yj * (dyj - d), dx + j)
      j &+= Lanes.scalarCount
    }
    return j
  }

  /// Step 2 without storing the exponentials (cross-entropy's loss-only path): the same values
  /// as ``exponentiateShiftedContiguous(_:maximum:into:count:)``, added to the `Double` sum one
  /// at a time in ascending `j`.
  @inline(__always)
  static func sumOfShiftedExponentialsContiguous(
    _ x: UnsafePointer<Float>, maximum: Float, count: Int
  ) -> Double {
    typealias Lanes = ElementaryKernels.HalfLanes
    var total = 0.0
    var j = 0
    while j &+ Lanes.scalarCount <= count {
      let e = Elementary.exp(ElementaryKernels.loadLanes(x + j, as: Lanes.self) - maximum)
      for lane in 0..<Lanes.scalarCount { total += Double(e[lane]) }
      j &+= Lanes.scalarCount
    }
    while j < count {
      total += Double(Elementary.exp(x[j] - maximum))
      j &+= 1
    }
    return total
  }

  /// Step 3 on contiguous memory: `values[j] = values[j] / divisor`, in vectors of 16 and then
  /// 8 lanes, the remainder one at a time.
  @inline(__always)
  static func divideContiguous(_ values: UnsafeMutablePointer<Float>, by divisor: Float, count: Int) {
    var j = ElementaryKernels.mapLanes(
      ElementaryKernels.WideLanes.self, values, values, from: 0, count: count) { $0 / divisor }
    j = ElementaryKernels.mapLanes(ElementaryKernels.HalfLanes.self, values, values, from: j, count: count) {
      $0 / divisor
    }
    while j < count {
      values[j] = values[j] / divisor
      j &+= 1
    }
  }
}
