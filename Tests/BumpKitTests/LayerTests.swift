@testable import BumpKit
import Foundation
import Testing

// MARK: - Helpers

/// A `1 × n` row from Double values.
private func layerRow<T: MatrixScalar>(_ values: [Double], as _: T.Type = T.self) throws -> Matrix<T> {
  try Matrix<T>(rows: 1, columns: values.count, elements: values.map { T($0) })
}

/// Every parameter value of a layer, copied out.
private func layerSnapshot<T: MatrixScalar>(_ layer: any Layer<T>) -> [[UInt64]] { layer.parameters.map { elementBits($0.value) } }

/// The value of a per-unit or shared parameter for unit `j`, in Double.
private func layerValue<T: MatrixScalar>(_ p: Parameter<T>, _ j: Int) -> Double {
  Double(p.value.columns == 1 ? p.value[0, 0] : p.value[0, j])
}

/// The message of a thrown error, or nil when `body` does not throw.
private func layerMessage(_ body: () throws -> Void) -> String? {
  do {
    try body()
    return nil
  } catch {
    return String(describing: error)
  }
}

// MARK: - Tests

@Suite("Layers")
struct LayerTests {
  // MARK: Shapes and plain forward passes

  @Test("every layer kind maps batch × in to batch × out, alone and chained")
  func forwardShapes() throws {
    try checkForwardShapes(Float.self)
    try checkForwardShapes(Double.self)
  }

  private func checkForwardShapes<T: MatrixScalar>(_: T.Type) throws {
    let model = try Sequential<T>(seed: 3) {
      try Dense(inputSize: 3, outputSize: 5)
      try Bump(units: 5)
      ReLU()
      Tanh()
      Sigmoid()
      try Gaussian()
      try Dense(inputSize: 5, outputSize: 2)
    }
    #expect(model.inputSize == 3)
    #expect(model.outputSize == 2)
    let x: Matrix<T> = seededMatrix(7, 3, seed: 1)
    var h = x
    let widths = [5, 5, 5, 5, 5, 5, 2]
    for (layer, width) in zip(model.layers, widths) {
      #expect(try layer.outputSize(forInputSize: h.columns) == width, "\(layer)")
      h = try layer.forward(h)
      #expect(h.rows == 7 && h.columns == width, "\(layer) gave \(h.rows)×\(h.columns)")
    }
    let y = try model.forward(x)
    #expect(y.rows == 7 && y.columns == 2)
    #expect(elementBits(y) == elementBits(h))
    let p = try model.predict(x)
    #expect(p.rows == 7 && p.columns == 2)
    // A single row works too.
    let one = try model.predict(try Matrix<T>(rows: 1, columns: 3, elements: [0.1, -0.2, 0.3]))
    #expect(one.rows == 1 && one.columns == 2)
  }

  @Test("a returned output is a value: the next forward pass does not change it")
  func outputsAreValues() throws {
    for layer: any Layer<Double> in [try Dense(inputSize: 2, outputSize: 2), try Bump(units: 2), ReLU(), Tanh(), Sigmoid(), try Gaussian()] {
      let first = try layer.forward(seededMatrix(4, 2, seed: 1, in: (-0.5, 0.5)))
      let kept = elementBits(first)
      _ = try layer.forward(seededMatrix(4, 2, seed: 2, in: (-0.5, 0.5)))
      #expect(elementBits(first) == kept, "\(layer)")
    }
  }

  @Test("Dense computes x·W + b, as a naive triple loop does")
  func denseMatchesNaive() throws {
    try checkDense(Float.self, tolerance: 1e-6)
    try checkDense(Double.self, tolerance: 1e-14)
  }

  private func checkDense<T: MatrixScalar>(_: T.Type, tolerance: Double) throws {
    let dense = try Dense<T>(inputSize: 4, outputSize: 3)
    try dense.weight.assign(seededMatrix(4, 3, seed: 10))
    try dense.bias!.assign(seededMatrix(1, 3, seed: 11))
    let x: Matrix<T> = seededMatrix(9, 4, seed: 12, in: (-2, 2))
    let y = try dense(x)
    #expect(y.rows == 9 && y.columns == 3)
    for i in 0..<9 {
      for k in 0..<3 {
        var expected = Double(dense.bias!.value[0, k])
        var scale = abs(expected)
        for j in 0..<4 {
          let term = Double(x[i, j]) * Double(dense.weight.value[j, k])
          expected += term
          scale += abs(term)
        }
        #expect(abs(Double(y[i, k]) - expected) <= tolerance * scale, "y[\(i), \(k)] = \(y[i, k]), expected \(expected)")
      }
    }
    // Without a bias the layer is x·W and has no bias parameter.
    let noBias = try Dense<T>(inputSize: 4, outputSize: 3, useBias: false)
    try noBias.weight.assign(dense.weight.value)
    #expect(noBias.bias == nil)
    #expect(noBias.parameters.map(\.name) == ["weight"])
    let z = try noBias(x)
    for i in 0..<9 {
      for k in 0..<3 {
        #expect(abs(Double(z[i, k]) - (Double(y[i, k]) - Double(dense.bias!.value[0, k]))) <= 4 * tolerance * 10)
      }
    }
  }

  @Test("Bump computes a·f(x − c; σ) in closed form, σ shared or per unit, with trainable c and a")
  func bumpMatchesClosedForm() throws {
    try checkBumpClosedForm(Float.self, tolerance: 2e-6)
    try checkBumpClosedForm(Double.self, tolerance: 1e-14)
  }

  private func checkBumpClosedForm<T: MatrixScalar>(_: T.Type, tolerance: Double) throws {
    let units = 5
    let layouts: [(Bump<T>.ParameterSpec, Bump<T>.ParameterSpec, Bump<T>.ParameterSpec, String)] = [
      (.shared(.constant(0.7)), .perUnit(.zeros), .shared(.constant(1)), "shared σ, per-unit c, shared a"),
      (.perUnit(.constant(1)), .shared(.zeros), .perUnit(.constant(1)), "per-unit σ, shared c, per-unit a"),
      (.perUnit(.constant(1)), .perUnit(.zeros), .perUnit(.constant(1)), "all per unit"),
      (.shared(.constant(1)), .fixed(0), .fixed(1), "shared σ, default c and a"),
    ]
    for (sigmaSpec, centerSpec, amplitudeSpec, label) in layouts {
      let bump = try Bump<T>(units: units, sigma: sigmaSpec, center: centerSpec, amplitude: amplitudeSpec)
      #expect(bump.sigma.value.columns == (sigmaSpec.perUnit ? units : 1), "\(label)")
      #expect(bump.center.value.columns == (centerSpec.perUnit ? units : 1), "\(label)")
      #expect(bump.amplitude.value.columns == (amplitudeSpec.perUnit ? units : 1), "\(label)")
      #expect(bump.sigma.isTrainable == sigmaSpec.trainable && bump.center.isTrainable == centerSpec.trainable)
      #expect(bump.amplitude.isTrainable == amplitudeSpec.trainable)
      // Distinct values per unit where the layout allows them.
      let sigmas = [0.3, 0.05, 1.7, 0.9, 4.0], centers = [0.2, -0.4, 0.0, 1.1, -2.0], amplitudes = [1.5, -0.7, 2.0, 0.25, 1.0]
      func values(_ spec: Bump<T>.ParameterSpec, _ all: [Double]) -> [Double] { spec.perUnit ? all : [all[0]] }
      if sigmaSpec.trainable { try bump.sigma.assign(layerRow(values(sigmaSpec, sigmas))) }
      if centerSpec.trainable { try bump.center.assign(layerRow(values(centerSpec, centers))) }
      if amplitudeSpec.trainable { try bump.amplitude.assign(layerRow(values(amplitudeSpec, amplitudes))) }

      let x: Matrix<T> = seededMatrix(200, units, seed: 21, in: (-3.5, 3.5))
      let y = try bump(x)
      #expect(y.rows == 200 && y.columns == units)
      var inside = 0
      for i in 0..<200 {
        for j in 0..<units {
          let (s, c, a) = (layerValue(bump.sigma, j), layerValue(bump.center, j), layerValue(bump.amplitude, j))
          let z = Double(x[i, j]) - c
          let u = s - z * z
          let got = Double(y[i, j])
          if u > 1e-6 * s {
            inside += 1
            let t = s / u
            let expected = a * exp(-t)
            // f is ill-conditioned near the boundary (relative condition ~ t); z = x − c is
            // rounded once in the layer's precision, hence the (1 + t)² allowance. Below the
            // smallest normal number only the absolute spacing of subnormals can be asked for.
            let allowed = tolerance * (1 + t) * (1 + t) * abs(expected) + Double(T.leastNormalMagnitude)
            #expect(abs(got - expected) <= allowed, "\(label) [\(i), \(j)]: x = \(x[i, j]), got \(got), expected \(expected)")
          } else if u < -1e-6 * s {
            #expect(got == 0, "\(label) [\(i), \(j)]: outside the support, got \(got)")
          }
        }
      }
      #expect(inside > 100, "\(label): the sample should exercise the inside of the supports")
      // f(c) = a·e⁻¹ for every σ.
      var centersRow = try Matrix<T>(rows: 1, columns: units)
      for j in 0..<units { centersRow[0, j] = T(layerValue(bump.center, j)) }
      let peak = try bump(centersRow)
      for j in 0..<units {
        let expected = layerValue(bump.amplitude, j) * exp(-1.0)
        #expect(abs(Double(peak[0, j]) - expected) <= 2 * tolerance * abs(expected), "\(label) peak \(j)")
      }
    }
  }

  // MARK: Support fraction

  @Test("supportFraction and supportFractionPerUnit equal a direct count; a dead unit reports 0")
  func supportFractionCounts() throws {
    try checkSupportFraction(Float.self)
    try checkSupportFraction(Double.self)
  }

  private func checkSupportFraction<T: MatrixScalar>(_: T.Type) throws {
    let units = 4
    let bump = try Bump<T>(units: units, sigma: .perUnit(.constant(1)), center: .perUnit(.zeros))
    #expect(bump.supportFraction == 0, "no forward pass yet")
    #expect(bump.supportFractionPerUnit == [0, 0, 0, 0])
    try bump.sigma.assign(layerRow([0.25, 1.0, 4.0, 0.5]))
    // Unit 3 sits far from every input: it is dead.
    try bump.center.assign(layerRow([0.0, 0.5, -1.0, 100.0]))
    let rows = 301
    let x: Matrix<T> = seededMatrix(rows, units, seed: 5, in: (-3, 3))
    _ = try bump(x)
    var counts = [Int](repeating: 0, count: units)
    for i in 0..<rows {
      for j in 0..<units {
        // The layer's own rule: z = x − c and u = σ − z² (one rounding) in its precision.
        let z = x[i, j] - bump.center.value[0, j]
        if bump.sigma.value[0, j].addingProduct(-z, z) > 0 { counts[j] += 1 }
      }
    }
    #expect(counts[3] == 0)
    #expect(counts[0] > 0 && counts[1] > 0 && counts[2] > 0)
    let perUnit = bump.supportFractionPerUnit
    #expect(perUnit.count == units)
    for j in 0..<units {
      #expect(perUnit[j] == Double(counts[j]) / Double(rows), "unit \(j): \(perUnit[j]) vs \(counts[j])/\(rows)")
    }
    #expect(perUnit[3] == 0, "the dead unit")
    #expect(abs(bump.supportFraction - Double(counts.reduce(0, +)) / Double(rows * units)) < 1e-15)

    // The fractions follow the last forward pass, here a smaller one where everything is inside.
    let centers = try Matrix<T>(rows: 2, columns: units, elements: [0, 0.5, -1, 100, 0.1, 0.4, -0.9, 100.2].map { T($0) })
    _ = try bump(centers)
    #expect(bump.supportFractionPerUnit == [1, 1, 1, 1])
    #expect(bump.supportFraction == 1)
  }

  // MARK: σ floor

  @Test("an optimizer step that would make σ negative leaves σ at sigmaFloor")
  func sigmaProjectedOntoFloor() throws {
    try checkSigmaProjection(Float.self, floor: 0.01)
    try checkSigmaProjection(Double.self, floor: 1e-4)
  }

  private func checkSigmaProjection<T: MatrixScalar>(_: T.Type, floor: T) throws {
    for optimizerKind in ["sgd", "adam"] {
      let bump = try Bump<T>(units: 2, sigma: .perUnit(.constant(0.5)), sigmaFloor: floor)
      #expect(bump.sigmaFloor == floor)
      #expect(bump.sigma.lowerBound == floor)
      // Unit 0's inputs lie inside its support, unit 1's outside (its σ gradient is 0).
      let x = try Matrix<T>(rows: 2, columns: 2, elements: [0.1, 3, -0.2, -3].map { T($0) })
      _ = try bump(x)
      // dL/dσ = Σ upstream · ∂f/∂σ = Σ q²·f > 0, so a big enough step takes σ below 0.
      _ = try bump.backward(Matrix(rows: 2, columns: 2, repeating: 1))
      #expect(bump.sigma.gradient[0, 0] > 0)
      #expect(bump.sigma.gradient[0, 1] == 0)
      let step = Double(bump.sigma.gradient[0, 0])
      if optimizerKind == "sgd" {
        let sgd = try SGD<T>(learningRate: 10 / step)  // σ − lr·g = 0.5 − 10
        try sgd.step(bump.parameters)
      } else {
        let adam = try Adam<T>(learningRate: 5)  // the first Adam step moves by ≈ lr
        try adam.step(bump.parameters)
      }
      #expect(bump.sigma.value[0, 0] == floor, "\(optimizerKind): σ = \(bump.sigma.value[0, 0])")
      #expect(bump.sigma.value[0, 1] == 0.5, "\(optimizerKind): unit 1 had no gradient")
      // The projected layer still works and is finite.
      let y = try bump(x)
      #expect(y.elements.allSatisfy { $0.isFinite })
    }
    // A constant initializer below the floor is projected at construction.
    let low = try Bump<T>(units: 3, sigma: .shared(.constant(0)), sigmaFloor: floor)
    #expect(low.sigma.value[0, 0] == floor)
  }

  // MARK: Errors

  @Test("a shape mismatch names both shapes and changes nothing")
  func shapeMismatchErrors() throws {
    let dense = try Dense<Double>(inputSize: 3, outputSize: 2)
    let bump = try Bump<Double>(units: 4, center: .perUnit(.zeros))
    let good: Matrix<Double> = seededMatrix(5, 3, seed: 1, in: (-0.5, 0.5))
    let before = try dense(good)
    let weights = layerSnapshot(dense)

    let wrong: Matrix<Double> = seededMatrix(5, 2, seed: 2)
    do {
      _ = try dense(wrong)
      Issue.record("Dense(3→2) with a 5×2 batch should throw")
    } catch BumpKitError.shapeMismatch(_, let expected, let actual) {
      #expect(expected == MatrixShape(rows: nil, columns: 3) && actual == MatrixShape(rows: 5, columns: 2), "expected \(expected), got \(actual)")
    }
    let message = layerMessage { _ = try dense(wrong) } ?? ""
    #expect(message.contains("5×2") && message.contains("×3"), "message: \(message)")
    #expect(layerSnapshot(dense) == weights)
    #expect(elementBits(try dense(good)) == elementBits(before))

    // backward with a gradient of the wrong shape.
    _ = try dense(good)
    let badGradient = try Matrix<Double>(rows: 4, columns: 2, repeating: 1)
    let backwardMessage = layerMessage { _ = try dense.backward(badGradient) } ?? ""
    #expect(backwardMessage.contains("4×2") && backwardMessage.contains("5×2"), "message: \(backwardMessage)")

    // Bump: the width must equal its units.
    let bumpInput: Matrix<Double> = seededMatrix(6, 4, seed: 3, in: (-0.5, 0.5))
    _ = try bump(bumpInput)
    let fractions = bump.supportFractionPerUnit
    let bumpMessage = layerMessage { _ = try bump(seededMatrix(6, 3, seed: 4)) } ?? ""
    #expect(bumpMessage.contains("6×3") && bumpMessage.contains("×4"), "message: \(bumpMessage)")
    #expect(bump.supportFractionPerUnit == fractions, "a rejected batch must not change the statistics")

    // Sequential.predict and forward name both shapes as well.
    let model = try Sequential<Double>(layers: [try Dense(inputSize: 3, outputSize: 2)])
    let predictMessage = layerMessage { _ = try model.predict(seededMatrix(2, 5, seed: 5)) } ?? ""
    #expect(predictMessage.contains("2×5") && predictMessage.contains("3"), "message: \(predictMessage)")
  }

  @Test("an empty batch is a typed error for every layer and for predict")
  func emptyBatchErrors() throws {
    let empty = try Matrix<Float>(rows: 0, columns: 3)
    let layers: [any Layer<Float>] = [try Dense(inputSize: 3, outputSize: 2), try Bump(units: 3), ReLU(), Tanh(), Sigmoid(), try Gaussian()]
    for layer in layers {
      do {
        _ = try layer.forward(empty)
        Issue.record("\(layer): an empty batch should throw")
      } catch BumpKitError.emptyBatch(let operation) {
        #expect(!operation.isEmpty)
      } catch {
        Issue.record("\(layer): expected emptyBatch, got \(error)")
      }
    }
    let model = try Sequential<Float>(layers: [try Dense(inputSize: 3, outputSize: 2)])
    let weights = layerSnapshot(model)
    #expect(throws: BumpKitError.self) { try model.predict(empty) }
    let message = layerMessage { _ = try model.predict(empty) } ?? ""
    #expect(message.contains("empty") || message.contains("0 rows"), "message: \(message)")
    #expect(layerSnapshot(model) == weights)
    // predict's batch size must be positive.
    #expect(throws: BumpKitError.self) { try model.predict(Matrix(rows: 2, columns: 3), batchSize: 0) }
  }

  @Test("a negative, NaN or infinite σ (or a non-finite c, a) is invalidParameter, and the layer stays usable")
  func invalidSigma() throws {
    try checkInvalidParameters(Float.self)
    try checkInvalidParameters(Double.self)
  }

  private func checkInvalidParameters<T: MatrixScalar>(_: T.Type) throws {
    let bump = try Bump<T>(units: 3, center: .perUnit(.zeros), amplitude: .perUnit(.constant(1)))
    let x: Matrix<T> = seededMatrix(4, 3, seed: 8, in: (-0.5, 0.5))
    let good = try bump(x)
    let fractions = bump.supportFractionPerUnit
    let original = bump.sigma.value
    for (parameter, index, bad, name) in [
      (bump.sigma, 1, T(-0.5), "σ"), (bump.sigma, 2, T.nan, "σ"), (bump.sigma, 0, T.infinity, "σ"),
      (bump.center, 2, T.nan, "c"), (bump.amplitude, 0, -T.infinity, "a"),
    ] {
      let saved = parameter.value
      var changed = saved
      changed[0, index] = bad
      try parameter.assign(changed)
      do {
        _ = try bump(x)
        Issue.record("\(name)[\(index)] = \(bad) should be rejected")
      } catch BumpKitError.invalidParameter(let layer, let p, let i, let value, let reason) {
        #expect(p == name && i == index, "got \(p)[\(i)]")
        #expect(value == "\(bad)")
        #expect(layer.contains("Bump") && !reason.isEmpty)
        let text = String(describing: BumpKitError.invalidParameter(layer: layer, parameter: p, index: i, value: value, reason: reason))
        #expect(text.contains("\(name)[\(index)]") && text.contains("\(bad)"), "message: \(text)")
      } catch {
        Issue.record("\(name)[\(index)] = \(bad): expected invalidParameter, got \(error)")
      }
      #expect(bump.supportFractionPerUnit == fractions, "a rejected forward pass must not touch the statistics")
      try parameter.assign(saved)
    }
    #expect(bump.sigma.value == original)
    #expect(elementBits(try bump(x)) == elementBits(good))
  }

  @Test("sigmaFloor must be finite and > 0, units ≥ 1")
  func invalidConstruction() {
    for floor in [0.0, -1e-4, Double.nan, Double.infinity, -Double.infinity] {
      do {
        _ = try Bump<Double>(units: 2, sigmaFloor: floor)
        Issue.record("sigmaFloor \(floor) should be rejected")
      } catch BumpKitError.invalidArgument(let name, let value, let reason) {
        #expect(name == "sigmaFloor" && value == "\(floor)" && !reason.isEmpty)
      } catch {
        Issue.record("sigmaFloor \(floor): expected invalidArgument, got \(error)")
      }
    }
    #expect(throws: BumpKitError.self) { try Bump<Float>(units: 2, sigmaFloor: Float.nan) }
    for units in [0, -3] {
      do {
        _ = try Bump<Float>(units: units)
        Issue.record("units \(units) should be rejected")
      } catch BumpKitError.invalidArgument(let name, let value, _) {
        #expect(name == "units" && value == "\(units)")
      } catch {
        Issue.record("units \(units): expected invalidArgument, got \(error)")
      }
    }
  }

  @Test("Sequential rejects layers whose sizes do not chain, naming the layer and both sizes")
  func sequentialChainingError() throws {
    do {
      _ = try Sequential<Float>(seed: 1) {
        try Dense(inputSize: 2, outputSize: 3)
        try Bump(units: 3)
        try Dense(inputSize: 4, outputSize: 1)
      }
      Issue.record("Dense(2→3) → Bump(3) → Dense(4→1) should not chain")
    } catch BumpKitError.shapeMismatch(let operation, let expected, let actual) {
      #expect(operation.contains("2"), "the third layer (index 2): \(operation)")
      #expect(expected.columns == 4 && actual.columns == 3, "expected \(expected), got \(actual)")
    }
    #expect(throws: BumpKitError.self) {
      try Sequential<Float>(seed: 1) {
        try Dense(inputSize: 2, outputSize: 3)
        try Bump(units: 5)
      }
    }
    #expect(throws: BumpKitError.self) { try Sequential<Float>(layers: []) }
    #expect(throws: BumpKitError.self) { try Sequential<Float>(layers: [ReLU(), Tanh()]) }
  }

  // MARK: Sequential

  @Test("summary names every layer and the parameter counts")
  func summaryMentionsEverything() throws {
    let model = try Sequential<Float>(seed: 2) {
      try Dense(inputSize: 2, outputSize: 6)
      try Bump(units: 6, sigma: .shared(.kerasBumpSigma), center: .perUnit(.zeros))
      Tanh()
      try Dense(inputSize: 6, outputSize: 1)
    }
    // 2·6 + 6, then σ shared (1) + c per unit (6) + a fixed (1), then 6 + 1.
    #expect(model.parameterCount == 18 + 8 + 7)
    #expect(model.trainableParameterCount == 18 + 7 + 7)
    let summary = model.summary
    for kind in ["dense", "bump", "tanh"] { #expect(summary.contains(kind), "\(kind) missing:\n\(summary)") }
    #expect(summary.contains("\(model.parameterCount)"), "\(summary)")
    #expect(summary.contains("\(model.trainableParameterCount)"), "\(summary)")
    #expect(summary.contains("Float"), "\(summary)")
    // One line per layer, in order.
    let lines = summary.split(separator: "\n")
    let layerLines = lines.filter { line in ["dense", "bump", "tanh"].contains { line.contains($0) } }
    #expect(layerLines.count == 4, "\(summary)")
    #expect(layerLines.first?.contains("dense") == true && layerLines.last?.contains("dense") == true)
    #expect(layerLines.count > 1 && layerLines[1].contains("bump") && layerLines[2].contains("tanh"))
    #expect(model.layers.map(\.parameterCount) == [18, 8, 0, 7])
  }

  @Test("predict does not depend on the batch size beyond rounding")
  func predictBatchIndependent() throws {
    try checkPredictBatches(Float.self, tolerance: 1e-5)
    try checkPredictBatches(Double.self, tolerance: 1e-13)
  }

  private func checkPredictBatches<T: MatrixScalar>(_: T.Type, tolerance: Double) throws {
    let model = try Sequential<T>(seed: 9) {
      try Dense(inputSize: 3, outputSize: 16)
      try Bump(units: 16, sigma: .perUnit(.uniform(0.5, 2)))
      try Dense(inputSize: 16, outputSize: 8)
      Tanh()
      try Dense(inputSize: 8, outputSize: 2)
    }
    let x: Matrix<T> = seededMatrix(1500, 3, seed: 4, in: (-1.5, 1.5))
    let whole = try model.predict(x, batchSize: 1500)
    // predict cuts the batch into blocks of rows on the worker pool: the products of a block
    // may round otherwise than those of the whole batch at once, never by more than that.
    let forward = try model.forward(x)
    for (a, b) in zip(whole.elements, forward.elements) {
      #expect(abs(Double(a) - Double(b)) <= tolerance * max(1, abs(Double(b))))
    }
    // The blocks are fixed by the rows: the same bits on any number of threads.
    for threads in [1, 2, 3] {
      let pool = WorkerPool(threads: threads)
      defer { pool.retire() }
      let run = try TrainingWorkers.$override.withValue(pool) { try model.predict(x, batchSize: 1500) }
      #expect(elementBits(run) == elementBits(whole), "threads \(threads)")
    }
    #expect(whole.elements.contains { $0 != 0 })
    for batchSize in [1, 7, 1000, 4096] {
      let batched = try model.predict(x, batchSize: batchSize)
      #expect(batched.rows == 1500 && batched.columns == 2)
      var worst = 0.0
      for (a, b) in zip(batched.elements, whole.elements) {
        worst = max(worst, abs(Double(a) - Double(b)) / max(1, abs(Double(b))))
      }
      #expect(worst <= tolerance, "batch size \(batchSize): largest difference \(worst)")
    }
  }

  // MARK: Initializers

  @Test("the orthogonal initializer gives orthonormal columns (and rows when wide), scaled by the gain")
  func orthogonalInitializer() throws {
    for (rows, columns, gain) in [(8, 5, 1.0), (6, 6, 1.0), (3, 7, 1.0), (10, 4, 2.5)] {
      var generator = SeededGenerator(seed: 77)
      let w = try Initializer<Double>.orthogonal(gain: gain).matrix(rows: rows, columns: columns, using: &generator)
      #expect(w.rows == rows && w.columns == columns)
      let gram = rows >= columns ? try w.multiplied(by: w, transposingSelf: true) : try w.multiplied(by: w, transposingOther: true)
      let n = min(rows, columns)
      for i in 0..<n {
        for j in 0..<n {
          let expected = i == j ? gain * gain : 0
          #expect(abs(gram[i, j] - expected) < 1e-12 * gain * gain, "\(rows)×\(columns) gram[\(i), \(j)] = \(gram[i, j])")
        }
      }
    }
    // Float, through a model: the Dense weight drawn by Sequential is orthonormal too.
    let model = try Sequential<Float>(seed: 5) { try Dense(inputSize: 12, outputSize: 4, weightInitializer: .orthogonal(gain: 1)) }
    let w = (model.layers[0] as! Dense<Float>).weight.value
    let gram = try w.multiplied(by: w, transposingSelf: true)
    for i in 0..<4 {
      for j in 0..<4 { #expect(abs(gram[i, j] - (i == j ? 1 : 0)) < 1e-5) }
    }
    // Different seeds, different matrices; the same seed, the same matrix.
    var g1 = SeededGenerator(seed: 1), g2 = SeededGenerator(seed: 1), g3 = SeededGenerator(seed: 2)
    let a = try Initializer<Double>.orthogonal(gain: 1).matrix(rows: 5, columns: 3, using: &g1)
    let b = try Initializer<Double>.orthogonal(gain: 1).matrix(rows: 5, columns: 3, using: &g2)
    let c = try Initializer<Double>.orthogonal(gain: 1).matrix(rows: 5, columns: 3, using: &g3)
    #expect(a == b)
    #expect(a != c)
  }
}
