/// What a dataset's target is: a real-valued quantity, or one of K classes.
///
/// For ``classification(classes:)`` the target matrix `y` has one column holding the class
/// index 0, 1, …, K − 1 of each sample, stored as a floating-point number (the layout that
/// ``SoftmaxCrossEntropy`` expects).
///
/// Spelled `Dataset.Task` inside ``Dataset``; it is a top-level type so that Swift's
/// concurrency `Task` stays unshadowed and so that `Dataset<Float>` and `Dataset<Double>`
/// share one task type.
public enum LearningTask: Hashable, Sendable, Codable, CustomStringConvertible {
  /// Real-valued targets; `y` may have any number of columns.
  case regression

  /// Class labels in `0..<classes`, one column in `y`.
  case classification(classes: Int)

  /// The kind of task without the class count.
  public var kind: TaskKind {
    switch self {
    case .regression: return .regression
    case .classification: return .classification
    }
  }

  /// The number of classes K, or `nil` for regression.
  public var classes: Int? {
    if case .classification(let classes) = self { return classes }
    return nil
  }

  /// `regression` or `classification (K classes)`.
  public var description: String {
    switch self {
    case .regression: return "regression"
    case .classification(let classes): return "classification (\(classes) classes)"
    }
  }
}

/// The kind of task to read a CSV target column as, before the number of classes is known.
///
/// See also: ``Dataset/loadCSV(path:target:task:features:ignoring:classes:byteLimit:)``, ``LearningTask``.
public enum TaskKind: String, Hashable, Sendable, Codable, CaseIterable {
  /// Read the target as real numbers.
  case regression

  /// Read the target as class labels: all non-negative integers, or all names.
  case classification
}
