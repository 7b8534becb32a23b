import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Which implementation of a kernel runs.
public enum KernelImplementation: Hashable, Sendable, CustomStringConvertible {
  /// The plain element-by-element loop with the C library's `exp`: the baseline that the
  /// tests and the benchmark compare against.
  case scalarReference
  /// The vectorized kernel with this many lanes per vector. Float supports 4, 8 and 16;
  /// Double 2, 4 and 8 (``KernelScalar/supportedSIMDWidths``).
  case simd(width: Int)

  public var description: String {
    switch self {
    case .scalarReference: return "scalar"
    case .simd(let w): return "simd\(w)"
    }
  }
}

/// How a kernel call runs: which implementation, on how many threads.
///
/// Results never depend on `threads`: rows are cut into tasks of a size fixed by the matrix
/// shape alone, and the per-task partial sums are combined in task order.
public struct KernelOptions: Sendable {
  /// The implementation; `nil` picks ``KernelScalar/preferredSIMDWidth``.
  public var implementation: KernelImplementation?
  /// The most threads a call may use (≥ 1). Small inputs run on the calling thread.
  public var threads: Int

  /// Outputs of at least this many bytes (one buffer: the forward pass's output or cache,
  /// the backward pass's dL/dx) are written by the SIMD kernels on x86-64 with non-temporal
  /// stores wherever a whole vector lands on an address aligned to its size: the vector goes
  /// to memory without its cache line being read in first. A forward call in place, or a
  /// backward call writing dL/dx over the upstream gradient, uses ordinary stores throughout.
  /// Results are the same bits either way. 0 makes every call stream and `Int.max` none (the
  /// tests compare the two); the library keeps the default.
  package var nonTemporalStoreBytes = KernelOptions.defaultNonTemporalStoreBytes

  /// 8 MiB: an output this large is not read back from the caches soon (it is more than a
  /// core's L2 several times over, and a large share of a typical L3), so reading each of its
  /// lines in before overwriting it is wasted memory traffic — a third more for the forward
  /// and backward passes over a 4096 × 1024 Float batch whose cache is the output. Smaller
  /// outputs, such as a training batch's activations, stay in the caches for the next layer.
  package static let defaultNonTemporalStoreBytes = 8 << 20

  /// Options with the process-wide default thread count (``KernelOptions/defaultThreadCount``).
  public init(implementation: KernelImplementation? = nil, threads: Int? = nil) {
    self.implementation = implementation
    self.threads = max(1, threads ?? KernelOptions.defaultThreadCount)
  }

  private static let _defaultThreads = Atomic<Int>(KernelOptions.onlineProcessors)

  /// The thread count a call uses when its options do not say. Starts at the number of
  /// online processors. `Threading.threadCount` (in BumpKit) sets this and OpenBLAS's count together.
  public static var defaultThreadCount: Int {
    get { _defaultThreads.load(ordering: .relaxed) }
    set { _defaultThreads.store(max(1, newValue), ordering: .relaxed) }
  }

  static var onlineProcessors: Int {
    #if canImport(Glibc)
    return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    #else
    return 1
    #endif
  }
}
