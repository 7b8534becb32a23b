import BumpKit
internal import CBumpMPI
import Synchronization

/// An error of an MPI call, or of using the world out of order.
public enum MPIError: Error, Equatable, CustomStringConvertible {
  /// An MPI function returned an error code.
  case callFailed(function: String, code: Int32)
  /// ``MPIWorld/start()`` was called after ``MPIWorld/end()``: MPI cannot start twice in a
  /// process.
  case alreadyEnded
  /// The ranks disagree on a size that must be equal on all of them (the number of
  /// gradient values of a step, say): each rank's value, by rank.
  case ranksDisagree(what: String, values: [Int])
  /// A count too large for one MPI message (more than `Int32.max` elements).
  case messageTooLarge(count: Int)

  /// A one-line explanation.
  public var description: String {
    switch self {
    case .callFailed(let function, let code): "\(function) failed with MPI error code \(code)"
    case .alreadyEnded: "MPI has ended in this process and cannot start again"
    case .ranksDisagree(let what, let values): "the ranks disagree on \(what): \(values) by rank"
    case .messageTooLarge(let count): "\(count) values do not fit one MPI message (at most \(Int32.max))"
    }
  }
}

/// The processes of an MPI job (`MPI_COMM_WORLD`): this process's rank, their number, and
/// the few collective operations data-parallel training needs.
///
/// Start it once per process, before any other MPI use, and end it before the process
/// exits:
///
/// ```swift
/// let world = try MPIWorld.start()
/// defer { try? world.end() }
/// print("rank \(world.rank) of \(world.size)")
/// ```
///
/// MPI is started with `MPI_THREAD_FUNNELED`: only the thread that started it may call
/// these methods. BumpKit's own threads (the shards of a training step, OpenBLAS's) never
/// call MPI, and `fit` calls its optimizer's `step` on the thread that called `fit`, so a
/// `DataParallelOptimizer` used from the main thread obeys this. Every method here is
/// collective unless it says otherwise: all ranks must call it, in the same order.
public final class MPIWorld: ProcessGroup, @unchecked Sendable {
  /// This process's rank, in `0..<size`.
  public let rank: Int
  /// The number of processes.
  public let size: Int

  private enum Phase { case notStarted, running(MPIWorld), ended }
  private static let phase = Mutex<Phase>(.notStarted)

  private init(rank: Int, size: Int) {
    self.rank = rank
    self.size = size
  }

  /// Starts MPI (`MPI_Init_thread`) if this process has not, and returns the world; later
  /// calls return the same world. Run as a single process (not under `mpirun`), the world
  /// has one rank.
  ///
  /// - Throws: ``MPIError/alreadyEnded`` after ``end()``; ``MPIError/callFailed(function:code:)``.
  public static func start() throws -> MPIWorld {
    try phase.withLock { phase in
      switch phase {
      case .running(let world): return world
      case .ended: throw MPIError.alreadyEnded
      case .notStarted:
        var provided: Int32 = 0
        try check(MPI_Init_thread(nil, nil, bumpkit_mpi_thread_funneled(), &provided), "MPI_Init_thread")
        var rank: Int32 = 0, size: Int32 = 0
        try check(MPI_Comm_rank(bumpkit_mpi_comm_world(), &rank), "MPI_Comm_rank")
        try check(MPI_Comm_size(bumpkit_mpi_comm_world(), &size), "MPI_Comm_size")
        let world = MPIWorld(rank: Int(rank), size: Int(size))
        phase = .running(world)
        return world
      }
    }
  }

  /// Ends MPI (`MPI_Finalize`); collective. Nothing may use MPI afterwards, and it cannot
  /// start again in this process.
  public func end() throws {
    try Self.phase.withLock { phase in
      guard case .running = phase else { return }
      phase = .ended
      try Self.check(MPI_Finalize(), "MPI_Finalize")
    }
  }

  /// Waits until every rank has called it.
  public func barrier() throws {
    try Self.check(MPI_Barrier(bumpkit_mpi_comm_world()), "MPI_Barrier")
  }

  /// Every rank's `value`, by rank.
  public func gather(_ value: Int) throws -> [Int] {
    var mine = Int64(value)
    var all = [Int64](repeating: 0, count: size)
    try all.withUnsafeMutableBufferPointer { all in
      try Self.check(
        MPI_Allgather(&mine, 1, bumpkit_mpi_int64(), all.baseAddress, 1, bumpkit_mpi_int64(), bumpkit_mpi_comm_world()),
        "MPI_Allgather")
    }
    return all.map { Int($0) }
  }

  /// Replaces `values` on every rank by the sum over the ranks of their `values`, added in
  /// rank order (0, 1, 2, …) in `Double`: the same bits on every rank and in every run with
  /// this number of ranks, which `MPI_Allreduce` does not promise. `scratch` holds the
  /// gathered values (size × count); pass the same array every time to reuse its memory.
  ///
  /// - Throws: ``MPIError/ranksDisagree(what:values:)`` when the ranks pass different
  ///   counts (checked when a rank's count changes, so every rank must call with the same
  ///   count); ``MPIError/messageTooLarge(count:)``; ``MPIError/callFailed(function:code:)``.
  public func sumInRankOrder(_ values: UnsafeMutableBufferPointer<Double>, scratch: inout [Double]) throws {
    let count = values.count
    guard count <= Int(Int32.max) else { throw MPIError.messageTooLarge(count: count) }
    if scratch.count != size * count {
      // A new layout: check that every rank has the same one before exchanging data.
      let counts = try gather(count)
      guard counts.allSatisfy({ $0 == count }) else {
        throw MPIError.ranksDisagree(what: "the number of values to sum", values: counts)
      }
      scratch = [Double](repeating: 0, count: size * count)
    }
    guard count > 0 else { return }
    try scratch.withUnsafeMutableBufferPointer { all in
      try Self.check(
        MPI_Allgather(
          values.baseAddress, Int32(count), bumpkit_mpi_double(), all.baseAddress, Int32(count),
          bumpkit_mpi_double(), bumpkit_mpi_comm_world()),
        "MPI_Allgather")
      for i in 0..<count {
        var sum = 0.0
        for r in 0..<size { sum += all[r &* count &+ i] }
        values[i] = sum
      }
    }
  }

  /// Every rank's `bytes`, by rank (of any lengths).
  ///
  /// - Throws: ``MPIError/messageTooLarge(count:)`` when the bytes of all ranks together
  ///   pass `Int32.max`; ``MPIError/callFailed(function:code:)``.
  public func allGather(_ bytes: [UInt8]) throws -> [[UInt8]] {
    let counts = try gather(bytes.count)
    let total = counts.reduce(0, +)
    guard total <= Int(Int32.max) else { throw MPIError.messageTooLarge(count: total) }
    var offsets = [Int32](repeating: 0, count: size)
    for r in 1..<max(size, 1) { offsets[r] = offsets[r - 1] + Int32(counts[r - 1]) }
    var received = [UInt8](repeating: 0, count: max(total, 1))
    let counts32 = counts.map { Int32($0) }
    try bytes.withUnsafeBufferPointer { mine in
      try received.withUnsafeMutableBufferPointer { all in
        try Self.check(
          MPI_Allgatherv(
            mine.baseAddress, Int32(bytes.count), bumpkit_mpi_byte(), all.baseAddress, counts32, offsets,
            bumpkit_mpi_byte(), bumpkit_mpi_comm_world()),
          "MPI_Allgatherv")
      }
    }
    return (0..<size).map { Array(received[Int(offsets[$0])..<(Int(offsets[$0]) + counts[$0])]) }
  }

  private static func check(_ code: Int32, _ function: String) throws {
    guard code == bumpkit_mpi_success() else { throw MPIError.callFailed(function: function, code: code) }
  }
}
