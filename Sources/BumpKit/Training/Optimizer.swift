/// An update rule that moves parameters against their gradients.
///
/// An optimizer is a reference type: it keeps a step counter for its learning-rate schedule
/// and per-parameter state (a momentum buffer, Adam's moment estimates), and the same
/// instance is used for every step of a training run. ``step(_:)`` updates the trainable
/// parameters from the gradients that the last backward pass stored and then calls
/// ``Parameter/project()`` on each, which keeps constrained parameters (a bump's σ) in
/// their domain; fixed parameters are left alone.
///
/// State is allocated on the first step that sees a parameter and reused after that: once
/// warm, a step allocates nothing. It belongs to the parameter's identity (the object, not
/// its position), so passing a different list re-pairs the state, at the cost of one
/// allocation for the bookkeeping.
///
/// Every step first checks the gradients: a NaN or infinite element throws
/// ``BumpKitError/nonFiniteData(what:row:column:value:)`` naming the parameter and position,
/// before anything is changed (no parameter moves and ``iterations`` stays). A NaN gradient
/// is never turned into a number — not by clipping and not by the projection, which would
/// otherwise replace the resulting NaN with the parameter's floor.
///
/// See also: ``SGD``, ``Adam``, ``AdamW``, ``LearningRateSchedule``, ``GradientClipping``.
public protocol Optimizer<Element>: AnyObject {
  /// The scalar type of the parameters it updates.
  associatedtype Element: Scalar

  /// Updates every trainable parameter in `parameters` from its gradient, then projects it.
  ///
  /// - Throws: ``BumpKitError/nonFiniteData(what:row:column:value:)`` for a NaN or infinite
  ///   gradient, ``BumpKitError/shapeMismatch(operation:expected:got:)`` for a gradient whose
  ///   shape is not its parameter's, ``BumpKitError/invalidArgument(name:value:reason:)`` for
  ///   a parameter listed twice. Nothing is updated when it throws.
  func step(_ parameters: [Parameter<Element>]) throws

  /// The learning rate that the next step uses: the base rate under the schedule at step
  /// ``iterations``.
  var learningRate: Double { get }

  /// The number of steps taken so far.
  var iterations: Int { get }
}

/// One parameter's optimizer state: up to two buffers of the parameter's shape.
final class OptimizerSlot<Element: Scalar> {
  /// The parameter this state belongs to; holding it keeps the identity unambiguous.
  let parameter: Parameter<Element>
  /// Momentum velocity (SGD) or first moment m (Adam).
  var first = Matrix<Element>(rows: 0, columns: 0)
  /// Second moment v (Adam).
  var second = Matrix<Element>(rows: 0, columns: 0)

  init(_ parameter: Parameter<Element>) { self.parameter = parameter }

  /// Gives the first `buffers` buffers the parameter's shape, zero-filled, if they do not
  /// have it yet (the first step, or a parameter that was fixed until now).
  func prepare(buffers: Int) {
    let (rows, columns) = (parameter.value.rows, parameter.value.columns)
    if buffers >= 1 && (first.rows != rows || first.columns != columns) {
      first = Matrix(rows: rows, columns: columns)
    }
    if buffers >= 2 && (second.rows != rows || second.columns != columns) {
      second = Matrix(rows: rows, columns: columns)
    }
  }
}

/// The per-parameter state of an optimizer, in an array aligned with the last parameter
/// list, so that a step finds each parameter's state by position after an identity check,
/// without hashing or allocating.
struct OptimizerSlots<Element: Scalar> {
  private(set) var slots: [OptimizerSlot<Element>] = []

  /// Aligns the slots with `parameters`, reusing the state of every parameter seen before,
  /// and sizes `buffers` buffers for each trainable one.
  mutating func bind(_ parameters: [Parameter<Element>], buffers: Int, _ operation: String) throws {
    if !isAligned(with: parameters) {
      var byIdentity = [ObjectIdentifier: OptimizerSlot<Element>](minimumCapacity: slots.count)
      for slot in slots { byIdentity[ObjectIdentifier(slot.parameter)] = slot }
      var seen = Set<ObjectIdentifier>(minimumCapacity: parameters.count)
      var rebuilt: [OptimizerSlot<Element>] = []
      rebuilt.reserveCapacity(parameters.count)
      for (index, p) in parameters.enumerated() {
        let id = ObjectIdentifier(p)
        guard seen.insert(id).inserted else {
          throw BumpKitError.invalidArgument(
            name: "parameters", value: "parameter \(index) (\(p.name))",
            reason: "\(operation): listed twice; it would be updated twice per step")
        }
        rebuilt.append(byIdentity[id] ?? OptimizerSlot(p))
      }
      slots = rebuilt
    }
    for slot in slots where slot.parameter.isTrainable { slot.prepare(buffers: buffers) }
  }

  /// Drops all state.
  mutating func removeAll() { slots.removeAll() }

  private func isAligned(with parameters: [Parameter<Element>]) -> Bool {
    guard slots.count == parameters.count else { return false }
    for i in parameters.indices where slots[i].parameter !== parameters[i] { return false }
    return true
  }
}

// MARK: - Argument checks shared by the optimizers

/// Validation and the gradient check that every optimizer runs.
enum OptimizerChecks {
  static func validateLearningRate(_ value: Double) throws {
    guard value.isFinite && value >= 0 else {
      throw BumpKitError.invalidArgument(name: "learningRate", value: "\(value)", reason: "must be finite and ≥ 0")
    }
  }

  static func validateUnitInterval(_ value: Double, _ name: String) throws {
    guard value >= 0 && value < 1 else {
      throw BumpKitError.invalidArgument(name: name, value: "\(value)", reason: "must lie in [0, 1)")
    }
  }

  static func validateWeightDecay(_ value: Double) throws {
    guard value.isFinite && value >= 0 else {
      throw BumpKitError.invalidArgument(name: "weightDecay", value: "\(value)", reason: "must be finite and ≥ 0")
    }
  }

  /// The clipping factor min(1, c/‖g‖) for the global norm of `parameters`' gradients, after
  /// checking that every gradient is finite and shaped like its parameter.
  static func clippingFactor<Element>(
    _ parameters: [Parameter<Element>], maxNorm: Double?, _ operation: String
  ) throws -> (norm: Double, factor: Double) {
    let norm = try GradientClipping.checkedGlobalNorm(parameters, operation)
    guard let maxNorm, norm > maxNorm else { return (norm, 1) }
    return (norm, maxNorm / norm)
  }
}
