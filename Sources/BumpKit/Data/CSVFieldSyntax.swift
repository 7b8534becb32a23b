/// Bytes read one at a time, as the record-by-record CSV readers take them.
protocol CSVByteSource: AnyObject {
  /// The next byte without consuming it; nil at the end of the input.
  func peekByte() throws -> UInt8?
  /// The next byte; nil at the end of the input.
  func nextByte() throws -> UInt8?
}

extension ByteInput: CSVByteSource {}
extension CSVChunkInput: CSVByteSource {}

/// The syntax of one CSV field, read byte by byte: what ``CSVRecordReader`` and the slow path
/// of ``CSVRecordScanner`` both read a record with, so that the two agree on every file.
enum CSVFieldSyntax {
  static let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\"")
  static let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
  static let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")

  /// Reads one field from `input` and passes its bytes to `append` (quotes and doubled quotes
  /// removed, leading spaces and tabs skipped; an unquoted field's trailing ones are passed
  /// too: see ``trimTrailingBlanks(_:)``). `line` counts the line breaks read, inside quotes
  /// and the one that ends the record. Returns whether the field ends its record and whether
  /// it was quoted.
  ///
  /// - Throws: ``DataError/nulByte(path:line:column:)`` for a NUL byte (before `append`
  ///   sees it), ``DataError/unterminatedQuote(path:line:column:)`` at the line where the
  ///   field begins, ``DataError/textAfterQuote(path:line:column:)``, the input's errors,
  ///   and whatever `append` throws.
  @inline(__always)
  static func readField<Input: CSVByteSource>(
    from input: Input, line: inout Int, path: String, column: () -> String?,
    append: (UInt8) throws -> Void
  ) throws -> (endsRecord: Bool, quoted: Bool) {
    /// `append`, after the NUL check every byte of the text gets.
    func take(_ b: UInt8) throws {
      if b == 0 { throw DataError.nulByte(path: path, line: line, column: column()) }
      try append(b)
    }
    let fieldLine = line
    var byte = try input.nextByte()
    while byte == space || byte == tab { byte = try input.nextByte() }
    guard byte == quote else {
      var b = byte
      while true {
        guard let c = b else { return (true, false) }
        if c == comma { return (false, false) }
        if c == cr || c == lf {
          line += 1
          if c == cr, try input.peekByte() == lf { _ = try input.nextByte() }
          return (true, false)
        }
        try take(c)
        b = try input.nextByte()
      }
    }
    // Quoted: runs to the closing quote, across line breaks.
    while true {
      guard let b = try input.nextByte() else {
        throw DataError.unterminatedQuote(path: path, line: fieldLine, column: column())
      }
      if b == quote {
        if try input.peekByte() == quote {
          _ = try input.nextByte()
          try take(quote)
          continue
        }
        break
      }
      if b == cr {
        line += 1
        if try input.peekByte() == lf {
          try take(b)
          _ = try input.nextByte()
          try take(lf)
          continue
        }
      } else if b == lf {
        line += 1
      }
      try take(b)
    }
    var after = try input.nextByte()
    while after == space || after == tab { after = try input.nextByte() }
    switch after {
    case nil: return (true, true)
    case comma: return (false, true)
    case cr, lf:
      line += 1
      if after == cr, try input.peekByte() == lf { _ = try input.nextByte() }
      return (true, true)
    default:
      if after == 0 { throw DataError.nulByte(path: path, line: line, column: column()) }
      throw DataError.textAfterQuote(path: path, line: line, column: column())
    }
  }

  /// Removes the trailing spaces and tabs of an unquoted field.
  static func trimTrailingBlanks(_ field: inout [UInt8]) {
    while let last = field.last, last == space || last == tab { field.removeLast() }
  }

  /// The number of line breaks (LF, CR or CRLF) in `bytes`.
  static func lineBreaks(in bytes: ArraySlice<UInt8>) -> Int {
    var breaks = 0
    var afterCR = false
    for byte in bytes {
      if byte == cr || (byte == lf && !afterCR) { breaks += 1 }
      afterCR = byte == cr
    }
    return breaks
  }
}
