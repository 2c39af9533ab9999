import Foundation
import MuNetRuntime
import MuNetTestSupport
import PropertyBased
import Testing

@Suite struct ReductionKernelTests {
  /// Column sums follow the documented order exactly: one Float accumulator per column from +0
  /// (or from the old value), rows ascending. Checked bitwise against that loop written here.
  @Test(arguments: KernelLayout.allCases)
  func columnSumsFollowTheDocumentedOrder(layout: KernelLayout) {
    var rng = SplitMix64(seed: 21)
    let rows = 37, cols = 19
    let x = HostMatrix(random: rows, cols, &rng, in: -100...100, layout: layout)
    let compute = Compute(tier: .reference)
    let sums = HostBuffer(count: cols, fill: 99)
    compute.columnSums(x.matrix, into: sums.buffer)
    let start = HostBuffer(random: cols, &rng)
    let accumulated = start.clone()
    compute.columnSums(x.matrix, into: accumulated.buffer, accumulate: true)
    var reorderedDiffers = false
    for j in 0..<cols {
      var fresh: Float = 0
      var continued = start[j]
      for i in 0..<rows {
        fresh += x[i, j]
        continued += x[i, j]
      }
      #expect(sums[j].bitPattern == fresh.bitPattern)
      #expect(accumulated[j].bitPattern == continued.bitPattern)
      var descending: Float = 0
      for i in (0..<rows).reversed() { descending += x[i, j] }
      if descending != fresh { reorderedDiffers = true }
      // And against the exact sum (Double): 37 Float additions of values ≤ 100 in magnitude.
      let exact = (0..<rows).reduce(0.0) { $0 + Double(x[$1, j]) }
      #expect(withinTolerance(Double(sums[j]), exact, absolute: 1e-3, relative: 0))
    }
    // The data must be able to tell the ascending order from another.
    #expect(reorderedDiffers)
  }

  @Test func columnSumsWithNoRowsAreZeroOrUnchanged() {
    let compute = Compute(tier: .threads, threadCount: 2)
    let x = HostMatrix(rows: 0, cols: 40)
    let sums = HostBuffer(count: 40, fill: 7)
    compute.columnSums(x.matrix, into: sums.buffer, accumulate: true)
    #expect(sums.values.allSatisfy { $0 == 7 })
    compute.columnSums(x.matrix, into: sums.buffer)
    #expect(sums.values.allSatisfy { $0.bitPattern == Float(0).bitPattern })
  }

  /// Row sums: Double accumulator, ascending columns, one rounding at the end.
  @Test func rowSumsFollowTheDocumentedOrder() {
    var rng = SplitMix64(seed: 22)
    let x = HostMatrix(random: 9, 301, &rng, in: -1000...1000, layout: .padded)
    let sums = HostBuffer(count: 9)
    Compute(tier: .reference).rowSums(x.matrix, into: sums.buffer)
    for i in 0..<9 {
      var total = 0.0
      for j in 0..<301 { total += Double(x[i, j]) }
      #expect(sums[i].bitPattern == Float(total).bitPattern)
    }
  }

  /// Sum of squares: chunks of 4096 summed in Double, chunk partials added in chunk order.
  @Test func sumOfSquaresFollowsTheDocumentedChunkOrder() {
    #expect(ReductionKernel.chunkElements == 4096)
    var rng = SplitMix64(seed: 23)
    let buffer = HostBuffer(random: 3 * 4096 + 1234, &rng, in: -1e3...1e3)
    var total = 0.0
    for chunk in 0..<4 {
      var partial = 0.0
      for k in (chunk * 4096)..<min(buffer.count, (chunk + 1) * 4096) {
        partial += Double(buffer[k]) * Double(buffer[k])
      }
      total += partial
    }
    let compute = Compute(tier: .threads, threadCount: 3)
    #expect(ReductionKernel.sumOfSquares(buffer.buffer).bitPattern == total.bitPattern)
    #expect(compute.sumOfSquares(buffer.buffer).bitPattern == total.bitPattern)
    // A plain ascending sum over all elements is a different order (and differs here).
    var plain = 0.0
    for k in 0..<buffer.count { plain += Double(buffer[k]) * Double(buffer[k]) }
    #expect(plain.bitPattern != total.bitPattern)
    #expect(withinTolerance(total, plain, absolute: 0, relative: 1e-13))
    // Several buffers: all chunk partials in buffer order, then chunk order.
    let second = HostBuffer(random: 5000, &rng)
    let empty = HostBuffer(count: 0)
    var combined = 0.0
    for source in [buffer, empty, second] {
      for chunk in 0..<ReductionKernel.chunkCount(elementCount: source.count) {
        combined += ReductionKernel.chunkSumOfSquares(source.buffer, chunk: chunk)
      }
    }
    let sources = [buffer.buffer, empty.buffer, second.buffer]
    #expect(compute.sumOfSquares(sources).bitPattern == combined.bitPattern)
  }

  @Test func clipByGlobalNormScalesOnlyAboveTheLimit() {
    var rng = SplitMix64(seed: 24)
    let compute = Compute(tier: .threads, threadCount: 2)
    let a = HostBuffer(random: 3000, &rng, in: -0.1...0.1)
    let b = HostBuffer(random: 7, &rng, in: -0.1...0.1)
    let exactNorm = (a.values + b.values).reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    #expect(exactNorm > 1.5)

    // Below the limit: nothing changes, the factor is exactly 1.
    let untouched = [a.clone(), b.clone()]
    let loose = compute.clipByGlobalNorm(untouched.map(\.buffer), maxNorm: Float(exactNorm) * 2)
    #expect(loose.scale == 1 && !loose.clipped)
    #expect(untouched[0].bits == a.bits && untouched[1].bits == b.bits)

    // Above: factor = Float(maxNorm / norm), each element multiplied once; the new norm is maxNorm.
    let clipped = [a.clone(), b.clone()]
    let result = compute.clipByGlobalNorm(clipped.map(\.buffer), maxNorm: 1)
    #expect(withinTolerance(result.norm, exactNorm, absolute: 0, relative: 1e-12))
    #expect(result.scale == Float(1 / result.norm))
    for (after, before) in zip(clipped, [a, b]) {
      for k in 0..<before.count { #expect(after[k].bitPattern == (before[k] * result.scale).bitPattern) }
    }
    let newNorm = (clipped[0].values + clipped[1].values).reduce(0.0) { $0 + Double($1) * Double($1) }
    #expect(withinTolerance(newNorm.squareRoot(), 1, absolute: 0, relative: 1e-6))
    #expect(ReductionKernel.clipScale(sumOfSquares: 4, maxNorm: 2) == 1)
    #expect(ReductionKernel.clipScale(sumOfSquares: 16, maxNorm: 2) == 0.5)
    #expect(ReductionKernel.clipScale(sumOfSquares: .nan, maxNorm: 1).isNaN)
  }

  /// Tier 1 equals Tier 0 bitwise for thread counts {1, 2, 3, 4, 7} on random shapes.
  @Test func tier1MatchesTier0() async {
    let tiers = TierSet()
    await propertyCheck(
      count: 25, input: Gen.int(in: 0...300), Gen.int(in: 1...120), Gen<UInt64>.value()
    ) { rows, cols, seed in
      var rng = SplitMix64(seed: seed)
      let layout = KernelLayout.allCases[rng.below(3)]
      let x = HostMatrix(random: rows, cols, &rng, layout: layout)
      let start = HostBuffer(random: cols, &rng)
      let buffers = (0..<3).map { _ in HostBuffer(random: rng.below(40_000), &rng) }
      let maxNorm = rng.float(in: 1...200)
      expectTiersBitwiseEqual(tiers, "reductions \(rows)x\(cols) \(layout)") { compute in
        let columns = start.clone()
        compute.columnSums(x.matrix, into: columns.buffer, accumulate: true)
        let fresh = HostBuffer(count: cols, fill: .nan)
        compute.columnSums(x.matrix, into: fresh.buffer)
        let rowTotals = HostBuffer(count: rows)
        compute.rowSums(x.matrix, into: rowTotals.buffer)
        let clipped = buffers.map { $0.clone() }
        let clip = compute.clipByGlobalNorm(clipped.map(\.buffer), maxNorm: maxNorm)
        let squares = compute.sumOfSquares(buffers[0].buffer)
        return columns.bits + fresh.bits + rowTotals.bits + clipped.flatMap(\.bits)
          + [clip.scale.bitPattern] + doubleWords(clip.norm) + doubleWords(squares)
      }
    }
  }

  /// More than 128 chunks: Tier 1 computes partials in several batches; the order is unchanged.
  @Test func sumOfSquaresAcrossPartialBatches() {
    var rng = SplitMix64(seed: 25)
    let buffer = HostBuffer(random: 130 * 4096 + 77, &rng)
    let expected = ReductionKernel.sumOfSquares(buffer.buffer)
    let tiers = TierSet()
    for compute in [tiers.reference] + tiers.threaded {
      #expect(compute.sumOfSquares(buffer.buffer).bitPattern == expected.bitPattern,
              "threads(\(compute.threadCount))")
    }
  }
}
