import Foundation

/// What a checkpoint stores to rebuild a layer: its kind and its typed settings.
///
/// Each built-in layer has a case with a `Codable` configuration of its own; a layer of an
/// app's own (a ``CheckpointableLayer``) is ``custom(_:)``. A checkpoint's `architecture`
/// metadata stores each layer as `{"kind": …, "settings": {…}}`; the built-in settings are
/// written as strings (as every version of the format did), and both strings and JSON numbers
/// and booleans are read.
public enum LayerConfiguration: Codable, Equatable, Sendable, CustomStringConvertible {
  /// A ``Dense`` layer.
  case dense(DenseConfiguration)
  /// A ``Bump`` layer.
  case bump(BumpConfiguration)
  /// A ``RadialBump`` layer.
  case radialBump(RadialBumpConfiguration)
  /// A ``Gaussian`` layer.
  case gaussian(GaussianConfiguration)
  /// A ``ReLU`` activation.
  case relu
  /// A ``Tanh`` activation.
  case tanh
  /// A ``Sigmoid`` activation.
  case sigmoid
  /// A ``Sequential`` model of these layers. ``Checkpoint/save(_:to:metadata:)`` writes flat
  /// models only; a file that nests one loads, checked at every depth (its parameters'
  /// tensors are named after the outer layer's index), up to
  /// ``Checkpoint/maximumNestingDepth`` levels deep.
  indirect case sequential([LayerConfiguration])
  /// A layer of an app's own.
  case custom(CustomLayerConfiguration)

  /// The kind name a checkpoint stores: "dense", "bump", "radialBump", "gaussian", "relu",
  /// "tanh", "sigmoid", "sequential" or a custom layer's ``CheckpointableLayer/kind``.
  public var kind: String {
    switch self {
    case .dense: "dense"
    case .bump: "bump"
    case .radialBump: "radialBump"
    case .gaussian: "gaussian"
    case .relu: "relu"
    case .tanh: "tanh"
    case .sigmoid: "sigmoid"
    case .sequential: "sequential"
    case .custom(let c): c.kind
    }
  }

  /// "kind(key: value, …)" with keys sorted, e.g. `dense(inputSize: 2, outputSize: 32, useBias: true)`.
  public var summary: String {
    let settings = settingsText
    return settings.isEmpty ? kind : "\(kind)(" + settings.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + ")"
  }

  /// The same as ``summary``.
  public var description: String { summary }

  /// The settings as the strings a checkpoint stores, sorted by key.
  var settingsText: [(key: String, value: String)] {
    let pairs: [String: String]
    switch self {
    case .dense(let c):
      pairs = ["inputSize": String(c.inputSize), "outputSize": String(c.outputSize), "useBias": String(c.useBias)]
    case .bump(let c):
      pairs = [
        "units": String(c.units), "sigma": c.sigma.description, "center": c.center.description,
        "amplitude": c.amplitude.description, "sigmaFloor": "\(c.sigmaFloor)",
      ]
    case .radialBump(let c):
      func text(_ trainable: Bool) -> String { trainable ? "trainable" : "fixed" }
      pairs = [
        "inputSize": String(c.inputSize), "units": String(c.units), "center": text(c.trainableCenter),
        "sigma": text(c.trainableSigma), "amplitude": text(c.trainableAmplitude), "sigmaFloor": "\(c.sigmaFloor)",
      ]
    case .gaussian(let c): pairs = ["widthFloor": "\(c.widthFloor)"]
    case .relu, .tanh, .sigmoid: pairs = [:]
    case .sequential(let layers): pairs = ["layers": String(layers.count)]
    case .custom(let c):
      guard case .object(let members) = c.settings else { return [] }
      pairs = members.mapValues(\.text)
    }
    return pairs.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
  }

  private enum CodingKeys: String, CodingKey { case kind, settings }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(kind, forKey: .kind)
    switch self {
    case .custom(let c):
      try container.encode(c.settings, forKey: .settings)
    case .sequential(let layers):
      try container.encode(layers, forKey: .settings)
    default:
      let text = Dictionary(uniqueKeysWithValues: settingsText.map { ($0.key, $0.value) })
      try container.encode(text, forKey: .settings)
    }
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let kind = try container.decode(String.self, forKey: .kind)
    // A checkpoint's reader bounds the layer count and nesting depth as it decodes.
    let limit = decoder.userInfo[LayerCountLimit.key] as? LayerCountLimit
    try limit?.countLayer()
    if kind == "sequential" {
      let decode = { try container.decode([LayerConfiguration].self, forKey: .settings) }
      self = .sequential(try limit.map { try $0.nested(decode) } ?? decode())
      return
    }
    let tree = try container.decodeIfPresent(JSONTree.self, forKey: .settings) ?? .object([:])
    guard LayerRegistry.builtInKinds.contains(kind) else {
      self = .custom(CustomLayerConfiguration(kind: kind, settings: tree))
      return
    }
    guard case .object(let settings) = tree else {
      throw DecodingError.dataCorruptedError(
        forKey: .settings, in: container, debugDescription: "the settings of a \(kind) layer are not an object")
    }
    self = try LayerConfiguration(kind: kind, settings: settings)
  }

  /// A built-in configuration from its stored settings.
  private init(kind: String, settings: [String: JSONTree]) throws {
    func fail(_ key: String, _ reason: String) -> BumpKitError {
      .invalidArgument(name: "\(kind).\(key)", value: settings[key]?.text ?? "missing", reason: reason)
    }
    func int(_ key: String) throws -> Int {
      guard let v = settings[key]?.integer, v > 0 else { throw fail(key, "must be a positive integer") }
      return v
    }
    func bool(_ key: String, default d: Bool) throws -> Bool {
      guard let value = settings[key] else { return d }
      guard let v = value.boolean else { throw fail(key, "must be true or false") }
      return v
    }
    func number(_ key: String, default d: Double) throws -> Double {
      guard let value = settings[key] else { return d }
      guard let v = value.number, v.isFinite, v > 0 else { throw fail(key, "must be a finite number > 0") }
      return v
    }
    func layout(_ key: String) throws -> BumpConfiguration.Layout {
      guard let text = settings[key]?.string, let v = BumpConfiguration.Layout(text) else {
        throw fail(key, "expected shared or per-unit, optionally followed by ,fixed")
      }
      return v
    }
    switch kind {
    case "dense":
      self = .dense(DenseConfiguration(inputSize: try int("inputSize"), outputSize: try int("outputSize"), useBias: try bool("useBias", default: true)))
    case "bump":
      self = .bump(BumpConfiguration(
        units: try int("units"), sigma: try layout("sigma"), center: try layout("center"),
        amplitude: try layout("amplitude"), sigmaFloor: try number("sigmaFloor", default: 1e-4)))
    case "radialBump":
      func trainable(_ key: String) throws -> Bool {
        switch settings[key]?.string {
        case "trainable": return true
        case "fixed": return false
        default: throw fail(key, "expected trainable or fixed")
        }
      }
      self = .radialBump(RadialBumpConfiguration(
        inputSize: try int("inputSize"), units: try int("units"), trainableCenter: try trainable("center"),
        trainableSigma: try trainable("sigma"), trainableAmplitude: try trainable("amplitude"),
        sigmaFloor: try number("sigmaFloor", default: 1e-4)))
    case "gaussian":
      // Checkpoints written before the floor was stored used the default.
      self = .gaussian(GaussianConfiguration(widthFloor: try number("widthFloor", default: 1e-4)))
    case "relu": self = .relu
    case "tanh": self = .tanh
    default: self = .sigmoid
    }
  }
}

/// The settings of a ``Dense`` layer.
public struct DenseConfiguration: Codable, Equatable, Sendable {
  /// The number of input features.
  public var inputSize: Int
  /// The number of output features.
  public var outputSize: Int
  /// Whether the layer has a bias parameter.
  public var useBias: Bool

  /// A configuration from its parts.
  public init(inputSize: Int, outputSize: Int, useBias: Bool = true) {
    self.inputSize = inputSize
    self.outputSize = outputSize
    self.useBias = useBias
  }
}

/// The settings of a ``Bump`` layer: its width and how each of σ, c and a is laid out.
public struct BumpConfiguration: Codable, Equatable, Sendable {
  /// How one of σ, c and a is laid out and learned; stored as `shared`, `per-unit`,
  /// `shared,fixed` or `per-unit,fixed`.
  public struct Layout: Codable, Equatable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    /// One value per unit (true) or one shared value (false).
    public var perUnit: Bool
    /// Whether optimizers update it.
    public var trainable: Bool

    /// A layout from its parts.
    public init(perUnit: Bool, trainable: Bool) {
      self.perUnit = perUnit
      self.trainable = trainable
    }

    /// Parses `shared`, `per-unit`, `shared,fixed` or `per-unit,fixed`.
    public init?(_ description: String) {
      let parts = description.split(separator: ",", omittingEmptySubsequences: false)
      guard let first = parts.first, first == "shared" || first == "per-unit",
        parts.count == 1 || (parts.count == 2 && parts[1] == "fixed")
      else { return nil }
      self.init(perUnit: first == "per-unit", trainable: parts.count == 1)
    }

    /// `shared` or `per-unit`, followed by `,fixed` when not trainable.
    public var description: String { (perUnit ? "per-unit" : "shared") + (trainable ? "" : ",fixed") }

    public init(from decoder: any Decoder) throws {
      let text = try decoder.singleValueContainer().decode(String.self)
      guard let layout = Layout(text) else {
        throw DecodingError.dataCorrupted(.init(
          codingPath: decoder.codingPath, debugDescription: "\"\(text)\" is not shared or per-unit, optionally followed by ,fixed"))
      }
      self = layout
    }

    public func encode(to encoder: any Encoder) throws {
      var container = encoder.singleValueContainer()
      try container.encode(description)
    }
  }

  /// The number of units.
  public var units: Int
  /// σ's layout.
  public var sigma: Layout
  /// c's layout.
  public var center: Layout
  /// a's layout.
  public var amplitude: Layout
  /// σ's projection floor (the layer's element value, exactly).
  public var sigmaFloor: Double

  /// A configuration from its parts.
  public init(units: Int, sigma: Layout, center: Layout, amplitude: Layout, sigmaFloor: Double = 1e-4) {
    self.units = units
    self.sigma = sigma
    self.center = center
    self.amplitude = amplitude
    self.sigmaFloor = sigmaFloor
  }
}

/// The settings of a ``RadialBump`` layer: its shape, which of c, σ and a are learned, and
/// σ's floor. Stored as strings: `inputSize`, `units`, `center`, `sigma` and `amplitude`
/// (`trainable` or `fixed`) and `sigmaFloor`.
public struct RadialBumpConfiguration: Codable, Equatable, Sendable {
  /// d, the number of input features.
  public var inputSize: Int
  /// The number of units.
  public var units: Int
  /// Whether the centres are learned.
  public var trainableCenter: Bool
  /// Whether σ is learned.
  public var trainableSigma: Bool
  /// Whether the amplitudes are learned.
  public var trainableAmplitude: Bool
  /// σ's projection floor (the layer's element value, exactly).
  public var sigmaFloor: Double

  /// A configuration from its parts; the defaults are ``RadialBump``'s.
  public init(
    inputSize: Int, units: Int, trainableCenter: Bool = true, trainableSigma: Bool = true,
    trainableAmplitude: Bool = false, sigmaFloor: Double = 1e-4
  ) {
    self.inputSize = inputSize
    self.units = units
    self.trainableCenter = trainableCenter
    self.trainableSigma = trainableSigma
    self.trainableAmplitude = trainableAmplitude
    self.sigmaFloor = sigmaFloor
  }
}

/// The settings of a ``Gaussian`` layer.
public struct GaussianConfiguration: Codable, Equatable, Sendable {
  /// The smallest width b that optimizer steps leave (the layer's element value, exactly).
  public var widthFloor: Double

  /// A configuration from its floor.
  public init(widthFloor: Double = 1e-4) { self.widthFloor = widthFloor }
}

/// The configuration of a layer of an app's own: its kind and its settings as JSON, encoded
/// from and decoded into the layer's ``CheckpointableLayer/Settings``.
public struct CustomLayerConfiguration: Equatable, Sendable {
  /// The kind name (``CheckpointableLayer/kind``).
  public var kind: String
  let settings: JSONTree

  /// The configuration of `kind` with no settings.
  public init(kind: String) { self.init(kind: kind, settings: .object([:])) }

  init(kind: String, settings: JSONTree) {
    self.kind = kind
    self.settings = settings
  }

  /// The configuration of `kind` with `settings` encoded as JSON.
  ///
  /// - Throws: the encoder's error, e.g. for a non-finite number.
  public init<Settings: Encodable>(kind: String, settings: Settings) throws {
    let data = try JSONEncoder.sorted.encode(settings)
    self.init(kind: kind, settings: try JSONDecoder().decode(JSONTree.self, from: data))
  }

  /// The settings decoded as `type`.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` naming the kind when the
  ///   settings do not decode as `type`.
  public func decode<Settings: Decodable>(_ type: Settings.Type) throws -> Settings {
    do {
      return try JSONDecoder().decode(Settings.self, from: JSONEncoder.sorted.encode(settings))
    } catch {
      throw BumpKitError.invalidArgument(
        name: "\(kind) settings", value: settings.text, reason: "do not decode as \(Settings.self): \(error)")
    }
  }
}

/// A JSON value, kept as read: the settings of a custom layer.
enum JSONTree: Codable, Equatable, Sendable {
  case null
  case boolean(Bool)
  case number(Double)
  case string(String)
  case array([JSONTree])
  case object([String: JSONTree])

  init(from decoder: any Decoder) throws {
    let c = try decoder.singleValueContainer()
    if c.decodeNil() { self = .null }
    else if let v = try? c.decode(Bool.self) { self = .boolean(v) }
    else if let v = try? c.decode(Double.self) { self = .number(v) }
    else if let v = try? c.decode(String.self) { self = .string(v) }
    else if let v = try? c.decode([JSONTree].self) { self = .array(v) }
    else { self = .object(try c.decode([String: JSONTree].self)) }
  }

  func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    switch self {
    case .null: try c.encodeNil()
    case .boolean(let v): try c.encode(v)
    case .number(let v): try c.encode(v)
    case .string(let v): try c.encode(v)
    case .array(let v): try c.encode(v)
    case .object(let v): try c.encode(v)
    }
  }

  /// The value as text: a string as itself, anything else as compact JSON.
  var text: String {
    switch self {
    case .string(let s): return s
    case .number(let v): return v == v.rounded() && abs(v) < 0x1p53 ? String(Int64(v)) : "\(v)"
    default: return (try? JSONEncoder.sorted.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
    }
  }

  /// A positive or negative integer, from a JSON integer or a string that spells one.
  var integer: Int? {
    switch self {
    case .string(let s): return Int(s)
    case .number(let v): return v == v.rounded() && abs(v) < 0x1p53 ? Int(v) : nil
    default: return nil
    }
  }

  /// A number, from a JSON number or a string that spells one.
  var number: Double? {
    switch self {
    case .string(let s): return Double(s)
    case .number(let v): return v
    default: return nil
    }
  }

  /// A boolean, from a JSON boolean or the string `true` or `false`.
  var boolean: Bool? {
    switch self {
    case .string(let s): return Bool(s)
    case .boolean(let v): return v
    default: return nil
    }
  }

  /// The string, for a JSON string.
  var string: String? {
    if case .string(let s) = self { return s }
    return nil
  }
}
