import BumpKit

/// The data of a training run: loaded or generated, shuffled, split into training and
/// validation parts, and standardised with statistics of the training part only (the
/// features, and a regression target when asked).
struct PreparedData<Element: MatrixScalar> {
  /// The CSV path, or the built-in dataset's name; for messages.
  let source: String
  /// All samples in original units, shuffled (for plots).
  let all: Dataset<Element>
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

  /// - Throws: ``DataError`` for an unreadable or malformed CSV file (naming file, line and
  ///   column), ``CLIError/dataMismatch(path:reason:)`` when the split leaves a part empty.
  init(_ configuration: TrainingConfiguration, budget: MemoryBudget) throws {
    var dataset: Dataset<Element>
    let stride = MemoryLayout<Element>.stride
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
      switch builtIn {
      case .rings: dataset = try .rings(samples: samples, seed: configuration.seed)
      case .bumps: dataset = try .bumps(samples: samples, seed: configuration.seed)
      case .regression: dataset = try .regression(samples: samples, seed: configuration.seed)
      }
      source = builtIn.rawValue
    } else {
      let path = configuration.dataFile!
      let target = configuration.target!
      do {
        dataset = try Dataset<Element>.loadCSV(
          path: path, target: target, task: configuration.task,
          ignoring: configuration.ignoredColumns ?? [], byteLimit: budget.bytes)
      } catch DataError.memoryLimitExceeded(let path, let line, let rows, let columns, let bytes, _)
      {
        throw CLIError.notEnoughMemory(
          needed: nil, limit: budget.bytes, source: budget.source,
          parts: ["\(path): \(byteText(bytes)) for \(rows) rows × \(columns) values by line \(line), and more to read"])
      } catch let error as DataError {
        throw Self.advised(error, target: target, task: configuration.task)
      }
      source = path == "-" ? "standard input" : path
      if case .classification = configuration.task {
        let labels = Set((0..<dataset.y.rows).map { dataset.y[$0, 0] })
        guard labels.count >= 2 else {
          let label =
            dataset.classNames.map { MessageText.quoted($0[0]) } ?? labels.first.map { "\(Int($0))" }
            ?? "?"
          throw CLIError.dataMismatch(
            path: source,
            reason: "the target \(MessageText.quoted(target)) holds only one class (\(label)) in \(dataset.count) rows; "
              + "classification needs at least 2 (use --task regression for a numeric target)")
        }
      }
      let classes = dataset.task.classes ?? 1
      try budget.checkTraining(
        configuration, rows: dataset.count, features: dataset.x.columns,
        outputs: configuration.loss == .bce ? 1 : classes, scalarBytes: stride)
    }
    // Files are often sorted (by class, by time): shuffle before the validation split takes
    // the last rows.
    dataset = dataset.shuffled(seed: configuration.seed &+ 0x5EED)
    all = dataset

    var training = dataset
    var validation: Dataset<Element>?
    if configuration.validationSplit > 0 {
      let held = Int((Double(dataset.count) * configuration.validationSplit).rounded())
      guard held >= 1, held < dataset.count else {
        throw CLIError.dataMismatch(
          path: source,
          reason: "--validation-split \(configuration.validationSplit) leaves \(held) of "
            + "\(dataset.count) samples for validation; need at least one on each side")
      }
      (training, validation) = try dataset.split(validationFraction: configuration.validationSplit)
    }
    if configuration.standardize {
      let (standardized, map) = try training.standardized()
      training = standardized
      validation = try validation.map { try map.apply(to: $0) }
      standardization = map
    } else {
      standardization = nil
    }
    trainingTargets = training.y
    validationTargets = validation?.y
    if configuration.standardizeTarget == true, training.task.classes == nil {
      let (standardized, map) = try training.standardizedTargets()
      training = standardized
      validation = try validation.map { try map.applyToTargets(of: $0) }
      targetStandardization = map
    } else {
      targetStandardization = nil
    }
    self.training = training
    self.validation = validation
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
    case .notANumber(_, _, let column, _) where column == target && task == .regression:
      return CLIError.withHint(
        error,
        hint: "a regression target must hold numbers; for class labels use --task classification")
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
