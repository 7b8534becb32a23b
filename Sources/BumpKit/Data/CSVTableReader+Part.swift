extension CSVTableReader {
  /// This process's part of the records of a regular file, for a `group` of processes that
  /// read one file together: each reads only its own bytes, and the parts, in rank order,
  /// are the records of the file after the header, each in exactly one part.
  ///
  /// The bytes after the header are cut into `group.size` equal ranges. A part starts at the
  /// first record that starts in its range: at the first line break after the range's start
  /// that is outside quotes. Whether a position is inside quotes follows from the number of
  /// `"` before it (a doubled `""` counts twice), which the processes count in their own
  /// ranges and exchange. Each process then reads its records (their lines numbered as in
  /// the whole file) up to the next part's first record, and checks that its last record
  /// ends there: a `"` inside an unquoted field would make the count lie, and the read is
  /// then refused, rather than a record cut in two.
  ///
  /// Collective: every process of `group` calls it once, after opening the file. Returns
  /// nil when this process's part holds no record (a file with fewer records than
  /// processes, say).
  ///
  /// - Throws: ``DataError/unreadableFile(path:reason:)`` for standard input or a pipe (which
  ///   cannot be read in parts) and for a file whose parts cannot be told apart; the reading
  ///   errors of ``read(maxRows:)``.
  package mutating func readPart(of group: any ProcessGroup) throws -> CSVTable<Element>? {
    let input = scanner.input
    guard input.isRegularFile else {
      throw DataError.unreadableFile(
        path: path, reason: "several processes read a regular file in parts; this is a stream (standard input, a pipe)")
    }
    let headerEnd = input.position
    let size = max(input.fileSize, headerEnd)
    let (n, rank) = (group.size, group.rank)
    // Range k starts one byte before its share, so that a share starting right after a
    // line break starts with that record.
    func rangeStart(_ k: Int) -> Int {
      k == 0 ? headerEnd : max(headerEnd - 1, headerEnd + (size - headerEnd) * k / n - 1)
    }
    let (a, b) = (rangeStart(rank), rank + 1 < n ? rangeStart(rank + 1) : size)

    // The quotes and line breaks (LF, CR LF, or a lone CR) of this range.
    let counted = max(a, headerEnd)
    var quotes = 0
    var breaks = 0
    var at = counted
    while at < b {
      let chunk = input.bytes(at: at, count: min(1 << 20, b - at) + 1)
      let inRange = min(chunk.count, b - at)
      guard inRange > 0 else { break }
      for i in 0..<inRange {
        let c = chunk[i]
        if c == 0x22 { quotes &+= 1 }
        if c == 0x0A || (c == 0x0D && (i + 1 >= chunk.count || chunk[i + 1] != 0x0A)) { breaks &+= 1 }
      }
      at += inRange
    }
    var slots = [Double](repeating: 0, count: 2 * n)
    (slots[2 * rank], slots[2 * rank + 1]) = (Double(quotes), Double(breaks))
    let all = try group.sum(slots)
    var quotesBefore = 0
    var breaksBefore = 0
    for k in 0..<rank {
      quotesBefore += Int(all[2 * k])
      breaksBefore += Int(all[2 * k + 1])
    }

    // This part's first record: after the first line break outside quotes from `a` on.
    var begin = headerEnd
    var lineBreaksToBegin = 0
    if rank > 0 {
      begin = size
      var inside = quotesBefore % 2 == 1
      var at = a
      search: while at < size {
        let chunk = input.bytes(at: at, count: min(1 << 16, size - at) + 1)
        let inChunk = min(chunk.count, size - at)
        guard inChunk > 0 else { break }
        for i in 0..<inChunk {
          let c = chunk[i]
          if c == 0x22 {
            inside.toggle()
            continue
          }
          let isBreak = c == 0x0A || (c == 0x0D && (i + 1 >= chunk.count || chunk[i + 1] != 0x0A))
          if isBreak, at + i >= headerEnd { lineBreaksToBegin += 1 }
          if isBreak, !inside {
            begin = at + i + 1
            break search
          }
        }
        at += inChunk
      }
    }
    let begins = try group.allGather(begin)
    let end = rank + 1 < n ? begins[rank + 1] : size
    guard begin < end else { return nil }

    let partScanner = CSVRecordScanner(
      input: CSVChunkInput(sharing: input, from: begin), sharingHeaderOf: scanner,
      line: scanner.line + breaksBefore + lineBreaksToBegin)
    if end < size { partScanner.stopAt = end }
    var result = CSVPartReader<Element>(
      scanner: partScanner, requests: requests, budget: CSVByteBudget(limit: byteLimit), textLimit: Self.textLimit
    ).read(maxRows: nil, firstCapacity: 1 << 16)
    if result.error == nil, end < size, !partScanner.reachedStop {
      result.error = DataError.unreadableFile(
        path: path,
        reason: "it cannot be cut into \(n) parts at record boundaries: a record runs across byte \(end) "
          + "(a double quote inside an unquoted field?); read it with one process")
    }
    if let error = result.error {
      result.release()
      throw error
    }
    return try assemble([(result, 0)])
  }
}
