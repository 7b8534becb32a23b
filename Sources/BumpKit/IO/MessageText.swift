/// The one way messages show text that came from the user: column names, cells, labels,
/// option values and paths.
///
/// Text is shown as it is, except for characters that would not show, or would show as
/// something else: control characters (a CR, a line break, a tab, a NUL, DEL and the C1
/// controls), format characters such as a byte-order mark or a zero-width space, and every
/// space other than the plain one (a no-break space, an ideographic space, line and paragraph
/// separators). Those are written as escapes, `\n`, `\r`, `\t` or `\u{feff}`, so that a
/// message about the column `"\u{feff}y"` does not look as if it were about `"y"`.
///
/// ``quoted(_:)`` also escapes `"` and `\` so that the quoted text ends where the quotes do.
package enum MessageText {
  /// `text` in double quotes, with quotes, backslashes and invisible characters escaped:
  /// `"a\"b"`, `"\u{a0}1"`.
  package static func quoted(_ text: String) -> String {
    "\"" + escaped(text, quotes: true) + "\""
  }

  /// `text` with invisible characters escaped but quotes and backslashes as they are: for text
  /// that is not quoted, such as a path at the start of a message.
  package static func visible(_ text: String) -> String {
    escaped(text, quotes: false)
  }

  /// `names` quoted and separated by commas: `"a", "b", "c"`.
  package static func quotedList(_ names: some Sequence<String>) -> String {
    names.map(quoted).joined(separator: ", ")
  }

  /// Whether `scalar` is shown escaped.
  package static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
    if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) { return true }
    if scalar.value < 0x7F { return false }
    switch scalar.properties.generalCategory {
    case .control, .format, .lineSeparator, .paragraphSeparator, .spaceSeparator, .surrogate,
      .privateUse, .unassigned:
      return true
    default:
      return false
    }
  }

  private static func escaped(_ text: String, quotes: Bool) -> String {
    // Most text needs nothing: return it without building a copy.
    if !text.unicodeScalars.contains(where: {
      isInvisible($0) || (quotes && ($0 == "\"" || $0 == "\\"))
    }) {
      return text
    }
    var out = ""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"" where quotes: out += "\\\""
      case "\\" where quotes: out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where isInvisible(scalar):
        out += "\\u{\(String(scalar.value, radix: 16))}"
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out
  }
}
