@testable import BumpCLI
import BumpKit
import Foundation
import Testing
import BumpTestSupport

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

  /// Makes this process the reaper of its orphaned descendants (`PR_SET_CHILD_SUBREAPER`),
  /// so that it can `wait4` for a grandchild; false where that is not possible.
  static let isSubreaper: Bool = {
    // prctl is variadic in C, so it is called through a non-variadic pointer.
    typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
    guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "prctl") else { return false }
    return unsafeBitCast(symbol, to: Prctl.self)(36, 1, 0, 0, 0) == 0  // PR_SET_CHILD_SUBREAPER
  }()

  /// Runs `bump` with `arguments` and returns its exit status (or 1000 + the signal that
  /// ended it) and its peak resident set in bytes; killed (and failing) after 120 s.
  ///
  /// A child's `ru_maxrss` starts at the resident set of the process it was forked from (a
  /// vfork'd `posix_spawn` child even takes this test process's), so `bump` is started by a
  /// shell, in the background: forked from the shell's small image, and, once the shell has
  /// exited, reparented to this process (a subreaper), which waits for it with `wait4`.
  static func peak(_ arguments: [String], in folder: String) throws -> (status: Int32, bytes: Int) {
    let tool = try #require(executable, "no built `bump` next to the test binary; set BUMP_EXECUTABLE")
    try #require(isSubreaper, "prctl(PR_SET_CHILD_SUBREAPER) failed")
    let pidFile = folder + "/pid"
    let script = "\"$0\" \"$@\" </dev/null >/dev/null 2>'\(folder)/stderr' & echo $! >'\(pidFile)'"
    let argv = (["/bin/sh", "-c", script, tool] + arguments).map { strdup($0) } + [nil]
    var environment = ProcessInfo.processInfo.environment
    environment.removeValue(forKey: "BUMP_MEMORY_LIMIT")
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
      for p in argv { free(p) }
      for p in envp { free(p) }
    }
    var shell: pid_t = 0
    let spawned = posix_spawn(&shell, "/bin/sh", nil, nil, argv, envp)
    try #require(spawned == 0, "posix_spawn failed: \(spawned)")
    var status: Int32 = 0
    var usage = rusage()
    while wait4(shell, &status, 0, &usage) < 0, errno == EINTR {}
    let text = try String(contentsOfFile: pidFile, encoding: .utf8)
    let pid = try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), "\(text)")
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
      usleep(5_000)
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
    let errors = folder.path + "/stderr"  // written by peak(_:in:)
    // The program's own peak: a run whose data and model are negligible.
    let tiny = try Self.peak(
      ["train", "--samples", "64", "--epochs", "1", "--layers", "4", "--output", folder.path + "/tiny"],
      in: folder.path)
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
      let run = try Self.peak(arguments + ["--output", folder.path + "/run\(n)"], in: folder.path)
      let what = "\(shape.rows)×\(shape.features) \(shape.options)"
      #expect(run.status == 0, "\(what): \((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")")
      try? FileManager.default.removeItem(atPath: csv)

      let configuration = try trainConfiguration(Array(arguments.dropFirst()))
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
