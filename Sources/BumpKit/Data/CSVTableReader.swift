import Dispatch
import Foundation

/// Reads chosen columns of a CSV file into a ``CSVTable``, whole or in batches of rows.
///
/// The file follows the format of
/// ``Dataset/loadCSV(path:target:task:features:ignoring:classes:byteLimit:)`` (quoting, BOM,
/// line endings, blank lines, the NUL, encoding and over-long-cell errors); columns not asked
/// for are not parsed.
///
/// **Missing cells.** A cell whose text (trimmed of spaces and tabs) is one of
/// ``missingTokens`` is missing: NaN in a number column, ``CSVColumn/missingCode`` in a text
/// column, and counted with its first lines.
///
/// **Numbers** follow Swift's `Double(String)` grammar and are rounded once, straight to
/// `Element`. A cell in a number column that is not a number, is infinite (`inf`), or is too
/// large for `Element` is a *problem*: reading goes on to the end of the batch, and then
/// ``DataError/cellProblems(path:problems:total:)`` lists the first ``problemLimit`` problems
/// in file order with their total.
///
/// **Text** is kept as written: spaces and tabs around an unquoted cell are dropped, inside
/// quotes they belong to the text (`" cat"` and `cat` are two texts), as in a header name;
/// missing tokens and numbers are read without them. A column of
/// ``CSVColumnKind/automatic`` kind that
/// turns out to hold text keeps its non-missing number cells as their canonical spelling
/// (`2007` for `2007.0`, Swift's shortest form otherwise), so that `1` and `1.0` are one
/// category. At most ``textLimit`` distinct texts per column.
///
/// **How it reads.** The file is read in 1 MiB chunks and its records are found in place
/// (see `CSVRecordScanner`): no `String` or array is made per record or per cell, columns not
/// asked for are skipped, numbers are parsed from the bytes, and only text cells (and numbers
/// outside the plain decimal grammar) become strings. Cells are appended to blocks that never
/// move; a number column keeps them (``CSVValues``), a text column's codes are copied once
/// into one array. A whole read (`read()`, or
/// `read(maxRows: nil)`) of a regular file of at least ``parallelByteThreshold`` bytes is
/// split in two at a line break near its middle and read by two threads; if that line break
/// turns out to be inside a quoted field, the first thread reads on to the end. Batches are
/// read by one thread. The results, and the errors, are those of the reference reader
/// (`CSVTableReferenceReader`), with one difference: the memory limit counts the blocks
/// allocated (reserved before each allocation, for all threads together), so
/// ``DataError/memoryLimitExceeded(path:line:rows:columns:bytes:limit:)`` may come at another
/// line, with other counts, than the reference's.
package struct CSVTableReader<Element: MatrixScalar> {
  /// The cell texts read as missing: the empty cell, `NA`, `N/A`, `NaN`, `nan`, `null`,
  /// `NULL`, `None`, `?`, `-`, `<NA>` and `#N/A`. Compared exactly (case matters).
  package static var missingTokens: Set<String> {
    ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?", "-", "<NA>", "#N/A"]
  }
  /// The most lines listed per column (missing cells) and problems listed per batch.
  package static var lineListLimit: Int { 20 }
  /// The most problems listed in one ``DataError/cellProblems(path:problems:total:)``.
  package static var problemLimit: Int { 20 }
  /// The most distinct texts a text column may hold.
  package static var textLimit: Int { 65_536 }
  /// The smallest file (bytes left after the header) read by two threads: 8 MiB.
  package static var parallelByteThreshold: Int { 8 << 20 }

  /// The columns read, by header position, with their kinds.
  package let requests: [(name: String, position: Int, kind: CSVColumnKind)]
  /// The path as given, or "standard input".
  package let path: String
  /// The header's names, in file order.
  package let header: [String]
  /// The header's line.
  package let headerLine: Int
  /// The position (0-based) of each non-empty header name (its first cell; only the columns
  /// read must have a name of their own).
  package let columnIndex: [String: Int]
  /// The threads a whole read of a large regular file uses (1 or 2).
  package let threads: Int

  /// The smallest remainder read by two threads (tests lower it to split small files).
  var parallelThreshold = CSVTableReader.parallelByteThreshold

  /// The threads the last whole read used in the end (1 when it was not split, or when its
  /// split turned out to be inside a quoted field).
  private(set) var lastReadThreads = 1

  let byteLimit: Int?
  let scanner: CSVRecordScanner

  /// Opens `path` (`-` reads standard input) and finds the columns.
  ///
  /// - Parameters:
  ///   - columns: The columns to read and how; names must be distinct. Each must name exactly
  ///     one header cell; the columns not read may have empty or repeated names.
  ///   - byteLimit: The most memory the cells read in one batch may take; nil for no limit.
  ///   - threads: The threads for a whole read of a large regular file: 1 or 2; nil for 2
  ///     when the machine has two processors or more.
  /// - Throws: the errors of opening and reading the header (see ``Dataset``),
  ///   ``DataError/missingColumn(path:line:column:available:)`` for a name the header lacks,
  ///   ``DataError/duplicateColumn(path:line:column:positions:)`` for one it has more than once.
  package init(
    path: String, columns: [(name: String, kind: CSVColumnKind)], byteLimit: Int? = nil,
    threads: Int? = nil
  ) throws {
    try self.init(path: path, byteLimit: byteLimit, threads: threads) { _, _ in columns }
  }

  /// Opens `path` (`-` reads standard input), reads the header, and reads the columns that
  /// `choose` picks from it: the file is opened once, so standard input and a pipe work.
  ///
  /// - Parameters:
  ///   - choose: Given the header's names and the line it is on, the columns to read and
  ///     how; it may throw (a target the header lacks), and that error is rethrown.
  /// - Throws: the errors of the other initializer, and those of `choose`.
  package init(
    path: String, byteLimit: Int? = nil, threads: Int? = nil,
    choosing choose: (_ header: [String], _ headerLine: Int) throws -> [(name: String, kind: CSVColumnKind)]
  ) throws {
    let name = path == "-" ? "standard input" : path
    let input = try CSVChunkInput(path: path, name: name)
    let scanner = CSVRecordScanner(input: input, path: name)
    guard let (header, headerLine) = try scanner.readHeader() else {
      throw DataError.emptyFile(path: name)
    }
    scanner.setHeader(header)
    let chosen = try choose(header, headerLine)
    let index = try CSVRecordReader.columnIndex(
      of: header, using: chosen.lazy.map(\.name), line: headerLine, path: name)
    requests = try chosen.map { column in
      guard let position = index[column.name] else {
        throw DataError.missingColumn(
          path: name, line: headerLine, column: column.name, available: header)
      }
      return (column.name, position, column.kind)
    }
    self.path = name
    self.header = header
    self.headerLine = headerLine
    self.columnIndex = index
    self.scanner = scanner
    self.byteLimit = byteLimit
    self.threads = max(1, min(2, threads ?? (ProcessInfo.processInfo.activeProcessorCount >= 2 ? 2 : 1)))
  }

  /// Reads the next `maxRows` rows (all the rest when nil); nil once the file is exhausted.
  ///
  /// - Throws: the reading errors, ``DataError/cellProblems(path:problems:total:)``,
  ///   ``DataError/tooManyCategories(path:line:column:limit:)``,
  ///   ``DataError/memoryLimitExceeded(path:line:rows:columns:bytes:limit:)``.
  package mutating func read(maxRows: Int? = nil) throws -> CSVTable<Element>? {
    if let maxRows, maxRows <= 0 { return nil }
    let budget = CSVByteBudget(limit: byteLimit)
    lastReadThreads = 1
    if maxRows == nil, threads >= 2, let split = splitOffset() {
      return try readInTwo(at: split, budget: budget)
    }
    let reader = CSVPartReader<Element>(
      scanner: scanner, requests: requests, budget: budget, textLimit: Self.textLimit)
    var result = reader.read(maxRows: maxRows, firstCapacity: maxRows ?? 4096)
    if let error = result.error {
      result.release()
      throw error
    }
    return try assemble([(result, 0)])
  }

  /// A record boundary candidate near the middle of what is left of a large regular file:
  /// just after the first line break past the middle.
  private func splitOffset() -> Int? {
    let input = scanner.input
    guard input.isRegularFile, !(input.eof && input.pos == input.end) else { return nil }
    let start = input.position
    let remaining = input.fileSize - start
    guard remaining >= max(1, parallelThreshold) else { return nil }
    let middle = start + remaining / 2
    let window = input.bytes(at: middle, count: 1 << 16)
    for i in window.indices {
      if window[i] == 0x0A { return middle + i + 1 }
      if window[i] == 0x0D {
        guard i + 1 < window.count else { return nil }
        if window[i + 1] != 0x0A { return middle + i + 1 }
      }
    }
    return nil
  }

  /// Reads the rest of the file in two threads, the second from `split`.
  private mutating func readInTwo(at split: Int, budget: CSVByteBudget) throws -> CSVTable<Element>? {
    let secondScanner = CSVRecordScanner(
      input: CSVChunkInput(sharing: scanner.input, from: split), sharingHeaderOf: scanner, line: 0)
    let flag = CSVCancelFlag()
    secondScanner.cancel = flag
    let worker = CSVPartWorker(
      reader: CSVPartReader<Element>(
        scanner: secondScanner, requests: requests, budget: budget, textLimit: nil))
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
      worker.run()
      done.signal()
    }
    thread.stackSize = 1 << 22
    thread.start()
    scanner.stopAt = split
    scanner.overshot = flag
    var first = CSVPartReader<Element>(
      scanner: scanner, requests: requests, budget: budget, textLimit: Self.textLimit
    ).read(maxRows: nil, firstCapacity: 1 << 16)
    if first.error != nil { flag.set() }
    done.wait()
    scanner.stopAt = .max
    scanner.overshot = nil
    var second = worker.result!
    if let error = first.error {
      first.release()
      second.release()
      throw error
    }
    guard scanner.reachedStop else {
      // The split was inside a quoted field: the first thread read everything.
      second.release()
      return try assemble([(first, 0)])
    }
    scanner.input.finish()
    lastReadThreads = 2
    let offset = scanner.line
    var segments = [(first, 0), (second, offset)]
    do {
      try Self.mergeTexts(&segments, path: path)
      if let error = second.error {
        let shifted = (error as? DataError)?.shiftingLines(by: offset) ?? error
        // The second part's rows come after the first part's (its bytes are the shared total).
        if case .memoryLimitExceeded(let path, let line, let rows, let columns, let bytes, let limit)? = shifted as? DataError {
          throw DataError.memoryLimitExceeded(
            path: path, line: line, rows: rows + first.rows, columns: columns, bytes: bytes, limit: limit)
        }
        throw shifted
      }
    } catch {
      for i in segments.indices { segments[i].0.release() }
      throw error
    }
    return try assemble(segments)
  }

  /// Joins the dictionaries of the text columns of the second segment into the first's,
  /// throwing ``DataError/tooManyCategories(path:line:column:limit:)`` at the first row
  /// (then column) where a column's distinct texts would pass ``textLimit``.
  private static func mergeTexts(
    _ segments: inout [(CSVPartReader<Element>.Result, Int)], path: String
  ) throws {
    guard segments.count == 2 else { return }
    let offset = segments[1].1
    var tooMany: (line: Int, k: Int, error: DataError)?
    var remaps: [[UInt32]] = []
    for k in segments[0].0.parts.indices {
      var remap: [UInt32] = []
      if segments[0].0.parts[k].kind == .texts {
        let second = segments[1].0.parts[k].dictionary
        var merged = segments[0].0.parts[k].dictionary
        segments[0].0.parts[k].dictionary = CSVTextDictionary()
        remap.reserveCapacity(second.count)
        for code in 0..<second.count {
          let found: Int? = second.withBytes(of: code) { p, count in
            let hash = CSVTextDictionary.hash(p, count)
            if let existing = merged.find(p, count, hash: hash) { return existing }
            guard merged.count < textLimit else { return nil }
            return merged.insert(p, count, hash: hash, line: second.firstLines[code] + offset)
          }
          guard let found else {
            let line = second.firstLines[code] + offset
            let name = segments[0].0.parts[k].name
            if tooMany.map({ (line, k) < ($0.line, $0.k) }) ?? true {
              tooMany = (
                line, k, .tooManyCategories(path: path, line: line, column: name, limit: textLimit)
              )
            }
            break
          }
          remap.append(UInt32(found))
        }
        segments[0].0.parts[k].dictionary = merged
      }
      remaps.append(remap)
    }
    if let tooMany { throw tooMany.error }
    for k in remaps.indices where segments[0].0.parts[k].kind == .texts {
      segments[1].0.parts[k].remap = remaps[k]
    }
  }

  /// The table of the segments read (in file order, each with the number to add to its
  /// lines), or nil if they hold no row; releases their memory.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  func assemble(_ segments: [(CSVPartReader<Element>.Result, Int)]) throws -> CSVTable<Element>? {
    var segments = segments
    defer { for i in segments.indices { segments[i].0.release() } }
    let rows = segments.reduce(0) { $0 + $1.0.rows }
    guard rows > 0 else { return nil }
    let last = segments.last { $0.0.rows > 0 }!
    let lastLine = last.0.lastLine + last.1
    var problems: [(line: Int, position: Int, error: DataError)] = []
    var problemCount = 0
    var columns: [CSVColumn<Element>] = []
    for k in requests.indices {
      let (name, position, kind) = requests[k]
      var textLines: [Int] = []
      var missingCount = 0
      var missingLines: [Int] = []
      for (result, offset) in segments {
        let part = result.parts[k]
        missingCount += part.missingCount
        for line in part.missingLines where missingLines.count < Self.lineListLimit {
          missingLines.append(line + offset)
        }
        problemCount += part.problemCount
        problems += part.problems.map {
          (line: $0.line + offset, position: position, error: $0.error.shiftingLines(by: offset))
        }
      }
      let cells: CSVColumn<Element>.Cells
      switch kind {
      case .numbers:
        cells = .numbers(Self.takeNumbers(&segments, k: k))
      case .texts:
        var stores = segments.indices.map { segments[$0].0.parts[k].codes }
        let transforms: [((UInt32) -> UInt32)?] = segments.indices.map { i in
          guard let remap = segments[i].0.parts[k].remap else { return nil }
          return { $0 == CSVColumn<Element>.missingCode ? $0 : remap[Int($0)] }
        }
        let codes = CSVBlockStore.concatenate(&stores, transforms: transforms)
        for i in segments.indices { segments[i].0.parts[k].codes = stores[i] }
        cells = .texts(codes: codes, texts: segments[0].0.parts[k].dictionary.texts)
        textLines = segments[0].0.parts[k].dictionary.firstLines.map { $0 + segments[0].1 }
      case .automatic:
        let textCount = segments.reduce(0) { $0 + $1.0.parts[k].textCount }
        let numberCount = segments.reduce(0) { $0 + $1.0.parts[k].numberCount }
        if textCount >= 2, textCount > numberCount {
          cells = try automaticTexts(segments, k: k, rows: rows, lastLine: lastLine)
        } else {
          cells = .numbers(Self.takeNumbers(&segments, k: k))
          for (result, offset) in segments {
            let part = result.parts[k]
            problemCount += part.pendingCount
            problems += part.pending.map {
              (line: $0.line + offset, position: position, error: $0.error.shiftingLines(by: offset))
            }
          }
        }
      }
      var column = CSVColumn(
        name: name, position: position, cells: cells, missingCount: missingCount,
        missingLines: missingLines)
      column.textLines = textLines
      columns.append(column)
    }
    if problemCount > 0 {
      problems.sort { ($0.line, $0.position) < ($1.line, $1.position) }
      throw DataError.cellProblems(
        path: path, problems: problems.prefix(Self.problemLimit).map(\.error), total: problemCount)
    }
    return CSVTable(path: path, header: header, headerLine: headerLine, rows: rows, columns: columns)
  }

  /// The number blocks of column `k` of the segments, in order, handed to the table as they
  /// are (no copy).
  private static func takeNumbers(
    _ segments: inout [(CSVPartReader<Element>.Result, Int)], k: Int
  ) -> CSVValues<Element> {
    var blocks: [CSVValues<Element>.Block] = []
    for i in segments.indices {
      blocks += segments[i].0.parts[k].numbers.takeBlocks().map { CSVValues.Block(base: $0.pointer, count: $0.count) }
    }
    return CSVValues(blocks: blocks)
  }

  /// An automatic column that holds text: every non-missing cell as a text, numbers in their
  /// canonical spelling, coded in order of first appearance.
  private func automaticTexts(
    _ segments: [(CSVPartReader<Element>.Result, Int)], k: Int, rows: Int, lastLine: Int
  ) throws -> CSVColumn<Element>.Cells {
    var dictionary = CSVTextDictionary()
    let name = requests[k].name
    func intern(_ p: UnsafePointer<UInt8>, _ count: Int) throws -> UInt32 {
      let hash = CSVTextDictionary.hash(p, count)
      if let code = dictionary.find(p, count, hash: hash) { return UInt32(code) }
      guard dictionary.count < Self.textLimit else {
        throw DataError.tooManyCategories(
          path: path, line: lastLine, column: name, limit: Self.textLimit)
      }
      return UInt32(dictionary.insert(p, count, hash: hash, line: lastLine))
    }
    var codes: [UInt32] = []
    codes.reserveCapacity(rows)
    for (result, _) in segments {
      let part = result.parts[k]
      var row = 0
      var next = 0
      try part.numbers.forEachBlock { block in
        for value in block {
          if next < part.textRows.count, part.textRows[next].row == row {
            let code = Int(part.textRows[next].code)
            codes.append(try part.dictionary.withBytes(of: code) { try intern($0, $1) })
            next += 1
          } else if value.isNaN {
            codes.append(CSVColumn<Element>.missingCode)
          } else {
            var text = Self.canonicalText(value)
            codes.append(try text.withUTF8 { try intern($0.baseAddress!, $0.count) })
          }
          row += 1
        }
      }
    }
    return .texts(codes: codes, texts: dictionary.texts)
  }

  /// The canonical spelling of a number in a text column: an integer without a fraction,
  /// anything else in Swift's shortest form.
  package static func canonicalText(_ value: Element) -> String {
    if value == value.rounded(), abs(value) < 0x1p53 { return String(Int64(value)) }
    return "\(value)"
  }
}

/// Reads records into one ``CSVColumnPart`` per requested column: the inner loop.
struct CSVPartReader<Element: MatrixScalar> {
  let scanner: CSVRecordScanner
  let requests: [(name: String, position: Int, kind: CSVColumnKind)]
  let budget: CSVByteBudget
  let textLimit: Int?

  /// What one thread read: its columns, rows, the line of its last row (in its own
  /// numbering), and the error that stopped it.
  struct Result {
    var parts: [CSVColumnPart<Element>]
    var rows: Int
    var lastLine: Int
    var error: Error?
    /// The rows read by the number fast path (`CSVNumberRecords`).
    var fastRows = 0

    mutating func release() {
      for k in parts.indices { parts[k].release() }
    }
  }

  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  func read(maxRows: Int?, firstCapacity: Int) -> Result {
    let m = requests.count
    let parts = UnsafeMutablePointer<CSVColumnPart<Element>>.allocate(capacity: max(1, m))
    for k in 0..<m {
      (parts + k).initialize(
        to: CSVColumnPart(
          name: requests[k].name, position: requests[k].position, kind: requests[k].kind,
          firstCapacity: firstCapacity))
    }
    let positions = UnsafeMutablePointer<Int>.allocate(capacity: max(1, m))
    for k in 0..<m { positions[k] = requests[k].position }
    defer { positions.deallocate() }
    let limit = maxRows ?? .max
    let path = scanner.path
    let textLimit = textLimit
    let budget = budget
    var rows = 0
    var lastLine = scanner.line
    var line = scanner.line
    var error: Error?
    let numberRecords = CSVNumberRecords<Element>(requests: requests, columnCount: scanner.columnCount)
    defer { numberRecords?.deallocate() }
    // Records the general path reads before the fast path is tried again: none at first,
    // more after each record it declines (up to 256), so that a file it never fits costs
    // little more than without it.
    var generalRun = 0
    var generalPenalty = 1
    var fastRows = 0
    do {
      while rows < limit {
        if let numberRecords, generalRun == 0 {
          let fast = numberRecords.read(
            scanner: scanner, parts: parts, maxRows: limit - rows, lastLine: lastLine)
          rows += fast.rows
          fastRows += fast.rows
          lastLine = fast.lastLine
          if fast.declined {
            if fast.rows > 0 { generalPenalty = 1 }
            generalRun = generalPenalty
            generalPenalty = min(2 * generalPenalty, 256)
          } else if fast.rows > 0 {
            generalPenalty = 1
          }
          if rows == limit { break }
        }
        guard let recordLine = try scanner.next() else { break }
        if generalRun > 0 { generalRun -= 1 }
        line = recordLine
        let base = scanner.fieldBase
        let starts = scanner.starts
        let ends = scanner.ends
        for k in 0..<m {
          let position = positions[k]
          let start = starts[position]
          try parts[k].add(
            base + start, ends[position] - start, line: recordLine, path: path,
            textLimit: textLimit, budget: budget)
        }
        rows += 1
        lastLine = recordLine
      }
    } catch let exceeded as CSVBudgetExceeded {
      error = DataError.memoryLimitExceeded(
        path: path, line: line, rows: rows + 1, columns: m, bytes: exceeded.bytes,
        limit: budget.limit ?? 0)
    } catch let other {
      error = other
    }
    var result = Result(parts: [], rows: rows, lastLine: lastLine, error: error, fastRows: fastRows)
    result.parts.reserveCapacity(m)
    for k in 0..<m { result.parts.append((parts + k).move()) }
    parts.deallocate()
    return result
  }
}

/// The second thread of a two-thread read.
private final class CSVPartWorker<Element: MatrixScalar>: @unchecked Sendable {
  let reader: CSVPartReader<Element>
  var result: CSVPartReader<Element>.Result?

  init(reader: CSVPartReader<Element>) { self.reader = reader }

  func run() {
    result = reader.read(maxRows: nil, firstCapacity: 1 << 16)
  }
}
