extension Matrix: ExpressibleByArrayLiteral {
  /// A matrix written as a literal, one array per row: `let m: Matrix<Float> = [[1, 2], [3, 4]]`.
  ///
  /// `[]` is the 0 × 0 matrix. For rows that come from data, use the throwing
  /// `init(_:)` that takes `[[Element]]` instead, which reports rows of different lengths as an error.
  ///
  /// - Precondition: every row has the same number of elements (a literal is part of the
  ///   program, so a ragged one is a programming error and stops it, naming the row).
  public init(arrayLiteral rowsOfElements: [Element]...) {
    let columns = rowsOfElements.first?.count ?? 0
    if let bad = rowsOfElements.firstIndex(where: { $0.count != columns }) {
      preconditionFailure(
        "Matrix literal: row \(bad) has \(rowsOfElements[bad].count) elements, row 0 has \(columns)")
    }
    self.init(validRows: rowsOfElements.count, columns: columns)
    withUnsafeMutableBufferPointer { buffer in
      var offset = 0
      for row in rowsOfElements {
        for value in row {
          buffer[offset] = value
          offset += 1
        }
      }
    }
  }

  /// The matrix `source` with each element converted to `Element`: exact from Float to
  /// Double, rounded to nearest (ties to even) from Double to Float, where a magnitude
  /// beyond Float's range becomes ±infinity: `Matrix<Double>(converting: floatMatrix)`.
  ///
  /// The label keeps a literal argument from being read as a matrix of another type and
  /// converted: `try Matrix<Float>([[0.1]])` stays a Float literal.
  public init<Source: MatrixScalar>(converting source: Matrix<Source>) {
    self.init(validRows: source.rows, columns: source.columns)
    source.withUnsafeBufferPointer { from in
      withUnsafeMutableBufferPointer { to in
        for i in from.indices { to[i] = Element(from[i]) }
      }
    }
  }

  /// A zero matrix with the shape of `other`. It cannot fail: the shape is one a matrix
  /// already has.
  public static func zeros(like other: Matrix) -> Matrix {
    Matrix(validRows: other.rows, columns: other.columns)
  }

  /// The rows at `indices`, in that order (repeats allowed): row k of the result is row
  /// `indices[k]` of `self`. For a batch drawn from a shuffled index list, or a subset.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` naming the first index
  ///   outside `0..<rows`, before anything is copied, or for a result too large to allocate
  ///   (more indices than memory holds rows).
  public func rows(at indices: some Collection<Int>) throws -> Matrix {
    // First, so that a collection too long for memory is not walked to check its indices.
    var result = try Matrix(rows: indices.count, columns: columns)
    for (k, index) in indices.enumerated() where index < 0 || index >= rows {
      throw BumpKitError.invalidArgument(
        name: "row index", value: "\(index) (position \(k))",
        reason: Self.rowRange(rows))
    }
    let c = columns
    withUnsafeBufferPointer { source in
      result.withUnsafeMutableBufferPointer { destination in
        for (k, index) in indices.enumerated() {
          let from = UnsafeBufferPointer(rebasing: source[(index * c)..<((index + 1) * c)])
          _ = UnsafeMutableBufferPointer(rebasing: destination[(k * c)..<((k + 1) * c)]).update(fromContentsOf: from)
        }
      }
    }
    return result
  }
}
