import MuNetBLAS
import MuNetRuntime
import MuNetTestSupport
import Testing

/// Runs Tier 0 and `engine` on copies of the product's `c`; returns the bound report and
/// whether `engine` left everything outside the view untouched.
private func compare(
  _ engine: OpenBLASGEMM, _ product: RandomProduct
) -> (report: GEMMBoundReport, outsideUntouched: Bool) {
  let (a, b) = (product.a.view, product.b.view)
  let reference = TestMatrix(copying: product.c)
  ReferenceGEMM().gemm(a, b, reference.view, accumulate: product.accumulate)
  let candidate = TestMatrix(copying: product.c)
  engine.gemm(a, b, candidate.view, accumulate: product.accumulate)
  let report = GEMMBound.check(
    a, b, cOld: product.accumulate ? product.c.view : nil, candidate: candidate.view,
    reference: reference.view)
  return (report, candidate.bitsOutsideView == product.c.bitsOutsideView)
}

/// OpenBLAS's thread count is process-wide, so these tests run one at a time.
@Suite(.serialized) struct OpenBLASGEMMTests {
  @Test(arguments: [1, 2])
  func withinBoundOfTier0OnRandomShapes(threads: Int) {
    let engine = OpenBLASGEMM(threads: threads)
    var rng = SplitMix64(seed: 0xB1A5 &+ UInt64(threads))
    var layoutsSeen = Set<Int>()
    for _ in 0..<150 {
      let (m, k, n) = (rng.int(in: 0...70), rng.int(in: 0...70), rng.int(in: 0...70))
      let product = RandomProduct(m: m, k: k, n: n, seed: rng.next(), subRanges: false)
      layoutsSeen.insert(product.layouts.0.rawValue * 25 + product.layouts.1.rawValue * 5
                         + product.layouts.2.rawValue)
      let (report, outsideUntouched) = compare(engine, product)
      #expect(report.passed, "\(product): ratio \(report.maxBoundRatio)")
      #expect(outsideUntouched, "\(product)")
    }
    #expect(layoutsSeen.count > 60)
  }

  /// Tier 2's split form: single-threaded OpenBLAS per part of a static split over the pool
  /// (rows, or columns for a wide `c`), on products big enough to be split, every layout.
  @Test(arguments: [(200, 64, 100), (30, 500, 80), (130, 70, 131)])
  func splitOverPoolWithinBoundOfTier0(shape: (Int, Int, Int)) {
    let pool = ThreadPool(threadCount: 3)
    let engine = OpenBLASGEMM(splittingOver: pool)
    #expect(shape.0 * shape.1 * shape.2 >= ThreadedGEMM.defaultMultiplyAddsPerThreadMin)
    var rng = SplitMix64(seed: UInt64(shape.0 * 7 + shape.2))
    for layoutA in TestLayout.allCases {
      for layoutC in TestLayout.allCases {
        let layoutB = TestLayout.allCases[rng.int(in: 0...TestLayout.allCases.count - 1)]
        let product = RandomProduct(
          m: shape.0, k: shape.1, n: shape.2, layouts: (layoutA, layoutB, layoutC),
          accumulate: rng.bool(), rng: &rng)
        let (report, outsideUntouched) = compare(engine, product)
        #expect(report.passed, "\(product): ratio \(report.maxBoundRatio)")
        #expect(outsideUntouched, "\(product)")
        // A fixed split gives the same bits every time.
        let first = TestMatrix(copying: product.c), second = TestMatrix(copying: product.c)
        engine.gemm(product.a.view, product.b.view, first.view, accumulate: product.accumulate)
        engine.gemm(product.a.view, product.b.view, second.view, accumulate: product.accumulate)
        #expect(first.bits == second.bits, "\(product)")
        // The bias epilogue equals the product followed by a separate bias pass.
        let bias = UnsafeMutableBufferPointer<Float>.allocate(capacity: shape.2)
        defer { bias.deallocate() }
        for j in 0..<shape.2 { bias[j] = Float(j % 13) - 6.5 }
        let fused = TestMatrix(copying: product.c), separate = TestMatrix(copying: product.c)
        engine.gemm(product.a.view, product.b.view, fused.view, addingBias: bias)
        engine.gemm(product.a.view, product.b.view, separate.view, accumulate: false)
        for i in 0..<shape.0 {
          for j in 0..<shape.2 { separate.view[i, j] = separate.view[i, j] + bias[j] }
        }
        #expect(fused.bits == separate.bits, "\(product)")
      }
    }
  }

  /// Empty extents, single rows and columns, depth 1, long depth: every layout of each.
  @Test(arguments: [(0, 0, 0), (0, 5, 3), (4, 0, 3), (3, 5, 0), (1, 1, 1), (1, 300, 1), (1, 7, 40),
                    (40, 7, 1), (17, 1, 19), (2, 2000, 3)])
  func withinBoundOfTier0OnEdgeShapes(shape: (Int, Int, Int)) {
    let engine = OpenBLASGEMM(threads: 1)
    let layouts = TestLayout.allCases
    for (index, layoutA) in layouts.enumerated() {
      for layoutB in layouts {
        for layoutC in layouts {
          for accumulate in [false, true] {
            var rng = SplitMix64(seed: UInt64(index * 1000 + layoutB.rawValue * 10 + layoutC.rawValue))
            let product = RandomProduct(
              m: shape.0, k: shape.1, n: shape.2, layouts: (layoutA, layoutB, layoutC),
              accumulate: accumulate, rng: &rng)
            let (report, outsideUntouched) = compare(engine, product)
            #expect(report.passed, "\(product): ratio \(report.maxBoundRatio)")
            #expect(outsideUntouched, "\(product)")
          }
        }
      }
    }
  }

  /// Depth 0 without accumulation is +0 everywhere (OpenBLAS is not called).
  @Test func emptyDepthWritesPositiveZero() {
    let engine = OpenBLASGEMM(threads: 1)
    var rng = SplitMix64(seed: 9)
    let product = RandomProduct(
      m: 5, k: 0, n: 7, layouts: (.rowMajor, .rowMajor, .strided), accumulate: false, rng: &rng)
    let c = TestMatrix(copying: product.c)
    engine.gemm(product.a.view, product.b.view, c.view, accumulate: false)
    #expect((0..<5).allSatisfy { i in (0..<7).allSatisfy { c.view[i, $0].bitPattern == 0 } })
  }

  @Test func batchedWithinBoundOfTier0() {
    let engine = OpenBLASGEMM(threads: 2)
    var rng = SplitMix64(seed: 0xBA7)
    let (count, m, k, n) = (5, 9, 33, 17)
    let products = (0..<count).map { _ in
      RandomProduct(
        m: m, k: k, n: n, layouts: (.rowMajor, .transposed, .rowMajor), accumulate: true, rng: &rng)
    }
    // Lay the batch out as one buffer per operand, `stride` floats apart.
    let batches = [0, 1, 2].map { operand in
      TestMatrixBatch(products.map { [$0.a, $0.b, $0.c][operand].view })
    }
    let reference = TestMatrixBatch(copying: batches[2])
    ReferenceGEMM().gemmBatched(batches[0].batch, batches[1].batch, reference.batch, accumulate: true)
    engine.gemmBatched(batches[0].batch, batches[1].batch, batches[2].batch, accumulate: true)
    for index in 0..<count {
      let report = GEMMBound.check(
        batches[0].batch[index], batches[1].batch[index], cOld: products[index].c.view,
        candidate: batches[2].batch[index], reference: reference.batch[index])
      #expect(report.passed, "batch item \(index): ratio \(report.maxBoundRatio)")
      #expect(report.comparedCount == m * n)
    }
  }

  @Test func namesRecordCoreThreadsAndVersion() {
    let engine = OpenBLASGEMM(threads: 1)
    #expect(engine.name == "openblas(core=\(MuNetBLASInfo.coreName), threads=1, \(MuNetBLASInfo.version))")
    #expect(MuNetBLASInfo.version.split(separator: ".").count == 3)
    #expect(MuNetBLASInfo.coreName != "unknown")
  }

  @Test func computeBlasUsesOpenBLASAndAPoolOfTheSameSize() {
    let compute = Compute.blas(threads: 2)
    #expect(compute.tier == .blas)
    #expect(compute.threadCount == 2)
    #expect(compute.pool?.threadCount == 2)
    #expect(compute.gemmEngine is OpenBLASGEMM)
    #expect(compute.gemmEngine.name.contains("threads=1 per part, 2 parts"))
    // Batched (per-head) products go to the exact Tier 1 kernel on the same pool.
    #expect(compute.gemmEngine.name.hasSuffix("; batched: threads(2)"))
    // Non-GEMM work runs on the pool: every index is visited once.
    let visits = UnsafeMutablePointer<Int>.allocate(capacity: 12)
    defer { visits.deallocate() }
    visits.initialize(repeating: 0, count: 12)
    compute.parallelFor(count: 12, grain: 1, VisitJob(visits: visits))
    #expect((0..<12).allSatisfy { visits[$0] == 1 })
    var rng = SplitMix64(seed: 21)
    let product = RandomProduct(
      m: 30, k: 20, n: 10, layouts: (.rowMajor, .rowMajor, .rowMajor), accumulate: false, rng: &rng)
    let reference = TestMatrix(copying: product.c)
    ReferenceGEMM().gemm(product.a.view, product.b.view, reference.view, accumulate: false)
    compute.gemmEngine.gemm(product.a.view, product.b.view, product.c.view, accumulate: false)
    let report = GEMMBound.check(
      product.a.view, product.b.view, cOld: nil, candidate: product.c.view, reference: reference.view)
    #expect(report.passed)
  }
}

/// Counts visits of each index of its range.
private struct VisitJob: RangeJob {
  let visits: UnsafeMutablePointer<Int>
  func run(range: Range<Int>) { for index in range { visits[index] += 1 } }
}
