@testable import BumpCLI
import BumpKit
import Foundation
import Testing
import BumpTestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// The in-process side of issue 14: memory limits and their messages, run-folder clashes,
/// failure messages that name only what exists, signal names.
@Suite struct ReliabilityTests {
  @Test func memoryLimitsUpToTheLargestAreAcceptedAndBeyondItSaySo() {
    #expect(MemoryBudget.parseLimit("9e18") == .bytes(9_000_000_000_000_000_000))
    #expect(MemoryBudget.parseLimit("8E") == .bytes(Int.max))
    #expect(MemoryBudget.parseLimit("\(Int.max)") == .bytes(Int.max))
    #expect(MemoryBudget.parseLimit("1e19") == .tooLarge)
    #expect(MemoryBudget.parseLimit("9E") == .tooLarge)
    #expect(MemoryBudget.parseLimit("1e30T") == .tooLarge)
    #expect(MemoryBudget.parseLimit("inf") == .malformed)
    #expect(MemoryBudget.parseLimit("0") == .malformed)
  }

  /// An address-space limit must hold the program as loaded and OpenBLAS's buffer for each
  /// thread that multiplies matrices in training, the caller and the step's workers (which
  /// OpenBLAS otherwise retries forever); the rest is for data.
  @Test func anAddressSpaceLimitCountsTheProgramAndOpenBLASBuffers() throws {
    let mib = 1 << 20
    let single = try MemoryBudget.addressSpace(limit: 1024 * mib, inUse: 100 * mib, blasThreads: 1, mappedBuffers: 0)
    #expect(
      single.bytes
        == 1024 * mib - 100 * mib - MemoryBudget.openBLASBufferBytes - MemoryBudget.workingRoomBytes)
    // Two threads: the caller's buffer and the training worker's.
    let budget = try MemoryBudget.addressSpace(limit: 1024 * mib, inUse: 100 * mib, blasThreads: 2, mappedBuffers: 1)
    #expect(budget.bytes == single.bytes - MemoryBudget.openBLASBufferBytes)
    #expect(budget.source.contains("ulimit -v"), "\(budget.source)")
    // A worker thread that has not mapped its buffer yet (a busy machine) is counted too:
    // the run it would let start used to hang in OpenBLAS once the worker mapped it.
    let early = try MemoryBudget.addressSpace(limit: 1024 * mib, inUse: 100 * mib, blasThreads: 3, mappedBuffers: 1)
    // Three threads: one caller buffer more, and one of OpenBLAS's two workers not mapped.
    #expect(early.bytes == budget.bytes - 2 * MemoryBudget.openBLASBufferBytes)
    let notYet = try #require(throws: CLIError.self) {
      try MemoryBudget.addressSpace(limit: 500 * mib, inUse: 100 * mib, blasThreads: 2, mappedBuffers: 0)
    }
    #expect("\(notYet)".contains("for the buffers of 1 OpenBLAS worker thread not started yet"), "\(notYet)")
    #expect("\(notYet)".contains("256.0 MiB for OpenBLAS's work buffers of the 2 threads that train"), "\(notYet)")
    _ = try MemoryBudget.addressSpace(limit: 500 * mib, inUse: 100 * mib, blasThreads: 2, mappedBuffers: 1)
    // This process's own workers have mapped their buffers by now: each is one mapping.
    let threads = BLAS.configuration.threadCount
    if threads > 1, let mapped = MemoryBudget.anonymousMappings(ofBytes: MemoryBudget.openBLASBufferBytes) {
      #expect(mapped >= 1, "\(threads) OpenBLAS threads")
    }
    let error = try #require(throws: CLIError.self) {
      try MemoryBudget.addressSpace(limit: 200 * mib, inUse: 100 * mib, blasThreads: 2, mappedBuffers: 1)
    }
    let text = "\(error)"
    #expect(text.hasPrefix("not enough memory: this needs about 388.0 MiB"), "\(text)")
    #expect(text.contains("more than the limit of 200.0 MiB (the address-space limit (ulimit -v))"), "\(text)")
    #expect(text.contains("OPENBLAS_NUM_THREADS=1 saves 256.0 MiB"), "\(text)")
    // Without /proc, every thread's buffer is counted: OpenBLAS's worker, the caller and the
    // training worker.
    #expect(throws: CLIError.self) {
      try MemoryBudget.addressSpace(limit: 380 * mib, inUse: nil, blasThreads: 2)
    }
    _ = try MemoryBudget.addressSpace(limit: 420 * mib, inUse: nil, blasThreads: 2)
  }

  /// A batch size beyond the rows is one batch of the rows: a full-batch run of 200 rows was
  /// refused as needing 194 GiB.
  @Test func theMemoryEstimateUsesAtMostTheRowsPerBatch() throws {
    let configuration = try trainConfiguration(["--batch-size", "1000000000000"])
    let budget = MemoryBudget(bytes: 64 << 20, source: "a test")
    try budget.checkTraining(configuration, rows: 200, features: 2, outputs: 2, scalarBytes: 4)
  }

  /// The cosine schedule over 10¹⁸ or Int.max epochs: epochs × steps per epoch saturates.
  @Test func aCosineScheduleOverTheLargestBudgetSaturates() throws {
    for epochs in ["1000000000000000000", "\(Int.max)"] {
      let configuration = try trainConfiguration([
        "--epochs", epochs, "--lr-schedule", "cosine", "--batch-size", "\(Int.max)",
      ])
      let optimizer = try ModelFactory.optimizer(configuration, stepsPerEpoch: 50, as: Float.self)
      #expect(optimizer.learningRate == configuration.learningRate)
    }
  }

  @Test func aDanglingLinkIsNotANewRunFolder() throws {
    let scratch = try TemporaryFolder()
    let path = scratch.path + "/run"
    try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "gone/run")
    let error = try #require(throws: CLIError.self) {
      try RunFolder(output: path, defaultStem: "unused")
    }
    #expect("\(error)" == "\(path): a symbolic link to gone/run, which does not exist; the run folder cannot be created through it: remove the link or choose another --output")
    #expect(try scratch.entries() == ["run"])
  }

  /// An --output below a file names the file, not "File exists".
  @Test func anOutputBelowAFileNamesTheFile() throws {
    let scratch = try TemporaryFolder()
    let file = scratch.path + "/afile"
    try "x".write(toFile: file, atomically: true, encoding: .utf8)
    for output in [file + "/sub", file + "/deeper/sub"] {
      let error = try #require(throws: CLIError.self) { try RunFolder(output: output, defaultStem: "unused") }
      #expect("\(error)".contains("cannot create the folder: \(file) is a file, not a folder"), "\(error)")
    }
    #expect(try scratch.entries() == ["afile"])
  }

  /// The temporary folder is locked while its run lives: a second run says so; an unlocked
  /// one was left by a run that crashed.
  @Test func aBusyRunFolderSaysWhetherItsRunIsAlive() throws {
    let scratch = try TemporaryFolder()
    let path = scratch.path + "/run"
    var folder: RunFolder? = try RunFolder(output: path, defaultStem: "unused")
    let live = try #require(throws: CLIError.self) {
      try RunFolder(output: path, defaultStem: "unused")
    }
    guard case .runFolderBusy(_, _, writing: true) = live else {
      Issue.record("\(live)")
      return
    }
    #expect("\(live)".hasPrefix("another run is writing \(path) now"), "\(live)")
    folder = nil  // as if the process had died: the lock is gone, the folder stays
    _ = folder
    // Another test's child process, forked but not yet started, can hold a copy of the lock's
    // descriptor for a moment (it closes at exec): the lock is asked again until it is free,
    // for up to two seconds.
    var left = try #require(throws: CLIError.self) { try RunFolder(output: path, defaultStem: "unused") }
    for _ in 0..<100 {
      guard case .runFolderBusy(_, _, writing: true) = left else { break }
      usleep(20_000)
      left = try #require(throws: CLIError.self) { try RunFolder(output: path, defaultStem: "unused") }
    }
    #expect("\(left)".contains("left by a run of \(path) that ended without finishing"), "\(left)")
    #expect("\(left)".contains("rm -r \(scratch.path)/.run.partial"), "\(left)")
  }

  /// A run that has made its temporary folder but not yet locked it is alive: a second run
  /// asks again before calling the folder abandoned (it told the user to remove a live run's
  /// folder).
  @Test func aRunFolderLockedAMomentLaterIsBusyNotAbandoned() throws {
    let scratch = try TemporaryFolder()
    let path = scratch.path + "/run"
    let partial = RunFolder.partialPath(for: path)
    #expect(mkdir(partial, 0o755) == 0)
    // The other run takes its lock 100 ms from now (another open file description, so the
    // lock conflicts as another process's would).
    let locked = LockedFlag()
    let locker = Thread {
      usleep(100_000)
      let descriptor = open(partial, O_RDONLY | O_DIRECTORY)
      // Blocking, as a run's own lock is: the other run's probe may hold a shared lock then.
      locked.set(descriptor >= 0 && flock(descriptor, LOCK_EX) == 0)
      usleep(2_000_000)
      close(descriptor)
    }
    locker.start()
    let error = try #require(throws: CLIError.self) { try RunFolder(output: path, defaultStem: "unused") }
    guard case .runFolderBusy(_, _, writing: true) = error else {
      Issue.record("called abandoned: \(error)")
      return
    }
    #expect("\(error)".hasPrefix("another run is writing \(path) now"), "\(error)")
    #expect(locked.value, "the other run's lock was taken")
  }

  /// When something takes the run folder's name during the run, the results stay in the
  /// temporary folder, and its summary names that folder (it named the one it could not take).
  @Test func resultsLeftUnpublishedNameTheirFolderInTheSummary() throws {
    let scratch = try TemporaryFolder()
    let path = scratch.path("run")
    let configuration = try TrainCommand.parse(["--samples", "200", "--epochs", "2", "--layers", "4"])
      .resolvedConfiguration()
    var run = TrainingRun<Float>(configuration: configuration, output: path)
    run.beforePublishing = { try "theirs\n".write(toFile: path, atomically: false, encoding: .utf8) }
    let error = try #require(throws: CLIError.self) { try run.run() }
    #expect("\(error)".contains("the results are in \(RunFolder.partialPath(for: path))"), "\(error)")
    let summary = try String(contentsOfFile: RunFolder.partialPath(for: path) + "/summary.txt", encoding: .utf8)
    #expect(summary.contains("Run folder: \(RunFolder.partialPath(for: path))\n"), "\(summary)")
    #expect(!summary.contains("Run folder: \(path)\n"), "\(summary)")
  }

  /// A publish that fails (something took the name) names the folder holding the files.
  @Test func aFailedPublishNamesTheFolderWithTheResults() throws {
    let scratch = try TemporaryFolder()
    let path = scratch.path + "/run"
    let folder = try RunFolder(output: path, defaultStem: "unused")
    try folder.write("x\n", to: "summary.txt")
    try FileManager.default.createDirectory(atPath: path + "/theirs", withIntermediateDirectories: true)
    let error = try #require(throws: CLIError.self) { try folder.publish() }
    #expect("\(error)".hasSuffix("; the results are in \(folder.partialPath)"), "\(error)")
    #expect(folder.location == folder.partialPath)
  }

  /// After a failed write (no space, no inodes) the message mentions only the files there.
  @Test func aFailedRunNamesOnlyFilesThatExist() throws {
    let scratch = try TemporaryFolder()
    let failed = { CLIError.trainingFailed(message: "it failed", runFolder: scratch.path).description }
    #expect(failed() == "it failed; the run folder \(scratch.path) holds neither a checkpoint nor a summary")
    try Data().write(to: URL(fileURLWithPath: scratch.path + "/model.safetensors"))
    #expect(failed() == "it failed; the last good checkpoint is in \(scratch.path)/model.safetensors")
    try Data().write(to: URL(fileURLWithPath: scratch.path + "/summary.txt"))
    #expect(failed().hasSuffix("model.safetensors (see summary.txt there)"))
  }

  /// The ETA of 10¹⁸ epochs after a minute is about 10²⁰ s, beyond Int: it trapped.
  @Test func anEndlessETAIsShownWithoutTrapping() {
    #expect(ProgressReporter.duration(1e20) == "years")
    #expect(ProgressReporter.duration(Double(Int.max) * 4) == "years")
    #expect(ProgressReporter.duration(99_999_999) == "27777h46m")
  }

  @Test func everyStopSignalHasItsName() {
    #expect(InterruptHandler.signals.contains(SIGQUIT))
    #expect(!InterruptHandler.signals.contains(SIGXFSZ) && !InterruptHandler.signals.contains(SIGPIPE))
    #expect(!InterruptHandler.signals.contains(SIGSEGV))
    for signal in InterruptHandler.signals {
      #expect(InterruptHandler.name(of: signal).hasPrefix("SIG"), "\(signal)")
    }
    #expect(InterruptHandler.name(of: SIGQUIT) == "SIGQUIT")
  }

  /// Two runs in one process (as these tests have them) set and clear the interrupt fallback
  /// at once: each critical section waits for the other thread's, where it used to take it
  /// as its own nested one and free the same strings twice (a crash of the whole process).
  @Test func fallbacksSetFromManyThreadsAtOnce() {
    DispatchQueue.concurrentPerform(iterations: 4) { thread in
      for i in 0..<20_000 {
        InterruptHandler.setFallback(
          summaryFile: "/nonexistent/\(thread)/summary.txt", summary: "summary \(i)", partial: "/nonexistent/.p\(thread)",
          final: "/nonexistent/p\(thread)", message: "message \(i)", unpublishedMessage: "unpublished \(i)")
        InterruptHandler.setMessage("reading \(i)")
      }
    }
    InterruptHandler.clearFallback()
  }
}

/// A flag another thread sets.
private final class LockedFlag: @unchecked Sendable {
  private let lock = NSLock()
  private var stored = false
  func set(_ value: Bool) { lock.withLock { stored = value } }
  var value: Bool { lock.withLock { stored } }
}
