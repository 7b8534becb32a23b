import BumpKit
import Foundation
import Testing

/// Inputs a program can pass through the public API that used to give wrong results, garbage
/// or a message blaming the wrong thing (a hostile review of the library): each is refused
/// with an error that names the cause, or handled.
@Suite("Library misuse: refused with the cause named")
struct LibraryMisuseTests {
  // MARK: - Helpers (this file's own)

  /// Dense(2→4) → Bump(4) → Dense(4→1), drawn from seed 1.
  private static func small() throws -> Sequential<Float> {
    try Sequential<Float>(seed: 1) {
      try Dense(inputSize: 2, outputSize: 4)
      try Bump(units: 4)
      try Dense(inputSize: 4, outputSize: 1)
    }
  }

  /// 8 rows of two inputs and a target.
  private static func data() throws -> (x: Matrix<Float>, y: Matrix<Float>) {
    let x = try Matrix<Float>(rows: 8, columns: 2, elements: (0..<16).map { Float($0) / 16 - 0.5 })
    let y = try Matrix<Float>(rows: 8, columns: 1, elements: (0..<8).map { Float($0) / 8 })
    return (x, y)
  }

  private static func message(_ body: () throws -> Void) -> String {
    do {
      try body()
      return "no error"
    } catch { return "\(error)" }
  }

  // MARK: - Models

  /// One layer object in two places of a model would have one saved input and one gradient
  /// for both: wrong gradients. Refused, at any depth of nesting; separate layers are fine.
  @Test func aLayerObjectTwiceInAModelIsRefused() throws {
    let dense = try Dense<Double>(inputSize: 2, outputSize: 2)
    let twice = Self.message { _ = try Sequential<Double>(layers: [dense, Tanh<Double>(), dense]) }
    #expect(twice.contains("layer 2 (Dense)") && twice.contains("same object as layer 0 (Dense)"), "\(twice)")
    let tanh = Tanh<Double>()
    let activation = Self.message {
      _ = try Sequential<Double>(layers: [try Dense<Double>(inputSize: 2, outputSize: 2), tanh, try Dense<Double>(inputSize: 2, outputSize: 2), tanh])
    }
    #expect(activation.contains("same object as layer 1"), "\(activation)")
    let inner = try Sequential<Double>(layers: [dense])
    let nested = Self.message { _ = try Sequential<Double>(layers: [inner, Tanh<Double>(), dense]) }
    #expect(nested.contains("same object as layer 0/0 (Dense)"), "\(nested)")
    #expect(throws: BumpKitError.self) { _ = try Sequential<Double>(layers: [inner, inner]) }
    // Separate layers, and one layer in two models (documented sharing), are accepted.
    _ = try Sequential<Double>(layers: [dense, Tanh<Double>(), try Dense<Double>(inputSize: 2, outputSize: 2)])
    _ = try Sequential<Double>(layers: [dense])
  }

  // MARK: - Training arguments and resumed state

  @Test(arguments: [Double.nan, .infinity, -1e-9, -.infinity])
  func earlyStoppingsMinDeltaMustBeFiniteAndNonNegative(minDelta: Double) throws {
    let (x, y) = try Self.data()
    let model = try Self.small()
    let text = Self.message {
      try model.fit(
        x: x, y: y, loss: MeanSquaredError(), optimizer: try Adam<Float>(learningRate: 0.01), epochs: 2,
        earlyStopping: EarlyStopping(patience: 1, minDelta: minDelta))
    }
    #expect(text.contains("minDelta") && text.contains("finite and ≥ 0"), "\(text)")
    try model.fit(
      x: x, y: y, loss: MeanSquaredError(), optimizer: try Adam<Float>(learningRate: 0.01), epochs: 1,
      earlyStopping: EarlyStopping(patience: 1, minDelta: 0))
  }

  /// Each inconsistency of a resumed state is named for what it is (one message used to
  /// blame the history for all), and a best loss that no epoch can beat is refused.
  @Test func aResumedStateNamesItsInconsistency() throws {
    let (x, y) = try Self.data()
    let model = try Self.small()
    let run = TrainingRunIdentity(seed: 0, shuffle: true, trainingRows: 8, batchSize: 4)
    var history = History()
    var states: [(TrainingState<Float>, String)] = []
    func state(best: Double, epoch: Int, without: Int, completed: Int = 0) -> TrainingState<Float> {
      TrainingState(
        epochsCompleted: completed, history: history, bestLoss: best, bestEpoch: epoch, epochsWithoutImprovement: without,
        bestWeights: [], run: run)
    }
    states.append((state(best: .infinity, epoch: 0, without: 0), "best epoch 0"))
    states.append((state(best: .infinity, epoch: -7, without: 0), "best epoch -7"))
    states.append((state(best: .infinity, epoch: -1, without: -1), "-1 epochs without improvement"))
    states.append((state(best: .nan, epoch: -1, without: 0), "best loss nan"))
    states.append((state(best: -.infinity, epoch: -1, without: 0), "best loss -inf"))
    states.append((state(best: .infinity, epoch: -1, without: 0, completed: 2), "2 epochs completed, history of 0"))
    // One completed epoch in the history: its best epoch needs a finite loss.
    let first = try model.copy()
    history = try first.fit(x: x, y: y, loss: MeanSquaredError(), optimizer: try Adam<Float>(learningRate: 0.01), epochs: 1, batchSize: 4)
    states.append((state(best: .nan, epoch: 0, without: 0, completed: 1), "best loss nan"))
    states.append((state(best: 0.5, epoch: 0, without: 2, completed: 1), "2 epochs without improvement"))
    for (bad, named) in states {
      let text = Self.message {
        try model.copy().fit(
          x: x, y: y, loss: MeanSquaredError(), optimizer: try Adam<Float>(learningRate: 0.01), epochs: 3, batchSize: 4,
          earlyStopping: EarlyStopping(patience: 2), resumingFrom: bad)
      }
      #expect(text.contains(named) && text.contains("inconsistent"), "\(named): \(text)")
    }
    // The consistent form of the last one resumes.
    try model.copy().fit(
      x: x, y: y, loss: MeanSquaredError(), optimizer: try Adam<Float>(learningRate: 0.01), epochs: 2, batchSize: 4,
      earlyStopping: EarlyStopping(patience: 2), resumingFrom: state(best: 0.5, epoch: 0, without: 0, completed: 1))
  }

  /// A snapshot whose Adam second moment is negative (or any state value NaN) would make
  /// every parameter NaN at the first step, blamed on the model: refused on restore, naming
  /// the slot and the parameter, with the optimizer unchanged. A second moment of +∞, which
  /// training makes in `Float` from a gradient beyond about 1.8·10¹⁹, restores.
  @Test func anOptimizerSnapshotOutsideItsDomainIsRefused() throws {
    let (x, y) = try Self.data()
    let model = try Self.small()
    let adam = try Adam<Float>(learningRate: 0.01)
    try model.fit(x: x, y: y, loss: MeanSquaredError(), optimizer: adam, epochs: 1, batchSize: 4)
    let good = adam.snapshot(for: model.parameters)
    for (slot, value) in [(1, Float(-1)), (1, -.infinity), (0, .nan), (1, .nan)] {
      var bad = good
      var buffers = try #require(bad.states[0])
      buffers[slot][0, 1] = value
      bad.states[0] = buffers
      let fresh = try Adam<Float>(learningRate: 0.01)
      let text = Self.message { try fresh.restore(bad, for: model.parameters) }
      #expect(text.contains("\(slot == 0 ? "m" : "v") of parameter 0 (weight)[1]") && text.contains("corrupt"), "\(text)")
      #expect(fresh.snapshot(for: model.parameters).iterations == 0, "unchanged")
    }
    var overflowed = good
    var moments = try #require(overflowed.states[0])
    moments[1][0, 1] = .infinity
    overflowed.states[0] = moments
    let restored = try Adam<Float>(learningRate: 0.01)
    try restored.restore(overflowed, for: model.parameters)
    #expect(restored.snapshot(for: model.parameters).iterations == good.iterations)
    let sgd = try SGD<Float>(learningRate: 0.01, momentum: 0.9)
    let other = try model.copy()
    try other.fit(x: x, y: y, loss: MeanSquaredError(), optimizer: sgd, epochs: 1, batchSize: 4)
    var velocity = sgd.snapshot(for: other.parameters)
    var buffers = try #require(velocity.states[0])
    buffers[0][0, 0] = .nan
    velocity.states[0] = buffers
    #expect(throws: BumpKitError.self) { try SGD<Float>(learningRate: 0.01, momentum: 0.9).restore(velocity, for: other.parameters) }
    // The snapshot as taken restores.
    try Adam<Float>(learningRate: 0.01).restore(good, for: model.parameters)
  }

  /// A resumable checkpoint whose `resume_state` entry declares a negative count cannot
  /// account for its training-state tensors: even a plain load names that entry, not a
  /// healthy optimizer tensor.
  @Test func aCorruptResumeEntryIsNamedByPlainLoading() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bumpkit-misuse-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let (x, y) = try Self.data()
    let model = try Self.small()
    let adam = try Adam<Float>(learningRate: 0.01)
    var state: TrainingState<Float>?
    try model.fit(
      x: x, y: y, loss: MeanSquaredError(), optimizer: adam, epochs: 1, batchSize: 4,
      onEpochEnd: { end in
        state = end.state
        return .continue
      })
    let path = folder.appendingPathComponent("model.safetensors").path
    try Checkpoint.save(model, to: path, optimizer: adam, training: state)
    _ = try Checkpoint.load(Float.self, from: path)
    for (key, value) in [("epochs_completed", "-3"), ("iterations", "-1")] {
      var file = try SafetensorsFile.read(from: path)
      let entry = try #require(file.metadata[Checkpoint.resumeStateKey])
      let edited = entry.replacingOccurrences(
        of: #""\#(key)":\d+"#, with: #""\#(key)":\#(value)"#, options: .regularExpression)
      #expect(edited != entry, "\(entry)")
      file.metadata[Checkpoint.resumeStateKey] = edited
      let bad = folder.appendingPathComponent("bad-\(key).safetensors").path
      try file.write(to: bad)
      let text = Self.message { _ = try Checkpoint.load(Float.self, from: bad) }
      #expect(text.contains(key == "iterations" ? "step count" : "-3 epochs completed") && !text.contains("belongs to no parameter"), "\(text)")
    }
  }

  /// A warm-up whose epochs times the steps per epoch passes `Int.max` never ends (it
  /// wrapped to a short warm-up, or gave a NaN rate nobody asked for).
  @Test func aWarmUpBeyondIntsStepsNeverEnds() throws {
    let position = SchedulePosition(iteration: 4, stepsPerEpoch: 4)
    for epochs in [(1 << 62) + 1, Int.max] {
      let rate = WarmUpSchedule.warmUp(epochs: epochs).learningRate(base: 1, at: position)
      #expect(rate.isFinite && rate > 0 && rate < 1e-15, "\(epochs): \(rate)")
    }
    #expect(WarmUpSchedule.warmUp(epochs: 1).learningRate(base: 1, at: position) == 1)
  }

  // MARK: - Evaluation

  /// Accuracy compares predictions with classes: labels out of range, regression targets and
  /// several target columns are refused, by `accuracy` and by `fit`'s accuracy metric.
  @Test func accuracyNeedsTargetsThatAreClasses() throws {
    let (x, y) = try Self.data()
    let classifier = try Sequential<Float>(seed: 2) {
      try Dense(inputSize: 2, outputSize: 3)
    }
    let nines = try Matrix<Float>(rows: 8, columns: 1, repeating: 9)
    #expect(throws: BumpKitError.labelOutOfRange(row: 0, label: "9.0", classes: 3)) { _ = try classifier.accuracy(x: x, y: nines) }
    let labels = try Matrix<Float>(rows: 8, columns: 1, elements: [0, 1, 2, 0, 1, 2, 0, 1])
    let accuracy = try classifier.accuracy(x: x, y: labels)
    #expect(accuracy >= 0 && accuracy <= 1)
    let binary = try Self.small()
    let regression = try Matrix<Float>(rows: 8, columns: 1, elements: [0, 0.5, 1, 3.7, 0, 1, 1, 0])
    #expect(throws: BumpKitError.labelOutOfRange(row: 3, label: "3.7", classes: 2)) { _ = try binary.accuracy(x: x, y: regression) }
    #expect(throws: BumpKitError.self) { _ = try binary.accuracy(x: x, y: try Matrix<Float>(rows: 8, columns: 2)) }
    _ = try binary.accuracy(x: x, y: y)
    #expect(throws: BumpKitError.labelOutOfRange(row: 3, label: "3.7", classes: 2)) {
      try binary.copy().fit(
        x: x, y: regression, loss: MeanSquaredError(), optimizer: try Adam<Float>(learningRate: 0.01), epochs: 1,
        metrics: [.accuracy])
    }
  }

  // MARK: - Values out of range

  @Test func qrAndLeastSquaresNameANonFiniteInput() throws {
    var a = try Matrix<Float>(rows: 3, columns: 2, elements: [1, 2, 3, 4, 5, 6])
    a[2, 1] = .nan
    #expect(throws: BumpKitError.nonFiniteData(what: "qr input", row: 2, column: 1, value: "nan")) { _ = try a.qr() }
    let b = try Matrix<Float>(rows: 3, columns: 1, elements: [1, 2, 3])
    #expect(throws: BumpKitError.self) { _ = try Matrix.solveLeastSquares(a, b) }
    a[2, 1] = 6
    var infinite = b
    infinite[0, 0] = -.infinity
    #expect(throws: BumpKitError.self) { _ = try Matrix.solveLeastSquares(a, infinite) }
    _ = try a.qr()
    _ = try Matrix.solveLeastSquares(a, b)
  }

  @Test func generatedDataThatLeavesThePrecisionIsRefused() throws {
    #expect(throws: BumpKitError.self) { _ = try Dataset<Float>.rings(samples: 10, noise: 1e300) }
    #expect(throws: BumpKitError.self) { _ = try Dataset<Float>.bumps(samples: 10, noise: 1e39) }
    // In Double the same noise is within range.
    _ = try Dataset<Double>.bumps(samples: 10, noise: 1e39)
    _ = try Dataset<Float>.rings(samples: 10, noise: 1e30)
  }

  @Test func standardizingADatasetBeyondItsPrecisionIsRefused() throws {
    let data = try Dataset<Float>.rings(samples: 10)
    let tiny = try Standardization(mean: [0, 0], standardDeviation: [1, 1e-300])
    let text = Self.message { _ = try tiny.apply(to: data) }
    #expect(text.contains("standardized inputs") && text.contains("column 1"), "\(text)")
    // The matrix form says what it gives: infinities.
    #expect(try tiny.apply(to: data.x).elements.contains { !$0.isFinite })
  }

  /// Centres on data so spread that σ = (s·δ)² leaves Float's range: refused, with the layer
  /// unchanged (it used to set σ = ∞).
  @Test func radialCentresThatWouldMakeAnInfiniteSigmaAreRefused() throws {
    let layer = try RadialBump<Float>(inputSize: 1, units: 2)
    _ = try Sequential<Float>(layers: [layer], seed: 3)
    let before = (layer.center.value, layer.sigma.value)
    let spread = try Matrix<Float>(rows: 2, columns: 1, elements: [-3e38, 3e38])
    var generator = SeededGenerator(seed: 1)
    let text = Self.message { try layer.initializeCenters(from: spread, sigmaScale: 2, using: &generator) }
    #expect(text.contains("sigmaScale") && text.contains("beyond the range of Float"), "\(text)")
    #expect(layer.center.value == before.0 && layer.sigma.value == before.1)
    let near = try Matrix<Float>(rows: 2, columns: 1, elements: [-1, 1])
    try layer.initializeCenters(from: near, sigmaScale: 2, using: &generator)
    #expect(layer.sigma.value.elements.allSatisfy { $0 == 16 }, "(2 · 2)²")
  }

  /// Training densities whose median is subnormal beside a large one: the scores stay finite
  /// (the calibration used to fail on an internal array the caller never passed).
  @Test func aSubnormalMedianDensityStillCalibrates() throws {
    let calibration = try SupportCalibration(trainingDensities: [.leastNonzeroMagnitude, .leastNonzeroMagnitude, 1e308])
    #expect(calibration.quantiles.allSatisfy(\.isFinite) && calibration.scale > 0)
    #expect(calibration.quantiles.last! > calibration.quantiles.first!)
    let ordinary = try SupportCalibration(trainingDensities: [0.2, 0.4, 0.9])
    #expect(ordinary.scale == 0.4, "the median, as before")
  }

  // MARK: - Writing

  /// A device written in place has no temporary file: a failed write names the device (it
  /// named "").
  @Test func aFailedWriteToADeviceNamesIt() throws {
    guard FileManager.default.fileExists(atPath: "/dev/full") else { return }
    let text = Self.message { try Checkpoint.save(try Self.small(), to: "/dev/full") }
    #expect(text.contains("/dev/full") && !text.contains("\"\""), "\(text)")
  }
}
