import SystemPackage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Writes whole files atomically: readers see either the old file or the complete new one.
///
/// The bytes go to a new temporary file in the target's directory (`.<name>.tmp-<random>`,
/// created exclusively), which is `fsync`ed, closed, renamed over the target, and followed
/// by an `fsync` of the directory. On any failure the temporary file is removed and the
/// target is untouched. Checkpoints and CSV files share this; each maps an
/// ``AtomicWriteFailure`` onto its own error type.
enum AtomicFile {
  /// - Parameters:
  ///   - requireDirectorySync: whether a directory that cannot be synced is an error (EINVAL,
  ///     "cannot sync directories", is always tolerated) or only weakens durability.
  ///   - beforeRename: runs after the temporary file is complete and synced, before the
  ///     rename; an error it throws is rethrown as is (tests use it to simulate a crash).
  /// - Throws: ``AtomicWriteFailure``, or what `beforeRename` throws.
  static func write(
    _ bytes: [UInt8], to path: String, requireDirectorySync: Bool,
    beforeRename: () throws -> Void = {}
  ) throws {
    let (directory, name) = try split(path)
    func failure(_ step: AtomicWriteFailure.Step, _ temporary: String, _ code: Int32) -> AtomicWriteFailure {
      AtomicWriteFailure(step: step, path: path, temporaryPath: temporary, directory: directory, errno: code)
    }
    var temporaryPath = ""
    var descriptor: Int32 = -1
    for _ in 0..<16 {
      temporaryPath = "\(directory)/.\(name).tmp-\(String(UInt64.random(in: .min ... .max), radix: 36))"
      descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
      if descriptor >= 0 || errno != EEXIST { break }
    }
    guard descriptor >= 0 else { throw failure(.createTemporary, temporaryPath, errno) }
    var renamed = false
    defer {
      if descriptor >= 0 { close(descriptor) }
      if !renamed { unlink(temporaryPath) }
    }
    do {
      // Retries short writes and calls interrupted by a signal (EINTR).
      _ = try FileDescriptor(rawValue: descriptor).writeAll(bytes)
    } catch {
      throw failure(.write, temporaryPath, (error as? Errno)?.rawValue ?? EIO)
    }
    guard fsync(descriptor) == 0 else { throw failure(.fsync, temporaryPath, errno) }
    let closed = close(descriptor)
    descriptor = -1
    guard closed == 0 else { throw failure(.close, temporaryPath, errno) }

    try beforeRename()

    guard rename(temporaryPath, path) == 0 else { throw failure(.rename, temporaryPath, errno) }
    renamed = true

    let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard directoryDescriptor >= 0 else {
      if requireDirectorySync { throw failure(.openDirectory, temporaryPath, errno) }
      return
    }
    defer { close(directoryDescriptor) }
    if fsync(directoryDescriptor) != 0, errno != EINVAL, requireDirectorySync {
      throw failure(.fsyncDirectory, temporaryPath, errno)
    }
  }

  /// The directory ("." for a bare name) and the last component of `path`.
  private static func split(_ path: String) throws -> (directory: String, name: String) {
    guard let slash = path.lastIndex(of: "/") else {
      guard !path.isEmpty else {
        throw AtomicWriteFailure(step: .emptyPath, path: path, temporaryPath: "", directory: "", errno: ENOENT)
      }
      return (".", path)
    }
    let name = String(path[path.index(after: slash)...])
    guard !name.isEmpty else {
      throw AtomicWriteFailure(step: .pathIsDirectory, path: path, temporaryPath: "", directory: "", errno: EISDIR)
    }
    let directory = String(path[..<slash])
    return (directory.isEmpty ? "/" : directory, name)
  }
}

/// The step of an atomic write that failed, and the system error it failed with.
struct AtomicWriteFailure: Error {
  enum Step { case emptyPath, pathIsDirectory, createTemporary, write, fsync, close, rename, openDirectory, fsyncDirectory }
  let step: Step
  /// The target path.
  let path: String
  /// The temporary file (empty before it exists).
  let temporaryPath: String
  /// The target's directory.
  let directory: String
  let errno: Int32
}
