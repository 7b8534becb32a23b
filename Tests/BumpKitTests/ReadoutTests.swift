import BumpKit
import Foundation
import Testing

// MARK: - Helpers

/// Φ·W + 1·b, in Double.
private func affine<T: MatrixScalar>(_ phi: Matrix<T>, _ w: [[Double]], _ b: [Double]) -> [[Double]] {
  (0..<phi.rows).map { i in
    (0..<b.count).map { k in (0..<phi.columns).reduce(b[k]) { $0 + Double(phi[i, $1]) * w[$1][k] } }
  }
}

private func readoutNorm(_ m: Matrix<Double>) -> Double { m.elements.reduce(0) { $0 + $1 * $1 }.squareRoot() }

// MARK: - Tests

@Suite("Closed-form read-out")
struct ReadoutTests {
  private static let weights: [[Double]] = [[1.5, -0.5], [0.25, 2], [-1, 0], [0.75, 0.125]]
  private static let bias: [Double] = [0.3, -1.2]

  @Test("least squares recovers an exact linear map, weights and bias")
  func recoversExactMap() throws {
    try checkExactMap(Double.self, tolerance: 1e-12)
    try checkExactMap(Float.self, tolerance: 2e-6)
  }

  private func checkExactMap<T: MatrixScalar>(_: T.Type, tolerance: Double) throws {
    let phi: Matrix<T> = seededMatrix(40, 4, seed: 1)
    let y = try Matrix<T>(affine(phi, Self.weights, Self.bias).map { $0.map { T($0) } })
    let dense = try Dense<T>(inputSize: 4, outputSize: 2)
    let mse = try Readout.fitRidge(features: phi, targets: y, lambda: 0, into: dense)
    for j in 0..<4 {
      for k in 0..<2 { #expect(abs(Double(dense.weight.value[j, k]) - Self.weights[j][k]) < tolerance, "W[\(j), \(k)]") }
    }
    for k in 0..<2 { #expect(abs(Double(dense.bias!.value[0, k]) - Self.bias[k]) < tolerance, "b[\(k)]") }
    #expect(mse < tolerance * tolerance * 10)
    // The layer now computes the map.
    let out = try dense.forward(phi)
    for (a, b) in zip(out.elements, y.elements) { #expect(abs(Double(a) - Double(b)) < 10 * tolerance) }
  }

  @Test("ridge with λ > 0 shrinks the weights, not the bias, and matches the centred normal equations")
  func ridgeShrinks() throws {
    let phi: Matrix<Double> = seededMatrix(30, 4, seed: 2)
    var y = try Matrix<Double>(affine(phi, Self.weights, Self.bias))
    let noise: Matrix<Double> = seededMatrix(30, 2, seed: 3)
    try Matrix.axpy(alpha: 0.1, noise, &y)
    var previous = Double.infinity
    for lambda in [0.0, 0.1, 1, 10, 100] {
      let dense = try Dense<Double>(inputSize: 4, outputSize: 2)
      try Readout.fitRidge(features: phi, targets: y, lambda: lambda, into: dense)
      let size = readoutNorm(dense.weight.value)
      #expect(size < previous, "λ = \(lambda): ‖W‖ = \(size)")
      previous = size

      // Independent reference: ridge on centred data (Matrix.ridge), then b = ȳ − x̄·W.
      var centredPhi = phi, centredY = y
      var meanPhi = [Double](repeating: 0, count: 4), meanY = [Double](repeating: 0, count: 2)
      for i in 0..<30 {
        for j in 0..<4 { meanPhi[j] += phi[i, j] / 30 }
        for k in 0..<2 { meanY[k] += y[i, k] / 30 }
      }
      for i in 0..<30 {
        for j in 0..<4 { centredPhi[i, j] -= meanPhi[j] }
        for k in 0..<2 { centredY[i, k] -= meanY[k] }
      }
      let w = try Matrix.ridge(features: centredPhi, targets: centredY, lambda: lambda)
      for j in 0..<4 {
        for k in 0..<2 { #expect(abs(dense.weight.value[j, k] - w[j, k]) < 1e-10, "λ = \(lambda), W[\(j), \(k)]") }
      }
      for k in 0..<2 {
        let b = meanY[k] - (0..<4).reduce(0.0) { $0 + meanPhi[$1] * w[$1, k] }
        #expect(abs(dense.bias!.value[0, k] - b) < 1e-10, "λ = \(lambda), b[\(k)]")
      }
    }
    // With a huge λ the weights vanish and the bias becomes the mean target.
    let dense = try Dense<Double>(inputSize: 4, outputSize: 2)
    try Readout.fitRidge(features: phi, targets: y, lambda: 1e12, into: dense)
    #expect(readoutNorm(dense.weight.value) < 1e-9)
    for k in 0..<2 {
      let mean = (0..<30).reduce(0.0) { $0 + y[$1, k] } / 30
      #expect(abs(dense.bias!.value[0, k] - mean) < 1e-9)
    }
  }

  @Test("dead units (all-zero feature columns) need λ > 0, which gives them zero weight")
  func deadUnits() throws {
    var phi: Matrix<Double> = seededMatrix(20, 4, seed: 4)
    for i in 0..<20 { phi[i, 2] = 0 }
    let y = try Matrix<Double>(affine(phi, Self.weights, Self.bias))
    let dense = try Dense<Double>(inputSize: 4, outputSize: 2)
    do {
      try Readout.fitRidge(features: phi, targets: y, lambda: 0, into: dense)
      Issue.record("rank-deficient features were accepted with λ = 0")
    } catch let BumpKitError.invalidArgument(name, _, reason) {
      #expect(name == "features" && reason.contains("lambda > 0"), "\(reason)")
    }
    try Readout.fitRidge(features: phi, targets: y, lambda: 1e-8, into: dense)
    #expect(dense.weight.value[2, 0] == 0 && dense.weight.value[2, 1] == 0)
    #expect(abs(dense.weight.value[0, 0] - 1.5) < 1e-6)
  }

  @Test("a layer without bias gets only W")
  func withoutBias() throws {
    let phi: Matrix<Double> = seededMatrix(25, 4, seed: 5)
    let y = try Matrix<Double>(affine(phi, Self.weights, [0, 0]))
    let dense = try Dense<Double>(inputSize: 4, outputSize: 2, useBias: false)
    try Readout.fitRidge(features: phi, targets: y, lambda: 0, into: dense)
    #expect(dense.bias == nil)
    #expect(abs(dense.weight.value[1, 1] - 2) < 1e-12)
  }

  @Test("bad inputs are errors that name the shapes, the row or the argument")
  func errors() throws {
    let phi: Matrix<Double> = seededMatrix(10, 4, seed: 6)
    let dense = try Dense<Double>(inputSize: 4, outputSize: 2)
    #expect(throws: BumpKitError.self) { try Readout.fitRidge(features: phi, targets: Matrix(rows: 9, columns: 2), lambda: 0, into: dense) }
    #expect(throws: BumpKitError.self) { try Readout.fitRidge(features: phi, targets: Matrix(rows: 10, columns: 3), lambda: 0, into: dense) }
    #expect(throws: BumpKitError.self) {
      try Readout.fitRidge(features: Matrix(rows: 10, columns: 3), targets: Matrix(rows: 10, columns: 2), lambda: 0, into: dense)
    }
    #expect(throws: BumpKitError.emptyBatch(operation: "Readout.fitRidge")) {
      try Readout.fitRidge(features: Matrix(rows: 0, columns: 4), targets: Matrix(rows: 0, columns: 2), lambda: 0, into: dense)
    }
    for bad in [-1.0, .nan, .infinity] {
      #expect(throws: BumpKitError.self) { try Readout.fitRidge(features: phi, targets: Matrix(rows: 10, columns: 2), lambda: bad, into: dense) }
    }
    // Fewer samples than unknowns needs λ > 0.
    let few: Matrix<Double> = seededMatrix(3, 4, seed: 7)
    #expect(throws: BumpKitError.self) { try Readout.fitRidge(features: few, targets: Matrix(rows: 3, columns: 2), lambda: 0, into: dense) }
    #expect(throws: Never.self) { try Readout.fitRidge(features: few, targets: Matrix(rows: 3, columns: 2), lambda: 0.1, into: dense) }

    var withNaN = phi
    withNaN[7, 3] = .nan
    do {
      try Readout.fitRidge(features: withNaN, targets: Matrix(rows: 10, columns: 2), lambda: 0, into: dense)
      Issue.record("NaN features were accepted")
    } catch let BumpKitError.nonFiniteData(_, row, column, _) {
      #expect(row == 7 && column == 3)
    }
    do {
      try Readout.fitRidge(features: phi, targets: Matrix(rows: 9, columns: 2), lambda: 0, into: dense)
    } catch let error as BumpKitError {
      #expect(error.description.contains("10×4") && error.description.contains("9×2"), "\(error)")
    }
  }

  @Test("refit solves for the last Dense layer of a model on its hidden bump features")
  func refitModel() throws {
    let model = try Sequential<Double>(seed: 3) {
      try Dense(inputSize: 2, outputSize: 8)
      try Bump(units: 8, sigma: .perUnit(.uniform(1, 3)))
      try Dense(inputSize: 8, outputSize: 1)
    }
    let x: Matrix<Double> = seededMatrix(200, 2, seed: 8)
    // Targets that the read-out can represent exactly: a fixed combination of the features.
    var features = x
    for layer in model.layers.dropLast() { features = try layer.forward(features) }
    let w = (0..<8).map { [Double($0) / 4 - 1] }
    let y = try Matrix<Double>(affine(features, w, [0.5]))
    let hiddenBefore = model.layers[0].parameters[0].value.elements
    let mse = try Readout.refit(model, inputs: x, targets: y, lambda: 0)
    #expect(mse < 1e-20)
    #expect(try MeanSquaredError<Double>().loss(predicted: model.predict(x), target: y) < 1e-20)
    #expect(model.layers[0].parameters[0].value.elements == hiddenBefore)
    let readout = model.layers[2] as! Dense<Double>
    #expect(abs(readout.bias!.value[0, 0] - 0.5) < 1e-8)

    let noReadout = try Sequential<Double>(seed: 1) {
      try Dense(inputSize: 2, outputSize: 3)
      try Bump(units: 3)
    }
    #expect(throws: BumpKitError.self) { try Readout.refit(noReadout, inputs: x, targets: Matrix(rows: 200, columns: 3), lambda: 0) }
  }
}
