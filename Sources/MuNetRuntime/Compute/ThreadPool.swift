import CMuNetSupport
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The engine's own thread pool: `threadCount - 1` parked workers plus the calling thread.
///
/// ``run(taskCount:_:)`` deals task `t` to worker `t % threadCount` (a static assignment, fixed
/// before anything runs; worker 0 is the caller) and returns when all tasks are done. Tasks must
/// write disjoint outputs; then which thread ran a task cannot change a bit of the result. A run
/// makes no heap allocation. Runs must not be nested or issued from two threads at once
/// (checked).
///
/// Waking a parked thread costs tens of microseconds, and a training step issues hundreds of
/// runs. So a worker that finishes a run first spins for a while (``spinIterations`` pauses)
/// watching for the next one before it parks on the condition variable, and the caller spins
/// likewise before it parks waiting for the workers. Spinning only changes *when* a thread
/// notices new work, never which tasks it runs, so it cannot change a result.
public final class ThreadPool: @unchecked Sendable {
  public static let threadCountMax = 64

  public let threadCount: Int

  /// What the workers see. Kept apart from the pool object so that a worker never holds a
  /// reference to a pool that is being deinitialised.
  private let shared: PoolShared
  private var threads: [pthread_t] = []

  public init(threadCount: Int) {
    precondition(threadCount >= 1 && threadCount <= ThreadPool.threadCountMax,
                 "thread count \(threadCount) outside 1...\(ThreadPool.threadCountMax)")
    self.threadCount = threadCount
    shared = PoolShared(threadCount: threadCount)
    for worker in 1..<threadCount { spawn(worker: worker) }
  }

  deinit {
    shared.lock()
    shared.shuttingDown = true
    pthread_cond_broadcast(shared.startCondition)
    shared.unlock()
    for thread in threads { pthread_join(thread, nil) }
  }

  /// Runs `job.run(task:)` for every task in `0..<taskCount`; returns when all have finished.
  ///
  /// The job is a value on the caller's stack, handed to the workers by address together with
  /// its type (no closure conversion, which would allocate a context on every call).
  public func run<Job: ParallelJob>(taskCount: Int, _ job: Job) {
    precondition(taskCount >= 0)
    if threadCount == 1 || taskCount <= 1 {
      for task in 0..<taskCount { job.run(task: task) }
      return
    }
    withUnsafePointer(to: job) { pointer in
      let address = UnsafeRawPointer(pointer)
      shared.lock()
      precondition(!shared.running, "ThreadPool.run is not reentrant")
      shared.running = true
      shared.jobAddress = address
      shared.jobType = Job.self
      shared.jobTaskCount = taskCount
      shared.workersRemaining.store(threadCount - 1, ordering: .releasing)
      shared.generation.add(1, ordering: .releasing)
      if shared.sleepingWorkers > 0 { pthread_cond_broadcast(shared.startCondition) }
      shared.unlock()

      PoolShared.runTasks(Job.self, at: address, worker: 0, threadCount: threadCount, taskCount: taskCount)

      shared.spin { shared.workersRemaining.load(ordering: .acquiring) == 0 }
      shared.lock()
      while shared.workersRemaining.load(ordering: .acquiring) > 0 {
        shared.callerSleeping = true
        pthread_cond_wait(shared.doneCondition, shared.mutex)
        shared.callerSleeping = false
      }
      shared.jobAddress = nil
      shared.jobType = nil
      shared.running = false
      shared.unlock()
    }
  }

  private final class WorkerStart {
    let shared: PoolShared
    let worker: Int
    init(shared: PoolShared, worker: Int) {
      self.shared = shared
      self.worker = worker
    }
  }

  private func spawn(worker: Int) {
    let start = Unmanaged.passRetained(WorkerStart(shared: shared, worker: worker)).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(&thread, nil, { raw in
      let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
      start.shared.workerLoop(worker: start.worker)
      return nil
    }, start)
    precondition(status == 0, "pthread_create failed with status \(status)")
    threads.append(thread)
  }
}

/// The state a pool shares with its workers. Every `var` is guarded by `mutex`; the two atomics
/// are only changed under `mutex` too, but may be read without it by a spinning thread (which
/// then takes `mutex` before acting, so no wake-up is lost).
private final class PoolShared: @unchecked Sendable {
  /// Pauses a thread spins through before parking: a few tens of microseconds, longer than the
  /// gap between two runs of a training step, far shorter than an idle period. (A count, not a
  /// time: engine code reads no clock.)
  static let spinIterations = 4096
  /// Every this many pauses a spinning thread yields its core, so that on an oversubscribed
  /// machine it does not keep the thread it waits for from running.
  static let spinIterationsPerYield = 256

  let threadCount: Int
  let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  let startCondition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
  let doneCondition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

  let generation = Atomic<Int>(0)
  let workersRemaining = Atomic<Int>(0)
  var sleepingWorkers = 0
  var callerSleeping = false
  var shuttingDown = false
  var running = false
  var jobAddress: UnsafeRawPointer?
  var jobType: (any ParallelJob.Type)?
  var jobTaskCount = 0

  init(threadCount: Int) {
    self.threadCount = threadCount
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(startCondition, nil)
    pthread_cond_init(doneCondition, nil)
  }

  deinit {
    pthread_cond_destroy(startCondition)
    pthread_cond_destroy(doneCondition)
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
    startCondition.deallocate()
    doneCondition.deallocate()
  }

  /// Spins until `isDone()` or ``spinIterations`` pauses have passed.
  @inline(__always)
  func spin(until isDone: () -> Bool) {
    var iteration = 0
    while iteration < PoolShared.spinIterations && !isDone() {
      munet_cpu_relax()
      iteration += 1
      if iteration % PoolShared.spinIterationsPerYield == 0 { sched_yield() }
    }
  }

  func lock() { pthread_mutex_lock(mutex) }
  func unlock() { pthread_mutex_unlock(mutex) }

  @inline(__always)
  static func runTasks(
    _ type: any ParallelJob.Type, at address: UnsafeRawPointer,
    worker: Int, threadCount: Int, taskCount: Int
  ) {
    var task = worker
    while task < taskCount {
      type.run(at: address, task: task)
      task += threadCount
    }
  }

  func workerLoop(worker: Int) {
    var seenGeneration = 0
    while true {
      spin { generation.load(ordering: .acquiring) != seenGeneration }
      lock()
      while generation.load(ordering: .acquiring) == seenGeneration && !shuttingDown {
        sleepingWorkers += 1
        pthread_cond_wait(startCondition, mutex)
        sleepingWorkers -= 1
      }
      if shuttingDown {
        unlock()
        return
      }
      seenGeneration = generation.load(ordering: .acquiring)
      let address = jobAddress!
      let type = jobType!
      let taskCount = jobTaskCount
      unlock()

      PoolShared.runTasks(type, at: address, worker: worker, threadCount: threadCount, taskCount: taskCount)

      lock()
      let remaining = workersRemaining.subtract(1, ordering: .acquiringAndReleasing).newValue
      if remaining == 0 && callerSleeping { pthread_cond_signal(doneCondition) }
      unlock()
    }
  }
}

/// A unit of parallel work: `run(task:)` is called once for each task index of a
/// ``ThreadPool/run(taskCount:_:)``, possibly on different threads at once. A job is a small
/// struct that carries its inputs explicitly (views, sizes), so handing it out allocates nothing.
public protocol ParallelJob {
  func run(task: Int)
}

extension ParallelJob {
  /// Runs task `task` of the job of this type stored at `address`.
  @inline(__always)
  static func run(at address: UnsafeRawPointer, task: Int) {
    address.assumingMemoryBound(to: Self.self).pointee.run(task: task)
  }
}
