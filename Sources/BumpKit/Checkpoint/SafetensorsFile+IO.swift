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
  /// Reads exactly the file's size as reported by `fstat` (never a size taken from the
  /// header), then validates it as ``decode(_:)`` does.
  ///
  /// - Throws: ``SafetensorsError/io(operation:path:errno:)`` if the file cannot be read, or
  ///   any validation error of ``decode(_:)``.
  public static func read(from path: String) throws -> SafetensorsFile {
    try decode(readAllBytes(path))
  }

  /// Writes the file to `path` atomically: readers see either the old file or the complete
  /// new one, never a partial file, even if the process or the machine stops mid-write.
  ///
  /// Writes ``encode()`` to a new temporary file in the same directory (named
  /// `.<name>.tmp-<random>`), `fsync`s it, renames it over `path` and `fsync`s the directory.
  /// On failure the temporary file is removed and the file at `path` is left untouched. A
  /// symbolic link at `path` is replaced by a regular file.
  ///
  /// - Throws: ``SafetensorsError/io(operation:path:errno:)``.
  public func write(to path: String) throws {
    try write(to: path, beforeRename: {})
  }

  /// ``write(to:)`` with a hook that runs after the temporary file is written and synced but
  /// before it is renamed over `path`.
  ///
  /// Meant for tests that simulate a crash at the worst moment: if `beforeRename` throws, the
  /// write stops there, the temporary file is removed, `path` is untouched, and the error is
  /// rethrown.
  public func write(to path: String, beforeRename: () throws -> Void) throws {
    let bytes = encode()
    let (directory, name) = try Self.split(path)
    var temporaryPath = ""
    var descriptor: Int32 = -1
    for _ in 0..<16 {
      temporaryPath =
        "\(directory)/.\(name).tmp-\(String(UInt64.random(in: .min ... .max), radix: 36))"
      descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
      if descriptor >= 0 || errno != EEXIST { break }
    }
    guard descriptor >= 0 else {
      throw SafetensorsError.io(operation: "create a temporary file for", path: path, errno: errno)
    }
    var renamed = false
    defer {
      if descriptor >= 0 { close(descriptor) }
      if !renamed { unlink(temporaryPath) }
    }

    try bytes.withUnsafeBytes { raw in
      var written = 0
      while written < raw.count {
        let result = systemWrite(descriptor, raw.baseAddress! + written, raw.count - written)
        if result < 0 {
          if errno == EINTR { continue }
          throw SafetensorsError.io(operation: "write", path: temporaryPath, errno: errno)
        }
        written += result
      }
    }
    guard fsync(descriptor) == 0 else {
      throw SafetensorsError.io(operation: "fsync", path: temporaryPath, errno: errno)
    }
    let closed = close(descriptor)
    descriptor = -1
    guard closed == 0 else {
      throw SafetensorsError.io(operation: "close", path: temporaryPath, errno: errno)
    }

    try beforeRename()

    guard rename(temporaryPath, path) == 0 else {
      throw SafetensorsError.io(operation: "rename a temporary file over", path: path, errno: errno)
    }
    renamed = true
    try Self.syncDirectory(directory)
  }

  /// The directory and last component of `path`; the directory is "." for a bare name.
  private static func split(_ path: String) throws -> (directory: String, name: String) {
    guard let slash = path.lastIndex(of: "/") else {
      guard !path.isEmpty else {
        throw SafetensorsError.io(operation: "write to", path: path, errno: ENOENT)
      }
      return (".", path)
    }
    let name = String(path[path.index(after: slash)...])
    guard !name.isEmpty else {
      throw SafetensorsError.io(operation: "write to", path: path, errno: EISDIR)
    }
    let directory = String(path[..<slash])
    return (directory.isEmpty ? "/" : directory, name)
  }

  /// Makes a rename in `directory` durable. File systems that cannot sync a directory
  /// (EINVAL) are tolerated: there the rename is as durable as the system makes it.
  private static func syncDirectory(_ directory: String) throws {
    let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else {
      throw SafetensorsError.io(operation: "open the directory", path: directory, errno: errno)
    }
    defer { close(descriptor) }
    if fsync(descriptor) != 0, errno != EINVAL {
      throw SafetensorsError.io(operation: "fsync the directory", path: directory, errno: errno)
    }
  }

  private static func readAllBytes(_ path: String) throws -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
      throw SafetensorsError.io(operation: "open", path: path, errno: errno)
    }
    defer { close(descriptor) }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else {
      throw SafetensorsError.io(operation: "stat", path: path, errno: errno)
    }
    if (status.st_mode & S_IFMT) == S_IFDIR {
      throw SafetensorsError.io(operation: "read", path: path, errno: EISDIR)
    }
    let size = Int(status.st_size)
    var readError: Int32 = 0
    let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
      // A file that shrinks while being read yields what is there; one that grows, its
      // first `size` bytes: either way decode sees a consistent byte count.
      while initialized < size {
        let result = systemRead(descriptor, buffer.baseAddress! + initialized, size - initialized)
        if result < 0 {
          if errno == EINTR { continue }
          readError = errno
          return
        }
        if result == 0 { return }
        initialized += result
      }
    }
    guard readError == 0 else {
      throw SafetensorsError.io(operation: "read", path: path, errno: readError)
    }
    return bytes
  }
}

// The C functions, named apart from `SafetensorsFile.write(to:)` and `read(from:)`, which
// shadow them inside the extension.
private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
  write(descriptor, buffer, count)
}

private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int
{
  read(descriptor, buffer, count)
}
