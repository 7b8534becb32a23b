import RealModule

/// Classes and class probabilities from a classifier's outputs (logits), with the rules the
/// classification losses train for.
///
/// A model with one output is a binary classifier trained with
/// ``BinaryCrossEntropyWithLogits``: its logit z gives P(class 1) = σ(z) = 1 / (1 + e⁻ᶻ) and
/// class 1 when z > 0. A model with K ≥ 2 outputs is trained with ``SoftmaxCrossEntropy``:
/// row z gives P(class k) = softmax(z)ₖ = e^(zₖ − m) / Σⱼ e^(zⱼ − m), with m the row maximum
/// (so no exponential overflows), and the class of the largest logit (the first one on a
/// tie). ``Sequential/accuracy(x:y:batchSize:)`` counts with the same rule.
///
/// See also: ``BinaryCrossEntropyWithLogits``, ``SoftmaxCrossEntropy``.
public enum Prediction {
  /// The predicted class of each row of `logits` (`N × K`): the arg-max of the row for
  /// K ≥ 2 (the first of equal maxima), 1 if the single logit is > 0 and 0 otherwise for
  /// K = 1. A row holding NaN gives the class of the largest non-NaN logit before it.
  public static func classes<Element: MatrixScalar>(logits: Matrix<Element>) -> [Int] {
    let k = logits.columns
    return logits.withUnsafeBufferPointer { z in
      (0..<logits.rows).map { r in
        k == 1 ? (z[r] > 0 ? 1 : 0) : argmax(z, start: r * k, count: k)
      }
    }
  }

  /// The class probabilities of row `row` of `logits`: softmax of the row for K ≥ 2 logits,
  /// (1 − σ(z), σ(z)) for a single logit z. They sum to 1 up to rounding; a NaN logit makes
  /// every probability of its row NaN.
  ///
  /// - Precondition: `row` is in `0..<logits.rows`.
  public static func probabilities<Element: MatrixScalar>(logits: Matrix<Element>, row: Int) -> [Double] {
    precondition(row >= 0 && row < logits.rows, "row \(row) outside 0..<\(logits.rows)")
    let k = logits.columns
    return logits.withUnsafeBufferPointer { z in
      if k == 1 {
        let p = logistic(Double(z[row]))
        return [1 - p, p]
      }
      let base = row * k
      let m = rowMaximum(z, start: base, count: k)
      let exps = (0..<k).map { Double.exp(Double(z[base + $0]) - m) }
      let total = exps.reduce(0, +)
      return exps.map { $0 / total }
    }
  }

  // MARK: - Shared with the losses

  /// σ(z) = 1 / (1 + e⁻ᶻ), computed through e^−|z| so that no exponential overflows: exact
  /// 0 and 1 only where σ(z) rounds to them.
  static func logistic(_ z: Double) -> Double {
    let e = Double.exp(-Swift.abs(z))
    return z >= 0 ? 1 / (1 + e) : e / (1 + e)
  }

  /// The index in `0..<count` of the largest of `z[start..<start + count]`, the first on a tie.
  static func argmax<T: MatrixScalar>(_ z: UnsafeBufferPointer<T>, start: Int, count: Int) -> Int {
    var best = 0
    for j in 1..<count where z[start + j] > z[start + best] { best = j }
    return best
  }

  /// The largest of `z[start..<start + count]` as a Double; NaN if any of them is NaN, so
  /// that a row with a NaN gives NaN probabilities and losses.
  static func rowMaximum<T: MatrixScalar>(_ z: UnsafeBufferPointer<T>, start: Int, count: Int) -> Double {
    var m = Double(z[start])
    for k in 1..<count {
      let v = Double(z[start + k])
      if v > m || v.isNaN { m = v }
    }
    return m
  }
}
