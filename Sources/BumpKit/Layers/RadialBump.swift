/// A layer of radial bumps: for an input row x ∈ ℝᵈ, unit j with centre cⱼ ∈ ℝᵈ, width
/// σⱼ > 0 and amplitude aⱼ outputs
///
///     gⱼ(x) = aⱼ · exp(−σⱼ / (σⱼ − rⱼ²))  where rⱼ² = ‖x − cⱼ‖² < σⱼ,   0 elsewhere.
///
/// The support of unit j is the open ball of radius √σⱼ around cⱼ: like a radial basis
/// function network's Gaussian, but with compact support, so that an input far from every
/// centre gives exactly 0 and, at that input, zero gradient for everything.
///
/// σ, c and a are one per unit, each trainable or fixed, and described, like a ``Bump``
/// layer's, by a ``BumpParameterSpec`` each, in the order σ, c, a. Defaults: σ trainable, 1;
/// c trainable, drawn Uniform(−1, 1) per coordinate (or chosen from data with
/// ``initializeCenters(from:selection:sigmaScale:using:)``); a fixed at 1 (a following
/// ``Dense`` layer scales the units anyway). σ is kept ≥ ``sigmaFloor`` after
/// every optimizer step (a projection). Forward checks that every σ is finite and ≥ 0 and
/// every c and a finite before any kernel runs.
///
/// ## Distances and their accuracy
///
/// For d ≤ ``directDimensionLimit`` r² is computed directly, Σₖ (xₖ − cⱼₖ)², and the
/// gradients as 2·Σⱼ Wⱼ(x − cⱼ) (no cancellation). For larger d, X and C are first shifted by
/// the centres' mean m (rounded to 8 bits; r² and the gradients do not change) where that
/// removes at least a quarter of Σⱼ‖cⱼ‖², and R² = ‖x − m‖²·1ᵀ + 1·‖c − m‖²ᵀ − 2·(X − m)·(C − m)ᵀ
/// comes from one GEMM. That form's error is at most κ(d)·N with N = ‖x − m‖² + ‖cⱼ − m‖²
/// and κ(d) = (d + 4)·ε (`RadialBumpKernel.errorBoundFactor(dimension:)`; measured at most
/// 0.32·κ(d)·N for d = 2, 0.05·κ(d)·N for d = 64). The kernel keeps the GEMM value where
/// N ≤ 8·σⱼ or where the point is surely outside the support, and recomputes r² directly for
/// the remaining pairs, so that |error of r²| ≤ 8·κ(d)·σⱼ everywhere inside a support. With H = ∂g/∂r² and W = G ⊙ H the
/// gradients are then dL/dX = 2·(rowsum(W) ⊙ X − W·C), dL/dC = −2·(Wᵀ·X − colsum(W) ⊙ C),
/// two more GEMMs, and dL/dσ, dL/da are reduced in the fused backward kernel.
///
/// ``BumpLayerStatistics/collect(model:inputs:batchSize:)`` reports, for the rows it is given,
/// which inputs fell inside which supports and which units are dead. (``supportFraction``,
/// ``supportFractionPerUnit``, ``supportCountPerUnit`` and ``deadUnits`` describe only the
/// layer's own last forward pass: its rows of the last batch of training, or the last
/// `forward`; `predict` of many rows runs the model's inference form and leaves them.)
public final class RadialBump<Element: MatrixScalar>: CheckpointableLayer {
  /// How one of σ, c and a is learned and first drawn: ``BumpParameterSpec``, which ``Bump``
  /// takes too (this name stays for code written against it). Every parameter of a radial
  /// layer is one per unit.
  public typealias ParameterSpec = BumpParameterSpec<Element>

  /// How ``initializeCenters(from:selection:sigmaScale:using:)`` picks centres from data.
  public enum CenterSelection: String, Sendable, Equatable, CaseIterable {
    /// k-means++ seeding (Arthur & Vassilvitskii 2007): the first centre is a uniformly
    /// drawn row, each next one a row drawn with probability proportional to its squared
    /// distance from the nearest centre so far. Spreads the units over the data.
    case kMeansPlusPlus
    /// Rows drawn uniformly without replacement (with replacement when there are fewer rows
    /// than units).
    case sampledRows
  }

  /// The input dimension d above which distances come from a GEMM; at or below it they are
  /// computed directly, which is both faster (no product with k ≤ 8) and free of
  /// cancellation. 8.
  public static var directDimensionLimit: Int { 8 }

  /// d, the number of input features.
  public let inputSize: Int
  /// The number of units (output features).
  public let units: Int
  /// c: `units × inputSize`, one centre per row.
  public let center: Parameter<Element>
  /// σ: `1 × units`, kept ≥ ``sigmaFloor``.
  public let sigma: Parameter<Element>
  /// a: `1 × units`.
  public let amplitude: Parameter<Element>
  /// The smallest σ that optimizer steps leave (default 1e-4).
  public let sigmaFloor: Element
  let specs: (sigma: ParameterSpec, center: ParameterSpec, amplitude: ParameterSpec)

  private var savedInput: Matrix<Element>?
  private var lastRows = 0
  private let workspace = KernelWorkspace()
  /// Forward state, reused from step to step; the backward pass reads it.
  private let pass: RadialBumpPass<Element>
  // Backward state.
  private var weights = Matrix<Element>()
  private var rowSums = Matrix<Element>()
  private var columnSums = Matrix<Element>()
  private var centerGradientT = Matrix<Element>()
  private var inputGradient = Matrix<Element>()

  /// A radial bump layer from `inputSize` features to `units` outputs.
  ///
  /// The first values are drawn as every new layer's are (see
  /// ``Sequential/init(layers:seed:)``): once, when first read, or by the model the layer
  /// joins first.
  ///
  /// - Parameters:
  ///   - inputSize: d, the number of input features (≥ 1).
  ///   - units: the number of units (≥ 1).
  ///   - sigma: σ's initializer and whether it is learned; trainable 1 by default.
  ///   - center: c's initializer (drawn as a `units × inputSize` matrix) and whether it is
  ///     learned; trainable Uniform(−1, 1) by default.
  ///   - amplitude: a's initializer and whether it is learned; fixed 1 by default.
  ///   - sigmaFloor: the projection floor for σ; must be finite and > 0.
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for a size ≤ 0, a bad
  ///   floor, or a shared spec whose initializer is not a constant;
  ///   ``BumpKitError/invalidParameter(layer:parameter:index:value:reason:)`` for a
  ///   constant initial σ that is negative or not finite, or a constant initial c or a that
  ///   is not finite. Values a random initializer draws are checked when drawn: by the
  ///   ``Sequential`` the layer joins, which then throws, or, for a layer used on its own,
  ///   by its first forward pass.
  public init(
    inputSize: Int, units: Int,
    sigma: ParameterSpec = .trainable(.constant(1)),
    center: ParameterSpec = .trainable(.uniform(-1, 1)),
    amplitude: ParameterSpec = .fixed(1),
    sigmaFloor: Element = 1e-4
  ) throws {
    guard inputSize > 0 else {
      throw BumpKitError.invalidArgument(name: "inputSize", value: String(inputSize), reason: "a RadialBump layer needs at least one input feature")
    }
    guard units > 0 else {
      throw BumpKitError.invalidArgument(name: "units", value: String(units), reason: "a RadialBump layer needs at least one unit")
    }
    guard sigmaFloor.isFinite && sigmaFloor > 0 else {
      throw BumpKitError.invalidArgument(name: "sigmaFloor", value: "\(sigmaFloor)", reason: "must be finite and > 0")
    }
    for (name, spec) in [("sigma", sigma), ("center", center), ("amplitude", amplitude)]
    where !spec.perUnit && spec.constantValue == nil {
      throw BumpKitError.invalidArgument(
        name: name, value: "shared \(spec.initializer)",
        reason: "a RadialBump layer holds one value per unit: a shared spec needs a constant initializer")
    }
    self.inputSize = inputSize
    self.units = units
    self.sigmaFloor = sigmaFloor
    self.specs = (sigma, center, amplitude)
    self.pass = RadialBumpPass(frame: RadialCenterFrame(inputSize: inputSize, units: units))
    // The throwing initializer: a shape too large to allocate is an error, not a trap.
    self.center = Parameter(name: "center", value: try Matrix(rows: units, columns: inputSize), isTrainable: center.trainable)
    self.sigma = Parameter(name: "sigma", value: try Matrix(rows: 1, columns: units), isTrainable: sigma.trainable, lowerBound: sigmaFloor)
    self.amplitude = Parameter(name: "amplitude", value: try Matrix(rows: 1, columns: units), isTrainable: amplitude.trainable)
    try validateConstantSpecs(layer: name, specs)
    deferInitialDraw { layer, generator in
      if (try? layer.draw(using: &generator, keepingRefusedValues: true)) == nil { layer.fillParametersWithNaN() }
    }
  }

  /// A radial layer's own order, c, σ, a, unlike the σ, c, a of its initializer and
  /// statistics: checkpoints store the tensors, optimizer states and best weights in this
  /// order, and optimizers and gradient clipping visit the parameters in it, so changing it
  /// would change saved files and trained weights.
  deinit { cancelPendingDraw() }

  public var parameters: [Parameter<Element>] { [center, sigma, amplitude] }

  /// The layer in the order of its first version's initializer, c before σ.
  @available(*, deprecated, renamed: "init(inputSize:units:sigma:center:amplitude:sigmaFloor:)")
  public convenience init(
    inputSize: Int, units: Int, center: ParameterSpec, sigma: ParameterSpec,
    amplitude: ParameterSpec = .fixed(1), sigmaFloor: Element = 1e-4
  ) throws {
    try self.init(
      inputSize: inputSize, units: units, sigma: sigma, center: center, amplitude: amplitude, sigmaFloor: sigmaFloor)
  }
  public var requiredInputSize: Int? { inputSize }

  public func outputSize(forInputSize size: Int) throws -> Int {
    try checkInputSize(size, inputSize, "\(name) input")
    return units
  }

  /// "radialBump".
  public static var kind: String { "radialBump" }

  /// The layer's shape, which of σ, c and a are learned, and σ's floor.
  public var settings: RadialBumpConfiguration {
    RadialBumpConfiguration(
      inputSize: inputSize, units: units, trainableSigma: specs.sigma.trainable,
      trainableCenter: specs.center.trainable, trainableAmplitude: specs.amplitude.trainable,
      sigmaFloor: Double(sigmaFloor))
  }

  /// The layer `settings` describe, σ, c and a starting at 1, 0 and 1 (a checkpoint then
  /// assigns the stored values).
  public convenience init(settings: RadialBumpConfiguration) throws {
    func spec(_ trainable: Bool, neutral: Element) -> ParameterSpec {
      .init(trainable: trainable, initializer: .constant(neutral))
    }
    try self.init(
      inputSize: settings.inputSize, units: settings.units, sigma: spec(settings.trainableSigma, neutral: 1),
      center: spec(settings.trainableCenter, neutral: 0), amplitude: spec(settings.trainableAmplitude, neutral: 1),
      sigmaFloor: Element(settings.sigmaFloor))
  }

  /// c `units × inputSize`, σ and a `1 × units`.
  public static func declaredShapes(for settings: RadialBumpConfiguration) -> DeclaredShapes? {
    let (input, units) = (settings.inputSize, settings.units)
    var shapes = DeclaredShapes(
      inputSize: input, outputSize: units,
      parameters: [("center", [units, input]), ("sigma", [1, units]), ("amplitude", [1, units])])
    (shapes.inputName, shapes.outputName) = ("inputSize", "units")
    return shapes
  }

  private var name: String { "RadialBump(\(inputSize)→\(units))" }

  /// Draws c, σ and a from their initializers, in the order of ``parameters`` (which fixes
  /// the values a seed gives); σ values in [0, ``sigmaFloor``) are then raised to the floor.
  ///
  /// - Throws: ``BumpKitError/invalidParameter(layer:parameter:index:value:reason:)`` for a
  ///   negative or non-finite σ or a non-finite c or a; the parameters are then unchanged.
  public func initializeParameters(using generator: inout SeededGenerator) throws {
    try draw(using: &generator, keepingRefusedValues: false)
  }

  /// Draws c, σ and a; values the layer refuses are an error, or with `keepingRefusedValues`
  /// (a layer's first draw, which cannot throw) kept as drawn, so that its first forward
  /// pass names them.
  private func draw(using generator: inout SeededGenerator, keepingRefusedValues: Bool) throws {
    let c = try specs.center.initializer.matrix(rows: units, columns: inputSize, using: &generator)
    let s = try specs.sigma.initializer.matrix(rows: 1, columns: units, using: &generator)
    let a = try specs.amplitude.initializer.matrix(rows: 1, columns: units, using: &generator)
    var refused = false
    do {
      try checkParameterValues(s, layer: name, parameter: "σ", allowNegative: false, negativeReason: initialSigmaReason)
      try validate(c, "c", allowNegative: true)
      try validate(a, "a", allowNegative: true)
    } catch {
      guard keepingRefusedValues else { throw error }
      refused = true
    }
    try center.assign(c)
    try sigma.assign(s)
    try amplitude.assign(a)
    if !refused { sigma.project() }
  }

  /// Places the centres on rows of `data`, the usual start for radial basis networks, and
  /// optionally sets each σ from the spacing of the centres.
  ///
  /// With `sigmaScale` s, σⱼ = (s·δⱼ)², δⱼ the distance from cⱼ to the nearest other centre,
  /// so that each support reaches s times that far (σ is then raised to ``sigmaFloor``;
  /// a unit with no distinct neighbour keeps its σ). Costs O(rows·units·d).
  ///
  /// A layer whose centres were placed before it joins a ``Sequential`` keeps them (its
  /// parameters count as set); ``Sequential/reinitialize(seed:)`` draws from the initializers
  /// again.
  ///
  /// - Parameters:
  ///   - data: `rows × inputSize`, at least one row, every value finite.
  ///   - selection: k-means++ seeding (default) or uniformly sampled rows.
  ///   - sigmaScale: the support radius in units of the nearest-centre distance, finite and
  ///     > 0; `nil` (the default) leaves σ alone.
  ///   - generator: the random source; the same seed picks the same rows.
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` for the wrong number of
  ///   columns, ``BumpKitError/emptyBatch(operation:)`` for no rows,
  ///   ``BumpKitError/nonFiniteData(what:row:column:value:)`` for NaN or ±∞ in `data`,
  ///   ``BumpKitError/invalidArgument(name:value:reason:)`` for a bad `sigmaScale`, or one
  ///   that makes a σ beyond `Element`'s range; the layer is unchanged when it throws.
  public func initializeCenters(
    from data: Matrix<Element>, selection: CenterSelection = .kMeansPlusPlus, sigmaScale: Element? = nil,
    using generator: inout SeededGenerator
  ) throws {
    let op = "\(name).initializeCenters"
    try checkBatch(data, features: inputSize, op)
    if let sigmaScale, !(sigmaScale.isFinite && sigmaScale > 0) {
      throw BumpKitError.invalidArgument(name: "sigmaScale", value: "\(sigmaScale)", reason: "must be finite and > 0")
    }
    let d = inputSize, n = data.rows
    try data.withUnsafeBufferPointer { x in
      for i in x.indices where !x[i].isFinite {
        throw BumpKitError.nonFiniteData(what: "centre data", row: i / d, column: i % d, value: "\(x[i])")
      }
    }
    let chosen: [Int] = data.withUnsafeBufferPointer { x in
      func distance2(_ i: Int, _ row: Int) -> Double {
        var s = 0.0
        for k in 0..<d {
          let diff = Double(x[i * d + k]) - Double(x[row * d + k])
          s += diff * diff
        }
        return s
      }
      switch selection {
      case .sampledRows:
        if n < units { return (0..<units).map { _ in Int(generator.next() % UInt64(n)) } }
        var pool = Array(0..<n)
        for k in 0..<units { pool.swapAt(k, k + Int(generator.next() % UInt64(n - k))) }
        return Array(pool[0..<units])
      case .kMeansPlusPlus:
        var picks = [Int(generator.next() % UInt64(n))]
        var nearest = (0..<n).map { distance2($0, picks[0]) }
        while picks.count < units {
          let total = nearest.reduce(0, +)
          var pick: Int
          if total > 0 && total.isFinite {
            var target = generator.nextUnit() * total
            pick = n - 1
            for i in 0..<n {
              target -= nearest[i]
              if target < 0 && nearest[i] > 0 {
                pick = i
                break
              }
            }
          } else {
            pick = Int(generator.next() % UInt64(n))
          }
          picks.append(pick)
          for i in 0..<n { nearest[i] = min(nearest[i], distance2(i, pick)) }
        }
        return picks
      }
    }
    var c = Matrix<Element>(validRows: units, columns: d)
    for (j, row) in chosen.enumerated() {
      for k in 0..<d { c[j, k] = data[row, k] }
    }
    guard let sigmaScale else {
      try center.assign(c)
      return
    }
    var s = sigma.value
    for j in 0..<units {
      var best = Double.infinity
      for other in 0..<units where other != j {
        var r2 = 0.0
        for k in 0..<d {
          let diff = Double(c[j, k]) - Double(c[other, k])
          r2 += diff * diff
        }
        if r2 > 0 { best = min(best, r2) }
      }
      guard best.isFinite else { continue }
      let value = Double(sigmaScale) * Double(sigmaScale) * best
      // Checked before anything changes: the layer keeps its centres and σ when it throws.
      guard Element(value).isFinite else {
        throw BumpKitError.invalidArgument(
          name: "sigmaScale", value: "\(sigmaScale)",
          reason:
            "σ of unit \(j), (sigmaScale · \(best.squareRoot()))² = \(value), is beyond the range of \(Element.self): the data are too spread for this precision (standardize them) or sigmaScale is too large")
      }
      s[0, j] = Element(value)
    }
    try center.assign(c)
    try sigma.assign(s)
    sigma.project()
  }

  // MARK: - Support statistics

  /// The fraction of (input, unit) pairs of the last forward pass that fell inside the
  /// unit's support; 0 before any forward pass. Counted from the forward cache when read.
  ///
  /// - Important: This describes only the layer's own last forward pass — its rows of the
  ///   last training batch (the first shard's, when `fit` cuts steps into shards), or the
  ///   last ``forward(_:)`` — not the model's data (`predict` of a few rows passes through
  ///   the layer, of many rows through the model's inference form, which leaves it as it was). For the statistics of
  ///   a dataset use ``BumpLayerStatistics/collect(model:inputs:batchSize:)``.
  public var supportFraction: Double {
    lastRows == 0 ? 0 : Double(supportCounts().reduce(0, +)) / Double(lastRows * units)
  }

  /// Per unit, the fraction of inputs of the last forward pass inside its support. A unit at
  /// 0 is dead for that batch: it gets no gradient.
  ///
  /// - Important: This describes only the layer's own last forward pass — its rows of the
  ///   last training batch (the first shard's, when `fit` cuts steps into shards), or the
  ///   last ``forward(_:)`` — not the model's data (`predict` of a few rows passes through
  ///   the layer, of many rows through the model's inference form, which leaves it as it was). For the statistics of
  ///   a dataset use ``BumpLayerStatistics/collect(model:inputs:batchSize:)``.
  public var supportFractionPerUnit: [Double] {
    supportCounts().map { lastRows == 0 ? 0 : Double($0) / Double(lastRows) }
  }

  /// The units whose support held no input of the last forward pass (all of them before any
  /// forward pass), in increasing order.
  ///
  /// - Important: This describes only the layer's own last forward pass — its rows of the
  ///   last training batch (the first shard's, when `fit` cuts steps into shards), or the
  ///   last ``forward(_:)`` — not the model's data (`predict` of a few rows passes through
  ///   the layer, of many rows through the model's inference form, which leaves it as it was). For a dataset's dead units
  ///   use ``BumpLayerStatistics/collect(model:inputs:batchSize:)``.
  public var deadUnits: [Int] {
    let counts = supportCounts()
    return counts.indices.filter { counts[$0] == 0 }
  }

  /// Per unit, the number of inputs of the last forward pass strictly inside its support
  /// (‖x − c‖² < σ), counted exactly from the forward pass's cache when read; all 0 before
  /// the first forward pass. Summed over batches, these give exact counts for a whole
  /// dataset, without holding its activations (as ``BumpLayerStatistics/Accumulator`` does).
  ///
  /// - Important: This describes only the layer's own last forward pass — its rows of the
  ///   last training batch (the first shard's, when `fit` cuts steps into shards), or the
  ///   last ``forward(_:)`` — not the model's data (`predict` of a few rows passes through
  ///   the layer, of many rows through the model's inference form, which leaves it as it was). For the statistics of
  ///   a dataset use ``BumpLayerStatistics/collect(model:inputs:batchSize:)``.
  public var supportCountPerUnit: [Int] { supportCounts() }

  private func supportCounts() -> [Int] { BumpKit.supportCounts(cache: pass.cache, rows: lastRows, units: units) }

  // MARK: - Passes

  /// Checks σ and a; c is checked by `prepareCenters()`, in the pass it makes anyway.
  private func validateParameters() throws {
    try validate(sigma.value, "σ", allowNegative: false)
    try validate(amplitude.value, "a", allowNegative: true)
  }

  private func validate(_ values: Matrix<Element>, _ parameter: String, allowNegative: Bool) throws {
    try checkParameterValues(values, layer: name, parameter: parameter, allowNegative: allowNegative)
  }

  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public func forward(_ input: Matrix<Element>) throws -> Matrix<Element> {
    try checkBatch(input, features: inputSize, "\(name).forward")
    try validateParameters()
    savedInput = input
    try pass.frame.prepare(center.value, layer: name)
    lastRows = input.rows
    try pass.run(input, center: center.value, sigma: sigma.value, amplitude: amplitude.value, workspace: workspace)
    return pass.output
  }

  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public func backward(_ outputGradient: Matrix<Element>) throws -> Matrix<Element> {
    guard let x = savedInput else {
      throw BumpKitError.invalidState(operation: "\(name).backward", reason: "needs a forward pass first")
    }
    try checkGradient(outputGradient, matches: pass.output, "\(name).backward")
    let (rows, n, d) = (x.rows, units, inputSize)
    let gemm = pass.usedGEMM
    let wantC = center.isTrainable, wantS = sigma.isTrainable, wantA = amplitude.isTrainable
    inputGradient.resize(validRows: rows, columns: d)
    columnSums.resize(validRows: 1, columns: n)
    if gemm {
      weights.resize(validRows: rows, columns: n)
      rowSums.resize(validRows: rows, columns: 1)
    } else {
      centerGradientT.resize(validRows: d, columns: n)
    }
    let ws = workspace
    x.withUnsafeBufferPointer { xp in
      pass.frame.centersT.withUnsafeBufferPointer { ct in
        pass.distances.withUnsafeBufferPointer { r2 in
          pass.cache.withUnsafeBufferPointer { f in
            outputGradient.withUnsafeBufferPointer { g in
              sigma.value.withUnsafeBufferPointer { s in
                amplitude.value.withUnsafeBufferPointer { a in
                  weights.withUnsafeMutableBufferPointer { w in
                    rowSums.withUnsafeMutableBufferPointer { rs in
                      columnSums.withUnsafeMutableBufferPointer { cs in
                        sigma.gradient.withUnsafeMutableBufferPointer { ds in
                          amplitude.gradient.withUnsafeMutableBufferPointer { da in
                            inputGradient.withUnsafeMutableBufferPointer { dx in
                              centerGradientT.withUnsafeMutableBufferPointer { dct in
                                RadialBumpKernel.backward(
                                  squaredDistances: r2, cache: f, upstream: g, inputs: xp, centersTransposed: gemm ? nil : ct,
                                  rows: rows, units: n, dimension: d, sigma: s, amplitude: a, direct: !gemm,
                                  weights: gemm ? w : nil, rowSums: gemm ? rs : nil,
                                  sigmaGradient: wantS ? ds : nil, amplitudeGradient: wantA ? da : nil,
                                  columnSums: gemm && wantC ? cs : nil,
                                  inputGradient: gemm ? nil : dx, centerGradientTransposed: !gemm && wantC ? dct : nil,
                                  workspace: ws)
                              }
                            }
                          }
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    if gemm {
      // dL/dX = 2·rowsum(W) ⊙ X' − 2·W·C' and dL/dC = 2·colsum(W) ⊙ C' − 2·Wᵀ·X', in the
      // shifted frame (the same values, with less cancellation).
      let (xs, cs) = pass.frame.shiftApplied ? (pass.shiftedInput, pass.frame.shiftedCenters) : (x, center.value)
      Self.scaleRows(xs, by: rowSums, into: &inputGradient)
      try Matrix.gemm(weights, cs, alpha: -2, beta: 1, into: &inputGradient)
      if wantC {
        Self.scaleRows(cs, by: columnSums, into: &center.gradient)
        try Matrix.gemm(weights, transposeA: true, xs, alpha: -2, beta: 1, into: &center.gradient)
      }
    } else if wantC {
      centerGradientT.withUnsafeBufferPointer { t in
        center.gradient.withUnsafeMutableBufferPointer { g in
          for j in 0..<n { for k in 0..<d { g[j * d + k] = t[k * n + j] } }
        }
      }
    }
    return inputGradient
  }

  /// dst[r, k] = 2·factor[r]·src[r, k].
  private static func scaleRows(_ src: Matrix<Element>, by factor: Matrix<Element>, into dst: inout Matrix<Element>) {
    let (rows, d) = (src.rows, src.columns)
    src.withUnsafeBufferPointer { s in
      factor.withUnsafeBufferPointer { f in
        dst.withUnsafeMutableBufferPointer { t in
          for r in 0..<rows {
            let w = 2 * f[r]
            for k in 0..<d { t[r * d + k] = w * s[r * d + k] }
          }
        }
      }
    }
  }

  public func releaseSavedState() { savedInput = nil }

  /// The layer's prediction form, holding copies of c, σ and a (checked once, here) and what
  /// the forward pass derives from the centres: later training does not change it.
  ///
  /// - Throws: ``BumpKitError/invalidParameter(layer:parameter:index:value:reason:)`` for a
  ///   negative or non-finite σ or a non-finite c or a.
  public func inferenceLayer() throws -> any InferenceLayer<Element> {
    try validateParameters()
    let c = center.value.copied()
    var frame = RadialCenterFrame<Element>(inputSize: inputSize, units: units)
    try frame.prepare(c, layer: name)
    return Inference(name: name, center: c, sigma: sigma.value.copied(), amplitude: amplitude.value.copied(), frame: frame)
  }

  /// The radial bumps with immutable c, σ and a, writing only the output it returns.
  struct Inference: InferenceLayer {
    let name: String
    let center, sigma, amplitude: Matrix<Element>
    let frame: RadialCenterFrame<Element>

    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    func callAsFunction(_ input: Matrix<Element>) throws -> Matrix<Element> {
      try checkBatch(input, features: frame.inputSize, "\(name) inference")
      let pass = RadialBumpPass(frame: frame)
      try pass.run(input, center: center, sigma: sigma, amplitude: amplitude, workspace: nil)
      return pass.output
    }
  }
}

extension RadialBump: CopyableLayer {
  func emptyCopy() throws -> any Layer<Element> {
    try RadialBump(
      inputSize: inputSize, units: units, sigma: specs.sigma, center: specs.center, amplitude: specs.amplitude,
      sigmaFloor: sigmaFloor)
  }
}

/// The settings of a ``RadialBump`` layer: its shape, which of σ, c and a are learned, and
/// σ's floor. Stored as strings: `inputSize`, `units`, `sigma`, `center` and `amplitude`
/// (`trainable` or `fixed`) and `sigmaFloor` (1e-4 when missing).
public struct RadialBumpConfiguration: Codable, Equatable, Sendable {
  /// d, the number of input features.
  public var inputSize: Int
  /// The number of units.
  public var units: Int
  /// Whether σ is learned.
  public var trainableSigma: Bool
  /// Whether the centres are learned.
  public var trainableCenter: Bool
  /// Whether the amplitudes are learned.
  public var trainableAmplitude: Bool
  /// σ's projection floor (the layer's element value, exactly).
  public var sigmaFloor: Double

  /// A configuration from its parts; the defaults are ``RadialBump``'s.
  public init(
    inputSize: Int, units: Int, trainableSigma: Bool = true, trainableCenter: Bool = true,
    trainableAmplitude: Bool = false, sigmaFloor: Double = 1e-4
  ) {
    self.inputSize = inputSize
    self.units = units
    self.trainableSigma = trainableSigma
    self.trainableCenter = trainableCenter
    self.trainableAmplitude = trainableAmplitude
    self.sigmaFloor = sigmaFloor
  }

  /// A configuration in the order of its first version's initializer, c before σ.
  @available(*, deprecated, renamed: "init(inputSize:units:trainableSigma:trainableCenter:trainableAmplitude:sigmaFloor:)")
  public init(
    inputSize: Int, units: Int, trainableCenter: Bool, trainableSigma: Bool, trainableAmplitude: Bool = false,
    sigmaFloor: Double = 1e-4
  ) {
    self.init(
      inputSize: inputSize, units: units, trainableSigma: trainableSigma, trainableCenter: trainableCenter,
      trainableAmplitude: trainableAmplitude, sigmaFloor: sigmaFloor)
  }

  /// Reads the settings as a checkpoint stores them (strings, or JSON numbers and
  /// booleans); a missing or bad value is a ``BumpKitError`` naming it as `radialBump.<key>`.
  public init(from decoder: any Decoder) throws {
    let stored = try StoredSettings(kind: "radialBump", from: decoder)
    func trainable(_ key: String) throws -> Bool {
      switch stored.string(key) {
      case "trainable": return true
      case "fixed": return false
      default: throw stored.fail(key, "expected trainable or fixed")
      }
    }
    self.init(
      inputSize: try stored.int("inputSize"), units: try stored.int("units"), trainableSigma: try trainable("sigma"),
      trainableCenter: try trainable("center"), trainableAmplitude: try trainable("amplitude"),
      sigmaFloor: try stored.number("sigmaFloor", default: 1e-4))
  }

  /// Writes the settings as every version of the checkpoint format stored them: strings.
  public func encode(to encoder: any Encoder) throws {
    func text(_ trainable: Bool) -> String { trainable ? "trainable" : "fixed" }
    try StoredSettings.encode(
      [
        "inputSize": String(inputSize), "units": String(units), "center": text(trainableCenter),
        "sigma": text(trainableSigma), "amplitude": text(trainableAmplitude), "sigmaFloor": "\(sigmaFloor)",
      ], to: encoder)
  }
}
