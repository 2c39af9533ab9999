import Foundation
import MuNetRuntime
import MuNetTestSupport
import PropertyBased
import Testing

/// Double references of both GELU forms (Foundation `tanh`/`erf` in Double).
func referenceGELU(_ x: Double, form: GELUForm) -> Double {
  switch form {
  case .tanh:
    let c = (2 / Double.pi).squareRoot()
    return 0.5 * x * (1 + Foundation.tanh(c * (x + 0.044715 * x * x * x)))
  case .exact:
    return 0.5 * x * (1 + Foundation.erf(x / 2.0.squareRoot()))
  }
}

@Suite struct GELUKernelTests {
  /// Points from −10 to 10 (step 1/16, so 0 and the integers are included) and some large ones.
  static let points: [Float] = (-160...160).map { Float($0) / 16 } + [-1e20, -1e6, -30, 30, 1e6, 1e20]

  static func run(_ values: [Float], form: GELUForm) -> (y: HostMatrix, dx: HostMatrix) {
    let x = HostMatrix(values.map { [$0] })
    let ones = HostMatrix(values.map { _ in [Float(1)] })
    let y = HostMatrix(rows: values.count, cols: 1)
    let dx = HostMatrix(rows: values.count, cols: 1)
    let compute = Compute(tier: .reference)
    compute.gelu(x.matrix, form: form, into: y.matrix)
    compute.geluBackward(x.matrix, outputGradient: ones.matrix, form: form, into: dx.matrix)
    return (y, dx)
  }

  /// Forward against the Double reference. Tolerance: 1e-6·(1 + |x|) absolute + 1e-6 relative.
  /// Where tanh or erf saturates near −1 in Float, `1 + t` keeps nothing below ulp(1)/2 ≈ 6e-8,
  /// so the absolute error can reach about 0.5·|x|·6e-8; elsewhere it is a few ulp of y.
  @Test(arguments: GELUForm.allCases)
  func forwardMatchesDoubleReference(form: GELUForm) {
    let out = Self.run(Self.points, form: form)
    for (k, x) in Self.points.enumerated() {
      let expected = referenceGELU(Double(x), form: form)
      let bound = 1e-6 * (1 + abs(Double(x)))
      #expect(withinTolerance(Double(out.y[k, 0]), expected, absolute: bound, relative: 1e-6),
              "gelu(\(x)) = \(out.y[k, 0]), expected \(expected)")
    }
    #expect(out.y[Self.points.firstIndex(of: 0)!, 0] == 0)
    #expect(out.y[Self.points.firstIndex(of: 1e20)!, 0] == 1e20)
  }

  /// Backward (dy = 1, so dx = gelu'(x)) against central differences of the Double reference.
  /// Tolerance: absolute 5e-6 + relative 1e-5. The Float derivative loses accuracy in
  /// `1 − t²` where tanh is close to ±1 (absolute ~1.2e-7, times a factor up to ~9 near |x| = 5).
  @Test(arguments: GELUForm.allCases)
  func backwardMatchesCentralDifferences(form: GELUForm) {
    let finitePoints = Self.points.filter { abs($0) <= 30 }
    let out = Self.run(finitePoints, form: form)
    for (k, x) in finitePoints.enumerated() {
      let expected = centralDifferences(at: [Double(x)]) { referenceGELU($0[0], form: form) }[0]
      #expect(withinTolerance(Double(out.dx[k, 0]), expected, absolute: 5e-6, relative: 1e-5),
              "gelu'(\(x)) = \(out.dx[k, 0]), expected \(expected)")
    }
  }

  /// Far outside the finite-difference range the derivative is still finite: 1 or 0.
  @Test(arguments: GELUForm.allCases)
  func derivativeSaturatesWithoutNaN(form: GELUForm) {
    let out = Self.run([-1e20, -1e6, 1e6, 1e20], form: form)
    #expect(out.dx.doubles.map { abs($0[0]) } == [0, 0, 1, 1])
    let nan = Self.run([.nan], form: form)
    #expect(nan.y[0, 0].isNaN && nan.dx[0, 0].isNaN)
  }

  /// The documented expressions, written out here with `Elementary`, give the same bits.
  @Test func followsTheDocumentedExpressions() {
    var rng = SplitMix64(seed: 51)
    let x = HostMatrix(random: 7, 13, &rng, in: -6...6, layout: .padded)
    let dy = HostMatrix(random: 7, 13, &rng, layout: .padded)
    let compute = Compute(tier: .reference)
    let c: Float = 0.7978845608028654, k: Float = 0.044715, threeK: Float = 0.134145
    let s: Float = 0.7071067811865476, p: Float = 0.3989422804014327
    for form in GELUForm.allCases {
      let y = HostMatrix(rows: 7, cols: 13)
      let dx = HostMatrix(rows: 7, cols: 13)
      compute.gelu(x.matrix, form: form, into: y.matrix)
      compute.geluBackward(x.matrix, outputGradient: dy.matrix, form: form, into: dx.matrix)
      for i in 0..<7 {
        for j in 0..<13 {
          let v = x[i, j]
          let value: Float, slope: Float
          switch form {
          case .tanh:
            let t = Elementary.tanh(c * (v + k * ((v * v) * v)))
            value = (0.5 * v) * (1 + t)
            let sech2 = 1 - t * t
            let second = sech2 == 0 ? 0 : (0.5 * v) * (sech2 * (c * (1 + threeK * (v * v))))
            slope = sech2 == 0 ? 0.5 * (1 + t) : 0.5 * (1 + t) + second
          case .exact:
            let e = Elementary.erf(v * s)
            value = (0.5 * v) * (1 + e)
            slope = 0.5 * (1 + e) + v * (p * Elementary.exp(-0.5 * (v * v)))
          }
          #expect(y[i, j].bitPattern == value.bitPattern, "\(form) y(\(v))")
          #expect(dx[i, j].bitPattern == (dy[i, j] * slope).bitPattern, "\(form) dx(\(v))")
        }
      }
    }
  }

  /// Tier 1 equals Tier 0 bitwise for thread counts {1, 2, 3, 4, 7} on random shapes, both
  /// forms, including in place.
  @Test func tier1MatchesTier0() async {
    let tiers = TierSet()
    await propertyCheck(
      count: 20, input: Gen.int(in: 0...250), Gen.int(in: 1...80), Gen<UInt64>.value()
    ) { rows, cols, seed in
      var rng = SplitMix64(seed: seed)
      let layout = KernelLayout.allCases[rng.below(3)]
      let form = GELUForm.allCases[rng.below(2)]
      let x = HostMatrix(random: rows, cols, &rng, in: -8...8, layout: layout)
      let dy = HostMatrix(random: rows, cols, &rng, layout: layout)
      expectTiersBitwiseEqual(tiers, "gelu \(form) \(rows)x\(cols) \(layout)") { compute in
        let y = HostMatrix(rows: rows, cols: cols, layout: layout)
        compute.gelu(x.matrix, form: form, into: y.matrix)
        let dx = dy.clone()
        compute.geluBackward(x.matrix, outputGradient: dx.matrix, form: form, into: dx.matrix)
        return y.bits + dx.bits
      }
    }
  }
}
