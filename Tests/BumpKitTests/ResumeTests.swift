import BumpKit
import Foundation
import Testing

// MARK: - Helpers

/// Dense(2→8) → Bump(8, σ, c and a trained) → Dense(8→1), drawn from `seed`.
private func resumeNetwork<T: MatrixScalar>(_: T.Type, seed: UInt64) throws -> Sequential<T> {
  try Sequential<T>(seed: seed) {
    try Dense(inputSize: 2, outputSize: 8)
    try Bump(units: 8, sigma: .perUnit(.constant(1)), center: .perUnit(.constant(0), trainable: true),
             amplitude: .perUnit(.constant(1), trainable: true))
    try Dense(inputSize: 8, outputSize: 1)
  }
}

/// The optimizers the resume test runs, each with a schedule.
enum ResumeOptimizerCase: String, CaseIterable, Sendable {
  case adam, adamw, sgdMomentum, sgdNesterovStepDecay

  func make<T: MatrixScalar>(_: T.Type) throws -> any ResumableOptimizer<T> {
    switch self {
    case .adam:
      return try Adam<T>(learningRate: 0.02, schedule: .warmUp(epochs: 2, then: .cosine(epochs: 10, minimum: 0.001)))
    case .adamw:
      return try AdamW<T>(learningRate: 0.02, weightDecay: 0.05, schedule: .cosine(totalSteps: 40, minimum: 0))
    case .sgdMomentum:
      return try SGD<T>(learningRate: 0.05, momentum: 0.9, schedule: .warmUp(steps: 5, then: .step(every: 7, factor: 0.7)))
    case .sgdNesterovStepDecay:
      return try SGD<T>(learningRate: 0.05, momentum: 0.8, nesterov: true, weightDecay: 1e-3,
                        schedule: .stepDecay(everyEpochs: 3, factor: 0.5), clipGlobalNorm: 1)
    }
  }
}

/// Trains `epochs` epochs of a fixed problem; with `interruptAfter` k, stops after epoch k,
/// saves a resumable checkpoint to bytes, loads it into a fresh model and optimizer and
/// resumes to `epochs`. Returns the final weights and history losses.
private func resumeRun<T: MatrixScalar>(
  _ kind: ResumeOptimizerCase, _: T.Type, epochs: Int, interruptAfter: Int?, earlyStopping: EarlyStopping?
) throws -> (weights: [[UInt64]], loss: [Double], validationLoss: [Double], history: History) {
  let x = seededMatrix(80, 2, seed: 11, as: T.self)
  var y = Matrix<T>(validRows: 80, columns: 1)
  for i in 0..<80 { y[i, 0] = T(sin(3 * Double(x[i, 0])) * Double(x[i, 1])) }
  let model = try resumeNetwork(T.self, seed: 5)
  let optimizer = try kind.make(T.self)
  func train(_ model: Sequential<T>, _ optimizer: some ResumableOptimizer<T>, from state: TrainingState<T>?,
             hook: ((EpochEnd<T>) throws -> TrainingControl)?) throws -> History {
    try model.fit(
      x: x, y: y, loss: MeanSquaredError<T>(), optimizer: optimizer, epochs: epochs, batchSize: 12,
      seed: 3, validation: .split(0.25), earlyStopping: earlyStopping, resumingFrom: state, onEpochEnd: hook)
  }
  guard let k = interruptAfter else {
    let history = try train(model, optimizer, from: nil, hook: nil)
    return (parameterBits(model), history.loss, history.validationLoss, history)
  }
  var saved: [UInt8] = []
  _ = try train(model, optimizer, from: nil) { end in
    guard end.epoch + 1 == k else { return .continue }
    saved = try Checkpoint.encode(end.model, optimizer: optimizer, training: end.state).encode()
    return .stop
  }
  #expect(!saved.isEmpty, "no checkpoint after epoch \(k)")
  let fresh = try kind.make(T.self)
  let (resumed, _, state) = try Checkpoint.loadForResuming(
    T.self, file: SafetensorsFile.decode(saved), optimizer: fresh)
  #expect(state.epochsCompleted == k)
  let history = try train(resumed, fresh, from: state, hook: nil)
  return (parameterBits(resumed), history.loss, history.validationLoss, history)
}

// MARK: - Tests

@Suite("Resume")
struct ResumeTests {
  /// The goal of the resume work: train k epochs, save, load into a fresh model and
  /// optimizer, resume to N — the parameters equal those of N uninterrupted epochs bit for
  /// bit, for every optimizer (with a schedule), and so do the losses of every epoch.
  @Test("a run interrupted at epoch k and resumed equals the uninterrupted run bit for bit", arguments: ResumeOptimizerCase.allCases)
  func resumedEqualsUninterrupted(_ kind: ResumeOptimizerCase) throws {
    for k in [1, 4] {
      let whole = try resumeRun(kind, Float.self, epochs: 9, interruptAfter: nil, earlyStopping: nil)
      let resumed = try resumeRun(kind, Float.self, epochs: 9, interruptAfter: k, earlyStopping: nil)
      #expect(resumed.weights == whole.weights, "\(kind), interrupted after epoch \(k)")
      #expect(resumed.loss == whole.loss)
      #expect(resumed.validationLoss == whole.validationLoss)
      #expect(whole.loss.count == 9)
    }
    let whole = try resumeRun(kind, Double.self, epochs: 6, interruptAfter: nil, earlyStopping: nil)
    let resumed = try resumeRun(kind, Double.self, epochs: 6, interruptAfter: 3, earlyStopping: nil)
    #expect(resumed.weights == whole.weights, "\(kind) in Double")
  }

  /// Early stopping continues: best loss, patience count and best weights come back, so the
  /// run stops at the same epoch and restores the same weights. A huge minDelta makes every
  /// epoch after the first "no improvement", so patience 3 stops after epoch 4.
  @Test("early stopping state resumes: same stopping epoch, same restored weights")
  func earlyStoppingResumes() throws {
    let stopping = EarlyStopping(patience: 3, minDelta: 1e9, restoreBestWeights: true)
    let whole = try resumeRun(.adam, Float.self, epochs: 12, interruptAfter: nil, earlyStopping: stopping)
    #expect(whole.history.stoppedEarly)
    #expect(whole.loss.count == 4)
    #expect(whole.history.restoredEpoch == 0)
    for k in [2, 4] {  // 4: the run had already stopped; resuming trains nothing more
      let resumed = try resumeRun(.adam, Float.self, epochs: 12, interruptAfter: k, earlyStopping: stopping)
      #expect(resumed.weights == whole.weights, "interrupted after epoch \(k)")
      #expect(resumed.loss == whole.loss)
      #expect(resumed.history.stoppedEarly == whole.history.stoppedEarly)
      #expect(resumed.history.restoredEpoch == whole.history.restoredEpoch)
    }
    // With real improvements as well.
    let patient = EarlyStopping(patience: 2, restoreBestWeights: true)
    let a = try resumeRun(.sgdMomentum, Double.self, epochs: 10, interruptAfter: nil, earlyStopping: patient)
    let b = try resumeRun(.sgdMomentum, Double.self, epochs: 10, interruptAfter: 5, earlyStopping: patient)
    #expect(a.weights == b.weights)
    #expect(a.loss == b.loss)
  }

  /// A resumable checkpoint still loads for inference (the training state ignored), and a
  /// checkpoint without one loads as before but cannot be resumed from.
  @Test("a resumable checkpoint loads for inference; a plain one is refused for resuming")
  func inferenceAndPlainFiles() throws {
    let model = try resumeNetwork(Float.self, seed: 2)
    let optimizer = try Adam<Float>()
    let x = seededMatrix(16, 2, seed: 1, as: Float.self)
    let y = seededMatrix(16, 1, seed: 2, as: Float.self)
    var state: TrainingState<Float>?
    try model.fit(x: x, y: y, loss: MeanSquaredError<Float>(), optimizer: optimizer, epochs: 2, batchSize: 4,
                  earlyStopping: EarlyStopping(patience: 5), onEpochEnd: { end in
      state = end.state
      return .continue
    })
    let file = try Checkpoint.encode(model, metadata: ["note": "kept"], optimizer: optimizer, training: state)
    #expect(file.names.contains("optimizer.m.layers.0.weight"))
    #expect(file.names.contains("optimizer.v.layers.1.sigma"))
    #expect(file.names.contains("training.best.layers.2.bias"))
    #expect(file.names.contains("training.history.loss"))
    #expect(file.names.contains("training.best_loss"))
    #expect(file.metadata[Checkpoint.resumeStateKey] != nil)
    let (loaded, metadata) = try Checkpoint.load(Float.self, file: SafetensorsFile.decode(file.encode()))
    #expect(parameterBits(loaded) == parameterBits(model))
    #expect(metadata["note"] == "kept")

    let plain = try Checkpoint.encode(model, metadata: [Checkpoint.resumeStateKey: "{}"])
    #expect(plain.metadata[Checkpoint.resumeStateKey] == nil)
    let error = #expect(throws: CheckpointError.self) {
      _ = try Checkpoint.loadForResuming(Float.self, file: plain, optimizer: try Adam<Float>())
    }
    #expect("\(error!)".contains("holds no training state"))
    let wrongKind = #expect(throws: CheckpointError.self) {
      _ = try Checkpoint.loadForResuming(Float.self, file: file, optimizer: try SGD<Float>(momentum: 0.9))
    }
    #expect("\(wrongKind!)".contains("adam"))
  }

  /// The header check holds training-state tensors to the parameters' shapes and dtype, and
  /// refuses them where no `resume_state` entry accounts for them.
  @Test("training-state tensors are checked like parameters")
  func hostileTrainingState() throws {
    let model = try resumeNetwork(Float.self, seed: 2)
    var file = try Checkpoint.encode(model, optimizer: try Adam<Float>(), training: nil)
    try file.insert(.init([Float](repeating: 0, count: 3), shape: [1, 3]), named: "optimizer.m.layers.0.weight")
    #expect(throws: CheckpointError.unexpectedTensor(source: "checkpoint", name: "optimizer.m.layers.0.weight")) {
      _ = try Checkpoint.load(Float.self, file: file)
    }
    var plain = try Checkpoint.encode(model)
    try plain.insert(.init([Float](repeating: 0, count: 16), shape: [2, 8]), named: "optimizer.m.layers.0.weight")
    #expect(throws: CheckpointError.self) { _ = try Checkpoint.load(Float.self, file: plain) }
  }

  @Test("epoch and warm-up schedules give the expected rates")
  func schedules() throws {
    let perEpoch = SchedulePosition(iteration: 0, stepsPerEpoch: 4)
    func at(_ t: Int) -> SchedulePosition { SchedulePosition(iteration: t, stepsPerEpoch: 4) }
    let decay: any LearningRateScheduling = .stepDecay(everyEpochs: 2, factor: 0.5)
    #expect((0..<20).map { decay.learningRate(base: 1, at: at($0)) }
      == [1, 1, 1, 1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25])
    let cosine: any LearningRateScheduling = .cosine(epochs: 2, minimum: 0)
    #expect(cosine.learningRate(base: 2, at: perEpoch) == 2)
    #expect(abs(cosine.learningRate(base: 2, at: at(4)) - 1) < 1e-15)
    #expect(cosine.learningRate(base: 2, at: at(8)) == 0)
    let warm: any LearningRateScheduling = .warmUp(steps: 4, then: .step(every: 2, factor: 0.5))
    #expect((0..<8).map { warm.learningRate(base: 1, at: SchedulePosition(iteration: $0)) }
      == [0.25, 0.5, 0.75, 1, 1, 1, 0.5, 0.5])
    let warmEpochs: any LearningRateScheduling = .warmUp(epochs: 1)
    #expect((0..<6).map { warmEpochs.learningRate(base: 2, at: at($0)) } == [0.5, 1, 1.5, 2, 2, 2])
    #expect(warmEpochs.countsEpochs)
    #expect(!LearningRateSchedule.constant.countsEpochs)
    let custom: any LearningRateScheduling = .custom { position, base in base / Double(1 + position.iteration) }
    #expect(custom.learningRate(base: 1, at: SchedulePosition(iteration: 3)) == 0.25)
    #expect(EpochSchedule { epoch, base in base * Double(epoch + 1) }.learningRate(base: 1, at: at(9)) == 3)

    #expect(throws: BumpKitError.self) { _ = try Adam<Float>(schedule: .stepDecay(everyEpochs: 0, factor: 0.5)) }
    #expect(throws: BumpKitError.self) { _ = try Adam<Float>(learningRate: 0.1, schedule: .cosine(epochs: 3, minimum: 1)) }
    #expect(throws: BumpKitError.self) { _ = try SGD<Float>(schedule: .warmUp(steps: 0)) }
  }

  /// An epoch schedule needs the steps per epoch (fit sets them); a closure's negative or
  /// NaN rate is refused at the step, which then changes nothing.
  @Test("a step refuses an epoch schedule without steps per epoch and a bad scheduled rate")
  func scheduleErrors() throws {
    let model = try resumeNetwork(Double.self, seed: 1)
    _ = try model.forward(seededMatrix(4, 2, seed: 1))
    _ = try model.backward(seededMatrix(4, 1, seed: 2))
    let before = parameterBits(model)
    let epochs = try Adam<Double>(schedule: .stepDecay(everyEpochs: 1, factor: 0.5))
    #expect(throws: BumpKitError.self) { try epochs.step(model.parameters) }
    epochs.stepsPerEpoch = 3
    #expect(throws: Never.self) { try epochs.step(model.parameters) }
    let after = parameterBits(model)
    #expect(after != before)
    let bad = try SGD<Double>(schedule: .custom { _, _ in -1 })
    #expect(throws: BumpKitError.self) { try bad.step(model.parameters) }
    #expect(bad.iterations == 0)
    #expect(parameterBits(model) == after)
  }

  /// AdamW is Adam's decoupled form: the same class, its own kind, snapshots that restore
  /// into the same kind only.
  @Test("AdamW is Adam's decoupled form; snapshots restore into their own kind")
  func adamFamily() throws {
    let adamW = try AdamW<Float>()
    let plainAdam: Adam<Float> = adamW
    #expect(plainAdam.kind == "adamw")
    #expect(try Adam<Float>().kind == "adam")
    #expect(adamW.weightDecay == 0.01)
    let model = try resumeNetwork(Float.self, seed: 3)
    let snapshot = adamW.snapshot(for: model.parameters)
    #expect(snapshot.slotNames == ["m", "v"])
    #expect(snapshot.states.allSatisfy { $0 == nil })
    #expect(throws: BumpKitError.self) { try Adam<Float>().restore(snapshot, for: model.parameters) }
    var shorter = snapshot
    shorter.states.removeLast()
    #expect(throws: BumpKitError.self) { try AdamW<Float>().restore(shorter, for: model.parameters) }
  }

  /// A resumed run estimates the time left from its own epochs: after epoch e of N, resumed
  /// after k, remaining = elapsed · ((N − k)/(e + 1 − k) − 1) — not from all N epochs, which
  /// made the estimate far too small.
  @Test func aResumedRunEstimatesTheTimeLeftFromItsOwnEpochs() throws {
    let x = seededMatrix(80, 2, seed: 11, as: Float.self)
    var y = Matrix<Float>(validRows: 80, columns: 1)
    for i in 0..<80 { y[i, 0] = Float(sin(3 * Double(x[i, 0])) * Double(x[i, 1])) }
    let (epochs, k) = (10, 4)
    let model = try resumeNetwork(Float.self, seed: 5)
    let optimizer = try Adam<Float>(learningRate: 0.01)
    var saved: [UInt8] = []
    try model.fit(
      x: x, y: y, loss: MeanSquaredError<Float>(), optimizer: optimizer, epochs: epochs, batchSize: 12, seed: 3,
      onEpochEnd: { end in
        guard end.epoch + 1 == k else { return .continue }
        saved = try Checkpoint.encode(end.model, optimizer: optimizer, training: end.state).encode()
        return .stop
      })
    let fresh = try Adam<Float>(learningRate: 0.01)
    let (resumed, _, state) = try Checkpoint.loadForResuming(Float.self, file: SafetensorsFile.decode(saved), optimizer: fresh)
    var reports: [TrainingProgress] = []
    try resumed.fit(
      x: x, y: y, loss: MeanSquaredError<Float>(), optimizer: fresh, epochs: epochs, batchSize: 12, seed: 3,
      resumingFrom: state, progress: { if $0.event == .epoch { reports.append($0) } })
    #expect(reports.map(\.epoch) == Array(k..<epochs))
    for p in reports where p.elapsed > 0 {
      let expected = p.elapsed * (Double(epochs - k) / Double(p.epoch + 1 - k) - 1)
      #expect(abs(p.remaining - expected) <= 1e-9 * max(1, expected), "epoch \(p.epoch): \(p.remaining) against \(expected)")
    }
  }
}

