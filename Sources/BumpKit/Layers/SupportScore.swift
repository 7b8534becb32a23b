/// How the bumps fⱼ(x) of a radial layer's units combine into the support density ρ of
/// ``RadialSupport``.
public enum SupportReduction: String, Codable, Sendable, CaseIterable {
  /// maxⱼ fⱼ(x): how deep x lies in the deepest support. The default: on near
  /// out-of-distribution inputs in many dimensions, where broad supports overlap, it
  /// separates far better than the sum (see <doc:RadialBumps>).
  case max
  /// Σⱼ fⱼ(x): a kernel density estimate with a compactly supported kernel; better where
  /// inputs leave the data along one feature's range.
  case sum
}

/// The learned support of a model whose first hidden layer is a ``RadialBump``: how far inside
/// the units' supports an input lies.
///
/// For an input x, with unit j's bump fⱼ(x) = exp(−σⱼ / (σⱼ − ‖x − cⱼ‖²)) inside its ball
/// ‖x − cⱼ‖² < σⱼ and 0 outside, the support density is, with the default
/// ``SupportReduction/max``,
///
///     ρ(x) = (1/M) Σₘ maxⱼ fⱼ⁽ᵐ⁾(x)      (``SupportReduction/sum``: (1/M) Σₘ Σⱼ fⱼ⁽ᵐ⁾(x))
///
/// over the units j of the first layer of each of the M models (one model, or the members of
/// an ensemble, which share one input). The amplitudes are left out, so that a learned a of
/// either sign cannot cancel units. Each fⱼ is at most e⁻¹ (at the centre) and falls
/// smoothly to 0 at the edge of its ball: the maximum says how deep the input lies in the
/// deepest support, the sum is a kernel density estimate with a compactly supported kernel.
/// Either way ρ(x) = 0 — exactly, not approximately — wherever ‖x − cⱼ‖² ≥ σⱼ for every unit
/// of every model, and there, whatever the model outputs comes from the biases of the later
/// layers alone. ``SupportCalibration`` turns ρ into a score normalised on the training rows
/// and a threshold below which the model abstains.
///
/// The distances are the layer's own (see ``RadialBump``): computed directly for
/// d ≤ ``RadialBump/directDimensionLimit``, otherwise from a GEMM whose error inside a support
/// is at most 8·κ(d)·σⱼ, so that only inputs within that margin of a support's edge can land
/// on the other side of it.
///
/// The value holds copies of the centres and widths: later training does not change it, and
/// it is safe to share between tasks. Each call allocates its own buffers.
public struct RadialSupport<Element: MatrixScalar>: Sendable {
  /// One model's first layer, frozen.
  struct Member: Sendable {
    let center, sigma, amplitude: Matrix<Element>
    let frame: RadialCenterFrame<Element>
  }

  let members: [Member]
  /// d, the number of input features.
  public let inputSize: Int
  /// The number of radial units in each model's first layer.
  public let units: Int
  /// How each model's units combine.
  public let reduction: SupportReduction

  /// The support of `models`, each of whose first layer is a ``RadialBump`` with the same
  /// input size (one model, or the members of an ensemble), their units combined by
  /// `reduction`.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for no models, a model
  ///   whose first layer is not a ``RadialBump``, or first layers of different shapes;
  ///   ``BumpKitError/invalidParameter(layer:parameter:index:value:reason:)`` for a negative
  ///   or non-finite σ or a non-finite centre.
  public init(models: [Sequential<Element>], reduction: SupportReduction = .max) throws {
    guard let first = models.first else {
      throw BumpKitError.invalidArgument(name: "models", value: "[]", reason: "a support needs at least one model")
    }
    var members: [Member] = []
    for (i, model) in models.enumerated() {
      guard let layer = model.layers.first as? RadialBump<Element> else {
        throw BumpKitError.invalidArgument(
          name: "models[\(i)]", value: model.layers.first.map { "\($0.description)" } ?? "no layers",
          reason: "the support score needs a RadialBump first layer")
      }
      guard let firstLayer = first.layers.first as? RadialBump<Element>,
        layer.inputSize == firstLayer.inputSize && layer.units == firstLayer.units
      else {
        throw BumpKitError.invalidArgument(
          name: "models[\(i)]", value: "\(layer.inputSize)→\(layer.units)",
          reason: "every model's first layer must have the shape of the first model's")
      }
      let name = "RadialBump(\(layer.inputSize)→\(layer.units))"
      try checkParameterValues(layer.sigma.value, layer: name, parameter: "σ", allowNegative: false)
      let c = layer.center.value.copied()
      var frame = RadialCenterFrame<Element>(inputSize: layer.inputSize, units: layer.units)
      try frame.prepare(c, layer: name)
      // a = 1: the density is a sum of the bumps f, not of the layer's outputs a·f.
      let ones = try Matrix<Element>(rows: 1, columns: layer.units, repeating: 1)
      members.append(Member(center: c, sigma: layer.sigma.value.copied(), amplitude: ones, frame: frame))
    }
    self.members = members
    self.inputSize = members[0].frame.inputSize
    self.units = members[0].frame.units
    self.reduction = reduction
  }

  /// The support of one model whose first layer is a ``RadialBump``; see
  /// ``init(models:reduction:)``.
  ///
  /// - Throws: what ``init(models:reduction:)`` throws.
  public init(model: Sequential<Element>, reduction: SupportReduction = .max) throws {
    try self.init(models: [model], reduction: reduction)
  }

  /// ρ(x) for each row of `inputs` (`rows × inputSize`), in `Double`: ≥ 0, and +0 exactly
  /// for a row outside every support.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` for the wrong
  ///   number of columns, ``BumpKitError/emptyBatch(operation:)`` for no rows.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public func densities(_ inputs: Matrix<Element>) throws -> [Double] {
    try checkBatch(inputs, features: inputSize, "RadialSupport.densities")
    let rows = inputs.rows, n = units, maximum = reduction == .max
    var sums = [Double](repeating: 0, count: rows)
    for member in members {
      let pass = RadialBumpPass(frame: member.frame)
      try pass.run(inputs, center: member.center, sigma: member.sigma, amplitude: member.amplitude, workspace: nil)
      pass.cache.withUnsafeBufferPointer { f in
        sums.withUnsafeMutableBufferPointer { s in
          for r in 0..<rows {
            // +0 to start: −0 (outside) added to +0 stays +0, and is not above it.
            var total = 0.0
            if maximum {
              for j in 0..<n where Double(f[r * n + j]) > total { total = Double(f[r * n + j]) }
            } else {
              for j in 0..<n { total += Double(f[r * n + j]) }
            }
            s[r] += total
          }
        }
      }
    }
    if members.count > 1 {
      let m = Double(members.count)
      for r in 0..<rows { sums[r] /= m }
    }
    return sums
  }
}

/// A normalisation of the support density ρ of ``RadialSupport`` and a threshold, both fitted
/// on the training rows; `bump train` stores one in a radial model's checkpoint.
///
/// With ρ̃ the median of ρ over the n training rows (their mean if the median is 0, and 1 if
/// every ρ is 0), the support score of an input is
///
///     s(x) = ρ(x) / ρ̃,
///
/// 1 for a typical training row and exactly 0 outside every support. For an in-distribution
/// coverage q (default 0.99) the threshold τ is the k-th smallest training score, k = ⌊(1 − q)·n⌋
/// (0-based), so that at least a fraction q of the training rows score ≥ τ. The model
/// abstains on an input whose score is below τ or is 0:
///
///     abstain(x) = 1  unless  s(x) > 0 and s(x) ≥ τ,
///
/// so an input farther than √σⱼ from every centre cⱼ is always abstained on, whatever τ is.
///
/// A fitted calibration also keeps the training scores' quantiles on a grid of steps of
/// 1/1000 (``quantiles``), from which ``recalibrated(coverage:)`` sets the threshold for
/// another coverage without the training rows.
public struct SupportCalibration: Codable, Equatable, Sendable {
  /// The in-distribution coverage a calibration is fitted at unless told otherwise: 0.99.
  public static var defaultCoverage: Double { 0.99 }

  /// The checkpoint metadata entry that holds a calibration as JSON: `support_calibration`.
  public static var metadataKey: String { "support_calibration" }

  /// How the units combine: the scale and threshold hold for densities of this reduction.
  public let reduction: SupportReduction
  /// ρ̃, the density that scores 1 (the median training density).
  public let scale: Double
  /// τ, the smallest score that is not abstained on.
  public let threshold: Double
  /// q, the fraction of the training rows the threshold was fitted to cover.
  public let coverage: Double
  /// The training scores' lower quantiles: entry i is the ⌊(i/1000)·n⌋-th smallest of the n
  /// training scores (0-based, at most the largest), i = 0…1000; empty for a calibration made
  /// from its parts without them.
  public let quantiles: [Double]

  /// The steps of the ``quantiles`` grid: 1000.
  static var quantileSteps: Int { 1000 }

  /// The k-th smallest of `n` values for the lower-tail fraction `fraction`:
  /// ⌊fraction·n⌋, nudged up by a relative 1e-12 (0.1·100 is 9.999… in binary), at most n − 1.
  static func orderIndex(fraction: Double, count n: Int) -> Int {
    min(n - 1, max(0, Int((fraction * Double(n) * (1 + 1e-12)).rounded(.down))))
  }

  /// A calibration from its parts, as stored; `reduction` is the ``RadialSupport/reduction``
  /// the densities are to come from, `quantiles` the training scores' (see ``quantiles``).
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for a scale that is not
  ///   finite and > 0, a threshold that is not finite and ≥ 0, a coverage outside (0, 1], or
  ///   quantiles that are not 1001 finite, non-negative, non-decreasing values (or none).
  public init(
    scale: Double, threshold: Double, coverage: Double, reduction: SupportReduction = .max, quantiles: [Double] = []
  ) throws {
    guard scale.isFinite && scale > 0 else {
      throw BumpKitError.invalidArgument(name: "scale", value: "\(scale)", reason: "must be finite and > 0")
    }
    guard threshold.isFinite && threshold >= 0 else {
      throw BumpKitError.invalidArgument(name: "threshold", value: "\(threshold)", reason: "must be finite and ≥ 0")
    }
    guard coverage > 0 && coverage <= 1 else {
      throw BumpKitError.invalidArgument(name: "coverage", value: "\(coverage)", reason: "must be in (0, 1]")
    }
    if !quantiles.isEmpty {
      guard quantiles.count == Self.quantileSteps + 1 else {
        throw BumpKitError.invalidArgument(
          name: "quantiles", value: "\(quantiles.count) values", reason: "must be \(Self.quantileSteps + 1) values, or none")
      }
      for (i, q) in quantiles.enumerated() where !(q.isFinite && q >= 0 && (i == 0 || q >= quantiles[i - 1])) {
        throw BumpKitError.invalidArgument(
          name: "quantiles[\(i)]", value: "\(q)", reason: "must be finite, ≥ 0 and not below the one before")
      }
    }
    (self.scale, self.threshold, self.coverage, self.reduction) = (scale, threshold, coverage, reduction)
    self.quantiles = quantiles
  }

  private enum CodingKeys: String, CodingKey { case scale, threshold, coverage, reduction, quantiles }

  /// Reads a calibration as stored (`{"coverage": …, "quantiles": […], "reduction": "max",
  /// "scale": …, "threshold": …}`; the quantiles may be missing), checked as
  /// ``init(scale:threshold:coverage:reduction:quantiles:)`` checks one.
  ///
  /// - Throws: a `DecodingError` for a missing or malformed entry, and what
  ///   ``init(scale:threshold:coverage:reduction:quantiles:)`` throws.
  public init(from decoder: any Decoder) throws {
    let entries = try decoder.container(keyedBy: CodingKeys.self)
    try self.init(
      scale: try entries.decode(Double.self, forKey: .scale),
      threshold: try entries.decode(Double.self, forKey: .threshold),
      coverage: try entries.decode(Double.self, forKey: .coverage),
      reduction: try entries.decode(SupportReduction.self, forKey: .reduction),
      quantiles: try entries.decodeIfPresent([Double].self, forKey: .quantiles) ?? [])
  }

  /// The same calibration with the threshold for in-distribution coverage `coverage`, from
  /// the stored ``quantiles``: the training score at the lower-tail fraction 1 − `coverage`,
  /// rounded down to the grid, so that at least a fraction `coverage` of the training rows
  /// score at or above it (on the grid, the very threshold a fit at `coverage` gives).
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for a coverage outside
  ///   (0, 1] or a calibration without quantiles.
  public func recalibrated(coverage: Double) throws -> SupportCalibration {
    guard coverage > 0 && coverage <= 1 else {
      throw BumpKitError.invalidArgument(name: "coverage", value: "\(coverage)", reason: "must be in (0, 1]")
    }
    guard !quantiles.isEmpty else {
      throw BumpKitError.invalidArgument(
        name: "coverage", value: "\(coverage)", reason: "this calibration keeps no quantiles to set another threshold from")
    }
    let i = Self.orderIndex(fraction: 1 - coverage, count: Self.quantileSteps)
    return try SupportCalibration(
      scale: scale, threshold: quantiles[i], coverage: coverage, reduction: reduction, quantiles: quantiles)
  }

  /// The calibration fitted on the training rows' densities ρ (from
  /// ``RadialSupport/densities(_:)`` of a support with reduction `reduction`) at
  /// in-distribution coverage `coverage`.
  ///
  /// - Throws: ``BumpKitError/emptyBatch(operation:)`` for no densities,
  ///   ``BumpKitError/invalidArgument(name:value:reason:)`` for a density that is not finite
  ///   and ≥ 0 or a coverage outside (0, 1].
  public init(
    trainingDensities densities: [Double], reduction: SupportReduction = .max, coverage: Double = Self.defaultCoverage
  ) throws {
    guard !densities.isEmpty else { throw BumpKitError.emptyBatch(operation: "SupportCalibration") }
    guard coverage > 0 && coverage <= 1 else {
      throw BumpKitError.invalidArgument(name: "coverage", value: "\(coverage)", reason: "must be in (0, 1]")
    }
    if let bad = densities.firstIndex(where: { !($0.isFinite && $0 >= 0) }) {
      throw BumpKitError.invalidArgument(
        name: "trainingDensities[\(bad)]", value: "\(densities[bad])", reason: "must be finite and ≥ 0")
    }
    let sorted = densities.sorted()
    let n = sorted.count
    let median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    let mean = sorted.reduce(0, +) / Double(n)
    let scale = median > 0 ? median : (mean > 0 ? mean : 1)
    let k = Self.orderIndex(fraction: 1 - coverage, count: n)
    let steps = Self.quantileSteps
    let quantiles = (0...steps).map { sorted[Self.orderIndex(fraction: Double($0) / Double(steps), count: n)] / scale }
    try self.init(
      scale: scale, threshold: sorted[k] / scale, coverage: coverage, reduction: reduction, quantiles: quantiles)
  }

  /// s = ρ / ρ̃ for a density ρ.
  @inlinable
  public func score(density: Double) -> Double { density / scale }

  /// Whether the model abstains on an input of support score `score`: unless the score is
  /// > 0 and ≥ ``threshold`` (a NaN score abstains).
  @inlinable
  public func abstains(score: Double) -> Bool { !(score > 0 && score >= threshold) }
}
