import BumpKit

/// The data of a training run: loaded or generated, shuffled, split into training and
/// validation parts, and standardised with statistics of the training part only (the
/// features, and a regression target when asked).
///
/// A CSV file is read into a ``CSVTable`` (the values as read, number columns in the
/// reader's blocks); its rows draw their places in the seeded shuffled order
/// (``BucketShuffle``), which decides the training part; its columns are planned on that part
/// (``ColumnPlan``: imputation, one-hot categories, constant columns dropped) and their
/// statistics taken (``InputStatistics``); then its rows are encoded, standardised, into one
/// matrix, each into its bucket, while the table's memory is given back (``TrainingRows``):
/// the table and the matrix together are about one copy. Each bucket is then shuffled in
/// place and the validation rows (the last ones) copied out; the table is gone before
/// training starts.
///
/// A test part (``TestPart``) is held out of the rows before all of this (`--test-split`),
/// or read from its own file once the training part's plan and statistics are known
/// (`--test-data`); either way it is encoded and standardised with the training part's.
struct PreparedData<Element: MatrixScalar> {
  /// The CSV path, or the built-in dataset's name; for messages.
  let source: String
  /// The training part, standardised when asked: the model sees these inputs and targets.
  let training: Dataset<Element>
  /// The validation part, standardised like the training part; nil without validation.
  let validation: Dataset<Element>?
  /// The map applied to the features, or nil.
  let standardization: Standardization?
  /// The map applied to a regression target, or nil.
  let targetStandardization: Standardization?
  /// The targets of the training and validation parts in their own units (the same as
  /// ``training`` and ``validation``'s without target standardisation).
  let trainingTargets: Matrix<Element>
  let validationTargets: Matrix<Element>?
  /// The test part (``TestPart``), standardised like the training part; nil without one.
  let test: Dataset<Element>?
  /// The targets of the test part in their own units.
  let testTargets: Matrix<Element>?
  /// With `--test-split`, the test rows: indices of the usable rows of the generated
  /// dataset, or of the CSV file's data rows (0 for the row after the header), in order.
  let testRows: [Int]
  /// How the CSV file's columns became the model's inputs; nil for a built-in dataset.
  let plan: ColumnPlan?
  /// Lines for the run's header: how each column was read, rows dropped, the test part.
  let summaryLines: [String]

  /// All samples in original units, training then validation rows (for the decision-region
  /// plot): built when asked, from the standardised parts.
  var all: Dataset<Element> {
    get throws {
      var parts = [training]
      if let validation { parts.append(validation) }
      let columns = training.x.columns
      var x: [Element] = []
      var y: [Element] = []
      for part in parts {
        let natural = try standardization.map { try $0.invert(part.x) } ?? part.x
        natural.withUnsafeBufferPointer { x += $0 }
      }
      trainingTargets.withUnsafeBufferPointer { y += $0 }
      validationTargets?.withUnsafeBufferPointer { y += $0 }
      let rows = x.count / max(columns, 1)
      return try Dataset(
        x: try Matrix(rows: rows, columns: columns, elements: x),
        y: try Matrix(rows: rows, columns: trainingTargets.columns, elements: y),
        featureNames: training.featureNames, targetName: training.targetName, task: training.task,
        classNames: training.classNames)
    }
  }

  /// - Throws: ``DataError`` for an unreadable or malformed CSV file (naming file, line and
  ///   column), ``CLIError/dataMismatch(path:reason:)`` when the split leaves a part empty;
  ///   for `--test-data`, what ``TestPart/read(path:info:configuration:budget:rowsBefore:)``
  ///   throws.
  init(_ configuration: TrainingConfiguration, budget: MemoryBudget) throws {
    let stride = MemoryLayout<Element>.stride
    var training: Dataset<Element>
    var validation: Dataset<Element>?
    var test: Dataset<Element>?
    var summaryLines: [String]
    if let builtIn = configuration.dataset {
      let samples = configuration.samples ?? builtIn.defaultSamples
      // Checked before generating: a huge --samples is refused, not attempted.
      let (features, outputs) =
        switch builtIn {
        case .rings: (2, 2)
        case .bumps: (1, 1)
        case .regression: (4, 1)
        }
      try budget.checkTraining(
        configuration, rows: samples, features: features, outputs: outputs, scalarBytes: stride)
      var dataset: Dataset<Element>
      switch builtIn {
      case .rings: dataset = try .rings(samples: samples, seed: configuration.seed)
      case .bumps: dataset = try .bumps(samples: samples, seed: configuration.seed)
      case .regression: dataset = try .regression(samples: samples, seed: configuration.seed)
      }
      source = builtIn.rawValue
      if let group = Processes.group {
        // Each process of a group takes every size-th sample.
        let mine = Array(Swift.stride(from: group.rank, to: dataset.count, by: group.size))
        dataset = try Dataset(
          x: try dataset.x.rows(at: mine), y: try dataset.y.rows(at: mine), featureNames: dataset.featureNames,
          targetName: dataset.targetName, task: dataset.task, classNames: dataset.classNames)
      }
      let seed = configuration.seed &+ Processes.seedOffset
      // The test rows first, then the rest shuffled and split as a dataset without them.
      let (name, count) = (builtIn.rawValue, dataset.count)
      let sizes = try Processes.agreeing("splitting its rows") {
        try Self.partSizes(configuration, count: count, source: name)
      }
      if sizes.test > 0 {
        testRows = TestPart.choose(sizes.test, of: dataset.count, seed: seed)
        (dataset, test) = try TestPart.separate(dataset, testRows)
      } else {
        testRows = []
      }
      dataset = dataset.shuffled(seed: seed &+ 0x5EED)
      training = dataset
      if sizes.validation > 0 {
        (training, validation) = try dataset.split(validationFraction: configuration.validationSplit)
      }
      plan = nil
      summaryLines = []
      if configuration.standardize {
        let map = try Processes.group.map { try GroupStatistics.standardization(of: training.x, in: $0) }
          ?? Standardization(fitting: training.x)
        let standardized = try map.apply(to: training)
        training = standardized
        validation = try validation.map { try map.apply(to: $0) }
        test = try test.map { try map.apply(to: $0) }
        standardization = map
      } else {
        standardization = nil
      }
    } else {
      let table = try TableData<Element>(configuration, budget: budget)
      source = table.source
      training = table.training
      validation = table.validation
      test = table.test
      testRows = table.testRows
      standardization = table.standardization
      plan = table.plan
      summaryLines = table.summaryLines
    }
    // Over a group, the parts' rows on every process.
    let counts = try Processes.group.map {
      try GroupStatistics.sum([training.count, validation?.count ?? 0, test?.count ?? 0], in: $0)
    }
    if let test {
      let (held, all) =
        counts.map { ($0[2], $0.reduce(0, +)) } ?? (test.count, test.count + training.count + (validation?.count ?? 0))
      summaryLines.append(
        "Test part: \(held) of \(all) samples held out "
          + "(--test-split \(formatted(configuration.testSplit ?? 0)), seed \(configuration.seed)), "
          + "seen by neither training nor early stopping")
    }
    trainingTargets = training.y
    validationTargets = validation?.y
    if configuration.standardizeTarget == true, training.task.classes == nil {
      let map = try Processes.group.map { try GroupStatistics.standardization(of: training.y, in: $0) }
        ?? InputStatistics.targets(training.y)
      let parts = [training, validation, test].compactMap { $0 }, name = source
      try Processes.agreeing("checking the target") {
        for part in parts { try Self.checkTargetScale(part.y, mean: map.mean[0], source: name) }
      }
      training = try map.applyToTargets(of: training)
      validation = try validation.map { try map.applyToTargets(of: $0) }
      targetStandardization = map
    } else {
      targetStandardization = nil
    }
    if let path = configuration.testDataFile {
      // Read as `bump evaluate` reads a file for the model that this data makes. Over a
      // group every process reads it and scores every size-th row.
      let info = Self.modelInfo(
        configuration, training: training, standardization: standardization,
        targetStandardization: targetStandardization, plan: plan)
      let name = path == "-" ? "standard input" : path
      let rowsBefore = training.count + (validation?.count ?? 0)
      var part: (x: Matrix<Element>, targets: Matrix<Element>, notes: [String]) = try Processes.agreeing("reading --test-data") {
        let part: (x: Matrix<Element>, targets: Matrix<Element>, notes: [String]) = try TestPart.read(
          path: path, info: info, configuration: configuration, budget: budget, rowsBefore: rowsBefore)
        if let group = Processes.group, part.x.rows < group.size {
          throw CLIError.dataMismatch(
            path: name, reason: "\(part.x.rows) labelled rows are too few for \(group.size) processes to score; use fewer")
        }
        return part
      }
      if let group = Processes.group {
        let mine = Array(Swift.stride(from: group.rank, to: part.x.rows, by: group.size))
        part = (try part.x.rows(at: mine), try part.targets.rows(at: mine), part.notes)
      }
      test = try Dataset(
        x: part.x, y: part.targets, featureNames: training.featureNames, targetName: training.targetName,
        task: training.task, classNames: training.classNames)
      summaryLines += part.notes
    }
    testTargets = test?.y
    if let map = targetStandardization {
      test = try test.map { try map.applyToTargets(of: $0) }
    }
    self.training = training
    self.validation = validation
    self.test = test
    self.summaryLines = summaryLines
    // (Again: a --test-data part is read after the counts above.)
    let final = try Processes.group.map {
      try GroupStatistics.sum([training.count, validation?.count ?? 0, test?.count ?? 0], in: $0)
    }
    groupCounts = final.map { ($0[0], validation == nil ? nil : $0[1], test == nil ? nil : $0[2]) }
  }

  /// ``partCounts`` over the group, when there is one.
  private let groupCounts: (training: Int, validation: Int?, test: Int?)?

  /// What `bump train` stores about this data in the checkpoint for `configuration`: the
  /// inputs' names and column plan, the target and its classes, the standardizations.
  func modelInfo(_ configuration: TrainingConfiguration) -> ModelInfo {
    Self.modelInfo(
      configuration, training: training, standardization: standardization,
      targetStandardization: targetStandardization, plan: plan)
  }

  private static func modelInfo(
    _ configuration: TrainingConfiguration, training: Dataset<Element>, standardization: Standardization?,
    targetStandardization: Standardization?, plan: ColumnPlan?
  ) -> ModelInfo {
    ModelInfo(
      configuration: configuration, featureNames: training.featureNames,
      targetName: training.targetName, task: training.task, classNames: training.classNames,
      loss: configuration.loss, standardization: standardization,
      targetStandardization: targetStandardization, plan: plan)
  }

  /// The rows of the test and validation parts of `count` usable rows: round(F·`count`)
  /// for `--test-split F` (``TestPart/count(_:of:)``), then round(V·rest) of the rest for
  /// `--validation-split V` (halves away from zero), 0 for a fraction of 0.
  ///
  /// - Throws: ``CLIError/dataMismatch(path:reason:)`` (naming `source`) when a part with a
  ///   fraction above 0 would get no row, or the training part none.
  static func partSizes(_ configuration: TrainingConfiguration, count: Int, source: String) throws
    -> (test: Int, validation: Int)
  {
    let test = TestPart.count(configuration.testSplit, of: count)
    if let fraction = configuration.testSplit, fraction > 0, test < 1 || test >= count {
      throw CLIError.dataMismatch(
        path: source,
        reason: "--test-split \(fraction) leaves \(test) of \(count) samples for test; need at least one on each side")
    }
    let rest = count - test
    guard configuration.validationSplit > 0 else { return (test, 0) }
    let held = Int((Double(rest) * configuration.validationSplit).rounded())
    guard held >= 1, held < rest else {
      if test == 0 {
        throw CLIError.dataMismatch(
          path: source,
          reason: "--validation-split \(configuration.validationSplit) leaves \(held) of "
            + "\(count) samples for validation; need at least one on each side")
      }
      throw CLIError.dataMismatch(
        path: source,
        reason: "--test-split \(configuration.testSplit ?? 0) holds out \(test) of \(count) samples for test, "
          + "and --validation-split \(configuration.validationSplit) then \(held) of the other \(rest) for validation, "
          + "leaving \(rest - held) for training; need at least one sample in each part")
    }
    return (test, held)
  }

  /// `error` with advice that fits it, for a file being read to train on: a column that holds
  /// text is to be skipped (with the `--ignore` argument that names it, quoted for the shell),
  /// a single bad cell to be fixed, a target of names to be read as classes.
  static func advised(_ error: DataError, target: String, task: TaskKind) -> any Error {
    switch error {
    case .duplicateColumn(_, _, let column, _) where column != target:
      return CLIError.withHint(
        error,
        hint: "rename the columns in the file, or leave them all out with --ignore \(ColumnList.argument(for: column))")
    case .duplicateColumn(_, _, let column, _) where column == target:
      return CLIError.withHint(error, hint: "rename the columns in the file: the target must be one column")
    case .textColumn(_, _, let column, _, _, _) where column != target:
      return CLIError.withHint(
        error, hint: "if it is not a feature, skip it with --ignore \(ColumnList.argument(for: column))")
    case .notANumber(_, _, let column, _) where column != target:
      return CLIError.withHint(error, hint: "fix that cell or remove its row")
    case .tooManyCategories(_, _, let column, _) where column != target:
      return CLIError.withHint(
        error, hint: "if it is an id or free text, skip it with --ignore \(ColumnList.argument(for: column))")
    case .tooManyCategories(_, _, let column, _) where column == target && task == .classification:
      return CLIError.withHint(
        error, hint: "a target with this many values is a quantity: use --task regression")
    case .notANumber(_, _, let column, _) where column == target && task == .regression:
      return CLIError.withHint(
        error,
        hint: "a regression target must hold numbers; for class labels use --task classification")
    case .cellProblems(_, let problems, let total) where total == 1 && problems.count == 1:
      // One bad cell reads as it always has.
      return advised(problems[0], target: target, task: task)
    case .cellProblems(_, let problems, _):
      var columns: [String] = []
      for problem in problems {
        switch problem {
        case .notANumber(_, _, let column, _), .nonFiniteNumber(_, _, let column, _),
          .numberOutOfRange(_, _, let column, _, _):
          if !columns.contains(column) { columns.append(column) }
        default: break
        }
      }
      if columns.contains(target), task == .regression {
        return CLIError.withHint(
          error,
          hint: "a regression target must hold numbers; for class labels use --task classification")
      }
      guard let column = columns.first(where: { $0 != target }) else { return error }
      let argument = ColumnList.argument(for: column)
      return CLIError.withHint(
        error,
        hint: "fix those cells or remove their rows; to read the column as categories use "
          + "--categorical \(argument), to skip it --ignore \(argument)")
    default:
      return error
    }
  }

  /// A regression model's outputs in the target's own units.
  func naturalUnits(_ outputs: Matrix<Element>) throws -> Matrix<Element> {
    try targetStandardization.map { try $0.invert(outputs) } ?? outputs
  }

  /// `history` with its losses in the target's own units (see ``squaredErrorScale``).
  func naturalUnits(_ history: History) -> History {
    var natural = history
    natural.loss = history.loss.map { $0 * squaredErrorScale }
    natural.validationLoss = history.validationLoss.map { $0 * squaredErrorScale }
    return natural
  }

  /// The factor from the mean squared error of standardised targets to that in the target's
  /// own units: s² for one standardised target column of standard deviation s, else 1.
  var squaredErrorScale: Double {
    guard let t = targetStandardization, t.features == 1 else { return 1 }
    return t.standardDeviation[0] * t.standardDeviation[0]
  }

  /// "1600 training + 400 validation samples", "… + 200 test samples".
  var sizeText: String {
    let (training, validation, test) = partCounts
    var text = "\(training) training"
    if let validation { text += " + \(validation) validation" }
    if let test { text += " + \(test) test" }
    return text + " samples"
  }

  /// The rows of each part: over every process of a group (agreed when the data was
  /// prepared), else this process's.
  var partCounts: (training: Int, validation: Int?, test: Int?) {
    groupCounts ?? (training.count, validation?.count, test?.count)
  }

  /// The largest distance of a regression target from its training mean whose square (the
  /// losses are reported in the target's units) stays finite, with room to spare for
  /// predictions a few times as far off: about 3.4·10¹⁵³.
  static var largestTargetDeviation: Double { Double.greatestFiniteMagnitude.squareRoot() / 4 }

  /// Refuses a regression target (in double precision: a float one cannot come near) whose
  /// squared errors would overflow, before training rather than after it: its losses, in the
  /// target's own units, would be infinite and the run's results could not be written. `y`
  /// is a part's targets (training, validation or test); `mean`, the training part's.
  static func checkTargetScale(_ y: Matrix<Element>, mean: Double, source: String) throws {
    var largest = 0.0
    y.withUnsafeBufferPointer { values in
      for v in values { largest = Swift.max(largest, Swift.abs(Double(v) - mean)) }
    }
    guard largest > largestTargetDeviation else { return }
    throw CLIError.dataMismatch(
      path: source,
      reason: "the target's values lie up to \(formatted(largest, digits: 3)) from their mean "
        + "\(formatted(mean, digits: 3)): their squared errors would overflow even in double precision; "
        + "rescale the target (divide it by a power of ten)")
  }
}
