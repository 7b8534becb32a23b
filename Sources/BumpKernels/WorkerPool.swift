import Synchronization
import _BumpKernelsShims

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Long-lived threads that run the tasks of one job at a time together with the thread that
/// posts it: the workers of a sharded training step, and of ``RowTasks`` while a pool is
/// the current thread's (``WorkerPool/withCurrent(_:_:)``).
///
/// A job is a number of tasks and a body; every participating thread claims tasks one at a
/// time until none is left, so a thread slowed by another process costs at most one task's
/// time. Which thread runs which task is left to chance, so a job's results must not depend
/// on it: each task writes its own memory, and what tasks produce together is combined
/// afterwards in task order.
///
/// Between jobs a worker spins on the job ticket for ``spinNanoseconds`` and then sleeps on a
/// condition variable, so that the back-to-back jobs of a training step hand off in well
/// under a microsecond and an idle pool costs no processor time. A pool takes one job at a
/// time: a second thread that posts a job while one runs runs its tasks alone, in order
/// (same results, since results never depend on the threads).
///
/// Inside a task, ``RowTasks`` runs serially and so does a nested ``run(tasks:workers:_:)``:
/// the pool's threads are already busy with the job.
package final class WorkerPool: @unchecked Sendable {
  /// The threads that take part in a job: the workers and the posting thread.
  package let threadCount: Int

  /// How long an idle worker spins before it sleeps.
  package static let spinNanoseconds: UInt64 = 200_000

  // The job ticket, one atomic word so that a thread that claims a task learns in the same
  // step which job the task belongs to: generation (16 bits) | participants (8) | tasks
  // (20) | next task (20). Claims are compare-and-swaps that check the generation, so a late
  // thread can never take a task of a job it has not seen start.
  private let ticket = Atomic<Int>(0)
  private let completed = Atomic<Int>(0)
  private let busy = Atomic<Bool>(false)
  private let sleepers = Atomic<Int>(0)
  private let stopping = Atomic<Bool>(false)
  private let mutex: UnsafeMutablePointer<pthread_mutex_t>
  private let condition: UnsafeMutablePointer<pthread_cond_t>
  private var generation = 0
  /// The job that carries a closure (``run(tasks:workers:_:)``), reused.
  private let closureJob = ClosureJob()
  /// The job running now; written before its ticket is published.
  private nonisolated(unsafe) var job: (any WorkerPoolJob)?

  /// Timings of jobs, kept while ``recordsTimings`` (for benchmarks).
  package nonisolated(unsafe) var recordsTimings = false
  private let busyNanoseconds = Atomic<Int>(0)
  private nonisolated(unsafe) var participantNanoseconds = 0
  private nonisolated(unsafe) var jobNanoseconds = 0
  private nonisolated(unsafe) var jobCount = 0

  static let taskBits = 20
  static let maxTasks = (1 << taskBits) - 1
  package static let maxThreads = 255

  /// A pool of `threads` threads in all: `threads − 1` workers it starts now and the thread
  /// that posts each job. `threads` is clamped to 1...255.
  package init(threads: Int) {
    threadCount = min(max(1, threads), Self.maxThreads)
    mutex = .allocate(capacity: 1)
    condition = .allocate(capacity: 1)
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(condition, nil)
    for index in 1..<threadCount { startWorker(index) }
  }

  deinit {
    pthread_cond_destroy(condition)
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
    condition.deallocate()
  }

  /// Lets the workers end once they are idle; the pool stays usable (its jobs then run on
  /// the posting thread alone).
  package func retire() {
    stopping.store(true, ordering: .sequentiallyConsistent)
    pthread_mutex_lock(mutex)
    pthread_cond_broadcast(condition)
    pthread_mutex_unlock(mutex)
  }

  /// Runs `body(task, worker)` for every task in `0..<tasks` on up to `workers` of the pool's
  /// threads, the calling thread among them, and returns when all have returned. `worker` is
  /// in `0..<min(workers, threadCount, tasks)` and no two bodies running at once share one.
  ///
  /// Handing a closure to other threads costs one small allocation (its context); a caller
  /// that must not allocate passes a ``WorkerPoolJob`` to ``run(tasks:workers:job:)``.
  package func run(tasks: Int, workers: Int? = nil, _ body: (_ task: Int, _ worker: Int) -> Void) {
    guard canRun(tasks: tasks, workers: workers) else {
      let previous = WorkerPool.enterTask()
      for task in 0..<tasks { body(task, 0) }
      WorkerPool.leaveTask(previous)
      return
    }
    // The pool is this caller's alone now (`canRun`): its one closure job is free.
    withoutActuallyEscaping(body) { body in
      closureJob.body = body
      post(tasks: tasks, workers: workers, job: closureJob)
      closureJob.body = nil
    }
  }

  /// Runs `job.runTask(_:worker:)` for every task in `0..<tasks`, as
  /// ``run(tasks:workers:_:)`` does, without allocating.
  package func run(tasks: Int, workers: Int? = nil, job: any WorkerPoolJob) {
    guard canRun(tasks: tasks, workers: workers) else {
      let previous = WorkerPool.enterTask()
      for task in 0..<tasks { job.runTask(task, worker: 0) }
      WorkerPool.leaveTask(previous)
      return
    }
    post(tasks: tasks, workers: workers, job: job)
  }

  /// Whether a job of `tasks` tasks runs on the pool's threads (else on the caller alone):
  /// more than one participant, not inside a task, not retired, and the pool free (which
  /// this then takes).
  private func canRun(tasks: Int, workers: Int?) -> Bool {
    min(workers ?? threadCount, threadCount, tasks) > 1 && tasks <= Self.maxTasks
      && !stopping.load(ordering: .relaxed) && !WorkerPool.isInsideTask
      && busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
  }

  /// Posts `job` to the workers, takes part in it and returns when every task has run; then
  /// frees the pool.
  private func post(tasks: Int, workers: Int?, job: any WorkerPoolJob) {
    let participants = min(workers ?? threadCount, threadCount, tasks)
    let start = recordsTimings ? Self.now() : 0
    self.job = job
    generation = (generation + 1) & 0x7FFF
    if generation == 0 { generation = 1 }
    completed.store(0, ordering: .relaxed)
    let word = generation << 48 | participants << 40 | tasks << Self.taskBits
    ticket.store(word, ordering: .sequentiallyConsistent)
    if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
      pthread_mutex_lock(mutex)
      pthread_cond_broadcast(condition)
      pthread_mutex_unlock(mutex)
    }
    let previous = WorkerPool.enterTask()
    work(generation: generation, worker: 0)
    WorkerPool.leaveTask(previous)
    var spins = 0
    while completed.load(ordering: .acquiring) < tasks {
      spins += 1
      if spins & 1023 == 0 { sched_yield() } else { bumpkit_cpu_relax() }
    }
    self.job = nil
    if recordsTimings {
      let elapsed = Self.now() - start
      jobNanoseconds += elapsed
      participantNanoseconds += elapsed * participants
      jobCount += 1
    }
    busy.store(false, ordering: .releasing)
  }

  /// Claims and runs tasks of job `generation` until none is left.
  private func work(generation: Int, worker: Int) {
    while true {
      var word = ticket.load(ordering: .acquiring)
      var claimed = -1
      while true {
        let next = word & Self.maxTasks
        let tasks = (word >> Self.taskBits) & Self.maxTasks
        guard word >> 48 == generation, next < tasks else { break }
        let (exchanged, original) = ticket.compareExchange(
          expected: word, desired: word + 1, ordering: .acquiringAndReleasing)
        if exchanged {
          claimed = next
          break
        }
        word = original
      }
      guard claimed >= 0 else { return }
      let start = recordsTimings ? Self.now() : 0
      invoke(claimed, worker)
      if recordsTimings { busyNanoseconds.add(Self.now() - start, ordering: .relaxed) }
      completed.add(1, ordering: .releasing)
    }
  }

  /// Runs task `task` of the current job. Not inlined, so that the reference to the job it
  /// takes is released before the task counts as completed.
  @inline(never)
  private func invoke(_ task: Int, _ worker: Int) {
    job?.runTask(task, worker: worker)
  }

  /// The loop of worker `index`: wait for a job, take part when the job has room for it.
  private func workerLoop(_ index: Int) {
    _ = WorkerPool.enterTask()
    var seen = 0
    while true {
      guard let word = waitForJob(after: seen) else { return }
      seen = word >> 48
      let participants = (word >> 40) & 0xFF
      if index < participants { work(generation: seen, worker: index) }
    }
  }

  /// Spins, then sleeps, until a job newer than generation `seen` is posted; nil once the
  /// pool retires.
  private func waitForJob(after seen: Int) -> Int? {
    var spins = 0
    var deadline: UInt64 = 0
    while true {
      let word = ticket.load(ordering: .acquiring)
      if word >> 48 != seen { return word }
      if stopping.load(ordering: .relaxed) { return nil }
      spins += 1
      if spins & 255 != 0 {
        bumpkit_cpu_relax()
        continue
      }
      let now = UInt64(Self.now())
      if deadline == 0 {
        deadline = now + Self.spinNanoseconds
        continue
      }
      guard now >= deadline else { continue }
      pthread_mutex_lock(mutex)
      sleepers.add(1, ordering: .sequentiallyConsistent)
      while ticket.load(ordering: .sequentiallyConsistent) >> 48 == seen && !stopping.load(ordering: .relaxed) {
        pthread_cond_wait(condition, mutex)
      }
      sleepers.subtract(1, ordering: .sequentiallyConsistent)
      pthread_mutex_unlock(mutex)
      deadline = 0
    }
  }

  private func startWorker(_ index: Int) {
    final class Start {
      let pool: WorkerPool
      let index: Int
      init(_ pool: WorkerPool, _ index: Int) { (self.pool, self.index) = (pool, index) }
    }
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    let context = Unmanaged.passRetained(Start(self, index)).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(&thread, &attributes, { context in
      let start = Unmanaged<AnyObject>.fromOpaque(context!).takeRetainedValue()
      if let start = start as? Start { start.pool.workerLoop(start.index) }
      return nil
    }, context)
    if status != 0 {
      // No thread: the jobs run on fewer threads (the posting thread always takes part).
      Unmanaged<Start>.fromOpaque(context).release()
    }
  }

  /// The job timings since the last reset: jobs, their wall time, the thread time they
  /// offered (wall time × participants) and the time tasks ran, in seconds.
  package var timings: (jobs: Int, wall: Double, offered: Double, busy: Double) {
    (jobCount, Double(jobNanoseconds) * 1e-9, Double(participantNanoseconds) * 1e-9,
     Double(busyNanoseconds.load(ordering: .relaxed)) * 1e-9)
  }

  /// Clears ``timings``.
  package func resetTimings() {
    jobCount = 0
    jobNanoseconds = 0
    participantNanoseconds = 0
    busyNanoseconds.store(0, ordering: .relaxed)
  }

  /// The monotonic clock, in nanoseconds.
  package static func now() -> Int {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return t.tv_sec * 1_000_000_000 + t.tv_nsec
  }
}

/// A job that ``WorkerPool/run(tasks:workers:job:)`` runs: an object whose tasks write
/// their own memory.
package protocol WorkerPoolJob: AnyObject {
  /// Runs task `task` on the pool thread numbered `worker` (no two running tasks share one).
  func runTask(_ task: Int, worker: Int)
}

/// A closure as a job (``WorkerPool/run(tasks:workers:_:)``).
private final class ClosureJob: WorkerPoolJob {
  var body: ((Int, Int) -> Void)?
  func runTask(_ task: Int, worker: Int) { body?(task, worker) }
}

// MARK: - The current thread's pool

extension WorkerPool {
  private static let threadKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
  }()

  // A thread's entry: nil (none: RowTasks uses Dispatch), the `inside` marker (a task is
  // running here: run serially), or an unretained pool (RowTasks runs on it).
  private static var insideMarker: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: 1)! }

  /// Whether the current thread is running a task of a pool (or is a pool's worker).
  package static var isInsideTask: Bool {
    entry == insideMarker
  }

  /// The current thread's entry (C returns it as an implicitly unwrapped optional: keep it
  /// optional).
  private static var entry: UnsafeMutableRawPointer? { pthread_getspecific(threadKey) }

  /// Marks the current thread as running a task; returns its entry before, for
  /// ``leaveTask(_:)``.
  static func enterTask() -> UnsafeMutableRawPointer? {
    let previous = entry
    pthread_setspecific(threadKey, insideMarker)
    return previous
  }

  static func leaveTask(_ previous: UnsafeMutableRawPointer?) {
    pthread_setspecific(threadKey, previous)
  }

  /// The pool that ``RowTasks`` runs on for the current thread, if any.
  package static var current: WorkerPool? {
    guard let raw = entry, raw != insideMarker else { return nil }
    return Unmanaged<WorkerPool>.fromOpaque(raw).takeUnretainedValue()
  }

  /// Runs `body` with `pool` as the current thread's pool (nil: none), restoring the
  /// previous one afterwards.
  package static func withCurrent<R, E: Error>(_ pool: WorkerPool?, _ body: () throws(E) -> R) throws(E) -> R {
    let previous = entry
    pthread_setspecific(threadKey, pool.map { Unmanaged.passUnretained($0).toOpaque() })
    defer { pthread_setspecific(threadKey, previous) }
    return try body()
  }
}

// MARK: - Parts that stay with their thread

/// Hands out the parts of a job once each, every thread taking first the parts of its own
/// share: with `threads` threads, thread `w` (a pool's `worker` number) owns parts
/// `w·count/threads ..< (w+1)·count/threads`, and only when its own are taken does it take
/// another's, from the end of that thread's share.
///
/// A pool's tasks go to whichever thread claims them first, so from one job to the next a
/// thread would work on other memory — a training step's shard, a slice of the gradients or
/// of the optimizer's state — which then moves between the cores' caches every step. A job
/// whose task `k` runs "the next part of this thread's share" instead keeps each thread on
/// the same memory step after step, while a late thread's parts are still taken by the
/// others. Which thread runs a part never changes what the part computes.
package final class PreferredParts: @unchecked Sendable {
  /// The claimed parts, one bit each.
  private let claimed = Atomic<UInt64>(0)

  /// At most this many parts a job.
  package static let maximumCount = 64

  package init() {}

  /// Makes every part free again. Call it before posting each job; the pool's posting
  /// publishes it to the threads.
  package func reset() {
    claimed.store(0, ordering: .relaxed)
  }

  /// Claims a part of `0..<count` for thread `worker` of `threads`: the first free one of its
  /// own share, else the last free one of the others', or nil when every part is taken.
  package func claim(worker: Int, threads: Int, count: Int) -> Int? {
    precondition(count >= 0 && count <= Self.maximumCount, "at most 64 parts")
    let all: UInt64 = count == 64 ? ~0 : (1 << UInt64(count)) - 1
    let t = max(1, min(threads, count)), w = min(max(0, worker), t - 1)
    let (lo, hi) = (w * count / t, (w + 1) * count / t)
    let own: UInt64 = hi == lo ? 0 : (hi - lo == 64 ? ~0 : ((1 << UInt64(hi - lo)) - 1) << UInt64(lo))
    var current = claimed.load(ordering: .relaxed)
    while true {
      let free = ~current & all
      guard free != 0 else { return nil }
      let mine = free & own
      let pick = mine != 0 ? mine.trailingZeroBitCount : 63 - free.leadingZeroBitCount
      let (exchanged, original) = claimed.compareExchange(
        expected: current, desired: current | (1 << UInt64(pick)), ordering: .relaxed)
      if exchanged { return pick }
      current = original
    }
  }
}
