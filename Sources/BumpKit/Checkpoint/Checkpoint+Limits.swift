import Foundation

extension Checkpoint {
  /// The most layers a checkpoint's architecture may hold, counting every layer inside
  /// nested `sequential` layers (and those layers themselves): 10 000.
  ///
  /// Readers refuse a longer architecture while decoding it, so that a small header cannot
  /// cost seconds and gigabytes; ``save(_:to:metadata:)`` refuses to write one.
  public static let maximumLayerCount = 10_000

  /// The deepest nesting of `sequential` layers inside a checkpoint's model: 8 (a model whose
  /// layers include no `sequential` layer has depth 0). Enforced when reading and writing, as
  /// ``maximumLayerCount`` is.
  public static let maximumNestingDepth = 8

  /// The longest `architecture` metadata entry a checkpoint may hold: 10 MiB of JSON, about
  /// 1 KiB for each of ``maximumLayerCount`` layers (a built-in layer takes 15 to 150 bytes).
  ///
  /// Readers refuse a longer entry before decoding it, so that decoding costs a bounded
  /// amount of memory; ``save(_:to:metadata:)`` refuses to write one.
  public static let maximumArchitectureLength = 10 << 20

  /// Refuses to save an architecture whose JSON, `json`, is longer than
  /// ``maximumArchitectureLength``.
  static func checkSaveLength(_ json: Data) throws {
    guard json.count > maximumArchitectureLength else { return }
    throw CheckpointError.tooLargeToSave(
      what: "the model's architecture would be \(json.count) bytes of JSON",
      limit: "the \(maximumArchitectureLength) bytes a checkpoint may hold (Checkpoint.maximumArchitectureLength)")
  }

  /// Refuses to save an architecture that ``maximumLayerCount`` or ``maximumNestingDepth``
  /// would make unreadable.
  static func checkSaveLimits(_ architecture: Architecture) throws {
    var count = 0
    var deepest = 0
    func visit(_ layers: [LayerConfiguration], depth: Int) {
      deepest = max(deepest, depth)
      for layer in layers {
        count += 1
        if let inner = layer.layers { visit(inner, depth: depth + 1) }
      }
    }
    visit(architecture.layers, depth: 0)
    if count > maximumLayerCount {
      throw CheckpointError.tooLargeToSave(
        what: "the model has \(count) layers (counting those inside nested Sequential layers)",
        limit: "the \(maximumLayerCount) a checkpoint may hold (Checkpoint.maximumLayerCount)")
    }
    if deepest > maximumNestingDepth {
      throw CheckpointError.tooLargeToSave(
        what: "the model nests Sequential layers \(deepest) deep",
        limit: "the \(maximumNestingDepth) levels a checkpoint may hold (Checkpoint.maximumNestingDepth)")
    }
  }

  /// Refuses a file whose header readers would refuse as too large, naming the largest
  /// metadata entry (feature or class names, say), which is what makes a header large.
  static func checkHeaderSize(of file: SafetensorsFile) throws {
    let length = file.encodedHeader().count
    guard length > SafetensorsFile.maximumHeaderLength else { return }
    var what = "the checkpoint's header would be \(length) bytes"
    if let largest = file.metadata.max(by: { $0.value.utf8.count < $1.value.utf8.count }) {
      what += " (its largest metadata entry, \"\(largest.key)\", has \(largest.value.utf8.count) bytes)"
    }
    throw CheckpointError.tooLargeToSave(
      what: what,
      limit: "the \(SafetensorsFile.maximumHeaderLength) bytes that readers accept (SafetensorsFile.maximumHeaderLength)")
  }
}

/// The layer budget of one architecture being decoded: ``LayerConfiguration``'s decoder
/// counts every layer and each level of `sequential` nesting against it, and stops with a
/// ``CheckpointError/notACheckpoint(source:reason:)`` at the first layer past a limit.
///
/// Decoding happens on one thread; the counts are mutated by that thread only.
final class LayerCountLimit: @unchecked Sendable {
  /// The decoder's `userInfo` key under which the budget is found.
  static let key = CodingUserInfoKey(rawValue: "BumpKit.LayerCountLimit")!

  let layers: Int
  let depth: Int
  let source: String
  private var counted = 0
  private var level = 0

  init(layers: Int, depth: Int, source: String) {
    self.layers = layers
    self.depth = depth
    self.source = source
  }

  /// Counts one more layer.
  func countLayer() throws {
    counted += 1
    guard counted <= layers else {
      throw CheckpointError.notACheckpoint(
        source: source,
        reason: "the architecture has more than \(layers) layers (counting those inside nested sequential layers), the most a checkpoint may hold")
    }
  }

  /// Runs `body`, which decodes the layers of a `sequential` layer, one level deeper.
  func nested<T>(_ body: () throws -> T) throws -> T {
    level += 1
    defer { level -= 1 }
    guard level <= depth else {
      throw CheckpointError.notACheckpoint(
        source: source,
        reason: "the architecture nests sequential layers more than \(depth) deep, the most a checkpoint may hold")
    }
    return try body()
  }
}
