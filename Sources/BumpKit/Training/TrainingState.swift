/// Where a training run stands after a number of epochs, apart from the model's parameters
/// and the optimizer's state: what
/// ``Sequential/fit(x:y:loss:optimizer:epochs:batchSize:shuffle:seed:validation:earlyStopping:metrics:resumingFrom:progress:onEpochEnd:)``
/// needs to continue an interrupted run to the same bits as a run never interrupted.
///
/// `fit` hands one to its epoch-end hook (``EpochEnd/state``) and continues from one given as
/// `resumingFrom`. Together with the model and the optimizer's ``OptimizerSnapshot`` it
/// makes a resumable checkpoint (``Checkpoint/save(_:to:metadata:optimizer:training:)``).
/// The shuffling needs no state of its own: `fit` replays the seeded shuffles of the
/// completed epochs, which costs one pass over the row indices per epoch.
///
/// ```swift
/// let optimizer = try Adam<Float>(learningRate: 1e-2)
/// try model.fit(
///   x: x, y: y, loss: MeanSquaredError(), optimizer: optimizer, epochs: 100,
///   onEpochEnd: { end in
///     try Checkpoint.save(end.model, to: "model.safetensors", optimizer: optimizer, training: end.state)
///     return .continue
///   })
/// // Later, in a new process:
/// let fresh = try Adam<Float>(learningRate: 1e-2)
/// let (model, _, state) = try Checkpoint.loadForResuming(Float.self, from: "model.safetensors", optimizer: fresh)
/// try model.fit(x: x, y: y, loss: MeanSquaredError(), optimizer: fresh, epochs: 100, resumingFrom: state)
/// ```
public struct TrainingState<Element: MatrixScalar>: Sendable {
  /// The number of epochs completed; the resumed run starts with epoch `epochsCompleted`
  /// (0-based).
  public var epochsCompleted: Int
  /// The history of the completed epochs; the resumed run appends to it.
  public var history: History
  /// The best monitored loss so far (validation loss with validation data, else training
  /// loss), or +∞ before any epoch counted as an improvement.
  public var bestLoss: Double
  /// The epoch (0-based) of ``bestLoss``, or -1.
  public var bestEpoch: Int
  /// Epochs since the last improvement, counted against the patience.
  public var epochsWithoutImprovement: Int
  /// The parameter values of the best epoch, one per parameter of the model in order, when
  /// early stopping restores the best weights; empty otherwise.
  public var bestWeights: [Matrix<Element>]
  /// The run this state belongs to, as `fit` saw it: the seed, whether it shuffled, the
  /// number of training rows and the batch size. A resumed `fit` refuses other values.
  public var run: TrainingRunIdentity

  /// The state of a run of identity `run` before its first epoch.
  public init(run: TrainingRunIdentity) {
    self.init(
      epochsCompleted: 0, history: History(), bestLoss: .infinity, bestEpoch: -1,
      epochsWithoutImprovement: 0, bestWeights: [], run: run)
  }

  /// A state from its parts.
  public init(
    epochsCompleted: Int, history: History, bestLoss: Double, bestEpoch: Int,
    epochsWithoutImprovement: Int, bestWeights: [Matrix<Element>], run: TrainingRunIdentity
  ) {
    self.epochsCompleted = epochsCompleted
    self.history = history
    self.bestLoss = bestLoss
    self.bestEpoch = bestEpoch
    self.epochsWithoutImprovement = epochsWithoutImprovement
    self.bestWeights = bestWeights
    self.run = run
  }

  /// Checks the state against the run `fit` is asked to continue.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` naming what differs.
  func check(against run: TrainingRunIdentity, parameters: [Parameter<Element>]) throws {
    func refuse(_ what: String, _ stored: String, _ given: String) -> BumpKitError {
      BumpKitError.invalidArgument(
        name: "resumingFrom", value: "\(what) \(stored)",
        reason: "the run being resumed had \(what) \(stored), this one has \(given); a resumed run must train on the same rows with the same settings")
    }
    if run.seed != self.run.seed { throw refuse("seed", "\(self.run.seed)", "\(run.seed)") }
    if run.shuffle != self.run.shuffle { throw refuse("shuffle", "\(self.run.shuffle)", "\(run.shuffle)") }
    if run.trainingRows != self.run.trainingRows {
      throw refuse("training rows", "\(self.run.trainingRows)", "\(run.trainingRows)")
    }
    if run.batchSize != self.run.batchSize { throw refuse("batch size", "\(self.run.batchSize)", "\(run.batchSize)") }
    // Each inconsistency is named for what it is.
    func inconsistent(_ value: String, _ reason: String) -> BumpKitError {
      BumpKitError.invalidArgument(name: "resumingFrom", value: value, reason: "the state is inconsistent: \(reason)")
    }
    guard epochsCompleted >= 0, epochsCompleted == history.epochs else {
      throw inconsistent(
        "\(epochsCompleted) epochs completed, history of \(history.epochs)", "the history must hold one entry per completed epoch")
    }
    guard bestEpoch >= -1, bestEpoch < epochsCompleted else {
      throw inconsistent(
        "best epoch \(bestEpoch)", "it must be an epoch completed (0 to \(epochsCompleted - 1)) or -1 for none")
    }
    guard epochsWithoutImprovement >= 0, epochsWithoutImprovement <= epochsCompleted else {
      throw inconsistent(
        "\(epochsWithoutImprovement) epochs without improvement",
        "it must be from 0 to the \(epochsCompleted) epochs completed")
    }
    // A NaN best loss would make every later epoch no improvement (early stopping would
    // then restore the wrong weights); +∞ means no epoch counted yet. (−∞ can be a custom
    // loss's value at its best epoch.)
    guard bestEpoch >= 0 ? !bestLoss.isNaN && bestLoss != .infinity : bestLoss == .infinity else {
      throw inconsistent(
        "best loss \(bestLoss)",
        bestEpoch >= 0
          ? "the loss of best epoch \(bestEpoch) must be a number below +infinity"
          : "with no best epoch (-1) the best loss must be +infinity")
    }
    guard bestWeights.isEmpty || bestWeights.count == parameters.count else {
      throw BumpKitError.invalidArgument(
        name: "resumingFrom", value: "\(bestWeights.count) best weights",
        reason: "the model has \(parameters.count) parameters")
    }
    for (p, w) in zip(parameters, bestWeights) where w.rows != p.value.rows || w.columns != p.value.columns {
      throw BumpKitError.shapeMismatch(
        operation: "resumingFrom: best weights of \(p.name)", expected: MatrixShape(of: p.value), actual: MatrixShape(of: w))
    }
  }
}

/// What a resumed training run must share with the run it continues: the settings of
/// ``Sequential/fit(x:y:loss:optimizer:epochs:batchSize:shuffle:seed:validation:earlyStopping:metrics:resumingFrom:progress:onEpochEnd:)``
/// that decide which rows each step sees.
public struct TrainingRunIdentity: Sendable, Equatable, Codable {
  /// The shuffling seed.
  public var seed: UInt64
  /// Whether rows were shuffled.
  public var shuffle: Bool
  /// The number of training rows (after a validation split).
  public var trainingRows: Int
  /// The batch size asked for.
  public var batchSize: Int

  /// A run identity from its parts.
  public init(seed: UInt64, shuffle: Bool, trainingRows: Int, batchSize: Int) {
    self.seed = seed
    self.shuffle = shuffle
    self.trainingRows = trainingRows
    self.batchSize = batchSize
  }

  enum CodingKeys: String, CodingKey {
    case seed, shuffle
    case trainingRows = "training_rows"
    case batchSize = "batch_size"
  }
}

