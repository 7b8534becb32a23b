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
