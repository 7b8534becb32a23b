// Temporary: stands in for the Eisel–Lemire `parseDecimal` until it is merged, and is
// deleted then. Nothing else depends on how it works.

/// 10^power, exactly, for power in 0...22.
@inline(__always)
private func exactPowerOfTen(_ power: Int) -> Double {
  switch power {
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

/// The value of the plain decimal `[+-]?(d+(.d*)?|.d+)([eE][+-]?d+)?` at `start`, rounded
/// once to `T` exactly as `T(String)` rounds it (±infinity when too large); nil for any other
/// text.
func parseDecimal<T: MatrixScalar>(_ start: UnsafePointer<UInt8>, count: Int, as: T.Type) -> T? {
  var i = 0
  var negative = false
  if i < count, start[i] == 0x2B || start[i] == 0x2D {
    negative = start[i] == 0x2D
    i += 1
  }
  // Every digit goes into the mantissa: exact while there are at most 19 of them.
  var mantissa: UInt64 = 0
  let integerStart = i
  while i < count {
    let d = start[i] &- 0x30
    if d >= 10 { break }
    mantissa = mantissa &* 10 &+ UInt64(d)
    i += 1
  }
  var digits = i - integerStart
  var exponent = 0
  if i < count, start[i] == 0x2E {
    i += 1
    let fractionStart = i
    while i < count {
      let d = start[i] &- 0x30
      if d >= 10 { break }
      mantissa = mantissa &* 10 &+ UInt64(d)
      i += 1
    }
    exponent = fractionStart - i
    digits += i - fractionStart
  }
  guard digits > 0 else { return nil }
  if i < count, start[i] | 0x20 == 0x65 {
    i += 1
    var negativeExponent = false
    if i < count, start[i] == 0x2B || start[i] == 0x2D {
      negativeExponent = start[i] == 0x2D
      i += 1
    }
    guard i < count, start[i] &- 0x30 < 10 else { return nil }
    var e = 0
    while i < count, start[i] &- 0x30 < 10 {
      if e < 100_000 { e = e * 10 + Int(start[i] &- 0x30) }
      i += 1
    }
    exponent += negativeExponent ? -e : e
  }
  guard i == count else { return nil }
  if digits <= 19 {
    if mantissa == 0 { return negative ? -T(0) : T(0) }
    if mantissa <= 1 << 53, exponent >= -22, exponent <= 22 {
      if T.self == Float.self, mantissa <= 1 << 24, exponent >= -10, exponent <= 10 {
        var f = Float(mantissa)
        let power = Float(exactPowerOfTen(abs(exponent)))
        f = exponent < 0 ? f / power : f * power
        return T(negative ? -f : f)
      }
      var d = Double(mantissa)
      d = exponent < 0 ? d / exactPowerOfTen(-exponent) : d * exactPowerOfTen(exponent)
      if negative { d = -d }
      if T.self == Double.self { return T(d) }
      // Float through Double: right unless the Double is exactly halfway between two Floats.
      if abs(d) >= Double(Float.leastNormalMagnitude), abs(d) < Double(Float.greatestFiniteMagnitude) {
        let f = Float(d)
        if Double(f) == d { return T(f) }
        let other = d > Double(f) ? f.nextUp : f.nextDown
        if (Double(f) + Double(other)) / 2 != d { return T(f) }
      }
    }
  }
  return T(String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self))
}
