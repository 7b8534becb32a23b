/// An optimizer for data-parallel training: before each step of the optimizer it wraps,
/// every trainable gradient becomes the mean of that gradient over the rows of every
/// process of a ``ProcessGroup`` (over MPI: the `BumpKitMPI` product's `MPIWorld`).
///
/// Each rank trains the same model (the same seed, so the same initial weights) on its own
/// rows with a local batch of B rows; a step's gradient is then the mean over the global
/// batch of the ranks' B-row batches, and every rank takes the same step, so the models stay
/// identical. `fit` recognises it (it is a ``GroupOptimizer``): the epoch's losses, the
/// validation metrics, early stopping and the divergence check then cover every rank's rows,
/// and ranks may hold different numbers of rows.
///
/// ```swift
/// let world = try MPIWorld.start()
/// defer { try? world.end() }
/// let (x, y) = try DataParallel.shard(data.x, data.y, rank: world.rank, ranks: world.size, localBatch: 32)
/// let optimizer = DataParallelOptimizer(try Adam<Float>(), group: world)
/// try model.fit(x: x, y: y, loss: MeanSquaredError<Float>(), optimizer: optimizer,
///               epochs: 20, batchSize: 32, shuffle: false)
/// ```
///
/// **Bits.** The gradients, each multiplied by its rank's batch rows, are summed in rank
/// order in `Double` (``ProcessGroup/sumInRankOrder(_:scratch:)``) and divided by the rows of
/// the global batch, so a run repeated with the same number of ranks gives the same bits, on
/// every rank. Against a single process with the batch ranks × B over the same rows in the
/// same order (`BumpKitMPI`'s `DataParallel.shard` gives each rank its part),
/// the parameters differ only by rounding: the single process sums a batch's rows in another
/// order. The package's tests bound the difference.
///
/// **What each rank must do alike.** Call `fit` with the same model and settings (seed,
/// batch size, epochs, early stopping), and validation data on every rank or on none (a rank
/// may have no validation rows). A rank that calls `step(_:)` without `fit` must do so as
/// often as the others. Over MPI, only the thread that started the `MPIWorld` may step.
public final class DataParallelOptimizer<Base: Optimizer>: GroupOptimizer {
  /// The optimizer that takes each step with the averaged gradients.
  public let base: Base
  /// The processes that average their gradients.
  public let group: any ProcessGroup

  private var values: [Double] = []
  private var scratch: [Double] = []
  private var stopRequest = 0
  /// The stop agreed at the last step: the largest code a rank asked for, if any.
  public private(set) var agreedStop: Int?

  /// Wraps `base` so that its steps use gradients averaged over the processes of `group`.
  public init(_ base: Base, group: any ProcessGroup) {
    self.base = base
    self.group = group
  }

  /// The wrapped optimizer's rate for the next step.
  public var learningRate: Double { base.learningRate }

  /// The steps taken (the wrapped optimizer's count).
  public var iterations: Int { base.iterations }

  /// The wrapped optimizer's batches per epoch; `fit` sets it.
  public var stepsPerEpoch: Int? {
    get { base.stepsPerEpoch }
    set { base.stepsPerEpoch = newValue }
  }

  /// Steps with every rank's gradients weighing alike: ``step(_:rows:failed:)`` with one row.
  public func step(_ parameters: [Parameter<Base.Element>]) throws {
    try step(parameters, rows: 1, failed: false)
  }

  /// Replaces each trainable gradient by the sum over the ranks of gradient × `rows`
  /// (summed in rank order in `Double`) divided by the ranks' rows, then runs the wrapped
  /// optimizer's step. Collective: every rank must call it, with the same parameter shapes.
  ///
  /// - Parameters:
  ///   - parameters: the model's parameters, with this rank's gradients.
  ///   - rows: this rank's batch rows; 0 for an empty batch, whose gradients are ignored.
  ///   - failed: this rank's batch failed (a non-finite loss): no rank steps.
  /// - Throws: ``BumpKitError/nonFiniteData(what:row:column:value:)`` on every rank when a rank failed; the errors of
  ///   ``ProcessGroup/sumInRankOrder(_:scratch:)``; then those of the wrapped optimizer's step (a
  ///   non-finite gradient on any rank makes every rank's mean non-finite, so every rank
  ///   throws alike).
  public func step(_ parameters: [Parameter<Base.Element>], rows: Int, failed: Bool) throws {
    var count = 0
    for p in parameters where p.isTrainable { count += p.count }
    // The gradients, then this rank's rows, whether it failed, and the stop it asks for.
    if values.count != count + 3 { values = [Double](repeating: 0, count: count + 3) }
    let totals = try values.withUnsafeMutableBufferPointer { values -> (rows: Double, failed: Double) in
      let weight = Double(rows)
      var at = 0
      for p in parameters where p.isTrainable {
        if rows > 0, !failed {
          p.gradient.withUnsafeBufferPointer { g in Self.widen(g, weight, into: values.baseAddress! + at) }
        } else {
          (values.baseAddress! + at).update(repeating: 0, count: p.count)
        }
        at += p.count
      }
      values[count] = failed ? 0 : weight
      values[count + 1] = failed ? 1 : 0
      // A stop asked by any rank makes this sum positive on every rank.
      values[count + 2] = Double(stopRequest)
      try group.sumInRankOrder(values, scratch: &scratch)
      return (values[count], values[count + 1])
    }
    agreedStop = try agreedStopCode(count: count)
    guard totals.failed == 0 else {
      throw BumpKitError.nonFiniteData(
        what: "the loss of a rank's batch", row: 0, column: 0, value: "not finite")
    }
    let scale = 1 / totals.rows
    values.withUnsafeMutableBufferPointer { values in
      var at = 0
      for p in parameters where p.isTrainable {
        p.updateGradient { (g: inout MutableSpan<Base.Element>) in
          g.withUnsafeMutableBufferPointer { Self.narrow(values.baseAddress! + at, scale, into: $0) }
        }
        at += p.count
      }
    }
    try base.step(parameters)
  }

  /// Asks every rank to stop; see ``agreedStop``. The request travels with the next step.
  public func requestStop(code: Int) {
    stopRequest = max(stopRequest, max(code, 1))
  }

  /// The largest stop code any rank sent at the last step, or nil: the sum in `values`
  /// says whether any asked; the codes themselves are gathered only then (rarely).
  private func agreedStopCode(count: Int) throws -> Int? {
    guard values[count + 2] > 0 else { return agreedStop }
    return try group.allGather(stopRequest).max()
  }

  /// Writes `weight`·`g` into `out` as `Double`s (a loop the compiler vectorizes for
  /// `Float` and `Double`; generic conversion element by element would cost more than the
  /// step).
  private static func widen(_ g: UnsafeBufferPointer<Base.Element>, _ weight: Double, into out: UnsafeMutablePointer<Double>) {
    if Base.Element.self == Float.self {
      g.withMemoryRebound(to: Float.self) { f in for i in f.indices { out[i] = Double(f[i]) * weight } }
    } else if Base.Element.self == Double.self {
      g.withMemoryRebound(to: Double.self) { d in for i in d.indices { out[i] = d[i] * weight } }
    } else {
      for i in g.indices { out[i] = Double(g[i]) * weight }
    }
  }

  /// Writes `scale`·`sums` into `g`, rounded to the element type.
  private static func narrow(
    _ sums: UnsafeMutablePointer<Double>, _ scale: Double, into g: UnsafeMutableBufferPointer<Base.Element>
  ) {
    if Base.Element.self == Float.self {
      g.withMemoryRebound(to: Float.self) { f in for i in f.indices { f[i] = Float(sums[i] * scale) } }
    } else if Base.Element.self == Double.self {
      g.withMemoryRebound(to: Double.self) { d in for i in d.indices { d[i] = sums[i] * scale } }
    } else {
      for i in g.indices { g[i] = Base.Element(sums[i] * scale) }
    }
  }
}

/// Resuming: the state is the wrapped optimizer's (identical on every rank).
extension DataParallelOptimizer: ResumableOptimizer where Base: ResumableOptimizer {
  /// The wrapped optimizer's kind.
  public var kind: String { base.kind }

  /// The wrapped optimizer's snapshot.
  public func snapshot(for parameters: [Parameter<Base.Element>]) -> OptimizerSnapshot<Base.Element> {
    base.snapshot(for: parameters)
  }

  /// Restores the wrapped optimizer.
  public func restore(_ snapshot: OptimizerSnapshot<Base.Element>, for parameters: [Parameter<Base.Element>]) throws {
    try base.restore(snapshot, for: parameters)
  }
}
