/// The shape of a matrix, or of the matrices an operation accepts: `rows × columns`, where
/// nil stands for any count (shown as `n`).
public struct MatrixShape: Hashable, Sendable, CustomStringConvertible {
  /// The number of rows, or nil for any.
  public var rows: Int?
  /// The number of columns, or nil for any.
  public var columns: Int?

  /// A shape from its counts; nil for any.
  public init(rows: Int?, columns: Int?) {
    self.rows = rows
    self.columns = columns
  }

  /// The shape of `matrix`.
  public init<Element>(of matrix: Matrix<Element>) {
    self.init(rows: matrix.rows, columns: matrix.columns)
  }

  /// `rows×columns`, e.g. `128×16`, or `n×16` for any number of rows.
  public var description: String {
    "\(rows.map(String.init) ?? "n")×\(columns.map(String.init) ?? "n")"
  }
}
