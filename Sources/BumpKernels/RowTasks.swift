import Dispatch
import Synchronization

/// Cuts rows into tasks whose size depends on the matrix shape alone, so that partial sums
/// — and hence results — are the same whatever the number of threads.
package enum RowTasks {
  /// Rows per accumulation block: parameter gradients are summed in the kernel's scalar type
  /// over at most this many rows, then added into Double partials.
  package static let blockRows = 32

  /// Elements per task: large enough to amortize a thread hand-off (several microseconds
  /// through Dispatch), small enough that a late thread cannot hold the others up for long.
  /// A 128 × 256 training batch is one task: split in two (2¹⁴ elements per task) it ran
  /// slower on two shared vCPUs than on one, since the hand-off costs about what the half
  /// saves.
  package static let taskElements = 1 << 16

  package static func rowsPerTask(rows: Int, columns: Int) -> Int {
    let target = max(1, taskElements / max(1, columns))
    let rounded = (target + blockRows - 1) / blockRows * blockRows
    return max(blockRows, rounded)
  }

  /// Runs `body(task, rowRange, worker)` over every task, on up to `threads` threads.
  /// `worker` is in 0..<min(threads, taskCount) and no two running bodies share one.
  ///
  /// With `lastFirst`, the tasks are handed out from the last rows to the first: a pass
  /// that follows one over the same rows then starts on the rows the earlier pass touched
  /// last, which may still be in the caches. Each task's rows and number are the same either
  /// way, so results that are combined by task number do not change.
  package static func run(
    rows: Int, rowsPerTask: Int, threads: Int, lastFirst: Bool = false,
    _ body: (_ task: Int, _ rows: Range<Int>, _ worker: Int) -> Void
  ) {
    let taskCount = (rows + rowsPerTask - 1) / rowsPerTask
    let workers = min(threads, taskCount)
    @Sendable func task(_ k: Int) -> Int { lastFirst ? taskCount - 1 - k : k }
    @Sendable func range(_ t: Int) -> Range<Int> { (t * rowsPerTask)..<min(rows, (t + 1) * rowsPerTask) }
    if workers <= 1 || WorkerPool.isInsideTask {
      for k in 0..<taskCount {
        let t = task(k)
        body(t, range(t), 0)
      }
      return
    }
    // A thread with a pool of long-lived workers (a sharded training step's) hands its
    // tasks to them instead of Dispatch, whose hand-off costs several microseconds.
    if let pool = WorkerPool.current {
      pool.run(tasks: taskCount, workers: workers) { k, worker in
        let t = task(k)
        body(t, range(t), worker)
      }
      return
    }
    // Tasks are handed out one at a time, so a thread slowed by another process costs at
    // most one task's time. Every task writes disjoint memory, so sharing the closure
    // across threads is safe although the type system cannot see it.
    let next = Atomic<Int>(0)
    withoutActuallyEscaping(body) { body in
      let shared = UncheckedSendable(body)
      DispatchQueue.concurrentPerform(iterations: workers) { worker in
        while true {
          let k = next.add(1, ordering: .relaxed).oldValue
          if k >= taskCount { break }
          let t = task(k)
          shared.value(t, range(t), worker)
        }
      }
    }
  }

  /// Runs `job.runTask(task, worker:)` for every task in `0..<tasks` on up to `threads`
  /// threads, as ``run(rows:rowsPerTask:threads:_:)`` does; on the current thread's pool it
  /// allocates nothing.
  package static func run(tasks: Int, threads: Int, job: some WorkerPoolJob) {
    let workers = min(threads, tasks)
    if workers > 1, !WorkerPool.isInsideTask, let pool = WorkerPool.current {
      pool.run(tasks: tasks, workers: workers, job: job)
      return
    }
    run(rows: tasks, rowsPerTask: 1, threads: threads) { task, _, worker in job.runTask(task, worker: worker) }
  }

  package static func taskCount(rows: Int, rowsPerTask: Int) -> Int {
    (rows + rowsPerTask - 1) / rowsPerTask
  }
}

/// Carries a value across a concurrency boundary that the caller has checked by hand.
struct UncheckedSendable<T>: @unchecked Sendable {
  let value: T
  init(_ value: T) { self.value = value }
}
