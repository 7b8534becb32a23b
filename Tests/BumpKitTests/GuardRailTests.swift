import BumpKit
import Foundation
import Testing

// MARK: - Helpers

/// The two-bump network: Dense(1→k) → Bump(k) → Dense(k→1).
private func guardBumpNetwork<T: MatrixScalar>(units: Int, seed: UInt64) throws -> Sequential<T> {
  try Sequential<T>(seed: seed) {
    try Dense(inputSize: 1, outputSize: units)
    try Bump(units: units, sigma: .perUnit(.constant(1)))
    try Dense(inputSize: units, outputSize: 1)
  }
}

/// `x` with every element multiplied by `factor`, then `offset` added.
private func scaled<T: MatrixScalar>(_ x: Matrix<T>, by factor: T, plus offset: T = 0) throws -> Matrix<T> {
  try Matrix(rows: x.rows, columns: x.columns, elements: x.elements.map { $0 * factor + offset })
}

// MARK: - Warnings after fit

@Suite("Guard rails: warnings after fit")
struct TrainingWarningTests {
  /// The two-bump data with x in the hundreds (100·x + 400, from 100 to 700): the bumps of
  /// σ = 1 see inputs far outside their supports, most units die, and the model predicts a
  /// constant.
  @Test("unscaled inputs: dead bump units and a loss no better than a constant are warned about")
  func unscaledInputsWarn() throws {
    let data = try Dataset<Float>.bumps(samples: 800, noise: 0.01, seed: 1)
    let x = try scaled(data.x, by: 100, plus: 400)
    let model: Sequential<Float> = try guardBumpNetwork(units: 8, seed: 2)
    let history = try model.fit(
      x: x, y: data.y, loss: MeanSquaredError(), optimizer: Adam(learningRate: 1e-2), epochs: 30, seed: 3)
    let dead = history.warnings.compactMap { warning -> (Int, Int, Int)? in
      if case .deadBumpUnits(let layer, let dead, let units) = warning { return (layer, dead, units) }
      return nil
    }
    #expect(dead.count == 1, "\(history.warnings)")
    if let (layer, count, units) = dead.first {
      #expect(layer == 1 && units == 8 && count > 4, "\(history.warnings)")
    }
    let constant = history.warnings.contains { warning in
      if case .noBetterThanConstant(let loss, let constantLoss, let name) = warning {
        return name == "mse" && loss > 0.99 * constantLoss
      }
      return false
    }
    #expect(constant, "\(history.warnings)")
    // The messages say what to do.
    for warning in history.warnings { #expect(warning.description.contains("standardize")) }
    // The statistics agree with the warning.
    let statistics = try BumpLayerStatistics.collect(model: model, inputs: x)
    #expect(statistics.first?.deadUnits == dead.first?.1)

    // Standardized, the same model and data train with no warning.
    let standardization = try Standardization(fitting: x)
    let standardized = try standardization.apply(to: x)
    let healthy: Sequential<Float> = try guardBumpNetwork(units: 8, seed: 2)
    let good = try healthy.fit(
      x: standardized, y: data.y, loss: MeanSquaredError(), optimizer: Adam(learningRate: 1e-2), epochs: 30, seed: 3)
    #expect(good.warnings.isEmpty, "\(good.warnings)")
  }

  /// Targets independent of the inputs: no model beats the constant predictor by 1 %.
  @Test("a model no better than a constant predictor is warned about (mse, softmax, binary)")
  func constantPredictorWarns() throws {
    let x: Matrix<Double> = seededMatrix(2000, 1, seed: 4)
    let y: Matrix<Double> = seededMatrix(2000, 1, seed: 5)
    let linear = try Sequential<Double>(seed: 6) { try Dense(inputSize: 1, outputSize: 1) }
    let history = try linear.fit(
      x: x, y: y, loss: MeanSquaredError(), optimizer: Adam(learningRate: 1e-2), epochs: 20, seed: 7)
    let baseline = try Baseline.meanPredictorMSE(trainingTargets: y, targets: y)
    #expect(history.warnings.count == 1, "\(history.warnings)")
    if case .noBetterThanConstant(let loss, let constantLoss, let name)? = history.warnings.first {
      #expect(name == "mse")
      #expect(abs(constantLoss - baseline) < 1e-12 * baseline, "constant \(constantLoss), baseline \(baseline)")
      // No bump layer, so no extra pass: the loss is the last epoch's.
      #expect(loss == history.loss.last!, "warned loss \(loss), history \(history.loss.last!)")
    } else {
      Issue.record("expected noBetterThanConstant, got \(history.warnings)")
    }

    // Labels 0, 1, 2 independent of x: the constant's loss is the entropy of the frequencies.
    var labels = Matrix<Double>(validRows: 2000, columns: 1)
    var generator = SeededGenerator(seed: 8)
    for i in 0..<2000 { labels[i, 0] = Double(Int(generator.nextUnit() * 3)) }
    let classifier = try Sequential<Double>(seed: 9) { try Dense(inputSize: 1, outputSize: 3) }
    let classified = try classifier.fit(
      x: x, y: labels, loss: SoftmaxCrossEntropy(), optimizer: Adam(learningRate: 1e-2), epochs: 20, seed: 10)
    var counts = [0.0, 0, 0]
    for i in 0..<2000 { counts[Int(labels[i, 0])] += 1 }
    let entropy = counts.reduce(0.0) { $0 - $1 / 2000 * Foundation.log($1 / 2000) }
    if case .noBetterThanConstant(_, let constantLoss, let name)? = classified.warnings.first {
      #expect(name == "softmax-crossentropy")
      #expect(abs(constantLoss - entropy) < 1e-12, "constant \(constantLoss), entropy \(entropy)")
    } else {
      Issue.record("expected noBetterThanConstant, got \(classified.warnings)")
    }

    // 0/1 targets independent of x, one logit.
    var bits = Matrix<Double>(validRows: 2000, columns: 1)
    for i in 0..<2000 { bits[i, 0] = generator.nextUnit() < 0.3 ? 1 : 0 }
    let binary = try Sequential<Double>(seed: 11) { try Dense(inputSize: 1, outputSize: 1) }
    let binaryHistory = try binary.fit(
      x: x, y: bits, loss: BinaryCrossEntropyWithLogits(), optimizer: Adam(learningRate: 1e-2), epochs: 20, seed: 12)
    let p = bits.elements.reduce(0, +) / 2000
    let binaryEntropy = -(p * Foundation.log(p) + (1 - p) * Foundation.log(1 - p))
    if case .noBetterThanConstant(_, let constantLoss, _)? = binaryHistory.warnings.first {
      #expect(abs(constantLoss - binaryEntropy) < 1e-12)
    } else {
      Issue.record("expected noBetterThanConstant, got \(binaryHistory.warnings)")
    }
  }

  /// The Getting Started model on the two-bump data, and the rings classifier: no warning.
  @Test("healthy models get no warning")
  func healthyModelsDoNotWarn() throws {
    let data = try Dataset<Float>.bumps(samples: 1000, seed: 1)
    let model = try Sequential<Float>(seed: 7) {
      try Dense(inputSize: 1, outputSize: 32)
      try Bump(units: 32, sigma: .perUnit(.constant(1)))
      try Dense(inputSize: 32, outputSize: 1)
    }
    let history = try model.fit(
      x: data.x, y: data.y, loss: MeanSquaredError<Float>(), optimizer: try Adam<Float>(learningRate: 1e-2),
      epochs: 200, batchSize: 64, validation: .split(0.2), earlyStopping: EarlyStopping(patience: 20))
    #expect(history.warnings.isEmpty, "\(history.warnings)")

    let rings = try Dataset<Double>.rings(samples: 1000, noise: 0.05, seed: 9)
    let classifier = try Sequential<Double>(seed: 10) {
      try Dense(inputSize: 2, outputSize: 16)
      try Bump(units: 16)
      try Dense(inputSize: 16, outputSize: 2)
    }
    let ringsHistory = try classifier.fit(
      x: rings.x, y: rings.y, loss: SoftmaxCrossEntropy(), optimizer: Adam(learningRate: 0.02), epochs: 40, seed: 11)
    #expect(ringsHistory.warnings.isEmpty, "\(ringsHistory.warnings)")

    // No epoch, no warning (and no extra pass).
    let none = try classifier.fit(x: rings.x, y: rings.y, loss: SoftmaxCrossEntropy(), optimizer: Adam(learningRate: 0.02), epochs: 0)
    #expect(none.warnings.isEmpty && none.epochs == 0)
  }
}

// MARK: - Divergence

@Suite("Guard rails: divergence")
struct DivergenceTests {
  /// Adam with a learning rate of 10⁴ on the Getting Started model runs away at once.
  @Test("Adam(learningRate: 1e4) stops with a divergence error naming the epoch, the loss and the rule")
  func hugeLearningRateDiverges() throws {
    for seed: UInt64 in [7, 8] {
      let data = try Dataset<Float>.bumps(samples: 1000, seed: 1)
      let model = try Sequential<Float>(seed: seed) {
        try Dense(inputSize: 1, outputSize: 32)
        try Bump(units: 32, sigma: .perUnit(.constant(1)))
        try Dense(inputSize: 32, outputSize: 1)
      }
      var epochsSeen = 0
      let error = trainingError("lr 1e4") {
        try model.fit(
          x: data.x, y: data.y, loss: MeanSquaredError<Float>(), optimizer: try Adam<Float>(learningRate: 1e4),
          epochs: 200, batchSize: 64, validation: .split(0.2),
          onEpochEnd: { _ in epochsSeen += 1; return .continue })
      }
      guard case .diverged(let epoch, let loss, let reference, let factor)? = error else {
        Issue.record("seed \(seed): expected diverged, got \(String(describing: error))")
        continue
      }
      #expect(factor == Sequential<Float>.divergenceFactor && factor == 10)
      #expect(loss > factor * reference && reference > 0)
      #expect(epoch < 5, "seed \(seed): diverged only at epoch \(epoch)")
      #expect(epochsSeen == epoch, "the epoch that diverged ends training before its hook")
      let text = "\(error!)"
      #expect(text.contains("epoch \(epoch)") && text.contains("\(loss)") && text.contains("10×"), "\(text)")
      #expect(text.contains("lower the learning rate"), "\(text)")
    }
  }

  /// SGD at a learning rate of 10 on a line runs away: without early stopping that is an
  /// error; with early stopping that ends training at the diverged epoch and puts back the
  /// best weights, training ends as early stopping ends it.
  @Test("a diverging run that early stopping ends and restores is not an error")
  func earlyStoppingEndsADivergingRun() throws {
    let xs = (0..<24).map { -1 + 2 * Double($0) / 23 }
    let x = try Matrix<Double>(rows: 24, columns: 1, elements: xs)
    let y = try Matrix<Double>(rows: 24, columns: 1, elements: xs.map { 2 * $0 + 1 })
    func model() throws -> Sequential<Double> { try Sequential<Double>(seed: 3) { try Dense(inputSize: 1, outputSize: 1) } }
    let plain = trainingError("no early stopping") {
      try model().fit(x: x, y: y, loss: MeanSquaredError(), optimizer: try SGD(learningRate: 10), epochs: 50, batchSize: 24, validation: .split(0.25))
    }
    guard case .diverged? = plain else {
      Issue.record("expected diverged, got \(String(describing: plain))")
      return
    }
    let stopped = try model()
    let history = try stopped.fit(
      x: x, y: y, loss: MeanSquaredError(), optimizer: try SGD(learningRate: 10), epochs: 50, batchSize: 24,
      validation: .split(0.25), earlyStopping: EarlyStopping(patience: 1))
    #expect(history.stoppedEarly && history.restoredEpoch != nil)
    // Without restoring, the diverged weights would be kept: that is an error again.
    let kept = trainingError("early stopping without restoring") {
      try model().fit(
        x: x, y: y, loss: MeanSquaredError(), optimizer: try SGD(learningRate: 10), epochs: 50, batchSize: 24,
        validation: .split(0.25), earlyStopping: EarlyStopping(patience: 1, restoreBestWeights: false))
    }
    guard case .diverged? = kept else {
      Issue.record("expected diverged, got \(String(describing: kept))")
      return
    }
  }

  /// Normal training, noisy or not, never trips the rule: regression with Adam at a high but
  /// workable rate, SGD, small batches, classification trained far past 100 % accuracy.
  @Test("normal training never trips the divergence rule")
  func normalTrainingDoesNotDiverge() throws {
    let data = try Dataset<Float>.bumps(samples: 600, noise: 0.05, seed: 2)
    for (rate, batch) in [(0.05, 8), (0.01, 1), (0.003, 32)] {
      let model: Sequential<Float> = try guardBumpNetwork(units: 16, seed: 3)
      let history = try model.fit(
        x: data.x, y: data.y, loss: MeanSquaredError(), optimizer: Adam(learningRate: rate),
        epochs: batch == 1 ? 20 : 100, batchSize: batch, seed: 4)
      #expect(history.loss.last! < history.loss.first!, "lr \(rate), batch \(batch)")
    }
    let sgd: Sequential<Float> = try guardBumpNetwork(units: 16, seed: 5)
    try sgd.fit(x: data.x, y: data.y, loss: MeanSquaredError(), optimizer: SGD(learningRate: 0.1), epochs: 100, batchSize: 16, seed: 6)

    let rings = try Dataset<Float>.rings(samples: 1000, noise: 0.05, seed: 9)
    let classifier = try Sequential<Float>(seed: 10) {
      try Dense(inputSize: 2, outputSize: 32)
      try Bump(units: 32)
      try Dense(inputSize: 32, outputSize: 32)
      try Bump(units: 32)
      try Dense(inputSize: 32, outputSize: 2)
    }
    let history = try classifier.fit(
      x: rings.x, y: rings.y, loss: SoftmaxCrossEntropy(), optimizer: Adam(learningRate: 0.02), epochs: 150, seed: 11,
      metrics: [.accuracy])
    #expect(history.accuracy.last! > 0.98)

    // Unstandardized regression targets start far from the model's outputs; training down from
    // there is no divergence.
    let shifted = try Matrix<Float>(rows: data.y.rows, columns: 1, elements: data.y.elements.map { 50 + 20 * $0 })
    let far: Sequential<Float> = try guardBumpNetwork(units: 16, seed: 12)
    try far.fit(x: data.x, y: shifted, loss: MeanSquaredError(), optimizer: Adam(learningRate: 0.05), epochs: 100, seed: 13)
  }
}

// MARK: - Parameters

@Suite("Guard rails: every parameter checked alike")
struct ParameterCheckTests {
  @Test("a NaN or infinite Dense weight or bias is reported by layer and parameter")
  func nonFiniteDenseParameter() throws {
    let data = try Dataset<Float>.bumps(samples: 100, seed: 1)
    for (layerIndex, parameterIndex, element, bad) in [(0, 0, 3, Float.nan), (2, 1, 0, Float.infinity), (2, 0, 5, -Float.infinity)] {
      let model: Sequential<Float> = try guardBumpNetwork(units: 8, seed: 2)
      let parameter = model.layers[layerIndex].parameters[parameterIndex]
      var value = parameter.value
      value.withUnsafeMutableBufferPointer { $0[element] = bad }
      try parameter.assign(value)
      let before = model.parameters.map(\.value)
      for (label, run) in [
        ("checkParameters", { try model.checkParameters() }),
        ("fit", { try model.fit(x: data.x, y: data.y, loss: MeanSquaredError(), optimizer: Adam(learningRate: 0.01), epochs: 2) }),
        ("evaluate", { _ = try model.evaluate(x: data.x, y: data.y, loss: MeanSquaredError()) }),
        ("accuracy", { _ = try model.accuracy(x: data.x, y: data.y) }),
        ("predict", { _ = try model.predict(data.x) }),
        ("InferenceModel", { _ = try InferenceModel(model) }),
      ] as [(String, () throws -> Void)] {
        let error = trainingError(label, run)
        guard case .invalidParameter(let layer, let name, let index, let text, let reason)? = error else {
          Issue.record("\(label): expected invalidParameter, got \(String(describing: error))")
          continue
        }
        #expect(layer.hasPrefix("layer \(layerIndex) (Dense"), "\(label): \(layer)")
        #expect(name == parameter.name && index == element && text == "\(bad)" && reason == "must be finite", "\(label): \(error!)")
        #expect("\(error!)".contains("\(parameter.name)[\(element)]"))
      }
      // Nothing trained.
      #expect(zip(model.parameters.map(\.value), before).allSatisfy { a, b in
        a.elements.map(\.bitPattern) == b.elements.map(\.bitPattern)
      })
    }
  }

  @Test("a NaN σ is reported by fit like a Dense weight, before any step")
  func nonFiniteSigma() throws {
    let data = try Dataset<Double>.bumps(samples: 100, seed: 1)
    let model: Sequential<Double> = try guardBumpNetwork(units: 4, seed: 2)
    let bump = model.layers[1] as! Bump<Double>
    try bump.sigma.assign(Matrix(rows: 1, columns: 4, elements: [1, 1, .nan, 1]))
    let error = trainingError("fit") {
      try model.fit(x: data.x, y: data.y, loss: MeanSquaredError(), optimizer: Adam(learningRate: 0.01), epochs: 1)
    }
    guard case .invalidParameter(let layer, let name, let index, _, _)? = error else {
      Issue.record("expected invalidParameter, got \(String(describing: error))")
      return
    }
    #expect(layer == "layer 1 (Bump)" && name == "sigma" && index == 2, "\(error!)")
  }
}

// MARK: - Messages

@Suite("Guard rails: messages")
struct GuardMessageTests {
  @Test("inputs given transposed are called transposed, not blamed on the targets")
  func transposedInputs() throws {
    let data = try Dataset<Float>.regression(samples: 50, features: 3, seed: 1)
    let model = try Sequential<Float>(seed: 2) {
      try Dense(inputSize: 3, outputSize: 4)
      try Dense(inputSize: 4, outputSize: 1)
    }
    let x = data.x.transposed()
    let error = trainingError("transposed") {
      try model.fit(x: x, y: data.y, loss: MeanSquaredError(), optimizer: Adam(learningRate: 0.01), epochs: 1)
    }
    guard case .shapeMismatch(let operation, let expected, let actual)? = error else {
      Issue.record("expected shapeMismatch, got \(String(describing: error))")
      return
    }
    #expect(operation.contains("inputs") && operation.contains("transposed"), "\(operation)")
    #expect(expected == MatrixShape(rows: 50, columns: 3) && actual == MatrixShape(rows: 3, columns: 50))
    // Validation data given transposed too.
    let validation = trainingError("validation transposed") {
      try model.fit(
        x: data.x, y: data.y, loss: MeanSquaredError(), optimizer: Adam(learningRate: 0.01), epochs: 1,
        validation: .data(x: x, y: data.y))
    }
    #expect("\(validation.map { "\($0)" } ?? "")".contains("validation data: inputs"))
    // Rows that merely differ are still a targets' mismatch.
    let fewer = trainingError("fewer targets") {
      try model.fit(x: data.x, y: try data.y.rows(at: Array(0..<40)), loss: MeanSquaredError(), optimizer: Adam(learningRate: 0.01), epochs: 1)
    }
    #expect(!"\(fewer.map { "\($0)" } ?? "")".contains("transposed"))
  }

  @Test("targets with the wrong number of columns are refused before training, naming the loss and both counts")
  func wrongTargetColumns() throws {
    let data = try Dataset<Float>.regression(samples: 40, features: 2, seed: 1)
    let model = try Sequential<Float>(seed: 2) { try Dense(inputSize: 2, outputSize: 3) }
    let two = try Matrix<Float>(rows: 40, columns: 2)
    var progressCalls = 0
    let cases: [(String, () throws -> Void, String)] = [
      ("mse", { try model.fit(x: data.x, y: two, loss: MeanSquaredError(), optimizer: Adam(learningRate: 0.01), epochs: 1, progress: { _ in progressCalls += 1 }) }, "the model has 3 outputs, the targets 2 columns"),
      ("binary-crossentropy", { try model.fit(x: data.x, y: two, loss: BinaryCrossEntropyWithLogits(), optimizer: Adam(learningRate: 0.01), epochs: 1, progress: { _ in progressCalls += 1 }) }, "the model has 3 outputs, the targets 2 columns"),
      ("softmax-crossentropy", { try model.fit(x: data.x, y: two, loss: SoftmaxCrossEntropy(), optimizer: Adam(learningRate: 0.01), epochs: 1, progress: { _ in progressCalls += 1 }) }, "they have 2 columns"),
    ]
    for (name, run, words) in cases {
      let error = trainingError(name, run)
      guard case .shapeMismatch(let operation, let expected, let actual)? = error else {
        Issue.record("\(name): expected shapeMismatch, got \(String(describing: error))")
        continue
      }
      #expect(operation.hasPrefix(name) && operation.contains(words), "\(operation)")
      #expect(expected.columns == (name == "softmax-crossentropy" ? 1 : 3) && actual.columns == 2)
    }
    #expect(progressCalls == 0, "refused before the first batch")
    // Validation targets are checked the same way.
    let validation = trainingError("validation") {
      try model.fit(
        x: data.x, y: try Matrix(rows: 40, columns: 3), loss: MeanSquaredError(), optimizer: Adam(learningRate: 0.01),
        epochs: 1, validation: .data(x: data.x, y: two))
    }
    #expect("\(validation.map { "\($0)" } ?? "")".contains("mse: targets"))
  }

  @Test("Matrix(rows:columns:elements:) throws invalidArgument, as documented; ragged rows throw shapeMismatch")
  func matrixInitializerErrors() throws {
    for (rows, columns, count) in [(2, 3, 5), (-1, 3, 0), (Int.max, 2, 0)] {
      let error = trainingError("\(rows)×\(columns) with \(count)") {
        _ = try Matrix<Float>(rows: rows, columns: columns, elements: Array(repeating: 0, count: count))
      }
      guard case .invalidArgument(let name, _, let reason)? = error else {
        Issue.record("expected invalidArgument, got \(String(describing: error))")
        continue
      }
      #expect(name.hasPrefix("Matrix"), "\(error!)")
      if count == 5 { #expect(reason.contains("needs 6") && "\(error!)".contains("5 elements"), "\(error!)") }
    }
    let ragged = trainingError("ragged") { _ = try Matrix<Float>([[1, 2], [3]]) }
    guard case .shapeMismatch? = ragged else {
      Issue.record("expected shapeMismatch, got \(String(describing: ragged))")
      return
    }
  }

  @Test("predict still refuses a non-finite input, naming its row and column")
  func predictNonFiniteInput() throws {
    let model = try Sequential<Float>(seed: 1) { try Dense(inputSize: 2, outputSize: 1) }
    let x = try Matrix<Float>(rows: 3, columns: 2, elements: [0, 1, 2, .nan, 4, 5])
    let error = trainingError("predict") { _ = try model.predict(x) }
    guard case .nonFiniteData(_, let row, let column, _)? = error else {
      Issue.record("expected nonFiniteData, got \(String(describing: error))")
      return
    }
    #expect(row == 1 && column == 1)
  }
}
