import Foundation
import Testing

@testable import BumpKit
import BumpTestSupport

/// The fast ``CSVTableReader`` against the reference reader it replaced: the same tables and
/// the same errors, with one thread, two threads and in batches.
@Suite("CSV table reader: fast against reference")
struct CSVTableReaderTests {
  /// A folder of files for one test, removed afterwards.
  final class Folder {
    private let folder: TemporaryFolder
    private var counter = 0
    init() throws { folder = try TemporaryFolder(prefix: "bumpkit-table-reader") }

    func file(_ bytes: [UInt8]) throws -> String {
      counter += 1
      let file = folder.path("f\(counter).csv")
      try Data(bytes).write(to: URL(fileURLWithPath: file))
      return file
    }
    func file(_ text: String) throws -> String { try file(Array(text.utf8)) }
  }

  /// A deterministic generator (SplitMix64).
  typealias Generator = SplitMix64

  /// A column as compared: numbers by their bits, texts by their bytes.
  struct ColumnImage: Equatable, CustomStringConvertible {
    var name: String
    var position: Int
    var numbers: [UInt64]?
    var codes: [UInt32]?
    var texts: [[UInt8]]?
    var missingCount: Int
    var missingLines: [Int]
    var textLines: [Int]
    var description: String {
      "\(name)@\(position) numbers \(numbers?.count ?? -1) codes \(codes ?? []) texts \(texts?.map { String(decoding: $0, as: UTF8.self) } ?? []) missing \(missingCount) \(missingLines) text lines \(textLines)"
    }
  }

  /// What a read gave: a table, nil (no more rows) or an error.
  enum Outcome: Equatable {
    case table(header: [String], headerLine: Int, rows: Int, columns: [ColumnImage])
    case end
    case error(DataError)
  }

  static func image<E: MatrixScalar>(_ table: CSVTable<E>?) -> Outcome {
    guard let table else { return .end }
    let columns = table.columns.map { column -> ColumnImage in
      var image = ColumnImage(
        name: column.name, position: column.position, missingCount: column.missingCount,
        missingLines: column.missingLines, textLines: column.textLines)
      switch column.cells {
      case .numbers(let values): image.numbers = values.map { Double($0).bitPattern }
      case .texts(let codes, let texts):
        image.codes = codes
        image.texts = texts.map { Array($0.utf8) }
      }
      return image
    }
    return .table(header: table.header, headerLine: table.headerLine, rows: table.rows, columns: columns)
  }

  static func outcome(_ body: () throws -> Outcome) -> Outcome {
    do { return try body() } catch let error as DataError { return .error(error) } catch {
      return .error(.unreadableFile(path: "?", reason: "\(error)"))
    }
  }

  /// The outcomes of reading `path` in batches of `batch` rows (whole when nil) with the
  /// reference reader, up to the end or the first error.
  static func reference<E: MatrixScalar>(
    _ path: String, _ columns: [(name: String, kind: CSVColumnKind)], batch: Int?, as: E.Type
  ) -> [Outcome] {
    var reader: CSVTableReferenceReader<E>
    do { reader = try CSVTableReferenceReader<E>(path: path, columns: columns) } catch let error as DataError {
      return [.error(error)]
    } catch { return [.error(.unreadableFile(path: "?", reason: "\(error)"))] }
    return readAll(batch: batch) { try reader.read(maxRows: $0) }
  }

  /// The outcomes of `read` in batches of `batch` rows (all the rows at once when nil), up to
  /// the end or the first error.
  static func readAll<E: MatrixScalar>(batch: Int?, _ read: (Int?) throws -> CSVTable<E>?) -> [Outcome] {
    var outcomes: [Outcome] = []
    while true {
      let next = outcome { image(try read(batch)) }
      outcomes.append(next)
      if case .table = next, batch != nil { continue }
      return outcomes
    }
  }

  /// The same with the fast reader.
  static func fast<E: MatrixScalar>(
    _ path: String, _ columns: [(name: String, kind: CSVColumnKind)], batch: Int?, threads: Int,
    as: E.Type
  ) -> [Outcome] {
    var reader: CSVTableReader<E>
    do { reader = try CSVTableReader<E>(path: path, columns: columns, threads: threads) } catch let error as DataError {
      return [.error(error)]
    } catch { return [.error(.unreadableFile(path: "?", reason: "\(error)"))] }
    reader.parallelThreshold = 1
    return readAll(batch: batch) { try reader.read(maxRows: $0) }
  }

  // MARK: - Random files

  static let numberCells = [
    "0", "1", "-1", "+2", "3.25", "-0.5", ".5", "5.", "-.75", "007", "1e5", "2.5E-3", "-4e+2",
    "1.7976931348623157e308", "3.4028235e38", "3.4028236e38", "1e39", "1e999", "-1e999", "1e-999",
    "1e-45", "1.4e-45", "4.9e-324", "123456789012345678901234567890", "0.1000000000000000055511151231257827",
    "9007199254740993", "16777217", "0.30000000000000004", "6.02214076e23", "2e-7", "123.456e-5",
    "0.000123", "1_0", "0x1p3", "0X10", "inf", "-inf", "Infinity", "NAN", "nan(1)", "1e", "e5", ".",
    "+", "1.2.3", "12a", "NA", "nan", "NaN", "", "-", "?", "null", "None", "<NA>", "#N/A", "N/A", "NULL",
    "2007", "2007.0", "1.5", "-0", "-0.0",
  ]
  static let textCells = [
    "red", "blue", "green", "é", "e\u{301}", "naïve", "a,b", "line\nbreak", "cr\rbreak", "crlf\r\nx",
    "say \"hi\"", " padded ", "\tTab", "x y", "日本", "🙂", "abc", "Zed", "nanny", "infinite",
  ]

  /// A random field as written in the file (quoted when needed or by chance).
  static func field(_ g: inout Generator, numeric: Double) -> String {
    let pool = Double.random(in: 0..<1, using: &g) < numeric ? numberCells : textCells
    var text = pool.randomElement(using: &g)!
    if Int.random(in: 0..<10, using: &g) == 0 { text = [" ", "\t", "  "].randomElement(using: &g)! + text }
    let needsQuote = text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
    let inner = text.replacingOccurrences(of: "\"", with: "\"\"")
    var out = needsQuote || Int.random(in: 0..<8, using: &g) == 0 ? "\"\(inner)\"" : text
    if Int.random(in: 0..<10, using: &g) == 0, !out.hasSuffix("\t") { out += [" ", "\t"].randomElement(using: &g)! }
    return out
  }

  /// A random CSV file and columns to ask for; sometimes malformed.
  static func randomFile(_ g: inout Generator, rows: Int) -> (bytes: [UInt8], columns: [(name: String, kind: CSVColumnKind)]) {
    let columnCount = Int.random(in: 1...5, using: &g)
    let names = (0..<columnCount).map { "c\($0)" }
    let numeric = (0..<columnCount).map { _ in [0.0, 0.3, 0.9, 0.97, 1.0].randomElement(using: &g)! }
    let endings = ["\n", "\r\n", "\r"]
    let fileEnding = endings.randomElement(using: &g)!
    func ending(_ g: inout Generator) -> String {
      Int.random(in: 0..<10, using: &g) == 0 ? endings.randomElement(using: &g)! : fileEnding
    }
    var text = Int.random(in: 0..<6, using: &g) == 0 ? "\u{FEFF}" : ""
    if Int.random(in: 0..<8, using: &g) == 0 { text += ["", "  ", "\t"].randomElement(using: &g)! + ending(&g) }
    text += names.map { Int.random(in: 0..<6, using: &g) == 0 ? "\"\($0)\"" : $0 }.joined(separator: ",") + ending(&g)
    for _ in 0..<rows {
      if Int.random(in: 0..<15, using: &g) == 0 { text += ["", " ", "\t ", "\"\""].randomElement(using: &g)! + ending(&g) }
      var fields = (0..<columnCount).map { field(&g, numeric: numeric[$0]) }
      if Int.random(in: 0..<400, using: &g) == 0 {
        if fields.count > 1, Bool.random(using: &g) { fields.removeLast() } else { fields.append("9") }
      }
      text += fields.joined(separator: ",") + ending(&g)
    }
    if Bool.random(using: &g), text.hasSuffix(fileEnding) { text.removeLast(fileEnding.count == 2 ? 1 : 1) }
    var bytes = Array(text.utf8)
    if !bytes.isEmpty, Int.random(in: 0..<25, using: &g) == 0 {
      let at = Int.random(in: 0..<bytes.count, using: &g)
      bytes.insert([0, 0xFF, 0xC3, UInt8(ascii: "\""), 0xED].randomElement(using: &g)!, at: at)
    }
    var columns: [(name: String, kind: CSVColumnKind)] = []
    for name in names.shuffled(using: &g) where Int.random(in: 0..<4, using: &g) != 0 {
      columns.append((name, [.automatic, .numbers, .texts].randomElement(using: &g)!))
    }
    if Int.random(in: 0..<50, using: &g) == 0 { columns.append(("absent", .numbers)) }
    return (bytes, columns)
  }

  /// ``compare(_:_:batch:as:_:)`` in Float for the even file numbers `i`, in Double for the odd.
  func compare(_ path: String, _ columns: [(name: String, kind: CSVColumnKind)], batch: Int, file i: Int, _ context: String) {
    if i % 2 == 0 {
      compare(path, columns, batch: batch, as: Float.self, context)
    } else {
      compare(path, columns, batch: batch, as: Double.self, context)
    }
  }

  func compare<E: MatrixScalar>(_ path: String, _ columns: [(name: String, kind: CSVColumnKind)], batch: Int, as type: E.Type, _ context: String) {
    let whole = Self.reference(path, columns, batch: nil, as: type)
    for threads in [1, 2] {
      let fast = Self.fast(path, columns, batch: nil, threads: threads, as: type)
      #expect(fast == whole, "\(context), \(threads) threads")
    }
    let batches = Self.reference(path, columns, batch: batch, as: type)
    let fastBatches = Self.fast(path, columns, batch: batch, threads: 2, as: type)
    #expect(fastBatches == batches, "\(context), batches of \(batch)")
  }

  @Test("Random small files: the same tables and errors as the reference (3000 files)")
  func randomFiles() throws {
    let folder = try Folder()
    var g = Generator(state: 0x5EED)
    for i in 0..<3000 {
      let (bytes, columns) = Self.randomFile(&g, rows: Int.random(in: 0...40, using: &g))
      let path = try folder.file(bytes)
      let batch = Int.random(in: 1...12, using: &g)
      let context = "file \(i): \(String(decoding: bytes.prefix(300), as: UTF8.self).debugDescription) columns \(columns)"
      compare(path, columns, batch: batch, file: i, context)
    }
  }

  @Test("The random files include errors, text columns and splits inside quoted fields")
  func randomFilesCoverage() throws {
    let folder = try Folder()
    var g = Generator(state: 0x5EED)
    var errors = Set<String>()
    var texts = 0
    var tables = 0
    var split = [0, 0]
    for _ in 0..<3000 {
      let (bytes, columns) = Self.randomFile(&g, rows: Int.random(in: 0...40, using: &g))
      _ = Int.random(in: 1...12, using: &g)
      let path = try folder.file(bytes)
      if var reader = try? CSVTableReader<Double>(path: path, columns: columns, threads: 2) {
        reader.parallelThreshold = 1
        if (try? reader.read()) != nil { split[reader.lastReadThreads - 1] += 1 }
      }
      for outcome in Self.fast(path, columns, batch: nil, threads: 2, as: Double.self) {
        switch outcome {
        case .error(let error): errors.insert(Mirror(reflecting: error).children.first?.label ?? "\(error)")
        case .table(_, _, _, let columns):
          tables += 1
          texts += columns.filter { $0.texts != nil }.count
        case .end: break
        }
      }
    }
    #expect(errors.count >= 6, "\(errors)")
    #expect(texts > 100)
    #expect(tables > 500)
    // Whole reads split in two, and splits that fell inside a quoted field (read by one).
    #expect(split[1] > 500, "\(split)")
    #expect(split[0] > 10, "\(split)")
  }

  @Test("A split inside a quoted field with line breaks: read on by the first thread")
  func splitInsideQuotes() throws {
    let folder = try Folder()
    var text = "a,b\n"
    for i in 0..<50 { text += "\(i),x\n" }
    text += "1,\"" + String(repeating: "line\n", count: 200) + "\"\n"
    for i in 0..<50 { text += "\(i),y\n" }
    let path = try folder.file(text)
    let columns: [(name: String, kind: CSVColumnKind)] = [("a", .numbers), ("b", .texts)]
    let reference = Self.reference(path, columns, batch: nil, as: Float.self)
    #expect(Self.fast(path, columns, batch: nil, threads: 2, as: Float.self) == reference)
    guard case .table(_, _, let rows, _) = reference.first else {
      Issue.record("no table: \(reference)")
      return
    }
    #expect(rows == 101)
    var reader = try CSVTableReader<Float>(path: path, columns: columns, threads: 2)
    reader.parallelThreshold = 1
    _ = try reader.read()
    #expect(reader.lastReadThreads == 1)
  }

  // MARK: - The number fast path

  /// Cells at the edges of the number fast path (`CSVNumberRecords`): some it reads, some it
  /// must decline for the general path (missing tokens, text, quotes, spaces, more than 19
  /// digits, long exponents, infinities, NUL, non-ASCII).
  static let edgeCells = [
    "+5", "-0", "-0.0", "+0", ".5", "-.5", "5.", "5.e3", "007", "0000.000123", "0.00000000000000000000012345",
    "-0.000", ".000", "0.0000001e-5", "0.000000000000000000000123456789012345678", "1e5", "1E+05",
    "1e-05", "2.5e-3", "1e0005", "1e00005", "1e", "1e+", "e5", ".", "-.", "+", "-", "1.2.3", "12a",
    "1234567890123456789", "12345678901234567890", "0.1234567890123456789", "0.12345678901234567890",
    "1.000000000000000000", "9999999999999999999", "16777217", "16777216.5", "0.30000000000000004",
    "3.4028235e38", "3.4028236e38", "1e39", "1e-46", "1e-50", "1.4e-45", "1e308", "1e309", "4.9e-324",
    "1e-9999", "NaN", "nan", "inf", "-inf", "Infinity", "NA", "N/A", "", "?", "null", "None", "<NA>",
    "#N/A", "x", "\"1.5\"", "\"\"", " 1.5", "1.5 ", "\t2", "2\t", "\"a,b\"", "\"x\ny\"", "é", "1\u{0}",
    "1.5\"", "2007", "2007.0",
  ]

  /// A number as a data file writes it: mostly `%.7g`, sometimes other formats.
  static func plainNumber(_ g: inout Generator) -> String {
    let x = Double.random(in: -1...1, using: &g) * [1, 1, 1, 10, 1000, 1e-3, 1e-6, 1e7, 1e20].randomElement(using: &g)!
    switch Int.random(in: 0..<10, using: &g) {
    case 0: return String(format: "%.17g", x)
    case 1: return String(format: "%.9e", x)
    case 2: return String(Int.random(in: -100_000...100_000, using: &g))
    case 3: return "\(Float(x))"
    default: return String(format: "%.7g", x)
    }
  }

  /// A file of numbers with `edge` of its cells from ``edgeCells``, mixed line endings,
  /// blank lines, sometimes (when `edge` > 0) a short or long row, and sometimes no line
  /// break at the end.
  static func numberFile(_ g: inout Generator, rows: Int, columns: Int, edge: Double) -> [UInt8] {
    let endings = ["\n", "\r\n", "\r"]
    let fileEnding = endings.randomElement(using: &g)!
    var text = (0..<columns).map { "c\($0)" }.joined(separator: ",") + fileEnding
    for _ in 0..<rows {
      if Int.random(in: 0..<200, using: &g) == 0 { text += fileEnding }
      var fields = (0..<columns).map { _ in
        Double.random(in: 0..<1, using: &g) < edge ? edgeCells.randomElement(using: &g)! : plainNumber(&g)
      }
      if edge > 0, Int.random(in: 0..<3000, using: &g) == 0 {
        if fields.count > 1, Bool.random(using: &g) { fields.removeLast() } else { fields.append("") }
      }
      text += fields.joined(separator: ",")
      text += Int.random(in: 0..<20, using: &g) == 0 ? endings.randomElement(using: &g)! : fileEnding
    }
    if Bool.random(using: &g), text.hasSuffix(fileEnding) { text.removeLast() }
    return Array(text.utf8)
  }

  /// Some of the columns, mostly read as numbers (automatic or not), sometimes one as texts.
  static func numberColumns(_ g: inout Generator, count: Int) -> [(name: String, kind: CSVColumnKind)] {
    var columns: [(name: String, kind: CSVColumnKind)] = []
    for k in (0..<count).shuffled(using: &g) where columns.isEmpty || Int.random(in: 0..<4, using: &g) != 0 {
      let kind: CSVColumnKind = Int.random(in: 0..<30, using: &g) == 0 ? .texts : Bool.random(using: &g) ? .automatic : .numbers
      columns.append(("c\(k)", kind))
    }
    return columns
  }

  @Test("Number files with edge cells: the same tables and errors as the reference (1500 files)")
  func numberFiles() throws {
    let folder = try Folder()
    var g = Generator(state: 0xFA57)
    for i in 0..<1500 {
      let columnCount = Int.random(in: 1...6, using: &g)
      let edge = [0.0, 0.002, 0.02, 0.2].randomElement(using: &g)!
      let bytes = Self.numberFile(&g, rows: Int.random(in: 0...60, using: &g), columns: columnCount, edge: edge)
      let columns = Self.numberColumns(&g, count: columnCount)
      let path = try folder.file(bytes)
      let context = "file \(i): \(String(decoding: bytes.prefix(300), as: UTF8.self).debugDescription) columns \(columns)"
      let batch = Int.random(in: 1...12, using: &g)
      compare(path, columns, batch: batch, file: i, context)
    }
  }

  @Test("Number files of a few megabytes: records across chunks, at the split and the refill margin")
  func largeNumberFiles() throws {
    let folder = try Folder()
    var g = Generator(state: 0xB16)
    for (i, (edge, columnCount)) in [(0.0, 21), (0.0005, 21), (0.01, 3), (0.0002, 1)].enumerated() {
      let rows = 3_000_000 / (columnCount * 11)
      let bytes = Self.numberFile(&g, rows: rows, columns: columnCount, edge: edge)
      let path = try folder.file(bytes)
      var columns = Self.numberColumns(&g, count: columnCount).filter { $0.kind != .texts }
      if i == 0 { columns = (0..<columnCount).map { (name: "c\($0)", kind: CSVColumnKind.automatic) } }
      let context = "large file \(i), edge \(edge), columns \(columns)"
      compare(path, columns, batch: 50_000, as: Float.self, context)
      compare(path, columns, batch: 70_001, as: Double.self, context)
    }
  }

  @Test("Hand-picked records around the number fast path")
  func numberFastPathCases() throws {
    let folder = try Folder()
    let files = [
      "a,b\n1.5,2\n", "a,b\n1.5,2", "a,b\r\n1.5,2\r\n3,4", "a,b\r1.5,2\r3,4\r", "a,b\n1.5,2,\n3,4\n",
      "a,b\n1.5,\n3,4\n", "a,b\n,2\n", "a,b\n1.5,2\n\n3,4\n", "a,b\n1,2\n3\n", "a,b\n1,2\n3,4,5\n",
      "a,b\n1, 2\n", "a,b\n1,2 \n", "a,b\n\"1\",2\n", "a,b\n1,\"2\"\n", "a,b\n-0,+0\n", "a,b\n.5,5.\n",
      "a,b\nNaN,inf\n", "a,b\n1e39,1\n", "a,b\n12345678901234567890,1\n", "a,b\n1234567890123456789,1\n",
      "a,b\n1e5,1E-5\n", "a,b\n1e12345,1\n", "a\n1\n\n2\n", "a\n1\n,\n", "a,b\n1,2\r", "a,b\n1,x\n",
      "a,b\n1,\"x\"\n2,3\n", "a,b\n1,2\u{0}\n", "a,b\n1,2\n3,é\n",
    ]
    for (i, text) in files.enumerated() {
      let path = try folder.file(text)
      for columns: [(name: String, kind: CSVColumnKind)] in [
        [("a", .numbers)], [("b", .automatic), ("a", .numbers)], [("a", .automatic)], [("b", .numbers)],
      ] where text.hasPrefix("a,b") || columns.count == 1 && columns[0].name == "a" {
        compare(path, columns, batch: 1, as: Float.self, "case \(i): \(text.debugDescription) \(columns)")
        compare(path, columns, batch: 2, as: Double.self, "case \(i): \(text.debugDescription) \(columns)")
      }
    }
  }

  /// The rows the number fast path read in one part reader over the whole file.
  static func fastRows<E: MatrixScalar>(_ path: String, _ columns: [(name: String, kind: CSVColumnKind)], as: E.Type) throws -> (rows: Int, fast: Int) {
    let input = try CSVChunkInput(path: path, name: path)
    let scanner = CSVRecordScanner(input: input, path: path)
    let (header, _) = try #require(try scanner.readHeader())
    scanner.setHeader(header)
    let requests = columns.map { column in
      (name: column.name, position: header.firstIndex(of: column.name)!, kind: column.kind)
    }
    var result = CSVPartReader<E>(
      scanner: scanner, requests: requests, budget: CSVByteBudget(limit: nil), textLimit: nil
    ).read(maxRows: nil, firstCapacity: 16)
    defer { result.release() }
    #expect(result.error == nil)
    return (result.rows, result.fastRows)
  }

  @Test("The number fast path reads plain records and leaves the others to the general path")
  func numberFastPathIsTaken() throws {
    let folder = try Folder()
    var g = Generator(state: 7)
    let plain = try folder.file(Self.numberFile(&g, rows: 30_000, columns: 5, edge: 0))
    let all: [(name: String, kind: CSVColumnKind)] = (0..<5).map { ("c\($0)", .automatic) }
    for counts in [try Self.fastRows(plain, all, as: Float.self), try Self.fastRows(plain, [("c3", .numbers)], as: Double.self)] {
      #expect(counts.rows == 30_000)
      // All but a record per block boundary, chunk refill and line-ending change.
      #expect(counts.fast > 29_000, "\(counts)")
    }
    let texts = try Self.fastRows(plain, [("c1", .texts), ("c2", .numbers)], as: Float.self)
    #expect(texts.rows == 30_000 && texts.fast == 0, "\(texts)")
    let missing = try folder.file("a,b\n" + (0..<3000).map { "\($0),\($0 % 3 == 0 ? "NA" : "1.5")\n" }.joined())
    let mixed = try Self.fastRows(missing, [("a", .numbers), ("b", .automatic)], as: Float.self)
    #expect(mixed.rows == 3000)
    #expect(mixed.fast > 1000 && mixed.fast < 2000, "\(mixed)")
  }

  // MARK: - Malformed input

  static let malformed: [(String, [UInt8])] = [
    ("short row", Array("a,b\n1,2\n3\n".utf8)),
    ("long row", Array("a,b\n1,2\n3,4,5\n".utf8)),
    ("NUL unquoted", Array("a,b\n1,2\n3,4".utf8) + [0] + Array("\n".utf8)),
    ("NUL in quotes", Array("a,b\n1,\"x\ny".utf8) + [0] + Array("\"\n".utf8)),
    ("NUL after quote", Array("a,b\n1,\"x\"".utf8) + [0] + Array("\n".utf8)),
    ("NUL beyond the header's columns", Array("a,b\n1,2,".utf8) + [0] + Array("\n".utf8)),
    ("unterminated quote", Array("a,b\n1,2\n3,\"abc\n\n".utf8)),
    ("text after quote", Array("a,b\n1,\"2\"x\n".utf8)),
    ("invalid UTF-8", Array("a,b\n1,2\n3,".utf8) + [0xFF] + Array("\n".utf8)),
    ("invalid UTF-8 in a multi-line field", Array("a,b\n1,\"x\r\ny\rz".utf8) + [0xC3, 0x28] + Array("\"\n".utf8)),
    ("invalid UTF-8 in an unread column", Array("a,b\n1,".utf8) + [0xE0, 0x80] + Array("\n".utf8)),
    ("field too long", Array("a,b\n1,".utf8) + [UInt8](repeating: 0x37, count: (1 << 20) + 1) + Array("\n".utf8)),
    ("empty header name", Array("a,,b\n1,2,3\n".utf8)),
    ("duplicate header", Array("a,b,a\n1,2,3\n".utf8)),
    ("empty file", []),
    ("only blank lines", Array("\n  \n\t\r\n".utf8)),
    ("BOM only", [0xEF, 0xBB, 0xBF]),
    ("header only", Array("\u{FEFF}a,b\r\n".utf8)),
    ("blank lines and CR", Array("\r\r a , b \r\r1,2\r\r\n3,4".utf8)),
    ("cell problems", Array("a,b\n1,x\ninf,2\n1e999,3\n-,4\n".utf8)),
    ("unterminated quote in an unread column", Array("a,b\n1,\"2\n".utf8)),
  ]

  @Test("Malformed files: the same error as the reference", arguments: 0..<21)
  func malformedFiles(index: Int) throws {
    let (name, bytes) = Self.malformed[index]
    let folder = try Folder()
    let path = try folder.file(bytes)
    for columns: [(name: String, kind: CSVColumnKind)] in [[("a", .numbers)], [("a", .automatic), ("b", .texts)]] {
      let reference = Self.reference(path, columns, batch: nil, as: Float.self)
      for threads in [1, 2] {
        #expect(Self.fast(path, columns, batch: nil, threads: threads, as: Float.self) == reference, "\(name)")
      }
      #expect(Self.fast(path, columns, batch: 1, threads: 1, as: Float.self) == Self.reference(path, columns, batch: 1, as: Float.self), "\(name)")
    }
  }

  @Test("Malformed files give the error expected")
  func malformedKinds() throws {
    let folder = try Folder()
    func error(_ bytes: [UInt8]) throws -> DataError? {
      let path = try folder.file(bytes)
      if case .error(let error) = Self.fast(path, [("a", .numbers)], batch: nil, threads: 1, as: Float.self).last {
        return error
      }
      return nil
    }
    let path = { (_: Int) in "" }
    _ = path
    guard case .raggedRow(_, 3, "b", 2, 1)? = try error(Array("a,b\n1,2\n3\n".utf8)) else { Issue.record("ragged"); return }
    guard case .nulByte(_, 3, "b")? = try error(Array("a,b\n1,\"x\ny".utf8) + [0] + Array("\"\n".utf8)) else { Issue.record("NUL"); return }
    guard case .invalidEncoding(_, 4)? = try error(Array("a,b\n1,\"x\r\ny\rz".utf8) + [0xC3, 0x28] + Array("\"\n".utf8)) else { Issue.record("UTF-8"); return }
    guard case .unterminatedQuote(_, 3, "b")? = try error(Array("a,b\n1,2\n3,\"abc\n\n".utf8)) else { Issue.record("quote"); return }
    guard case .cellProblems(_, let problems, 2)? = try error(Array("a,b\n1,x\ninf,2\n1e999,3\n-,4\n".utf8)),
      case .nonFiniteNumber(_, 3, "a", "inf") = problems[0], case .numberOutOfRange(_, 4, "a", "1e999", "Double") = problems[1]
    else { Issue.record("problems"); return }
    // Only the columns read must have a name of their own.
    guard case .duplicateColumn(_, 1, "a", [1, 3])? = try error(Array("a,b,a\n1,2,3\n".utf8)) else { Issue.record("repeated"); return }
    #expect(try error(Array("a,,b,b\n1,2,3,4\n".utf8)) == nil, "an empty and a repeated name in columns not read")
  }

  // MARK: - Large files

  @Test("A file of a few megabytes: one and two threads and batches give the reference's table")
  func largeFile() throws {
    let folder = try Folder()
    var g = Generator(state: 42)
    var text = "id,x,y,label,note,z\n"
    let labels = ["cat", "dog", "bird", "fish", "a,b", "new\nline"]
    for i in 0..<60_000 {
      let label = labels[Int.random(in: 0..<labels.count, using: &g)]
      let quoted = label.contains(",") || label.contains("\n") ? "\"\(label)\"" : label
      let x = Double.random(in: -1000...1000, using: &g)
      let y = Float.random(in: -1...1, using: &g)
      let z = Int.random(in: 0..<50, using: &g) == 0 ? "NA" : String(Int.random(in: -99999...99999, using: &g))
      text += "\(i),\(x),\(y),\(quoted),\"note \(i % 97)\",\(z)\(i % 3 == 0 ? "\r\n" : "\n")"
    }
    let path = try folder.file(text)
    let columns: [(name: String, kind: CSVColumnKind)] = [
      ("x", .numbers), ("label", .automatic), ("z", .automatic), ("note", .texts), ("y", .numbers),
    ]
    let reference = Self.reference(path, columns, batch: nil, as: Float.self)
    guard case .table(_, _, 60_000, _) = reference.first else {
      Issue.record("reference: \(String(describing: reference.first).prefix(300))")
      return
    }
    #expect(Self.fast(path, columns, batch: nil, threads: 1, as: Float.self) == reference)
    #expect(Self.fast(path, columns, batch: nil, threads: 2, as: Float.self) == reference)
    #expect(Self.fast(path, columns, batch: 4096, threads: 1, as: Float.self) == Self.reference(path, columns, batch: 4096, as: Float.self))
    var reader = try CSVTableReader<Double>(path: path, columns: columns, threads: 2)
    reader.parallelThreshold = 1
    var referenceReader = try CSVTableReferenceReader<Double>(path: path, columns: columns)
    #expect(Self.image(try reader.read()) == Self.image(try referenceReader.read()))
    #expect(reader.lastReadThreads == 2)
    #expect(try reader.read() == nil)
  }

  @Test("A lone quoted empty field is a row with a missing cell; a blank line is skipped")
  func quotedEmptyFieldIsARow() throws {
    let folder = try Folder()
    // One column, as a file of one feature has it: `""` is a row (predictions stay one per
    // row), the blank line is not.
    let path = try folder.file("x\n0.5\n\"\"\n1.5\n\n2.5\n")
    let columns: [(name: String, kind: CSVColumnKind)] = [("x", .numbers)]
    let reference = Self.reference(path, columns, batch: nil, as: Float.self)
    guard case .table(_, _, let rows, let images) = reference.first else {
      Issue.record("\(reference)")
      return
    }
    #expect(rows == 4)
    #expect(images.first?.missingCount == 1, "\(images)")
    #expect(images.first?.missingLines == [3], "\(images)")
    for threads in [1, 2] {
      #expect(Self.fast(path, columns, batch: nil, threads: threads, as: Float.self) == reference, "\(threads) threads")
    }
    // A quoted empty header line is skipped as before.
    let headed = try folder.file("\"\"\nx\n1\n")
    #expect(Self.fast(headed, columns, batch: nil, threads: 1, as: Float.self) == Self.reference(headed, columns, batch: nil, as: Float.self))
  }

  @Test("A memory limit too small for the cells: both readers throw memoryLimitExceeded")
  func memoryLimit() throws {
    let folder = try Folder()
    let path = try folder.file("a,b\n" + (0..<20_000).map { "\($0),x\($0 % 7)\n" }.joined())
    let columns: [(name: String, kind: CSVColumnKind)] = [("a", .numbers), ("b", .texts)]
    for threads in [1, 2] {
      var reader = try CSVTableReader<Float>(path: path, columns: columns, byteLimit: 10_000, threads: threads)
      reader.parallelThreshold = 1
      let error = Self.outcome { Self.image(try reader.read()) }
      guard case .error(.memoryLimitExceeded(_, let line, let rows, 2, let bytes, 10_000)) = error else {
        Issue.record("\(threads) threads: \(error)")
        continue
      }
      #expect(bytes > 10_000)
      // One record a line after the header: the rows counted are those up to the line, in
      // whichever thread's part the limit was met (the second's counted 1 row at its start).
      #expect(rows == line - 1, "\(threads) threads: \(rows) rows by line \(line)")
    }
    var reference = try CSVTableReferenceReader<Float>(path: path, columns: columns, byteLimit: 10_000)
    guard case .error(.memoryLimitExceeded) = Self.outcome({ Self.image(try reference.read()) }) else {
      Issue.record("reference")
      return
    }
    var roomy = try CSVTableReader<Float>(path: path, columns: columns, byteLimit: 1 << 20)
    #expect(try roomy.read()?.rows == 20_000)
  }

  // MARK: - Pieces

  @Test("The byte test for missing cells agrees with missingTokens")
  func missingTokens() {
    var candidates = Array(CSVTableReader<Float>.missingTokens)
    candidates += ["n", "na", "NA ", "NAN", "-1", "--", "nul", "NONE", "#NA", "<na>", "??", "0", "."]
    for text in candidates {
      var text = text
      let fast = text.withUTF8 { csvIsMissingToken($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }
      #expect(fast == CSVTableReader<Float>.missingTokens.contains(text), "\(text)")
    }
  }
}
