import SystemPackage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A CSV file read record by record as a stream of bytes, knowing the physical line each
/// record starts on.
///
/// The grammar is RFC 4180's: comma-separated fields; a field in double quotes may hold
/// commas, line breaks and doubled quotes (`""`); rows end with LF, CRLF or CR. Spaces and
/// tabs around a field are dropped (inside quotes they belong to the field). The first
/// non-blank record is the header. Blank lines (no characters other than spaces and tabs)
/// are skipped anywhere, as pandas does. A UTF-8 byte-order mark is ignored.
///
/// The file is read in 64 KiB chunks and never held whole, so memory stays bounded by what
/// the caller keeps: a field longer than ``fieldByteLimit`` and a header longer than
/// ``headerByteLimit`` are errors, and fields beyond the header's count are counted, not
/// stored. The path `-` reads standard input (named "standard input" in messages).
///
/// Malformed text is an error at the place it occurs: bytes that are not UTF-8, a NUL byte
/// (binary data, which `Double(String)` would silently cut at), a quote that is never
/// closed (reported where the quoted field begins), and text after a closing quote.
struct CSVRecordReader {
  /// The longest field accepted: 1 MiB.
  static let fieldByteLimit = 1 << 20
  /// The longest header record accepted: 16 MiB.
  static let headerByteLimit = 16 << 20

  /// The path as the caller gave it, or "standard input" for `-`; used in every error.
  let path: String

  /// The header's names, in file order.
  let header: [String]

  /// The line the header is on (1 unless blank lines precede it).
  let headerLine: Int

  private let input: ByteInput
  private var line: Int

  /// Opens `path` (`-` for standard input) and reads the header.
  ///
  /// - Throws: ``DataError/fileNotFound(path:)``, ``DataError/unreadableFile(path:reason:)``,
  ///   ``DataError/invalidEncoding(path:line:)``, ``DataError/emptyFile(path:)``,
  ///   ``DataError/emptyColumnName(path:line:position:)``,
  ///   ``DataError/duplicateColumn(path:line:column:positions:)`` and the errors of
  ///   ``next()``.
  ///
  /// With `used`, only those columns must have a name of their own; without it, every column
  /// must (see ``columnIndex(of:using:line:path:)``).
  init(path: String, using used: [String]? = nil) throws {
    let name = path == "-" ? "standard input" : path
    let input = try ByteInput(path: path, name: name)
    var line = 1
    try input.dropByteOrderMark()
    var found: (Int, [String])?
    while true {
      guard let record = try Self.record(input, &line, path: name, header: nil) else { break }
      if record.isBlank { continue }
      found = (record.line, record.fields)
      break
    }
    guard let (headerLine, header) = found else { throw DataError.emptyFile(path: name) }
    self.path = name
    self.headerLine = headerLine
    self.header = header
    self.input = input
    self.line = line
    columnIndex = try Self.columnIndex(of: header, using: used ?? header, line: headerLine, path: name)
  }

  /// The position (0-based) of the first cell of each non-empty name of `header`, after
  /// checking the header's rules for the columns `used`: each is non-empty and appears once.
  /// Other columns may have an empty or a repeated name (a file written with its row index,
  /// whose first header cell is empty, read without that column).
  ///
  /// - Throws: ``DataError/emptyColumnName(path:line:position:)`` for a used empty name (the
  ///   first empty cell); ``DataError/duplicateColumn(path:line:column:positions:)`` for the
  ///   first used name in header order that repeats, with every position it is at. A used
  ///   name the header lacks is for the caller to report.
  static func columnIndex(
    of header: [String], using used: some Sequence<String>, line headerLine: Int, path name: String
  ) throws -> [String: Int] {
    let used = Set(used)
    if used.contains(""), let empty = header.firstIndex(of: "") {
      throw DataError.emptyColumnName(path: name, line: headerLine, position: empty + 1)
    }
    var index: [String: Int] = [:]
    index.reserveCapacity(header.count)
    var repeated = Set<String>()
    for (position, column) in header.enumerated() where !column.isEmpty {
      if index[column] == nil { index[column] = position } else if used.contains(column) { repeated.insert(column) }
    }
    if !repeated.isEmpty, let column = header.first(where: repeated.contains) {
      let positions = header.indices.filter { header[$0] == column }.map { $0 + 1 }
      throw DataError.duplicateColumn(
        path: name, line: headerLine, column: column, positions: positions)
    }
    return index
  }

  /// The position (0-based) of each header name (of its first cell when only some columns
  /// are used).
  let columnIndex: [String: Int]

  /// The next non-blank record and the line it starts on, with exactly one field per header
  /// column; `nil` at the end of the file.
  ///
  /// - Throws: ``DataError/raggedRow(path:line:column:expected:found:)``,
  ///   ``DataError/invalidEncoding(path:line:)``, ``DataError/nulByte(path:line:column:)``,
  ///   ``DataError/unterminatedQuote(path:line:column:)``,
  ///   ``DataError/textAfterQuote(path:line:column:)``,
  ///   ``DataError/fieldTooLong(path:line:column:limit:)``,
  ///   ``DataError/unreadableFile(path:reason:)``.
  mutating func next() throws -> (line: Int, fields: [String])? {
    while let record = try Self.record(input, &line, path: path, header: header) {
      // A blank line is skipped; a lone quoted empty field ("") is a record with one empty
      // (missing) cell.
      if record.isBlank && !(record.firstQuoted && header.count == 1) { continue }
      guard record.count == header.count else {
        let column =
          record.count < header.count ? header[record.count] : header[header.count - 1]
        throw DataError.raggedRow(
          path: path, line: record.line, column: column, expected: header.count,
          found: record.count)
      }
      return (record.line, record.fields)
    }
    return nil
  }

  // MARK: - Parsing

  private struct Record {
    var line: Int
    /// The stored fields: at most one per header column.
    var fields: [String]
    /// All fields of the record, stored or not.
    var count: Int
    /// Whether the first field was written in quotes (a lone `""` is a record, not a blank
    /// line).
    var firstQuoted = false
    var isBlank: Bool { count == 1 && fields.first?.isEmpty == true }
  }

  /// Reads one record; `nil` at the end of input. `header` is nil while reading the header,
  /// whose size is bounded by ``headerByteLimit`` instead of the column count.
  private static func record(
    _ input: ByteInput, _ line: inout Int, path: String, header: [String]?
  ) throws -> Record? {
    guard try input.peekByte() != nil else { return nil }
    var record = Record(line: line, fields: [], count: 0)
    var recordBytes = 0
    var field: [UInt8] = []
    while true {
      let index = record.count
      func column() -> String? {
        guard let header else { return nil }
        return index < header.count ? header[index] : nil
      }
      let keep = header.map { index < $0.count } ?? true
      field.removeAll(keepingCapacity: true)
      let fieldLine = line
      let (endOfRecord, quoted) = try CSVFieldSyntax.readField(
        from: input, line: &line, path: path, column: column
      ) { b in
        guard keep else { return }
        if field.count >= fieldByteLimit {
          throw DataError.fieldTooLong(
            path: path, line: fieldLine, column: column(), limit: fieldByteLimit)
        }
        field.append(b)
      }
      if !quoted { CSVFieldSyntax.trimTrailingBlanks(&field) }
      if index == 0 { record.firstQuoted = quoted }
      if keep {
        if let bad = UTF8Validation.firstInvalidByte(in: field) {
          throw DataError.invalidEncoding(path: path, line: fieldLine + CSVFieldSyntax.lineBreaks(in: field[..<bad]))
        }
        let text = String(decoding: field, as: UTF8.self)
        recordBytes += field.count + 1
        if header == nil, recordBytes > headerByteLimit {
          throw DataError.fieldTooLong(
            path: path, line: record.line, column: nil, limit: headerByteLimit)
        }
        record.fields.append(text)
      }
      record.count += 1
      if endOfRecord { return record }
    }
  }
}

/// The C library's text for `code`, e.g. "Permission denied".
func dataSystemMessage(_ code: Int32) -> String {
  String(cString: strerror(code))
}
