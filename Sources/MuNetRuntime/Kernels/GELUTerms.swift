/// The training forms of GELU: a forward fused with the bias add before it that can save each
/// element's transcendental term, and a backward that reads the saved term instead of
/// recomputing it.
///
/// Per element of ``biasForward(_:bias:form:sums:into:terms:rows:)``: `h = x + bias[j]` (one
/// `Float` addition, the bits of ``ElementwiseKernel/addBias(_:_:into:rows:)``), stored; then
/// the term of `h` (`t = tanh(c * (h + k * ((h * h) * h)))` or `e = erf(h * s)`), stored when
/// `terms` is given, and `y = (0.5 * h) * (1 + term)`: the bits of `addBias` followed by
/// ``GELUKernel/forward(_:form:into:rows:)``, in one pass over memory.
///
/// ``backward(_:terms:outputGradient:form:into:rows:)``: `dx = dy * d` with `d` from the
/// forward input and its saved term by the derivative expression after the term (the code
/// ``GELUKernel/backward(_:outputGradient:form:into:rows:)`` runs after recomputing it), so the
/// same bits; the tanh form skips its only transcendental, the exact form keeps the `exp` of the
/// density and skips the `erf`.
extension GELUKernel {
  /// `h = x + bias` (row-wise), `y = gelu(h)` and, when given, `terms` = the term of each `h`,
  /// for the rows in `rows`. `h` may be the same view as `x`; `y` and `terms` must not overlap
  /// `h` or each other.
  ///
  /// Rows with unit column stride take the vectorised loops (16, then 8 lanes for the tanh
  /// form, 8 for the exact form, the remainder by the scalar expressions); the same bits as
  /// ``scalarBiasForward(_:bias:form:sums:into:terms:rows:)``.
  public static func biasForward(
    _ x: Matrix, bias: UnsafeMutableBufferPointer<Float>, form: GELUForm, sums h: Matrix, into y: Matrix,
    terms: Matrix?, rows: Range<Int>
  ) {
    checkBiasForward(x, bias: bias, sums: h, into: y, terms: terms, rows: rows)
    guard let biasBase = bias.baseAddress else { return }
    let unitStride = x.colStride == 1 && h.colStride == 1 && y.colStride == 1 && (terms?.colStride ?? 1) == 1
    guard unitStride else {
      return scalarBiasForward(x, bias: bias, form: form, sums: h, into: y, terms: terms, rows: rows)
    }
    for i in rows {
      let row = BiasRow(
        x: x.rowPointer(i), bias: biasBase, h: h.rowPointer(i), y: y.rowPointer(i),
        terms: terms?.rowPointer(i))
      switch form {
      case .tanh: tanhBiasForwardRow(row, count: y.cols)
      case .exact: exactBiasForwardRow(row, count: y.cols)
      }
    }
  }

  /// `dx = dy * gelu'(x)` for the rows in `rows`, with `gelu'` from `x` (the forward input)
  /// and `terms` (its saved terms, from ``biasForward(_:bias:form:sums:into:terms:rows:)`` with
  /// the same `form`). `dx` may be the same view as `dy`, `x` or `terms`.
  ///
  /// Vectorised like ``backward(_:outputGradient:form:into:rows:)``; the same bits as
  /// ``scalarBackward(_:terms:outputGradient:form:into:rows:)`` and as that recomputing backward.
  public static func backward(
    _ x: Matrix, terms: Matrix, outputGradient dy: Matrix, form: GELUForm, into dx: Matrix, rows: Range<Int>
  ) {
    checkTermsBackward(x, terms: terms, outputGradient: dy, into: dx, rows: rows)
    let unitStride = x.colStride == 1 && terms.colStride == 1 && dy.colStride == 1 && dx.colStride == 1
    guard unitStride else {
      return scalarBackward(x, terms: terms, outputGradient: dy, form: form, into: dx, rows: rows)
    }
    if flatCount(rows, cols: dx.cols, x, terms, terms) != nil,
       let count = flatCount(rows, cols: dx.cols, x, dy, dx) {
      let start = rows.lowerBound
      let run = TermsRun(x: x.rowPointer(start), terms: terms.rowPointer(start), dy: dy.rowPointer(start),
                         dx: dx.rowPointer(start))
      return termsBackwardContiguous(run, count: count, form: form)
    }
    for i in rows {
      let run = TermsRun(
        x: x.rowPointer(i), terms: terms.rowPointer(i), dy: dy.rowPointer(i), dx: dx.rowPointer(i))
      termsBackwardContiguous(run, count: dx.cols, form: form)
    }
  }

  // MARK: Vectorised loops

  /// One row of ``biasForward(_:bias:form:sums:into:terms:rows:)``, unit column stride.
  struct BiasRow {
    let x: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>
    let h: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>
    let terms: UnsafeMutablePointer<Float>?
  }

  /// One contiguous run of ``backward(_:terms:outputGradient:form:into:rows:)``.
  struct TermsRun {
    let x: UnsafeMutablePointer<Float>, terms: UnsafeMutablePointer<Float>
    let dy: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>
  }

  static func tanhBiasForwardRow(_ row: BiasRow, count: Int) {
    var j = biasForwardLanes(ElementaryKernels.WideLanes.self, row, from: 0, count: count) { h in
      let t = tanhTerm(h)
      return (t, tanhForm(h, term: t))
    }
    j = biasForwardLanes(ElementaryKernels.HalfLanes.self, row, from: j, count: count) { h in
      let t = tanhTerm(h)
      return (t, tanhForm(h, term: t))
    }
    while j < count {
      let h = row.x[j] + row.bias[j]
      let t = tanhTerm(h)
      row.h[j] = h
      row.terms?[j] = t
      row.y[j] = tanhForm(h, term: t)
      j &+= 1
    }
  }

  static func exactBiasForwardRow(_ row: BiasRow, count: Int) {
    var j = biasForwardLanes(ElementaryKernels.ErfLanes.self, row, from: 0, count: count) { h in
      let e = exactTerm(h)
      return (e, exactForm(h, term: e))
    }
    while j < count {
      let h = row.x[j] + row.bias[j]
      let e = exactTerm(h)
      row.h[j] = h
      row.terms?[j] = e
      row.y[j] = exactForm(h, term: e)
      j &+= 1
    }
  }

  /// Whole vectors of `Lanes` of a bias-GELU row from `start` on (`gelu` gives the term and
  /// the value of a vector of sums); returns the index after the last one. Each vector of `x`
  /// is read before that vector of `h` is written (`h` may be `x`).
  @inline(__always)
  static func biasForwardLanes<Lanes: ElementaryLanes>(
    _: Lanes.Type, _ row: BiasRow, from start: Int, count: Int, gelu: (Lanes) -> (term: Lanes, value: Lanes)
  ) -> Int {
    var j = start
    if let terms = row.terms {
      while j &+ Lanes.scalarCount <= count {
        let h: Lanes = ElementaryKernels.loadLanes(row.x + j) + ElementaryKernels.loadLanes(row.bias + j)
        let (t, y) = gelu(h)
        ElementaryKernels.storeLanes(h, row.h + j)
        ElementaryKernels.storeLanes(t, terms + j)
        ElementaryKernels.storeLanes(y, row.y + j)
        j &+= Lanes.scalarCount
      }
    } else {
      while j &+ Lanes.scalarCount <= count {
        let h: Lanes = ElementaryKernels.loadLanes(row.x + j) + ElementaryKernels.loadLanes(row.bias + j)
        ElementaryKernels.storeLanes(h, row.h + j)
        ElementaryKernels.storeLanes(gelu(h).value, row.y + j)
        j &+= Lanes.scalarCount
      }
    }
    return j
  }

  static func termsBackwardContiguous(_ run: TermsRun, count: Int, form: GELUForm) {
    switch form {
    case .tanh:
      var j = termsBackwardLanes(ElementaryKernels.WideLanes.self, run, from: 0, count: count) {
        tanhFormDerivative($0, term: $1)
      }
      j = termsBackwardLanes(ElementaryKernels.HalfLanes.self, run, from: j, count: count) {
        tanhFormDerivative($0, term: $1)
      }
      while j < count {
        run.dx[j] = run.dy[j] * tanhFormDerivative(run.x[j], term: run.terms[j])
        j &+= 1
      }
    case .exact:
      var j = termsBackwardLanes(ElementaryKernels.ErfLanes.self, run, from: 0, count: count) {
        exactFormDerivative($0, term: $1)
      }
      while j < count {
        run.dx[j] = run.dy[j] * exactFormDerivative(run.x[j], term: run.terms[j])
        j &+= 1
      }
    }
  }

  /// `dx = dy * derivative(x, term)` for whole vectors of `Lanes` from `start` on; returns the
  /// index after the last one. Every input vector is read before that vector of `dx` is written.
  @inline(__always)
  static func termsBackwardLanes<Lanes: ElementaryLanes>(
    _: Lanes.Type, _ run: TermsRun, from start: Int, count: Int, derivative: (Lanes, Lanes) -> Lanes
  ) -> Int {
    var j = start
    while j &+ Lanes.scalarCount <= count {
      let v: Lanes = ElementaryKernels.loadLanes(run.x + j)
      let t: Lanes = ElementaryKernels.loadLanes(run.terms + j)
      let g: Lanes = ElementaryKernels.loadLanes(run.dy + j)
      ElementaryKernels.storeLanes(g * derivative(v, t), run.dx + j)
      j &+= Lanes.scalarCount
    }
    return j
  }

  // MARK: Scalar reference

  /// The plain per-element loop of ``biasForward(_:bias:form:sums:into:terms:rows:)``: the
  /// definition of its bits (tests hold the vectorised loops to it); also used for views whose
  /// columns are strided.
  public static func scalarBiasForward(
    _ x: Matrix, bias: UnsafeMutableBufferPointer<Float>, form: GELUForm, sums h: Matrix, into y: Matrix,
    terms: Matrix?, rows: Range<Int>
  ) {
    checkBiasForward(x, bias: bias, sums: h, into: y, terms: terms, rows: rows)
    for i in rows {
      let xRow = x.rowPointer(i), hRow = h.rowPointer(i), yRow = y.rowPointer(i)
      let termsRow = terms?.rowPointer(i), termsStride = terms?.colStride ?? 0
      for j in 0..<y.cols {
        let sum = xRow[j &* x.colStride] + bias[j]
        let term = form == .tanh ? tanhTerm(sum) : exactTerm(sum)
        hRow[j &* h.colStride] = sum
        termsRow?[j &* termsStride] = term
        yRow[j &* y.colStride] = form == .tanh ? tanhForm(sum, term: term) : exactForm(sum, term: term)
      }
    }
  }

  /// The plain per-element loop of ``backward(_:terms:outputGradient:form:into:rows:)`` (the
  /// reference, as ``scalarBiasForward(_:bias:form:sums:into:terms:rows:)``).
  public static func scalarBackward(
    _ x: Matrix, terms: Matrix, outputGradient dy: Matrix, form: GELUForm, into dx: Matrix, rows: Range<Int>
  ) {
    checkTermsBackward(x, terms: terms, outputGradient: dy, into: dx, rows: rows)
    for i in rows {
      let xRow = x.rowPointer(i), termsRow = terms.rowPointer(i)
      let dyRow = dy.rowPointer(i), dxRow = dx.rowPointer(i)
      for j in 0..<dx.cols {
        let v = xRow[j &* x.colStride], term = termsRow[j &* terms.colStride]
        let slope = form == .tanh ? tanhFormDerivative(v, term: term) : exactFormDerivative(v, term: term)
        dxRow[j &* dx.colStride] = dyRow[j &* dy.colStride] * slope
      }
    }
  }

  // MARK: Checks

  @inline(__always)
  static func checkBiasForward(
    _ x: Matrix, bias: UnsafeMutableBufferPointer<Float>, sums h: Matrix, into y: Matrix, terms: Matrix?,
    rows: Range<Int>
  ) {
    KernelCheck.sameShape(x, y, "biasGELU")
    KernelCheck.sameShape(h, y, "biasGELU")
    if let terms { KernelCheck.sameShape(terms, y, "biasGELU") }
    KernelCheck.count(bias.count, y.cols, "bias", "biasGELU")
    KernelCheck.range(rows, within: y.rows, "biasGELU")
  }

  @inline(__always)
  static func checkTermsBackward(
    _ x: Matrix, terms: Matrix, outputGradient dy: Matrix, into dx: Matrix, rows: Range<Int>
  ) {
    KernelCheck.sameShape(x, dx, "geluBackward")
    KernelCheck.sameShape(terms, dx, "geluBackward")
    KernelCheck.sameShape(dy, dx, "geluBackward")
    KernelCheck.range(rows, within: dx.rows, "geluBackward")
  }
}
