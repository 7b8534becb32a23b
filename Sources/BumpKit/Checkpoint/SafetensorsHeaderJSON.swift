/// A minimal JSON parser for safetensors headers.
///
/// Written by hand rather than with Foundation for three reasons: objects keep every member
/// in order, so duplicate keys can be reported instead of silently collapsed; errors carry the
/// byte offset where parsing stopped; and nesting depth is bounded, so a hostile header cannot
/// exhaust the stack. It accepts exactly RFC 8259 JSON (the input must already be valid UTF-8).
enum SafetensorsHeaderJSON {
  /// A parsed JSON value. Objects keep duplicate keys and member order.
  indirect enum Value {
    case object([Member])
    case array([Value])
    case string(String)
    /// A number as written, with its value when it is an integer literal (no fraction, no
    /// exponent) that fits in `Int`.
    case number(text: String, integer: Int?)
    case bool(Bool)
    case null

    /// "an object", "a string", … for error messages.
    var kindDescription: String {
      switch self {
      case .object: return "an object"
      case .array: return "an array"
      case .string: return "a string"
      case .number(let text, _): return "the number \(text)"
      case .bool(let value): return "the boolean \(value)"
      case .null: return "null"
      }
    }
  }

  /// A member of an object.
  struct Member {
    var key: String
    var value: Value
  }

  /// Nesting deeper than this is rejected; real headers nest three levels.
  static let maximumDepth = 64

  /// Parses `bytes` (valid UTF-8) as a single JSON value, optionally surrounded by whitespace.
  static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws -> Value {
    var parser = Parser(bytes: bytes)
    let value = try parser.parseValue(depth: 0)
    parser.skipWhitespace()
    if parser.position < bytes.count {
      throw parser.failure("unexpected \(parser.describeCurrent()) after the JSON value")
    }
    return value
  }

  private struct Parser {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    func failure(_ reason: String, at offset: Int? = nil) -> SafetensorsError {
      .invalidHeaderJSON(offset: offset ?? position, reason: reason)
    }

    func describeCurrent() -> String {
      guard position < bytes.count else { return "end of header" }
      let byte = bytes[position]
      if (0x21...0x7E).contains(byte) { return "character '\(Character(Unicode.Scalar(byte)))'" }
      return "byte 0x\(String(byte, radix: 16, uppercase: true))"
    }

    mutating func skipWhitespace() {
      while position < bytes.count {
        switch bytes[position] {
        case 0x20, 0x09, 0x0A, 0x0D: position += 1
        default: return
        }
      }
    }

    mutating func parseValue(depth: Int) throws -> Value {
      skipWhitespace()
      guard position < bytes.count else { throw failure("expected a value, found end of header") }
      switch bytes[position] {
      case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
      case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
      case UInt8(ascii: "\""): return .string(try parseString())
      case UInt8(ascii: "t"):
        try expectLiteral("true")
        return .bool(true)
      case UInt8(ascii: "f"):
        try expectLiteral("false")
        return .bool(false)
      case UInt8(ascii: "n"):
        try expectLiteral("null")
        return .null
      case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
      default: throw failure("expected a value, found \(describeCurrent())")
      }
    }

    private mutating func enter(depth: Int) throws {
      if depth > SafetensorsHeaderJSON.maximumDepth {
        throw failure("nesting deeper than \(SafetensorsHeaderJSON.maximumDepth) levels")
      }
      position += 1
    }

    private mutating func parseObject(depth: Int) throws -> Value {
      try enter(depth: depth)
      var members: [Member] = []
      skipWhitespace()
      if consume("}") { return .object(members) }
      while true {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
          throw failure("expected a string key, found \(describeCurrent())")
        }
        let key = try parseString()
        skipWhitespace()
        guard consume(":") else { throw failure("expected ':' after key, found \(describeCurrent())") }
        members.append(Member(key: key, value: try parseValue(depth: depth)))
        if try endsAfterSeparator(closing: "}") { return .object(members) }
      }
    }

    private mutating func parseArray(depth: Int) throws -> Value {
      try enter(depth: depth)
      var elements: [Value] = []
      skipWhitespace()
      if consume("]") { return .array(elements) }
      while true {
        elements.append(try parseValue(depth: depth))
        if try endsAfterSeparator(closing: "]") { return .array(elements) }
      }
    }

    /// Takes `byte` if it is the next one.
    private mutating func consume(_ byte: Unicode.Scalar) -> Bool {
      guard position < bytes.count, bytes[position] == UInt8(ascii: byte) else { return false }
      position += 1
      return true
    }

    /// After a member or an element: takes the `,` before the next one (false) or the
    /// `closing` bracket (true); anything else is an error.
    private mutating func endsAfterSeparator(closing: Unicode.Scalar) throws -> Bool {
      skipWhitespace()
      guard position < bytes.count else {
        throw failure("expected ',' or '\(closing)', found end of header")
      }
      if consume(",") { return false }
      if consume(closing) { return true }
      throw failure("expected ',' or '\(closing)', found \(describeCurrent())")
    }

    private mutating func expectLiteral(_ literal: StaticString) throws {
      let count = literal.utf8CodeUnitCount
      let matches =
        bytes.count - position >= count
        && literal.withUTF8Buffer { expected in
          (0..<count).allSatisfy { bytes[position + $0] == expected[$0] }
        }
      guard matches else { throw failure("expected a value, found \(describeCurrent())") }
      position += count
    }

    private func isDigit(at offset: Int) -> Bool {
      offset < bytes.count && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset])
    }

    private mutating func skipDigits(after what: String) throws {
      guard isDigit(at: position) else {
        throw failure("expected a digit \(what), found \(describeCurrent())")
      }
      while isDigit(at: position) { position += 1 }
    }

    private mutating func parseNumber() throws -> Value {
      let start = position
      if bytes[position] == UInt8(ascii: "-") { position += 1 }
      if position < bytes.count, bytes[position] == UInt8(ascii: "0") {
        position += 1
      } else {
        try skipDigits(after: "in number")
      }
      var isInteger = true
      if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
        isInteger = false
        position += 1
        try skipDigits(after: "after the decimal point")
      }
      if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
        isInteger = false
        position += 1
        if position < bytes.count,
          bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")
        {
          position += 1
        }
        try skipDigits(after: "in exponent")
      }
      let text = String(
        decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
      return .number(text: text, integer: isInteger ? Int(text) : nil)
    }

    /// Parses a string starting at the opening quote.
    private mutating func parseString() throws -> String {
      let start = position
      position += 1
      var decoded: [UInt8] = []
      var runStart = position
      var hasEscapes = false
      while true {
        guard position < bytes.count else { throw failure("unterminated string", at: start) }
        let byte = bytes[position]
        if byte == UInt8(ascii: "\"") {
          let run = UnsafeBufferPointer(rebasing: bytes[runStart..<position])
          position += 1
          if !hasEscapes { return String(decoding: run, as: UTF8.self) }
          decoded.append(contentsOf: run)
          return String(decoding: decoded, as: UTF8.self)
        }
        if byte == UInt8(ascii: "\\") {
          hasEscapes = true
          decoded.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<position]))
          try parseEscape(into: &decoded)
          runStart = position
        } else if byte < 0x20 {
          throw failure("unescaped control character \(describeCurrent()) in string")
        } else {
          position += 1
        }
      }
    }

    /// Parses an escape sequence starting at the backslash, appending its UTF-8 to `out`.
    private mutating func parseEscape(into out: inout [UInt8]) throws {
      let start = position
      position += 1
      guard position < bytes.count else { throw failure("unterminated escape sequence", at: start) }
      let byte = bytes[position]
      position += 1
      switch byte {
      case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(byte)
      case UInt8(ascii: "b"): out.append(0x08)
      case UInt8(ascii: "f"): out.append(0x0C)
      case UInt8(ascii: "n"): out.append(0x0A)
      case UInt8(ascii: "r"): out.append(0x0D)
      case UInt8(ascii: "t"): out.append(0x09)
      case UInt8(ascii: "u"):
        var scalar = try parseHex4(escapeStart: start)
        if (0xDC00...0xDFFF).contains(scalar) {
          throw failure("unpaired low surrogate \\u\(String(scalar, radix: 16))", at: start)
        }
        if (0xD800...0xDBFF).contains(scalar) {
          guard bytes.count - position >= 2, bytes[position] == UInt8(ascii: "\\"),
            bytes[position + 1] == UInt8(ascii: "u")
          else {
            throw failure("unpaired high surrogate \\u\(String(scalar, radix: 16))", at: start)
          }
          let lowStart = position
          position += 2
          let low = try parseHex4(escapeStart: lowStart)
          guard (0xDC00...0xDFFF).contains(low) else {
            throw failure(
              "high surrogate \\u\(String(scalar, radix: 16)) not followed by a low surrogate",
              at: start)
          }
          scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        }
        appendUTF8(scalar, to: &out)
      default:
        position -= 1
        throw failure("invalid escape sequence '\\' followed by \(describeCurrent())", at: start)
      }
    }

    private mutating func parseHex4(escapeStart: Int) throws -> UInt32 {
      guard bytes.count - position >= 4 else {
        throw failure("truncated \\u escape", at: escapeStart)
      }
      var value: UInt32 = 0
      for _ in 0..<4 {
        let byte = bytes[position]
        let digit: UInt8
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
        default: throw failure("expected a hex digit in \\u escape, found \(describeCurrent())")
        }
        value = value << 4 | UInt32(digit)
        position += 1
      }
      return value
    }

    private func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
      switch scalar {
      case 0..<0x80:
        out.append(UInt8(scalar))
      case 0x80..<0x800:
        out.append(UInt8(0xC0 | scalar >> 6))
        out.append(UInt8(0x80 | scalar & 0x3F))
      case 0x800..<0x10000:
        out.append(UInt8(0xE0 | scalar >> 12))
        out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
        out.append(UInt8(0x80 | scalar & 0x3F))
      default:
        out.append(UInt8(0xF0 | scalar >> 18))
        out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
        out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
        out.append(UInt8(0x80 | scalar & 0x3F))
      }
    }
  }
}
