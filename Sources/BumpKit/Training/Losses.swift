import RealModule

/// A training objective: a scalar L(predicted, target) averaged over a batch, and its
/// gradient with respect to the predictions.
///
/// Losses are small value types. They compute and accumulate in `Double` whatever the
/// element type, so the loss of a large `Float` batch does not drift; the gradient is
/// written in `Element`.
///
/// Conformances validate shapes and targets and throw ``BumpKitError`` with the offending
/// shape, row or label. A NaN prediction is never turned into a number: it gives a NaN
/// loss (which a training loop reports as ``BumpKitError/nonFiniteLoss(epoch:batch:value:)``).
///
/// See also: ``MeanSquaredError``, ``BinaryCrossEntropyWithLogits``, ``SoftmaxCrossEntropy``,
/// ``GradientCheck/check(loss:predicted:target:relativeStep:floor:)``.
public protocol Loss<Element> {
  /// The scalar type of predictions, targets and gradients.
  associatedtype Element: MatrixScalar

  /// A short name for logs and reports, e.g. "mse".
  var name: String { get }

  /// The mean loss over the batch, and dL/d(predicted) written into `gradient`.
  ///
  /// `gradient` is resized to the shape of `predicted`; it does not allocate when its
  /// ``Matrix/capacity`` suffices and its buffer is not shared, so a training loop that
  /// keeps one gradient matrix allocates nothing here once warm. Every element is written.
  ///
  /// - Throws: ``BumpKitError/emptyBatch(operation:)`` for a batch without rows,
  ///   ``BumpKitError/shapeMismatch(operation:expected:actual:)`` naming both shapes, and the
  ///   target errors of each loss.
  func lossAndGradient(
    predicted: Matrix<Element>, target: Matrix<Element>, gradient: inout Matrix<Element>
  ) throws -> Double

  /// The mean loss over the batch, without a gradient.
  ///
  /// - Throws: the same errors as ``lossAndGradient(predicted:target:gradient:)``.
  func loss(predicted: Matrix<Element>, target: Matrix<Element>) throws -> Double

  /// Checks every target before training starts, so that a bad label stops `fit` before any
  /// step and names its row in the whole data set. `outputs` is the model's output width.
  func validateTargets(_ target: Matrix<Element>, outputs: Int) throws
}

// MARK: - Mean squared error

/// Mean squared error over all elements:
///
///     L = (1 / (N·K)) · Σᵢⱼ (pᵢⱼ − tᵢⱼ)²,      ∂L/∂pᵢⱼ = 2·(pᵢⱼ − tᵢⱼ) / (N·K)
///
/// for an `N × K` batch of predictions p and targets t of the same shape (Keras'
/// `mean_squared_error` and PyTorch's `MSELoss(reduction: "mean")`). The regression loss.
///
/// ``Loss/lossAndGradient(predicted:target:gradient:)`` gives the mean of (p − t)² over all
/// elements and writes 2·(p − t)/(N·K) into `gradient`; ``Loss/loss(predicted:target:)`` gives the
/// mean alone. Both throw ``BumpKitError/emptyBatch(operation:)``, and
/// ``BumpKitError/shapeMismatch(operation:expected:actual:)`` unless p and t have one shape.
public struct MeanSquaredError<Element: MatrixScalar>: Loss, Sendable {
  /// A mean squared error loss.
  public init() {}

  /// "mse".
  public var name: String { "mse" }
}

extension MeanSquaredError: KernelLoss {
  func validate(_ predicted: Matrix<Element>, _ target: Matrix<Element>) throws {
    try checkSameShape(predicted, target, "MeanSquaredError")
  }

  func kernel(for predicted: Matrix<Element>) -> SquaredErrorKernel { SquaredErrorKernel() }
}

struct SquaredErrorKernel: LossKernel {
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  func callAsFunction<T: MatrixScalar>(
    _ p: UnsafeBufferPointer<T>, _ t: UnsafeBufferPointer<T>, _ g: UnsafeMutableBufferPointer<T>?
  ) -> Double {
    let n = p.count
    let gradientScale = 2 / Double(n)
    var sum = 0.0
    for i in 0..<n {
      let d = Double(p[i]) - Double(t[i])
      sum += d * d
      if let g { g[i] = T(gradientScale * d) }
    }
    return sum / Double(n)
  }
}

// MARK: - Binary cross-entropy

/// Binary cross-entropy on logits, the loss for independent yes/no outputs:
///
///     ℓ(z, y) = −y·log σ(z) − (1 − y)·log(1 − σ(z))
///             = max(z, 0) − z·y + log1p(e^−|z|),        ∂ℓ/∂z = σ(z) − y,
///
/// averaged over all `N × K` elements, for logits z (the raw output of the last layer; do
/// not apply a sigmoid first) and targets y ∈ [0, 1] of the same shape. The second form
/// is the one computed: it never overflows and never takes the log of 0, so logits of ±1000
/// give exact finite losses (0, or 1000 for a wrong sign), where log(sigmoid(z)) would give
/// −∞ or NaN. This is TensorFlow's `sigmoid_cross_entropy_with_logits` and PyTorch's
/// `BCEWithLogitsLoss`. σ(z) in the gradient is evaluated as 1/(1 + e^−z) or e^z/(1 + e^z),
/// whichever does not overflow.
///
/// ``Loss/lossAndGradient(predicted:target:gradient:)`` gives the mean cross-entropy over all
/// elements and writes (σ(z) − y)/(N·K) into `gradient`; ``Loss/loss(predicted:target:)`` gives the
/// mean alone. Both throw ``BumpKitError/emptyBatch(operation:)``,
/// ``BumpKitError/shapeMismatch(operation:expected:actual:)`` unless z and y have one shape, and
/// ``BumpKitError/invalidArgument(name:value:reason:)`` naming the row and column of a target
/// outside [0, 1] (NaN included).
public struct BinaryCrossEntropyWithLogits<Element: MatrixScalar>: Loss, Sendable {
  /// A binary cross-entropy loss on logits.
  public init() {}

  /// "binary-crossentropy".
  public var name: String { "binary-crossentropy" }
}

extension BinaryCrossEntropyWithLogits: KernelLoss {
  func kernel(for predicted: Matrix<Element>) -> BinaryCrossEntropyKernel { BinaryCrossEntropyKernel() }

  func validate(_ predicted: Matrix<Element>, _ target: Matrix<Element>) throws {
    try checkSameShape(predicted, target, "BinaryCrossEntropyWithLogits")
    let columns = target.columns
    try target.withUnsafeBufferPointer { y in
      for i in y.indices where !(y[i] >= 0 && y[i] <= 1) {
        throw BumpKitError.invalidArgument(
          name: "target[\(i / columns), \(i % columns)]", value: "\(y[i])",
          reason: "binary cross-entropy targets must lie in [0, 1]")
      }
    }
  }
}

struct BinaryCrossEntropyKernel: LossKernel {
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  func callAsFunction<T: MatrixScalar>(
    _ z: UnsafeBufferPointer<T>, _ y: UnsafeBufferPointer<T>, _ g: UnsafeMutableBufferPointer<T>?
  ) -> Double {
    let n = z.count
    let inverseCount = 1 / Double(n)
    var sum = 0.0
    for i in 0..<n {
      let zi = Double(z[i]), yi = Double(y[i])
      let e = Double.exp(-Swift.abs(zi))  // in (0, 1]: no overflow for any z
      let positivePart = zi > 0 || zi.isNaN ? zi : 0  // max(z, 0), keeping NaN
      sum += positivePart - zi * yi + Double.log(onePlus: e)
      if let g { g[i] = T((Prediction.logistic(zi) - yi) * inverseCount) }
    }
    return sum * inverseCount
  }
}

// MARK: - Softmax cross-entropy

/// Softmax cross-entropy with integer class labels, the loss for one-of-K classification:
///
///     ℓᵢ = log Σₖ e^(zᵢₖ) − zᵢ,ᵧᵢ,        ∂ℓᵢ/∂zᵢₖ = softmax(zᵢ)ₖ − [k = yᵢ],
///
/// averaged over the N rows, for logits z (`N × K`, the raw output of the last layer; no
/// softmax layer before it) and labels y (`N × 1`, the class index 0..<K stored as a
/// floating-point integer). The log-sum-exp is shifted by the row maximum m,
/// log Σₖ e^(zₖ) = m + log Σₖ e^(zₖ − m), so every exponent is ≤ 0: logits of ±1000 give
/// exact finite losses and gradients. This is TensorFlow's
/// `sparse_softmax_cross_entropy_with_logits` and PyTorch's `CrossEntropyLoss`.
///
/// ``Loss/lossAndGradient(predicted:target:gradient:)`` gives the mean cross-entropy over the rows
/// and writes (softmax(z) − onehot(y))/N into `gradient`; ``Loss/loss(predicted:target:)`` gives the
/// mean alone. Both throw ``BumpKitError/emptyBatch(operation:)``;
/// ``BumpKitError/shapeMismatch(operation:expected:actual:)`` unless the labels are `N × 1` for
/// `N × K` logits; ``BumpKitError/labelOutOfRange(row:label:classes:)`` naming the first row
/// whose label is not an integer in 0..<K.
///
/// With label smoothing ε (``init(labelSmoothing:)``) the target of a row is the mixture
/// (1 − ε)·onehot(y) + ε/K instead of onehot(y):
///
///     ℓᵢ = log Σₖ e^(zᵢₖ) − (1 − ε)·zᵢ,ᵧᵢ − (ε/K)·Σₖ zᵢₖ,   ∂ℓᵢ/∂zᵢₖ = softmax(zᵢ)ₖ − (1 − ε)·[k = yᵢ] − ε/K
///
/// (PyTorch's `CrossEntropyLoss(label_smoothing: ε)`), which keeps the logits from growing
/// without bound on rows the model already classifies right.
public struct SoftmaxCrossEntropy<Element: MatrixScalar>: Loss, Sendable {
  /// The label smoothing ε in [0, 1): 0 (none) for ``init()``.
  public let labelSmoothing: Double

  /// A softmax cross-entropy loss over integer labels.
  public init() { labelSmoothing = 0 }

  /// A softmax cross-entropy loss over integer labels whose targets are smoothed towards the
  /// uniform distribution by `labelSmoothing`.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` unless `labelSmoothing`
  ///   is in [0, 1).
  public init(labelSmoothing: Double) throws {
    guard labelSmoothing >= 0, labelSmoothing < 1 else {
      throw BumpKitError.invalidArgument(
        name: "labelSmoothing", value: "\(labelSmoothing)", reason: "must be in [0, 1)")
    }
    self.labelSmoothing = labelSmoothing
  }

  /// "softmax-crossentropy".
  public var name: String { "softmax-crossentropy" }
}

extension SoftmaxCrossEntropy: KernelLoss {
  func kernel(for predicted: Matrix<Element>) -> SoftmaxCrossEntropyKernel {
    SoftmaxCrossEntropyKernel(classes: predicted.columns, smoothing: labelSmoothing)
  }

  func validate(_ predicted: Matrix<Element>, _ target: Matrix<Element>) throws {
    let operation = "SoftmaxCrossEntropy"
    guard predicted.rows > 0 else { throw BumpKitError.emptyBatch(operation: operation) }
    guard target.rows == predicted.rows, target.columns == 1 else {
      throw BumpKitError.shapeMismatch(
        operation: "\(operation): labels for logits \(MatrixShape(of: predicted))",
        expected: MatrixShape(rows: predicted.rows, columns: 1), actual: MatrixShape(of: target))
    }
    guard predicted.columns > 0 else {
      throw BumpKitError.invalidArgument(
        name: "\(operation) logits", value: "\(MatrixShape(of: predicted))", reason: "need at least one class column")
    }
    let classes = predicted.columns
    try target.withUnsafeBufferPointer { y in
      for row in y.indices {
        let label = y[row]
        guard isClassLabel(label, classes: classes) else {
          throw BumpKitError.labelOutOfRange(row: row, label: "\(label)", classes: classes)
        }
      }
    }
  }
}

extension Loss {
  /// No constraint on the targets beyond their shape (checked per batch).
  public func validateTargets(_ target: Matrix<Element>, outputs: Int) throws {}
}

extension MeanSquaredError {
  /// The targets must have one column per model output.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` naming the loss and
  ///   both column counts.
  public func validateTargets(_ target: Matrix<Element>, outputs: Int) throws {
    try checkTargetColumns(target, columns: outputs, loss: name, per: "model output")
  }
}

extension BinaryCrossEntropyWithLogits {
  /// The targets must have one column per model output (logit).
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` naming the loss and
  ///   both column counts.
  public func validateTargets(_ target: Matrix<Element>, outputs: Int) throws {
    try checkTargetColumns(target, columns: outputs, loss: name, per: "model output (logit)")
  }
}

extension SoftmaxCrossEntropy {
  /// The labels must be one column, and every label an integer in `0..<outputs`; the error
  /// names the first bad row.
  public func validateTargets(_ target: Matrix<Element>, outputs: Int) throws {
    guard target.columns == 1 else {
      throw BumpKitError.shapeMismatch(
        operation: "\(name): targets, one column of class labels 0..<\(outputs) for the model's \(outputs) outputs (logits), but they have \(target.columns) columns",
        expected: MatrixShape(rows: target.rows, columns: 1), actual: MatrixShape(of: target))
    }
    try target.withUnsafeBufferPointer { y in
      let c = target.columns
      for row in 0..<target.rows {
        let label = y[row * c]
        guard isClassLabel(label, classes: outputs) else {
          throw BumpKitError.labelOutOfRange(row: row, label: "\(label)", classes: outputs)
        }
      }
    }
  }
}

struct SoftmaxCrossEntropyKernel: LossKernel {
  let classes: Int
  /// The label smoothing ε (0: none).
  var smoothing = 0.0

  // `run` calls the kernel through the protocol, which reaches this generic body
  // unspecialised unless it is specialised here.
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  func callAsFunction<T: MatrixScalar>(
    _ z: UnsafeBufferPointer<T>, _ y: UnsafeBufferPointer<T>, _ g: UnsafeMutableBufferPointer<T>?
  ) -> Double {
    let rows = y.count
    let inverseRows = 1 / Double(rows)
    var sum = 0.0
    for r in 0..<rows {
      let base = r * classes
      // Any NaN in the row makes m NaN, so the row's loss and gradient are NaN.
      let m = Prediction.rowMaximum(z, start: base, count: classes)
      var total = 0.0
      for k in 0..<classes { total += Double.exp(Double(z[base + k]) - m) }
      let label = Int(y[r])
      let logSumExp = m + Double.log(total)
      if smoothing == 0 {
        sum += logSumExp - Double(z[base + label])
        if let g {
          let scale = inverseRows / total
          for k in 0..<classes {
            let p = Double.exp(Double(z[base + k]) - m) * scale
            g[base + k] = T(k == label ? p - inverseRows : p)
          }
        }
      } else {
        let spread = smoothing / Double(classes)
        var zSum = 0.0
        for k in 0..<classes { zSum += Double(z[base + k]) }
        sum += logSumExp - (1 - smoothing) * Double(z[base + label]) - spread * zSum
        if let g {
          let scale = inverseRows / total
          let hit = (1 - smoothing + spread) * inverseRows, other = spread * inverseRows
          for k in 0..<classes {
            let p = Double.exp(Double(z[base + k]) - m) * scale
            g[base + k] = T(p - (k == label ? hit : other))
          }
        }
      }
    }
    return sum * inverseRows
  }
}

// MARK: - Shared helpers

/// Throws unless `target` has `columns` columns, before training starts.
private func checkTargetColumns<E>(_ target: Matrix<E>, columns: Int, loss: String, per: String) throws {
  guard target.columns == columns else {
    throw BumpKitError.shapeMismatch(
      operation: "\(loss): targets, one column per \(per): the model has \(columns) outputs, the targets \(target.columns) columns",
      expected: MatrixShape(rows: target.rows, columns: columns), actual: MatrixShape(of: target))
  }
}

private func checkSameShape<E>(_ predicted: Matrix<E>, _ target: Matrix<E>, _ operation: String) throws {
  guard predicted.rows > 0 else { throw BumpKitError.emptyBatch(operation: operation) }
  guard target.rows == predicted.rows && target.columns == predicted.columns else {
    throw BumpKitError.shapeMismatch(
      operation: "\(operation): targets, shaped like the predictions", expected: MatrixShape(of: predicted),
      actual: MatrixShape(of: target))
  }
  guard predicted.columns > 0 else {
    throw BumpKitError.invalidArgument(
      name: "\(operation) predictions", value: "\(MatrixShape(of: predicted))", reason: "need at least one column")
  }
}

/// A built-in loss: its checks of a batch, then its kernel over the buffers. The public
/// methods of ``Loss`` are written once here for all of them.
protocol KernelLoss: Loss {
  associatedtype Kernel: LossKernel
  /// Throws unless `predicted` and `target` make a batch this loss can score.
  func validate(_ predicted: Matrix<Element>, _ target: Matrix<Element>) throws
  /// The kernel that scores a batch of `predicted`'s shape.
  func kernel(for predicted: Matrix<Element>) -> Kernel
}

extension KernelLoss {
  /// The mean loss over the batch, and dL/d(predicted) written into `gradient` (resized to
  /// the shape of `predicted`, without allocating when its capacity suffices).
  ///
  /// - Throws: the errors the loss type lists for a batch: an empty batch, mismatched shapes,
  ///   and the targets it refuses.
  public func lossAndGradient(
    predicted: Matrix<Element>, target: Matrix<Element>, gradient: inout Matrix<Element>
  ) throws -> Double {
    try validate(predicted, target)
    return run(kernel(for: predicted), predicted, target, gradient: &gradient)
  }

  /// The mean loss over the batch, without a gradient.
  ///
  /// - Throws: the same errors as ``lossAndGradient(predicted:target:gradient:)``.
  public func loss(predicted: Matrix<Element>, target: Matrix<Element>) throws -> Double {
    try validate(predicted, target)
    return run(kernel(for: predicted), predicted, target, nil)
  }
}

/// The inner loop of a loss, generic over the scalar type so that it is written once.
protocol LossKernel {
  /// The mean loss of `p` against `t`, with dL/dp written into `g` when it is not nil.
  func callAsFunction<T: MatrixScalar>(
    _ p: UnsafeBufferPointer<T>, _ t: UnsafeBufferPointer<T>, _ g: UnsafeMutableBufferPointer<T>?
  ) -> Double
}

/// Runs `kernel` on the buffers viewed as `Float` or `Double`, so that it is specialised:
/// a loop over an unspecialised `MatrixScalar` costs a witness call per operation.
private func run<E: MatrixScalar, K: LossKernel>(
  _ kernel: K, _ predicted: Matrix<E>, _ target: Matrix<E>, _ gradient: UnsafeMutableBufferPointer<E>?
) -> Double {
  predicted.withUnsafeBufferPointer { p in
    target.withUnsafeBufferPointer { t in
      if E.self == Float.self {
        return kernel(p.reinterpreted(as: Float.self), t.reinterpreted(as: Float.self), gradient?.reinterpreted(as: Float.self))
      } else if E.self == Double.self {
        return kernel(p.reinterpreted(as: Double.self), t.reinterpreted(as: Double.self), gradient?.reinterpreted(as: Double.self))
      }
      return kernel(p, t, gradient)
    }
  }
}

/// Resizes `gradient` to the shape of `predicted` (no allocation when it fits) and runs the
/// kernel with it.
private func run<E: MatrixScalar, K: LossKernel>(
  _ kernel: K, _ predicted: Matrix<E>, _ target: Matrix<E>, gradient: inout Matrix<E>
) -> Double {
  gradient.prepareForOverwrite(rows: predicted.rows, columns: predicted.columns)
  return gradient.withUnsafeMutableBufferPointer { g in run(kernel, predicted, target, g) }
}

/// Whether `label` is one of the classes 0, 1, …, `classes` − 1: an integer in that range
/// (NaN fails both comparisons; the rounding test rejects 1.5 and the like).
func isClassLabel<Element: MatrixScalar>(_ label: Element, classes: Int) -> Bool {
  label >= 0 && label < Element(classes) && label == label.rounded(.towardZero)
}
