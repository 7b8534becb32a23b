import ArgumentParser
@testable import BumpCLI
import BumpKit
import Foundation
import Testing
import BumpTestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// Issue 14, in process: `--ignore` lists and the hints that print them, `bump function`'s
/// input rules, `--steps`, and what a checkpoint path that is not a file is called.
@Suite struct InputReliabilityTests {
  // MARK: - --ignore

  @Test func ignoreListsReadQuotedNamesAsWritten() throws {
    #expect(try ColumnList.names(["id, name", "name", ",x,,"]) == ["id", "name", "x"])
    #expect(try ColumnList.names(["\"a, b\",id"]) == ["a, b", "id"])
    #expect(try ColumnList.names([" \" id\" , \"say \"\"hi\"\"\""]) == [" id", "say \"hi\""])
    #expect(try ColumnList.names(["\u{A0}x"]) == ["\u{A0}x"], "only spaces and tabs are trimmed")
    for bad in ["\"a, b", "\"a\"b,c"] {
      let error = try #require(throws: ValidationError.self) { _ = try ColumnList.names([bad]) }
      #expect(error.message.hasPrefix("--ignore "), "\(error.message)")
    }
  }

  /// Each hint's `--ignore` argument, read by a real shell and then as a list, is the column.
  @Test(arguments: ["id", "a, b", " id", "say \"hi\"", "it's", "\u{FEFF}y", "x\u{A0}", "tab\there"])
  func ignoreArgumentsNameTheColumnThroughAShell(column: String) throws {
    let argument = ColumnList.argument(for: column)
    #expect(!argument.contains("\n"))
    let word = try ChildProcess.run(URL(fileURLWithPath: "/bin/bash"), ["-c", "printf '%s' " + argument]).stdout
    #expect(try ColumnList.names([word]) == [column], "\(argument) → \(word)")
  }

  @Test func ignoreArgumentsAreBareWhenTheyCanBe() {
    #expect(ColumnList.argument(for: "id") == "id")
    #expect(ColumnList.argument(for: "a, b") == "'\"a, b\"'")
    #expect(ColumnList.argument(for: "it's") == "'it'\\''s'")
    #expect(ColumnList.argument(for: "\u{FEFF}y") == "$'\\xef\\xbb\\xbfy'")
  }

  // MARK: - Hints for bad cells

  @Test func hintsFitTheProblem() {
    let text = DataError.textColumn(path: "d.csv", line: 2, column: "a, b", text: "r0", textCells: 5, cells: 5)
    #expect(
      "\(PreparedData<Float>.advised(text, target: "y", task: .regression))"
        .hasSuffix("; if it is not a feature, skip it with --ignore '\"a, b\"'"))
    let cell = DataError.notANumber(path: "d.csv", line: 9, column: "x", text: "1.2.3")
    #expect(
      "\(PreparedData<Float>.advised(cell, target: "y", task: .regression))"
        == "d.csv: line 9, column \"x\": \"1.2.3\" is not a number; fix that cell or remove its row")
    let target = DataError.notANumber(path: "d.csv", line: 2, column: "y", text: "cat")
    #expect(
      "\(PreparedData<Float>.advised(target, target: "y", task: .regression))"
        .hasSuffix("for class labels use --task classification"))
    let other = DataError.emptyFile(path: "d.csv")
    #expect("\(PreparedData<Float>.advised(other, target: "y", task: .regression))" == "\(other)")
  }

  /// A negative value of an option that takes a number is that option's range error, not
  /// "Missing value" (the value read as another option).
  @Test func negativeNumbersAreTheirOptionsRangeErrors() throws {
    try expectOneLineTrainError(["--refits", "-1"], containing: "--refits must be at least 1, got -1")
    try expectOneLineTrainError(["--label-smoothing", "-0.1"], containing: "--label-smoothing must be in [0, 1), got -0.1")
    for command in ["predict", "evaluate"] {
      let error = try #require(throws: (any Error).self) {
        _ = try BumpCommand.parseAsRoot([command, "--model", "m.safetensors", "--data", "d.csv", "--coverage", "-1"])
      }
      let message = BumpCommand.oneLineMessage(for: error)
      #expect(message.contains("--coverage -1.0 must be greater than 0 and at most 1"), "\(message)")
    }
  }

  // MARK: - bump function

  @Test func stepsThatAreNotAPositiveCountSaySo() throws {
    for steps in ["-0", "-3", "0", "1.5"] {
      let error = try #require(throws: (any Error).self) {
        _ = try BumpCommand.parseAsRoot(["function", "--sigma", "1", "--from", "0", "--to", "1", "--steps", steps])
      }
      let message = BumpCommand.oneLineMessage(for: error)
      #expect(message.contains("--steps"), "\(message)")
      #expect(message.contains("not a positive count") || message.contains("must be at least 1"), "\(message)")
      #expect(!message.contains("Missing value"), "\(message)")
    }
  }

  @Test func functionInputFollowsTheCSVReadersTextRules() throws {
    let folder = try TemporaryFolder()
    let path = folder.path + "/x.txt"
    try Data(Array("0\n0.5\n1".utf8) + [0] + Array("5\n2\n".utf8)).write(to: URL(fileURLWithPath: path))
    var numbers = LineNumbers<Double>(reader: try LineReader(path: path))
    #expect(try numbers.next(limit: 10) == [0, 0.5], "the numbers before the bad line")
    let nul = try #require(throws: DataError.self) { _ = try numbers.next(limit: 10) }
    #expect(nul == .nulByte(path: path, line: 3, column: nil), "not 1, cut at the NUL")

    try ("1\n" + String(repeating: "9", count: 200) + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    var long = LineNumbers<Float>(reader: try LineReader(path: path, lineByteLimit: 100))
    #expect(try long.next(limit: 10) == [1])
    #expect(throws: DataError.lineTooLong(path: path, line: 2, limit: 100)) { _ = try long.next(limit: 10) }

    try Data([0x31, 0x0A, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: path))
    var latin = LineNumbers<Double>(reader: try LineReader(path: path))
    #expect(try latin.next(limit: 10) == [1])
    #expect(throws: DataError.invalidEncoding(path: path, line: 2)) { _ = try latin.next(limit: 10) }

    try "1\n\u{A0}2\n".write(toFile: path, atomically: true, encoding: .utf8)
    var nbsp = LineNumbers<Double>(reader: try LineReader(path: path))
    #expect(try nbsp.next(limit: 10) == [1])
    let error = try #require(throws: InputLineError.self) { _ = try nbsp.next(limit: 10) }
    #expect(error.description == "\(path): line 2: not a number: \"\\u{a0}2\"")
  }

  // MARK: - Checkpoint paths that are not files

  @Test func checkpointPathsThatAreNotFilesSayWhatTheyAre() throws {
    let folder = try TemporaryFolder()
    let fifo = folder.path + "/m.fifo"
    #expect(mkfifo(fifo, 0o600) == 0)
    #expect(ModelFile.notAFile(fifo)?.hasPrefix("it is a FIFO (named pipe)") == true)
    let empty = folder.path + "/empty.safetensors"
    #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
    #expect(ModelFile.notAFile(empty) == "the file is empty (0 bytes)")
    #expect(ModelFile.notAFile("/proc/self/status")?.contains("/proc") == true)
    #expect(ModelFile.notAFile("/dev/urandom") == "it is a character device, not a regular file")
    let run = folder.path + "/run"
    try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
    #expect(ModelFile.notAFile(run) == "it is a directory, not a checkpoint file")
    #expect(FileManager.default.createFile(atPath: run + "/model.safetensors", contents: Data([1])))
    #expect(ModelFile.notAFile(run) == "it is a directory; the checkpoint in it is \(run)/model.safetensors")
    #expect(ModelFile.notAFile(run + "/model.safetensors") == nil)
    #expect(ModelFile.notAFile(folder.path + "/missing") == nil, "left to the reader")
  }
}
