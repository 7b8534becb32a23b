#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Publishes a training run's folder when the user interrupts training (SIGINT, SIGTERM), so
/// that the last good checkpoint survives a Ctrl-C like it survives a diverging loss.
///
/// The handler only calls async-signal-safe functions (`open`, `write`, `close`, `rename`,
/// `_exit`) on strings prepared beforehand. The checkpoint itself is always complete: every
/// save writes a temporary file and renames it.
enum InterruptHandler {
  private nonisolated(unsafe) static var summaryPath: UnsafeMutablePointer<CChar>?
  private nonisolated(unsafe) static var partialPath: UnsafeMutablePointer<CChar>?
  private nonisolated(unsafe) static var finalPath: UnsafeMutablePointer<CChar>?
  private nonisolated(unsafe) static var summary: UnsafeMutablePointer<CChar>?
  private nonisolated(unsafe) static var message: UnsafeMutablePointer<CChar>?

  /// From now on, an interrupt writes `summary` to `summaryFile`, renames `partial` to
  /// `final`, prints `message` on standard error and exits with status 130.
  static func install(
    summaryFile: String, summary: String, partial: String, final: String, message: String
  ) {
    uninstall()
    summaryPath = strdup(summaryFile)
    Self.summary = strdup(summary)
    partialPath = strdup(partial)
    finalPath = strdup(final)
    Self.message = strdup(message)
    for s in [SIGINT, SIGTERM] {
      signal(s) { _ in
        if let path = InterruptHandler.summaryPath, let text = InterruptHandler.summary {
          let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
          if fd >= 0 {
            _ = write(fd, text, strlen(text))
            close(fd)
          }
        }
        if let partial = InterruptHandler.partialPath, let final = InterruptHandler.finalPath {
          _ = rename(partial, final)
        }
        if let message = InterruptHandler.message {
          _ = write(STDERR_FILENO, message, strlen(message))
        }
        _exit(130)
      }
    }
  }

  /// Runs `body` with SIGINT and SIGTERM held back until it returns, so that an interrupt
  /// does not leave a checkpoint's temporary file behind.
  static func deferringInterrupts<R>(_ body: () throws -> R) rethrows -> R {
    var blocked = sigset_t()
    var previous = sigset_t()
    sigemptyset(&blocked)
    sigaddset(&blocked, SIGINT)
    sigaddset(&blocked, SIGTERM)
    pthread_sigmask(SIG_BLOCK, &blocked, &previous)
    defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
    return try body()
  }

  /// Restores the default behaviour.
  static func uninstall() {
    signal(SIGINT, SIG_DFL)
    signal(SIGTERM, SIG_DFL)
    for pointer in [summaryPath, summary, partialPath, finalPath, message] { free(pointer) }
    (summaryPath, summary, partialPath, finalPath, message) = (nil, nil, nil, nil, nil)
  }
}
