/// The first implementation of ``CSVTableReader``, over `CSVRecordReader` (one `String` per
/// field): slow, but simple enough to trust. It is kept as the oracle the fast reader is
/// tested against: for any file, both give the same table or throw the same error (except
/// the line and counts of a memory-limit error).
///
/// See ``CSVTableReader`` for what is read and how cells are interpreted.
struct CSVTableReferenceReader<Element: MatrixScalar> {
  typealias Fast = CSVTableReader<Element>
  /// The columns read, by header position, with their kinds.
  let requests: [(name: String, position: Int, kind: CSVColumnKind)]
  private var records: CSVRecordReader
  private let byteLimit: Int?

  /// The path as given, or "standard input".
  var path: String { records.path }
  /// The header's names, in file order.
  var header: [String] { records.header }
  /// The header's line.
  var headerLine: Int { records.headerLine }

  /// Opens `path` (`-` reads standard input) and finds the columns.
  ///
  /// - Parameters:
  ///   - columns: The columns to read and how; names must be distinct. Each must name exactly
  ///     one header cell; the columns not read may have empty or repeated names.
  ///   - byteLimit: The most memory the cells read in one batch may take; nil for no limit.
  /// - Throws: the errors of opening and reading the header (see ``Dataset``),
  ///   ``DataError/missingColumn(path:line:column:available:)`` for a name the header lacks,
  ///   ``DataError/duplicateColumn(path:line:column:positions:)`` for one it has more than once.
  init(path: String, columns: [(name: String, kind: CSVColumnKind)], byteLimit: Int? = nil) throws {
    records = try CSVRecordReader(path: path, using: columns.map(\.name))
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

  /// The position (0-based) of each non-empty header name (its first cell).
  var columnIndex: [String: Int] { records.columnIndex }

  /// Reads the next `maxRows` rows (all the rest when nil); nil once the file is exhausted.
  ///
  /// - Throws: the reading errors, ``DataError/cellProblems(path:problems:total:)``,
  ///   ``DataError/tooManyCategories(path:line:column:limit:)``,
  ///   ``DataError/memoryLimitExceeded(path:line:rows:columns:bytes:limit:)``.
  mutating func read(maxRows: Int? = nil) throws -> CSVTable<Element>? {
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
        path: path, problems: problems.prefix(Fast.problemLimit).map(\.error), total: problemCount)
    }
    return CSVTable(
      path: path, header: records.header, headerLine: records.headerLine, rows: rows,
      columns: columns)
  }

  /// One column being read.
  private struct ColumnBuilder {
    let name: String
    let position: Int
    let kind: CSVColumnKind
    var numbers: [Element] = []
    var codes: [UInt32] = []
    var textLines: [Int] = []
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
      if Fast.missingTokens.contains(text) {
        missingCount += 1
        if missingLines.count < Fast.lineListLimit { missingLines.append(line) }
        switch kind {
        case .numbers: numbers.append(.nan)
        case .texts: codes.append(CSVColumn<Element>.missingCode)
        case .automatic: automaticCells.append((nil, nil))
        }
        return nil
      }
      switch kind {
      case .texts:
        // As the record reader gives it: inside quotes, spaces belong to the text.
        codes.append(try intern(field, line: line, path: path))
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
          automaticCells.append((nil, field))
          if case .notANumber = error { textCount += 1 }
          pending.append((line, error))
          return nil
        }
      }
    }

    mutating func intern(_ text: String, line: Int, path: String) throws -> UInt32 {
      if let code = index[ExactText(text)] { return code }
      guard texts.count < Fast.textLimit else {
        throw DataError.tooManyCategories(
          path: path, line: line, column: name, limit: Fast.textLimit)
      }
      let code = UInt32(texts.count)
      texts.append(text)
      textLines.append(line)
      index[ExactText(text)] = code
      return code
    }

    /// The column, and for an automatic column that holds numbers, its text cells as
    /// problems.
    consuming func finish(path: String, lastLine: Int) throws -> (CSVColumn<Element>, [(line: Int, error: DataError)]) {
      var problems: [(line: Int, error: DataError)] = []
      let cells: CSVColumn<Element>.Cells
      switch kind {
      case .numbers: cells = .numbers(CSVValues(numbers))
      case .texts: cells = .texts(codes: codes, texts: texts)
      case .automatic:
        if textCount >= 2, textCount > numberCount {
          var codes: [UInt32] = []
          codes.reserveCapacity(automaticCells.count)
          for cell in automaticCells {
            if let text = cell.text {
              codes.append(try intern(text, line: lastLine, path: path))
            } else if let number = cell.number {
              codes.append(try intern(Fast.canonicalText(number), line: lastLine, path: path))
            } else {
              codes.append(CSVColumn<Element>.missingCode)
            }
          }
          cells = .texts(codes: codes, texts: texts)
        } else {
          cells = .numbers(CSVValues(automaticCells.map { $0.number ?? .nan }))
          problems = pending
        }
      }
      var column = CSVColumn(
        name: name, position: position, cells: cells, missingCount: missingCount,
        missingLines: missingLines)
      if kind == .texts { column.textLines = textLines }
      return (column, problems)
    }
  }
}
