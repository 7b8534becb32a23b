import BumpKit
import Foundation
import Testing

// MARK: - Helpers

/// Inputs for a bump layer: for unit j, points cⱼ + r·√σⱼ with r on both sides of the
/// support boundary |r| = 1 but at least 5 % away from it (finite differences across the
/// boundary compare the zero branch with the non-zero one).
private func straddlingInputs(sigma: [Double], center: [Double], units: Int) throws -> Matrix<Double> {
  let ratios: [Double] = [-1.4, -0.95, -0.6, -0.2, 0.05, 0.35, 0.7, 0.9, 1.1, 1.6]
  var rows: [[Double]] = []
  for k in ratios.indices {
    rows.append((0..<units).map { j in
      let s = sigma.count == 1 ? sigma[0] : sigma[j]
      let c = center.count == 1 ? center[0] : center[j]
      // A different ratio per unit and side, so that the columns differ.
      let r = ratios[(k + 3 * j) % ratios.count] * (j % 2 == 0 ? 1 : -1)
      return c + r * s.squareRoot()
    })
  }
  return try Matrix(rows)
}

/// The smallest | |x − c|/√σ − 1 | over the inputs: the relative distance to the boundary.
private func boundaryMargin(_ x: Matrix<Double>, sigma: [Double], center: [Double]) -> Double {
  var margin = Double.infinity
  for i in 0..<x.rows {
    for j in 0..<x.columns {
      let s = sigma.count == 1 ? sigma[0] : sigma[j]
      let c = center.count == 1 ? center[0] : center[j]
      margin = min(margin, abs(abs(x[i, j] - c) / s.squareRoot() - 1))
    }
  }
  return margin
}

private func gradientCheckInput(rows: Int, columns: Int, seed: UInt64, scale: Double = 1, avoidZero: Bool = false) throws -> Matrix<Double> {
  var generator = SeededGenerator(seed: seed)
  var m = try Matrix<Double>(rows: rows, columns: columns)
  for i in 0..<rows {
    for j in 0..<columns {
      var v = scale * (2 * generator.nextUnit() - 1)
      if avoidZero && abs(v) < 0.1 * scale { v += v < 0 ? -0.2 * scale : 0.2 * scale }
      m[i, j] = v
    }
  }
  return m
}

private func expectPasses(
  _ report: GradientCheck.Report, tolerance: Double, _ what: String,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(report.passed(tolerance: tolerance), "\(what):\n\(report)", sourceLocation: sourceLocation)
}

/// y = x², element-wise, with a deliberately wrong backward (x·G instead of 2x·G): the check
/// must catch it.
private final class WrongSquare: Layer {
  typealias Element = Double
  private var saved = Matrix<Double>()
  var parameters: [Parameter<Double>] { [] }
  func outputSize(forInputSize inputSize: Int) throws -> Int { inputSize }
  func releaseSavedState() {}
  func forward(_ input: Matrix<Double>) throws -> Matrix<Double> {
    saved = input
    var y = input
    y.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] *= p[i] } }
    return y
  }
  func backward(_ outputGradient: Matrix<Double>) throws -> Matrix<Double> {
    var dx = outputGradient
    saved.withUnsafeBufferPointer { x in dx.withUnsafeMutableBufferPointer { g in for i in g.indices { g[i] *= x[i] } } }
    return dx
  }
}

/// y = 3x with a backward 0.01 % too large: a small error on ordinary-sized gradients, which
/// the rounding allowance of the check must not hide.
private final class SlightlyWrongScale: Layer {
  typealias Element = Double
  var parameters: [Parameter<Double>] { [] }
  func outputSize(forInputSize inputSize: Int) throws -> Int { inputSize }
  func releaseSavedState() {}
  func forward(_ input: Matrix<Double>) throws -> Matrix<Double> {
    var y = input
    y.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] *= 3 } }
    return y
  }
  func backward(_ outputGradient: Matrix<Double>) throws -> Matrix<Double> {
    var dx = outputGradient
    dx.withUnsafeMutableBufferPointer { g in for i in g.indices { g[i] *= 3 * (1 + 1e-4) } }
    return dx
  }
}

// MARK: - Tests

@Suite("Gradient checks")
struct GradientCheckTests {
  /// Central differences in Double resolve correct gradients to about 1e-8 here (worst
  /// measured: 5e-8, for the losses); a wrong formula gives 1e-2 or more.
  static let tolerance = 1e-6

  @Test("Dense: dL/dx, dL/dW and dL/db")
  func dense() throws {
    let layer = try Dense<Double>(inputSize: 4, outputSize: 3, biasInitializer: .uniform(-0.5, 0.5))
    var generator = SeededGenerator(seed: 5)
    try layer.initializeParameters(using: &generator)
    let report = try GradientCheck.check(layer: layer, input: gradientCheckInput(rows: 5, columns: 4, seed: 1))
    expectPasses(report, tolerance: Self.tolerance, "Dense")
    #expect(report.tensors.map(\.name) == ["input", "weight", "bias"])
    #expect(report.tensors.map(\.count) == [20, 12, 3])
  }

  @Test("Bump with per-unit σ, shared σ, and trainable c and a, inputs on both sides of the support boundary")
  func bump() throws {
    let configurations: [(String, Bump<Double>)] = [
      ("per-unit σ", try Bump<Double>(units: 3, sigma: .perUnit(.uniform(0.3, 1.5)))),
      ("shared σ", try Bump<Double>(units: 3, sigma: .shared(.constant(0.7)))),
      ("per-unit σ, c, a", try Bump<Double>(
        units: 3, sigma: .perUnit(.uniform(0.3, 1.5)), center: .perUnit(.uniform(-0.5, 0.5)),
        amplitude: .perUnit(.uniform(0.5, 2)))),
      ("shared σ, c, a", try Bump<Double>(
        units: 3, sigma: .shared(.constant(2.5)), center: .shared(.constant(0.3)),
        amplitude: .shared(.constant(-1.5)))),
      ("small σ", try Bump<Double>(units: 2, sigma: .perUnit(.uniform(0.001, 0.01)))),
    ]
    for (name, layer) in configurations {
      var generator = SeededGenerator(seed: 11)
      try layer.initializeParameters(using: &generator)
      let sigma = layer.sigma.value.elements, center = layer.center.value.elements
      let x = try straddlingInputs(sigma: sigma, center: center, units: layer.units)
      #expect(boundaryMargin(x, sigma: sigma, center: center) >= 0.05)
      let report = try GradientCheck.check(layer: layer, input: x)
      expectPasses(report, tolerance: Self.tolerance, "Bump \(name)")
      let trainable = layer.parameters.filter(\.isTrainable).map(\.name)
      #expect(report.tensors.map(\.name) == ["input"] + trainable)
      // Some inputs fall outside the support, some inside.
      #expect(layer.supportFraction > 0.2 && layer.supportFraction < 0.9, "\(name): \(layer.supportFraction)")
    }
  }

  @Test("ReLU (away from 0), Tanh, Sigmoid and Gaussian")
  func activations() throws {
    let x = try gradientCheckInput(rows: 6, columns: 3, seed: 3, scale: 2, avoidZero: true)
    expectPasses(try GradientCheck.check(layer: ReLU<Double>(), input: x), tolerance: Self.tolerance, "ReLU")
    expectPasses(try GradientCheck.check(layer: Tanh<Double>(), input: x), tolerance: Self.tolerance, "Tanh")
    expectPasses(try GradientCheck.check(layer: Sigmoid<Double>(), input: x), tolerance: Self.tolerance, "Sigmoid")
    let gaussian = try Gaussian<Double>(amplitude: 1.3, width: 0.8, center: 0.2)
    let report = try GradientCheck.check(layer: gaussian, input: x)
    expectPasses(report, tolerance: Self.tolerance, "Gaussian")
    #expect(report.tensors.count == 4)
  }

  /// Dense(2→5) → Bump(5) → Dense(5→2), with random biases, σ and c drawn from `seed`.
  private static func denseBumpDense<T: MatrixScalar>(seed: UInt64) throws -> Sequential<T> {
    try Sequential<T>(seed: seed) {
      try Dense(inputSize: 2, outputSize: 5, biasInitializer: .uniform(-0.3, 0.3))
      try Bump(units: 5, sigma: .perUnit(.uniform(0.5, 1.5)), center: .perUnit(.uniform(-0.2, 0.2)), amplitude: .perUnit(.constant(1)))
      try Dense(inputSize: 5, outputSize: 2, biasInitializer: .uniform(-0.3, 0.3))
    }
  }

  @Test("a whole model, Dense → Bump → Dense, through Sequential")
  func sequentialModel() throws {
    let model: Sequential<Double> = try Self.denseBumpDense(seed: 21)
    let x = try gradientCheckInput(rows: 8, columns: 2, seed: 4, scale: 1.5)
    // The bump's inputs are the first layer's outputs: make sure none sits on the boundary.
    let bump = model.layers[1] as! Bump<Double>
    let hidden = try model.layers[0].forward(x)
    #expect(boundaryMargin(hidden, sigma: bump.sigma.value.elements, center: bump.center.value.elements) > 1e-3)
    let report = try GradientCheck.check(layer: model, input: x)
    expectPasses(report, tolerance: Self.tolerance, "Sequential")
    #expect(report.tensors.map(\.name) == [
      "input", "0.dense.weight", "0.dense.bias", "1.bump.sigma", "1.bump.center", "1.bump.amplitude",
      "2.dense.weight", "2.dense.bias",
    ])
    #expect(bump.supportFraction > 0 && bump.supportFraction < 1, "\(bump.supportFraction)")
  }

  @Test("every loss: MSE, binary cross-entropy on logits, softmax cross-entropy")
  func losses() throws {
    let z = try gradientCheckInput(rows: 5, columns: 3, seed: 8, scale: 3)
    let soft = try gradientCheckInput(rows: 5, columns: 3, seed: 9)
    var probabilities = soft
    probabilities.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = (p[i] + 1) / 2 } }
    let labels = try Matrix<Double>([[0], [2], [1], [1], [0]])
    expectPasses(try GradientCheck.check(loss: MeanSquaredError<Double>(), predicted: z, target: soft), tolerance: Self.tolerance, "MSE")
    expectPasses(
      try GradientCheck.check(loss: BinaryCrossEntropyWithLogits<Double>(), predicted: z, target: probabilities),
      tolerance: Self.tolerance, "BCE")
    expectPasses(try GradientCheck.check(loss: SoftmaxCrossEntropy<Double>(), predicted: z, target: labels), tolerance: Self.tolerance, "softmax CE")
    expectPasses(
      try GradientCheck.check(loss: SoftmaxCrossEntropy<Double>(labelSmoothing: 0.2), predicted: z, target: labels),
      tolerance: Self.tolerance, "softmax CE, label smoothing 0.2")
  }

  @Test("Float layers agree with the same layers in Double within Float tolerance")
  func floatAgainstDouble() throws {
    let floatModel: Sequential<Float> = try Self.denseBumpDense(seed: 21)
    let doubleModel = try Sequential<Double>(seed: 99) {
      try Dense(inputSize: 2, outputSize: 5)
      try Bump(units: 5, sigma: .perUnit(.uniform(0.5, 1.5)), center: .perUnit(.uniform(-0.2, 0.2)), amplitude: .perUnit(.constant(1)))
      try Dense(inputSize: 5, outputSize: 2)
    }
    let xd = try gradientCheckInput(rows: 16, columns: 2, seed: 4, scale: 1.5)
    let x = try Matrix<Float>(rows: 16, columns: 2, elements: xd.elements.map { Float($0) })
    let report = try GradientCheck.compare(floatModel, reference: doubleModel, input: x)
    expectPasses(report, tolerance: 5e-4, "Float model against Double")
    #expect(report.tensors.count == 9)
    // The reference now holds the Float model's parameters, so it passes the Double check too.
    expectPasses(try GradientCheck.check(layer: doubleModel, input: xd), tolerance: Self.tolerance, "reference")

    let layers: [(any Layer<Float>, any Layer<Double>)] = [
      (try Bump<Float>(units: 3, sigma: .shared(.constant(0.6)), center: .shared(.constant(0.1)), amplitude: .shared(.constant(2))),
       try Bump<Double>(units: 3, sigma: .shared(.constant(0)), center: .shared(.constant(0)), amplitude: .shared(.constant(0)))),
      (Tanh<Float>(), Tanh<Double>()), (Sigmoid<Float>(), Sigmoid<Double>()), (try Gaussian<Float>(width: 2), try Gaussian<Double>()),
    ]
    let x3 = try Matrix<Float>(rows: 4, columns: 3, elements: (0..<12).map { Float($0) / 6 - 1 })
    for (f, d) in layers {
      let r = try GradientCheck.compare(f, reference: d, input: x3)
      expectPasses(r, tolerance: 5e-5, "\(f)")
    }
  }

  @Test("the check catches a wrong gradient and NaN, and validates its arguments")
  func catchesErrors() throws {
    let x = try gradientCheckInput(rows: 3, columns: 2, seed: 2, avoidZero: true)
    let report = try GradientCheck.check(layer: WrongSquare(), input: x)
    #expect(!report.passed(tolerance: 1e-3))
    #expect(abs(report.maxRelativeError - 0.5) < 1e-6)  // x·G against 2x·G
    #expect(report.worst?.name == "input")

    let nanInput = try Matrix<Double>([[1, .nan]])
    let nanReport = try GradientCheck.check(layer: Tanh<Double>(), input: nanInput)
    #expect(!nanReport.passed(tolerance: 1))
    #expect(nanReport.maxRelativeError.isNaN)

    #expect(throws: BumpKitError.self) { try GradientCheck.check(layer: Tanh<Double>(), input: x, relativeStep: 0) }
    #expect(throws: BumpKitError.self) {
      try GradientCheck.compare(try Dense<Float>(inputSize: 2, outputSize: 3), reference: try Dense<Double>(inputSize: 3, outputSize: 2),
        input: Matrix(rows: 1, columns: 2))
    }
  }

  /// A trained layer often holds weights near 0 (an input it learned to ignore): the input
  /// gradient through them is ~1e-10, below the rounding noise of a difference of outputs
  /// of size 1. Judged against the absolute floor alone, a correct Dense failed with a
  /// relative error of 0.3; the rounding allowance judges those elements at the noise scale.
  @Test("a correct Dense whose input gradients are tiny next to its outputs passes; a 1e-4 error still fails")
  func tinyGradientsBesideLargeOutputs() throws {
    let layer = try Dense<Double>(inputSize: 4, outputSize: 3)
    var generator = SeededGenerator(seed: 5)
    try layer.initializeParameters(using: &generator)
    var w = layer.weight.value
    for k in 0..<3 { w[1, k] *= 1e-9 }
    try layer.weight.assign(w)
    let x = try gradientCheckInput(rows: 6, columns: 4, seed: 3, scale: 3)
    let report = try GradientCheck.check(layer: layer, input: x)
    expectPasses(report, tolerance: Self.tolerance, "Dense with a row of 1e-9 weights")
    // The elements in question really are tiny: column 1 of dL/dx.
    let analytic = try layer.backward(try layer.forward(x))
    #expect((0..<6).allSatisfy { abs(analytic[$0, 1]) < 1e-7 })

    let wrong = try GradientCheck.check(layer: SlightlyWrongScale(), input: x)
    #expect(!wrong.passed(tolerance: Self.tolerance))
    #expect(abs(wrong.maxRelativeError - 1e-4) < 2e-5, "\(wrong)")
  }

  @Test("the check restores parameters and leaves the analytic gradients")
  func restoresState() throws {
    let layer = try Dense<Double>(inputSize: 3, outputSize: 2)
    let before = layer.weight.value.elements
    let x = try gradientCheckInput(rows: 4, columns: 3, seed: 6)
    _ = try GradientCheck.check(layer: layer, input: x)
    #expect(layer.weight.value.elements == before)
    // dW = xᵀ·R for the check's R; recompute it with the same seed and compare.
    var generator = SeededGenerator(seed: 0)
    var r = try Matrix<Double>(rows: 4, columns: 2)
    for i in 0..<4 { for j in 0..<2 { r[i, j] = generator.nextNormal() } }
    let expected = try x.multiplied(by: r, transposingSelf: true)
    for (a, b) in zip(layer.weight.gradient.elements, expected.elements) { #expect(abs(a - b) < 1e-14) }
  }
}
