import BumpKit
import Foundation
import Testing
import BumpTestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// Hostile input to the `bump` tool: each test is one numbered item of the "never crash, never
/// leave debris" list, and fails without its fix (a crash, a wrong exit status, a file left
/// behind or a message that does not say what is wrong). The tool runs as a subprocess (see
/// ``CLITests``); memory tests set their own limit.
@Suite struct CLIHostileInputTests {
  typealias Scratch = CLITrainTests.Scratch

  // MARK: - 1. Output paths

  @Test func outputPathsThatNameNoNewFolderAreRefusedBeforeTraining() throws {
    let scratch = try Scratch()
    try FileManager.default.createDirectory(
      atPath: scratch.path("d"), withIntermediateDirectories: true)
    for output in [".", "./", "d/.", "d/..", "d/./", "~", "~/run"] {
      let result = try Hostile.run(
        ["train", "--samples", "64", "--epochs", "1", "--output", output], in: scratch.url)
      #expect(result.status == 64, "\(output): \(result.stderr)")  // a usage error
      #expect(result.stderr.hasPrefix("Error: --output \(output) "), "\(output): \(result.stderr)")
      #expect(!result.stdout.contains("epoch"), "\(output): trained before refusing")
    }
    #expect(try scratch.entries() == ["d"])
    #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path("d")).isEmpty)
    // One-character names are ordinary folders (they used to trap in Foundation).
    let result = try Hostile.run(
      ["train", "--samples", "64", "--epochs", "1", "--output", "r"], in: scratch.url)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(try scratch.entries() == ["d", "r"])
  }

  // MARK: - 2, 3. Checkpoints

  /// A checkpoint whose architecture claims 10⁸ units while its tensors are tiny.
  @Test func aLyingArchitectureIsRefusedBeforeAnythingIsBuilt() throws {
    let scratch = try Scratch()
    let run = scratch.path("run")
    let train = try Hostile.run(["train", "--samples", "64", "--epochs", "1", "--layers", "4", "--output", run])
    #expect(train.status == 0, "\(train.stderr)")
    var file = try SafetensorsFile.read(from: run + "/model.safetensors")
    let architecture = try #require(file.metadata["architecture"])
    for (key, lie) in [("units", "100000000"), ("outputSize", "100000000")] {
      // The first hidden layer's size, whatever key holds it.
      let edited = architecture.replacingOccurrences(of: "\"\(key)\":\"4\"", with: "\"\(key)\":\"\(lie)\"")
      #expect(edited != architecture)
      file.metadata["architecture"] = edited
      let path = scratch.path("lying-\(key).safetensors")
      try file.write(to: path)
      for command in [["inspect", path], ["predict", "--model", path, "--data", "-"]] {
        let result = try Hostile.run(command, stdin: "x0,x1\n0,0\n")
        #expect(result.status == 1, "\(command): \(result.stderr)")
        #expect(result.stderr.contains("100000000"), "\(command): \(result.stderr)")
        #expect(result.stderr.contains(path), "\(command): \(result.stderr)")
      }
    }
  }

  /// A 4 GiB file (sparse: it costs no disk) whose header names only its first 8 data bytes.
  /// Under a 1 GB address-space limit, reading it whole before checking the header crashes.
  @Test func aHugeCheckpointWithABadHeaderCostsOnlyItsHeader() throws {
    let scratch = try Scratch()
    let path = scratch.path("big.safetensors")
    let header = Array(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#.utf8)
    var bytes = withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init)
    bytes += header + [UInt8](repeating: 0, count: 8)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    try handle.truncate(atOffset: 4 << 30)
    try handle.close()
    let result = try Hostile.run(["/bin/sh", "-c", "ulimit -v 1000000; exec \"$0\" inspect \"$1\"", "BUMP", path], shell: true)
    #expect(result.status == 1, "\(result.stderr)")
    #expect(result.stderr.contains("belong to no tensor"), "\(result.stderr)")
  }

  // MARK: - 4. One class

  @Test func aTargetWithOneClassIsRefused() throws {
    let scratch = try Scratch()
    for labels in [["k", "k", "k", "k", "k"], ["1", "1", "1", "1", "1"]] {
      let csv = "a,y\n" + labels.enumerated().map { "\($0),\($1)\n" }.joined()
      let result = try Hostile.run(
        ["train", "--data", "-", "--target", "y", "--task", "classification", "--output", scratch.path("r")],
        stdin: csv)
      #expect(result.status == 1, "\(result.stderr)")
      #expect(result.stderr.contains("holds only one class"), "\(result.stderr)")
      #expect(try scratch.entries().isEmpty)
    }
  }

  // MARK: - 5, 11. Signals

  /// SIGINT, SIGTERM and SIGHUP during training publish the folder with the last good
  /// checkpoint marked as interrupted, and exit with 128 + the signal.
  @Test(arguments: [SIGINT, SIGTERM, SIGHUP])
  func aSignalDuringTrainingPublishesTheFolder(signal: Int32) throws {
    let scratch = try Scratch()
    let run = scratch.path("run")
    let result = try Child.runAndSignal(
      ["train", "--samples", "200", "--epochs", "100000", "--patience", "0", "--output", run],
      signal: signal,
      afterOutput: " 3/100000 ", in: scratch.url)
    #expect(result.status == 128 + signal, "\(result.stderr)")
    #expect(try scratch.entries() == ["run"], "no .partial folder")
    let files = try FileManager.default.contentsOfDirectory(atPath: run)
    #expect(files.allSatisfy { !$0.hasPrefix(".") }, "temporary files: \(files)")
    #expect(files.contains("model.safetensors") && files.contains("summary.txt"))
    let inspect = try Hostile.run(["inspect", run + "/model.safetensors"])
    #expect(inspect.stdout.contains("status: interrupted"), "\(inspect.stdout)")
  }

  /// Tiny epochs are mostly checkpoint saves (one after every epoch here), so signals land
  /// inside saves: none may leave a temporary file or an unpublished folder (they did in 14
  /// of 20 runs).
  @Test func signalsDuringCheckpointSavesLeaveNoDebris() throws {
    let scratch = try Scratch()
    for (i, signal) in [SIGINT, SIGTERM, SIGHUP, SIGINT, SIGTERM, SIGHUP, SIGINT, SIGTERM].enumerated() {
      let run = scratch.path("run\(i)")
      let result = try Child.runAndSignal(
        [
          "train", "--samples", "16", "--batch-size", "16", "--epochs", "1000000", "--layers", "4",
          "--patience", "0", "--checkpoint-interval", "0", "--output", run,
        ], signal: signal, afterOutput: " \(2 + 3 * i)/1000000 ", in: scratch.url)
      #expect(result.status == 128 + signal, "\(result.stderr)")
      let files = try FileManager.default.contentsOfDirectory(atPath: run)
      #expect(files.allSatisfy { !$0.hasPrefix(".") }, "run \(i): temporary files: \(files)")
      #expect(SafetensorsFileCheck.loads(run + "/model.safetensors"))
      // The run was alive when the signal landed, and says it was interrupted.
      let inspect = try Hostile.run(["inspect", run + "/model.safetensors"])
      #expect(inspect.stdout.contains("status: interrupted"), "run \(i): \(inspect.stdout)")
    }
    let entries = try scratch.entries()
    #expect(entries.allSatisfy { !$0.hasPrefix(".") }, "\(entries)")
  }

  // MARK: - 6. A full standard output

  @Test func aFullStandardOutputIsAnError() throws {
    let scratch = try Scratch()
    let run = scratch.path("run")
    #expect(try Hostile.run(["train", "--samples", "64", "--epochs", "1", "--output", run]).status == 0)
    let model = run + "/model.safetensors"
    let csv = scratch.path("d.csv")
    try "x0,x1,ring\n0.1,0.2,inner\n0.5,0.1,outer\n".write(toFile: csv, atomically: true, encoding: .utf8)
    for command in [
      ["predict", "--model", model, "--data", csv], ["evaluate", "--model", model, "--data", csv],
      ["inspect", model], ["function", "--sigma", "1"],
      ["train", "--samples", "64", "--epochs", "1", "--output", scratch.path("run2")],
    ] {
      let result = try Hostile.run(command, stdoutPath: "/dev/full")
      #expect(result.status == 1, "\(command)")
      #expect(result.stderr.contains("cannot write to standard output"), "\(command): \(result.stderr)")
      if command[0] == "train" {
        // The run itself is complete: the message says so, and where.
        #expect(
          result.stderr.contains("; the run finished, and its folder \(scratch.path("run2")) holds the results"),
          "\(result.stderr)")
      }
    }
  }

  /// A ReLU network's outputs overflow on inputs far beyond its data (3e38): predict wrote
  /// nan or inf and evaluate scored such a row (a classifier's as class 0). Both now name the
  /// row.
  @Test func outputsThatAreNotFiniteAreRefusedNamingTheRow() throws {
    let scratch = try Scratch()
    let train = scratch.path("t.csv")
    // A spread of 1, so that 3e38 stays a Float once standardized; a target in the 10¹⁶s, so
    // that the output, mapped back to the target's units, overflows.
    var text = "a,b,y\n"
    for i in 0..<60 { text += "\((i % 2) * 2),\(((i / 2) % 2) * 2),\(Double(i) * 1e15)\n" }
    try text.write(toFile: train, atomically: true, encoding: .utf8)
    let run = scratch.path("relu")
    let trained = try Hostile.run([
      "train", "--data", train, "--target", "y", "--task", "regression", "--activation", "relu",
      "--epochs", "2", "--output", run,
    ])
    #expect(trained.status == 0, "\(trained.stderr)")
    let far = scratch.path("far.csv")
    try "a,b,y\n0.5,0.5,1e16\n3e38,3e38,1e16\n".write(toFile: far, atomically: true, encoding: .utf8)
    let predicted = try Hostile.run(["predict", "--model", run + "/model.safetensors", "--data", far])
    #expect(predicted.status != 0, "\(predicted.stdout)")
    #expect(predicted.stderr.contains("data row 2: the model's output there is "), "\(predicted.stderr)")
    let evaluated = try Hostile.run(["evaluate", "--model", run + "/model.safetensors", "--data", far])
    #expect(evaluated.status != 0, "\(evaluated.stdout)")
    #expect(evaluated.stderr.contains("scored row 2: the model's output there is "), "\(evaluated.stderr)")
  }

  /// predict ends at once on a closed pipe (status 141, as Unix filters do); a warning
  /// written to a closed standard error left its temporary output file behind.
  @Test func aClosedStandardErrorLeavesNoTemporaryFile() throws {
    let scratch = try Scratch()
    let train = scratch.path("t.csv")
    var text = "a,kind,label\n"
    for i in 0..<40 { text += "\(i % 5),\(i % 3 == 0 ? "p" : "q"),\(i % 2 == 0 ? "cat" : "dog")\n" }
    try text.write(toFile: train, atomically: true, encoding: .utf8)
    let run = scratch.path("run")
    let trained = try Hostile.run([
      "train", "--data", train, "--target", "label", "--task", "classification", "--epochs", "1", "--output", run,
    ])
    #expect(trained.status == 0, "\(trained.stderr)")
    // A category the model has not seen: predict warns on standard error after the rows.
    let data = scratch.path("new.csv")
    try "a,kind\n1,zzz\n2,p\n".write(toFile: data, atomically: true, encoding: .utf8)
    try FileManager.default.createDirectory(atPath: scratch.path("out"), withIntermediateDirectories: true)
    // The reader of standard error has ended before bump starts.
    let result = try Hostile.run(
      [
        "/bin/sh", "-c", "(sleep 0.3; exec \"$0\" predict --model \"$1\" --data \"$2\" --output \"$3\") 2>&1 >/dev/null | true",
        "BUMP", run + "/model.safetensors", data, scratch.path("out/predictions.csv"),
      ], shell: true)
    _ = result
    #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path("out")).filter { $0.contains(".tmp") } == [])
  }

  // MARK: - 7, 10. CSV cells and messages

  @Test func aNULByteInACellIsAnError() throws {
    let result = try Hostile.run(
      ["train", "--data", "-", "--target", "y", "--task", "regression"],
      stdin: "a,y\n1\u{0}abc,1\n2,2\n3,3\n4,4\n")
    #expect(result.status == 1)
    #expect(
      result.stderr
        == "Error: standard input: line 2, column \"a\": the text holds a NUL byte; the file looks binary, not text\n")
    let zero = try Hostile.run(["train", "--data", "/dev/zero", "--target", "y", "--task", "regression"])
    #expect(zero.status == 1)
    #expect(zero.stderr.contains("/dev/zero: line 1: the text holds a NUL byte"), "\(zero.stderr)")
  }

  @Test func messagesSayWhatIsWrong() throws {
    func train(_ arguments: [String], stdin: String = "") throws -> String {
      let result = try Hostile.run(["train"] + arguments, stdin: stdin)
      #expect(result.status != 0)
      return result.stderr
    }
    let data = ["--data", "-", "--target", "y", "--task", "regression"]
    // A huge bad cell is cut.
    let long = String(repeating: "x", count: 100_000)
    let cut = try train(data, stdin: "a,y\n1,1\n\(long),2\n")
    #expect(cut.hasPrefix("Error: standard input: line 3, column \"a\": \"xxxx"), "\(cut.prefix(200))")
    #expect(cut.contains("… (100000 bytes)\" is not a number"), "\(cut.prefix(300))")
    #expect(cut.utf8.count < 300)
    // An unterminated quote is reported where it begins.
    let quote = try train(data, stdin: "a,b,y\n1,\"2,1\n2,3,0\n")
    #expect(
      quote
        == "Error: standard input: line 2, column \"b\": unterminated quote: the quoted field that begins here is never closed\n")
    // Negative numbers are values, refused with a reason.
    #expect(try train(["--epochs", "-1"]) == "Error: --epochs must be at least 1, got -1\n")
    #expect(try train(["--batch-size", "-3"]) == "Error: --batch-size must be at least 1, got -3\n")
    #expect(try train(["--layers", "3,x"]).contains("--layers 3,x: \"x\" is not an integer"))
    #expect(try train(["--layers", "3,0"]).contains("--layers 3,0: 0 units: a hidden layer needs between 1 and"))
    #expect(try train(["--sigma-init", "-2"]) == "Error: --sigma-init -2: σ must be finite and > 0\n")
    #expect(try train(["--data", "", "--target", "y", "--task", "regression"]).hasPrefix("Error: --data is empty"))
  }

  /// Evaluate reads the file in batches of rows, encoded column by column: the label is
  /// named by its line (the line its text first appears on in the batch, which is the
  /// first row with an unknown label).
  @Test func evaluateNamesTheLineOfAnUnknownLabel() throws {
    let scratch = try Scratch()
    let run = scratch.path("run")
    #expect(try Hostile.run(["train", "--samples", "64", "--epochs", "1", "--output", run]).status == 0)
    let result = try Hostile.run(
      ["evaluate", "--model", run + "/model.safetensors", "--data", "-"],
      stdin: "x0,x1,ring\n0.1,0.2,inner\n0.5,0.1,outer\n0.5,0.1,middle\n")
    #expect(result.status == 1)
    #expect(
      result.stderr
        == "Error: standard input: line 4, column \"ring\": class label \"middle\" is not one of the model's classes (\"inner\", \"outer\")\n")
  }

  @Test func predictDoesNotOverwriteItsModel() throws {
    let scratch = try Scratch()
    let run = scratch.path("run")
    #expect(try Hostile.run(["train", "--samples", "64", "--epochs", "1", "--output", run]).status == 0)
    let model = run + "/model.safetensors"
    let before = try Data(contentsOf: URL(fileURLWithPath: model))
    let csv = scratch.path("d.csv")
    try "x0,x1\n0.1,0.2\n".write(toFile: csv, atomically: true, encoding: .utf8)
    for output in [model, run + "/./model.safetensors", csv] {
      let result = try Hostile.run(["predict", "--model", model, "--data", csv, "--output", output])
      #expect(result.status != 0, "\(output)")
      #expect(result.stderr.contains("would overwrite it"), "\(result.stderr)")
    }
    #expect(try Data(contentsOf: URL(fileURLWithPath: model)) == before)
  }

  // MARK: - 8. Memory

  @Test func runsTooLargeForTheMemoryLimitAreRefusedBeforeAllocating() throws {
    let limit = ["BUMP_MEMORY_LIMIT": "64M"]
    for arguments in [
      ["train", "--samples", "1000000000"], ["train", "--layers", "65536,65536"],
      ["train", "--samples", "3000000"],
    ] {
      let result = try Hostile.run(arguments, environment: limit)
      #expect(result.status == 1, "\(arguments): \(result.stderr)")
      #expect(
        result.stderr.contains("not enough memory: this needs about")
          && result.stderr.contains("more than the limit of 64.0 MiB (BUMP_MEMORY_LIMIT)"),
        "\(arguments): \(result.stderr)")
    }
    // A CSV file is streamed: reading stops at the limit, long before the end of the file.
    let rows = 40_000
    let csv = "a,b,y\n" + (0..<rows).map { "\($0),\($0 % 7),\($0 % 3)\n" }.joined()
    let result = try Hostile.run(
      ["train", "--data", "-", "--target", "y", "--task", "regression"], stdin: csv,
      environment: ["BUMP_MEMORY_LIMIT": "100K"])
    #expect(result.status == 1)
    #expect(result.stderr.contains("needs more than the limit of 100.0 KiB"), "\(result.stderr)")
    let line = try #require(
      result.stderr.firstMatch(of: /by line (\d+)/).flatMap { Int($0.1) }, "\(result.stderr)")
    #expect(line < rows / 2)
    let bad = try Hostile.run(["train"], environment: ["BUMP_MEMORY_LIMIT": "lots"])
    #expect(bad.stderr.hasPrefix("Error: BUMP_MEMORY_LIMIT=lots: expected"), "\(bad.stderr)")
  }

  // MARK: - 9. Text columns

  @Test func textColumnsAreSkippedAlikeByTrainPredictAndEvaluate() throws {
    let scratch = try Scratch()
    let csv = scratch.path("d.csv")
    var text = "id,x0,name,y\n"
    for i in 0..<40 { text += "r\(i),\(Double(i) / 40),n\(i % 3),\(i % 2 == 0 ? "even" : "odd")\n" }
    try text.write(toFile: csv, atomically: true, encoding: .utf8)
    let base = ["train", "--data", csv, "--target", "y", "--task", "classification", "--epochs", "1"]
    // Without --ignore, text columns are categories: the 32 ids of the training part (the
    // validation part's are unknown to the model: all zeros), and the 3 names.
    let categories = try Hostile.run(base + ["--output", scratch.path("all")])
    #expect(categories.status == 0, "\(categories.stderr)")
    #expect(categories.stdout.contains("\"id\": 32 categories;"), "\(categories.stdout)")
    #expect(categories.stdout.contains("\"name\": 3 categories"), "\(categories.stdout)")
    #expect(categories.stdout.contains("36 features"), "\(categories.stdout)")
    let run = scratch.path("run")
    let train = try Hostile.run(base + ["--ignore", "id,name", "--output", run])
    #expect(train.status == 0, "\(train.stderr)")
    #expect(train.stdout.contains("1 feature →"), "\(train.stdout)")
    let model = run + "/model.safetensors"
    for command in [["predict"], ["evaluate"], ["predict", "--ignore", "id,name"], ["evaluate", "--ignore", "id"]] {
      let result = try Hostile.run(command + ["--model", model, "--data", csv])
      #expect(result.status == 0, "\(command): \(result.stderr)")
    }
    let typo = try Hostile.run(base + ["--ignore", "idd", "--output", scratch.path("t")])
    #expect(typo.stderr.contains("column \"idd\": no such column"), "\(typo.stderr)")
    let needed = try Hostile.run(["evaluate", "--model", model, "--data", csv, "--ignore", "x0"])
    #expect(needed.stderr.contains("the model needs it as a feature"), "\(needed.stderr)")
  }

  // MARK: - 11. Huge targets, standard input

  @Test func aTargetTooLargeForThePrecisionIsRefused() throws {
    let csv = "a,y\n" + (0..<20).map { "\($0),\($0 % 2 == 0 ? "3e38" : "-3e38")\n" }.joined()
    let result = try Hostile.run(
      [
        "train", "--data", "-", "--target", "y", "--task", "regression", "--no-standardize",
        "--no-standardize-target",
      ],
      stdin: csv)
    #expect(result.status == 1)
    #expect(result.stderr.contains("too large to train on in float precision"), "\(result.stderr)")
    // Standardized (the default), the same target trains: the squared errors are of order 1.
    let scratch = try Scratch()
    let standardized = try Hostile.run(
      [
        "train", "--data", "-", "--target", "y", "--task", "regression", "--no-standardize",
        "--output", scratch.path("run"),
      ],
      stdin: csv)
    #expect(standardized.status == 0, "\(standardized.stderr)")
  }

  @Test func dashReadsStandardInput() throws {
    let scratch = try Scratch()
    let csv = "a,b,y\n" + (0..<30).map { "\($0),\($0 % 5),\($0 % 2)\n" }.joined()
    let run = scratch.path("run")
    let train = try Hostile.run(
      ["train", "--data", "-", "--target", "y", "--task", "classification", "--epochs", "1", "--output", run],
      stdin: csv)
    #expect(train.status == 0, "\(train.stderr)")
    #expect(train.stdout.contains("Data: standard input, 24 training + 6 validation samples"))
    let predict = try Hostile.run(
      ["predict", "--model", run + "/model.safetensors", "--data", "-"], stdin: csv)
    #expect(predict.status == 0, "\(predict.stderr)")
    #expect(predict.stdout.split(separator: "\n").count == 31)
  }
}

/// Whether a checkpoint file is whole: it decodes.
enum SafetensorsFileCheck {
  static func loads(_ path: String) -> Bool { (try? SafetensorsFile.read(from: path)) != nil }
}

extension CLIHostileInputTests {
  /// Runs `bump` with a given standard input, environment and standard output (a path such
  /// as `/dev/full`); with `shell`, runs `arguments` as a command instead, with the argument
  /// `BUMP` replaced by the executable's path.
  typealias Hostile = BumpExecutable
  /// `bump` as a child process whose waits are bounded (``CLIReliabilityTests/Child``), for
  /// the runs that take a signal.
  typealias Child = CLIReliabilityTests.Child
}
