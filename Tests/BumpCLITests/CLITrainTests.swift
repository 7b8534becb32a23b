import Foundation
import Testing
import BumpTestSupport

/// End-to-end tests of `bump train`, `predict`, `evaluate` and `inspect`, run as a
/// subprocess (see ``CLITests`` for why). Each test works in its own temporary folder and
/// keeps training short: a few epochs on the built-in datasets or a small CSV file.
@Suite struct CLITrainTests {
  // MARK: - train

  @Test func defaultTrainingWritesTheRunFolder() throws {
    let scratch = try Scratch()
    let run = scratch.path("run")
    let result = try TrainTool.run(["train", "--epochs", "3", "--output", run])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stderr.isEmpty, "\(result.stderr)")
    #expect(result.stdout.contains("Run folder: \(run)"), "\(result.stdout)")
    let files = try FileManager.default.contentsOfDirectory(atPath: run).sorted()
    #expect(
      files == [
        "bumps.svg", "decision_regions.svg", "history.csv", "loss.svg", "model.safetensors",
        "summary.txt",
      ])
    #expect(try scratch.entries() == ["run"], "the .partial folder must be gone")

    let history = try String(contentsOfFile: run + "/history.csv", encoding: .utf8)
      .split(separator: "\n")
    #expect(history.count == 4)
    #expect(history.first == "epoch,loss,val_loss,accuracy,val_accuracy")
    for (i, line) in history.dropFirst().enumerated() {
      let fields = line.split(separator: ",")
      #expect(fields.count == 5)
      #expect(fields.first == "\(i + 1)")
      for field in fields.dropFirst() { #expect(Double(field)?.isFinite == true, "\(line)") }
    }
    for svg in ["loss.svg", "bumps.svg", "decision_regions.svg"] {
      let text = try String(contentsOfFile: run + "/" + svg, encoding: .utf8)
      #expect(text.contains("<svg"), "\(svg)")
      #expect(text.hasSuffix("</svg>\n"), "\(svg)")
      #expect(!text.contains("nan") && !text.contains("inf\""), "\(svg)")
    }
    let summary = try String(contentsOfFile: run + "/summary.txt", encoding: .utf8)
    for expected in ["accuracy", "σ min", "median", "inside the support", "dead units", run] {
      #expect(summary.contains(expected), "summary.txt lacks \(expected)")
    }
  }

  @Test func bumpWithoutArgumentsTrainsTheDefaultDataset() throws {
    let scratch = try Scratch()
    let result = try TrainTool.run([], in: scratch.url)
    #expect(result.status == 0, "\(result.stderr)")
    let runs = try FileManager.default.contentsOfDirectory(atPath: scratch.path("runs"))
    #expect(runs.count == 1)
    let name = try #require(runs.first)
    #expect(name.hasPrefix("rings-") && name.hasSuffix("Z"), "\(name)")
    #expect(result.stdout.contains("Run folder: runs/\(name)"), "\(result.stdout)")
    // The default run is the README's first command: it must learn the rings.
    let accuracy = try #require(
      result.stdout.split(separator: "\n").first { $0.contains("accuracy") }?
        .split(separator: " ").compactMap { Double($0.dropLast()) }.last)
    #expect(accuracy >= 95, "\(result.stdout)")
  }

  @Test func progressIsOneLinePerEpochWhenNotATerminal() throws {
    let scratch = try Scratch()
    let result = try TrainTool.run(
      [
        "train", "--dataset", "bumps", "--samples", "200", "--epochs", "4", "--output",
        scratch.path("r"), "--final-model", "early-stopped",  // no refit's epochs (issue 18)
      ])
    #expect(result.status == 0, "\(result.stderr)")
    let epochLines = result.stdout.split(separator: "\n").filter { $0.hasPrefix("epoch ") }
    #expect(epochLines.count == 4)
    #expect(epochLines.last?.contains("4/4") == true)
    #expect(
      epochLines.allSatisfy {
        $0.contains("val_loss") && $0.contains("samples/s") && $0.contains("ETA")
      })
    #expect(!result.stdout.contains("\r"))
  }

  @Test func optionsReachTheCheckpoint() throws {
    let scratch = try Scratch()
    let run = scratch.path("run")
    let result = try TrainTool.run([
      "train", "--dataset", "bumps", "--samples", "300", "--epochs", "2", "--layers", "8",
      "--sigma", "shared", "--sigma-init", "keras", "--train-center", "--train-amplitude",
      "--precision", "double", "--optimizer", "adamw", "--lr", "0.005", "--batch-size", "16",
      "--seed", "7", "--patience", "5", "--output", run,
    ])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: run + "/decision_regions.svg"))
    #expect(FileManager.default.fileExists(atPath: run + "/bumps.svg"))
    let inspect = try TrainTool.run(["inspect", run + "/model.safetensors"])
    #expect(inspect.status == 0, "\(inspect.stderr)")
    for expected in [
      "double precision", "sigma: shared", "center: shared", "amplitude: shared", "σ (shared)",
      "adamw lr 0.005", "batch 16", "seed 7", "hidden layers 8", "status: complete",
    ] {
      #expect(inspect.stdout.contains(expected), "inspect lacks \(expected):\n\(inspect.stdout)")
    }
  }

  @Test func theSameSeedGivesTheSameWeights() throws {
    let scratch = try Scratch()
    var tensors: [Data] = []
    for name in ["a", "b"] {
      let run = scratch.path(name)
      let result = try TrainTool.run([
        "train", "--samples", "300", "--epochs", "2", "--validation-split", "0", "--seed", "3",
        "--output", run,
      ])
      #expect(result.status == 0, "\(result.stderr)")
      let history = try String(contentsOfFile: run + "/history.csv", encoding: .utf8)
      #expect(history.hasPrefix("epoch,loss,accuracy\n"), "\(history)")
      // The metadata holds the training time; the tensors after the header must agree.
      let file = try Data(contentsOf: URL(fileURLWithPath: run + "/model.safetensors"))
      let headerLength = file.prefix(8).enumerated().reduce(0) { $0 | Int($1.1) << (8 * $1.0) }
      tensors.append(file.dropFirst(8 + headerLength))
    }
    #expect(tensors[0] == tensors[1])
    #expect(!tensors[0].isEmpty)
  }

  // MARK: - inspect, predict, evaluate

  @Test func inspectPredictAndEvaluateATrainedModel() throws {
    let scratch = try Scratch()
    let run = scratch.path("run")
    let train = try TrainTool.run(["train", "--epochs", "3", "--output", run])
    #expect(train.status == 0, "\(train.stderr)")
    let model = run + "/model.safetensors"

    let inspect = try TrainTool.run(["inspect", model])
    #expect(inspect.status == 0, "\(inspect.stderr)")
    for expected in [
      "float precision", "dense(inputSize: 2, outputSize: 32", "bump(", "total: 1286 parameters",
      "σ min", #"features (2): "x0", "x1""#, #"target: "ring""#, #""inner", "outer""#, "loss: softmax",
      "status: complete, 3 epochs", "validation accuracy",
    ] {
      #expect(inspect.stdout.contains(expected), "inspect lacks \(expected):\n\(inspect.stdout)")
    }

    // Columns in another order, an extra column, labels as names: points on the inner
    // (radius 1) and outer (radius 2) rings.
    let csv = scratch.path("points.csv")
    let points: [(String, Double, Double)] = [
      ("inner", 1, 0), ("outer", 0, 2), ("inner", -0.7, -0.7), ("outer", -1.4, 1.45),
      ("inner", 0, -1), ("outer", 2, 0),
    ]
    try ("id,x1,ring,x0\n" + points.enumerated().map { "\($0),\($1.2),\($1.0),\($1.1)\n" }.joined())
      .write(toFile: csv, atomically: true, encoding: .utf8)

    let predict = try TrainTool.run(["predict", "--model", model, "--data", csv])
    #expect(predict.status == 0, "\(predict.stderr)")
    let lines = predict.stdout.split(separator: "\n")
    #expect(lines.first == "predicted_class,probability_inner,probability_outer")
    #expect(lines.count == points.count + 1)
    for (line, point) in zip(lines.dropFirst(), points) {
      let fields = line.split(separator: ",")
      #expect(fields.count == 3)
      #expect(fields[0] == point.0, "\(line) for \(point)")
      let p = fields.dropFirst().compactMap { Double($0) }
      #expect(p.count == 2 && abs(p[0] + p[1] - 1) < 1e-6, "\(line)")
    }
    let output = scratch.path("predictions.csv")
    let toFile = try TrainTool.run(["predict", "--model", model, "--data", csv, "--output", output])
    #expect(toFile.status == 0 && toFile.stdout.isEmpty, "\(toFile.stderr)")
    #expect(try String(contentsOfFile: output, encoding: .utf8) == predict.stdout)

    let evaluate = try TrainTool.run(["evaluate", "--model", model, "--data", csv])
    #expect(evaluate.status == 0, "\(evaluate.stderr)")
    #expect(evaluate.stdout.contains("loss (softmax): "), "\(evaluate.stdout)")
    #expect(evaluate.stdout.contains("accuracy: 100.00% (6 of 6)"), "\(evaluate.stdout)")
  }

  @Test func csvRegressionEndToEnd() throws {
    let scratch = try Scratch()
    var text = "a,b,target\n"
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<240 {
      let a = Double.random(in: -3...3, using: &generator)
      let b = Double.random(in: 0...10, using: &generator)
      text += "\(a),\(b),\(sin(a) + 0.1 * b)\n"
    }
    let (csv, run, train) = try TrainTool.train(
      text, as: "waves.csv", target: "target", task: "regression",
      ["--epochs", "3"], in: scratch)
    #expect(train.status == 0, "\(train.stderr)")
    #expect(train.stdout.contains("standardized"))
    let files = try FileManager.default.contentsOfDirectory(atPath: run).sorted()
    #expect(files == ["bumps.svg", "history.csv", "loss.svg", "model.safetensors", "summary.txt"])
    let history = try String(contentsOfFile: run + "/history.csv", encoding: .utf8).split(
      separator: "\n")
    #expect(history.first == "epoch,loss,val_loss")
    #expect(history.count == 4)

    let model = run + "/model.safetensors"
    let inspect = try TrainTool.run(["inspect", model])
    #expect(inspect.stdout.contains("standardization: mean"), "\(inspect.stdout)")
    #expect(inspect.stdout.contains(#"target: "target", regression"#), "\(inspect.stdout)")

    let predict = try TrainTool.run(["predict", "--model", model, "--data", csv])
    #expect(predict.status == 0, "\(predict.stderr)")
    let lines = predict.stdout.split(separator: "\n")
    #expect(lines.first == "prediction")
    #expect(lines.count == 241)
    #expect(lines.dropFirst().allSatisfy { Float($0)?.isFinite == true })

    let evaluate = try TrainTool.run(["evaluate", "--model", model, "--data", csv])
    #expect(evaluate.status == 0, "\(evaluate.stderr)")
    #expect(evaluate.stdout.contains("loss (mse): ") && evaluate.stdout.contains("rmse: "))
  }

  // MARK: - Errors

  @Test(arguments: [
    (csv: "a,b,y\n1,2,3\n4,5\n", line: "line 3", column: "\"y\""),
    (csv: "a,b,y\n1,2,3\n4,x5,6\n", line: "line 3", column: "\"b\""),
    (csv: "a,b,z\n1,2,3\n", line: "line 1", column: "\"y\""),
  ])
  func csvErrorsNameTheCellAndLeaveNoFolder(csv: String, line: String, column: String) throws {
    let scratch = try Scratch()
    let file = scratch.path("bad.csv")
    try csv.write(toFile: file, atomically: true, encoding: .utf8)
    let result = try TrainTool.run([
      "train", "--data", file, "--target", "y", "--task", "regression", "--epochs", "1",
      "--output", scratch.path("run"),
    ])
    #expect(result.status != 0)
    let lines = result.stderr.split(separator: "\n")
    #expect(lines.count == 1, "\(result.stderr)")
    for part in [file, line, column] {
      #expect(result.stderr.contains(part), "\(part) missing in: \(result.stderr)")
    }
    #expect(try scratch.entries() == ["bad.csv"], "no run folder, final or partial")
  }

  // Every refused option is checked in process (BumpCLITests.CommandTests); these two, one
  // refused by ArgumentParser and one by the command's own validation, also end to end.
  @Test(arguments: [(["--activation", "softplus"], "--activation"), (["--epochs", "0"], "--epochs")])
  func badOptionsAreOneLineErrors(arguments: [String], option: String) throws {
    let scratch = try Scratch()
    let result = try TrainTool.run(["train", "--output", scratch.path("run")] + arguments)
    #expect(result.status != 0)
    #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    #expect(result.stderr.contains(option), "\(result.stderr)")
    #expect(try scratch.entries().isEmpty)
  }

  @Test func anExistingOutputIsNotOverwritten() throws {
    let scratch = try Scratch()
    let run = scratch.path("run")
    try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: false)
    try "keep".write(toFile: run + "/note.txt", atomically: true, encoding: .utf8)
    let result = try TrainTool.run(["train", "--epochs", "1", "--output", run])
    #expect(result.status != 0)
    #expect(result.stderr.contains("already exists"), "\(result.stderr)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: run) == ["note.txt"])
    #expect(try scratch.entries() == ["run"])
  }

  @Test func divergenceKeepsTheLastGoodCheckpoint() throws {
    let scratch = try Scratch()
    let run = scratch.path("run")
    let result = try TrainTool.run([
      "train", "--dataset", "regression", "--samples", "400", "--optimizer", "sgd", "--lr", "1e30",
      "--epochs", "3", "--output", run,
    ])
    #expect(result.status != 0)
    #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    #expect(result.stderr.contains("epoch") && result.stderr.contains("batch"), "\(result.stderr)")
    #expect(result.stderr.contains(run), "\(result.stderr)")
    #expect(try scratch.entries() == ["run"], "published under the final name, no .partial")
    let summary = try String(contentsOfFile: run + "/summary.txt", encoding: .utf8)
    #expect(summary.contains("FAILED"), "\(summary)")
    let inspect = try TrainTool.run(["inspect", run + "/model.safetensors"])
    #expect(inspect.status == 0, "\(inspect.stderr)")
    #expect(inspect.stdout.contains("status: failed"), "\(inspect.stdout)")
    let csv = scratch.path("x.csv")
    try "x0,x1,x2,x3\n0,0,0,0\n1,-1,0.5,2\n".write(toFile: csv, atomically: true, encoding: .utf8)
    let predict = try TrainTool.run([
      "predict", "--model", run + "/model.safetensors", "--data", csv,
    ])
    #expect(predict.status == 0, "\(predict.stderr)")
    #expect(predict.stdout.split(separator: "\n").count == 3)
  }

  @Test func predictErrorsNameTheProblem() throws {
    let scratch = try Scratch()
    let run = scratch.path("run")
    #expect(
      try TrainTool.run(["train", "--epochs", "1", "--samples", "200", "--output", run]).status == 0
    )
    let model = run + "/model.safetensors"
    let csv = scratch.path("only-x0.csv")
    try "x0\n1\n".write(toFile: csv, atomically: true, encoding: .utf8)
    let missing = try TrainTool.run(["predict", "--model", model, "--data", csv])
    #expect(missing.status != 0)
    #expect(missing.stderr.contains(csv) && missing.stderr.contains("\"x1\""), "\(missing.stderr)")

    let notAModel = try TrainTool.run(["inspect", csv])
    #expect(notAModel.status != 0)
    #expect(notAModel.stderr.split(separator: "\n").count == 1)
    #expect(notAModel.stderr.contains(csv), "\(notAModel.stderr)")

    let labels = scratch.path("labels.csv")
    try "x0,x1,ring\n1,0,inner\n0,3,middle\n".write(
      toFile: labels, atomically: true, encoding: .utf8)
    let unknownClass = try TrainTool.run(["evaluate", "--model", model, "--data", labels])
    #expect(unknownClass.status != 0)
    #expect(unknownClass.stderr.contains("\"middle\""), "\(unknownClass.stderr)")
  }

  @Test func binaryCrossEntropyPredictsTwoProbabilities() throws {
    let scratch = try Scratch()
    let run = scratch.path("run")
    let train = try TrainTool.run([
      "train", "--loss", "bce", "--activation", "relu", "--samples", "400", "--epochs", "3",
      "--output", run,
    ])
    #expect(train.status == 0, "\(train.stderr)")
    #expect(!FileManager.default.fileExists(atPath: run + "/bumps.svg"), "no bump layers")
    let csv = scratch.path("p.csv")
    try "x0,x1\n0.1,0.2\n1.9,0.3\n".write(toFile: csv, atomically: true, encoding: .utf8)
    let predict = try TrainTool.run([
      "predict", "--model", run + "/model.safetensors", "--data", csv,
    ])
    #expect(predict.status == 0, "\(predict.stderr)")
    let lines = predict.stdout.split(separator: "\n")
    #expect(lines.first == "predicted_class,probability_inner,probability_outer")
    #expect(lines.count == 3)
  }
}

// MARK: - Helpers

extension CLITrainTests {
  /// A temporary folder, removed when the value is released.
  typealias Scratch = TemporaryFolder

  /// Runs the `bump` executable that `swift test` built next to the test binary.
  enum TrainTool {
    typealias Result = ProcessResult

    static var executable: URL? { BumpExecutable.url }

    /// Runs `bump` with `arguments` in `directory` (a fresh scratch folder when nil), with
    /// empty standard input and output captured in files.
    static func run(_ arguments: [String], in directory: URL? = nil) throws -> Result {
      try BumpExecutable.run(arguments, in: directory)
    }

    /// Writes `text` to the file `name` in `scratch`, then runs `bump train` on it with
    /// `target`, `task` and `arguments`, into the run folder `run` in `scratch`.
    static func train(
      _ text: String, as name: String, target: String, task: String, _ arguments: [String],
      in scratch: Scratch
    ) throws -> (csv: String, run: String, result: Result) {
      let csv = scratch.path(name)
      try text.write(toFile: csv, atomically: true, encoding: .utf8)
      let output = scratch.path("run")
      let result = try run(
        ["train", "--data", csv, "--target", target, "--task", task] + arguments + ["--output", output])
      return (csv, output, result)
    }
  }
}
