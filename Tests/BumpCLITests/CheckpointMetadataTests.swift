@testable import BumpCLI
import BumpKit
import Foundation
import Testing
import BumpTestSupport

/// The `bump train` metadata of a checkpoint as `predict` and `evaluate` read it, in
/// process: what prediction uses is validated, what it does not use is ignored, and every
/// error names the file.
@Suite(.serialized) struct CheckpointMetadataTests {
  /// A one-epoch model trained on `dataset` (`rings`: a classifier of "inner" and "outer";
  /// `bumps`: a regression), saved in `folder`.
  static func trained(_ dataset: String, in folder: TemporaryFolder) throws -> String {
    let output = folder.path + "/\(dataset)"
    let configuration = try trainConfiguration(
      ["--dataset", dataset, "--epochs", "1", "--samples", "64", "--output", output])
    try TrainingRun<Float>(configuration: configuration, output: output).run()
    return output + "/model.safetensors"
  }

  /// A copy of the checkpoint at `path` with its metadata edited by `edit`.
  static func edited(
    _ path: String, _ name: String, in folder: TemporaryFolder, _ edit: (inout [String: String]) throws -> Void
  ) throws -> String {
    var file = try SafetensorsFile.read(from: path)
    try edit(&file.metadata)
    let copy = folder.path + "/" + name + ".safetensors"
    try file.write(to: copy)
    return copy
  }

  /// The message of the error that loading `path` for prediction throws, or nil.
  static func loadError(_ path: String) -> String? {
    do {
      _ = try ModelFile.load(Float.self, from: path)
      return nil
    } catch {
      return "\(error)"
    }
  }

  /// Sets the feature standardization to means 0 and standard deviations 1, but the first
  /// column's, which are as given (JSON numbers).
  static func setStandardization(
    _ metadata: inout [String: String], firstMean: String = "0", firstStandardDeviation: String = "1"
  ) throws {
    let n = try features(metadata)
    metadata["standardization"] =
      #"{"mean":["# + ([firstMean] + Array(repeating: "0", count: n - 1)).joined(separator: ",")
      + #"],"standardDeviation":["# + ([firstStandardDeviation] + Array(repeating: "1", count: n - 1)).joined(separator: ",") + "]}"
  }

  static func features(_ metadata: [String: String]) throws -> Int {
    try JSONDecoder().decode([String].self, from: Data(try #require(metadata["feature_names"]).utf8)).count
  }

  @Test func metadataThatPredictionUsesIsValidated() throws {
    let folder = try TemporaryFolder()
    let regression = try Self.trained("bumps", in: folder)
    let classifier = try Self.trained("rings", in: folder)
    let cases: [(model: String, name: String, edit: (inout [String: String]) throws -> Void, reason: String)] = [
      (
        regression, "target-sd-zero", { $0["target_standardization"] = #"{"mean":[0],"standardDeviation":[0]}"# },
        #"the "target_standardization" metadata entry is not valid: invalid standardDeviation[0] 0.0: must be finite and > 0"#
      ),
      (
        regression, "target-sd-huge", { $0["target_standardization"] = #"{"mean":[0],"standardDeviation":[1e300]}"# },
        "the target standardization's standard deviation 1e+300 is beyond the range of Float, the model's precision"
      ),
      (
        regression, "feature-sd-zero",
        { try Self.setStandardization(&$0, firstStandardDeviation: "0") },
        #"the "standardization" metadata entry is not valid: invalid standardDeviation[0] 0.0: must be finite and > 0"#
      ),
      // Valid numbers that the float model cannot use: every input of the column infinite.
      (
        regression, "feature-mean-beyond-float",
        { try Self.setStandardization(&$0, firstMean: "1e39") },
        "the standardization's mean 1e+39 is beyond the range of Float, the model's precision"
      ),
      (
        regression, "feature-sd-zero-in-float",
        { try Self.setStandardization(&$0, firstStandardDeviation: "1e-50") },
        "the standardization's standard deviation 1e-50 is 0 in Float, the model's precision"
      ),
      (
        regression, "target-sd-zero-in-float", { $0["target_standardization"] = #"{"mean":[0],"standardDeviation":[1e-50]}"# },
        "the target standardization's standard deviation 1e-50 is 0 in Float, the model's precision"
      ),
      // Without the entries that name bump train, the others still say whose it is.
      (
        regression, "no-task-no-creator", { m in m["task"] = nil; m["created_by"] = nil },
        #"the metadata has no "task" entry (was it written by bump train?)"#
      ),
      (
        classifier, "duplicate-classes", { $0["class_names"] = #"["inner","inner"]"# },
        #"the class name "inner" appears more than once"#
      ),
      // The entry that is wrong is blamed: the feature names, not the standardization that
      // agrees with the model.
      (
        classifier, "one-feature-name", { $0["feature_names"] = #"["x0"]"# },
        #"the "feature_names" entry has 1 name, the model takes 2 inputs"#
      ),
      (
        classifier, "three-feature-standardization",
        { $0["standardization"] = #"{"mean":[0,0,0],"standardDeviation":[1,1,1]}"# },
        #"the "standardization" entry has 3 features, the model takes 2 inputs"#
      ),
      (
        classifier, "three-class-names", { $0["class_names"] = #"["a","b","c"]"# },
        #"the "class_names" entry has 3 names, the "classes" entry says 2"#
      ),
      // A calibration on a model without a radial layer: --coverage and the abstention
      // columns would have no effect.
      (
        classifier, "support-without-radial-layer",
        { $0[SupportCalibration.metadataKey] = try ModelInfo.json(try SupportCalibration(trainingDensities: [1, 2, 3, 4])) },
        #"the "support_calibration" entry calibrates a support score, but the model has no radial layer"#
      ),
    ]
    for c in cases {
      let path = try Self.edited(c.model, c.name, in: folder, c.edit)
      #expect(Self.loadError(path) == "\(path): not a usable bump model: \(c.reason)", "\(c.name)")
      // inspect describes what it can and fails with the same reason.
      let inspect = try CLITrainTests.TrainTool.run(["inspect", path])
      #expect(inspect.status == 1 && inspect.stdout.contains("Architecture (of each model):"), "\(c.name): \(inspect.stdout.prefix(300))")
      #expect(inspect.stderr.contains("\(path): not a usable bump model: \(c.reason)"), "\(c.name): \(inspect.stderr)")
    }
    // A usable one, and a model saved by a program (no bump train metadata), inspect as before.
    for path in [regression, classifier] {
      #expect(try CLITrainTests.TrainTool.run(["inspect", path]).status == 0)
    }
    let plain = try Self.edited(regression, "library-saved", in: folder) { m in
      m = m.filter { Checkpoint.reservedMetadataKeys.contains($0.key) || $0.key == "ensemble_members" }
    }
    let inspected = try CLITrainTests.TrainTool.run(["inspect", plain])
    #expect(inspected.status == 0 && inspected.stdout.contains("none from bump train"), "\(inspected.stderr)\(inspected.stdout.suffix(300))")
  }

  /// A standardization scale far below the spread of the data read (a subnormal scale of a
  /// float model, from an edited checkpoint) makes standardized inputs infinite: predict and
  /// evaluate name the file, the data row and the input, not a matrix inside the model.
  @Test func anInputTheStandardizationCannotBringIntoRangeNamesTheFileAndRow() throws {
    let folder = try TemporaryFolder()
    let regression = try Self.trained("bumps", in: folder)
    var names: [String] = []
    let path = try Self.edited(regression, "subnormal-scale", in: folder) { m in
      names = try JSONDecoder().decode([String].self, from: Data(try #require(m["feature_names"]).utf8))
      try Self.setStandardization(&m, firstStandardDeviation: "1e-40")
    }
    #expect(Self.loadError(path) == nil, "a subnormal scale is a scale: tiny data may need it")
    let data = folder.path + "/rows.csv"
    let row = { (v: String) in Array(repeating: v, count: names.count).joined(separator: ",") }
    try (names.joined(separator: ",") + ",y\n" + row("0") + ",0\n" + row("0.5") + ",1\n")
      .write(toFile: data, atomically: true, encoding: .utf8)
    for command in [["predict"], ["evaluate"]] {
      let result = try CLITrainTests.TrainTool.run(command + ["--model", path, "--data", data])
      #expect(result.status == 1, "\(result.stdout)")
      #expect(
        result.stderr.contains("\(data): data row 2, input \(MessageText.quoted(names[0])): standardized with the checkpoint's mean 0.0 and standard deviation 1e-40, the value is beyond the range of Float"),
        "\(command): \(result.stderr)")
    }
  }

  @Test func metadataThatPredictionDoesNotUseIsIgnored() throws {
    let folder = try TemporaryFolder()
    let regression = try Self.trained("bumps", in: folder)
    let classifier = try Self.trained("rings", in: folder)
    let cases: [(model: String, name: String, edit: (inout [String: String]) -> Void)] = [
      (regression, "metrics", { $0["metrics"] = "{not json" }),
      (regression, "class-names", { $0["class_names"] = "[1, 2" }),
      (classifier, "target-standardization", { $0["target_standardization"] = "garbage" }),
      // Two Unicode spellings of one word are two classes, as training keeps them.
      (classifier, "spellings", { $0["class_names"] = "[\"\u{E9}\",\"e\u{301}\"]" }),
    ]
    for c in cases {
      let path = try Self.edited(c.model, c.name, in: folder, c.edit)
      #expect(Self.loadError(path) == nil, "\(c.name)")
    }
  }

  /// What `bump train` always writes and prediction needs, deleted or contradicted: refused,
  /// naming the entry (each was accepted, and the predictions were silently wrong: in
  /// standardized units, class numbers for names, 0 for a missing cell, one model of an
  /// ensemble dropped).
  @Test func entriesThatTrainingAlwaysWritesMustBeThere() throws {
    let folder = try TemporaryFolder()
    let csv = folder.path + "/pets.csv"
    var text = "size,weight,kind\n"
    for i in 0..<60 { text += "\(i % 7),\(Double(i) / 3),\(i % 2 == 0 ? "cat" : "dog")\n" }
    try text.write(toFile: csv, atomically: true, encoding: .utf8)
    let output = folder.path + "/pets"
    try TrainingRun<Float>(
      configuration: try trainConfiguration(
        ["--data", csv, "--target", "kind", "--task", "classification", "--epochs", "2", "--output", output]),
      output: output
    ).run()
    let classifier = output + "/model.safetensors"
    let regression = try Self.trained("bumps", in: folder)
    #expect(Self.loadError(classifier) == nil && Self.loadError(regression) == nil)
    let cases: [(model: String, name: String, edit: (inout [String: String]) -> Void, message: String)] = [
      (regression, "no-target-standardization", { $0["target_standardization"] = nil },
       "the training configuration says the target was standardized, but there is no \"target_standardization\" entry"),
      (classifier, "no-standardization", { $0["standardization"] = nil },
       "the training configuration says the features were standardized, but there is no \"standardization\" entry"),
      (classifier, "no-class-names", { $0["class_names"] = nil },
       "the \"column_plan\" entry says the classes are names, but there is no \"class_names\" entry"),
      (classifier, "null-median", {
        $0["column_plan"] = $0["column_plan"]!.replacingOccurrences(
          of: #""median":[-0-9.e+]+"#, with: #""median":null"#, options: .regularExpression)
      },
       "the \"column_plan\" entry has no median for the number column \"size\""),
      (regression, "final-model-count", {
        $0["final_model"] = $0["final_model"]!.replacingOccurrences(of: #""members":4"#, with: #""members":2"#)
      }, "the \"final_model\" entry says the final model combines 2 models, the checkpoint holds 4 models"),
    ]
    for c in cases {
      let path = try Self.edited(c.model, c.name, in: folder, c.edit)
      let original = try SafetensorsFile.read(from: c.model).metadata
      #expect(try SafetensorsFile.read(from: path).metadata != original, "\(c.name): the edit changed nothing")
      let message = Self.loadError(path)
      #expect(message?.contains(c.message) == true && message?.contains(path) == true, "\(c.name): \(message ?? "accepted")")
    }
  }

  /// A malformed file read by `predict` and `evaluate`: the message names it.
  @Test func errorsNameTheCheckpoint() throws {
    let folder = try TemporaryFolder()
    let path = folder.path + "/short.safetensors"
    try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
    #expect(
      Self.loadError(path)
        == "\(path): not a usable bump model: truncated safetensors file: 3 bytes, fewer than the 8-byte header length")
  }
}
