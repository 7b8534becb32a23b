#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Unbuffered writes to standard output and standard error.
///
/// The training commands write progress, which must appear at once and in order with the
/// summary that follows, so everything they print goes straight to the file descriptor
/// (`print` would buffer standard output when it is not a terminal).
enum Console {
  /// Whether standard output is a terminal (progress is then redrawn in place).
  static var outputIsTerminal: Bool { isatty(STDOUT_FILENO) != 0 }

  /// Writes `text` to standard output as is.
  static func write(_ text: String) { write(text, to: STDOUT_FILENO) }

  /// Writes `text` and a line break to standard output.
  static func line(_ text: String = "") { write(text + "\n", to: STDOUT_FILENO) }

  /// Writes `text` and a line break to standard error.
  static func error(_ text: String) { write(text + "\n", to: STDERR_FILENO) }

  private static func write(_ text: String, to descriptor: Int32) {
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
      let written = bytes.withUnsafeBytes { buffer in
        posixWrite(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
      }
      if written < 0 {
        if errno == EINTR { continue }
        return  // a closed pipe: nothing sensible is left to do with the text
      }
      offset += written
    }
  }
}

/// The system `write(2)`, under a name that `Console.write` does not shadow.
private func posixWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
  write(descriptor, bytes, count)
}
