extension LayerConfiguration {
  /// Rebuilds the layer this configuration describes, with freshly initialized parameters
  /// (a checkpoint then assigns the stored values).
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for an unknown kind or a
  ///   missing or malformed setting.
  public func makeLayer<Element: MatrixScalar>(_: Element.Type = Element.self) throws -> any Layer<Element> {
    func int(_ key: String) throws -> Int {
      guard let text = settings[key], let v = Int(text), v > 0 else {
        throw BumpKitError.invalidArgument(name: "\(kind).\(key)", value: settings[key] ?? "missing", reason: "must be a positive integer")
      }
      return v
    }
    func bool(_ key: String, default d: Bool) throws -> Bool {
      guard let text = settings[key] else { return d }
      guard let v = Bool(text) else {
        throw BumpKitError.invalidArgument(name: "\(kind).\(key)", value: text, reason: "must be true or false")
      }
      return v
    }
    func spec(_ key: String, neutral: Element) throws -> Bump<Element>.ParameterSpec {
      guard let text = settings[key] else {
        throw BumpKitError.invalidArgument(name: "\(kind).\(key)", value: "missing", reason: "expected shared or per-unit, optionally followed by ,fixed")
      }
      let parts = text.split(separator: ",").map(String.init)
      guard let layout = parts.first, ["shared", "per-unit"].contains(layout),
        parts.count == 1 || (parts.count == 2 && parts[1] == "fixed")
      else {
        throw BumpKitError.invalidArgument(name: "\(kind).\(key)", value: text, reason: "expected shared or per-unit, optionally followed by ,fixed")
      }
      return .init(perUnit: layout == "per-unit", trainable: parts.count == 1, initializer: .constant(neutral))
    }
    switch kind {
    case "dense":
      return try Dense<Element>(inputSize: try int("inputSize"), outputSize: try int("outputSize"), useBias: try bool("useBias", default: true))
    case "bump":
      let floorText = settings["sigmaFloor"] ?? "1e-4"
      guard let floor = Element(floorText) else {
        throw BumpKitError.invalidArgument(name: "bump.sigmaFloor", value: floorText, reason: "must be a number")
      }
      return try Bump<Element>(
        units: try int("units"), sigma: try spec("sigma", neutral: 1), center: try spec("center", neutral: 0),
        amplitude: try spec("amplitude", neutral: 1), sigmaFloor: floor)
    case "relu": return ReLU<Element>()
    case "tanh": return Tanh<Element>()
    case "sigmoid": return Sigmoid<Element>()
    case "gaussian": return Gaussian<Element>()
    default:
      if let layer = try LayerRegistry.makeRegistered(self, Element.self) { return layer }
      throw BumpKitError.invalidArgument(
        name: "layer kind", value: kind,
        reason: "unknown; expected dense, bump, relu, tanh, sigmoid, gaussian or a kind registered with LayerRegistry.register(_:) for \(Element.self)")
    }
  }
}
