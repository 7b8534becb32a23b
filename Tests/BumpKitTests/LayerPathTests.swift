import BumpKit
import Foundation
import Testing
import BumpTestSupport

// One path for every layer: built-in and custom layers are CheckpointableLayers registered
// in LayerRegistry; a layer that is never saved needs only Layer.

/// A model with every built-in layer kind and its settings' variants, with weights assigned
/// from a fixed formula (not drawn), so that its checkpoint's bytes depend on the format only.
func layerPathFixtureModel<E: MatrixScalar>(_: E.Type) throws -> Sequential<E> {
  let model = try Sequential<E>(layers: [
    try Dense<E>(inputSize: 3, outputSize: 4),
    try Bump<E>(
      units: 4, sigma: .perUnit(.constant(1)), center: .shared(.constant(0)),
      amplitude: .perUnit(.constant(1), trainable: false), sigmaFloor: 0.001),
    try Dense<E>(inputSize: 4, outputSize: 5, useBias: false),
    Tanh<E>(),
    try RadialBump<E>(inputSize: 5, units: 3, amplitude: .trainable(.constant(1)), sigmaFloor: 0.002),
    try Gaussian<E>(width: 2, widthFloor: 1e-5),
    try Dense<E>(inputSize: 3, outputSize: 2),
    ReLU<E>(),
    Sigmoid<E>(),
  ])
  var k = 0
  for p in model.parameters {
    let values: [E] = (0..<p.count).map { _ in
      k += 1
      let v = E(Double((k * 37) % 101 - 50) / 64)
      return p.name == "sigma" || p.name == "width" ? Swift.abs(v) + E(0.5) : v
    }
    try p.assign(Matrix(rows: p.value.rows, columns: p.value.columns, elements: values))
  }
  return model
}

/// y = s ⊙ x with a learned per-unit scale: a plain Layer, with no kind, settings or
/// configuration, as a layer that is never saved may be.
private final class PlainScale: Layer {
  typealias Element = Double
  let scale: Parameter<Double>
  private var input: Matrix<Double>?
  private var output = Matrix<Double>()
  private var inputGradient = Matrix<Double>()

  init(units: Int) throws { scale = Parameter(name: "scale", value: try Matrix(rows: 1, columns: units, repeating: 1)) }

  var parameters: [Parameter<Double>] { [scale] }
  func outputSize(forInputSize inputSize: Int) throws -> Int { inputSize }

  func forward(_ x: Matrix<Double>) throws -> Matrix<Double> {
    input = x
    try output.resize(rows: x.rows, columns: x.columns)
    for r in 0..<x.rows { for j in 0..<x.columns { output[r, j] = x[r, j] * scale.value[0, j] } }
    return output
  }

  func backward(_ g: Matrix<Double>) throws -> Matrix<Double> {
    guard let x = input else { throw BumpKitError.invalidState(operation: "PlainScale.backward", reason: "needs a forward pass first") }
    var sums = try Matrix<Double>(rows: 1, columns: x.columns)
    try inputGradient.resize(rows: x.rows, columns: x.columns)
    for r in 0..<x.rows {
      for j in 0..<x.columns {
        sums[0, j] += g[r, j] * x[r, j]
        inputGradient[r, j] = g[r, j] * scale.value[0, j]
      }
    }
    try scale.setGradient(sums)
    return inputGradient
  }

  func releaseSavedState() { input = nil }
}

@Suite("One layer path")
struct LayerPathTests {
  private static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/layers")

  private func fixture(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent(name)))
  }

  @Test("an unknown kind is an error naming the kind and the known kinds, never a sigmoid")
  func unknownKindIsAnError() throws {
    let c = try JSONDecoder().decode(LayerConfiguration.self, from: Data(#"{"kind":"softplus","settings":{}}"#.utf8))
    #expect(c.kind == "softplus")
    for error in [
      #expect(throws: BumpKitError.self) { _ = try c.makeLayer(Float.self) },
      #expect(throws: BumpKitError.self) { _ = try c.makeLayer(Double.self) },
    ] {
      let text = error?.localizedDescription ?? ""
      #expect(text.contains("\"softplus\""), "\(text)")
      for known in ["bump", "dense", "gaussian", "radialBump", "relu", "sequential", "sigmoid", "tanh"] {
        #expect(text.contains(known), "\(known) missing from: \(text)")
      }
    }
    // A file naming the kind is refused, naming it, rather than read as another layer.
    var file = try Checkpoint.encode(try Sequential<Float>(layers: [try Dense(inputSize: 2, outputSize: 2), Sigmoid()]))
    file.metadata["architecture"] = file.metadata["architecture"]!.replacingOccurrences(of: "\"sigmoid\"", with: "\"softplus\"")
    let error = #expect(throws: CheckpointError.self) { _ = try Checkpoint.load(Float.self, file: file) }
    #expect(error?.description.contains("\"softplus\"") == true, "\(String(describing: error))")
  }

  @Test("every built-in layer is a registered CheckpointableLayer whose declared shapes are its parameters'")
  func builtInLayersTakeThePublicPath() throws {
    #expect(LayerRegistry.builtInKinds == ["bump", "dense", "gaussian", "radialBump", "relu", "sigmoid", "tanh"])
    let layers: [any Layer<Float>] = try layerPathFixtureModel(Float.self).layers
    for layer in layers {
      let checkpointable = try #require(layer as? any CheckpointableLayer, "\(layer)")
      #expect(LayerRegistry.canRebuild(kind: type(of: checkpointable).kind, Float.self))
      #expect(LayerRegistry.canRebuild(kind: type(of: checkpointable).kind, Double.self))
      let shapes = try #require(try declared(checkpointable), "\(layer)")
      #expect(shapes.parameters.map(\.name) == layer.parameters.map(\.name), "\(layer)")
      #expect(shapes.parameters.map(\.shape) == layer.parameters.map { [$0.value.rows, $0.value.columns] }, "\(layer)")
      #expect(shapes.inputSize == layer.requiredInputSize, "\(layer)")
      // Rebuilt from its configuration, the layer is of the same type with the same settings.
      let rebuilt = try checkpointable.configuration.makeLayer(Float.self)
      #expect(type(of: rebuilt) == type(of: layer))
      #expect(rebuilt.description == layer.description)
    }
  }

  private func declared<L: CheckpointableLayer>(_ layer: L) throws -> DeclaredShapes? {
    try L.declaredShapes(for: layer.settings)
  }

  @Test("a layer without a configuration trains and predicts in a Sequential; saving it is refused, naming it")
  func plainLayerTrainsButIsNotSaved() throws {
    let model = try Sequential<Double>(seed: 1) {
      try Dense<Double>(inputSize: 2, outputSize: 3)
      try PlainScale(units: 3)
      try Dense<Double>(inputSize: 3, outputSize: 1)
    }
    #expect(model.summary.contains("PlainScale"))
    #expect(model.configuration.layers?[1].kind == "PlainScale")
    let x = try Matrix<Double>(rows: 32, columns: 2, elements: (0..<64).map { Double($0 % 7) / 7 - 0.5 })
    let y = try Matrix<Double>(rows: 32, columns: 1, elements: (0..<32).map { Double($0 % 3) / 3 })
    let before = (model.layers[1] as! PlainScale).scale.value.elements
    let history = try model.fit(x: x, y: y, loss: MeanSquaredError(), optimizer: try SGD(learningRate: 0.1), epochs: 5, batchSize: 8)
    #expect(history.loss.last! < history.loss.first!)
    #expect((model.layers[1] as! PlainScale).scale.value.elements != before, "the plain layer is trained")
    #expect(try model.predict(x).rows == 32)
    let error = #expect(throws: CheckpointError.self) { _ = try Checkpoint.encode(model) }
    let text = error?.description ?? ""
    #expect(text.contains("layer 1") && text.contains("PlainScale") && text.contains("CheckpointableLayer"), "\(text)")
    // Saving to a file names the file.
    let folder = try TemporaryFolder(prefix: "bumpkit-layer-path")
    defer { folder.remove() }
    let path = folder.path("plain.safetensors")
    let saving = #expect(throws: CheckpointError.self) { try Checkpoint.save(model, to: path) }
    guard case .unregisteredLayer(1, "", _, let savedTo) = saving, savedTo == path else {
      Issue.record("\(String(describing: saving))")
      return
    }
    #expect(saving?.description.contains("layer 1 (PlainScale, not a CheckpointableLayer) to \(path):") == true, "\(String(describing: saving))")
    #expect(!FileManager.default.fileExists(atPath: path))
  }

  @Test("checkpoints of every built-in kind saved before the layer path was unified load, and save to the same bytes", arguments: ["float", "double"])
  func savedBytesAreUnchanged(precision: String) throws {
    let stored = try fixture("every-kind-\(precision).safetensors")
    let path = Self.fixtures.appendingPathComponent("every-kind-\(precision).safetensors").path
    if precision == "float" { try compare(Float.self, stored, path) } else { try compare(Double.self, stored, path) }
  }

  private func compare<E: MatrixScalar>(_: E.Type, _ stored: [UInt8], _ path: String) throws {
    let model = try layerPathFixtureModel(E.self)
    let metadata = ["note": "every built-in layer kind"]
    #expect(try Checkpoint.encode(model, metadata: metadata).encode() == stored, "a model saved now has the bytes it had")
    let (loaded, loadedMetadata) = try Checkpoint.load(E.self, from: path)
    #expect(loaded.configuration == model.configuration)
    #expect(zip(loaded.parameters, model.parameters).allSatisfy { $0.value.elements == $1.value.elements && $0.isTrainable == $1.isTrainable })
    let x = try Matrix<E>(rows: 4, columns: 3, elements: (0..<12).map { E(Double($0) / 6 - 1) })
    #expect(try loaded.predict(x).elements == model.predict(x).elements)
    var resaved = loadedMetadata
    for key in Checkpoint.reservedMetadataKeys { resaved[key] = nil }
    #expect(try Checkpoint.encode(loaded, metadata: resaved).encode() == stored, "a loaded model saves to the bytes it was read from")
  }

  @Test("a layer made on its own holds the values it gets as the first new layer of a model with the default seed")
  func oneRuleForNewLayers() throws {
    func pair<L: Layer>(_ make: () throws -> L) throws -> (alone: L, inModel: L) where L.Element == Float {
      let alone = try make(), joined = try make()
      _ = try Sequential<Float>(layers: [joined])
      return (alone, joined)
    }
    let dense = try pair { try Dense<Float>(inputSize: 3, outputSize: 4) }
    let bump = try pair { try Bump<Float>(units: 4, sigma: .perUnit(.kerasBumpSigma), center: .perUnit(.normal(mean: 0, standardDeviation: 1))) }
    let radial = try pair { try RadialBump<Float>(inputSize: 2, units: 3) }
    for (alone, joined) in [
      (dense.alone.parameters, dense.inModel.parameters), (bump.alone.parameters, bump.inModel.parameters),
      (radial.alone.parameters, radial.inModel.parameters),
    ] {
      #expect(alone.map(\.value.elements) == joined.map(\.value.elements))
      #expect(alone.contains { $0.value.elements.contains { $0 != 0 && $0 != 1 } }, "drawn, not constant")
    }
    // Another seed draws new layers from that seed; a layer given with set values keeps them.
    let other = try Dense<Float>(inputSize: 3, outputSize: 4)
    _ = try Sequential<Float>(layers: [other], seed: 9)
    #expect(other.weight.value.elements != dense.alone.weight.value.elements)
    let kept = other.weight.value.elements
    _ = try Sequential<Float>(layers: [other], seed: 0)
    #expect(other.weight.value.elements == kept)
  }

  @Test("an error of a layer type's own while a checkpoint is built names the file")
  func layerErrorsNameTheFile() throws {
    try LayerRegistry.register(Refusing.self)
    let model = try Sequential<Float>(layers: [try Dense(inputSize: 2, outputSize: 2), Refusing()])
    let folder = try TemporaryFolder(prefix: "bumpkit-layer-path")
    defer { folder.remove() }
    let path = folder.path("refusing.safetensors")
    try Checkpoint.save(model, to: path)
    let error = #expect(throws: CheckpointError.self) { _ = try Checkpoint.load(Float.self, from: path) }
    let text = error?.description ?? ""
    #expect(text.hasPrefix(path) && text.contains("refuses to be rebuilt"), "\(text)")
  }
}

/// A parameter-free layer whose settings never build it again, with an error of its own type.
private final class Refusing: CheckpointableLayer {
  typealias Element = Float
  struct Refusal: Error, CustomStringConvertible { var description: String { "refuses to be rebuilt" } }
  static var kind: String { "test-refusing" }
  init() {}
  init(settings: NoSettings) throws { throw Refusal() }
  var settings: NoSettings { NoSettings() }
  var parameters: [Parameter<Float>] { [] }
  func outputSize(forInputSize inputSize: Int) throws -> Int { inputSize }
  func forward(_ input: Matrix<Float>) throws -> Matrix<Float> { input }
  func backward(_ outputGradient: Matrix<Float>) throws -> Matrix<Float> { outputGradient }
  func releaseSavedState() {}
}
