import ArgumentParser
@testable import BumpCLI
import Testing

/// Expects `bump train` with `arguments` to be refused while parsing, with a one-line
/// message (`Error: …`, no line break) that contains `expected`.
func expectOneLineTrainError(_ arguments: [String], containing expected: String) throws {
  let error = try #require(throws: (any Error).self) {
    _ = try BumpCommand.parseAsRoot(["train"] + arguments)
  }
  let message = BumpCommand.oneLineMessage(for: error)
  #expect(message.hasPrefix("Error: ") && !message.contains("\n"), "\(message)")
  #expect(message.contains(expected), "\(message)")
}
