extension Matrix: Equatable {
  /// Two matrices are equal when they have the same shape and equal elements (IEEE
  /// comparison: a NaN element makes matrices unequal, and 0 = −0).
  public static func == (lhs: Matrix, rhs: Matrix) -> Bool {
    guard lhs.rows == rhs.rows, lhs.columns == rhs.columns else { return false }
    if lhs.storage === rhs.storage {
      return lhs.withUnsafeBufferPointer { !$0.contains { $0.isNaN } }
    }
    return lhs.withUnsafeBufferPointer { a in
      rhs.withUnsafeBufferPointer { b in a.elementsEqual(b) }
    }
  }
}

extension Matrix: CustomStringConvertible {
  /// A compact one-line rendering: the shape, then the rows, with `…` standing for rows and
  /// columns beyond the first few, e.g. `2×3 [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]`.
  public var description: String {
    let maxRows = 6
    let maxColumns = 8
    func renderRow(_ i: Int) -> String {
      var items = (0..<min(columns, maxColumns)).map { self[i, $0].description }
      if columns > maxColumns { items.append("…") }
      return "[" + items.joined(separator: ", ") + "]"
    }
    var renderedRows = (0..<min(rows, maxRows)).map(renderRow)
    if rows > maxRows { renderedRows.append("…") }
    return "\(rows)×\(columns) [" + renderedRows.joined(separator: ", ") + "]"
  }
}
