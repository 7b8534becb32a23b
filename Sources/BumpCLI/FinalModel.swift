import ArgumentParser
import BumpKit
import Foundation

/// What `bump train` ends with once early stopping has picked the epoch budget
/// (`--final-model`).
enum FinalModelChoice: String, CaseIterable, Codable, ExpressibleByArgument, Sendable {
  /// The mean of the early-stopped model and the refits (`--refits`) on all non-test rows
  /// for the early-stopping epoch count: outputs averaged for regression, class
  /// probabilities for classification.
  case ensemble
  /// The refits alone: models trained anew on all non-test rows (training and validation
  /// parts) for the early-stopping epoch count, averaged when they are more than one.
  case refit
  /// The weights of the best validation epoch, as early stopping restored them.
  case earlyStopped = "early-stopped"

  /// What the summary and `bump inspect` call it.
  var displayName: String {
    switch self {
    case .ensemble: return "ensemble of the early-stopped model and refits on all rows"
    case .refit: return "refits on all rows"
    case .earlyStopped: return "early-stopped model"
    }
  }
}

/// How the final model of a run came to be, stored as JSON in the checkpoint's `final_model`
/// metadata entry (snake_case keys) when it is not the early-stopped model alone.
struct FinalModelRecord: Codable, Equatable, Sendable {
  /// `ensemble` or `refit`.
  var choice: FinalModelChoice
  /// The epoch whose weights early stopping kept (1-based), or the epochs trained without
  /// early stopping: the budget of the refit.
  var earlyStoppingEpoch: Int
  /// The epochs of the refit (equal to ``earlyStoppingEpoch``).
  var refitEpochs: Int
  /// The rows the refit trained on: the training and validation parts.
  var refitRows: Int
  /// The models whose outputs are combined: for an ensemble the refits (`--refits`) and the
  /// early-stopped model, in the order the first refit, the early-stopped model, the further
  /// refits; for a refit the refits.
  var members: Int
  /// Whether early stopping picked the budget: false for a run without it (`--patience 0`),
  /// whose budget is the epochs trained and whose "early-stopped" model is the last epoch's;
  /// nil (read as true) in checkpoints written before it was recorded.
  var earlyStopping: Bool? = nil

  /// The refits among the ``members``.
  var refits: Int { choice == .ensemble ? members - 1 : members }

  /// What the model trained with a validation part is called: the early-stopped model, or
  /// without early stopping the model of the last epoch.
  var trainedModelName: String { Self.trainedModelName(earlyStopping: earlyStopping != false) }

  /// The name of ``trainedModelName`` for a run with or without early stopping.
  static func trainedModelName(earlyStopping: Bool) -> String {
    earlyStopping ? "early-stopped model" : "model of the last epoch"
  }

  /// What ends training before the refits: early stopping, or without it (`--patience 0`)
  /// the last epoch ("after training").
  static func trainingEnd(earlyStopping: Bool) -> String { earlyStopping ? "early stopping" : "training" }

  /// Where the refits' epoch budget came from, in parentheses after it.
  static func budgetSource(earlyStopping: Bool) -> String {
    earlyStopping ? "(the early-stopping epoch)" : "(the epochs trained, without early stopping)"
  }

  /// One sentence for the summary and `bump inspect`.
  var description: String {
    let refit =
      (refits == 1 ? "a refit" : "\(refits) refits (from different initial weights)")
      + " on all \(refitRows) training and validation rows for \(refitEpochs) epochs"
    switch choice {
    case .ensemble:
      return "the mean of the \(trainedModelName) (epoch \(earlyStoppingEpoch)) and \(refit)"
    case .refit, .earlyStopped:
      return (refits == 1 ? "" : "the mean of ") + "\(refit) \(Self.budgetSource(earlyStopping: earlyStopping != false))"
    }
  }
}

/// The models a checkpoint holds and how their outputs combine: one model, or an ensemble
/// (``Checkpoint/loadEnsemble(_:from:)``) whose outputs are averaged for regression and whose
/// class probabilities are averaged for classification, given back as log-probabilities so
/// that everything that reads logits (softmax, the losses, the predicted class) sees the
/// ensemble's probabilities.
struct ModelEnsemble<Element: MatrixScalar> {
  let members: [Sequential<Element>]
  let loss: LossChoice

  init(_ members: [Sequential<Element>], loss: LossChoice) {
    precondition(!members.isEmpty)
    self.members = members
    self.loss = loss
  }

  /// The first model: the only one, or the refit of an ensemble.
  var first: Sequential<Element> { members[0] }
  var inputSize: Int { first.inputSize }
  var outputSize: Int { first.outputSize }
  var isEnsemble: Bool { members.count > 1 }

  /// The combined outputs for `x`, `batchSize` rows a step; one model's own outputs unchanged.
  func predict(_ x: Matrix<Element>, batchSize: Int = 1024) throws -> Matrix<Element> {
    if members.count == 1 { return try first.predict(x, batchSize: batchSize) }
    return try Self.combine(members.map { try $0.predict(x, batchSize: batchSize) }, loss: loss)
  }

  /// The combination of the members' outputs for the same rows: their mean for regression
  /// (mse); for classification the logarithm of the mean of their probabilities (softmax:
  /// per class; bce: the log-odds of the mean probability), computed in log space.
  static func combine(_ outputs: [Matrix<Element>], loss: LossChoice) throws -> Matrix<Element> {
    guard let first = outputs.first else { throw BumpKitError.invalidArgument(name: "outputs", value: "[]", reason: "none") }
    if outputs.count == 1 { return first }
    for o in outputs where o.rows != first.rows || o.columns != first.columns {
      throw BumpKitError.shapeMismatch(
        operation: "combining ensemble outputs", expected: MatrixShape(rows: first.rows, columns: first.columns),
        actual: MatrixShape(rows: o.rows, columns: o.columns))
    }
    let rows = first.rows, columns = first.columns, m = Double(outputs.count)
    var result = try Matrix<Element>(rows: rows, columns: columns)
    let values = outputs.map { $0.elements }
    result.withUnsafeMutableBufferPointer { r in
      switch loss {
      case .mse:
        for i in 0..<(rows * columns) {
          var sum = 0.0
          for v in values { sum += Double(v[i]) }
          r[i] = Element(sum / m)
        }
      case .bce:
        // log σ(z) = −softplus(−z), log(1 − σ(z)) = −softplus(z); the log of the mean
        // probability is a log-sum-exp of the members' logs.
        for i in 0..<(rows * columns) {
          let z = values.map { Double($0[i]) }
          let logP = logMeanExp(z.map { -softplus(-$0) })
          let logQ = logMeanExp(z.map { -softplus($0) })
          r[i] = Element(logP - logQ)
        }
      case .softmax:
        for row in 0..<rows {
          let start = row * columns
          let logs = values.map { v -> [Double] in
            let z = (0..<columns).map { Double(v[start + $0]) }
            let top = z.max() ?? 0
            let total = top + Foundation.log(z.reduce(0) { $0 + Foundation.exp($1 - top) })
            return z.map { $0 - total }
          }
          for j in 0..<columns { r[start + j] = Element(logMeanExp(logs.map { $0[j] })) }
        }
      }
    }
    return result
  }

  /// log((1/n) Σ exp(aᵢ)), stable for large |aᵢ|.
  private static func logMeanExp(_ a: [Double]) -> Double {
    let top = a.max() ?? 0
    guard top.isFinite else { return top }
    return top + Foundation.log(a.reduce(0) { $0 + Foundation.exp($1 - top) } / Double(a.count))
  }

  /// log(1 + exp(x)), stable for large |x|.
  private static func softplus(_ x: Double) -> Double {
    x > 0 ? x + Foundation.log1p(Foundation.exp(-x)) : Foundation.log1p(Foundation.exp(x))
  }
}
