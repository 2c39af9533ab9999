import MuNetTestSupport
import MuNetRuntime
import Testing

/// Adds 1 to each element of its range.
struct IncrementJob: RangeJob {
  let base: UnsafeMutablePointer<Float>
  func run(range: Range<Int>) { for i in range { base[i] += 1 } }
}

@Suite struct AllocationTests {
  @Test func counterSeesAnAllocation() throws {
    try #require(allocationCountingAvailable, "allocation counting needs glibc")
    let count = allocationCount(pool: nil) {
      let buffer = UnsafeMutablePointer<Float>.allocate(capacity: 1000)
      buffer.deallocate()
    }
    #expect(count >= 1, "the counter must see a plain allocation, else the zero checks mean nothing")
  }

  @Test(arguments: [Tier.reference, Tier.threads])
  func gemmAndPoolAllocateNothingAfterWarmUp(tier: Tier) throws {
    try #require(allocationCountingAvailable)
    let compute = Compute(tier: tier, threadCount: 3)
    var plan = ArenaPlan()
    for shape in [Shape(70, 33), Shape(33, 45), Shape(70, 45)] { plan.reserve(shape) }
    let arena = Arena(name: "gemm", plan: plan)
    let a = try arena.allocate(Shape(70, 33)), b = try arena.allocate(Shape(33, 45))
    let c = try arena.allocate(Shape(70, 45))
    for i in 0..<a.elementCount { a.base[i] = Float(i % 7) - 3 }
    for i in 0..<b.elementCount { b.base[i] = Float(i % 5) - 2 }
    let step = {
      compute.gemmEngine.gemm(a.matrix, b.matrix, c.matrix, accumulate: false)
      compute.gemmEngine.gemm(a.matrix.transposed.transposed, b.matrix, c.matrix, accumulate: true)
      compute.parallelFor(count: 70, grain: 6, IncrementJob(base: c.base))
    }
    step()  // Warm-up: first use may set up per-thread scratch.
    let count = allocationCount(pool: compute.pool, step)
    #expect(count == 0, "a warmed-up step made \(count) heap allocations in \(tier)")
  }
}
