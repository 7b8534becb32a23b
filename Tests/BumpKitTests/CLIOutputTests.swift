import BumpKit
import Foundation
import Testing
import BumpTestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// Where `bump predict` and `bump function` write: devices and FIFOs in place, `-` for
/// standard output, regular files replaced keeping their mode, read-only files refused, every
/// failed write an error at any output size, and predictions streamed in batches with the
/// same bits as the whole-file prediction.
@Suite struct CLIOutputTests {
  typealias Scratch = TemporaryFolder
  typealias Hostile = BumpExecutable

  /// A trained ring classifier and a feature file of `rows` rows.
  static func model(rows: Int) throws -> (scratch: Scratch, model: String, data: String) {
    let scratch = try Scratch()
    let run = scratch.path("run")
    let trained = try Hostile.run(["train", "--samples", "200", "--epochs", "2", "--output", run])
    #expect(trained.status == 0, "\(trained.stderr)")
    var csv = "x0,x1\n"
    var rng = SystemRandomNumberGenerator()
    for _ in 0..<rows { csv += "\(Double.random(in: -2...2, using: &rng)),\(Double.random(in: -2...2, using: &rng))\n" }
    let data = scratch.path("d.csv")
    try csv.write(toFile: data, atomically: true, encoding: .utf8)
    return (scratch, run + "/model.safetensors", data)
  }

  @Test func predictionsGoToAFileStandardOutputOrADeviceAlike() throws {
    let (scratch, model, data) = try Self.model(rows: 2500)  // three batches
    let toStdout = try Hostile.run(["predict", "--model", model, "--data", data])
    #expect(toStdout.status == 0, "\(toStdout.stderr)")
    let dash = try Hostile.run(["predict", "--model", model, "--data", data, "--output", "-"])
    #expect(dash.stdout == toStdout.stdout, "--output - is standard output")
    #expect(!scratch.path("-").isEmpty && !FileManager.default.fileExists(atPath: scratch.path("-")))

    let file = scratch.path("p.csv")
    try "old\n".write(toFile: file, atomically: false, encoding: .utf8)
    chmod(file, 0o600)
    #expect(try Hostile.run(["predict", "--model", model, "--data", data, "--output", file]).status == 0)
    #expect(try String(contentsOfFile: file, encoding: .utf8) == toStdout.stdout)
    #expect(OutputFileTests.mode(file) & 0o7777 == 0o600, "private predictions stay private")
    #expect(toStdout.stdout.split(separator: "\n").count == 2501)

    // Rows are predicted in the batches of 1024 that `Sequential.predict` uses (so the bits
    // are those of a whole-file prediction): the second batch on its own gives the same text.
    // (OpenBLAS rounds differently for other batch shapes: a row alone differs in the last bits.)
    let inputLines = try String(contentsOfFile: data, encoding: .utf8).split(separator: "\n")
    let second = scratch.path("second.csv")
    try (["x0,x1"] + inputLines[1025...2048]).joined(separator: "\n").appending("\n")
      .write(toFile: second, atomically: true, encoding: .utf8)
    let batch = try Hostile.run(["predict", "--model", model, "--data", second])
    #expect(batch.stdout.split(separator: "\n").dropFirst() == toStdout.stdout.split(separator: "\n")[1025...2048])

    let readOnly = scratch.path("frozen.csv")
    try "keep\n".write(toFile: readOnly, atomically: false, encoding: .utf8)
    chmod(readOnly, 0o444)
    let refused = try Hostile.run(["predict", "--model", model, "--data", data, "--output", readOnly])
    #expect(refused.status == 1)
    #expect(refused.stderr.contains("read-only"), "\(refused.stderr)")
    #expect(try String(contentsOfFile: readOnly, encoding: .utf8) == "keep\n")
  }

  /// As root the old code renamed a temporary file over the device: here a device node of
  /// the test's own (the null device's numbers), so that a regression cannot break /dev/null.
  @Test(.enabled(if: geteuid() == 0, "needs root to create a device node"))
  func aDeviceStaysADevice() throws {
    let (scratch, model, data) = try Self.model(rows: 10)
    let device = scratch.path("null")
    #expect(mknod(device, S_IFCHR | 0o666, dev_t((1 << 8) | 3)) == 0)
    let result = try Hostile.run(["predict", "--model", model, "--data", data, "--output", device])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(OutputFileTests.mode(device, followingLinks: false) & S_IFMT == S_IFCHR, "still a device")
    #expect(try scratch.entries().sorted() == ["d.csv", "null", "run"], "no temporary file")
    let stdoutLink = try Hostile.run(["predict", "--model", model, "--data", data, "--output", "/dev/stdout"])
    #expect(stdoutLink.status == 0, "\(stdoutLink.stderr)")
    #expect(stdoutLink.stdout.hasPrefix("predicted_class,"), "written through the open descriptor")
  }

  /// Past the stdio buffer (≈ 50 rows of `function`, 1 MiB of `predict`) a full disk used to
  /// go unnoticed: exit 0.
  @Test func aFullDeviceIsAnErrorAtEverySize() throws {
    let function = try Hostile.run(
      ["function", "--sigma", "1", "--from", "-2", "--to", "2", "--steps", "100000"], stdoutPath: "/dev/full")
    #expect(function.status == 1)
    #expect(function.stderr.contains("cannot write to standard output: No space left on device"), "\(function.stderr)")
    let (scratch, model, data) = try Self.model(rows: 40_000)
    defer { withExtendedLifetime(scratch) {} }
    for output in [[], ["--output", "/dev/full"]] {
      let predict = try Hostile.run(["predict", "--model", model, "--data", data] + output, stdoutPath: "/dev/full")
      #expect(predict.status == 1, "\(output)")
      #expect(predict.stderr.contains("No space left on device"), "\(output): \(predict.stderr)")
      #expect(!predict.stderr.contains("not changed"), "a device is written in place: \(predict.stderr)")
    }
  }

  /// Any spelling of a path that leads to the file standard output is open on writes through
  /// the descriptor (appending, as the shell asked), never renames a new file over it.
  @Test func aPathToStandardOutputIsWrittenThroughItNotReplaced() throws {
    let (scratch, model, data) = try Self.model(rows: 5)
    let app = scratch.path("app.txt")
    let link = scratch.path("so")
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/dev/stdout")
    for output in ["//dev/stdout", "/dev/./fd/1", link, app] {
      try "KEEP\n".write(toFile: app, atomically: false, encoding: .utf8)
      let result = try Hostile.run(
        ["/bin/sh", "-c", "\"$0\" predict --model \"$1\" --data \"$2\" --output \"$3\" >> \"$4\"",
         "BUMP", model, data, output, app], shell: true)
      #expect(result.status == 0, "\(output): \(result.stderr)")
      let text = try String(contentsOfFile: app, encoding: .utf8)
      #expect(text.hasPrefix("KEEP\npredicted_class,"), "\(output): \(text.prefix(80))")
      #expect(text.split(separator: "\n").count == 7, "\(output)")
    }
  }

  /// Swift would decode `caf\xE9.csv` as `caf\u{FFFD}.csv`: another file.
  @Test func anArgumentThatIsNotUTF8IsRefused() throws {
    let (scratch, model, data) = try Self.model(rows: 5)
    let result = try Hostile.run(
      ["/bin/sh", "-c", "\"$0\" predict --model \"$1\" --data \"$2\" --output \"$(printf 'caf\\351.csv')\"",
       "BUMP", model, data], in: scratch.url, shell: true)
    #expect(result.status == 64, "\(result.stderr)")
    #expect(result.stderr.contains("(caf\\xE9.csv) is not valid UTF-8"), "\(result.stderr)")
    #expect(try scratch.entries().sorted() == ["d.csv", "run"], "no file written under a changed name")
  }

  /// Starts `bump` with `arguments` (standard output and error to files in `scratch`).
  static func start(_ arguments: [String], in scratch: Scratch) throws -> Process {
    let process = Process()
    process.executableURL = BumpExecutable.url
    process.arguments = arguments
    process.currentDirectoryURL = scratch.url
    process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
    process.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try process.run()
    return process
  }

  /// Waits at most `seconds` for `process` to end; kills it (and returns nil) otherwise.
  static func wait(_ process: Process, seconds: Double) -> Int32? {
    let deadline = Date().addingTimeInterval(seconds)
    while process.isRunning, Date() < deadline { usleep(10_000) }
    guard !process.isRunning else {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
      return nil
    }
    return process.terminationReason == .uncaughtSignal ? 1000 + process.terminationStatus : process.terminationStatus
  }

  /// A stop signal ends `predict` at once even while its write is blocked on a reader that
  /// does not read (the write used to restart and the signal wait for the reader), and any
  /// signal — a second one too — leaves the old output file and no temporary file.
  @Test func stopSignalsEndPredictAtOnceLeavingNoTemporaryFile() throws {
    let (scratch, model, data) = try Self.model(rows: 20_000)
    let fifo = scratch.path("pipe")
    #expect(mkfifo(fifo, 0o600) == 0)
    let process = try Self.start(["predict", "--model", model, "--data", data, "--output", fifo], in: scratch)
    let reader = open(fifo, O_RDONLY)  // opened, never read: the pipe fills and the write blocks
    defer { close(reader) }
    usleep(500_000)
    kill(process.processIdentifier, SIGTERM)
    #expect(Self.wait(process, seconds: 30) == 143, "SIGTERM while the write blocks")

    let out = scratch.path("out.csv")
    try "OLD\n".write(toFile: out, atomically: false, encoding: .utf8)
    for signals in [[SIGINT], [SIGTERM, SIGTERM], [SIGHUP, SIGINT]] {
      let run = try Self.start(["predict", "--model", model, "--data", data, "--output", out], in: scratch)
      // Until the temporary file exists: the rows are being written.
      let deadline = Date().addingTimeInterval(30)
      while run.isRunning, Date() < deadline, !(try scratch.entries()).contains(where: { $0.hasPrefix(".out.csv.tmp-") }) {
        usleep(1_000)
      }
      for s in signals { kill(run.processIdentifier, s) }
      let status = Self.wait(run, seconds: 30)
      // Two signals may be taken on two threads at once: either one's status is right.
      #expect(signals.contains { status == 128 + $0 } || status == 0, "\(signals): status \(String(describing: status))")
      let entries = try scratch.entries()
      #expect(!entries.contains { $0.hasPrefix(".out.csv.tmp-") }, "\(signals): \(entries)")
      let text = try String(contentsOfFile: out, encoding: .utf8)
      #expect(status == 0 ? text.hasPrefix("predicted_class,") : text == "OLD\n", "\(signals)")
    }
  }

  @Test func outliersGiveZerosNotNaN() throws {
    let result = try Hostile.run(["function", "--sigma", "1"], stdin: "1e160\n-1e200\n")
    #expect(result.status == 0)
    #expect(!result.stdout.contains("nan"), "\(result.stdout)")
    let float = try Hostile.run(["function", "--sigma", "1", "--precision", "float"], stdin: "1e21\n")
    #expect(!float.stdout.contains("nan"), "\(float.stdout)")
  }
}
