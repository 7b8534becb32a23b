internal import CSV

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A CSV file read record by record with CSV.swift, knowing the physical line each record
/// starts on.
///
/// The grammar is CSV.swift's (RFC 4180): comma-separated fields, fields in double quotes
/// may hold commas, line breaks and doubled quotes (`""`); rows end with LF, CRLF or CR.
/// Spaces and tabs around a field are dropped (CSV.swift's `trimFields`). The first non-blank
/// record is the header. Blank lines (no characters other than spaces) are skipped anywhere,
/// as pandas does. A UTF-8 byte-order mark is ignored.
///
/// CSV.swift reports records, not lines, so the line number is kept here: a record advances
/// the line count by one plus the line breaks inside its quoted fields.
struct CSVRecordReader {
  /// The path as the caller gave it, used in every error message.
  let path: String

  /// The header's names, in file order.
  let header: [String]

  /// The line the header is on (1 unless blank lines precede it).
  let headerLine: Int

  private let reader: CSVReader
  private var line: Int

  /// Opens `path`, decodes it as UTF-8 and reads the header.
  ///
  /// - Throws: ``DataError/fileNotFound(path:)``, ``DataError/unreadableFile(path:reason:)``,
  ///   ``DataError/invalidEncoding(path:line:)``, ``DataError/emptyFile(path:)``,
  ///   ``DataError/emptyColumnName(path:line:position:)``,
  ///   ``DataError/duplicateColumn(path:line:column:positions:)``.
  init(path: String) throws {
    self.path = path
    var text = try Self.readText(path)
    if text.unicodeScalars.first == "\u{FEFF}" { text.unicodeScalars.removeFirst() }
    reader = try CSVReader(string: text, hasHeaderRow: false, trimFields: true)
    line = 1
    guard let (headerLine, header) = Self.nextNonBlank(reader, &line) else {
      throw DataError.emptyFile(path: path)
    }
    self.headerLine = headerLine
    self.header = header
    var positions: [String: [Int]] = [:]
    for (index, name) in header.enumerated() {
      guard !name.isEmpty else {
        throw DataError.emptyColumnName(path: path, line: headerLine, position: index + 1)
      }
      positions[name, default: []].append(index + 1)
    }
    if let name = header.first(where: { positions[$0]!.count > 1 }) {
      throw DataError.duplicateColumn(
        path: path, line: headerLine, column: name, positions: positions[name]!)
    }
  }

  /// The next non-blank record and the line it starts on, with exactly one field per header
  /// column; `nil` at the end of the file.
  ///
  /// - Throws: ``DataError/raggedRow(path:line:column:expected:found:)``.
  mutating func next() throws -> (line: Int, fields: [String])? {
    guard let (start, fields) = Self.nextNonBlank(reader, &line) else { return nil }
    guard fields.count == header.count else {
      let column = fields.count < header.count ? header[fields.count] : header[header.count - 1]
      throw DataError.raggedRow(
        path: path, line: start, column: column, expected: header.count, found: fields.count)
    }
    return (start, fields)
  }

  /// Reads records until one is not blank; `line` moves past every record read.
  private static func nextNonBlank(_ reader: CSVReader, _ line: inout Int) -> (Int, [String])? {
    while let fields = reader.next() {
      let start = line
      line += 1 + fields.reduce(0) { $0 + lineBreaks(in: $1) }
      if fields.count == 1 && fields[0].isEmpty { continue }
      return (start, fields)
    }
    return nil
  }

  /// The line breaks in a quoted field: LF, CR and CRLF each count once, as they do between
  /// records.
  private static func lineBreaks(in field: String) -> Int {
    var count = 0
    var afterCR = false
    for scalar in field.unicodeScalars {
      switch scalar {
      case "\r":
        count += 1
        afterCR = true
      case "\n":
        if !afterCR { count += 1 }
        afterCR = false
      default: afterCR = false
      }
    }
    return count
  }

  // MARK: - Reading the bytes

  private static func readText(_ path: String) throws -> String {
    let bytes = try readBytes(path)
    if let text = String(validating: bytes, as: UTF8.self) { return text }
    throw DataError.invalidEncoding(path: path, line: firstInvalidUTF8Line(bytes))
  }

  private static func readBytes(_ path: String) throws -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
      let code = errno
      if code == ENOENT || path.isEmpty { throw DataError.fileNotFound(path: path) }
      throw DataError.unreadableFile(path: path, reason: dataSystemMessage(code))
    }
    defer { close(descriptor) }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else {
      throw DataError.unreadableFile(path: path, reason: dataSystemMessage(errno))
    }
    if (status.st_mode & S_IFMT) == S_IFDIR {
      throw DataError.unreadableFile(path: path, reason: dataSystemMessage(EISDIR))
    }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(max(0, Int(status.st_size)))
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
      if count < 0 {
        if errno == EINTR { continue }
        throw DataError.unreadableFile(path: path, reason: dataSystemMessage(errno))
      }
      if count == 0 { break }
      bytes.append(contentsOf: chunk[0..<count])
    }
    return bytes
  }

  /// The 1-based line holding the first byte that is not part of valid UTF-8.
  private static func firstInvalidUTF8Line(_ bytes: [UInt8]) -> Int {
    var parser = Unicode.UTF8.ForwardParser()
    var iterator = bytes.makeIterator()
    var line = 1
    while true {
      switch parser.parseScalar(from: &iterator) {
      case .valid(let encoded):
        if encoded.count == 1 && encoded.first == UInt8(ascii: "\n") { line += 1 }
      case .error:
        return line
      case .emptyInput:
        return line
      }
    }
  }
}

/// The C library's text for `code`, e.g. "Permission denied".
func dataSystemMessage(_ code: Int32) -> String {
  String(cString: strerror(code))
}
