/// The processes that train one model together, data-parallel: what `fit` needs from them.
///
/// BumpKit itself has no transport. The `BumpKitMPI` product's `MPIWorld` is a process group
/// over MPI; an app may bring its own. Every method is *collective*: every process of the
/// group calls it, in the same order, or the group waits forever.
public protocol ProcessGroup: AnyObject, Sendable {
  /// This process's rank, in `0..<size`.
  var rank: Int { get }
  /// The number of processes.
  var size: Int { get }

  /// Replaces `values` on every process by their sum over the processes, added in rank order
  /// (0, 1, 2, …) in `Double`: the same bits on every process, and in every run with this
  /// number of processes. `scratch` is the method's to reuse between calls.
  ///
  /// - Throws: when the processes pass different counts, or the transport fails.
  func sumInRankOrder(_ values: UnsafeMutableBufferPointer<Double>, scratch: inout [Double]) throws

  /// Every process's `bytes`, by rank (of any lengths).
  ///
  /// - Throws: when the transport fails.
  func allGather(_ bytes: [UInt8]) throws -> [[UInt8]]
}

extension ProcessGroup {
  /// The sum over the processes of `values` (see ``sumInRankOrder(_:scratch:)``).
  public func sum(_ values: [Double]) throws -> [Double] {
    var values = values
    var scratch: [Double] = []
    try values.withUnsafeMutableBufferPointer { try sumInRankOrder($0, scratch: &scratch) }
    return values
  }

  /// Every process's `value`, by rank.
  public func allGather(_ value: Int) throws -> [Int] {
    var slots = [Double](repeating: 0, count: size)
    slots[rank] = Double(value)
    return try sum(slots).map { Int($0) }
  }
}

/// An optimizer whose steps the processes of a ``ProcessGroup`` take together; `fit` sees it
/// and trains data-parallel.
///
/// Each process passes its own rows to `fit` (as many or not), with the same model, seed and
/// settings. Then, with such an optimizer, `fit`:
/// - takes ⌈n/B⌉ steps an epoch, for the largest n of any process (B the batch size): a
///   process whose rows are used up steps with an empty batch, which weighs nothing;
/// - combines the gradients of a step weighted by each process's batch rows
///   (``step(_:rows:failed:)``), so that a step's gradient is the mean over the group's
///   batch, and every process takes the same step;
/// - reports the epoch's training loss and accuracy, and the validation loss and accuracy,
///   over all the processes' rows (a process may have no validation rows), so that early
///   stopping decides alike everywhere, as does the divergence check (whose reference is the
///   mean of the processes');
/// - stops every process at the same batch when any process's loss is not finite.
///
/// Every process needs at least one training row; `fit` throws alike on every process when
/// one has none.
public protocol GroupOptimizer<Element>: Optimizer {
  /// The processes that step together.
  var group: any ProcessGroup { get }

  /// Takes one step with the other processes: each trainable gradient becomes the sum over
  /// the processes of gradient × `rows`, divided by the sum of `rows` (this process's batch
  /// has `rows` rows; 0 for an empty batch, whose gradients are ignored), and then the
  /// optimizer steps. Collective.
  ///
  /// - Parameters:
  ///   - parameters: the model's parameters, with this process's gradients.
  ///   - rows: this process's batch rows.
  ///   - failed: this process's batch gave a non-finite loss: no process steps, and every
  ///     process throws.
  /// - Throws: ``BumpKitError/nonFiniteData(what:row:column:value:)`` on every process when
  ///   a process failed or a combined gradient is not finite (nothing is updated); the
  ///   transport's errors.
  func step(_ parameters: [Parameter<Element>], rows: Int, failed: Bool) throws

  /// Asks every process to stop: the request travels with the next step, after which
  /// ``agreedStop`` is set on every process to the largest `code` any process asked for
  /// (e.g. a signal's number). `fit` does not act on it; the caller checks ``agreedStop``
  /// (in `progress`, after each step) and stops as it would on its own.
  func requestStop(code: Int)

  /// The stop agreed at the last step, if any process asked for one (``requestStop(code:)``):
  /// the same on every process, after the same step.
  var agreedStop: Int? { get }
}

/// How `fit` trains with a ``GroupOptimizer``: its group, and the steps an epoch.
struct GroupTraining {
  let group: any ProcessGroup
  /// The steps every process takes an epoch: ⌈n/B⌉ for the largest n.
  let stepsPerEpoch: Int

  /// The group's plan for `rows` local training rows in batches of `batchSize`; nil for a
  /// group of one. Throws alike on every process when one has no rows.
  init?(_ group: (any ProcessGroup)?, rows: Int, batchSize: Int) throws {
    guard let group, group.size > 1 else { return nil }
    let counts = try group.allGather(rows)
    if let empty = counts.firstIndex(of: 0) {
      throw BumpKitError.invalidArgument(
        name: "training rows", value: "\(counts)",
        reason: "process \(empty) of \(group.size) has none; every process needs at least one")
    }
    self.group = group
    let largest = counts.max()!
    stepsPerEpoch = (largest - 1) / max(1, min(batchSize, largest)) + 1
  }
}
