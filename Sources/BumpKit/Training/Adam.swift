import RealModule

/// Adam: adaptive moment estimation (Kingma & Ba, "Adam: A Method for Stochastic
/// Optimization", ICLR 2015), with bias-corrected moment estimates.
///
/// For each trainable parameter θ with gradient g, at step t = 1, 2, … with scheduled rate η:
///
///     g′ = s·g + λ·θ                       s: the global-norm clipping factor (1 without)
///     m ← β₁·m + (1 − β₁)·g′               first moment
///     v ← β₂·v + (1 − β₂)·g′²              second moment
///     m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
///     θ ← θ − η·m̂ / (√v̂ + ε)
///
/// then θ is projected (``Parameter/project()``). The bias corrections are folded into the
/// step size and the denominator (η/(1 − β₁ᵗ) and √v/√(1 − β₂ᵗ) + ε): ε is added to √v̂, as
/// in the paper's Algorithm 1 and PyTorch (Keras adds it to √v, which differs only in how ε
/// scales). m and v start at zero and are kept in the element type; t counts the
/// optimizer's steps, shared by all parameters.
///
/// `weightDecay` here is the classic L2 penalty, added to the gradient; it is then scaled
/// by Adam's per-coordinate step, which weakens it where gradients are large. For weight
/// decay that does not interact with the adaptive step, use ``AdamW``, Adam's decoupled form
/// (a subclass that only changes where λ enters).
///
/// The state — t, m and v — can be saved and restored (``ResumableOptimizer``), so a run
/// resumed from a checkpoint takes the same steps as one never interrupted.
public class Adam<Element: MatrixScalar>: ScheduledOptimizer<Element>, ResumableOptimizer {
  /// β₁, the first moment's decay rate.
  public let beta1: Double
  /// β₂, the second moment's decay rate.
  public let beta2: Double
  /// ε, added to √v̂.
  public let epsilon: Double

  /// AdamW (decay applied to θ) rather than Adam with L2 (decay added to g).
  let decoupled: Bool

  /// Whether the type applies its weight decay to θ directly (``AdamW``) rather than adding
  /// it to the gradient: the one thing the decoupled form changes.
  class var decouplesWeightDecay: Bool { false }

  /// λ when the initializer is given none: 0 for ``Adam``, 0.01 for ``AdamW`` (as PyTorch).
  class var defaultWeightDecay: Double { 0 }

  /// Adam, or for ``AdamW`` its decoupled form (``AdamW`` inherits this initializer).
  ///
  /// - Parameters:
  ///   - learningRate: η₀, finite and ≥ 0 (the paper's α; default 0.001).
  ///   - beta1: β₁ in [0, 1), the first moment's decay (default 0.9).
  ///   - beta2: β₂ in [0, 1), the second moment's decay (default 0.999).
  ///   - epsilon: ε > 0, finite, added to √v̂ (default 1e-8).
  ///   - weightDecay: λ ≥ 0, finite: for ``Adam`` the L2 coefficient added to the gradient
  ///     (default 0), for ``AdamW`` the decoupled decay rate (default 0.01, as PyTorch).
  ///   - schedule: the learning-rate schedule, checked against `learningRate`.
  ///   - clipGlobalNorm: clip the global gradient norm to this value (finite, > 0).
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` naming the first bad argument.
  public init(
    learningRate: Double = 0.001, beta1: Double = 0.9, beta2: Double = 0.999,
    epsilon: Double = 1e-8, weightDecay: Double? = nil, schedule: any LearningRateScheduling = .constant,
    clipGlobalNorm: Double? = nil
  ) throws {
    let weightDecay = weightDecay ?? Self.defaultWeightDecay
    try OptimizerChecks.validateLearningRate(learningRate)
    try OptimizerChecks.validateUnitInterval(beta1, "beta1")
    try OptimizerChecks.validateUnitInterval(beta2, "beta2")
    guard epsilon.isFinite && epsilon > 0 else {
      throw BumpKitError.invalidArgument(name: "epsilon", value: "\(epsilon)", reason: "must be finite and > 0")
    }
    if Element(epsilon) == 0 {
      throw BumpKitError.invalidArgument(
        name: "epsilon", value: "\(epsilon)", reason: "rounds to 0 in \(Element.self)")
    }
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.decoupled = Self.decouplesWeightDecay
    try super.init(
      learningRate: learningRate, weightDecay: weightDecay, schedule: schedule, clipGlobalNorm: clipGlobalNorm)
  }

  /// `adam`, or `adamw` for ``AdamW``.
  public var kind: String { decoupled ? "adamw" : "adam" }

  /// "Adam.step" or "AdamW.step", for error messages.
  private var operation: String { decoupled ? "AdamW.step" : "Adam.step" }

  /// Updates the trainable parameters from their gradients, then projects them.
  ///
  /// One fused step: a read-only pass over all gradients for the finite check and the global
  /// norm, then one pass that updates and projects every trainable parameter, both cut into
  /// the same fixed chunks and shared by the threads. (One pass cannot do both: a NaN
  /// gradient must leave every parameter as it was.)
  ///
  /// - Throws: see ``Optimizer/step(_:)``; also the schedule's errors (see
  ///   ``LearningRateScheduling``). Nothing is updated when it throws.
  // Specialised entry points: unspecialised generic code spends more time on type
  // metadata and reference counting than a small parameter takes to update.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public func step(_ parameters: [Parameter<Element>]) throws {
    let (eta, norm, factor, threads) = try state.beginStep(
      parameters, bufferCount: 2, schedule: schedule, base: baseLearningRate,
      stepsPerEpoch: stepsPerEpoch, maxNorm: clipGlobalNorm, operation)
    let t = Double(iterations + 1)
    let coefficients = AdamCoefficients(
      stepSize: eta / (1 - Double.pow(beta1, t)), beta1: beta1, beta2: beta2,
      inverseRootCorrection2: 1 / (1 - Double.pow(beta2, t)).squareRoot(), epsilon: epsilon,
      l2: decoupled ? 0 : weightDecay, decayFactor: decoupled ? 1 - eta * weightDecay : 1,
      gradientScale: factor)
    state.finishStep(.adam(coefficients), norm: norm, threads: threads)
  }

  /// The step count t and the moments m and v (slots `m`, `v`) of every parameter.
  public func snapshot(for parameters: [Parameter<Element>]) -> OptimizerSnapshot<Element> {
    OptimizerSnapshot(kind: kind, iterations: iterations, slotNames: ["m", "v"], states: state.export(parameters))
  }

  /// Puts back a snapshot of an optimizer of the same ``kind``: the step count and the moments.
  ///
  /// - Throws: see ``ResumableOptimizer/restore(_:for:)``.
  public func restore(_ snapshot: OptimizerSnapshot<Element>, for parameters: [Parameter<Element>]) throws {
    try OptimizerChecks.checkSnapshot(snapshot, kind: kind, slotNames: ["m", "v"])
    try OptimizerChecks.checkSlotValues(snapshot, nonNegative: ["v"], parameters: parameters)
    try state.restore(snapshot, for: parameters, bufferCount: 2, operation)
  }
}

/// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay
/// Regularization", ICLR 2019).
///
/// The decay shrinks the parameter directly instead of entering the gradient:
///
///     θ ← (1 − η·λ)·θ − η·m̂ / (√v̂ + ε)
///
/// with m̂ and v̂ as in ``Adam``, computed from the (clipped) gradient alone. Every
/// coordinate decays at the same relative rate η·λ whatever its gradient history, which is
/// what makes the decay a regulariser again; with Adam's L2 term (``Adam`` with
/// `weightDecay`), coordinates with large gradients are barely regularised. η is the
/// scheduled rate, so the decay follows the schedule (the paper's η_t; PyTorch's and Keras'
/// convention). The decay applies to every trainable parameter, biases and bump parameters
/// included; σ is projected onto its floor afterwards as always.
///
/// AdamW is ``Adam`` in its decoupled form: the same initializer (inherited), state, step and
/// checkpoint slots, with its own default decay (0.01) and ``Adam/kind`` `adamw`.
///
/// ```swift
/// let optimizer = try AdamW<Float>(learningRate: 1e-3, weightDecay: 0.05)
/// ```
public final class AdamW<Element: MatrixScalar>: Adam<Element> {
  /// True: the decay multiplies θ by 1 − η·λ instead of entering the gradient.
  override class var decouplesWeightDecay: Bool { true }

  /// 0.01, PyTorch's default decoupled decay.
  override class var defaultWeightDecay: Double { 0.01 }
}
