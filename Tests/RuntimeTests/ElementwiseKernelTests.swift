import MuNetRuntime
import MuNetTestSupport
import PropertyBased
import Testing

@Suite struct ElementwiseKernelTests {
  /// Each output is the documented single `Float` expression: checked bitwise against the
  /// expression evaluated here, on every layout (strided views and padding included).
  @Test(arguments: KernelLayout.allCases)
  func valuesAreTheDocumentedFloatExpressions(layout: KernelLayout) {
    var rng = SplitMix64(seed: 11)
    let compute = Compute(tier: .reference)
    let rows = 5, cols = 7
    let x = HostMatrix(random: rows, cols, &rng, in: -3...3, layout: layout)
    let y = HostMatrix(random: rows, cols, &rng, in: -3...3, layout: layout)
    let bias = HostBuffer(random: cols, &rng)
    let alpha: Float = 0.3721

    let sum = HostMatrix(rows: rows, cols: cols, layout: layout)
    compute.add(x.matrix, y.matrix, into: sum.matrix)
    let product = HostMatrix(rows: rows, cols: cols, layout: layout)
    compute.multiplyElementwise(x.matrix, y.matrix, into: product.matrix)
    let scaled = HostMatrix(rows: rows, cols: cols, layout: layout)
    compute.scale(x.matrix, by: alpha, into: scaled.matrix)
    let accumulated = y.clone()
    compute.accumulateScaled(x.matrix, by: alpha, into: accumulated.matrix)
    let biased = HostMatrix(rows: rows, cols: cols, layout: layout)
    compute.addBias(x.matrix, bias.buffer, into: biased.matrix)
    let residual = y.clone()
    compute.addInPlace(x.matrix, to: residual.matrix)
    let copied = HostMatrix(rows: rows, cols: cols, layout: layout)
    compute.copy(x.matrix, into: copied.matrix)

    var fusedDiffers = false
    for i in 0..<rows {
      for j in 0..<cols {
        let a = x[i, j], b = y[i, j]
        #expect(sum[i, j].bitPattern == (a + b).bitPattern)
        #expect(product[i, j].bitPattern == (a * b).bitPattern)
        #expect(scaled[i, j].bitPattern == (alpha * a).bitPattern)
        let unfused = b + alpha * a
        #expect(accumulated[i, j].bitPattern == unfused.bitPattern, "accumulateScaled must not fuse")
        if b.addingProduct(alpha, a) != unfused { fusedDiffers = true }
        #expect(biased[i, j].bitPattern == (a + bias[j]).bitPattern)
        #expect(residual[i, j].bitPattern == (b + a).bitPattern)
        #expect(copied[i, j].bitPattern == a.bitPattern)
      }
    }
    // The data must be able to tell a fused multiply-add from the unfused one.
    #expect(fusedDiffers)
    if layout == .padded {
      for matrix in [sum, product, scaled, accumulated, biased, residual, copied] {
        for i in 0..<rows { for pad in cols..<(cols + 3) {
          #expect(matrix.storage[i * (cols + 3) + pad].bitPattern == paddingSentinel.bitPattern)
        } }
      }
    }
  }

  @Test func inPlaceAliasingAndFill() {
    var rng = SplitMix64(seed: 12)
    let compute = Compute(tier: .reference)
    let x = HostMatrix(random: 3, 4, &rng)
    let original = x.clone()
    compute.add(x.matrix, x.matrix, into: x.matrix)
    for i in 0..<3 { for j in 0..<4 { #expect(x[i, j] == original[i, j] + original[i, j]) } }
    compute.fill(x.matrix, with: -2.5)
    for i in 0..<3 { for j in 0..<4 { #expect(x[i, j] == -2.5) } }
    let flat = HostBuffer([1, -2, 3.5])
    compute.scale(flat.buffer, by: 0.5)
    #expect(flat.values == [0.5, -1, 1.75])
  }

  @Test func emptyAndSingleColumnShapes() {
    let compute = Compute(tier: .threads, threadCount: 3)
    let empty = HostMatrix(rows: 0, cols: 5)
    compute.add(empty.matrix, empty.matrix, into: empty.matrix)
    compute.fill(empty.matrix, with: 1)
    let column = HostMatrix([[1], [2], [3]])
    let bias = HostBuffer([10])
    compute.addBias(column.matrix, bias.buffer, into: column.matrix)
    #expect(column.doubles == [[11], [12], [13]])
  }

  /// Tier 1 equals Tier 0 bitwise for thread counts {1, 2, 3, 4, 7} on random shapes and layouts.
  @Test func tier1MatchesTier0() async {
    let tiers = TierSet()
    await propertyCheck(
      count: 25, input: Gen.int(in: 0...300), Gen.int(in: 1...80), Gen<UInt64>.value()
    ) { rows, cols, seed in
      var rng = SplitMix64(seed: seed)
      let layout = KernelLayout.allCases[rng.below(3)]
      let x = HostMatrix(random: rows, cols, &rng, layout: layout)
      let y = HostMatrix(random: rows, cols, &rng, layout: layout)
      let bias = HostBuffer(random: cols, &rng)
      let flat = HostBuffer(random: rows * cols + rng.below(9000), &rng)
      let alpha = rng.float(in: -2...2)
      expectTiersBitwiseEqual(tiers, "elementwise \(rows)x\(cols) \(layout)") { compute in
        let sum = HostMatrix(rows: rows, cols: cols, layout: layout)
        compute.add(x.matrix, y.matrix, into: sum.matrix)
        let product = HostMatrix(rows: rows, cols: cols, layout: layout)
        compute.multiplyElementwise(x.matrix, y.matrix, into: product.matrix)
        let scaled = HostMatrix(rows: rows, cols: cols, layout: layout)
        compute.scale(x.matrix, by: alpha, into: scaled.matrix)
        let accumulated = y.clone()
        compute.accumulateScaled(x.matrix, by: alpha, into: accumulated.matrix)
        compute.addInPlace(x.matrix, to: accumulated.matrix)
        let biased = HostMatrix(rows: rows, cols: cols, layout: layout)
        compute.addBias(x.matrix, bias.buffer, into: biased.matrix)
        let copied = HostMatrix(rows: rows, cols: cols, layout: layout)
        compute.copy(x.matrix, into: copied.matrix)
        let flatScaled = flat.clone()
        compute.scale(flatScaled.buffer, by: alpha)
        return [sum, product, scaled, accumulated, biased, copied].flatMap(\.bits) + flatScaled.bits
      }
    }
  }
}
