internal import COpenBLAS

#if canImport(Glibc)
  import Glibc
#endif

/// The BLAS library that BumpKit's matrix products run on.
public enum BLAS {
  /// What OpenBLAS chose when it was loaded: its kernel set ("core"), build configuration and
  /// thread count, with advice when the core does not fit this CPU.
  ///
  /// OpenBLAS picks its kernels by CPU model when the library is loaded. Builds older than
  /// the CPU do not know it and fall back to a generic core (`Prescott`, SSE3), whose matrix
  /// products are several times slower than a core that uses AVX2 or AVX-512. The environment
  /// variable `OPENBLAS_CORETYPE`, read once at load, overrides the choice; BumpKit never sets
  /// it, because some old OpenBLAS builds compute wrong results with a forced core on some
  /// CPUs. ``BLASConfiguration/advice`` says when setting it may pay, and to what.
  ///
  /// Safe to read from any thread: OpenBLAS writes its build string into one static buffer
  /// on every call (two threads at once could garble it), so it is read once, here.
  public static var configuration: BLASConfiguration {
    BLASConfiguration(
      coreName: loadTime.coreName, buildConfiguration: loadTime.build,
      threadCount: Int(openblas_get_num_threads()), cpu: .current)
  }

  /// The core and the build string, fixed when OpenBLAS was loaded; read once (a static
  /// `let` is initialised once, whatever the threads).
  private static let loadTime = (
    coreName: String(cString: openblas_get_corename()), build: String(cString: openblas_get_config())
  )

  /// Ends OpenBLAS's idle worker threads, if this OpenBLAS can (it starts them again for its
  /// next threaded product); returns whether it could.
  ///
  /// OpenBLAS starts its threads when it is loaded, and after loading and after every
  /// threaded product they wait for work by spinning with `sched_yield` for about 2²⁸ clock
  /// ticks (a tenth of a second) before they sleep. A program that reads its data first, on
  /// every core, loses a share of them to that spinning: on two cores, a third for the first
  /// tenth of a second. Call this only while no other thread is inside OpenBLAS (the command
  /// line tool calls it before it reads a file); it is OpenBLAS's own fork handler
  /// (`blas_thread_shutdown_`), looked up by name, and does nothing with another BLAS.
  ///
  /// Under a limit on the address space or the data segment it does nothing: a thread that
  /// OpenBLAS starts then may never get the memory it allocates first, and ending it would
  /// wait for it forever.
  @discardableResult
  package static func endIdleThreads() -> Bool {
    guard let shutdown = idleThreadShutdown, !hasMemoryLimit else { return false }
    return shutdown() == 0
  }

  /// Whether the process's address space or data segment is limited (`ulimit -v`, `-d`).
  private static var hasMemoryLimit: Bool {
    for resource in [RLIMIT_AS, RLIMIT_DATA] {
      var limit = rlimit()
      guard getrlimit(__rlimit_resource_t(resource.rawValue), &limit) == 0 else { return true }
      if limit.rlim_cur != rlim_t.max { return true }  // RLIM_INFINITY
    }
    return false
  }

  /// Whether ``endIdleThreads()`` can end them (the loaded BLAS is an OpenBLAS that has
  /// `blas_thread_shutdown_`).
  package static var canEndIdleThreads: Bool { idleThreadShutdown != nil }

  private typealias Shutdown = @convention(c) () -> Int32

  /// OpenBLAS's `blas_thread_shutdown_`, if the loaded BLAS has it.
  private static let idleThreadShutdown: Shutdown? = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "blas_thread_shutdown_") else { return nil }
    return unsafeBitCast(symbol, to: Shutdown.self)
  }()
}

/// OpenBLAS's kernel choice and build, next to the CPU's features.
public struct BLASConfiguration: Sendable, Equatable, CustomStringConvertible {
  /// OpenBLAS's core name (`openblas_get_corename`), e.g. "Haswell", "SkylakeX", "Prescott".
  public var coreName: String
  /// OpenBLAS's build string (`openblas_get_config`), e.g.
  /// "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64".
  public var buildConfiguration: String
  /// OpenBLAS's current thread count.
  public var threadCount: Int
  /// The features of the CPU the process runs on.
  public var cpu: CPUFeatures

  /// A configuration from its parts (``BLAS/configuration`` reads the real one).
  public init(coreName: String, buildConfiguration: String, threadCount: Int, cpu: CPUFeatures) {
    self.coreName = coreName
    self.buildConfiguration = buildConfiguration
    self.threadCount = threadCount
    self.cpu = cpu
  }

  /// OpenBLAS cores without AVX2 kernels: on an AVX2 or AVX-512 CPU they leave most of its
  /// speed unused. Compared without regard to case.
  public static let genericCores: Set<String> = [
    "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine",
    "northwood", "banias", "athlon", "opteron", "opteron_sse3", "barcelona", "bobcat",
    "bulldozer", "piledriver", "steamroller", "sandybridge", "generic",
  ]

  /// Whether OpenBLAS runs one of the ``genericCores``.
  public var isGenericCore: Bool { Self.genericCores.contains(coreName.lowercased()) }

  /// The OpenBLAS core that matches this CPU's vector extensions when OpenBLAS runs a
  /// generic one: "Cooperlake" for AVX-512 with BF16, "SkylakeX" for other AVX-512,
  /// "Haswell" for AVX2; nil when the core already fits or the CPU has neither.
  public var recommendedCoreType: String? {
    guard isGenericCore else { return nil }
    if cpu.hasAVX512 { return cpu.hasAVX512BF16 ? "Cooperlake" : "SkylakeX" }
    if cpu.hasAVX2 { return "Haswell" }
    return nil
  }

  /// One warning line when OpenBLAS runs a generic core on an AVX2 or AVX-512 CPU, naming
  /// `OPENBLAS_CORETYPE` and the core that matches; nil otherwise.
  public var advice: String? {
    guard let core = recommendedCoreType else { return nil }
    let alternative = core == "Cooperlake" ? " (or SkylakeX)" : ""
    return "warning: OpenBLAS runs its generic \(coreName) kernels on this \(cpu) CPU; matrix "
      + "products may run several times faster with OPENBLAS_CORETYPE=\(core)\(alternative) in "
      + "the environment. Check your results with it: some older OpenBLAS builds compute wrong "
      + "results with a forced core on some CPUs. BumpKit never sets it."
  }

  /// "OpenBLAS 0.3.21 … — core Haswell, 2 threads, CPU AVX2 + FMA".
  public var description: String {
    "\(buildConfiguration) — core \(coreName), \(threadCount) thread\(threadCount == 1 ? "" : "s"), CPU \(cpu)"
  }
}
