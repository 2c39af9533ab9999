import MuNetRuntime
import MuNetTestSupport
import Testing

/// The training forms of GELU (`addBiasGELU` saving the terms, `geluBackward(terms:)`) give the
/// bits of the plain path they replace: `addBias` then `gelu`, and the backward that recomputes
/// the terms; in Tier 0 and Tier 1 (1, 2, 3, 4, 7 threads), for both forms, on row lengths that
/// leave every remainder after the 16- and 8-lane vectors, dense, padded and column-major.
@Suite struct GELUTermsKernelTests {
  static let columnCounts = [1, 7, 8, 15, 16, 17, 24, 33, 97, 256]

  /// Values where tanh and erf saturate in `Float` (|x| ≥ 9 and far beyond, up to where
  /// `x * x` overflows), both zeros, subnormals, infinities and NaN.
  static let edgeValues: [Float] = [
    0, -0.0, 0x1p-140, -0x1p-140, 1e-20, 4, -4, 8.5, -8.5, 9, -9, 9.0109, -9.0109, 10, -10, 15, -15,
    30, -30, 1e3, -1e3, 1e6, -1e6, 1e19, -1e19, 2e19, -2e19, 1e20, -1e20, 3e38, -3e38,
    .infinity, -.infinity, .nan,
  ]

  /// The plain path: `h = x + bias`, `y = gelu(h)`, `dx = dy * gelu'(h)` recomputed (in Tier 0).
  static func plainPath(
    _ x: HostMatrix, bias: HostBuffer, dy: HostMatrix, form: GELUForm
  ) -> (h: [UInt32], y: [UInt32], dx: [UInt32]) {
    let compute = Compute(tier: .reference)
    let h = HostMatrix(rows: x.rows, cols: x.cols)
    let y = HostMatrix(rows: x.rows, cols: x.cols)
    let dx = HostMatrix(rows: x.rows, cols: x.cols)
    compute.addBias(x.matrix, bias.buffer, into: h.matrix)
    compute.gelu(h.matrix, form: form, into: y.matrix)
    compute.geluBackward(h.matrix, outputGradient: dy.matrix, form: form, into: dx.matrix)
    return (VectorisedKernelTests.bits(h), VectorisedKernelTests.bits(y), VectorisedKernelTests.bits(dx))
  }

  /// The saved-terms path on `compute`, `h` computed in place in a copy of `x` laid out as
  /// `layout`; also the terms, to compare with the scalar term functions.
  static func termsPath(
    _ x: HostMatrix, bias: HostBuffer, dy: HostMatrix, form: GELUForm, layout: KernelLayout, compute: Compute
  ) -> (h: [UInt32], y: [UInt32], dx: [UInt32], terms: [UInt32]) {
    let h = HostMatrix(rows: x.rows, cols: x.cols, layout: layout)
    let y = HostMatrix(rows: x.rows, cols: x.cols, layout: layout)
    let terms = HostMatrix(rows: x.rows, cols: x.cols, layout: layout)
    let dx = HostMatrix(rows: x.rows, cols: x.cols, layout: layout)
    for i in 0..<x.rows { for j in 0..<x.cols { h[i, j] = x[i, j]; dx[i, j] = dy[i, j] } }
    compute.addBiasGELU(
      h.matrix, bias.buffer, form: form, sums: h.matrix, into: y.matrix, terms: terms.matrix)
    compute.geluBackward(
      h.matrix, terms: terms.matrix, outputGradient: dx.matrix, form: form, into: dx.matrix)
    return (VectorisedKernelTests.bits(h), VectorisedKernelTests.bits(y), VectorisedKernelTests.bits(dx),
            VectorisedKernelTests.bits(terms))
  }

  static func expectSame(
    _ a: [UInt32], _ b: [UInt32], _ what: String, sourceLocation: SourceLocation = #_sourceLocation
  ) {
    let mismatch = VectorisedKernelTests.firstDifference(a, b)
    #expect(mismatch == nil, "\(what) differs at \(mismatch ?? -1)", sourceLocation: sourceLocation)
  }

  /// Random rows (with specials mixed in) on every executor and layout: sums, outputs and
  /// input gradients have the plain path's bits; the saved terms are the scalar term functions
  /// of the sums.
  @Test(arguments: columnCounts)
  func savedTermsPathEqualsPlainPath(cols: Int) {
    let rows = VectorisedKernelTests.rowCount(cols: cols)
    let tiers = TierSet()
    for form in GELUForm.allCases {
      let x = HostMatrix(VectorisedKernelTests.values(rows: rows, cols: cols, seed: UInt64(cols)))
      let dy = HostMatrix(VectorisedKernelTests.values(rows: rows, cols: cols, seed: UInt64(cols + 1000)))
      var rng = SplitMix64(seed: UInt64(cols + 77))
      let bias = HostBuffer((0..<cols).map { _ in rng.float(in: -2...2) })
      let plain = Self.plainPath(x, bias: bias, dy: dy, form: form)
      for compute in [tiers.reference] + tiers.threaded {
        for layout in KernelLayout.allCases {
          let what = "\(form) \(cols) cols \(layout) \(compute.tier) \(compute.threadCount) thread(s)"
          let saved = Self.termsPath(x, bias: bias, dy: dy, form: form, layout: layout, compute: compute)
          Self.expectSame(saved.h, plain.h, "sums, " + what)
          Self.expectSame(saved.y, plain.y, "gelu, " + what)
          Self.expectSame(saved.dx, plain.dx, "gelu', " + what)
          let expectedTerms = saved.h.map { bits in
            let sum = Float(bitPattern: bits)
            return (form == .tanh ? GELUKernel.tanhTerm(sum) : GELUKernel.exactTerm(sum)).bitPattern
          }
          Self.expectSame(saved.terms, expectedTerms, "terms, " + what)
        }
      }
    }
  }

  /// Saturated and special inputs (bias −0, which keeps every input's bits, ±0 included) in
  /// every position of the vectors and of the scalar tail: the saved-term derivative takes the
  /// `sech2 == 0` branch exactly where the recomputing one does, and gives its bits.
  @Test(arguments: [15, 16, 17, 31])
  func saturatedInputsKeepTheirBits(cols: Int) {
    let count = Self.edgeValues.count
    let values = (0..<count).map { shift in (0..<cols).map { Self.edgeValues[($0 + shift) % count] } }
    let x = HostMatrix(values)
    var rng = SplitMix64(seed: 3)
    let dy = HostMatrix(random: count, cols, &rng, in: -3...3)
    let bias = HostBuffer([Float](repeating: -0.0, count: cols))
    for form in GELUForm.allCases {
      let plain = Self.plainPath(x, bias: bias, dy: dy, form: form)
      #expect(plain.h == VectorisedKernelTests.bits(x), "a −0 bias keeps the inputs")
      let saved = Self.termsPath(
        x, bias: bias, dy: dy, form: form, layout: .dense, compute: Compute(tier: .reference))
      Self.expectSame(saved.y, plain.y, "\(form) gelu \(cols)")
      Self.expectSame(saved.dx, plain.dx, "\(form) gelu' \(cols)")
      // The scalar functions element by element: the branch and the lane select agree.
      for i in 0..<count {
        for j in 0..<cols {
          let v = x[i, j], t = form == .tanh ? GELUKernel.tanhTerm(v) : GELUKernel.exactTerm(v)
          let recomputed = form == .tanh
            ? GELUKernel.tanhFormDerivative(v) : GELUKernel.exactFormDerivative(v)
          let fromTerm = form == .tanh
            ? GELUKernel.tanhFormDerivative(v, term: t) : GELUKernel.exactFormDerivative(v, term: t)
          #expect(recomputed.bitPattern == fromTerm.bitPattern || (recomputed.isNaN && fromTerm.isNaN),
                  "\(form) derivative at \(v)")
        }
      }
    }
    // Saturation is reached: the tanh derivative is exactly 0 and 1 at ∓1e20 and ±0 gives 0.5.
    #expect(GELUKernel.tanhFormDerivative(-1e20, term: GELUKernel.tanhTerm(-1e20)) == 0)
    #expect(GELUKernel.tanhFormDerivative(1e20, term: GELUKernel.tanhTerm(1e20)) == 1)
    #expect(GELUKernel.tanhFormDerivative(-0.0, term: GELUKernel.tanhTerm(-0.0)) == 0.5)
  }

  /// Without `terms` the fused forward gives the same sums and outputs and writes nothing else;
  /// the kernels equal their scalar references on strided views too.
  @Test func fusedForwardWithoutTermsAndScalarReferences() {
    let rows = 9, cols = 37
    let x = HostMatrix(VectorisedKernelTests.values(rows: rows, cols: cols, seed: 12))
    let dy = HostMatrix(VectorisedKernelTests.values(rows: rows, cols: cols, seed: 13))
    var rng = SplitMix64(seed: 14)
    let bias = HostBuffer((0..<cols).map { _ in rng.float(in: -1...1) })
    for form in GELUForm.allCases {
      let plain = Self.plainPath(x, bias: bias, dy: dy, form: form)
      let h = HostMatrix(rows: rows, cols: cols, layout: .padded)
      let y = HostMatrix(rows: rows, cols: cols, layout: .padded)
      Compute(tier: .reference).addBiasGELU(x.matrix, bias.buffer, form: form, sums: h.matrix, into: y.matrix)
      Self.expectSame(VectorisedKernelTests.bits(h), plain.h, "\(form) sums without terms")
      Self.expectSame(VectorisedKernelTests.bits(y), plain.y, "\(form) gelu without terms")
      #expect(h.storage.bits.filter { $0 == paddingSentinel.bitPattern }.count == rows * 3, "padding kept")

      let sh = HostMatrix(rows: rows, cols: cols, layout: .columnMajor)
      let sy = HostMatrix(rows: rows, cols: cols, layout: .columnMajor)
      let st = HostMatrix(rows: rows, cols: cols, layout: .columnMajor)
      GELUKernel.scalarBiasForward(
        x.matrix, bias: bias.buffer, form: form, sums: sh.matrix, into: sy.matrix, terms: st.matrix,
        rows: 0..<rows)
      Self.expectSame(VectorisedKernelTests.bits(sy), plain.y, "\(form) scalar reference forward")
      let sdx = HostMatrix(rows: rows, cols: cols, layout: .columnMajor)
      GELUKernel.scalarBackward(
        sh.matrix, terms: st.matrix, outputGradient: dy.matrix, form: form, into: sdx.matrix, rows: 0..<rows)
      Self.expectSame(VectorisedKernelTests.bits(sdx), plain.dx, "\(form) scalar reference backward")
    }
  }
}
