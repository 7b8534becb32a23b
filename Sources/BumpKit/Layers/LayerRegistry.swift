import Synchronization

/// A layer that checkpoints can store and rebuild: a kind name and a `Codable`
/// configuration from which the layer is built again.
///
/// Conform a layer of your own to it and register its type with ``LayerRegistry`` (once per
/// element type you use, before saving or loading); ``Checkpoint`` then writes its
/// configuration (as JSON) and parameters like those of the built-in layers and rebuilds it
/// on load. Its parameters' names must be unique within the layer (they name the tensors).
/// The protocol provides ``Layer/configuration`` as ``LayerConfiguration/custom(_:)``.
public protocol CheckpointableLayer: Layer {
  /// What the layer needs to be built again, e.g. its width.
  associatedtype Settings: Codable

  /// The kind name the configuration carries, e.g. "scale". It must not be one of
  /// ``LayerRegistry/builtInKinds``.
  static var kind: String { get }

  /// This layer's settings.
  var settings: Settings { get }

  /// The layer that `settings` describe, with freshly initialized parameters: a checkpoint
  /// assigns the stored values afterwards, after checking their shapes.
  ///
  /// - Throws: any error, for settings the layer cannot be built from.
  init(settings: Settings) throws
}

extension CheckpointableLayer {
  /// ``LayerConfiguration/custom(_:)`` with ``kind`` and ``settings``; settings that do not
  /// encode (a non-finite number, say) show as empty here, and ``Checkpoint`` refuses to save
  /// them with the encoder's error.
  public var configuration: LayerConfiguration {
    .custom((try? customConfiguration()) ?? CustomLayerConfiguration(kind: Self.kind, settings: .object([:])))
  }

  func customConfiguration() throws -> CustomLayerConfiguration {
    try CustomLayerConfiguration(kind: Self.kind, settings: settings)
  }

  static func make(from configuration: CustomLayerConfiguration) throws -> Self {
    try Self(settings: configuration.decode(Settings.self))
  }
}

/// The layer kinds that checkpoints can rebuild besides the built-in ones.
public enum LayerRegistry {
  /// The kinds BumpKit itself rebuilds: "dense", "bump", "radialBump", "relu", "tanh",
  /// "sigmoid", "gaussian".
  public static let builtInKinds: Set<String> = ["dense", "bump", "radialBump", "relu", "tanh", "sigmoid", "gaussian"]

  private struct Key: Hashable {
    let kind: String
    let element: ObjectIdentifier
  }

  /// A registered type. Metatypes hold no state, so sharing them across threads is safe
  /// although the type system does not see it for non-Sendable layer types.
  private struct Entry: @unchecked Sendable {
    let type: any CheckpointableLayer.Type
  }

  private static let types = Mutex<[Key: Entry]>([:])

  /// Lets checkpoints store and rebuild layers of type `type` (for its element type). Calling
  /// it again for the same type does nothing.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` when the kind is empty,
  ///   a built-in kind, or registered already for another type of the same element type.
  public static func register<L: CheckpointableLayer>(_ type: L.Type) throws {
    let kind = L.kind
    guard !kind.isEmpty, !builtInKinds.contains(kind) else {
      throw BumpKitError.invalidArgument(
        name: "layer kind", value: "\"\(kind)\"",
        reason: "\(L.self) needs a kind of its own: empty and built-in kinds (\(builtInKinds.sorted().joined(separator: ", "))) are taken")
    }
    let key = Key(kind: kind, element: ObjectIdentifier(L.Element.self))
    try types.withLock { types in
      if let existing = types[key]?.type, existing != type {
        throw BumpKitError.invalidArgument(
          name: "layer kind", value: "\"\(kind)\"", reason: "registered already for \(existing)")
      }
      types[key] = Entry(type: type)
    }
  }

  /// Whether checkpoints of element type `Element` can rebuild layers of kind `kind`.
  public static func canRebuild<Element: MatrixScalar>(kind: String, _: Element.Type = Element.self) -> Bool {
    builtInKinds.contains(kind) || registeredType(kind: kind, Element.self) != nil
  }

  /// Whether `layer` is one of BumpKit's own layer types, which the built-in kinds rebuild.
  static func isBuiltIn<Element: MatrixScalar>(_ layer: any Layer<Element>) -> Bool {
    layer is Dense<Element> || layer is Bump<Element> || layer is RadialBump<Element> || layer is ReLU<Element>
      || layer is Tanh<Element>
      || layer is Sigmoid<Element> || layer is Gaussian<Element>
  }

  static func registeredType<Element: MatrixScalar>(kind: String, _: Element.Type) -> (any CheckpointableLayer.Type)? {
    types.withLock { $0[Key(kind: kind, element: ObjectIdentifier(Element.self))]?.type }
  }

  /// A registered layer rebuilt from `configuration`, or nil when its kind is not registered.
  static func makeRegistered<Element: MatrixScalar>(_ configuration: CustomLayerConfiguration, _: Element.Type) throws -> (any Layer<Element>)? {
    guard let type = registeredType(kind: configuration.kind, Element.self) else { return nil }
    let layer = try type.make(from: configuration)
    guard let typed = layer as? any Layer<Element> else { return nil }
    return typed
  }
}
