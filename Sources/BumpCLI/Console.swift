import SystemPackage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Unbuffered writes to standard output and standard error.
///
/// The training commands write progress, which must appear at once and in order with the
/// summary that follows, so everything they print goes straight to the file descriptor
/// (`print` would buffer standard output when it is not a terminal).
enum Console {
  /// Whether standard output is a terminal (progress is then redrawn in place).
  static var outputIsTerminal: Bool { isatty(STDOUT_FILENO) != 0 }

  /// Writes `text` to standard output as is.
  static func write(_ text: String) { write(text, to: STDOUT_FILENO) }

  /// Writes `text` and a line break to standard output.
  static func line(_ text: String = "") { write(text + "\n", to: STDOUT_FILENO) }

  /// Writes `text` and a line break to standard error.
  static func error(_ text: String) { write(text + "\n", to: STDERR_FILENO) }

  /// The error number of the first failed write to standard output, or 0. `main` turns it
  /// into an error exit: output that did not arrive (a full disk, a file-size limit) must
  /// not look like success.
  nonisolated(unsafe) private(set) static var outputError: Int32 = 0

  /// Whether standard output only shows progress, so that losing it is no failure: `train`
  /// sets it (its results are the run folder). A closed pipe (EPIPE: the reader, such as
  /// `head`, has read all it wanted) then ends the output quietly and training goes on; any
  /// other failed write is still an error. The other commands keep SIGPIPE's default and end
  /// at once on a closed pipe, as Unix filters do (exit status 141).
  nonisolated(unsafe) static var outputIsProgressOnly = false
  /// What the command completed despite a failed write to standard output, said with that
  /// failure ("the run finished, and its folder runs/x holds the results").
  nonisolated(unsafe) static var completedWork: String?

  private static func write(_ text: String, to descriptor: Int32) {
    // Nobody reads standard output any more: nothing to write.
    if descriptor == STDOUT_FILENO, outputError == EPIPE, outputIsProgressOnly { return }
    // In a group of processes (mpirun), process 0 speaks for all; the others' errors say
    // whose they are.
    var text = text
    if !Processes.isWriter {
      guard descriptor == STDERR_FILENO else { return }
      text = "[process \(Processes.rank)] " + Processes.speaking(String(text.drop { $0 == "\n" }))
    }
    do {
      // Retries short writes and calls interrupted by a signal (EINTR).
      _ = try FileDescriptor(rawValue: descriptor).writeAll(text.utf8)
    } catch {
      // Nothing sensible is left to do with the text; the exit status reports it.
      if descriptor == STDOUT_FILENO, outputError == 0 {
        outputError = (error as? Errno)?.rawValue ?? EIO
      }
    }
  }
}

extension Console {
  /// Flushes what `print` buffered and, if any write to standard output failed, the
  /// message to exit with: "cannot write to standard output: No space left on device".
  static func outputFailure() -> String? {
    // `fflush(nil)` flushes every stream; `print` writes only to standard output here.
    if fflush(nil) != 0, outputError == 0 {
      outputError = errno == 0 ? EIO : errno
    }
    guard outputError != 0 else { return nil }
    if outputError == EPIPE, outputIsProgressOnly { return nil }
    return "cannot write to standard output: \(String(cString: strerror(outputError)))"
      + (completedWork.map { "; \($0)" } ?? "")
  }
}
