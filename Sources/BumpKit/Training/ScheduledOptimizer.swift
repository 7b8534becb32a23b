/// What the built-in optimizers (``SGD``, ``Adam``, ``AdamW``) share: a base learning rate
/// under a schedule, a weight-decay coefficient, optional global-norm clipping, and a step
/// count with the state it restarts.
///
/// Apps use the subclasses; this class only holds their common settings and cannot be
/// created on its own.
public class ScheduledOptimizer<Element: MatrixScalar> {
  /// η₀, the learning rate before the schedule.
  public let baseLearningRate: Double
  /// λ, the weight-decay coefficient; each subclass says how it enters the step.
  public let weightDecay: Double
  /// How η changes over training.
  public let schedule: any LearningRateScheduling
  /// The maximum global gradient norm, or nil for no clipping.
  public let clipGlobalNorm: Double?
  /// Batches per epoch, for a schedule that counts epochs; `fit` sets it.
  public var stepsPerEpoch: Int?

  /// The step count, the per-parameter buffers and the passes that update them.
  ///
  /// Unchecked exclusivity: a step reaches into it many times, and the runtime's dynamic
  /// check of each access cost a few per cent of a small model's step; an optimizer takes
  /// one step at a time, and nothing in a step overlaps two accesses.
  @exclusivity(unchecked) var state = OptimizerState<Element>()

  /// Checks the shared settings (after the subclass has checked its own) and keeps them.
  init(
    learningRate: Double, weightDecay: Double, schedule: any LearningRateScheduling, clipGlobalNorm: Double?
  ) throws {
    try OptimizerChecks.validateShared(
      learningRate: learningRate, weightDecay: weightDecay, schedule: schedule, clipGlobalNorm: clipGlobalNorm)
    self.baseLearningRate = learningRate
    self.weightDecay = weightDecay
    self.schedule = schedule
    self.clipGlobalNorm = clipGlobalNorm
  }

  /// The number of steps taken (for ``Adam``, t after the last step).
  public var iterations: Int { state.iterations }

  /// The global norm of the trainable gradients, before clipping, at the last step.
  public var lastGradientNorm: Double? { state.lastGradientNorm }

  /// η at step ``iterations``: the rate the next step uses (the position's epoch is
  /// ⌊iterations / stepsPerEpoch⌋ when ``stepsPerEpoch`` is set).
  public var learningRate: Double {
    schedule.learningRate(
      base: baseLearningRate, at: SchedulePosition(iteration: iterations, stepsPerEpoch: stepsPerEpoch))
  }

  /// Forgets the per-parameter state (Adam's moments, SGD's velocity) and restarts the step
  /// count, and so the schedule and Adam's bias correction.
  public func reset() {
    state.removeAll()
  }
}
