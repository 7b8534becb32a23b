@testable import BumpCLI
import BumpKit
import Foundation
import Testing
import BumpTestSupport

/// `bump function`'s number input and table, in process (the subprocess tests in
/// BumpKitTests.CLITests check the command's output end to end).
@Suite struct FunctionCommandTests {
  @Test func numbersParseInEachPrecisionWithBlanksIgnored() {
    #expect(NumberSyntax.parse(" 0x1p-2\t", as: Double.self) == 0.25)
    #expect(NumberSyntax.parse("-INF", as: Float.self) == -.infinity)
    #expect(NumberSyntax.parse("nan", as: Double.self)?.isNaN == true)
    #expect(NumberSyntax.parse("0.1", as: Float.self) == Float(0.1), "parsed as Float, not via Double")
    for bad in ["", "  ", "1,5", "0x", "one"] {
      #expect(NumberSyntax.parse(bad[...], as: Double.self) == nil, "\(bad)")
    }
  }

  @Test func gridsIncludeBothEndsExactly() {
    var grid = EvenlySpacedNumbers<Double>(from: -2, to: 2, count: 9)
    #expect(grid.next(limit: 4) == [-2, -1.5, -1, -0.5])
    #expect(grid.next(limit: 100) == [0, 0.5, 1, 1.5, 2])
    #expect(grid.next(limit: 1) == nil)
    var one = EvenlySpacedNumbers<Float>(from: 3, to: 7, count: 1)
    #expect(one.next(limit: 10) == [3])
    let wide = EvenlySpacedNumbers<Double>(from: -.greatestFiniteMagnitude, to: .greatestFiniteMagnitude, count: 3)
    #expect(wide.point(1) == 0, "no intermediate overflow")
  }

  @Test func aBadLineEndsTheBatchAndIsNamedByTheNextCall() throws {
    let folder = try TemporaryFolder()
    let path = folder.path + "/x.txt"
    try "0\n0.5\n1,5\n2\n".write(toFile: path, atomically: true, encoding: .utf8)
    var numbers = LineNumbers<Double>(reader: try LineReader(path: path))
    #expect(try numbers.next(limit: 10) == [0, 0.5], "the numbers before the bad line")
    let error = try #require(throws: InputLineError.self) { _ = try numbers.next(limit: 10) }
    #expect(error.line == 3)
    #expect(error.description == "\(path): line 3: not a number: \"1,5\"")

    try "1\r\n\n\n".write(toFile: path, atomically: true, encoding: .utf8)
    var trailing = LineNumbers<Float>(reader: try LineReader(path: path))
    #expect(try trailing.next(limit: 10) == [1], "CRLF and blank lines at the end")
    #expect(try trailing.next(limit: 10) == nil)

    try "0\n\n0.5\n".write(toFile: path, atomically: true, encoding: .utf8)
    var blank = LineNumbers<Double>(reader: try LineReader(path: path))
    #expect(try blank.next(limit: 10) == [0])
    #expect(throws: InputLineError.self) { _ = try blank.next(limit: 10) }
    #expect(throws: DataError.fileNotFound(path: folder.path + "/missing.txt")) {
      _ = try LineReader(path: folder.path + "/missing.txt")
    }
  }

  /// A finite literal beyond the precision is refused, as it is in `--from`; `inf` is a value.
  @Test func aFiniteNumberBeyondThePrecisionIsRefused() throws {
    let folder = try TemporaryFolder()
    let path = folder.path + "/x.txt"
    try "1\n1e160\n".write(toFile: path, atomically: true, encoding: .utf8)
    var floats = LineNumbers<Float>(reader: try LineReader(path: path))
    #expect(try floats.next(limit: 10) == [1])
    let error = try #require(throws: InputLineError.self) { _ = try floats.next(limit: 10) }
    #expect(error.description.contains("line 2: beyond the range of Float precision"), "\(error)")
    var doubles = LineNumbers<Double>(reader: try LineReader(path: path))
    #expect(try doubles.next(limit: 10) == [1, 1e160])
    try "-inf\ninfinity\n".write(toFile: path, atomically: true, encoding: .utf8)
    var infinities = LineNumbers<Float>(reader: try LineReader(path: path))
    #expect(try infinities.next(limit: 10) == [-.infinity, .infinity])
  }

  @Test func theTableIsZeroOutsideTheSupport() throws {
    let parameters = try BumpFunctionParameters<Double>(
      sigma: NumberArgument(argument: "2")!, center: NumberArgument(argument: "0")!,
      amplitude: NumberArgument(argument: "1")!)
    let table = BumpFunctionTable(parameters: parameters, x: [-1.5, 0, 1.5, 2])
    #expect(table.value[0] == 0 && table.value[2] == 0 && table.value[3] == 0)
    #expect(abs(table.value[1] - exp(-1.0)) < 1e-15, "f(0; σ) = e⁻¹")
    #expect(table.dx[1] == 0)
    var text = ""
    table.appendCSVRows(to: &text)
    let first = try #require(text.split(separator: "\n").first).split(separator: ",").map { Double($0) }
    #expect(first == [-1.5, 0, 0, 0, 0, 0], "exact zeros at the support's edge")
    #expect(BumpFunctionTable<Double>.csvHeader == "x,value,d_dx,d_dsigma,d_dcenter,d_damplitude")
  }

  @Test(arguments: [
    (["--sigma", "-1", "--from", "0", "--to", "1", "--steps", "2"], "--sigma"),
    (["--sigma", "1e39", "--precision", "float", "--from", "0", "--to", "1", "--steps", "2"], "--sigma"),
    (["--sigma", "1", "--from", "0", "--to", "1", "--steps", "0"], "--steps"),
    (["--sigma", "1", "--from", "0", "--to", "1"], "--steps"),
    (["--sigma", "1", "--from", "0", "--to", "1", "--steps", "2", "x.txt"], "x.txt"),
  ])
  func badFunctionOptionsAreNamed(arguments: [String], option: String) throws {
    let error = try #require(throws: (any Error).self) {
      _ = try BumpCommand.parseAsRoot(["function"] + arguments)
    }
    let message = BumpCommand.oneLineMessage(for: error)
    #expect(message.contains(option), "\(message)")
    #expect(!message.contains("\n"))
  }
}
