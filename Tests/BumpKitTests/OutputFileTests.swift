@testable import BumpKit
import Foundation
import Testing
import BumpTestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// Where output goes: a regular file is replaced atomically and keeps its permissions; a
/// link is followed; a device or FIFO is written in place (renaming over one would replace
/// the device for the whole machine); a directory, a dangling link and a read-only file are
/// refused; nothing is left behind.
@Suite struct OutputFileTests {
  typealias Scratch = TemporaryFolder

  static func contents(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

  static func mode(_ path: String, followingLinks: Bool = true) -> mode_t {
    var s = stat()
    let status = followingLinks ? stat(path, &s) : lstat(path, &s)
    return status == 0 ? s.st_mode : 0
  }

  static func write(_ text: String, to path: String) throws {
    try AtomicFile.write(Array(text.utf8), to: path, requireDirectorySync: false)
  }

  @Test func aReplacedFileKeepsItsPermissions() throws {
    let scratch = try Scratch()
    let path = scratch.path("private.csv")
    try "old\n".write(toFile: path, atomically: false, encoding: .utf8)
    chmod(path, 0o600)
    try Self.write("new\n", to: path)
    #expect(try Self.contents(path) == "new\n")
    #expect(Self.mode(path) & 0o7777 == 0o600, "mode \(String(Self.mode(path) & 0o7777, radix: 8))")
    #expect(try scratch.entries() == ["private.csv"], "no temporary file left")
  }

  @Test func aSymbolicLinkIsFollowedNotReplaced() throws {
    let scratch = try Scratch()
    try FileManager.default.createDirectory(atPath: scratch.path("real"), withIntermediateDirectories: false)
    let target = scratch.path("real/out.csv")
    try "old\n".write(toFile: target, atomically: false, encoding: .utf8)
    chmod(target, 0o640)
    let link = scratch.path("link.csv")
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "real/out.csv")
    try Self.write("new\n", to: link)
    #expect(Self.mode(link, followingLinks: false) & S_IFMT == S_IFLNK, "the link is still a link")
    #expect(try Self.contents(target) == "new\n")
    #expect(Self.mode(target) & 0o7777 == 0o640)
    #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path("real")) == ["out.csv"])
  }

  @Test func aDanglingLinkADirectoryAndAReadOnlyFileAreRefused() throws {
    let scratch = try Scratch()
    let dangling = scratch.path("dangling.csv")
    try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: "nowhere/x.csv")
    let link = try #require(throws: AtomicWriteFailure.self) { try Self.write("x", to: dangling) }
    #expect(link.step == .danglingLink)

    let folder = try #require(throws: AtomicWriteFailure.self) { try Self.write("x", to: scratch.url.path) }
    #expect(folder.step == .pathIsDirectory)

    // Refused for root too, who could rename over it.
    let readOnly = scratch.path("frozen.csv")
    try "keep\n".write(toFile: readOnly, atomically: false, encoding: .utf8)
    chmod(readOnly, 0o444)
    let frozen = try #require(throws: AtomicWriteFailure.self) { try Self.write("x", to: readOnly) }
    #expect(frozen.step == .readOnly)
    #expect(try Self.contents(readOnly) == "keep\n")
    #expect(try scratch.entries() == ["dangling.csv", "frozen.csv"], "nothing created")
  }

  /// A character device made for the test (root only; as another user /dev/null itself
  /// cannot be replaced anyway): written in place, still a device afterwards.
  @Test(.enabled(if: geteuid() == 0, "needs root to create a device node"))
  func aCharacterDeviceIsWrittenInPlace() throws {
    let scratch = try Scratch()
    let device = scratch.path("null")
    // Major 1, minor 3: the null device.
    #expect(mknod(device, S_IFCHR | 0o666, dev_t((1 << 8) | 3)) == 0, "mknod: \(errno)")
    try Self.write("dropped\n", to: device)
    #expect(Self.mode(device, followingLinks: false) & S_IFMT == S_IFCHR, "still a device")
    #expect(try scratch.entries() == ["null"], "no temporary file beside it")
  }

  @Test func aFIFOIsWrittenInPlace() throws {
    let scratch = try Scratch()
    let fifo = scratch.path("pipe")
    #expect(mkfifo(fifo, 0o600) == 0)
    let done = DispatchSemaphore(value: 0)
    let received = Received()
    Thread {
      let data = FileHandle(forReadingAtPath: fifo)?.readDataToEndOfFile()
      received.set(data.map { String(decoding: $0, as: UTF8.self) } ?? "<open failed>")
      done.signal()
    }.start()
    try Self.write("through the pipe\n", to: fifo)
    #expect(done.wait(timeout: .now() + 60) == .success, "the reader got no end of file")
    #expect(received.get() == "through the pipe\n")
    #expect(Self.mode(fifo, followingLinks: false) & S_IFMT == S_IFIFO, "still a FIFO")
    #expect(try scratch.entries() == ["pipe"])
  }

  /// Text handed from a reader thread.
  final class Received: @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""
    func set(_ value: String) { lock.withLock { text = value } }
    func get() -> String { lock.withLock { text } }
  }

  /// The temporary name is never longer than the longest name the user could give.
  @Test(arguments: [200, 240, 255])
  func longNamesGetTemporaryNamesWithinTheLimit(length: Int) throws {
    let scratch = try Scratch()
    let name = String(repeating: "é", count: (length - 4) / 2) + String(repeating: "a", count: (length - 4) % 2) + ".csv"
    #expect(name.utf8.count == length)
    try Self.write("x\n", to: scratch.path(name))
    #expect(try Self.contents(scratch.path(name)) == "x\n")
    #expect(try scratch.entries() == [name])
    #expect(OutputFile.temporaryName(for: name).utf8.count <= OutputFile.nameLimit)
  }

  @Test func anAbandonedOrFailedStreamLeavesTheTargetAndNoDebris() throws {
    let scratch = try Scratch()
    let path = scratch.path("out.csv")
    try "old\n".write(toFile: path, atomically: false, encoding: .utf8)
    do {
      let writer = try CSVFile.Writer(path: path, header: ["a"])
      for i in 0..<100_000 { try writer.write(row: ["\(i)"]) }  // past the buffer: bytes on disk
      #expect(try scratch.entries().count == 2, "the temporary file exists while writing")
    }
    #expect(try Self.contents(path) == "old\n")
    #expect(try scratch.entries() == ["out.csv"])
  }

  /// Streaming gives the same bytes as the whole-file writer, at a size past the buffer.
  @Test func theStreamingWriterWritesWhatTheWholeFileWriterWrites() throws {
    let scratch = try Scratch()
    let header = ["name", "a, b", " edge ", "q\"uote"]
    let rows = (0..<60_000).map { i in ["row \(i)", "\(Double(i) / 7)", i % 3 == 0 ? "" : "x", "\"\(i)\""] }
    try CSVFile.write(path: scratch.path("whole.csv"), header: header, rows: rows)
    let writer = try CSVFile.Writer(path: scratch.path("stream.csv"), header: header)
    for row in rows { try writer.write(row: row) }
    try writer.finish()
    let whole = try Data(contentsOf: URL(fileURLWithPath: scratch.path("whole.csv")))
    #expect(whole.count > CSVFile.Writer.bufferSize, "the test must pass the buffer")
    #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.path("stream.csv"))) == whole)
    #expect(writer.rowCount == rows.count)
    #expect(throws: BumpKitError.self) { try CSVFile.Writer(path: scratch.path("x.csv"), header: ["a"]).write(row: ["1", "2"]) }
  }
}
