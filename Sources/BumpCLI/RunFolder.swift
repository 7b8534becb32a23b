import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A run folder that appears all at once: files are written into a temporary sibling,
/// `.<name>.partial`, which ``publish()`` renames to the final name; ``discard()`` removes
/// it instead.
///
/// The temporary folder is created with `mkdir`, which fails if it exists, so two runs can
/// never write into the same folder; the run holds an `flock` on it until the process ends,
/// so that a second run can tell a run still writing from one that crashed and left it.
final class RunFolder {
  /// The folder's final path, as the user gave it (or the default one).
  let path: String
  /// The temporary folder that files are written to until ``publish()``.
  let partialPath: String
  private(set) var isPublished = false
  /// The open temporary folder, locked while this process lives; -1 if it could not be.
  private var lock: Int32 = -1
  /// The folders above the run folder that this run created, outermost first: removed again
  /// (those still empty) when the run folder is not made or is discarded.
  private var createdParents: [String] = []

  /// Where the files are now: the final folder once published, else the temporary one.
  var location: String { isPublished ? path : partialPath }

  /// Creates the temporary folder for `output`, or for `runs/<stem>-<UTC time>` when
  /// `output` is nil (with `-2`, `-3`, … appended if that name is taken).
  ///
  /// - Throws: ``CLIError/outputExists(path:)`` if the explicit `output` exists (a symbolic
  ///   link too, even one that points nowhere); ``CLIError/runFolderBusy(path:partial:writing:)``
  ///   if its temporary folder exists; ``CLIError/cannotWrite(path:reason:)`` if a folder
  ///   cannot be created.
  init(output: String?, defaultStem: String) throws {
    let candidates: [String]
    var created: [String] = []
    if let output {
      candidates = [Self.trimmingTrailingSlashes(output)]
    } else {
      let base = "runs/\(Self.defaultStem(defaultStem))-\(Self.timestamp())"
      candidates = [base] + (2...99).map { "\(base)-\($0)" }
    }
    var lastError: CLIError?
    for candidate in candidates {
      let partial = Self.partialPath(for: candidate)
      // lstat, not stat: a symbolic link that points nowhere is taken too (the rename at the
      // end would fail on it, after all the training).
      var entry = stat()
      if lstat(candidate, &entry) == 0 {
        if entry.st_mode & S_IFMT == S_IFLNK, stat(candidate, &entry) != 0 {
          lastError = .cannotWrite(
            path: candidate,
            reason:
              "a symbolic link to \(Self.linkTarget(candidate)), which does not exist; the run folder cannot be created through it: remove the link or choose another --output")
        } else {
          lastError = .outputExists(path: candidate)
        }
        continue
      }
      let parent = Self.split(candidate).parent
      if !parent.isEmpty {
        do {
          try Self.createParents(parent, recordingIn: &created)
        } catch let failure as FolderCreationFailure {
          Self.removeCreated(&created)
          // "File exists" would hide which part of the path is the trouble: a file where a
          // folder is needed.
          if let problem = Self.blockerOnPath(parent) {
            throw CLIError.cannotWrite(path: parent, reason: "cannot create the folder: \(problem)")
          }
          // The outermost folder that could not be made (on a read-only mount, the first one
          // below it), not the innermost.
          throw CLIError.cannotWrite(
            path: failure.folder, reason: "cannot create the folder: \(Self.reason(failure.error))")
        } catch {
          Self.removeCreated(&created)
          throw CLIError.cannotWrite(path: parent, reason: "cannot create the folder: \(Self.reason(error))")
        }
      }
      // A folder that another run removes while this one looks at it is tried again (twice).
      var attempts = 0
      while true {
        attempts += 1
        if mkdir(partial, 0o755) == 0 {
          createdParents = created
          path = candidate
          partialPath = partial
          lock = open(partial, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
          // Blocking: another run's probe (``isLocked(_:)``) holds a shared lock for a moment,
          // and a run that gave up its lock would look abandoned all its life. No other run
          // takes this folder's exclusive lock: mkdir gave it to this one.
          if lock >= 0, flock(lock, LOCK_EX) != 0 {
            close(lock)
            lock = -1
          }
          return
        }
        let code = errno
        guard code == EEXIST else {
          Self.removeCreated(&created)
          if code == ENOTDIR, let problem = Self.blockerOnPath(parent) {
            throw CLIError.cannotWrite(path: parent, reason: "cannot create the folder: \(problem)")
          }
          throw CLIError.cannotWrite(
            path: partial, reason: "cannot create the folder: \(String(cString: strerror(code)))")
        }
        // A run between its mkdir and its lock, or one renaming its folder at the end, looks
        // unlocked for a moment: ask again for up to half a second before calling the folder
        // abandoned.
        var writing = Self.isLocked(partial)
        var asked = 1
        while !writing, asked < Self.lockChecks, lstat(partial, &entry) == 0 {
          usleep(20_000)
          writing = Self.isLocked(partial)
          asked += 1
        }
        if !writing, lstat(partial, &entry) != 0 {
          // It went away meanwhile: published under the name (taken now), or removed (then
          // the name may be free again).
          if lstat(candidate, &entry) == 0 {
            lastError = .outputExists(path: candidate)
            break
          }
          if attempts < 3 { continue }
        }
        lastError = .runFolderBusy(path: candidate, partial: partial, writing: writing)
        break
      }
    }
    Self.removeCreated(&created)
    throw lastError!
  }

  /// A folder of an `--output` path that could not be made, and why.
  private struct FolderCreationFailure: Error {
    let folder: String
    let error: any Error
  }

  /// Creates the folders of `parent` that do not exist, outermost first, appending each to
  /// `created`.
  ///
  /// - Throws: ``FolderCreationFailure`` naming the first folder that could not be made.
  private static func createParents(_ parent: String, recordingIn created: inout [String]) throws {
    var missing: [String] = []
    var folder = parent
    var entry = stat()
    while !folder.isEmpty, folder != "/", folder != ".", lstat(folder, &entry) != 0 {
      missing.append(folder)
      folder = Self.split(folder).parent
    }
    for folder in missing.reversed() where lstat(folder, &entry) != 0 {
      do {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
      } catch {
        throw FolderCreationFailure(folder: folder, error: error)
      }
      created.append(folder)
    }
  }

  /// Removes the folders of `created` (folders this run made), innermost first, and stops at
  /// the first that is not empty (something else wrote into it meanwhile).
  private static func removeCreated(_ created: inout [String]) {
    while let folder = created.popLast() {
      guard rmdir(folder) == 0 else {
        created.removeAll()
        return
      }
    }
  }

  deinit {
    if lock >= 0 { close(lock) }
  }

  /// What keeps a folder from being made at `path`: its first existing part (itself included)
  /// that is not a folder — "X is a file, not a folder" (after symbolic links), "X is a
  /// symbolic link to Y, which does not exist" or "X is a loop of symbolic links" — or nil.
  /// Creating a folder through such a part fails with "File exists", which hides the cause.
  static func blockerOnPath(_ path: String) -> String? {
    var prefix = path.hasPrefix("/") ? "/" : ""
    for part in path.split(separator: "/") {
      prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + part
      var entry = stat()
      guard lstat(prefix, &entry) == 0 else { return nil }
      if entry.st_mode & S_IFMT == S_IFLNK, stat(prefix, &entry) != 0 {
        return errno == ELOOP
          ? "\(prefix) is a loop of symbolic links"
          : "\(prefix) is a symbolic link to \(linkTarget(prefix)), which does not exist"
      }
      if entry.st_mode & S_IFMT != S_IFDIR { return "\(prefix) is a file, not a folder" }
    }
    return nil
  }

  /// The temporary folders in `parent` that runs left when they ended without finishing
  /// (killed, or the machine stopped): unlocked, and untouched for a minute. A run with the
  /// default name never meets its own again (the name holds the time), so a new one names
  /// them: each may hold a checkpoint to resume from.
  static func abandonedFolders(in parent: String) -> [String] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return [] }
    let now = Date().timeIntervalSince1970
    return names.sorted().compactMap { name -> String? in
      guard name.hasPrefix("."), name.hasSuffix(".partial") else { return nil }
      let path = parent + "/" + name
      var entry = stat()
      guard lstat(path, &entry) == 0, entry.st_mode & S_IFMT == S_IFDIR,
        now - Double(entry.st_mtim.tv_sec) > 60, !isLocked(path)
      else { return nil }
      return path
    }
  }

  /// How many times a temporary folder's lock is asked for, 20 ms apart, before the folder
  /// is called abandoned.
  static var lockChecks: Int { 25 }

  /// Whether another process holds the lock of the temporary folder `partial` (a run that
  /// is writing it).
  static func isLocked(_ partial: String) -> Bool {
    let descriptor = open(partial, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    return flock(descriptor, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK
  }

  /// Where the symbolic link at `path` points, as written in it.
  static func linkTarget(_ path: String) -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?"
  }

  /// `text` with the temporary folder's path written as the run folder's: as a message or
  /// summary written before publishing reads once the folder is published.
  func publishedName(in text: String) -> String { text.replacingOccurrences(of: partialPath, with: path) }

  /// The path of `name` inside the temporary folder.
  func file(_ name: String) -> String { partialPath + "/" + name }

  /// The path `name` will have once the folder is published.
  func finalFile(_ name: String) -> String { path + "/" + name }

  /// Renames the temporary folder to the final name.
  ///
  /// - Throws: ``CLIError/cannotWrite(path:reason:)`` naming the temporary folder, which
  ///   keeps the files, when the final name cannot be taken (another program created it
  ///   meanwhile).
  func publish() throws {
    guard !isPublished else { return }
    guard rename(partialPath, path) == 0 else {
      let code = errno
      var entry = stat()
      let taken = lstat(path, &entry) == 0 ? " (something else created it meanwhile)" : ""
      throw CLIError.cannotWrite(
        path: path,
        reason:
          "cannot rename \(partialPath) to it: \(String(cString: strerror(code)))\(taken); the results are in \(partialPath)"
      )
    }
    isPublished = true
  }

  /// Removes the temporary folder and everything in it, and the folders above it that this
  /// run created, if they are still empty.
  func discard() {
    guard !isPublished else { return }
    try? FileManager.default.removeItem(atPath: partialPath)
    Self.removeCreated(&createdParents)
  }

  /// Writes `text` to `name` in the temporary folder, atomically.
  func write(_ text: String, to name: String) throws {
    let target = file(name)
    do {
      try text.write(toFile: target, atomically: true, encoding: .utf8)
    } catch {
      throw CLIError.cannotWrite(path: target, reason: Self.reason(error))
    }
  }

  /// The names of the files in the folder, sorted.
  func fileNames() -> [String] {
    let folder = isPublished ? path : partialPath
    return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
      .filter { !$0.hasPrefix(".") }.sorted()
  }

  static func partialPath(for path: String) -> String {
    let (parent, name) = split(path)
    return parent.isEmpty ? ".\(name).partial" : parent.hasSuffix("/") ? "\(parent).\(name).partial" : "\(parent)/.\(name).partial"
  }

  /// Why `output` cannot name a new run folder, or nil if it can. Checked before any work:
  /// `.`, `..`, `dir/.` and `/` name folders that exist or cannot be renamed into place.
  static func problem(with output: String) -> String? {
    if output.isEmpty { return "--output must not be empty" }
    if output == "~" || output.hasPrefix("~/") {
      return "--output \(output) starts with a ~ that the shell did not expand (it was quoted); give the folder's path without ~"
    }
    let name = split(trimmingTrailingSlashes(output)).name
    if name.isEmpty || name == "." || name == ".." {
      return "--output \(output) does not name a new folder; give the path of a folder to create, e.g. runs/my-run"
    }
    if name.utf8.count > longestName {
      return "--output's folder name has \(name.utf8.count) bytes; at most \(longestName) can be used (the run writes into .<name>.partial first, and a file name has at most 255 bytes)"
    }
    return nil
  }

  /// The longest run folder name, in bytes: its temporary folder `.<name>.partial` must fit
  /// in the 255 bytes of a file name.
  static var longestName: Int { 255 - ".".utf8.count - ".partial".utf8.count }

  /// `stem` cut (at a character boundary) so that `<stem>-<UTC time>-99` fits in
  /// ``longestName`` bytes.
  static func defaultStem(_ stem: String) -> String {
    let room = longestName - "-20261207T120000Z-99".utf8.count
    var cut = Substring(stem)
    while cut.utf8.count > room { cut = cut.dropLast() }
    return String(cut)
  }

  /// The folder holding `path` ("" for a bare name, "/" at the root) and its last component.
  ///
  /// Plain string work: Foundation's `NSString` path methods trap on some one-character
  /// paths on Linux.
  static func split(_ path: String) -> (parent: String, name: String) {
    guard let slash = path.lastIndex(of: "/") else { return ("", path) }
    var parent = path[..<slash]
    while parent.count > 1, parent.hasSuffix("/") { parent = parent.dropLast() }
    return (parent.isEmpty ? "/" : String(parent), String(path[path.index(after: slash)...]))
  }

  static func trimmingTrailingSlashes(_ path: String) -> String {
    var p = Substring(path)
    while p.count > 1, p.hasSuffix("/") { p = p.dropLast() }
    return String(p)
  }

  /// The current UTC time as `20250131T235959Z`.
  static func timestamp() -> String {
    var seconds = time(nil)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    return String(
      format: "%04d%02d%02dT%02d%02d%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
  }

  static func reason(_ error: Error) -> String {
    if let error = error as? CocoaError, let underlying = error.underlying as? POSIXError {
      return String(cString: strerror(underlying.code.rawValue))
    }
    return (error as NSError).localizedDescription
  }
}
