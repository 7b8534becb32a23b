/// The trainable generalized bump activation, g(x) = a · f(x − c; σ), element-wise, with
///
///     f(z; σ) = exp(−σ / (σ − z²))  where z² < σ,   0 elsewhere.
///
/// Each of σ, c and a is shared by all units (shape [1], as in the Keras layer this corrects)
/// or one per unit, and trainable or fixed. Defaults: σ per unit, trainable, initial 1;
/// c = 0 and a = 1, fixed. The support of unit j is (c − √σ, c + √σ): an input outside it
/// gives 0 and, at that input, zero gradient for everything — a unit whose inputs all fall
/// outside learns nothing. ``BumpLayerStatistics/collect(model:inputs:batchSize:)`` reports,
/// for the rows it is given, how many inputs fell inside each support, so that dead units can
/// be seen. (``supportFraction``, ``supportFractionPerUnit`` and ``supportCountPerUnit`` describe
/// only the layer's own last forward pass: its rows of the last batch of training, or the
/// last `forward`; `predict` of many rows runs the model's inference form and leaves them.)
///
/// σ is kept ≥ ``sigmaFloor`` after every optimizer step (a projection; Keras' NonNeg
/// constraint lets σ reach exactly 0, where the unit is dead for good). Forward checks that
/// every σ is finite and ≥ 0, and c and a finite, before any kernel runs.
///
/// The values and gradients come from `BumpKernel`: a fused SIMD pass each way, exactly 0
/// outside the support, never NaN from finite inputs.
public final class Bump<Element: MatrixScalar>: CheckpointableLayer {
  /// How one of σ, c and a is laid out, learned and first drawn: ``BumpParameterSpec``,
  /// which ``RadialBump`` takes too (this name stays for code written against it).
  public typealias ParameterSpec = BumpParameterSpec<Element>

  /// The number of units (input and output features).
  public let units: Int
  /// σ: `1 × units` or `1 × 1`.
  public let sigma: Parameter<Element>
  /// c: `1 × units` or `1 × 1`.
  public let center: Parameter<Element>
  /// a: `1 × units` or `1 × 1`.
  public let amplitude: Parameter<Element>
  /// The smallest σ that optimizer steps leave (default 1e-4).
  public let sigmaFloor: Element
  typealias Specs = (sigma: ParameterSpec, center: ParameterSpec, amplitude: ParameterSpec)
  let specs: Specs

  // The layer's own buffers, used by its passes alone: unchecked exclusivity spares each
  // access the runtime's dynamic check (see `Parameter`).
  @exclusivity(unchecked) private var savedInput: Matrix<Element>?
  @exclusivity(unchecked) private var output = Matrix<Element>()
  // f for the backward pass; empty while `output` holds it (no amplitude: g = f).
  @exclusivity(unchecked) private var cache = Matrix<Element>()
  @exclusivity(unchecked) private var cacheIsOutput = false
  @exclusivity(unchecked) private var inputGradient = Matrix<Element>()
  @exclusivity(unchecked) private var lastRows = 0
  private let workspace = KernelWorkspace()

  /// A bump layer over `units` features.
  ///
  /// The first values are drawn as every new layer's are (see
  /// ``Sequential/init(layers:seed:)``): once, when first read, or by the model the layer
  /// joins first.
  ///
  /// - Parameters:
  ///   - units: the number of units, inputs and outputs (≥ 1).
  ///   - sigma: σ's layout and initializer; the default is per unit, trainable, 1.
  ///     ``Initializer/kerasBumpSigma`` gives the Keras layer's Uniform(0, 0.1).
  ///   - center: c's layout and initializer; fixed at 0 by default.
  ///   - amplitude: a's layout and initializer; fixed at 1 by default.
  ///   - sigmaFloor: the projection floor for σ; must be finite and > 0.
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for units ≤ 0 or a bad
  ///   floor; ``BumpKitError/invalidParameter(layer:parameter:index:value:reason:)`` for a
  ///   constant initial σ that is negative or not finite, or a constant initial c or a that
  ///   is not finite. Values a random initializer draws are checked when drawn: by the
  ///   ``Sequential`` the layer joins, which then throws, or, for a layer used on its own,
  ///   by its first forward pass.
  public init(
    units: Int,
    sigma: ParameterSpec = .perUnit(.constant(1)),
    center: ParameterSpec = .fixed(0),
    amplitude: ParameterSpec = .fixed(1),
    sigmaFloor: Element = 1e-4
  ) throws {
    guard units > 0 else {
      throw BumpKitError.invalidArgument(name: "units", value: String(units), reason: "a Bump layer needs at least one unit")
    }
    guard sigmaFloor.isFinite && sigmaFloor > 0 else {
      throw BumpKitError.invalidArgument(name: "sigmaFloor", value: "\(sigmaFloor)", reason: "must be finite and > 0")
    }
    self.units = units
    self.sigmaFloor = sigmaFloor
    self.specs = (sigma, center, amplitude)
    // The throwing initializer: a width too large to allocate is an error, not a trap.
    func make(_ name: String, _ spec: ParameterSpec, floor: Element?) throws -> Parameter<Element> {
      Parameter(
        name: name, value: try Matrix(rows: 1, columns: spec.perUnit ? units : 1), isTrainable: spec.trainable,
        lowerBound: floor)
    }
    self.sigma = try make("sigma", sigma, floor: sigmaFloor)
    self.center = try make("center", center, floor: nil)
    self.amplitude = try make("amplitude", amplitude, floor: nil)
    try validateConstantSpecs(layer: "Bump(\(units))", specs)
    deferInitialDraw { layer, generator in
      if (try? layer.draw(using: &generator, keepingRefusedValues: true)) == nil { layer.fillParametersWithNaN() }
    }
  }

  deinit { cancelPendingDraw() }

  public var parameters: [Parameter<Element>] { [sigma, center, amplitude] }
  public var requiredInputSize: Int? { units }

  public func outputSize(forInputSize inputSize: Int) throws -> Int {
    try checkInputSize(inputSize, units, "Bump(\(units)) input")
    return units
  }

  /// "bump".
  public static var kind: String { "bump" }

  /// The layer's width, the layouts of σ, c and a, and σ's floor.
  public var settings: BumpConfiguration {
    func layout(_ s: ParameterSpec) -> BumpConfiguration.Layout { .init(perUnit: s.perUnit, trainable: s.trainable) }
    return BumpConfiguration(
      units: units, sigma: layout(specs.sigma), center: layout(specs.center),
      amplitude: layout(specs.amplitude), sigmaFloor: Double(sigmaFloor))
  }

  /// The layer `settings` describe, σ, c and a starting at 1, 0 and 1 (a checkpoint then
  /// assigns the stored values).
  public convenience init(settings: BumpConfiguration) throws {
    func spec(_ layout: BumpConfiguration.Layout, neutral: Element) -> ParameterSpec {
      .init(perUnit: layout.perUnit, trainable: layout.trainable, initializer: .constant(neutral))
    }
    try self.init(
      units: settings.units, sigma: spec(settings.sigma, neutral: 1), center: spec(settings.center, neutral: 0),
      amplitude: spec(settings.amplitude, neutral: 1), sigmaFloor: Element(settings.sigmaFloor))
  }

  /// σ, c and a `1 × units` each (`1 × 1` when shared); `units` features in and out.
  public static func declaredShapes(for settings: BumpConfiguration) -> DeclaredShapes? {
    let units = settings.units
    var shapes = DeclaredShapes(
      inputSize: units, outputSize: units,
      parameters: [("sigma", settings.sigma), ("center", settings.center), ("amplitude", settings.amplitude)]
        .map { ($0.0, [1, $0.1.perUnit ? units : 1]) })
    (shapes.inputName, shapes.outputName) = ("units", "units")
    return shapes
  }

  /// Draws σ, c and a from their initializers; σ values in [0, ``sigmaFloor``) are then
  /// raised to the floor (a Uniform(0, 0.1) draw may fall below it).
  ///
  /// - Throws: ``BumpKitError/invalidParameter(layer:parameter:index:value:reason:)`` for a
  ///   negative or non-finite σ or a non-finite c or a; the parameters are then unchanged.
  public func initializeParameters(using generator: inout SeededGenerator) throws {
    try draw(using: &generator, keepingRefusedValues: false)
  }

  /// Draws σ, c and a; values the layer refuses are an error, or with `keepingRefusedValues`
  /// (a layer's first draw, which cannot throw) kept as drawn, so that its first forward
  /// pass names them.
  private func draw(using generator: inout SeededGenerator, keepingRefusedValues: Bool) throws {
    var drawn: [Matrix<Element>] = []
    for (spec, count) in [(specs.sigma, sigma.count), (specs.center, center.count), (specs.amplitude, amplitude.count)] {
      drawn.append(try spec.initializer.matrix(rows: 1, columns: count, using: &generator))
    }
    var refused = false
    do {
      try validate(drawn[0], "σ", allowNegative: false, negativeReason: initialSigmaReason)
      try validate(drawn[1], "c", allowNegative: true)
      try validate(drawn[2], "a", allowNegative: true)
    } catch {
      guard keepingRefusedValues else { throw error }
      refused = true
    }
    try sigma.assign(drawn[0])
    try center.assign(drawn[1])
    try amplitude.assign(drawn[2])
    if !refused { sigma.project() }
  }

  /// The fraction of inputs of the last forward pass that fell inside the support.
  ///
  /// Counted from the forward pass's cache when read (one pass over `batch × units` values),
  /// so training steps do not pay for it.
  ///
  /// - Important: This describes only the layer's own last forward pass — its rows of the
  ///   last training batch (the first shard's, when `fit` cuts steps into shards), or the
  ///   last ``forward(_:)`` — not the model's data (`predict` of a few rows passes through
  ///   the layer, of many rows through the model's inference form, which leaves it as it was). For the statistics of
  ///   a dataset use ``BumpLayerStatistics/collect(model:inputs:batchSize:)``.
  public var supportFraction: Double {
    lastRows == 0 ? 0 : Double(supportCountPerUnit.reduce(0, +)) / Double(lastRows * units)
  }

  /// Per unit, the fraction of inputs of the last forward pass inside its support. A unit at
  /// 0 gets no gradient. Counted when read, like ``supportFraction``.
  ///
  /// - Important: This describes only the layer's own last forward pass — its rows of the
  ///   last training batch (the first shard's, when `fit` cuts steps into shards), or the
  ///   last ``forward(_:)`` — not the model's data (`predict` of a few rows passes through
  ///   the layer, of many rows through the model's inference form, which leaves it as it was). For the statistics of
  ///   a dataset use ``BumpLayerStatistics/collect(model:inputs:batchSize:)``.
  public var supportFractionPerUnit: [Double] {
    supportCountPerUnit.map { lastRows == 0 ? 0 : Double($0) / Double(lastRows) }
  }

  /// Per unit, the number of inputs of the last forward pass strictly inside its support
  /// (c − √σ, c + √σ), counted exactly from the forward pass's cache when read; all 0 before
  /// the first forward pass. Summed over batches, these give exact counts for a whole
  /// dataset (see ``BumpLayerStatistics``).
  ///
  /// - Important: This describes only the layer's own last forward pass — its rows of the
  ///   last training batch (the first shard's, when `fit` cuts steps into shards), or the
  ///   last ``forward(_:)`` — not the model's data (`predict` of a few rows passes through
  ///   the layer, of many rows through the model's inference form, which leaves it as it was). For the statistics of
  ///   a dataset use ``BumpLayerStatistics/collect(model:inputs:batchSize:)``.
  public var supportCountPerUnit: [Int] {
    supportCounts(cache: cacheIsOutput ? output : cache, rows: lastRows, units: units)
  }

  private func validateParameters() throws {
    try validate(sigma.value, "σ", allowNegative: false)
    try validate(center.value, "c", allowNegative: true)
    try validate(amplitude.value, "a", allowNegative: true)
  }

  /// Throws for the first NaN or infinite value, or negative one unless `allowNegative`.
  private func validate(
    _ values: Matrix<Element>, _ name: String, allowNegative: Bool,
    negativeReason: String = "must be finite and ≥ 0"
  ) throws {
    try checkParameterValues(
      values, layer: "Bump(\(units))", parameter: name, allowNegative: allowNegative, negativeReason: negativeReason)
  }

  /// Runs `body` with the three parameters as kernel arguments (nil for a fixed c = 0 or a = 1).
  private func withKernelParameters<R>(
    _ body: (BumpParameter<Element>, BumpParameter<Element>?, BumpParameter<Element>?) throws -> R
  ) rethrows -> R {
    try Self.withKernelParameters(
      sigma: sigma.value, center: center.value, amplitude: amplitude.value, specs: specs, body)
  }

  /// Runs `body` with σ, c and a as kernel arguments (nil for a fixed c = 0 or a = 1).
  private static func withKernelParameters<R>(
    sigma: Matrix<Element>, center: Matrix<Element>, amplitude: Matrix<Element>, specs: Specs,
    _ body: (BumpParameter<Element>, BumpParameter<Element>?, BumpParameter<Element>?) throws -> R
  ) rethrows -> R {
    try sigma.withUnsafeBufferPointer { s in
      try center.withUnsafeBufferPointer { c in
        try amplitude.withUnsafeBufferPointer { a in
          func arg(_ b: UnsafeBufferPointer<Element>, _ spec: ParameterSpec, neutral: Element) -> BumpParameter<Element>? {
            if isNeutral(b[0], spec, neutral) { return nil }
            return spec.perUnit ? .perUnit(b) : .shared(b[0])
          }
          return try body(
            specs.sigma.perUnit ? .perUnit(s) : .shared(s[0]),
            arg(c, specs.center, neutral: 0), arg(a, specs.amplitude, neutral: 1))
        }
      }
    }
  }

  /// Whether a parameter enters the kernels as nil: fixed, shared and at its neutral value.
  private static func isNeutral(_ value: Element, _ spec: ParameterSpec, _ neutral: Element) -> Bool {
    !spec.trainable && !spec.perUnit && value == neutral
  }

  /// Returns g = a·f(x − c; σ) for each element of `input`.
  ///
  /// Where an element lies outside its unit's support the output is 0; without an amplitude
  /// (a fixed at 1, the default) it is −0 there, as the layer keeps its record of the support
  /// in the output itself rather than in a second buffer (the inference form writes the same
  /// bits). −0 equals 0 in every comparison and sum.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public func forward(_ input: Matrix<Element>) throws -> Matrix<Element> {
    try checkBatch(input, features: units, "Bump(\(units)).forward")
    try validateParameters()
    savedInput = input
    try output.resize(rows: input.rows, columns: units)
    lastRows = input.rows
    // Without an amplitude, g = f: the output is the cache, written once, and the backward
    // pass reads one buffer less.
    cacheIsOutput = Self.isNeutral(amplitude.value[0, 0], specs.amplitude, 1)
    if cacheIsOutput {
      if cache.count != 0 { cache = Matrix() }
      Self.apply(
        input, sigma: sigma.value, center: center.value, amplitude: amplitude.value, specs: specs,
        output: &output, cache: .output, workspace: workspace)
    } else {
      try cache.resize(rows: input.rows, columns: units)
      cache.withUnsafeMutableBufferPointer { f in
        Self.apply(
          input, sigma: sigma.value, center: center.value, amplitude: amplitude.value, specs: specs,
          output: &output, cache: .buffer(f), workspace: workspace)
      }
    }
    return output
  }

  /// Where ``apply(_:sigma:center:amplitude:specs:output:cache:workspace:)`` keeps f.
  enum CacheTarget {
    /// Nowhere (inference with an amplitude).
    case none
    /// In a buffer of its own.
    case buffer(UnsafeMutableBufferPointer<Element>)
    /// In the output itself, which then holds f with −0 outside the support; only for a
    /// layer without an amplitude (g = f).
    case output
  }

  /// g into `output`, already `rows × units`, and f where `cache` says: the one computation
  /// that training and inference share, so that both give the same bits (both keep the
  /// cache's −0 in the output when there is no amplitude). The parameters must have been
  /// validated.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  static func apply(
    _ input: Matrix<Element>, sigma: Matrix<Element>, center: Matrix<Element>, amplitude: Matrix<Element>,
    specs: Specs, output: inout Matrix<Element>, cache: CacheTarget,
    workspace: KernelWorkspace?
  ) {
    let (rows, columns) = (input.rows, input.columns)
    withKernelParameters(sigma: sigma, center: center, amplitude: amplitude, specs: specs) { s, c, a in
      input.withUnsafeBufferPointer { x in
        output.withUnsafeMutableBufferPointer { y in
          let f: UnsafeMutableBufferPointer<Element>?
          switch cache {
          case .none: f = nil
          case .buffer(let buffer): f = buffer
          case .output: f = y
          }
          BumpKernel.forward(
            input: x, rows: rows, columns: columns, sigma: s, center: c, amplitude: a,
            output: y, cache: f, workspace: workspace)
        }
      }
    }
  }

  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public func backward(_ outputGradient: Matrix<Element>) throws -> Matrix<Element> {
    guard let x = savedInput else {
      throw BumpKitError.invalidState(operation: "Bump.backward", reason: "needs a forward pass first")
    }
    try checkGradient(outputGradient, matches: output, "Bump(\(units)).backward")
    try inputGradient.resize(rows: x.rows, columns: units)
    let (rows, columns, ws) = (x.rows, units, workspace)
    let wantC = center.isTrainable, wantA = amplitude.isTrainable, wantS = sigma.isTrainable
    withKernelParameters { s, c, a in
      // A trainable c or a needs its kernel argument even at its neutral value.
      let cArg = c ?? (wantC ? .shared(0) : nil)
      let aArg = a ?? (wantA ? .shared(1) : nil)
      x.withUnsafeBufferPointer { xp in
        outputGradient.withUnsafeBufferPointer { g in
          (cacheIsOutput ? output : cache).withUnsafeBufferPointer { f in
            inputGradient.withUnsafeMutableBufferPointer { dx in
              sigma.gradient.withUnsafeMutableBufferPointer { ds in
                center.gradient.withUnsafeMutableBufferPointer { dc in
                  amplitude.gradient.withUnsafeMutableBufferPointer { da in
                    BumpKernel.backward(
                      input: xp, upstream: g, rows: rows, columns: columns, sigma: s,
                      center: cArg, amplitude: aArg, cache: f, inputGradient: dx,
                      sigmaGradient: wantS ? ds : nil, centerGradient: wantC ? dc : nil,
                      amplitudeGradient: wantA ? da : nil, workspace: ws)
                  }
                }
              }
            }
          }
        }
      }
    }
    return inputGradient
  }

  public func releaseSavedState() { savedInput = nil }

  /// The layer's prediction form, holding copies of σ, c and a (checked once, here): later
  /// training does not change it.
  ///
  /// - Throws: ``BumpKitError/invalidParameter(layer:parameter:index:value:reason:)`` for a
  ///   negative or non-finite σ or a non-finite c or a.
  public func inferenceLayer() throws -> any InferenceLayer<Element> {
    try validateParameters()
    return Inference(
      units: units, sigma: sigma.value.copied(), center: center.value.copied(),
      amplitude: amplitude.value.copied(), layout: Layout(specs))
  }

  /// σ, c and a's layouts, as the kernel arguments need them.
  struct Layout: Sendable {
    let sigma, center, amplitude: ParameterSpec
    init(_ specs: Specs) { (sigma, center, amplitude) = specs }
    var specs: Specs { (sigma, center, amplitude) }
  }

  /// g(x) = a·f(x − c; σ) with immutable σ, c and a, writing only the output it returns.
  struct Inference: InferenceLayer {
    let units: Int
    let sigma, center, amplitude: Matrix<Element>
    let layout: Layout

    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    func callAsFunction(_ input: Matrix<Element>) throws -> Matrix<Element> {
      try checkBatch(input, features: units, "Bump(\(units)) inference")
      var output = Matrix<Element>(validRows: input.rows, columns: units)
      // As the layer's forward pass writes it: without an amplitude, f with −0 outside the
      // support (one store), so that both forms give the same bits.
      let cacheInOutput = Bump.isNeutral(amplitude[0, 0], layout.amplitude, 1)
      Bump.apply(
        input, sigma: sigma, center: center, amplitude: amplitude, specs: layout.specs,
        output: &output, cache: cacheInOutput ? .output : .none, workspace: nil)
      return output
    }
  }
}

extension Bump: CopyableLayer {
  func emptyCopy() throws -> any Layer<Element> {
    try Bump(units: units, sigma: specs.sigma, center: specs.center, amplitude: specs.amplitude, sigmaFloor: sigmaFloor)
  }
}

/// The settings of a ``Bump`` layer: its width, how each of σ, c and a is laid out, and σ's
/// floor. Stored as strings: `units`, `sigma`, `center`, `amplitude` (layouts) and
/// `sigmaFloor` (1e-4 when missing).
public struct BumpConfiguration: Codable, Equatable, Sendable {
  /// How one of σ, c and a is laid out and learned; stored as `shared`, `per-unit`,
  /// `shared,fixed` or `per-unit,fixed`.
  public struct Layout: Codable, Equatable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    /// One value per unit (true) or one shared value (false).
    public var perUnit: Bool
    /// Whether optimizers update it.
    public var trainable: Bool

    /// A layout from its parts.
    public init(perUnit: Bool, trainable: Bool) {
      self.perUnit = perUnit
      self.trainable = trainable
    }

    /// Parses `shared`, `per-unit`, `shared,fixed` or `per-unit,fixed`.
    public init?(_ description: String) {
      let parts = description.split(separator: ",", omittingEmptySubsequences: false)
      guard let first = parts.first, first == "shared" || first == "per-unit",
        parts.count == 1 || (parts.count == 2 && parts[1] == "fixed")
      else { return nil }
      self.init(perUnit: first == "per-unit", trainable: parts.count == 1)
    }

    /// `shared` or `per-unit`, followed by `,fixed` when not trainable.
    public var description: String { (perUnit ? "per-unit" : "shared") + (trainable ? "" : ",fixed") }

    /// Reads a layout from its text; the error names the text.
    public init(from decoder: any Decoder) throws {
      let text = try decoder.singleValueContainer().decode(String.self)
      guard let layout = Layout(text) else {
        throw DecodingError.dataCorrupted(.init(
          codingPath: decoder.codingPath, debugDescription: "\"\(text)\" is not shared or per-unit, optionally followed by ,fixed"))
      }
      self = layout
    }

    /// Writes the layout as its text.
    public func encode(to encoder: any Encoder) throws {
      var container = encoder.singleValueContainer()
      try container.encode(description)
    }
  }

  /// The number of units.
  public var units: Int
  /// σ's layout.
  public var sigma: Layout
  /// c's layout.
  public var center: Layout
  /// a's layout.
  public var amplitude: Layout
  /// σ's projection floor (the layer's element value, exactly).
  public var sigmaFloor: Double

  /// A configuration from its parts.
  public init(units: Int, sigma: Layout, center: Layout, amplitude: Layout, sigmaFloor: Double = 1e-4) {
    self.units = units
    self.sigma = sigma
    self.center = center
    self.amplitude = amplitude
    self.sigmaFloor = sigmaFloor
  }

  /// Reads the settings as a checkpoint stores them (strings, or JSON numbers and
  /// booleans); a missing or bad value is a ``BumpKitError`` naming it as `bump.<key>`.
  public init(from decoder: any Decoder) throws {
    let stored = try StoredSettings(kind: "bump", from: decoder)
    func layout(_ key: String) throws -> Layout {
      guard let text = stored.string(key), let v = Layout(text) else {
        throw stored.fail(key, "expected shared or per-unit, optionally followed by ,fixed")
      }
      return v
    }
    self.init(
      units: try stored.int("units"), sigma: try layout("sigma"), center: try layout("center"),
      amplitude: try layout("amplitude"), sigmaFloor: try stored.number("sigmaFloor", default: 1e-4))
  }

  /// Writes the settings as every version of the checkpoint format stored them: strings.
  public func encode(to encoder: any Encoder) throws {
    try StoredSettings.encode(
      [
        "units": String(units), "sigma": sigma.description, "center": center.description,
        "amplitude": amplitude.description, "sigmaFloor": "\(sigmaFloor)",
      ], to: encoder)
  }
}
