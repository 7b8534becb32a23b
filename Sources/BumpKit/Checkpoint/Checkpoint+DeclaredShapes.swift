extension Checkpoint {
  /// The widest layer whose width no tensor in the file shows (a bump layer with shared
  /// parameters, say): such a width is not backed by stored data, so it is bounded.
  static let unbackedWidthLimit = 1 << 16

  /// Checks the shapes of the parameters that `architecture` declares (Dense weight
  /// `in × out` and bias `1 × out`; Bump σ, c, a `1 × units` or `1 × 1`; RadialBump c
  /// `units × in`, σ and a `1 × units`; Gaussian amplitude, width and center `1 × 1`) against
  /// `shapes`, the file's tensor shapes by name,
  /// and that the layers' widths chain from `inputSize`, without building a layer.
  ///
  /// Layers inside a nested `sequential` layer are checked as if they stood in its place, in
  /// order, their tensors named after its index (`layers.<index>.weight`), as the model it
  /// builds names them. Only a registered layer of an app's own is left to its builder; the
  /// widths after it are checked when the model is built.
  ///
  /// Returns the tensors the architecture accounts for (see ``DeclaredTensors``), which
  /// ``checkTensors(_:precision:tensors:source:metadata:)`` holds the file's tensors to.
  ///
  /// - Throws: ``CheckpointError/missingTensor(source:name:)``,
  ///   ``CheckpointError/tensorShapeMismatch(source:name:expected:stored:)``,
  ///   ``CheckpointError/notACheckpoint(source:reason:)``.
  @discardableResult
  static func checkDeclaredShapes(
    _ architecture: Architecture, shapes: [String: [Int]], source: String
  ) throws -> DeclaredTensors {
    var declared = DeclaredTensors()
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
      declared.parameters.insert(name)
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
          // parameters. Its tensors are named after the top-level layer it stands in.
          declared.customPrefixes.insert(prefix)
          width = nil
        case .sequential(let inner):
          try check(inner, outer: i, label: label, depth: depth + 1)
        case .dense(let c):
          let (input, output) = (try checked(c.inputSize, "inputSize"), try checked(c.outputSize, "outputSize"))
          if let width, input != width {
            throw fail("layer \(label) (dense) takes \(input) inputs, the layer before gives \(width)")
          }
          try expect(prefix + "weight", [input, output])
          if c.useBias {
            try expect(prefix + "bias", [1, output])
          } else if outer == nil {
            // Files written before bias-free Dense layers lost their bias parameter store it
            // as a fixed zero row, which loading reads and drops.
            declared.legacyZeroBiases[prefix + "bias"] = [1, output]
          }
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
        case .gaussian:
          // Element-wise with one shared amplitude, width and center: it keeps the width.
          for name in ["amplitude", "width", "center"] { try expect(prefix + name, [1, 1]) }
        case .relu, .tanh, .sigmoid:
          continue  // element-wise layers keep the width
        }
      }
    }
    try check(architecture.layers, outer: nil, label: nil, depth: 0)
    return declared
  }

  /// The tensors an architecture accounts for, as ``checkDeclaredShapes(_:shapes:source:)``
  /// finds them.
  struct DeclaredTensors {
    /// The parameters' tensors, all present in the file with the declared shapes.
    var parameters: Set<String> = []
    /// The zero bias rows that files of bias-free top-level Dense layers written by older
    /// versions hold, by name, with the shape they must have; optional.
    var legacyZeroBiases: [String: [Int]] = [:]
    /// `layers.<index>.` of each registered layer of an app's own: its tensors are checked
    /// against its parameters when it is built.
    var customPrefixes: Set<String> = []
  }

  /// Checks a checkpoint's tensors, `tensors` (name, dtype and shape, in file order), against
  /// its architecture and precision before their data is read: the shapes that
  /// `architecture` declares (see ``checkDeclaredShapes(_:shapes:source:)``), every layer's
  /// kind is one that `precision` can rebuild, every tensor in the file is a parameter of the
  /// architecture or a training-state tensor that the `resume_state` entry of `metadata`
  /// accounts for (over a parameter, in its shape; see ``save(_:to:metadata:optimizer:training:)``),
  /// and every parameter is stored in the precision's dtype.
  ///
  /// A file that passes holds no byte that loading would not use (a registered layer of an
  /// app's own aside, whose tensors are judged when it is built), so the size of its data is
  /// that of the model's parameters.
  ///
  /// - Throws: the errors of ``checkDeclaredShapes(_:shapes:source:)``;
  ///   ``CheckpointError/notACheckpoint(source:reason:)`` for a layer kind that cannot be
  ///   rebuilt, ``CheckpointError/unexpectedTensor(source:name:)``,
  ///   ``CheckpointError/dtypeMismatch(source:name:stored:expected:)``.
  static func checkTensors(
    _ architecture: Architecture, precision: String,
    tensors: [(name: String, dtype: SafetensorsFile.DType, shape: [Int])], source: String,
    metadata: [String: String] = [:]
  ) throws {
    // An entry that is not valid accounts for no tensor (and keeps no model from loading).
    let resume = (try? resumeState(in: metadata, source: source)) ?? nil
    try checkKinds(architecture, precision: precision, source: source)
    let declared = try checkDeclaredShapes(
      architecture, shapes: Dictionary(tensors.map { ($0.name, $0.shape) }, uniquingKeysWith: { a, _ in a }),
      source: source)
    let wanted: SafetensorsFile.DType = precision == "float" ? .f32 : .f64
    // The shapes of the parameter tensors, built once when a training-state tensor asks.
    var shapesOfParameters: [String: [Int]]?
    func parameterShapes() -> [String: [Int]] {
      if let shapesOfParameters { return shapesOfParameters }
      var shapes: [String: [Int]] = [:]
      for t in tensors
      where declared.parameters.contains(t.name) || declared.customPrefixes.contains(where: { t.name.hasPrefix($0) }) {
        shapes[t.name] = t.shape
      }
      shapesOfParameters = shapes
      return shapes
    }
    for tensor in tensors {
      if declared.parameters.contains(tensor.name) {
        guard tensor.dtype == wanted else {
          throw CheckpointError.dtypeMismatch(
            source: source, name: tensor.name, stored: tensor.dtype.rawValue, expected: wanted.rawValue)
        }
      } else if let shape = declared.legacyZeroBiases[tensor.name] {
        // Read as F32 or F64 whatever the precision, as older versions wrote it.
        guard tensor.shape == shape, tensor.dtype == .f32 || tensor.dtype == .f64 else {
          throw CheckpointError.unexpectedTensor(source: source, name: tensor.name)
        }
      } else if let resume, isResumeTensor(tensor, state: resume, parameterShapes: parameterShapes(), dtype: wanted) {
        continue
      } else if !declared.customPrefixes.contains(where: { tensor.name.hasPrefix($0) }) {
        throw CheckpointError.unexpectedTensor(source: source, name: tensor.name)
      }
    }
  }

  /// Refuses a layer of a kind that no layer registered for `precision` rebuilds, at any
  /// depth: no tensor could be its parameter.
  private static func checkKinds(_ architecture: Architecture, precision: String, source: String) throws {
    func check(_ layers: [LayerConfiguration], parent: String?) throws {
      for (j, layer) in layers.enumerated() {
        let label = parent.map { "\($0).\(j)" } ?? "\(j)"
        switch layer {
        case .sequential(let inner): try check(inner, parent: label)
        case .custom(let c):
          let rebuilds =
            precision == "float"
            ? LayerRegistry.canRebuild(kind: c.kind, Float.self) : LayerRegistry.canRebuild(kind: c.kind, Double.self)
          guard rebuilds else {
            throw CheckpointError.notACheckpoint(
              source: source,
              reason: "layer \(label) has kind \"\(c.kind)\", which no layer registered for \(precision) precision rebuilds (built-in kinds: \(LayerRegistry.builtInKinds.sorted().joined(separator: ", ")), sequential)")
          }
        default: continue
        }
      }
    }
    try check(architecture.layers, parent: nil)
  }
}
