@testable import BumpCLI
import BumpKit
import Testing

/// The metrics and statistics after training come from one streamed pass over each part, in
/// batches of 4096 rows; they must equal what the whole-matrix computations give (up to the
/// order of summation in Double).
@Suite struct EndOfRunPassTests {
  /// |a − b| within a relative 1e-6: the sums are in Double, but the Float outputs of a
  /// batch of 4096 rows and of one of 1024 round differently (another GEMM blocking).
  private func close(_ a: Double?, _ b: Double?) -> Bool {
    guard let a, let b else { return a == nil && b == nil }
    return abs(a - b) <= 1e-6 * max(abs(a), abs(b), 1e-300)
  }

  /// A model for `arguments`, its prepared data (more rows than one batch, not a multiple
  /// of it), briefly trained so that the metrics are not those of the initial weights.
  private func prepared(_ arguments: [String]) throws -> (
    PreparedData<Float>, Sequential<Float>, any Loss<Float>
  ) {
    let configuration = try trainConfiguration(arguments + ["--samples", "11000"])
    let data = try PreparedData<Float>(
      configuration, budget: MemoryBudget(bytes: Int.max, source: "a test"))
    let outputs = ModelFactory.outputs(
      task: data.training.task, targetColumns: data.training.y.columns, loss: configuration.loss)
    let model = try ModelFactory.model(
      configuration, inputs: data.training.x.columns, outputs: outputs, as: Float.self)
    try ModelFactory.placeRadialCenters(model, on: data.training.x, seed: configuration.seed)
    let loss = ModelFactory.loss(configuration.loss, as: Float.self)
    let optimizer = try ModelFactory.optimizer(configuration, stepsPerEpoch: 100, as: Float.self)
    try model.fit(
      x: data.training.x, y: data.training.y, loss: loss, optimizer: optimizer, epochs: 1,
      batchSize: 128, seed: 3)
    return (data, model, loss)
  }

  @Test(arguments: [
    ["--dataset", "rings"],
    ["--dataset", "rings", "--loss", "bce"],
    ["--dataset", "regression", "--standardize-target"],
    ["--dataset", "regression", "--no-standardize-target"],
    ["--dataset", "bumps", "--radial", "--layers", "12,8"],
    ["--dataset", "rings", "--radial", "--layers", "16", "--validation-split", "0"],
    ["--dataset", "rings", "--test-split", "0.2"],
    ["--dataset", "regression", "--standardize-target", "--test-split", "0.1", "--validation-split", "0"],
  ])
  func streamedMetricsEqualTheWholeMatrixOnes(arguments: [String]) throws {
    let (data, model, loss) = try prepared(arguments)
    let train = data.training
    #expect(train.count > EndOfRunPass<Float>.batchSize, "more than one batch")
    let (metrics, layers) = try TrainingRun<Float>.metrics(
      model: model, loss: loss, data: data, epochs: 1, seconds: 0)

    // The whole-matrix computations, as `bump train` made them before it streamed.
    func whole(_ x: Matrix<Float>, _ y: Matrix<Float>, _ targets: Matrix<Float>) throws -> (
      loss: Double, accuracy: Double?, r2: Double?
    ) {
      if train.task.classes != nil {
        return (
          try model.evaluate(x: x, y: y, loss: loss), try model.accuracy(x: x, y: y), nil
        )
      }
      let predicted = try data.naturalUnits(try model.predict(x))
      return (
        try loss.loss(predicted: predicted, target: targets), nil,
        try Baseline.rSquared(predicted: predicted, targets: targets)
      )
    }
    let expected = try whole(train.x, train.y, data.trainingTargets)
    #expect(close(metrics.trainLoss, expected.loss), "\(metrics.trainLoss) vs \(expected.loss)")
    #expect(metrics.trainAccuracy == expected.accuracy)
    #expect(close(metrics.trainR2, expected.r2), "\(String(describing: metrics.trainR2)) vs \(String(describing: expected.r2))")
    if let v = data.validation, let targets = data.validationTargets {
      let expected = try whole(v.x, v.y, targets)
      #expect(close(metrics.validationLoss, expected.loss))
      #expect(metrics.validationAccuracy == expected.accuracy)
      #expect(close(metrics.validationR2, expected.r2))
    } else {
      #expect(metrics.validationLoss == nil)
    }
    if let t = data.test, let targets = data.testTargets {
      let expected = try whole(t.x, t.y, targets)
      #expect(close(metrics.testLoss, expected.loss))
      #expect(metrics.testAccuracy == expected.accuracy)
      #expect(close(metrics.testR2, expected.r2))
      #expect(metrics.testSamples == t.count)
    } else {
      #expect(metrics.testLoss == nil && metrics.testBaseline == nil && metrics.testSamples == nil)
    }

    // Bump statistics: those of collect(model:inputs:), the input range within rounding
    // (a layer's inputs are a GEMM's Float outputs, and the batches differ).
    let collected = try BumpLayerStatistics.collect(model: model, inputs: train.x)
    let streamed = layers.bumps + layers.radials
    let reference = collected.filter { $0.kind == .bump } + collected.filter { $0.kind == .radialBump }
    #expect(streamed.count == reference.count)
    for (s, r) in zip(streamed, reference) {
      #expect(s.layerIndex == r.layerIndex && s.kind == r.kind && s.units == r.units)
      #expect(s.inputSize == r.inputSize && s.trainable == r.trainable && s.samples == r.samples)
      #expect(s.sigma == r.sigma && s.center == r.center && s.amplitude == r.amplitude)
      #expect(s.supportCountPerUnit == r.supportCountPerUnit, "layer \(s.layerIndex)")
      #expect((s.inputRange == nil) == (r.inputRange == nil))
      if let a = s.inputRange, let b = r.inputRange {
        #expect(close(a.lowerBound, b.lowerBound) && close(a.upperBound, b.upperBound), "\(a) vs \(b)")
      }
    }
    #expect(layers.bumps.allSatisfy { $0.kind == .bump } && layers.radials.allSatisfy { $0.kind == .radialBump })
    // Radial counts: exactly those of one forward pass over all training rows.
    var radialLayers = 0
    var h = train.x
    for (i, layer) in model.layers.enumerated() {
      h = try layer.forward(h)
      if let radial = layer as? RadialBump<Float> {
        radialLayers += 1
        #expect(layers.radialCounts[i] == radial.supportCountPerUnit, "layer \(i)")
        #expect(radial.supportCountPerUnit.reduce(0, +) > 0)
      }
    }
    model.releaseSavedState()
    #expect(layers.radialCounts.count == radialLayers, "no radial work without a radial layer")
  }

  /// A model with a radial layer that no input reaches: the streamed counts report its
  /// dead units as the whole-matrix pass did.
  @Test func theRadialReportCountsDeadUnitsOverAllBatches() throws {
    let radial = try RadialBump<Double>(inputSize: 2, units: 3)
    let model = try Sequential<Double>(layers: [radial, try Dense<Double>(inputSize: 3, outputSize: 1)])
    // Unit 0 at the origin, unit 1 at (100, 100), unit 2 at (0, 5): σ = 1 each.
    try radial.center.assign(Matrix(rows: 3, columns: 2, elements: [0, 0, 100, 100, 0, 5]))
    try radial.sigma.assign(Matrix(rows: 1, columns: 3, elements: [1, 1, 1]))
    let rows = 5000
    var x = try Matrix<Double>(rows: rows, columns: 2)
    for i in 0..<rows {
      // Inside unit 0 for even rows; unit 2 only in the last batch.
      x[i, 0] = i == rows - 1 ? 0 : (i % 2 == 0 ? 0.1 : 3)
      x[i, 1] = i == rows - 1 ? 5 : 0
    }
    let y = try Matrix<Double>(rows: rows, columns: 1)
    let pass = EndOfRunPass(
      model: model, loss: MeanSquaredError<Double>(), classification: false,
      targetStandardization: nil)
    let (_, layers) = try pass.run(x: x, y: y, targets: y, collectingStatistics: true)
    #expect(layers.radialCounts[0] == [rows / 2, 0, 1])
    let lines = RadialLayerReport.lines(model: model, statistics: layers.radials)
    #expect(
      lines.contains {
        $0.contains("dead units (no input inside): 1 of 3 (2)")
          && $0.contains("\(formatted(100 * Double(rows / 2 + 1) / Double(3 * rows), digits: 3))%")
      }, "\(lines)")
  }

  /// The median support radius of an even number of units is the mean of the two middle
  /// radii (it was the upper one), as the bump report's σ median.
  @Test func theRadialReportsMedianRadiusIsTheMedian() throws {
    let radial = try RadialBump<Double>(inputSize: 1, units: 4)
    let model = try Sequential<Double>(layers: [radial, try Dense<Double>(inputSize: 4, outputSize: 1)])
    try radial.sigma.assign(Matrix(rows: 1, columns: 4, elements: [1, 9, 16, 4]))
    let lines = RadialLayerReport.lines(model: model)
    #expect(lines.contains("    support radius √σ: min 1, median 2.5, max 4"), "\(lines)")
  }
}
