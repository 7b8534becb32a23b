import BumpKit
import Foundation
import Testing

/// `bump train` on regression targets in natural units: the target is standardized for
/// training, mapped back for `predict`, `evaluate` and the summary, and the summary puts the
/// constant baseline (and R²) next to the metrics. Expected values are worked out by hand or
/// recomputed here from the predictions `bump predict` writes.
@Suite struct CLITargetScalingTests {
  typealias Scratch = CLITrainTests.Scratch
  typealias TrainTool = CLITrainTests.TrainTool

  private static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../BumpKitTests/Fixtures/checkpoints")

  // MARK: - Standardized target, natural units outside

  @Test func regressionTargetIsStandardizedAndPredictedInItsOwnUnits() throws {
    // y is 100 where x0 = 0 and 300 where x0 = 1, 40 rows each: mean 200, population sd 100,
    // and the constant (mean) predictor's squared error is 100² = 10 000 on every row.
    let scratch = try Scratch()
    let csv = scratch.path("levels.csv")
    var rows: [(x0: Double, x1: Double, y: Double)] = []
    for i in 0..<80 { rows.append((Double(i % 2), Double(i % 5) / 4, i % 2 == 0 ? 100 : 300)) }
    try ("x0,x1,y\n" + rows.map { "\($0.x0),\($0.x1),\($0.y)\n" }.joined())
      .write(toFile: csv, atomically: true, encoding: .utf8)
    let run = scratch.path("run")
    let train = try TrainTool.run([
      "train", "--data", csv, "--target", "y", "--task", "regression", "--validation-split", "0",
      "--epochs", "150", "--layers", "8", "--output", run,
    ])
    #expect(train.status == 0, "\(train.stderr)")
    #expect(train.stdout.contains("standardized features and target"), "\(train.stdout)")
    let model = run + "/model.safetensors"

    let metadata = try Self.metadata(model)
    let scaling = try #require(metadata["target_standardization"], "\(metadata.keys.sorted())")
    let stored = try JSONDecoder().decode(Standardization.self, from: Data(scaling.utf8))
    #expect(stored.mean.count == 1 && abs(stored.mean[0] - 200) < 1e-9, "\(stored)")
    #expect(
      stored.standardDeviation.count == 1 && abs(stored.standardDeviation[0] - 100) < 1e-9,
      "\(stored)")

    // predict answers in the target's units: nearer the right level than the other one,
    // and nowhere near ±1.
    let predict = try TrainTool.run(["predict", "--model", model, "--data", csv])
    #expect(predict.status == 0, "\(predict.stderr)")
    let lines = predict.stdout.split(separator: "\n")
    #expect(lines.first == "prediction")
    let predictions = lines.dropFirst().compactMap { Double($0) }
    try #require(predictions.count == rows.count, "\(predict.stdout)")
    for (p, row) in zip(predictions, rows) {
      #expect(abs(p - row.y) < 40, "predicted \(p) for \(row)")
    }

    // evaluate and the summary score those predictions in the target's units.
    let squaredError =
      zip(predictions, rows).map { ($0 - $1.y) * ($0 - $1.y) }.reduce(0, +) / Double(rows.count)
    let evaluate = try TrainTool.run(["evaluate", "--model", model, "--data", csv])
    #expect(evaluate.status == 0, "\(evaluate.stderr)")
    let evaluated = try #require(Self.number(after: "loss (mse): ", in: evaluate.stdout))
    #expect(abs(evaluated - squaredError) <= 1e-4 * squaredError, "\(evaluate.stdout)")

    let summary = try String(contentsOfFile: run + "/summary.txt", encoding: .utf8)
    let loss = try #require(Self.values(of: "  loss (mse)", in: summary).first, "\(summary)")
    #expect(abs(loss - squaredError) <= 1e-3 * squaredError, "\(summary)")
    #expect(Self.values(of: "  baseline (mean), mse", in: summary) == [10_000], "\(summary)")
    let r2 = try #require(Self.values(of: "  R²", in: summary).first, "\(summary)")
    #expect(abs(r2 - (1 - squaredError / 10_000)) < 1e-3, "\(summary)")
    #expect(r2 > 0.9, "the model learned the two levels")
    #expect(!summary.contains("Warning"), "\(summary)")

    // The history is in the target's units too: the first epoch starts near the baseline
    // (10 000), not near 1 as the standardized loss would.
    let history = try String(contentsOfFile: run + "/history.csv", encoding: .utf8)
      .split(separator: "\n")
    let first = try #require(history.dropFirst().first?.split(separator: ",").dropFirst().first)
    #expect(try #require(Double(first)) > 1000, "\(history.prefix(3))")
  }

  @Test func validationBaselineAndRSquaredAreThoseOfTheHeldOutRows() throws {
    let scratch = try Scratch()
    var text = "x0,y\n"
    for i in 0..<40 { text += "\(Double(i) / 10),\(50 + 7 * Double(i) + Double(i % 3))\n" }
    let (csv, run, train) = try TrainTool.train(
      text, as: "line.csv", target: "y", task: "regression",
      // The early-stopped model, which the validation column scores (the default final model
      // has trained on those rows, issue 18).
      ["--validation-split", "0.25", "--epochs", "20", "--layers", "8", "--final-model", "early-stopped"], in: scratch)
    #expect(train.status == 0, "\(train.stderr)")

    // The rows bump held out: shuffled with seed 1 &+ 0x5EED, then the last quarter.
    let (training, validation) = try Self.split(csv, target: "y", task: .regression)
    let trainY = (0..<training.count).map { Double(training.y[$0, 0]) }
    let heldY = (0..<validation.count).map { Double(validation.y[$0, 0]) }
    let mean = trainY.reduce(0, +) / Double(trainY.count)
    let baseline = heldY.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(heldY.count)

    let heldCSV = scratch.path("held.csv")
    try ("x0,y\n" + (0..<validation.count).map { "\(validation.x[$0, 0]),\(heldY[$0])\n" }.joined())
      .write(toFile: heldCSV, atomically: true, encoding: .utf8)
    let predict = try TrainTool.run([
      "predict", "--model", run + "/model.safetensors", "--data", heldCSV,
    ])
    #expect(predict.status == 0, "\(predict.stderr)")
    let predictions = predict.stdout.split(separator: "\n").dropFirst().compactMap { Double($0) }
    try #require(predictions.count == heldY.count)
    let heldMean = heldY.reduce(0, +) / Double(heldY.count)
    let residual = zip(predictions, heldY).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
    let total = heldY.map { ($0 - heldMean) * ($0 - heldMean) }.reduce(0, +)

    let summary = try String(contentsOfFile: run + "/summary.txt", encoding: .utf8)
    let baselines = Self.values(of: "  baseline (mean), mse", in: summary)
    try #require(baselines.count == 2, "\(summary)")
    #expect(abs(baselines[1] - baseline) <= 1e-3 * baseline, "\(baseline) vs \(summary)")
    let mse = Self.values(of: "  loss (mse)", in: summary)
    try #require(mse.count == 2, "\(summary)")
    let heldMSE = residual / Double(heldY.count)
    #expect(abs(mse[1] - heldMSE) <= 1e-3 * heldMSE, "\(heldMSE) vs \(summary)")
    let r2 = Self.values(of: "  R²", in: summary)
    try #require(r2.count == 2, "\(summary)")
    #expect(abs(r2[1] - (1 - residual / total)) < 1e-3, "\(1 - residual / total) vs \(summary)")
    let metrics = try #require(Self.metadata(run + "/model.safetensors")["metrics"])
    #expect(metrics.contains("\"validation_baseline\":"), "\(metrics)")
    #expect(metrics.contains("\"validation_r2\":"), "\(metrics)")
  }

  @Test func classificationBaselineIsTheTrainingMajority() throws {
    // Class 0 25 times, 1 15 times, 2 10 times (five, three and two of every ten rows).
    let scratch = try Scratch()
    let labels = (0..<50).map { i in i % 10 < 5 ? 0 : (i % 10 < 8 ? 1 : 2) }
    var text = "a,b,label\n"
    for (i, label) in labels.enumerated() { text += "\(Double(i % 7)),\(Double(label)),\(label)\n" }
    let (csv, run, train) = try TrainTool.train(
      text, as: "three.csv", target: "label", task: "classification",
      ["--epochs", "3"], in: scratch)
    #expect(train.status == 0, "\(train.stderr)")

    let (training, validation) = try Self.split(csv, target: "label", task: .classification)
    var counts: [Int: Int] = [:]
    for r in 0..<training.count { counts[Int(training.y[r, 0]), default: 0] += 1 }
    let majority = counts.keys.sorted().max { counts[$0]! < counts[$1]! }!
    let trainShare = Double(counts[majority]!) / Double(training.count)
    let heldShare =
      Double((0..<validation.count).filter { Int(validation.y[$0, 0]) == majority }.count)
      / Double(validation.count)
    let summary = try String(contentsOfFile: run + "/summary.txt", encoding: .utf8)
    let shown = Self.values(of: "  baseline (majority)", in: summary)
    try #require(shown.count == 2, "\(summary)")
    #expect(abs(shown[0] - 100 * trainShare) < 0.006, "\(trainShare) vs \(summary)")
    #expect(abs(shown[1] - 100 * heldShare) < 0.006, "\(heldShare) vs \(summary)")
    #expect(!summary.contains("R²"), "no R² for classification")
  }

  @Test func aModelNoBetterThanTheConstantIsFlagged() throws {
    // 95% of the labels are 0; an almost untrained model cannot beat always answering 0.
    let scratch = try Scratch()
    var text = "a,b,label\n"
    for i in 0..<200 { text += "\(Double(i % 13)),\(Double(i % 7)),\(i % 20 == 0 ? 1 : 0)\n" }
    let (_, _, train) = try TrainTool.train(
      text, as: "skewed.csv", target: "label", task: "classification",
      ["--epochs", "1", "--lr", "1e-9"], in: scratch)
    #expect(train.status == 0, "\(train.stderr)")
    #expect(
      train.stdout.contains("no better than the constant baseline"), "\(train.stdout)")
  }

  @Test func noStandardizeTargetTrainsInNaturalUnits() throws {
    let scratch = try Scratch()
    var text = "x0,y\n"
    for i in 0..<40 { text += "\(i % 2),\(i % 2 == 0 ? 100 : 300)\n" }
    let (_, run, train) = try TrainTool.train(
      text, as: "levels.csv", target: "y", task: "regression",
      ["--epochs", "2", "--no-standardize-target"], in: scratch)
    #expect(train.status == 0, "\(train.stderr)")
    #expect(!train.stdout.contains("and target"), "\(train.stdout)")
    #expect(try Self.metadata(run + "/model.safetensors")["target_standardization"] == nil)
    let inspect = try TrainTool.run(["inspect", run + "/model.safetensors"])
    #expect(inspect.stdout.contains("target standardization: none"), "\(inspect.stdout)")

    let classification = try TrainTool.run([
      "train", "--standardize-target", "--epochs", "1", "--output", scratch.path("c"),
    ])
    #expect(classification.status != 0)
    #expect(classification.stderr.contains("--standardize-target"), "\(classification.stderr)")
  }

  @Test func earlyStoppingIsOnByDefaultAndPatienceZeroTurnsItOff() throws {
    let scratch = try Scratch()
    func epochs(_ extra: [String]) throws -> (Int, String) {
      let run = scratch.path("run\(extra.count)")
      let result = try TrainTool.run(
        ["train", "--samples", "400", "--epochs", "300", "--output", run] + extra)
      #expect(result.status == 0, "\(result.stderr)")
      let history = try String(contentsOfFile: run + "/history.csv", encoding: .utf8)
      return (history.split(separator: "\n").count - 1, result.stdout)
    }
    let (stopped, summary) = try epochs([])
    #expect(stopped < 300, "\(summary.suffix(600))")
    // The default final model (issue 18) names the early-stopped epoch in its own words.
    #expect(summary.contains("(stopped early)") && summary.contains("validation: the early-stopped model of epoch"))
    #expect(summary.contains("up to 300 epochs"), "\(summary.prefix(400))")
    let (all, _) = try epochs(["--patience", "0"])
    #expect(all == 300)
  }

  @Test(arguments: [
    (["--checkpoint-interval", "-1"], "--checkpoint-interval"),
    (["--min-delta", "-0.5"], "--min-delta"),
    (["--patience", "-2"], "--patience"),
  ])
  func badTrainingDefaultsOptionsAreRefused(arguments: [String], option: String) throws {
    let scratch = try Scratch()
    let result = try TrainTool.run(["train", "--output", scratch.path("run")] + arguments)
    #expect(result.status != 0)
    #expect(result.stderr.contains(option), "\(result.stderr)")
    #expect(try scratch.entries().isEmpty)
  }

  // MARK: - Checkpoints from before target standardization

  @Test func aCheckpointWithoutTargetScalingPredictsAsBefore() throws {
    // Written by bump train before targets were standardized (natural-units outputs, no
    // target_standardization entry, an older training_config); the predictions file is what
    // that version's `bump predict` printed for natural-target.csv.
    let model = Self.fixtures.appendingPathComponent("natural-target-v1.safetensors").path
    let csv = Self.fixtures.appendingPathComponent("natural-target.csv").path
    let expected = try String(
      contentsOf: Self.fixtures.appendingPathComponent("natural-target-v1-predictions.csv"),
      encoding: .utf8)
    #expect(try Self.metadata(model)["target_standardization"] == nil)

    let predict = try TrainTool.run(["predict", "--model", model, "--data", csv])
    #expect(predict.status == 0, "\(predict.stderr)")
    // The same numbers, up to Float rounding (the kernels and BLAS calls may change the last
    // bits); a target scaling applied by mistake would move them by orders of magnitude.
    let got = predict.stdout.split(separator: "\n")
    let want = expected.split(separator: "\n")
    #expect(got.first == "prediction" && got.count == want.count, "\(predict.stdout)")
    for (a, b) in zip(got.dropFirst(), want.dropFirst()) {
      let (x, y) = (Double(a) ?? .nan, try #require(Double(b)))
      #expect(abs(x - y) <= 1e-5 * max(1, abs(y)), "predicted \(a), before \(b)")
    }

    let evaluate = try TrainTool.run(["evaluate", "--model", model, "--data", csv])
    #expect(evaluate.status == 0, "\(evaluate.stderr)")
    // What that version's `bump evaluate` printed: "loss (mse): 29772".
    let loss = try #require(Self.number(after: "loss (mse): ", in: evaluate.stdout))
    #expect(abs(loss - 29772) < 1, "\(evaluate.stdout)")

    let inspect = try TrainTool.run(["inspect", model])
    #expect(inspect.status == 0, "\(inspect.stderr)")
    for line in [
      "target standardization: none", "adam lr 0.01, 5 epochs", "initial 1",
      "metrics: train loss 3.042e+04",
    ] {
      #expect(inspect.stdout.contains(line), "inspect lacks \(line):\n\(inspect.stdout)")
    }
  }

  // MARK: - Helpers

  /// The `__metadata__` of a safetensors file.
  static func metadata(_ path: String) throws -> [String: String] {
    let file = try Data(contentsOf: URL(fileURLWithPath: path))
    let length = file.prefix(8).enumerated().reduce(0) { $0 | Int($1.1) << (8 * $1.0) }
    let header = try JSONSerialization.jsonObject(with: file.dropFirst(8).prefix(length))
    let entries = (header as? [String: Any])?["__metadata__"] as? [String: String]
    return try #require(entries)
  }

  /// The training and validation rows of `bump train`'s default split of `csv` (seed 1,
  /// validation split 0.25 for line.csv, 0.2 otherwise), in Float as bump reads them.
  static func split(_ csv: String, target: String, task: TaskKind) throws
    -> (Dataset<Float>, Dataset<Float>)
  {
    let data = try Dataset<Float>.loadCSV(path: csv, target: target, task: task)
    let fraction = csv.hasSuffix("line.csv") ? 0.25 : 0.2
    return try data.shuffled(seed: 1 &+ 0x5EED).split(validationFraction: fraction)
  }

  /// The numbers on the summary line that starts with `label` (train, then validation).
  static func values(of label: String, in summary: String) -> [Double] {
    guard let line = summary.split(separator: "\n").first(where: { $0.hasPrefix(label + " ") })
    else { return [] }
    return line.dropFirst(label.count).split(separator: " ").compactMap {
      Double($0.hasSuffix("%") ? String($0.dropLast()) : String($0))
    }
  }

  static func number(after prefix: String, in text: String) -> Double? {
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else {
      return nil
    }
    return Double(line.dropFirst(prefix.count))
  }
}
