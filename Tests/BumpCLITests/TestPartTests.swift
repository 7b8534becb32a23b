import ArgumentParser
@testable import BumpCLI
import BumpKit
import Foundation
import Testing
import BumpTestSupport

/// `bump train --test-split` and `--test-data`: the test part is disjoint from the training
/// and validation parts, drawn from the seed before the validation split, never seen by
/// training or early stopping, scored as `bump evaluate` scores the same rows, and reported
/// under its own name in the summary, `summary.txt`, the checkpoint and `inspect`.
@Suite struct TestPartTests {
  typealias Scratch = CLITrainTests.Scratch
  typealias TrainTool = CLITrainTests.TrainTool

  /// |a − b| within a relative 1e-6 (the streamed pass and `evaluate` sum in another order,
  /// and their Float products may round differently).
  private func close(_ a: Double?, _ b: Double?) -> Bool {
    guard let a, let b else { return false }
    return abs(a - b) <= 1e-6 * max(abs(a), abs(b), 1e-300)
  }

  private static let unlimited = MemoryBudget(bytes: Int.max, source: "a test")

  /// A regression file: `id` (the data row's index), numbers `a` and `b`, categories `c`,
  /// target `y`; every `missingEvery`-th row (when not 0) has no target.
  static func regressionCSV(rows: Int, missingEvery: Int = 0, seed: UInt64 = 11) -> String {
    var generator = SplitMix64(seed: seed)
    var text = "id,a,b,c,y\n"
    for i in 0..<rows {
      let a = generator.uniform(-3, 3)
      let b = generator.uniform(0, 10)
      let c = ["u", "v", "w"][Int(generator.next() % 3)]
      let y = sin(a) + 0.1 * b + (c == "u" ? 0.5 : 0) + generator.uniform(-0.1, 0.1)
      let target = missingEvery > 0 && i % missingEvery == missingEvery - 1 ? "" : String(format: "%.5f", y)
      text += "\(i),\(String(format: "%.4f", a)),\(String(format: "%.4f", b)),\(c),\(target)\n"
    }
    return text
  }

  /// The file's header and the data rows `rows` (0 for the line after the header).
  static func lines(_ text: String, rows: some Sequence<Int>) -> String {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    return ([lines[0]] + rows.map { lines[$0 + 1] }).joined(separator: "\n") + "\n"
  }

  /// The values of column `j` of `x`, as integers (an id read as a feature).
  static func ids(_ x: Matrix<Float>, column j: Int = 0) -> [Int] {
    (0..<x.rows).map { Int(x[$0, j]) }
  }

  // MARK: - The draw

  @Test func choosingTakesExactlyTheCountInOrderAndDependsOnTheSeedOnly() {
    for (held, count) in [(0, 0), (0, 5), (5, 5), (1, 1), (3, 10), (250, 1000)] {
      let chosen = TestPart.choose(held, of: count, seed: 1)
      #expect(chosen.count == held)
      #expect(chosen == chosen.sorted() && Set(chosen).count == held)
      #expect(chosen.allSatisfy { $0 >= 0 && $0 < count })
      #expect(TestPart.choose(held, of: count, seed: 1) == chosen)
    }
    #expect(TestPart.choose(250, of: 1000, seed: 1) != TestPart.choose(250, of: 1000, seed: 2))
    // Every index is about as likely: over many seeds each of 10 is taken 3/10 of the time.
    var taken = [Int](repeating: 0, count: 10)
    for seed in 0..<4000 as Range<UInt64> {
      for i in TestPart.choose(3, of: 10, seed: seed) { taken[i] += 1 }
    }
    #expect(taken.allSatisfy { abs(Double($0) / 4000 - 0.3) < 0.03 }, "\(taken)")
    #expect(TestPart.count(0.2, of: 402) == 80)
    #expect(TestPart.count(0.25, of: 2) == 1, "halves away from zero")
    #expect(TestPart.count(nil, of: 100) == 0)
  }

  // MARK: - The parts

  @Test func testRowsAreDisjointRoundedAndDrawnFromTheSeed() throws {
    let scratch = try Scratch()
    let csv = scratch.path("ids.csv")
    // 300 rows, every 17th without a target: 283 usable rows.
    try Self.regressionCSV(rows: 300, missingEvery: 17).write(toFile: csv, atomically: true, encoding: .utf8)
    func prepared(_ extra: [String]) throws -> PreparedData<Float> {
      // `id` is a feature here, not standardized: each row's inputs name it.
      let configuration = try trainConfiguration(
        ["--data", csv, "--target", "y", "--task", "regression", "--no-standardize"] + extra)
      return try PreparedData<Float>(configuration, budget: Self.unlimited)
    }
    let usable = (0..<300).filter { $0 % 17 != 16 }
    let data = try prepared(["--test-split", "0.15"])
    let test = try #require(data.test)
    let validation = try #require(data.validation)
    let (trainIDs, validationIDs, testIDs) = (
      Self.ids(data.training.x), Self.ids(validation.x), Self.ids(test.x)
    )
    #expect(test.count == Int((283 * 0.15).rounded()), "round(F·n) of the usable rows")
    #expect(validation.count == Int((Double(283 - test.count) * 0.2).rounded()), "the validation split takes its fraction of the rest")
    #expect(Set(trainIDs).isDisjoint(with: testIDs) && Set(validationIDs).isDisjoint(with: testIDs))
    #expect(Set(trainIDs).isDisjoint(with: validationIDs))
    #expect((trainIDs + validationIDs + testIDs).sorted() == usable, "every usable row in one part")
    #expect(testIDs == data.testRows, "the test rows in file order")
    #expect(data.testTargets?.rows == test.count)
    #expect(data.sizeText == "\(data.training.count) training + \(validation.count) validation + \(test.count) test samples")

    // The same seed draws the same rows, whatever the validation split; another seed others.
    #expect(try prepared(["--test-split", "0.15"]).testRows == data.testRows)
    #expect(try prepared(["--test-split", "0.15", "--validation-split", "0.4"]).testRows == data.testRows)
    #expect(try prepared(["--test-split", "0.15", "--validation-split", "0"]).testRows == data.testRows)
    #expect(try prepared(["--test-split", "0.15", "--seed", "2"]).testRows != data.testRows)
    let none = try prepared([])
    #expect(none.test == nil && none.testTargets == nil && none.testRows.isEmpty)

    // A built-in dataset: the generated samples are split the same way.
    let builtIn = try PreparedData<Float>(
      try trainConfiguration(["--dataset", "regression", "--samples", "500", "--test-split", "0.2"]),
      budget: Self.unlimited)
    #expect(builtIn.test?.count == 100)
    #expect(builtIn.validation?.count == 80)
    #expect(builtIn.training.count == 320)
    #expect(builtIn.testRows.count == 100)
  }

  @Test func theRestIsPreparedAsTheFileWithoutTheTestRows() throws {
    let scratch = try Scratch()
    let text = Self.regressionCSV(rows: 260, missingEvery: 23)
    let csv = scratch.path("all.csv")
    try text.write(toFile: csv, atomically: true, encoding: .utf8)
    let options = ["--target", "y", "--task", "regression", "--ignore", "id", "--seed", "5"]
    let data = try PreparedData<Float>(
      try trainConfiguration(["--data", csv, "--test-split", "0.3"] + options), budget: Self.unlimited)
    let rest = scratch.path("rest.csv")
    let kept = Set(0..<260).subtracting(data.testRows).sorted()
    try Self.lines(text, rows: kept).write(toFile: rest, atomically: true, encoding: .utf8)
    let without = try PreparedData<Float>(try trainConfiguration(["--data", rest] + options), budget: Self.unlimited)
    #expect(data.training.x.elements == without.training.x.elements)
    #expect(data.training.y.elements == without.training.y.elements)
    #expect(data.validation?.x.elements == without.validation?.x.elements)
    #expect(data.validation?.y.elements == without.validation?.y.elements)
    #expect(data.standardization == without.standardization)
    #expect(data.targetStandardization == without.targetStandardization)
    #expect(data.plan == without.plan)
  }

  // MARK: - End to end

  /// `bump train` on a file with `--test-split` trains as on the file without the test rows
  /// (early stopping included: the histories agree epoch by epoch), and its test metrics are
  /// `bump evaluate`'s on those rows.
  @Test func earlyStoppingNeverSeesTheTestRowsAndEvaluateAgrees() throws {
    let scratch = try Scratch()
    let text = Self.regressionCSV(rows: 240, missingEvery: 31)
    let csv = scratch.path("all.csv")
    try text.write(toFile: csv, atomically: true, encoding: .utf8)
    let options = [
      "--target", "y", "--task", "regression", "--ignore", "id", "--seed", "5", "--layers", "8",
      "--epochs", "60", "--patience", "3", "--lr", "0.01",
    ]
    let withTest = scratch.path("with-test")
    let a = try TrainTool.run(["train", "--data", csv, "--test-split", "0.25", "--output", withTest] + options)
    #expect(a.status == 0, "\(a.stderr)")

    // The test rows, as the run drew them.
    let data = try PreparedData<Float>(
      try trainConfiguration(["--data", csv, "--test-split", "0.25"] + options), budget: Self.unlimited)
    let testRows = data.testRows
    #expect(testRows.count == Int((Double(240 - 7) * 0.25).rounded()))
    let rest = scratch.path("rest.csv")
    try Self.lines(text, rows: Set(0..<240).subtracting(testRows).sorted())
      .write(toFile: rest, atomically: true, encoding: .utf8)
    let held = scratch.path("held.csv")
    try Self.lines(text, rows: testRows).write(toFile: held, atomically: true, encoding: .utf8)

    let withoutTest = scratch.path("without-test")
    let b = try TrainTool.run(["train", "--data", rest, "--output", withoutTest] + options)
    #expect(b.status == 0, "\(b.stderr)")
    let historyA = try String(contentsOfFile: withTest + "/history.csv", encoding: .utf8)
    let historyB = try String(contentsOfFile: withoutTest + "/history.csv", encoding: .utf8)
    #expect(historyA == historyB, "the same training and validation losses, epoch by epoch")
    #expect(a.stdout.contains("stopped early") == b.stdout.contains("stopped early"))

    // The stored test metrics are those of `evaluate` on the held-out rows.
    let model = withTest + "/model.safetensors"
    let metrics = try Self.metrics(model)
    #expect(metrics.testSamples == testRows.count)
    let (network, info) = try ModelFile.load(Float.self, from: model)
    var input = try ModelFile.TableInput<Float>(path: held, info: info, ignoring: [], target: true)
    let score = try EvaluateCommand.score(network, info: info, input: &input)
    #expect(score.rows == testRows.count)
    #expect(close(metrics.testLoss, score.loss), "\(String(describing: metrics.testLoss)) vs \(score.loss)")
    let evaluate = try TrainTool.run(["evaluate", "--model", model, "--data", held])
    #expect(evaluate.status == 0, "\(evaluate.stderr)")
    #expect(evaluate.stdout.contains("Data: \(held), \(testRows.count) samples"), "\(evaluate.stdout)")
    let shown = try #require(CLITargetScalingTests.number(after: "loss (mse): ", in: evaluate.stdout))
    #expect(abs(shown - metrics.testLoss!) <= 1e-5 * metrics.testLoss!, "\(shown) vs \(metrics.testLoss!)")

    // The baseline of the test part predicts the training mean.
    let trainingMean = data.trainingTargets.elements.map(Double.init).reduce(0, +) / Double(data.training.count)
    let heldY = data.testTargets!.elements.map(Double.init)
    let baseline = heldY.map { ($0 - trainingMean) * ($0 - trainingMean) }.reduce(0, +) / Double(heldY.count)
    #expect(abs(metrics.testBaseline! - baseline) <= 1e-6 * baseline, "\(metrics.testBaseline!) vs \(baseline)")

    // Named in the summary (a test column), summary.txt, the checkpoint and inspect.
    let summary = try String(contentsOfFile: withTest + "/summary.txt", encoding: .utf8)
    #expect(summary.contains("                          train       validation  test\n"), "\(summary)")
    #expect(CLITargetScalingTests.values(of: "  loss (mse)", in: summary).count == 3, "\(summary)")
    #expect(CLITargetScalingTests.values(of: "  R²", in: summary).count == 3, "\(summary)")
    #expect(CLITargetScalingTests.values(of: "  baseline (mean), mse", in: summary).count == 3, "\(summary)")
    #expect(summary.contains("+ \(testRows.count) test samples"), "\(summary)")
    #expect(summary.contains("Test part: \(testRows.count) of 233 samples held out (--test-split 0.25, seed 5)"), "\(summary)")
    #expect(a.stdout.contains("validation  test\n"), "\(a.stdout)")
    let stored = try #require(try CLITargetScalingTests.metadata(model)["metrics"])
    for key in ["\"test_loss\":", "\"test_r2\":", "\"test_baseline\":", "\"test_samples\":\(testRows.count)"] {
      #expect(stored.contains(key), "\(key) in \(stored)")
    }
    let inspect = try TrainTool.run(["inspect", model])
    #expect(inspect.status == 0, "\(inspect.stderr)")
    for expected in [
      "test loss \(formatted(metrics.testLoss!)) (\(testRows.count) rows)",
      "baseline: test mse of the training mean \(formatted(metrics.testBaseline!))",
      "test R² \(formatted(metrics.testR2!))", "test split 0.25",
      // Every part's baseline and R², as the summary shows them.
      "baseline: train mse of the training mean \(formatted(metrics.trainBaseline!)); train R² \(formatted(metrics.trainR2!))",
      "baseline: validation mse of the training mean \(formatted(metrics.validationBaseline!)); validation R²",
    ] {
      #expect(inspect.stdout.contains(expected), "inspect lacks \(expected):\n\(inspect.stdout)")
    }
    // Without a test part nothing of it shows.
    let plain = try String(contentsOfFile: withoutTest + "/summary.txt", encoding: .utf8)
    #expect(!plain.contains("validation  test") && !plain.contains("Test part"), "\(plain)")
    #expect(!plain.contains(" test samples"), "\(plain)")
  }

  /// A classifier scored on a separate `--test-data` file, read as `evaluate` reads it: a
  /// category the model does not know and a row without a label are reported, and the
  /// scores agree with `evaluate`'s.
  @Test func testDataIsScoredAsEvaluateScoresIt() throws {
    let scratch = try Scratch()
    var generator = SplitMix64(seed: 3)
    func rows(_ count: Int, colors: [String]) -> String {
      var text = ""
      for _ in 0..<count {
        let x = generator.uniform(-2, 2)
        let color = colors[Int(generator.next() % UInt64(colors.count))]
        let label = x < -0.6 ? "low" : (x < 0.6 ? "mid" : "high")
        text += "\(String(format: "%.4f", x)),\(color),\(label)\n"
      }
      return text
    }
    // The test file, its columns in another order: one color the model does not know, one
    // row without a label (lines 62 and 63).
    let test = scratch.path("test.csv")
    let testRows = rows(60, colors: ["red", "green"]).split(separator: "\n").map { line in
      let f = line.split(separator: ",", omittingEmptySubsequences: false)
      return "\(f[1]),\(f[2]),\(f[0])\n"
    }
    try ("color,label,x\n" + testRows.joined() + "blue,mid,0.1\nred,,0.3\n")
      .write(toFile: test, atomically: true, encoding: .utf8)
    let (_, run, train) = try TrainTool.train(
      "x,color,label\n" + rows(300, colors: ["red", "green"]), as: "train.csv", target: "label",
      task: "classification", ["--epochs", "20", "--test-data", test], in: scratch)
    #expect(train.status == 0, "\(train.stderr)")
    #expect(train.stdout.contains("Test part: \(test), 61 rows"), "\(train.stdout)")
    #expect(train.stdout.contains("left out 1 row with a missing target \"label\" (line 63)"), "\(train.stdout)")
    #expect(train.stdout.contains("\"color\": 1 cell with a category the model does not know (e.g. \"blue\")"), "\(train.stdout)")

    let model = run + "/model.safetensors"
    let metrics = try Self.metrics(model)
    let (network, info) = try ModelFile.load(Float.self, from: model)
    var input = try ModelFile.TableInput<Float>(path: test, info: info, ignoring: [], target: true)
    let score = try EvaluateCommand.score(network, info: info, input: &input)
    #expect(metrics.testSamples == 61 && score.rows == 61)
    #expect(close(metrics.testLoss, score.loss), "\(String(describing: metrics.testLoss)) vs \(score.loss)")
    #expect(metrics.testAccuracy == Double(score.correct) / 61)
    #expect(metrics.testBaseline != nil && metrics.testR2 == nil)

    let summary = try String(contentsOfFile: run + "/summary.txt", encoding: .utf8)
    #expect(CLITargetScalingTests.values(of: "  accuracy", in: summary).count == 3, "\(summary)")
    #expect(CLITargetScalingTests.values(of: "  baseline (majority)", in: summary).count == 3, "\(summary)")
    let inspect = try TrainTool.run(["inspect", model])
    #expect(inspect.stdout.contains("test accuracy \(String(format: "%.2f", metrics.testAccuracy! * 100))%"), "\(inspect.stdout)")
    #expect(inspect.stdout.contains("baseline: test accuracy of the majority class"), "\(inspect.stdout)")
    #expect(inspect.stdout.contains("test data \(test)"), "\(inspect.stdout)")

    // A label the model does not know is evaluate's error, and no run folder is left.
    let unknown = scratch.path("unknown.csv")
    try "x,color,label\n0.1,red,mid\n1.5,green,top\n".write(toFile: unknown, atomically: true, encoding: .utf8)
    let refused = try TrainTool.run([
      "train", "--data", scratch.path("train.csv"), "--target", "label", "--task", "classification",
      "--test-data", unknown, "--epochs", "1", "--output", scratch.path("refused"),
    ])
    #expect(refused.status != 0)
    #expect(refused.stderr.contains(unknown) && refused.stderr.contains("line 3"), "\(refused.stderr)")
    #expect(refused.stderr.contains("class label \"top\" is not one of the model's classes"), "\(refused.stderr)")
    #expect(!FileManager.default.fileExists(atPath: scratch.path("refused")))
  }

  // MARK: - Errors

  @Test(arguments: [
    (["--test-split", "-0.1"], "--test-split must be in [0, 1), got -0.1"),
    (["--test-split", "1"], "--test-split must be in [0, 1), got 1.0"),
    (["--test-split", "nan"], "--test-split must be in [0, 1)"),
    (["--data", "x.csv", "--target", "y", "--task", "regression", "--test-data", ""], "--test-data is empty"),
    (["--test-data", "t.csv"], "--test-data applies only to --data"),
    (
      ["--data", "x.csv", "--target", "y", "--task", "regression", "--test-split", "0.1", "--test-data", "t.csv"],
      "give either --test-split or --test-data, not both"
    ),
    (
      ["--data", "-", "--target", "y", "--task", "regression", "--test-data", "-"],
      "--data and --test-data cannot both read standard input"
    ),
  ])
  func badTestOptionsAreOneLineMessages(arguments: [String], message expected: String) throws {
    try expectOneLineTrainError(arguments, containing: expected)
  }

  /// One pipe as --data and --test-data waited forever for a second writer after the data was
  /// read; it is refused at once. One regular file as both is allowed (it reads twice).
  @Test func onePipeAsDataAndTestDataIsRefused() throws {
    let scratch = try TemporaryFolder()
    let pipe = scratch.path("rows.fifo")
    #expect(mkfifo(pipe, 0o600) == 0)
    try expectOneLineTrainError(
      ["--data", pipe, "--target", "y", "--task", "regression", "--test-data", pipe],
      containing: "--data and --test-data name the same pipe or device")
    let file = scratch.path("rows.csv")
    try "x,y\n1,2\n".write(toFile: file, atomically: true, encoding: .utf8)
    #expect(!TrainCommand.sameStream(file, file))
    #expect(TrainCommand.sameStream(pipe, pipe))
  }

  @Test func splitsThatLeaveAPartEmptyAreRefused() throws {
    let scratch = try Scratch()
    let csv = scratch.path("small.csv")
    try Self.regressionCSV(rows: 20).write(toFile: csv, atomically: true, encoding: .utf8)
    func message(_ extra: [String]) throws -> String {
      let configuration = try trainConfiguration(["--data", csv, "--target", "y", "--task", "regression"] + extra)
      let error = try #require(throws: CLIError.self) {
        _ = try PreparedData<Float>(configuration, budget: Self.unlimited)
      }
      return "\(error)"
    }
    #expect(try message(["--test-split", "0.01"]).contains("--test-split 0.01 leaves 0 of 20 samples for test"))
    let tooFew = try message(["--test-split", "0.5", "--validation-split", "0.97"])
    #expect(
      tooFew.contains(
        "--test-split 0.5 holds out 10 of 20 samples for test, and --validation-split 0.97 then 10 of the other 10 for validation, leaving 0 for training"),
      "\(tooFew)")
    #expect(tooFew.hasPrefix(csv), "\(tooFew)")
    // The validation split's own message is unchanged without a test part.
    #expect(try message(["--validation-split", "0.01"]).contains("--validation-split 0.01 leaves 0 of 20 samples for validation"))
    let builtIn = try trainConfiguration(["--dataset", "rings", "--samples", "10", "--test-split", "0.5", "--validation-split", "0.9"])
    #expect(throws: CLIError.self) { _ = try PreparedData<Float>(builtIn, budget: Self.unlimited) }
  }

  @Test func aTestFileWithAnotherHeaderIsRefused() throws {
    let scratch = try Scratch()
    let test = scratch.path("other.csv")
    try "id,a,bee,c,y\n1,0.5,2,u,1\n".write(toFile: test, atomically: true, encoding: .utf8)
    let (_, run, result) = try TrainTool.train(
      Self.regressionCSV(rows: 50), as: "train.csv", target: "y", task: "regression",
      ["--epochs", "1", "--test-data", test], in: scratch)
    #expect(result.status != 0)
    #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    for part in [test, "\"b\"", "--test-data file needs the training file's feature columns"] {
      #expect(result.stderr.contains(part), "\(part) missing in: \(result.stderr)")
    }
    #expect(!FileManager.default.fileExists(atPath: run), "no run folder")
  }

  // MARK: - Memory, warnings, resuming

  /// The memory check counts the test rows: a limit between the estimates without and with
  /// them refuses the run with them, for a split and for a file.
  @Test func theMemoryCheckCountsTheTestRows() throws {
    let scratch = try Scratch()
    let text = Self.regressionCSV(rows: 400)
    let csv = scratch.path("data.csv")
    try text.write(toFile: csv, atomically: true, encoding: .utf8)
    let test = scratch.path("test.csv")
    try Self.lines(text, rows: 100..<400).write(toFile: test, atomically: true, encoding: .utf8)
    let options = ["--data", csv, "--target", "y", "--task", "regression", "--ignore", "id"]
    let plain = try trainConfiguration(options)
    // a, b and the 3 categories of c: 5 inputs, 1 output.
    func estimate(rows: Int) -> Double {
      MemoryBudget.trainingEstimate(
        plain, rows: rows, features: 5, outputs: 1, scalarBytes: 4, dataCopies: MemoryBudget.tableDataCopies
      ).reduce(0) { $0 + $1.bytes }
    }
    // 300 rows to train on and validate with fit; with 100 test rows besides, they do not.
    let splitLimit = MemoryBudget(bytes: Int((estimate(rows: 300) + estimate(rows: 400)) / 2), source: "a test")
    let first300 = scratch.path("first300.csv")
    try Self.lines(text, rows: 0..<300).write(toFile: first300, atomically: true, encoding: .utf8)
    var smaller = plain
    smaller.dataFile = first300
    _ = try PreparedData<Float>(smaller, budget: splitLimit)
    let split = try trainConfiguration(options + ["--test-split", "0.25"])
    let refused = try #require(throws: CLIError.self) { _ = try PreparedData<Float>(split, budget: splitLimit) }
    #expect("\(refused)".contains("400 rows"), "\(refused)")

    let file = try trainConfiguration(options + ["--test-data", test])
    let fileLimit = MemoryBudget(bytes: Int((estimate(rows: 400) + estimate(rows: 700)) / 2), source: "a test")
    _ = try PreparedData<Float>(plain, budget: fileLimit)
    let error = try #require(throws: CLIError.self) { _ = try PreparedData<Float>(file, budget: fileLimit) }
    #expect("\(error)".contains("700 rows"), "\(error)")
  }

  @Test func theBaselineWarningCoversTheTestPart() {
    var m = RunMetrics(
      trainLoss: 1, validationLoss: 1, trainAccuracy: nil, validationAccuracy: nil, epochs: 1, trainingSeconds: 0)
    m.trainBaseline = 2
    m.validationBaseline = 2
    #expect(TrainingRun<Float>.baselineWarning(m, classification: false) == nil)
    m.testLoss = 3
    m.testBaseline = 2
    #expect(
      TrainingRun<Float>.baselineWarning(m, classification: false)
        == "  Warning: on the test part the model is no better than the constant baseline.")
    m.validationLoss = 2
    #expect(
      TrainingRun<Float>.baselineWarning(m, classification: false)
        == "  Warning: on the validation and test parts the model is no better than the constant baseline.")
    var c = RunMetrics(
      trainLoss: 1, validationLoss: nil, trainAccuracy: 0.9, validationAccuracy: nil, epochs: 1, trainingSeconds: 0)
    c.trainBaseline = 0.5
    c.testAccuracy = 0.5
    c.testLoss = 1
    c.testBaseline = 0.5
    #expect(
      TrainingRun<Float>.baselineWarning(c, classification: true)
        == "  Warning: on the test part the model is no better than the constant baseline.",
      "the held-out part is judged, not the training part")
  }

  @Test func resumingComparesTheTestOptions() throws {
    let stored = try trainConfiguration(["--data", "a.csv", "--target", "y", "--task", "regression", "--test-split", "0.2"])
    #expect(stored.testSplit == 0.2 && stored.testDataFile == nil)
    let other = try trainConfiguration(["--data", "a.csv", "--target", "y", "--task", "regression", "--test-split", "0.3"])
    #expect(TrainCommand.differences(other, stored) == ["--test-split 0.3, the run's is 0.2"])
    let none = try trainConfiguration(["--data", "a.csv", "--target", "y", "--task", "regression"])
    #expect(none.testSplit == nil, "no test part is stored as before the option existed")
    #expect(TrainCommand.differences(none, stored) == ["--test-split not set, the run's is 0.2"])
    // A test file given anew may be somewhere else; its rows are compared when read.
    let file = try trainConfiguration(["--data", "a.csv", "--target", "y", "--task", "regression", "--test-data", "t.csv"])
    var moved = file
    moved.testDataFile = "elsewhere/t.csv"
    #expect(TrainCommand.differences(moved, file).isEmpty)
    // (With --resume, the options are checked against the run's configuration, not alone.)
    let merged = try TrainCommand.parse(["--resume", "m.safetensors", "--test-data", "new/t.csv"])
      .resolvedConfiguration(base: file)
    #expect(merged.testDataFile == "new/t.csv")
    #expect(try TrainCommand.parse(["--resume", "m.safetensors"]).resolvedConfiguration(base: stored).testSplit == 0.2)
    // The stored JSON round-trips, and one without the entries reads as no test part.
    #expect(try TrainingConfiguration(json: try stored.json()) == stored)
    let decoded = try TrainingConfiguration(json: try none.json())
    #expect(decoded.testSplit == nil && decoded.testDataFile == nil)
    #expect(!(try none.json()).contains("test"))
  }

  // MARK: - Helpers

  /// The `metrics` entry of the checkpoint at `path`.
  static func metrics(_ path: String) throws -> RunMetrics {
    let text = try #require(try CLITargetScalingTests.metadata(path)["metrics"])
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(RunMetrics.self, from: Data(text.utf8))
  }
}
