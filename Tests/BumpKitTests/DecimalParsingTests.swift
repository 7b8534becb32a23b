@testable import BumpKit
import Foundation
import Testing

// `DecimalParsing` must give the bits of `Double(String)` / `Float(String)` for every text in
// its grammar and `nil` for every text outside it. The references here are the standard
// library's initializers, an independent regular expression for the grammar, and exact decimal
// expansions of the midpoints between adjacent floating-point numbers.

// MARK: - Helpers

/// Runs `body` on the text's bytes followed by a digit that is not part of the text, so that a
/// parser reading past `count` gets a different answer.
private func withBytes<R>(_ text: String, _ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
  var bytes = Array(text.utf8)
  let count = bytes.count
  bytes.append(UInt8(ascii: "7"))
  return bytes.withUnsafeBufferPointer { body($0.baseAddress!, count) }
}

private func parseDouble(_ text: String) -> Double? {
  withBytes(text) { DecimalParsing.double($0, count: $1) }
}

private func parseFloat(_ text: String) -> Float? {
  withBytes(text) { DecimalParsing.float($0, count: $1) }
}

private func hex<T: BinaryInteger>(_ bits: T?) -> String {
  bits.map { "0x" + String($0, radix: 16) } ?? "nil"
}

/// Compares the parser with `Double(String)` and `Float(String)` on texts in the grammar,
/// keeping the first few disagreements for the failure message.
private struct Comparison {
  var checked = 0
  var failures = 0
  var examples: [String] = []

  mutating func record(_ message: String) {
    failures += 1
    if examples.count < 10 { examples.append(message) }
  }

  mutating func check(_ text: String, double: Bool = true, float: Bool = true) {
    checked += 1
    if double {
      let expected = Double(text)
      let actual = parseDouble(text)
      if expected == nil || actual?.bitPattern != expected?.bitPattern {
        record("Double \"\(text)\": expected \(hex(expected?.bitPattern)), got \(hex(actual?.bitPattern))")
      }
    }
    if float {
      let expected = Float(text)
      let actual = parseFloat(text)
      if expected == nil || actual?.bitPattern != expected?.bitPattern {
        record("Float \"\(text)\": expected \(hex(expected?.bitPattern)), got \(hex(actual?.bitPattern))")
      }
    }
  }

  func expectClean(_ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(checked > 0, sourceLocation: sourceLocation)
    #expect(
      failures == 0,
      "\(what): \(failures) of \(checked) texts disagree, e.g. \(examples.joined(separator: "; "))",
      sourceLocation: sourceLocation)
  }
}

/// The exact decimal expansion of `m · 2^e`, every digit, e.g. (3, -2) → "0.75".
private func exactDecimal(_ m: UInt64, _ e: Int) -> String {
  // Little-endian limbs in base 10^9.
  let base: UInt64 = 1_000_000_000
  var limbs: [UInt64] = [m % base, (m / base) % base, m / base / base]
  func multiply(by factor: UInt64) {
    var carry: UInt64 = 0
    for i in limbs.indices {
      let product = limbs[i] * factor + carry
      limbs[i] = product % base
      carry = product / base
    }
    while carry > 0 {
      limbs.append(carry % base)
      carry /= base
    }
  }
  var fractionDigits = 0
  if e >= 0 {
    var left = e
    while left > 0 {
      let step = min(left, 29)
      multiply(by: 1 << UInt64(step))
      left -= step
    }
  } else {
    // m · 2^e = m · 5^-e / 10^-e.
    var left = -e
    fractionDigits = -e
    while left > 0 {
      let step = min(left, 13)
      var power: UInt64 = 1
      for _ in 0..<step { power *= 5 }
      multiply(by: power)
      left -= step
    }
  }
  while limbs.count > 1 && limbs.last == 0 { limbs.removeLast() }
  var digits = String(limbs.last!)
  for limb in limbs.dropLast().reversed() {
    let s = String(limb)
    digits += String(repeating: "0", count: 9 - s.count) + s
  }
  if fractionDigits == 0 { return digits }
  if digits.count <= fractionDigits {
    digits = String(repeating: "0", count: fractionDigits - digits.count + 1) + digits
  }
  let point = digits.index(digits.endIndex, offsetBy: -fractionDigits)
  return String(digits[..<point]) + "." + String(digits[point...])
}

/// The decimal integer text one less than `text` (> 0).
private func decremented(_ text: String) -> String {
  var digits = Array(text.utf8)
  var i = digits.count - 1
  while digits[i] == UInt8(ascii: "0") {
    digits[i] = UInt8(ascii: "9")
    i -= 1
  }
  digits[i] -= 1
  var result = String(decoding: digits, as: UTF8.self)
  if result.count > 1 && result.hasPrefix("0") { result.removeFirst() }
  return result
}

/// Texts exactly halfway between `x` and the next larger number, just below and just above
/// that midpoint (30 more digits), with the values they must round to.
private func midpointCases(
  significand m: UInt64, exponent e: Int, below: UInt64, above: UInt64, even: UInt64
) -> [(String, UInt64)] {
  let mid = exactDecimal(2 * m + 1, e - 1)
  let tail = String(repeating: "0", count: 30) + "1"
  let nines = String(repeating: "9", count: 30)
  if mid.contains(".") {
    // A fraction of an odd multiple of a power of 1/2 ends in 5.
    return [(mid, even), (String(mid.dropLast()) + "4" + nines, below), (mid + tail, above)]
  }
  return [(mid, even), (decremented(mid) + "." + nines, below), (mid + "." + tail, above)]
}

private func doubleMidpoints(_ x: Double) -> [(String, UInt64)] {
  let biased = Int(x.exponentBitPattern)
  let m = x.significandBitPattern | (biased == 0 ? 0 : 1 << 52)
  let e = max(biased, 1) - 1075
  let next = x.nextUp
  let even = m % 2 == 0 ? x.bitPattern : next.bitPattern
  return midpointCases(
    significand: m, exponent: e, below: x.bitPattern, above: next.bitPattern, even: even)
}

private func floatMidpoints(_ x: Float) -> [(String, UInt64)] {
  let biased = Int(x.exponentBitPattern)
  let m = UInt64(x.significandBitPattern) | (biased == 0 ? 0 : 1 << 23)
  let e = max(biased, 1) - 150
  let next = x.nextUp
  let even = m % 2 == 0 ? x.bitPattern : next.bitPattern
  return midpointCases(
    significand: m, exponent: e, below: UInt64(x.bitPattern), above: UInt64(next.bitPattern),
    even: UInt64(even))
}

/// Random texts in the grammar: 1–40 digits, an optional sign and decimal point, an
/// optional exponent in -400...400 written in the ways the grammar allows.
private func randomDigitText(_ g: inout SeededGenerator) -> String {
  var bytes: [UInt8] = []
  switch g.next() % 4 {
  case 0: bytes.append(UInt8(ascii: "-"))
  case 1: bytes.append(UInt8(ascii: "+"))
  default: break
  }
  let count = Int(g.next() % 40) + 1
  let style = g.next() % 8
  var digits: [UInt8] = (0..<count).map { _ in
    switch style {
    case 0: UInt8(ascii: "9") - UInt8(g.next() % 2 == 0 ? 0 : g.next() % 10)  // runs of 9s
    case 1: UInt8(ascii: "0") + UInt8(g.next() % 8 == 0 ? g.next() % 10 : 0)  // mostly zeros
    default: UInt8(ascii: "0") + UInt8(g.next() % 10)
    }
  }
  if g.next() % 4 == 0 {
    let zeros = Int(g.next() % 25)
    digits.insert(contentsOf: repeatElement(UInt8(ascii: "0"), count: zeros), at: 0)
  }
  switch g.next() % 3 {
  case 0: break
  default:
    let point = Int(g.next() % UInt64(digits.count + 1))
    digits.insert(UInt8(ascii: "."), at: point)
  }
  bytes += digits
  if g.next() % 3 != 0 {
    bytes.append(g.next() % 2 == 0 ? UInt8(ascii: "e") : UInt8(ascii: "E"))
    let exponent = Int(g.next() % 801) - 400
    switch g.next() % 3 {
    case 0: if exponent >= 0 { bytes.append(UInt8(ascii: "+")) }
    default: break
    }
    if exponent < 0 { bytes.append(UInt8(ascii: "-")) }
    if g.next() % 8 == 0 { bytes.append(UInt8(ascii: "0")) }
    bytes += Array(String(abs(exponent)).utf8)
  }
  return String(decoding: bytes, as: UTF8.self)
}

private func randomFiniteDouble(_ g: inout SeededGenerator) -> Double {
  while true {
    let x = Double(bitPattern: g.next())
    if x.isFinite { return x }
  }
}

private func randomFiniteFloat(_ g: inout SeededGenerator) -> Float {
  while true {
    let x = Float(bitPattern: UInt32(truncatingIfNeeded: g.next()))
    if x.isFinite { return x }
  }
}

/// The grammar, written independently of the parser.
private func grammar() -> Regex<AnyRegexOutput> {
  try! Regex(#"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"#)
}

// MARK: - Tests

@Suite("DecimalParsing")
struct DecimalParsingTests {
  @Test("exactDecimal, the test's own reference, writes exact expansions")
  func exactDecimalReference() {
    #expect(exactDecimal(1, -1) == "0.5")
    #expect(exactDecimal(3, -2) == "0.75")
    #expect(exactDecimal(1, -3) == "0.125")
    #expect(exactDecimal(1, 10) == "1024")
    #expect(exactDecimal(1, 64) == "18446744073709551616")
    #expect(exactDecimal(5, 0) == "5")
    #expect(exactDecimal(1_000_000_001, 0) == "1000000001")
    #expect(exactDecimal(9_007_199_254_740_993, 0) == "9007199254740993")
    #expect(exactDecimal(1, -1074) == String(format: "%.1074f", Double.leastNonzeroMagnitude))
    #expect(decremented("1000") == "999")
    #expect(decremented("9007199254740994") == "9007199254740993")
  }

  @Test("Double.description and Float.description of random values")
  func descriptions() {
    var g = SeededGenerator(seed: 0x5EED_0001)
    var comparison = Comparison()
    for _ in 0..<400_000 {
      comparison.check(randomFiniteDouble(&g).description)
    }
    for _ in 0..<200_000 {
      comparison.check((g.nextUnit() * 10 - 5).description)  // everyday magnitudes
    }
    for _ in 0..<400_000 {
      comparison.check(randomFiniteFloat(&g).description)
    }
    for _ in 0..<200_000 {
      comparison.check(Float(g.nextUnit() * 10 - 5).description)
    }
    comparison.expectClean("descriptions")
  }

  @Test("%.Ne with 1 to 25 digits after the point")
  func scientificFormat() {
    var g = SeededGenerator(seed: 0x5EED_0002)
    var comparison = Comparison()
    for i in 0..<150_000 {
      let precision = i % 25 + 1
      let x = i % 2 == 0 ? randomFiniteDouble(&g) : Double(randomFiniteFloat(&g))
      comparison.check(String(format: "%.\(precision)e", x))
    }
    comparison.expectClean("%e")
  }

  @Test("random digit strings of 1 to 40 digits, exponents in -400...400")
  func randomDigitStrings() {
    var g = SeededGenerator(seed: 0x5EED_0003)
    var comparison = Comparison()
    for _ in 0..<1_000_000 {
      comparison.check(randomDigitText(&g))
    }
    comparison.expectClean("digit strings")
  }

  @Test("edge cases agree with Double(String) and Float(String)")
  func edgeCases() {
    let texts = [
      "0", "-0", "+0", "0.0", "-0.0", "-0.0e5", "0e99999999", "-0e-99999999", ".0", "0.",
      ".5", "5.", "+1", "-1", "1", "1.", "1.e5", "+.5e-1", "0000.000123", "00000000000000000000000001.5",
      "0.0000000000000000000000000000001234567890123456789012e31",
      "0." + String(repeating: "0", count: 400) + "1e401",
      "1" + String(repeating: "0", count: 400) + "e-400",
      "1e400", "-1e400", "1e308", "1e309", "1e-400", "-1e-400", "1e38", "1e39", "1e-46", "1e-45",
      "1e99999999999999999999", "-1e99999999999999999999", "1e-99999999999", "-1e-99999999999",
      "1E+0000000000000000000000000000000000000010", "123456789e-0000000000000000000000000005",
      // Subnormals and the underflow threshold.
      "4.9406564584124654e-324", "5e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
      "2.4703282292062327208828439643411068618252990130716238221279284125033775363510437593264991818081799618989828234772285886546332835517796989819938739800539093906315035659515570226392290858392449105184435931802849936536152500319370457678249219365623669863658480757001585769269903706311928279558551332927834338409351978015531246597263579574622766465272827220056374006485499977096599470454020828166226237857393450736339007967761930577506740176324673600968951340535537458516661134223766678604162159680461914467291840300530057530849048765391711386591646239524912623653881879636239373280423891018672348497668235089863388587925628302755995657524455507255189313690836254779186948667994968324049705821028513185451396213837722826145437693412532098591327667236328125e-324",
      "2.2250738585072011e-308", "2.2250738585072014e-308", "2.2250738585072012e-308",
      "4.4501477170144023e-308", "1.4e-45", "1.4012984e-45", "7.006492e-46", "7.0064923e-46",
      "7.00649232e-46", "1.1754942e-38", "1.17549435e-38", "1.1754944e-38",
      // Ties to even, written out in full.
      "9007199254740993", "9007199254740995", "9007199254740992.5", "9007199254740993.0000000000000000000000001",
      "16777217", "16777219", "33554434", "16777217.000000000000000000000000001",
      "18014398509481985", "1.00000005960464477539062500", "1.000000059604644775390625000000000001",
      "1.00000000000000011102230246251565404236316680908203125",
      "1.00000000000000011102230246251565404236316680908203124",
      "1.00000000000000011102230246251565404236316680908203126",
      // 17 to 20 and more significant digits.
      "1.2345678901234567", "1.23456789012345678", "1.234567890123456789", "12345678901234567890",
      "123456789012345678901", "0.1234567890123456789012345", "18446744073709551615",
      "18446744073709551616", "9999999999999999999", "99999999999999999999", "10000000000000000000",
      "7.2057594037927933e16", "2.0000000000000002", "2.000000000000000000000000000000001",
      // The largest finite values and just past them.
      "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
      "179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858368",
      "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497791.9999999",
      "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792",
      "3.4028234e38", "3.4028235e38", "3.4028236e38", "3.40282357e38", "3.40282356e38",
      "340282356779733661637539395458142568448", "340282356779733661637539395458142568447.999",
      "3.4028235677973366e38", "3.4028235677973365e38",
      // Clinger's path and its extension at their limits.
      "9007199254740992e22", "9007199254740992e23", "9007199254740993e22", "1e22", "1e23",
      "123e35", "123e36", "1e37", "9007199254740992e-22", "16777216e10", "16777216e11", "1e17", "17e16",
      // Exponents at and past the ends of the table.
      "1e-342", "1e-343", "9.9999999999999999999e-343", "1e-324", "1e-325", "1e308", "1.8e308",
      "18446744073709551615e-343", "18446744073709551615e289", "1e-65", "1e-66", "1e-64", "1e-45",
    ]
    var comparison = Comparison()
    for text in texts { comparison.check(text) }
    comparison.expectClean("edge cases")
  }

  @Test("values known without any reference parser")
  func knownValues() {
    #expect(parseDouble("-0")?.bitPattern == (-0.0 as Double).bitPattern)
    #expect(parseDouble("-0.0e5")?.bitPattern == (-0.0 as Double).bitPattern)
    #expect(parseFloat("-0")?.bitPattern == (-0.0 as Float).bitPattern)
    #expect(parseDouble("1e400") == .infinity)
    #expect(parseDouble("-1e400") == -.infinity)
    #expect(parseDouble("1e99999999999999999999") == .infinity)
    #expect(parseDouble("0e99999999")?.bitPattern == 0)
    #expect(parseDouble("1e-99999999999")?.bitPattern == 0)
    #expect(parseDouble("-1e-400")?.bitPattern == (-0.0 as Double).bitPattern)
    #expect(parseDouble("5e-324") == .leastNonzeroMagnitude)
    #expect(parseDouble("2.4703282292062327e-324")?.bitPattern == 0)
    #expect(parseDouble("2.4703282292062328e-324") == .leastNonzeroMagnitude)
    #expect(parseDouble("2.2250738585072014e-308") == .leastNormalMagnitude)
    #expect(parseDouble("2.2250738585072009e-308") == Double.leastNormalMagnitude.nextDown)
    #expect(parseDouble("1.7976931348623157e308") == .greatestFiniteMagnitude)
    #expect(parseDouble("1.7976931348623158e308") == .greatestFiniteMagnitude)
    #expect(parseDouble("1.7976931348623159e308") == .infinity)
    #expect(parseDouble("9007199254740993") == 9_007_199_254_740_992)
    #expect(parseDouble("9007199254740995") == 9_007_199_254_740_996)
    #expect(parseDouble("0.1") == 0.1)
    #expect(parseDouble(".5") == 0.5)
    #expect(parseDouble("5.") == 5)
    #expect(parseDouble("+1") == 1)
    #expect(parseDouble("0000.000123") == 0.000123)
    #expect(parseFloat("16777217") == 16_777_216)
    #expect(parseFloat("16777219") == 16_777_220)
    #expect(parseFloat("3.4028235e38") == .greatestFiniteMagnitude)
    #expect(parseFloat("3.4028236e38") == .infinity)
    #expect(parseFloat("3.40282357e38") == .infinity)
    #expect(parseFloat("3.40282356e38") == .greatestFiniteMagnitude)
    #expect(parseFloat("1e-46")?.bitPattern == 0)
    #expect(parseFloat("1e-45") == .leastNonzeroMagnitude)
    #expect(parseFloat("0.1") == 0.1 as Float)
    // Rounded once to Float: 1 + 2^-24 + 2^-60 is above the Float midpoint, although the
    // nearest Double (1 + 2^-24) is exactly on it and would round down to 1.
    #expect(parseFloat("1.000000059604644776257") == Float(1).nextUp)
    #expect(parseDouble("1.000000059604644776257") == 1 + 0x1p-24)
  }

  @Test("midpoints between adjacent Doubles, and just below and above them, with all digits")
  func doubleMidpointsTest() {
    var xs: [Double] = [
      .leastNonzeroMagnitude, Double.leastNormalMagnitude.nextDown, .leastNormalMagnitude, 1,
      9_007_199_254_740_992, .greatestFiniteMagnitude, Double.greatestFiniteMagnitude.nextDown,
      0.1, 1e22, 1e23, 0x1p-1000,
    ]
    var g = SeededGenerator(seed: 0x5EED_0004)
    for _ in 0..<1_500 { xs.append(abs(randomFiniteDouble(&g))) }
    for _ in 0..<500 { xs.append(Double(bitPattern: g.next() % (1 << 52))) }  // subnormals
    var comparison = Comparison()
    var wrongRounding: [String] = []
    var longest = 0
    for x in xs where x.isFinite && x > 0 {
      for (text, bits) in doubleMidpoints(x) {
        longest = max(longest, text.count)
        comparison.check(text, float: false)
        let value = parseDouble(text)
        if value?.bitPattern != bits && wrongRounding.count < 5 {
          wrongRounding.append("\(text.prefix(40))…: \(hex(value?.bitPattern)) not \(hex(bits))")
        }
      }
    }
    comparison.expectClean("Double midpoints")
    #expect(wrongRounding.isEmpty, "\(wrongRounding)")
    #expect(longest > 700)
  }

  @Test("midpoints between adjacent Floats, and just below and above them, with all digits")
  func floatMidpointsTest() {
    var xs: [Float] = [
      .leastNonzeroMagnitude, Float.leastNormalMagnitude.nextDown, .leastNormalMagnitude, 1,
      16_777_216, .greatestFiniteMagnitude, Float.greatestFiniteMagnitude.nextDown, 0.1, 1e10,
    ]
    var g = SeededGenerator(seed: 0x5EED_0005)
    for _ in 0..<3_000 { xs.append(abs(randomFiniteFloat(&g))) }
    for _ in 0..<1_000 { xs.append(Float(bitPattern: UInt32(g.next() % (1 << 23)))) }
    var comparison = Comparison()
    var wrongRounding: [String] = []
    for x in xs where x.isFinite && x > 0 {
      for (text, bits) in floatMidpoints(x) {
        comparison.check(text, double: false)
        let value = parseFloat(text)
        if UInt64(value?.bitPattern ?? 0xFFFF_FFFF) != bits && wrongRounding.count < 5 {
          wrongRounding.append("\(text.prefix(40))…: \(hex(value?.bitPattern)) not \(hex(bits))")
        }
      }
    }
    comparison.expectClean("Float midpoints")
    #expect(wrongRounding.isEmpty, "\(wrongRounding)")
  }

  @Test("texts outside the grammar give nil", arguments: [
    "", "+", "-", ".", "+.", "-.", "e", "e5", ".e5", "+.e5", "1e", "1e+", "1e-", "1E", "1.e",
    "0x1p3", "0x10", "inf", "-inf", "infinity", "nan", "NaN", "Infinity", " 1", "1 ", "1,5",
    "1.5.2", "1e5e5", "1e5.5", "--1", "+-1", "1e--5", "1e+-5", "1_000", "١", "1d", "1f", "0b1",
    "1ee5", "..5", "5..", "\u{0}", "1\u{0}", "e+5", "+e", "1.5e+5x", "٣.٥",
  ])
  func outsideGrammar(_ text: String) {
    #expect(parseDouble(text) == nil)
    #expect(parseFloat(text) == nil)
    #expect(text.wholeMatch(of: grammar()) == nil)
  }

  @Test("nil exactly for the texts the grammar rejects, among random short texts")
  func grammarIsExact() {
    let alphabet = Array("0159.eE+-x pin".utf8)
    var g = SeededGenerator(seed: 0x5EED_0006)
    var accepted = 0
    var rejected = 0
    var wrong: [String] = []
    var comparison = Comparison()
    let grammar = grammar()
    for _ in 0..<150_000 {
      let length = Int(g.next() % 8)
      let text = String(decoding: (0..<length).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] }, as: UTF8.self)
      let inGrammar = text.wholeMatch(of: grammar) != nil
      let double = parseDouble(text)
      let float = parseFloat(text)
      if inGrammar {
        accepted += 1
        comparison.check(text)
      } else {
        rejected += 1
      }
      if (double == nil) == inGrammar || (float == nil) == inGrammar, wrong.count < 10 {
        wrong.append("\"\(text)\" in grammar: \(inGrammar), parsed: \(String(describing: double))")
      }
    }
    #expect(wrong.isEmpty, "\(wrong)")
    #expect(accepted > 5_000 && rejected > 5_000)
    comparison.expectClean("random short texts")
  }

  @Test("the exact fallback is rare: never on descriptions, seldom on long digit strings")
  func fallbackIsRare() {
    var g = SeededGenerator(seed: 0x5EED_0007)
    var fallbacks = 0
    var invalid = 0
    for _ in 0..<100_000 {
      let text = randomFiniteDouble(&g).description
      switch withBytes(text, { DecimalParsing._fastPathDouble($0, count: $1) }) {
      case .value: break
      case .needsExactFallback: fallbacks += 1
      case .notInGrammar: invalid += 1
      }
    }
    for _ in 0..<100_000 {
      let text = randomFiniteFloat(&g).description
      switch withBytes(text, { DecimalParsing._fastPathFloat($0, count: $1) }) {
      case .value: break
      case .needsExactFallback: fallbacks += 1
      case .notInGrammar: invalid += 1
      }
    }
    #expect(fallbacks == 0, "\(fallbacks) of 200000 descriptions needed the exact fallback")
    #expect(invalid == 0)

    // Texts with 20 to 40 significant digits: the fallback runs only when the digits past the
    // 19th straddle a rounding boundary.
    var longFallbacks = 0
    var long = 0
    var sawFallback = false
    for _ in 0..<100_000 {
      let digits = (0..<(Int(g.next() % 21) + 20)).map { _ in Character(String(g.next() % 9 + 1)) }
      let text = String(digits) + "e\(Int(g.next() % 601) - 300)"
      long += 1
      if case .needsExactFallback = withBytes(text, { DecimalParsing._fastPathDouble($0, count: $1) }) {
        longFallbacks += 1
      }
      if case .needsExactFallback = withBytes(text, { DecimalParsing._fastPathFloat($0, count: $1) }) {
        longFallbacks += 1
      }
    }
    // A midpoint written out in full cannot be decided from 19 digits.
    if case .needsExactFallback = withBytes("9007199254740993.0000000000000000000001", { DecimalParsing._fastPathDouble($0, count: $1) }) {
      sawFallback = true
    }
    #expect(sawFallback)
    #expect(longFallbacks < 2 * long / 100, "\(longFallbacks) fallbacks in \(2 * long) long texts")
    print("DecimalParsing fallbacks: \(fallbacks) in 200000 descriptions, \(longFallbacks) in \(2 * long) parses of 20-40 digit texts")
  }

  @Test("floatQuotient: one Double multiplication by 10^-k rounds as the Float division does")
  func floatQuotientMatchesDivision() {
    var g = SeededGenerator(seed: 0x5EED_0007)
    var checked = 0
    var mismatches: [(UInt64, Int)] = []
    func check(_ w: UInt64, _ k: Int) {
      let expected = Float(w) / DecimalParsing.exactPowerOfTenFloat(k)
      if DecimalParsing.floatQuotient(w, k).bitPattern != expected.bitPattern, mismatches.count < 10 {
        mismatches.append((w, k))
      }
      checked += 1
    }
    for k in 1...10 {
      // The smallest and the largest mantissas, whole; random ones between.
      for w: UInt64 in 0..<(1 << 18) { check(w, k) }
      for w: UInt64 in (1 << 24) - (1 << 18)...(1 << 24) { check(w, k) }
      for _ in 0..<(1 << 18) { check(g.next() % (1 << 24), k) }
    }
    #expect(mismatches.isEmpty, "\(mismatches)")
    #expect(checked > 7_000_000)
    // A Float reciprocal would not do: the check above can fail.
    #expect((Float(26) * (1 / 10 as Float)).bitPattern != (Float(26) / 10).bitPattern)
  }

  @Test("parseDecimal(_:count:as:) reaches the Float and Double parsers")
  func genericHook() {
    func parse<T: MatrixScalar>(_ text: String, as type: T.Type) -> T? {
      withBytes(text) { parseDecimal($0, count: $1, as: type) }
    }
    #expect(parse("1.000000059604644776257", as: Float.self) == Float(1).nextUp)
    #expect(parse("1.000000059604644776257", as: Double.self) == 1 + 0x1p-24)
    #expect(parse("0.1", as: Float.self) == 0.1 as Float)
    #expect(parse("0.1", as: Double.self) == 0.1)
    #expect(parse("-0", as: Double.self)?.sign == .minus)
    #expect(parse("0x1p3", as: Double.self) == nil)
    #expect(parse("1e", as: Float.self) == nil)
  }
}
