import ArgumentParser
import BumpKit
import Foundation

/// Opening a checkpoint written by `bump train` in the precision it was saved in.
enum ModelFile {
  /// The precision stored in the checkpoint at `path`.
  ///
  /// - Throws: ``CLIError/invalidCheckpoint(path:reason:)`` for something other than a
  ///   regular file (saying what it is) and for a malformed file, ``SafetensorsError`` when
  ///   the file cannot be read, ``CheckpointError`` for a file that is not a BumpKit
  ///   checkpoint. Each names the file once.
  static func precision(at path: String) throws -> Precision {
    if let problem = notAFile(path) {
      throw CLIError.invalidCheckpoint(path: path, reason: problem)
    }
    let summary: Checkpoint.Summary
    do {
      summary = try Checkpoint.summary(at: path)
    } catch let error as CheckpointError {
      throw error  // names the file: its `source`
    } catch let error as SafetensorsError {
      if case .io = error { throw error }  // names the file it could not read
      throw CLIError.invalidCheckpoint(path: path, reason: "\(error)")
    } catch {
      throw CLIError.invalidCheckpoint(path: path, reason: "\(error)")
    }
    guard let precision = Precision(rawValue: summary.precision) else {
      throw CLIError.invalidCheckpoint(path: path, reason: "unknown precision \(summary.precision)")
    }
    return precision
  }

  /// The model at `path` and its `bump train` metadata.
  static func load<Element: MatrixScalar>(_: Element.Type, from path: String) throws -> (
    Sequential<Element>, ModelInfo
  ) {
    let (model, metadata) = try Checkpoint.load(Element.self, from: path)
    let info = try ModelInfo(metadata: metadata, source: path)
    if let classes = info.task.classes, classes < 2 {
      throw CLIError.invalidCheckpoint(
        path: path, reason: "a classifier with \(classes) class; it needs at least 2")
    }
    guard info.featureNames.count == model.inputSize else {
      throw CLIError.invalidCheckpoint(
        path: path,
        reason:
          "\(info.featureNames.count) feature names for a model with \(model.inputSize) inputs")
    }
    let expected = ModelFactory.outputs(task: info.task, targetColumns: 1, loss: info.loss)
    guard model.outputSize == expected else {
      throw CLIError.invalidCheckpoint(
        path: path,
        reason:
          "the model has \(model.outputSize) outputs, but \(info.loss.rawValue) on \(info.task) needs \(expected)"
      )
    }
    if let scaling = info.targetStandardization, scaling.features != model.outputSize {
      throw CLIError.invalidCheckpoint(
        path: path,
        reason:
          "the target standardization has \(scaling.features) columns, the model \(model.outputSize) outputs"
      )
    }
    return (model, info)
  }

  /// The model's inputs from the CSV file at `path`: the columns named by the checkpoint, in
  /// the model's order, standardised as in training.
  static func inputs<Element: MatrixScalar>(
    _: Element.Type, path: String, info: ModelInfo, ignoring: [String]
  ) throws -> Matrix<Element> {
    let budget = try MemoryBudget.current()
    let x = try readingData(path: path, budget: budget) {
      try Dataset<Element>.loadCSVFeatures(
        path: path, expectedFeatures: info.featureNames, ignoring: ignoring,
        byteLimit: budget.bytes
      ).x
    }
    return try info.standardization.map { try $0.apply(to: x) } ?? x
  }

  /// The model's inputs and targets from the labelled CSV file at `path`, read once: the
  /// model's feature columns (standardised as in training) and its target column, whose
  /// class labels must be the model's classes (an error names the line of one that is not).
  static func labelled<Element: MatrixScalar>(
    _: Element.Type, path: String, info: ModelInfo, ignoring: [String]
  ) throws -> (x: Matrix<Element>, y: Matrix<Element>) {
    let budget = try MemoryBudget.current()
    let classes: CSVClassLabels? =
      switch info.task {
      case .regression: nil
      case .classification(let k): info.classNames.map { .names($0) } ?? .numbers(count: k)
      }
    let data = try readingData(path: path, budget: budget) {
      try Dataset<Element>.loadCSV(
        path: path, target: info.targetName,
        task: info.task.classes == nil ? .regression : .classification,
        features: info.featureNames, ignoring: ignoring, classes: classes,
        byteLimit: budget.bytes)
    }
    return (try info.standardization.map { try $0.apply(to: data.x) } ?? data.x, data.y)
  }

  /// Runs `read`, reporting a file that does not fit in memory as such.
  private static func readingData<R>(path: String, budget: MemoryBudget, _ read: () throws -> R)
    throws -> R
  {
    do {
      return try read()
    } catch DataError.memoryLimitExceeded(let path, let line, let rows, let columns, let bytes, _) {
      throw CLIError.notEnoughMemory(
        needed: nil, limit: budget.bytes, source: budget.source,
        parts: [
          "\(path): \(byteText(bytes)) for \(rows) rows × \(columns) values by line \(line), and more to read"
        ])
    }
  }
}

extension ModelFile {
  /// Checks the `--model` and `--data` of `predict` and `evaluate` before anything is read.
  static func validate(model: String, data: String) throws {
    if model.isEmpty { throw ValidationError("--model is empty; give a checkpoint file") }
    if data.isEmpty {
      throw ValidationError("--data is empty; give a CSV file, or - for standard input")
    }
  }

  /// Whether `a` and `b` are the same existing file (by device and inode, so that `./m` and
  /// a hard link count).
  static func sameFile(_ a: String, _ b: String) -> Bool {
    var sa = stat(), sb = stat()
    guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
  }
}

/// A subcommand that works on one checkpoint, in the precision the checkpoint was saved in.
protocol CheckpointCommand: ParsableCommand {
  /// The checkpoint's path.
  var checkpointPath: String { get }
  /// The command's work, in the checkpoint's precision.
  func run<Element: MatrixScalar>(_: Element.Type) throws
}

extension CheckpointCommand {
  /// Reads the checkpoint's precision and runs ``run(_:)`` in it.
  func run() throws {
    switch try ModelFile.precision(at: checkpointPath) {
    case .float: try run(Float.self)
    case .double: try run(Double.self)
    }
  }
}
