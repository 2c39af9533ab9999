import MuNetRuntime
import MuNetTestSupport
import Testing

@Suite struct GEMMBoundTests {
  @Test func factorIsTheSimpleRuleForSmallDepthsAndGammaBeyond() {
    #expect(GEMMBound.relativeFactor(depth: 64) == 66 * 0x1p-23)
    #expect(GEMMBound.relativeFactor(depth: 0) == 2 * 0x1p-23)
    // Past about 5000 terms γ_k + γ_{k+1} overtakes (k + 2)·ε.
    let deep = 100_000
    #expect(GEMMBound.relativeFactor(depth: deep) == GEMMBound.gamma(deep) + GEMMBound.gamma(deep + 1))
    #expect(GEMMBound.relativeFactor(depth: deep) > Double(deep + 2) * GEMMBound.epsilon)
    #expect(GEMMBound.gamma(1 << 24) == .infinity)
  }

  /// A correctly rounded product (summed in Double, rounded once) is within the bound of
  /// Tier 0: the bound holds for a summation order other than Tier 0's.
  @Test func holdsForADoublePrecisionProduct() {
    var rng = SplitMix64(seed: 0xD0B1)
    for _ in 0..<40 {
      let (m, k, n) = (rng.int(in: 1...20), rng.int(in: 1...300), rng.int(in: 1...20))
      let product = RandomProduct(m: m, k: k, n: n, seed: rng.next(), subRanges: false)
      let (a, b) = (product.a.view, product.b.view)
      let reference = TestMatrix(copying: product.c)
      GEMMReference.multiply(a, b, reference.view, accumulate: product.accumulate, rows: 0..<m, cols: 0..<n)
      let candidate = TestMatrix(copying: product.c)
      for i in 0..<m {
        for j in 0..<n {
          var sum = product.accumulate ? Double(product.c.view[i, j]) : 0
          for p in 0..<k { sum += Double(a[i, p]) * Double(b[p, j]) }
          candidate.view[i, j] = Float(sum)
        }
      }
      let report = GEMMBound.check(
        a, b, cOld: product.accumulate ? product.c.view : nil, candidate: candidate.view,
        reference: reference.view)
      #expect(report.passed, "\(product): ratio \(report.maxBoundRatio)")
      #expect(report.comparedCount == m * n)
    }
  }

  /// The bound is not vacuous: a product that drops its last term, or one output moved to twice
  /// its bound, fails.
  @Test func rejectsWrongResults() {
    var rng = SplitMix64(seed: 0xBAD)
    let product = RandomProduct(m: 20, k: 50, n: 20, seed: rng.next(), subRanges: false)
    let (a, b) = (product.a.view, product.b.view)
    let reference = TestMatrix(copying: product.c)
    GEMMReference.multiply(a, b, reference.view, accumulate: false, rows: 0..<20, cols: 0..<20)
    let exact = GEMMBound.check(a, b, cOld: nil, candidate: reference.view, reference: reference.view)
    #expect(exact.passed && exact.maxBoundRatio == 0 && exact.maxAbsoluteError == 0)

    let dropped = TestMatrix(copying: product.c)
    GEMMReference.multiply(
      a.block(rows: 0..<20, cols: 0..<49), b.block(rows: 0..<49, cols: 0..<20), dropped.view,
      accumulate: false, rows: 0..<20, cols: 0..<20)
    let droppedReport = GEMMBound.check(a, b, cOld: nil, candidate: dropped.view, reference: reference.view)
    #expect(!droppedReport.passed)
    #expect(droppedReport.maxBoundRatio > 10)

    let moved = TestMatrix(copying: reference)
    let bound = GEMMBound.bound(a, b, cOld: nil, row: 3, col: 4)
    moved.view[3, 4] = Float(Double(reference.view[3, 4]) + 2 * bound)
    let movedReport = GEMMBound.check(a, b, cOld: nil, candidate: moved.view, reference: reference.view)
    #expect(!movedReport.passed && movedReport.failureCount == 1)
    #expect(movedReport.worstRow == 3 && movedReport.worstCol == 4)
    #expect(movedReport.maxBoundRatio > 1.9 && movedReport.maxBoundRatio < 2.1)
  }

  @Test func nonFiniteOutputsMustMatchInClass() {
    let storage = UnsafeMutablePointer<Float>.allocate(capacity: 4)
    defer { storage.deallocate() }
    storage.initialize(repeating: 1, count: 4)
    let a = Matrix(base: storage, rows: 1, cols: 1)
    let reference = Matrix(base: storage + 1, rows: 1, cols: 1)
    let candidate = Matrix(base: storage + 2, rows: 1, cols: 1)
    let cases: [(Float, Float, Bool)] = [
      (.nan, .nan, true), (.infinity, .infinity, true), (.nan, 1, false),
      (.infinity, -.infinity, false), (1, .nan, false),
    ]
    for (expected, actual, passes) in cases {
      reference[0, 0] = expected
      candidate[0, 0] = actual
      let report = GEMMBound.check(a, a, cOld: nil, candidate: candidate, reference: reference)
      #expect(report.passed == passes, "\(expected) vs \(actual)")
    }
  }
}
