import RealModule

/// Where a step lies in training, as a learning-rate schedule sees it.
///
/// `iteration` counts the optimizer's steps taken before this one (0 for the first step).
/// `stepsPerEpoch` is the number of batches per epoch when the optimizer knows it:
/// ``Sequential/fit(x:y:loss:optimizer:epochs:batchSize:shuffle:seed:validation:earlyStopping:metrics:resumingFrom:progress:onEpochEnd:)``
/// sets ``Optimizer/stepsPerEpoch`` before its first step, and an app that calls
/// ``Optimizer/step(_:)`` itself sets it by hand.
///
/// See also: ``LearningRateScheduling``.
public struct SchedulePosition: Sendable, Equatable {
  /// The number of steps taken before this one, ≥ 0.
  public var iteration: Int
  /// Batches per epoch (≥ 1), or nil when the optimizer was not told.
  public var stepsPerEpoch: Int?

  /// The position of step `iteration` (0 for the first) of a run of `stepsPerEpoch` batches
  /// per epoch.
  public init(iteration: Int, stepsPerEpoch: Int? = nil) {
    self.iteration = iteration
    self.stepsPerEpoch = stepsPerEpoch
  }

  /// The epoch of this step, 0-based: ⌊iteration / stepsPerEpoch⌋; nil without
  /// ``stepsPerEpoch``.
  public var epoch: Int? {
    stepsPerEpoch.map { iteration / max($0, 1) }
  }
}

/// How an optimizer's learning rate changes over training: the rate of each step, given the
/// base rate η₀ and where the step lies.
///
/// Optimizers check a schedule against their base rate when they are created
/// (``validate(baseLearningRate:)``) and evaluate it once per step; a step whose scheduled
/// rate is negative or not finite throws ``BumpKitError/invalidArgument(name:value:reason:)``
/// and changes nothing. A schedule that ``countsEpochs`` needs ``Optimizer/stepsPerEpoch``
/// (which `fit` sets); a step without it throws ``BumpKitError/invalidState(operation:reason:)``.
///
/// The rate depends on the position alone, never on earlier calls, so a run resumed from a
/// checkpoint (which stores the step count) continues its schedule exactly.
///
/// Built-in forms, all reachable as static members (`schedule: .cosine(totalSteps: 5000,
/// minimum: 0)`):
///
/// - ``LearningRateSchedule``: the step-counting forms `.constant`, `.step(every:factor:)`,
///   `.cosine(totalSteps:minimum:)`.
/// - ``EpochSchedule``: a rate per epoch, `.epochs { epoch, base in … }`, with
///   `.stepDecay(everyEpochs:factor:)` and `.cosine(epochs:minimum:)`.
/// - ``WarmUpSchedule``: a linear warm-up over steps or epochs before another schedule,
///   `.warmUp(steps:then:)` and `.warmUp(epochs:then:)`.
/// - ``CustomSchedule``: any closure of the position, `.custom { position, base in … }`.
///
/// ```swift
/// let optimizer = try Adam<Float>(
///   learningRate: 3e-3, schedule: .warmUp(epochs: 2, then: .cosine(epochs: 50, minimum: 0)))
/// ```
public protocol LearningRateScheduling: Sendable {
  /// The learning rate of the step at `position` for base rate `base` (finite and ≥ 0 for a
  /// valid schedule; NaN for a built-in schedule whose interval or length `validate` refuses,
  /// which optimizers then refuse as a rate).
  func learningRate(base: Double, at position: SchedulePosition) -> Double

  /// Checks the schedule's own arguments against the base rate; the default accepts any.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` naming the bad argument.
  func validate(baseLearningRate: Double) throws

  /// Whether the schedule counts epochs and so needs ``SchedulePosition/stepsPerEpoch``;
  /// false by default.
  var countsEpochs: Bool { get }
}

extension LearningRateScheduling {
  /// Accepts every base rate.
  public func validate(baseLearningRate: Double) throws {}

  /// False: the schedule counts steps.
  public var countsEpochs: Bool { false }
}

/// How an optimizer's learning rate changes with the step number.
///
/// The rate of step t (counting from 0, the first step) for a base rate η₀:
///
/// - ``constant``: η₀.
/// - ``step(every:factor:)``: η₀ · factor^⌊t / every⌋ — a staircase, e.g. halve every 1000
///   steps with `.step(every: 1000, factor: 0.5)`.
/// - ``cosine(totalSteps:minimum:)``: η_min + (η₀ − η_min) · (1 + cos(π·t/T)) / 2 for
///   t < T and η_min from then on — the cosine annealing of Loshchilov & Hutter, "SGDR:
///   Stochastic Gradient Descent with Warm Restarts" (ICLR 2017), without restarts.
///
/// Optimizers validate the schedule against their base rate when they are created
/// (``validate(baseLearningRate:)``) and evaluate it once per step. This is one form of
/// ``LearningRateScheduling``; ``EpochSchedule``, ``WarmUpSchedule`` and ``CustomSchedule``
/// are the others.
public enum LearningRateSchedule: LearningRateScheduling, Equatable, CustomStringConvertible {
  /// The base rate at every step.
  case constant
  /// The base rate times `factor` after every `every` steps; `every` > 0, `factor` finite
  /// and > 0.
  case step(every: Int, factor: Double)
  /// Cosine decay from the base rate to `minimum` over `totalSteps` steps, then `minimum`;
  /// `totalSteps` > 0 and 0 ≤ `minimum` ≤ base rate.
  case cosine(totalSteps: Int, minimum: Double)

  /// The learning rate of step `iteration` (0 for the first step) for base rate `base`.
  ///
  /// - Precondition: `iteration ≥ 0`.
  public func learningRate(base: Double, iteration: Int) -> Double {
    precondition(iteration >= 0, "the iteration must be ≥ 0, got \(iteration)")
    switch self {
    case .constant:
      return base
    case .step(let every, let factor):
      // An interval that `validate` refuses gives no rate.
      guard every > 0 else { return .nan }
      return base * Double.pow(factor, Double(iteration / every))
    case .cosine(let totalSteps, let minimum):
      guard iteration < totalSteps else { return minimum }
      return Self.cosine(base: base, minimum: minimum, progress: Double(iteration) / Double(totalSteps))
    }
  }

  /// The rate of step `position.iteration` (see ``learningRate(base:iteration:)``).
  public func learningRate(base: Double, at position: SchedulePosition) -> Double {
    learningRate(base: base, iteration: position.iteration)
  }

  /// Checks the schedule's arguments against the base rate.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for `every` ≤ 0, a
  ///   factor that is not finite and > 0, `totalSteps` ≤ 0, or a minimum outside
  ///   [0, `baseLearningRate`].
  public func validate(baseLearningRate: Double) throws {
    switch self {
    case .constant:
      break
    case .step(let every, let factor):
      try checkStepDecay(every: every, "schedule step every", unit: "step", factor: factor, "schedule step factor")
    case .cosine(let totalSteps, let minimum):
      guard totalSteps > 0 else {
        throw BumpKitError.invalidArgument(
          name: "schedule cosine totalSteps", value: String(totalSteps), reason: "must be at least 1 step")
      }
      try Self.validateMinimum(minimum, base: baseLearningRate, "schedule cosine minimum")
    }
  }

  /// "constant", "step(every: 1000, factor: 0.5)" or "cosine(totalSteps: 5000, minimum: 1e-05)".
  public var description: String {
    switch self {
    case .constant: return "constant"
    case .step(let every, let factor): return "step(every: \(every), factor: \(factor))"
    case .cosine(let totalSteps, let minimum): return "cosine(totalSteps: \(totalSteps), minimum: \(minimum))"
    }
  }

  /// η_min + (η₀ − η_min)·(1 + cos(π·progress))/2, the cosine curve shared by the step and
  /// epoch forms.
  static func cosine(base: Double, minimum: Double, progress: Double) -> Double {
    minimum + (base - minimum) * (1 + Double.cos(Double.pi * progress)) / 2
  }

  static func validateMinimum(_ minimum: Double, base: Double, _ name: String) throws {
    guard minimum >= 0 && minimum <= base else {
      throw BumpKitError.invalidArgument(
        name: name, value: "\(minimum)",
        reason: "must lie in [0, \(base)] (0 up to the base learning rate)")
    }
  }
}

// Disfavoured, so that `LearningRateSchedule.step(…)` still names the enum case.
extension LearningRateScheduling where Self == LearningRateSchedule {
  /// The base rate at every step (``LearningRateSchedule/constant``).
  @_disfavoredOverload
  public static var constant: LearningRateSchedule { LearningRateSchedule.constant }

  /// η₀ · factor^⌊t / every⌋ (``LearningRateSchedule/step(every:factor:)``).
  @_disfavoredOverload
  public static func step(every: Int, factor: Double) -> LearningRateSchedule {
    LearningRateSchedule.step(every: every, factor: factor)
  }

  /// Cosine decay over `totalSteps` steps (``LearningRateSchedule/cosine(totalSteps:minimum:)``).
  @_disfavoredOverload
  public static func cosine(totalSteps: Int, minimum: Double) -> LearningRateSchedule {
    LearningRateSchedule.cosine(totalSteps: totalSteps, minimum: minimum)
  }
}

/// A learning rate per epoch: every step of epoch e (0-based) uses `rate(e, η₀)`.
///
/// The epoch is ⌊t / stepsPerEpoch⌋ for step t, so the schedule needs
/// ``Optimizer/stepsPerEpoch``, which `fit` sets. Built-in forms:
///
/// - ``LearningRateScheduling/stepDecay(everyEpochs:factor:)``: η₀ · factor^⌊e / every⌋.
/// - ``LearningRateScheduling/cosine(epochs:minimum:)``: η_min + (η₀ − η_min)·(1 + cos(π·e/E))/2
///   for e < E, then η_min.
///
/// ```swift
/// let sgd = try SGD<Float>(learningRate: 0.1, schedule: .epochs { epoch, base in
///   epoch < 10 ? base : base / 10
/// })
/// ```
public struct EpochSchedule: LearningRateScheduling {
  /// The rate of an epoch (0-based) for a base rate.
  public let rate: @Sendable (_ epoch: Int, _ base: Double) -> Double
  private let check: @Sendable (_ base: Double) throws -> Void

  /// A schedule whose epoch e has rate `rate(e, η₀)`.
  public init(_ rate: @escaping @Sendable (_ epoch: Int, _ base: Double) -> Double) {
    self.rate = rate
    check = { _ in }
  }

  private init(
    rate: @escaping @Sendable (Int, Double) -> Double, check: @escaping @Sendable (Double) throws -> Void
  ) {
    self.rate = rate
    self.check = check
  }

  /// The rate of the epoch that holds `position`'s step (epoch 0 without
  /// ``SchedulePosition/stepsPerEpoch``; optimizers refuse to step then).
  public func learningRate(base: Double, at position: SchedulePosition) -> Double {
    rate(position.epoch ?? 0, base)
  }

  /// Runs the checks of the built-in forms.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)``.
  public func validate(baseLearningRate: Double) throws { try check(baseLearningRate) }

  /// True: the schedule counts epochs.
  public var countsEpochs: Bool { true }

  static func makeStepDecay(everyEpochs every: Int, factor: Double) -> EpochSchedule {
    EpochSchedule(
      // An interval that `validate` refuses gives no rate.
      rate: { epoch, base in every > 0 ? base * Double.pow(factor, Double(epoch / every)) : .nan },
      check: { _ in
        try checkStepDecay(
          every: every, "schedule stepDecay everyEpochs", unit: "epoch", factor: factor, "schedule stepDecay factor")
      })
  }

  static func makeCosine(epochs: Int, minimum: Double) -> EpochSchedule {
    EpochSchedule(
      rate: { epoch, base in
        epoch < epochs
          ? LearningRateSchedule.cosine(base: base, minimum: minimum, progress: Double(epoch) / Double(epochs))
          : minimum
      },
      check: { base in
        guard epochs > 0 else {
          throw BumpKitError.invalidArgument(
            name: "schedule cosine epochs", value: String(epochs), reason: "must be at least 1 epoch")
        }
        try LearningRateSchedule.validateMinimum(minimum, base: base, "schedule cosine minimum")
      })
  }
}

extension LearningRateScheduling where Self == EpochSchedule {
  /// Epoch e (0-based) runs at `rate(e, η₀)` (see ``EpochSchedule``).
  public static func epochs(_ rate: @escaping @Sendable (_ epoch: Int, _ base: Double) -> Double) -> EpochSchedule {
    EpochSchedule(rate)
  }

  /// η₀ · factor^⌊e / every⌋ for epoch e: a staircase in epochs; `every` ≥ 1, `factor`
  /// finite and > 0.
  public static func stepDecay(everyEpochs every: Int, factor: Double) -> EpochSchedule {
    EpochSchedule.makeStepDecay(everyEpochs: every, factor: factor)
  }

  /// Cosine decay from η₀ to `minimum` over `epochs` epochs, one rate per epoch, then
  /// `minimum`; `epochs` ≥ 1 and 0 ≤ `minimum` ≤ η₀.
  public static func cosine(epochs: Int, minimum: Double) -> EpochSchedule {
    EpochSchedule.makeCosine(epochs: epochs, minimum: minimum)
  }
}

/// A linear warm-up before another schedule.
///
/// For a warm-up of w steps (or of w = epochs · stepsPerEpoch steps), step t < w runs at
/// η_after(0) · (t + 1)/w, rising to the rate the following schedule starts with; from step
/// w on, the following schedule runs on steps counted from the end of the warm-up
/// (iteration t − w), so `.warmUp(epochs: 2, then: .cosine(epochs: 50, minimum: 0))` decays
/// over the 50 epochs after the warm-up. Warm-up keeps early Adam steps small while the
/// second-moment estimate is still poor (Goyal et al., "Accurate, Large Minibatch SGD", 2017).
public struct WarmUpSchedule: LearningRateScheduling {
  /// The length of the warm-up.
  public enum Length: Sendable, Equatable {
    /// A number of optimizer steps.
    case steps(Int)
    /// A number of epochs (needs ``SchedulePosition/stepsPerEpoch``).
    case epochs(Int)
  }

  /// How long the warm-up lasts.
  public let length: Length
  /// The schedule that follows it.
  public let following: any LearningRateScheduling

  /// A warm-up of `length` before `following` (default ``LearningRateSchedule/constant``).
  public init(_ length: Length, then following: any LearningRateScheduling = LearningRateSchedule.constant) {
    self.length = length
    self.following = following
  }

  /// The warmed-up rate of `position`'s step.
  public func learningRate(base: Double, at position: SchedulePosition) -> Double {
    let w: Int
    switch length {
    case .steps(let n): w = n
    case .epochs(let n):
      // A length beyond Int's steps is a warm-up that never ends (it wrapped to a short one).
      let (steps, overflow) = n.multipliedReportingOverflow(by: max(position.stepsPerEpoch ?? 1, 1))
      w = overflow ? Int.max : steps
    }
    // A length that `validate` refuses gives no rate.
    guard w >= 1 else { return .nan }
    guard position.iteration < w else {
      var after = position
      after.iteration -= w
      return following.learningRate(base: base, at: after)
    }
    var start = position
    start.iteration = 0
    return following.learningRate(base: base, at: start) * (Double(position.iteration) + 1) / Double(w)
  }

  /// Checks the length (≥ 1) and the following schedule.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)``.
  public func validate(baseLearningRate: Double) throws {
    switch length {
    case .steps(let n) where n < 1:
      throw BumpKitError.invalidArgument(name: "schedule warmUp steps", value: String(n), reason: "must be at least 1 step")
    case .epochs(let n) where n < 1:
      throw BumpKitError.invalidArgument(name: "schedule warmUp epochs", value: String(n), reason: "must be at least 1 epoch")
    default: break
    }
    try following.validate(baseLearningRate: baseLearningRate)
  }

  /// Whether the warm-up or the following schedule counts epochs.
  public var countsEpochs: Bool {
    if case .epochs = length { return true }
    return following.countsEpochs
  }
}

extension LearningRateScheduling where Self == WarmUpSchedule {
  /// A linear warm-up over `steps` steps (≥ 1), then `following` (see ``WarmUpSchedule``).
  public static func warmUp(steps: Int, then following: any LearningRateScheduling = LearningRateSchedule.constant) -> WarmUpSchedule {
    WarmUpSchedule(.steps(steps), then: following)
  }

  /// A linear warm-up over `epochs` epochs (≥ 1), then `following` (see ``WarmUpSchedule``).
  public static func warmUp(epochs: Int, then following: any LearningRateScheduling = LearningRateSchedule.constant) -> WarmUpSchedule {
    WarmUpSchedule(.epochs(epochs), then: following)
  }
}

/// A schedule given by a closure of the step's position: the most general form.
///
/// ```swift
/// let schedule = CustomSchedule { position, base in
///   base / (1 + Double(position.iteration) / 1000)  // inverse-time decay
/// }
/// ```
public struct CustomSchedule: LearningRateScheduling {
  /// The rate of a position for a base rate.
  public let rate: @Sendable (_ position: SchedulePosition, _ base: Double) -> Double
  /// Whether the closure reads ``SchedulePosition/epoch``.
  public let countsEpochs: Bool

  /// A schedule whose step at `position` runs at `rate(position, η₀)`; `countsEpochs` says
  /// that the closure needs ``SchedulePosition/stepsPerEpoch``.
  public init(countsEpochs: Bool = false, _ rate: @escaping @Sendable (_ position: SchedulePosition, _ base: Double) -> Double) {
    self.rate = rate
    self.countsEpochs = countsEpochs
  }

  /// `rate(position, base)`.
  public func learningRate(base: Double, at position: SchedulePosition) -> Double {
    rate(position, base)
  }
}

extension LearningRateScheduling where Self == CustomSchedule {
  /// The rate `rate(position, η₀)` (see ``CustomSchedule``).
  public static func custom(
    countsEpochs: Bool = false, _ rate: @escaping @Sendable (_ position: SchedulePosition, _ base: Double) -> Double
  ) -> CustomSchedule {
    CustomSchedule(countsEpochs: countsEpochs, rate)
  }
}

extension OptimizerChecks {
  /// The rate of the next step under `schedule`, checked.
  ///
  /// - Throws: ``BumpKitError/invalidState(operation:reason:)`` for a schedule that counts
  ///   epochs when `stepsPerEpoch` is nil; ``BumpKitError/invalidArgument(name:value:reason:)``
  ///   for a rate that is negative or not finite.
  static func scheduledRate(
    _ schedule: any LearningRateScheduling, base: Double, iteration: Int, stepsPerEpoch: Int?, _ operation: String
  ) throws -> Double {
    if schedule.countsEpochs && stepsPerEpoch == nil {
      throw BumpKitError.invalidState(
        operation: operation,
        reason: "the learning-rate schedule counts epochs, and the optimizer does not know the steps per epoch; train with fit, or set stepsPerEpoch")
    }
    let rate = schedule.learningRate(base: base, at: SchedulePosition(iteration: iteration, stepsPerEpoch: stepsPerEpoch))
    guard rate.isFinite && rate >= 0 else {
      throw BumpKitError.invalidArgument(
        name: "schedule", value: "\(rate) at step \(iteration)", reason: "a learning rate must be finite and ≥ 0")
    }
    return rate
  }
}

/// The checks of a step decay, by steps (``LearningRateSchedule/step(every:factor:)``) or by
/// epochs: at least one `unit` between decays, and a finite factor > 0.
///
/// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` named `everyName` or
///   `factorName`.
private func checkStepDecay(every: Int, _ everyName: String, unit: String, factor: Double, _ factorName: String) throws {
  guard every > 0 else {
    throw BumpKitError.invalidArgument(name: everyName, value: String(every), reason: "must be at least 1 \(unit)")
  }
  guard factor.isFinite && factor > 0 else {
    throw BumpKitError.invalidArgument(name: factorName, value: "\(factor)", reason: "must be finite and > 0")
  }
}
