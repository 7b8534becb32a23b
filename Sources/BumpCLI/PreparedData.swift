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
  /// How the CSV file's columns became the model's inputs; nil for a built-in dataset.
  let plan: ColumnPlan?
  /// Lines for the run's header: how each column was read, rows dropped.
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
  ///   column), ``CLIError/dataMismatch(path:reason:)`` when the split leaves a part empty.
  init(_ configuration: TrainingConfiguration, budget: MemoryBudget) throws {
    let stride = MemoryLayout<Element>.stride
    var training: Dataset<Element>
    var validation: Dataset<Element>?
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
      dataset = dataset.shuffled(seed: configuration.seed &+ 0x5EED)
      training = dataset
      if configuration.validationSplit > 0 {
        let held = Int((Double(dataset.count) * configuration.validationSplit).rounded())
        guard held >= 1, held < dataset.count else {
          throw Self.splitError(configuration, held: held, count: dataset.count, source: source)
        }
        (training, validation) = try dataset.split(validationFraction: configuration.validationSplit)
      }
      plan = nil
      summaryLines = []
      if configuration.standardize {
        let (standardized, map) = try training.standardized()
        training = standardized
        validation = try validation.map { try map.apply(to: $0) }
        standardization = map
      } else {
        standardization = nil
      }
    } else {
      let table = try TableData<Element>(configuration, budget: budget)
      source = table.source
      training = table.training
      validation = table.validation
      standardization = table.standardization
      plan = table.plan
      summaryLines = table.summaryLines
    }
    trainingTargets = training.y
    validationTargets = validation?.y
    if configuration.standardizeTarget == true, training.task.classes == nil {
      let map = try InputStatistics.targets(training.y)
      training = try map.applyToTargets(of: training)
      validation = try validation.map { try map.applyToTargets(of: $0) }
      targetStandardization = map
    } else {
      targetStandardization = nil
    }
    self.training = training
    self.validation = validation
  }

  static func splitError(_ configuration: TrainingConfiguration, held: Int, count: Int, source: String)
    -> CLIError
  {
    CLIError.dataMismatch(
      path: source,
      reason: "--validation-split \(configuration.validationSplit) leaves \(held) of "
        + "\(count) samples for validation; need at least one on each side")
  }

  /// `error` with advice that fits it, for a file being read to train on: a column that holds
  /// text is to be skipped (with the `--ignore` argument that names it, quoted for the shell),
  /// a single bad cell to be fixed, a target of names to be read as classes.
  static func advised(_ error: DataError, target: String, task: TaskKind) -> any Error {
    switch error {
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

  /// "1600 training + 400 validation samples".
  var sizeText: String {
    var text = "\(training.count) training"
    if let validation { text += " + \(validation.count) validation" }
    return text + " samples"
  }
}
