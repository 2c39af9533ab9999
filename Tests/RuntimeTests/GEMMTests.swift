import MuNetRuntime
import MuNetTestSupport
import PropertyBased
import Testing

/// Runs `GEMMKernel` and `GEMMReference` on identical copies of `c` and compares every stored
/// bit, including the padding around the view (so a write outside the range is caught).
private func kernelMatchesReference(_ product: RandomProduct) -> Bool {
  let expected = TestMatrix(copying: product.c)
  let actual = TestMatrix(copying: product.c)
  GEMMReference.multiply(
    product.a.view, product.b.view, expected.view, accumulate: product.accumulate,
    rows: product.rows, cols: product.cols)
  GEMMKernel.multiply(
    product.a.view, product.b.view, actual.view, accumulate: product.accumulate,
    rows: product.rows, cols: product.cols)
  return expected.bits == actual.bits
}

/// Sizes 0...70 with extra weight on the edges of the 6 × 16 tile.
private func extent(_ rng: inout SplitMix64) -> Int {
  let edges = [0, 1, 2, 5, 6, 7, 11, 15, 16, 17, 31, 33]
  return rng.int(in: 0...3) == 0 ? edges[rng.int(in: 0...edges.count - 1)] : rng.int(in: 0...70)
}

@Suite struct GEMMKernelTests {
  @Test func equalsReferenceBitwiseOnRandomShapes() {
    var rng = SplitMix64(seed: 0x6E6D)
    var nonEmptyCount = 0
    for _ in 0..<400 {
      let product = RandomProduct(
        m: extent(&rng), k: extent(&rng), n: extent(&rng), seed: rng.next(), subRanges: true)
      if !product.rows.isEmpty && !product.cols.isEmpty && product.a.view.cols > 0 { nonEmptyCount += 1 }
      #expect(kernelMatchesReference(product), "\(product)")
    }
    // The loop must have exercised real products, not only empty ones.
    #expect(nonEmptyCount > 200)
  }

  /// Shapes that cross the kernel's blocking: several depth blocks (> 256), row blocks (> 144)
  /// and column blocks (> 1024), with every layout of every operand.
  @Test(arguments: [(150, 9, 20), (7, 600, 33), (5, 3, 1030), (13, 513, 17), (145, 257, 18)])
  func equalsReferenceBitwiseAcrossBlocks(shape: (Int, Int, Int)) {
    var rng = SplitMix64(seed: UInt64(shape.0 * 1_000_000 + shape.1 * 1000 + shape.2))
    for _ in 0..<6 {
      let product = RandomProduct(m: shape.0, k: shape.1, n: shape.2, seed: rng.next(), subRanges: false)
      #expect(kernelMatchesReference(product), "\(product)")
    }
  }

  /// Without accumulation every chain starts at +0, so summed `(−1)·(+0)` products give +0,
  /// not the −0 a chain started from its first product would give.
  @Test func emptyAndNegativeZeroChainsStartAtPositiveZero() {
    let count = 7 * 20
    let storage = UnsafeMutablePointer<Float>.allocate(capacity: 3 * count)
    defer { storage.deallocate() }
    storage.initialize(repeating: -0.0, count: 3 * count)
    (storage + count).update(repeating: 0, count: count)
    let a = Matrix(base: storage, rows: 7, cols: 20)
    let b = Matrix(base: storage + count, rows: 20, cols: 7)
    let c = Matrix(base: storage + 2 * count, rows: 7, cols: 7)
    for k in 0..<20 { a[0, k] = -1 }
    GEMMKernel.multiply(a, b, c, accumulate: false, rows: 0..<7, cols: 0..<7)
    #expect((0..<49).allSatisfy { c.base[$0].bitPattern == 0 })
    // Accumulating onto −0 with −0 products keeps −0.
    for index in 0..<49 { c.base[index] = -0.0 }
    GEMMKernel.multiply(a, b, c, accumulate: true, rows: 0..<7, cols: 0..<7)
    #expect((0..<49).allSatisfy { c.base[$0].bitPattern == (-0.0 as Float).bitPattern })
    // Depth 0: +0 without accumulation, untouched with it.
    let empty = Matrix(base: storage, rows: 7, cols: 0)
    let emptyB = Matrix(base: storage, rows: 0, cols: 7)
    c[2, 3] = 5
    GEMMKernel.multiply(empty, emptyB, c, accumulate: true, rows: 0..<7, cols: 0..<7)
    #expect(c[2, 3] == 5)
    GEMMKernel.multiply(empty, emptyB, c, accumulate: false, rows: 0..<7, cols: 0..<7)
    #expect((0..<49).allSatisfy { c.base[$0].bitPattern == 0 })
  }

  @Test func grainsMatchTheMicroTile() {
    #if MUNET_CPU_AVX512
    #expect(GEMMKernel.rowGrain == 12)
    #else
    #expect(GEMMKernel.rowGrain == 6)
    #endif
    #expect(GEMMKernel.colGrain == 16)
  }
}

@Suite struct ThreadedGEMMTests {
  static let threadCounts = [1, 2, 3, 4, 7]

  /// The fused bias (added to each tile as it finishes) has the bits of the product followed by
  /// a separate `c[i, j] + bias[j]` pass, in Tier 0 and in every Tier 1 split, for every layout.
  @Test func biasEpilogueEqualsProductThenBias() async {
    let engines: [any GEMMEngine] = [ReferenceGEMM()] + Self.threadCounts.map {
      ThreadedGEMM(pool: startedPool(threadCount: $0), multiplyAddsPerThreadMin: 1)
    }
    await propertyCheck(
      count: 40, input: Gen.int(in: 0...70), Gen.int(in: 0...600), Gen.int(in: 0...70), Gen.uint64()
    ) { m, k, n, seed in
      let product = RandomProduct(m: m, k: k, n: n, seed: seed, subRanges: false)
      var rng = SplitMix64(seed: seed ^ 0x5EED)
      let bias = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(1, n))
      defer { bias.deallocate() }
      for j in 0..<max(1, n) { bias[j] = Float(rng.int(in: -1000...1000)) / 37 }
      let biasView = UnsafeMutableBufferPointer(rebasing: bias[0..<n])
      let expected = TestMatrix(copying: product.c)
      GEMMReference.multiply(
        product.a.view, product.b.view, expected.view, accumulate: false, rows: 0..<m, cols: 0..<n)
      for i in 0..<m {
        for j in 0..<n { expected.view[i, j] = expected.view[i, j] + bias[j] }
      }
      for engine in engines {
        let actual = TestMatrix(copying: product.c)
        engine.gemm(product.a.view, product.b.view, actual.view, addingBias: biasView)
        #expect(actual.bits == expected.bits, "\(engine.name) with bias: \(product)")
      }
    }
  }

  @Test func equalsReferenceBitwiseForEveryThreadCount() async {
    let engines = Self.threadCounts.map {
      ThreadedGEMM(pool: startedPool(threadCount: $0), multiplyAddsPerThreadMin: 1)
    }
    await propertyCheck(
      count: 60, input: Gen.int(in: 0...70), Gen.int(in: 0...70), Gen.int(in: 0...70), Gen.uint64()
    ) { m, k, n, seed in
      let product = RandomProduct(m: m, k: k, n: n, seed: seed, subRanges: false)
      // The definition, then Tier 0 and every Tier 1 pool against it.
      let expected = TestMatrix(copying: product.c)
      GEMMReference.multiply(
        product.a.view, product.b.view, expected.view, accumulate: product.accumulate,
        rows: 0..<m, cols: 0..<n)
      let tier0 = TestMatrix(copying: product.c)
      ReferenceGEMM().gemm(product.a.view, product.b.view, tier0.view, accumulate: product.accumulate)
      #expect(tier0.bits == expected.bits, "reference: \(product)")
      for engine in engines {
        let actual = TestMatrix(copying: product.c)
        engine.gemm(product.a.view, product.b.view, actual.view, accumulate: product.accumulate)
        #expect(actual.bits == expected.bits, "\(engine.name): \(product)")
      }
    }
  }

  /// With the default work threshold small products stay on one thread and large ones split;
  /// the bits are Tier 0's either way.
  @Test(arguments: [(49, 16, 49), (200, 300, 64), (64, 900, 64)])
  func defaultThresholdEqualsReferenceBitwise(shape: (Int, Int, Int)) {
    let engine = ThreadedGEMM(pool: startedPool(threadCount: 4))
    let product = RandomProduct(m: shape.0, k: shape.1, n: shape.2, seed: 77, subRanges: false)
    let expected = TestMatrix(copying: product.c)
    ReferenceGEMM().gemm(product.a.view, product.b.view, expected.view, accumulate: product.accumulate)
    let actual = TestMatrix(copying: product.c)
    engine.gemm(product.a.view, product.b.view, actual.view, accumulate: product.accumulate)
    #expect(actual.bits == expected.bits, "\(product)")
  }

  @Test func batchedEqualsReferenceBitwiseForEveryThreadCount() {
    let engines = Self.threadCounts.map {
      ThreadedGEMM(pool: startedPool(threadCount: $0), multiplyAddsPerThreadMin: 1)
    }
    var rng = SplitMix64(seed: 0xBA7C)
    for _ in 0..<40 {
      let count = rng.int(in: 0...9)
      let (m, k, n) = (rng.int(in: 0...23), rng.int(in: 0...23), rng.int(in: 0...40))
      let a = TestMatrixBatch(count: count, rows: m, cols: k, rng: &rng)
      let b = TestMatrixBatch(count: count, rows: k, cols: n, rng: &rng)
      let c = TestMatrixBatch(count: count, rows: m, cols: n, rng: &rng)
      let accumulate = rng.bool()
      let expected = TestMatrixBatch(copying: c)
      ReferenceGEMM().gemmBatched(a.batch, b.batch, expected.batch, accumulate: accumulate)
      for engine in engines {
        let actual = TestMatrixBatch(copying: c)
        engine.gemmBatched(a.batch, b.batch, actual.batch, accumulate: accumulate)
        #expect(actual.bits == expected.bits, "\(engine.name): \(count) x \(m)x\(k)·\(k)x\(n)")
      }
    }
  }
}

/// A fresh pool. (Releasing a pool before its workers have started is safe: see
/// ThreadPoolLifetimeTests.)
private func startedPool(threadCount: Int) -> ThreadPool {
  ThreadPool(threadCount: threadCount)
}
