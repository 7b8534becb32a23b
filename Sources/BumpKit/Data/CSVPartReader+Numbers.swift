/// The number fast path of `CSVPartReader`: records whose requested cells are all plain
/// decimal numbers are scanned and parsed in one pass over their bytes, each value stored
/// straight into its column's block.
///
/// A record is taken here only when it lies whole in the buffer, has exactly as many fields
/// as the header, ends in LF, CR, CRLF or the end of the input, and each field is, with no
/// space, tab or quote:
/// - a requested column: `[+-]? digits ( "." digits? )? ( [eE] [+-]? d{1,4} )?` or
///   `[+-]? "." digits …` with 1 to 19 digits in all (the zeros of the integer part count,
///   zeros after the point before the first nonzero digit do not), whose value is finite in
///   `Element`;
/// - any other column: ASCII bytes other than `,` CR LF NUL, not starting with a quote, a space
///   or a tab, and shorter than `CSVRecordScanner.fieldByteLimit`.
///
/// Anything else — missing tokens, text, quotes, spaces, longer mantissas or exponents,
/// infinities, blank lines, ragged rows, NUL, non-ASCII bytes, a record reaching the end of
/// the buffer — is declined before any of the record is counted, and the general path
/// (`CSVRecordScanner.next()` and `CSVColumnPart.add`) reads it. For every record taken
/// here that path gives the same values: the digits and exponent make the same `w · 10^q` as
/// `DecimalParsing.scan` (nothing is dropped at 19 digits or fewer), rounded by the same
/// `DecimalParsing.floatBits` / `doubleBits`; the cell is neither missing (it has a digit and
/// is not `-`) nor trimmed, and it adds the same counts (see
/// `CSVColumnPart.didAddNumbers(_:)`).
struct CSVNumberRecords<Element: MatrixScalar> {
  /// For each header position, the requested column it feeds, or −1.
  private let slots: UnsafeMutablePointer<Int32>
  /// For each requested column, where its next value goes.
  private let destinations: UnsafeMutablePointer<UnsafeMutablePointer<Element>>
  private let columnCount: Int
  private let requestCount: Int

  /// The fast path for `requests` of records with `columnCount` fields; nil when it does
  /// not apply (no column, a text column, or an `Element` other than `Float` and `Double`).
  init?(requests: [(name: String, position: Int, kind: CSVColumnKind)], columnCount: Int) {
    guard Element.self == Float.self || Element.self == Double.self, !requests.isEmpty,
      columnCount > 0, requests.allSatisfy({ $0.kind != .texts })
    else { return nil }
    self.columnCount = columnCount
    requestCount = requests.count
    slots = .allocate(capacity: columnCount)
    slots.initialize(repeating: -1, count: columnCount)
    for (k, request) in requests.enumerated() { slots[request.position] = Int32(k) }
    destinations = .allocate(capacity: requests.count)
  }

  /// Frees the tables.
  func deallocate() {
    slots.deallocate()
    destinations.deallocate()
  }

  /// Reads records from the scanner's position while they fit the fast path, at most
  /// `maxRows` and no more than every column's current block has room for, and never past
  /// the point where `CSVRecordScanner.next()` would refill or stop.
  ///
  /// - Returns: the records read, the line of the last one (unchanged if none), and whether
  ///   reading stopped at a record the fast path declined.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  func read(
    scanner: CSVRecordScanner, parts: UnsafeMutablePointer<CSVColumnPart<Element>>, maxRows: Int,
    lastLine: Int
  ) -> (rows: Int, lastLine: Int, declined: Bool) {
    let input = scanner.input
    let b = UnsafePointer(input.buffer)
    let e = input.end
    let eof = input.eof
    // Where next() would refill (fewer than refillMargin bytes left) or stop.
    var bound = eof ? e : e &- CSVRecordScanner.refillMargin &+ 1
    if scanner.stopAt != .max { bound = min(bound, scanner.stopAt &- input.base) }
    var room = maxRows
    for k in 0..<requestCount {
      let store = parts[k].numbers
      room = min(room, store.room)
      guard let slot = store.nextSlot else { return (0, lastLine, false) }
      destinations[k] = slot
    }
    let n = columnCount
    let limit = CSVRecordScanner.fieldByteLimit
    let slots = self.slots
    let destinations = self.destinations
    let reciprocals = DecimalParsing.reciprocalPowersOfTen
    var p = input.pos
    var line = scanner.line
    var last = lastLine
    var r = 0
    var declined = false
    records: while r < room && p < bound {
      var i = p
      var f = 0
      while true {
        let slot = Int(slots[f])
        if slot >= 0 {
          guard let value = Self.number(b, &i, reciprocals) else {
            declined = true
            break records
          }
          destinations[slot][r] = value
        } else {
          let c = b[i]
          if c == 0x22 || c == 0x20 || c == 0x09 {
            declined = true
            break records
          }
          let s = i
          i = Self.fieldEnd(b, i)
          if b[i] >= 0x80 || i &- s >= limit {
            declined = true
            break records
          }
        }
        f &+= 1
        let c = b[i]
        if c == 0x2C {
          if f == n {
            declined = true
            break records
          }
          i &+= 1
          continue
        }
        guard f == n else {
          declined = true
          break records
        }
        if i == e {
          // The sentinel: the end of the input, or of what has been read of it.
          guard eof else {
            declined = true
            break records
          }
          last = line
        } else if c == 0x0A {
          i &+= 1
          last = line
          line &+= 1
        } else if c == 0x0D {
          if i &+ 1 == e && !eof {
            declined = true
            break records
          }
          i &+= 1
          if b[i] == 0x0A { i &+= 1 }
          last = line
          line &+= 1
        } else {
          // A NUL, or a byte after a number.
          declined = true
          break records
        }
        break
      }
      r &+= 1
      p = i
    }
    if r > 0 {
      for k in 0..<requestCount { parts[k].didAddNumbers(r) }
      input.pos = p
      scanner.line = line
    }
    return (r, last, declined)
  }

  /// The first `,` CR LF NUL or non-ASCII byte at or after `i`, eight bytes at a time (the
  /// buffer's sentinel stops it).
  @inline(__always)
  private static func fieldEnd(_ b: UnsafePointer<UInt8>, _ start: Int) -> Int {
    var i = start
    while true {
      let v = UInt64(littleEndian: UnsafeRawPointer(b + i).loadUnaligned(as: UInt64.self))
      let found =
        zeroBytes(v ^ 0x2C2C_2C2C_2C2C_2C2C) | zeroBytes(v ^ 0x0A0A_0A0A_0A0A_0A0A)
        | zeroBytes(v ^ 0x0D0D_0D0D_0D0D_0D0D) | zeroBytes(v) | (v & 0x8080_8080_8080_8080)
      if found != 0 { return i &+ found.trailingZeroBitCount &>> 3 }
      i &+= 8
    }
  }

  /// The high bit of each byte of `v` that is 0 (exact for the lowest such byte).
  @inline(__always)
  private static func zeroBytes(_ v: UInt64) -> UInt64 {
    (v &- 0x0101_0101_0101_0101) & ~v & 0x8080_8080_8080_8080
  }

  /// The number at `i`, moving `i` past it; nil (with `i` anywhere) when the bytes there do
  /// not start with a number of the fast path's shape or its value is not finite. What
  /// follows the number is for the caller to check.
  // Transparent, not `@inline(__always)`: the latter leaves a call in the specialised
  // loop, and the position would go through memory for every cell (about 15 % slower).
  @_transparent
  private static func number(
    _ b: UnsafePointer<UInt8>, _ i: inout Int, _ reciprocals: UnsafePointer<Double>
  ) -> Element? {
    guard let d = decimal(b, &i) else { return nil }
    if Element.self == Float.self {
      // floatBits' first case, the usual one, kept inline.
      if d.w <= 1 << 24 && d.q <= 0 && d.q >= -10 {
        let bits = DecimalParsing.floatQuotient(d.w, -d.q, reciprocals: reciprocals).bitPattern | (d.negative ? 1 << 31 : 0)
        return unsafeBitCast(Float(bitPattern: bits), to: Element.self)
      }
      guard let bits = DecimalParsing.floatBits(d), bits & 0x7F80_0000 != 0x7F80_0000 else {
        return nil
      }
      return unsafeBitCast(Float(bitPattern: bits), to: Element.self)
    } else {
      guard let bits = DecimalParsing.doubleBits(d),
        bits & 0x7FF0_0000_0000_0000 != 0x7FF0_0000_0000_0000
      else { return nil }
      return unsafeBitCast(Double(bitPattern: bits), to: Element.self)
    }
  }

  /// `[+-]? digits? ( "." digits? )? ( [eE] [+-]? d{1,4} )?` at `i` with 1 to 19 digits, as
  /// `DecimalParsing.scan` reads it (the same `w` and `q`).
  @_transparent
  private static func decimal(_ b: UnsafePointer<UInt8>, _ i: inout Int) -> DecimalParsing.Decimal? {
    let first = b[i]
    let negative = first == 0x2D
    // A sign moves on by one byte, without a branch: signs are a coin toss in data.
    i &+= Int(unsafeBitCast(negative, to: UInt8.self) | unsafeBitCast(first == 0x2B, to: UInt8.self))
    // The integer part, usually a digit or two, byte by byte.
    var w: UInt64 = 0
    var digits = 0
    while true {
      let d = b[i] &- 0x30
      if d > 9 { break }
      if digits == 19 { return nil }
      w = w &* 10 &+ UInt64(d)
      digits &+= 1
      i &+= 1
    }
    var q = 0
    if b[i] == 0x2E {
      i &+= 1
      // Zeros before the first significant digit (when the integer part is 0) only move the
      // exponent. They are counted eight bytes at a time and taken without a branch: whether
      // a value is below 1 is a coin toss in data.
      let word = UInt64(littleEndian: UnsafeRawPointer(b + i).loadUnaligned(as: UInt64.self)) ^ 0x3030_3030_3030_3030
      // Bit 7 of each byte that is not "0" (no carry crosses bytes).
      let notZero = (((word & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F) | word) & 0x8080_8080_8080_8080
      var zeros = notZero.trailingZeroBitCount &>> 3
      if zeros == 8 && w == 0 {
        while b[i &+ zeros] == 0x30 { zeros &+= 1 }
      }
      zeros = w == 0 ? zeros : 0
      i &+= zeros
      q = 0 &- zeros
      digits &+= zeros == 0 ? 0 : 1
      let before = digits
      guard digitRun(b, &i, &w, &digits) else { return nil }
      q &+= before &- digits
    }
    guard digits > 0 else { return nil }
    if b[i] | 0x20 == 0x65 {
      i &+= 1
      let sign = b[i]
      let exponentNegative = sign == 0x2D
      if exponentNegative || sign == 0x2B { i &+= 1 }
      var exponent = 0
      var count = 0
      while true {
        let d = b[i] &- 0x30
        if d > 9 { break }
        count &+= 1
        if count > 4 { return nil }
        exponent = exponent &* 10 &+ Int(d)
        i &+= 1
      }
      guard count > 0 else { return nil }
      q = exponentNegative ? q &- exponent : q &+ exponent
    }
    return DecimalParsing.Decimal(w: w, q: q, negative: negative, truncated: false)
  }

  /// Appends the digits at `i` to `w` (eight at a time), moving `i` past them; false when
  /// there would be more than 19 digits in all.
  @inline(__always)
  private static func digitRun(
    _ b: UnsafePointer<UInt8>, _ i: inout Int, _ w: inout UInt64, _ digits: inout Int
  ) -> Bool {
    while true {
      let word = UInt64(littleEndian: UnsafeRawPointer(b + i).loadUnaligned(as: UInt64.self))
      // Digits become 0...9; a byte is flagged (bit 7) when it is not a digit. A carry out
      // of a flagged byte only reaches later bytes, so the first flag is exact.
      let values = word ^ 0x3030_3030_3030_3030
      let flags = ((values &+ 0x7676_7676_7676_7676) | values) & 0x8080_8080_8080_8080
      let k = flags.trailingZeroBitCount &>> 3
      if k == 0 { return true }
      guard digits &+ k <= 19 else { return false }
      // The k digits move to the top bytes, zeros below act as leading zeros; then pairs,
      // quads and octets are combined by multiplication.
      var v = values << UInt64(64 &- 8 &* k)
      v = (v &* (10 &<< 8 &+ 1)) &>> 8 & 0x00FF_00FF_00FF_00FF
      v = (v &* (100 &<< 16 &+ 1)) &>> 16 & 0x0000_FFFF_0000_FFFF
      v = (v &* (10_000 &<< 32 &+ 1)) &>> 32
      w = w &* DecimalParsing.exactPowerOfTenInteger(k) &+ v
      digits &+= k
      i &+= k
      if k < 8 { return true }
    }
  }
}
