import Foundation

/// A per-feature affine map to zero mean and unit variance, x′ⱼ = (xⱼ − μⱼ) / sⱼ, fitted on
/// training data and applied unchanged to anything the model sees later.
///
/// μⱼ is the mean of column j and sⱼ its population standard deviation
/// √(Σᵢ (xᵢⱼ − μⱼ)² / n) (divided by n, not n − 1, as scikit-learn's `StandardScaler`); a
/// constant column gets sⱼ = 1, so it maps to 0 rather than to NaN. The statistics are
/// computed and stored in `Double` whatever the matrix precision, and are `Codable` so that
/// a checkpoint can carry them to prediction time:
///
///     let (train, scaling) = try dataset.standardized()
///     // … train, save `scaling` with the model …
///     let inputs = try scaling.apply(to: Dataset<Float>.loadCSVFeatures(
///       path: "new.csv", expectedFeatures: names).x)
///
/// See also: ``Dataset/standardized()``.
public struct Standardization: Hashable, Sendable, Codable {
  /// The mean μⱼ of each feature.
  public let mean: [Double]

  /// The scale sⱼ of each feature: its population standard deviation, or 1 for a constant
  /// feature. Always finite and positive.
  public let standardDeviation: [Double]

  /// The number of features the map applies to.
  public var features: Int { mean.count }

  /// A standardisation with known statistics, e.g. read back from a checkpoint.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` if the arrays differ in
  ///   length; ``BumpKitError/invalidArgument(name:value:reason:)`` for a non-finite mean or a
  ///   scale that is not finite and positive.
  public init(mean: [Double], standardDeviation: [Double]) throws {
    guard mean.count == standardDeviation.count else {
      throw BumpKitError.invalidArgument(
        name: "Standardization standard deviations", value: "\(standardDeviation.count) values",
        reason: "need one per mean (\(mean.count))")
    }
    if let j = mean.firstIndex(where: { !$0.isFinite }) {
      throw BumpKitError.invalidArgument(
        name: "mean[\(j)]", value: "\(mean[j])", reason: "must be finite")
    }
    if let j = standardDeviation.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
      throw BumpKitError.invalidArgument(
        name: "standardDeviation[\(j)]", value: "\(standardDeviation[j])",
        reason: "must be finite and > 0")
    }
    self.mean = mean
    self.standardDeviation = standardDeviation
  }

  private enum CodingKeys: String, CodingKey { case mean, standardDeviation }

  /// Decodes a standardisation (from a checkpoint's metadata, say) and checks it as
  /// ``init(mean:standardDeviation:)`` does, so that a decoded value keeps the promise of
  /// finite means and finite, positive scales.
  ///
  /// - Throws: the decoder's errors; the errors of ``init(mean:standardDeviation:)``.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    try self.init(
      mean: try container.decode([Double].self, forKey: .mean),
      standardDeviation: try container.decode([Double].self, forKey: .standardDeviation))
  }

  /// The statistics of the columns of `x`.
  ///
  /// Three passes per column in `Double`: a running mean (which cannot overflow for finite
  /// inputs), the largest deviation m, and s = m·√(Σ((x − μ)/m)² / n), so that squares of
  /// large values do not overflow either. Each column's sums run over the rows in order, so
  /// the result does not depend on how the columns are shared among the processors (a large
  /// matrix's are, in groups).
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` if `x` has no rows;
  ///   ``BumpKitError/nonFiniteData(what:row:column:value:)`` if it holds NaN or an infinity
  ///   (the first in row-major order).
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public init<Element: MatrixScalar>(fitting x: Matrix<Element>) throws {
    guard x.rows > 0 else {
      throw BumpKitError.invalidArgument(
        name: "samples", value: "0", reason: "cannot standardise a dataset with no samples")
    }
    let rows = x.rows
    let columns = x.columns
    var means = [Double](repeating: 0, count: columns)
    var largest = [Double](repeating: 0, count: columns)
    var sums = [Double](repeating: 0, count: columns)
    var scales = [Double](repeating: 1, count: columns)
    try x.withUnsafeBufferPointer { buffer in
      if let bad = Self.firstNonFinite(buffer) {
        throw BumpKitError.nonFiniteData(
          what: "x", row: bad / columns, column: bad % columns, value: "\(Double(buffer[bad]))")
      }
      means.withUnsafeMutableBufferPointer { mu in
        largest.withUnsafeMutableBufferPointer { m in
          sums.withUnsafeMutableBufferPointer { sum in
            let shared = UnsafeStatistics(
              x: buffer.baseAddress!, mu: mu.baseAddress!, m: m.baseAddress!, sum: sum.baseAddress!)
            let groups = Self.columnGroups(rows: rows, columns: columns)
            let perGroup = (columns + groups - 1) / max(groups, 1)
            RowTasks.run(rows: columns, rowsPerTask: max(perGroup, 1), threads: groups) { _, range, _ in
              Self.fitColumns(range, rows: rows, columns: columns, shared)
            }
          }
        }
      }
    }
    for j in 0..<columns where largest[j] > 0 {
      let s = largest[j] * (sums[j] / Double(rows)).squareRoot()
      if s > 0 && s.isFinite { scales[j] = s }
    }
    self.mean = means
    self.standardDeviation = scales
  }

  /// The column groups (threads) for fitting a `rows × columns` matrix: 2 from 2¹⁸ elements
  /// on a machine with 2 processors or more, else 1.
  private static func columnGroups(rows: Int, columns: Int) -> Int {
    rows * columns >= 1 << 18 && columns >= 2 && ProcessInfo.processInfo.activeProcessorCount >= 2 ? 2 : 1
  }

  /// The offset of the first element of `buffer` that is NaN or infinite, if any.
  private static func firstNonFinite<Element: MatrixScalar>(_ buffer: UnsafeBufferPointer<Element>) -> Int? {
    // Counted a block at a time (a loop without an early exit), then found.
    let block = 4096
    var start = 0
    while start < buffer.count {
      let end = min(start + block, buffer.count)
      var bad = 0
      for i in start..<end { bad &+= buffer[i].isFinite ? 0 : 1 }
      if bad > 0 { return (start..<end).first { !buffer[$0].isFinite } }
      start = end
    }
    return nil
  }

  /// The three passes over the columns `range` of the row-major `rows × columns` matrix.
  private static func fitColumns<Element: MatrixScalar>(
    _ range: Range<Int>, rows: Int, columns: Int, _ shared: UnsafeStatistics<Element>
  ) {
    let (x, mu, m, sum) = (shared.x, shared.mu, shared.m, shared.sum!)
    for i in 0..<rows {
      let weight = Double(i + 1)
      let row = x + i * columns
      for j in range {
        // x − μ overflows only for values of opposite signs near the largest Double; the
        // two quotients then keep the mean finite.
        let difference = Double(row[j]) - mu[j]
        mu[j] += difference.isFinite ? difference / weight : Double(row[j]) / weight - mu[j] / weight
      }
    }
    for i in 0..<rows {
      let row = x + i * columns
      for j in range { m[j] = max(m[j], abs(Double(row[j]) - mu[j])) }
    }
    for i in 0..<rows {
      let row = x + i * columns
      for j in range where m[j] > 0 {
        let scaled = (Double(row[j]) - mu[j]) / m[j]
        sum[j] += scaled * scaled
      }
    }
  }

  /// `x` with each column j mapped to (xⱼ − μⱼ) / sⱼ, computed in `Double` and rounded once
  /// to `Element`. A value whose image leaves `Element`'s range (a standard deviation far
  /// below the column's spread) becomes ±∞; the ``apply(to:)->Dataset<Element>`` form
  /// refuses it instead.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` if `x` does not have
  ///   ``features`` columns.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public func apply<Element: MatrixScalar>(to x: Matrix<Element>) throws -> Matrix<Element> {
    var result = x
    try apply(toInPlace: &result)
    return result
  }

  /// Maps each column j of `x` to (xⱼ − μⱼ) / sⱼ in place, as ``apply(to:)->Matrix<Element>``
  /// does, without a copy of `x`.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` if `x` does not have
  ///   ``features`` columns; `x` is then unchanged.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public func apply<Element: MatrixScalar>(toInPlace x: inout Matrix<Element>) throws {
    try checkColumns(x.columns)
    let columns = x.columns
    let rows = x.rows
    let threads = rows * columns >= 1 << 18 ? ProcessInfo.processInfo.activeProcessorCount : 1
    mean.withUnsafeBufferPointer { mean in
      standardDeviation.withUnsafeBufferPointer { deviation in
        x.withUnsafeMutableBufferPointer { buffer in
          // Element by element: any split of the rows gives the same result.
          let shared = UnsafeStatistics(
            x: buffer.baseAddress!, mu: UnsafeMutablePointer(mutating: mean.baseAddress!),
            m: UnsafeMutablePointer(mutating: deviation.baseAddress!), sum: nil)
          RowTasks.run(rows: rows, rowsPerTask: RowTasks.rowsPerTask(rows: rows, columns: columns), threads: threads) {
            _, range, _ in
            let (x, mean, deviation) = (shared.x, shared.mu, shared.m)
            for i in range {
              let row = x + i * columns
              for j in 0..<columns { row[j] = Element((Double(row[j]) - mean[j]) / deviation[j]) }
            }
          }
        }
      }
    }
  }

  /// `dataset` with its inputs standardised by the matrix form of `apply(to:)`; the targets
  /// are unchanged.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` if the dataset does not
  ///   have ``features`` features; ``BumpKitError/nonFiniteData(what:row:column:value:)`` for
  ///   an input whose standardized value leaves `Element`'s range (a dataset's values are
  ///   finite).
  public func apply<Element: MatrixScalar>(to dataset: Dataset<Element>) throws -> Dataset<Element> {
    let x = try apply(to: dataset.x)
    let columns = x.columns
    try x.withUnsafeBufferPointer { values in
      if let i = Self.firstNonFinite(values) {
        throw BumpKitError.nonFiniteData(
          what: "standardized inputs (mean \(mean[i % columns]), standard deviation \(standardDeviation[i % columns]))",
          row: i / columns, column: i % columns, value: "\(values[i])")
      }
    }
    return dataset.replacingX(x)
  }

  /// The inverse map, xⱼ = x′ⱼ·sⱼ + μⱼ: turns standardised inputs back into original units
  /// (e.g. for the axes of a plot).
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` if `x` does not have
  ///   ``features`` columns.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public func invert<Element: MatrixScalar>(_ x: Matrix<Element>) throws -> Matrix<Element> {
    try checkColumns(x.columns)
    var result = x
    let columns = x.columns
    result.withUnsafeMutableBufferPointer { buffer in
      for index in buffer.indices {
        let j = index % columns
        buffer[index] = Element(Double(buffer[index]) * standardDeviation[j] + mean[j])
      }
    }
    return result
  }

  private func checkColumns(_ columns: Int) throws {
    guard columns == features else {
      throw BumpKitError.shapeMismatch(
        operation: "Standardization", expected: MatrixShape(rows: nil, columns: features),
        actual: MatrixShape(rows: nil, columns: columns))
    }
  }
}

extension Dataset {
  /// The dataset with every feature standardised to zero mean and unit variance, and the
  /// ``Standardization`` that did it, to apply unchanged to validation data and to inputs at
  /// prediction time. Targets are not changed.
  ///
  /// Fit on the training part only (after ``split(validationFraction:)``), then apply the
  /// result to the validation part, so that no information leaks from validation into
  /// training.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` if the dataset is empty.
  public func standardized() throws -> (dataset: Dataset, standardization: Standardization) {
    let standardization = try Standardization(fitting: x)
    return (try standardization.apply(to: self), standardization)
  }
}

// MARK: - Regression targets

extension Dataset {
  /// The dataset with its regression targets standardised to zero mean and unit variance,
  /// column by column, and the ``Standardization`` that did it (its ``Standardization/features``
  /// is the number of target columns). Inputs are not changed.
  ///
  /// A model trained on standardised targets predicts in standardised units: map its
  /// predictions back with ``Standardization/invert(_:)``. Fitting a target in natural units
  /// (say 25–346) from weights initialised for unit scale takes an output bias of about 150,
  /// far more steps than a small data set gives at a usual learning rate; standardised, the
  /// same model starts at the right scale. As for the inputs, fit on the training part only
  /// and apply the result to the validation part with
  /// ``Standardization/applyToTargets(of:)``.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` if the dataset is empty or
  ///   its task is classification (class labels are not numbers to rescale).
  public func standardizedTargets() throws -> (dataset: Dataset, standardization: Standardization)
  {
    try Self.checkRegression(task)
    let standardization = try Standardization(fitting: y)
    return (try standardization.applyToTargets(of: self), standardization)
  }

  fileprivate static func checkRegression(_ task: Task) throws {
    if case .classification = task {
      throw BumpKitError.invalidArgument(
        name: "task", value: "classification",
        reason: "only regression targets can be standardised")
    }
  }
}

extension Standardization {
  /// `dataset` with its target matrix mapped as ``apply(to:)->Matrix<Element>`` maps
  /// inputs; the inputs are unchanged.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` unless the dataset has
  ///   ``features`` target columns; ``BumpKitError/invalidArgument(name:value:reason:)`` for a
  ///   classification dataset.
  public func applyToTargets<Element: MatrixScalar>(of dataset: Dataset<Element>) throws
    -> Dataset<Element>
  {
    try Dataset<Element>.checkRegression(dataset.task)
    return dataset.replacingY(try apply(to: dataset.y))
  }
}

/// The buffers the threads of ``Standardization/init(fitting:)`` and
/// ``Standardization/apply(toInPlace:)`` share: each writes only its own columns (or rows).
private struct UnsafeStatistics<Element: MatrixScalar>: @unchecked Sendable {
  let x: UnsafeMutablePointer<Element>
  let mu: UnsafeMutablePointer<Double>
  let m: UnsafeMutablePointer<Double>
  let sum: UnsafeMutablePointer<Double>!

  init(x: UnsafePointer<Element>, mu: UnsafeMutablePointer<Double>, m: UnsafeMutablePointer<Double>, sum: UnsafeMutablePointer<Double>?) {
    self.x = UnsafeMutablePointer(mutating: x)
    self.mu = mu
    self.m = m
    self.sum = sum
  }
}
