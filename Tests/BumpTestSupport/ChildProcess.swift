import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// What a child process did: its exit status (1000 + the signal for one ended by a signal)
/// and what it wrote.
public struct ProcessResult: Sendable, Equatable {
  public var status: Int32
  public var stdout: String
  public var stderr: String

  public init(status: Int32, stdout: String, stderr: String) {
    self.status = status
    self.stdout = stdout
    self.stderr = stderr
  }
}

/// A child process whose standard streams are files in a folder of its own (files, not
/// pipes: nothing blocks on a full pipe, whatever the output size, and Foundation's pipe
/// reading cannot trap on EINTR).
public final class ChildProcess: @unchecked Sendable {
  public let process: Process
  /// The folder holding the streams' files (and the default working directory).
  public let folder: TemporaryFolder
  /// The file standard output goes to.
  public let stdoutPath: String
  private let stderrPath: String
  private var handles: [FileHandle]

  /// Whether ``finish(limit:)`` drops `bump`'s warning that OpenBLAS runs generic kernels on
  /// this CPU from standard error. A machine whose CPU the installed OpenBLAS does not know
  /// prints it on every run; the tests of what `bump` writes are about everything else (the
  /// advice itself is tested in the library's tests).
  public var dropsBLASAdvice = false

  /// The process identifier.
  public var pid: Int32 { process.processIdentifier }

  /// Whether the process is still running.
  public var isRunning: Bool { process.isRunning }

  /// Starts `executable` with `arguments`, standard input `stdin`, the environment of this
  /// process without the variables in `removing` and with `environment` added, in `directory`
  /// (the streams' folder when nil), standard output to `stdoutPath` (a file in the folder
  /// when nil; a device such as `/dev/full` is allowed). With `openToOthers`, the folder and
  /// the streams' files can be used by another user (a child run as `nobody`).
  public init(
    _ executable: URL, _ arguments: [String], stdin: String = "", environment: [String: String] = [:],
    removing: [String] = [], stdoutPath: String? = nil, in directory: URL? = nil, openToOthers: Bool = false
  ) throws {
    let folder = try TemporaryFolder(prefix: "bumpkit-child")
    self.folder = folder
    let paths = ["in", "out", "err"].map { folder.path($0) }
    try Data(stdin.utf8).write(to: URL(fileURLWithPath: paths[0]))
    for path in paths.dropFirst() { try Data().write(to: URL(fileURLWithPath: path)) }
    if openToOthers {
      chmod(folder.path, 0o777)
      for path in paths { chmod(path, 0o666) }
    }
    let outputPath = stdoutPath ?? paths[1]
    self.stdoutPath = outputPath
    stderrPath = paths[2]
    guard let output = FileHandle(forWritingAtPath: outputPath) else {
      throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: outputPath])
    }
    handles = [
      try FileHandle(forReadingFrom: URL(fileURLWithPath: paths[0])), output,
      try FileHandle(forWritingTo: URL(fileURLWithPath: paths[2])),
    ]
    process = Process()
    process.executableURL = executable
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for key in removing { env.removeValue(forKey: key) }
    for (key, value) in environment { env[key] = value }
    process.environment = env
    process.currentDirectoryURL = directory ?? folder.url
    process.standardInput = handles[0]
    process.standardOutput = handles[1]
    process.standardError = handles[2]
    try process.run()
  }

  deinit {
    if process.isRunning {
      kill(pid, SIGKILL)
      process.waitUntilExit()
    }
    closeHandles()
  }

  /// What standard output holds so far ("" for a device).
  public func output() -> String {
    stdoutPath.hasPrefix("/dev/") ? "" : Self.text(stdoutPath)
  }

  /// The file's bytes as UTF-8, exactly (a byte-order mark kept, an invalid byte U+FFFD).
  private static func text(_ path: String) -> String {
    String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
  }

  /// Waits until `marker` is in standard output while the process runs, for up to `limit`
  /// seconds: true once it is there, false if the process ended or the time ran out first.
  public func wait(forOutput marker: String, limit: TimeInterval) -> Bool {
    let deadline = Date().addingTimeInterval(limit)
    while Date() < deadline {
      if output().contains(marker) { return true }
      guard process.isRunning else { return output().contains(marker) }
      usleep(2_000)
    }
    return false
  }

  /// Waits for the end, killing the process past `limit` seconds, and returns what it did
  /// and whether it had to be killed.
  public func finish(limit: TimeInterval = .infinity) throws -> (result: ProcessResult, killed: Bool) {
    var killed = false
    if limit.isFinite {
      let deadline = Date().addingTimeInterval(limit)
      while process.isRunning, Date() < deadline { usleep(5_000) }
      if process.isRunning {
        kill(pid, SIGKILL)
        killed = true
      }
    }
    process.waitUntilExit()
    closeHandles()
    let status =
      process.terminationReason == .uncaughtSignal ? 1000 + process.terminationStatus : process.terminationStatus
    let stdout = stdoutPath.hasPrefix("/dev/") ? "" : Self.text(stdoutPath)
    var stderr = Self.text(stderrPath)
    if dropsBLASAdvice { stderr = Self.droppingBLASAdvice(stderr) }
    return (ProcessResult(status: status, stdout: stdout, stderr: stderr), killed)
  }

  /// `text` without the lines of the warning that OpenBLAS runs generic kernels.
  static func droppingBLASAdvice(_ text: String) -> String {
    guard text.contains("warning: OpenBLAS runs its generic ") else { return text }
    return text.split(separator: "\n", omittingEmptySubsequences: false)
      .filter { !$0.hasPrefix("warning: OpenBLAS runs its generic ") }
      .joined(separator: "\n")
  }

  /// Runs `executable` to the end (see ``init(_:_:stdin:environment:removing:stdoutPath:in:openToOthers:)``).
  public static func run(
    _ executable: URL, _ arguments: [String], stdin: String = "", environment: [String: String] = [:],
    removing: [String] = [], stdoutPath: String? = nil, in directory: URL? = nil
  ) throws -> ProcessResult {
    try ChildProcess(
      executable, arguments, stdin: stdin, environment: environment, removing: removing, stdoutPath: stdoutPath,
      in: directory
    ).finish().result
  }

  /// Runs `python3` (found on the path) with `arguments`: its status, and its standard output
  /// and error together.
  public static func python(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let result = try run(URL(fileURLWithPath: "/usr/bin/env"), ["python3"] + arguments)
    return (result.status, result.stdout + result.stderr)
  }

  private func closeHandles() {
    for handle in handles { try? handle.close() }
    handles = []
  }
}

/// The `bump` executable that `swift test` built next to the test binary (or the one
/// `BUMP_EXECUTABLE` names).
public enum BumpExecutable {
  /// Where it is, if found.
  public static let url: URL? = {
    if let path = ProcessInfo.processInfo.environment["BUMP_EXECUTABLE"] {
      return URL(fileURLWithPath: path)
    }
    return builtExecutable(named: "bump")
  }()

  /// The executable product `name` that `swift test` built next to the test binary, if found.
  public static func builtExecutable(named name: String) -> URL? {
    var directories = [
      Bundle.main.bundleURL,
      URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
    ]
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
      directories.append(bundle.bundleURL.deletingLastPathComponent())
    }
    for directory in directories {
      var candidate = directory
      for _ in 0..<4 {
        let url = candidate.appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        candidate.deleteLastPathComponent()
      }
    }
    return nil
  }

  /// The error when there is no built `bump`.
  public struct NotFound: Error, CustomStringConvertible {
    public var description: String { "no built `bump` executable next to the test binary; set BUMP_EXECUTABLE" }
  }

  /// The executable, or ``NotFound``.
  public static func require() throws -> URL {
    guard let url else { throw NotFound() }
    return url
  }

  /// Starts `bump` (see ``ChildProcess``; `BUMP_MEMORY_LIMIT` is not passed on unless given in
  /// `environment`). With `shell`, runs `arguments` as a command instead, the argument `BUMP`
  /// replaced by the executable's path.
  public static func start(
    _ arguments: [String], stdin: String = "", environment: [String: String] = [:], stdoutPath: String? = nil,
    in directory: URL? = nil, shell: Bool = false, openToOthers: Bool = false
  ) throws -> ChildProcess {
    let executable = try require()
    let (program, list) =
      shell
      ? (URL(fileURLWithPath: arguments[0]), arguments.dropFirst().map { $0 == "BUMP" ? executable.path : $0 })
      : (executable, arguments)
    let child = try ChildProcess(
      program, list, stdin: stdin, environment: environment, removing: ["BUMP_MEMORY_LIMIT"], stdoutPath: stdoutPath,
      in: directory, openToOthers: openToOthers)
    child.dropsBLASAdvice = true
    return child
  }

  /// Runs `bump` to the end (see ``start(_:stdin:environment:stdoutPath:in:shell:openToOthers:)``).
  public static func run(
    _ arguments: [String], stdin: String = "", environment: [String: String] = [:], stdoutPath: String? = nil,
    in directory: URL? = nil, shell: Bool = false
  ) throws -> ProcessResult {
    try start(arguments, stdin: stdin, environment: environment, stdoutPath: stdoutPath, in: directory, shell: shell)
      .finish().result
  }
}
