/// A layer that checkpoints can store and rebuild: a kind name and `Codable` settings from
/// which the layer is built again.
///
/// Every built-in layer is one, and so is any layer of your own that models should save:
/// conform it and register its type with ``LayerRegistry/register(_:)`` (once per element
/// type you use, before saving or loading; BumpKit registers its own layers).
/// ``Checkpoint`` then writes its ``configuration`` (as JSON) and parameters and rebuilds it
/// on load. Its parameters' names must be unique within the layer (they name the tensors).
///
///     final class Scale<Element: MatrixScalar>: CheckpointableLayer {
///       static var kind: String { "scale" }
///       struct Settings: Codable { var units: Int }
///       …
///     }
///
/// A generic layer cannot have a stored static property, so ``kind`` is a computed one.
public protocol CheckpointableLayer: Layer {
  /// What the layer needs to be built again, e.g. its width.
  associatedtype Settings: Codable

  /// The kind name the configuration carries, e.g. "scale": unique among the registered
  /// layer types of one element type, and not "sequential".
  static var kind: String { get }

  /// This layer's settings.
  var settings: Settings { get }

  /// The layer that `settings` describe, with freshly made parameters: a checkpoint assigns
  /// the stored values afterwards, after checking their shapes.
  ///
  /// - Throws: any error, for settings the layer cannot be built from.
  init(settings: Settings) throws

  /// The input and output widths of a layer built from `settings` and its parameters' names
  /// and shapes, which a checkpoint compares with its tensors before building any layer; nil
  /// (the default) leaves the check to the built layer, whose parameters are then compared.
  ///
  /// - Throws: any error, for settings the layer cannot be built from.
  static func declaredShapes(for settings: Settings) throws -> DeclaredShapes?
}

/// The widths and parameter shapes that a layer's settings declare (see
/// ``CheckpointableLayer/declaredShapes(for:)``).
public struct DeclaredShapes: Sendable {
  /// The number of input features the layer takes; nil when it takes any number.
  public var inputSize: Int?
  /// The number of output features; nil when it gives as many as it takes.
  public var outputSize: Int?
  /// Each parameter's name and `[rows, columns]`, in the layer's order.
  public var parameters: [(name: String, shape: [Int])]
  /// The names the settings give the widths, for messages.
  var inputName = "input size", outputName = "output size"
  /// Tensors that files written by older versions hold besides the parameters, all zeros, with
  /// their shapes: read and dropped at the top level of a model.
  var legacyZeroTensors: [(name: String, shape: [Int])] = []

  /// Shapes from their parts.
  public init(inputSize: Int?, outputSize: Int?, parameters: [(name: String, shape: [Int])]) {
    self.inputSize = inputSize
    self.outputSize = outputSize
    self.parameters = parameters
  }
}

extension CheckpointableLayer {
  /// No declared shapes: the built layer's parameters are checked.
  public static func declaredShapes(for settings: Settings) throws -> DeclaredShapes? { nil }

  /// ``CheckpointableLayer/kind`` with ``CheckpointableLayer/settings`` as JSON; settings
  /// that do not encode (a non-finite number, say) show as empty here, and ``Checkpoint``
  /// refuses to save them with the encoder's error.
  public var configuration: LayerConfiguration {
    (try? checkedConfiguration()) ?? LayerConfiguration(kind: Self.kind)
  }

  /// ``configuration``, or the settings encoder's error.
  func checkedConfiguration() throws -> LayerConfiguration {
    try LayerConfiguration(kind: Self.kind, settings: settings)
  }

  static func make(from configuration: LayerConfiguration) throws -> Self {
    try Self(settings: configuration.settings(as: Settings.self))
  }

  static func declaredShapes(from configuration: LayerConfiguration) throws -> DeclaredShapes? {
    try declaredShapes(for: configuration.settings(as: Settings.self))
  }

  /// `configuration` with its settings checked and written as this type writes them.
  static func normalized(_ configuration: LayerConfiguration) throws -> LayerConfiguration {
    try LayerConfiguration(kind: kind, settings: configuration.settings(as: Settings.self))
  }
}

extension Layer {
  /// The configuration a checkpoint stores for this layer: a ``CheckpointableLayer``'s own,
  /// a nested ``Sequential``'s layers; nil for a layer that checkpoints cannot store.
  var checkpointConfiguration: LayerConfiguration? {
    if let layer = self as? any CheckpointableLayer { return layer.configuration }
    if let model = self as? Sequential<Element> { return model.configuration }
    return nil
  }

  /// The layer's kind for messages: its checkpoint kind, or its type's name.
  var kindName: String { checkpointConfiguration?.kind ?? "\(Self.self)" }
}
