/// What one bump layer of a model — a ``Bump`` or a ``RadialBump`` — learned and how a dataset
/// falls on it: σ, c and a (in that order, for both kinds) and which of them are learned,
/// the spread of σ and of the support radii √σ, the range of the layer's inputs, and per unit the number of inputs
/// strictly inside its support — (c − √σ, c + √σ) for a ``Bump`` unit, the open ball
/// ‖x − c‖ < √σ for a ``RadialBump`` unit. A unit that no input reaches is dead: it outputs 0
/// and gets no gradient.
///
/// The counts describe exactly the rows given to ``collect(model:inputs:batchSize:)`` (or to an
/// ``Accumulator``): they are summed over batches, and every fraction is one such count divided
/// by the number of samples. Use these rather than the layers' own
/// ``Bump/supportCountPerUnit`` or ``RadialBump/deadUnits``, which describe only the layer's
/// last forward pass — after a `predict` on other data, that data.
///
/// ```swift
/// for layer in try BumpLayerStatistics.collect(model: model, inputs: x) {
///   print(layer.layerIndex, layer.kind, layer.deadUnits, layer.supportFraction)
/// }
/// ```
public struct BumpLayerStatistics: Sendable, Equatable {
  /// The kind of bump layer statistics describe.
  public enum LayerKind: String, Sendable, Equatable {
    /// A ``Bump`` layer: one scalar input per unit.
    case bump
    /// A ``RadialBump`` layer: every unit sees the whole input row.
    case radialBump
  }

  /// Which of a bump layer's σ, c and a optimizers update.
  public struct Trainability: Sendable, Equatable {
    /// Whether σ is learned.
    public var sigma: Bool
    /// Whether c is learned.
    public var center: Bool
    /// Whether a is learned.
    public var amplitude: Bool

    /// A trainability from its parts.
    public init(sigma: Bool, center: Bool, amplitude: Bool) {
      self.sigma = sigma
      self.center = center
      self.amplitude = amplitude
    }
  }

  /// The smallest, median and largest of some values (the median as the library computes
  /// every median: the middle value, or the mean of the two middle ones).
  public struct Spread: Sendable, Equatable {
    /// The smallest value.
    public let minimum: Double
    /// The median.
    public let median: Double
    /// The largest value.
    public let maximum: Double

    /// The spread of `values`, which must not be empty or hold NaN.
    init(of values: [Double]) {
      minimum = values.min()!
      maximum = values.max()!
      median = BumpKit.median(of: values)
    }
  }

  /// The layer's position in the model (0-based).
  public let layerIndex: Int
  /// Whether the layer is a ``Bump`` or a ``RadialBump``.
  public let kind: LayerKind
  /// The number of units.
  public let units: Int
  /// The width of the layer's input: ``units`` for a ``Bump`` layer, the dimension d of the
  /// centres for a ``RadialBump`` layer.
  public let inputSize: Int
  /// σ: one value per unit, or one shared value (a ``Bump`` layer only). √σ is the support's
  /// half-width, or radius for a ``RadialBump`` unit.
  public let sigma: [Double]
  /// c: for a ``Bump`` layer one value per unit, or one shared value; for a ``RadialBump``
  /// layer the units' centres row by row (``units`` × ``inputSize`` values; see
  /// ``centerCoordinates(unit:)``).
  public let center: [Double]
  /// a: one value per unit, or one shared value (a ``Bump`` layer only).
  public let amplitude: [Double]
  /// Which of σ, c and a the layer learns.
  public let trainable: Trainability
  /// The number of samples the counts are over; 0 for statistics from the parameters alone.
  public private(set) var samples: Int
  /// Per unit, the number of samples whose input to the unit lies strictly inside its
  /// support; empty for statistics from the parameters alone.
  public private(set) var supportCountPerUnit: [Int]
  /// The smallest and largest finite input the layer saw, over all units (over all input
  /// columns for a ``RadialBump`` layer); nil without data or without a finite input.
  public private(set) var inputRange: ClosedRange<Double>?

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

  /// The smallest, median and largest σ (over the stored values: one when σ is shared).
  public var sigmaSpread: Spread { Spread(of: sigma) }

  /// The smallest, median and largest support half-width or radius √σ (over the stored
  /// values: one when σ is shared). The median is that of the √σ values, which for an even
  /// count differs from √(median σ).
  public var supportRadiusSpread: Spread { Spread(of: sigma.map { $0.squareRoot() }) }

  /// The number of units whose inputs all fall outside the support (0 without data).
  public var deadUnits: Int { supportCountPerUnit.count(where: { $0 == 0 }) }

  /// The units whose inputs all fall outside the support, in increasing order (empty without
  /// data).
  public var deadUnitIndices: [Int] { supportCountPerUnit.indices.filter { supportCountPerUnit[$0] == 0 } }

  /// σ of unit `j` (the shared value when σ is shared).
  ///
  /// - Precondition: `0 ≤ j < units`, as for an array's index.
  public func sigma(unit j: Int) -> Double { sigma[sigma.count == 1 ? 0 : j] }

  /// c of unit `j` (the shared value when c is shared); for a ``RadialBump`` layer, the first
  /// coordinate of its centre (``centerCoordinates(unit:)`` gives all of them).
  ///
  /// - Precondition: `0 ≤ j < units`, as for an array's index.
  public func center(unit j: Int) -> Double {
    kind == .radialBump ? center[j * inputSize] : center[center.count == 1 ? 0 : j]
  }

  /// The centre of unit `j`: one value for a ``Bump`` layer, ``inputSize`` values for a
  /// ``RadialBump`` layer.
  ///
  /// - Precondition: `0 ≤ j < units`, as for an array's index.
  public func centerCoordinates(unit j: Int) -> [Double] {
    kind == .radialBump ? Array(center[j * inputSize..<(j + 1) * inputSize]) : [center(unit: j)]
  }

  /// a of unit `j` (the shared value when a is shared).
  ///
  /// - Precondition: `0 ≤ j < units`, as for an array's index.
  public func amplitude(unit j: Int) -> Double { amplitude[amplitude.count == 1 ? 0 : j] }

  /// These statistics with the counts and input range of other rows: those of every
  /// process's part of the data, say (the parameters are the same).
  package func replacing(samples: Int, counts: [Int], inputRange: ClosedRange<Double>?) -> Self {
    var copy = self
    copy.samples = samples
    copy.supportCountPerUnit = counts
    copy.inputRange = inputRange
    return copy
  }

  /// The statistics of `layer`, at `layerIndex` in its model, from its parameters alone:
  /// no counts and no input range.
  public init(parametersOf layer: Bump<some MatrixScalar>, layerIndex: Int) {
    self.init(Observed.bump(layer), layerIndex: layerIndex, samples: 0, counts: [], inputRange: nil)
  }

  /// The statistics of `layer`, at `layerIndex` in its model, from its parameters alone:
  /// no counts and no input range.
  public init(parametersOf layer: RadialBump<some MatrixScalar>, layerIndex: Int) {
    self.init(Observed.radial(layer), layerIndex: layerIndex, samples: 0, counts: [], inputRange: nil)
  }

  private init<Element: MatrixScalar>(
    _ layer: Observed<Element>, layerIndex: Int, samples: Int, counts: [Int],
    inputRange: ClosedRange<Double>?
  ) {
    func values(_ p: Parameter<Element>) -> [Double] { p.value.elements.map { Double($0) } }
    self.layerIndex = layerIndex
    let parameters: (sigma: Parameter<Element>, center: Parameter<Element>, amplitude: Parameter<Element>)
    switch layer {
    case .bump(let bump):
      kind = .bump
      units = bump.units
      inputSize = bump.units
      parameters = (bump.sigma, bump.center, bump.amplitude)
    case .radial(let radial):
      kind = .radialBump
      units = radial.units
      inputSize = radial.inputSize
      parameters = (radial.sigma, radial.center, radial.amplitude)
    }
    sigma = values(parameters.sigma)
    center = values(parameters.center)
    amplitude = values(parameters.amplitude)
    trainable = Trainability(
      sigma: parameters.sigma.isTrainable, center: parameters.center.isTrainable,
      amplitude: parameters.amplitude.isTrainable)
    self.samples = samples
    supportCountPerUnit = counts
    self.inputRange = inputRange
  }

  /// A bump layer of either kind.
  fileprivate enum Observed<Element: MatrixScalar> {
    case bump(Bump<Element>)
    case radial(RadialBump<Element>)

    init?(_ layer: any Layer<Element>) {
      if let bump = layer as? Bump<Element> {
        self = .bump(bump)
      } else if let radial = layer as? RadialBump<Element> {
        self = .radial(radial)
      } else {
        return nil
      }
    }

    var units: Int {
      switch self {
      case .bump(let layer): layer.units
      case .radial(let layer): layer.units
      }
    }

    /// The counts of the layer's last forward pass, read right after the accumulator ran it.
    var lastPassCounts: [Int] {
      switch self {
      case .bump(let layer): layer.supportCountPerUnit
      case .radial(let layer): layer.supportCountPerUnit
      }
    }
  }

  /// The statistics of every ``Bump`` and ``RadialBump`` layer of `model` on the inputs `x`
  /// (one sample per row), in layer order; empty when the model has no bump layer or `x` no
  /// rows. The counts describe exactly the rows of `x`, whatever the layers last saw before.
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
    var accumulator = Accumulator(model: model)
    guard accumulator.hasBumpLayers, x.rows > 0 else { return [] }
    var batches = try RowBatches<Element>(rows: x.rows, batchSize: batchSize)
    try batches.forEach(x, releasing: model) { _, _, batch, _ in _ = try accumulator.forward(batch) }
    return accumulator.statistics
  }

  /// Gathers ``BumpLayerStatistics`` batch by batch while the caller uses the model's outputs
  /// of the same batches, so that one pass over a dataset gives both (for example the final
  /// loss and the statistics of a training run) and only one batch's activations are held.
  ///
  /// ```swift
  /// var accumulator = BumpLayerStatistics.Accumulator(model: model)
  /// for batch in batches {
  ///   let output = try accumulator.forward(batch)   // the model's output for the batch
  ///   lossSum += try loss.loss(predicted: output, target: targets(of: batch)) * Double(batch.rows)
  /// }
  /// let statistics = accumulator.statistics   // as collect(model:inputs:) gives them
  /// ```
  ///
  /// The counts are summed exactly, so the statistics do not depend on how the rows are cut
  /// into batches: they equal those of ``collect(model:inputs:batchSize:)`` on the
  /// concatenated rows.
  public struct Accumulator<Element: MatrixScalar> {
    /// The model whose bump layers (``Bump`` and ``RadialBump``) are observed.
    public let model: Sequential<Element>
    /// The bump layers, with their positions in the model.
    private let bumps: [(index: Int, layer: Observed<Element>)]
    private var lower: [Double]
    private var upper: [Double]
    private var counts: [[Int]]
    /// The number of rows given to ``forward(_:)`` so far.
    public private(set) var samples = 0

    /// An accumulator over no rows yet, for `model`'s ``Bump`` and ``RadialBump`` layers.
    public init(model: Sequential<Element>) {
      self.model = model
      bumps = model.layers.enumerated().compactMap { i, layer in
        Observed(layer).map { (i, $0) }
      }
      lower = Array(repeating: .infinity, count: bumps.count)
      upper = Array(repeating: -.infinity, count: bumps.count)
      counts = bumps.map { Array(repeating: 0, count: $0.layer.units) }
    }

    /// Whether the model has a ``Bump`` or ``RadialBump`` layer (else ``statistics`` is
    /// always empty).
    public var hasBumpLayers: Bool { !bumps.isEmpty }

    /// Runs the model's layers on `batch` (one sample per row), adds what each bump layer
    /// saw to the statistics, and returns the model's output for the batch, as
    /// ``Sequential/forward(_:)`` gives it.
    ///
    /// Like ``Sequential/forward(_:)``, the layers keep their saved state (the first layer
    /// references `batch`); call ``Sequential/releaseSavedState()`` before refilling the
    /// batch's buffer, so that it is reused in place.
    ///
    /// - Throws: the errors of the layers' forward passes (a shape mismatch for a batch of
    ///   the wrong width).
    public mutating func forward(_ batch: Matrix<Element>) throws -> Matrix<Element> {
      model.releaseSavedState()
      var activations = batch
      var next = 0
      for (i, layer) in model.layers.enumerated() {
        guard next < bumps.count, bumps[next].index == i else {
          activations = try layer.forward(activations)
          continue
        }
        if let (lo, hi) = BumpLayerStatistics.finiteRange(activations) {
          lower[next] = Swift.min(lower[next], lo)
          upper[next] = Swift.max(upper[next], hi)
        }
        activations = try layer.forward(activations)
        let batchCounts = bumps[next].layer.lastPassCounts
        counts[next].withUnsafeMutableBufferPointer { total in
          for j in total.indices { total[j] += batchCounts[j] }
        }
        next += 1
      }
      samples += batch.rows
      return activations
    }

    /// The statistics of every bump layer over the rows given so far, in layer order (with
    /// the layers' current parameters); empty without a bump layer or before any row.
    public var statistics: [BumpLayerStatistics] {
      guard samples > 0 else { return [] }
      return bumps.enumerated().map { k, bump in
        BumpLayerStatistics(
          bump.layer, layerIndex: bump.index, samples: samples, counts: counts[k],
          inputRange: lower[k] <= upper[k] ? lower[k]...upper[k] : nil)
      }
    }
  }

  /// The statistics of every ``Bump`` and ``RadialBump`` layer of `model` from its
  /// parameters alone (no data), in layer order.
  public static func parametersOnly<Element: MatrixScalar>(model: Sequential<Element>) -> [BumpLayerStatistics] {
    model.layers.enumerated().compactMap { i, layer in
      Observed(layer).map {
        BumpLayerStatistics($0, layerIndex: i, samples: 0, counts: [], inputRange: nil)
      }
    }
  }

  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  fileprivate static func finiteRange<Element: MatrixScalar>(_ m: Matrix<Element>) -> (Double, Double)? {
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
