@testable import BumpKit
import Testing

/// A layer of three values that counts its draws and defers its first one, as the built-in
/// layers do.
private final class CountedLayer: Layer {
  typealias Element = Double
  let weight = Parameter<Double>(name: "weight", value: Matrix(validRows: 1, columns: 3))
  private(set) var draws = 0

  init() {
    deferInitialDraw { layer, generator in try? layer.initializeParameters(using: &generator) }
  }

  deinit { cancelPendingDraw() }

  var parameters: [Parameter<Double>] { [weight] }
  var requiredInputSize: Int? { 3 }
  func outputSize(forInputSize inputSize: Int) throws -> Int { inputSize }
  func forward(_ input: Matrix<Double>) throws -> Matrix<Double> { input }
  func backward(_ outputGradient: Matrix<Double>) throws -> Matrix<Double> { outputGradient }
  func releaseSavedState() {}

  func initializeParameters(using generator: inout SeededGenerator) throws {
    draws += 1
    try weight.assign(Initializer<Double>.uniform(0, 1).matrix(rows: 1, columns: 3, using: &generator))
  }

  /// The values the draw gives with `seed`.
  static func expected(seed: UInt64) throws -> [Double] {
    var generator = SeededGenerator(seed: seed)
    return try Initializer<Double>.uniform(0, 1).matrix(rows: 1, columns: 3, using: &generator).elements
  }
}

@Suite("One initialization: a new layer's parameters are drawn once")
struct InitialDrawTests {
  @Test("a layer that joins a model is drawn once, from the model's seed")
  func joinedLayerDrawsOnce() throws {
    let layer = CountedLayer()
    #expect(layer.draws == 0, "making a layer draws nothing yet")
    _ = try Sequential<Double>(layers: [layer], seed: 5)
    #expect(layer.draws == 1)
    #expect(layer.weight.value.elements == (try CountedLayer.expected(seed: 5)))
    #expect(layer.draws == 1, "reading the values afterwards draws nothing")
  }

  @Test("a layer on its own is drawn once, with seed 0, when first read")
  func aloneLayerDrawsWhenRead() throws {
    let layer = CountedLayer()
    #expect(layer.weight.count == 3 && layer.parameterCount == 3, "sizes need no draw")
    #expect(layer.draws == 0)
    #expect(layer.weight.value.elements == (try CountedLayer.expected(seed: 0)))
    #expect(layer.weight.value.elements == (try CountedLayer.expected(seed: 0)))
    #expect(layer.draws == 1)
    #expect(!layer.hasSetParameters, "the first draw leaves the layer new: a model draws it again")
    _ = try Sequential<Double>(layers: [layer], seed: 5)
    #expect(layer.draws == 2)
    #expect(layer.weight.value.elements == (try CountedLayer.expected(seed: 5)))
  }

  @Test("assigning one parameter of a new layer draws the others once")
  func assignDrawsTheRest() throws {
    let bump = try Bump<Double>(units: 3, sigma: .perUnit(.uniform(0.5, 1)), center: .perUnit(.uniform(-1, 1)))
    try bump.center.assign(Matrix(rows: 1, columns: 3, elements: [7, 8, 9]))
    var generator = SeededGenerator(seed: 0)
    let sigma = try Initializer<Double>.uniform(0.5, 1).matrix(rows: 1, columns: 3, using: &generator)
    #expect(bump.sigma.value.elements == sigma.elements)
    #expect(bump.center.value.elements == [7, 8, 9])
    #expect(bump.hasSetParameters, "an assigned layer keeps its values in a model")
  }

  @Test("built-in layers leave their first draw pending until read or replaced by the model's")
  func builtInLayersDefer() throws {
    let dense = try Dense<Float>(inputSize: 3, outputSize: 4)
    let bump = try Bump<Float>(units: 4, sigma: .perUnit(.kerasBumpSigma))
    let radial = try RadialBump<Float>(inputSize: 4, units: 2)
    let layers: [any Layer<Float>] = [dense, bump, radial]
    #expect(layers.allSatisfy { $0.hasPendingDraw })
    let model = try Sequential<Float>(layers: layers, seed: 11)
    #expect(!layers.contains { $0.hasPendingDraw })
    var generator = SeededGenerator(seed: 11)
    let weight = try Initializer<Float>.glorotUniform.matrix(rows: 3, columns: 4, using: &generator)
    _ = try Initializer<Float>.zeros.matrix(rows: 1, columns: 4, using: &generator)
    let sigma = try Initializer<Float>.kerasBumpSigma.matrix(rows: 1, columns: 4, using: &generator)
    #expect(dense.weight.value.elements == weight.elements, "the model's seed, as before")
    #expect(bump.sigma.value.elements == sigma.elements.map { max($0, 1e-4) })
    let copy = try model.copy()
    #expect(!copy.layers.contains { $0.hasPendingDraw }, "a copy assigns every value and draws none")
    #expect(copy.parameters.map(\.value.elements) == model.parameters.map(\.value.elements))
  }

  @Test("a random initial σ the layer refuses: a model throws; on its own, the first forward names it")
  func refusedRandomDraw() throws {
    let bump = try Bump<Double>(units: 3, sigma: .perUnit(.uniform(-2, -1)))
    #expect(throws: BumpKitError.self) { try Sequential<Double>(layers: [bump]) }
    #expect(bump.hasPendingDraw, "a failed model leaves the first draw pending")
    let error = try #require(throws: BumpKitError.self) {
      try bump.forward(Matrix(rows: 1, columns: 3, elements: [0, 0, 0]))
    }
    guard case .invalidParameter(_, let parameter, _, let value, _) = error else {
      Issue.record("expected invalidParameter, got \(error)")
      return
    }
    #expect(parameter == "σ")
    #expect((Double(value) ?? 0) < 0, "the value drawn, not the floor: \(value)")
    // A constant the layer refuses is still refused when the layer is made.
    #expect(throws: BumpKitError.self) { try Bump<Double>(units: 3, sigma: .perUnit(.constant(-1))) }
    #expect(throws: BumpKitError.self) { try RadialBump<Double>(inputSize: 2, units: 3, amplitude: .fixed(.infinity)) }
  }
  @Test("a parameter that outlives its layer keeps its zeros: the layer's pending draw goes with it")
  func parameterOutlivesLayer() throws {
    func check<L: Layer>(_ make: () throws -> L) throws where L.Element == Float {
      weak var gone: L?
      let kept: [Parameter<Float>]
      do {
        let layer = try make()
        gone = layer
        kept = layer.parameters
        #expect(kept.allSatisfy { $0.pendingDraw != nil }, "a new layer's draw is pending")
      }
      #expect(gone == nil, "nothing but the layer's own parameters held it")
      for p in kept {
        #expect(p.pendingDraw == nil)
        #expect(p.value.elements.allSatisfy { $0 == 0 }, "\(p.name) was not drawn")
      }
    }
    try check { try Dense<Float>(inputSize: 3, outputSize: 2) }
    try check { try Bump<Float>(units: 4, sigma: .perUnit(.uniform(0.5, 2)), center: .perUnit(.uniform(-1, 1))) }
    try check { try RadialBump<Float>(inputSize: 3, units: 2, amplitude: .trainable(.constant(1))) }

    // A layer that is kept still draws on first read, once.
    let layer = try Dense<Float>(inputSize: 3, outputSize: 2)
    let weight = layer.parameters[0]
    #expect(weight.value.elements.contains { $0 != 0 })
    #expect(weight.pendingDraw == nil)
  }
}
