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
public final class ThreadPool: @unchecked Sendable {
  public static let threadCountMax = 64

  public let threadCount: Int

  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private let startCondition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
  private let doneCondition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
  private var threads: [pthread_t] = []

  // Guarded by `mutex`.
  private var generation = 0
  private var workersRemaining = 0
  private var shuttingDown = false
  private var jobAddress: UnsafeRawPointer?
  private var jobType: (any ParallelJob.Type)?
  private var jobTaskCount = 0
  private var running = false

  public init(threadCount: Int) {
    precondition(threadCount >= 1 && threadCount <= ThreadPool.threadCountMax,
                 "thread count \(threadCount) outside 1...\(ThreadPool.threadCountMax)")
    self.threadCount = threadCount
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(startCondition, nil)
    pthread_cond_init(doneCondition, nil)
    for worker in 1..<max(threadCount, 1) { spawn(worker: worker) }
  }

  deinit {
    pthread_mutex_lock(mutex)
    shuttingDown = true
    pthread_cond_broadcast(startCondition)
    pthread_mutex_unlock(mutex)
    for thread in threads { pthread_join(thread, nil) }
    pthread_cond_destroy(startCondition)
    pthread_cond_destroy(doneCondition)
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
    startCondition.deallocate()
    doneCondition.deallocate()
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
      pthread_mutex_lock(mutex)
      precondition(!running, "ThreadPool.run is not reentrant")
      running = true
      jobAddress = UnsafeRawPointer(pointer)
      jobType = Job.self
      jobTaskCount = taskCount
      workersRemaining = threadCount - 1
      generation &+= 1
      pthread_cond_broadcast(startCondition)
      pthread_mutex_unlock(mutex)

      ThreadPool.runTasks(Job.self, at: UnsafeRawPointer(pointer), worker: 0,
                          threadCount: threadCount, taskCount: taskCount)

      pthread_mutex_lock(mutex)
      while workersRemaining > 0 { pthread_cond_wait(doneCondition, mutex) }
      jobAddress = nil
      jobType = nil
      running = false
      pthread_mutex_unlock(mutex)
    }
  }

  @inline(__always)
  private static func runTasks(
    _ type: any ParallelJob.Type, at address: UnsafeRawPointer,
    worker: Int, threadCount: Int, taskCount: Int
  ) {
    var task = worker
    while task < taskCount {
      type.run(at: address, task: task)
      task += threadCount
    }
  }

  private func workerLoop(worker: Int) {
    var seenGeneration = 0
    while true {
      pthread_mutex_lock(mutex)
      while generation == seenGeneration && !shuttingDown {
        pthread_cond_wait(startCondition, mutex)
      }
      if shuttingDown {
        pthread_mutex_unlock(mutex)
        return
      }
      seenGeneration = generation
      let address = jobAddress!
      let type = jobType!
      let taskCount = jobTaskCount
      pthread_mutex_unlock(mutex)

      ThreadPool.runTasks(type, at: address, worker: worker, threadCount: threadCount, taskCount: taskCount)

      pthread_mutex_lock(mutex)
      workersRemaining -= 1
      if workersRemaining == 0 { pthread_cond_signal(doneCondition) }
      pthread_mutex_unlock(mutex)
    }
  }

  /// What a new worker thread needs. It refers to the pool *without* a strong reference: a
  /// worker that retained its pool would keep it alive forever (its loop never ends while the
  /// pool lives), and an `unowned` reference traps when a worker starts after the pool's last
  /// user has let go. Neither is needed: `deinit` joins every worker before the pool's memory
  /// goes away, so a worker may use the pool, even during `deinit`, until it sees `shuttingDown`.
  private final class WorkerStart {
    let pool: Unmanaged<ThreadPool>
    let worker: Int
    init(pool: ThreadPool, worker: Int) {
      self.pool = Unmanaged.passUnretained(pool)
      self.worker = worker
    }
  }

  private func spawn(worker: Int) {
    let start = Unmanaged.passRetained(WorkerStart(pool: self, worker: worker)).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(&thread, nil, { raw in
      let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
      start.pool._withUnsafeGuaranteedRef { $0.workerLoop(worker: start.worker) }
      return nil
    }, start)
    precondition(status == 0, "pthread_create failed with status \(status)")
    threads.append(thread)
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
