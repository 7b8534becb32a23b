internal import COpenBLAS

/// The process-wide thread count for BumpKit's heavy work: OpenBLAS (matrix products,
/// LAPACK), the bump kernels and the optimizers' update passes (``SGD``, ``Adam``, ``AdamW``).
///
/// This is the one setting for threads: nothing else in BumpKit takes a thread count
/// (`KernelOptions/defaultThreadCount`, which it sets, is the same count as BumpKernels
/// sees it, for code that uses the kernels without BumpKit). Results of the bump kernels and
/// the optimizers do not depend on it; OpenBLAS results may differ in the last bits between
/// thread counts.
///
/// On a machine shared with other work, 1 is often faster than the number of cores: a
/// thread that waits for a busy core stalls the whole product (see the Performance
/// article). The environment variable `OPENBLAS_NUM_THREADS` sets OpenBLAS's count when the
/// process starts; assigning ``threadCount`` overrides it.
public enum Threading {
  /// The number of threads OpenBLAS, the bump kernels and the optimizers use (≥ 1).
  ///
  /// Reading returns OpenBLAS's current count (`openblas_get_num_threads`). Assigning n sets
  /// OpenBLAS's count (`openblas_set_num_threads`) and `KernelOptions/defaultThreadCount`
  /// to max(1, n). Set it before starting work, not while other threads are calling BLAS.
  public static var threadCount: Int {
    get { Int(openblas_get_num_threads()) }
    set {
      let count = max(1, newValue)
      openblas_set_num_threads(Int32(clamping: count))
      KernelOptions.defaultThreadCount = count
    }
  }
}
