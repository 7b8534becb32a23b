import BumpKit

/// An optimizer for data-parallel training over MPI: before each step of the optimizer it
/// wraps, every trainable gradient becomes the mean of that gradient over the ranks.
///
/// Each rank trains the same model (the same seed, so the same initial weights) on its own
/// rows (``DataParallel/shard(_:_:rank:ranks:localBatch:)``) with a local batch of B rows;
/// a step's gradient is then the mean over the global batch of ranks × B rows, and every rank
/// takes the same step, so the models stay identical:
///
/// ```swift
/// let world = try MPIWorld.start()
/// defer { try? world.end() }
/// let (x, y) = try DataParallel.shard(data.x, data.y, rank: world.rank, ranks: world.size, localBatch: 32)
/// let optimizer = DataParallelOptimizer(try Adam<Float>(), world: world)
/// try model.fit(x: x, y: y, loss: MeanSquaredError<Float>(), optimizer: optimizer,
///               epochs: 20, batchSize: 32, shuffle: false)
/// ```
///
/// **Bits.** The gradients are summed in rank order in `Double` (``MPIWorld/sumInRankOrder(_:scratch:)``),
/// so a run repeated with the same number of ranks gives the same bits, on every rank. Against a
/// single process with the batch ranks × B over the same rows in the same order, the
/// parameters differ only by rounding: the single process sums a batch's rows in another
/// order. The package's tests bound the difference.
///
/// **What each rank must do alike.** Call `fit` with the same model, settings and number of
/// rows (``DataParallel/shard(_:_:rank:ranks:localBatch:)`` gives every rank as many), and
/// `shuffle: false`, or the same seed with rows that were sharded alike: a rank that takes
/// one step more than the others waits forever for them. Early stopping decides alike on
/// every rank when every rank gets the same validation rows, since the models are
/// identical. Only the thread that started the ``MPIWorld`` may call ``step(_:)``.
public final class DataParallelOptimizer<Base: Optimizer>: Optimizer {
  /// The optimizer that takes each step with the averaged gradients.
  public let base: Base
  /// The ranks that average their gradients.
  public let world: MPIWorld

  private var values: [Double] = []
  private var scratch: [Double] = []

  /// Wraps `base` so that its steps use gradients averaged over the ranks of `world`.
  public init(_ base: Base, world: MPIWorld) {
    self.base = base
    self.world = world
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

  /// Replaces each trainable gradient by its mean over the ranks (summed in rank order in
  /// `Double`, then multiplied by 1/ranks), then runs the wrapped optimizer's step.
  /// Collective: every rank must call it, with the same parameter shapes.
  ///
  /// - Throws: the errors of ``MPIWorld/sumInRankOrder(_:scratch:)``, then those of the
  ///   wrapped optimizer's step (a non-finite gradient on any rank makes every rank's mean
  ///   non-finite, so every rank throws alike).
  public func step(_ parameters: [Parameter<Base.Element>]) throws {
    var count = 0
    for p in parameters where p.isTrainable { count += p.count }
    if values.count != count { values = [Double](repeating: 0, count: count) }
    try values.withUnsafeMutableBufferPointer { values in
      var at = 0
      for p in parameters where p.isTrainable {
        p.gradient.withUnsafeBufferPointer { g in Self.widen(g, into: values.baseAddress! + at) }
        at += p.count
      }
      try world.sumInRankOrder(values, scratch: &scratch)
      let scale = 1 / Double(world.size)
      at = 0
      for p in parameters where p.isTrainable {
        p.updateGradient { (g: inout MutableSpan<Base.Element>) in
          g.withUnsafeMutableBufferPointer { Self.narrow(values.baseAddress! + at, scale, into: $0) }
        }
        at += p.count
      }
    }
    try base.step(parameters)
  }

  /// Copies `g` into `out` as `Double`s (a loop the compiler vectorizes for `Float` and
  /// `Double`; generic conversion element by element would cost more than the step).
  private static func widen(_ g: UnsafeBufferPointer<Base.Element>, into out: UnsafeMutablePointer<Double>) {
    if Base.Element.self == Float.self {
      g.withMemoryRebound(to: Float.self) { f in for i in f.indices { out[i] = Double(f[i]) } }
    } else if Base.Element.self == Double.self {
      g.withMemoryRebound(to: Double.self) { d in out.update(from: d.baseAddress!, count: d.count) }
    } else {
      for i in g.indices { out[i] = Double(g[i]) }
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
