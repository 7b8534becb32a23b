import Foundation

/// A folder of its own under the system's temporary directory, removed with everything in it
/// when the value is released (or by ``remove()``).
public final class TemporaryFolder: @unchecked Sendable {
  /// The folder.
  public let url: URL

  /// The folder's path.
  public var path: String { url.path }

  /// Creates an empty folder whose name starts with `prefix`.
  public init(prefix: String = "bumpkit-test") throws {
    url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }

  deinit { remove() }

  /// The path of `name` inside the folder.
  public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

  /// Everything in the folder, hidden entries (a `.partial` folder) included, sorted.
  public func entries() throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
  }

  /// Removes the folder and everything in it now.
  public func remove() { try? FileManager.default.removeItem(at: url) }
}
