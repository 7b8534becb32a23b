extension CSVFile {
  /// Writes CSV rows as they are produced, to a file or to standard output, holding at most
  /// about ``bufferSize`` bytes of text: memory does not grow with the number of rows.
  ///
  /// Fields are quoted as ``CSVFile`` quotes them. A file is written as
  /// ``CSVFile/write(path:header:rows:)`` writes it: to a temporary file renamed over the
  /// path by ``finish()`` (atomically; devices and FIFOs in place). A writer dropped before
  /// ``finish()``, or one whose write failed, leaves the path untouched and no temporary file.
  /// Not thread-safe: one writer belongs to one thread at a time.
  public final class Writer {
    /// Bytes of text collected before they are written.
    public static let bufferSize = 1 << 20

    private let file: OutputFile
    private let columns: Int
    private var buffer: [UInt8] = []
    /// Data rows written so far (the header not counted).
    public private(set) var rowCount = 0

    /// Starts a CSV file at `path` (or standard output when `path` is nil or `-`) with the
    /// `header` line.
    ///
    /// - Throws: ``DataError/writeFailed(path:operation:reason:)`` when the path cannot be
    ///   written (a directory, a dangling link, a read-only file, a missing folder).
    public init(path: String?, header: [String]) throws {
      do {
        file = path == nil || path == "-" ? OutputFile.standardOutput() : try OutputFile(path: path!, requireDirectorySync: false)
      } catch {
        throw CSVFile.writeError(error)
      }
      columns = header.count
      buffer.reserveCapacity(Self.bufferSize + 4096)
      try append(header)
    }

    /// Appends one row of text fields.
    ///
    /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` unless the row has one
    ///   field per header name; ``DataError/writeFailed(path:operation:reason:)``.
    public func write(row: [String]) throws {
      guard row.count == columns else {
        throw BumpKitError.invalidArgument(
          name: "CSVFile.Writer row \(rowCount)", value: "\(row.count) fields",
          reason: "needs one per header name (\(columns))")
      }
      try append(row)
      rowCount += 1
    }

    /// Writes what is buffered and makes the file final (renames it over the path).
    ///
    /// - Throws: ``DataError/writeFailed(path:operation:reason:)``.
    public func finish() throws { try finish(beforeRename: {}) }

    /// ``finish()`` with a last check before the rename: an error `beforeRename` throws
    /// abandons the output (the path keeps its old file) and is rethrown.
    package func finish(beforeRename: () throws -> Void) throws {
      try flush()
      do {
        try file.commit(beforeRename: beforeRename)
      } catch let failure as AtomicWriteFailure {
        throw CSVFile.writeError(failure)
      }
    }

    /// Writes what is buffered now (``finish()`` does it too): a caller that holds signals
    /// back during ``finish()`` calls this first, so that a write blocked on a slow reader
    /// can still be interrupted.
    ///
    /// - Throws: ``DataError/writeFailed(path:operation:reason:)``.
    package func writeBuffered() throws { try flush() }

    /// The temporary file being written ("" when the output is written in place).
    package var temporaryPath: String { file.temporaryPath }

    private func append(_ row: [String]) throws {
      for (index, field) in row.enumerated() {
        if index > 0 { buffer.append(UInt8(ascii: ",")) }
        CSVFile.appendField(field, to: &buffer)
      }
      buffer.append(UInt8(ascii: "\n"))
      if buffer.count >= Self.bufferSize { try flush() }
    }

    private func flush() throws {
      guard !buffer.isEmpty else { return }
      do {
        try file.write(buffer)
      } catch {
        throw CSVFile.writeError(error)
      }
      buffer.removeAll(keepingCapacity: true)
    }
  }
}
