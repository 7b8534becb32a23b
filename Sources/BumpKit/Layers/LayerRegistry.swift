import Synchronization

/// The layer types that checkpoints can rebuild, by kind and element type.
///
/// BumpKit registers its own layers; register a ``CheckpointableLayer`` of your own with
/// ``register(_:)``. Loading a checkpoint builds each layer through the type registered for
/// its kind; a kind that no type is registered for is an error naming it and the known kinds.
public enum LayerRegistry {
  /// BumpKit's own layer types, for both element types: a new built-in layer adds one line.
  private static var builtIn: [any CheckpointableLayer.Type] {
    [
    Dense<Float>.self, Dense<Double>.self,
    Bump<Float>.self, Bump<Double>.self,
    RadialBump<Float>.self, RadialBump<Double>.self,
    Gaussian<Float>.self, Gaussian<Double>.self,
    ReLU<Float>.self, ReLU<Double>.self,
    Tanh<Float>.self, Tanh<Double>.self,
    Sigmoid<Float>.self, Sigmoid<Double>.self,
    ]
  }

  /// The kinds of BumpKit's own layers, each layer type's ``CheckpointableLayer/kind``
  /// (today "bump", "dense", "gaussian", "radialBump", "relu", "sigmoid" and "tanh").
  public static let builtInKinds: Set<String> = Set(builtIn.map { $0.kind })

  private struct Key: Hashable {
    let kind: String
    let element: ObjectIdentifier

    init<L: CheckpointableLayer>(_: L.Type) {
      kind = L.kind
      element = ObjectIdentifier(L.Element.self)
    }

    init(kind: String, element: ObjectIdentifier) {
      self.kind = kind
      self.element = element
    }
  }

  /// A registered type. Metatypes hold no state, so sharing them across threads is safe
  /// although the type system does not see it for non-Sendable layer types.
  private struct Entry: @unchecked Sendable {
    let type: any CheckpointableLayer.Type
  }

  private static let types = Mutex<[Key: Entry]>(
    Dictionary(uniqueKeysWithValues: builtIn.map { (Key($0), Entry(type: $0)) }))

  /// Lets checkpoints store and rebuild layers of type `type` (for its element type). Calling
  /// it again for the same type does nothing.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` when the kind is empty,
  ///   "sequential", a built-in kind, or registered already for another type of the same
  ///   element type.
  public static func register<L: CheckpointableLayer>(_ type: L.Type) throws {
    let kind = L.kind
    let isBuiltInType = builtIn.contains { $0 == type }
    guard isBuiltInType || (!kind.isEmpty && kind != LayerConfiguration.sequentialKind && !builtInKinds.contains(kind)) else {
      throw BumpKitError.invalidArgument(
        name: "layer kind", value: "\"\(kind)\"",
        reason: "\(L.self) needs a kind of its own: empty, \"sequential\" and built-in kinds (\(builtInKinds.sorted().joined(separator: ", "))) are taken")
    }
    let key = Key(type)
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
    registeredType(kind: kind, Element.self) != nil
  }

  /// The type registered for `kind` and `Element`.
  static func registeredType<Element: MatrixScalar>(kind: String, _: Element.Type) -> (any CheckpointableLayer.Type)? {
    types.withLock { $0[Key(kind: kind, element: ObjectIdentifier(Element.self))]?.type }
  }

  /// A type registered for `kind`, for Float if there is one, else for Double: what reading a
  /// configuration, which has no element type yet, checks its settings with.
  static func anyType(kind: String) -> (any CheckpointableLayer.Type)? {
    registeredType(kind: kind, Float.self) ?? registeredType(kind: kind, Double.self)
  }

  /// The kinds a configuration of element type `Element` can have: the registered ones and
  /// "sequential", sorted.
  static func knownKinds<Element: MatrixScalar>(_: Element.Type) -> [String] {
    let element = ObjectIdentifier(Element.self)
    let registered = types.withLock { $0.keys.filter { $0.element == element }.map(\.kind) }
    return (registered + [LayerConfiguration.sequentialKind]).sorted()
  }

  /// The error for a configuration of a kind that no type is registered for.
  static func unknownKind<Element: MatrixScalar>(_ kind: String, _: Element.Type) -> BumpKitError {
    .invalidArgument(
      name: "layer kind", value: "\"\(kind)\"",
      reason: "unknown for \(Element.self) layers; known kinds: \(knownKinds(Element.self).joined(separator: ", ")) (register a layer of your own with LayerRegistry.register(_:))")
  }
}
