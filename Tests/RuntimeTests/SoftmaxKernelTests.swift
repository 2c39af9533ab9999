import Foundation
import MuNetRuntime
import MuNetTestSupport
import PropertyBased
import Testing

/// Double reference: softmax of one row (max-shifted; Foundation `exp` in Double).
func referenceSoftmax(_ row: [Double]) -> [Double] {
  let maximum = row.max()!
  let exps = row.map { Foundation.exp($0 - maximum) }
  let total = exps.reduce(0, +)
  return exps.map { $0 / total }
}

@Suite struct SoftmaxKernelTests {
  /// Forward against the Double reference. Tolerance: relative 1e-5. The Float kernel's error
  /// is dominated by rounding `x − max` (relative ≤ |x − max|·2⁻²⁴ ≈ 1e-6 for |x − max| ≤ 16),
  /// plus an ulp or two from exp, the sum and the division.
  @Test func forwardMatchesDoubleReference() {
    var rng = SplitMix64(seed: 31)
    let x = HostMatrix(random: 17, 23, &rng, in: -8...8, layout: .padded)
    let y = HostMatrix(rows: 17, cols: 23, layout: .padded)
    Compute(tier: .reference).softmaxRows(x.matrix, into: y.matrix)
    for (i, row) in x.doubles.enumerated() {
      let expected = referenceSoftmax(row)
      for j in 0..<23 {
        #expect(withinTolerance(Double(y[i, j]), expected[j], absolute: 0, relative: 1e-5), "(\(i), \(j))")
      }
    }
    #expect(y.storage[23].bitPattern == paddingSentinel.bitPattern)
  }

  /// The documented steps, written out here with `Elementary.exp`, give the same bits.
  @Test func forwardFollowsTheDocumentedOrder() {
    var rng = SplitMix64(seed: 32)
    let x = HostMatrix(random: 4, 50, &rng, in: -20...20, layout: .columnMajor)
    let y = HostMatrix(rows: 4, cols: 50)
    Compute(tier: .reference).softmaxRows(x.matrix, into: y.matrix)
    for i in 0..<4 {
      var maximum = x[i, 0]
      for j in 1..<50 where x[i, j] > maximum { maximum = x[i, j] }
      let exps = (0..<50).map { Elementary.exp(x[i, $0] - maximum) }
      var total = 0.0
      for e in exps { total += Double(e) }
      for j in 0..<50 { #expect(y[i, j].bitPattern == (exps[j] / Float(total)).bitPattern) }
    }
  }

  /// Large magnitudes: subtracting the row maximum means nothing overflows.
  @Test func largeMagnitudesDoNotOverflow() {
    let rows: [[Float]] = [
      [1e30, -1e30, 0, 3e38],
      [-3e38, 3e38, 3e38, 1],
      [88, 89, 90, 100],
      [-1000, -1000.5, -999, -1001],
      [1e38, 1e38, 1e38, 1e38],
      [-.infinity, 0, 1, -.infinity],
    ]
    let x = HostMatrix(rows)
    let y = HostMatrix(rows: rows.count, cols: 4)
    Compute(tier: .reference).softmaxRows(x.matrix, into: y.matrix)
    for (i, row) in x.doubles.enumerated() {
      let expected = referenceSoftmax(row)
      var total = 0.0
      for j in 0..<4 {
        #expect(y[i, j].isFinite && y[i, j] >= 0 && y[i, j] <= 1, "(\(i), \(j)) = \(y[i, j])")
        #expect(withinTolerance(Double(y[i, j]), expected[j], absolute: 1e-30, relative: 1e-5),
                "(\(i), \(j))")
        total += Double(y[i, j])
      }
      #expect(withinTolerance(total, 1, absolute: 1e-6, relative: 0))
    }
    #expect(y[1, 1] == 0.5 && y[1, 2] == 0.5)
    #expect(y[4, 0] == 0.25)
  }

  @Test func singleColumnAndEmptyShapes() {
    let compute = Compute(tier: .threads, threadCount: 4)
    let column = HostMatrix([[5], [-1e30], [0]])
    compute.softmaxRows(column.matrix, into: column.matrix)
    #expect(column.doubles == [[1], [1], [1]])
    let dy = HostMatrix([[2], [3], [-1]])
    let dx = HostMatrix(rows: 3, cols: 1)
    compute.softmaxRowsBackward(outputs: column.matrix, outputGradient: dy.matrix, into: dx.matrix)
    #expect(dx.doubles == [[0], [0], [0]])
    let empty = HostMatrix(rows: 0, cols: 3)
    compute.softmaxRows(empty.matrix, into: empty.matrix)
    compute.softmaxRowsBackward(outputs: empty.matrix, outputGradient: empty.matrix, into: empty.matrix)
    let noColumns = HostMatrix(rows: 2, cols: 0)
    compute.softmaxRows(noColumns.matrix, into: noColumns.matrix)
  }

  /// Backward against central differences of `L(x) = Σ dy ⊙ softmax(x)` in Double.
  /// Tolerance: absolute 1e-6 + relative 1e-4 (dx is O(0.1); the Float kernel is good to a few
  /// ulp of its terms, the differences to ~1e-10).
  @Test(arguments: [(1, 1), (1, 5), (3, 6), (4, 2)])
  func backwardMatchesCentralDifferences(rows: Int, cols: Int) {
    var rng = SplitMix64(seed: UInt64(33 + rows * 10 + cols))
    let x = HostMatrix(random: rows, cols, &rng, in: -3...3)
    let dy = HostMatrix(random: rows, cols, &rng)
    let y = HostMatrix(rows: rows, cols: cols)
    let dx = HostMatrix(rows: rows, cols: cols)
    let compute = Compute(tier: .reference)
    compute.softmaxRows(x.matrix, into: y.matrix)
    compute.softmaxRowsBackward(outputs: y.matrix, outputGradient: dy.matrix, into: dx.matrix)
    let upstream = flattenRows(dy.doubles)
    let numeric = centralDifferences(at: flattenRows(x.doubles)) { point in
      let out = flattenRows(splitRows(point, cols: cols).map(referenceSoftmax))
      return zip(out, upstream).reduce(0) { $0 + $1.0 * $1.1 }
    }
    for (k, expected) in numeric.enumerated() {
      let actual = Double(dx[k / cols, k % cols])
      #expect(withinTolerance(actual, expected, absolute: 1e-6, relative: 1e-4), "element \(k)")
    }
  }

  /// The documented backward order (Double dot, then `y * (dy - d)`) gives the same bits, and
  /// `dx` may overwrite `dy`.
  @Test func backwardFollowsTheDocumentedOrderInPlace() {
    var rng = SplitMix64(seed: 34)
    let x = HostMatrix(random: 5, 31, &rng, in: -4...4)
    let y = HostMatrix(rows: 5, cols: 31)
    let compute = Compute(tier: .reference)
    compute.softmaxRows(x.matrix, into: y.matrix)
    let dy = HostMatrix(random: 5, 31, &rng)
    let original = dy.clone()
    compute.softmaxRowsBackward(outputs: y.matrix, outputGradient: dy.matrix, into: dy.matrix)
    for i in 0..<5 {
      var dot = 0.0
      for j in 0..<31 { dot += Double(original[i, j]) * Double(y[i, j]) }
      for j in 0..<31 {
        #expect(dy[i, j].bitPattern == (y[i, j] * (original[i, j] - Float(dot))).bitPattern)
      }
    }
  }

  /// Tier 1 equals Tier 0 bitwise for thread counts {1, 2, 3, 4, 7} on random shapes.
  @Test func tier1MatchesTier0() async {
    let tiers = TierSet()
    await propertyCheck(
      count: 20, input: Gen.int(in: 0...250), Gen.int(in: 1...70), Gen<UInt64>.value()
    ) { rows, cols, seed in
      var rng = SplitMix64(seed: seed)
      let layout = KernelLayout.allCases[rng.below(3)]
      let x = HostMatrix(random: rows, cols, &rng, in: -30...30, layout: layout)
      let dy = HostMatrix(random: rows, cols, &rng, layout: layout)
      expectTiersBitwiseEqual(tiers, "softmax \(rows)x\(cols) \(layout)") { compute in
        let y = HostMatrix(rows: rows, cols: cols, layout: layout)
        compute.softmaxRows(x.matrix, into: y.matrix)
        let dx = HostMatrix(rows: rows, cols: cols, layout: layout)
        compute.softmaxRowsBackward(outputs: y.matrix, outputGradient: dy.matrix, into: dx.matrix)
        let inPlace = x.clone()
        compute.softmaxRows(inPlace.matrix, into: inPlace.matrix)
        return y.bits + dx.bits + inPlace.bits
      }
    }
  }
}
