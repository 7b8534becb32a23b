import BumpKernels
import Testing
import BumpTestSupport

/// Value and every partial derivative of g = a·f(x − c; σ), element by element, against a
/// wide reference (``TestScalar/reference(z:sigma:)``) and the numeric rules of the "The bump function" article
/// (see ``ElementCheck``), for the scalar reference and every SIMD width.
@Suite("Bump accuracy")
struct BumpAccuracyTests {
  /// Random (x, σ, c, a) that reach every regime: the bulk of the support, the steep edge
  /// (t up to where f underflows and beyond), z ≈ 0, outside, and σ over the whole normal
  /// range — or, with `subnormalSigma`, σ in the subnormal range only.
  static func randomProblem<S: TestScalar>(
    _: S.Type, count n: Int, seed: UInt64, subnormalSigma: Bool = false
  ) -> Problem<S> {
    var rng = SplitMix64(seed: seed)
    let isFloat = S.self == Float.self
    let sigmaRange = isFloat ? (1e-36, 1e36) : (1e-300, 1e300)
    var x = [S](), sigma = [S](), center = [S](), amplitude = [S]()
    x.reserveCapacity(n)
    sigma.reserveCapacity(n)
    center.reserveCapacity(n)
    amplitude.reserveCapacity(n)
    for _ in 0..<n {
      let s: S
      if subnormalSigma {
        s = S(rng.logUniform(Double(S.leastNonzeroMagnitude), Double(S.leastNormalMagnitude)))
      } else if rng.chance(0.5) {
        s = S(rng.logUniform(1e-3, 1e3))
      } else {
        s = S(rng.logUniform(sigmaRange.0, sigmaRange.1))
      }
      // Position in units of √σ.
      let r: Double
      switch rng.unit() {
      case ..<0.4: r = rng.unit()
      case ..<0.65: r = 1 - rng.logUniform(1e-3, 1)  // t up to ~500: f from e⁻¹ to 0
      case ..<0.7: r = 1 - rng.logUniform(isFloat ? 1e-7 : 1e-15, 1e-3)  // f = 0 inside
      case ..<0.9: r = rng.uniform(1, 3)  // outside
      default: r = rng.logUniform(1e-20, 1e-3)  // z ≈ 0: tiny ∂f/∂z and ∂f/∂σ
      }
      let root = S.toDouble(S.widen(s).squareRoot())
      let z = rng.sign() * r * root
      let c = rng.chance(0.4) ? 0 : rng.uniform(-3, 3) * root
      let a: Double
      switch rng.unit() {
      case ..<0.3: a = 1
      case ..<0.4: a = -1
      case ..<0.45: a = 0
      default: a = rng.uniform(-3, 3)
      }
      sigma.append(s)
      center.append(S(c))
      x.append(S(c + z))
      amplitude.append(S(a))
    }
    return .elements(x: x, sigma: sigma, center: center, amplitude: amplitude)
  }

  /// A random problem and its wide references, computed once and shared by the tests of
  /// every implementation.
  struct Sweep<S: TestScalar>: Sendable {
    let problem: Problem<S>
    let references: [BumpReference<S.Wide>]

    init(_ problem: Problem<S>) {
      self.problem = problem
      references = problem.x.indices.map { S.reference(z: problem.zAt($0), sigma: problem.sigmaAt($0)) }
    }

    func check(_ implementation: KernelImplementation, _ label: String) -> ElementCheck<S> {
      let results = problem.elementResults(KernelOptions(implementation: implementation, threads: 1))
      var check = ElementCheck<S>("\(S.self) \(implementation) \(label) [\(TargetFeatures.summary)]")
      check.check(problem, results, references: references)
      return check
    }
  }

  static let randomCount = TestConfig.count(release: 1_000_000, debug: 10_000)
  static let subnormalCount = TestConfig.count(release: 200_000, debug: 5_000)
  static let floatRandom = Sweep(randomProblem(Float.self, count: randomCount, seed: 0xB0_0001))
  static let doubleRandom = Sweep(randomProblem(Double.self, count: randomCount, seed: 0xB0_0002))
  static let floatSubnormal = Sweep(randomProblem(Float.self, count: subnormalCount, seed: 0x5AB1, subnormalSigma: true))
  static let doubleSubnormal = Sweep(randomProblem(Double.self, count: subnormalCount, seed: 0x5AB2, subnormalSigma: true))

  static func randomSweep<S: TestScalar>(_ sweep: Sweep<S>, _ implementation: KernelImplementation) {
    let check = sweep.check(implementation, "random")
    print(check.summary)
    #expect(check.accuracyChecked > sweep.problem.x.count / 3, "too few samples in the accuracy domain")
    #expect(check.failureCount == 0, "\(check.failureReport)")
  }

  @Test("Float: 10⁶ random (x, σ, c, a) against a Double reference", arguments: floatImplementations)
  func floatRandom(_ implementation: KernelImplementation) {
    Self.randomSweep(Self.floatRandom, implementation)
  }

  @Test(
    "Double: 10⁶ random (x, σ, c, a) against a Float80 reference",
    .enabled(if: Double.hasWideReference), arguments: doubleImplementations)
  func doubleRandom(_ implementation: KernelImplementation) {
    Self.randomSweep(Self.doubleRandom, implementation)
  }

  // MARK: - Subnormal σ

  /// The numeric rules: "In the subnormal range only the rules above (no NaN, zeros exact)
  /// apply" — and ±∞ only where the true value is beyond the range. One test per rule, so a
  /// failure names the rule it breaks.
  static func subnormalSigma<S: TestScalar>(
    _ sweep: Sweep<S>, _ implementation: KernelImplementation, _ rules: ElementCheck<S>.Rule...
  ) {
    let check = sweep.check(implementation, "subnormal σ")
    for rule in rules {
      #expect(check.failures(of: rule) == 0, "\(check.report(of: rule))")
    }
  }

  @Test("Float, subnormal σ: no NaN from finite inputs", arguments: floatImplementations)
  func floatSubnormalNoNaN(_ implementation: KernelImplementation) {
    Self.subnormalSigma(Self.floatSubnormal, implementation, .noNaN)
  }

  @Test("Float, subnormal σ: exactly 0 outside the support and where f is 0", arguments: floatImplementations)
  func floatSubnormalZeros(_ implementation: KernelImplementation) {
    Self.subnormalSigma(Self.floatSubnormal, implementation, .zeroOutside, .zeroWhereUnderflow)
  }

  @Test("Float, subnormal σ: ±∞ only where the true value overflows", arguments: floatImplementations)
  func floatSubnormalInfinity(_ implementation: KernelImplementation) {
    Self.subnormalSigma(Self.floatSubnormal, implementation, .noSpuriousInfinity)
  }

  @Test(
    "Double, subnormal σ: no NaN from finite inputs", .enabled(if: Double.hasWideReference),
    arguments: doubleImplementations)
  func doubleSubnormalNoNaN(_ implementation: KernelImplementation) {
    Self.subnormalSigma(Self.doubleSubnormal, implementation, .noNaN)
  }

  @Test(
    "Double, subnormal σ: exactly 0 outside the support and where f is 0",
    .enabled(if: Double.hasWideReference), arguments: doubleImplementations)
  func doubleSubnormalZeros(_ implementation: KernelImplementation) {
    Self.subnormalSigma(Self.doubleSubnormal, implementation, .zeroOutside, .zeroWhereUnderflow)
  }

  @Test(
    "Double, subnormal σ: ±∞ only where the true value overflows",
    .enabled(if: Double.hasWideReference), arguments: doubleImplementations)
  func doubleSubnormalInfinity(_ implementation: KernelImplementation) {
    Self.subnormalSigma(Self.doubleSubnormal, implementation, .noSpuriousInfinity)
  }

  /// The NaN that a zero amplitude produces above also comes through a zero upstream
  /// gradient, the common case (masked losses, dead units): where ∂f/∂σ lies beyond the range
  /// (σ subnormal), a term with G = 0 must add 0 to dL/dσ, not 0·∞ = NaN, which would poison
  /// the whole column's sum. Two rows of one column: x = √σ/2 with G = 0, and x = 0 (where
  /// ∂f/∂σ = 0) with G = 1, so the exact dL/dσ is 0.
  static func zeroUpstream<S: TestScalar>(_: S.Type, _ implementation: KernelImplementation) {
    let sigma = S.leastNormalMagnitude / 256
    let x = S.narrow(S.widen(sigma).squareRoot()) / 2
    #expect(S.isBeyondRange(S.reference(z: x, sigma: sigma).dsigma), "the case must have ∂f/∂σ beyond the range")
    let p = Problem<S>(rows: 2, columns: 1, x: [x, 0], sigma: .shared(sigma))
    let b = p.backward(upstream: [0, 1], KernelOptions(implementation: implementation, threads: 1))
    #expect(b.sigma![0] == 0, "dL/dσ = \(b.sigma![0]) for G = [0, 1], x = [\(x), 0], σ = \(sigma); exact 0")
    #expect(b.input! == [0, 0], "dL/dx = \(b.input!), exact [0, 0]")
  }

  @Test("Float, subnormal σ: G = 0 adds exactly 0 to dL/dσ, not NaN", arguments: floatImplementations)
  func floatZeroUpstream(_ implementation: KernelImplementation) { Self.zeroUpstream(Float.self, implementation) }

  @Test(
    "Double, subnormal σ: G = 0 adds exactly 0 to dL/dσ, not NaN", .enabled(if: Double.hasWideReference),
    arguments: doubleImplementations)
  func doubleZeroUpstream(_ implementation: KernelImplementation) { Self.zeroUpstream(Double.self, implementation) }

  // MARK: - The whole finite range

  /// (x, σ, c, a) with |x − c| anywhere in the finite range, σ anywhere in it (subnormal to
  /// the largest finite), and a third of the inputs near the support's edge √σ — also where σ
  /// is so large that z² is near the overflow threshold. Without FMA the exact product that
  /// decides u = σ − z² is where huge z used to give NaN (1.35e154 ≤ |z| in Double, 1.85e19
  /// in Float, while z² overflows or nearly does).
  static func wholeRangeProblem<S: TestScalar>(_: S.Type, count n: Int, seed: UInt64) -> Problem<S> {
    var rng = SplitMix64(seed: seed)
    let least = Double(S.leastNonzeroMagnitude), greatest = Double(S.greatestFiniteMagnitude)
    // Where z² overflows while z is finite, and just below: the band the campaign found.
    let band = S.self == Float.self ? (1e18, 1e30) : (1e150, 1e300)
    var x = [S](), sigma = [S](), center = [S](), amplitude = [S]()
    for _ in 0..<n {
      let s: S
      switch rng.unit() {
      case ..<0.5: s = S(rng.logUniform(least, greatest))
      case ..<0.8: s = S(rng.logUniform(greatest / 1e6, greatest))  // √σ near √max
      default: s = S(rng.logUniform(1e-3, 1e3))
      }
      let root = S.toDouble(S.widen(s).squareRoot())
      let magnitude: Double
      switch rng.unit() {
      case ..<0.35: magnitude = rng.logUniform(least, greatest)
      case ..<0.6: magnitude = rng.logUniform(band.0, band.1)
      default: magnitude = root * (1 + rng.sign() * rng.logUniform(1e-12, 0.5))
      }
      let z = S(rng.sign() * min(magnitude, greatest))
      // A centre of the same order as z half of the time, where x = c + z stays finite.
      var c: S = 0
      if rng.chance(0.5) {
        let candidate = S(rng.sign() * rng.uniform(0, 1) * S.toDouble(S.widen(z.magnitude)))
        if (candidate + z).isFinite { c = candidate }
      }
      sigma.append(s)
      center.append(c)
      x.append(c + z)
      amplitude.append(S(rng.uniform(-3, 3)))
    }
    return .elements(x: x, sigma: sigma, center: center, amplitude: amplitude)
  }

  static func wholeRange<S: TestScalar>(_: S.Type, _ implementation: KernelImplementation) {
    let problem = wholeRangeProblem(S.self, count: TestConfig.count(release: 200_000, debug: 5_000), seed: 0x0F10)
    let band: S = S.self == Float.self ? S(1.85e19) : S(1.35e154)
    let overflowing = problem.x.indices.filter { problem.zAt($0).magnitude >= band && problem.zAt($0).isFinite }.count
    #expect(overflowing > problem.x.count / 10, "the sweep must reach |z| where z² overflows: \(overflowing)")
    let results = problem.elementResults(KernelOptions(implementation: implementation, threads: 1))
    var check = ElementCheck<S>("\(S.self) \(implementation) whole range [\(TargetFeatures.summary)]")
    check.check(problem, results)
    print(check.summary)
    #expect(check.accuracyChecked > problem.x.count / 10, "too few samples in the accuracy domain")
    #expect(check.failureCount == 0, "\(check.failureReport)")
  }

  @Test("Float over the whole finite range: no NaN, exact zeros, accuracy", arguments: floatImplementations)
  func floatWholeRange(_ implementation: KernelImplementation) { Self.wholeRange(Float.self, implementation) }

  @Test(
    "Double over the whole finite range: no NaN, exact zeros, accuracy", .enabled(if: Double.hasWideReference),
    arguments: doubleImplementations)
  func doubleWholeRange(_ implementation: KernelImplementation) { Self.wholeRange(Double.self, implementation) }

  /// The campaign's own inputs: σ = 1 and z from 1e160 (Double) or 1e21 (Float), where the
  /// default build printed NaN in every column.
  @Test("σ = 1 at the campaign's outliers gives exactly 0, value and gradients")
  func campaignOutliers() {
    for implementation in floatImplementations {
      let p = Problem<Float>(rows: 1, columns: 4, x: [1e21, -1e21, 3e19, 1e30], sigma: .shared(1))
      let f = p.forward(KernelOptions(implementation: implementation, threads: 1))
      #expect(f.output == [0, 0, 0, 0], "\(implementation): \(f.output)")
      let b = p.backward(upstream: [1, 1, 1, 1], KernelOptions(implementation: implementation, threads: 1))
      #expect(b.input! == [0, 0, 0, 0] && b.sigma! == [0], "\(implementation): \(b.input!) \(b.sigma!)")
    }
    for implementation in doubleImplementations {
      let p = Problem<Double>(rows: 1, columns: 4, x: [1e160, -1e160, 2e154, 1e299], sigma: .shared(1))
      let f = p.forward(KernelOptions(implementation: implementation, threads: 1))
      #expect(f.output == [0, 0, 0, 0], "\(implementation): \(f.output)")
      let b = p.backward(upstream: [1, 1, 1, 1], KernelOptions(implementation: implementation, threads: 1))
      #expect(b.input! == [0, 0, 0, 0] && b.sigma! == [0], "\(implementation): \(b.input!) \(b.sigma!)")
    }
  }

  // MARK: - Edge cases

  static func edgeSigmas<S: TestScalar>(_: S.Type) -> [S] {
    var s: [S] = [0, .leastNonzeroMagnitude, S(1e-30), S(1e-3), 0.5, 1, 2, 100, S(1e30)]
    s += [S.leastNormalMagnitude, S.leastNormalMagnitude / 4, S(3e-38), S(1e36)]
    if S.self == Double.self { s += [S(0x1p-1030), S(1e-300), S(1e300), S.greatestFiniteMagnitude / 4] }
    return s
  }

  /// z values around the interesting places for one σ: ±0, subnormals, ±∞, NaN, and z with
  /// z² within 1e-7, 1e-4 (and, for Double, 1e-12, 1e-15) relative of σ on both sides.
  static func edgeZ<S: TestScalar>(sigma: S) -> [S] {
    var z: [S] = [
      0, -0.0, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, S.leastNormalMagnitude / 3,
      -S.leastNormalMagnitude / 3, .leastNormalMagnitude, .infinity, -.infinity, .nan,
      1, -1, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
    ]
    let sw = S.widen(sigma)
    let root = sw.squareRoot()
    var relatives = [1e-7, 1e-4, 0.01, 0.5]
    if S.self == Double.self { relatives += [1e-15, 1e-12] }
    for d in relatives {
      for side in [-1.0, 1.0] {
        let v = S.narrow((sw * S.Wide(1 + side * d)).squareRoot())
        z += [v, -v]
      }
    }
    let r = S.narrow(root)
    z += [r, -r, r.nextUp, r.nextDown, -r.nextUp, -r.nextDown, r / 2, -r / 2, r * 0.9, r * 1e-10]
    return z
  }

  enum EdgeVariant: String, CaseIterable, Sendable {
    /// c and a absent: c = 0, a = 1, no c or a gradient.
    case plain
    /// Per-unit c = 0 and a = −2.5.
    case scaled
    /// Per-unit c = 1 (x = z + 1, rounded) and a = 0.75.
    case centered
  }

  static func edgeProblem<S: TestScalar>(_: S.Type, _ variant: EdgeVariant) -> Problem<S> {
    var x = [S](), sigma = [S]()
    for s in edgeSigmas(S.self) {
      for z in edgeZ(sigma: s) {
        sigma.append(s)
        x.append(variant == .centered ? z + 1 : z)
      }
    }
    let n = x.count
    switch variant {
    case .plain:
      return .elements(x: x, sigma: sigma, center: nil, amplitude: nil)
    case .scaled:
      return .elements(
        x: x, sigma: sigma, center: [S](repeating: 0, count: n), amplitude: [S](repeating: -2.5, count: n))
    case .centered:
      return .elements(
        x: x, sigma: sigma, center: [S](repeating: 1, count: n), amplitude: [S](repeating: 0.75, count: n))
    }
  }

  static func edges<S: TestScalar>(_: S.Type, _ implementation: KernelImplementation) {
    for variant in EdgeVariant.allCases {
      let problem = edgeProblem(S.self, variant)
      let results = problem.elementResults(KernelOptions(implementation: implementation, threads: 1))
      var check = ElementCheck<S>("\(S.self) \(implementation) edges/\(variant) [\(TargetFeatures.summary)]")
      check.check(problem, results)
      #expect(check.failureCount == 0, "\(check.failureReport)")
    }
  }

  @Test("Float edge cases: ±0, boundary, tiny and huge σ, subnormals, ±∞, NaN", arguments: floatImplementations)
  func floatEdges(_ implementation: KernelImplementation) {
    Self.edges(Float.self, implementation)
  }

  @Test(
    "Double edge cases: ±0, boundary, tiny and huge σ, subnormals, ±∞, NaN",
    .enabled(if: Double.hasWideReference), arguments: doubleImplementations)
  func doubleEdges(_ implementation: KernelImplementation) {
    Self.edges(Double.self, implementation)
  }

  // MARK: - The public one-element reference

  /// `ScalarReference.evaluate(z:sigma:)` is the documented per-element baseline: it must meet
  /// the same bounds and rules.
  static func evaluate<S: TestScalar>(_: S.Type) {
    let n = TestConfig.count(release: 200_000, debug: 5_000)
    var problem = randomProblem(S.self, count: n, seed: 0xE7A1 &+ UInt64(S.significandBitCount))
    let edges = edgeProblem(S.self, .plain)
    problem = .elements(x: problem.x.indices.map { problem.zAt($0) } + edges.x,
      sigma: problem.x.indices.map { problem.sigmaAt($0) } + edges.x.indices.map { edges.sigmaAt($0) },
      center: nil, amplitude: nil)
    let values = problem.x.indices.map {
      BumpKernel.ScalarReference.evaluate(z: problem.x[$0], sigma: problem.sigmaAt($0))
    }
    let results = ElementResults(
      g: values.map(\.f), f: values.map(\.f), dx: values.map(\.dz), dsigma: values.map(\.dsigma))
    var check = ElementCheck<S>("\(S.self) ScalarReference.evaluate")
    check.check(problem, results)
    print(check.summary)
    #expect(check.failureCount == 0, "\(check.failureReport)")
  }

  @Test("ScalarReference.evaluate (Float) meets the same bounds")
  func evaluateFloat() { Self.evaluate(Float.self) }

  @Test("ScalarReference.evaluate (Double) meets the same bounds", .enabled(if: Double.hasWideReference))
  func evaluateDouble() { Self.evaluate(Double.self) }
}
