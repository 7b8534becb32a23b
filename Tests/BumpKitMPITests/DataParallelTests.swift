import BumpKit
import BumpKitMPI
import BumpTestSupport
import Foundation
import Testing

/// Data-parallel training over MPI: the rows each rank gets, and runs of `bump-mpi-check`
/// (built beside this test) under `mpirun` with 2 and 3 ranks on this machine.
@Suite struct DataParallelTests {
  // MARK: Rows

  @Test(arguments: [(10, 2, 2), (203, 2, 8), (203, 3, 8), (7, 3, 4), (64, 4, 16), (5, 5, 1)])
  func shardsSideBySideAreTheGlobalBatchesInOrder(rows n: Int, ranks: Int, localBatch: Int) throws {
    let shards = try (0..<ranks).map { try DataParallel.rowIndices(count: n, rank: $0, ranks: ranks, localBatch: localBatch) }
    let used = n / ranks * ranks
    // Every rank gets as many rows, so every rank takes as many steps.
    #expect(Set(shards.map(\.count)) == [used / ranks])
    // Local batch k of every rank, side by side in rank order, is global batch k.
    var order: [Int] = []
    let steps = (used / ranks + localBatch - 1) / localBatch
    var lastSizes: [Int] = []
    for k in 0..<steps {
      for shard in shards {
        let batch = shard[(k * localBatch)..<min(shard.count, (k + 1) * localBatch)]
        order += batch
        if k == steps - 1 { lastSizes.append(batch.count) }
      }
    }
    #expect(order == Array(0..<used))
    // A short last batch is cut into equal parts (the ranks' means then weigh alike).
    #expect(Set(lastSizes).count == 1)
  }

  @Test func badShardArgumentsAreRefused() {
    #expect(throws: BumpKitError.self) { try DataParallel.rowIndices(count: 10, rank: 2, ranks: 2, localBatch: 4) }
    #expect(throws: BumpKitError.self) { try DataParallel.rowIndices(count: 10, rank: 0, ranks: 0, localBatch: 4) }
    #expect(throws: BumpKitError.self) { try DataParallel.rowIndices(count: 10, rank: 0, ranks: 2, localBatch: 0) }
    #expect(throws: BumpKitError.self) { try DataParallel.rowIndices(count: 2, rank: 0, ranks: 3, localBatch: 4) }
    #expect(throws: BumpKitError.self) {
      try DataParallel.shard(Matrix<Float>(rows: 4, columns: 2), Matrix<Float>(rows: 3, columns: 1), rank: 0, ranks: 2, localBatch: 2)
    }
  }

  // MARK: Runs under mpirun

  /// Runs `bump-mpi-check` on `ranks` ranks (or alone, `ranks` nil, emulating `emulated`
  /// ranks' global batch) and returns each rank's parameters as Float bit patterns.
  private func run(ranks: Int?, emulating emulated: Int = 1, in folder: TemporaryFolder, name: String) throws -> [[UInt32]] {
    let common = ["--local-batch", "8", "--epochs", "3"]
    let lines = try ranks.map { try launch(ranks: $0, ["mpi"] + common, in: folder, name: name) }
      ?? launch(ranks: nil, ["single", "--ranks", "\(emulated)"] + common, in: folder, name: name)
    return lines.map { $0.map { UInt32($0)! } }
  }

  /// Runs `bump-mpi-check arguments --out FILE` under `mpirun -np ranks` (alone when nil)
  /// and returns the lines each rank wrote.
  private func launch(ranks: Int?, _ arguments: [String], in folder: TemporaryFolder, name: String) throws -> [[String]] {
    guard let check = BumpExecutable.builtExecutable(named: "bump-mpi-check") else {
      Issue.record("bump-mpi-check was not built next to the tests")
      return []
    }
    let out = folder.path(name)
    let result: ProcessResult
    if let ranks {
      guard let mpirun = MPIRun.path else {
        Issue.record("mpirun is not installed (Debian: openmpi-bin); Scripts/setup installs it")
        return []
      }
      result = try ChildProcess.run(
        URL(fileURLWithPath: mpirun), MPIRun.arguments(ranks: ranks) + [check.path] + arguments + ["--out", out],
        environment: MPIRun.environment)
    } else {
      result = try ChildProcess.run(check, arguments + ["--out", out])
    }
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    let files = ranks.map { (0..<$0).map { "\(out).\($0)" } } ?? [out]
    return try files.map { path in
      try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }
  }

  /// The largest |a − b| / max(|b|, 1e-3) over the parameters.
  private func largestRelativeDifference(_ a: [UInt32], _ b: [UInt32]) -> Double {
    zip(a, b).map { x, y in
      let (u, v) = (Double(Float(bitPattern: x)), Double(Float(bitPattern: y)))
      return abs(u - v) / max(abs(v), 1e-3)
    }.max() ?? .infinity
  }

  @Test(arguments: [2, 3])
  func ranksAgreeRepeatAndMatchOneProcessWithTheGlobalBatch(ranks: Int) throws {
    let folder = try TemporaryFolder(prefix: "bumpkit-mpi")
    defer { folder.remove() }
    let first = try run(ranks: ranks, in: folder, name: "first")
    let second = try run(ranks: ranks, in: folder, name: "second")
    let single = try run(ranks: nil, emulating: ranks, in: folder, name: "single")
    guard first.count == ranks, second.count == ranks, let reference = single.first else { return }
    // The ranks hold the same model, bit for bit, and a repeated run gives the same bits.
    for r in 1..<ranks { #expect(first[r] == first[0], "rank \(r) differs from rank 0") }
    #expect(second[0] == first[0], "a repeated \(ranks)-rank run differs")
    // One process with batch ranks × 8 over the same rows: the same model but for
    // rounding (the batch's rows are summed in another order). Measured: 5.7e-6 (2 ranks)
    // and 1.4e-6 (3 ranks) relative after 3 epochs (39 and 27 Adam steps), against
    // parameters of magnitude 1e-3 and more; the bound leaves room for other BLAS kernels.
    #expect(reference.count == first[0].count)
    let difference = largestRelativeDifference(first[0], reference)
    #expect(difference < 1e-4, "largest relative difference \(difference)")
    // And it trained: the parameters moved away from where another run with other steps ends.
    #expect(first[0] != (try run(ranks: nil, emulating: 1, in: folder, name: "one")).first)
  }

  /// The lines of `lines` that start with `key`, without it.
  private func values(_ key: String, in lines: [String]) -> [String] {
    lines.filter { $0.hasPrefix(key + " ") }.map { String($0.dropFirst(key.count + 1)) }
  }

  @Test(arguments: [2, 3])
  func ranksWithUnevenRowsAgreeAndValidateOverEveryRanksRows(ranks: Int) throws {
    let folder = try TemporaryFolder(prefix: "bumpkit-mpi")
    defer { folder.remove() }
    let first = try launch(ranks: ranks, ["uneven"], in: folder, name: "first")
    let second = try launch(ranks: ranks, ["uneven"], in: folder, name: "second")
    guard first.count == ranks, second.count == ranks else { return }
    #expect(values("error", in: first[0]).isEmpty, "\(first[0].suffix(1))")
    // Every rank holds the same parameters and the same history, and a repeat the same bits.
    for r in 1..<ranks { #expect(first[r] == first[0], "rank \(r) differs from rank 0") }
    #expect(second[0] == first[0])
    let validation = values("validation", in: first[0]).compactMap { UInt64($0).map(Double.init(bitPattern:)) }
    #expect(validation.count >= 4, "an epoch's validation loss on every rank")
    // The validation loss of the epoch kept is that of the final model on every rank's
    // validation rows together (rank 0 has none): the loss over all ranks' rows, not rank 0's.
    guard let kept = values("kept", in: first[0]).first.flatMap(UInt64.init).map(Double.init(bitPattern:)),
      let union = values("union", in: first[0]).first.flatMap(UInt64.init).map(Double.init(bitPattern:))
    else {
      Issue.record("no kept epoch: \(first[0].suffix(4))")
      return
    }
    #expect(abs(kept - union) <= 1e-5 * union, "kept \(kept), union \(union)")
  }

  @Test func aStopAskedByOneRankReachesEveryRankAtTheSameStep() throws {
    let folder = try TemporaryFolder(prefix: "bumpkit-mpi")
    defer { folder.remove() }
    let ranks = try launch(ranks: 3, ["stop"], in: folder, name: "stop")
    // Rank 1 asks after its third step; the request travels with the fourth.
    for (r, lines) in ranks.enumerated() {
      #expect(values("stop", in: lines) == ["4 15"], "rank \(r): \(lines.suffix(1))")
    }
  }

  @Test func dataRefusedOnOneRankStopsEveryRankBeforeTraining() throws {
    let folder = try TemporaryFolder(prefix: "bumpkit-mpi")
    defer { folder.remove() }
    let ranks = try launch(ranks: 3, ["refused"], in: folder, name: "refused")
    guard ranks.count == 3 else { return }
    let errors = ranks.map { values("error", in: $0).first ?? "" }
    #expect(errors[1].contains("nan"), "rank 1: \(errors[1])")
    for r in [0, 2] { #expect(errors[r].contains("invalid data on process 1 of 3"), "rank \(r): \(errors[r])") }
  }
}

/// How the tests start `mpirun`: on this machine's cores whatever their number
/// (`--oversubscribe`), as root when the tests run as root, over shared memory.
enum MPIRun {
  /// Whether this build has the `MPI` trait, and so the `bump` built with it starts a
  /// process group under `mpirun`.
  static var bumpHasMPI: Bool {
    #if MPI
      true
    #else
      false
    #endif
  }

  static var path: String? {
    ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first(where: FileManager.default.isExecutableFile)
  }

  static func arguments(ranks: Int) -> [String] {
    (getuid() == 0 ? ["--allow-run-as-root"] : []) + ["--oversubscribe", "-np", "\(ranks)"]
  }

  static var environment: [String: String] {
    [
      "OMPI_MCA_btl": "self,vader", "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
      "OMPI_MCA_rmaps_base_oversubscribe": "1",
    ]
  }
}
