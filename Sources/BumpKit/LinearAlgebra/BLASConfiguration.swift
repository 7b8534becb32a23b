internal import COpenBLAS

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
  public static var configuration: BLASConfiguration {
    BLASConfiguration(
      coreName: String(cString: openblas_get_corename()),
      buildConfiguration: String(cString: openblas_get_config()),
      threadCount: Int(openblas_get_num_threads()),
      cpu: .current)
  }
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
