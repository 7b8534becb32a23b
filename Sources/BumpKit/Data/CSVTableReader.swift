/// Reads chosen columns of a CSV file into a ``CSVTable``, whole or in batches of rows.
///
/// The file follows the format of
/// ``Dataset/loadCSV(path:target:task:features:ignoring:classes:byteLimit:)`` (quoting, BOM,
/// line endings, blank lines, the NUL, encoding and over-long-cell errors); columns not asked
/// for are not parsed.
///
/// **Missing cells.** A cell whose text (trimmed of spaces and tabs) is one of
/// ``missingTokens`` is missing: NaN in a number column, ``CSVColumn/missingCode`` in a text
/// column, and counted with its first lines.
///
/// **Numbers** follow Swift's `Double(String)` grammar and are rounded once, straight to
/// `Element`. A cell in a number column that is not a number, is infinite (`inf`), or is too
/// large for `Element` is a *problem*: reading goes on to the end of the batch, and then
/// ``DataError/cellProblems(path:problems:total:)`` lists the first ``problemLimit`` problems
/// in file order with their total.
///
/// **Text** is kept as written, trimmed; a column of ``CSVColumnKind/automatic`` kind that
/// turns out to hold text keeps its non-missing number cells as their canonical spelling
/// (`2007` for `2007.0`, Swift's shortest form otherwise), so that `1` and `1.0` are one
/// category. At most ``textLimit`` distinct texts per column.
package struct CSVTableReader<Element: MatrixScalar> {
  /// The cell texts read as missing: the empty cell, `NA`, `N/A`, `NaN`, `nan`, `null`,
  /// `NULL`, `None`, `?`, `-`, `<NA>` and `#N/A`. Compared exactly (case matters).
  package static var missingTokens: Set<String> {
    ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?", "-", "<NA>", "#N/A"]
  }
  /// The most lines listed per column (missing cells) and problems listed per batch.
  package static var lineListLimit: Int { 20 }
  /// The most problems listed in one ``DataError/cellProblems(path:problems:total:)``.
  package static var problemLimit: Int { 20 }
  /// The most distinct texts a text column may hold.
  package static var textLimit: Int { 65_536 }

  /// The columns read, by header position, with their kinds.
  package let requests: [(name: String, position: Int, kind: CSVColumnKind)]
  private var records: CSVRecordReader
  private let byteLimit: Int?

  /// The path as given, or "standard input".
  package var path: String { records.path }
  /// The header's names, in file order.
  package var header: [String] { records.header }
  /// The header's line.
  package var headerLine: Int { records.headerLine }

  /// Opens `path` (`-` reads standard input) and finds the columns.
  ///
  /// - Parameters:
  ///   - columns: The columns to read and how; names must be distinct.
  ///   - byteLimit: The most memory the cells read in one batch may take; nil for no limit.
  /// - Throws: the errors of opening and reading the header (see ``Dataset``),
  ///   ``DataError/missingColumn(path:line:column:available:)`` for a name the header lacks.
  package init(path: String, columns: [(name: String, kind: CSVColumnKind)], byteLimit: Int? = nil) throws {
    records = try CSVRecordReader(path: path)
    let records = records
    requests = try columns.map { column in
      guard let position = records.columnIndex[column.name] else {
        throw DataError.missingColumn(
          path: records.path, line: records.headerLine, column: column.name,
          available: records.header)
      }
      return (column.name, position, column.kind)
    }
    self.byteLimit = byteLimit
  }

  /// The position (0-based) of each header name.
  package var columnIndex: [String: Int] { records.columnIndex }

  /// Reads the next `maxRows` rows (all the rest when nil); nil once the file is exhausted.
  ///
  /// - Throws: the reading errors, ``DataError/cellProblems(path:problems:total:)``,
  ///   ``DataError/tooManyCategories(path:line:column:limit:)``,
  ///   ``DataError/memoryLimitExceeded(path:line:rows:columns:bytes:limit:)``.
  package mutating func read(maxRows: Int? = nil) throws -> CSVTable<Element>? {
    var builders = requests.map { ColumnBuilder(name: $0.name, position: $0.position, kind: $0.kind) }
    var rows = 0
    var problems: [(line: Int, position: Int, error: DataError)] = []
    var problemCount = 0
    let path = records.path
    var lastLine = records.headerLine
    while maxRows.map({ rows < $0 }) ?? true, let (line, fields) = try records.next() {
      lastLine = line
      for k in builders.indices {
        if let problem = try builders[k].add(fields[builders[k].position], line: line, path: path) {
          problemCount += 1
          problems.append((line, builders[k].position, problem))
        }
      }
      rows += 1
      if let byteLimit {
        let bytes = builders.reduce(0) { $0 + $1.byteCount }
        if bytes > byteLimit {
          throw DataError.memoryLimitExceeded(
            path: path, line: line, rows: rows, columns: builders.count, bytes: bytes, limit: byteLimit)
        }
      }
    }
    guard rows > 0 else { return nil }
    var columns: [CSVColumn<Element>] = []
    for builder in builders {
      let (column, columnProblems) = try builder.finish(path: path, lastLine: lastLine)
      columns.append(column)
      problemCount += columnProblems.count
      problems += columnProblems.map { ($0.line, builder.position, $0.error) }
    }
    if problemCount > 0 {
      problems.sort { ($0.line, $0.position) < ($1.line, $1.position) }
      throw DataError.cellProblems(
        path: path, problems: problems.prefix(Self.problemLimit).map(\.error), total: problemCount)
    }
    return CSVTable(
      path: path, header: records.header, headerLine: records.headerLine, rows: rows,
      columns: columns)
  }

  /// The canonical spelling of a number in a text column: an integer without a fraction,
  /// anything else in Swift's shortest form.
  package static func canonicalText(_ value: Element) -> String {
    if value == value.rounded(), abs(value) < 0x1p53 { return String(Int64(value)) }
    return "\(value)"
  }

  /// One column being read.
  private struct ColumnBuilder {
    let name: String
    let position: Int
    let kind: CSVColumnKind
    var numbers: [Element] = []
    var codes: [UInt32] = []
    var texts: [String] = []
    var index: [ExactText: UInt32] = [:]
    var missingCount = 0
    var missingLines: [Int] = []
    /// For an automatic column: the problem each non-number cell is if the column turns out
    /// to hold numbers.
    var pending: [(line: Int, error: DataError)] = []
    var textCount = 0
    var numberCount = 0
    /// Per row of an automatic column: the number, or nil for a text cell.
    var automaticCells: [(number: Element?, text: String?)] = []

    init(name: String, position: Int, kind: CSVColumnKind) {
      self.name = name
      self.position = position
      self.kind = kind
    }

    var byteCount: Int {
      numbers.count * MemoryLayout<Element>.stride + codes.count * 4
        + automaticCells.count * (MemoryLayout<Element>.stride + 16)
        + texts.reduce(0) { $0 + $1.utf8.count + 64 }
    }

    /// Records one cell; returns the problem it is, if any.
    mutating func add(_ field: String, line: Int, path: String) throws -> DataError? {
      let text = trimmedCSVField(field)
      if CSVTableReader.missingTokens.contains(text) {
        missingCount += 1
        if missingLines.count < CSVTableReader.lineListLimit { missingLines.append(line) }
        switch kind {
        case .numbers: numbers.append(.nan)
        case .texts: codes.append(CSVColumn<Element>.missingCode)
        case .automatic: automaticCells.append((nil, nil))
        }
        return nil
      }
      switch kind {
      case .texts:
        codes.append(try intern(text, line: line, path: path))
        return nil
      case .numbers:
        do {
          numbers.append(try parseCSVNumber(text, path: path, line: line, column: name))
          return nil
        } catch let error as DataError {
          numbers.append(.nan)
          return error
        }
      case .automatic:
        do {
          let value: Element = try parseCSVNumber(text, path: path, line: line, column: name)
          automaticCells.append((value, nil))
          numberCount += 1
          return nil
        } catch let error as DataError {
          // Decided at the end: a category if the column holds text, else a problem.
          automaticCells.append((nil, text))
          if case .notANumber = error { textCount += 1 }
          pending.append((line, error))
          return nil
        }
      }
    }

    mutating func intern(_ text: String, line: Int, path: String) throws -> UInt32 {
      if let code = index[ExactText(text)] { return code }
      guard texts.count < CSVTableReader.textLimit else {
        throw DataError.tooManyCategories(
          path: path, line: line, column: name, limit: CSVTableReader.textLimit)
      }
      let code = UInt32(texts.count)
      texts.append(text)
      index[ExactText(text)] = code
      return code
    }

    /// The column, and for an automatic column that holds numbers, its text cells as
    /// problems.
    consuming func finish(path: String, lastLine: Int) throws -> (CSVColumn<Element>, [(line: Int, error: DataError)]) {
      var problems: [(line: Int, error: DataError)] = []
      let cells: CSVColumn<Element>.Cells
      switch kind {
      case .numbers: cells = .numbers(numbers)
      case .texts: cells = .texts(codes: codes, texts: texts)
      case .automatic:
        if textCount >= 2, textCount > numberCount {
          var codes: [UInt32] = []
          codes.reserveCapacity(automaticCells.count)
          for cell in automaticCells {
            if let text = cell.text {
              codes.append(try intern(text, line: lastLine, path: path))
            } else if let number = cell.number {
              codes.append(try intern(CSVTableReader.canonicalText(number), line: lastLine, path: path))
            } else {
              codes.append(CSVColumn<Element>.missingCode)
            }
          }
          cells = .texts(codes: codes, texts: texts)
        } else {
          cells = .numbers(automaticCells.map { $0.number ?? .nan })
          problems = pending
        }
      }
      return (
        CSVColumn(
          name: name, position: position, cells: cells, missingCount: missingCount,
          missingLines: missingLines), problems
      )
    }
  }
}
