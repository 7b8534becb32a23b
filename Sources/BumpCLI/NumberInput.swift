import ArgumentParser
import BumpKit

// MARK: - Parsing one number

/// Parses numbers the way every `bump` input does: decimal or hexadecimal floating-point
/// literals, `inf`, `infinity` and `nan` (any case, optionally signed), with surrounding
/// blanks ignored.
///
/// Each precision parses the text itself, so `0.1` read as `Float` is the `Float` nearest to
/// 0.1, not the `Float` nearest to the `Double` nearest to 0.1. Out-of-range literals become
/// ±infinity or ±0, as `strtod` does; `bump function` refuses the infinite ones (a finite
/// number beyond the precision's range), as it refuses them in `--from` and `--to`.
enum NumberSyntax {
  /// The number that `text` spells in `Scalar`, or `nil` when it spells none.
  static func parse<Scalar: MatrixScalar>(_ text: Substring, as _: Scalar.Type = Scalar.self)
    -> Scalar?
  {
    let trimmed = trimmingBlanks(text)
    guard !trimmed.isEmpty else { return nil }
    return Scalar(String(trimmed))
  }

  /// Whether `text` spells ±infinity itself (`inf`, `-Infinity`), rather than a finite
  /// number too large for the precision.
  static func spellsInfinity(_ text: Substring) -> Bool {
    trimmingBlanks(text).lowercased().contains("inf")
  }

  /// `text` without leading and trailing spaces, tabs, carriage returns, line feeds,
  /// vertical tabs and form feeds.
  static func trimmingBlanks(_ text: Substring) -> Substring {
    let isBlank: (Character) -> Bool = { c in
      c == " " || c == "\t" || c == "\r" || c == "\n" || c == "\u{0B}" || c == "\u{0C}"
        || c == "\r\n"
    }
    guard let start = text.firstIndex(where: { !isBlank($0) }),
      let last = text.lastIndex(where: { !isBlank($0) })
    else { return text[text.endIndex...] }
    return text[start...last]
  }
}

/// The text of a numeric command-line option, kept as written so that each precision parses
/// it itself (see ``NumberSyntax``). Accepts whatever ``NumberSyntax`` accepts.
struct NumberArgument: ExpressibleByArgument, CustomStringConvertible, Sendable {
  /// The option's value as given, without surrounding blanks.
  let text: String

  init?(argument: String) {
    let trimmed = NumberSyntax.trimmingBlanks(argument[...])
    guard NumberSyntax.parse(trimmed, as: Double.self) != nil else { return nil }
    text = String(trimmed)
  }

  var description: String { text }
  var defaultValueDescription: String { text }

  /// The value in `Scalar`; a literal out of `Scalar`'s range is ±infinity or ±0.
  func value<Scalar: MatrixScalar>(as _: Scalar.Type = Scalar.self) -> Scalar {
    NumberSyntax.parse(text[...], as: Scalar.self) ?? .nan
  }
}

// MARK: - Sources of x values

/// A stream of x values delivered in batches, so that input of any length runs in bounded
/// memory while each batch is still one kernel call.
protocol NumberBatches<Scalar> {
  associatedtype Scalar: MatrixScalar
  /// The next at most `limit` values (`limit` ≥ 1), or `nil` when the stream has ended.
  mutating func next(limit: Int) throws -> [Scalar]?
}

/// A line of input that breaks the one-number-per-line format: not a number, or a blank
/// line with numbers after it.
///
/// The description names the source and the 1-based line number as the CSV reader's errors
/// do, then the offending text (shortened when long, invisible characters escaped), for
/// example `data.txt: line 3: not a number: "1,5"`.
struct InputLineError: Error, CustomStringConvertible, Equatable {
  /// A file path, or "standard input".
  let source: String
  /// The 1-based line number.
  let line: Int
  /// The line as read, without its line ending; `nil` when showing it would not help.
  let text: String?
  /// What is wrong with it.
  let problem: String

  var description: String {
    let place = "\(MessageText.visible(source)): line \(line): \(problem)"
    guard let text else { return place }
    let shown = text.count > 60 ? text.prefix(60) + "…" : Substring(text)
    return "\(place): \(MessageText.quoted(String(shown)))"
  }
}

/// Lines of text from a file or standard input, read with the CSV reader's rules
/// (``TextLineReader``): line endings (LF, CRLF or CR) removed, a last line without one still a
/// line, and a line that is too long, holds a NUL byte or is not UTF-8 an error (a
/// ``DataError``) naming it.
final class LineReader {
  /// A file path, or "standard input"; used in error messages.
  let source: String
  private var lines: TextLineReader

  /// Opens `path` for reading; `-` means standard input.
  ///
  /// - Throws: ``DataError/fileNotFound(path:)``, ``DataError/unreadableFile(path:reason:)``.
  init(path: String, lineByteLimit: Int = TextLineReader.lineByteLimit) throws {
    lines = try TextLineReader(path: path, lineByteLimit: lineByteLimit)
    source = lines.path
  }

  /// The next line without its line ending, or `nil` at the end of the input.
  ///
  /// - Throws: the ``DataError``s of ``TextLineReader/next()``.
  func nextLine() throws -> Substring? {
    try lines.next().map { Substring($0.text) }
  }
}

/// x values read one per line from a file or standard input.
///
/// Blank lines are allowed only at the end: a blank line followed by a number is an error
/// naming the blank line. Every other line must be one number (``NumberSyntax``), else an
/// ``InputLineError`` names it; text that is not text (a NUL byte, bytes that are not UTF-8, a
/// line longer than ``TextLineReader/lineByteLimit``) is a ``DataError`` naming the line. The numbers before a bad line are still delivered: the batch
/// that meets the bad line ends there, and the next call throws.
struct LineNumbers<Scalar: MatrixScalar>: NumberBatches {
  private let reader: LineReader
  private var lineNumber = 0
  private var firstBlankLine: Int? = nil
  private var pendingError: (any Error)? = nil

  init(reader: LineReader) { self.reader = reader }

  mutating func next(limit: Int) throws -> [Scalar]? {
    if let pendingError { throw pendingError }
    var values: [Scalar] = []
    values.reserveCapacity(min(limit, 4096))
    while values.count < limit {
      let next: Substring?
      do {
        next = try reader.nextLine()
      } catch {
        // Malformed text (a NUL byte, a line too long, not UTF-8) ends the batch like a bad
        // number: the values before it are delivered first.
        if values.isEmpty { throw error }
        pendingError = error
        return values
      }
      guard let line = next else { break }
      lineNumber += 1
      if NumberSyntax.trimmingBlanks(line).isEmpty {
        if firstBlankLine == nil { firstBlankLine = lineNumber }
        continue
      }
      if let blank = firstBlankLine {
        pendingError = InputLineError(
          source: reader.source, line: blank, text: nil,
          problem:
            "blank line followed by more numbers (line \(lineNumber)); blank lines are allowed only at the end"
        )
      } else if let value = NumberSyntax.parse(line, as: Scalar.self), !value.isInfinite || NumberSyntax.spellsInfinity(line) {
        values.append(value)
        continue
      } else if NumberSyntax.parse(line, as: Scalar.self) != nil {
        // A finite literal that overflows the precision, refused as `--from`/`--to` are.
        pendingError = InputLineError(
          source: reader.source, line: lineNumber, text: String(line),
          problem: "beyond the range of \(Scalar.self) precision")
      } else {
        pendingError = InputLineError(
          source: reader.source, line: lineNumber, text: String(line), problem: "not a number")
      }
      if values.isEmpty, let pendingError { throw pendingError }
      return values
    }
    return values.isEmpty ? nil : values
  }
}

/// `count` evenly spaced points from `from` to `to`, both included (`count` = 1 gives just
/// `from`).
///
/// Point i is from + (to − from)·i/(count − 1), computed so that the ends are exact and no
/// intermediate overflows while from and to are finite.
struct EvenlySpacedNumbers<Scalar: MatrixScalar>: NumberBatches {
  /// The first point.
  let from: Scalar
  /// The last point (when `count` > 1).
  let to: Scalar
  /// The number of points, ≥ 1.
  let count: Int
  /// The ends in `Double`, which the points between them are computed from.
  private let ends: (Double, Double)
  private var index = 0

  /// - Parameter exactEnds: the ends as `Double` values, when they are nearer the numbers
  ///   asked for than `from` and `to` (a `Float` grid from the decimal 0.1 to 0.7); by
  ///   default `from` and `to` themselves.
  init(from: Scalar, to: Scalar, count: Int, exactEnds: (Double, Double)? = nil) {
    precondition(count >= 1, "count must be at least 1")
    self.from = from
    self.to = to
    self.count = count
    ends = exactEnds ?? (Double(from), Double(to))
  }

  /// The point with index `i` in 0..<count: computed in `Double` from the exact ends and
  /// rounded once, so that a `Float` grid from 0.1 to 0.7 reads 0.2, 0.3, …, 0.6 as the
  /// `Double` one does (in `Float` arithmetic from the rounded ends: 0.19999999, 0.29999998,
  /// …).
  func point(_ i: Int) -> Scalar {
    if i == 0 { return from }
    if i == count - 1 { return to }
    let (a, b) = ends
    let n = Double(count - 1)
    let k = Double(i)
    let scaledSpan = (b - a) * k
    if scaledSpan.isFinite { return Scalar(a + scaledSpan / n) }
    return Scalar(a * ((n - k) / n) + b * (k / n))
  }

  mutating func next(limit: Int) -> [Scalar]? {
    guard index < count else { return nil }
    let end = index + min(limit, count - index)
    defer { index = end }
    return (index..<end).map(point)
  }
}
