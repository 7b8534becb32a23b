import BumpKit

/// Which rows each rank of a data-parallel run trains on.
public enum DataParallel {
  /// The rows rank `rank` of `ranks` trains on, in order, when each rank steps with a local
  /// batch of `localBatch` rows: the ranks' k-th local batches, put side by side in rank
  /// order, are the k-th batch of ranks × `localBatch` rows of a single process going
  /// through the first ranks·⌊n/ranks⌋ of the n rows in order. The last global batch, when
  /// shorter, is cut into equal parts, so every rank gets ⌊n/ranks⌋ rows and takes the
  /// same number of steps; the last n mod ranks rows (fewer than `ranks`) are left out.
  ///
  /// - Throws: `BumpKitError.invalidArgument` for `ranks` < 1, a rank
  ///   outside `0..<ranks`, `localBatch` < 1, or fewer rows than ranks.
  public static func rowIndices(count n: Int, rank: Int, ranks: Int, localBatch: Int) throws -> [Int] {
    guard ranks >= 1 else {
      throw BumpKitError.invalidArgument(name: "ranks", value: "\(ranks)", reason: "must be ≥ 1")
    }
    guard (0..<ranks).contains(rank) else {
      throw BumpKitError.invalidArgument(name: "rank", value: "\(rank)", reason: "must lie in 0..<\(ranks)")
    }
    guard localBatch >= 1 else {
      throw BumpKitError.invalidArgument(name: "localBatch", value: "\(localBatch)", reason: "must be ≥ 1")
    }
    guard n >= ranks else {
      throw BumpKitError.invalidArgument(
        name: "rows", value: "\(n)", reason: "\(ranks) ranks need at least one row each")
    }
    let used = n / ranks * ranks
    let global = ranks * localBatch
    let fullBatches = used / global
    var rows: [Int] = []
    rows.reserveCapacity(used / ranks)
    for k in 0..<fullBatches {
      let start = k * global + rank * localBatch
      rows.append(contentsOf: start..<(start + localBatch))
    }
    let tail = used - fullBatches * global
    if tail > 0 {
      let part = tail / ranks
      let start = fullBatches * global + rank * part
      rows.append(contentsOf: start..<(start + part))
    }
    return rows
  }

  /// This rank's rows of `x` and `y` (see ``rowIndices(count:rank:ranks:localBatch:)``).
  ///
  /// - Throws: the errors of ``rowIndices(count:rank:ranks:localBatch:)``;
  ///   `BumpKitError.shapeMismatch` when `x` and `y` have
  ///   different row counts.
  public static func shard<Element: MatrixScalar>(
    _ x: Matrix<Element>, _ y: Matrix<Element>, rank: Int, ranks: Int, localBatch: Int
  ) throws -> (x: Matrix<Element>, y: Matrix<Element>) {
    guard x.rows == y.rows else {
      throw BumpKitError.shapeMismatch(
        operation: "DataParallel.shard: targets for \(x.rows) rows",
        expected: MatrixShape(rows: x.rows, columns: y.columns), actual: MatrixShape(of: y))
    }
    let rows = try rowIndices(count: x.rows, rank: rank, ranks: ranks, localBatch: localBatch)
    return (try x.rows(at: rows), try y.rows(at: rows))
  }
}

extension DataParallelOptimizer {
  /// Wraps `base` so that its steps use gradients averaged over the ranks of `world`.
  public convenience init(_ base: Base, world: MPIWorld) {
    self.init(base, group: world)
  }
}
