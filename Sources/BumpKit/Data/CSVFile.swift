#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Writing CSV files (predictions, generated datasets), atomically.
///
/// Files are UTF-8 with LF line endings and a final line break. A field is quoted, with
/// inner quotes doubled (RFC 4180), when it holds a comma, a double quote or a line break,
/// starts or ends with a space or tab (which the reader would trim), or is empty; so header
/// names and class names round-trip through ``Dataset/loadCSV(path:target:task:features:ignoring:classes:byteLimit:)``.
/// Numbers are never quoted.
///
/// The encoder is our own rather than CSV.swift's `CSVWriter`, which writes through an
/// `OutputStream` one byte per call and took about 10 s for a 21 MB file here; quoting
/// rules this small are not worth that.
///
/// **Atomic.** The bytes go to a new temporary file in the same directory
/// (`.<name>.tmp-<random>`), which is `fsync`ed and renamed over `path`; then the directory is
/// synced. Readers see the old file or the complete new one, never a partial file; on
/// failure the temporary file is removed and `path` is untouched. A file that is replaced
/// keeps its permissions; a symbolic link is followed, not replaced. A character device or
/// FIFO (`/dev/null`, a named pipe, `/dev/stdout`) is written in place, since renaming over
/// it would replace the device; a directory, a dangling link and a read-only file are refused.
public enum CSVFile {
  /// Writes `header` and then `rows` of text fields.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` if a row does not have
  ///   one field per header name; ``DataError/writeFailed(path:operation:reason:)``.
  public static func write(path: String, header: [String], rows: [[String]]) throws {
    if let bad = rows.firstIndex(where: { $0.count != header.count }) {
      throw BumpKitError.invalidArgument(
        name: "CSVFile.write row \(bad)", value: "\(rows[bad].count) fields", reason: "needs one per header name (\(header.count))")
    }
    try writeAtomically(encode(header: header, rows: rows), to: path)
  }

  /// Writes `header` and then one line per row of `matrix`, each number in the shortest form
  /// that parses back to the same value (Swift's `description`, e.g. `0.1`, `1e-05`).
  ///
  /// Non-finite values are written as `nan`, `inf` or `-inf` (a prediction may be one), but
  /// ``Dataset/loadCSV(path:target:task:features:ignoring:classes:byteLimit:)`` will refuse to read them.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` unless
  ///   `header.count == matrix.columns`; ``DataError/writeFailed(path:operation:reason:)``.
  public static func write<Element: MatrixScalar>(
    path: String, header: [String], matrix: Matrix<Element>
  ) throws {
    guard header.count == matrix.columns else {
      throw BumpKitError.invalidArgument(
        name: "CSVFile.write header", value: "\(header.count) names", reason: "needs one per column (\(matrix.columns))")
    }
    let rows = (0..<matrix.rows).map { matrix.row($0).map(format) }
    try writeAtomically(encode(header: header, rows: rows), to: path)
  }

  /// `header` and `rows` as CSV text, quoted as the files are: what ``write(path:header:rows:)``
  /// would write, for standard output or a test. A row may have any number of fields.
  public static func text(header: [String], rows: [[String]]) -> String {
    String(decoding: encode(header: header, rows: rows), as: UTF8.self)
  }

  /// The text a number is written as: Swift's shortest round-trip `description`.
  public static func format<Element: MatrixScalar>(_ value: Element) -> String {
    value.description
  }

  // MARK: - Implementation

  private static func encode(header: [String], rows: [[String]]) -> [UInt8] {
    var bytes: [UInt8] = []
    for row in [header] + rows {
      for (index, field) in row.enumerated() {
        if index > 0 { bytes.append(UInt8(ascii: ",")) }
        appendField(field, to: &bytes)
      }
      bytes.append(UInt8(ascii: "\n"))
    }
    return bytes
  }

  static func appendField(_ field: String, to bytes: inout [UInt8]) {
    let utf8 = field.utf8
    let needsQuotes =
      utf8.isEmpty || utf8.first == UInt8(ascii: " ") || utf8.first == UInt8(ascii: "\t")
      || utf8.last == UInt8(ascii: " ") || utf8.last == UInt8(ascii: "\t")
      || utf8.contains(where: {
        $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n")
          || $0 == UInt8(ascii: "\r")
      })
    guard needsQuotes else {
      bytes.append(contentsOf: utf8)
      return
    }
    bytes.append(UInt8(ascii: "\""))
    for byte in utf8 {
      if byte == UInt8(ascii: "\"") { bytes.append(byte) }
      bytes.append(byte)
    }
    bytes.append(UInt8(ascii: "\""))
  }

  private static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
    do {
      // The data is in place after the rename; a directory that cannot be synced only
      // weakens durability.
      try AtomicFile.write(bytes, to: path, requireDirectorySync: false)
    } catch let f as AtomicWriteFailure {
      throw writeError(f)
    }
  }

  /// The ``DataError/writeFailed(path:operation:reason:)`` for a failed step.
  static func writeError(_ f: AtomicWriteFailure) -> DataError {
    let path = f.path
    if path == OutputFile.standardOutputName { return .standardOutputFailed(reason: f.reason) }
    switch f.step {
    case .emptyPath, .pathIsDirectory, .open, .danglingLink, .readOnly, .unsupportedFileType:
      return DataError.writeFailed(path: path, operation: "write", reason: f.reason)
    case .createTemporary:
      return DataError.writeFailed(path: path, operation: "create a temporary file in \(f.directory)", reason: f.reason)
    case .write where f.temporaryPath.isEmpty, .fsync where f.temporaryPath.isEmpty, .close where f.temporaryPath.isEmpty:
      return DataError.writeFailedInPlace(path: path, reason: f.reason)
    case .write:
      return DataError.writeFailed(path: path, operation: "write \(f.temporaryPath)", reason: f.reason)
    case .fsync: return DataError.writeFailed(path: path, operation: "fsync \(f.temporaryPath)", reason: f.reason)
    case .close: return DataError.writeFailed(path: path, operation: "close \(f.temporaryPath)", reason: f.reason)
    case .rename, .openDirectory, .fsyncDirectory:
      return DataError.writeFailed(path: path, operation: "rename the temporary file over it", reason: f.reason)
    }
  }
}
