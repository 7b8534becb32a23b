import Foundation

/// A JSON value, kept as read: the settings of a layer.
enum JSONTree: Codable, Equatable, Sendable {
  case null
  case boolean(Bool)
  case number(Double)
  case string(String)
  case array([JSONTree])
  case object([String: JSONTree])

  init(from decoder: any Decoder) throws {
    let c = try decoder.singleValueContainer()
    if c.decodeNil() { self = .null }
    else if let v = try? c.decode(Bool.self) { self = .boolean(v) }
    else if let v = try? c.decode(Double.self) { self = .number(v) }
    else if let v = try? c.decode(String.self) { self = .string(v) }
    else if let v = try? c.decode([JSONTree].self) { self = .array(v) }
    else { self = .object(try c.decode([String: JSONTree].self)) }
  }

  func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    switch self {
    case .null: try c.encodeNil()
    case .boolean(let v): try c.encode(v)
    case .number(let v): try c.encode(v)
    case .string(let v): try c.encode(v)
    case .array(let v): try c.encode(v)
    case .object(let v): try c.encode(v)
    }
  }

  /// The value as text: a string as itself, anything else as compact JSON.
  var text: String {
    switch self {
    case .string(let s): return s
    case .number(let v): return v == v.rounded() && abs(v) < 0x1p53 ? String(Int64(v)) : "\(v)"
    default: return (try? JSONEncoder.sorted.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
    }
  }

  /// A positive or negative integer, from a JSON integer or a string that spells one.
  var integer: Int? {
    switch self {
    case .string(let s): return Int(s)
    case .number(let v): return v == v.rounded() && abs(v) < 0x1p53 ? Int(v) : nil
    default: return nil
    }
  }

  /// A number, from a JSON number or a string that spells one.
  var number: Double? {
    switch self {
    case .string(let s): return Double(s)
    case .number(let v): return v
    default: return nil
    }
  }

  /// A boolean, from a JSON boolean or the string `true` or `false`.
  var boolean: Bool? {
    switch self {
    case .string(let s): return Bool(s)
    case .boolean(let v): return v
    default: return nil
    }
  }

  /// The string, for a JSON string.
  var string: String? {
    if case .string(let s) = self { return s }
    return nil
  }
}
