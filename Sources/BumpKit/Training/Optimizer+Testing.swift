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

/// The worker pool of `fit`'s training steps, and its test hook.
package enum TrainingWorkers {
  /// For tests within the package: the pool that steps taken on this task within
  /// `TrainingWorkers.$override.withValue(pool) { … }` run on; nil (the default) uses the
  /// process's pool for ``Threading/threadCount`` threads.
  @TaskLocal package static var override: WorkerPool?

  /// The pool of a training step: ``override`` when set, else the process's.
  static var pool: WorkerPool? { override ?? Threading.workerPool() }
}
