/// Numerical checks of analytic gradients: central finite differences in Double for layers,
/// whole models and losses, and a Float-against-Double comparison for Float layers.
///
/// For a layer with output y = layer(x), the check fixes a random matrix R of y's shape
/// (normal entries from ``SeededGenerator``) and differentiates the scalar
///
///     L(x, θ) = Σᵢⱼ yᵢⱼ · Rᵢⱼ,    so that dL/dy = R,
///
/// once by `backward(R)` (the analytic dL/dx and the gradients of every trainable parameter)
/// and once per scalar by the central difference
///
///     ∂L/∂w ≈ (L(w + h) − L(w − h)) / ((w + h) − (w − h)),   h = relativeStep · max(|w|, 0.1),
///
/// whose error is O(h²) from truncation plus about ε·|y|/h from rounding. The step follows
/// the magnitude of w, so that a small σ (whose derivatives vary on the scale of σ itself)
/// is not stepped across a large fraction of its value; the floor 0.1 gives zero weights a
/// step whose rounding error stays negligible. L is differenced
/// output by output (Σ (y⁺ − y⁻)·R), so outputs that a perturbation does not touch cancel
/// exactly and add no rounding noise. A random R, rather than L = Σ y, makes it unlikely that
/// an error in one output is cancelled by another.
///
/// Each tensor's agreement is the largest element-wise relative error
/// max(0, |a − n| − δ) / max(|a|, |n|, floor), where δ bounds the rounding error the central
/// difference itself carries: 8ε · Σ (|y⁺| + |y⁻|) · |R| / ((w + h) − (w − h)), summed over
/// the outputs the perturbation changed (ε the Double epsilon). A difference smaller than δ
/// is below what finite differences can resolve and counts as agreement, so an element that
/// is tiny next to the rest of the output (an input gradient through a weight of 1e-10, say)
/// is not failed for the noise around it. With the default step, a correct gradient of a
/// smooth layer in Double agrees to about 1e-8 or better; a wrong formula typically gives
/// 1e-2 to 1.
///
/// Finite differences need a function that is smooth within ±h of the point: keep inputs of
/// ``ReLU`` away from 0, and inputs of ``Bump`` away from the support boundary |x − c| = √σ
/// (the bump is C^∞, but its derivatives grow like t² e^(−t) with t = σ/(σ − (x−c)²), and a
/// difference across the boundary compares a zero with a non-zero branch).
///
/// **Float layers.** Differences in Float are dominated by rounding (ε_Float/h ≈ 1 for any
/// useful h), so Float layers are not differenced. Check the same configuration built with
/// `Element == Double` by ``check(layer:input:seed:relativeStep:floor:)``, then compare the
/// Float layer's analytic gradients against it with ``compare(_:reference:input:seed:floorFraction:)``.
///
/// See also: ``Report``, ``Layer``, ``Loss``.
public enum GradientCheck {
  /// The agreement of one tensor's gradient (or output) with its reference.
  public struct TensorReport: Sendable, CustomStringConvertible {
    /// "input", a parameter name ("weight"; "0.dense.weight" inside a ``Sequential``),
    /// "output", or "predicted".
    public let name: String
    /// The number of elements compared.
    public let count: Int
    /// max over elements of max(0, |a − n| − δ) / max(|a|, |n|, floor), with δ the rounding
    /// error of the central difference (0 for ``GradientCheck/compare(_:reference:input:seed:floorFraction:)``);
    /// NaN if either value was NaN.
    public let maxRelativeError: Double
    /// max over elements of |a − n|.
    public let maxAbsoluteError: Double
    /// The row-major index of the element with the largest relative error.
    public let worstIndex: Int
    /// The analytic value (or the Float value) at ``worstIndex``.
    public let analytic: Double
    /// The numeric value (or the Double reference) at ``worstIndex``.
    public let reference: Double

    /// "name: max rel 3.1e-10 (abs 2.2e-12) at [k]: analytic …, reference …".
    public var description: String {
      "\(name) (\(count)): max relative error \(maxRelativeError), absolute \(maxAbsoluteError), "
        + "worst at [\(worstIndex)]: analytic \(analytic), reference \(reference)"
    }
  }

  /// The result of a check: one ``TensorReport`` per tensor compared.
  public struct Report: Sendable, CustomStringConvertible {
    /// One entry per tensor, inputs first, then parameters in the layer's order.
    public let tensors: [TensorReport]

    /// The largest relative error over all tensors; NaN if any tensor had a NaN.
    public var maxRelativeError: Double {
      var worst = 0.0
      for t in tensors {
        if t.maxRelativeError.isNaN { return .nan }
        worst = Swift.max(worst, t.maxRelativeError)
      }
      return worst
    }

    /// The tensor with the largest relative error (NaN counts as largest).
    public var worst: TensorReport? {
      tensors.max { a, b in
        b.maxRelativeError.isNaN ? !a.maxRelativeError.isNaN : a.maxRelativeError < b.maxRelativeError
      }
    }

    /// Whether every tensor's relative error is at most `tolerance` (and none is NaN).
    public func passed(tolerance: Double) -> Bool {
      tensors.allSatisfy { $0.maxRelativeError <= tolerance }
    }

    /// One line per tensor.
    public var description: String {
      tensors.map(\.description).joined(separator: "\n")
    }
  }

  // MARK: - Layers

  /// Compares a Double layer's (or model's) analytic gradients with central differences:
  /// dL/d(input) and the gradient of every trainable parameter, for L = Σ y ⊙ R.
  ///
  /// Runs `2·(input.count + trainable parameter count) + 1` forward passes. Parameters are
  /// restored exactly afterwards; their gradients hold the analytic values.
  ///
  /// - Parameters:
  ///   - layer: any layer or ``Sequential`` model with `Element == Double`.
  ///   - input: the point to check at, `batch × features`.
  ///   - seed: the seed of R.
  ///   - relativeStep: h / max(|w|, 0.1); 1e-6 balances truncation and rounding in Double.
  ///   - floor: the smallest denominator of the relative error, so that values that are
  ///     both ≈ 0 compare by absolute difference.
  /// - Throws: the layer's errors; ``BumpKitError/invalidArgument(name:value:reason:)`` for a
  ///   step that is not finite and > 0 or a negative floor.
  public static func check<L: Layer>(
    layer: L, input: Matrix<Double>, seed: UInt64 = 0, relativeStep: Double = 1e-6, floor: Double = 1e-10
  ) throws -> Report where L.Element == Double {
    try validate(relativeStep: relativeStep, floor: floor)
    let output = try layer.forward(input)
    let r = randomMatrix(rows: output.rows, columns: output.columns, seed: seed)
    let trainable = layer.parameters.enumerated().filter { $0.element.isTrainable }
    let labels = parameterLabels(layer)
    for (_, p) in trainable { p.zeroGradient() }
    let analyticInput = try layer.backward(r)
    let analyticParameters = trainable.map { $0.element.gradient }
    defer { layer.releaseSavedState() }

    /// Σ (y⁺ − y⁻) ⊙ R for the two outputs, and Σ (|y⁺| + |y⁻|) ⊙ |R|, over the outputs
    /// that differ.
    func differenceOfObjective(_ plus: Matrix<Double>, _ minus: Matrix<Double>) -> (value: Double, magnitude: Double) {
      plus.withUnsafeBufferPointer { a in
        minus.withUnsafeBufferPointer { b in
          r.withUnsafeBufferPointer { w in
            var sum = 0.0, magnitude = 0.0
            for i in w.indices where a[i] != b[i] {
              sum += (a[i] - b[i]) * w[i]
              magnitude += (Swift.abs(a[i]) + Swift.abs(b[i])) * Swift.abs(w[i])
            }
            return (sum, magnitude)
          }
        }
      }
    }

    var tensors: [TensorReport] = []
    let numericInput = try numericGradient(at: input, relativeStep: relativeStep) { x in
      try layer.forward(x)
    } difference: { differenceOfObjective($0, $1) }
    tensors.append(compare("input", analyticInput, numericInput.gradient, floor: floor, noise: numericInput.noise))

    for (k, (index, p)) in trainable.enumerated() {
      let original = p.value
      defer { p.value.copy(from: original) }
      let numeric = try numericGradient(at: original, relativeStep: relativeStep) { value in
        p.value.copy(from: value)
        return try layer.forward(input)
      } difference: { differenceOfObjective($0, $1) }
      tensors.append(compare(labels[index], analyticParameters[k], numeric.gradient, floor: floor, noise: numeric.noise))
    }
    // Leave the layer as it was: parameters restored (by the defers) and their gradients
    // holding the analytic values at the original point.
    for (k, (_, p)) in trainable.enumerated() { p.gradient.copy(from: analyticParameters[k]) }
    return Report(tensors: tensors)
  }

  // MARK: - Losses

  /// Compares a Double loss's analytic gradient dL/d(predicted) from
  /// ``Loss/lossAndGradient(predicted:target:gradient:)`` with central differences of
  /// ``Loss/loss(predicted:target:)``.
  ///
  /// - Parameters:
  ///   - loss: the loss, with `Element == Double`.
  ///   - predicted: the point to check at.
  ///   - target: fixed targets (labels for ``SoftmaxCrossEntropy``).
  ///   - relativeStep: h / max(|w|, 0.1), as in ``check(layer:input:seed:relativeStep:floor:)``.
  ///   - floor: the smallest denominator of the relative error.
  /// - Throws: the loss's errors, and invalid steps or floors.
  public static func check<L: Loss>(
    loss: L, predicted: Matrix<Double>, target: Matrix<Double>, relativeStep: Double = 1e-6,
    floor: Double = 1e-10
  ) throws -> Report where L.Element == Double {
    try validate(relativeStep: relativeStep, floor: floor)
    var analytic = Matrix<Double>()
    _ = try loss.lossAndGradient(predicted: predicted, target: target, gradient: &analytic)
    let numeric = try numericGradient(at: predicted, relativeStep: relativeStep) { z in
      try Matrix(rows: 1, columns: 1, repeating: try loss.loss(predicted: z, target: target))
    } difference: { ($0[0, 0] - $1[0, 0], Swift.abs($0[0, 0]) + Swift.abs($1[0, 0])) }
    return Report(tensors: [compare("predicted", analytic, numeric.gradient, floor: floor, noise: numeric.noise)])
  }

  // MARK: - Float against Double

  /// Compares a Float layer's output and analytic gradients with those of the same layer
  /// configuration in Double, at the same point.
  ///
  /// `reference` must be built like `layer` with `Element == Double` (check it first with
  /// ``check(layer:input:seed:relativeStep:floor:)``). Its parameters are overwritten with
  /// `layer`'s values, converted exactly, so both compute at one point; the input and R are
  /// Float values, also exact in Double. The report has "output", "input" and one entry per
  /// trainable parameter. Because a Float result may cancel to nearly 0, each tensor's
  /// floor is `floorFraction` times its largest reference magnitude: an element that is
  /// tiny next to the rest of its tensor is judged by absolute error at that scale.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` if the parameter
  ///   lists differ in length or shape; ``BumpKitError/invalidArgument(name:value:reason:)``
  ///   if they differ in which parameters are trainable; the layers' errors.
  public static func compare<F: Layer, D: Layer>(
    _ layer: F, reference: D, input: Matrix<Float>, seed: UInt64 = 0, floorFraction: Double = 1e-3
  ) throws -> Report where F.Element == Float, D.Element == Double {
    let floatParameters = layer.parameters, doubleParameters = reference.parameters
    guard floatParameters.count == doubleParameters.count else {
      throw BumpKitError.invalidArgument(
        name: "GradientCheck.compare reference", value: "\(doubleParameters.count) parameters",
        reason: "must have as many parameters as the Float layer (\(floatParameters.count))")
    }
    for (k, (f, d)) in zip(floatParameters, doubleParameters).enumerated() {
      guard f.value.rows == d.value.rows && f.value.columns == d.value.columns else {
        throw BumpKitError.shapeMismatch(
          operation: "GradientCheck.compare: parameter \(k) (\(f.name))",
          expected: MatrixShape(of: f.value), actual: MatrixShape(of: d.value))
      }
      guard f.isTrainable == d.isTrainable else {
        throw BumpKitError.invalidArgument(
          name: "reference", value: "parameter \(k) (\(d.name))",
          reason: "is \(d.isTrainable ? "" : "not ")trainable, unlike the Float layer's")
      }
      try d.assign(Matrix<Double>(converting: f.value))
    }
    let outputFloat = try layer.forward(input)
    let outputDouble = try reference.forward(Matrix<Double>(converting: input))
    let rFloat = Matrix<Float>(
      converting: randomMatrix(rows: outputFloat.rows, columns: outputFloat.columns, seed: seed))
    for p in floatParameters where p.isTrainable { p.zeroGradient() }
    for p in doubleParameters where p.isTrainable { p.zeroGradient() }
    let dxFloat = try layer.backward(rFloat)
    let dxDouble = try reference.backward(Matrix<Double>(converting: rFloat))
    defer {
      layer.releaseSavedState()
      reference.releaseSavedState()
    }
    let labels = parameterLabels(reference)
    func scaled(_ m: Matrix<Double>) -> Double {
      let largest = m.withUnsafeBufferPointer { $0.reduce(0.0) { Swift.max($0, Swift.abs($1)) } }
      return floorFraction * largest
    }
    var tensors = [
      compare("output", Matrix<Double>(converting: outputFloat), outputDouble, floor: scaled(outputDouble)),
      compare("input", Matrix<Double>(converting: dxFloat), dxDouble, floor: scaled(dxDouble)),
    ]
    for (k, (f, d)) in zip(floatParameters, doubleParameters).enumerated() where f.isTrainable {
      tensors.append(compare(labels[k], Matrix<Double>(converting: f.gradient), d.gradient, floor: scaled(d.gradient)))
    }
    return Report(tensors: tensors)
  }

  // MARK: - Helpers

  private static func validate(relativeStep: Double, floor: Double) throws {
    guard relativeStep.isFinite && relativeStep > 0 else {
      throw BumpKitError.invalidArgument(name: "relativeStep", value: "\(relativeStep)", reason: "must be finite and > 0")
    }
    guard floor >= 0 && floor.isFinite else {
      throw BumpKitError.invalidArgument(name: "floor", value: "\(floor)", reason: "must be finite and ≥ 0")
    }
  }

  /// Central differences of `evaluate` with respect to every element of `center`:
  /// `difference(f(w + h), f(w − h)).value / ((w + h) − (w − h))`, one element at a time,
  /// and beside each the bound δ on its rounding error, 8ε · magnitude / ((w + h) − (w − h)).
  private static func numericGradient(
    at center: Matrix<Double>, relativeStep: Double,
    evaluate: (Matrix<Double>) throws -> Matrix<Double>,
    difference: (Matrix<Double>, Matrix<Double>) -> (value: Double, magnitude: Double)
  ) throws -> (gradient: Matrix<Double>, noise: Matrix<Double>) {
    var point = center
    var gradient = try Matrix<Double>(rows: center.rows, columns: center.columns)
    var noise = gradient
    for i in 0..<center.count {
      let (row, column) = (i / center.columns, i % center.columns)
      let w = center[row, column]
      let h = relativeStep * Swift.max(Swift.abs(w), 0.1)
      let up = w + h, down = w - h
      point[row, column] = up
      let plus = try evaluate(point)
      point[row, column] = down
      let minus = try evaluate(point)
      point[row, column] = w
      let (value, magnitude) = difference(plus, minus)
      gradient[row, column] = value / (up - down)
      noise[row, column] = 8 * Double.ulpOfOne * magnitude / (up - down)
    }
    return (gradient, noise)
  }

  /// The element-wise comparison of `analytic` with `reference`; a difference within
  /// `noise` (element by element; none if empty) counts as none.
  private static func compare(
    _ name: String, _ analytic: Matrix<Double>, _ reference: Matrix<Double>, floor: Double,
    noise: Matrix<Double> = Matrix()
  ) -> TensorReport {
    var worst = (relative: 0.0, index: 0)
    var largestAbsolute = 0.0
    analytic.withUnsafeBufferPointer { a in
      reference.withUnsafeBufferPointer { n in
        noise.withUnsafeBufferPointer { delta in
          for i in a.indices {
            let difference = Swift.abs(a[i] - n[i])
            let excess = delta.isEmpty ? difference : difference - delta[i]
            let denominator = Swift.max(Swift.abs(a[i]), Swift.abs(n[i]), floor)
            // NaN stays NaN (a NaN difference has no excess to compare).
            let relative = difference.isNaN ? .nan : excess <= 0 ? 0 : excess / denominator
            if relative.isNaN {
              if !worst.relative.isNaN { worst = (relative, i) }
            } else if relative > worst.relative {
              worst = (relative, i)
            }
            if !largestAbsolute.isNaN && (difference.isNaN || difference > largestAbsolute) {
              largestAbsolute = difference
            }
          }
        }
      }
    }
    let (a, n) = analytic.count > 0
      ? analytic.withUnsafeBufferPointer { p in reference.withUnsafeBufferPointer { q in (p[worst.index], q[worst.index]) } }
      : (0, 0)
    return TensorReport(
      name: name, count: analytic.count, maxRelativeError: worst.relative,
      maxAbsoluteError: largestAbsolute, worstIndex: worst.index, analytic: a, reference: n)
  }

  /// Parameter names, prefixed inside a ``Sequential`` by the layer's position and kind.
  private static func parameterLabels<L: Layer>(_ layer: L) -> [String] {
    func labels(_ layer: any Layer<L.Element>, prefix: String) -> [String] {
      if let model = layer as? Sequential<L.Element> {
        return model.layers.enumerated().flatMap { i, sub in
          labels(sub, prefix: "\(prefix)\(i).\(sub.kindName).")
        }
      }
      return layer.parameters.map { prefix + $0.name }
    }
    return labels(layer, prefix: "")
  }

  private static func randomMatrix(rows: Int, columns: Int, seed: UInt64) -> Matrix<Double> {
    var generator = SeededGenerator(seed: seed)
    var m = Matrix<Double>(validRows: rows, columns: columns)
    m.withUnsafeMutableBufferPointer { p in
      for i in p.indices { p[i] = generator.nextNormal() }
    }
    return m
  }
}
