import ArgumentParser
import Foundation

/// Column names given to `--ignore`: comma-separated, the option repeatable.
enum ColumnList {
  /// The names in `arguments` split at commas, blanks dropped, in order, without repeats.
  static func names(_ arguments: [String]) -> [String] {
    var seen = Set<String>()
    var names: [String] = []
    for argument in arguments {
      for part in argument.split(separator: ",") {
        let name = String(part).trimmingCharacters(in: .whitespaces)
        if !name.isEmpty, seen.insert(name).inserted { names.append(name) }
      }
    }
    return names
  }
}

/// The `--ignore` option of `predict` and `evaluate`, which read only the model's columns.
struct IgnoredColumns: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "Columns to skip, comma-separated (accepted for symmetry with train: columns the model does not use are never read).",
      valueName: "columns"))
  var ignore: [String] = []

  /// The column names given (see ``ColumnList/names(_:)``).
  var names: [String] { ColumnList.names(ignore) }
}
