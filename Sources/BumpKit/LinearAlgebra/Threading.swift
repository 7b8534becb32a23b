internal import COpenBLAS
import Synchronization

/// The process-wide thread count for BumpKit's heavy work: the shards of `fit`'s training
/// steps and the row blocks of predictions (on a pool of long-lived threads, each with
/// single-threaded BLAS), OpenBLAS outside them (matrix products, LAPACK), the bump kernels
/// and the optimizers' update passes (``SGD``, ``Adam``, ``AdamW``).
///
/// This is the one setting for threads: nothing else in BumpKit takes a thread count
/// (`KernelOptions/defaultThreadCount`, which it sets, is the same count as BumpKernels
/// sees it, for code that uses the kernels without BumpKit). Training a model of built-in
/// layers and predicting give the same bits whatever the count: shards and blocks are fixed
/// by the shape, not by the threads (see the Performance article). The bump kernels and the
/// optimizers do not depend on it either; OpenBLAS's own threaded products, where you call
/// them directly, may differ in the last bits between thread counts.
///
/// On a machine shared with other work, 1 is often faster than the number of cores: a
/// thread that waits for a busy core stalls the whole product (see the Performance
/// article). The environment variable `OPENBLAS_NUM_THREADS` sets OpenBLAS's count when the
/// process starts; assigning ``threadCount`` overrides it.
public enum Threading {
  /// The number of threads training steps, predictions, OpenBLAS, the bump kernels and the
  /// optimizers use (≥ 1).
  ///
  /// Reading returns the count last assigned, or OpenBLAS's (`openblas_get_num_threads`)
  /// before any assignment. Assigning n sets OpenBLAS's count (`openblas_set_num_threads`)
  /// and `KernelOptions/defaultThreadCount` to max(1, n). Set it before starting work, not
  /// while other threads are calling BLAS. `fit` runs the shards of a training step on this
  /// many long-lived threads, each with single-threaded BLAS (see the Performance article).
  public static var threadCount: Int {
    get {
      let set = configured.load(ordering: .relaxed)
      return set > 0 ? set : Int(openblas_get_num_threads())
    }
    set {
      let count = max(1, newValue)
      blasHolds.withLock { holds in
        configured.store(count, ordering: .relaxed)
        // While a training step holds BLAS to one thread, the count applies when it ends.
        if holds == 0 { openblas_set_num_threads(Int32(clamping: count)) }
      }
      KernelOptions.defaultThreadCount = count
    }
  }

  /// The count assigned to ``threadCount``, or 0 before any assignment.
  private static let configured = Atomic<Int>(0)
  /// How many calls hold OpenBLAS to one thread now (``withSingleThreadedBLAS(_:)``).
  private static let blasHolds = Mutex<Int>(0)
  /// The shared pool of training workers (``workerPool()``).
  private static let pool = Mutex<WorkerPool?>(nil)

  /// Runs `body` with OpenBLAS held to one thread (each shard of a training step runs its
  /// products on its own thread), restoring ``threadCount`` when the last such call ends.
  static func withSingleThreadedBLAS<R>(_ body: () throws -> R) rethrows -> R {
    // Already one thread (and nobody holding): nothing to change, nothing to restore.
    if configured.load(ordering: .relaxed) == 1 { return try body() }
    blasHolds.withLock { holds in
      if holds == 0 {
        if configured.load(ordering: .relaxed) == 0 {
          configured.store(Int(openblas_get_num_threads()), ordering: .relaxed)
        }
        openblas_set_num_threads(1)
      }
      holds += 1
    }
    defer {
      blasHolds.withLock { holds in
        holds -= 1
        if holds == 0 { openblas_set_num_threads(Int32(clamping: max(1, configured.load(ordering: .relaxed)))) }
      }
    }
    return try body()
  }

  /// The process's pool of long-lived workers for ``threadCount`` threads (nil for one
  /// thread), made on first use and remade when the count changes.
  static func workerPool() -> WorkerPool? {
    let threads = threadCount
    return pool.withLock { pool in
      if let existing = pool, existing.threadCount == min(threads, WorkerPool.maxThreads) { return existing }
      pool?.retire()
      pool = threads > 1 ? WorkerPool(threads: threads) : nil
      return pool
    }
  }
}