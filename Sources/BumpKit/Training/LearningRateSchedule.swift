import RealModule

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
/// (``validate(baseLearningRate:)``) and evaluate it once per step.
public enum LearningRateSchedule: Sendable, Equatable, CustomStringConvertible {
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
      return base * Double.pow(factor, Double(iteration / every))
    case .cosine(let totalSteps, let minimum):
      guard iteration < totalSteps else { return minimum }
      let progress = Double(iteration) / Double(totalSteps)
      return minimum + (base - minimum) * (1 + Double.cos(Double.pi * progress)) / 2
    }
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
      guard every > 0 else {
        throw BumpKitError.invalidArgument(
          name: "schedule step every", value: String(every), reason: "must be at least 1 step")
      }
      guard factor.isFinite && factor > 0 else {
        throw BumpKitError.invalidArgument(
          name: "schedule step factor", value: "\(factor)", reason: "must be finite and > 0")
      }
    case .cosine(let totalSteps, let minimum):
      guard totalSteps > 0 else {
        throw BumpKitError.invalidArgument(
          name: "schedule cosine totalSteps", value: String(totalSteps), reason: "must be at least 1 step")
      }
      guard minimum >= 0 && minimum <= baseLearningRate else {
        throw BumpKitError.invalidArgument(
          name: "schedule cosine minimum", value: "\(minimum)",
          reason: "must lie in [0, \(baseLearningRate)] (0 up to the base learning rate)")
      }
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
}
