import ArgumentParser
import BumpKit
import Foundation

/// Opening a checkpoint written by `bump train` in the precision it was saved in.
enum ModelFile {
  /// The header of the checkpoint at `path`, read without its tensor data: a file that is
  /// not a BumpKit checkpoint, whose architecture its tensors do not bear out, or whose
  /// tensors would not fit in memory, is refused before its data is read.
  ///
  /// - Throws: ``CLIError/invalidCheckpoint(path:reason:)`` for something other than a
  ///   regular file (saying what it is) and for a malformed file, ``CheckpointError`` for a
  ///   file that is not a usable BumpKit checkpoint,
  ///   ``CLIError/checkpointTooLarge(path:parameters:dataBytes:needed:limit:source:)`` when
  ///   loading it would need more memory than the limit.
  static func header(at path: String) throws -> Checkpoint.Header {
    if let problem = notAFile(path) {
      throw CLIError.invalidCheckpoint(path: path, reason: problem)
    }
    let header = try namingPath(path) { try Checkpoint.header(at: path) }
    // Loading holds the data as read, each tensor's bytes, its values and the parameters.
    // The header has shown that the data is the model's parameters and nothing else.
    let needed = Double(header.dataByteCount) * 4
    let budget = try MemoryBudget.current()
    if needed > Double(budget.bytes) {
      let parameters = header.tensors.reduce(0) { $0 + ($1.shape.contains(0) ? 0 : $1.shape.reduce(1, *)) }
      throw CLIError.checkpointTooLarge(
        path: path, parameters: parameters, dataBytes: header.dataByteCount, needed: needed,
        limit: budget.bytes, source: budget.source)
    }
    return header
  }

  /// Runs `body`, which reads the checkpoint at `path`, so that its errors name the file
  /// once: a ``CheckpointError`` or ``CLIError`` does already, and so does a failed read
  /// (``SafetensorsError/io(operation:path:errno:)``); any other error (a malformed
  /// safetensors file, say) becomes ``CLIError/invalidCheckpoint(path:reason:)``.
  static func namingPath<R>(_ path: String, _ body: () throws -> R) throws -> R {
    do {
      return try body()
    } catch let error as CheckpointError {
      throw error
    } catch let error as CLIError {
      throw error
    } catch let error as SafetensorsError {
      if case .io = error { throw error }  // names the file it could not read
      // The library names the file of a malformed one; the message names it once.
      throw CLIError.invalidCheckpoint(path: path, reason: "\(error.contentError)")
    } catch {
      throw CLIError.invalidCheckpoint(path: path, reason: "\(error)")
    }
  }

  /// The model at `path` and its `bump train` metadata, checked against each other: the
  /// metadata that prediction uses must be usable in `Element` precision.
  ///
  /// An ensemble checkpoint (``Checkpoint/loadEnsemble(_:from:)``, `--final-model ensemble`)
  /// gives all its models, whose outputs ``ModelEnsemble`` combines; its models share one
  /// architecture, so what is checked of the first holds for all.
  static func load<Element: MatrixScalar>(_: Element.Type, from path: String) throws -> (
    ModelEnsemble<Element>, ModelInfo
  ) {
    let (models, metadata) = try namingPath(path) { try Checkpoint.loadEnsemble(Element.self, from: path) }
    let info = try checkedInfo(models: models, metadata: metadata, path: path)
    return (ModelEnsemble(models, loss: info.loss), info)
  }

  /// Whether `metadata` was written by `bump train` (rather than by a program saving a model
  /// with the library): it then must be usable, as ``checkedInfo(models:metadata:path:)`` says.
  static func isFromTraining(_ metadata: [String: String]) -> Bool {
    trainingKeys.contains { metadata[$0] != nil }
  }

  /// Entries that only `bump train` writes: a checkpoint with any of them is one of its.
  private static let trainingKeys = [
    "created_by", "task", "feature_names", "column_plan", "training_config", "target_name", "standardization",
    "target_standardization", "class_names", "final_model", "loss",
  ]

  /// The `bump train` metadata of the checkpoint at `path`, checked against its models (one,
  /// or an ensemble's, which share one architecture): what prediction uses must be usable in
  /// `Element` precision.
  ///
  /// - Throws: the errors of ``ModelInfo/init(metadata:source:inputs:)`` and
  ///   ``CLIError/invalidCheckpoint(path:reason:)`` for metadata the model contradicts.
  static func checkedInfo<Element: MatrixScalar>(
    models: [Sequential<Element>], metadata: [String: String], path: String
  ) throws -> ModelInfo {
    let model = models[0]
    let info = try ModelInfo(metadata: metadata, source: path, inputs: model.inputSize)
    if let classes = info.task.classes, classes < 2 {
      throw CLIError.invalidCheckpoint(
        path: path, reason: "the \"classes\" entry says \(classes); a classifier needs at least 2")
    }
    let expected = ModelFactory.outputs(task: info.task, targetColumns: 1, loss: info.loss)
    guard model.outputSize == expected else {
      throw CLIError.invalidCheckpoint(
        path: path,
        reason:
          "the model has \(model.outputSize) outputs, but \(info.loss.rawValue) on \(info.task) needs \(expected)"
      )
    }
    // Inputs are standardized as (x − μ)/s in `Element`, and predictions mapped back as y·s + μ:
    // a mean or scale beyond its range, or a scale that is 0 there, turns every value of the
    // column infinite (which no data of that precision can have led to).
    if let scaling = info.standardization {
      try checkRange(of: scaling, "the standardization's", Element.self, path: path)
    }
    if let scaling = info.targetStandardization {
      guard scaling.features == model.outputSize else {
        throw CLIError.invalidCheckpoint(
          path: path,
          reason:
            "the \"target_standardization\" entry has \(ModelInfo.count(scaling.features, "column")), the model \(ModelInfo.count(model.outputSize, "output"))"
        )
      }
      try checkRange(of: scaling, "the target standardization's", Element.self, path: path)
    }
    // The record of how the final model came to be counts the models it combines.
    if let record = info.finalModel, record.members != models.count {
      throw CLIError.invalidCheckpoint(
        path: path,
        reason:
          "the \"final_model\" entry says the final model combines \(ModelInfo.count(record.members, "model")), the checkpoint holds \(ModelInfo.count(models.count, "model"))"
      )
    }
    // A calibration belongs to a model with a radial layer: on another one `--coverage` and
    // the abstention columns would be silently without effect.
    if info.support != nil, !model.layers.contains(where: { $0 is RadialBump<Element> }) {
      throw CLIError.invalidCheckpoint(
        path: path,
        reason: "the \"\(SupportCalibration.metadataKey)\" entry calibrates a support score, but the model has no radial layer")
    }
    return info
  }

  /// Throws unless `scaling`'s means and standard deviations are within `Element`'s range and
  /// no standard deviation is 0 in it; `what` names the entry in the message.
  private static func checkRange<Element: MatrixScalar>(
    of scaling: Standardization, _ what: String, _: Element.Type, path: String
  ) throws {
    let largest = Double(Element.greatestFiniteMagnitude)
    for (name, values) in [("mean", scaling.mean), ("standard deviation", scaling.standardDeviation)] {
      if let bad = values.first(where: { abs($0) > largest }) {
        throw CLIError.invalidCheckpoint(
          path: path, reason: "\(what) \(name) \(bad) is beyond the range of \(Element.self), the model's precision")
      }
    }
    if let bad = scaling.standardDeviation.first(where: { Element($0) == 0 }) {
      throw CLIError.invalidCheckpoint(
        path: path, reason: "\(what) standard deviation \(bad) is 0 in \(Element.self), the model's precision")
    }
  }

  /// The rows read, encoded and standardised per batch by ``TableInput``.
  static let readBatch = 4096

  /// A CSV file read for a model in batches of ``readBatch`` rows: the model's feature
  /// columns (and, for `evaluate`, its target column) encoded with the checkpoint's column
  /// plan and standardised as in training, so that memory does not grow with the file.
  struct TableInput<Element: MatrixScalar> {
    let info: ModelInfo
    let plan: ColumnPlan
    let withTarget: Bool
    private var reader: CSVTableReader<Element>
    private let budget: MemoryBudget
    /// What the batches read so far met that deserves a warning.
    private(set) var tally: ColumnPlan.Tally
    /// Data rows read so far.
    private(set) var rowsRead = 0
    /// Rows left out by ``nextLabelled()`` for a missing target, and the first of their
    /// lines (up to `CSVTableReader.lineListLimit`).
    private(set) var missingTargets = 0
    private(set) var missingTargetLines: [Int] = []
    /// Matches a classification target's labels to the model's classes; nil for regression.
    private let matcher: ClassMatcher?
    /// The file's name in messages ("standard input" for `-`).
    var source: String { reader.path }

    /// Opens `path` for the model `info`; with `target`, its target column is read too.
    ///
    /// - Throws: the reader's errors (a missing column names it),
    ///   ``BumpKitError/invalidArgument(name:value:reason:)`` for an ignored feature or target.
    init(path: String, info: ModelInfo, ignoring ignored: [String], target: Bool) throws {
      self.info = info
      plan = info.columnPlan
      withTarget = target
      let ignoredSet = Set(ignored)
      if let feature = plan.features.first(where: { ignoredSet.contains($0.name) }) {
        throw BumpKitError.invalidArgument(
          name: "ignored column", value: MessageText.quoted(feature.name),
          reason: "the model needs it as a feature")
      }
      var requests = plan.readingKinds
      if target {
        if ignoredSet.contains(info.targetName) {
          throw BumpKitError.invalidArgument(
            name: "ignored column", value: MessageText.quoted(info.targetName), reason: "it is the target")
        }
        requests.append((info.targetName, info.task.classes == nil ? .numbers : .texts))
      }
      budget = try MemoryBudget.current()
      reader = try CSVTableReader<Element>(path: path, columns: requests, byteLimit: budget.bytesForData)
      tally = ColumnPlan.Tally(features: plan.features.count)
      matcher = info.task.classes.map {
        ClassMatcher(classes: $0, names: info.classNames, numeric: info.columnPlan.numericClasses ?? false)
      }
    }

    /// The next batch: the model's inputs and the batch's table (for its target column), or
    /// nil at the end of the file. `keep` chooses the rows of the batch to encode (all when
    /// nil).
    mutating func next(keep: ((CSVTable<Element>) throws -> [Int])? = nil) throws -> (
      x: Matrix<Element>, table: CSVTable<Element>, rows: [Int]
    )? {
      let budget = budget
      var reader = reader
      defer { self.reader = reader }
      let read = try readingData(path: reader.path, budget: budget) {
        do {
          return try reader.read(maxRows: ModelFile.readBatch)
        } catch DataError.cellProblems(let path, let problems, let total) {
          throw ModelFile.allProblems(path: path, problems: problems, total: total, reader: &reader)
        }
      }
      guard let table = read else {
        if rowsRead == 0 {
          throw DataError.noDataRows(path: reader.path, line: reader.headerLine + 1, columns: reader.header)
        }
        return nil
      }
      let features = Array(table.columns.prefix(plan.features.count))
      if plan.missing == .error {
        let incomplete = features.filter { $0.missingCount > 0 }
        if !incomplete.isEmpty {
          let error = TableData<Element>.missingError(incomplete, source: reader.path, hint: missingHint)
          throw error
        }
      }
      let rows = try keep?(table) ?? Array(0..<table.rows)
      var x = try ColumnPlan.Encoder(plan: plan, columns: features).encode(rows: rows, tally: &tally)
      if let map = info.standardization {
        try map.apply(toInPlace: &x)
        try checkStandardized(x, map, rows: rows)
      }
      rowsRead += table.rows
      return (x, table, rows)
    }

    /// Throws naming the file, the data row and the input when a standardized input is not
    /// finite: a value the checkpoint's standardization cannot bring into `Element`'s range
    /// (a scale far below the column's spread in the data), which the model would otherwise
    /// refuse without naming the file.
    private func checkStandardized(_ x: Matrix<Element>, _ map: Standardization, rows: [Int]) throws {
      try x.withUnsafeBufferPointer { values in
        guard let bad = values.firstIndex(where: { !$0.isFinite }) else { return }
        let (r, c) = (bad / x.columns, bad % x.columns)
        let names = plan.inputNames
        let name = c < names.count ? MessageText.quoted(names[c]) : "\(c + 1)"
        throw CLIError.dataMismatch(
          path: reader.path,
          reason:
            "data row \(rowsRead + rows[r] + 1), input \(name): standardized with the checkpoint's mean \(map.mean[c]) and standard deviation \(map.standardDeviation[c]), the value is beyond the range of \(Element.self); the checkpoint's standardization does not fit this data")
      }
    }

    /// The next batch of rows with a target (for a file opened with `target`): the model's
    /// inputs and the targets, a class index per row for classification (labels matched to
    /// the model's classes by name, or by value for numeric classes) or the values as read
    /// for regression; nil at the end of the file. Rows with a missing target are left out
    /// and counted (``missingTargets``).
    ///
    /// - Throws: what ``next(keep:)`` throws; ``CLIError/dataMismatch(path:reason:)`` naming
    ///   the line of the first class label that is not one of the model's classes.
    mutating func nextLabelled() throws -> (x: Matrix<Element>, targets: Matrix<Element>)? {
      precondition(withTarget, "the file was opened without its target column")
      var missing = 0
      var lines: [Int] = []
      let room = max(CSVTableReader<Element>.lineListLimit - missingTargetLines.count, 0)
      guard
        let (x, table, kept) = try next(keep: { table in
          let target = table.columns[table.columns.count - 1]
          missing += target.missingCount
          lines += target.missingLines.prefix(max(room - lines.count, 0))
          switch target.cells {
          case .numbers(let values): return values.indices.filter { !values[$0].isNaN }
          case .texts(let codes, _): return codes.indices.filter { codes[$0] != CSVColumn<Element>.missingCode }
          }
        })
      else { return nil }
      missingTargets += missing
      missingTargetLines += lines
      let target = table.columns[table.columns.count - 1]
      var y: [Element]
      switch target.cells {
      case .numbers(let values): y = kept.map { values[$0] }
      case .texts(let codes, let texts):
        let lines = target.textLines
        let classes = texts.map { matcher?.classOf($0) }
        y = []
        y.reserveCapacity(kept.count)
        for r in kept {
          guard let k = classes[Int(codes[r])] else {
            let label = texts[Int(codes[r])]
            throw CLIError.dataMismatch(
              path: source,
              // The first row with an unknown label is the first with its text.
              reason: "line \(lines[Int(codes[r])]), column \(MessageText.quoted(info.targetName)): class label \(MessageText.quoted(label)) \(matcher!.problem(label))")
          }
          y.append(Element(k))
        }
      }
      return (x, try Matrix(rows: kept.count, columns: 1, elements: y))
    }

    /// "<file>: left out 2 rows with a missing target "y" (lines 4, 9)", or nil when
    /// ``nextLabelled()`` left out none.
    var missingTargetNote: String? {
      guard missingTargets > 0 else { return nil }
      return
        "\(source): left out \(ModelInfo.count(missingTargets, "row")) with a missing target \(MessageText.quoted(info.targetName)) (\(TableData<Element>.lineList(missingTargetLines, total: missingTargets)))"
    }

    /// What to do about missing cells in a file for a model that refuses them.
    private var missingHint: String {
      info.plan == nil
        ? "this model was trained before missing cells were filled; fill them, remove their rows, or retrain"
        : "the model was trained with --missing error; fill them or remove their rows"
    }
  }

  /// Runs `read`, reporting a file that does not fit in memory as such.
  /// The unusable cells of the whole file, when a batch had some: the later batches are
  /// read for theirs (up to a malformed record, which ends the count), so the message lists
  /// the first ones of the file and counts them all, as training does.
  static func allProblems<Element>(
    path: String, problems: [DataError], total: Int, reader: inout CSVTableReader<Element>
  ) -> DataError {
    var problems = problems
    var total = total
    while true {
      do {
        guard try reader.read(maxRows: readBatch) != nil else { break }
      } catch DataError.cellProblems(_, let more, let count) {
        problems += more.prefix(max(0, CSVTableReader<Element>.problemLimit - problems.count))
        total += count
      } catch {
        break
      }
    }
    return .cellProblems(path: path, problems: problems, total: total)
  }

  static func readingData<R>(path: String, budget: MemoryBudget, _ read: () throws -> R)
    throws -> R
  {
    do {
      return try read()
    } catch DataError.memoryLimitExceeded(let path, let line, let rows, let columns, let bytes, let limit) {
      // The reader's limit is what the budget leaves once the process's own memory is counted.
      throw CLIError.notEnoughMemory(
        needed: nil, limit: limit,
        source: limit == budget.bytes
          ? budget.source : "\(budget.source) of \(byteText(budget.bytes)), less what the program holds",
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

  /// Throws naming the row when one of `outputs` (a batch of the model's outputs, whose first
  /// row is the `firstRow`-th data row, from 0) is NaN or infinite: such a row's inputs lie
  /// far beyond what the model was trained on (a ReLU or tanh-free network grows without
  /// bound there), and it would be written as nan or counted as class 0. `scored` counts the
  /// rows `evaluate` scores (those with a target).
  static func checkFiniteOutputs<Element: MatrixScalar>(
    _ outputs: Matrix<Element>, firstRow: Int, source: String, scored: Bool = false
  ) throws {
    try outputs.withUnsafeBufferPointer { values in
      guard let bad = values.firstIndex(where: { !$0.isFinite }) else { return }
      let row = firstRow + bad / max(outputs.columns, 1) + 1
      throw CLIError.dataMismatch(
        path: source,
        reason:
          "\(scored ? "scored row" : "data row") \(row): the model's output there is \(values[bad]), not a finite number; "
          + "the row's inputs lie far beyond the data it was trained on")
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
  /// Reads the checkpoint's header (see ``ModelFile/header(at:)``) and runs ``run(_:)`` in
  /// its precision.
  func run() throws {
    switch try ModelFile.header(at: checkpointPath).precision {
    case "float": try run(Float.self)
    default: try run(Double.self)
    }
  }
}

/// A subcommand that applies a checkpoint to the rows of a CSV file, batch by batch
/// (`evaluate`, `predict`).
protocol TableCheckpointCommand: CheckpointCommand {
  /// `--model`: the checkpoint's path.
  var model: String { get }
  /// `--data`: the CSV file, or `-` for standard input.
  var data: String { get }
  /// `--ignore`: columns of the file that are not read.
  var ignored: IgnoredColumns { get }
}

extension TableCheckpointCommand {
  var checkpointPath: String { model }

  /// Rows scored or predicted per step: the batches of `Sequential.evaluate` and
  /// `Sequential.predict`, so the same bits, and output memory does not grow with the file.
  static var batchSize: Int { 1024 }

  /// The checkpoint in `Element` precision, its metadata, and the CSV file opened for it
  /// (with its target column when `target`).
  func open<Element: MatrixScalar>(
    _: Element.Type, target: Bool
  ) throws -> (network: ModelEnsemble<Element>, info: ModelInfo, input: ModelFile.TableInput<Element>) {
    let (network, info) = try ModelFile.load(Element.self, from: model)
    if let note = info.unfinishedRunNote(path: model) {
      // Its radial layer, if any, has no support calibration either: bump train stores one
      // once training has finished.
      let radial = network.members.contains { $0.layers.contains { $0 is RadialBump<Element> } }
      Console.error(
        "Note: \(note)"
          + (radial && info.support == nil
            ? "; it holds no support calibration (stored once training finishes), so in_support and abstain are not given"
            : ""))
    }
    let input = try ModelFile.TableInput<Element>(
      path: data, info: info, ignoring: ignored.names, target: target)
    return (network, info, input)
  }
}
