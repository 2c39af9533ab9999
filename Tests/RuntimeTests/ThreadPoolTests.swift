#if canImport(Glibc)
import Glibc
#endif
import MuNetRuntime
import Testing

struct HitJob: ParallelJob {
  let hits: UnsafeMutablePointer<Int>
  func run(task: Int) { hits[task] += 1 }
}

struct ProductJob: RangeJob {
  let output: UnsafeMutablePointer<Float>
  let round: Int
  func run(range: Range<Int>) { for i in range { output[i] = Float(i * round) } }
}

@Suite struct ThreadPoolTests {
  @Test(arguments: [1, 2, 3, 4, 7])
  func everyTaskRunsExactlyOnce(threads: Int) {
    let pool = ThreadPool(threadCount: threads)
    for taskCount in [0, 1, 2, 5, 64] {
      let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(taskCount, 1))
      hits.initialize(repeating: 0, count: max(taskCount, 1))
      defer { hits.deallocate() }
      for _ in 0..<20 {
        pool.run(taskCount: taskCount, HitJob(hits: hits))
      }
      for task in 0..<taskCount { #expect(hits[task] == 20, "task \(task) of \(taskCount)") }
    }
  }

  @Test func parallelForMatchesSerialAndIsReusable() {
    let compute = Compute(tier: .threads, threadCount: 3)
    let count = 1001
    let output = UnsafeMutablePointer<Float>.allocate(capacity: count)
    defer { output.deallocate() }
    for round in 0..<50 {
      output.initialize(repeating: -1, count: count)
      compute.parallelFor(count: count, grain: 8, ProductJob(output: output, round: round))
      for i in 0..<count where output[i] != Float(i * round) {
        Issue.record("round \(round) index \(i) = \(output[i])")
        return
      }
    }
  }

  @Test func tierNumbers() {
    #expect(Tier.reference.number == 0 && Tier.threads.number == 1 && Tier.blas.number == 2)
    #expect(Compute(tier: .reference).threadCount == 1)
    #expect(Compute(tier: .threads, threadCount: 4).threadCount == 4)
  }
}

/// Runs separated by sleeps long enough for the workers to stop spinning and park, mixed with
/// back-to-back runs that catch them spinning: every task must run exactly once either way (a
/// lost wake-up would hang the test).
@Suite struct ThreadPoolSpinTests {
  @Test(arguments: [2, 4])
  func runsAfterParkingAndWhileSpinning(threads: Int) {
    let pool = ThreadPool(threadCount: threads)
    let taskCount = 2 * threads
    let hits = UnsafeMutablePointer<Int>.allocate(capacity: taskCount)
    hits.initialize(repeating: 0, count: taskCount)
    defer { hits.deallocate() }
    for round in 0..<40 {
      if round % 8 == 0 { usleep(20_000) }
      pool.run(taskCount: taskCount, HitJob(hits: hits))
    }
    for task in 0..<taskCount { #expect(hits[task] == 40, "task \(task)") }
  }
}
