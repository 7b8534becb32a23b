import Foundation
import Testing
import BumpTestSupport

/// End-to-end tests of the `bump` command-line tool, run as a subprocess.
///
/// The suite runs under `swift test -c release`, where `@testable import` of the executable is
/// not available, so the tool is tested through its only real interface: arguments, standard
/// input, standard output, standard error and the exit status. `swift test` builds every
/// target, the `bump` executable included, into the directory that holds the test binary.
@Suite struct CLITests {
  // MARK: - The documented example and the Keras bug

  @Test func headerIsExact() throws {
    let result = try Tool.run([
      "function", "--sigma", "1", "--from", "0", "--to", "0", "--steps", "1",
    ])
    #expect(result.status == 0)
    #expect(result.lines.first == "x,value,d_dx,d_dsigma,d_dcenter,d_damplitude")
    #expect(result.lines.count == 2)
    #expect(result.stderr.isEmpty)
  }

  /// σ = 2, x = ±1.5 lies outside the support (x² = 2.25 > σ): the value is 0, where the
  /// widely copied Keras layer (testing |x| < σ) returns 2981.
  @Test func valueIsZeroAtPlusMinusOnePointFiveForSigmaTwo() throws {
    let result = try Tool.run([
      "function", "--sigma", "2", "--from", "-2", "--to", "2", "--steps", "9",
    ])
    #expect(result.status == 0)
    let rows = try result.rows()
    #expect(rows.map { $0[0] } == [-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2])
    for row in rows where abs(row[0]) >= 1.5 {
      #expect(row[1...] == [0, 0, 0, 0, 0], "x = \(row[0])")
    }
    for row in rows {
      expectClose(row, reference(x: row[0], sigma: 2, center: 0, amplitude: 1))
    }
  }

  // MARK: - Values against an independent closed form

  @Test(arguments: [
    (sigma: 1.0, center: 0.0, amplitude: 1.0),
    (sigma: 0.5, center: 0.25, amplitude: -3.0),
    (sigma: 4.0, center: -1.0, amplitude: 0.125),
  ])
  func doubleValuesMatchClosedForm(sigma: Double, center: Double, amplitude: Double) throws {
    let xs = [-2.5, -1.2, -0.9, -0.3, 0, 0.1, 0.4, 0.7, 0.99, 1.3, 2]
    let result = try Tool.run(
      ["function", "--sigma", "\(sigma)", "--center", "\(center)", "--amplitude", "\(amplitude)"],
      stdin: xs.map { "\($0)\n" }.joined())
    #expect(result.status == 0, "\(result.stderr)")
    let rows = try result.rows()
    #expect(rows.count == xs.count)
    for (x, row) in zip(xs, rows) {
      #expect(row[0] == x)
      expectClose(row, reference(x: x, sigma: sigma, center: center, amplitude: amplitude))
    }
  }

  @Test func doubleOutputIsShortestRoundTrip() throws {
    let result = try Tool.run([
      "function", "--sigma", "0.7", "--from", "-1", "--to", "1", "--steps", "21",
    ])
    #expect(result.status == 0)
    for line in result.lines.dropFirst() {
      for field in line.split(separator: ",") {
        let value = try #require(Double(field), "\(field) is not a Double")
        #expect(value.description == field, "\(field) is not in shortest round-trip form")
      }
    }
  }

  @Test func floatPrecisionPrintsFloats() throws {
    let result = try Tool.run(
      ["function", "--sigma", "1", "--center", "0.1", "--precision", "float"],
      stdin: "0\n0.1\n0.3\n-0.5\n")
    #expect(result.status == 0, "\(result.stderr)")
    let lines = Array(result.lines.dropFirst())
    #expect(lines.count == 4)
    // A Float widened to Double would print like 0.10000000149011612.
    #expect(lines[1].hasPrefix("0.1,0.36787945,"))
    for line in lines {
      let fields = line.split(separator: ",")
      #expect(fields.count == 6)
      for field in fields {
        let value = try #require(Float(field), "\(field) is not a Float")
        #expect(value.description == field, "\(field) is not a Float in shortest round-trip form")
      }
      let row = fields.map { Double(Float($0)!) }
      let x = Double(Float(fields[0])!)
      expectClose(
        row, reference(x: x, sigma: 1, center: Double(Float(0.1)), amplitude: 1), tolerance: 1e-5)
    }
  }

  // MARK: - Inputs

  @Test func readsStandardInputWithBlankLinesAtTheEnd() throws {
    let result = try Tool.run(["function", "--sigma", "1"], stdin: "0\n  0.5 \r\n-0.5\n\n\n")
    #expect(result.status == 0, "\(result.stderr)")
    #expect(try result.rows().map { $0[0] } == [0, 0.5, -0.5])
  }

  @Test func readsAFile() throws {
    let folder = try TemporaryFolder(prefix: "bump-cli")
    defer { folder.remove() }
    let url = URL(fileURLWithPath: folder.path("numbers.txt"))
    try "0.25\n-0.75".write(to: url, atomically: true, encoding: .utf8)
    let result = try Tool.run(["function", "--sigma", "1", url.path])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(try result.rows().map { $0[0] } == [0.25, -0.75])
  }

  @Test func emptyInputPrintsOnlyTheHeader() throws {
    let result = try Tool.run(["function", "--sigma", "1"], stdin: "")
    #expect(result.status == 0)
    #expect(result.lines == ["x,value,d_dx,d_dsigma,d_dcenter,d_damplitude"])
  }

  @Test func infinitiesGiveZerosAndNaNPropagates() throws {
    let result = try Tool.run(["function", "--sigma", "1"], stdin: "inf\n-inf\nnan\n")
    #expect(result.status == 0, "\(result.stderr)")
    let rows = try result.rows()
    #expect(rows[0] == [.infinity, 0, 0, 0, 0, 0])
    #expect(rows[1] == [-.infinity, 0, 0, 0, 0, 0])
    let allNaN = rows[2].allSatisfy { $0.isNaN }
    #expect(allNaN, "\(rows[2])")
  }

  @Test func oneStepGivesJustFrom() throws {
    let result = try Tool.run([
      "function", "--sigma", "1", "--from", "0.5", "--to", "9", "--steps", "1",
    ])
    #expect(result.status == 0)
    #expect(try result.rows().map { $0[0] } == [0.5])
  }

  @Test func gridIncludesBothEnds() throws {
    let result = try Tool.run([
      "function", "--sigma", "1", "--from", "0.1", "--to", "0.3", "--steps", "3",
    ])
    #expect(try result.rows().map { $0[0] } == [0.1, 0.2, 0.3])
  }

  /// A Float grid's points are computed in Double and rounded once: 0.2, not 0.19999999.
  @Test func aFloatGridReadsAsTheDoubleOne() throws {
    let result = try Tool.run([
      "function", "--precision", "float", "--sigma", "1", "--from", "0.1", "--to", "0.7", "--steps", "7",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(try result.rows().map { $0[0] } == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], "\(result.stdout)")
  }

  /// More values than one kernel batch, so that batches join up in order.
  @Test func longInputKeepsOrder() throws {
    let count = 10_000
    let result = try Tool.run([
      "function", "--sigma", "1", "--from", "-1", "--to", "1", "--steps", "\(count)",
    ])
    #expect(result.status == 0)
    let xs = try result.rows().map { $0[0] }
    #expect(xs.count == count)
    #expect(xs.first == -1 && xs.last == 1)
    #expect(zip(xs, xs.dropFirst()).allSatisfy { $0 < $1 })
  }

  // MARK: - Errors

  @Test func nonNumberLineIsNamed() throws {
    let result = try Tool.run(["function", "--sigma", "1"], stdin: "0\n0.5\n1,5\n2\n")
    #expect(result.status != 0)
    #expect(result.stderr.contains("line 3"))
    #expect(result.stderr.contains("1,5"))
    // The rows before the bad line are still printed.
    #expect(result.lines.count == 3)
  }

  @Test func blankLineBeforeMoreNumbersIsNamed() throws {
    let result = try Tool.run(["function", "--sigma", "1"], stdin: "0\n\n0.5\n")
    #expect(result.status != 0)
    #expect(result.stderr.contains("line 2"))
  }

  @Test(arguments: [
    (["--sigma", "-1"], "--sigma"),
    (["--sigma", "nan"], "--sigma"),
    (["--sigma", "inf"], "--sigma"),
    (["--sigma", "1e39", "--precision", "float"], "--sigma"),
    (["--sigma", "1", "--center", "inf"], "--center"),
    (["--sigma", "1", "--amplitude", "nan"], "--amplitude"),
    (["--sigma", "1", "--precision", "half"], "--precision"),
    (["--sigma", "abc"], "--sigma"),
    (["--sigma", "1", "--from", "0", "--to", "1", "--steps", "0"], "--steps"),
    (["--sigma", "1", "--from", "nan", "--to", "1", "--steps", "2"], "--from"),
    (["--sigma", "1", "--from", "0", "--to", "-inf", "--steps", "2"], "--to"),
    (["--sigma", "1", "--from", "0", "--to", "1"], "--steps"),
    (["--sigma", "1", "--from", "0", "--to", "1", "--steps", "2", "x.txt"], "x.txt"),
  ])
  func badOptionsAreNamed(arguments: [String], option: String) throws {
    let result = try Tool.run(["function"] + arguments, stdin: "0\n")
    #expect(result.status != 0)
    #expect(result.stdout.isEmpty)
    #expect(result.stderr.contains(option), "\(result.stderr)")
  }

  @Test func missingFileIsNamed() throws {
    let path = "/nonexistent/bump-cli-input.txt"
    let result = try Tool.run(["function", "--sigma", "1", path])
    #expect(result.status != 0)
    #expect(result.stderr.contains(path))
  }

  // MARK: - Helpers

  /// g and its partial derivatives from the textbook formulas (not the kernel's t/q form):
  /// [x, a·f, ∂g/∂x, ∂g/∂σ, ∂g/∂c, ∂g/∂a].
  func reference(x: Double, sigma: Double, center: Double, amplitude: Double) -> [Double] {
    let z = x - center
    let u = sigma - z * z
    guard u > 0 else { return [x, 0, 0, 0, 0, 0] }
    let f = exp(-sigma / u)
    let dfdz = -2 * sigma * z * f / (u * u)
    let dfdsigma = z * z * f / (u * u)
    return [x, amplitude * f, amplitude * dfdz, amplitude * dfdsigma, -amplitude * dfdz, f]
  }

  func expectClose(
    _ actual: [Double], _ expected: [Double], tolerance: Double = 1e-12,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    for (column, (a, e)) in zip(actual, expected).enumerated() {
      #expect(
        abs(a - e) <= tolerance * max(abs(e), 1e-3),
        "column \(column): \(a) vs \(e) (x = \(actual[0]))",
        sourceLocation: sourceLocation)
    }
  }
}

extension CLITests {
  /// Runs the `bump` executable that `swift test` built next to the test binary.
  typealias Tool = BumpExecutable
}

extension ProcessResult {
  /// Standard output split into lines.
  var lines: [Substring] {
    var lines = stdout.split(separator: "\n", omittingEmptySubsequences: false)
    if lines.last == "" { lines.removeLast() }
    return lines
  }

  /// The CSV rows after the header, as numbers.
  func rows() throws -> [[Double]] {
    try lines.dropFirst().map { line in
      try line.split(separator: ",").map { field in
        try #require(Double(field), "\(field) in \(line)")
      }
    }
  }
}
