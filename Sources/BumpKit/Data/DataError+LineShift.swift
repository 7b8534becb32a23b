extension DataError {
  /// The same error with `offset` added to its lines (those of the problems it lists
  /// included): for errors found by the second thread of a read, which counts lines from 0
  /// at its start.
  func shiftingLines(by offset: Int) -> DataError {
    guard offset != 0 else { return self }
    switch self {
    case .invalidEncoding(let path, let line):
      return .invalidEncoding(path: path, line: line + offset)
    case .raggedRow(let path, let line, let column, let expected, let found):
      return .raggedRow(
        path: path, line: line + offset, column: column, expected: expected, found: found)
    case .emptyCell(let path, let line, let column):
      return .emptyCell(path: path, line: line + offset, column: column)
    case .notANumber(let path, let line, let column, let text):
      return .notANumber(path: path, line: line + offset, column: column, text: text)
    case .nonFiniteNumber(let path, let line, let column, let text):
      return .nonFiniteNumber(path: path, line: line + offset, column: column, text: text)
    case .numberOutOfRange(let path, let line, let column, let text, let type):
      return .numberOutOfRange(
        path: path, line: line + offset, column: column, text: text, type: type)
    case .nulByte(let path, let line, let column):
      return .nulByte(path: path, line: line + offset, column: column)
    case .unterminatedQuote(let path, let line, let column):
      return .unterminatedQuote(path: path, line: line + offset, column: column)
    case .textAfterQuote(let path, let line, let column):
      return .textAfterQuote(path: path, line: line + offset, column: column)
    case .fieldTooLong(let path, let line, let column, let limit):
      return .fieldTooLong(path: path, line: line + offset, column: column, limit: limit)
    case .memoryLimitExceeded(let path, let line, let rows, let columns, let bytes, let limit):
      return .memoryLimitExceeded(
        path: path, line: line + offset, rows: rows, columns: columns, bytes: bytes, limit: limit)
    case .tooManyCategories(let path, let line, let column, let limit):
      return .tooManyCategories(path: path, line: line + offset, column: column, limit: limit)
    case .cellProblems(let path, let problems, let total):
      return .cellProblems(
        path: path, problems: problems.map { $0.shiftingLines(by: offset) }, total: total)
    default:
      return self
    }
  }
}
