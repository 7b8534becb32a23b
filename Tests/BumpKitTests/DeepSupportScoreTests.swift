import BumpKit
import BumpTestSupport
import Foundation
import Testing

/// The support score of a model whose radial layer sits on learned features
/// (Dense → Bump → RadialBump → Dense) and of one with two radial layers: the density
/// against a brute-force Double forward pass, the product over radial layers, the guarantee
/// at a deeper layer in both precisions, and the errors.
@Suite("Support score on learned features")
struct DeepSupportScoreTests {
  /// Dense(d→k) → Bump(k) → RadialBump(k→units) → Dense(units→2), the radial centres put on
  /// the features of random inputs (so that some inputs fall inside), σ from their spacing.
  static func featureModel<E: MatrixScalar>(_: E.Type, inputSize d: Int, features k: Int, units: Int, seed: UInt64)
    throws -> Sequential<E>
  {
    let dense = try Dense<E>(inputSize: d, outputSize: k, biasInitializer: .uniform(-0.5, 0.5))
    let bump = try Bump<E>(units: k, sigma: .perUnit(.uniform(1, 3)))
    let radial = try RadialBump<E>(inputSize: k, units: units)
    let model = try Sequential<E>(layers: [dense, bump, radial, try Dense<E>(inputSize: units, outputSize: 2)], seed: seed)
    let x = try Matrix<E>(randomRows(count: 64, dimension: d, scale: 1, seed: seed ^ 0x55).map { $0.map { E($0) } })
    var generator = SeededGenerator(seed: seed)
    try radial.initializeCenters(from: try bump.forward(try dense.forward(x)), sigmaScale: 1, using: &generator)
    return model
  }

  /// Rows of `dimension` coordinates drawn N(0, scale²).
  static func randomRows(count: Int, dimension: Int, scale: Double, seed: UInt64) -> [[Double]] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in (0..<dimension).map { _ in generator.nextNormal() * scale } }
  }

  /// The bumps exp(−σⱼ/(σⱼ − r²ⱼ)) (0 outside) of a radial layer at `x`, in Double, with the
  /// squared distances relative to σ.
  static func bumps<E: MatrixScalar>(_ layer: RadialBump<E>, _ x: [Double]) -> (f: [Double], ratio: [Double]) {
    var f: [Double] = [], ratio: [Double] = []
    for j in 0..<layer.units {
      var r2 = 0.0
      for i in 0..<layer.inputSize {
        let diff = x[i] - Double(layer.center.value[j, i])
        r2 += diff * diff
      }
      let sigma = Double(layer.sigma.value[0, j])
      f.append(r2 < sigma ? exp(-sigma / (sigma - r2)) : 0)
      ratio.append(r2 / sigma)
    }
    return (f, ratio)
  }

  /// The model's layers run in Double up to each radial layer: per radial layer, its
  /// bumps at its input.
  static func reference<E: MatrixScalar>(_ model: Sequential<E>, _ x: [Double]) -> [(f: [Double], ratio: [Double])] {
    var h = x
    var out: [(f: [Double], ratio: [Double])] = []
    for layer in model.layers {
      switch layer {
      case let dense as Dense<E>:
        h = (0..<dense.outputSize).map { o in
          (0..<dense.inputSize).reduce(Double(dense.bias?.value[0, o] ?? 0)) {
            $0 + h[$1] * Double(dense.weight.value[$1, o])
          }
        }
      case let bump as Bump<E>:
        h = h.indices.map { i in
          func value(_ p: Parameter<E>) -> Double { Double(p.value.columns == 1 ? p.value[0, 0] : p.value[0, i]) }
          let z = h[i] - value(bump.center), sigma = value(bump.sigma)
          return z * z < sigma ? value(bump.amplitude) * exp(-sigma / (sigma - z * z)) : 0
        }
      case let radial as RadialBump<E>:
        let b = bumps(radial, h)
        out.append(b)
        h = b.f.indices.map { b.f[$0] * Double(radial.amplitude.value[0, $0]) }
      default:
        Issue.record("unexpected layer \(layer)")
      }
    }
    return out
  }

  @Test("ρ at a radial layer on learned features matches a brute-force Double forward pass", arguments: [false, true])
  func densityMatchesReference(double: Bool) throws {
    if double { try checkDensity(Double.self) } else { try checkDensity(Float.self) }
  }

  func checkDensity<E: MatrixScalar>(_: E.Type) throws {
    for reduction in SupportReduction.allCases {
      let model = try Self.featureModel(E.self, inputSize: 5, features: 12, units: 10, seed: 4)
      #expect(try RadialSupport(model: model).radialLayers == [2])
      let rows = Self.randomRows(count: 300, dimension: 5, scale: 1.2, seed: 9).map { $0.map { Double(E($0)) } }
      let densities = try RadialSupport(model: model, reduction: reduction).densities(
        try Matrix<E>(rows.map { $0.map { E($0) } }))
      var inside = 0, compared = 0
      for (r, row) in rows.enumerated() {
        let layer = try #require(Self.reference(model, row).first)
        // Only rows clear of every support's edge: E's rounding of the features moves r².
        guard layer.ratio.allSatisfy({ abs($0 - 1) > 0.01 }) else { continue }
        compared += 1
        let reference = reduction == .max ? layer.f.max()! : layer.f.reduce(0, +)
        if reference > 0 { inside += 1 }
        let tolerance = E.self == Float.self ? 1e-3 : 1e-9
        #expect(
          abs(densities[r] - reference) <= tolerance * max(reference, 1e-3), "row \(r): ρ = \(densities[r]), \(reference)")
        #expect((densities[r] == 0) == (reference == 0), "row \(r)")
      }
      #expect(inside > 20 && inside < compared - 20, "inside: \(inside) of \(compared)")
    }
  }

  @Test(
    "The guarantee at a deeper radial layer: features outside every support give score 0 and abstention",
    arguments: [false, true])
  func guaranteeOnFeatures(double: Bool) throws {
    if double { try checkFeatureGuarantee(Double.self) } else { try checkFeatureGuarantee(Float.self) }
  }

  func checkFeatureGuarantee<E: MatrixScalar>(_: E.Type) throws {
    let model = try Self.featureModel(E.self, inputSize: 5, features: 12, units: 10, seed: 8)
    let rows = (Self.randomRows(count: 400, dimension: 5, scale: 1.5, seed: 3)
      + Self.randomRows(count: 100, dimension: 5, scale: 1e3, seed: 4)).map { $0.map { Double(E($0)) } }
    // Features outside every support of the radial layer, by a margin E's rounding cannot cross.
    let outside = try rows.filter { row in
      try #require(Self.reference(model, row).first).ratio.allSatisfy { $0 > 1.01 }
    }
    let inside = try rows.filter { row in
      try #require(Self.reference(model, row).first).ratio.contains { $0 < 0.99 }
    }
    #expect(outside.count > 50 && inside.count > 50, "outside \(outside.count), inside \(inside.count)")
    for reduction in SupportReduction.allCases {
      let support = try RadialSupport(model: model, reduction: reduction)
      let fitted = try SupportCalibration(
        trainingDensities: try support.densities(try Matrix<E>(inside.map { $0.map { E($0) } })), reduction: reduction)
      #expect(fitted.threshold > 0)
      let densities = try support.densities(try Matrix<E>(outside.map { $0.map { E($0) } }))
      for (r, density) in densities.enumerated() {
        #expect(density == 0 && density.sign == .plus, "row \(r): ρ = \(density)")
        #expect(fitted.score(density: density) == 0)
        #expect(fitted.abstains(score: fitted.score(density: density)))
      }
    }
  }

  @Test(
    "Two radial layers: ρ is the product of their densities; outside the first layer's supports it is 0 even where the second's is not",
    arguments: [false, true])
  func productOfLayers(double: Bool) throws {
    if double { try checkProduct(Double.self) } else { try checkProduct(Float.self) }
  }

  func checkProduct<E: MatrixScalar>(_: E.Type) throws {
    // RadialBump(3→8) → Dense(8→6) → Bump → RadialBump(6→5) → Dense(5→2).
    let first = try RadialBump<E>(
      inputSize: 3, units: 8, sigma: .trainable(.uniform(0.3, 1.2)), center: .trainable(.uniform(-1, 1)),
      amplitude: .trainable(.uniform(0.5, 2)))
    let dense = try Dense<E>(inputSize: 8, outputSize: 6, biasInitializer: .uniform(-0.5, 0.5))
    let bump = try Bump<E>(units: 6, sigma: .perUnit(.uniform(1, 3)))
    let last = try RadialBump<E>(inputSize: 6, units: 5)
    let model = try Sequential<E>(layers: [first, dense, bump, last, try Dense<E>(inputSize: 5, outputSize: 2)], seed: 6)
    // The second layer's centres: the features of inputs near the first layer's centres, and
    // the features of an input outside every first-layer support (the Bump of the Dense
    // bias), so that such inputs lie deep inside a second-layer support.
    let near = Self.randomRows(count: 40, dimension: 3, scale: 0.4, seed: 2)
    let far = [[40.0, -40.0, 40.0]]
    let x = try Matrix<E>((near + far).map { $0.map { E($0) } })
    let features = try bump.forward(try dense.forward(try first.forward(x)))
    var generator = SeededGenerator(seed: 1)
    try last.initializeCenters(from: features, sigmaScale: 2, using: &generator)
    last.center.updateValue { c in for i in 0..<6 { c[i] = features[features.rows - 1, i] } }  // row 0
    let support = try RadialSupport(model: model)
    #expect(support.radialLayers == [0, 3])
    #expect(support.units == 8)
    let rows = (Self.randomRows(count: 200, dimension: 3, scale: 0.8, seed: 5) + [far[0], [0, 50, 0], [-30, 0, 1e4]])
      .map { $0.map { Double(E($0)) } }
    let densities = try support.densities(try Matrix<E>(rows.map { $0.map { E($0) } }))
    var both = 0
    for (r, row) in rows.enumerated() {
      let layers = Self.reference(model, row)
      #expect(layers.count == 2)
      guard layers.allSatisfy({ $0.ratio.allSatisfy { abs($0 - 1) > 0.01 } }) else { continue }
      let reference = layers.map { $0.f.max()! }.reduce(1, *)
      if reference > 0 { both += 1 }
      #expect(abs(densities[r] - reference) <= (E.self == Float.self ? 1e-3 : 1e-9) * max(reference, 1e-3), "row \(r)")
      if layers[0].ratio.allSatisfy({ $0 > 1 }) {
        #expect(densities[r] == 0 && densities[r].sign == .plus, "row \(r): outside the first layer, ρ = \(densities[r])")
      }
    }
    #expect(both > 20)
    // The far inputs are inside a second-layer support and outside every first-layer one.
    for row in rows.suffix(3) {
      let layers = Self.reference(model, row)
      #expect(layers[0].f.allSatisfy { $0 == 0 })
      #expect(layers[1].f.max()! > 0)
    }
    #expect(densities.suffix(3).allSatisfy { $0 == 0 })
  }

  @Test("A model with two radial layers and its calibration round-trip through a checkpoint", arguments: [false, true])
  func checkpointRoundTrip(double: Bool) throws {
    if double { try checkRoundTrip(Double.self) } else { try checkRoundTrip(Float.self) }
  }

  func checkRoundTrip<E: MatrixScalar>(_: E.Type) throws {
    let first = try RadialBump<E>(
      inputSize: 4, units: 6, sigma: .trainable(.uniform(1, 3)), center: .trainable(.uniform(-1, 1)))
    let model = try Sequential<E>(
      layers: [
        first, try Dense<E>(inputSize: 6, outputSize: 5), try Bump<E>(units: 5), try RadialBump<E>(inputSize: 5, units: 7),
        try Dense<E>(inputSize: 7, outputSize: 3),
      ], seed: 12)
    let x = try Matrix<E>(Self.randomRows(count: 80, dimension: 4, scale: 0.7, seed: 2).map { $0.map { E($0) } })
    try ModelPrefix.placeLast(model, on: x)
    let support = try RadialSupport(model: model)
    let densities = try support.densities(x)
    #expect(densities.filter { $0 > 0 }.count > 20)
    let calibration = try SupportCalibration(trainingDensities: densities)
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let path = folder.path("model.safetensors")
    let json = String(decoding: try JSONEncoder().encode(calibration), as: UTF8.self)
    try Checkpoint.save(model, to: path, metadata: [SupportCalibration.metadataKey: json])
    let (loaded, metadata) = try Checkpoint.load(E.self, from: path)
    #expect(loaded.layers.map { "\(type(of: $0))" } == model.layers.map { "\(type(of: $0))" })
    let reloaded = try RadialSupport(model: loaded)
    #expect(reloaded.radialLayers == [0, 3])
    #expect(try reloaded.densities(x) == densities)
    let stored = try JSONDecoder().decode(
      SupportCalibration.self, from: Data(try #require(metadata[SupportCalibration.metadataKey]).utf8))
    #expect(stored == calibration)
  }

  @Test("Radial layers must be at the same positions with the same shapes across an ensemble's models")
  func errors() throws {
    let a = try Self.featureModel(Double.self, inputSize: 4, features: 6, units: 5, seed: 1)
    let b = try Self.featureModel(Double.self, inputSize: 4, features: 6, units: 5, seed: 2)
    let rows = try Matrix(Self.randomRows(count: 20, dimension: 4, scale: 1, seed: 7))
    let mean = try RadialSupport(models: [a, b]).densities(rows)
    let (da, db) = (try RadialSupport(model: a).densities(rows), try RadialSupport(model: b).densities(rows))
    for r in 0..<20 { #expect(abs(mean[r] - (da[r] + db[r]) / 2) <= 1e-15) }
    let fewerUnits = try Self.featureModel(Double.self, inputSize: 4, features: 6, units: 4, seed: 1)
    #expect(throws: BumpKitError.self) { try RadialSupport(models: [a, fewerUnits]) }
    let radialFirst = try SupportScoreTests.model(Double.self, inputSize: 4, units: 5, seed: 1)
    #expect(throws: BumpKitError.self) { try RadialSupport(models: [a, radialFirst]) }
    let plain = try Sequential<Double>(
      layers: [try Dense<Double>(inputSize: 4, outputSize: 3), try Bump<Double>(units: 3), try Dense<Double>(inputSize: 3, outputSize: 1)],
      seed: 1)
    #expect(throws: BumpKitError.self) { try RadialSupport(model: plain) }
  }
}

/// Puts the centres of a model's second radial layer (layer 3) on k-means++ rows of the
/// features the layers before it compute for `x`, σ from their spacing.
enum ModelPrefix {
  static func placeLast<E: MatrixScalar>(_ model: Sequential<E>, on x: Matrix<E>) throws {
    var h = x
    for layer in model.layers.prefix(3) { h = try layer.forward(h) }
    var generator = SeededGenerator(seed: 5)
    try (model.layers[3] as! RadialBump<E>).initializeCenters(from: h, sigmaScale: 2, using: &generator)
  }
}
