import Synchronization

/// The records of a CSV file found in place, in the buffer of a ``CSVChunkInput``: the
/// structure that ``CSVTableReader`` reads its cells from.
///
/// The grammar, the errors and their lines are exactly those of `CSVRecordReader`, whose
/// algorithm ``slowRecord(headerMode:)`` repeats byte by byte. Most records never go through
/// it: ``fastRecord()`` scans a record with pointers when it lies whole in the buffer and is
/// plain (ASCII, no NUL, quoted fields without line breaks or doubled quotes, as many fields
/// as the header); anything else, and every record that ends an error, is read again by the
/// slow path, which throws the reference's error.
final class CSVRecordScanner {
  /// The longest field (1 MiB) and header (16 MiB), as `CSVRecordReader` has them.
  static let fieldByteLimit = CSVRecordReader.fieldByteLimit
  static let headerByteLimit = CSVRecordReader.headerByteLimit
  /// Fewer unread bytes than this at the start of a record make the input read more first.
  static let refillMargin = 1 << 16

  let path: String
  let input: CSVChunkInput
  /// The physical line the next record starts on.
  @exclusivity(unchecked) var line: Int
  private(set) var header: [String] = []
  @exclusivity(unchecked) private(set) var columnCount = 0

  /// After ``next()``: field `k` (trimmed of spaces and tabs, quotes and escapes removed) is
  /// `fieldBase[starts[k]..<ends[k]]`.
  @exclusivity(unchecked) private(set) var fieldBase: UnsafePointer<UInt8>
  @exclusivity(unchecked) private(set) var starts: UnsafeMutablePointer<Int>
  @exclusivity(unchecked) private(set) var ends: UnsafeMutablePointer<Int>

  private var scratch: UnsafeMutablePointer<UInt8>
  private var scratchCapacity = 1 << 12
  private var slowFields: [[UInt8]] = []
  /// Per byte: 1 if it ends a quoted field's fast scan (`"` CR LF NUL, non-ASCII).
  private let quotedStops: UnsafeMutablePointer<UInt8>

  /// The file offset of a record boundary to stop at (the split of a two-thread read).
  @exclusivity(unchecked) var stopAt = Int.max
  /// Whether ``next()`` stopped at ``stopAt``; false if a record ran across it.
  @exclusivity(unchecked) private(set) var reachedStop = false
  /// Set by another thread to make ``next()`` end early.
  @exclusivity(unchecked) var cancel: CSVCancelFlag?
  /// Set when a record runs across ``stopAt`` (the other thread's work is then wasted).
  var overshot: CSVCancelFlag?

  init(input: CSVChunkInput, path: String, line: Int = 1) {
    self.input = input
    self.path = path
    self.line = line
    starts = .allocate(capacity: 1)
    ends = .allocate(capacity: 1)
    scratch = .allocate(capacity: scratchCapacity)
    fieldBase = UnsafePointer(scratch)
    quotedStops = .allocate(capacity: 256)
    quotedStops.initialize(repeating: 0, count: 256)
    for byte in [0, 0x0A, 0x0D] {
      quotedStops[byte] = 1
    }
    quotedStops[0x22] = 1
    for byte in 0x80..<256 { quotedStops[byte] = 1 }
  }

  /// A scanner of the records of `other`'s file from `input` on, with `other`'s header.
  convenience init(input: CSVChunkInput, sharingHeaderOf other: CSVRecordScanner, line: Int) {
    self.init(input: input, path: other.path, line: line)
    setHeader(other.header)
  }

  deinit {
    starts.deallocate()
    ends.deallocate()
    scratch.deallocate()
    quotedStops.deallocate()
  }

  /// Drops a byte-order mark and reads the first non-blank record; nil for an empty file.
  /// Returns the names as written (not validated) and the line.
  func readHeader() throws -> (names: [String], line: Int)? {
    try input.fill(atLeast: 3)
    if input.end - input.pos >= 3, input.buffer[input.pos] == 0xEF,
      input.buffer[input.pos + 1] == 0xBB, input.buffer[input.pos + 2] == 0xBF
    {
      input.pos += 3
    }
    while let (recordLine, count, _) = try slowRecord(headerMode: true) {
      if count == 1 && slowFields[0].isEmpty { continue }
      let names = (0..<count).map { String(decoding: slowFields[$0], as: UTF8.self) }
      return (names, recordLine)
    }
    return nil
  }

  /// Fixes the columns records must have.
  func setHeader(_ names: [String]) {
    header = names
    columnCount = names.count
    starts.deallocate()
    ends.deallocate()
    starts = .allocate(capacity: max(1, names.count))
    ends = .allocate(capacity: max(1, names.count))
  }

  /// The line of the next non-blank record, whose fields are then in place (see
  /// ``fieldBase``); nil at the end of the input, at ``stopAt`` or when cancelled.
  func next() throws -> Int? {
    while true {
      if input.end - input.pos < Self.refillMargin, !input.eof {
        if let cancel, cancel.isSet { return nil }
        try input.refill()
      }
      if input.pos == input.end, input.eof { return nil }
      if input.base + input.pos >= stopAt {
        if input.base + input.pos == stopAt {
          reachedStop = true
          return nil
        }
        // A record ran across the split: it was not a record boundary.
        stopAt = .max
        overshot?.set()
      }
      switch fastRecord() {
      case .record(let recordLine): return recordLine
      case .blank: continue
      case .slow: break
      }
      guard let (recordLine, count, firstQuoted) = try slowRecord(headerMode: false) else { return nil }
      // A blank line is skipped; a lone quoted empty field ("") is a record with one empty
      // (missing) cell, as in the files of a one-column table.
      if count == 1 && slowFields[0].isEmpty && !(firstQuoted && columnCount == 1) { continue }
      guard count == columnCount else {
        let column = count < columnCount ? header[count] : header[columnCount - 1]
        throw DataError.raggedRow(
          path: path, line: recordLine, column: column, expected: columnCount, found: count)
      }
      var total = 0
      for k in 0..<columnCount { total += slowFields[k].count }
      if total > scratchCapacity {
        scratch.deallocate()
        scratchCapacity = max(total, 2 * scratchCapacity)
        scratch = .allocate(capacity: scratchCapacity)
      }
      var offset = 0
      for k in 0..<columnCount {
        // As the record reader gives it: an unquoted field trimmed, a quoted one whole.
        slowFields[k].withUnsafeBufferPointer { field in
          if !field.isEmpty { (scratch + offset).update(from: field.baseAddress!, count: field.count) }
          starts[k] = offset
          ends[k] = offset + field.count
          offset += field.count
        }
      }
      fieldBase = UnsafePointer(scratch)
      return recordLine
    }
  }

  private enum Fast {
    case record(Int)
    case blank
    case slow
  }

  /// Scans the record at the input's position in place, if it is plain and lies whole in the
  /// buffer; `.slow` leaves the position where it was.
  @inline(__always)
  private func fastRecord() -> Fast {
    let b = input.buffer
    let e = input.end
    let eof = input.eof
    let quoted = quotedStops
    let n = columnCount
    let limit = Self.fieldByteLimit
    let starts = self.starts
    let ends = self.ends
    var p = input.pos
    var f = 0
    var sawQuote = false
    var terminated = false
    while true {
      var c = b[p]
      while c == 0x20 || c == 0x09 {
        p += 1
        c = b[p]
      }
      var s: Int
      var t: Int
      if c == 0x22 {
        p += 1
        s = p
        c = b[p]
        while quoted[Int(c)] == 0 {
          p += 1
          c = b[p]
        }
        if c != 0x22 { return .slow }
        t = p
        p += 1
        c = b[p]
        if c == 0x22 { return .slow }
        while c == 0x20 || c == 0x09 {
          p += 1
          c = b[p]
        }
        guard c == 0x2C || c == 0x0A || c == 0x0D || (c == 0 && p == e) else { return .slow }
        if t - s >= limit { return .slow }
        // Inside quotes, spaces and tabs belong to the field.
        sawQuote = true
      } else {
        s = p
        // Eight bytes at a time: the first `,` CR LF NUL or non-ASCII byte.
        while true {
          let v = UnsafeRawPointer(b + p).loadUnaligned(as: UInt64.self)
          let found =
            Self.zeroBytes(v ^ 0x2C2C_2C2C_2C2C_2C2C) | Self.zeroBytes(v ^ 0x0A0A_0A0A_0A0A_0A0A)
            | Self.zeroBytes(v ^ 0x0D0D_0D0D_0D0D_0D0D) | Self.zeroBytes(v)
            | (v & 0x8080_8080_8080_8080)
          if found != 0 {
            p += found.trailingZeroBitCount >> 3
            break
          }
          p += 8
        }
        c = b[p]
        if c >= 0x80 || (c == 0 && p != e) { return .slow }
        t = p
        if t - s >= limit { return .slow }
        while t > s, b[t - 1] == 0x20 || b[t - 1] == 0x09 { t -= 1 }
      }
      starts[f] = s
      ends[f] = t
      f += 1
      if c == 0x2C {
        if f == n { return .slow }
        p += 1
        continue
      }
      if p == e {
        if !eof { return .slow }
      } else if c == 0x0D {
        if p + 1 == e, !eof { return .slow }
        p += 1
        if b[p] == 0x0A { p += 1 }
        terminated = true
      } else {
        p += 1
        terminated = true
      }
      break
    }
    if f == 1 {
      if sawQuote { return .slow }
      if starts[0] == ends[0] {
        input.pos = p
        if terminated { line += 1 }
        return .blank
      }
    }
    if f != n { return .slow }
    let recordLine = line
    if terminated { line += 1 }
    input.pos = p
    fieldBase = UnsafePointer(b)
    return .record(recordLine)
  }

  /// The high bit of each byte of `v` that is 0 (exact for the lowest such byte; bytes above
  /// a zero byte may be flagged wrongly, which a scan for the first one never sees).
  @inline(__always)
  private static func zeroBytes(_ v: UInt64) -> UInt64 {
    (v &- 0x0101_0101_0101_0101) & ~v & 0x8080_8080_8080_8080
  }

  /// `CSVRecordReader`'s record algorithm on this input: the record's line and field count,
  /// its kept fields (all in header mode, else the first ``columnCount``) in `slowFields`,
  /// as written (unquoted fields trimmed at the end); nil at the end of the input.
  private func slowRecord(headerMode: Bool) throws -> (line: Int, count: Int, firstQuoted: Bool)? {
    guard try input.peekByte() != nil else { return nil }
    let recordLine = line
    var count = 0
    var recordBytes = 0
    var firstQuoted = false
    let keptCount = headerMode ? Int.max : columnCount
    while true {
      let index = count
      let column: String? = !headerMode && index < columnCount ? header[index] : nil
      let keep = index < keptCount
      if keep {
        if index == slowFields.count {
          slowFields.append([])
        } else {
          slowFields[index].removeAll(keepingCapacity: true)
        }
      }
      let fieldLine = line
      let (endOfRecord, quoted) = try CSVFieldSyntax.readField(
        from: input, line: &line, path: path, column: { column }
      ) { b in
        guard keep else { return }
        if slowFields[index].count >= Self.fieldByteLimit {
          throw DataError.fieldTooLong(
            path: path, line: fieldLine, column: column, limit: Self.fieldByteLimit)
        }
        slowFields[index].append(b)
      }
      if keep && !quoted { CSVFieldSyntax.trimTrailingBlanks(&slowFields[index]) }
      if index == 0 { firstQuoted = quoted }
      if keep {
        if let bad = UTF8Validation.firstInvalidByte(in: slowFields[index]) {
          throw DataError.invalidEncoding(
            path: path, line: fieldLine + CSVFieldSyntax.lineBreaks(in: slowFields[index][..<bad]))
        }
        recordBytes += slowFields[index].count + 1
        if headerMode, recordBytes > Self.headerByteLimit {
          throw DataError.fieldTooLong(
            path: path, line: recordLine, column: nil, limit: Self.headerByteLimit)
        }
      }
      count += 1
      if endOfRecord { return (recordLine, count, firstQuoted) }
    }
  }
}

/// A flag one thread sets and another polls.
final class CSVCancelFlag: Sendable {
  private let flag = Atomic<Bool>(false)
  var isSet: Bool { flag.load(ordering: .relaxed) }
  func set() { flag.store(true, ordering: .relaxed) }
}
