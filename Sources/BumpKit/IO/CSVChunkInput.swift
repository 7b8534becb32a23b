import SystemPackage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A file, or standard input, read in large chunks into one buffer that the fast CSV reader
/// scans with pointers.
///
/// The unread bytes are `buffer[pos..<end]`, and `buffer[end]` is always 0, a sentinel that
/// stops a scan without a bounds check (a real NUL byte is told apart by its position); the
/// 15 bytes after it are allocated too, so that a scan may load 8 bytes at a time. A
/// regular file opened by path is read with `pread` from a tracked offset, so that a second
/// input can read another part of it at the same time (``init(sharing:from:)``); anything
/// else is read as a stream, as ``ByteInput`` does, and refuses the same files.
final class CSVChunkInput {
  /// The bytes asked for per read: 1 MiB, which stays in the cache while it is scanned.
  static let chunkSize = 1 << 20
  /// Bytes allocated after the buffer's capacity: the sentinel, and room for a scan to load
  /// 8 bytes at any position up to it.
  static let padding = 16

  let descriptor: Int32
  private let ownsDescriptor: Bool
  /// What errors call the input.
  let name: String
  /// Whether the input is a regular file read by offset (not a pipe, terminal or stdin).
  let isRegularFile: Bool
  /// The file's size when opened (0 for a stream).
  let fileSize: Int

  @exclusivity(unchecked) private(set) var buffer: UnsafeMutablePointer<UInt8>
  @exclusivity(unchecked) private(set) var capacity: Int
  /// The next unread byte.
  @exclusivity(unchecked) var pos = 0
  /// One past the last byte read; `buffer[end] == 0`.
  @exclusivity(unchecked) private(set) var end = 0
  /// Whether the input has ended (`end` is then final).
  @exclusivity(unchecked) private(set) var eof = false
  /// The offset in the file of `buffer[0]`.
  @exclusivity(unchecked) private(set) var base = 0
  @exclusivity(unchecked) private var readOffset = 0

  /// Opens `path`; `-` is standard input.
  ///
  /// - Throws: ``DataError/fileNotFound(path:)``, ``DataError/unreadableFile(path:reason:)``.
  init(path: String, name: String) throws {
    self.name = name
    if path == "-" {
      descriptor = STDIN_FILENO
      ownsDescriptor = false
      isRegularFile = false
      fileSize = 0
    } else {
      let (descriptor, status) = try ByteInput.openForReading(path)
      self.descriptor = descriptor
      ownsDescriptor = true
      isRegularFile = (status.st_mode & S_IFMT) == S_IFREG
      fileSize = isRegularFile ? Int(status.st_size) : 0
    }
    capacity = Self.chunkSize
    buffer = .allocate(capacity: capacity + Self.padding)
    buffer[0] = 0
  }

  /// A second reader of the regular file `other` reads, starting at `offset`; it shares the
  /// descriptor, which `other` keeps open for as long as this one is used.
  init(sharing other: CSVChunkInput, from offset: Int) {
    precondition(other.isRegularFile)
    name = other.name
    descriptor = other.descriptor
    ownsDescriptor = false
    isRegularFile = true
    fileSize = other.fileSize
    capacity = Self.chunkSize
    buffer = .allocate(capacity: capacity + Self.padding)
    buffer[0] = 0
    base = offset
    readOffset = offset
  }

  deinit {
    buffer.deallocate()
    if ownsDescriptor { close(descriptor) }
  }

  /// The offset in the file of the next unread byte.
  var position: Int { base + pos }

  /// Moves the unread bytes to the front and reads more after them (growing the buffer when
  /// it is full); sets ``eof`` when the input has ended.
  func refill() throws {
    let kept = end - pos
    if pos > 0 {
      if kept > 0 { memmove(buffer, buffer + pos, kept) }
      base += pos
      pos = 0
      end = kept
    }
    guard !eof else {
      buffer[end] = 0
      return
    }
    if end == capacity {
      let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: 2 * capacity + Self.padding)
      grown.update(from: buffer, count: end)
      buffer.deallocate()
      buffer = grown
      capacity *= 2
    }
    let room = capacity - end
    var n = 0
    if isRegularFile {
      while true {
        let got = pread(descriptor, buffer + end, room, off_t(readOffset))
        if got < 0 {
          let code = errno
          if code == EINTR { continue }
          throw DataError.unreadableFile(path: name, reason: dataSystemMessage(code))
        }
        n = got
        break
      }
      readOffset += n
    } else {
      do throws(Errno) {
        n = try FileDescriptor(rawValue: descriptor).read(
          into: UnsafeMutableRawBufferPointer(start: buffer + end, count: room), atLeast: 1)
      } catch {
        throw DataError.unreadableFile(path: name, reason: dataSystemMessage(error.rawValue))
      }
    }
    if n == 0 { eof = true }
    end += n
    buffer[end] = 0
  }

  /// Reads until `count` bytes are unread or the input ends.
  func fill(atLeast count: Int) throws {
    while end - pos < count, !eof { try refill() }
  }

  /// Stops reading: the input reads as ended from here on.
  func finish() {
    pos = end
    eof = true
  }

  /// The next byte without consuming it; nil at the end of the input.
  @inline(__always) func peekByte() throws -> UInt8? {
    while pos == end {
      if eof { return nil }
      try refill()
    }
    return buffer[pos]
  }

  /// The next byte; nil at the end of the input.
  @inline(__always) func nextByte() throws -> UInt8? {
    while pos == end {
      if eof { return nil }
      try refill()
    }
    defer { pos += 1 }
    return buffer[pos]
  }

  /// Up to `count` bytes of the file from `offset`, read without moving this input.
  func bytes(at offset: Int, count: Int) -> [UInt8] {
    guard isRegularFile else { return [] }
    return [UInt8](unsafeUninitializedCapacity: count) { b, initialized in
      var got = 0
      while got < count {
        let n = pread(descriptor, b.baseAddress! + got, count - got, off_t(offset + got))
        if n < 0, errno == EINTR { continue }
        if n <= 0 { break }
        got += n
      }
      initialized = got
    }
  }
}
