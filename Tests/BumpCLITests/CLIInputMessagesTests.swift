import BumpKit
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Issue 14, end to end: `bump` reads its input by one set of rules and its messages say
/// what is wrong, with hints that are commands that work.
@Suite struct CLIInputMessagesTests {
  typealias Scratch = CLITrainTests.Scratch
  typealias Hostile = CLIHostileInputTests.Hostile

  @Test func functionInputWithANulByteOrAnOverlongLineIsAnErrorNamingTheLine() throws {
    let nul = try Hostile.run(["function", "--sigma", "1"], stdin: "0\n1\u{0}5\n2\n")
    #expect(nul.status == 1)
    #expect(
      nul.stderr == "Error: standard input: line 2: the text holds a NUL byte; the file looks binary, not text\n")
    #expect(nul.stdout.split(separator: "\n").count == 2, "the header and the row before")

    let long = try Hostile.run(
      ["function", "--sigma", "1"], stdin: "0\n" + String(repeating: "1", count: 1_100_000) + "\n")
    #expect(long.status == 1)
    #expect(
      long.stderr
        == "Error: standard input: line 2: the line is longer than 1024 KiB; expected one number per line\n")
  }

  @Test func stepsMinusZeroIsNotAPositiveCount() throws {
    let result = try Hostile.run(["function", "--sigma", "1", "--from", "0", "--to", "1", "--steps", "-0"])
    #expect(result.status == 64, "\(result.stderr)")
    #expect(
      result.stderr
        == "Error: The value '-0' is invalid for '--steps <count>': it is not a positive count (1 or more)\n")
  }

  /// The `--ignore` hint, pasted into a shell, trains: for a name with a comma and quotes and
  /// for one that starts with an invisible byte-order mark. (A column of text is now read as
  /// categories; the hint comes with a number column that has a few text cells.)
  @Test(arguments: ["a, \"b\"", "\u{FEFF}id"])
  func theIgnoreHintIsACommandThatWorks(column: String) throws {
    let scratch = try Scratch()
    let quotedName = "\"" + column.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    var text = "\(quotedName),x,y\n"
    for i in 0..<30 { text += "\(i % 7 == 3 ? "r\(i)" : String(i)),\(i),\(i % 5)\n" }
    try text.write(toFile: scratch.path("d.csv"), atomically: true, encoding: .utf8)
    let train = [
      "train", "--data", "d.csv", "--target", "y", "--task", "regression", "--epochs", "1", "--numeric-encoding", "plain",
    ]
    let refused = try Hostile.run(train + ["--output", "no"], in: scratch.url)
    #expect(refused.status == 1)
    let marker = "to skip it --ignore "
    let range = try #require(refused.stderr.range(of: marker), "\(refused.stderr)")
    let argument = String(refused.stderr[range.upperBound...].dropLast())  // the line break
    #expect(!refused.stderr.unicodeScalars.contains("\u{FEFF}"), "the name is escaped: \(refused.stderr)")
    let command = "exec \"$0\" " + train.joined(separator: " ") + " --output run --ignore " + argument
    let accepted = try Hostile.run(["/bin/bash", "-c", command, "BUMP"], in: scratch.url, shell: true)
    #expect(accepted.status == 0, "\(argument): \(accepted.stderr)")
    #expect(accepted.stdout.contains("1 feature →"), "\(accepted.stdout)")
  }

  @Test func oneBadCellIsToBeFixedNotIgnored() throws {
    var text = "x,y\n"
    for i in 0..<20 { text += "\(i == 7 ? "7,5" : "\(i)"),\(i)\n" }
    text = text.replacingOccurrences(of: "7,5,7", with: "\"7,5\",7")
    let result = try Hostile.run(["train", "--data", "-", "--target", "y", "--task", "regression"], stdin: text)
    #expect(result.status == 1)
    #expect(
      result.stderr
        == "Error: standard input: line 9, column \"x\": \"7,5\" is not a number; fix that cell or remove its row\n")
  }

  @Test func aFIFOAsDataIsReadAsAStream() throws {
    let scratch = try Scratch()
    #expect(mkfifo(scratch.path("d.fifo"), 0o600) == 0)
    var text = "a,y\n"
    for i in 0..<40 { text += "\(i),\(i % 3)\n" }
    try text.write(toFile: scratch.path("d.csv"), atomically: true, encoding: .utf8)
    let command =
      "cat d.csv > d.fifo & exec \"$0\" train --data d.fifo --target y --task regression --epochs 1 --output run"
    let result = try Hostile.run(["/bin/sh", "-c", command, "BUMP"], in: scratch.url, shell: true)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("32 training + 8 validation samples"), "\(result.stdout)")
  }

  @Test func aTabSeparatedFileIsCalledOne() throws {
    let result = try Hostile.run(
      ["train", "--data", "-", "--target", "y", "--task", "regression"], stdin: "a\tb\ty\n1\t2\t3\n")
    #expect(result.status == 1)
    #expect(result.stderr.contains("column \"y\": no such column in the header; available columns: \"a\\tb\\ty\""), "\(result.stderr)")
    #expect(result.stderr.contains("the file looks tab-separated"), "\(result.stderr)")
  }

  @Test func predictAndEvaluatePassOverAnIgnoredColumnThatIsAbsent() throws {
    let scratch = try Scratch()
    let run = scratch.path("run")
    #expect(try Hostile.run(["train", "--samples", "64", "--epochs", "1", "--output", run]).status == 0)
    let csv = scratch.path("d.csv")
    try "x0,x1,ring\n0.1,0.2,inner\n0.5,0.1,outer\n".write(toFile: csv, atomically: true, encoding: .utf8)
    for command in ["predict", "evaluate"] {
      let result = try Hostile.run([command, "--model", run + "/model.safetensors", "--data", csv, "--ignore", "id"])
      #expect(result.status == 0, "\(command): \(result.stderr)")
    }
    let strict = try Hostile.run(
      ["train", "--data", csv, "--target", "ring", "--task", "classification", "--ignore", "id"])
    #expect(strict.status == 1)
    #expect(strict.stderr.contains("column \"id\": no such column in the header"), "\(strict.stderr)")
  }

  @Test func checkpointsThatAreNotFilesAreCalledWhatTheyAre() throws {
    let scratch = try Scratch()
    let fifo = scratch.path("m.fifo")
    #expect(mkfifo(fifo, 0o600) == 0)
    #expect(FileManager.default.createFile(atPath: scratch.path("empty"), contents: Data()))
    for (path, reason) in [
      (fifo, "it is a FIFO (named pipe), not a regular file"),
      (scratch.path("empty"), "the file is empty (0 bytes)"),
      ("/proc/self/status", "the system gives its size as 0 bytes although it has content"),
    ] {
      for command in [["inspect", path], ["predict", "--model", path, "--data", "-"]] {
        let result = try Hostile.run(command, stdin: "a\n1\n")
        #expect(result.status == 1, "\(command)")
        #expect(result.stderr.hasPrefix("Error: \(path): not a usable bump model: \(reason)"), "\(result.stderr)")
        #expect(!result.stderr.contains("truncated"), "\(result.stderr)")
      }
    }
  }

  /// A file whose name occurs in the error's own text ("safetensors") is still named.
  @Test func theFileIsNamedEvenWhenItsNameIsInTheMessage() throws {
    let scratch = try Scratch()
    try Data([1, 2, 3]).write(to: URL(fileURLWithPath: scratch.path("safetensors")))
    let result = try Hostile.run(["inspect", "safetensors"], in: scratch.url)
    #expect(result.status == 1)
    #expect(result.stderr.hasPrefix("Error: safetensors: not a usable bump model: "), "\(result.stderr)")
    #expect(result.stderr.contains("3 bytes"), "\(result.stderr)")
  }
}
