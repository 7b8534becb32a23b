/// The command line as the system passed it: Swift decodes arguments as UTF-8 and replaces
/// invalid bytes with U+FFFD, so a file name that is not UTF-8 (`caf\xe9.csv`) would silently
/// become another name — a file that does not exist, or another file to overwrite.
enum ArgumentEncoding {
  /// The first argument (1-based, after the program name) that is not valid UTF-8, with its
  /// bytes shown as escapes, or nil.
  static func firstInvalidArgument() -> (index: Int, shown: String)? {
    for index in 1..<Int(CommandLine.argc) {
      guard let pointer = CommandLine.unsafeArgv[index] else { continue }
      if String(validatingCString: pointer) == nil {
        var shown = ""
        var p = pointer
        while p.pointee != 0 {
          let byte = UInt8(bitPattern: p.pointee)
          shown += byte >= 0x20 && byte < 0x7F ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16, uppercase: true)
          p += 1
        }
        return (index, shown)
      }
    }
    return nil
  }

  /// The one-line error for an argument that is not UTF-8.
  static func message(index: Int, shown: String) -> String {
    "Error: argument \(index) (\(shown)) is not valid UTF-8; bump reads file names and values as UTF-8 text, "
      + "so rename the file (or use a link with a UTF-8 name)"
  }
}
