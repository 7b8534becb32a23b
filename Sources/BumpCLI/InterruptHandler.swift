import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What the catchable stop signals (SIGINT, SIGTERM, SIGHUP) do, so that they never leave
/// temporary files or half-written folders behind.
///
/// The handler is process-wide and may run on any thread (OpenBLAS starts worker threads
/// before `main`, so blocking signals in one thread does not keep them out). It does
/// nothing unsafe itself; what it does depends on a state word shared with the main thread:
///
/// - inside a ``critical(_:)`` section (a checkpoint save, a folder being created or
///   published, results being written), the signal is only recorded; the section runs to
///   its end, and the main thread acts on it afterwards;
/// - while training polls ``pendingSignal`` (between ``startPolling()`` and
///   ``stopPolling()``), the first signal is only recorded: training stops at the next
///   batch and publishes the run folder marked as interrupted, on the main thread. A second
///   signal acts at once, as below;
/// - otherwise it acts at once, with async-signal-safe calls only (`open`, `write`, `close`,
///   `rename`, `_exit`) on strings prepared beforehand: it writes the prepared summary,
///   renames the prepared temporary folder to its final name (see ``setFallback(summaryFile:summary:partial:final:message:)``),
///   prints the message and exits with status 128 + the signal number.
enum InterruptHandler {
  private static let pendingBit = 1
  private static let criticalBit = 2
  private static let pollingBit = 4
  private static let exitingBit = 8
  private static let state = Atomic<Int>(0)
  private static let signalNumber = Atomic<Int32>(0)

  private nonisolated(unsafe) static var summaryPath: UnsafeMutablePointer<CChar>?
  private nonisolated(unsafe) static var partialPath: UnsafeMutablePointer<CChar>?
  private nonisolated(unsafe) static var finalPath: UnsafeMutablePointer<CChar>?
  private nonisolated(unsafe) static var summary: UnsafeMutablePointer<CChar>?
  private nonisolated(unsafe) static var message: UnsafeMutablePointer<CChar>?

  /// The stop signals handled.
  static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

  /// Installs the handler for SIGINT, SIGTERM and SIGHUP; called once, first thing in `main`.
  static func install() {
    var action = sigaction()
    sigemptyset(&action.sa_mask)
    for s in signals { sigaddset(&action.sa_mask, s) }
    action.sa_flags = SA_RESTART
    #if canImport(Glibc)
      action.__sigaction_handler.sa_handler = { InterruptHandler.handle($0) }
    #else
      action.__sigaction_u.__sa_handler = { InterruptHandler.handle($0) }
    #endif
    for s in signals { sigaction(s, &action, nil) }
    // A parent may have started the process with them blocked (the mask is inherited).
    var unblocked = sigset_t()
    sigemptyset(&unblocked)
    for s in signals { sigaddset(&unblocked, s) }
    pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
  }

  /// The signal received and not yet acted on, or nil.
  static var pendingSignal: Int32? {
    state.load(ordering: .sequentiallyConsistent) & pendingBit != 0
      ? signalNumber.load(ordering: .sequentiallyConsistent) : nil
  }

  /// From now on, acting at once on a signal writes `summary` to `summaryFile`, renames
  /// `partial` to `final` and prints `message` on standard error before exiting.
  static func setFallback(
    summaryFile: String, summary: String, partial: String, final: String, message: String
  ) {
    critical {
      clearFallback()
      summaryPath = strdup(summaryFile)
      Self.summary = strdup(summary)
      partialPath = strdup(partial)
      finalPath = strdup(final)
      Self.message = strdup(message)
    }
  }

  /// Acting at once on a signal only exits again.
  static func clearFallback() {
    critical {
      for pointer in [summaryPath, summary, partialPath, finalPath, message] { free(pointer) }
      (summaryPath, summary, partialPath, finalPath, message) = (nil, nil, nil, nil, nil)
    }
  }

  /// The first signal from now on is only recorded, for training to see in ``pendingSignal``.
  static func startPolling() { _ = state.bitwiseOr(pollingBit, ordering: .sequentiallyConsistent) }

  /// Signals act at once again (outside critical sections).
  static func stopPolling() { _ = state.bitwiseAnd(~pollingBit, ordering: .sequentiallyConsistent) }

  /// Runs `body` with stop signals held back until it returns; a signal received meanwhile
  /// is then acted on at once, unless training polls for it. Sections may nest.
  static func critical<R>(_ body: () throws -> R) rethrows -> R {
    var current = state.load(ordering: .sequentiallyConsistent)
    if current & criticalBit != 0 { return try body() }  // nested
    while true {
      if current & exitingBit != 0 {
        // The handler is exiting the process on another thread; let it.
        while true { pause() }
      }
      let (exchanged, original) = state.compareExchange(
        expected: current, desired: current | criticalBit, ordering: .sequentiallyConsistent)
      if exchanged { break }
      current = original
    }
    defer {
      let (_, now) = state.bitwiseAnd(~criticalBit, ordering: .sequentiallyConsistent)
      if now & pendingBit != 0, now & pollingBit == 0 {
        act(signalNumber.load(ordering: .sequentiallyConsistent))
      }
    }
    return try body()
  }

  /// Exits with the status of a pending signal, if there is one.
  static func exitIfPending() {
    if let signal = pendingSignal { act(signal) }
  }

  // MARK: - In the handler

  private static func handle(_ signal: Int32) {
    let (original, _) = state.bitwiseOr(pendingBit, ordering: .sequentiallyConsistent)
    if original & pendingBit == 0 { signalNumber.store(signal, ordering: .sequentiallyConsistent) }
    if original & criticalBit != 0 { return }
    if original & pollingBit != 0, original & pendingBit == 0 { return }
    act(signal)
  }

  /// Claims the exit (unless a critical section runs) and exits; async-signal-safe.
  private static func act(_ signal: Int32) {
    var current = state.load(ordering: .sequentiallyConsistent)
    while true {
      if current & exitingBit != 0 { while true { pause() } }
      if current & criticalBit != 0 { return }  // the section acts when it ends
      let (exchanged, original) = state.compareExchange(
        expected: current, desired: current | exitingBit, ordering: .sequentiallyConsistent)
      if exchanged { break }
      current = original
    }
    if let path = summaryPath, let text = summary {
      let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
      if fd >= 0 {
        _ = write(fd, text, strlen(text))
        close(fd)
      }
    }
    if let partial = partialPath, let final = finalPath {
      _ = rename(partial, final)
    }
    if let message {
      _ = write(STDERR_FILENO, message, strlen(message))
    }
    _exit(128 + signal)
  }
}
