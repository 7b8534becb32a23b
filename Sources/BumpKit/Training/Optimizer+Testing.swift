/// The thread count of the built-in optimizers' update passes, and its one test hook.
///
/// A step of ``SGD``, ``Adam`` or ``AdamW`` runs its gradient check and update on ``count``
/// threads, in chunks fixed by the parameters' sizes, so its results do not depend on it. The
/// count is the process-wide setting, ``Threading/threadCount``; a test within the package
/// may set ``override`` for the steps it takes, without touching the setting that other
/// tests running at the same time see.
package enum OptimizerThreads {
  /// For tests within the package: the thread count of the update passes of steps taken on
  /// this task within `OptimizerThreads.$override.withValue(n) { … }`; nil (the default)
  /// follows ``Threading/threadCount``.
  @TaskLocal package static var override: Int?

  /// The threads of an update pass (≥ 1): ``override`` when set, else the process-wide count.
  package static var count: Int { max(1, override ?? KernelOptions.defaultThreadCount) }
}

/// The worker pool of `fit`'s training steps and of predictions, and its test hook.
package enum TrainingWorkers {
  /// For tests within the package: the pool that steps taken on this task within
  /// `TrainingWorkers.$override.withValue(pool) { … }` run on; nil (the default) uses the
  /// process's pool for ``Threading/threadCount`` threads.
  @TaskLocal package static var override: WorkerPool?

  /// The pool of a training step: ``override`` when set, else the process's.
  static var pool: WorkerPool? { override ?? Threading.workerPool() }
}

/// For benchmarks within the package: where `fit`'s training steps spend their time, summed
/// over the steps taken while ``isEnabled`` (clock reads around each phase; off by default).
package enum StepPhaseRecorder {
  /// Seconds by phase, summed over ``steps`` steps.
  package struct Totals: Sendable {
    /// Gathering the batch's rows (before the forward pass).
    package var gather = 0.0
    /// The forward pass: every shard's, on the pool.
    package var forward = 0.0
    /// The loss and its gradient, on the calling thread.
    package var loss = 0.0
    /// The backward pass: every shard's, on the pool.
    package var backward = 0.0
    /// Adding the shards' gradient partials.
    package var reduce = 0.0
    /// The optimizer's step.
    package var optimizer = 0.0
    /// Thread time the pool's threads spent idle inside the step's jobs (waiting at the end
    /// of a job for the others): thread-seconds, not wall time.
    package var wait = 0.0
    /// The steps summed.
    package var steps = 0
    /// No steps yet.
    package init() {}
  }

  /// Whether steps record their phases.
  nonisolated(unsafe) package static var isEnabled = false
  /// The sums so far; reset by assigning `Totals()`.
  nonisolated(unsafe) package static var totals = Totals()
}
