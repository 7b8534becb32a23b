/// Errors from reading and writing data files: CSV syntax, encoding, columns, cells and the
/// memory a file would need. Shape, argument and value errors of in-memory data are
/// ``BumpKitError``s.
///
/// Every error about a file names the file, and every error about a cell also names the line
/// (1-based, counted in physical lines of the file, so the header is line 1 and a quoted field
/// that spans lines moves the following rows down) and the column by its header name. The
/// ``description`` reads like a compiler diagnostic:
///
///     data.csv: line 7, column "age": "n/a" is not a number
///
/// See also: ``Dataset/loadCSV(path:target:task:features:ignoring:classes:byteLimit:)``,
/// ``Dataset/loadCSVFeatures(path:expectedFeatures:ignoring:byteLimit:)``, ``CSVFile``.
public enum DataError: Error, Equatable, Sendable, CustomStringConvertible {
  /// No file exists at `path`.
  case fileNotFound(path: String)

  /// The file at `path` exists but could not be read (a directory, no permission, an I/O
  /// error); `reason` is the system's explanation.
  case unreadableFile(path: String, reason: String)

  /// The file is not valid UTF-8; `line` is the line holding the first invalid byte.
  case invalidEncoding(path: String, line: Int)

  /// The file is empty or holds only blank lines, so it has no header row.
  case emptyFile(path: String)

  /// The file has a header row (`columns`) but no data rows after it.
  case noDataRows(path: String, line: Int, columns: [String])

  /// The header cell at 1-based `position` is empty, so the column has no name.
  case emptyColumnName(path: String, line: Int, position: Int)

  /// Two or more header cells have the same name, at the 1-based `positions`.
  case duplicateColumn(path: String, line: Int, column: String, positions: [Int])

  /// A required column (the target, or a feature the model expects) is not in the header;
  /// `available` lists the columns the header does have.
  case missingColumn(path: String, line: Int, column: String, available: [String])

  /// The header holds only the target column, so there is nothing to learn from.
  case noFeatureColumns(path: String, line: Int, target: String)

  /// A row has `found` fields where the header has `expected`. `column` is the first column
  /// with no field (too few fields) or the last column (too many).
  case raggedRow(path: String, line: Int, column: String, expected: Int, found: Int)

  /// A cell is empty (or only spaces).
  case emptyCell(path: String, line: Int, column: String)

  /// A cell is not a number by Swift's strict `Double(String)` grammar.
  case notANumber(path: String, line: Int, column: String, text: String)

  /// A cell is not a number in a column that holds text (an id, a name): of the `cells`
  /// non-empty cells of the column read (those before it, it and up to 10 000 after it),
  /// `textCells` (more than half) are not numbers. The first of them is `text` on `line`.
  case textColumn(
    path: String, line: Int, column: String, text: String, textCells: Int, cells: Int)

  /// A cell spells NaN or an infinity (`nan`, `inf`, `-infinity`, …). Swift parses these as
  /// numbers, but no model can learn from them, so they are rejected.
  case nonFiniteNumber(path: String, line: Int, column: String, text: String)

  /// A cell is a finite number too large in magnitude for `type` (e.g. `1e39` as `Float`).
  case numberOutOfRange(path: String, line: Int, column: String, text: String, type: String)

  /// A numeric class label that is not a non-negative integer below 65 536; `reason` says
  /// which rule it breaks.
  case invalidLabel(path: String, line: Int, column: String, text: String, reason: String)

  /// A classification target mixes numeric labels and names: the label `text` on `line` is
  /// of a different kind from `firstText`, the label on `firstLine` (the first data row).
  case mixedLabels(
    path: String, line: Int, column: String, text: String, firstLine: Int, firstText: String)

  /// A NUL byte in the file: binary data, not text. `column` is nil in the header.
  case nulByte(path: String, line: Int, column: String?)

  /// A quoted field that begins on `line` is never closed: the file ends inside it.
  /// `column` is nil in the header.
  case unterminatedQuote(path: String, line: Int, column: String?)

  /// Something other than a comma or a line break follows a field's closing quote.
  case textAfterQuote(path: String, line: Int, column: String?)

  /// A field (or, with `column` nil, the header) longer than `limit` bytes.
  case fieldTooLong(path: String, line: Int, column: String?, limit: Int)

  /// A line of a text file read line by line (the numbers of `bump function`) is longer than
  /// `limit` bytes.
  case lineTooLong(path: String, line: Int, limit: Int)

  /// The values read by `line` would take more than `limit` bytes of memory: `rows` rows of
  /// `columns` numbers, `bytes` in all.
  case memoryLimitExceeded(path: String, line: Int, rows: Int, columns: Int, bytes: Int, limit: Int)

  /// Several cells of a file are unusable (not numbers, not finite, out of range): the first
  /// `problems` in file order, each naming its line and column, of `total` found in the
  /// whole file.
  case cellProblems(path: String, problems: [DataError], total: Int)

  /// A text column holds more than `limit` distinct texts by `line`: an id or free text,
  /// not categories.
  case tooManyCategories(path: String, line: Int, column: String, limit: Int)

  /// Writing `path` failed during `operation` (creating, writing, syncing or renaming the
  /// temporary file); `reason` is the system's explanation. The file at `path` is unchanged.
  case writeFailed(path: String, operation: String, reason: String)

  /// Writing straight to `path` (a device, FIFO or inherited descriptor, which are written in
  /// place, not replaced) failed; what was written before the failure is there, incomplete.
  case writeFailedInPlace(path: String, reason: String)

  /// Writing to standard output failed (a full disk, a closed pipe); `reason` is the
  /// system's message, such as "No space left on device".
  case standardOutputFailed(reason: String)

  /// A one-line explanation naming the file, line and column where they apply.
  public var description: String {
    switch self {
    case .fileNotFound(let path):
      return "\(shown(path)): no such file"
    case .unreadableFile(let path, let reason):
      return "\(shown(path)): cannot read the file: \(reason)"
    case .invalidEncoding(let path, let line):
      return "\(shown(path)): line \(line): the file is not valid UTF-8 text"
    case .emptyFile(let path):
      return "\(shown(path)): line 1: the file is empty; expected a header row naming the columns"
    case .noDataRows(let path, let line, let columns):
      return "\(shown(path)): line \(line): no data rows after the header (\(quotedNames(columns)))"
    case .emptyColumnName(let path, let line, let position):
      return "\(shown(path)): line \(line), column \(position): the header cell is empty; "
        + "every column needs a name"
    case .duplicateColumn(let path, let line, let column, let positions):
      let list = positions.map(String.init).joined(separator: ", ")
      return "\(cellLocation(path, line, column)): the name appears more than once in the header "
        + "(columns \(list))"
    case .missingColumn(let path, let line, let column, let available):
      return "\(cellLocation(path, line, column)): no such column in the header; "
        + "available columns: \(quotedNames(available.prefix(listedColumns)))"
        + (available.count > listedColumns ? " and \(available.count - listedColumns) more" : "")
        + missingColumnAdvice(column, available: available)
    case .noFeatureColumns(let path, let line, let target):
      return "\(cellLocation(path, line, target)): the target is the only column, "
        + "so there are no feature columns"
    case .raggedRow(let path, let line, let column, let expected, let found):
      let counts = "the row has \(found) fields but the header has \(expected)"
      let detail =
        found < expected
        ? "column \(MessageText.quoted(column)) and those after it are missing"
        : "there are extra fields after column \(MessageText.quoted(column))"
      return "\(cellLocation(path, line, column)): \(counts); \(detail)"
    case .emptyCell(let path, let line, let column):
      return "\(cellLocation(path, line, column)): the cell is empty"
    case .notANumber(let path, let line, let column, let text):
      return "\(cellLocation(path, line, column)): \(quotedExcerpt(text)) is not a number"
    case .textColumn(let path, let line, let column, let text, let textCells, let cells):
      let count =
        textCells == cells
        ? "none of the \(cells) cells read in the column is a number"
        : "\(textCells) of the \(cells) cells read in the column are not numbers"
      return "\(cellLocation(path, line, column)): \(quotedExcerpt(text)) is not a number; "
        + "\(count): it holds text"
    case .nonFiniteNumber(let path, let line, let column, let text):
      return "\(cellLocation(path, line, column)): \(quotedExcerpt(text)) is not finite; "
        + "NaN and infinite values are not allowed"
    case .numberOutOfRange(let path, let line, let column, let text, let type):
      return
        "\(cellLocation(path, line, column)): \(quotedExcerpt(text)) is too large in magnitude for \(type)"
    case .invalidLabel(let path, let line, let column, let text, let reason):
      return "\(cellLocation(path, line, column)): class label \(quotedExcerpt(text)) \(reason)"
    case .mixedLabels(let path, let line, let column, let text, let firstLine, let firstText):
      func kind(_ label: String) -> String { CSVLabelReader.number(label) == nil ? "a name" : "a number" }
      return
        "\(cellLocation(path, line, column)): class label \(quotedExcerpt(text)) is \(kind(text)) "
        + "but the label on line \(firstLine) (\(quotedExcerpt(firstText))) is \(kind(firstText)); "
        + "labels must be all non-negative integers or all names"
    case .nulByte(let path, let line, let column):
      return "\(location(path, line, column)): the text holds a NUL byte; "
        + "the file looks binary, not text"
    case .unterminatedQuote(let path, let line, let column):
      return "\(location(path, line, column)): unterminated quote: the quoted field that "
        + "begins here is never closed"
    case .textAfterQuote(let path, let line, let column):
      return "\(location(path, line, column)): unexpected text after a closing quote; "
        + "a quote inside a quoted field must be doubled (\"\")"
    case .fieldTooLong(let path, let line, let column, let limit):
      let what = column == nil ? "the header" : "the cell"
      return "\(location(path, line, column)): \(what) is longer than \(limit / 1024) KiB; "
        + "is this a CSV file?"
    case .lineTooLong(let path, let line, let limit):
      return "\(shown(path)): line \(line): the line is longer than \(limit / 1024) KiB; "
        + "expected one number per line"
    case .memoryLimitExceeded(let path, let line, let rows, let columns, let bytes, let limit):
      return "\(shown(path)): line \(line): the data needs more than the memory limit of "
        + "\(byteText(limit)) (\(rows) rows of \(columns) numbers read so far: "
        + "\(byteText(bytes)))"
    case .cellProblems(let path, let problems, let total):
      var text = "\(shown(path)): \(total) unusable cell\(total == 1 ? "" : "s"):"
      for problem in problems { text += "\n  \(problem)" }
      if total > problems.count { text += "\n  … and \(total - problems.count) more" }
      return text
    case .tooManyCategories(let path, let line, let column, let limit):
      return "\(cellLocation(path, line, column)): the column holds more than \(limit) distinct "
        + "texts: an id or free text, not categories"
    case .writeFailed(let path, let operation, let reason):
      return "\(path): cannot \(operation): \(reason); the file was not changed"
    case .writeFailedInPlace(let path, let reason):
      return "\(path): cannot write: \(reason); the output written there before the failure is incomplete"
    case .standardOutputFailed(let reason):
      return "cannot write to standard output: \(reason)"
    }
  }
}

/// `path: line 7, column "age"`, the start of a message about one cell.
private func cellLocation(_ path: String, _ line: Int, _ column: String) -> String {
  "\(shown(path)): line \(line), column \(MessageText.quoted(column))"
}

/// `"a", "b", "c"`: names quoted so that spaces, empty names and invisible characters show.
private func quotedNames(_ names: some Sequence<String>) -> String {
  MessageText.quotedList(names)
}

/// `path: line 7, column "age"`, or `path: line 7` without a column.
private func location(_ path: String, _ line: Int, _ column: String?) -> String {
  column.map { cellLocation(path, line, $0) } ?? "\(shown(path)): line \(line)"
}

/// The most header names a ``DataError/missingColumn(path:line:column:available:)`` message
/// lists, so that a file of 10⁵ columns gives a readable message.
private let listedColumns = 50

/// What a missing column may be instead: a file separated by tabs or semicolons (read as one
/// column whose name holds them), or a header name that differs from `column` only in
/// invisible characters or surrounding spaces. Empty, or `; …` to append to the message.
private func missingColumnAdvice(_ column: String, available: [String]) -> String {
  if available.count == 1, let only = available.first {
    for (separator, name) in [("\t", "tab"), (";", "semicolon")] where only.contains(separator) {
      return "; the header has no commas but has \(name)s: the file looks \(name)-separated, "
        + "and only comma-separated files are read"
    }
  }
  func bare(_ name: String) -> String {
    String(String.UnicodeScalarView(name.unicodeScalars.filter { !MessageText.isInvisible($0) }))
      .trimmingSpaces()
  }
  let wanted = bare(column)
  if let near = available.first(where: { $0 != column && bare($0) == wanted }) {
    return "; the header has \(MessageText.quoted(near)), which differs only in invisible "
      + "characters or spaces"
  }
  return ""
}

extension String {
  /// The string without leading and trailing plain spaces.
  fileprivate func trimmingSpaces() -> String {
    guard let first = firstIndex(where: { $0 != " " }) else { return "" }
    let last = lastIndex(where: { $0 != " " })!
    return String(self[first...last])
  }
}

/// The path as messages show it: invisible characters escaped.
private func shown(_ path: String) -> String { MessageText.visible(path) }

/// `text` cut by ``excerpt(_:limit:)`` and quoted by ``MessageText/quoted(_:)``.
func quotedExcerpt(_ text: String) -> String { MessageText.quoted(excerpt(text)) }

/// `text` cut to its first 40 characters, saying how long it was, so that a message about a
/// huge cell stays one readable line.
func excerpt(_ text: String, limit: Int = 40) -> String {
  guard text.count > limit else { return text }
  return "\(text.prefix(limit))… (\(text.utf8.count) bytes)"
}

/// `1.5 GiB`, `64.0 MiB`, `512 bytes`: a byte count in binary units (1 KiB = 1024 bytes),
/// rounded to one decimal, for messages about memory and file sizes.
public func byteText(_ bytes: Int) -> String {
  let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
  var value = Double(bytes)
  guard value >= 1024 else { return "\(bytes) bytes" }
  var unit = -1
  while value >= 1024, unit < units.count - 1 {
    value /= 1024
    unit += 1
  }
  let tenths = Int((value * 10).rounded())
  return "\(tenths / 10).\(tenths % 10) \(units[unit])"
}
