/// Samples and their targets, with the names of the columns they came from.
///
/// `x` is `count × features` and `y` is `count × targets`: for regression any number of
/// target columns, for ``LearningTask/classification(classes:)`` one column holding each
/// sample's class index 0, 1, …, K − 1 as a floating-point number. Both matrices hold only
/// finite values; the initialiser checks this and every other invariant, so a `Dataset` is
/// always ready to train on.
///
/// A dataset comes from a CSV file (``loadCSV(path:target:task:features:ignoring:classes:byteLimit:)``), from one of the seeded
/// generators (``rings(samples:noise:seed:)``, ``bumps(samples:noise:seed:)``,
/// ``regression(samples:features:noise:seed:)``), or from matrices you already have
/// (``init(x:y:featureNames:targetName:task:classNames:)``). ``shuffled(seed:)``,
/// ``split(validationFraction:)`` and ``standardized()`` prepare it for training.
public struct Dataset<Element: MatrixScalar>: Equatable, Sendable {
  /// The kind of target; see ``LearningTask``.
  public typealias Task = LearningTask

  /// The inputs, `count × featureNames.count`, one sample per row.
  public private(set) var x: Matrix<Element>

  /// The targets, `count × targets`; for classification `count × 1` class indices.
  public private(set) var y: Matrix<Element>

  /// The name of each column of ``x``, in order.
  public private(set) var featureNames: [String]

  /// The name of the target (for several target columns, the names joined by commas).
  public private(set) var targetName: String

  /// Whether the target is real-valued or a class index, and the number of classes.
  public private(set) var task: Task

  /// The name of each class, indexed by class number, when the labels were names (see
  /// ``loadCSV(path:target:task:features:ignoring:classes:byteLimit:)``) or the generator names them; `nil` when the classes
  /// are just their numbers, and for regression.
  public private(set) var classNames: [String]?

  /// The number of samples, the rows of ``x`` and ``y``.
  public var count: Int { x.rows }

  /// A dataset of the given samples and targets, checked.
  ///
  /// - Parameters:
  ///   - x: Inputs, one sample per row.
  ///   - y: Targets with as many rows as `x`; for classification one column of integer
  ///     class indices in `0..<classes`.
  ///   - featureNames: One name per column of `x`; `nil` names them `x0`, `x1`, ….
  ///   - targetName: The target's name.
  ///   - task: Regression, or classification with the number of classes K ≥ 1.
  ///   - classNames: For classification, optionally one name per class.
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` if the row counts, the
  ///   number of feature names or class names, or (for classification) the columns of `y`
  ///   disagree; ``BumpKitError/invalidArgument(name:value:reason:)`` for K < 1, or class names
  ///   given for regression; ``BumpKitError/nonFiniteData(what:row:column:value:)`` for NaN or an
  ///   infinity; ``BumpKitError/labelOutOfRange(row:label:classes:)`` for a label that is not an
  ///   integer in `0..<K`.
  public init(
    x: Matrix<Element>, y: Matrix<Element>, featureNames: [String]? = nil,
    targetName: String = "y", task: Task = .regression, classNames: [String]? = nil
  ) throws {
    let names = featureNames ?? (0..<x.columns).map { "x\($0)" }
    try Matrix.requireRows(x.rows, in: y, for: "Dataset: y, one row per sample of x")
    guard names.count == x.columns else {
      throw BumpKitError.invalidArgument(
        name: "Dataset feature names", value: "\(names.count) names", reason: "need one per column of x (\(x.columns))")
    }
    try Self.checkFinite(x, "x")
    try Self.checkFinite(y, "y")
    switch task {
    case .regression:
      guard classNames == nil else {
        throw BumpKitError.invalidArgument(
          name: "classNames", value: "\(classNames!.count) names",
          reason: "class names apply only to classification")
      }
    case .classification(let classes):
      guard classes >= 1 else {
        throw BumpKitError.invalidArgument(
          name: "classes", value: "\(classes)", reason: "a classification needs at least 1 class")
      }
      guard y.columns == 1 else {
        throw BumpKitError.shapeMismatch(
          operation: "Dataset: y, one class label per row", expected: MatrixShape(rows: y.rows, columns: 1),
          actual: MatrixShape(of: y))
      }
      if let classNames, classNames.count != classes {
        throw BumpKitError.invalidArgument(
          name: "Dataset class names", value: "\(classNames.count) names", reason: "need one per class (\(classes))")
      }
      for row in 0..<y.rows {
        let label = y[row, 0]
        guard isClassLabel(label, classes: classes) else {
          throw BumpKitError.labelOutOfRange(row: row, label: "\(label)", classes: classes)
        }
      }
    }
    self.x = x
    self.y = y
    self.featureNames = names
    self.targetName = targetName
    self.task = task
    self.classNames = classNames
  }

  /// A dataset whose invariants the caller has already established.
  init(
    unchecked x: Matrix<Element>, y: Matrix<Element>, featureNames: [String],
    targetName: String, task: Task, classNames: [String]?
  ) {
    self.x = x
    self.y = y
    self.featureNames = featureNames
    self.targetName = targetName
    self.task = task
    self.classNames = classNames
  }

  /// The same dataset with ``x`` replaced by `newX` of the same shape (used by
  /// standardisation, which keeps the values finite).
  func replacingX(_ newX: Matrix<Element>) -> Dataset {
    var copy = self
    copy.x = newX
    return copy
  }

  /// The same dataset with ``y`` replaced by `newY` of the same shape (used by target
  /// standardisation, which keeps the values finite).
  func replacingY(_ newY: Matrix<Element>) -> Dataset {
    var copy = self
    copy.y = newY
    return copy
  }

  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  private static func checkFinite(_ matrix: Matrix<Element>, _ name: String) throws {
    try matrix.withUnsafeBufferPointer { buffer in
      if let index = buffer.firstIndex(where: { !$0.isFinite }) {
        throw BumpKitError.nonFiniteData(
          what: name, row: index / matrix.columns, column: index % matrix.columns, value: "\(buffer[index])")
      }
    }
  }

  // MARK: - Reordering and splitting

  /// The samples in a random order determined by `seed`, each `x` row still paired with its
  /// `y` row.
  ///
  /// The permutation is a Fisher–Yates shuffle driven by ``SeededGenerator``: for i from
  /// n − 1 down to 1, row i is swapped with row j = ⌊g·(i + 1) / 2⁶⁴⌋, where g is the
  /// generator's next 64-bit output. The same seed gives the same order on every platform,
  /// for `Float` and `Double` alike.
  public func shuffled(seed: UInt64) -> Dataset {
    var order = Array(0..<count)
    var generator = SeededGenerator(seed: seed)
    var i = order.count - 1
    while i > 0 {
      let j = Int(generator.next().multipliedFullWidth(by: UInt64(i + 1)).high)
      order.swapAt(i, j)
      i -= 1
    }
    return selecting(rows: order)
  }

  /// The dataset cut in two, in the current row order: the first rows for training, the
  /// last ones for validation.
  ///
  /// The validation part has round(`validationFraction`·``count``) rows (rounding halves
  /// away from zero), the rule ``Validation/split(_:)`` uses in training. Nothing is
  /// shuffled here: call ``shuffled(seed:)`` first unless the rows are already in random
  /// order (the generated datasets are).
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` unless
  ///   0 < `validationFraction` < 1 and both parts get at least one row.
  public func split(validationFraction: Double) throws -> (training: Dataset, validation: Dataset) {
    guard validationFraction > 0, validationFraction < 1 else {
      throw BumpKitError.invalidArgument(
        name: "validation fraction", value: "\(validationFraction)", reason: "must be in (0, 1)")
    }
    let held = Int((Double(count) * validationFraction).rounded())
    guard held >= 1, held < count else {
      throw BumpKitError.invalidArgument(
        name: "validation fraction", value: "\(validationFraction)",
        reason: "leaves \(held) of \(count) samples for validation; need at least one on each side")
    }
    let cut = count - held
    return (selecting(rows: Array(0..<cut)), selecting(rows: Array(cut..<count)))
  }

  /// The samples at `indices`, in that order (indices may repeat).
  ///
  /// - Precondition: every index is in `0..<count`.
  func selecting(rows indices: [Int]) -> Dataset {
    Dataset(
      unchecked: Self.gather(x, indices), y: Self.gather(y, indices),
      featureNames: featureNames, targetName: targetName, task: task, classNames: classNames)
  }

  private static func gather(_ source: Matrix<Element>, _ indices: [Int]) -> Matrix<Element> {
    let columns = source.columns
    var result = Matrix<Element>(validRows: indices.count, columns: columns)
    source.withUnsafeBufferPointer { from in
      result.withUnsafeMutableBufferPointer { to in
        for (k, row) in indices.enumerated() {
          precondition(row >= 0 && row < source.rows, "Dataset row index out of range")
          for j in 0..<columns { to[k * columns + j] = from[row * columns + j] }
        }
      }
    }
    return result
  }
}
