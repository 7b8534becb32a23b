import SystemPackage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A file being written, in one of two ways chosen from what is at its path when it opens:
///
/// - **Replaced atomically** — a new path, or a regular file (also one reached through a
///   symbolic link, which is followed, not replaced): the bytes go to a new temporary file
///   beside the target (`.<name>.tmp-<random>`, created exclusively, its name never longer
///   than the longest the target's own name allows), which ``commit(beforeRename:)`` syncs
///   and renames over the target, then syncs the directory. Readers see the old file or the
///   complete new one; a file that is replaced keeps its permission bits (and, for root, its
///   owner). Until the commit the target is untouched, and an `OutputFile` dropped before it
///   removes its temporary file.
/// - **Written in place** — a character device or FIFO (`/dev/null`, a named pipe), standard
///   output (``standardOutput``, or the paths `/dev/stdout`, `/dev/fd/1`,
///   `/proc/self/fd/1`): there is nothing to replace, and renaming a file over a device
///   would replace the device itself.
///
/// Refused, before anything is written: a directory, a block device or socket, a symbolic
/// link whose target does not exist, and a regular file without write permission (also for
/// root, who could replace it).
package final class OutputFile {
  /// The path as given ("standard output" for ``standardOutput``).
  package let path: String
  /// The file renamed over, after following symbolic links; nil when writing in place.
  private let target: String?
  /// The directory holding ``target``.
  private let directory: String
  /// The temporary file, or "" when writing in place.
  private(set) var temporaryPath: String = ""
  private var descriptor: Int32
  private let closesDescriptor: Bool
  private let requireDirectorySync: Bool
  private var done = false

  /// Whether bytes go straight to the target (a device, FIFO or inherited descriptor), so
  /// that a failed write may leave part of the output there.
  package var writesInPlace: Bool { target == nil }

  /// Whether the output goes to standard output.
  package var isStandardOutput: Bool { path == Self.standardOutputName }

  static let standardOutputName = "standard output"

  /// Standard output, written in place.
  package static func standardOutput() -> OutputFile { OutputFile(standardOutputDescriptor: STDOUT_FILENO) }

  private init(standardOutputDescriptor: Int32) {
    path = Self.standardOutputName
    target = nil
    directory = ""
    descriptor = standardOutputDescriptor
    closesDescriptor = false
    requireDirectorySync = false
  }

  /// Opens `path` for writing as described above.
  ///
  /// - Parameter requireDirectorySync: whether a directory that cannot be synced after the
  ///   rename is an error (EINVAL, "cannot sync directories", is always tolerated) or only
  ///   weakens durability.
  /// - Throws: ``AtomicWriteFailure``.
  package init(path: String, requireDirectorySync: Bool) throws(AtomicWriteFailure) {
    self.path = path
    self.requireDirectorySync = requireDirectorySync
    func failure(_ step: AtomicWriteFailure.Step, _ code: Int32, directory: String = "") -> AtomicWriteFailure {
      AtomicWriteFailure(step: step, path: path, temporaryPath: "", directory: directory, errno: code)
    }
    guard !path.isEmpty else { throw failure(.emptyPath, ENOENT) }
    if let inherited = Self.inheritedDescriptor(path) {
      let copy = dup(inherited)
      guard copy >= 0 else { throw failure(.open, errno) }
      (target, directory, descriptor, closesDescriptor) = (nil, "", copy, true)
      return
    }
    var linkStatus = stat()
    let exists = lstat(path, &linkStatus) == 0
    if !exists, errno != ENOENT { throw failure(.open, errno) }
    var status = linkStatus
    if exists, linkStatus.st_mode & S_IFMT == S_IFLNK {
      guard stat(path, &status) == 0 else {
        throw failure(errno == ENOENT ? .danglingLink : .open, errno)
      }
    }
    let kind = exists ? status.st_mode & S_IFMT : 0
    switch kind {
    case S_IFCHR, S_IFIFO:
      let fd = open(path, O_WRONLY | O_CLOEXEC)
      guard fd >= 0 else { throw failure(.open, errno) }
      (target, directory, descriptor, closesDescriptor) = (nil, "", fd, true)
      return
    case S_IFDIR:
      throw failure(.pathIsDirectory, EISDIR)
    case S_IFBLK:
      throw failure(.unsupportedFileType("a block device"), EINVAL)
    case S_IFSOCK:
      throw failure(.unsupportedFileType("a socket"), EINVAL)
    default:
      break
    }
    // A new file, or a regular one (possibly behind links) to replace.
    var resolved = path
    if exists, linkStatus.st_mode & S_IFMT == S_IFLNK {
      guard let real = realpath(path, nil) else { throw failure(.open, errno) }
      resolved = String(cString: real)
      free(real)
    }
    let (directory, name) = try Self.split(resolved, original: path)
    self.directory = directory
    target = resolved
    if exists {
      // Root could rename over a file it may not write; a read-only file is not ours to replace.
      if status.st_mode & 0o222 == 0 {
        throw failure(.readOnly, EACCES, directory: directory)
      }
      // A read-only file system (EROFS) or an immutable file (EPERM) says so itself.
      if access(resolved, W_OK) != 0 {
        let code = errno
        throw failure(code == EACCES ? .readOnly : .open, code, directory: directory)
      }
    } else if path.hasSuffix("/") {
      throw failure(.pathIsDirectory, EISDIR)
    }
    var fd: Int32 = -1
    for _ in 0..<16 {
      temporaryPath = "\(directory)/\(Self.temporaryName(for: name))"
      fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
      if fd >= 0 || errno != EEXIST { break }
    }
    guard fd >= 0 else {
      let code = errno
      temporaryPath = ""
      throw AtomicWriteFailure(step: .createTemporary, path: path, temporaryPath: "", directory: directory, errno: code)
    }
    descriptor = fd
    closesDescriptor = true
    if exists {
      // Keep the replaced file's permissions (0600 stays private) and, where allowed, owner.
      _ = fchmod(fd, status.st_mode & 0o7777)
      if geteuid() == 0, status.st_uid != geteuid() || status.st_gid != getegid() {
        _ = fchown(fd, status.st_uid, status.st_gid)
      }
    }
  }

  deinit {
    if !done { abandon() }
  }

  /// Appends `bytes`, retrying short writes and calls interrupted by a signal.
  ///
  /// - Throws: ``AtomicWriteFailure`` with step `.write`; the output is then abandoned.
  package func write(_ bytes: UnsafeRawBufferPointer) throws(AtomicWriteFailure) {
    precondition(!done, "OutputFile.write after commit")
    do {
      _ = try FileDescriptor(rawValue: descriptor).writeAll(bytes)
    } catch {
      let code = (error as? Errno)?.rawValue ?? EIO
      abandon()
      throw AtomicWriteFailure(step: .write, path: path, temporaryPath: temporaryPath, directory: directory, errno: code)
    }
  }

  /// Appends `bytes`.
  ///
  /// - Throws: ``AtomicWriteFailure`` with step `.write`.
  package func write(_ bytes: [UInt8]) throws(AtomicWriteFailure) {
    var failure: AtomicWriteFailure?
    bytes.withUnsafeBytes { raw in
      do throws(AtomicWriteFailure) { try write(raw) } catch { failure = error }
    }
    if let failure { throw failure }
  }

  /// Makes the output final: for a replaced file, syncs and closes the temporary file, runs
  /// `beforeRename`, renames it over the target and syncs the directory; for one written in
  /// place, closes it (standard output stays open).
  ///
  /// - Parameter beforeRename: runs after the temporary file is complete and synced, before
  ///   the rename; an error it throws is rethrown as is (tests use it to simulate a crash),
  ///   and the temporary file is removed.
  /// - Throws: ``AtomicWriteFailure``, or what `beforeRename` throws.
  package func commit(beforeRename: () throws -> Void = {}) throws {
    precondition(!done, "OutputFile.commit twice")
    func failure(_ step: AtomicWriteFailure.Step, _ code: Int32) -> AtomicWriteFailure {
      AtomicWriteFailure(step: step, path: path, temporaryPath: temporaryPath, directory: directory, errno: code)
    }
    guard let target else {
      done = true
      if closesDescriptor, close(descriptor) != 0, errno != EINTR { throw failure(.close, errno) }
      return
    }
    do {
      guard fsync(descriptor) == 0 else { throw failure(.fsync, errno) }
      let closed = close(descriptor)
      descriptor = -1
      guard closed == 0 else { throw failure(.close, errno) }
      try beforeRename()
      guard rename(temporaryPath, target) == 0 else { throw failure(.rename, errno) }
    } catch {
      abandon()
      throw error
    }
    done = true
    let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard directoryDescriptor >= 0 else {
      if requireDirectorySync { throw failure(.openDirectory, errno) }
      return
    }
    defer { close(directoryDescriptor) }
    if fsync(directoryDescriptor) != 0, errno != EINVAL, requireDirectorySync {
      throw failure(.fsyncDirectory, errno)
    }
  }

  /// Closes the file and removes the temporary one; the target stays as it was.
  package func abandon() {
    guard !done else { return }
    done = true
    if descriptor >= 0, closesDescriptor { close(descriptor) }
    descriptor = -1
    if !temporaryPath.isEmpty { unlink(temporaryPath) }
  }

  // MARK: - Names

  /// The descriptor that `/dev/stdout`-style paths name: writes go to the open descriptor
  /// (at its offset) instead of reopening or replacing what it points to.
  ///
  /// Matched by name (`/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`, spelled
  /// with any extra slashes or `.` components), and by identity: any path — a link, another
  /// spelling — that leads to the very file standard output or standard error is open on
  /// (`--output log.txt >> log.txt`) is written through that descriptor, so that nothing is
  /// renamed over a file the shell holds open.
  private static func inheritedDescriptor(_ path: String) -> Int32? {
    let components = path.split(separator: "/").filter { $0 != "." }
    let normal = path.hasPrefix("/") ? "/" + components.joined(separator: "/") : nil
    switch normal {
    case "/dev/stdout": return STDOUT_FILENO
    case "/dev/stderr": return STDERR_FILENO
    default: break
    }
    for prefix in ["/dev/fd/", "/proc/self/fd/"] {
      if let normal, normal.hasPrefix(prefix), let n = Int32(normal.dropFirst(prefix.count)), n >= 0 { return n }
    }
    var target = stat()
    guard stat(path, &target) == 0 else { return nil }
    for descriptor in [STDOUT_FILENO, STDERR_FILENO] {
      var open = stat()
      if fstat(descriptor, &open) == 0, open.st_dev == target.st_dev, open.st_ino == target.st_ino {
        return descriptor
      }
    }
    return nil
  }

  /// The longest file name the temporary name may have: the system's limit.
  static let nameLimit = 255

  /// `.<name>.tmp-<random>`, with `name` shortened (at a character boundary) where the whole
  /// would pass ``nameLimit``.
  static func temporaryName(for name: String) -> String {
    let suffix = ".tmp-" + String(UInt64.random(in: .min ... .max), radix: 36)
    let room = nameLimit - 1 - suffix.utf8.count
    var kept = Substring(name)
    while kept.utf8.count > room { kept.removeLast() }
    return "." + kept + suffix
  }

  /// The directory ("." for a bare name) and the last component of `path`.
  private static func split(_ path: String, original: String) throws(AtomicWriteFailure) -> (directory: String, name: String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let name = String(path[path.index(after: slash)...])
    guard !name.isEmpty else {
      throw AtomicWriteFailure(step: .pathIsDirectory, path: original, temporaryPath: "", directory: "", errno: EISDIR)
    }
    let directory = String(path[..<slash])
    return (directory.isEmpty ? "/" : directory, name)
  }
}

/// Whole-file writes through ``OutputFile``. Checkpoints and CSV files share this; each maps
/// an ``AtomicWriteFailure`` onto its own error type.
enum AtomicFile {
  /// Writes `bytes` to `path` as ``OutputFile`` does: atomically for regular files.
  ///
  /// - Throws: ``AtomicWriteFailure``, or what `beforeRename` throws.
  static func write(
    _ bytes: [UInt8], to path: String, requireDirectorySync: Bool,
    beforeRename: () throws -> Void = {}
  ) throws {
    let file = try OutputFile(path: path, requireDirectorySync: requireDirectorySync)
    try file.write(bytes)
    try file.commit(beforeRename: beforeRename)
  }
}

/// The step of a file write that failed, and the system error it failed with.
package struct AtomicWriteFailure: Error {
  /// Where the write failed.
  package enum Step: Equatable, Sendable {
    case emptyPath, pathIsDirectory, open, createTemporary, write, fsync, close, rename, openDirectory, fsyncDirectory
    /// The path is a symbolic link whose target does not exist.
    case danglingLink
    /// The target is a regular file without write permission.
    case readOnly
    /// The target is neither a regular file nor something written in place (the kind named).
    case unsupportedFileType(String)
  }
  /// What failed.
  package let step: Step
  /// The target path, as given.
  package let path: String
  /// The temporary file (empty before it exists, or when writing in place).
  package let temporaryPath: String
  /// The target's directory (empty when not known).
  package let directory: String
  /// The system error number.
  package let errno: Int32

  /// Why the step failed, in words: "No space left on device", "it is a read-only file".
  package var reason: String {
    switch step {
    case .emptyPath: return "the path is empty"
    case .danglingLink: return "it is a symbolic link to a file that does not exist"
    case .readOnly: return "it is a read-only file"
    case .unsupportedFileType(let kind): return "it is \(kind), not a regular file, a character device or a FIFO"
    default: return String(cString: strerror(errno))
    }
  }
}
