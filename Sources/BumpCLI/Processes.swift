import BumpKit
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The processes of a `bump` started by `mpirun` (built with the `MPI` trait): the group
/// that trains one model, or nothing for a process on its own.
///
/// In a group, process 0 writes the run folder and the console output; every process reads
/// its part of the data, and everything that depends on all the data (the column plan, the
/// statistics, the metrics, early stopping) is agreed over the group.
package enum Processes {
  /// The group, when there is more than one process.
  nonisolated(unsafe) private(set) static var group: (any ProcessGroup)?
  /// Ends the group's transport (`MPI_Finalize`), collectively: called before an exit
  /// that every process takes at the same point.
  nonisolated(unsafe) private static var end: (() -> Void)?
  /// Whether the exit under way was agreed by the group (every process exits there), so
  /// that ``end`` may run; otherwise the process leaves without it, and `mpirun` ends the
  /// others.
  nonisolated(unsafe) static var exitAgreed = false

  /// Makes this process one of `group`; `end` ends the transport.
  package static func start(_ group: any ProcessGroup, end: @escaping () -> Void) {
    self.end = end
    self.group = group.size > 1 ? group : nil
    if group.size <= 1 { exitAgreed = true }
  }

  /// This process's rank (0 on its own).
  static var rank: Int { group?.rank ?? 0 }

  /// Whether this process writes the run folder and the output: process 0.
  static var isWriter: Bool { rank == 0 }

  /// Called by `terminate` before the process exits.
  static func finish() {
    cleanUp()
    guard let end, exitAgreed || group == nil else { return }
    end()
  }

  /// The result of `body`; in a group, every process learns whether any threw, and all
  /// throw together (an agreed exit): the one that threw its own error, the others one that
  /// names it.
  static func agreeing<R>(_ what: String, _ body: () throws -> R) throws -> R {
    guard let group else { return try body() }
    let result = Result { try body() }
    var threw = 0
    if case .failure = result { threw = 1 }
    let failed = try group.allGather(threw)
    if let first = failed.firstIndex(of: 1) {
      exitAgreed = true
      if case .failure(let error) = result { throw error }
      throw CLIError.otherProcessFailed(process: first, processes: group.size, what: what)
    }
    return try result.get()
  }
}

extension Processes {
  /// What a process adds to the run's seed where it draws from its own rows (the test and
  /// validation parts, the visiting order): 0 on its own, so that one process's run is
  /// unchanged.
  static var seedOffset: UInt64 { UInt64(rank) &* 0x9E37_79B9_7F4A_7C15 }
}

extension Processes {
  /// What to do when the process ends (a group's other processes' private folders).
  nonisolated(unsafe) private static var cleanup: [() -> Void] = []

  /// Runs the cleanup; `finish()` calls it.
  static func cleanUp() {
    for body in cleanup { body() }
    cleanup = []
  }

  /// Where a process of a group other than process 0 writes its run folder, which is removed
  /// when it ends: process 0 writes the run's; nil for process 0 (and on its own).
  static func privateRunFolder() -> String? {
    guard !isWriter else { return nil }
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("bump-process-\(rank)-\(getpid())").path
    cleanup.append { try? FileManager.default.removeItem(atPath: directory) }
    privateFolder = directory + "/run"
    return privateFolder
  }

  /// This process's private run folder, if it has one (``privateRunFolder()``).
  nonisolated(unsafe) private(set) static var privateFolder: String?

  /// `text` as a process other than 0 says it: its private run folder, which is removed when
  /// it ends, named as what it stands for.
  static func speaking(_ text: String) -> String {
    guard let privateFolder else { return text }
    return text.replacingOccurrences(of: privateFolder + "/model.safetensors", with: "process 0's run folder")
      .replacingOccurrences(of: privateFolder, with: "process 0's run folder")
  }

  /// `optimizer`, or over a group an optimizer that steps with the group's gradients.
  static func trainingOptimizer<O: Optimizer>(_ optimizer: O) -> any Optimizer<O.Element> {
    guard let group else { return optimizer }
    return DataParallelOptimizer(optimizer, group: group)
  }

  /// Gives every process of the group process 0's parameters of `model` (its radial centres
  /// are placed on process 0's rows): the processes start from the same model.
  static func shareParameters<Element: MatrixScalar>(of model: Sequential<Element>) throws {
    guard let group else { return }
    let parameters = model.parameters
    var values: [Double] = []
    for p in parameters { values += p.value.elements.map { group.rank == 0 ? Double($0) : 0 } }
    values = try group.sum(values)
    var at = 0
    for p in parameters {
      let count = p.value.count
      try p.assign(try Matrix(rows: p.value.rows, columns: p.value.columns, elements: values[at..<(at + count)].map { Element($0) }))
      at += count
    }
  }
}

extension Processes {
  /// Throws on every process, alike, unless every process of the group was started as process
  /// 0 was: the same options (``TrainingConfiguration``, `--output`, `--resume`), the same
  /// checkpoint to resume (its completed epochs and status) and a `--data` and `--test-data`
  /// file of the same size and header. The first collective step of a run: processes that
  /// disagree there would otherwise exchange buffers of different sizes later (a crash, or
  /// an MPI error), or train silently on different rows (a stale copy of the file on one
  /// host). Files are compared by size and first line, not read whole.
  static func checkStartedAlike(
    _ configuration: TrainingConfiguration, output: String?, resumeFrom: String?
  ) throws {
    guard let group, group.size > 1 else { return }
    let files = [("--data", configuration.dataFile), ("--test-data", configuration.testDataFile)].map {
      (option: $0.0, path: $0.1, identity: $0.1.map(fileIdentity))
    }
    let parts: [(what: String, value: String)] =
      [
        ("options", ((try? configuration.json()) ?? "?") + "|output=\(output ?? "")|resume=\(resumeFrom ?? "")"),
        ("--resume checkpoint", resumeFrom.map(checkpointIdentity) ?? ""),
      ] + files.map { ("\($0.option) file", $0.identity ?? "") }
    let all = try GroupStatistics.allGather(parts.map(\.value), in: group)
    for (rank, values) in all.enumerated() where rank > 0 {
      for (k, part) in parts.enumerated() where k < values.count && k < all[0].count && values[k] != all[0][k] {
        exitAgreed = true
        let detail =
          part.what == "options"
          ? "the options given to bump differ" : "\(all[0][k]) on process 0, \(values[k]) on process \(rank)"
        throw CLIError.processesDisagree(process: rank, what: part.what, detail: detail)
      }
    }
    // Alike on every process, so every process refuses: each process reads its own part of
    // a regular file, which standard input or a pipe cannot give (mpirun hands standard
    // input to process 0 alone).
    for (option, path, identity) in files {
      guard let path, let identity else { continue }
      if identity == "standard input" || identity == "not a regular file" {
        exitAgreed = true
        throw CLIError.notWithProcesses(
          what: "reading \(option) from \(identity == "standard input" ? "standard input" : "\(path), which is not a regular file (a pipe?)")")
      }
    }
  }

  /// A file's size and first line (up to 4 KiB), as `checkStartedAlike` compares them; the
  /// size of the file opened (`fstat`), which a network file system keeps current.
  private static func fileIdentity(_ path: String) -> String {
    guard path != "-" else { return "standard input" }
    var status = stat()
    guard stat(path, &status) == 0 else { return "no such file" }
    switch status.st_mode & S_IFMT {
    case S_IFREG: break
    case S_IFDIR: return "a directory"
    default: return "not a regular file"
    }
    guard let handle = FileHandle(forReadingAtPath: path) else { return "unreadable" }
    defer { try? handle.close() }
    guard fstat(handle.fileDescriptor, &status) == 0 else { return "unreadable" }
    let head = (try? handle.read(upToCount: 4096)) ?? Data()
    let first = String(decoding: head.prefix { $0 != 0x0A }, as: UTF8.self)
    return "\(status.st_size) bytes, first line \(MessageText.quoted(String(first.prefix(80))))"
  }

  /// A checkpoint's completed epochs and status, as `checkStartedAlike` compares them.
  private static func checkpointIdentity(_ path: String) -> String {
    guard let header = try? Checkpoint.header(at: path) else { return "unreadable" }
    return "\(header.metadata["epochs_completed"] ?? "?") epochs completed, status \(header.metadata["status"] ?? "?")"
  }
}
