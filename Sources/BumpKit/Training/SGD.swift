/// Stochastic gradient descent, with optional momentum (Polyak 1964), Nesterov momentum
/// (Sutskever, Martens, Dahl & Hinton, "On the importance of initialization and momentum in
/// deep learning", ICML 2013) and L2 weight decay.
///
/// For each trainable parameter θ with gradient g, at step t with scheduled rate η:
///
///     g′ = s·g + λ·θ                  s: the global-norm clipping factor (1 without)
///     θ ← θ − η·g′                    μ = 0
///     v ← μ·v + g′;  θ ← θ − η·v      momentum
///     v ← μ·v + g′;  θ ← θ − η·(g′ + μ·v)   Nesterov
///
/// then θ is projected (``Parameter/project()``). This is the formulation of PyTorch's
/// `torch.optim.SGD` (the velocity accumulates gradients, not steps), so learning rates
/// carry over. The velocity starts at zero.
///
/// ```swift
/// let optimizer = try SGD<Float>(learningRate: 0.05, momentum: 0.9, nesterov: true)
/// try optimizer.step(model.parameters)
/// ```
public final class SGD<Element: MatrixScalar>: ScheduledOptimizer<Element>, ResumableOptimizer {
  /// μ, in [0, 1); 0 keeps no velocity.
  public let momentum: Double
  /// Whether the update looks ahead along the velocity (Nesterov).
  public let nesterov: Bool

  /// Stochastic gradient descent.
  ///
  /// - Parameters:
  ///   - learningRate: η₀, finite and ≥ 0.
  ///   - momentum: μ in [0, 1).
  ///   - nesterov: Nesterov momentum; needs μ > 0.
  ///   - weightDecay: λ ≥ 0, finite (L2, coupled: it goes through the momentum).
  ///   - schedule: the learning-rate schedule, checked against `learningRate`.
  ///   - clipGlobalNorm: clip the global gradient norm to this value (finite, > 0).
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` naming the first bad argument.
  public init(
    learningRate: Double = 0.01, momentum: Double = 0, nesterov: Bool = false,
    weightDecay: Double = 0, schedule: any LearningRateScheduling = .constant,
    clipGlobalNorm: Double? = nil
  ) throws {
    try OptimizerChecks.validateLearningRate(learningRate)
    try OptimizerChecks.validateUnitInterval(momentum, "momentum")
    if nesterov && momentum == 0 {
      throw BumpKitError.invalidArgument(
        name: "nesterov", value: "true", reason: "Nesterov momentum needs momentum > 0")
    }
    self.momentum = momentum
    self.nesterov = nesterov
    try super.init(
      learningRate: learningRate, weightDecay: weightDecay, schedule: schedule, clipGlobalNorm: clipGlobalNorm)
  }

  /// `sgd`.
  public var kind: String { "sgd" }

  /// The state's slots: the velocity with momentum, none without.
  private var slotNames: [String] { momentum > 0 ? ["velocity"] : [] }

  /// Updates the trainable parameters from their gradients, then projects them.
  ///
  /// - Throws: see ``Optimizer/step(_:)``; also the schedule's errors (see
  ///   ``LearningRateScheduling``). Nothing is updated when it throws.
  // Specialised entry points: unspecialised generic code spends more time on type
  // metadata and reference counting than a small parameter takes to update.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public func step(_ parameters: [Parameter<Element>]) throws {
    let (rate, norm, factor, threads) = try state.beginStep(
      parameters, bufferCount: momentum > 0 ? 1 : 0, schedule: schedule, base: baseLearningRate,
      stepsPerEpoch: stepsPerEpoch, maxNorm: clipGlobalNorm, "SGD.step")
    let coefficients = SGDCoefficients(
      learningRate: rate, momentum: momentum, nesterov: nesterov,
      weightDecay: weightDecay, gradientScale: factor)
    state.finishStep(.sgd(coefficients), norm: norm, threads: threads)
  }

  /// The step count and, with momentum, the velocity of every parameter (slot `velocity`).
  public func snapshot(for parameters: [Parameter<Element>]) -> OptimizerSnapshot<Element> {
    OptimizerSnapshot(
      kind: kind, iterations: iterations, slotNames: slotNames,
      states: momentum > 0 ? state.export(parameters) : parameters.map { _ in nil })
  }

  /// Puts back a snapshot of an SGD with the same use of momentum (with or without).
  ///
  /// - Throws: see ``ResumableOptimizer/restore(_:for:)``.
  public func restore(_ snapshot: OptimizerSnapshot<Element>, for parameters: [Parameter<Element>]) throws {
    try OptimizerChecks.checkSnapshot(snapshot, kind: kind, slotNames: slotNames)
    try OptimizerChecks.checkSlotValues(snapshot, nonNegative: [], parameters: parameters)
    try state.restore(snapshot, for: parameters, bufferCount: slotNames.count, "SGD.step")
  }
}
