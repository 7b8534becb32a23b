import RealModule

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The noise-free function behind ``Dataset/bumps(samples:noise:seed:)``: a sum of bumps
///
///     y(x) = Σₖ aₖ · f(x − cₖ; σₖ),   f(z; σ) = exp(−σ / (σ − z²)) for z² < σ, else 0,
///
/// with centres c = (−1, 1.2), widths σ = (0.25, 0.5) and amplitudes a = (1, 0.6). Bump k is
/// nonzero on the open interval (cₖ − √σₖ, cₖ + √σₖ): (−1.5, −0.5) and about
/// (0.493, 1.907), so the two do not overlap; each peaks at aₖ·e⁻¹ at its centre.
///
/// A model with bump units should move its σ, c and a towards these values when trained on
/// the dataset.
public struct BumpsTruth: Hashable, Sendable {
  /// One bump a · f(x − c; σ).
  public struct Component: Hashable, Sendable {
    /// The centre c.
    public var center: Double
    /// The width σ; the support is (c − √σ, c + √σ).
    public var sigma: Double
    /// The amplitude a.
    public var amplitude: Double
  }

  /// The bumps, left to right: (c, σ, a) = (−1, 0.25, 1) and (1.2, 0.5, 0.6).
  public let components: [Component] = [
    Component(center: -1.0, sigma: 0.25, amplitude: 1.0),
    Component(center: 1.2, sigma: 0.5, amplitude: 0.6),
  ]

  /// The centres, [−1, 1.2].
  public var centers: [Double] { components.map(\.center) }

  /// The widths σ, [0.25, 0.5].
  public var sigmas: [Double] { components.map(\.sigma) }

  /// The amplitudes, [1, 0.6].
  public var amplitudes: [Double] { components.map(\.amplitude) }

  /// The interval x is drawn from, [−3, 3).
  public var domain: ClosedRange<Double> { -3.0...3.0 }

  /// The truth, the one value of this type.
  public init() {}

  /// The noise-free target y(x) = Σₖ aₖ · f(x − cₖ; σₖ), computed in `Double`.
  public func value(at x: Double) -> Double {
    var total = 0.0
    for component in components {
      let z = x - component.center
      let gap = component.sigma.addingProduct(-z, z)  // σ − z² with one rounding, as the kernels
      if gap > 0 { total += component.amplitude * Double.exp(-component.sigma / gap) }
    }
    return total
  }
}

extension Dataset {
  /// The true bumps of ``bumps(samples:noise:seed:)``: centres (−1, 1.2), widths σ
  /// (0.25, 0.5), amplitudes (1, 0.6).
  public static var bumpsTruth: BumpsTruth { BumpsTruth() }

  /// Two concentric rings in the plane, a two-class problem no linear model can solve.
  ///
  /// Sample i (0-based) has class k = i mod 2 (0 = inner ring of radius 1, 1 = outer ring of
  /// radius 2), so the classes alternate and are balanced exactly (class 0 has one more
  /// sample when `samples` is odd). For each sample, in this order, the generator draws an
  /// angle θ = 2π·u with u uniform in [0, 1) (``SeededGenerator/nextUnit()``) and a standard
  /// normal ε (``SeededGenerator/nextNormal()``); the radius is r = (1 + k) + `noise`·ε and
  /// the features are (x0, x1) = (r cos θ, r sin θ), computed in `Double` and rounded once to
  /// `Element`.
  ///
  /// Features are named `x0`, `x1`, the target `ring`, the classes `inner` and `outer`.
  ///
  /// - Parameters:
  ///   - samples: The number of points, at least 2.
  ///   - noise: The standard deviation of the radius, finite and ≥ 0.
  ///   - seed: The seed of the ``SeededGenerator``; the same seed gives the same dataset.
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for other arguments.
  public static func rings(samples: Int = 2000, noise: Double = 0.05, seed: UInt64 = 0) throws
    -> Dataset
  {
    try checkSamples(samples, minimum: 2)
    try checkNoise(noise)
    let (x, y) = try generate(samples: samples, features: 2, seed: seed, noise: noise) { i, generator, features in
      let k = i % 2
      let theta = 2 * Double.pi * generator.nextUnit()
      let radius = Double(1 + k) + noise * generator.nextNormal()
      features[0] = radius * Double.cos(theta)
      features[1] = radius * Double.sin(theta)
      return Double(k)
    }
    return Dataset(
      unchecked: x, y: y, featureNames: ["x0", "x1"], targetName: "ring",
      task: .classification(classes: 2), classNames: ["inner", "outer"])
  }

  /// A 1-D regression whose target is made of two bumps of known widths (see
  /// ``BumpsTruth``):
  ///
  ///     y = 1.0·f(x + 1; 0.25) + 0.6·f(x − 1.2; 0.5) + noise·ε,
  ///     f(z; σ) = exp(−σ / (σ − z²)) for z² < σ, else 0.
  ///
  /// For each sample the generator draws, in this order, u uniform in [0, 1)
  /// (``SeededGenerator/nextUnit()``), giving x = −3 + 6u (uniform in [−3, 3)), and a
  /// standard normal ε (``SeededGenerator/nextNormal()``). Values are computed in `Double`
  /// and rounded once to `Element`. About 60 % of the samples fall where both bumps are 0,
  /// so y there is pure noise. The feature is named `x`, the target `y`.
  ///
  /// - Parameters:
  ///   - samples: The number of points, at least 1.
  ///   - noise: The standard deviation of the additive Gaussian noise, finite and ≥ 0.
  ///   - seed: The seed of the ``SeededGenerator``.
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for other arguments.
  public static func bumps(samples: Int = 1000, noise: Double = 0.01, seed: UInt64 = 0) throws
    -> Dataset
  {
    try checkSamples(samples, minimum: 1)
    try checkNoise(noise)
    let truth = BumpsTruth()
    let (x, y) = try generate(samples: samples, features: 1, seed: seed, noise: noise) { _, generator, features in
      let value = -3 + 6 * generator.nextUnit()
      let epsilon = generator.nextNormal()
      features[0] = value
      return truth.value(at: value) + noise * epsilon
    }
    return Dataset(
      unchecked: x, y: y, featureNames: ["x"], targetName: "y", task: .regression,
      classNames: nil)
  }

  /// A smooth nonlinear regression with some features that do not matter:
  ///
  ///     y = sin(x0) · exp(−x1²) + 0.1·x2 + noise·ε,   every xⱼ and ε ~ N(0, 1) independent.
  ///
  /// A feature beyond `features` counts as 0 in the formula (with one feature,
  /// y = sin(x0) + noise·ε); features x3, x4, … do not affect y. The generator draws, per
  /// sample, x0 … x(features − 1) and then ε, all with ``SeededGenerator/nextNormal()``.
  /// Values are computed in `Double` and rounded once to `Element`. Features are named
  /// `x0`, `x1`, …, the target `y`. The noise-free part has variance about 0.20 for
  /// `features` ≥ 3, so `noise` = 0.05 leaves an R² of about 0.99 to reach.
  ///
  /// - Parameters:
  ///   - samples: The number of points, at least 1.
  ///   - features: The number of input columns, at least 1.
  ///   - noise: The standard deviation of the additive Gaussian noise, finite and ≥ 0.
  ///   - seed: The seed of the ``SeededGenerator``.
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for other arguments.
  public static func regression(
    samples: Int = 2000, features: Int = 4, noise: Double = 0.05, seed: UInt64 = 0
  ) throws -> Dataset {
    try checkSamples(samples, minimum: 1)
    guard features >= 1 else {
      throw BumpKitError.invalidArgument(
        name: "features", value: "\(features)", reason: "must be at least 1")
    }
    try checkNoise(noise)
    let (x, y) = try generate(samples: samples, features: features, seed: seed, noise: noise) { _, generator, row in
      for j in 0..<features { row[j] = generator.nextNormal() }
      let epsilon = generator.nextNormal()
      // A feature beyond `features` counts as 0: `row` has at least 3 entries, zero after them.
      return Double.sin(row[0]) * Double.exp(-row[1] * row[1]) + 0.1 * row[2] + noise * epsilon
    }
    return Dataset(
      unchecked: x, y: y, featureNames: (0..<features).map { "x\($0)" }, targetName: "y",
      task: .regression, classNames: nil)
  }

  /// The inputs (`samples × features`) and the one target column of a generated dataset:
  /// `sample(i, generator, row)` draws sample i from the ``SeededGenerator`` of `seed`,
  /// samples in order, writing its features into `row` (in `Double`, with at least 3
  /// entries, those past `features` 0) and returning its target; each value is rounded once
  /// to `Element`.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for matrices too large
  ///   to allocate, or for a value beyond `Element`'s range (which only a huge `noise`, named
  ///   in the message, can cause).
  private static func generate(
    samples: Int, features: Int, seed: UInt64, noise: Double,
    _ sample: (_ i: Int, _ generator: inout SeededGenerator, _ row: inout [Double]) -> Double
  ) throws -> (x: Matrix<Element>, y: Matrix<Element>) {
    var x = try Matrix<Element>(rows: samples, columns: features)
    var y = try Matrix<Element>(rows: samples, columns: 1)
    var generator = SeededGenerator(seed: seed)
    var row = [Double](repeating: 0, count: max(features, 3))
    var finite = true
    x.withUnsafeMutableBufferPointer { inputs in
      y.withUnsafeMutableBufferPointer { targets in
        for i in 0..<samples {
          targets[i] = Element(sample(i, &generator, &row))
          finite = finite && targets[i].isFinite
          for j in 0..<features {
            inputs[i * features + j] = Element(row[j])
            finite = finite && inputs[i * features + j].isFinite
          }
        }
      }
    }
    guard finite else {
      throw BumpKitError.invalidArgument(
        name: "noise", value: "\(noise)", reason: "is so large that generated values leave the range of \(Element.self)")
    }
    return (x, y)
  }

  private static func checkSamples(_ samples: Int, minimum: Int) throws {
    guard samples >= minimum else {
      throw BumpKitError.invalidArgument(
        name: "samples", value: "\(samples)", reason: "must be at least \(minimum)")
    }
  }

  private static func checkNoise(_ noise: Double) throws {
    guard noise.isFinite, noise >= 0 else {
      throw BumpKitError.invalidArgument(
        name: "noise", value: "\(noise)", reason: "must be finite and ≥ 0")
    }
  }
}
