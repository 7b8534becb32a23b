import SystemPackage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

extension SafetensorsFile {
  /// Reads and decodes the safetensors file at `path`.
  ///
  /// Reads the 8-byte length and the header first and validates them as ``decode(_:)`` does,
  /// against the file's size as reported by `fstat` (never a size taken from the header);
  /// only then reads the data buffer, whose every byte the header has named. A file whose
  /// header is bad costs the header's bytes, not the file's.
  ///
  /// - Throws: ``SafetensorsError/io(operation:path:errno:)`` if the file cannot be read,
  ///   ``SafetensorsError/notARegularFile(path:kind:)`` for a device, pipe or socket (whose
  ///   size cannot be known before reading), or any validation error of ``decode(_:)``
  ///   wrapped in ``SafetensorsError/malformedFile(path:error:)``, which names the file
  ///   (``SafetensorsError/contentError`` gives the bare error).
  public static func read(from path: String) throws -> SafetensorsFile {
    try withHeader(at: path) { _, readFile in try readFile() }
  }

  /// Opens the file at `path`, reads and validates its 8-byte length and header (as
  /// ``read(from:)`` does) and passes the header to `body` together with a function that
  /// reads the data buffer and returns the whole file. Nothing after the header is read
  /// unless `body` calls that function, so a caller can refuse a file from its header alone:
  /// a file whose header is bad, or not what the caller wants, costs the header's bytes.
  ///
  /// - Throws: ``SafetensorsError/io(operation:path:errno:)`` if the file cannot be read,
  ///   ``SafetensorsError/notARegularFile(path:kind:)``, any validation error of
  ///   ``decode(_:)`` (and any ``SafetensorsError`` of `body`) wrapped in
  ///   ``SafetensorsError/malformedFile(path:error:)``, or what else `body` throws.
  static func withHeader<R>(
    at path: String, _ body: (Layout, _ readFile: () throws -> SafetensorsFile) throws -> R
  ) throws -> R {
    do {
      return try withHeaderUnnamed(at: path, body)
    } catch let error as SafetensorsError {
      throw error.naming(path: path)
    }
  }

  /// ``withHeader(at:_:)`` with its validation errors bare, not yet naming the file.
  private static func withHeaderUnnamed<R>(
    at path: String, _ body: (Layout, _ readFile: () throws -> SafetensorsFile) throws -> R
  ) throws -> R {
    // Non-blocking, so that opening a pipe with no writer returns (to be refused below)
    // instead of waiting; a regular file reads the same either way.
    let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard descriptor >= 0 else {
      throw SafetensorsError.io(operation: "open", path: path, errno: errno)
    }
    defer { close(descriptor) }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else {
      throw SafetensorsError.io(operation: "stat", path: path, errno: errno)
    }
    let type = status.st_mode & S_IFMT
    if type == S_IFDIR {
      throw SafetensorsError.io(operation: "read", path: path, errno: EISDIR)
    }
    // The header is checked against the file's size, which only a regular file has: a
    // device such as /dev/zero reports 0 bytes and never ends, a pipe has no size at all.
    guard type == S_IFREG else {
      let kind =
        switch type {
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFIFO: "a pipe"
        case S_IFSOCK: "a socket"
        default: "a special file"
        }
      throw SafetensorsError.notARegularFile(path: path, kind: kind)
    }
    let size = Int(status.st_size)
    let prefix = try readBytes(descriptor, count: min(size, 8), path: path)
    guard prefix.count >= 8 else { throw SafetensorsError.truncatedFile(byteCount: prefix.count) }
    var claimed: UInt64 = 0
    for i in (0..<8).reversed() { claimed = claimed << 8 | UInt64(prefix[i]) }
    let headerLength = try checkedHeaderLength(claimed, fileSize: size)
    let header = try readBytes(descriptor, count: headerLength, path: path)
    guard header.count == headerLength else {
      throw SafetensorsError.headerLengthExceedsFile(length: claimed, available: header.count)
    }
    let dataLength = size - 8 - headerLength
    let layout = try header.withUnsafeBufferPointer {
      try decodeLayout(header: $0, bufferLength: dataLength)
    }
    return try body(layout) {
      let data = try readBytes(descriptor, count: dataLength, path: path)
      guard data.count == dataLength else {
        // The file shrank while being read: check the header against what is there.
        throw SafetensorsError.bufferNotCovered(
          last: nil, coveredUpTo: dataLength, bufferLength: data.count)
      }
      return data.withUnsafeBufferPointer { assemble(layout, data: $0) }
    }
  }

  /// Writes the file to `path` atomically: readers see either the old file or the complete
  /// new one, never a partial file, even if the process or the machine stops mid-write.
  ///
  /// Writes ``encode()`` to a new temporary file in the same directory (named
  /// `.<name>.tmp-<random>`), `fsync`s it, renames it over `path` and `fsync`s the directory.
  /// On failure the temporary file is removed and the file at `path` is left untouched. A
  /// symbolic link at `path` is followed (the file it names is replaced, keeping its
  /// permissions); a character device or FIFO is written in place (a FIFO, as any write to
  /// one, waits until a process opens it for reading); a directory, a dangling link or a
  /// read-only file is refused.
  ///
  /// A file whose header would exceed ``maximumHeaderLength`` (100 MB), which
  /// ``read(from:)`` refuses, is not written: nothing at `path` changes.
  ///
  /// - Throws: ``SafetensorsError/headerTooLarge(length:limit:)`` for such a header (checked
  ///   before anything is written); ``SafetensorsError/io(operation:path:errno:)``.
  public func write(to path: String) throws {
    try write(to: path, beforeRename: {})
  }

  /// ``write(to:)`` with a hook that runs after the temporary file is written and synced but
  /// before it is renamed over `path`.
  ///
  /// A test seam (SPI `Testing`, not public API) for simulating a crash at the worst moment: if `beforeRename` throws, the
  /// write stops there, the temporary file is removed, `path` is untouched, and the error is
  /// rethrown.
  @_spi(Testing) public func write(to path: String, beforeRename: () throws -> Void) throws {
    let headerLength = encodedHeader().count
    guard headerLength <= Self.maximumHeaderLength else {
      throw SafetensorsError.headerTooLarge(length: UInt64(headerLength), limit: Self.maximumHeaderLength)
    }
    do {
      try AtomicFile.write(encode(), to: path, requireDirectorySync: true, beforeRename: beforeRename)
    } catch let failure as AtomicWriteFailure {
      let f = failure
      // A device or FIFO is written in place, with no temporary file: the path itself.
      let written = f.temporaryPath.isEmpty ? f.path : f.temporaryPath
      switch f.step {
      case .emptyPath, .pathIsDirectory, .open, .danglingLink, .readOnly, .unsupportedFileType:
        throw SafetensorsError.io(operation: "write to", path: f.path, errno: f.errno)
      case .createTemporary:
        throw SafetensorsError.io(operation: "create a temporary file for", path: f.path, errno: f.errno)
      case .write: throw SafetensorsError.io(operation: "write", path: written, errno: f.errno)
      case .fsync: throw SafetensorsError.io(operation: "fsync", path: written, errno: f.errno)
      case .close: throw SafetensorsError.io(operation: "close", path: written, errno: f.errno)
      case .rename:
        throw SafetensorsError.io(operation: "rename a temporary file over", path: f.path, errno: f.errno)
      case .openDirectory:
        throw SafetensorsError.io(operation: "open the directory", path: f.directory, errno: f.errno)
      case .fsyncDirectory:
        throw SafetensorsError.io(operation: "fsync the directory", path: f.directory, errno: f.errno)
      }
    }
  }

  /// Up to `count` bytes from the descriptor's current position (fewer at the end of file).
  private static func readBytes(_ descriptor: Int32, count: Int, path: String) throws -> [UInt8] {
    do {
      return try FileDescriptor(rawValue: descriptor).read(upTo: count)
    } catch {
      throw SafetensorsError.io(operation: "read", path: path, errno: error.rawValue)
    }
  }
}
