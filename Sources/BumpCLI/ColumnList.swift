import ArgumentParser
import BumpKit

/// Column names given to `--ignore`: each argument a comma-separated list, the option
/// repeatable.
///
/// A list is read like a record of the CSV file the names come from: an unquoted name is
/// trimmed of spaces and tabs, and a name in double quotes is taken exactly as written, with
/// `""` for a quote inside it. So `--ignore id,name` skips two columns, and
/// `--ignore '"a, b"'` skips the one column `a, b` (the outer single quotes are the shell's);
/// edge spaces are kept the same way, `--ignore '" id"'`. ``argument(for:)`` writes the
/// argument that names a column exactly, for hints.
enum ColumnList {
  /// The names in `arguments`, in order, without empty names and repeats.
  ///
  /// - Throws: a `ValidationError` naming the argument for a quote that is never closed or
  ///   text after a closing quote.
  static func names(_ arguments: [String]) throws(ValidationError) -> [String] {
    var seen = Set<String>()
    var names: [String] = []
    for argument in arguments {
      for name in try split(argument) where !name.isEmpty && seen.insert(name).inserted {
        names.append(name)
      }
    }
    return names
  }

  /// The `--ignore` value that names `column` and nothing else, quoted for a POSIX shell
  /// where it needs to be: `id`, `'"a, b"'`, `'" id"'`.
  static func argument(for column: String) -> String {
    let scalars = column.unicodeScalars
    let needsQuotes =
      column.isEmpty || scalars.contains { $0 == "," || $0 == "\"" }
      || [" ", "\t"].contains(scalars.first!) || [" ", "\t"].contains(scalars.last!)
    let list =
      needsQuotes ? "\"" + column.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : column
    return ShellWord.quoted(list)
  }

  /// The names in one argument, split at commas outside quotes.
  private static func split(_ argument: String) throws(ValidationError) -> [String] {
    var names: [String] = []
    var scalars = Substring(argument).unicodeScalars[...]
    func isBlank(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" }
    while true {
      while let c = scalars.first, isBlank(c) { scalars.removeFirst() }
      var name = String.UnicodeScalarView()
      if scalars.first == "\"" {
        scalars.removeFirst()
        var closed = false
        while let c = scalars.popFirst() {
          if c == "\"" {
            if scalars.first == "\"" {
              scalars.removeFirst()
              name.append("\"")
              continue
            }
            closed = true
            break
          }
          name.append(c)
        }
        guard closed else {
          throw ValidationError(
            "--ignore \(MessageText.quoted(argument)): a quote is never closed; "
              + "write a name with commas or edge spaces in double quotes, e.g. '\"a, b\"'")
        }
        while let c = scalars.first, isBlank(c) { scalars.removeFirst() }
        if let c = scalars.first, c != "," {
          throw ValidationError(
            "--ignore \(MessageText.quoted(argument)): text after a closing quote; "
              + "a quote inside a quoted name must be doubled (\"\")")
        }
      } else {
        while let c = scalars.first, c != "," {
          name.append(c)
          scalars.removeFirst()
        }
        while let c = name.last, isBlank(c) { name.removeLast() }
      }
      names.append(String(name))
      guard scalars.popFirst() == "," else { return names }
    }
  }
}

/// Words for a POSIX shell, for hints that print a command to run.
enum ShellWord {
  /// `word` as one shell word: as it is when it holds only characters no shell treats
  /// specially, in single quotes otherwise (`'it'\''s'`), and as `$'…'` with `\xHH` escapes
  /// when it holds control or invisible characters, which single quotes would keep but a
  /// terminal would not show.
  static func quoted(_ word: String) -> String {
    let plain = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-".unicodeScalars)
    if !word.isEmpty, word.unicodeScalars.allSatisfy(plain.contains) { return word }
    if word.unicodeScalars.contains(where: MessageText.isInvisible) {
      var out = "$'"
      for scalar in word.unicodeScalars {
        if MessageText.isInvisible(scalar) {
          for byte in String(scalar).utf8 { out += "\\x" + String(byte, radix: 16, uppercase: false).leftPadded(to: 2) }
        } else if scalar == "'" || scalar == "\\" {
          out += "\\" + String(scalar)
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
      return out + "'"
    }
    return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }
}

extension String {
  /// The string with zeros in front up to `width` characters.
  fileprivate func leftPadded(to width: Int) -> String {
    String(repeating: "0", count: max(0, width - count)) + self
  }
}

/// The `--ignore` option of `predict` and `evaluate`, which read only the model's columns.
struct IgnoredColumns: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "Columns to skip, comma-separated; a name in double quotes is taken as written, commas and edge spaces included. Accepted for symmetry with train: columns the model does not use are never read, and one that is not in the file is passed over.",
      valueName: "columns"))
  var ignore: [String] = []

  func validate() throws {
    _ = try ColumnList.names(ignore)
  }

  /// The column names given (see ``ColumnList/names(_:)``); validation has refused an
  /// argument they cannot be read from.
  var names: [String] { (try? ColumnList.names(ignore)) ?? [] }
}
