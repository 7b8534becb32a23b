import Foundation

/// The errors of BumpKit's own values: shapes, arguments, parameters, data values and state,
/// from matrices, layers, models, data sets and training alike. Each message names what was
/// wrong, where, and the values involved.
///
/// Reading files has errors of its own: ``DataError`` (CSV files), ``SafetensorsError`` (the
/// file format) and ``CheckpointError`` (a file that is not the model it claims to be);
/// LAPACK failures are ``LinearAlgebraError``.
public enum BumpKitError: Error, Equatable, Sendable, CustomStringConvertible {
  /// An operand of `operation` had the wrong shape.
  case shapeMismatch(operation: String, expected: MatrixShape, actual: MatrixShape)
  /// A batch with no rows (or a dataset with no samples).
  case emptyBatch(operation: String)
  /// An argument outside its domain, e.g. a negative learning rate.
  case invalidArgument(name: String, value: String, reason: String)
  /// A non-finite value in data, found at `row` (0-based) and `column`.
  case nonFiniteData(what: String, row: Int, column: Int, value: String)
  /// A class label that is not one of the classes 0, 1, …, `classes` − 1.
  case labelOutOfRange(row: Int, label: String, classes: Int)
  /// A parameter holds a value the layer cannot use (e.g. σ < 0 or NaN).
  case invalidParameter(layer: String, parameter: String, index: Int, value: String, reason: String)
  /// The loss became NaN or infinite; the weights from before that step are kept.
  case nonFiniteLoss(epoch: Int, batch: Int, value: String)
  /// `operation` was called in a state that does not allow it, e.g. a layer's `backward`
  /// before any `forward`; `reason` says what is missing.
  case invalidState(operation: String, reason: String)
  /// Training diverged: the mean training loss of `epoch` (0-based), `loss`, exceeded
  /// `factor` times `reference`, the larger of the starting loss (of the first batch, before
  /// any step) and a constant predictor's (see
  /// ``Sequential/fit(x:y:loss:optimizer:epochs:batchSize:shuffle:seed:validation:earlyStopping:metrics:resumingFrom:progress:onEpochEnd:)``);
  /// the model holds the weights of the end of that epoch. A lower learning rate usually cures
  /// it. (An epoch at which early stopping ends training and restores better weights ends
  /// training without this error.)
  case diverged(epoch: Int, loss: Double, reference: Double, factor: Double)

  public var description: String {
    switch self {
    case .shapeMismatch(let op, let expected, let actual):
      return "\(op): shape mismatch, expected \(expected), got \(actual)"
    case .emptyBatch(let op):
      return "\(op): the batch is empty (0 rows)"
    case .invalidArgument(let name, let value, let reason):
      return "invalid \(name) \(value): \(reason)"
    case .nonFiniteData(let what, let row, let column, let value):
      return "\(what) has a non-finite value \(value) at row \(row), column \(column)"
    case .labelOutOfRange(let row, let label, let classes):
      return "label \(label) at row \(row) is not a class: "
        + (classes > 0 ? "the classes are 0 to \(classes - 1)" : "there are no classes (\(classes))")
    case .invalidParameter(let layer, let parameter, let index, let value, let reason):
      return "\(layer): \(parameter)[\(index)] = \(value) \(reason)"
    case .nonFiniteLoss(let epoch, let batch, let value):
      return "training stopped: the loss became \(value) at epoch \(epoch), batch \(batch); the weights from before that step were kept"
    case .invalidState(let operation, let reason):
      return "\(operation): \(reason)"
    case .diverged(let epoch, let loss, let reference, let factor):
      return "training stopped: the loss diverged at epoch \(epoch): its training loss \(loss) is more than \(factor == factor.rounded() && abs(factor) < 1e15 ? String(Int(factor)) : String(factor))× "
        + "\(reference), the larger of the starting loss and a constant predictor's; lower the learning rate"
    }
  }
}


// MARK: - Readable descriptions

// `localizedDescription` of an error that is not a `LocalizedError` is Foundation's generic
// "The operation could not be completed. (BumpKit.BumpKitError error 2.)". Every BumpKit
// error describes itself, naming the operation and the values involved; these conformances
// make `localizedDescription` say the same.

extension BumpKitError: LocalizedError {
  /// The same text as ``description``.
  public var errorDescription: String? { description }
}

extension LinearAlgebraError: LocalizedError {
  /// The same text as ``description``.
  public var errorDescription: String? { description }
}

extension DataError: LocalizedError {
  /// The same text as ``description``.
  public var errorDescription: String? { description }
}

extension SafetensorsError: LocalizedError {
  /// The same text as ``description``.
  public var errorDescription: String? { description }
}

extension CheckpointError: LocalizedError {
  /// The same text as ``description``.
  public var errorDescription: String? { description }
}
