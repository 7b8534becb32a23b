extension LayerConfiguration {
  /// Rebuilds the layer this configuration describes, with freshly initialized parameters
  /// (a checkpoint then assigns the stored values).
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for a custom kind that is
  ///   not registered with ``LayerRegistry`` for `Element`, or settings the layer rejects.
  public func makeLayer<Element: MatrixScalar>(_: Element.Type = Element.self) throws -> any Layer<Element> {
    switch self {
    case .dense(let c):
      return try Dense<Element>(inputSize: c.inputSize, outputSize: c.outputSize, useBias: c.useBias)
    case .bump(let c):
      func spec(_ layout: BumpConfiguration.Layout, neutral: Element) -> Bump<Element>.ParameterSpec {
        .init(perUnit: layout.perUnit, trainable: layout.trainable, initializer: .constant(neutral))
      }
      return try Bump<Element>(
        units: c.units, sigma: spec(c.sigma, neutral: 1), center: spec(c.center, neutral: 0),
        amplitude: spec(c.amplitude, neutral: 1), sigmaFloor: Element(c.sigmaFloor))
    case .radialBump(let c):
      func spec(_ trainable: Bool, neutral: Element) -> RadialBump<Element>.ParameterSpec {
        .init(trainable: trainable, initializer: .constant(neutral))
      }
      return try RadialBump<Element>(
        inputSize: c.inputSize, units: c.units, center: spec(c.trainableCenter, neutral: 0),
        sigma: spec(c.trainableSigma, neutral: 1), amplitude: spec(c.trainableAmplitude, neutral: 1),
        sigmaFloor: Element(c.sigmaFloor))
    case .gaussian(let c): return try Gaussian<Element>(widthFloor: Element(c.widthFloor))
    case .relu: return ReLU<Element>()
    case .tanh: return Tanh<Element>()
    case .sigmoid: return Sigmoid<Element>()
    case .sequential(let layers):
      return try Sequential<Element>(layers: layers.map { try $0.makeLayer(Element.self) })
    case .custom(let c):
      if let layer = try LayerRegistry.makeRegistered(c, Element.self) { return layer }
      throw BumpKitError.invalidArgument(
        name: "layer kind", value: c.kind,
        reason: "unknown; expected \(LayerRegistry.builtInKinds.sorted().joined(separator: ", ")) or a kind registered with LayerRegistry.register(_:) for \(Element.self)")
    }
  }
}
