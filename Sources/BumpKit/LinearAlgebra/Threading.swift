internal import COpenBLAS

/// The process-wide thread count for BumpKit's heavy work: OpenBLAS (matrix products,
/// LAPACK) and the bump kernels.
///
/// This is the one setting for threads. Results of the bump kernels do not depend on it;
/// OpenBLAS results may differ in the last bits between thread counts.
///
/// On a machine shared with other work, 1 is often faster than the number of cores: a
/// thread that waits for a busy core stalls the whole product (see the Performance
/// article). The environment variable `OPENBLAS_NUM_THREADS` sets OpenBLAS's count when the
/// process starts; assigning ``threadCount`` overrides it.
public enum Threading {
  /// The number of threads OpenBLAS and the bump kernels use (≥ 1).
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
