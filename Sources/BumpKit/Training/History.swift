/// What ``Sequential/fit(x:y:loss:optimizer:epochs:batchSize:shuffle:seed:validation:earlyStopping:metrics:resumingFrom:progress:onEpochEnd:)``
/// recorded, one entry per completed epoch.
public struct History: Sendable, Equatable {
  /// Mean training loss of each epoch (over its samples).
  public var loss: [Double] = []
  /// Validation loss after each epoch, when validation data was given.
  public var validationLoss: [Double] = []
  /// Training accuracy per epoch, when ``Metric/accuracy`` was asked for.
  public var accuracy: [Double] = []
  /// Validation accuracy per epoch, when asked for and validation data was given.
  public var validationAccuracy: [Double] = []
  /// Training throughput of each epoch, samples per second.
  public var samplesPerSecond: [Double] = []
  /// The epoch (0-based) whose weights the model holds at the end, when early stopping
  /// restored the best ones.
  public var restoredEpoch: Int?
  /// Whether early stopping ended training before the last epoch.
  public var stoppedEarly = false
  /// Signs that the trained model learned little (most units of a bump layer dead, or a loss
  /// no better than a constant predictor's), from one pass over the training rows once
  /// training ends; empty for a healthy model. See ``TrainingWarning``. Not stored in
  /// checkpoints: a resumed `fit` finds them again when it ends.
  public var warnings: [TrainingWarning] = []

  /// An empty history.
  public init() {}

  /// The number of completed epochs.
  public var epochs: Int { loss.count }
}

/// Extra quantities to compute per epoch.
public enum Metric: Sendable, Equatable {
  /// Classification accuracy: the arg-max of the outputs against an integer label (several
  /// outputs), or the sign of a single logit against a target in [0, 1] (class 1 above 0.5).
  /// `fit` refuses other targets (see ``Sequential/accuracy(x:y:batchSize:)``).
  case accuracy
}

/// Held-out data for validation loss: a fraction split off the end of the training data
/// (before shuffling, as Keras does), or separate matrices.
public enum Validation<Element: MatrixScalar> {
  /// The last `fraction` (0 < fraction < 1) of the rows.
  case split(Double)
  /// Separate inputs and targets.
  case data(x: Matrix<Element>, y: Matrix<Element>)
}

/// Stops training when the monitored loss (validation loss if there is validation data,
/// else training loss) has not improved by more than `minDelta` for `patience` epochs.
public struct EarlyStopping: Sendable, Equatable {
  /// Epochs without improvement before stopping (≥ 1).
  public var patience: Int
  /// The smallest decrease that counts as an improvement (finite and ≥ 0; `fit` refuses
  /// other values).
  public var minDelta: Double
  /// Whether to put back the weights of the best epoch when training ends.
  public var restoreBestWeights: Bool

  /// Early stopping with the given patience.
  public init(patience: Int, minDelta: Double = 0, restoreBestWeights: Bool = true) {
    self.patience = patience
    self.minDelta = minDelta
    self.restoreBestWeights = restoreBestWeights
  }
}

/// What the epoch-end hook of
/// ``Sequential/fit(x:y:loss:optimizer:epochs:batchSize:shuffle:seed:validation:earlyStopping:metrics:resumingFrom:progress:onEpochEnd:)``
/// tells training to do next.
public enum TrainingControl: Sendable, Equatable {
  /// Go on with the next epoch (unless early stopping or the epoch budget ends training).
  case `continue`
  /// End training after this epoch.
  case stop
}

/// The end of one training epoch, as the epoch-end hook of
/// ``Sequential/fit(x:y:loss:optimizer:epochs:batchSize:shuffle:seed:validation:earlyStopping:metrics:resumingFrom:progress:onEpochEnd:)``
/// sees it.
public struct EpochEnd<Element: MatrixScalar> {
  /// The epoch that ended, 0-based.
  public let epoch: Int
  /// The number of epochs asked for.
  public let epochs: Int
  /// Every epoch so far, this one included (its validation loss too, when there is
  /// validation data).
  public let history: History
  /// The model being trained, holding the weights at the end of this epoch.
  public let model: Sequential<Element>
  /// The training loop's state after this epoch (early stopping has taken it in): with the
  /// model and the optimizer's state, what a resumed run continues from (see
  /// ``Checkpoint/save(_:to:metadata:optimizer:training:)``).
  public let state: TrainingState<Element>
}

/// Where training is, passed to the progress callback after every batch and every epoch.
public struct TrainingProgress: Sendable {
  /// `.batch` after each batch, `.epoch` once an epoch (with validation) is done.
  public enum Event: Sendable { case batch, epoch }
  /// Which event this is.
  public var event: Event
  /// The epoch, 0-based, and the number of epochs asked for.
  public var epoch: Int, epochs: Int
  /// The batch within the epoch, 0-based, and the number of batches per epoch.
  public var batch: Int, batches: Int
  /// The mean training loss so far in this epoch.
  public var loss: Double
  /// The validation loss, on `.epoch` events with validation data.
  public var validationLoss: Double?
  /// Samples per second so far in this epoch.
  public var samplesPerSecond: Double
  /// Seconds since training started, and an estimate of the seconds left.
  public var elapsed: Double, remaining: Double
}
