import BumpKit
import Foundation
import Testing

/// The bit patterns of a matrix's elements: equal only for identical results (NaN included).
private func bits<E: MatrixScalar>(_ m: Matrix<E>) -> [UInt64] {
  // Float → Double is exact, so equal patterns mean equal Float bits.
  m.elements.map { Double($0).bitPattern }
}

/// Inputs drawn uniformly from [−2, 2).
private func inputs<E: MatrixScalar>(rows: Int, columns: Int, seed: UInt64, _: E.Type = E.self) throws -> Matrix<E> {
  var g = SeededGenerator(seed: seed)
  return try Matrix(rows: rows, columns: columns, elements: (0..<(rows * columns)).map { _ in E(4 * g.nextUnit() - 2) })
}

/// Every built-in layer kind in one model, with σ, c and a trained away from their starts.
private func everyKindModel() throws -> Sequential<Float> {
  let model = try Sequential<Float>(seed: 3) {
    try Dense(inputSize: 2, outputSize: 12)
    try Bump(units: 12, sigma: .perUnit(.constant(2)), center: .perUnit(.zeros), amplitude: .shared(.constant(1)))
    try Dense(inputSize: 12, outputSize: 10)
    Tanh()
    try RadialBump(inputSize: 10, units: 9)
    try Gaussian()
    try Dense(inputSize: 9, outputSize: 6)
    ReLU()
    Sigmoid()
    try Dense(inputSize: 6, outputSize: 2)
  }
  let x = try inputs(rows: 256, columns: 2, seed: 1, Float.self)
  let y = try inputs(rows: 256, columns: 2, seed: 2, Float.self)
  try model.fit(x: x, y: y, loss: MeanSquaredError<Float>(), optimizer: try Adam<Float>(learningRate: 1e-2), epochs: 3)
  return model
}

@Suite("InferenceModel")
struct InferenceModelTests {
  @Test("8 tasks sharing one model give the bits of one task, and of the training model")
  func sharedByEightTasks() async throws {
    let model = try everyKindModel()
    let x = try inputs(rows: 700, columns: 2, seed: 9, Float.self)
    let serial = try model.predict(x, batchSize: 128)
    let frozen = try InferenceModel(model)
    #expect(bits(try frozen.predict(x, batchSize: 128)) == bits(serial))
    let results = await withTaskGroup(of: (Int, [UInt64]?).self) { group in
      for task in 0..<8 {
        group.addTask {
          // Several passes each, so that the tasks overlap.
          var last: [UInt64]?
          for _ in 0..<5 { last = (try? frozen.predict(x, batchSize: 128)).map(bits) }
          return (task, last)
        }
      }
      return await group.reduce(into: [Int: [UInt64]?]()) { $0[$1.0] = $1.1 }
    }
    #expect(results.count == 8)
    for (task, result) in results.sorted(by: { $0.key < $1.key }) {
      #expect(result == bits(serial), "task \(task)")
    }
  }

  @Test("Double, a radial layer in the direct form, a nested model, batch 1")
  func doubleNestedAndSingleRows() async throws {
    let body = try Sequential<Double>(seed: 4) {
      try RadialBump(inputSize: 3, units: 7)
      try Dense(inputSize: 7, outputSize: 5)
    }
    let model = try Sequential<Double>(layers: [body, try Bump<Double>(units: 5), try Dense<Double>(inputSize: 5, outputSize: 1)], seed: 5)
    let x = try inputs(rows: 40, columns: 3, seed: 6, Double.self)
    let frozen = try InferenceModel(model)
    let expected = try model.predict(x, batchSize: 1)
    let rows = try await withThrowingTaskGroup(of: (Int, Matrix<Double>).self) { group in
      for r in 0..<x.rows {
        group.addTask {
          var row = Matrix<Double>()
          try x.copyRows(r..<(r + 1), into: &row)
          return (r, try frozen.predict(row))
        }
      }
      return try await group.reduce(into: [Int: Matrix<Double>]()) { $0[$1.0] = $1.1 }
    }
    for r in 0..<x.rows {
      #expect(rows[r]?[0, 0].bitPattern == expected[r, 0].bitPattern, "row \(r)")
    }
  }

  /// A model ending in a bump layer without an amplitude: its output holds the layer's cache,
  /// −0 outside the support, and every path to a prediction gives those bits.
  static func endingInABump<E: MatrixScalar>(_: E.Type) throws {
    let model = try Sequential<E>(seed: 5) {
      try Dense(inputSize: 3, outputSize: 8)
      try Bump(units: 8)
    }
    let x = try inputs(rows: 100, columns: 3, seed: 11, E.self)
    let forward = try model.forward(x)
    model.releaseSavedState()
    #expect(forward.elements.contains { $0 == 0 && $0.sign == .minus }, "no input outside a support")
    #expect(forward.elements.contains { $0 > 0 }, "no input inside a support")
    // Fewer rows than a block: through the layers' own passes.
    #expect(bits(try model.predict(x)) == bits(forward))
    // The inference form, on one block and on several.
    let frozen = try InferenceModel(model)
    #expect(bits(try frozen.predict(x)) == bits(forward))
    #expect(bits(try frozen.predict(x, batchSize: 7)) == bits(forward))
  }

  @Test("A model ending in a bump layer: forward, predict and the inference form give the same bits, −0 included (Float)")
  func endingInABumpFloat() throws { try Self.endingInABump(Float.self) }

  @Test("A model ending in a bump layer: forward, predict and the inference form give the same bits, −0 included (Double)")
  func endingInABumpDouble() throws { try Self.endingInABump(Double.self) }

  @Test("An inference model keeps the weights it was made with")
  func independentOfLaterTraining() throws {
    let model = try everyKindModel()
    let x = try inputs(rows: 64, columns: 2, seed: 12, Float.self)
    let frozen = try InferenceModel(model)
    let before = bits(try frozen.predict(x))
    try model.fit(x: x, y: try inputs(rows: 64, columns: 2, seed: 13, Float.self), loss: MeanSquaredError<Float>(),
                  optimizer: try Adam<Float>(learningRate: 1e-1), epochs: 2)
    #expect(bits(try model.predict(x)) != before, "training changed the model")
    #expect(bits(try frozen.predict(x)) == before)
  }

  @Test("A non-finite input throws with its row and column, from both models", arguments: [Float.nan, .infinity, -.infinity])
  func nonFiniteInput(value: Float) throws {
    let model = try everyKindModel()
    var x = try inputs(rows: 5, columns: 2, seed: 14, Float.self)
    x[3, 1] = value
    x[4, 0] = value
    let frozen = try InferenceModel(model)
    for predict in [{ try model.predict(x) }, { try frozen.predict(x) }] {
      let error = #expect(throws: BumpKitError.self) { try predict() }
      guard case .nonFiniteData(_, let row, let column, _)? = error else {
        Issue.record("expected nonFiniteData, got \(String(describing: error))")
        continue
      }
      #expect(row == 3 && column == 1)
    }
  }

  @Test("Huge finite inputs are taken as they are: a prediction, not an error")
  func hugeFiniteInput() throws {
    let model = try everyKindModel()
    let x = try Matrix<Float>(rows: 2, columns: 2, elements: [1e30, -1e30, .greatestFiniteMagnitude, 0])
    #expect(bits(try InferenceModel(model).predict(x)) == bits(try model.predict(x)))
  }

  @Test("A layer without an inference form is named; one with a form of its own takes part")
  func layersOfYourOwn() throws {
    let without = try Sequential<Float>(layers: [try Dense<Float>(inputSize: 2, outputSize: 3), OpaqueScale(units: 3)])
    let error = #expect(throws: BumpKitError.self) { try InferenceModel(without) }
    guard case .invalidArgument(let name, let value, let reason)? = error else {
      Issue.record("expected invalidArgument, got \(String(describing: error))")
      return
    }
    #expect(name == "layers[1]" && value.contains("OpaqueScale") && reason.contains("inferenceLayer()"))

    let with = try Sequential<Float>(layers: [try Dense<Float>(inputSize: 2, outputSize: 3), FrozenScale(units: 3)])
    let x = try inputs(rows: 9, columns: 2, seed: 15, Float.self)
    #expect(bits(try InferenceModel(with).predict(x)) == bits(try with.predict(x)))
  }

  @Test("A parameter the layer cannot use is refused when the model is frozen")
  func invalidParameterAtFreezing() throws {
    let bump = try Bump<Float>(units: 2)
    let model = try Sequential<Float>(layers: [bump])
    try bump.sigma.assign(try Matrix(rows: 1, columns: 2, elements: [1, .nan]))
    #expect(throws: BumpKitError.self) { try InferenceModel(model) }
  }
}

/// y = s ⊙ x with a per-unit scale s, and no inference form.
private final class OpaqueScale: Layer {
  typealias Element = Float
  let units: Int
  let scale: Parameter<Float>
  init(units: Int) throws {
    self.units = units
    scale = Parameter(name: "scale", value: try Matrix(rows: 1, columns: units, repeating: 2))
  }
  var parameters: [Parameter<Float>] { [scale] }
  func outputSize(forInputSize inputSize: Int) throws -> Int { inputSize }
  func forward(_ input: Matrix<Float>) throws -> Matrix<Float> { try ScaleInference(scale: scale.value)(input) }
  func backward(_ outputGradient: Matrix<Float>) throws -> Matrix<Float> { outputGradient }
  func releaseSavedState() {}
}

/// The same layer with an inference form.
private final class FrozenScale: Layer {
  typealias Element = Float
  let inner: OpaqueScale
  init(units: Int) throws { inner = try OpaqueScale(units: units) }
  var parameters: [Parameter<Float>] { inner.parameters }
  func outputSize(forInputSize inputSize: Int) throws -> Int { inputSize }
  func forward(_ input: Matrix<Float>) throws -> Matrix<Float> { try inner.forward(input) }
  func backward(_ outputGradient: Matrix<Float>) throws -> Matrix<Float> { outputGradient }
  func releaseSavedState() {}
  func inferenceLayer() throws -> any InferenceLayer<Float> { ScaleInference(scale: inner.scale.value) }
}

private struct ScaleInference: InferenceLayer {
  let scale: Matrix<Float>
  func callAsFunction(_ input: Matrix<Float>) throws -> Matrix<Float> {
    var output = input
    for r in 0..<input.rows { for j in 0..<input.columns { output[r, j] *= scale[0, j] } }
    return output
  }
}

