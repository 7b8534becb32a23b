import BumpKit
import Foundation
import Testing
import BumpTestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// Reliability of the `bump` tool under hostile numbers, limits and signals (issue 14): no
/// trap on a user's number, no hang under a memory limit, every catchable signal ends a run
/// cleanly, run folders never clash. The tool runs as a subprocess (see ``CLITests``); every
/// wait is bounded, so a hang fails the test instead of stalling the suite.
@Suite struct CLIReliabilityTests {
  typealias Scratch = CLITrainTests.Scratch

  // MARK: - Arithmetic on user numbers

  /// 10¹⁸ epochs means "until early stopping"; epochs × batches overflowed (SIGILL), and a
  /// cosine schedule over the largest Int trapped at the start.
  @Test func hugeEpochBudgetsAndBatchSizesDoNotTrap() throws {
    let scratch = try Scratch()
    let small = ["train", "--samples", "64", "--layers", "4"]
    for (name, options) in [
      ("e18", ["--epochs", "1000000000000000000", "--patience", "2"]),
      ("cosine", ["--epochs", "\(Int.max)", "--patience", "2", "--lr-schedule", "cosine"]),
      ("batch", ["--epochs", "2", "--batch-size", "\(Int.max)"]),
      ("both", ["--epochs", "\(Int.max)", "--batch-size", "\(Int.max)", "--patience", "1"]),
    ] {
      let result = try Child.run(small + options + ["--output", scratch.path(name)], in: scratch.url)
      #expect(result.status == 0, "\(name): \(result.stderr)")
      #expect(
        FileManager.default.fileExists(atPath: scratch.path(name) + "/summary.txt"), "\(name)")
    }
    #expect(try scratch.entries() == ["batch", "both", "cosine", "e18"])
  }

  /// A run with the default name never meets a folder that a killed run left under runs/
  /// (the names hold the time): a new one names such folders, once they are a minute old and
  /// unlocked, so that the work in them is not forgotten.
  @Test func aDefaultRunNamesFoldersThatKilledRunsLeft() throws {
    let scratch = try Scratch()
    let old = scratch.path("runs/.rings-20261207-101010.partial"), fresh = scratch.path("runs/.rings-now.partial")
    for folder in [old, fresh] { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
    // Untouched for two minutes, as a killed run's folder would be.
    var times = [timeval(tv_sec: time(nil) - 120, tv_usec: 0), timeval(tv_sec: time(nil) - 120, tv_usec: 0)]
    #expect(utimes(old, &times) == 0)
    let result = try Child.run(["train", "--samples", "64", "--epochs", "1", "--layers", "4"], in: scratch.url)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(
      result.stderr.contains(
        "Note: runs/ holds a folder that runs left when they ended without finishing: runs/.rings-20261207-101010.partial;"),
      "\(result.stderr)")
    #expect(!result.stderr.contains(".rings-now.partial"), "\(result.stderr)")
    // With --output the run names nothing of runs/.
    let named = try Child.run(
      ["train", "--samples", "64", "--epochs", "1", "--layers", "4", "--output", "mine"], in: scratch.url)
    #expect(named.status == 0 && !named.stderr.contains("ended without finishing"), "\(named.stderr)")
  }

  // MARK: - Memory

  /// Under an address-space limit of 150–250 MB, OpenBLAS's first matrix product retried a
  /// failed mapping forever at full CPU. Now each run is refused up front (or fits and
  /// completes): the wait is bounded, a hang fails.
  @Test func anAddressSpaceLimitTooSmallForOpenBLASIsRefusedNotHung() throws {
    let scratch = try Scratch()
    let run = scratch.path("model")
    let trained = try Child.run(
      ["train", "--samples", "64", "--epochs", "1", "--layers", "4", "--output", run])
    #expect(trained.status == 0, "\(trained.stderr)")
    let csv = scratch.path("d.csv")
    try "x0,x1\n0.1,0.2\n0.3,0.4\n".write(toFile: csv, atomically: true, encoding: .utf8)
    for kib in [150_000, 200_000, 250_000] {
      for threads in ["1", "2"] {
        let output = scratch.path("run-\(kib)-\(threads)")
        for command in [
          ["train", "--samples", "64", "--epochs", "2", "--layers", "4", "--output", output],
          ["predict", "--model", run + "/model.safetensors", "--data", csv],
        ] {
          let result = try Child.run(
            ["/bin/sh", "-c", "ulimit -v \(kib); exec \"$0\" \"$@\"", "BUMP"] + command,
            environment: ["OPENBLAS_NUM_THREADS": threads], shell: true, in: scratch.url)
          let what = "\(command[0]) under ulimit -v \(kib), \(threads) threads"
          #expect(result.status == 0 || result.status == 1, "\(what): \(result.stderr)")
          if result.status == 1 {
            #expect(result.stderr.contains("not enough memory"), "\(what): \(result.stderr)")
            #expect(result.stderr.contains("ulimit -v"), "\(what): \(result.stderr)")
          }
        }
      }
    }
    let entries = try scratch.entries()
    #expect(entries.allSatisfy { !$0.hasPrefix(".") }, "debris: \(entries)")
  }

  /// The estimate counted --batch-size even beyond the rows: a full-batch run of 200 rows
  /// with a huge batch size was refused as needing 194 GiB.
  @Test func aBatchSizeBeyondTheRowsCostsOnlyTheRows() throws {
    let scratch = try Scratch()
    let result = try Child.run(
      [
        "train", "--samples", "200", "--epochs", "2", "--layers", "4", "--batch-size",
        "1000000000000", "--output", scratch.path("run"),
      ], environment: ["BUMP_MEMORY_LIMIT": "64M"])
    #expect(result.status == 0, "\(result.stderr)")
  }

  @Test func aMemoryLimitBeyondTheLargestSaysTheLargest() throws {
    let scratch = try Scratch()
    let huge = try Child.run(
      ["train", "--samples", "64", "--epochs", "1", "--output", scratch.path("a")],
      environment: ["BUMP_MEMORY_LIMIT": "1e19"])
    #expect(huge.status == 1)
    #expect(
      huge.stderr.hasPrefix(
        "Error: BUMP_MEMORY_LIMIT=1e19: larger than the largest accepted value, 9223372036854775807 bytes"),
      "\(huge.stderr)")
    // 9e18 is below Int.max, and accepted.
    let large = try Child.run(
      ["train", "--samples", "64", "--epochs", "1", "--output", scratch.path("b")],
      environment: ["BUMP_MEMORY_LIMIT": "9e18"])
    #expect(large.status == 0, "\(large.stderr)")
  }

  /// Under a process limit OpenBLAS cannot start its threads while the library loads; it
  /// raised SIGINT, and the tool ended with 130 as if interrupted. RLIMIT_NPROC does not bind
  /// root, so as root the tool runs as `nobody` (with `setpriv`).
  @Test(
    .enabled(
      if: getuid() != 0 || Self.nobodyCanRunTheTool,
      "as root, needs setpriv and a tool that user nobody may run (RLIMIT_NPROC binds no root process)"))
  func aProcessLimitIsExplainedNotTakenForAnInterrupt() throws {
    let scratch = try Scratch()
    chmod(scratch.url.path, 0o777)
    var command = [
      "/bin/bash", "-c", "ulimit -u 1; exec \"$0\" \"$@\"", "BUMP", "train", "--samples", "64",
      "--epochs", "1", "--output", scratch.path("run"),
    ]
    if getuid() == 0 {
      command = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + command
    }
    let result = try Child.run(
      command, environment: ["OPENBLAS_NUM_THREADS": "2"], shell: true, in: scratch.url)
    #expect(result.status == 1, "\(result.stderr)")
    #expect(result.stderr.contains("OpenBLAS could not start its worker threads"), "\(result.stderr)")
    #expect(result.stderr.contains("ulimit -u 1"), "\(result.stderr)")
    #expect(try scratch.entries().isEmpty)
  }

  // MARK: - Signals

  /// Every catchable signal that would end the process ends training as SIGTERM does: the
  /// folder published, the checkpoint marked interrupted, 128 + the signal, no crash report
  /// (SIGQUIT printed one and went on running), no temporary files.
  @Test(arguments: [
    SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGXCPU, SIGVTALRM, SIGPROF, SIGIO, SIGPWR,
    __libc_current_sigrtmin() + 1,
  ])
  func everyStopSignalEndsTrainingCleanly(signal: Int32) throws {
    let scratch = try Scratch()
    let run = scratch.path("run")
    let result = try Child.runAndSignal(
      ["train", "--samples", "200", "--epochs", "100000", "--patience", "0", "--output", run],
      signal: signal, afterOutput: " 3/100000 ", in: scratch.url)
    #expect(result.status == 128 + signal, "\(result.stderr)")
    #expect(result.stderr.contains("interrupted by SIG"), "\(result.stderr)")
    #expect(!result.stderr.contains("crashed") && !result.stderr.contains("Backtrace"))
    #expect(try scratch.entries() == ["run"], "no .partial folder")
    let files = try FileManager.default.contentsOfDirectory(atPath: run)
    #expect(files.allSatisfy { !$0.hasPrefix(".") }, "temporary files: \(files)")
    let inspect = try Child.run(["inspect", run + "/model.safetensors"])
    #expect(inspect.stdout.contains("status: interrupted"), "\(inspect.stdout)")
  }

  /// SIGXFSZ is ignored: a checkpoint beyond `ulimit -f` fails with "File too large", an
  /// error (status 1, not 128 + 25), and nothing is left behind.
  @Test func aFileSizeLimitIsAnErrorWithoutDebris() throws {
    let scratch = try Scratch()
    let result = try Child.run(
      [
        "/bin/sh", "-c", "ulimit -f 1; exec \"$0\" \"$@\"", "BUMP", "train", "--samples", "64",
        "--epochs", "1", "--layers", "4", "--output", scratch.path("run"),
      ], shell: true, in: scratch.url)
    #expect(result.status == 1, "\(result.stderr)")
    #expect(result.stderr.contains("File too large"), "\(result.stderr)")
    #expect(try scratch.entries().isEmpty)
    // predict --output: no temporary file next to the user's.
    let run = scratch.path("model")
    #expect(try Child.run(["train", "--samples", "64", "--epochs", "1", "--output", run]).status == 0)
    let csv = scratch.path("d.csv")
    try ("x0,x1\n" + String(repeating: "0.1,0.2\n", count: 2000))
      .write(toFile: csv, atomically: true, encoding: .utf8)
    let predict = try Child.run(
      [
        "/bin/sh", "-c", "ulimit -f 8; exec \"$0\" \"$@\"", "BUMP", "predict", "--model",
        run + "/model.safetensors", "--data", csv, "--output", scratch.path("p.csv"),
      ], shell: true, in: scratch.url)
    #expect(predict.status == 1, "\(predict.stderr)")
    #expect(predict.stderr.contains("File too large"), "\(predict.stderr)")
    #expect(try scratch.entries() == ["d.csv", "model"])
  }

  // MARK: - Run folders

  /// A symbolic link that points nowhere trained fully and then failed to publish, naming a
  /// checkpoint that did not exist; now it is refused before training.
  @Test func aDanglingLinkAsOutputIsRefusedBeforeTraining() throws {
    let scratch = try Scratch()
    try FileManager.default.createSymbolicLink(
      atPath: scratch.path("run"), withDestinationPath: "nowhere/run")
    let result = try Child.run(
      ["train", "--samples", "64", "--epochs", "1", "--output", "run"], in: scratch.url)
    #expect(result.status == 1, "\(result.stderr)")
    #expect(
      result.stderr.contains("run: a symbolic link to nowhere/run, which does not exist"),
      "\(result.stderr)")
    #expect(!result.stdout.contains("epoch"), "trained before refusing")
    #expect(try scratch.entries() == ["run"])
  }

  /// A run folder that cannot be created (a folder on its path longer than the file system
  /// allows) is refused naming that folder, and leaves no folder behind: the parent folders made for it are removed again, and a
  /// folder that existed before stays. A run folder name too long for its temporary folder
  /// is refused before anything is made.
  @Test func aRunFolderThatCannotBeMadeLeavesNoParentFolders() throws {
    let scratch = try Scratch()
    try FileManager.default.createDirectory(atPath: scratch.path("kept"), withIntermediateDirectories: false)
    let long = String(repeating: "x", count: 300)
    let result = try Child.run(
      ["train", "--samples", "64", "--epochs", "1", "--output", "kept/new/deeper/\(long)/more/run"], in: scratch.url)
    #expect(result.status == 1, "\(result.stderr)")
    // The message names the folder that could not be made, not the innermost one.
    #expect(result.stderr.contains("kept/new/deeper/\(long): cannot create the folder: File name too long"), "\(result.stderr)")
    #expect(!result.stdout.contains("epoch"), "trained before refusing")
    #expect(try scratch.entries() == ["kept"])
    #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path("kept")).isEmpty)
    let name = String(repeating: "y", count: 247)
    let refused = try Child.run(
      ["train", "--samples", "64", "--epochs", "1", "--output", "kept/new/\(name)"], in: scratch.url)
    #expect(refused.status != 0 && refused.stderr.contains("--output's folder name has 247 bytes; at most 246 can be used"), "\(refused.stderr)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path("kept")).isEmpty)
    // A symbolic link on the way that leads nowhere, or in a loop, is named as such (creating
    // a folder through it fails with "File exists").
    try FileManager.default.createSymbolicLink(atPath: scratch.path("kept/dangling"), withDestinationPath: "nowhere")
    try FileManager.default.createSymbolicLink(atPath: scratch.path("kept/loop"), withDestinationPath: "loop")
    for (link, problem) in [("dangling", "a symbolic link to nowhere, which does not exist"), ("loop", "a loop of symbolic links")] {
      let through = try Child.run(
        ["train", "--samples", "64", "--epochs", "1", "--output", "kept/\(link)/n1/run"], in: scratch.url)
      #expect(through.status == 1 && through.stderr.contains("cannot create the folder: kept/\(link) is \(problem)"), "\(through.stderr)")
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path("kept")).sorted() == ["dangling", "loop"])
    try FileManager.default.removeItem(atPath: scratch.path("kept/dangling"))
    try FileManager.default.removeItem(atPath: scratch.path("kept/loop"))
    // Made as asked, the parents stay with the run.
    let made = try Child.run(
      ["train", "--samples", "64", "--epochs", "1", "--output", "kept/new/run"], in: scratch.url)
    #expect(made.status == 0, "\(made.stderr)")
    #expect(FileManager.default.fileExists(atPath: scratch.path("kept/new/run/model.safetensors")))
  }

  /// Another program takes the name while training runs: the error names the folder that
  /// holds the complete results.
  @Test func aNameTakenDuringTrainingNamesTheFolderWithTheResults() throws {
    let scratch = try Scratch()
    let child = try Child.start(
      ["train", "--samples", "2000", "--epochs", "300", "--patience", "0", "--output", "run"],
      in: scratch.url)
    try child.wait(forOutput: " 2/300 ")
    try FileManager.default.createDirectory(
      atPath: scratch.path("run/theirs"), withIntermediateDirectories: true)
    let result = try child.finish()
    #expect(result.status == 1, "\(result.stderr)")
    #expect(result.stderr.contains("the results are in .run.partial"), "\(result.stderr)")
    #expect(SafetensorsFileCheck.loads(scratch.path(".run.partial/model.safetensors")))
    #expect(FileManager.default.fileExists(atPath: scratch.path(".run.partial/summary.txt")))
    #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path("run")) == ["theirs"])
  }

  /// Two runs with one --output: the second says whether another run is writing it, or one
  /// that crashed left its temporary folder (and how to remove it).
  @Test func aSecondRunIntoTheSameFolderSaysWhy() throws {
    let scratch = try Scratch()
    let long = [
      "train", "--samples", "200", "--epochs", "100000", "--patience", "0", "--output", "run",
    ]
    let first = try Child.start(long, in: scratch.url)
    try first.wait(forOutput: " 2/100000 ")
    let second = try Child.run(
      ["train", "--samples", "64", "--epochs", "1", "--output", "run"], in: scratch.url)
    kill(first.pid, SIGTERM)
    let firstResult = try first.finish()
    #expect(firstResult.status == 128 + SIGTERM, "\(firstResult.stderr)")
    #expect(second.status == 1)
    #expect(
      second.stderr == "Error: another run is writing run now (into .run.partial); choose another --output, or wait for that run to end\n",
      "\(second.stderr)")
    // What a run killed with SIGKILL leaves.
    try FileManager.default.createDirectory(
      atPath: scratch.path(".crashed.partial"), withIntermediateDirectories: false)
    let third = try Child.run(
      ["train", "--samples", "64", "--epochs", "1", "--output", "crashed"], in: scratch.url)
    #expect(third.status == 1)
    #expect(third.stderr.contains(".crashed.partial exists, left by a run of crashed that ended without finishing"), "\(third.stderr)")
    #expect(third.stderr.contains("rm -r .crashed.partial"), "\(third.stderr)")
  }

  /// Out of inodes, the results cannot all be written; the message pointed to a summary
  /// that was not written. Now every file it names exists. A tmpfs with few inodes fails at
  /// each step in turn.
  @Test(.enabled(if: Self.canMountTmpfs, "needs root, to mount a tmpfs with few inodes"))
  func runningOutOfInodesNamesOnlyFilesThatExist() throws {
    let scratch = try Scratch()
    let mount = scratch.path("fs")
    try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
    var failures = 0
    // A run that completes, and one that diverges (its failure is recorded in the folder).
    let runs = [
      ["train", "--samples", "64", "--epochs", "2", "--layers", "4"],
      [
        "train", "--dataset", "regression", "--samples", "400", "--optimizer", "sgd", "--lr",
        "1e30", "--epochs", "3",
      ],
    ]
    for (arguments, inodes) in runs.flatMap({ run in (3...9).map { (run, $0) } }) {
      #expect(Self.system(["/bin/mount", "-t", "tmpfs", "-o", "size=8m,nr_inodes=\(inodes)", "tmpfs", mount]))
      defer { _ = Self.system(["/bin/umount", mount]) }
      let result = try Child.run(arguments + ["--output", mount + "/run"])
      guard result.status != 0 else { continue }
      failures += 1
      // The last good checkpoint is kept, under the final name.
      #expect(try FileManager.default.contentsOfDirectory(atPath: mount) == ["run"], "\(inodes) inodes")
      #expect(FileManager.default.fileExists(atPath: mount + "/run/model.safetensors"), "\(inodes) inodes")
      #expect(result.status == 1, "\(inodes) inodes: \(result.stderr)")
      #expect(!result.stderr.contains(".run.partial"), "\(inodes) inodes: \(result.stderr)")
      // A run that failed never leaves a checkpoint that says it is complete (the results'
      // checkpoint was written first, and later files failed).
      let status = try SafetensorsFile.read(from: mount + "/run/model.safetensors").metadata["status"]
      #expect(status != "complete", "\(inodes) inodes: \(status ?? "no status"): \(result.stderr)")
      for match in result.stderr.matches(of: /in (\S+)\/model\.safetensors/) {
        let folder = String(match.1)
        #expect(FileManager.default.fileExists(atPath: folder + "/model.safetensors"), "\(result.stderr)")
        if result.stderr.contains("see summary.txt there") {
          #expect(FileManager.default.fileExists(atPath: folder + "/summary.txt"), "\(inodes) inodes: \(result.stderr)")
        }
      }
    }
    #expect(failures > 0, "no step ran out of inodes")
  }

  // MARK: - A closed standard output

  /// `train | head -1`: a lost progress stream is not a failed training: the run finishes,
  /// writes its folder and exits 0. `predict` and `function`, whose output is their result,
  /// end at once on SIGPIPE like any Unix filter (141).
  @Test func aClosedPipeEndsFiltersButNotTraining() throws {
    let scratch = try Scratch()
    let status = scratch.path("status")
    func piped(_ arguments: [String]) throws -> (status: String, head: String) {
      let result = try Child.run(
        ["/bin/sh", "-c", "{ \"$0\" \"$@\"; echo $? > \(status); } | head -1", "BUMP"] + arguments,
        shell: true, in: scratch.url)
      return (
        try String(contentsOfFile: status, encoding: .utf8)
          .trimmingCharacters(in: .whitespacesAndNewlines), result.stdout
      )
    }
    // Thousands of one-line epochs: far more than a pipe holds, so writes meet the closed pipe.
    let train = try piped([
      "train", "--samples", "16", "--batch-size", "16", "--layers", "4", "--epochs", "4000",
      "--patience", "0", "--output", "run",
    ])
    #expect(train.status == "0")
    #expect(train.head.hasPrefix("Data: rings"), "\(train.head)")
    let summary = try String(contentsOfFile: scratch.path("run/summary.txt"), encoding: .utf8)
    #expect(summary.contains("Training: 4000 epochs"), "\(summary)")
    #expect(try scratch.entries().allSatisfy { !$0.hasPrefix(".") })

    let function = try piped([
      "function", "--sigma", "1", "--from", "-1", "--to", "1", "--steps", "100000",
    ])
    #expect(function.status == "141")
    let csv = scratch.path("d.csv")
    try ("x0,x1\n" + String(repeating: "0.1,0.2\n", count: 20_000))
      .write(toFile: csv, atomically: true, encoding: .utf8)
    let predict = try piped(["predict", "--model", "run/model.safetensors", "--data", csv])
    #expect(predict.status == "141")
  }
}

extension CLIReliabilityTests {
  /// Whether `setpriv` can run the built tool as user `nobody` (every folder above it open
  /// to others).
  static let nobodyCanRunTheTool: Bool = {
    let setpriv = "/usr/bin/setpriv"
    guard FileManager.default.isExecutableFile(atPath: setpriv),
      let tool = CLITrainTests.TrainTool.executable
    else { return false }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: setpriv)
    process.arguments = [
      "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sh", "-c", "test -x \"$0\"",
      tool.path,
    ]
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
  }()

  /// Whether this process may mount a tmpfs (root, with the capability to mount).
  static let canMountTmpfs: Bool = {
    guard getuid() == 0, let scratch = try? Scratch() else { return false }
    let mount = scratch.path("probe")
    guard (try? FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)) != nil,
      system(["/bin/mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mount])
    else { return false }
    return system(["/bin/umount", mount])
  }()

  /// Runs a command and tells whether it succeeded.
  static func system(_ arguments: [String]) -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: arguments[0])
    process.arguments = Array(arguments.dropFirst())
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
  }

  /// The `bump` tool as a child process with files for its standard streams, waited for
  /// with a bound: past ``Child/limit`` it is killed and the test fails.
  struct Child {
    typealias Result = ProcessResult

    /// The longest wait for one run (or for one output marker): generous, only to catch a
    /// hang.
    static let limit: TimeInterval = 120

    let child: ChildProcess
    var pid: Int32 { child.pid }

    /// Starts `bump` with `arguments` (with `shell`, runs `arguments` as a command with the
    /// argument `BUMP` replaced by the tool's path); its streams' folder is open to other users.
    static func start(
      _ arguments: [String], stdin: String = "", environment: [String: String] = [:],
      shell: Bool = false, in directory: URL? = nil
    ) throws -> Child {
      Child(
        child: try BumpExecutable.start(
          arguments, stdin: stdin, environment: environment, in: directory, shell: shell, openToOthers: true))
    }

    static func run(
      _ arguments: [String], stdin: String = "", environment: [String: String] = [:],
      shell: Bool = false, in directory: URL? = nil
    ) throws -> Result {
      try start(arguments, stdin: stdin, environment: environment, shell: shell, in: directory)
        .finish()
    }

    /// Starts `bump`, waits until its standard output holds `marker`, sends `signal` and
    /// waits for the end.
    static func runAndSignal(
      _ arguments: [String], signal: Int32, afterOutput marker: String, in directory: URL
    ) throws -> Result {
      let child = try start(arguments, in: directory)
      try child.wait(forOutput: marker)
      kill(child.pid, signal)
      return try child.finish()
    }

    /// Waits until standard output holds `marker`, while the child runs (it must still be
    /// running then: a child that ended first fails the test).
    func wait(forOutput marker: String) throws {
      guard child.wait(forOutput: marker, limit: Self.limit) else {
        let running = child.isRunning
        _ = try? child.finish(limit: 0)
        Issue.record(running ? "no \(marker) within \(Self.limit) s" : "the run ended without printing \(marker)")
        throw CancellationError()
      }
      try #require(child.isRunning, "the run ended before the marker was seen")
    }

    /// Waits for the end (killing the child, and failing, past the limit) and returns what it
    /// wrote; a child ended by a signal has status 1000 + the signal.
    func finish() throws -> Result {
      let (result, killed) = try child.finish(limit: Self.limit)
      if killed { Issue.record("still running after \(Self.limit) s: killed (a hang)") }
      return result
    }
  }
}
