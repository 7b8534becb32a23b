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
  ///
  /// Logits with no columns (K = 0, which no model produces) name no class: the result is
  /// then empty, whatever the number of rows, rather than a trap.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public static func classes<Element: MatrixScalar>(logits: Matrix<Element>) -> [Int] {
    let k = logits.columns
    guard k > 0 else { return [] }
    return logits.withUnsafeBufferPointer { z in
      (0..<logits.rows).map { r in
        k == 1 ? (z[r] > 0 ? 1 : 0) : argmax(z, start: r * k, count: k)
      }
    }
  }

  /// The class probabilities of row `row` of `logits`: softmax of the row for K ≥ 2 logits,
  /// (1 − σ(z), σ(z)) for a single logit z. They sum to 1 up to rounding; a NaN logit makes
  /// every probability of its row NaN. Logits with no columns give no probabilities (an
  /// empty array).
  ///
  /// - Precondition: `row` is in `0..<logits.rows`, as for an array's subscript.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public static func probabilities<Element: MatrixScalar>(logits: Matrix<Element>, row: Int) -> [Double] {
    precondition(row >= 0 && row < logits.rows, "row \(row) is not a row of \(logits.rows)")
    let k = logits.columns
    guard k > 0 else { return [] }
    return logits.withUnsafeBufferPointer { z in
      if k == 1 {
        let p = logistic(Double(z[row]))
        return [1 - p, p]
      }
      return softmax(z, start: row * k, count: k)
    }
  }

  /// softmax(z[start..<start + count]): e^(zₖ − m) / Σⱼ e^(zⱼ − m) with m the maximum, in one
  /// array (the exponentials are computed into it, summed in order, then divided in place).
  ///
  /// Specialised for Float and Double: converting an unspecialised `MatrixScalar` to Double
  /// goes through the generic `BinaryFloatingPoint` conversion, which made 10⁴ classes cost
  /// far more than their exponentials.
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  static func softmax<T: MatrixScalar>(_ z: UnsafeBufferPointer<T>, start: Int, count: Int) -> [Double] {
    let m = rowMaximum(z, start: start, count: count)
    var p = [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
      for j in 0..<count { buffer[j] = Double.exp(Double(z[start + j]) - m) }
      initialized = count
    }
    var total = 0.0
    for e in p { total += e }
    for j in 0..<count { p[j] /= total }
    return p
  }

  // MARK: - Shared with the losses

  /// σ(z) = 1 / (1 + e⁻ᶻ), computed through e^−|z| so that no exponential overflows: exact
  /// 0 and 1 only where σ(z) rounds to them.
  static func logistic(_ z: Double) -> Double {
    let e = Double.exp(-Swift.abs(z))
    return z >= 0 ? 1 / (1 + e) : e / (1 + e)
  }

  /// The index in `0..<count` of the largest of `z[start..<start + count]`, the first on a tie.
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  static func argmax<T: MatrixScalar>(_ z: UnsafeBufferPointer<T>, start: Int, count: Int) -> Int {
    var best = 0
    for j in 1..<count where z[start + j] > z[start + best] { best = j }
    return best
  }

  /// The largest of `z[start..<start + count]` as a Double; NaN if any of them is NaN, so
  /// that a row with a NaN gives NaN probabilities and losses.
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  static func rowMaximum<T: MatrixScalar>(_ z: UnsafeBufferPointer<T>, start: Int, count: Int) -> Double {
    var m = Double(z[start])
    for k in 1..<count {
      let v = Double(z[start + k])
      if v > m || v.isNaN { m = v }
    }
    return m
  }
}
