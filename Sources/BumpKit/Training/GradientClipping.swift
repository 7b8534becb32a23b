/// Gradient clipping by global norm (Pascanu, Mikolov & Bengio, "On the difficulty of
/// training recurrent neural networks", ICML 2013).
///
/// The global norm is the Euclidean norm of all trainable parameters' gradients taken as
/// one vector, ‖g‖ = √(Σ over parameters Σᵢ gᵢ²), accumulated in Double. Clipping to c
/// multiplies every gradient by min(1, c/‖g‖): the direction of the step is kept and only
/// its length is limited, unlike clipping each element.
///
/// The optimizers take `clipGlobalNorm:` and fold the factor into their update, which saves
/// a pass over the gradients; ``clipByGlobalNorm(_:maxNorm:)`` is for custom update rules.
public enum GradientClipping {
  /// ‖g‖, the Euclidean norm of the gradients of the trainable parameters as one vector,
  /// accumulated in Double: NaN if any gradient element is NaN, +∞ if one is infinite.
  /// Large finite gradients are rescaled, so the norm overflows only if it is beyond
  /// `Double.greatestFiniteMagnitude`.
  public static func globalNorm<Element>(_ parameters: [Parameter<Element>]) -> Double {
    var sum = 0.0
    for p in parameters where p.isTrainable {
      sum += p.gradient.withUnsafeBufferPointer { UpdateKernels.sumOfSquares($0.baseAddress!, count: $0.count) }
    }
    if sum.isFinite || sum.isNaN { return sum.squareRoot() }
    return scaledNorm(parameters)
  }

  /// Scales the trainable parameters' gradients in place by min(1, `maxNorm`/‖g‖).
  ///
  /// A NaN or infinite norm leaves the gradients unchanged: scaling cannot make such a
  /// gradient meaningful, and the caller should see it.
  ///
  /// - Returns: the global norm before clipping.
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` unless `maxNorm` is
  ///   finite and > 0.
  @discardableResult
  public static func clipByGlobalNorm<Element>(_ parameters: [Parameter<Element>], maxNorm: Double) throws -> Double {
    try validate(maxNorm: maxNorm)
    let norm = globalNorm(parameters)
    guard norm.isFinite, norm > maxNorm else { return norm }
    let factor = Element(maxNorm / norm)
    for p in parameters where p.isTrainable { p.gradient.scale(by: factor) }
    return norm
  }

  /// The norm of the trainable gradients; throws, naming the parameter and position, if
  /// any gradient is NaN or infinite or does not have its parameter's shape.
  static func checkedGlobalNorm<Element>(_ parameters: [Parameter<Element>], _ operation: String) throws -> Double {
    var sum = 0.0
    // Index loops: `enumerated()` in unspecialised generic code allocates per element.
    for index in parameters.indices where parameters[index].isTrainable {
      let p = parameters[index]
      guard p.gradient.rows == p.value.rows && p.gradient.columns == p.value.columns else {
        throw BumpKitError.shapeMismatch(
          operation: "\(operation): gradient of parameter \(index) (\(p.name))",
          expected: MatrixShape(of: p.value),
          actual: MatrixShape(of: p.gradient))
      }
      sum += p.gradient.withUnsafeBufferPointer { UpdateKernels.sumOfSquares($0.baseAddress!, count: $0.count) }
    }
    if sum.isFinite { return sum.squareRoot() }
    for index in parameters.indices where parameters[index].isTrainable {
      let p = parameters[index]
      let columns = p.gradient.columns
      try p.gradient.withUnsafeBufferPointer { g in
        if let i = g.firstIndex(where: { !$0.isFinite }) {
          throw BumpKitError.nonFiniteData(
            what: "\(operation): the gradient of parameter \(index) (\(p.name))",
            row: i / columns, column: i % columns, value: "\(g[i])")
        }
      }
    }
    return scaledNorm(parameters)
  }

  static func validate(maxNorm: Double) throws {
    guard maxNorm.isFinite && maxNorm > 0 else {
      throw BumpKitError.invalidArgument(
        name: "clipGlobalNorm", value: "\(maxNorm)", reason: "must be finite and > 0")
    }
  }

  /// The global norm of finite gradients whose squares overflow: max|gᵢ| · ‖g / max|gᵢ|‖.
  private static func scaledNorm<Element>(_ parameters: [Parameter<Element>]) -> Double {
    var largest = 0.0
    for p in parameters where p.isTrainable {
      p.gradient.withUnsafeBufferPointer { g in
        for x in g { largest = Swift.max(largest, Swift.abs(Double(x))) }
      }
    }
    guard largest > 0 && largest.isFinite else { return largest }
    var sum = 0.0
    for p in parameters where p.isTrainable {
      p.gradient.withUnsafeBufferPointer { g in
        for x in g {
          let r = Double(x) / largest
          sum += r * r
        }
      }
    }
    return largest * sum.squareRoot()
  }
}
