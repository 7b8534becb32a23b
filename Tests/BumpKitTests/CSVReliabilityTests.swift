import BumpKit
import Foundation
import Testing
import BumpTestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// Issue 14: reading input reliably, and messages that say what is wrong, in the library.
@Suite("CSV reliability and messages")
struct CSVReliabilityTests {
  /// A folder of files for one test, removed afterwards.
  final class Folder {
    private let folder: TemporaryFolder
    var path: String { folder.path }
    init() throws { folder = try TemporaryFolder(prefix: "bumpkit-csv14") }

    /// Writes `bytes` to `name` in the folder and returns its path.
    func file(_ name: String, _ bytes: [UInt8]) throws -> String {
      let file = folder.path(name)
      try Data(bytes).write(to: URL(fileURLWithPath: file))
      return file
    }
    func file(_ name: String, _ text: String) throws -> String { try file(name, Array(text.utf8)) }
  }

  private func dataError(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
  ) -> DataError? {
    thrownError(DataError.self, sourceLocation: sourceLocation, body)
  }

  // MARK: - Text read line by line (the input of `bump function`)

  @Test("Lines end with LF, CRLF or CR; a BOM is dropped; a last line needs no ending")
  func lineEndings() throws {
    let folder = try Folder()
    let path = try folder.file("x.txt", [0xEF, 0xBB, 0xBF] + Array("1\n2\r\n3\r4".utf8))
    var reader = try TextLineReader(path: path)
    var lines: [String] = []
    while let (line, text) = try reader.next() {
      #expect(line == lines.count + 1)
      lines.append(text)
    }
    #expect(lines == ["1", "2", "3", "4"])
  }

  @Test("A NUL byte, bytes that are not UTF-8 and an over-long line are errors naming the line")
  func malformedLines() throws {
    let folder = try Folder()
    let nul = try folder.file("nul.txt", Array("1\n2".utf8) + [0] + Array("5\n".utf8))
    var reader = try TextLineReader(path: nul)
    #expect(try reader.next()?.text == "1")
    let error = dataError { _ = try reader.next() }
    #expect(error == .nulByte(path: nul, line: 2, column: nil))
    #expect(error?.description == "\(nul): line 2: the text holds a NUL byte; the file looks binary, not text")

    let latin1 = try folder.file("latin1.txt", Array("1\n2\n".utf8) + [0x33, 0xE9, 0x0A])
    var encoding = try TextLineReader(path: latin1)
    _ = try encoding.next()
    _ = try encoding.next()
    #expect(dataError { _ = try encoding.next() } == .invalidEncoding(path: latin1, line: 3))

    let long = try folder.file("long.txt", "1\n" + String(repeating: "7", count: 100) + "\n2\n")
    var bounded = try TextLineReader(path: long, lineByteLimit: 64)
    _ = try bounded.next()
    let tooLong = dataError { _ = try bounded.next() }
    #expect(tooLong == .lineTooLong(path: long, line: 2, limit: 64))
    #expect(TextLineReader.lineByteLimit == 1 << 20)
    let big = DataError.lineTooLong(path: "x.txt", line: 4, limit: TextLineReader.lineByteLimit)
    #expect(big.description == "x.txt: line 4: the line is longer than 1024 KiB; expected one number per line")
  }

  // MARK: - Streams: FIFOs, /proc files, sockets

  @Test("A FIFO and a /proc file are read as streams; a socket is refused as one")
  func streams() throws {
    let folder = try Folder()
    let fifo = folder.path + "/data.fifo"
    #expect(mkfifo(fifo, 0o600) == 0)
    let writer = Thread {
      let handle = FileHandle(forWritingAtPath: fifo)
      handle?.write(Data("a,y\n1,2\n3,4\n".utf8))
      try? handle?.close()
    }
    writer.start()
    let data = try Dataset<Double>.loadCSV(path: fifo, target: "y")
    #expect(data.x == (try Matrix<Double>([[1], [3]])))

    // /proc files report a size of 0 but have content: their first line is the header.
    let proc = dataError { _ = try Dataset<Double>.loadCSV(path: "/proc/self/status", target: "y") }
    guard case .missingColumn(_, 1, "y", let available)? = proc else {
      Issue.record("\(String(describing: proc))")
      return
    }
    #expect(available.first?.hasPrefix("Name:") == true, "\(available)")

    let socketPath = folder.path + "/s.sock"
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      for (i, byte) in socketPath.utf8.enumerated() { raw[i] = byte }
    }
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    #expect(bound == 0)
    let refused = dataError { _ = try Dataset<Double>.loadCSV(path: socketPath, target: "y") }
    #expect(refused == .unreadableFile(path: socketPath, reason: "it is a socket, not a file"))
  }

  // MARK: - Column lookup by name

  @Test("Wide files: columns are found by name in any order; duplicate and missing names as before")
  func wideHeaders() throws {
    let folder = try Folder()
    let count = 20_000
    let names = (0..<count).map { "f\($0)" }
    let path = try folder.file(
      "wide.csv",
      names.joined(separator: ",") + "\n" + (0..<count).map(String.init).joined(separator: ",") + "\n")
    let reversed = Array(names.reversed())
    let (x, featureNames) = try Dataset<Double>.loadCSVFeatures(path: path, expectedFeatures: reversed)
    #expect(featureNames == reversed)
    #expect(x.row(0) == (0..<count).reversed().map(Double.init))

    let missing = dataError {
      _ = try Dataset<Double>.loadCSVFeatures(path: path, expectedFeatures: ["f1", "g"])
    }
    #expect(missing == .missingColumn(path: path, line: 1, column: "g", available: names))
    #expect(missing?.description.hasSuffix("\"f49\" and 19950 more") == true)

    let duplicated = try folder.file("dup.csv", "a,b,c,b,a\n1,2,3,4,5\n")
    #expect(
      dataError { _ = try Dataset<Double>.loadCSV(path: duplicated, target: "c") }
        == .duplicateColumn(path: duplicated, line: 1, column: "a", positions: [1, 5]),
      "the first name in header order that repeats, as before")
  }

  // MARK: - A bad cell or a text column

  @Test("One bad cell among numbers is that cell; a column of text says so")
  func badCellOrTextColumn() throws {
    let folder = try Folder()
    var text = "id,x,y\n"
    for i in 0..<30 { text += "r\(i),\(i),\(i % 3)\n" }
    let ids = try folder.file("ids.csv", text)
    let error = dataError { _ = try Dataset<Float>.loadCSV(path: ids, target: "y") }
    #expect(error == .textColumn(path: ids, line: 2, column: "id", text: "r0", textCells: 30, cells: 30))
    #expect(
      error?.description
        == "\(ids): line 2, column \"id\": \"r0\" is not a number; none of the 30 cells read in the column is a number: it holds text")

    var cells = "x,y\n"
    for i in 0..<30 { cells += "\(i == 12 ? "1.2.3" : "\(i)"),\(i)\n" }
    let one = try folder.file("one.csv", cells)
    #expect(
      dataError { _ = try Dataset<Double>.loadCSV(path: one, target: "y") }
        == .notANumber(path: one, line: 14, column: "x", text: "1.2.3"))

    // Mostly text: some cells happen to be numbers.
    var mixed = "code,y\n"
    for i in 0..<10 { mixed += "\(i % 4 == 0 ? "\(i)" : "c\(i)"),\(i)\n" }
    let codes = try folder.file("codes.csv", mixed)
    #expect(
      dataError { _ = try Dataset<Double>.loadCSVFeatures(path: codes, expectedFeatures: ["code"]) }
        == .textColumn(path: codes, line: 3, column: "code", text: "c1", textCells: 7, cells: 10))
  }

  // MARK: - Invisible characters, separators

  @Test("Messages show invisible characters as escapes")
  func invisibleCharacters() throws {
    #expect(MessageText.quoted("y") == "\"y\"")
    #expect(MessageText.quoted("\u{FEFF}y") == "\"\\u{feff}y\"")
    #expect(MessageText.quoted("1\u{A0}") == "\"1\\u{a0}\"")
    #expect(MessageText.quoted("a\u{200B}b\r\n\t\"\\") == "\"a\\u{200b}b\\r\\n\\t\\\"\\\\\"")
    #expect(MessageText.quoted("naïve café 日本") == "\"naïve café 日本\"", "visible text as it is")
    #expect(MessageText.visible("dir/a\nb.csv") == "dir/a\\nb.csv")

    let folder = try Folder()
    // A second BOM (the first one is dropped) glued to the first name.
    let bom = try folder.file("bom.csv", [0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF] + Array("y,x\n1,2\n".utf8))
    let missing = dataError { _ = try Dataset<Double>.loadCSV(path: bom, target: "y") }
    #expect(
      missing?.description
        == "\(bom): line 1, column \"y\": no such column in the header; available columns: "
        + "\"\\u{feff}y\", \"x\"; the header has \"\\u{feff}y\", which differs only in invisible characters or spaces")

    let cell = try folder.file("nbsp.csv", "x,y\n1\u{A0},2\n")
    #expect(
      dataError { _ = try Dataset<Double>.loadCSV(path: cell, target: "y") }?.description
        == "\(cell): line 2, column \"x\": \"1\\u{a0}\" is not a number")
    let name = try folder.file("crlf-name.csv", "\"a\r\nb\",y\n1,2\n")
    #expect(
      dataError { _ = try Dataset<Double>.loadCSVFeatures(path: name, expectedFeatures: ["a b"]) }?
        .description.contains("available columns: \"a\\r\\nb\", \"y\"") == true)
  }

  @Test("A header with tabs or semicolons and no commas is called tab- or semicolon-separated")
  func otherSeparators() throws {
    let folder = try Folder()
    for (separator, name) in [("\t", "tab"), (";", "semicolon")] {
      let path = try folder.file("\(name).csv", ["a", "b", "y"].joined(separator: separator) + "\n1\(separator)2\(separator)3\n")
      let error = dataError { _ = try Dataset<Double>.loadCSV(path: path, target: "y") }
      #expect(
        error?.description.hasSuffix(
          "; the header has no commas but has \(name)s: the file looks \(name)-separated, and only comma-separated files are read")
          == true, "\(String(describing: error))")
    }
  }

  // MARK: - Ignored columns

  @Test("Ignored columns must exist when choosing features, not when the features are given")
  func ignoredColumnsThatAreAbsent() throws {
    let folder = try Folder()
    let path = try folder.file("d.csv", "a,b,y\n1,2,0\n3,4,1\n")
    let (x, _) = try Dataset<Double>.loadCSVFeatures(path: path, expectedFeatures: ["b"], ignoring: ["id"])
    #expect(x == (try Matrix<Double>([[2], [4]])))
    let labelled = try Dataset<Double>.loadCSV(path: path, target: "y", features: ["a", "b"], ignoring: ["id"])
    #expect(labelled.count == 2)
    #expect(
      dataError { _ = try Dataset<Double>.loadCSV(path: path, target: "y", ignoring: ["id"]) }
        == .missingColumn(path: path, line: 1, column: "id", available: ["a", "b", "y"]),
      "training stays strict: a misspelt name would leave the column among the features")
  }

  // MARK: - Ranges in messages

  @Test("Messages give ranges as words, not Swift range notation")
  func rangesInWords() throws {
    let folder = try Folder()
    let path = try folder.file("labels.csv", "a,y\n1,0\n2,3\n")
    let error = dataError {
      _ = try Dataset<Double>.loadCSV(
        path: path, target: "y", task: .classification, classes: .numbers(count: 3))
    }
    #expect(error?.description == "\(path): line 3, column \"y\": class label \"3\" is outside the model's classes, 0 to 2")
    let label = BumpKitError.labelOutOfRange(row: 4, label: "7", classes: 3)
    #expect(!label.description.contains("..<"), "\(label)")
    var rows = try Matrix<Double>(rows: 1, columns: 1)
    do {
      try Matrix<Double>(rows: 2, columns: 1).copyRows(1..<5, into: &rows)
      Issue.record("no error")
    } catch {
      #expect(!"\(error)".contains("..<"), "\(error)")
    }
  }
}
