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

/// The learned support of a model with radial layers (``RadialBump``): how far inside the
/// units' supports an input lies, at every radial layer of the model.
///
/// For an input x, with unit j's bump fⱼ(x) = exp(−σⱼ / (σⱼ − ‖x − cⱼ‖²)) inside its ball
/// ‖x − cⱼ‖² < σⱼ and 0 outside, one radial layer's density is, with the default
/// ``SupportReduction/max``,
///
///     ρₗ(x) = maxⱼ fⱼ(hₗ(x))      (``SupportReduction/sum``: Σⱼ fⱼ(hₗ(x)))
///
/// where hₗ(x) is the layer's input: x itself for a first layer, the features the layers
/// before it compute for a deeper one (a Dense → Bump → RadialBump → Dense model puts the
/// radial layer on learned features, as multi-layer RBF networks for out-of-distribution
/// detection do). The support density is the product over the model's radial layers, averaged
/// over the M models (one model, or the members of an ensemble, which share one input):
///
///     ρ(x) = (1/M) Σₘ Πₗ ρₗ⁽ᵐ⁾(x).
///
/// The amplitudes are left out of ρₗ, so that a learned a of either sign cannot cancel units
/// (a deeper layer's input hₗ is computed with them, as the model does). Each fⱼ is at most
/// e⁻¹ (at the centre) and falls smoothly to 0 at the edge of its ball: the maximum says how
/// deep the input lies in the deepest support, the sum is a kernel density estimate with a
/// compactly supported kernel.
///
/// ## The guarantee
///
/// ρ(x) = 0 — exactly, not approximately — wherever, for every model, some radial layer's
/// input lies outside all of that layer's supports: ‖hₗ(x) − cⱼ‖² ≥ σⱼ for every unit j of
/// layer l. For a radial first layer this is a statement about the input itself: x farther
/// than √σⱼ from every centre cⱼ (of every model's first layer) scores 0, and there, whatever
/// the model outputs comes from the biases of the later layers alone. A deeper radial layer
/// adds the same statement about the features it sees: an input whose features fall outside
/// every support of that layer scores 0 too, wherever it lies in input space — but only a
/// radial first layer bounds, in input space, the region that can score above 0.
/// ``SupportCalibration`` turns ρ into a score normalised on the training rows and a threshold
/// below which the model abstains.
///
/// The distances are the layers' own (see ``RadialBump``): computed directly for
/// d ≤ ``RadialBump/directDimensionLimit``, otherwise from a GEMM whose error inside a support
/// is at most 8·κ(d)·σⱼ, so that only inputs within that margin of a support's edge can land
/// on the other side of it. The layers before a deeper radial layer run in their inference
/// form (``Layer/inferenceLayer()``), as ``InferenceModel`` runs them.
///
/// The value holds copies of the parameters: later training does not change it, and it is
/// safe to share between tasks. Each call allocates its own buffers.
public struct RadialSupport<Element: MatrixScalar>: Sendable {
  /// One radial layer of one model, frozen, with the layers that lead to its input from the
  /// previous radial layer's input (the first stage: from the model's input).
  struct Stage: Sendable {
    let before: [any InferenceLayer<Element>]
    let center, sigma, amplitude: Matrix<Element>
    let frame: RadialCenterFrame<Element>
  }

  /// Each model's stages, one per radial layer, in order.
  let members: [[Stage]]
  /// d, the number of input features.
  public let inputSize: Int
  /// The number of units of each model's first radial layer.
  public let units: Int
  /// The positions in ``Sequential/layers`` of each model's radial layers, whose densities
  /// multiply.
  public let radialLayers: [Int]
  /// How each radial layer's units combine.
  public let reduction: SupportReduction

  /// The support of `models`, each of which has one or more ``RadialBump`` layers at the same
  /// positions and of the same shapes (one model, or the members of an ensemble), their
  /// units combined by `reduction`.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for no models, a model
  ///   without a ``RadialBump`` layer, models whose radial layers differ in position or shape,
  ///   or a layer before a radial one without an inference form;
  ///   ``BumpKitError/invalidParameter(layer:parameter:index:value:reason:)`` for a negative
  ///   or non-finite σ or a non-finite centre, amplitude or other parameter.
  public init(models: [Sequential<Element>], reduction: SupportReduction = .max) throws {
    guard let first = models.first else {
      throw BumpKitError.invalidArgument(name: "models", value: "[]", reason: "a support needs at least one model")
    }
    func radialPositions(_ model: Sequential<Element>) -> [Int] {
      model.layers.indices.filter { model.layers[$0] is RadialBump<Element> }
    }
    func shapes(_ model: Sequential<Element>) -> [String] {
      radialPositions(model).map { i in
        let layer = model.layers[i] as! RadialBump<Element>
        return "layers[\(i)]: \(layer.inputSize)→\(layer.units)"
      }
    }
    let positions = radialPositions(first)
    var members: [[Stage]] = []
    for (i, model) in models.enumerated() {
      guard !radialPositions(model).isEmpty else {
        throw BumpKitError.invalidArgument(
          name: "models[\(i)]", value: model.layers.first.map { "\($0.description)" } ?? "no layers",
          reason: "the support score needs a RadialBump layer")
      }
      guard shapes(model) == shapes(first) else {
        throw BumpKitError.invalidArgument(
          name: "models[\(i)]", value: shapes(model).joined(separator: ", "),
          reason: "every model's radial layers must have the positions and shapes of the first model's")
      }
      var stages: [Stage] = []
      var from = 0
      for position in positions {
        let layer = model.layers[position] as! RadialBump<Element>
        let name = "RadialBump(\(layer.inputSize)→\(layer.units))"
        try checkParameterValues(layer.sigma.value, layer: name, parameter: "σ", allowNegative: false)
        var before: [any InferenceLayer<Element>] = []
        for k in from..<position {
          do {
            before.append(try model.layers[k].inferenceLayer())
          } catch BumpKitError.invalidArgument(name: "layer", let value, let reason) {
            throw BumpKitError.invalidArgument(name: "models[\(i)].layers[\(k)]", value: value, reason: reason)
          }
        }
        let c = layer.center.value.copied()
        var frame = RadialCenterFrame<Element>(inputSize: layer.inputSize, units: layer.units)
        try frame.prepare(c, layer: name)
        // a = 1: the density is made of the bumps f, not of the layer's outputs a·f.
        let ones = try Matrix<Element>(rows: 1, columns: layer.units, repeating: 1)
        stages.append(Stage(before: before, center: c, sigma: layer.sigma.value.copied(), amplitude: ones, frame: frame))
        from = position
      }
      members.append(stages)
    }
    self.members = members
    self.inputSize = first.inputSize
    self.units = members[0][0].frame.units
    self.radialLayers = positions
    self.reduction = reduction
  }

  /// The support of one model with one or more ``RadialBump`` layers; see
  /// ``init(models:reduction:)``.
  ///
  /// - Throws: what ``init(models:reduction:)`` throws.
  public init(model: Sequential<Element>, reduction: SupportReduction = .max) throws {
    try self.init(models: [model], reduction: reduction)
  }

  /// ρ(x) for each row of `inputs` (`rows × inputSize`), in `Double`: ≥ 0, and +0 exactly
  /// for a row that, for every model, lies outside every support of one of its radial layers.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` for the wrong
  ///   number of columns, ``BumpKitError/emptyBatch(operation:)`` for no rows.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public func densities(_ inputs: Matrix<Element>) throws -> [Double] {
    try checkBatch(inputs, features: inputSize, "RadialSupport.densities")
    let rows = inputs.rows, maximum = reduction == .max
    var sums = [Double](repeating: 0, count: rows)
    var product = [Double](repeating: 1, count: rows)
    for stages in members {
      for r in 0..<rows { product[r] = 1 }
      var h = inputs
      for stage in stages {
        for layer in stage.before { h = try layer(h) }
        let n = stage.frame.units
        let pass = RadialBumpPass(frame: stage.frame)
        try pass.run(h, center: stage.center, sigma: stage.sigma, amplitude: stage.amplitude, workspace: nil)
        pass.cache.withUnsafeBufferPointer { f in
          product.withUnsafeMutableBufferPointer { p in
            for r in 0..<rows {
              // +0 to start: −0 (outside) added to +0 stays +0, and is not above it.
              var total = 0.0
              if maximum {
                for j in 0..<n where Double(f[r * n + j]) > total { total = Double(f[r * n + j]) }
              } else {
                for j in 0..<n { total += Double(f[r * n + j]) }
              }
              p[r] *= total
            }
          }
        }
      }
      for r in 0..<rows { sums[r] += product[r] }
    }
    if members.count > 1 {
      let m = Double(members.count)
      for r in 0..<rows { sums[r] /= m }
    }
    return sums
  }
}

/// A normalisation of the support density ρ of ``RadialSupport`` and a threshold, fitted on
/// the training rows or, for rows the model has not seen, on held-out rows; `bump train`
/// stores one in a radial model's checkpoint.
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
/// Rows the model trained on score a little higher than new rows from the same distribution
/// (the centres were placed on them), so a threshold fitted on them abstains on more than
/// 1 − q of new in-distribution rows.
/// ``init(memberTrainingDensities:referenceDensities:reduction:coverage:)`` sets τ on held-out
/// rows instead (split conformal), for a coverage q of new rows; `bump train` does so
/// whenever it has a validation part.
///
/// A fitted calibration also keeps the thresholds for the coverages on a grid of steps of
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
  /// q, the fraction of the training rows the threshold was fitted to cover, or for a
  /// calibration on held-out rows, of new in-distribution rows.
  public let coverage: Double
  /// The thresholds for the coverages 1 − i/1000, i = 0…1000: for a calibration fitted on
  /// the training rows, entry i is the ⌊(i/1000)·n⌋-th smallest of the n training scores
  /// (0-based, at most the largest); for one fitted on held-out rows, the threshold
  /// ``init(memberTrainingDensities:referenceDensities:reduction:coverage:)`` sets for coverage
  /// 1 − i/1000. Empty for a calibration made from its parts without them.
  public let quantiles: [Double]
  /// The number of held-out rows the threshold was set on
  /// (``init(memberTrainingDensities:referenceDensities:reduction:coverage:)``), or 0 for a
  /// threshold fitted on the training rows (``init(trainingDensities:reduction:coverage:)``).
  public let heldOutRows: Int

  /// The steps of the ``quantiles`` grid: 1000.
  static var quantileSteps: Int { 1000 }

  /// The k-th smallest of `n` values for the lower-tail fraction `fraction`:
  /// ⌊fraction·n⌋, nudged up by a relative 1e-12 (0.1·100 is 9.999… in binary), at most n − 1.
  static func orderIndex(fraction: Double, count n: Int) -> Int {
    min(n - 1, max(0, Int((fraction * Double(n) * (1 + 1e-12)).rounded(.down))))
  }

  /// A calibration from its parts, as stored; `reduction` is the ``RadialSupport/reduction``
  /// the densities are to come from, `quantiles` the thresholds by coverage (see
  /// ``quantiles``), `heldOutRows` the held-out rows they were set on (0: the training rows).
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for a scale that is not
  ///   finite and > 0, a threshold that is not finite and ≥ 0, a coverage outside (0, 1],
  ///   quantiles that are not 1001 finite, non-negative, non-decreasing values (or none), or
  ///   a negative `heldOutRows`.
  public init(
    scale: Double, threshold: Double, coverage: Double, reduction: SupportReduction = .max, quantiles: [Double] = [],
    heldOutRows: Int = 0
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
    guard heldOutRows >= 0 else {
      throw BumpKitError.invalidArgument(name: "heldOutRows", value: "\(heldOutRows)", reason: "must be ≥ 0")
    }
    (self.scale, self.threshold, self.coverage, self.reduction) = (scale, threshold, coverage, reduction)
    self.quantiles = quantiles
    self.heldOutRows = heldOutRows
  }

  private enum CodingKeys: String, CodingKey {
    case scale, threshold, coverage, reduction, quantiles
    case heldOutRows = "held_out_rows"
  }

  /// Writes the calibration as ``init(from:)`` reads it; `held_out_rows` only when it is not 0,
  /// so that a calibration fitted on the training rows is stored as before.
  public func encode(to encoder: any Encoder) throws {
    var entries = encoder.container(keyedBy: CodingKeys.self)
    try entries.encode(scale, forKey: .scale)
    try entries.encode(threshold, forKey: .threshold)
    try entries.encode(coverage, forKey: .coverage)
    try entries.encode(reduction, forKey: .reduction)
    try entries.encode(quantiles, forKey: .quantiles)
    if heldOutRows != 0 { try entries.encode(heldOutRows, forKey: .heldOutRows) }
  }

  /// Reads a calibration as stored (`{"coverage": …, "held_out_rows": …, "quantiles": […],
  /// "reduction": "max", "scale": …, "threshold": …}`; the quantiles and `held_out_rows` may
  /// be missing, as in checkpoints written before held-out calibration: 0), checked as
  /// ``init(scale:threshold:coverage:reduction:quantiles:heldOutRows:)`` checks one.
  ///
  /// - Throws: a `DecodingError` for a missing or malformed entry, and what
  ///   ``init(scale:threshold:coverage:reduction:quantiles:heldOutRows:)`` throws.
  public init(from decoder: any Decoder) throws {
    let entries = try decoder.container(keyedBy: CodingKeys.self)
    try self.init(
      scale: try entries.decode(Double.self, forKey: .scale),
      threshold: try entries.decode(Double.self, forKey: .threshold),
      coverage: try entries.decode(Double.self, forKey: .coverage),
      reduction: try entries.decode(SupportReduction.self, forKey: .reduction),
      quantiles: try entries.decodeIfPresent([Double].self, forKey: .quantiles) ?? [],
      heldOutRows: try entries.decodeIfPresent(Int.self, forKey: .heldOutRows) ?? 0)
  }

  /// The same calibration with the threshold for in-distribution coverage `coverage`, from
  /// the stored ``quantiles``: the threshold for the lower-tail fraction 1 − `coverage`,
  /// rounded down to the grid (on the grid, the very threshold a fit at `coverage` gives):
  /// the training score there, so that at least a fraction `coverage` of the training rows
  /// score at or above it, or for a calibration on held-out rows, the threshold set on them.
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
      scale: scale, threshold: quantiles[i], coverage: coverage, reduction: reduction, quantiles: quantiles,
      heldOutRows: heldOutRows)
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
    let scale = Self.scale(sorted)
    let k = Self.orderIndex(fraction: 1 - coverage, count: n)
    let steps = Self.quantileSteps
    let quantiles = (0...steps).map { sorted[Self.orderIndex(fraction: Double($0) / Double(steps), count: n)] / scale }
    try self.init(
      scale: scale, threshold: sorted[k] / scale, coverage: coverage, reduction: reduction, quantiles: quantiles)
  }

  /// The calibration of a model for rows it did not train on, from held-out rows that a
  /// reference model did not train on (split conformal, carried over member by member through
  /// ranks).
  ///
  /// A threshold fitted on the training rows sits too high for new rows: the centres were
  /// placed on, and fitted to, those rows, so an in-distribution row the model has not seen
  /// scores a little lower, and more than a fraction 1 − q of such rows fall below it. Here
  /// the threshold comes from held-out rows instead.
  ///
  /// `memberTrainingDensities[m][i]` is member m's density (``RadialSupport`` of that model
  /// alone) on training row i, a row every member trained on; the calibrated model's density
  /// is their mean (one member for one model; the members of an ensemble otherwise).
  /// `referenceDensities` are the reference model's densities on the same training rows and
  /// on n held-out rows it did not train on. For each held-out row, each member's density is
  /// estimated by rank: the held-out density's position F among the reference model's
  /// training densities, read off at the same position among the member's (both piecewise
  /// linear in the sorted values, the i-th smallest of n at (i + ½)/n, 0 at 0). A member whose
  /// training densities are the reference's (the reference itself) gets the held-out density
  /// unchanged; for a member trained on the held-out rows too (a refit on all rows), this
  /// assumes that a new row falls as far down the training rows' ranks under it as the
  /// held-out rows fell under the reference. The row's estimate is the mean over the members.
  ///
  /// For a coverage q, τ is then the k-th smallest estimate, k = ⌊(1 − q)·(n + 1)⌋ (1-based),
  /// divided by the scale; with k = 0, τ = 0 (only a score of 0 abstains). When the model is
  /// the reference, τ is the k-th smallest held-out score, and a new row exchangeable with the
  /// held-out ones is abstained on with probability k/(n + 1) ≤ 1 − q (split conformal
  /// prediction).
  ///
  /// The scale ρ̃ is the median of the model's training densities, as in
  /// ``init(trainingDensities:reduction:coverage:)``; the ``quantiles`` hold the thresholds
  /// for the coverages 1 − i/1000 found the same way, so that ``recalibrated(coverage:)``
  /// keeps to the held-out rows; ``heldOutRows`` is n.
  ///
  /// - Throws: ``BumpKitError/emptyBatch(operation:)`` for no members, no training rows, no
  ///   reference training densities or no held-out densities;
  ///   ``BumpKitError/invalidArgument(name:value:reason:)`` for members with different
  ///   numbers of rows, a density that is not finite and ≥ 0, or a coverage outside (0, 1].
  public init(
    memberTrainingDensities members: [[Double]], referenceDensities: (training: [Double], heldOut: [Double]),
    reduction: SupportReduction = .max, coverage: Double = Self.defaultCoverage
  ) throws {
    guard let rows = members.first?.count else {
      throw BumpKitError.emptyBatch(operation: "SupportCalibration (memberTrainingDensities)")
    }
    var named = members.enumerated().map { ("memberTrainingDensities[\($0.offset)]", $0.element) }
    named += [("referenceDensities.training", referenceDensities.training), ("referenceDensities.heldOut", referenceDensities.heldOut)]
    for (name, values) in named {
      guard !values.isEmpty else { throw BumpKitError.emptyBatch(operation: "SupportCalibration (\(name))") }
      if let bad = values.firstIndex(where: { !($0.isFinite && $0 >= 0) }) {
        throw BumpKitError.invalidArgument(name: "\(name)[\(bad)]", value: "\(values[bad])", reason: "must be finite and ≥ 0")
      }
    }
    if let other = members.firstIndex(where: { $0.count != rows }) {
      throw BumpKitError.invalidArgument(
        name: "memberTrainingDensities[\(other)]", value: "\(members[other].count) rows",
        reason: "every member needs the \(rows) rows of the first")
    }
    guard coverage > 0 && coverage <= 1 else {
      throw BumpKitError.invalidArgument(name: "coverage", value: "\(coverage)", reason: "must be in (0, 1]")
    }
    // The model's training densities: the members' mean, summed in member order.
    var mean = [Double](repeating: 0, count: rows)
    for member in members { for i in 0..<rows { mean[i] += member[i] } }
    if members.count > 1 { for i in 0..<rows { mean[i] /= Double(members.count) } }
    let scale = Self.scale(mean.sorted())
    let reference = referenceDensities.training.sorted()
    let sortedMembers = members.map { $0.sorted() }
    // A member whose training densities are the reference's keeps the held-out density
    // (compared once here, not for every held-out row).
    let isReference = sortedMembers.map { $0 == reference }
    // Each held-out row's estimated density under the model.
    let estimates = referenceDensities.heldOut.map { h -> Double in
      let p = Self.position(of: h, in: reference)
      var total = 0.0
      for (m, sorted) in sortedMembers.enumerated() { total += isReference[m] ? h : Self.quantile(sorted, at: p) }
      return members.count > 1 ? total / Double(members.count) : total
    }.sorted()
    let n = estimates.count
    // The threshold density for the lower-tail fraction α of new rows.
    func density(fraction: Double) -> Double {
      let k = min(n, Int((fraction * Double(n + 1) * (1 + 1e-12)).rounded(.down)))
      return k > 0 ? estimates[k - 1] : 0
    }
    let steps = Self.quantileSteps
    let quantiles = (0...steps).map { density(fraction: Double($0) / Double(steps)) / scale }
    try self.init(
      scale: scale, threshold: density(fraction: 1 - coverage) / scale, coverage: coverage, reduction: reduction,
      quantiles: quantiles, heldOutRows: n)
  }

  /// ρ̃ of sorted training densities: their median, their mean if the median is 0, 1 if every
  /// one is 0 — and never so small that the largest density over it overflows (a subnormal
  /// median beside densities near 1): then the smallest scale that keeps every score finite.
  static func scale(_ sorted: [Double]) -> Double {
    let n = sorted.count
    let median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    let mean = sorted.reduce(0, +) / Double(n)
    let scale = median > 0 ? median : (mean > 0 ? mean : 1)
    let largest = sorted.last ?? 0
    return (largest / scale).isFinite ? scale : largest / (Double.greatestFiniteMagnitude / 2)
  }

  /// The position in [0, 1] of `value` among `sorted` values: piecewise linear through
  /// (0, 0) and (the i-th smallest, (i + ½)/n), 1 above the largest.
  static func position(of value: Double, in sorted: [Double]) -> Double {
    let n = Double(sorted.count)
    guard value > 0 else { return 0 }
    // The first index whose value is ≥ value.
    var low = 0, high = sorted.count
    while low < high {
      let mid = (low + high) / 2
      if sorted[mid] < value { low = mid + 1 } else { high = mid }
    }
    if low == sorted.count { return 1 }
    if sorted[low] == value {
      // Ties: the middle of the run of equal values.
      var end = low
      while end + 1 < sorted.count && sorted[end + 1] == value { end += 1 }
      return (Double(low + end) / 2 + 0.5) / n
    }
    let (x0, p0) = low == 0 ? (0.0, 0.0) : (sorted[low - 1], (Double(low - 1) + 0.5) / n)
    let (x1, p1) = (sorted[low], (Double(low) + 0.5) / n)
    return p0 + (p1 - p0) * (value - x0) / (x1 - x0)
  }

  /// The value at position `p` ∈ [0, 1] among `sorted` values: the inverse of
  /// ``position(of:in:)`` (0 at 0, the largest value above the last knot).
  static func quantile(_ sorted: [Double], at p: Double) -> Double {
    let n = Double(sorted.count)
    let x = p * n - 0.5  // fractional index
    if x >= Double(sorted.count - 1) { return sorted[sorted.count - 1] }
    if x < 0 {
      // Between (0, 0) and (sorted[0], ½/n).
      return max(0, sorted[0] * p * 2 * n)
    }
    let i = Int(x.rounded(.down))
    let t = x - Double(i)
    return sorted[i] + (sorted[i + 1] - sorted[i]) * t
  }

  /// s = ρ / ρ̃ for a density ρ.
  @inlinable
  public func score(density: Double) -> Double { density / scale }

  /// Whether the model abstains on an input of support score `score`: unless the score is
  /// > 0 and ≥ ``threshold`` (a NaN score abstains).
  @inlinable
  public func abstains(score: Double) -> Bool { !(score > 0 && score >= threshold) }
}
