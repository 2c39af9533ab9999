/// Which formula of the Gaussian error linear unit to use.
public enum GELUForm: String, CaseIterable, Sendable {
  /// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`: flax `nn.gelu` default (`approximate=True`),
  /// what ViT uses.
  case tanh
  /// `0.5·x·(1 + erf(x/√2))`: the exact form (flax `approximate=False`).
  case exact
}

/// Tier 0 GELU, forward and backward, elementwise (Tier 1 splits rows).
///
/// Constants are the `Float` roundings of: `c = √(2/π) = 0.7978845608028654`,
/// `k = 0.044715`, `3k = 0.134145`, `s = 1/√2 = 0.7071067811865476`,
/// `p = 1/√(2π) = 0.3989422804014327`. All arithmetic is `Float`, one rounding per operation in
/// the order written, no FMA; transcendentals are `Elementary.tanh`, `.erf`, `.exp`.
///
/// Tanh form, per element:
/// `x3 = (x * x) * x`, `t = tanh(c * (x + k * x3))`, `y = (0.5 * x) * (1 + t)`;
/// derivative `d = 0.5 * (1 + t) + (0.5 * x) * ((1 - t * t) * (c * (1 + 3k * (x * x))))`,
/// except that `d = 0.5 * (1 + t)` when `1 - t * t` is exactly 0.
///
/// Exact form, per element:
/// `e = erf(x * s)`, `y = (0.5 * x) * (1 + e)`;
/// derivative `d = 0.5 * (1 + e) + x * (p * exp(-0.5 * (x * x)))`.
///
/// Backward: `dx = dy * d`, with `d` recomputed from the forward input `x`, or (training) from
/// `x` and the term `t` or `e` the forward saved
/// (``GELUKernel/biasForward(_:bias:form:sums:into:terms:rows:)``,
/// ``GELUKernel/backward(_:terms:outputGradient:form:into:rows:)``): the same expressions after
/// the term, so the same bits, without the second `tanh` or `erf`.
public enum GELUKernel {
  static let c: Float = 0.7978845608028654
  static let k: Float = 0.044715
  static let threeK: Float = 0.134145
  static let s: Float = 0.7071067811865476
  static let p: Float = 0.3989422804014327

  /// `y = gelu(x)` for the rows in `rows`; `y` may be the same view as `x`.
  ///
  /// Rows with unit column stride take the vectorised loops (vectors of `Float` lanes at a
  /// time, the remainder by the scalar expressions); each lane computes the documented
  /// expression with the same operations as ``scalarForward(_:form:into:rows:)``, so the bits are
  /// the same wherever an element falls (tests compare the two on every tail length).
  public static func forward(_ x: Matrix, form: GELUForm, into y: Matrix, rows: Range<Int>) {
    KernelCheck.sameShape(x, y, "gelu")
    KernelCheck.range(rows, within: y.rows, "gelu")
    guard x.colStride == 1 && y.colStride == 1 else {
      return scalarForward(x, form: form, into: y, rows: rows)
    }
    if let count = flatCount(rows, cols: y.cols, x, y, y) {
      // Dense views: the rows are one run of memory.
      forwardContiguous(x.rowPointer(rows.lowerBound), y.rowPointer(rows.lowerBound), count, form)
      return
    }
    for i in rows { forwardContiguous(x.rowPointer(i), y.rowPointer(i), y.cols, form) }
  }

  /// `dx = dy * gelu'(x)` for the rows in `rows`; `x` is the forward input. `dx` may be the
  /// same view as `dy` or `x`.
  ///
  /// Vectorised like ``forward(_:form:into:rows:)``; the same bits as
  /// ``scalarBackward(_:outputGradient:form:into:rows:)``.
  public static func backward(
    _ x: Matrix, outputGradient dy: Matrix, form: GELUForm, into dx: Matrix, rows: Range<Int>
  ) {
    KernelCheck.sameShape(x, dx, "geluBackward")
    KernelCheck.sameShape(dy, dx, "geluBackward")
    KernelCheck.range(rows, within: dx.rows, "geluBackward")
    guard x.colStride == 1 && dy.colStride == 1 && dx.colStride == 1 else {
      return scalarBackward(x, outputGradient: dy, form: form, into: dx, rows: rows)
    }
    if let count = flatCount(rows, cols: dx.cols, x, dy, dx) {
      let start = rows.lowerBound
      backwardContiguous(x.rowPointer(start), dy.rowPointer(start), dx.rowPointer(start), count, form)
      return
    }
    for i in rows {
      backwardContiguous(x.rowPointer(i), dy.rowPointer(i), dx.rowPointer(i), dx.cols, form)
    }
  }

  /// The element count of `rows` when all three views (unit column stride) store those rows
  /// back to back, so they can be processed as one run; nil otherwise. Safe for in-place
  /// calls: an output equal to an input view is the same run of memory.
  @inline(__always)
  static func flatCount(_ rows: Range<Int>, cols: Int, _ a: Matrix, _ b: Matrix, _ c: Matrix) -> Int? {
    let dense = rows.count <= 1 || (a.rowStride == cols && b.rowStride == cols && c.rowStride == cols)
    return dense ? rows.count &* cols : nil
  }

  // MARK: Vectorised loops

  static func forwardContiguous(
    _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int, _ form: GELUForm
  ) {
    switch form {
    case .tanh: tanhForwardContiguous(x: x, y: y, count: count)
    case .exact: exactForwardContiguous(x: x, y: y, count: count)
    }
  }

  static func backwardContiguous(
    _ x: UnsafeMutablePointer<Float>, _ dy: UnsafeMutablePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
    _ count: Int, _ form: GELUForm
  ) {
    switch form {
    case .tanh: tanhBackwardContiguous(x: x, dy: dy, dx: dx, count: count)
    case .exact: exactBackwardContiguous(x: x, dy: dy, dx: dx, count: count)
    }
  }

  /// ``tanhForm(_:)-(Float)`` over `count` contiguous elements: vectors of 16 lanes, then of
  /// 8, then one element at a time. Each vector is read before it is written, so `y` may equal
  /// `x`.
  static func tanhForwardContiguous(
    x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int
  ) {
    var j = ElementaryKernels.mapLanes(ElementaryKernels.WideLanes.self, x, y, from: 0, count: count) {
      tanhForm($0)
    }
    j = ElementaryKernels.mapLanes(ElementaryKernels.HalfLanes.self, x, y, from: j, count: count) {
      tanhForm($0)
    }
    while j < count {
      y[j] = tanhForm(x[j])
      j &+= 1
    }
  }

  /// `dy * tanhFormDerivative(x)` over `count` contiguous elements, in vectors like
  /// ``tanhForwardContiguous(x:y:count:)``. Each vector of `x` and `dy` is read before that
  /// vector of `dx` is written, so `dx` may equal `x` or `dy`.
  static func tanhBackwardContiguous(
    x: UnsafeMutablePointer<Float>, dy: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>,
    count: Int
  ) {
    var j = tanhBackwardLanes(ElementaryKernels.WideLanes.self, x: x, dy: dy, dx: dx, from: 0, count: count)
    j = tanhBackwardLanes(ElementaryKernels.HalfLanes.self, x: x, dy: dy, dx: dx, from: j, count: count)
    while j < count {
      dx[j] = dy[j] * tanhFormDerivative(x[j])
      j &+= 1
    }
  }

  @inline(__always)
  static func tanhBackwardLanes<Lanes: ElementaryLanes>(
    _: Lanes.Type, x: UnsafeMutablePointer<Float>, dy: UnsafeMutablePointer<Float>,
    dx: UnsafeMutablePointer<Float>, from start: Int, count: Int
  ) -> Int {
    var j = start
    while j &+ Lanes.scalarCount <= count {
      let v: Lanes = ElementaryKernels.loadLanes(x + j), g: Lanes = ElementaryKernels.loadLanes(dy + j)
      ElementaryKernels.storeLanes(g * tanhFormDerivative(v), dx + j)
      j &+= Lanes.scalarCount
    }
    return j
  }

  /// ``exactForm(_:)-(Float)`` over `count` contiguous elements: vectors of 8 lanes (the
  /// fastest width for `erf`), then one element at a time (`y` may equal `x`).
  static func exactForwardContiguous(
    x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int
  ) {
    var j = ElementaryKernels.mapLanes(ElementaryKernels.ErfLanes.self, x, y, from: 0, count: count) {
      exactForm($0)
    }
    while j < count {
      y[j] = exactForm(x[j])
      j &+= 1
    }
  }

  /// `dy * exactFormDerivative(x)` over `count` contiguous elements, in vectors like
  /// ``exactForwardContiguous(x:y:count:)`` (`dx` may equal `x` or `dy`).
  static func exactBackwardContiguous(
    x: UnsafeMutablePointer<Float>, dy: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>,
    count: Int
  ) {
    var j = 0
    while j &+ ElementaryKernels.ErfLanes.scalarCount <= count {
      let v: ElementaryKernels.ErfLanes = ElementaryKernels.loadLanes(x + j)
      let g: ElementaryKernels.ErfLanes = ElementaryKernels.loadLanes(dy + j)
      ElementaryKernels.storeLanes(g * exactFormDerivative(v), dx + j)
      j &+= ElementaryKernels.ErfLanes.scalarCount
    }
    while j < count {
      dx[j] = dy[j] * exactFormDerivative(x[j])
      j &+= 1
    }
  }

  // MARK: Lane forms of the documented expressions
  //
  // The same Float operations in the same order as the scalar functions below, lane-wise
  // (`Float` SIMD `+ - *` are the scalar IEEE operations per lane, never fused), with
  // `Elementary`'s lane functions, which give each lane the scalar function's bits. The one
  // branch, `sech2 == 0`, becomes a select of the two scalar outcomes: both are computed, and
  // each lane keeps the one the scalar code would return (the other may be NaN; it is dropped).

  @inline(__always)
  static func tanhTerm<Lanes: ElementaryLanes>(_ x: Lanes) -> Lanes {
    let cube = (x * x) * x
    return Elementary.tanh(c * (x + k * cube))
  }

  @inline(__always)
  static func tanhForm<Lanes: ElementaryLanes>(_ x: Lanes) -> Lanes {
    tanhForm(x, term: tanhTerm(x))
  }

  /// `(0.5 * x) * (1 + t)`, `t` = `tanhTerm(x)`.
  @inline(__always)
  static func tanhForm<Lanes: ElementaryLanes>(_ x: Lanes, term t: Lanes) -> Lanes {
    (0.5 * x) * (1 + t)
  }

  @inline(__always)
  static func tanhFormDerivative<Lanes: ElementaryLanes>(_ x: Lanes) -> Lanes {
    tanhFormDerivative(x, term: tanhTerm(x))
  }

  /// The derivative at `x` from its term `t` = `tanhTerm(x)`: what follows `t` in the
  /// documented expression, the only code that computes it (recomputed or saved `t` alike).
  @inline(__always)
  static func tanhFormDerivative<Lanes: ElementaryLanes>(_ x: Lanes, term t: Lanes) -> Lanes {
    let sech2 = 1 - t * t
    let saturated = 0.5 * (1 + t)
    let innerSlope = c * (1 + threeK * (x * x))
    let general = 0.5 * (1 + t) + (0.5 * x) * (sech2 * innerSlope)
    return general.replacing(with: saturated, where: Lanes.lanesEqual(sech2, Lanes()))
  }

  @inline(__always)
  static func exactTerm<Lanes: ElementaryLanes>(_ x: Lanes) -> Lanes {
    Elementary.erf(x * s)
  }

  @inline(__always)
  static func exactForm<Lanes: ElementaryLanes>(_ x: Lanes) -> Lanes {
    exactForm(x, term: exactTerm(x))
  }

  /// `(0.5 * x) * (1 + e)`, `e` = `exactTerm(x)`.
  @inline(__always)
  static func exactForm<Lanes: ElementaryLanes>(_ x: Lanes, term e: Lanes) -> Lanes {
    (0.5 * x) * (1 + e)
  }

  @inline(__always)
  static func exactFormDerivative<Lanes: ElementaryLanes>(_ x: Lanes) -> Lanes {
    exactFormDerivative(x, term: exactTerm(x))
  }

  /// The derivative at `x` from its term `e` = `exactTerm(x)` (the density is still computed).
  @inline(__always)
  static func exactFormDerivative<Lanes: ElementaryLanes>(_ x: Lanes, term e: Lanes) -> Lanes {
    let exponent = -0.5 * (x * x)
    let density = p * ElementaryKernels.settledNaN(exponent, ElementaryKernels.exp(exponent))
    return 0.5 * (1 + e) + x * density
  }

  // MARK: Scalar reference

  /// The plain per-element loop of ``forward(_:form:into:rows:)``: the definition of its bits,
  /// kept as the reference the vectorised loops are tested against; also used for views whose
  /// columns are strided.
  public static func scalarForward(_ x: Matrix, form: GELUForm, into y: Matrix, rows: Range<Int>) {
    KernelCheck.sameShape(x, y, "gelu")
    KernelCheck.range(rows, within: y.rows, "gelu")
    for i in rows {
      let xRow = x.rowPointer(i), yRow = y.rowPointer(i)
      let xStride = x.colStride, yStride = y.colStride
      switch form {
      case .tanh:
        for j in 0..<y.cols { yRow[j &* yStride] = tanhForm(xRow[j &* xStride]) }
      case .exact:
        for j in 0..<y.cols { yRow[j &* yStride] = exactForm(xRow[j &* xStride]) }
      }
    }
  }

  /// The plain per-element loop of ``backward(_:outputGradient:form:into:rows:)`` (the
  /// reference, as ``scalarForward(_:form:into:rows:)``).
  public static func scalarBackward(
    _ x: Matrix, outputGradient dy: Matrix, form: GELUForm, into dx: Matrix, rows: Range<Int>
  ) {
    KernelCheck.sameShape(x, dx, "geluBackward")
    KernelCheck.sameShape(dy, dx, "geluBackward")
    KernelCheck.range(rows, within: dx.rows, "geluBackward")
    for i in rows {
      let xRow = x.rowPointer(i), dyRow = dy.rowPointer(i), dxRow = dx.rowPointer(i)
      let xStride = x.colStride, dyStride = dy.colStride, dxStride = dx.colStride
      switch form {
      case .tanh:
        for j in 0..<dx.cols {
          dxRow[j &* dxStride] = dyRow[j &* dyStride] * tanhFormDerivative(xRow[j &* xStride])
        }
      case .exact:
        for j in 0..<dx.cols {
          dxRow[j &* dxStride] = dyRow[j &* dyStride] * exactFormDerivative(xRow[j &* xStride])
        }
      }
    }
  }

  /// GELU, tanh form, of one value (the documented expression).
  @inline(__always)
  public static func tanhForm(_ x: Float) -> Float {
    tanhForm(x, term: tanhTerm(x))
  }

  /// GELU, tanh form, of `x` from its term `t` = ``tanhTerm(_:)-(Float)``: `(0.5 * x) * (1 + t)`.
  @inline(__always)
  public static func tanhForm(_ x: Float, term t: Float) -> Float {
    (0.5 * x) * (1 + t)
  }

  /// The derivative of ``tanhForm(_:)-(Float)`` at `x` (the documented expression).
  @inline(__always)
  public static func tanhFormDerivative(_ x: Float) -> Float {
    tanhFormDerivative(x, term: tanhTerm(x))
  }

  /// The derivative of ``tanhForm(_:)-(Float)`` at `x` from its term `t` =
  /// ``tanhTerm(_:)-(Float)``: the documented expression after `t`, the one code path for a
  /// recomputed and a saved `t`, so both give the same bits.
  @inline(__always)
  public static func tanhFormDerivative(_ x: Float, term t: Float) -> Float {
    let sech2 = 1 - t * t
    // Where tanh has saturated the second term is exactly 0; computing it anyway would give
    // 0 · ∞ = NaN once x * x overflows (|x| > 1.8e19).
    if sech2 == 0 { return 0.5 * (1 + t) }
    let innerSlope = c * (1 + threeK * (x * x))
    return 0.5 * (1 + t) + (0.5 * x) * (sech2 * innerSlope)
  }

  /// GELU, exact form, of one value (the documented expression).
  @inline(__always)
  public static func exactForm(_ x: Float) -> Float {
    exactForm(x, term: exactTerm(x))
  }

  /// GELU, exact form, of `x` from its term `e` = ``exactTerm(_:)-(Float)``: `(0.5 * x) * (1 + e)`.
  @inline(__always)
  public static func exactForm(_ x: Float, term e: Float) -> Float {
    (0.5 * x) * (1 + e)
  }

  /// The derivative of ``exactForm(_:)-(Float)`` at `x` (the documented expression).
  @inline(__always)
  public static func exactFormDerivative(_ x: Float) -> Float {
    exactFormDerivative(x, term: exactTerm(x))
  }

  /// The derivative of ``exactForm(_:)-(Float)`` at `x` from its term `e` =
  /// ``exactTerm(_:)-(Float)`` (the Gaussian density is still computed from `x`).
  @inline(__always)
  public static func exactFormDerivative(_ x: Float, term e: Float) -> Float {
    let density = p * Elementary.exp(-0.5 * (x * x))
    return 0.5 * (1 + e) + x * density
  }

  /// The transcendental part of the tanh form: `tanh(c * (x + k * ((x * x) * x)))`.
  @inline(__always)
  public static func tanhTerm(_ x: Float) -> Float {
    let cube = (x * x) * x
    return Elementary.tanh(c * (x + k * cube))
  }

  /// The transcendental part of the exact form: `erf(x * s)`.
  @inline(__always)
  public static func exactTerm(_ x: Float) -> Float {
    Elementary.erf(x * s)
  }
}
