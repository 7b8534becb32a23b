/// Decimal text to `Double` or `Float`, correctly rounded, straight from ASCII bytes.
///
/// The CSV readers call this on every numeric cell. It gives exactly the value — the same bit
/// pattern — that `Double(String)` or `Float(String)` gives for the same text, without making
/// a `String`: no allocation, no reference counting, no locale.
///
/// ## Grammar
///
/// ```
/// [+-]? ( digits ( "." digits? )? | "." digits ) ( [eE] [+-]? digits )?
/// ```
///
/// ASCII digits only, no surrounding spaces, no digit separators. Text outside the grammar —
/// empty text, a lone sign or `.`, `1e`, `1e+`, hexadecimal (`0x1p3`), `inf`, `nan`, any stray
/// byte — gives `nil`, and the caller decides with its own slower path (`Double(String)` accepts
/// a few of those). Text inside the grammar never gives `nil`.
///
/// ## Algorithm
///
/// 1. *Scan.* The first 19 significant digits (leading zeros skipped) are gathered into a
///    `UInt64` `w` and the position of the decimal point and the explicit exponent into a
///    decimal exponent `q`, so that the text's value is `w · 10^q` — or lies strictly between
///    `w · 10^q` and `(w + 1) · 10^q` when nonzero digits beyond the 19th were dropped. The
///    explicit exponent saturates far beyond any exponent that matters, so absurd exponents
///    cannot overflow.
/// 2. *Clinger's fast path.* When nothing was dropped, `w ≤ 2^53` and `|q| ≤ 22` (`Double`)
///    or `w ≤ 2^24` and `|q| ≤ 10` (`Float`), both `w` and `10^|q|` are exact in the binary
///    format, and one IEEE multiplication or division rounds the exact product once. This also
///    covers larger `q` when `w · 10^(q − 22)` (resp. `q − 10`) is still an exact integer.
/// 3. *Eisel–Lemire.* Otherwise `w` (normalized) is multiplied by a 128-bit approximation of
///    `5^q` from ``PowersOfFive`` and the binary exponent follows from `q` by a fixed-point
///    `log2(10)`. For at most 19 digits the 128-bit product always decides the rounding
///    (Lemire, *Number Parsing at a Gigabyte per Second*, 2021; Mushtak and Lemire, *Fast
///    Number Parsing Without Fallback*, 2023), including ties to even, subnormals, overflow to
///    infinity and underflow to zero. `Float` uses the same table and rounds once, straight
///    to `Float`.
/// 4. *Exact fallback.* When digits were dropped and `w` and `w + 1` round to different
///    values, the text is handed to `Double(String)` (resp. `Float(String)`). That needs more
///    than 19 significant digits sitting next to a rounding boundary, which ordinary data
///    almost never has.
///
/// ## Guarantees
///
/// For every text in the grammar, ``double(_:count:)`` returns the bits of `Double(String)` and
/// ``float(_:count:)`` those of `Float(String)`: the sign of zero is kept (`-0`, `-1e-400`),
/// values past the largest finite one become ±infinity and values below half the smallest
/// subnormal become ±0, as those initializers give.
enum DecimalParsing {
  /// What the fast path made of a text.
  enum FastPathResult<Value> {
    /// The correctly rounded value.
    case value(Value)
    /// In the grammar, but the value needs the exact fallback (dropped digits at a boundary).
    case needsExactFallback
    /// Not in the grammar.
    case notInGrammar
  }

  /// A scanned decimal: `±w · 10^q`, or strictly between that and `±(w + 1) · 10^q` when
  /// `truncated`.
  struct Decimal {
    var w: UInt64
    var q: Int
    var negative: Bool
    var truncated: Bool
  }

  /// Parses `count` ASCII bytes at `start` (no surrounding spaces) in the grammar
  ///   `[+-]? ( digits ( "." digits? )? | "." digits ) ( [eE] [+-]? digits )?`.
  ///
  /// Returns the correctly rounded value — the bits `T(String)` gives for the same text,
  /// including -0.0, subnormals, overflow to ±infinity and underflow to ±0; for `Float`,
  /// rounded once straight to `Float` — or `nil` when the text is not in the grammar.
  @inline(__always)
  static func value<T: DecimalRoundable>(_ start: UnsafePointer<UInt8>, count: Int, as: T.Type) -> T? {
    switch fastPath(start, count: count, as: T.self) {
    case .value(let value): return value
    case .notInGrammar: return nil
    case .needsExactFallback: return exact(start, count: count, as: T.self)
    }
  }

  /// ``value(_:count:as:)`` without the exact fallback: tells when the fallback would run.
  @inline(__always)
  static func fastPath<T: DecimalRoundable>(_ start: UnsafePointer<UInt8>, count: Int, as: T.Type) -> FastPathResult<T> {
    guard let d = quickScan(start, count: count) ?? scan(start, count: count) else { return .notInGrammar }
    guard let value = T.correctlyRounded(d) else { return .needsExactFallback }
    return .value(value)
  }

  /// The exact fallback: the standard library's parser.
  @inline(never)
  static func exact<T: DecimalRoundable>(_ start: UnsafePointer<UInt8>, count: Int, as: T.Type) -> T? {
    T(String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self))
  }

  /// ``value(_:count:as:)`` for `Double`.
  @inline(__always)
  static func double(_ start: UnsafePointer<UInt8>, count: Int) -> Double? { value(start, count: count, as: Double.self) }

  /// ``value(_:count:as:)`` for `Float`.
  @inline(__always)
  static func float(_ start: UnsafePointer<UInt8>, count: Int) -> Float? { value(start, count: count, as: Float.self) }

  /// ``fastPath(_:count:as:)`` for `Double`.
  static func _fastPathDouble(_ start: UnsafePointer<UInt8>, count: Int) -> FastPathResult<Double> {
    fastPath(start, count: count, as: Double.self)
  }

  /// ``fastPath(_:count:as:)`` for `Float`.
  static func _fastPathFloat(_ start: UnsafePointer<UInt8>, count: Int) -> FastPathResult<Float> {
    fastPath(start, count: count, as: Float.self)
  }

  // MARK: - Scanning

  /// The explicit exponent stops growing past this (the digits are still consumed). Any
  /// exponent this large overflows or underflows, whatever the digits: they would need
  /// about 2^48 bytes to move the decimal exponent back into range.
  @inline(__always) static var exponentSaturation: Int { 1 << 48 }

  /// The run of up to 8 digits starting at byte `i` (of `n`) and its value, read as one
  /// 64-bit word; `nil` when fewer than 8 bytes exist at all (the caller reads byte by byte).
  /// Reads only bytes inside the text: near its end, the 8 bytes ending at `n` are loaded and
  /// those before `i` shifted out.
  @inline(__always)
  static func eightDigits(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> (UInt64, Int)? {
    guard n >= 8 else { return nil }
    // i ≤ n. Past n − 8 the word ending at n is loaded and the bytes before i shifted out;
    // the bytes shifted in read as 0, which is not a digit (all of them when i = n).
    let offset = min(i, n &- 8)
    let loaded = UInt64(littleEndian: UnsafeRawPointer(p).loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    let word = loaded >> UInt64(8 &* (i &- offset))
    // Digits become 0...9; a byte is flagged (bit 7) when it is not a digit. A carry out of
    // a flagged byte only reaches later bytes, so the first flag is exact.
    let values = word ^ 0x3030_3030_3030_3030
    let flags = ((values &+ 0x7676_7676_7676_7676) | values) & 0x8080_8080_8080_8080
    let k = flags.trailingZeroBitCount &>> 3
    // The k digits move to the top bytes (the first digit most significant), zeros below
    // act as leading zeros; then pairs, quads and octets are combined by multiplication.
    // (No digit at all shifts everything out.)
    var v = values << UInt64(64 &- 8 &* k)
    v = (v &* (10 &<< 8 &+ 1)) &>> 8 & 0x00FF_00FF_00FF_00FF
    v = (v &* (100 &<< 16 &+ 1)) &>> 16 & 0x0000_FFFF_0000_FFFF
    v = (v &* (10_000 &<< 32 &+ 1)) &>> 32
    return (v, k)
  }

  /// The common short shape `[+-]? d{0,7} ( "." d{0,7} )?` (at least one digit, at least 8
  /// bytes in all) in two word reads and few branches; `nil` for anything else, which
  /// ``scan(_:count:)`` then reads. At most 14 digits, so nothing is dropped.
  @inline(__always)
  static func quickScan(_ p: UnsafePointer<UInt8>, count n: Int) -> Decimal? {
    guard n >= 8 else { return nil }
    let first = p[0]
    let negative = first == UInt8(ascii: "-")
    var i = negative || first == UInt8(ascii: "+") ? 1 : 0
    guard let (integer, k) = eightDigits(p, i, n), k < 8 else { return nil }
    i &+= k
    var w = integer
    var q = 0
    var digits = k
    if i < n && p[i] == UInt8(ascii: ".") {
      i &+= 1
      guard let (fraction, f) = eightDigits(p, i, n), f < 8 else { return nil }
      w = w &* exactPowerOfTenInteger(f) &+ fraction
      q = -f
      digits &+= f
      i &+= f
    }
    guard i == n && digits > 0 else { return nil }
    return Decimal(w: w, q: q, negative: negative, truncated: false)
  }

  /// Scans the text into `±w · 10^q`; `nil` when it is not in the grammar.
  @inline(__always)
  static func scan(_ p: UnsafePointer<UInt8>, count n: Int) -> Decimal? {
    let zero = UInt8(ascii: "0")
    var i = 0
    var negative = false
    guard n > 0 else { return nil }
    let first = p[0]
    if first == UInt8(ascii: "-") {
      negative = true
      i = 1
    } else if first == UInt8(ascii: "+") {
      i = 1
    }

    var w: UInt64 = 0
    var digits = 0  // significant digits in w (at most 19)
    var q = 0
    var truncated = false

    // Integer part: leading zeros carry nothing.
    let integerStart = i
    while i < n && p[i] == zero { i &+= 1 }
    while true {
      if digits <= 11, let (chunk, k) = eightDigits(p, i, n) {
        w = w &* exactPowerOfTenInteger(k) &+ chunk
        digits &+= k
        i &+= k
        if k < 8 { break }
        continue
      }
      guard i < n else { break }
      let d = p[i] &- zero
      if d > 9 { break }
      if digits < 19 {
        w = w &* 10 &+ UInt64(d)
        digits &+= 1
      } else {
        q &+= 1
        if d != 0 { truncated = true }
      }
      i &+= 1
    }
    var sawDigit = i != integerStart

    // Fraction part: zeros before the first significant digit only move the exponent.
    if i < n && p[i] == UInt8(ascii: ".") {
      i &+= 1
      let fractionStart = i
      if w == 0 {
        while i < n && p[i] == zero { i &+= 1 }
        q &-= i &- fractionStart
      }
      while true {
        if digits <= 11, let (chunk, k) = eightDigits(p, i, n) {
          w = w &* exactPowerOfTenInteger(k) &+ chunk
          digits &+= k
          q &-= k
          i &+= k
          if k < 8 { break }
          continue
        }
        guard i < n else { break }
        let d = p[i] &- zero
        if d > 9 { break }
        if digits < 19 {
          w = w &* 10 &+ UInt64(d)
          digits &+= 1
          q &-= 1
        } else if d != 0 {
          truncated = true
        }
        i &+= 1
      }
      if i != fractionStart { sawDigit = true }
    }
    guard sawDigit else { return nil }

    if i < n {
      guard p[i] | 0x20 == UInt8(ascii: "e") else { return nil }
      i &+= 1
      var exponentNegative = false
      if i < n {
        if p[i] == UInt8(ascii: "-") {
          exponentNegative = true
          i &+= 1
        } else if p[i] == UInt8(ascii: "+") {
          i &+= 1
        }
      }
      let exponentStart = i
      var e = 0
      while i < n {
        let d = p[i] &- zero
        if d > 9 { break }
        if e < exponentSaturation { e = e &* 10 &+ Int(d) }
        i &+= 1
      }
      guard i != exponentStart && i == n else { return nil }
      q = exponentNegative ? q &- e : q &+ e
    }
    return Decimal(w: w, q: q, negative: negative, truncated: truncated)
  }

  // MARK: - Double

  /// The bits of the correctly rounded `Double`, or `nil` when the exact fallback must decide.
  @inline(__always)
  static func doubleBits(_ d: Decimal) -> UInt64? {
    let sign: UInt64 = d.negative ? 1 << 63 : 0
    if d.w == 0 { return sign }
    if !d.truncated && d.w <= 1 << 53 {
      if d.q >= -22 && d.q <= 22 {
        let m = Double(d.w)
        let v = d.q < 0 ? m / exactPowerOfTenDouble(-d.q) : m * exactPowerOfTenDouble(d.q)
        return v.bitPattern | sign
      }
      // w · 10^(q − 22) still an exact integer ≤ 2^53: one multiplication by 1e22 rounds.
      if d.q > 22 && d.q <= 22 + 15 {
        let scale = exactPowerOfTenInteger(d.q &- 22)
        if d.w <= (1 << 53) / scale {
          return (Double(d.w &* scale) * 1e22).bitPattern | sign
        }
      }
    }
    guard let bits = roundedBits(d, .double) else { return nil }
    return bits | sign
  }

  // MARK: - Float

  /// The bits of the correctly rounded `Float`, or `nil` when the exact fallback must decide.
  @inline(__always)
  static func floatBits(_ d: Decimal) -> UInt32? {
    let sign: UInt32 = d.negative ? 1 << 31 : 0
    if d.w == 0 { return sign }
    if !d.truncated && d.w <= 1 << 24 {
      if d.q >= -10 && d.q <= 10 {
        let v = d.q < 0 ? floatQuotient(d.w, -d.q) : Float(d.w) * exactPowerOfTenFloat(d.q)
        return v.bitPattern | sign
      }
      if d.q > 10 && d.q <= 10 + 7 {
        let scale = exactPowerOfTenInteger(d.q &- 10)
        if d.w <= (1 << 24) / scale {
          return (Float(d.w &* scale) * 1e10).bitPattern | sign
        }
      }
    }
    guard let bits = roundedBits(d, .float) else { return nil }
    return UInt32(truncatingIfNeeded: bits) | sign
  }

  /// `w / 10^k` correctly rounded to `Float`, for `w ≤ 2^24` and `1 ≤ k ≤ 10`: the `Float`
  /// quotient `Float(w) / 10^k` (both operands exact), computed as one `Double`
  /// multiplication by `10^−k` (rounded) and one rounding to `Float`, which is faster than a
  /// division and gives the same bits.
  ///
  /// Why: the exact quotient `x` is either a `Float` (when `5^k` divides `w`, `x` is an integer
  /// of at most 24 bits over `2^k`) or not dyadic at all, so it is never a midpoint between
  /// two `Float`s. Its distance to any midpoint `(2M + 1)·2^(e−24)` (`x` in `[2^e, 2^(e+1))`)
  /// is `|w − (2M + 1)·5^k·2^(e−24+k)| / 10^k`, a nonzero multiple of `1 / 10^k` when
  /// `e − 24 + k ≥ 0` (relatively ≥ `1 / w ≥ 2^−24`) and of `2^(e−24+k) / 10^k` otherwise
  /// (relatively > `2^−25 / 5^k ≥ 2^−48.3`). The `Double` product is within a relative
  /// `2^−52 + 2^−106` of `x` (two roundings: of `10^−k` and of the product), so it lies on
  /// the same side of every midpoint as `x`, and rounding it to `Float` rounds `x`.
  @inline(__always)
  static func floatQuotient(
    _ w: UInt64, _ k: Int, reciprocals: UnsafePointer<Double> = reciprocalPowersOfTen
  ) -> Float {
    // w ≤ 2^24 converts exactly as a signed integer: one instruction, where an unsigned
    // 64-bit conversion takes several without AVX-512.
    Float(Double(Int64(truncatingIfNeeded: w)) * reciprocals[UInt(bitPattern: k) < 16 ? k : 15])
  }

  /// 10^−k rounded to `Double` at index k, for k in 0...10 (and 10^−10 up to index 15), in
  /// memory that lives as long as the process: a loop over many cells loads it once and
  /// indexes it.
  ///
  /// A table, not a `switch`: the switch compiles to a jump table, whose indirect branch
  /// mispredicts as the digit counts of a file's numbers vary. Not a `SIMD16` either: indexed
  /// with a variable, it is copied to the stack for every cell.
  nonisolated(unsafe) static let reciprocalPowersOfTen: UnsafePointer<Double> = {
    let table = UnsafeMutablePointer<Double>.allocate(capacity: 16)
    let values: [Double] = [1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10]
    for k in 0..<16 { table[k] = values[min(k, 10)] }
    return UnsafePointer(table)
  }()

  // MARK: - Eisel–Lemire for both formats

  /// The constants of a binary format that `eiselLemire` needs.
  struct Format {
    var mantissaBits: Int
    var minimumExponent: Int
    var infinitePower: Int
    var smallestPowerOfTen: Int
    var largestPowerOfTen: Int
    var evenLow: Int
    var evenHigh: Int

    static let double = Format(
      mantissaBits: 52, minimumExponent: -1023, infinitePower: 0x7FF, smallestPowerOfTen: -342,
      largestPowerOfTen: 308, evenLow: -4, evenHigh: 23)
    static let float = Format(
      mantissaBits: 23, minimumExponent: -127, infinitePower: 0xFF, smallestPowerOfTen: -65,
      largestPowerOfTen: 38, evenLow: -17, evenHigh: 10)
  }

  /// The unsigned bits of `d` rounded to `format` by Eisel–Lemire, or `nil` when digits were
  /// dropped and w and w + 1 round differently (the exact fallback must decide).
  @inline(__always)
  static func roundedBits(_ d: Decimal, _ format: Format) -> UInt64? {
    func rounded(_ w: UInt64) -> UInt64 {
      eiselLemire(
        w, d.q, mantissaBits: format.mantissaBits, minimumExponent: format.minimumExponent,
        infinitePower: format.infinitePower, smallestPowerOfTen: format.smallestPowerOfTen,
        largestPowerOfTen: format.largestPowerOfTen, evenLow: format.evenLow,
        evenHigh: format.evenHigh)
    }
    let bits = rounded(d.w)
    if d.truncated, rounded(d.w &+ 1) != bits { return nil }
    return bits
  }

  // MARK: - Exact powers of ten

  /// 10^k for k in 0...22, all exact in `Double`.
  @inline(__always)
  static func exactPowerOfTenDouble(_ k: Int) -> Double {
    switch k {
    case 0: 1e0
    case 1: 1e1
    case 2: 1e2
    case 3: 1e3
    case 4: 1e4
    case 5: 1e5
    case 6: 1e6
    case 7: 1e7
    case 8: 1e8
    case 9: 1e9
    case 10: 1e10
    case 11: 1e11
    case 12: 1e12
    case 13: 1e13
    case 14: 1e14
    case 15: 1e15
    case 16: 1e16
    case 17: 1e17
    case 18: 1e18
    case 19: 1e19
    case 20: 1e20
    case 21: 1e21
    default: 1e22
    }
  }

  /// 10^k for k in 0...10, all exact in `Float`.
  @inline(__always)
  static func exactPowerOfTenFloat(_ k: Int) -> Float {
    switch k {
    case 0: 1e0
    case 1: 1e1
    case 2: 1e2
    case 3: 1e3
    case 4: 1e4
    case 5: 1e5
    case 6: 1e6
    case 7: 1e7
    case 8: 1e8
    case 9: 1e9
    default: 1e10
    }
  }

  /// 10^k as an integer for k in 0...15.
  @inline(__always)
  static func exactPowerOfTenInteger(_ k: Int) -> UInt64 {
    switch k {
    case 0: 1
    case 1: 10
    case 2: 100
    case 3: 1_000
    case 4: 10_000
    case 5: 100_000
    case 6: 1_000_000
    case 7: 10_000_000
    case 8: 100_000_000
    case 9: 1_000_000_000
    case 10: 10_000_000_000
    case 11: 100_000_000_000
    case 12: 1_000_000_000_000
    case 13: 10_000_000_000_000
    case 14: 100_000_000_000_000
    default: 1_000_000_000_000_000
    }
  }

  // MARK: - Eisel–Lemire

  /// The unsigned bits (biased exponent and stored mantissa) of `w · 10^q` (w > 0) correctly
  /// rounded to the binary format with `mantissaBits` stored mantissa bits. Exact for any
  /// `w` below 2^64 — i.e. at most 19 decimal digits — and any `q`.
  @inline(__always)
  static func eiselLemire(
    _ w: UInt64, _ q: Int, mantissaBits: Int, minimumExponent: Int, infinitePower: Int,
    smallestPowerOfTen: Int, largestPowerOfTen: Int, evenLow: Int, evenHigh: Int
  ) -> UInt64 {
    if q < smallestPowerOfTen { return 0 }
    if q > largestPowerOfTen { return UInt64(infinitePower) &<< mantissaBits }

    let lz = w.leadingZeroBitCount
    let normalized = w &<< lz
    let index = 2 &* (q &- PowersOfFive.smallestExponent)
    var (high, low) = PowersOfFive.table.withUnsafeBufferPointer { table in
      normalized.multipliedFullWidth(by: table[index])
    }
    // The top mantissaBits + 3 bits of the product are what rounding needs; when the bits
    // below them are all ones, the truncated low half of 5^q could carry into them.
    let precisionMask = UInt64.max &>> (mantissaBits &+ 3)
    if high & precisionMask == precisionMask {
      let second = PowersOfFive.table.withUnsafeBufferPointer { table in
        normalized.multipliedFullWidth(by: table[index &+ 1]).high
      }
      let (sum, carry) = low.addingReportingOverflow(second)
      low = sum
      if carry { high &+= 1 }
    }

    let upperBit = Int(high &>> 63)
    let shift = upperBit &+ 64 &- mantissaBits &- 3
    var mantissa = high &>> shift
    // floor(q · log2(10)) via a 16-bit fixed-point log2(5) (exact for |q| < 400), + 63.
    var power2 = ((152_170 &+ 65_536) &* q) &>> 16 &+ 63 &+ upperBit &- lz &- minimumExponent

    if power2 <= 0 {
      // Subnormal or zero: shift the extra bits out, then round half up (no ties can occur
      // this far from q = 0).
      let drop = 1 &- power2
      if drop >= 64 { return 0 }
      mantissa &>>= drop
      mantissa &+= mantissa & 1
      mantissa &>>= 1
      // Rounding up may have reached the smallest normal number; the bits then read right.
      let exponent: UInt64 = mantissa < (1 &<< UInt64(mantissaBits)) ? 0 : 1
      return mantissa | (exponent &<< UInt64(mantissaBits))
    }

    // An exact tie (only possible where 5^|q| fits in 64 bits) rounds to even: the dropped
    // bits were all zero and the product was exact.
    if low <= 1 && q >= evenLow && q <= evenHigh && mantissa & 3 == 1 {
      if mantissa &<< shift == high { mantissa &= ~1 }
    }
    mantissa &+= mantissa & 1
    mantissa &>>= 1
    if mantissa >= (2 &<< UInt64(mantissaBits)) {
      mantissa = 1 &<< UInt64(mantissaBits)
      power2 &+= 1
    }
    mantissa &= ~(1 &<< UInt64(mantissaBits))
    if power2 >= infinitePower { return UInt64(infinitePower) &<< mantissaBits }
    return mantissa | (UInt64(power2) &<< mantissaBits)
  }
}

/// `DecimalParsing` for a generic ``MatrixScalar``: `Float` or `Double` (the type test folds
/// away in specialized code). Any other conforming type goes through its `String` initializer.
@inline(__always)
func parseDecimal<T: MatrixScalar>(_ start: UnsafePointer<UInt8>, count: Int, as: T.Type) -> T? {
  if T.self == Float.self {
    guard let value = DecimalParsing.float(start, count: count) else { return nil }
    return unsafeBitCast(value, to: T.self)
  }
  if T.self == Double.self {
    guard let value = DecimalParsing.double(start, count: count) else { return nil }
    return unsafeBitCast(value, to: T.self)
  }
  return T(String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self))
}

/// `Float` or `Double`: a type ``DecimalParsing`` rounds a scanned decimal to.
protocol DecimalRoundable: LosslessStringConvertible {
  /// The correctly rounded value of `d`, or `nil` when only the exact fallback can tell.
  static func correctlyRounded(_ d: DecimalParsing.Decimal) -> Self?
}

extension Double: DecimalRoundable {
  @inline(__always)
  static func correctlyRounded(_ d: DecimalParsing.Decimal) -> Double? {
    DecimalParsing.doubleBits(d).map(Double.init(bitPattern:))
  }
}

extension Float: DecimalRoundable {
  @inline(__always)
  static func correctlyRounded(_ d: DecimalParsing.Decimal) -> Float? {
    DecimalParsing.floatBits(d).map(Float.init(bitPattern:))
  }
}
