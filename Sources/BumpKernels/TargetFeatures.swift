import _BumpKernelsShims

/// CPU features that the current build targets (from `-Xcc -march=...`), known at compile
/// time: branches on them are folded away by the optimizer.
public enum TargetFeatures {
  /// Fused multiply-add instructions (x86-64-v3 and later): `addingProduct` is one
  /// instruction. Without them it is a library call, about 20× slower than `a * b + c`.
  @inlinable @inline(__always)
  public static var hasFMA: Bool { BUMPKIT_HAS_FMA != 0 }
  /// 256-bit integer and floating-point vectors (AVX2).
  @inlinable @inline(__always)
  public static var hasAVX2: Bool { BUMPKIT_HAS_AVX2 != 0 }
  /// 512-bit vectors (AVX-512F).
  @inlinable @inline(__always)
  public static var hasAVX512: Bool { BUMPKIT_HAS_AVX512 != 0 }

  /// A one-line summary, e.g. "x86-64 baseline (SSE2)" or "AVX-512 + FMA".
  public static var summary: String {
    if hasAVX512 { return "AVX-512 + FMA" }
    if hasAVX2 { return hasFMA ? "AVX2 + FMA" : "AVX2" }
    return hasFMA ? "FMA" : "x86-64 baseline (SSE2)"
  }
}

/// CPU features of the machine the process runs on, read once from CPUID (and from XGETBV,
/// so that a feature counts only when the operating system saves its registers).
///
/// ``TargetFeatures`` says what the build uses; this says what the processor offers. The two
/// differ for a portable build on a newer CPU, and the BLAS library makes its own choice at
/// load time (see `BLAS.configuration` in BumpKit). On other architectures every feature is
/// `false`.
public struct CPUFeatures: Sendable, Equatable, CustomStringConvertible {
  /// Fused multiply-add (FMA3).
  public var hasFMA: Bool
  /// 256-bit integer vectors (AVX2).
  public var hasAVX2: Bool
  /// 512-bit vectors (AVX-512 Foundation).
  public var hasAVX512: Bool
  /// AVX-512 bfloat16 instructions, which tell Cooper Lake and later Intel cores (and Zen 4)
  /// apart from Skylake-X.
  public var hasAVX512BF16: Bool

  /// A feature set from its parts (for tests and for describing another machine).
  public init(hasFMA: Bool, hasAVX2: Bool, hasAVX512: Bool, hasAVX512BF16: Bool = false) {
    self.hasFMA = hasFMA
    self.hasAVX2 = hasAVX2
    self.hasAVX512 = hasAVX512
    self.hasAVX512BF16 = hasAVX512BF16
  }

  /// The features of this machine.
  public static let current: CPUFeatures = {
    let bits = bumpkit_cpu_features()
    return CPUFeatures(
      hasFMA: bits & BUMPKIT_CPU_FMA != 0, hasAVX2: bits & BUMPKIT_CPU_AVX2 != 0,
      hasAVX512: bits & BUMPKIT_CPU_AVX512F != 0, hasAVX512BF16: bits & BUMPKIT_CPU_AVX512BF16 != 0)
  }()

  /// The widest vector extension, e.g. "AVX-512 (BF16)", "AVX2 + FMA" or "SSE2".
  public var description: String {
    if hasAVX512 { return hasAVX512BF16 ? "AVX-512 (BF16)" : "AVX-512" }
    if hasAVX2 { return hasFMA ? "AVX2 + FMA" : "AVX2" }
    return hasFMA ? "FMA" : "SSE2"
  }
}
