import SystemPackage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A file, or standard input, read in 64 KiB chunks one byte at a time: the input of the CSV
/// reader and of ``TextLineReader``.
///
/// Anything `read(2)` can read is read as a stream, whatever its size claims: a regular file,
/// a pipe or FIFO, a terminal, a character device, a `/proc` file (whose size is 0). Only a
/// directory and a socket are refused, saying which they are.
package final class ByteInput {
  private let descriptor: Int32
  private let ownsDescriptor: Bool
  private let name: String
  private var buffer = [UInt8](repeating: 0, count: 1 << 16)
  private var start = 0
  private var end = 0
  private var atEnd = false

  /// Opens `path`; `-` is standard input. `name` is what errors call it.
  ///
  /// - Throws: ``DataError/fileNotFound(path:)``, ``DataError/unreadableFile(path:reason:)``.
  package init(path: String, name: String) throws {
    self.name = name
    if path == "-" {
      descriptor = STDIN_FILENO
      ownsDescriptor = false
      return
    }
    (descriptor, _) = try Self.openForReading(path)
    ownsDescriptor = true
  }

  /// Opens `path` for reading, with the errors every reader of data files gives: a missing
  /// file, a socket, a directory, no permission. Returns the descriptor (owned by the
  /// caller) and its status.
  ///
  /// - Throws: ``DataError/fileNotFound(path:)``, ``DataError/unreadableFile(path:reason:)``.
  static func openForReading(_ path: String) throws -> (descriptor: Int32, status: stat) {
    var before = stat()
    if stat(path, &before) == 0, (before.st_mode & S_IFMT) == S_IFSOCK {
      throw DataError.unreadableFile(path: path, reason: "it is a socket, not a file")
    }
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
      let code = errno
      if code == ENOENT || path.isEmpty { throw DataError.fileNotFound(path: path) }
      throw DataError.unreadableFile(path: path, reason: dataSystemMessage(code))
    }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else {
      let code = errno
      close(descriptor)
      throw DataError.unreadableFile(path: path, reason: dataSystemMessage(code))
    }
    if (status.st_mode & S_IFMT) == S_IFDIR {
      close(descriptor)
      throw DataError.unreadableFile(path: path, reason: dataSystemMessage(EISDIR))
    }
    return (descriptor, status)
  }

  deinit { if ownsDescriptor { close(descriptor) } }

  /// Drops a UTF-8 byte-order mark at the start of the input, if that is what is there.
  package func dropByteOrderMark() throws {
    try fill(atLeast: 3)
    if end - start >= 3, buffer[start] == 0xEF, buffer[start + 1] == 0xBB,
      buffer[start + 2] == 0xBF
    {
      start += 3
    }
  }

  /// The next byte without consuming it; `nil` at the end of the input.
  package func peekByte() throws -> UInt8? {
    if start == end { try fill(atLeast: 1) }
    return start < end ? buffer[start] : nil
  }

  /// The next byte; `nil` at the end of the input.
  package func nextByte() throws -> UInt8? {
    if start == end { try fill(atLeast: 1) }
    guard start < end else { return nil }
    defer { start += 1 }
    return buffer[start]
  }

  /// Reads until `count` bytes are buffered or the input ends.
  private func fill(atLeast count: Int) throws {
    if start > 0 {
      let kept = end - start
      if kept > 0 {
        buffer.withUnsafeMutableBytes { b in
          _ = memmove(b.baseAddress!, b.baseAddress! + start, kept)
        }
      }
      (start, end) = (0, kept)
    }
    guard end - start < count, !atEnd else { return }
    let wanted = count - (end - start)
    let (n, failure) = buffer.withUnsafeMutableBytes { b -> (Int, Errno?) in
      do throws(Errno) {
        return (
          try FileDescriptor(rawValue: descriptor).read(
            into: UnsafeMutableRawBufferPointer(rebasing: b[end...]), atLeast: wanted), nil
        )
      } catch {
        return (0, error)
      }
    }
    if let failure {
      throw DataError.unreadableFile(path: name, reason: dataSystemMessage(failure.rawValue))
    }
    if n < wanted { atEnd = true }
    end += n
  }
}

