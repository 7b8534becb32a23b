import Foundation

/// What a checkpoint stores to rebuild a layer: its kind and its settings.
///
/// Every layer that checkpoints store is a ``CheckpointableLayer``, built in or of an app's
/// own, and reports its ``CheckpointableLayer/configuration``: its
/// ``CheckpointableLayer/kind`` and its `Codable` ``CheckpointableLayer/Settings`` as JSON.
/// A checkpoint's `architecture` metadata stores each layer as
/// `{"kind": …, "settings": {…}}`; the built-in layers' settings are written as strings (as
/// every version of the format did), and both strings and JSON numbers and booleans are read.
///
/// The one kind that is not a layer type of its own is `sequential`, a ``Sequential`` model
/// nested in another (see ``sequential(_:)``).
public struct LayerConfiguration: Codable, Equatable, Sendable, CustomStringConvertible {
  /// The kind name a checkpoint stores: a layer type's ``CheckpointableLayer/kind``, or
  /// "sequential" for a nested model.
  public let kind: String
  let content: Content

  /// The settings of a layer, or the layers of a nested model.
  indirect enum Content: Equatable, Sendable {
    case settings(JSONTree)
    case layers([LayerConfiguration])
  }

  init(kind: String, content: Content) {
    self.kind = kind
    self.content = content
  }

  /// The configuration of a layer of `kind` with no settings (an activation, say).
  public init(kind: String) { self.init(kind: kind, content: .settings(.object([:]))) }

  /// The configuration of a layer of `kind` with `settings` encoded as JSON.
  ///
  /// - Throws: the encoder's error, e.g. for a non-finite number.
  public init<Settings: Encodable>(kind: String, settings: Settings) throws {
    let data = try JSONEncoder.sorted.encode(settings)
    self.init(kind: kind, content: .settings(try JSONDecoder().decode(JSONTree.self, from: data)))
  }

  /// A ``Sequential`` model nested in another, made of `layers`. ``Checkpoint/save(_:to:metadata:)``
  /// writes flat models only; a file that nests one loads, checked at every depth (its
  /// parameters' tensors are named after the outer layer's index), up to
  /// ``Checkpoint/maximumNestingDepth`` levels deep.
  public static func sequential(_ layers: [LayerConfiguration]) -> LayerConfiguration {
    LayerConfiguration(kind: "sequential", content: .layers(layers))
  }

  /// The layers of a nested ``Sequential`` model (kind "sequential"), nil for a layer.
  public var layers: [LayerConfiguration]? {
    if case .layers(let layers) = content { return layers }
    return nil
  }

  /// The settings decoded as `type`, the ``CheckpointableLayer/Settings`` of the layer type
  /// of this kind.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` naming the kind when the
  ///   settings do not decode as `type` (or this is a nested model); the settings type's own
  ///   ``BumpKitError`` for a value it refuses.
  public func settings<Settings: Decodable>(as type: Settings.Type) throws -> Settings {
    guard case .settings(let tree) = content else {
      throw BumpKitError.invalidArgument(
        name: "\(kind) settings", value: "\(layers?.count ?? 0) layers", reason: "a nested model has layers, not settings")
    }
    do {
      return try JSONDecoder().decode(Settings.self, from: JSONEncoder.sorted.encode(tree))
    } catch let error as BumpKitError {
      throw error
    } catch {
      throw BumpKitError.invalidArgument(
        name: "\(kind) settings", value: tree.text, reason: "do not decode as \(Settings.self): \(error)")
    }
  }

  /// "kind(key: value, …)" with keys sorted, e.g. `dense(inputSize: 2, outputSize: 32, useBias: true)`.
  public var summary: String {
    let settings = settingsText
    return settings.isEmpty ? kind : "\(kind)(" + settings.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + ")"
  }

  /// The same as ``summary``.
  public var description: String { summary }

  /// The settings as text, sorted by key: a nested model shows its number of layers.
  var settingsText: [(key: String, value: String)] {
    switch content {
    case .layers(let layers): return [("layers", String(layers.count))]
    case .settings(let tree):
      guard case .object(let members) = tree else { return [] }
      return members.mapValues(\.text).sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
    }
  }

  private enum CodingKeys: String, CodingKey { case kind, settings }

  /// Writes `{"kind": …, "settings": …}`: the layer's settings, or a nested model's layers.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(kind, forKey: .kind)
    switch content {
    case .settings(let tree): try container.encode(tree, forKey: .settings)
    case .layers(let layers): try container.encode(layers, forKey: .settings)
    }
  }

  /// Decodes a configuration. The settings of a kind that ``LayerRegistry`` knows (every
  /// built-in kind, and kinds registered for either element type) are checked and stored as
  /// that layer type writes them, so a configuration read from a file equals the one its
  /// layer reports; an unknown kind is kept as read, and fails when a layer is built from it.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let kind = try container.decode(String.self, forKey: .kind)
    // A checkpoint's reader bounds the layer count and nesting depth as it decodes.
    let limit = decoder.userInfo[LayerCountLimit.key] as? LayerCountLimit
    try limit?.countLayer()
    if kind == LayerConfiguration.sequentialKind {
      let decode = { try container.decode([LayerConfiguration].self, forKey: .settings) }
      self = .sequential(try limit.map { try $0.nested(decode) } ?? decode())
      return
    }
    let read = LayerConfiguration(
      kind: kind, content: .settings(try container.decodeIfPresent(JSONTree.self, forKey: .settings) ?? .object([:])))
    self = try LayerRegistry.anyType(kind: kind)?.normalized(read) ?? read
  }

  /// The kind of a nested ``Sequential`` model, which no layer type may take.
  static let sequentialKind = "sequential"

  /// Rebuilds the layer this configuration describes, with freshly made parameters (a
  /// checkpoint then assigns the stored values), through the layer type that ``LayerRegistry``
  /// holds for its kind and `Element`.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for a kind that no layer
  ///   type is registered for with `Element`, naming the kind and the known kinds; the
  ///   layer's error for settings it rejects.
  public func makeLayer<Element: MatrixScalar>(_: Element.Type = Element.self) throws -> any Layer<Element> {
    if let layers {
      return try Sequential<Element>(layers: layers.map { try $0.makeLayer(Element.self) })
    }
    guard let type = LayerRegistry.registeredType(kind: kind, Element.self) else {
      throw LayerRegistry.unknownKind(kind, Element.self)
    }
    guard let layer = try type.make(from: self) as? any Layer<Element> else {
      throw LayerRegistry.unknownKind(kind, Element.self)
    }
    return layer
  }
}

/// The settings of a layer that takes none: the activations'.
public struct NoSettings: Codable, Equatable, Sendable {
  /// No settings.
  public init() {}
}

/// Reads and writes the settings of a built-in layer as a checkpoint stores them: an object
/// of strings, whose values may also be JSON numbers and booleans when read (files written by
/// other tools). Errors name the setting as `kind.key`.
struct StoredSettings {
  let kind: String
  private let values: [String: JSONTree]

  /// The stored settings of a `kind` layer, from `decoder`.
  init(kind: String, from decoder: any Decoder) throws {
    self.kind = kind
    let tree = try decoder.singleValueContainer().decode(JSONTree.self)
    guard case .object(let values) = tree else {
      throw BumpKitError.invalidArgument(name: "\(kind) settings", value: tree.text, reason: "the settings of a \(kind) layer are not an object")
    }
    self.values = values
  }

  /// Writes `pairs` as an object of strings.
  static func encode(_ pairs: [String: String], to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(pairs)
  }

  func fail(_ key: String, _ reason: String) -> BumpKitError {
    .invalidArgument(name: "\(kind).\(key)", value: values[key]?.text ?? "missing", reason: reason)
  }

  /// A positive integer.
  func int(_ key: String) throws -> Int {
    guard let v = values[key]?.integer, v > 0 else { throw fail(key, "must be a positive integer") }
    return v
  }

  /// `true` or `false`, `fallback` when missing.
  func bool(_ key: String, default fallback: Bool) throws -> Bool {
    guard let value = values[key] else { return fallback }
    guard let v = value.boolean else { throw fail(key, "must be true or false") }
    return v
  }

  /// A finite number > 0, `fallback` when missing (files written before the setting was).
  func number(_ key: String, default fallback: Double) throws -> Double {
    guard let value = values[key] else { return fallback }
    guard let v = value.number, v.isFinite, v > 0 else { throw fail(key, "must be a finite number > 0") }
    return v
  }

  /// A string, or nil when missing or not a string.
  func string(_ key: String) -> String? { values[key]?.string }
}
