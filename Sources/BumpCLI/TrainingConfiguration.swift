import ArgumentParser
import BumpKit
import Foundation

// MARK: - Choices

/// The activation between hidden Dense layers.
enum ActivationChoice: String, CaseIterable, Codable, ExpressibleByArgument, Sendable {
  /// ``Bump``: g(x) = a·f(x − c; σ), σ learned.
  case bump
  /// ``ReLU``.
  case relu
  /// ``Tanh``.
  case tanh
  /// ``Gaussian``: a·exp(−b·(x − c)²), shared and learned.
  case gaussian
}

/// Whether a bump layer's σ (and a trainable c or a) is one value per unit or one per layer.
enum SigmaLayout: String, CaseIterable, Codable, ExpressibleByArgument, Sendable {
  /// One value for the whole layer, as in the Keras layer.
  case shared
  /// One value per unit.
  case perUnit = "per-unit"
}

/// The training objective.
enum LossChoice: String, CaseIterable, Codable, ExpressibleByArgument, Sendable {
  /// ``MeanSquaredError``: regression.
  case mse
  /// ``BinaryCrossEntropyWithLogits`` on one logit: two-class classification.
  case bce
  /// ``SoftmaxCrossEntropy`` on one logit per class: classification.
  case softmax

  /// The name the summary shows.
  var displayName: String {
    switch self {
    case .mse: return "mean squared error"
    case .bce: return "binary cross-entropy"
    case .softmax: return "softmax cross-entropy"
    }
  }
}

/// The update rule.
enum OptimizerChoice: String, CaseIterable, Codable, ExpressibleByArgument, Sendable {
  /// ``Adam``.
  case adam
  /// ``AdamW`` (decoupled weight decay 0.01).
  case adamw
  /// Plain ``SGD``.
  case sgd

  /// The learning rate used when `--lr` is not given.
  var defaultLearningRate: Double {
    switch self {
    case .adam, .adamw: return 0.003
    case .sgd: return 0.1
    }
  }
}

/// How the learning rate changes over a run (see ``LearningRateSchedule``).
enum ScheduleChoice: String, CaseIterable, Codable, ExpressibleByArgument, Sendable {
  /// The learning rate of `--lr` throughout.
  case constant
  /// Cosine decay from `--lr` to 0 over the `--epochs` budget.
  case cosine
}

/// How `bump train` encodes a number column of a CSV file (`--numeric-encoding`).
enum NumericEncoding: String, CaseIterable, Codable, ExpressibleByArgument, Sendable {
  /// One input, the value (standardised).
  case plain
  /// The value, and a piecewise-linear encoding over `--bins` quantile bins of the training
  /// part (``ColumnPlan/piecewiseLinear(_:edges:)``) for each column with at least three
  /// distinct training values.
  case piecewiseLinear = "piecewise-linear"
}

/// A generated dataset (see ``Dataset``).
enum BuiltInDataset: String, CaseIterable, Codable, ExpressibleByArgument, Sendable {
  /// Two concentric rings: 2 features, 2 classes.
  case rings
  /// A 1-D regression made of two bumps.
  case bumps
  /// A smooth 4-feature regression.
  case regression

  /// The task the dataset poses.
  var taskKind: TaskKind { self == .rings ? .classification : .regression }

  /// The number of samples generated when `--samples` is not given.
  var defaultSamples: Int { self == .bumps ? 1000 : 2000 }
}

extension TaskKind: ExpressibleByArgument {}

extension Precision: Codable {}

/// The initial σ of every bump unit: a positive constant, or `keras`, Uniform(0, 0.1) as the
/// widely copied Keras layer draws it.
enum SigmaInitialization: Equatable, Sendable, CustomStringConvertible, ExpressibleByArgument {
  case constant(Double)
  case keras
  /// An argument that is neither; kept so that validation can say why (ArgumentParser's own
  /// message for a failed conversion gives no reason).
  case invalid(argument: String, reason: String)

  init?(argument: String) {
    if argument.lowercased() == "keras" {
      self = .keras
    } else if let value = Double(argument) {
      if value.isFinite, value > 0 {
        self = .constant(value)
      } else {
        self = .invalid(argument: argument, reason: "σ must be finite and > 0")
      }
    } else {
      self = .invalid(argument: argument, reason: "expected a positive number or keras")
    }
  }

  /// Why the argument was refused, or nil.
  var problem: String? {
    guard case .invalid(let argument, let reason) = self else { return nil }
    return "--sigma-init \(MessageText.visible(argument)): \(reason)"
  }

  var description: String {
    switch self {
    case .constant(let value): return formatted(value, digits: 9)
    case .keras: return "keras"
    case .invalid(let argument, _): return argument
    }
  }

  var defaultValueDescription: String { description }

  /// The initializer in `Element` (σ = 1 for an invalid argument, which validation refuses).
  func initializer<Element: MatrixScalar>(_: Element.Type) -> Initializer<Element> {
    switch self {
    case .constant(let value): return .constant(Element(value))
    case .keras: return .kerasBumpSigma
    case .invalid: return .constant(1)
    }
  }
}

/// The hidden layer sizes, written `64,64`.
struct HiddenSizes: Equatable, Sendable, CustomStringConvertible, ExpressibleByArgument {
  /// The most units a hidden layer may have.
  static let limit = 1 << 16

  let sizes: [Int]
  /// Why the argument was refused, or nil; kept so that validation can say why.
  let problem: String?

  init(_ sizes: [Int]) {
    self.sizes = sizes
    problem = nil
  }

  init?(argument: String) {
    let parts = argument.split(separator: ",", omittingEmptySubsequences: false)
    var sizes: [Int] = []
    var problem: String?
    for part in parts {
      let text = part.trimmingCharacters(in: .whitespaces)
      guard let size = Int(text) else {
        problem =
          text.isEmpty
          ? "a size is missing; expected positive integers separated by commas, e.g. 32,32"
          : "\(MessageText.quoted(text)) is not an integer; expected positive integers separated by commas, e.g. 32,32"
        break
      }
      guard size > 0, size <= Self.limit else {
        problem = "\(size) units: a hidden layer needs between 1 and \(Self.limit) units"
        break
      }
      sizes.append(size)
    }
    self.sizes = problem == nil ? sizes : []
    self.problem = problem.map { "--layers \(MessageText.visible(argument)): \($0)" }
  }

  var description: String { sizes.map(String.init).joined(separator: ",") }
  var defaultValueDescription: String { description }
}

// MARK: - The resolved configuration

/// Everything that determines a training run, with every default resolved; stored as JSON in
/// the checkpoint's `training_config` metadata entry (snake_case keys).
struct TrainingConfiguration: Codable, Equatable, Sendable {
  /// The built-in dataset, or nil for a CSV file.
  var dataset: BuiltInDataset?
  /// The number of generated samples (built-in datasets only).
  var samples: Int?
  /// The CSV file, or nil for a built-in dataset.
  var dataFile: String?
  /// The CSV target column.
  var target: String?
  /// Regression or classification.
  var task: TaskKind
  /// Hidden layer sizes.
  var hiddenLayers: [Int]
  var activation: ActivationChoice
  /// The layout of σ (and of c and a when they are trained).
  var sigma: SigmaLayout
  var trainCenter: Bool
  var trainAmplitude: Bool
  /// A number or `keras`.
  var sigmaInit: String
  var loss: LossChoice
  var optimizer: OptimizerChoice
  var learningRate: Double
  var epochs: Int
  var batchSize: Int
  /// The fraction of samples held out for validation; 0 for none.
  var validationSplit: Double
  var seed: UInt64
  var precision: Precision
  /// Early-stopping patience in epochs, or nil for none.
  var patience: Int?
  /// The smallest decrease of the monitored loss (as the optimizer sees it: standardized
  /// units for a standardized target) that early stopping counts as an improvement; nil (0)
  /// in configurations stored before the option existed.
  var minDelta: Double?
  /// Whether features are standardised (fitted on the training part).
  var standardize: Bool
  /// Whether a regression target is standardised (fitted on the training part); nil (no) in
  /// configurations stored before the option existed.
  var standardizeTarget: Bool?
  /// The learning-rate schedule; nil (constant) in configurations stored before the option
  /// existed.
  var schedule: ScheduleChoice?
  /// Columns of the CSV file skipped (`--ignore`); nil or empty for none.
  var ignoredColumns: [String]?
  /// What to do with missing feature cells (`--missing`); nil (impute) in configurations
  /// stored before the option existed.
  var missingValues: MissingRule?
  /// Columns read as categories whatever they hold (`--categorical`); nil or empty for none.
  var categoricalColumns: [String]?
  /// Whether the first hidden layer is a RadialBump (`--radial`); nil (no) in
  /// configurations stored before the option existed.
  var radialFirstLayer: Bool?
  /// Whether the last hidden layer is a RadialBump on the features the layers before it
  /// learned (`--radial-last`); nil (no) in configurations stored before the option existed.
  var radialLastLayer: Bool?
  /// The fraction of the rows held out as the test part before the validation split
  /// (`--test-split`); nil for none (0 is stored as nil, as in configurations stored before
  /// the option existed).
  var testSplit: Double?
  /// The CSV file read as the test part (`--test-data`), or nil.
  var testDataFile: String?
  /// What the run ends with after early stopping (`--final-model`); nil without a validation
  /// part, and in configurations stored before the option existed: the early-stopped model.
  var finalModel: FinalModelChoice?
  /// The refits the final model averages (`--refits`) when it is an ensemble or a refit and
  /// they are more than one; nil for one, as in configurations stored before the option
  /// existed.
  var refits: Int?
  /// The label smoothing of a softmax loss in training (`--label-smoothing`); nil for none,
  /// as in configurations stored before the option existed.
  var labelSmoothing: Double?
  /// How number columns of a CSV file are encoded (`--numeric-encoding`); nil for plain, as
  /// in configurations stored before the option existed.
  var numericEncoding: NumericEncoding?
  /// The bins of a piecewise-linear encoding (`--bins`); nil without one.
  var bins: Int?
  /// The most distinct training values a number column may have for a piecewise-linear
  /// encoding (`--bins-max-distinct`); nil for no limit.
  var binsMaxDistinct: Int?
  /// When the encoding is the default rather than asked for: the most cells (training rows ×
  /// piecewise-linear inputs) it may add; beyond them number columns stay plain. nil for no
  /// limit.
  var binsCellLimit: Int?

  /// ``binsMaxDistinct`` where a piecewise-linear encoding is on.
  var piecewiseMaximumDistinct: Int? { numericEncoding == .piecewiseLinear ? binsMaxDistinct : nil }

  /// The bins of the piecewise-linear encoding of number columns, or nil for none.
  var piecewiseBins: Int? {
    numericEncoding == .piecewiseLinear ? (bins ?? TrainCommand.defaultBins) : nil
  }

  /// The name runs are filed under: the dataset, or the CSV file's name without extension.
  var sourceName: String {
    if let dataset { return dataset.rawValue }
    if dataFile == "-" { return "stdin" }
    let stem = URL(fileURLWithPath: dataFile ?? "data").deletingPathExtension().lastPathComponent
    return stem.isEmpty ? "data" : stem
  }

  /// The parsed ``sigmaInit``.
  var sigmaInitialization: SigmaInitialization {
    SigmaInitialization(argument: sigmaInit) ?? .constant(1)
  }

  /// Compact JSON with sorted snake_case keys.
  func json() throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    return String(decoding: try encoder.encode(self), as: UTF8.self)
  }

  /// The configuration stored as ``json()``.
  init(json: String) throws {
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    self = try decoder.decode(Self.self, from: Data(json.utf8))
  }

  init(
    dataset: BuiltInDataset?, samples: Int?, dataFile: String?, target: String?, task: TaskKind,
    hiddenLayers: [Int], activation: ActivationChoice, sigma: SigmaLayout, trainCenter: Bool,
    trainAmplitude: Bool, sigmaInit: String, loss: LossChoice, optimizer: OptimizerChoice,
    learningRate: Double, epochs: Int, batchSize: Int, validationSplit: Double, seed: UInt64,
    precision: Precision, patience: Int?, standardize: Bool, standardizeTarget: Bool = false,
    schedule: ScheduleChoice = .constant, minDelta: Double = 0
  ) {
    self.dataset = dataset
    self.samples = samples
    self.dataFile = dataFile
    self.target = target
    self.task = task
    self.hiddenLayers = hiddenLayers
    self.activation = activation
    self.sigma = sigma
    self.trainCenter = trainCenter
    self.trainAmplitude = trainAmplitude
    self.sigmaInit = sigmaInit
    self.loss = loss
    self.optimizer = optimizer
    self.learningRate = learningRate
    self.epochs = epochs
    self.batchSize = batchSize
    self.validationSplit = validationSplit
    self.seed = seed
    self.precision = precision
    self.patience = patience
    self.standardize = standardize
    self.standardizeTarget = standardizeTarget
    self.schedule = schedule
    self.minDelta = minDelta
  }

  /// One line per setting group, for summaries and `bump inspect`.
  var descriptionLines: [String] {
    let data =
      dataset.map { "\($0.rawValue) (\(samples ?? $0.defaultSamples) samples, built in)" }
      ?? "\(MessageText.visible(dataFile ?? "?")), target \(MessageText.quoted(target ?? "?"))"
      + (ignoredColumns?.isEmpty == false
        ? ", ignoring " + MessageText.quotedList(ignoredColumns!) : "")
      + (categoricalColumns?.isEmpty == false
        ? ", categorical " + MessageText.quotedList(categoricalColumns!) : "")
      + (missingValues.map { ", missing cells: \($0.rawValue)" } ?? "")
      + (piecewiseBins.map { ", numbers piecewise-linear in \($0) bins" } ?? "")
      + (piecewiseMaximumDistinct.map { " (columns with at most \($0) distinct values)" } ?? "")
    var activationText = activation.rawValue
    if activation == .bump {
      var parts = ["σ \(sigma.rawValue), initial \(sigmaInit)"]
      if trainCenter { parts.append("c trained") }
      if trainAmplitude { parts.append("a trained") }
      activationText += " (" + parts.joined(separator: ", ") + ")"
    }
    var validation =
      validationSplit > 0 ? "validation split \(formatted(validationSplit))" : "no validation"
    if let testSplit, testSplit > 0 {
      validation += ", test split \(formatted(testSplit))"
    } else if let testDataFile {
      validation += ", test data \(MessageText.visible(testDataFile))"
    }
    var standardized: [String] = []
    if standardize { standardized.append("features") }
    if standardizeTarget == true { standardized.append("target") }
    let standardizedText =
      standardized.isEmpty ? "" : ", standardized \(standardized.joined(separator: " and "))"
    var lines = [
      "data: \(data), \(task.rawValue)\(standardizedText)",
      "model: \(radialFirstLayer == true ? "radial first layer, " : "")\(radialLastLayer == true ? "radial last layer, " : "")hidden layers \(hiddenLayers.map(String.init).joined(separator: ",")), activation \(activationText)",
      "training: \(loss.rawValue) loss, \(labelSmoothing.map { "label smoothing \(formatted($0)), " } ?? "")\(optimizer.rawValue) lr \(formatted(learningRate)), "
        + "\((schedule ?? .constant) == .cosine ? "cosine schedule, " : "")"
        + "\(epochs) epochs, batch \(batchSize), \(validation), seed \(seed), \(precision.rawValue)",
    ]
    if let patience {
      lines[2] += ", early stopping after \(patience) epochs without improvement"
      if let minDelta, minDelta > 0 { lines[2] += " of at least \(formatted(minDelta))" }
    }
    if let finalModel, finalModel != .earlyStopped {
      lines[2] += ", final model: \(finalModel.rawValue)"
      if let refits, refits > 1 { lines[2] += " of \(refits) refits" }
    }
    return lines
  }
}

/// A number in a short form: up to 4 significant digits (`0.01`, `1e-05`, `123.5`).
func formatted(_ value: Double, digits: Int = 4) -> String {
  guard value.isFinite else { return "\(value)" }
  return String(format: "%.\(digits)g", value)
}
