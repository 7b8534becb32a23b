@testable import BumpCLI
import BumpKit
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The estimate `bump train` is refused on must be what it allocates: the real tool runs on
/// several shapes, and its peak resident memory (`wait4`'s `ru_maxrss`) less the program's
/// own is compared with ``MemoryBudget/trainingEstimate(_:rows:features:outputs:scalarBytes:dataCopies:)``.
@Suite(.serialized) struct MemoryEstimateTests {
  /// The built `bump` next to the test binary (or `BUMP_EXECUTABLE`).
  static let executable: String? = {
    if let path = ProcessInfo.processInfo.environment["BUMP_EXECUTABLE"] { return path }
    var directories = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
      directories.append(bundle.bundleURL.deletingLastPathComponent())
    }
    for directory in directories {
      var candidate = directory
      for _ in 0..<4 {
        let path = candidate.appendingPathComponent("bump").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
        candidate.deleteLastPathComponent()
      }
    }
    return nil
  }()

  /// Runs `bump` with `arguments` and returns its exit status (or 1000 + the signal that
  /// ended it) and its peak resident set in bytes; killed (and failing) after 120 s.
  static func peak(_ arguments: [String], stderrPath: String) throws -> (status: Int32, bytes: Int) {
    let tool = try #require(executable, "no built `bump` next to the test binary; set BUMP_EXECUTABLE")
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let argv = ([tool] + arguments).map { strdup($0) } + [nil]
    var environment = ProcessInfo.processInfo.environment
    environment.removeValue(forKey: "BUMP_MEMORY_LIMIT")
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
      for p in argv { free(p) }
      for p in envp { free(p) }
    }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, tool, &actions, nil, argv, envp)
    try #require(spawned == 0, "posix_spawn failed: \(spawned)")
    var status: Int32 = 0
    var usage = rusage()
    let deadline = Date().addingTimeInterval(120)
    while true {
      let waited = wait4(pid, &status, WNOHANG, &usage)
      if waited == pid { break }
      if waited < 0, errno != EINTR { throw POSIXError(.ECHILD) }
      if Date() > deadline {
        kill(pid, SIGKILL)
        _ = wait4(pid, &status, 0, &usage)
        Issue.record("bump \(arguments) still running after 120 s: killed")
        break
      }
      usleep(10_000)
    }
    let signal = status & 0x7f
    let code = signal == 0 ? (status >> 8) & 0xff : 1000 + signal
    return (code, usage.ru_maxrss * 1024)  // kilobytes on Linux
  }

  /// A CSV of `rows` × `features` integers and a target column `y`: a value, or one of
  /// three classes.
  static func writeCSV(path: String, rows: Int, features: Int, classes: Bool) throws {
    var generator = SeededGenerator(seed: 11)
    var text = (0..<features).map { "x\($0)," }.joined() + "y\n"
    text.reserveCapacity(rows * features * 6)
    for _ in 0..<rows {
      var sum = 0
      for j in 0..<features {
        let v = Int.random(in: -9999...9999, using: &generator)
        if j < 3 { sum += v }
        text += "\(v),"
      }
      text += classes ? "\(sum < -3000 ? 0 : sum < 3000 ? 1 : 2)\n" : "\(sum)\n"
    }
    try text.write(toFile: path, atomically: false, encoding: .utf8)
  }

  @Test func theEstimateCoversWhatARunAllocatesAndNotFarMore() throws {
    let folder = try TemporaryFolder()
    let errors = folder.path + "/stderr"
    // The program's own peak: a run whose data and model are negligible.
    let tiny = try Self.peak(
      ["train", "--samples", "64", "--epochs", "1", "--layers", "4", "--output", folder.path + "/tiny"],
      stderrPath: errors)
    #expect(tiny.status == 0, "\((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")")
    let baseline = tiny.bytes

    struct Shape {
      var rows, features: Int
      var classes: Bool
      var options: [String]
    }
    let shapes = [
      Shape(rows: 50_000, features: 20, classes: false, options: []),
      Shape(rows: 20_000, features: 200, classes: true, options: []),
      Shape(rows: 5_000, features: 2, classes: false, options: ["--layers", "256,256"]),
      Shape(rows: 5_000, features: 2, classes: true, options: ["--layers", "256,256", "--batch-size", "5000"]),
      Shape(rows: 20_000, features: 20, classes: true, options: ["--radial", "--layers", "64,32"]),
    ]
    for (n, shape) in shapes.enumerated() {
      let csv = folder.path + "/d\(n).csv"
      try Self.writeCSV(path: csv, rows: shape.rows, features: shape.features, classes: shape.classes)
      let arguments =
        [
          "train", "--data", csv, "--target", "y", "--task",
          shape.classes ? "classification" : "regression", "--epochs", "1",
        ] + shape.options
      let run = try Self.peak(arguments + ["--output", folder.path + "/run\(n)"], stderrPath: errors)
      let what = "\(shape.rows)×\(shape.features) \(shape.options)"
      #expect(run.status == 0, "\(what): \((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")")
      try? FileManager.default.removeItem(atPath: csv)

      let configuration = try trainConfiguration(arguments)
      let outputs = shape.classes ? 3 : 1
      let estimate = MemoryBudget.trainingEstimate(
        configuration, rows: shape.rows, features: shape.features, outputs: outputs, scalarBytes: 4
      ).reduce(0) { $0 + $1.bytes }
      let measured = Double(run.bytes - baseline)
      let mib = Double(1 << 20)
      #expect(
        estimate >= measured,
        "\(what): estimated \(estimate / mib) MiB, measured \(measured / mib) MiB above the program's \(Double(baseline) / mib) MiB")
      #expect(
        estimate <= 3 * max(measured, 0) + 64 * mib,
        "\(what): estimated \(estimate / mib) MiB, far above the measured \(measured / mib) MiB")
    }
  }
}
