/// A text file (or standard input) read one line at a time, under the CSV reader's rules for
/// what text is: the input of `bump function`.
///
/// Lines end with LF, CRLF or CR; a last line without a line ending is still a line. A UTF-8
/// byte-order mark at the start is ignored. The input is read in chunks and a line is never
/// longer than ``lineByteLimit`` in memory, so input of any size runs in bounded memory.
///
/// As in CSV files, malformed text is an error naming the line where it occurs: a line longer
/// than the limit, a NUL byte (binary data, which a number parser would silently cut at) and
/// bytes that are not UTF-8.
package struct TextLineReader {
  /// The longest line accepted: 1 MiB, the CSV reader's limit for one field.
  package static let lineByteLimit = CSVRecordReader.fieldByteLimit

  /// The path as the caller gave it, or "standard input" for `-`; used in every error.
  package let path: String

  private let input: ByteInput
  private let limit: Int
  private var line = 0
  private var bytes: [UInt8] = []

  /// Opens `path` (`-` for standard input).
  ///
  /// - Parameter lineByteLimit: The longest line accepted, in bytes.
  /// - Throws: ``DataError/fileNotFound(path:)``, ``DataError/unreadableFile(path:reason:)``.
  package init(path: String, lineByteLimit: Int = Self.lineByteLimit) throws {
    let name = path == "-" ? "standard input" : path
    input = try ByteInput(path: path, name: name)
    self.path = name
    limit = lineByteLimit
    try input.dropByteOrderMark()
  }

  /// The next line, without its line ending, and its 1-based number; `nil` at the end of the
  /// input.
  ///
  /// - Throws: ``DataError/lineTooLong(path:line:limit:)``,
  ///   ``DataError/nulByte(path:line:column:)`` (with no column),
  ///   ``DataError/invalidEncoding(path:line:)``, ``DataError/unreadableFile(path:reason:)``.
  package mutating func next() throws -> (line: Int, text: String)? {
    guard try input.peekByte() != nil else { return nil }
    line += 1
    bytes.removeAll(keepingCapacity: true)
    while let byte = try input.nextByte() {
      if byte == UInt8(ascii: "\n") { break }
      if byte == UInt8(ascii: "\r") {
        if try input.peekByte() == UInt8(ascii: "\n") { _ = try input.nextByte() }
        break
      }
      if byte == 0 { throw DataError.nulByte(path: path, line: line, column: nil) }
      if bytes.count >= limit {
        throw DataError.lineTooLong(path: path, line: line, limit: limit)
      }
      bytes.append(byte)
    }
    if UTF8Validation.firstInvalidByte(in: bytes) != nil {
      throw DataError.invalidEncoding(path: path, line: line)
    }
    return (line, String(decoding: bytes, as: UTF8.self))
  }
}
