import BumpKit
import Foundation
import Testing

/// y = x + b with a learned per-unit offset b: a layer written outside BumpKit with its
/// public API only, generic over the element type (so `kind` is a computed static property: a
/// generic type cannot have a stored one). The tests' one checkpointable layer of an app's own
/// (also ``LayerPathTests`` and ``ModelReuseTests``).
final class Offset<Element: MatrixScalar>: CheckpointableLayer {
  static var kind: String { "test-offset" }
  let units: Int
  let offset: Parameter<Element>
  private var output = Matrix<Element>()

  init(units: Int) throws {
    self.units = units
    offset = Parameter(name: "offset", value: try Matrix(rows: 1, columns: units))
  }

  struct Settings: Codable { var units: Int }

  convenience init(settings: Settings) throws {
    guard settings.units > 0 else {
      throw BumpKitError.invalidArgument(name: "units", value: String(settings.units), reason: "must be a positive integer")
    }
    try self.init(units: settings.units)
  }

  var parameters: [Parameter<Element>] { [offset] }
  var requiredInputSize: Int? { units }
  var settings: Settings { Settings(units: units) }
  func outputSize(forInputSize inputSize: Int) throws -> Int { units }

  func forward(_ input: Matrix<Element>) throws -> Matrix<Element> {
    try output.resize(rows: input.rows, columns: units)
    for r in 0..<input.rows { for j in 0..<units { output[r, j] = input[r, j] + offset.value[0, j] } }
    return output
  }

  func backward(_ outputGradient: Matrix<Element>) throws -> Matrix<Element> {
    var sums = try Matrix<Element>(rows: 1, columns: units)
    for r in 0..<outputGradient.rows { for j in 0..<units { sums[0, j] += outputGradient[r, j] } }
    try offset.setGradient(sums)
    return outputGradient
  }

  func releaseSavedState() {}
}

/// The same layer, not checkpointable: it trains and predicts, but checkpoints cannot store it.
private final class Unregistered: Layer {
  typealias Element = Float
  let inner = try! Offset<Float>(units: 2)  // 2 is a valid width
  var parameters: [Parameter<Float>] { inner.parameters }
  func outputSize(forInputSize inputSize: Int) throws -> Int { 2 }
  func forward(_ input: Matrix<Float>) throws -> Matrix<Float> { try inner.forward(input) }
  func backward(_ outputGradient: Matrix<Float>) throws -> Matrix<Float> { try inner.backward(outputGradient) }
  func releaseSavedState() {}
}

/// A parameter-free Float layer that passes its input through: the body of the small test
/// layers below, which differ only in the kind they report.
private protocol PassThroughLayer: Layer where Element == Float {}

extension PassThroughLayer {
  var parameters: [Parameter<Float>] { [] }
  func outputSize(forInputSize inputSize: Int) throws -> Int { inputSize }
  func forward(_ input: Matrix<Float>) throws -> Matrix<Float> { input }
  func backward(_ outputGradient: Matrix<Float>) throws -> Matrix<Float> { outputGradient }
  func releaseSavedState() {}
}

@Suite("Layers and optimizers of an app's own")
struct ExtensionTests {
  @Test("a parameter's gradient and value can be written through public API, in place")
  func parameterWrites() throws {
    let p = Parameter<Float>(name: "w", value: try Matrix([[1, 2], [3, 4]]))
    try p.setGradient(try Matrix([[0.5, -1], [2, 0]]))
    #expect(p.gradient.elements == [0.5, -1, 2, 0])
    let error = #expect(throws: BumpKitError.self) { try p.setGradient(Matrix(rows: 1, columns: 4)) }
    #expect(error?.localizedDescription.contains("2×2") == true && error?.localizedDescription.contains("1×4") == true, "\(String(describing: error))")
    #expect(p.gradient.elements == [0.5, -1, 2, 0], "a rejected gradient changes nothing")

    p.updateGradient { g in for i in g.indices { g[i] *= 2 } }
    #expect(p.gradient.elements == [1, -2, 4, 0])
    let held = p.value
    p.updateValue { v in for i in v.indices { v[i] -= 0.5 } }
    #expect(p.value.elements == [0.5, 1.5, 2.5, 3.5])
    #expect(held.elements == [1, 2, 3, 4], "a copy taken before keeps its elements")
  }

  @Test("a registered generic layer of an app's own, with a computed static kind, round-trips in both precisions")
  func registeredLayerRoundTrips() throws {
    try LayerRegistry.register(Offset<Float>.self)
    try LayerRegistry.register(Offset<Float>.self)  // again: nothing happens
    try LayerRegistry.register(Offset<Double>.self)
    try roundTrip(Float.self)
    try roundTrip(Double.self)
  }

  private func roundTrip<E: MatrixScalar>(_: E.Type) throws {
    let model = try Sequential<E>(seed: 5) {
      try Dense<E>(inputSize: 3, outputSize: 2)
      try Offset<E>(units: 2)
      Tanh<E>()
    }
    let offset = try #require(model.layers[1] as? Offset<E>)
    try offset.offset.assign(Matrix([[0.25, -0.75]]))
    let file = try Checkpoint.encode(model)
    #expect(file.metadata["architecture"]?.contains(#"{"kind":"test-offset","settings":{"units":2}}"#) == true)
    let (loaded, _) = try Checkpoint.load(E.self, file: file)
    let reloaded = try #require(loaded.layers[1] as? Offset<E>)
    #expect(reloaded.offset.value.elements == [0.25, -0.75])
    #expect(loaded.configuration == model.configuration)
    let x = try Matrix<E>([[0.1, 0.2, 0.3], [-1, 0, 2]])
    #expect(try loaded.predict(x).elements == model.predict(x).elements)
  }

  @Test("an unregistered layer kind is refused when saving, naming the layer and the fix")
  func unregisteredLayerIsRefusedAtSave() throws {
    let model = try Sequential<Float>(layers: [try Dense(inputSize: 2, outputSize: 2), Unregistered()])
    let error = #expect(throws: CheckpointError.self) { _ = try Checkpoint.encode(model) }
    let text = error?.localizedDescription ?? ""
    #expect(text.contains("layer 1") && text.contains("Unregistered") && text.contains("LayerRegistry.register"), "\(text)")
  }

  @Test("a kind registered for one type cannot be registered for another")
  func conflictingRegistration() throws {
    final class OtherOffset: PassThroughLayer, CheckpointableLayer {
      static let kind = "test-offset"
      init(settings: [String: Int]) throws {}
      var settings: [String: Int] { [:] }
    }
    try LayerRegistry.register(Offset<Float>.self)
    let error = #expect(throws: BumpKitError.self) { try LayerRegistry.register(OtherOffset.self) }
    #expect(error?.localizedDescription.contains("registered already") == true, "\(String(describing: error))")
  }

  @Test("a layer of an app's own that reports a built-in kind is refused when saving")
  func impostorKindIsRefused() throws {
    final class FakeDenseKind: PassThroughLayer, CheckpointableLayer {
      static var kind: String { "relu" }
      init(settings: NoSettings) {}
      init() {}
      var settings: NoSettings { NoSettings() }
    }
    let model = try Sequential<Float>(layers: [try Dense(inputSize: 2, outputSize: 2), FakeDenseKind()])
    #expect(throws: CheckpointError.self) { _ = try Checkpoint.encode(model) }
  }

  @Test("built-in kinds cannot be registered again")
  func builtInKindsAreTaken() throws {
    final class FakeDense: PassThroughLayer, CheckpointableLayer {
      static let kind = "dense"
      init(settings: [String: Int]) throws {}
      var settings: [String: Int] { [:] }
    }
    #expect(throws: BumpKitError.self) { try LayerRegistry.register(FakeDense.self) }
  }

  @Test("every error type's localizedDescription is its own description, with the values")
  func errorsRead() {
    let errors: [any Error & CustomStringConvertible] = [
      BumpKitError.invalidArgument(name: "units", value: "0", reason: "needs at least one unit"),
      BumpKitError.shapeMismatch(operation: "gemm", expected: MatrixShape(rows: 4, columns: 2), actual: MatrixShape(rows: 5, columns: 2)),
      LinearAlgebraError.lapack(routine: "dposv", info: 2),
      CheckpointError.missingTensor(source: "m.safetensors", name: "layers.0.weight"),
      DataError.fileNotFound(path: "missing.csv"),
      SafetensorsError.truncatedFile(byteCount: 3),
    ]
    for error in errors {
      #expect(error.localizedDescription == error.description)
      #expect(!error.localizedDescription.contains("operation could not be completed"))
    }
  }
}

@Suite("State errors")
struct StateErrorTests {
  @Test("backward before any forward pass is a state error naming the layer, for every layer")
  func backwardBeforeForward() throws {
    let layers: [any Layer<Float>] = [
      try Dense(inputSize: 2, outputSize: 3), try Bump(units: 3), ReLU(), Tanh(), Sigmoid(), try Gaussian(),
    ]
    for layer in layers {
      let width = try layer.outputSize(forInputSize: layer.requiredInputSize ?? 3)
      do {
        _ = try layer.backward(Matrix(rows: 1, columns: width))
        Issue.record("\(layer) accepted backward before forward")
      } catch BumpKitError.invalidState(let operation, let reason) {
        #expect(operation.hasSuffix(".backward") && reason.contains("forward"), "\(operation): \(reason)")
        let text = BumpKitError.invalidState(operation: operation, reason: reason).localizedDescription
        #expect(text.contains(operation) && text.contains("forward pass"), "\(text)")
      }
    }
  }
}
