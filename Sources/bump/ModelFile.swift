import BumpKit
import Foundation

/// Opening a checkpoint written by `bump train` in the precision it was saved in.
enum ModelFile {
  /// The precision stored in the checkpoint at `path`.
  ///
  /// - Throws: ``SafetensorsError`` for a malformed file, ``CheckpointError`` for a file that
  ///   is not a BumpKit checkpoint.
  static func precision(at path: String) throws -> Precision {
    let summary: Checkpoint.Summary
    do {
      summary = try Checkpoint.summary(at: path)
    } catch let error as CheckpointError {
      throw error
    } catch {
      // A malformed file: say which file, unless the message already does.
      let text = "\(error)"
      if text.contains(path) { throw error }
      throw CLIError.invalidCheckpoint(path: path, reason: text)
    }
    guard let precision = Precision(rawValue: summary.precision) else {
      throw CLIError.invalidCheckpoint(path: path, reason: "unknown precision \(summary.precision)")
    }
    return precision
  }

  /// The model at `path` and its `bump train` metadata.
  static func load<Element: Scalar>(_: Element.Type, from path: String) throws -> (
    Sequential<Element>, ModelInfo
  ) {
    let (model, metadata) = try Checkpoint.load(Element.self, from: path)
    let info = try ModelInfo(metadata: metadata, source: path)
    guard info.featureNames.count == model.inputFeatures else {
      throw CLIError.invalidCheckpoint(
        path: path,
        reason:
          "\(info.featureNames.count) feature names for a model with \(model.inputFeatures) inputs")
    }
    let expected = ModelFactory.outputs(task: info.task, targetColumns: 1, loss: info.loss)
    guard model.outputFeatures == expected else {
      throw CLIError.invalidCheckpoint(
        path: path,
        reason:
          "the model has \(model.outputFeatures) outputs, but \(info.loss.rawValue) on \(info.task) needs \(expected)"
      )
    }
    if let scaling = info.targetStandardization, scaling.features != model.outputFeatures {
      throw CLIError.invalidCheckpoint(
        path: path,
        reason:
          "the target standardization has \(scaling.features) columns, the model \(model.outputFeatures) outputs"
      )
    }
    return (model, info)
  }

  /// The model's inputs from the CSV file at `path`: the columns named by the checkpoint, in
  /// the model's order, standardised as in training.
  static func inputs<Element: Scalar>(_: Element.Type, path: String, info: ModelInfo) throws
    -> Matrix<Element>
  {
    let x = try Dataset<Element>.loadCSVFeatures(path: path, expectedFeatures: info.featureNames).x
    return try info.standardization.map { try $0.apply(to: x) } ?? x
  }
}

/// CSV text in the format of ``CSVFile``: fields quoted only when needed (RFC 4180).
enum CSVText {
  static func line(_ fields: [String]) -> String {
    fields.map(quoted).joined(separator: ",") + "\n"
  }

  static func quoted(_ field: String) -> String {
    let needs =
      field.isEmpty
      || field.contains(where: {
        $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n"
      })
      || field.first == " " || field.first == "\t" || field.last == " " || field.last == "\t"
    guard needs else { return field }
    return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }
}
