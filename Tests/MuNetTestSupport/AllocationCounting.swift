// Heap-allocation counting for tests, shared by every test target that checks "no allocation
// after warm-up". The counting itself is CAllocationCounter (per-thread malloc wrappers).
import CAllocationCounter
import MuNetRuntime

/// True when the malloc wrappers are in effect (glibc).
public var allocationCountingAvailable: Bool { munet_allocation_counting_available() == 1 }

/// Counts heap allocations made by `body` on the calling thread and on every worker of `pool`.
///
/// Task `t` of a pool run goes to worker `t % threadCount` (a documented static assignment), so
/// one task per thread switches counting on (and off) for exactly that thread.
public func allocationCount(pool: ThreadPool?, _ body: () -> Void) -> Int {
  let threads = pool?.threadCount ?? 1
  let perThread = UnsafeMutablePointer<Int>.allocate(capacity: threads)
  perThread.initialize(repeating: 0, count: threads)
  defer { perThread.deallocate() }
  pool?.run(taskCount: threads, CountingSwitch(start: true, results: perThread))
  munet_allocation_count_begin()
  body()
  let callerCount = munet_allocation_count_end()
  pool?.run(taskCount: threads, CountingSwitch(start: false, results: perThread))
  return (0..<threads).reduce(callerCount) { $0 + (pool == nil ? 0 : perThread[$1]) }
}

/// Switches per-thread allocation counting on or off on the thread that runs each task.
struct CountingSwitch: ParallelJob {
  let start: Bool
  let results: UnsafeMutablePointer<Int>
  func run(task: Int) {
    if start { munet_allocation_count_begin() } else { results[task] = munet_allocation_count_end() }
  }
}
