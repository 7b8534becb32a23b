import BumpKit
import Foundation

/// The final metrics of a run, stored as JSON in the checkpoint's `metrics` entry.
///
/// The training and test parts are scored with the final model; the validation part with the
/// early-stopped model, which after a refit (`--final-model refit` or `ensemble`, see
/// ``FinalModelRecord``) is the only one that has not trained on its rows.
struct RunMetrics: Codable, Equatable, Sendable {
  var trainLoss: Double
  var validationLoss: Double?
  var trainAccuracy: Double?
  var validationAccuracy: Double?
  /// Epochs completed.
  var epochs: Int
  /// Seconds spent in training.
  var trainingSeconds: Double
  /// The constant predictor's score on the training and validation parts (see ``Baseline``):
  /// for regression the mean squared error of predicting the training mean, for
  /// classification the accuracy of predicting the most frequent training class. nil in
  /// checkpoints written before it was recorded.
  var trainBaseline: Double? = nil
  var validationBaseline: Double? = nil
  /// R² of a regression model on each part (scikit-learn's `r2_score`); nil for
  /// classification.
  var trainR2: Double? = nil
  var validationR2: Double? = nil
  /// The same metrics on the test part (`--test-split`, `--test-data`), computed once after
  /// training with the final weights; its baseline is the training part's constant (mean or
  /// majority class). nil without a test part.
  var testLoss: Double? = nil
  var testAccuracy: Double? = nil
  var testBaseline: Double? = nil
  var testR2: Double? = nil
  /// The rows of the test part.
  var testSamples: Int? = nil
}

/// What `bump train` stores in a checkpoint's metadata next to the architecture, and what
/// `bump predict`, `evaluate` and `inspect` read back.
///
/// Entries (all strings, JSON where structured): `training_config`, `feature_names` (JSON
/// array), `target_name`, `task` (`regression` or `classification`), `classes` (K),
/// `class_names` (JSON array, when the labels were names), `loss` (`mse`, `bce`,
/// `softmax`), `standardization` (JSON `{"mean": […], "standardDeviation": […]}`),
/// `target_standardization` (the same form, one entry per target column, when a regression
/// model was trained on standardized targets: it predicts in standardized units, mapped back
/// with ``ModelInfo/naturalUnits(_:)``), `metrics` (JSON, once training has finished; losses
/// in the target's own units), `status` and `epochs_completed`; `column_plan` (JSON
/// ``ColumnPlan``: how each CSV column became the inputs, written since column plans exist;
/// a checkpoint without one reads every feature as numbers, strictly, as before);
/// `final_model` (JSON ``FinalModelRecord``: the refit or ensemble the run ended with);
/// `support_calibration` (JSON `SupportCalibration`: a radial model's support score
/// normalisation and abstention threshold, set on the validation rows — `held_out_rows`, since
/// held-out calibration exists — or on the training rows).
struct ModelInfo: Equatable {
  var configuration: TrainingConfiguration?
  var featureNames: [String]
  var targetName: String
  var task: LearningTask
  var classNames: [String]?
  var loss: LossChoice
  var standardization: Standardization?
  /// The map from natural target units to the units the model predicts in, or nil when the
  /// model predicts in natural units (every checkpoint written before targets were
  /// standardized).
  var targetStandardization: Standardization?
  var metrics: RunMetrics?
  /// How the CSV columns become the inputs; nil for a built-in dataset's model and for
  /// checkpoints written before plans (see ``columnPlan``).
  var plan: ColumnPlan?
  /// How the final model came to be when it is not the early-stopped model alone (a refit
  /// on all rows, or an ensemble): the `final_model` entry; nil otherwise, and in checkpoints
  /// written before refits existed.
  var finalModel: FinalModelRecord?
  /// A radial model's support calibration (see ``SupportReport``); nil for other models and
  /// for checkpoints written before it existed.
  var support: SupportCalibration?
  /// `initial`, `training`, `complete` or `failed`.
  var status: String
  var epochsCompleted: Int

  init(
    configuration: TrainingConfiguration?, featureNames: [String], targetName: String,
    task: LearningTask, classNames: [String]?, loss: LossChoice, standardization: Standardization?,
    targetStandardization: Standardization? = nil, metrics: RunMetrics? = nil,
    status: String = "initial", epochsCompleted: Int = 0, plan: ColumnPlan? = nil
  ) {
    self.plan = plan
    self.configuration = configuration
    self.featureNames = featureNames
    self.targetName = targetName
    self.task = task
    self.classNames = classNames
    self.loss = loss
    self.standardization = standardization
    self.targetStandardization = targetStandardization
    self.metrics = metrics
    self.status = status
    self.epochsCompleted = epochsCompleted
  }

  /// The metadata entries.
  func metadata() throws -> [String: String] {
    var m: [String: String] = [
      "created_by": "bump train",
      "feature_names": try Self.json(featureNames),
      "target_name": targetName,
      "task": task.kind.rawValue,
      "loss": loss.rawValue,
      "status": status,
      "epochs_completed": String(epochsCompleted),
    ]
    if let classes = task.classes { m["classes"] = String(classes) }
    if let classNames { m["class_names"] = try Self.json(classNames) }
    if let configuration { m["training_config"] = try configuration.json() }
    if let standardization { m["standardization"] = try Self.json(standardization) }
    if let targetStandardization {
      m["target_standardization"] = try Self.json(targetStandardization)
    }
    if let metrics { m["metrics"] = try Self.json(metrics, snakeCase: true) }
    if let plan { m["column_plan"] = try Self.json(plan, snakeCase: true) }
    if let finalModel { m["final_model"] = try Self.json(finalModel, snakeCase: true) }
    if let support { m[SupportCalibration.metadataKey] = try Self.json(support) }
    return m
  }

  /// Reads the entries back from `metadata` of the checkpoint at `source`, whose model takes
  /// `inputs` features (nil: not known).
  ///
  /// What prediction uses is validated: distinct feature names; for classification, distinct
  /// class names (compared scalar by scalar, so that two Unicode spellings of one word, as
  /// training keeps them, stay two classes); standardizations whose means are finite and
  /// whose standard deviations are finite and positive. What it does not use is not: class
  /// names of a regression model, a target standardization of a classifier, and the
  /// `metrics`, `training_config`, `status` and `epochs_completed` entries are left out
  /// (nil, or their defaults) when malformed. What `bump train` always writes must be there:
  /// the standardizations a readable `training_config` says the run used, the class names of
  /// name classes and each number column's median in a `column_plan`.
  ///
  /// The feature names are checked against `inputs` before the standardization is checked
  /// against them, so that a mismatch blames the entry that is wrong.
  ///
  /// - Throws: ``CLIError/invalidCheckpoint(path:reason:)`` naming the missing, malformed or
  ///   mismatched entry.
  init(metadata m: [String: String], source: String, inputs: Int? = nil) throws {
    func bad(_ reason: String) -> CLIError { .invalidCheckpoint(path: source, reason: reason) }
    func required(_ key: String) throws -> String {
      guard let value = m[key] else {
        throw bad("the metadata has no \"\(key)\" entry (was it written by bump train?)")
      }
      return value
    }
    func decode<T: Decodable>(_ type: T.Type, _ key: String, snakeCase: Bool = false) throws -> T {
      let text = try required(key)
      let decoder = JSONDecoder()
      if snakeCase { decoder.keyDecodingStrategy = .convertFromSnakeCase }
      do { return try decoder.decode(T.self, from: Data(text.utf8)) } catch let error as BumpKitError {
        throw bad("the \"\(key)\" metadata entry is not valid: \(error)")
      } catch {
        throw bad("the \"\(key)\" metadata entry is not valid: \(text.prefix(80))")
      }
    }
    /// The first name of `names` that an earlier one spells with the same scalars.
    func repeated(_ names: [String], exactly: Bool) -> String? {
      var seen = Set<[UInt32]>()
      var seenText = Set<String>()
      return names.first {
        exactly ? !seen.insert($0.unicodeScalars.map(\.value)).inserted : !seenText.insert($0).inserted
      }
    }
    featureNames = try decode([String].self, "feature_names")
    if let inputs, featureNames.count != inputs {
      throw bad(
        "the \"feature_names\" entry has \(Self.count(featureNames.count, "name")), the model takes \(Self.count(inputs, "input"))")
    }
    // Columns are found by name, so two equal names would read one column twice.
    if let name = repeated(featureNames, exactly: false) {
      throw bad("the feature name \(MessageText.quoted(name)) appears more than once")
    }
    targetName = try required("target_name")
    switch try required("task") {
    case "regression":
      task = .regression
    case "classification":
      guard let k = Int(try required("classes")), k >= 1 else {
        throw bad("the \"classes\" metadata entry must be a positive integer")
      }
      task = .classification(classes: k)
    case let other:
      throw bad("task \(MessageText.quoted(other)) is not regression or classification")
    }
    guard let loss = LossChoice(rawValue: try required("loss")) else {
      throw bad("loss \(MessageText.quoted(m["loss"]!)) is not mse, bce or softmax")
    }
    self.loss = loss
    // Class names mean something only to a classifier.
    classNames =
      m["class_names"] == nil || task.classes == nil
      ? nil : try decode([String].self, "class_names")
    if let classNames {
      guard classNames.count == task.classes else {
        throw bad(
          "the \"class_names\" entry has \(Self.count(classNames.count, "name")), the \"classes\" entry says \(task.classes ?? 0)")
      }
      if let name = repeated(classNames, exactly: true) {
        throw bad("the class name \(MessageText.quoted(name)) appears more than once")
      }
    }
    standardization =
      m["standardization"] == nil ? nil : try decode(Standardization.self, "standardization")
    if let standardization, standardization.features != featureNames.count {
      // The feature names agree with the model's inputs when those are known.
      let other =
        inputs == nil
        ? "the \"feature_names\" entry has \(Self.count(featureNames.count, "name"))"
        : "the model takes \(Self.count(featureNames.count, "input"))"
      throw bad(
        "the \"standardization\" entry has \(Self.count(standardization.features, "feature")), \(other)")
    }
    // A classifier's outputs are not mapped back, so its target standardization is unused.
    targetStandardization =
      m["target_standardization"] == nil || task.classes != nil
      ? nil : try decode(Standardization.self, "target_standardization")
    plan = m["column_plan"] == nil ? nil : try decode(ColumnPlan.self, "column_plan", snakeCase: true)
    if let plan {
      guard plan.inputNames == featureNames else {
        throw bad("the \"column_plan\" entry's inputs do not match the \"feature_names\" entry")
      }
      if let feature = plan.features.first(where: { $0.categories == nil && !($0.median ?? 0).isFinite }) {
        throw bad("the \"column_plan\" entry's median of \(MessageText.quoted(feature.name)) is not finite")
      }
      // Bin edges belong to number columns and must rise: anything else would feed the model
      // NaN or nonsense that predict would then blame on the data.
      if let feature = plan.features.first(where: { feature in
        guard let edges = feature.edges else { return false }
        return feature.categories != nil || edges.count < 2 || !edges.allSatisfy(\.isFinite)
          || zip(edges, edges.dropFirst()).contains { !($0 < $1) }
      }) {
        throw bad(
          "the \"column_plan\" entry's bin edges of \(MessageText.quoted(feature.name)) are not "
            + "at least two finite, increasing numbers of a number column")
      }
      if task.classes != nil, plan.numericClasses == true,
        classNames?.contains(where: { !ClassLabels.isNumber($0) }) ?? true
      {
        throw bad("the \"column_plan\" entry says the classes are numbers, the \"class_names\" entry does not")
      }
      // What `bump train` always writes beside a plan, and prediction needs: the names of
      // name classes (without them predictions would be class numbers), and each number
      // column's median (a missing cell would silently become 0).
      if task.classes != nil, plan.numericClasses == false, classNames == nil {
        throw bad("the \"column_plan\" entry says the classes are names, but there is no \"class_names\" entry")
      }
      if plan.missing != .error, let feature = plan.features.first(where: { $0.categories == nil && $0.median == nil }) {
        throw bad(
          "the \"column_plan\" entry has no median for the number column \(MessageText.quoted(feature.name)), which fills its missing cells")
      }
    }
    // The metrics are only reported.
    metrics =
      m["metrics"] == nil ? nil : try? decode(RunMetrics.self, "metrics", snakeCase: true)
    configuration = m["training_config"].flatMap { try? TrainingConfiguration(json: $0) }
    // A run that standardized its inputs or target wrote the map it used; without it the
    // model would be fed, or would answer in, the wrong units.
    if configuration?.standardize == true, standardization == nil {
      throw bad("the training configuration says the features were standardized, but there is no \"standardization\" entry")
    }
    if configuration?.standardizeTarget == true, task.classes == nil, targetStandardization == nil {
      throw bad(
        "the training configuration says the target was standardized, but there is no \"target_standardization\" entry")
    }
    // Reported only; an ensemble's models are counted by the checkpoint itself.
    finalModel = m["final_model"] == nil ? nil : try? decode(FinalModelRecord.self, "final_model", snakeCase: true)
    // Used by predict and evaluate: a malformed one is an error, not silently no abstention.
    support =
      m[SupportCalibration.metadataKey] == nil
      ? nil : try decode(SupportCalibration.self, SupportCalibration.metadataKey)
    status = m["status"] ?? "unknown"
    epochsCompleted = m["epochs_completed"].flatMap { Int($0) } ?? 0
  }

  /// A regression model's outputs in the target's own units: `outputs` mapped back through
  /// ``targetStandardization``, or unchanged without one.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` if the column count is
  ///   not the standardization's.
  func naturalUnits<Element: MatrixScalar>(_ outputs: Matrix<Element>) throws -> Matrix<Element> {
    try targetStandardization.map { try $0.invert(outputs) } ?? outputs
  }

  /// `n` and `noun`, plural unless `n` is 1: "1 name", "2 names".
  static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

  /// The plan to read a CSV file with: the stored one, or for a checkpoint without one,
  /// every feature as numbers and a missing cell an error (as before plans).
  var columnPlan: ColumnPlan {
    plan ?? .legacy(featureNames: featureNames, numericClasses: task.classes == nil ? nil : classNames == nil)
  }

  /// The display name of class `k`.
  func className(_ k: Int) -> String { classNames?[k] ?? String(k) }

  static func json<T: Encodable>(_ value: T, snakeCase: Bool = false) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    if snakeCase { encoder.keyEncodingStrategy = .convertToSnakeCase }
    return String(decoding: try encoder.encode(value), as: UTF8.self)
  }
}

extension ModelInfo {
  /// What `predict` and `evaluate` say about a checkpoint of a `bump train` run that did not
  /// finish (its status is not "complete"), or nil: its predictions come from the weights it
  /// holds, which for status "initial" are untrained.
  func unfinishedRunNote(path: String) -> String? {
    switch status {
    case "complete", "unknown": return nil
    case _ where status == "initial" || epochsCompleted == 0:
      return "\(MessageText.quoted(path)) holds the initial weights of a run that finished no epoch "
        + "(status \(status)): its outputs are those of an untrained model"
    default:
      return "\(MessageText.quoted(path)) is from a run that did not finish (status \(status), "
        + "\(epochsCompleted) epoch\(epochsCompleted == 1 ? "" : "s") completed): its outputs are those of the weights it holds"
    }
  }
}
