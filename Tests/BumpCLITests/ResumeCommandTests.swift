@testable import BumpCLI
import ArgumentParser
import BumpKit
import Foundation
import Testing
import BumpTestSupport

/// The tensors of a checkpoint whose names start with `prefix`, as bytes.
private func storedTensors(_ path: String, prefix: String = "layers.") throws -> [String: [UInt8]] {
  let file = try SafetensorsFile.read(from: path)
  var tensors: [String: [UInt8]] = [:]
  for name in file.names where name.hasPrefix(prefix) { tensors[name] = file.tensors[name]!.data }
  return tensors
}

@Suite("bump train --resume")
struct ResumeCommandTests {
  /// A small run with a cosine schedule (which counts the whole budget) and early stopping.
  static let options = [
    "--dataset", "bumps", "--samples", "240", "--layers", "6,6", "--epochs", "7", "--lr-schedule", "cosine",
    "--batch-size", "16", "--seed", "4", "--patience", "4", "--checkpoint-interval", "0",
  ]

  /// A checkpoint save during training that fails (a full disk for a while) does not lose
  /// the run: training goes on, the next checkpoint tries again, and the final weights are
  /// saved as usual. The run used to train to the end and then fail, keeping the initial
  /// weights.
  @Test func aFailedCheckpointSaveIsRetriedAndTheRunFinishes() throws {
    let folder = try TemporaryFolder()
    let whole = folder.path + "/whole", retried = folder.path + "/retried"
    try TrainCommand.parse(Self.options + ["--output", whole]).train()
    let configuration = try TrainCommand.parse(Self.options).resolvedConfiguration()
    try TrainingRun<Float>(
      configuration: configuration, output: retried, checkpointInterval: .zero, failSavesThroughEpoch: 2
    ).run()
    let file = try SafetensorsFile.read(from: retried + "/model.safetensors")
    #expect(file.metadata["status"] == "complete")
    // The same model as a run whose saves all succeeded.
    #expect(try storedTensors(retried + "/model.safetensors") == storedTensors(whole + "/model.safetensors"))
  }

  /// A run that stops while its saves fail says what the last good checkpoint holds and why
  /// it is not a later one; a save that succeeds afterwards clears the cause.
  @Test func aRunStoppedWhileSavesFailSaysWhatItsCheckpointHolds() throws {
    let folder = try TemporaryFolder()
    let configuration = try TrainCommand.parse(Self.options).resolvedConfiguration()
    let never = folder.path + "/never", later = folder.path + "/later"
    let error = try #require(throws: CLIError.self) {
      try TrainingRun<Float>(
        configuration: configuration, output: never, checkpointInterval: .zero, failAfterEpochs: 3,
        failSavesThroughEpoch: 3
      ).run()
    }
    let summary = try String(contentsOfFile: never + "/summary.txt", encoding: .utf8)
    let cause = "the initial weights (no epoch finished) (saving the checkpoint after epoch 3 failed: no space left on device"
    #expect(summary.contains("model.safetensors holds \(cause)"), "\(summary)")
    #expect(try SafetensorsFile.read(from: never + "/model.safetensors").metadata["epochs_completed"] == "0")
    #expect("\(error)".contains("the last good checkpoint is in \(never)/model.safetensors"), "\(error)")
    // Saves failed after epochs 1 and 2 and succeeded after epoch 3: that checkpoint counts.
    #expect(throws: CLIError.self) {
      try TrainingRun<Float>(
        configuration: configuration, output: later, checkpointInterval: .zero, failAfterEpochs: 3,
        failSavesThroughEpoch: 2
      ).run()
    }
    // Predictions from either checkpoint say what they come from.
    let rows = folder.path + "/rows.csv"
    try "x,y\n0.5,0.1\n-1,0.2\n".write(toFile: rows, atomically: true, encoding: .utf8)
    let untrained = try CLITrainTests.TrainTool.run(["predict", "--model", never + "/model.safetensors", "--data", rows])
    #expect(untrained.status == 0, "\(untrained.stderr)")
    #expect(
      untrained.stderr.contains("holds the initial weights of a run that finished no epoch (status failed)"),
      "\(untrained.stderr)")
    let partly = try CLITrainTests.TrainTool.run(["evaluate", "--model", later + "/model.safetensors", "--data", rows])
    #expect(
      partly.stderr.contains("is from a run that did not finish (status failed, 3 epochs completed)"), "\(partly.stderr)")
    // Every save in training failed, the final one did: a failure in the refit names the
    // final checkpoint, with no word of the old failures.
    let refit = folder.path + "/refit"
    #expect(throws: CLIError.self) {
      try TrainingRun<Float>(
        configuration: configuration, output: refit, checkpointInterval: .zero, failAfterRefitEpochs: 1,
        failSavesThroughEpoch: 1000
      ).run()
    }
    let refitSummary = try String(contentsOfFile: refit + "/summary.txt", encoding: .utf8)
    #expect(refitSummary.contains("model.safetensors holds the early-stopped model"), "\(refitSummary)")
    #expect(!refitSummary.contains("saving the checkpoint after epoch"), "\(refitSummary)")
    let resumable = try String(contentsOfFile: later + "/summary.txt", encoding: .utf8)
    #expect(resumable.contains("model.safetensors holds the weights at the end of epoch 3;"), "\(resumable)")
    #expect(try SafetensorsFile.read(from: later + "/model.safetensors").metadata["epochs_completed"] == "3")
  }

  /// A radial run that did not finish has no support calibration: predict says why its
  /// output lacks in_support and abstain (it said nothing).
  @Test func anUnfinishedRadialRunSaysWhyItHasNoSupportColumns() throws {
    let folder = try TemporaryFolder()
    let options = ["--dataset", "rings", "--samples", "200", "--radial", "--layers", "8", "--epochs", "5", "--seed", "3"]
    let configuration = try TrainCommand.parse(options).resolvedConfiguration()
    let stopped = folder.path + "/stopped"
    #expect(throws: CLIError.self) {
      try TrainingRun<Float>(configuration: configuration, output: stopped, checkpointInterval: .zero, failAfterEpochs: 2)
        .run()
    }
    let rows = folder.path + "/rows.csv"
    try "x0,x1\n0.1,0.2\n".write(toFile: rows, atomically: true, encoding: .utf8)
    let predicted = try CLITrainTests.TrainTool.run(["predict", "--model", stopped + "/model.safetensors", "--data", rows])
    #expect(predicted.status == 0, "\(predicted.stderr)")
    #expect(!predicted.stdout.contains("in_support"), "\(predicted.stdout)")
    #expect(predicted.stderr.contains("so in_support and abstain are not given"), "\(predicted.stderr)")
  }

  /// Trains `options` to the end in one folder, and in another stops (as an interruption
  /// would) after epoch 3 with that epoch's checkpoint; `--resume` of that checkpoint must
  /// end with the uninterrupted run's tensors, bit for bit, and as many epochs.
  @Test(
    "a run stopped after epoch 3 and resumed equals the uninterrupted run",
    arguments: [["--optimizer", "adam"], ["--optimizer", "sgd"], ["--optimizer", "adamw", "--precision", "double"]])
  func resumedEqualsUninterrupted(_ extra: [String]) throws {
    let folder = try TemporaryFolder()
    let whole = folder.path + "/whole", cut = folder.path + "/cut", resumed = folder.path + "/resumed"
    try TrainCommand.parse(Self.options + extra + ["--output", whole]).train()

    let configuration = try TrainCommand.parse(Self.options + extra).resolvedConfiguration()
    #expect(throws: CLIError.self) {
      if configuration.precision == .double {
        try TrainingRun<Double>(configuration: configuration, output: cut, checkpointInterval: .zero, failAfterEpochs: 3).run()
      } else {
        try TrainingRun<Float>(configuration: configuration, output: cut, checkpointInterval: .zero, failAfterEpochs: 3).run()
      }
    }
    let stopped = try SafetensorsFile.read(from: cut + "/model.safetensors")
    #expect(stopped.metadata["status"] == "failed")
    #expect(stopped.metadata["epochs_completed"] == "3")
    #expect(stopped.metadata[Checkpoint.resumeStateKey] != nil)
    #expect(try storedTensors(cut + "/model.safetensors") != storedTensors(whole + "/model.safetensors"))

    try TrainCommand.parse(["--resume", cut + "/model.safetensors", "--output", resumed]).train()
    let expected = try storedTensors(whole + "/model.safetensors")
    #expect(!expected.isEmpty)
    #expect(try storedTensors(resumed + "/model.safetensors") == expected)
    let a = try SafetensorsFile.read(from: whole + "/model.safetensors").metadata
    let b = try SafetensorsFile.read(from: resumed + "/model.safetensors").metadata
    #expect(a["epochs_completed"] == b["epochs_completed"])
    #expect(a["training_config"] == b["training_config"])
    let rows = { (path: String) in try String(contentsOfFile: path + "/history.csv", encoding: .utf8).split(separator: "\n").count }
    #expect(try rows(whole) == rows(resumed))
  }

  /// Options are the checkpoint's: the run's own values may be repeated, others are refused
  /// naming the option; a finished run and a file without training state are refused.
  @Test("--resume refuses other options, finished runs and files without training state")
  func refusals() throws {
    let folder = try TemporaryFolder()
    let cut = folder.path + "/cut", whole = folder.path + "/whole"
    let configuration = try TrainCommand.parse(Self.options).resolvedConfiguration()
    let blas = "BLAS: \(BLAS.configuration)\n"
    #expect(throws: CLIError.self) {
      try TrainingRun<Float>(configuration: configuration, output: cut, checkpointInterval: .zero, failAfterEpochs: 2).run()
    }
    // The stopped run's summary reports OpenBLAS as the run started (training holds it to one
    // thread inside its workers).
    let summary = try String(contentsOfFile: cut + "/summary.txt", encoding: .utf8)
    #expect(summary.contains(blas), "\(summary)")
    let path = cut + "/model.safetensors"
    let same = try TrainCommand.parse(Self.options + ["--resume", path]).resumedConfiguration(path)
    #expect(same == configuration)
    #expect(try TrainCommand.parse(["--resume", path]).resumedConfiguration(path) == configuration)
    for (option, value) in [("--lr", "0.5"), ("--batch-size", "8"), ("--layers", "6"), ("--epochs", "9"), ("--seed", "5")] {
      let error = #expect(throws: ValidationError.self) {
        _ = try TrainCommand.parse(["--resume", path, option, value]).resumedConfiguration(path)
      }
      #expect("\(error!)".contains(option), "\(error!)")
    }
    let radial = #expect(throws: ValidationError.self) {
      _ = try TrainCommand.parse(["--resume", path, "--radial"]).resumedConfiguration(path)
    }
    #expect("\(radial!)".contains("--radial"))

    try TrainCommand.parse(Self.options + ["--epochs", "2", "--output", whole]).train()
    let finished = #expect(throws: CLIError.self) {
      _ = try TrainCommand.parse(["--resume", whole + "/model.safetensors"]).resumedConfiguration(whole + "/model.safetensors")
    }
    #expect("\(finished!)".contains("nothing to resume"))
    // A run stopped after training, while its results were computed: its checkpoint holds
    // the final model, and the refusal says so (not "no training state").
    var stopped = try SafetensorsFile.read(from: whole + "/model.safetensors")
    #expect(stopped.metadata["final_model"] != nil)
    stopped.metadata["status"] = "interrupted"
    let afterTraining = folder.path + "/after-training.safetensors"
    try stopped.write(to: afterTraining)
    let over = #expect(throws: CLIError.self) {
      _ = try TrainCommand.parse(["--resume", afterTraining]).resumedConfiguration(afterTraining)
    }
    #expect("\(over!)".contains("training had finished: the checkpoint holds the run's final model (status interrupted)"), "\(over!)")

    let model = try Sequential<Float>(seed: 1) { try Dense(inputSize: 1, outputSize: 1) }
    let plain = folder.path + "/plain.safetensors"
    try Checkpoint.save(model, to: plain, metadata: ["training_config": try configuration.json()])
    let noState = #expect(throws: CLIError.self) {
      _ = try TrainCommand.parse(["--resume", plain]).resumedConfiguration(plain)
    }
    #expect("\(noState!)".contains("no training state"))
  }

  /// The digest a resumed run checks covers the --test-data file too: when only that file
  /// changed, the refusal names it beside the training file.
  @Test func aChangedTestFileIsNamedWhenAResumeIsRefused() throws {
    let folder = try TemporaryFolder()
    var train = "x,y\n", test = "x,y\n"
    for i in 0..<60 { train += "\(Double(i) / 10),\(Double(i % 7) / 3)\n" }
    for i in 0..<12 { test += "\(Double(i) / 4),\(Double(i % 5) / 3)\n" }
    let (trainPath, testPath) = (folder.path + "/train.csv", folder.path + "/test.csv")
    try train.write(toFile: trainPath, atomically: true, encoding: .utf8)
    try test.write(toFile: testPath, atomically: true, encoding: .utf8)
    let options = [
      "--data", trainPath, "--target", "y", "--task", "regression", "--test-data", testPath, "--layers", "4",
      "--epochs", "6", "--checkpoint-interval", "0",
    ]
    let configuration = try TrainCommand.parse(options).resolvedConfiguration()
    let cut = folder.path + "/cut"
    #expect(throws: CLIError.self) {
      try TrainingRun<Float>(configuration: configuration, output: cut, checkpointInterval: .zero, failAfterEpochs: 2).run()
    }
    try test.split(separator: "\n").dropLast().joined(separator: "\n").appending("\n")
      .write(toFile: testPath, atomically: true, encoding: .utf8)
    let refused = #expect(throws: CLIError.self) {
      try TrainCommand.parse(["--resume", cut + "/model.safetensors", "--output", folder.path + "/resumed"]).train()
    }
    #expect("\(refused!)".contains("the rows of this file or of the --test-data file \(testPath) differ"), "\(refused!)")
  }
}

