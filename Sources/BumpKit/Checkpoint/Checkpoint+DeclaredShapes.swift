extension Checkpoint {
  /// The widest layer whose width no tensor in the file shows (a bump layer with shared
  /// parameters, say): such a width is not backed by stored data, so it is bounded.
  static let unbackedWidthLimit = 1 << 16

  /// Checks the shapes of the parameters that `architecture` declares (Dense weight
  /// `in × out` and bias `1 × out`; Bump σ, c, a `1 × units` or `1 × 1`; RadialBump c
  /// `units × in`, σ and a `1 × units`) against `shapes`, the file's tensor shapes by name,
  /// and that the layers' widths chain from `inputSize`, without building a layer.
  ///
  /// Layers inside a nested `sequential` layer are checked as if they stood in its place, in
  /// order, their tensors named after its index (`layers.<index>.weight`), as the model it
  /// builds names them. Only a registered layer of an app's own is left to its builder; the
  /// widths after it are checked when the model is built.
  ///
  /// - Throws: ``CheckpointError/missingTensor(source:name:)``,
  ///   ``CheckpointError/tensorShapeMismatch(source:name:expected:stored:)``,
  ///   ``CheckpointError/notACheckpoint(source:reason:)``.
  static func checkDeclaredShapes(
    _ architecture: Architecture, shapes: [String: [Int]], source: String
  ) throws {
    func fail(_ reason: String) -> CheckpointError {
      .notACheckpoint(source: source, reason: reason)
    }
    let backed = Set(shapes.values.joined())
    func checkWidth(_ width: Int, _ what: String) throws {
      guard width > 0 else { throw fail("\(what) is \(width); it must be positive") }
      guard width <= unbackedWidthLimit || backed.contains(width) else {
        throw fail("\(what) is \(width), a width no tensor in the file has")
      }
    }
    func expect(_ name: String, _ shape: [Int]) throws {
      guard let stored = shapes[name] else {
        throw CheckpointError.missingTensor(source: source, name: name)
      }
      guard stored == shape else {
        throw CheckpointError.tensorShapeMismatch(
          source: source, name: name, expected: shape, stored: stored)
      }
    }
    var width: Int? = architecture.inputSize
    try checkWidth(architecture.inputSize, "inputFeatures")
    /// Checks `layers` in order; `outer` is the index of the top-level layer they are nested
    /// in (nil at the top), `label` the dotted position of their parent ("3.1").
    func check(_ layers: [LayerConfiguration], outer: Int?, label parent: String?, depth: Int) throws {
      guard depth <= maximumNestingDepth else {
        throw fail("the architecture nests sequential layers more than \(maximumNestingDepth) deep, the most a checkpoint may hold")
      }
      for (j, layer) in layers.enumerated() {
        let i = outer ?? j
        let label = parent.map { "\($0).\(j)" } ?? "\(j)"
        let prefix = "layers.\(i)."
        func checked(_ value: Int, _ key: String) throws -> Int {
          try checkWidth(value, "layer \(label) (\(layer.kind)) \(key)")
          return value
        }
        switch layer {
        case .custom:
          // A registered layer of an app's own: its settings mean nothing here, so the widths
          // after it are checked when the model is built, and its tensors' shapes against its
          // parameters.
          width = nil
        case .sequential(let inner):
          try check(inner, outer: i, label: label, depth: depth + 1)
        case .dense(let c):
          let (input, output) = (try checked(c.inputSize, "inputSize"), try checked(c.outputSize, "outputSize"))
          if let width, input != width {
            throw fail("layer \(label) (dense) takes \(input) inputs, the layer before gives \(width)")
          }
          try expect(prefix + "weight", [input, output])
          if c.useBias { try expect(prefix + "bias", [1, output]) }
          width = output
        case .bump(let c):
          let units = try checked(c.units, "units")
          if let width, units != width {
            throw fail("layer \(label) (bump) has \(units) units, the layer before gives \(width)")
          }
          for (name, layout) in [("sigma", c.sigma), ("center", c.center), ("amplitude", c.amplitude)] {
            try expect(prefix + name, [1, layout.perUnit ? units : 1])
          }
        case .radialBump(let c):
          let (input, units) = (try checked(c.inputSize, "inputSize"), try checked(c.units, "units"))
          if let width, input != width {
            throw fail("layer \(label) (radialBump) takes \(input) inputs, the layer before gives \(width)")
          }
          try expect(prefix + "center", [units, input])
          try expect(prefix + "sigma", [1, units])
          try expect(prefix + "amplitude", [1, units])
          width = units
        case .gaussian, .relu, .tanh, .sigmoid:
          continue  // element-wise layers keep the width
        }
      }
    }
    try check(architecture.layers, outer: nil, label: nil, depth: 0)
  }
}
