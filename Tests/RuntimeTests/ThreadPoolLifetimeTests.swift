import MuNetRuntime
import Testing

/// Marks each task it runs.
private struct MarkTaskJob: ParallelJob {
  let marks: UnsafeMutablePointer<Int>
  func run(task: Int) { marks[task] = 1 }
}

@Suite struct ThreadPoolLifetimeTests {
  /// A pool whose workers have started is freed (and its threads joined) when its last user lets
  /// go: workers must not keep it alive. A pool dropped before its workers even start must not
  /// trap (workers used to reach it through an `unowned` reference).
  @Test func poolIsReleasedWhenDroppedEarlyOrAfterRuns() {
    for _ in 0..<50 { _ = ThreadPool(threadCount: 4) }
    weak var released: ThreadPool?
    do {
      let pool = ThreadPool(threadCount: 3)
      let marks = UnsafeMutablePointer<Int>.allocate(capacity: 3)
      marks.initialize(repeating: 0, count: 3)
      defer { marks.deallocate() }
      pool.run(taskCount: 3, MarkTaskJob(marks: marks))
      #expect((0..<3).allSatisfy { marks[$0] == 1 })
      released = pool
    }
    #expect(released == nil, "a pool whose workers ran a job was kept alive after its last user")
  }
}
