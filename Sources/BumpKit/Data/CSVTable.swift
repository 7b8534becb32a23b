/// The cells of some columns of a CSV file, read column by column before any encoding:
/// numbers as numbers (missing cells as NaN), text as codes into a list of distinct texts.
///
/// A table is what the tabular front end of `bump` builds on: it decides how each column is
/// encoded (imputed, one-hot, class labels) only after the whole file, or the training part
/// of it, has been seen. ``CSVTableReader`` reads one, whole or in batches of rows.
package struct CSVTable<Element: MatrixScalar> {
  /// The path as given, or "standard input"; for messages.
  package var path: String
  /// Every name of the header, in file order.
  package var header: [String]
  /// The line the header is on.
  package var headerLine: Int
  /// The number of data rows.
  package var rows: Int
  /// The columns read, in the order they were requested.
  package var columns: [CSVColumn<Element>]

  package init(path: String, header: [String], headerLine: Int, rows: Int, columns: [CSVColumn<Element>]) {
    self.path = path
    self.header = header
    self.headerLine = headerLine
    self.rows = rows
    self.columns = columns
  }

  /// The column named `name`, if it was read.
  package func column(named name: String) -> CSVColumn<Element>? {
    columns.first { $0.name == name }
  }
}

/// How ``CSVTableReader`` reads a column.
package enum CSVColumnKind: Equatable, Sendable {
  /// Numbers, unless the column turns out to hold text: a column whose non-missing cells are
  /// mostly (more than half, and at least 2) not numbers is read as ``texts``; otherwise each
  /// cell that is not a number is a problem (see ``CSVTableReader``).
  case automatic
  /// Numbers; every other non-missing cell is a problem.
  case numbers
  /// Texts, numbers included, as written (trimmed of surrounding spaces and tabs outside
  /// quotes).
  case texts
}

/// One column of a ``CSVTable``.
package struct CSVColumn<Element: MatrixScalar> {
  /// The cells of a column.
  package enum Cells {
    /// One number per row; NaN where the cell is missing.
    case numbers([Element])
    /// One code per row, an index into `texts`, the distinct texts in order of first
    /// appearance; ``CSVColumn/missingCode`` where the cell is missing.
    case texts(codes: [UInt32], texts: [String])
  }

  /// The code of a missing cell in a text column.
  package static var missingCode: UInt32 { .max }

  /// The header name.
  package var name: String
  /// The 0-based position in the header.
  package var position: Int
  /// The cells, one per row.
  package var cells: Cells
  /// The number of missing cells (see ``CSVTableReader/missingTokens``).
  package var missingCount: Int
  /// The lines of the first missing cells, at most ``CSVTableReader/lineListLimit``.
  package var missingLines: [Int]
  /// For a column read as ``CSVColumnKind/texts``: the line each text first appears on,
  /// one per text (so a message about a text can name its line); empty otherwise.
  package var textLines: [Int] = []

  package init(name: String, position: Int, cells: Cells, missingCount: Int = 0, missingLines: [Int] = []) {
    self.name = name
    self.position = position
    self.cells = cells
    self.missingCount = missingCount
    self.missingLines = missingLines
  }

  /// Whether the column was read as text.
  package var isText: Bool {
    if case .texts = cells { return true }
    return false
  }
}
