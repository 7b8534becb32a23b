import BumpKit
import BumpTestSupport
import Foundation
import Testing

/// `mpirun -np N bump train`: the `bump` built beside the tests (with the MPI trait, as the
/// test command builds it) run as 2 and 3 processes on this machine, against one process.
/// Without the trait that `bump` is one process whatever `mpirun` starts, so the suite does
/// not run then.
@Suite(.enabled(if: MPIRun.bumpHasMPI, "the bump built beside the tests has no MPI: swift test --traits MPI"))
struct CLIProcessesTests {
  /// A CSV file of `rows` records: a number column with missing cells, a second number
  /// column, a text column with categories and missing cells, a note of quoted fields with
  /// line breaks, commas and doubled quotes (often, so that some cross a part boundary), a
  /// regression target and a class label.
  static func writeData(rows: Int, to path: String) throws {
    var generator = SplitMix64(seed: 11)
    var text = "x1,x2,kind,note,y,label\n"
    for i in 0..<rows {
      let a = generator.uniform(-2, 2), b = generator.uniform(-2, 2)
      let kind = ["red", "green", "blue", "NA"][generator.index(4)]
      let note = i % 3 == 0 ? "\"row \(i), says \"\"hi\"\"\nand goes on\r\nfor lines\"" : "plain \(i)"
      let x1 = i % 17 == 0 ? "" : String(format: "%.4f", a)
      let y = sin(a) + 0.5 * b + (kind == "red" ? 0.3 : 0)
      let label = y > 0.4 ? "high" : (y < -0.4 ? "low" : "mid")
      text += "\(x1),\(String(format: "%.4f", b)),\(kind),\(note),\(String(format: "%.5f", y)),\(label)\n"
    }
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
  }

  /// Runs `bump arguments` as `ranks` processes under mpirun (or alone, nil).
  static func bump(_ arguments: [String], ranks: Int?, in folder: TemporaryFolder) throws -> ProcessResult {
    let bump = try BumpExecutable.require()
    guard let ranks else { return try ChildProcess.run(bump, arguments, in: folder.url) }
    guard let mpirun = MPIRun.path else {
      Issue.record("mpirun is not installed (Debian: openmpi-bin); Scripts/setup installs it")
      return ProcessResult(status: -1, stdout: "", stderr: "")
    }
    return try ChildProcess.run(
      URL(fileURLWithPath: mpirun), MPIRun.arguments(ranks: ranks) + [bump.path] + arguments,
      environment: environment(in: folder), in: folder.url)
  }

  /// mpirun's environment, with the temporary folder in `folder`, where the processes other
  /// than process 0 keep their private run folders (see ``leftovers(in:)``).
  static func environment(in folder: TemporaryFolder) throws -> [String: String] {
    try FileManager.default.createDirectory(atPath: folder.path("tmp"), withIntermediateDirectories: true)
    return MPIRun.environment.merging(["TMPDIR": folder.path("tmp")]) { $1 }
  }

  /// The private folders of processes other than 0 left in `folder`'s temporary folder.
  static func leftovers(in folder: TemporaryFolder) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: folder.path("tmp")).filter { $0.hasPrefix("bump-process-") }
  }

  static func metadata(_ path: String) throws -> [String: String] {
    try Checkpoint.load(Float.self, from: path).metadata
  }

  static func numbers(_ json: String?, _ key: String) -> [Double] {
    guard let data = json?.data(using: .utf8),
      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
      let values = object[key] as? [Double]
    else { return [] }
    return values
  }

  @Test(arguments: [2, 3], ["regression", "classification"])
  func processesReadEveryRecordOnceAndAgreeOnThePlanAndStatistics(ranks: Int, task: String) throws {
    let folder = try TemporaryFolder(prefix: "bumpkit-mpi-cli")
    defer { folder.remove() }
    try Self.writeData(rows: 3001, to: folder.path("data.csv"))
    // Without a validation part every record is a training row, in one process or many: the
    // plan (medians, categories, missing counts), the classes and the standardizations are
    // those of all the records. (Number columns plain in both: one process alone would
    // encode a regression's piecewise-linearly by default, several do not.)
    let target = task == "regression" ? "y" : "label"
    let ignored = task == "regression" ? "note,label" : "note,y"
    func arguments(_ output: String) -> [String] {
      [
        "train", "--data", "data.csv", "--target", target, "--task", task, "--ignore", ignored,
        "--validation-split", "0", "--epochs", "2", "--numeric-encoding", "plain", "--output", output,
      ]
    }
    let one = try Self.bump(arguments("one"), ranks: nil, in: folder)
    let many = try Self.bump(arguments("many"), ranks: ranks, in: folder)
    #expect(one.status == 0, "\(one.stderr)")
    #expect(many.status == 0, "\(many.stdout.suffix(600))\(many.stderr.suffix(1200))")
    guard one.status == 0, many.status == 0 else { return }
    #expect(many.stdout.contains("Processes: \(ranks) (mpirun)"))
    // Every record once: the summary's data line (rows, features, classes) is the same.
    let lines = { (run: String) in
      (try? String(contentsOfFile: folder.path("\(run)/summary.txt"), encoding: .utf8))?
        .split(separator: "\n").prefix(2).map(String.init) ?? []
    }
    #expect(lines("many") == lines("one"))
    #expect(lines("one").first?.contains("3001 training samples") == true, "\(lines("one"))")
    let (a, b) = (try Self.metadata(folder.path("one/model.safetensors")), try Self.metadata(folder.path("many/model.safetensors")))
    #expect(b["column_plan"] == a["column_plan"])
    #expect(b["class_names"] == a["class_names"])
    #expect(b["feature_names"] == a["feature_names"])
    for key in ["standardization", "target_standardization"] {
      for field in ["mean", "standardDeviation"] {
        let (u, v) = (Self.numbers(a[key], field), Self.numbers(b[key], field))
        #expect(u.count == v.count, "\(key).\(field)")
        for (x, y) in zip(u, v) { #expect(abs(x - y) <= 1e-9 * max(abs(x), 1), "\(key).\(field): \(x) vs \(y)") }
      }
    }
    // A repeated run gives the same model, bit for bit.
    let again = try Self.bump(arguments("again"), ranks: ranks, in: folder)
    #expect(again.status == 0)
    let weights = { (run: String) in
      (try? Checkpoint.load(Float.self, from: folder.path("\(run)/model.safetensors")).model.parameters.flatMap {
        $0.value.elements.map(\.bitPattern)
      }) ?? []
    }
    #expect(!weights("many").isEmpty && weights("again") == weights("many"))
    // Process 0 alone wrote: no folder of another process is left behind.
    #expect(try Self.leftovers(in: folder).isEmpty)
  }

  @Test func theBumpLayersStatisticsCoverEveryProcesssRows() throws {
    let folder = try TemporaryFolder(prefix: "bumpkit-mpi-cli")
    defer { folder.remove() }
    // A built-in dataset is not standardized: the model's inputs are the samples themselves,
    // every one of which some process trains on.
    let run = try Self.bump(
      ["train", "--dataset", "regression", "--samples", "999", "--seed", "5", "--validation-split", "0",
       "--epochs", "2", "--output", "run"], ranks: 2, in: folder)
    #expect(run.status == 0, "\(run.stderr.suffix(600))")
    guard run.status == 0 else { return }
    let model = try Checkpoint.load(Float.self, from: folder.path("run/model.safetensors")).model
    let data = try Dataset<Float>.regression(samples: 999, seed: 5)
    let expected = try BumpLayerStatistics.collect(model: model, inputs: data.x)
    #expect(expected.count == 2 && expected.allSatisfy { $0.samples == 999 })
    let summary = (try? String(contentsOfFile: folder.path("run/summary.txt"), encoding: .utf8)) ?? ""
    let shown = summary.split(separator: "\n").filter { $0.contains("inputs inside the support:") }
    #expect(shown.count == expected.count, "\(summary)")
    for (line, statistics) in zip(shown, expected) {
      #expect(line.contains(String(format: "inputs inside the support: %.1f%%", statistics.supportFraction * 100)), "\(line)")
      #expect(line.contains("dead units (never inside): \(statistics.deadUnits) of"), "\(line)")
    }
  }

  /// Processes started unlike process 0 (mpirun's `A : B` form gives each its own command
  /// line and working folder) are refused on every process, naming what differs, before
  /// anything is read or written: a different batch size crashed the run in a later
  /// exchange, and a stale, shorter copy of the data file trained silently on fewer rows.
  @Test func processesStartedUnlikeProcessZeroAreRefused() throws {
    let folder = try TemporaryFolder(prefix: "bumpkit-mpi-cli")
    defer { folder.remove() }
    try Self.writeData(rows: 300, to: folder.path("data.csv"))
    try FileManager.default.createDirectory(atPath: folder.path("other"), withIntermediateDirectories: true)
    try Self.writeData(rows: 200, to: folder.path("other/data.csv"))
    let bump = try BumpExecutable.require()
    guard let mpirun = MPIRun.path else {
      Issue.record("mpirun is not installed (Debian: openmpi-bin); Scripts/setup installs it")
      return
    }
    let common = ["train", "--data", "data.csv", "--target", "y", "--task", "regression", "--epochs", "2"]
    let one = Array(MPIRun.arguments(ranks: 1).dropFirst(MPIRun.arguments(ranks: 1).count - 2))
    let cases: [(first: [String], second: [String], secondFolder: String?, named: String)] = [
      (["--batch-size", "32", "--output", folder.path("a")], ["--batch-size", "8", "--output", folder.path("a")], nil,
       "process 1 has other options than process 0 (the options given to bump differ)"),
      (["--output", folder.path("b")], ["--output", folder.path("b")], folder.path("other"),
       "process 1 has other --data file than process 0"),
    ]
    for c in cases {
      var arguments = MPIRun.arguments(ranks: 1) + [bump.path] + common + c.first + [":"]
      if let secondFolder = c.secondFolder { arguments += ["-wdir", secondFolder] }
      arguments += one + [bump.path] + common + c.second
      let result = try ChildProcess.run(
        URL(fileURLWithPath: mpirun), arguments, environment: try Self.environment(in: folder), in: folder.url)
      #expect(result.status != 0)
      #expect(result.stderr.contains(c.named), "\(result.stderr.suffix(1200))")
      #expect(!result.stderr.contains("corruption") && !result.stderr.contains("Segmentation"), "\(result.stderr.suffix(1200))")
      let entries = try FileManager.default.contentsOfDirectory(atPath: folder.path)
      #expect(!entries.contains { $0 == "a" || $0 == "b" || $0.hasSuffix(".partial") }, "\(entries)")
    }
  }

  /// What runs as one process only says so on every process, and nothing is done twice:
  /// the commands other than train (predict printed every prediction once per process),
  /// standard input as the data, and resuming a one-process run (it blamed an option the
  /// user never gave, the one-process default encoding).
  @Test func whatNeedsOneProcessSaysSo() throws {
    let folder = try TemporaryFolder(prefix: "bumpkit-mpi-cli")
    defer { folder.remove() }
    try Self.writeData(rows: 120, to: folder.path("data.csv"))
    let regression = ["--data", "data.csv", "--target", "y", "--task", "regression", "--epochs", "2", "--ignore", "label"]
    let alone = try Self.bump(["train"] + regression + ["--patience", "0", "--output", "run"], ranks: nil, in: folder)
    #expect(alone.status == 0, "\(alone.stderr)")
    // A one-process run stopped by a signal, which can be resumed (by one process).
    let child = try ChildProcess(
      try BumpExecutable.require(),
      ["train", "--data", "data.csv", "--target", "y", "--task", "regression", "--ignore", "label,note", "--epochs", "3000",
       "--patience", "0", "--final-model", "early-stopped", "--checkpoint-interval", "0", "--output", "stopped"],
      in: folder.url)
    #expect(child.wait(forOutput: " 3/3000", limit: 120), "\(child.output().suffix(400))")
    kill(child.pid, SIGTERM)
    let (stopped, killed) = try child.finish(limit: 120)
    #expect(!killed && stopped.status != 0)
    let predict = try Self.bump(["predict", "--model", "run/model.safetensors", "--data", "data.csv"], ranks: 2, in: folder)
    #expect(predict.status != 0 && !predict.stdout.contains("prediction"), "\(predict.stdout.prefix(300))")
    #expect(
      predict.stderr.contains("bump predict is not supported when bump runs as several processes (mpirun); run it as one process"),
      "\(predict.stderr.suffix(800))")
    let piped = try Self.bump(["train", "--data", "-", "--target", "y", "--task", "regression", "--output", "piped"], ranks: 2, in: folder)
    #expect(piped.status != 0)
    #expect(piped.stderr.contains("reading --data from standard input is not supported"), "\(piped.stderr.suffix(800))")
    let resumed = try Self.bump(["train", "--resume", "stopped/model.safetensors", "--output", "again"], ranks: 2, in: folder)
    #expect(resumed.status != 0)
    #expect(
      resumed.stderr.contains("trained over 1 process; resume it with as many (mpirun -np 1, or without mpirun)")
        && !resumed.stderr.contains("piecewise"), "\(resumed.stderr.suffix(800))")
    let entries = try FileManager.default.contentsOfDirectory(atPath: folder.path)
    #expect(!entries.contains { $0 == "piped" || $0 == "again" || $0.hasSuffix(".partial") }, "\(entries)")
  }

  @Test func aFileWithFewerRecordsThanProcessesIsRefusedClearly() throws {
    let folder = try TemporaryFolder(prefix: "bumpkit-mpi-cli")
    defer { folder.remove() }
    try Data("a,y\n1,2\n3,4\n".utf8).write(to: URL(fileURLWithPath: folder.path("short.csv")))
    let result = try Self.bump(
      ["train", "--data", "short.csv", "--target", "y", "--task", "regression", "--output", "run"], ranks: 3,
      in: folder)
    #expect(result.status != 0)
    #expect(result.stderr.contains("too few for 3 processes"), "\(result.stderr.suffix(800))")
    #expect(!FileManager.default.fileExists(atPath: folder.path("run")))
  }

  @Test func aStrayQuoteThatHidesTheRecordBoundariesIsRefused() throws {
    let folder = try TemporaryFolder(prefix: "bumpkit-mpi-cli")
    defer { folder.remove() }
    // A quote inside an unquoted field (read as text by one process) turns the quote count
    // of the second part over, so that it would start inside a quoted field.
    var text = "a,note,y\n1,ab\"c,1\n"
    for i in 0..<400 { text += "\(i),\"first\nsecond\",\(i % 7)\n" }
    try Data(text.utf8).write(to: URL(fileURLWithPath: folder.path("stray.csv")))
    let arguments = ["train", "--data", "stray.csv", "--target", "y", "--task", "regression", "--ignore", "note", "--epochs", "1"]
    #expect(try Self.bump(arguments + ["--output", "one"], ranks: nil, in: folder).status == 0)
    let result = try Self.bump(arguments + ["--output", "two"], ranks: 2, in: folder)
    #expect(result.status != 0)
    #expect(result.stderr.contains("cannot be cut into 2 parts at record boundaries"), "\(result.stderr.suffix(800))")
    #expect(!FileManager.default.fileExists(atPath: folder.path("two")))
  }

  @Test func aSignalToOneProcessStopsEveryProcessAndTheRunResumesToTheSameBits() throws {
    let folder = try TemporaryFolder(prefix: "bumpkit-mpi-cli")
    defer { folder.remove() }
    try Self.writeData(rows: 4000, to: folder.path("data.csv"))
    let bump = try BumpExecutable.require()
    guard let mpirun = MPIRun.path else {
      Issue.record("mpirun is not installed")
      return
    }
    let training = [
      "train", "--data", "data.csv", "--target", "y", "--task", "regression", "--ignore", "note,label",
      "--epochs", "150", "--patience", "0", "--final-model", "early-stopped", "--checkpoint-interval", "0",
    ]
    let output = folder.path("signalled")
    let child = try ChildProcess(
      URL(fileURLWithPath: mpirun), MPIRun.arguments(ranks: 2) + [bump.path] + training + ["--output", output],
      environment: try Self.environment(in: folder), in: folder.url)
    // Once training runs (a checkpoint of an epoch is written), SIGTERM to process 1 only.
    #expect(child.wait(forOutput: " 3/150", limit: 120), "\(child.output().suffix(400))")
    guard let rank1 = Self.processes(with: output).first(where: { $0.rank == 1 })?.pid else {
      Issue.record("process 1 not found")
      return
    }
    kill(rank1, SIGTERM)
    let (result, killed) = try child.finish(limit: 120)
    #expect(!killed)
    #expect(result.status != 0)
    // Process 0 published the run folder with its last good checkpoint, marked interrupted.
    let summary = (try? String(contentsOfFile: output + "/summary.txt", encoding: .utf8)) ?? ""
    #expect(summary.contains("interrupted"), "\(summary.prefix(400)) \(result.stderr.suffix(800))")
    #expect(result.stderr.contains("interrupted by SIGTERM"), "\(result.stderr.suffix(800))")
    let loaded = try Checkpoint.load(Float.self, from: output + "/model.safetensors")
    #expect(loaded.model.parameterCount > 0)
    #expect(try Self.leftovers(in: folder).isEmpty)

    // Resumed over as many processes, the run ends with the weights of a run never
    // interrupted, bit for bit; one process may not resume it.
    let resumed = try Self.bump(
      ["train", "--resume", "signalled/model.safetensors", "--output", "resumed"], ranks: 2, in: folder)
    #expect(resumed.status == 0, "\(resumed.stderr.suffix(800))")
    let whole = try Self.bump(training + ["--output", "whole"], ranks: 2, in: folder)
    #expect(whole.status == 0)
    let weights = { (run: String) in
      (try? Checkpoint.load(Float.self, from: folder.path("\(run)/model.safetensors")).model.parameters.flatMap {
        $0.value.elements.map(\.bitPattern)
      }) ?? []
    }
    #expect(!weights("whole").isEmpty && weights("resumed") == weights("whole"))
    let alone = try Self.bump(["train", "--resume", "signalled/model.safetensors", "--output", "alone"], ranks: nil, in: folder)
    #expect(alone.status != 0)
    #expect(alone.stderr.contains("trained over 2 processes; resume it with as many"), "\(alone.stderr)")
  }

  @Test func aTestFileIsScoredOverEveryProcessAsByOne() throws {
    let folder = try TemporaryFolder(prefix: "bumpkit-mpi-cli")
    defer { folder.remove() }
    try Self.writeData(rows: 1500, to: folder.path("data.csv"))
    try Self.writeData(rows: 301, to: folder.path("test.csv"))
    let arguments = [
      "train", "--data", "data.csv", "--target", "label", "--task", "classification", "--ignore", "note,y",
      "--validation-split", "0", "--epochs", "1", "--test-data", "test.csv",
    ]
    let many = try Self.bump(arguments + ["--output", "many"], ranks: 3, in: folder)
    #expect(many.status == 0, "\(many.stderr.suffix(800))")
    // Every test row scored once, over the three processes.
    let summary = (try? String(contentsOfFile: folder.path("many/summary.txt"), encoding: .utf8)) ?? ""
    #expect(summary.contains("1500 training + 301 test samples"), "\(summary.prefix(300))")
    let metrics = try Self.metadata(folder.path("many/model.safetensors"))["metrics"] ?? ""
    #expect(metrics.contains("\"test_samples\":301"), "\(metrics)")
  }

  /// The `bump` processes whose command line holds `marker`, with their MPI ranks.
  static func processes(with marker: String) -> [(pid: Int32, rank: Int)] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry -> (Int32, Int)? in
      guard let pid = Int32(entry),
        let command = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
        String(decoding: command, as: UTF8.self).contains(marker),
        String(decoding: command, as: UTF8.self).split(separator: "\0").first?.hasSuffix("bump") == true,
        let environment = FileManager.default.contents(atPath: "/proc/\(entry)/environ")
      else { return nil }
      let rank = String(decoding: environment, as: UTF8.self).split(separator: "\0")
        .first { $0.hasPrefix("OMPI_COMM_WORLD_RANK=") }
        .flatMap { Int($0.dropFirst("OMPI_COMM_WORLD_RANK=".count)) }
      return rank.map { (pid, $0) }
    }
  }
}
