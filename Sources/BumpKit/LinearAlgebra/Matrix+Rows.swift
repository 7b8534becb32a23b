extension Matrix {
  /// Copies rows `range` of `self` into `destination`, resizing it to
  /// `range.count × columns` (without allocating when its capacity suffices and its buffer
  /// is not shared).
  ///
  /// The batching loops of training, prediction and evaluation use it to reuse one batch
  /// buffer.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` if `range` is not within
  ///   `0..<rows`.
  public func copyRows(_ range: Range<Int>, into destination: inout Matrix) throws {
    guard range.lowerBound >= 0 && range.upperBound <= rows else {
      throw BumpKitError.invalidArgument(
        // In words; an upper bound of Int.min is an empty range, so `upperBound − 1` cannot overflow.
        name: "rows",
        value: range.isEmpty ? "\(range.lowerBound) (an empty range)" : "\(range.lowerBound) to \(range.upperBound - 1)",
        reason: Self.rowRange(rows))
    }
    try destination.resize(rows: range.count, columns: columns)
    let c = columns
    withUnsafeBufferPointer { src in
      destination.withUnsafeMutableBufferPointer { dst in
        _ = dst.update(fromContentsOf: UnsafeBufferPointer(rebasing: src[(range.lowerBound * c)..<(range.upperBound * c)]))
      }
    }
  }

  /// A copy with a buffer of its own, shared with no other matrix: mutating either never
  /// copies the other (unlike plain assignment, which shares the buffer until a write).
  ///
  /// Early stopping keeps the best weights this way, so that the next optimizer step does
  /// not pay for a copy-on-write.
  public func copied() -> Matrix {
    var m = Matrix(validRows: rows, columns: columns)
    m.copy(from: self)
    return m
  }
}

extension Matrix {
  /// Throws ``BumpKitError/shapeMismatch(operation:expected:actual:)`` unless `other` has
  /// `rows` rows, one per row of the operand it goes with (targets for samples, right-hand
  /// sides for a system); its columns may be any number.
  static func requireRows(_ rows: Int, in other: Matrix, for operation: String) throws(BumpKitError) {
    guard other.rows == rows else {
      throw .shapeMismatch(
        operation: operation, expected: MatrixShape(rows: rows, columns: nil), actual: MatrixShape(of: other))
    }
  }
}
