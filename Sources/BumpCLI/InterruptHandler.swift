import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What the catchable signals that would end the process do, so that they never leave
/// temporary files or half-written folders behind, nor print a crash report.
///
/// Every signal whose default action ends the process and that a program may catch is a stop
/// signal here (``signals``: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM,
/// SIGXCPU, SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGSTKFLT and the real-time signals), except
/// SIGPIPE (a closed output; see ``Console``) and SIGXFSZ, which is ignored so that a write
/// beyond the file-size limit (`ulimit -f`) fails with EFBIG, "File too large", and is
/// reported as an error. The signals of a crash (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
/// SIGTRAP, SIGSYS) keep the runtime's crash report.
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
///   signal acts at once, as below, and so does a watchdog thread when the main thread has
///   not taken the signal up (``acknowledge()``) within ``grace`` (a batch stuck in a
///   library call, which a signal does not interrupt);
/// - otherwise it acts at once, with async-signal-safe calls only (`open`, `write`, `close`,
///   `rename`, `_exit`) on strings prepared beforehand: it writes the prepared summary,
///   renames the prepared temporary folder to its final name (see ``setFallback(summaryFile:summary:partial:final:message:unpublishedMessage:)``),
///   prints the message and exits with status 128 + the signal number.
enum InterruptHandler {
  private static let pendingBit = 1
  private static let criticalBit = 2
  private static let pollingBit = 4
  private static let exitingBit = 8
  private static let acknowledgedBit = 16
  private static let state = Atomic<Int>(0)
  /// The thread inside a critical section (see ``currentThread()``), 0 outside one.
  private static let owner = Atomic<UInt>(0)

  /// This thread's identity, never 0.
  private static func currentThread() -> UInt {
    #if canImport(Darwin)
      UInt(bitPattern: pthread_self())
    #else
      UInt(pthread_self())
    #endif
  }
  private static let signalNumber = Atomic<Int32>(0)

  private nonisolated(unsafe) static var summaryPath: UnsafeMutablePointer<CChar>?
  private nonisolated(unsafe) static var partialPath: UnsafeMutablePointer<CChar>?
  private nonisolated(unsafe) static var finalPath: UnsafeMutablePointer<CChar>?
  private nonisolated(unsafe) static var summary: UnsafeMutablePointer<CChar>?
  private nonisolated(unsafe) static var message: UnsafeMutablePointer<CChar>?
  private nonisolated(unsafe) static var unpublishedMessage: UnsafeMutablePointer<CChar>?
  private nonisolated(unsafe) static var temporaryFile: UnsafeMutablePointer<CChar>?

  /// The stop signals handled: every catchable signal whose default action ends the process,
  /// but SIGPIPE, SIGXFSZ and the signals of a crash.
  static let signals: [Int32] = {
    var list: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGXCPU]
    list += [SIGVTALRM, SIGPROF]
    #if os(Linux)
      list += [SIGIO, SIGPWR, SIGSTKFLT]
      // The real-time signals end the process too; glibc keeps the first few for itself.
      list += Array(__libc_current_sigrtmin()...__libc_current_sigrtmax())
    #endif
    return list
  }()

  /// How long the first signal during training may wait for the main thread to take it up
  /// before the watchdog acts on it.
  static let grace: Duration = .seconds(5)

  /// The watchdog's wake-up call, posted by the handler (`sem_post` is async-signal-safe).
  private nonisolated(unsafe) static var wakeUp: UnsafeMutablePointer<sem_t>?

  /// Installs the handler for the stop ``signals`` and ignores SIGXFSZ; called once, first
  /// thing in `main`.
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
    // A write beyond `ulimit -f` then fails with EFBIG and is reported, instead of ending the
    // process halfway through a file.
    signal(SIGXFSZ, SIG_IGN)
    // A parent may have started the process with them blocked (the mask is inherited).
    var unblocked = sigset_t()
    sigemptyset(&unblocked)
    for s in signals + [SIGXFSZ] { sigaddset(&unblocked, s) }
    pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
  }

  /// "SIGINT", "SIGTERM", …, "SIGRTMIN+3"; "signal N" for another number.
  static func name(of signal: Int32) -> String {
    var names: [Int32: String] = [
      SIGINT: "SIGINT", SIGTERM: "SIGTERM", SIGHUP: "SIGHUP", SIGQUIT: "SIGQUIT",
      SIGUSR1: "SIGUSR1", SIGUSR2: "SIGUSR2", SIGALRM: "SIGALRM", SIGXCPU: "SIGXCPU",
      SIGXFSZ: "SIGXFSZ", SIGVTALRM: "SIGVTALRM", SIGPROF: "SIGPROF", SIGPIPE: "SIGPIPE",
    ]
    #if os(Linux)
      names[SIGIO] = "SIGIO"
      names[SIGPWR] = "SIGPWR"
      names[SIGSTKFLT] = "SIGSTKFLT"
      let first = __libc_current_sigrtmin()
      if signal >= first, signal <= __libc_current_sigrtmax() {
        return signal == first ? "SIGRTMIN" : "SIGRTMIN+\(signal - first)"
      }
    #endif
    return names[signal] ?? "signal \(signal)"
  }

  /// The signal received and not yet acted on, or nil.
  static var pendingSignal: Int32? {
    state.load(ordering: .sequentiallyConsistent) & pendingBit != 0
      ? signalNumber.load(ordering: .sequentiallyConsistent) : nil
  }

  /// From now on, acting at once on a signal writes `summary` to `summaryFile`, renames
  /// `partial` to `final` and prints `message` on standard error before exiting (or
  /// `unpublishedMessage` if the rename fails: something took the final name meanwhile).
  static func setFallback(
    summaryFile: String, summary: String, partial: String, final: String, message: String,
    unpublishedMessage: String
  ) {
    critical {
      clearFallback()
      summaryPath = strdup(summaryFile)
      Self.summary = strdup(summary)
      partialPath = strdup(partial)
      finalPath = strdup(final)
      Self.message = strdup(message)
      Self.unpublishedMessage = strdup(unpublishedMessage)
    }
  }

  /// From now on, acting at once on a signal prints `message` on standard error before
  /// exiting (and writes and renames nothing): for a phase that has nothing to clean up,
  /// such as reading the data before a run folder exists. ``clearFallback()`` and
  /// ``setFallback(summaryFile:summary:partial:final:message:unpublishedMessage:)`` replace it.
  static func setMessage(_ message: String) {
    critical {
      clearFallback()
      Self.message = strdup(message)
    }
  }

  /// From now on, acting at once on a signal first removes the file at `path` (a temporary
  /// output file that is not complete); nil forgets it.
  static func setTemporaryFile(_ path: String?) {
    critical {
      free(temporaryFile)
      temporaryFile = path.map { strdup($0) }
    }
  }

  /// Acting at once on a signal only exits again.
  static func clearFallback() {
    critical {
      for pointer in [summaryPath, summary, partialPath, finalPath, message, unpublishedMessage] {
        free(pointer)
      }
      (summaryPath, summary, partialPath, finalPath) = (nil, nil, nil, nil)
      (message, unpublishedMessage) = (nil, nil)
    }
  }

  /// The first signal from now on is only recorded, for training to see in ``pendingSignal``;
  /// a watchdog acts on it if the main thread has not called ``acknowledge()`` within
  /// ``grace``.
  static func startPolling() {
    startWatchdog()
    _ = state.bitwiseOr(pollingBit, ordering: .sequentiallyConsistent)
  }

  /// Tells the watchdog that the main thread is acting on the pending signal.
  static func acknowledge() {
    _ = state.bitwiseOr(acknowledgedBit, ordering: .sequentiallyConsistent)
  }

  /// Signals act at once again (outside critical sections).
  static func stopPolling() { _ = state.bitwiseAnd(~pollingBit, ordering: .sequentiallyConsistent) }

  /// Runs `body` with stop signals held back until it returns; a signal received meanwhile
  /// is then acted on at once, unless training polls for it. Sections may nest.
  static func critical<R>(_ body: () throws -> R) rethrows -> R {
    let me = currentThread()
    // Nested on this thread. (Another thread's section is waited for, not taken as nested:
    // two runs in one process, as the tests have them, would otherwise free the same
    // fallback strings twice.)
    if owner.load(ordering: .sequentiallyConsistent) == me { return try body() }
    var current = state.load(ordering: .sequentiallyConsistent)
    while true {
      if current & exitingBit != 0 {
        // The handler is exiting the process on another thread; let it.
        while true { pause() }
      }
      if current & criticalBit != 0 {
        sched_yield()
        current = state.load(ordering: .sequentiallyConsistent)
        continue
      }
      let (exchanged, original) = state.compareExchange(
        expected: current, desired: current | criticalBit, ordering: .sequentiallyConsistent)
      if exchanged { break }
      current = original
    }
    owner.store(me, ordering: .sequentiallyConsistent)
    defer {
      owner.store(0, ordering: .sequentiallyConsistent)
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
    if original & pendingBit == 0 {
      signalNumber.store(signal, ordering: .sequentiallyConsistent)
      if let wakeUp { sem_post(wakeUp) }
    }
    if original & criticalBit != 0 { return }
    if original & pollingBit != 0, original & pendingBit == 0 { return }
    act(signal)
  }

  // MARK: - The watchdog

  /// Starts the watchdog thread once; without it (no thread could be created) a signal
  /// during training still stops it at the next batch.
  private static func startWatchdog() {
    guard wakeUp == nil else { return }
    let semaphore = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    guard sem_init(semaphore, 0, 0) == 0 else {
      semaphore.deallocate()
      return
    }
    var thread = pthread_t()
    // It must not take a stop signal itself: the handler may act on any thread.
    var all = sigset_t(), previous = sigset_t()
    sigfillset(&all)
    pthread_sigmask(SIG_BLOCK, &all, &previous)
    let created = pthread_create(&thread, nil, { _ in InterruptHandler.watch() }, nil)
    pthread_sigmask(SIG_SETMASK, &previous, nil)
    guard created == 0 else {
      sem_destroy(semaphore)
      semaphore.deallocate()
      return
    }
    pthread_detach(thread)
    wakeUp = semaphore
  }

  /// Waits for the first signal, then gives the main thread ``grace`` to take it up and acts
  /// on it itself if it has not (outside a critical section, which acts when it ends).
  private static func watch() -> Never {
    guard let wakeUp else { while true { pause() } }
    while sem_wait(wakeUp) != 0 {}  // EINTR
    let (seconds, attoseconds) = grace.components
    var waited = 0
    let step = 100_000_000  // 0.1 s in nanoseconds
    let total = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
    while true {
      var interval = timespec(tv_sec: 0, tv_nsec: step)
      nanosleep(&interval, nil)
      waited += step
      let current = state.load(ordering: .sequentiallyConsistent)
      if current & (acknowledgedBit | exitingBit) != 0 { while true { pause() } }
      if waited >= total, current & criticalBit == 0 {
        act(signalNumber.load(ordering: .sequentiallyConsistent))
      }
    }
  }

  /// For a command that keeps SIGPIPE's default (it ends at once on a closed pipe, status
  /// 141, as Unix filters do): the temporary output file, if one is being written, is removed
  /// first (a warning written to a closed standard error left it behind).
  static func removeTemporaryFileOnBrokenPipe() {
    signal(SIGPIPE) { _ in
      if let file = InterruptHandler.temporaryFile { unlink(file) }
      signal(SIGPIPE, SIG_DFL)
      raise(SIGPIPE)
    }
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
    if let temporaryFile { unlink(temporaryFile) }
    if let path = summaryPath, let text = summary {
      let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
      if fd >= 0 {
        _ = write(fd, text, strlen(text))
        close(fd)
      }
    }
    var text = message
    if let partial = partialPath, let final = finalPath, rename(partial, final) != 0 {
      text = unpublishedMessage
    }
    if let text {
      _ = write(STDERR_FILENO, text, strlen(text))
    }
    _exit(128 + signal)
  }
}
