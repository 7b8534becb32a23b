import BumpKit
import Foundation
import Testing
import BumpTestSupport

/// The readers' memory limit counts what they allocate — arrays grow by doubling — and is
/// checked before an allocation, so a limit holds for the memory the process really takes.
@Suite struct CSVMemoryLimitTests {
  typealias Scratch = CLITrainTests.Scratch

  /// 1,000 rows × 10 Float features: 40,000 bytes of values, but the array that holds them
  /// reaches 65,536 bytes of capacity on its way there.
  static func file(in scratch: Scratch) throws -> String {
    var text = (0..<10).map { "x\($0)" }.joined(separator: ",") + ",y\n"
    for i in 0..<1000 { text += (0..<11).map { "\(($0 + i) % 7)" }.joined(separator: ",") + "\n" }
    let path = scratch.path("d.csv")
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test func aLimitAboveTheValuesButBelowTheAllocationIsRefused() throws {
    let scratch = try Scratch()
    let path = try Self.file(in: scratch)
    let features = (0..<10).map { "x\($0)" }
    let error = try #require(throws: DataError.self) {
      _ = try Dataset<Float>.loadCSVFeatures(path: path, expectedFeatures: features, byteLimit: 50_000)
    }
    guard case .memoryLimitExceeded(_, _, let rows, _, let bytes, let limit) = error else {
      Issue.record("\(error)")
      return
    }
    #expect(limit == 50_000 && bytes > limit && rows < 1000, "\(error)")
    #expect(throws: DataError.self) {
      _ = try Dataset<Float>.loadCSV(path: path, target: "y", byteLimit: 50_000)
    }
    // With room for the doubled arrays both read the file.
    #expect(try Dataset<Float>.loadCSVFeatures(path: path, expectedFeatures: features, byteLimit: 140_000).x.rows == 1000)
    #expect(try Dataset<Float>.loadCSV(path: path, target: "y", byteLimit: 140_000).x.rows == 1000)
  }
}
