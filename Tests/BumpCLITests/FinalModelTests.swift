import ArgumentParser
@testable import BumpCLI
import BumpKit
import Foundation
import Testing
import BumpTestSupport

/// `bump train --final-model`: after early stopping has picked the epoch budget E, the run
/// ends with the early-stopped model, a refit on all non-test rows for E epochs, or the
/// ensemble of both (the default); the choice is recorded in the summary, the checkpoint and
/// `inspect`, and `predict` and `evaluate` combine an ensemble's models.
@Suite struct FinalModelTests {
  private static let unlimited = MemoryBudget(bytes: Int.max, source: "a test")

  // MARK: - Helpers (this file's own)

  private static func metadata(_ path: String) throws -> [String: String] {
    try SafetensorsFile.read(from: path).metadata
  }

  private static func record(_ path: String) throws -> FinalModelRecord? {
    guard let text = try metadata(path)["final_model"] else { return nil }
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(FinalModelRecord.self, from: Data(text.utf8))
  }

  private static func metrics(_ path: String) throws -> RunMetrics {
    let text = try #require(try metadata(path)["metrics"])
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(RunMetrics.self, from: Data(text.utf8))
  }

  /// The `prediction` column of `bump predict` (regression), or its probability columns.
  private static func predict(_ model: String, _ csv: String) throws -> [[Double]] {
    let result = try BumpExecutable.run(["predict", "--model", model, "--data", csv])
    #expect(result.status == 0, "\(result.stderr)")
    let lines = result.stdout.split(separator: "\n").dropFirst()
    return lines.map { line in
      let cells = line.split(separator: ",", omittingEmptySubsequences: false)
      // A classifier's first cell is the class name.
      let numbers = cells.count > 1 ? cells.dropFirst() : cells[...]
      return numbers.map { Double($0) ?? .nan }
    }
  }

  private static func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-5) -> Bool {
    abs(a - b) <= tolerance * max(1, abs(a), abs(b))
  }

  /// A regression file (`id`, `x`, `y`) whose validation rows (for `--seed 3`, 200 rows)
  /// carry what the training rows lack: the training rows have x in [0, 1] or [2, 3] and
  /// y = 2x − 3, a line through 0 at x = 1.5; the validation rows fill the gap between, x in
  /// [1.3, 1.7], with y = −6. Written with fixed widths, so that the file's
  /// bytes per row do not depend on the values.
  private static func informativeValidationFile(in scratch: TemporaryFolder) throws -> (csv: String, validationIDs: Set<Int>) {
    let rows = 200
    func write(_ path: String, _ row: (Int) -> (x: Double, y: Double)) throws {
      var text = "id,x,y\n"
      for i in 0..<rows {
        let (x, y) = row(i)
        text += String(format: "%03d,%.4f,%.4f\n", i, x, y)
      }
      try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
    // Which rows the validation split takes: read from a file of the same shape, the id a
    // feature.
    let probe = scratch.path("probe.csv")
    try write(probe) { i in (Double(i % 10) / 10, 0) }
    func parts(_ csv: String, _ extra: [String]) throws -> PreparedData<Float> {
      try PreparedData<Float>(
        try trainConfiguration(["--data", csv, "--target", "y", "--task", "regression", "--seed", "3", "--no-standardize"] + extra),
        budget: Self.unlimited)
    }
    let probed = try parts(probe, [])
    let validation = try #require(probed.validation)
    let ids = Set((0..<validation.count).map { Int(validation.x[$0, 0]) })
    #expect(ids.count == 40)
    var generator = SplitMix64(seed: 9)
    let csv = scratch.path("informative.csv")
    try write(csv) { i in
      if ids.contains(i) { return (generator.uniform(1.3, 1.7), -6) }
      let x = generator.uniform(0, 1) + (i % 2 == 0 ? 0 : 2)
      return (x, 2 * x - 3)
    }
    // The split is the same on this file: its validation rows are those in the gap.
    let data = try parts(csv, ["--ignore", "id"])
    let x = try #require(data.validation).x
    func inGap(_ v: Float) -> Bool { v > 1.2 && v < 1.8 }
    try #require((0..<x.rows).allSatisfy { inGap(x[$0, 0]) }, "the validation split took other rows")
    try #require((0..<data.training.x.rows).allSatisfy { !inGap(data.training.x[$0, 0]) })
    return (csv, ids)
  }

  // MARK: - Every row used

  /// The refit learns from the validation rows: where only they say anything (x in [1.3,
  /// 1.7], y = −6), the refit predicts about −6 and the early-stopped model, which never
  /// trained on them, about the line's 0; the ensemble's prediction is the mean of the two runs' models. (Without
  /// early stopping, whose budget such a validation part would make short, the budget E is
  /// the 60 epochs trained.)
  @Test func theRefitTrainsOnTheValidationRows() throws {
    let scratch = try TemporaryFolder()
    let (csv, ids) = try Self.informativeValidationFile(in: scratch)
    let options = [
      "--data", csv, "--target", "y", "--task", "regression", "--ignore", "id", "--seed", "3",
      "--layers", "16", "--lr", "0.01", "--epochs", "60", "--patience", "0", "--refits", "1",
    ]
    var models: [String: String] = [:]
    for choice in ["early-stopped", "refit", "ensemble"] {
      let run = scratch.path(choice)
      try TrainCommand.parse(options + ["--final-model", choice, "--output", run]).train()
      models[choice] = run + "/model.safetensors"
    }
    let query = scratch.path("query.csv")
    try "x\n1.5\n1.4\n0.5\n".write(toFile: query, atomically: true, encoding: .utf8)
    let early = try Self.predict(models["early-stopped"]!, query).map { $0[0] }
    let refit = try Self.predict(models["refit"]!, query).map { $0[0] }
    let ensemble = try Self.predict(models["ensemble"]!, query).map { $0[0] }
    #expect(refit[0] < -3.5 && refit[1] < -3.5, "the refit learnt y = −6 in the gap: \(refit)")
    #expect(early[0] > -2.5 && early[1] > -2.5, "the early-stopped model never saw those rows: \(early)")
    #expect(abs(early[2] + 2) < 0.5 && abs(refit[2] + 2) < 1, "both learnt y = 2x − 3 at x = 0.5: \(early), \(refit)")
    for i in 0..<3 {
      #expect(Self.close(ensemble[i], (refit[i] + early[i]) / 2), "row \(i): \(ensemble[i]) vs \(refit[i]), \(early[i])")
    }
    // All 200 rows, the 40 validation rows included, in the record.
    let record = try #require(try Self.record(models["refit"]!))
    #expect(record.refitRows == 200 && record.members == 1 && record.choice == .refit)
    #expect(ids.count == 40)
    let history = try String(contentsOfFile: scratch.path("refit") + "/history.csv", encoding: .utf8)
    #expect(
      history == (try String(contentsOfFile: scratch.path("early-stopped") + "/history.csv", encoding: .utf8)),
      "the refit leaves the early-stopping history alone")
    #expect(history.split(separator: "\n").count - 1 == 60)
    #expect(record.earlyStoppingEpoch == 60 && record.refitEpochs == 60)
  }

  /// With a test part, the refit trains on the training and validation rows only: the test
  /// rows stay unseen, and the test metrics are the final model's, as `evaluate` scores them.
  @Test func theTestRowsStayOutOfTheRefitAndEvaluateAgrees() throws {
    let scratch = try TemporaryFolder()
    let csv = scratch.path("rings.csv")
    // A classifier: 3 classes by the angle of (a, b), with noise.
    var generator = SplitMix64(seed: 4)
    var text = "a,b,label\n"
    for _ in 0..<300 {
      let (a, b) = (generator.uniform(-1, 1), generator.uniform(-1, 1))
      let angle = atan2(b, a) + generator.uniform(-0.3, 0.3)
      text += String(format: "%.4f,%.4f,%@\n", a, b, angle < -1 ? "low" : angle < 1 ? "mid" : "high")
    }
    try text.write(toFile: csv, atomically: true, encoding: .utf8)
    let run = scratch.path("run")
    try TrainCommand.parse([
      "--data", csv, "--target", "label", "--task", "classification", "--test-split", "0.2",
      "--layers", "12", "--epochs", "40", "--patience", "5", "--seed", "2", "--output", run,
    ]).train()
    let model = run + "/model.safetensors"
    let record = try #require(try Self.record(model))
    #expect(
      record.choice == .ensemble && record.members == 6,
      "the default for classification on a file: 5 refits and the early-stopped model")
    #expect(record.refitRows == 240, "300 rows less the 60 test rows")
    let metadata = try Self.metadata(model)
    #expect(metadata[Checkpoint.ensembleKey] == "6")
    #expect(metadata[Checkpoint.resumeStateKey] == nil)

    // The test rows, written out, scored by evaluate: the stored test metrics.
    let data = try PreparedData<Float>(
      try trainConfiguration(["--data", csv, "--target", "label", "--task", "classification", "--test-split", "0.2", "--seed", "2"]),
      budget: Self.unlimited)
    let lines = text.split(separator: "\n")
    let held = scratch.path("held.csv")
    try ([String(lines[0])] + data.testRows.map { String(lines[$0 + 1]) }).joined(separator: "\n")
      .appending("\n").write(toFile: held, atomically: true, encoding: .utf8)
    let stored = try Self.metrics(model)
    let evaluate = try BumpExecutable.run(["evaluate", "--model", model, "--data", held])
    #expect(evaluate.status == 0, "\(evaluate.stderr)")
    #expect(evaluate.stdout.contains("Data: \(held), 60 samples"), "\(evaluate.stdout)")
    let loss = try #require(
      evaluate.stdout.split(separator: "\n").first { $0.hasPrefix("loss (softmax): ") }
        .flatMap { Double($0.dropFirst("loss (softmax): ".count)) })
    #expect(Self.close(loss, try #require(stored.testLoss), 1e-4), "\(loss) vs \(String(describing: stored.testLoss))")
    let accuracy = try #require(stored.testAccuracy)
    #expect(evaluate.stdout.contains(String(format: "accuracy: %.2f%%", accuracy * 100)), "\(evaluate.stdout)")

    // predict gives the mean of the six models' probabilities, and evaluate's loss is the
    // cross-entropy of that mean.
    let (members, _) = try Checkpoint.loadEnsemble(Float.self, from: model)
    #expect(members.count == 6)
    let probabilities = try Self.predict(model, held)
    let (ensemble, info) = try ModelFile.load(Float.self, from: model)
    #expect(ensemble.isEnsemble)
    var input = try ModelFile.TableInput<Float>(path: held, info: info, ignoring: [], target: true)
    var crossEntropy = 0.0
    var row = 0
    while let (x, targets) = try input.nextLabelled() {
      let outputs = try members.map { try $0.predict(x) }
      for r in 0..<x.rows {
        let each = outputs.map { Prediction.probabilities(logits: $0, row: r) }
        let mean = (0..<3).map { j in each.reduce(0.0) { $0 + $1[j] } / Double(each.count) }
        for j in 0..<3 {
          #expect(Self.close(probabilities[row][j], mean[j]), "row \(row) class \(j): \(probabilities[row][j]) vs \(mean[j])")
        }
        crossEntropy -= log(mean[Int(targets[r, 0])])
        row += 1
      }
    }
    #expect(row == 60)
    #expect(Self.close(loss, crossEntropy / 60, 1e-4), "\(loss) vs \(crossEntropy / 60)")
  }

  // MARK: - The record

  /// The summary, summary.txt, the checkpoint and inspect name the choice and E; the
  /// validation column is the early-stopped model's, named so; early-stopped leaves no record.
  @Test(arguments: [FinalModelChoice.ensemble, .refit, .earlyStopped])
  func theChoiceIsRecordedEverywhere(choice: FinalModelChoice) throws {
    let scratch = try TemporaryFolder()
    let run = scratch.path("run")
    let train = try BumpExecutable.run([
      "train", "--dataset", "regression", "--samples", "300", "--layers", "8", "--epochs", "30",
      "--patience", "4", "--final-model", choice.rawValue, "--output", run,
    ])
    #expect(train.status == 0, "\(train.stderr)")
    let model = run + "/model.safetensors"
    let summary = try String(contentsOfFile: run + "/summary.txt", encoding: .utf8)
    let metadata = try Self.metadata(model)
    let configuration = try TrainingConfiguration(json: try #require(metadata["training_config"]))
    #expect(configuration.finalModel == choice)
    let inspect = try BumpExecutable.run(["inspect", model])
    #expect(inspect.status == 0, "\(inspect.stderr)")
    let history = try String(contentsOfFile: run + "/history.csv", encoding: .utf8)
    let validationLosses = history.split(separator: "\n").dropFirst().map { line in
      Double(line.split(separator: ",")[2])!
    }
    let stored = try Self.metrics(model)
    if choice == .earlyStopped {
      #expect(try Self.record(model) == nil)
      #expect(metadata[Checkpoint.ensembleKey] == nil)
      #expect(!summary.contains("Final model") && summary.contains("Metrics ("), "\(summary)")
      #expect(!inspect.stdout.contains("final model:") && !inspect.stdout.contains("ensemble"), "\(inspect.stdout)")
      return
    }
    let record = try #require(try Self.record(model))
    #expect(record.choice == choice)
    // The default: 3 refits, and for an ensemble the early-stopped model.
    let members = choice == .ensemble ? 4 : 3
    #expect(record.members == members && record.refits == 3)
    #expect(metadata[Checkpoint.ensembleKey] == "\(members)")
    #expect(record.refitRows == 300, "the training and validation rows of the 300 generated")
    // E is the epoch whose weights early stopping kept: about the least validation loss
    // (an improvement smaller than --min-delta does not count).
    let e = record.earlyStoppingEpoch
    #expect(e >= 1 && e <= validationLosses.count)
    #expect(validationLosses[e - 1] <= validationLosses.min()! * 1.01, "\(record) vs \(validationLosses)")
    for text in [summary, train.stdout] {
      #expect(text.contains("Final model (--final-model \(choice.rawValue)): "), "\(text)")
      #expect(text.contains("for \(e) epochs"), "\(text)")
      #expect(text.contains("validation: the early-stopped model of epoch \(e)"), "\(text)")
      #expect(text.contains("3 refits: \(e) epochs on 300 rows each"), "\(text)")
    }
    // The refits' progress: one plain line per epoch, counted from 1 to E for each refit,
    // after a line that announces them.
    let refitLines = try #require(
      train.stdout.components(separatedBy: "Refitting on all 300 training and validation rows for \(e) epochs").last)
    let epochLines = refitLines.split(separator: "\n").filter { $0.hasPrefix("epoch ") }
    #expect(epochLines.count == 3 * e && epochLines.last?.contains("\(e)/\(e)") == true, "\(train.stdout)")
    #expect(!refitLines.contains("val_loss"), "no validation in the refit")
    // The validation loss shown is the early-stopped model's: history's at epoch E.
    let validation = try #require(stored.validationLoss)
    #expect(Self.close(validation, validationLosses[e - 1], 1e-3), "\(validation) vs \(validationLosses[e - 1])")
    #expect(inspect.stdout.contains("final model: \(choice.rawValue), "), "\(inspect.stdout)")
    #expect(inspect.stdout.contains("validation loss (early-stopped model) "), "\(inspect.stdout)")
    #expect(inspect.stdout.contains("an ensemble of \(members) models"), "\(inspect.stdout)")
    #expect(inspect.stdout.contains("final model: \(choice.rawValue)"), "\(inspect.stdout)")
  }

  /// Without early stopping (`--patience 0`) the budget is the epochs trained and the model
  /// trained with a validation part is the last epoch's: the summary, the record and
  /// `inspect` say so, and call nothing "early-stopped".
  @Test func withoutEarlyStoppingNothingIsCalledEarlyStopped() throws {
    let scratch = try TemporaryFolder()
    let run = scratch.path("run")
    let train = try BumpExecutable.run([
      "train", "--dataset", "regression", "--samples", "300", "--layers", "8", "--epochs", "6",
      "--patience", "0", "--refits", "2", "--output", run,
    ])
    #expect(train.status == 0, "\(train.stderr)")
    let model = run + "/model.safetensors"
    let record = try #require(try Self.record(model))
    #expect(record.earlyStopping == false && record.earlyStoppingEpoch == 6 && record.members == 3)
    let summary = try String(contentsOfFile: run + "/summary.txt", encoding: .utf8)
    let inspect = try BumpExecutable.run(["inspect", model])
    #expect(inspect.status == 0, "\(inspect.stderr)")
    for text in [summary, train.stdout, inspect.stdout] {
      #expect(!text.contains("early-stopped") && !text.contains("early-stopping epoch"), "\(text)")
    }
    #expect(summary.contains("the mean of the model of the last epoch (epoch 6) and 2 refits"), "\(summary)")
    #expect(summary.contains("validation: the model of the last epoch (6), whose epochs set the budget"), "\(summary)")
    #expect(train.stdout.contains("for 6 epochs (the epochs trained, without early stopping), 2 times"), "\(train.stdout)")
    #expect(inspect.stdout.contains("validation loss (model of the last epoch) "), "\(inspect.stdout)")
    #expect(inspect.stdout.contains("of model 2 (the model of the last epoch)"), "\(inspect.stdout)")
    // A radial model's support calibration names the model it was set with alike.
    let radial = scratch.path("radial")
    let radialRun = try BumpExecutable.run([
      "train", "--dataset", "rings", "--samples", "1000", "--radial", "--layers", "8", "--epochs", "4",
      "--patience", "0", "--output", radial,
    ])
    #expect(radialRun.status == 0, "\(radialRun.stderr)")
    let radialSummary = try String(contentsOfFile: radial + "/summary.txt", encoding: .utf8)
    #expect(
      radialSummary.contains("validation rows by the model of the last epoch, which did not train on them")
        && !radialSummary.contains("early-stopped"), "\(radialSummary)")
    // A record written before the entry existed reads as early stopping.
    let old = try JSONDecoder().decode(
      FinalModelRecord.self,
      from: Data(#"{"choice":"ensemble","earlyStoppingEpoch":4,"refitEpochs":4,"refitRows":10,"members":2}"#.utf8))
    #expect(old.earlyStopping == nil && old.description.hasPrefix("the mean of the early-stopped model (epoch 4)"))
  }

  /// A regression ensemble predicts the mean of its models' predictions, in the target's units.
  @Test func aRegressionEnsemblePredictsTheMeanOfItsModels() throws {
    let scratch = try TemporaryFolder()
    let run = scratch.path("run")
    try TrainCommand.parse([
      "--dataset", "regression", "--samples", "200", "--layers", "6", "--epochs", "15", "--output", run,
    ]).train()
    let model = run + "/model.safetensors"
    let (ensemble, _) = try ModelFile.load(Float.self, from: model)
    #expect(ensemble.members.count == 4, "the default: 3 refits and the early-stopped model")
    try Self.expectMeanOfDistinctMembers(model, scratch)
  }

  /// Predicts two rows with `bump predict` from the regression checkpoint `model` and expects
  /// each prediction to be the mean of the members' predictions in the target's units, and
  /// every member to predict differently (the refits start from different weights).
  static func expectMeanOfDistinctMembers(_ model: String, _ scratch: TemporaryFolder) throws {
    let (ensemble, info) = try ModelFile.load(Float.self, from: model)
    let csv = scratch.path("x.csv")
    try "x0,x1,x2,x3\n0.1,0.2,0.3,0.4\n-1,0.5,2,0\n".write(toFile: csv, atomically: true, encoding: .utf8)
    let predicted = try predict(model, csv).map { $0[0] }
    let x = try Matrix<Float>([[0.1, 0.2, 0.3, 0.4], [-1, 0.5, 2, 0]])
    let each = try ensemble.members.map { try info.naturalUnits($0.predict(x)) }
    for r in 0..<2 {
      let mean = each.reduce(0.0) { $0 + Double($1[r, 0]) } / Double(each.count)
      #expect(close(predicted[r], mean), "\(predicted[r]) vs \(mean)")
      let values = Set(each.map { $0[r, 0] })
      #expect(values.count == each.count, "\(each.map { $0[r, 0] })")
    }
  }

  /// `--refits 3`: three refits from different initial weights, averaged with the
  /// early-stopped model (four models) or alone (three); the record, the checkpoint and
  /// `inspect` count them, and the prediction is the mean of all the models.
  @Test(arguments: [FinalModelChoice.ensemble, .refit])
  func moreRefitsAreMoreModelsAveraged(choice: FinalModelChoice) throws {
    let scratch = try TemporaryFolder()
    let run = scratch.path("run")
    try TrainCommand.parse([
      "--dataset", "regression", "--samples", "200", "--layers", "6", "--epochs", "15",
      "--final-model", choice.rawValue, "--refits", "3", "--output", run,
    ]).train()
    let model = run + "/model.safetensors"
    let members = choice == .ensemble ? 4 : 3
    let record = try #require(try Self.record(model))
    #expect(record.members == members && record.refits == 3)
    #expect(try Self.metadata(model)[Checkpoint.ensembleKey] == "\(members)")
    #expect(record.description.contains("3 refits"), "\(record.description)")
    let (ensemble, info) = try ModelFile.load(Float.self, from: model)
    #expect(ensemble.members.count == members)
    #expect(info.configuration?.refits == 3)
    try Self.expectMeanOfDistinctMembers(model, scratch)
    let inspect = try BumpExecutable.run(["inspect", model])
    #expect(inspect.status == 0, "\(inspect.stderr)")
    #expect(inspect.stdout.contains("an ensemble of \(members) models"), "\(inspect.stdout)")
    #expect(inspect.stdout.contains("3 refits"), "\(inspect.stdout)")
  }

  @Test func theFirstRefitKeepsTheRunSeedAndFurtherOnesGetTheirOwn() {
    #expect(TrainingRun<Float>.refitSeed(7, index: 0) == 7)
    let seeds = (0..<5).map { TrainingRun<Float>.refitSeed(7, index: $0) }
    #expect(Set(seeds).count == 5)
    #expect(TrainingRun<Float>.refitSeed(8, index: 1) != TrainingRun<Float>.refitSeed(7, index: 1))
  }

  // MARK: - Determinism and resuming

  @Test func aSeedGivesTheSameFinalModel() throws {
    let scratch = try TemporaryFolder()
    var tensors: [[String: [Float]]] = []
    for name in ["a", "b"] {
      let run = scratch.path(name)
      try TrainCommand.parse([
        "--dataset", "rings", "--samples", "300", "--layers", "8", "--epochs", "25", "--seed", "7", "--output", run,
      ]).train()
      let file = try SafetensorsFile.read(from: run + "/model.safetensors")
      tensors.append(Dictionary(uniqueKeysWithValues: try file.names.map { ($0, try file.tensors[$0]!.floats()) }))
    }
    #expect(tensors[0].keys.contains { $0.hasPrefix("ensemble.1.") })
    #expect(tensors[0] == tensors[1])
  }

  /// A run stopped during early stopping's training resumes to the final model of an
  /// uninterrupted run; one stopped during the refit is refused clearly.
  @Test func resumingWorksBeforeTheRefitAndIsRefusedDuringIt() throws {
    let scratch = try TemporaryFolder()
    let options = ["--dataset", "regression", "--samples", "200", "--layers", "6", "--epochs", "12", "--seed", "4"]
    let configuration = try TrainCommand.parse(options).resolvedConfiguration()
    #expect(configuration.finalModel == .ensemble)
    let whole = scratch.path("whole"), cut = scratch.path("cut"), resumed = scratch.path("resumed")
    try TrainCommand.parse(options + ["--output", whole]).train()
    #expect(throws: CLIError.self) {
      try TrainingRun<Float>(configuration: configuration, output: cut, checkpointInterval: .zero, failAfterEpochs: 3).run()
    }
    try TrainCommand.parse(["--resume", cut + "/model.safetensors", "--output", resumed]).train()
    func tensors(_ run: String) throws -> [String: [Float]] {
      let file = try SafetensorsFile.read(from: run + "/model.safetensors")
      return Dictionary(uniqueKeysWithValues: try file.names.map { ($0, try file.tensors[$0]!.floats()) })
    }
    let expected = try tensors(whole)
    #expect(expected.keys.contains { $0.hasPrefix("ensemble.1.") })
    #expect(try tensors(resumed) == expected)
    // Another --final-model than the run's is refused.
    let other = #expect(throws: ValidationError.self) {
      _ = try TrainCommand.parse(["--resume", cut + "/model.safetensors", "--final-model", "refit"])
        .resumedConfiguration(cut + "/model.safetensors")
    }
    #expect("\(other!)".contains("--final-model refit, the run's is ensemble"), "\(other!)")

    // Stopped in the refit: the checkpoint holds the early-stopped model, marked, and
    // --resume says why it cannot continue.
    /// A run of `configuration` stopped in its refit: its checkpoint, summary, and the
    /// messages of the failure and of `--resume`.
    func stoppedInRefit(_ configuration: TrainingConfiguration, _ name: String) throws -> (
      path: String, summary: String, error: String, refused: String
    ) {
      let folder = scratch.path(name)
      let error = #expect(throws: CLIError.self) {
        try TrainingRun<Float>(
          configuration: configuration, output: folder, checkpointInterval: .zero, failAfterRefitEpochs: 2
        ).run()
      }
      let path = folder + "/model.safetensors"
      let refused = #expect(throws: CLIError.self) {
        try TrainCommand.parse(["--resume", path, "--output", scratch.path("again")]).train()
      }
      #expect(!FileManager.default.fileExists(atPath: scratch.path("again")))
      return (
        path, try String(contentsOfFile: folder + "/summary.txt", encoding: .utf8), "\(error.map { "\($0)" } ?? "none")",
        "\(refused.map { "\($0)" } ?? "none")"
      )
    }
    let (path, summary, error, refused) = try stoppedInRefit(configuration, "refitting")
    #expect(error.contains("of the refit on all rows"), "\(error)")
    let metadata = try Self.metadata(path)
    #expect(metadata["status"] == "failed")
    #expect(metadata[TrainingRun<Float>.refitPhaseKey] != nil)
    #expect(metadata[Checkpoint.ensembleKey] == nil)
    #expect(summary.contains("early-stopped model"), "\(summary)")
    #expect(refused.contains("a refit cannot be resumed"), "\(refused)")
    // The early-stopped model it holds still predicts.
    let csv = scratch.path("x.csv")
    try "x0,x1,x2,x3\n0.1,0.2,0.3,0.4\n".write(toFile: csv, atomically: true, encoding: .utf8)
    #expect(try Self.predict(path, csv).count == 1)

    // Without early stopping the model held is the last epoch's, and every message says so.
    let plain = try stoppedInRefit(
      try TrainCommand.parse(options + ["--patience", "0"]).resolvedConfiguration(), "refitting-plain")
    #expect(plain.error.contains("of the refit on all rows"), "\(plain.error)")
    #expect(plain.summary.contains("model of the last epoch") && !plain.summary.contains("early"), "\(plain.summary)")
    #expect(
      plain.refused.contains("after training had finished; a refit cannot be resumed. The checkpoint holds the model of the last epoch"),
      "\(plain.refused)")
  }

  // MARK: - Options

  @Test(arguments: [
    (["--final-model", "average"], "average"),
    (["--final-model", "refit", "--validation-split", "0"], "--final-model refit needs a validation part"),
    (["--final-model", "ensemble", "--validation-split", "0"], "--final-model ensemble needs a validation part"),
    (["--refits", "0"], "--refits must be at least 1"),
    (["--refits", "2", "--final-model", "early-stopped"], "--refits 2 needs --final-model ensemble or refit"),
    (["--refits", "2", "--validation-split", "0"], "--refits 2 needs --final-model ensemble or refit"),
    (["--label-smoothing", "1"], "--label-smoothing must be in [0, 1)"),
    (["--label-smoothing", "0.1", "--dataset", "regression"], "--label-smoothing needs --loss softmax"),
  ])
  func badFinalModelOptionsAreOneLineMessages(arguments: [String], message expected: String) throws {
    try expectOneLineTrainError(arguments, containing: expected)
  }

  @Test func theDefaultIsTheEnsembleWhereThereIsAValidationPart() throws {
    #expect(try trainConfiguration([]).finalModel == .ensemble)
    #expect(try trainConfiguration(["--final-model", "early-stopped"]).finalModel == .earlyStopped)
    #expect(try trainConfiguration(["--validation-split", "0"]).finalModel == nil)
    #expect(try trainConfiguration(["--validation-split", "0", "--final-model", "early-stopped"]).finalModel == nil)
    #expect(try trainConfiguration(["--patience", "0"]).finalModel == .ensemble, "the budget is then the epochs trained")
    #expect(try trainConfiguration([]).refits == 3)
    #expect(try trainConfiguration(["--refits", "1"]).refits == nil, "one refit is stored as nil")
    #expect(try trainConfiguration(["--final-model", "early-stopped"]).refits == nil)
    #expect(try trainConfiguration(["--refits", "1"]).refits == nil)
    #expect(try trainConfiguration([]).labelSmoothing == nil)
    #expect(try trainConfiguration(["--label-smoothing", "0.1"]).labelSmoothing == 0.1)
  }

  /// Classification on a CSV file defaults to one hidden layer of 128 units and 5 refits
  /// (docs/real-data.md, 2026-12-07); regression, the built-in data sets and radial models keep
  /// 32,32 and 3 refits, and `--layers 32,32 --refits 3` gives the classification run of before.
  @Test func classificationOnAFileDefaultsToOneWideLayerAndFiveRefits() throws {
    let file = ["--data", "file.csv", "--target", "y"]
    let classification = try trainConfiguration(file + ["--task", "classification"])
    #expect(classification.hiddenLayers == [128])
    #expect(classification.refits == 5)
    #expect(classification.finalModel == .ensemble)
    let regression = try trainConfiguration(file + ["--task", "regression"])
    #expect(regression.hiddenLayers == [32, 32])
    #expect(regression.refits == 3)
    let before = try trainConfiguration(file + ["--task", "classification", "--layers", "32,32", "--refits", "3"])
    #expect(before.hiddenLayers == [32, 32] && before.refits == 3)
    // Everything else as the classification default of before.
    var same = classification
    same.hiddenLayers = [32, 32]
    same.refits = 3
    #expect(same == before)
    let builtIn = try trainConfiguration(["--dataset", "rings"])
    #expect(builtIn.hiddenLayers == [32, 32] && builtIn.refits == 3)
    for radial in [["--radial"], ["--radial-last"]] {
      let c = try trainConfiguration(file + ["--task", "classification"] + radial)
      #expect(c.hiddenLayers == [32, 32] && c.refits == 3, "\(radial)")
    }
    #expect(try trainConfiguration(file + ["--task", "classification", "--layers", "16"]).refits == 5)
    #expect(try trainConfiguration(file + ["--task", "classification", "--refits", "2"]).hiddenLayers == [128])
    #expect(try trainConfiguration(file + ["--task", "classification", "--final-model", "early-stopped"]).refits == nil)
  }

  /// The memory estimate counts the refit: its rows laid end to end and a second model.
  @Test func theMemoryEstimateCountsTheRefit() throws {
    func total(_ arguments: [String]) throws -> Double {
      MemoryBudget.trainingEstimate(
        try trainConfiguration(arguments), rows: 10_000, features: 10, outputs: 1, scalarBytes: 4
      ).reduce(0) { $0 + $1.bytes }
    }
    let early = try total(["--final-model", "early-stopped"])
    for choice in ["refit", "ensemble"] {
      let extra = try total(["--final-model", choice]) - early
      #expect(extra >= 10_000 * 11 * 4 + 2 * 1_441 * 4, "\(choice): \(extra) bytes more")
    }
    #expect(try total(["--validation-split", "0"]) == (try total(["--validation-split", "0", "--final-model", "early-stopped"])))
    let more = try total([]) - (try total(["--refits", "1"]))
    #expect(more >= 2 * 2 * 1_441 * 4, "two more refits' models: \(more) bytes more")
  }

  // MARK: - The checkpoint

  @Test func ensembleCheckpointsRoundTripAndAreCheckedAsCheckpointsAre() throws {
    let scratch = try TemporaryFolder()
    let a = try Sequential<Float>(layers: [try Dense<Float>(inputSize: 3, outputSize: 2)], seed: 1)
    let b = try Sequential<Float>(layers: [try Dense<Float>(inputSize: 3, outputSize: 2)], seed: 2)
    let path = scratch.path("e.safetensors")
    try Checkpoint.saveEnsemble([a, b], to: path, metadata: ["note": "x"])
    let (models, metadata) = try Checkpoint.loadEnsemble(Float.self, from: path)
    #expect(metadata["note"] == "x" && metadata[Checkpoint.ensembleKey] == "2")
    #expect(models.count == 2)
    #expect(models[0].parameters.map(\.value) == a.parameters.map(\.value))
    #expect(models[1].parameters.map(\.value) == b.parameters.map(\.value))
    #expect(try Checkpoint.header(at: path).tensors.count == 4)
    // A single-model load refuses it rather than take its first model alone.
    let single = #expect(throws: CheckpointError.self) { _ = try Checkpoint.load(Float.self, from: path) }
    #expect("\(single!)".contains("an ensemble of 2 models"), "\(single!)")
    // A plain checkpoint is an ensemble of one.
    let plain = scratch.path("p.safetensors")
    try Checkpoint.save(a, to: plain)
    #expect(try Checkpoint.loadEnsemble(Float.self, from: plain).models.count == 1)

    var file = try SafetensorsFile.read(from: path)
    // A member's tensor beyond the count, a missing member tensor, a bad count: refused.
    var stray = file
    try stray.insert(file.tensors["layers.0.bias"]!, named: "ensemble.2.layers.0.bias")
    let strayPath = scratch.path("stray.safetensors")
    try stray.write(to: strayPath)
    #expect(throws: CheckpointError.unexpectedTensor(source: strayPath, name: "ensemble.2.layers.0.bias")) {
      _ = try Checkpoint.header(at: strayPath)
    }
    var missing = file
    _ = missing.removeTensor(named: "ensemble.1.layers.0.weight")
    let missingPath = scratch.path("missing.safetensors")
    try missing.write(to: missingPath)
    // Errors in a member name its tensors as stored, with the member's prefix.
    #expect(throws: CheckpointError.missingTensor(source: missingPath, name: "ensemble.1.layers.0.weight")) {
      _ = try Checkpoint.loadEnsemble(Float.self, from: missingPath)
    }
    // A count larger than the members stored: the first missing member's tensor is named.
    var more = file
    more.metadata[Checkpoint.ensembleKey] = "3"
    let morePath = scratch.path("more.safetensors")
    try more.write(to: morePath)
    let moreError = #expect(throws: CheckpointError.self) { _ = try Checkpoint.loadEnsemble(Float.self, from: morePath) }
    #expect("\(moreError!)".contains("missing tensor ensemble.2.layers.0."), "\(moreError!)")
    for count in ["1", "65", "two"] {
      file.metadata[Checkpoint.ensembleKey] = count
      let bad = scratch.path("bad-\(count).safetensors")
      try file.write(to: bad)
      let error = #expect(throws: CheckpointError.self) { _ = try Checkpoint.loadEnsemble(Float.self, from: bad) }
      #expect("\(error!)".contains(Checkpoint.ensembleKey), "\(error!)")
    }
    // Models of different architectures are not an ensemble.
    let c = try Sequential<Float>(layers: [try Dense<Float>(inputSize: 3, outputSize: 1)], seed: 1)
    #expect(throws: BumpKitError.self) { _ = try Checkpoint.encodeEnsemble([a, c]) }
  }

  @Test func combiningAveragesOutputsOrProbabilities() throws {
    let a = try Matrix<Double>([[1, -2, 0.5], [30, 0, -30]])
    let b = try Matrix<Double>([[3, 0, 0.5], [-30, 0, 30]])
    let mean = try ModelEnsemble<Double>.combine([a, b], loss: .mse)
    #expect(mean == (try Matrix<Double>([[2, -1, 0.5], [0, 0, 0]])))
    let softmax = try ModelEnsemble<Double>.combine([a, b], loss: .softmax)
    for r in 0..<2 {
      let p = Prediction.probabilities(logits: softmax, row: r)
      let pa = Prediction.probabilities(logits: a, row: r), pb = Prediction.probabilities(logits: b, row: r)
      for j in 0..<3 { #expect(Self.close(p[j], (pa[j] + pb[j]) / 2, 1e-12), "\(p) vs \(pa), \(pb)") }
    }
    let one = try Matrix<Double>([[40], [-1], [0]]), other = try Matrix<Double>([[-40], [3], [0]])
    let bce = try ModelEnsemble<Double>.combine([one, other], loss: .bce)
    for r in 0..<3 {
      let p = Prediction.probabilities(logits: bce, row: r)[1]
      let expected = (Prediction.probabilities(logits: one, row: r)[1] + Prediction.probabilities(logits: other, row: r)[1]) / 2
      #expect(Self.close(p, expected, 1e-12), "row \(r): \(p) vs \(expected)")
    }
  }
}
