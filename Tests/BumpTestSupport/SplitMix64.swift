#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast, and the same sequence on every
/// platform and Swift version, which `SystemRandomNumberGenerator` and the standard
/// library's `random(in:)` algorithms do not promise; test data from it reproduces.
///
/// The same algorithm as BumpKit's `SeededGenerator`, written again on purpose: it is the
/// tests' own reference, not the library's code. The kernel tests and this target do not
/// depend on BumpKit, test data must not move when the library's generator changes, and
/// `SeededGeneratorTests` pins `SeededGenerator`'s stream to this one and to published values.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  /// The state; any value is a valid seed.
  public var state: UInt64

  public init(state: UInt64) { self.state = state }

  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in [0, 1).
  public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

  /// Uniform in [lo, hi).
  public mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * unit() }

  /// Log-uniform in [lo, hi), both positive.
  public mutating func logUniform(_ lo: Double, _ hi: Double) -> Double {
    exp(uniform(log(lo), log(hi)))
  }

  /// True with probability `p`.
  public mutating func chance(_ p: Double) -> Bool { unit() < p }

  /// ±1 with equal probability.
  public mutating func sign() -> Double { next() & 1 == 0 ? 1 : -1 }

  /// An integer in 0..<n.
  public mutating func index(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
