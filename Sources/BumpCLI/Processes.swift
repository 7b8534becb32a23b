import BumpKit

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
