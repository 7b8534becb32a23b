import BumpKernels
import Testing
import BumpTestSupport

/// `VectorMath.exp` against a wide reference (Double for Float, Float80 for Double).
///
/// Bounds: at most 2 ulp where the result is normal. Where it is subnormal the numeric rules only
/// asks for no NaN; we also hold it to 2 ulp of the subnormal spacing (the least nonzero
/// magnitude): the documented single rounding of a normal intermediate adds ½ of that
/// spacing to the intermediate's own error (the same polynomial error as for normal results,
/// at most one spacing or so at the top of the subnormal range). Exact special values.
@Suite("Vector exp")
struct ExpTests {
  /// Lowest argument swept densely: below it eˣ rounds to 0.
  static func sweepLow<S: TestScalar>(_: S.Type) -> Double { S.self == Float.self ? -104 : -746 }
  /// Random arguments cover the whole line where eˣ is neither 0 nor ∞, and beyond.
  static func fullRange<S: TestScalar>(_: S.Type) -> ClosedRange<Double> {
    S.self == Float.self ? -110...95 : -760...720
  }

  struct Measured {
    var maxNormalUlp = 0.0, maxNormalAt = 0.0
    var maxSubnormalError = 0.0, maxSubnormalAt = 0.0  // in subnormal ulps
    var failures: [String] = []
    var failureCount = 0
    mutating func fail(_ m: @autoclosure () -> String) {
      failureCount += 1
      if failures.count < 12 { failures.append(m()) }
    }
  }

  static func measure<S: TestScalar>(_ xs: [S], _ implementation: KernelImplementation, into m: inout Measured) {
    var ys = [S](repeating: .nan, count: xs.count)
    xs.withUnsafeBufferPointer { xb in
      ys.withUnsafeMutableBufferPointer { yb in
        VectorMath.exp(xb, into: yb, implementation: implementation)
      }
    }
    let least = S.widen(S.leastNonzeroMagnitude)
    let halfLeast = least / 2
    for (x, y) in zip(xs, ys) {
      let ref = S.wideExp(S.widen(x))
      if x.isNaN {
        if !y.isNaN { m.fail("exp(\(x)) = \(y), expected NaN") }
        continue
      }
      if y.isNaN {
        m.fail("exp(\(x)) = NaN")
        continue
      }
      if S.isBeyondRange(ref) {
        if y != .infinity { m.fail("exp(\(x)) = \(y), expected +∞ (true value \(S.toDouble(ref)))") }
      } else if S.isNormal(ref) {
        let ulps = S.toDouble(abs(S.widen(y) - ref) / S.ulp(at: ref))
        if ulps > m.maxNormalUlp { (m.maxNormalUlp, m.maxNormalAt) = (ulps, Double(x)) }
        if !(ulps <= 2) { m.fail("exp(\(x)) = \(y): \(ulps) ulp from \(S.toDouble(ref))") }
      } else if ref < halfLeast {
        if y != 0 { m.fail("exp(\(x)) = \(y), expected 0 (true value \(S.toDouble(ref)))") }
      } else {
        let err = S.toDouble(abs(S.widen(y) - ref) / least)
        if err > m.maxSubnormalError { (m.maxSubnormalError, m.maxSubnormalAt) = (err, Double(x)) }
        if !(err <= 2) { m.fail("exp(\(x)) = \(y): \(err) subnormal ulps from \(S.toDouble(ref))") }
      }
    }
  }

  static func sweep<S: TestScalar>(_: S.Type, _ implementation: KernelImplementation) {
    let dense = TestConfig.count(release: 1 << 20, debug: 1 << 13)
    let randomCount = TestConfig.count(release: 1 << 18, debug: 1 << 11)
    let low = sweepLow(S.self)
    // A regular grid over [low, 0] (both ends included) ...
    var xs = (0...dense).map { S(low * Double(dense - $0) / Double(dense)) }
    // ... random points over the full range ...
    var rng = SplitMix64(seed: 0xE4B0_0001 ^ UInt64(S.significandBitCount))
    let full = fullRange(S.self)
    xs += (0..<randomCount).map { _ in S(rng.uniform(full.lowerBound, full.upperBound)) }
    // ... and random magnitudes from below the least normal up to 1e30, either sign.
    xs += (0..<randomCount / 4).map { _ in
      let m = rng.logUniform(Double(S.leastNormalMagnitude) * 0x1p-20, 1e30)
      return S(rng.sign() * m)
    }
    var m = Measured()
    measure(xs, implementation, into: &m)
    print("""
      exp \(S.self) \(implementation) [\(TargetFeatures.summary)]: \(xs.count) points, \
      max \(m.maxNormalUlp) ulp (normal results, at x=\(m.maxNormalAt)), \
      max \(m.maxSubnormalError) subnormal ulp (subnormal results, at x=\(m.maxSubnormalAt))
      """)
    #expect(m.failureCount == 0, "\(m.failureCount) failures:\n\(m.failures.joined(separator: "\n"))")
  }

  @Test("Float exp: ≤ 2 ulp on a dense grid and random points", arguments: floatImplementations)
  func floatAccuracy(_ implementation: KernelImplementation) {
    Self.sweep(Float.self, implementation)
  }

  @Test(
    "Double exp: ≤ 2 ulp on a dense grid and random points", .enabled(if: Double.hasWideReference),
    arguments: doubleImplementations)
  func doubleAccuracy(_ implementation: KernelImplementation) {
    Self.sweep(Double.self, implementation)
  }

  static func specialValues<S: TestScalar>(_: S.Type, _ implementation: KernelImplementation) {
    // Padded to more than 16 lanes so that values sit both in full vectors and in the tail.
    let cases: [(S, S)] = [
      (-.infinity, 0), (0, 1), (-0.0, 1), (.infinity, .infinity),
      (1000, .infinity), (S.greatestFiniteMagnitude, .infinity), (-1000, 0),
      (-S.greatestFiniteMagnitude, 0), (S(-1e30), 0), (S(1e30), .infinity),
    ]
    var xs: [S] = []
    for _ in 0..<3 { xs += cases.map(\.0) + [.nan, -.nan] }
    var ys = [S](repeating: 42, count: xs.count)
    xs.withUnsafeBufferPointer { xb in
      ys.withUnsafeMutableBufferPointer { VectorMath.exp(xb, into: $0, implementation: implementation) }
    }
    let stride = cases.count + 2
    for k in 0..<3 {
      for (j, (x, expected)) in cases.enumerated() {
        let y = ys[k * stride + j]
        #expect(sameBits(y, expected) || (expected == 0 && y == 0), "exp(\(x)) = \(y), expected \(expected)")
      }
      #expect(ys[k * stride + cases.count].isNaN, "exp(NaN) is not NaN")
      #expect(ys[k * stride + cases.count + 1].isNaN, "exp(−NaN) is not NaN")
    }

    // Subnormal results: never NaN, never negative, non-increasing toward −∞.
    let lo = S(sweepLow(S.self)), hi = S(S.self == Float.self ? -87 : -707)
    let n = 4096
    let sub = (0...n).map { lo + (hi - lo) * S($0) / S(n) }
    var out = [S](repeating: .nan, count: sub.count)
    sub.withUnsafeBufferPointer { xb in
      out.withUnsafeMutableBufferPointer { VectorMath.exp(xb, into: $0, implementation: implementation) }
    }
    #expect(out.allSatisfy { !$0.isNaN && $0 >= 0 }, "NaN or negative exp in the subnormal range")
    #expect(zip(out, out.dropFirst()).allSatisfy { $0 <= $1 }, "exp is not monotonic in the subnormal range")
  }

  @Test("Float exp special values: ±∞, NaN, 0, overflow, underflow", arguments: floatImplementations)
  func floatSpecialValues(_ implementation: KernelImplementation) {
    Self.specialValues(Float.self, implementation)
  }

  @Test("Double exp special values: ±∞, NaN, 0, overflow, underflow", arguments: doubleImplementations)
  func doubleSpecialValues(_ implementation: KernelImplementation) {
    Self.specialValues(Double.self, implementation)
  }

  @Test("exp writes in place (output aliasing input)", arguments: floatImplementations)
  func inPlace(_ implementation: KernelImplementation) {
    var rng = SplitMix64(seed: 77)
    let xs = (0..<37).map { _ in Float(rng.uniform(-90, 0)) }
    var expected = [Float](repeating: 0, count: xs.count)
    xs.withUnsafeBufferPointer { xb in
      expected.withUnsafeMutableBufferPointer { VectorMath.exp(xb, into: $0, implementation: implementation) }
    }
    var buffer = xs
    buffer.withUnsafeMutableBufferPointer { b in
      VectorMath.exp(UnsafeBufferPointer(b), into: b, implementation: implementation)
    }
    #expect(firstBitDifference(buffer, expected) == nil)
  }
}
