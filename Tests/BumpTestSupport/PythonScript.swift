import Foundation
import Testing

/// A script of the repository's `Scripts/python` folder, run with `python3` (see
/// ``ChildProcess/python(_:)``).
public struct PythonScript: Sendable {
  /// The script's path.
  public let path: String

  /// The script `name` in `Scripts/python`.
  public init(_ name: String) {
    path = URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Scripts/python/\(name)").path
  }

  /// Runs the script with `arguments`, returning its exit status and its stdout and stderr
  /// together.
  public func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
    try ChildProcess.python([path] + arguments)
  }

  /// Fails the test, with the fix, unless `python3` can import safetensors and numpy, which
  /// `tests` (e.g. "the interop tests") need.
  public static func requireSafetensors(for tests: String) throws {
    let probe = try? ChildProcess.python(["-c", "import safetensors, numpy"])
    try #require(
      probe?.status == 0,
      """
      python3 cannot import safetensors and numpy, which \(tests) need. \
      Run Scripts/setup (it runs `pip install safetensors numpy`). \
      Output: \(probe?.output ?? "python3 could not be started")
      """)
  }
}
