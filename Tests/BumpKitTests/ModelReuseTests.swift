import BumpKit
import Foundation
import Testing

private func body() throws -> [any Layer<Float>] {
  [try Dense<Float>(inputSize: 1, outputSize: 16), try Bump<Float>(units: 16), try Dense<Float>(inputSize: 16, outputSize: 8), Tanh<Float>()]
}

private func trained() throws -> (model: Sequential<Float>, data: Dataset<Float>) {
  let data = try Dataset<Float>.bumps(samples: 256, seed: 1)
  let model = try Sequential<Float>(layers: try body() + [try Dense<Float>(inputSize: 8, outputSize: 1)], seed: 7)
  try model.fit(x: data.x, y: data.y, loss: MeanSquaredError<Float>(), optimizer: try Adam<Float>(learningRate: 1e-2), epochs: 3)
  return (model, data)
}

@Suite("Model reuse and copies")
struct ModelReuseTests {
  @Test("New layers are drawn from the seed exactly as before: reinitialize(seed:) gives the same bits")
  func newLayersFromTheSeed() throws {
    let model = try Sequential<Float>(layers: try body(), seed: 42)
    let again = try Sequential<Float>(layers: try body(), seed: 1)
    try again.reinitialize(seed: 42)
    #expect(parameterBits(model) == parameterBits(again))
    #expect(parameterBits(model) != parameterBits(try Sequential<Float>(layers: try body(), seed: 43)))
  }

  @Test("A trained body under a new head keeps its weights, and the original model is unchanged")
  func newHeadKeepsTheBody() throws {
    let (original, data) = try trained()
    let originalBits = parameterBits(original)
    let originalPrediction = try original.predict(data.x).elements
    let head = try Dense<Float>(inputSize: 8, outputSize: 2)
    let tuned = try Sequential<Float>(layers: Array(original.layers.dropLast()) + [head], seed: 3)
    #expect(parameterBits(original) == originalBits, "building the new model changed the trained one")
    #expect(try original.predict(data.x).elements == originalPrediction)
    // The head is drawn from the new model's seed, not left at its own shape-seeded start,
    // and the same seed draws it the same way again.
    #expect(head.weight.value != (try Dense<Float>(inputSize: 8, outputSize: 2)).weight.value)
    let sameHead = try Dense<Float>(inputSize: 8, outputSize: 2)
    _ = try Sequential<Float>(layers: Array(original.layers.dropLast()) + [sameHead], seed: 3)
    #expect(sameHead.weight.value == head.weight.value)
    let headBefore = head.weight.value.copied()

    // Fine-tuning with the body fixed moves the head only.
    for layer in tuned.layers.dropLast() { for p in layer.parameters { p.isTrainable = false } }
    let y2 = try Matrix<Float>(rows: data.y.rows, columns: 2, elements: data.y.elements.flatMap { [$0, -$0] })
    try tuned.fit(x: data.x, y: y2, loss: MeanSquaredError<Float>(), optimizer: try Adam<Float>(learningRate: 1e-2), epochs: 2)
    #expect(parameterBits(original) == originalBits, "fine-tuning a fixed body changed it")
    #expect(head.weight.value != headBefore, "the head was trained")
  }

  @Test("Fine-tuning a copy of the body leaves the original model as it was")
  func fineTuneACopy() throws {
    let (original, data) = try trained()
    let originalBits = parameterBits(original)
    let bodyCopy = try original.copy()
    let tuned = try Sequential<Float>(
      layers: Array(bodyCopy.layers.dropLast()) + [try Dense<Float>(inputSize: 8, outputSize: 1)], seed: 3)
    #expect(Array(parameterBits(tuned).dropLast(2)) == Array(originalBits.dropLast(2)), "the copied body keeps its weights")
    try tuned.fit(x: data.x, y: data.y, loss: MeanSquaredError<Float>(), optimizer: try Adam<Float>(learningRate: 1e-2), epochs: 2)
    #expect(Array(parameterBits(tuned).dropLast(2)) != Array(originalBits.dropLast(2)), "the body was trained")
    #expect(parameterBits(original) == originalBits)
  }

  @Test("copy() is deep: training either model leaves the other")
  func copyIsDeep() throws {
    let (original, data) = try trained()
    let copy = try original.copy()
    #expect(parameterBits(copy) == parameterBits(original))
    #expect(copy.summary == original.summary)
    #expect(try copy.predict(data.x) == (try original.predict(data.x)))
    let originalBits = parameterBits(original)
    try copy.fit(x: data.x, y: data.y, loss: MeanSquaredError<Float>(), optimizer: try Adam<Float>(learningRate: 1e-2), epochs: 2)
    #expect(parameterBits(copy) != originalBits)
    #expect(parameterBits(original) == originalBits)
    let copyBits = parameterBits(copy)
    try original.reinitialize(seed: 99)
    #expect(parameterBits(copy) == copyBits)
  }

  @Test("copy() keeps fixed parameters fixed and copies nested models")
  func copyKeepsSettings() throws {
    let inner = try Sequential<Float>(seed: 2) {
      try RadialBump(inputSize: 2, units: 5, amplitude: .trainable(.constant(1)))
      try Gaussian(amplitude: 2, width: 3, center: 0.5)
    }
    let model = try Sequential<Float>(layers: [inner, ReLU<Float>(), try Dense<Float>(inputSize: 5, outputSize: 1)], seed: 4)
    model.layers[2].parameters[1].isTrainable = false
    let copy = try model.copy()
    #expect(copy.parameters.map(\.isTrainable) == model.parameters.map(\.isTrainable))
    #expect(copy.layers[0] is Sequential<Float> && copy.layers[0] !== model.layers[0])
    #expect(zip(copy.parameters, model.parameters).allSatisfy { $0 !== $1 && $0.value == $1.value })
    #expect(copy.configuration == model.configuration)
  }

  @Test("copy() rebuilds every activation as a new layer of its own type")
  func copyRebuildsActivations() throws {
    let model = try Sequential<Double>(seed: 3) {
      try Dense(inputSize: 2, outputSize: 4)
      ReLU()
      try Dense(inputSize: 4, outputSize: 4)
      Tanh()
      try Dense(inputSize: 4, outputSize: 4)
      Sigmoid()
    }
    let copy = try model.copy()
    for i in [1, 3, 5] {
      #expect(type(of: copy.layers[i]) == type(of: model.layers[i]))
      #expect(copy.layers[i] !== model.layers[i])
    }
    let x = try Matrix<Double>(rows: 3, columns: 2, elements: [-2, 1, 0.5, -0.25, 3, 4])
    #expect(try copy.predict(x) == model.predict(x))
  }

  @Test("A layer of your own is copied through its settings, or refused with its name")
  func copyLayersOfYourOwn() throws {
    let model = try Sequential<Float>(layers: [try Dense<Float>(inputSize: 2, outputSize: 3), try Offset<Float>(units: 3)])
    try model.layers[1].parameters[0].assign(try Matrix(rows: 1, columns: 3, elements: [1, 2, 3]))
    let copy = try model.copy()
    #expect(copy.layers[1].parameters[0].value == model.layers[1].parameters[0].value)
    #expect(copy.layers[1] !== model.layers[1])

    let opaque = try Sequential<Float>(layers: [try Dense<Float>(inputSize: 2, outputSize: 3), Opaque()])
    let error = #expect(throws: BumpKitError.self) { try opaque.copy() }
    guard case .invalidArgument(let name, let value, _)? = error else {
      Issue.record("expected invalidArgument, got \(String(describing: error))")
      return
    }
    #expect(name == "layers[1]" && value.contains("Opaque"))
  }
}

/// The identity, with no way to rebuild it: a layer of your own that is not a
/// `CheckpointableLayer` (also what keeps a model to one shard, ``ShardedTrainingTests``).
final class Opaque: Layer {
  typealias Element = Float
  var parameters: [Parameter<Float>] { [] }
  func outputSize(forInputSize inputSize: Int) throws -> Int { inputSize }
  func forward(_ input: Matrix<Float>) throws -> Matrix<Float> { input }
  func backward(_ outputGradient: Matrix<Float>) throws -> Matrix<Float> { outputGradient }
  func releaseSavedState() {}
}
