/// The value of one bump parameter (σ, c or a) for a kernel call: one value shared by all
/// columns, or one value per column.
public enum BumpParameter<Scalar: KernelScalar> {
  /// One value for every column (shape [1]).
  case shared(Scalar)
  /// One value per column (shape [columns]); the buffer's count must equal the columns.
  case perUnit(UnsafeBufferPointer<Scalar>)

  /// Whether the parameter has one value per column.
  public var isPerUnit: Bool {
    if case .perUnit = self { return true }
    return false
  }

  @inlinable
  func value(at column: Int) -> Scalar {
    switch self {
    case .shared(let v): return v
    case .perUnit(let b): return b[column]
    }
  }
}

/// Where the backward pass writes one parameter's gradient, reduced over the rows: a buffer
/// of count 1 for a shared parameter, of count `columns` for a per-unit one.
public typealias GradientBuffer<Scalar> = UnsafeMutableBufferPointer<Scalar>
