/// What one ``Bump`` layer of a model learned and how a dataset falls on it: σ, c and a, the
/// range of the layer's inputs, and per unit the number of inputs strictly inside its
/// support (c − √σ, c + √σ). A unit that no input reaches is dead: it outputs 0 and gets no
/// gradient.
///
/// The counts are exact: they are summed over batches from each forward pass's cache
/// (``Bump/supportCountPerUnit``), and every fraction is one such count divided by the number
/// of samples.
///
/// ```swift
/// for layer in try BumpLayerStatistics.collect(model: model, inputs: x) {
///   print(layer.layerIndex, layer.deadUnits, layer.supportFraction)
/// }
/// ```
public struct BumpLayerStatistics: Sendable, Equatable {
  /// The layer's position in the model (0-based).
  public let layerIndex: Int
  /// The number of units.
  public let units: Int
  /// σ: one value per unit, or one shared value.
  public let sigma: [Double]
  /// c: one value per unit, or one shared value.
  public let center: [Double]
  /// a: one value per unit, or one shared value.
  public let amplitude: [Double]
  /// The number of samples the counts are over; 0 for statistics from the parameters alone.
  public let samples: Int
  /// Per unit, the number of samples whose input to the unit lies strictly inside its
  /// support; empty for statistics from the parameters alone.
  public let supportCountPerUnit: [Int]
  /// The smallest and largest finite input the layer saw, over all units; nil without data
  /// or without a finite input.
  public let inputRange: ClosedRange<Double>?

  /// Per unit, the fraction of samples inside the support: ``supportCountPerUnit`` divided by
  /// ``samples`` (empty without data).
  public var supportFractionPerUnit: [Double] {
    supportCountPerUnit.map { Double($0) / Double(samples) }
  }

  /// The fraction of all (sample, unit) inputs inside the support; 0 without data.
  public var supportFraction: Double {
    guard samples > 0, units > 0, !supportCountPerUnit.isEmpty else { return 0 }
    return Double(supportCountPerUnit.reduce(0, +)) / (Double(samples) * Double(units))
  }

  /// The number of units whose inputs all fall outside the support (0 without data).
  public var deadUnits: Int { supportCountPerUnit.count(where: { $0 == 0 }) }

  /// σ of unit `j` (the shared value when σ is shared).
  public func sigma(unit j: Int) -> Double { sigma[sigma.count == 1 ? 0 : j] }

  /// c of unit `j` (the shared value when c is shared).
  public func center(unit j: Int) -> Double { center[center.count == 1 ? 0 : j] }

  /// The statistics of `layer`, at `layerIndex` in its model, from its parameters alone:
  /// no counts and no input range.
  public init(parametersOf layer: Bump<some MatrixScalar>, layerIndex: Int) {
    self.init(layer, layerIndex: layerIndex, samples: 0, counts: [], inputRange: nil)
  }

  private init<Element: MatrixScalar>(
    _ layer: Bump<Element>, layerIndex: Int, samples: Int, counts: [Int],
    inputRange: ClosedRange<Double>?
  ) {
    self.layerIndex = layerIndex
    units = layer.units
    sigma = layer.sigma.value.elements.map { Double($0) }
    center = layer.center.value.elements.map { Double($0) }
    amplitude = layer.amplitude.value.elements.map { Double($0) }
    self.samples = samples
    supportCountPerUnit = counts
    self.inputRange = inputRange
  }

  /// The statistics of every ``Bump`` layer of `model` on the inputs `x` (one sample per
  /// row), in layer order; empty when the model has no bump layer or `x` no rows.
  ///
  /// Runs the model's layers on `x` in batches of at most `batchSize` rows, so memory stays
  /// bounded, and leaves their saved state released.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` unless `batchSize` ≥ 1;
  ///   the errors of the layers' forward passes (a shape mismatch for `x` of the wrong width).
  public static func collect<Element: MatrixScalar>(
    model: Sequential<Element>, inputs x: Matrix<Element>, batchSize: Int = 4096
  ) throws -> [BumpLayerStatistics] {
    guard batchSize > 0 else {
      throw BumpKitError.invalidArgument(name: "batchSize", value: String(batchSize), reason: "must be at least 1")
    }
    let bumps = model.layers.enumerated().compactMap { i, layer in
      (layer as? Bump<Element>).map { (i, $0) }
    }
    guard !bumps.isEmpty, x.rows > 0 else { return [] }
    var lower = [Int: Double]()
    var upper = [Int: Double]()
    var inside = [Int: [Int]]()
    var batch = Matrix<Element>()
    var start = 0
    defer { model.releaseSavedState() }
    while start < x.rows {
      let end = Swift.min(x.rows, start + batchSize)
      model.releaseSavedState()
      try x.copyRows(start..<end, into: &batch)
      var activations = batch
      for (i, layer) in model.layers.enumerated() {
        if let bump = layer as? Bump<Element> {
          if let (lo, hi) = finiteRange(activations) {
            lower[i] = Swift.min(lower[i] ?? lo, lo)
            upper[i] = Swift.max(upper[i] ?? hi, hi)
          }
          activations = try bump.forward(activations)
          let counts = bump.supportCountPerUnit
          inside[i] = zip(inside[i] ?? Array(repeating: 0, count: counts.count), counts).map(+)
        } else {
          activations = try layer.forward(activations)
        }
      }
      start = end
    }
    return bumps.map { i, bump in
      BumpLayerStatistics(
        bump, layerIndex: i, samples: x.rows, counts: inside[i] ?? [],
        inputRange: lower[i].flatMap { lo in upper[i].map { lo...$0 } })
    }
  }

  /// The statistics of every ``Bump`` layer of `model` from its parameters alone (no data),
  /// in layer order.
  public static func parametersOnly<Element: MatrixScalar>(model: Sequential<Element>) -> [BumpLayerStatistics] {
    model.layers.enumerated().compactMap { i, layer in
      (layer as? Bump<Element>).map { BumpLayerStatistics(parametersOf: $0, layerIndex: i) }
    }
  }

  private static func finiteRange<Element: MatrixScalar>(_ m: Matrix<Element>) -> (Double, Double)? {
    m.withUnsafeBufferPointer { p in
      var lo = Element.infinity
      var hi = -Element.infinity
      for v in p where v.isFinite {
        if v < lo { lo = v }
        if v > hi { hi = v }
      }
      return lo <= hi ? (Double(lo), Double(hi)) : nil
    }
  }
}
