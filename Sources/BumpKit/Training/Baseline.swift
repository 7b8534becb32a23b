import RealModule

/// The scores of the constant predictors that any trained model has to beat, and the
/// coefficient of determination R².
///
/// A constant predictor ignores the inputs: for regression it predicts the mean of the
/// training targets, for classification the most frequent training class. A model whose
/// validation score is no better than the constant's has learned nothing from the features
/// (a common sign of a target in natural units and too few epochs). Both constants are fitted
/// on the training part, as a model would be, and scored on whatever part is passed.
///
/// See also: ``Dataset/split(validationFraction:)``.
public enum Baseline {
  /// The mean squared error on `targets` of predicting every row as the column means of
  /// `trainingTargets`: (1 / (N·K)) · Σᵢⱼ (tᵢⱼ − t̄ⱼ)², the loss ``MeanSquaredError`` gives
  /// that constant. On the training part itself this is the (population) variance.
  ///
  /// The means and sums are taken in `Double`, each sum over the elements in row-major
  /// order, so the result is the same to the bit as that of the formula written as one loop
  /// over the elements (no tolerance: no sum is reordered).
  ///
  /// - Throws: ``BumpKitError/emptyBatch(operation:)`` if either matrix has no rows;
  ///   ``BumpKitError/shapeMismatch(operation:expected:actual:)`` if their column counts differ.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public static func meanPredictorMSE<Element: MatrixScalar>(
    trainingTargets: Matrix<Element>, targets: Matrix<Element>
  ) throws -> Double {
    try check(trainingTargets, targets, "Baseline.meanPredictorMSE")
    let means = columnMeans(trainingTargets)
    var sum = 0.0
    forEachElement(of: targets) { value, j in
      let d = value - means[j]
      sum += d * d
    }
    return sum / Double(targets.rows * targets.columns)
  }

  /// The accuracy on `labels` of always predicting the class that is most frequent in
  /// `trainingLabels` (the smallest class number among equally frequent ones).
  ///
  /// Labels are one column of class numbers 0, 1, …, as ``SoftmaxCrossEntropy`` and
  /// ``BinaryCrossEntropyWithLogits`` take them.
  ///
  /// - Throws: ``BumpKitError/emptyBatch(operation:)`` if either matrix has no rows;
  ///   ``BumpKitError/shapeMismatch(operation:expected:actual:)`` unless both have one column.
  public static func majorityClassAccuracy<Element: MatrixScalar>(
    trainingLabels: Matrix<Element>, labels: Matrix<Element>
  ) throws -> Double {
    let operation = "Baseline.majorityClassAccuracy"
    try check(trainingLabels, labels, operation)
    guard labels.columns == 1 else {
      throw BumpKitError.shapeMismatch(
        operation: "\(operation): labels, one class per row", expected: MatrixShape(rows: labels.rows, columns: 1),
        actual: MatrixShape(of: labels))
    }
    var counts: [Element: Int] = [:]
    trainingLabels.withUnsafeBufferPointer { for v in $0 { counts[v, default: 0] += 1 } }
    let majority = counts.max { a, b in a.value != b.value ? a.value < b.value : a.key > b.key }!.key
    var hits = 0
    labels.withUnsafeBufferPointer { for v in $0 where v == majority { hits += 1 } }
    return Double(hits) / Double(labels.rows)
  }

  /// The coefficient of determination of `predicted` for `targets`,
  ///
  ///     R² = 1 − Σᵢ (pᵢ − tᵢ)² / Σᵢ (tᵢ − t̄)²,
  ///
  /// with t̄ the mean of `targets` itself, per column and averaged over the columns
  /// (scikit-learn's `r2_score`). 1 is a perfect fit, 0 the score of predicting t̄, and it is
  /// negative for a model worse than that. A constant target column scores 1 if it is
  /// predicted exactly and 0 otherwise.
  ///
  /// - Throws: ``BumpKitError/emptyBatch(operation:)`` for no rows;
  ///   ``BumpKitError/shapeMismatch(operation:expected:actual:)`` unless both have one shape.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public static func rSquared<Element: MatrixScalar>(
    predicted: Matrix<Element>, targets: Matrix<Element>
  ) throws -> Double {
    let operation = "Baseline.rSquared"
    try check(predicted, targets, operation)
    guard predicted.rows == targets.rows else {
      throw BumpKitError.shapeMismatch(
        operation: "\(operation): predictions, one row per target", expected: MatrixShape(rows: targets.rows, columns: predicted.columns),
        actual: MatrixShape(of: predicted))
    }
    let columns = targets.columns
    let means = columnMeans(targets)
    var residual = [Double](repeating: 0, count: columns)
    var total = [Double](repeating: 0, count: columns)
    predicted.withUnsafeBufferPointer { p in
      var i = 0
      forEachElement(of: targets) { t, j in
        let e = Double(p[i]) - t
        let d = t - means[j]
        residual[j] += e * e
        total[j] += d * d
        i += 1
      }
    }
    var score = 0.0
    for j in 0..<columns {
      score += total[j] > 0 ? 1 - residual[j] / total[j] : (residual[j] == 0 ? 1 : 0)
    }
    return score / Double(columns)
  }

  /// The loss `loss` gives the best constant predictor, fitted and scored on `targets`, or
  /// nil for a loss other than the built-in ones: for ``MeanSquaredError`` the variance
  /// (``meanPredictorMSE(trainingTargets:targets:)``); for ``BinaryCrossEntropyWithLogits``
  /// the mean over the columns of the binary entropy of each column's mean target (the loss
  /// of the constant logit log(p / (1 − p))); for ``SoftmaxCrossEntropy`` the entropy of the
  /// class frequencies (the loss of the constant logits log pₖ). Natural logarithms, as the
  /// losses use.
  static func constantPredictorLoss<L: Loss>(_ loss: L, targets: Matrix<L.Element>) throws -> Double? {
    guard targets.rows > 0, targets.columns > 0 else { return nil }
    if loss is MeanSquaredError<L.Element> {
      return try meanPredictorMSE(trainingTargets: targets, targets: targets)
    }
    if loss is BinaryCrossEntropyWithLogits<L.Element> {
      var entropy = 0.0
      for p in columnMeans(targets) where p > 0 && p < 1 {
        entropy -= p * Double.log(p) + (1 - p) * Double.log(1 - p)
      }
      return entropy / Double(targets.columns)
    }
    if loss is SoftmaxCrossEntropy<L.Element> {
      var counts: [L.Element: Int] = [:]
      let c = targets.columns
      targets.withUnsafeBufferPointer { t in
        for r in 0..<targets.rows { counts[t[r * c], default: 0] += 1 }
      }
      let n = Double(targets.rows)
      // In the order of the classes: a dictionary's order changes from run to run.
      return counts.keys.sorted().reduce(0.0) { h, label in
        let p = Double(counts[label]!) / n
        return h - p * Double.log(p)
      }
    }
    return nil
  }

  private static func columnMeans<Element: MatrixScalar>(_ m: Matrix<Element>) -> [Double] {
    var means = [Double](repeating: 0, count: m.columns)
    forEachElement(of: m) { value, j in means[j] += value }
    return means.map { $0 / Double(m.rows) }
  }

  /// Calls `body` with each element of `m` in `Double` and its column, in row-major order:
  /// the column comes from the loops, not from a division of each element's offset.
  @inline(__always)
  private static func forEachElement<Element: MatrixScalar>(
    of m: Matrix<Element>, _ body: (Double, Int) -> Void
  ) {
    let columns = m.columns
    m.withUnsafeBufferPointer { p in
      var i = 0
      for _ in 0..<m.rows {
        for j in 0..<columns {
          body(Double(p[i]), j)
          i += 1
        }
      }
    }
  }

  private static func check<Element: MatrixScalar>(
    _ a: Matrix<Element>, _ b: Matrix<Element>, _ operation: String
  ) throws {
    guard a.rows > 0, b.rows > 0 else { throw BumpKitError.emptyBatch(operation: operation) }
    guard a.columns == b.columns else {
      throw BumpKitError.shapeMismatch(
        operation: operation, expected: MatrixShape(rows: b.rows, columns: a.columns),
        actual: MatrixShape(of: b))
    }
  }
}
