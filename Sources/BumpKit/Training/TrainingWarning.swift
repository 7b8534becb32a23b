/// A sign, found at the end of
/// ``Sequential/fit(x:y:loss:optimizer:epochs:batchSize:shuffle:seed:validation:earlyStopping:metrics:resumingFrom:progress:onEpochEnd:)``,
/// that the trained model learned little or nothing, although training ran without an error.
///
/// `fit` puts them in ``History/warnings``; it prints nothing. They describe the weights `fit`
/// leaves the model with, on the training rows: for a model with bump layers, from one pass
/// over them (which counts the dead units and gives the loss; over at most
/// ``TrainingWarning/sampleRows`` rows evenly spaced, so that it stays a small part of a
/// large training run); otherwise from the mean training loss of the epoch those weights
/// come from (``History/loss``). The usual
/// cause of both is unscaled inputs: features in the hundreds fall outside every bump's
/// support, the units output 0 and get no gradient, and the model predicts a constant.
/// Standardize the inputs (``Standardization``, fitted on the training part) before training.
///
/// ```swift
/// let history = try model.fit(x: x, y: y, loss: MeanSquaredError<Float>(), optimizer: adam, epochs: 100)
/// for warning in history.warnings { print("warning:", warning) }
/// ```
public enum TrainingWarning: Sendable, Equatable, CustomStringConvertible {
  /// More than half of the units of the bump layer at `layer` (its index in the model) are
  /// dead: no training row puts the unit's input strictly inside its support, so the unit
  /// outputs 0 for all of them and learns nothing (see ``BumpLayerStatistics``).
  case deadBumpUnits(layer: Int, dead: Int, units: Int)
  /// The model's loss on the training rows, `loss`, is no better than `constantLoss`, the
  /// loss of the best constant predictor (the one that ignores the inputs): it is more than
  /// ``TrainingWarning/constantPredictorMargin`` of `constantLoss`. Given for the built-in
  /// losses: ``MeanSquaredError`` (the constant is the targets' column means, as in
  /// ``Baseline/meanPredictorMSE(trainingTargets:targets:)``),
  /// ``BinaryCrossEntropyWithLogits`` (each column's rate of 1s) and ``SoftmaxCrossEntropy``
  /// (the classes' frequencies).
  case noBetterThanConstant(loss: Double, constantLoss: Double, lossName: String)

  /// The fraction of the constant predictor's loss above which a model's loss counts as no
  /// better than it: 0.99, so a model must lower the loss by more than 1 %.
  public static let constantPredictorMargin = 0.99

  /// The most training rows the end-of-training pass looks at: 65,536, every k-th row of a
  /// larger training part (k the smallest step that keeps them within the limit). A unit
  /// alive on fewer rows than that sample can see is as good as dead for the warning.
  public static let sampleRows = 1 << 16

  /// What the warning means and what to try.
  public var description: String {
    switch self {
    case .deadBumpUnits(let layer, let dead, let units):
      return "layer \(layer): \(dead) of \(units) bump units are dead (no training input inside their support); "
        + "standardize the inputs (Standardization) or start with a wider σ"
    case .noBetterThanConstant(let loss, let constantLoss, let lossName):
      return "the training \(lossName) \(loss) is no better than the \(constantLoss) of a constant predictor "
        + "(which ignores the inputs): the model learned nothing from them; standardize the inputs (Standardization), "
        + "train longer or check the learning rate"
    }
  }
}

extension Sequential {
  /// The warnings of ``TrainingWarning`` for the model as it is: with bump layers, from one
  /// pass over `x` (the training inputs) and `y` (or every k-th row of them, at most
  /// ``TrainingWarning/sampleRows``) in batches of `batchSize` rows; without, from
  /// the training loss `history` holds for the weights the model has.
  func trainingWarnings<L: Loss>(
    x: Matrix<Element>, y: Matrix<Element>, loss: L, history: History, batchSize: Int
  ) throws -> [TrainingWarning] where L.Element == Element {
    var accumulator = BumpLayerStatistics.Accumulator(model: self)
    guard accumulator.hasBumpLayers else {
      return try constantWarning(
        finalLoss: history.loss[history.restoredEpoch ?? history.epochs - 1], y: y, loss: loss
      ).map { [$0] } ?? []
    }
    // Every `step`-th row, at most `sampleRows` of them.
    let step = (x.rows + TrainingWarning.sampleRows - 1) / TrainingWarning.sampleRows
    let sample = Array(Swift.stride(from: 0, to: x.rows, by: max(step, 1)))
    let (x, y) = step > 1 ? (try x.rows(at: sample), try y.rows(at: sample)) : (x, y)
    var total = 0.0
    var batches = try RowBatches<Element>(rows: x.rows, batchSize: batchSize)
    try batches.forEach(x, y, releasing: self) { _, positions, bx, by in
      let p = try accumulator.forward(bx)
      total += try loss.loss(predicted: p, target: by) * Double(positions.count)
    }
    var warnings: [TrainingWarning] = []
    for layer in accumulator.statistics where 2 * layer.deadUnits > layer.units {
      warnings.append(.deadBumpUnits(layer: layer.layerIndex, dead: layer.deadUnits, units: layer.units))
    }
    if let warning = try constantWarning(finalLoss: total / Double(x.rows), y: y, loss: loss) {
      warnings.append(warning)
    }
    return warnings
  }

  /// ``TrainingWarning/noBetterThanConstant(loss:constantLoss:lossName:)`` if `finalLoss` is
  /// no better than the constant predictor's loss on `y`.
  private func constantWarning<L: Loss>(finalLoss: Double, y: Matrix<Element>, loss: L) throws -> TrainingWarning?
  where L.Element == Element {
    guard let constant = try Baseline.constantPredictorLoss(loss, targets: y),
      constant > 0, finalLoss.isFinite, finalLoss > TrainingWarning.constantPredictorMargin * constant
    else { return nil }
    return .noBetterThanConstant(loss: finalLoss, constantLoss: constant, lossName: loss.name)
  }
}
