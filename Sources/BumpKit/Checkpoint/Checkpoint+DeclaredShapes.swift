extension Checkpoint {
  /// The widest layer whose width no tensor in the file shows (a bump layer with shared
  /// parameters, say): such a width is not backed by stored data, so it is bounded.
  static let unbackedWidthLimit = 1 << 16

  /// The shapes that `configuration`'s layer type declares for its settings (see
  /// ``CheckpointableLayer/declaredShapes(for:)``); nil for a nested model, a kind not
  /// registered for `Element`, or a type that declares none.
  static func declaredShapes<Element: MatrixScalar>(
    of configuration: LayerConfiguration, _: Element.Type
  ) throws -> DeclaredShapes? {
    guard configuration.layers == nil, let type = LayerRegistry.registeredType(kind: configuration.kind, Element.self) else {
      return nil
    }
    return try type.declaredShapes(from: configuration)
  }

  /// Checks the shapes of the parameters that `architecture` declares — each layer type's
  /// ``CheckpointableLayer/declaredShapes(for:)`` for its settings, e.g. Dense weight
  /// `in × out` and bias `1 × out` — against `shapes`, the file's tensor shapes by name,
  /// and that the layers' widths chain from `inputSize`, without building a layer. The layer
  /// types are those registered for `precision`'s element type.
  ///
  /// Layers inside a nested `sequential` layer are checked as if they stood in its place, in
  /// order, their tensors named after its index (`layers.<index>.weight`), as the model it
  /// builds names them. A layer type that declares no shapes is left to its builder; the
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
    _ architecture: Architecture, precision: String, shapes: [String: [Int]], source: String
  ) throws -> DeclaredTensors {
    precision == "float"
      ? try checkDeclaredShapes(architecture, Float.self, shapes: shapes, source: source)
      : try checkDeclaredShapes(architecture, Double.self, shapes: shapes, source: source)
  }

  private static func checkDeclaredShapes<Element: MatrixScalar>(
    _ architecture: Architecture, _: Element.Type, shapes: [String: [Int]], source: String
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
        if let inner = layer.layers {
          try check(inner, outer: i, label: label, depth: depth + 1)
          continue
        }
        let declaredShapes: DeclaredShapes?
        do {
          declaredShapes = try Checkpoint.declaredShapes(of: layer, Element.self)
        } catch {
          throw fail("layer \(label) (\(layer.kind)) has settings it cannot be built from: \(error)")
        }
        guard let layerShapes = declaredShapes else {
          // A layer type that declares no shapes: the widths after it are checked when the
          // model is built, and its tensors' shapes against its parameters. Its tensors are
          // named after the top-level layer it stands in.
          declared.customPrefixes.insert(prefix)
          width = nil
          continue
        }
        if let input = layerShapes.inputSize {
          try checkWidth(input, "layer \(label) (\(layer.kind)) \(layerShapes.inputName)")
        }
        if let output = layerShapes.outputSize, output != layerShapes.inputSize || layerShapes.outputName != layerShapes.inputName {
          try checkWidth(output, "layer \(label) (\(layer.kind)) \(layerShapes.outputName)")
        }
        if let input = layerShapes.inputSize, let width, input != width {
          throw fail("layer \(label) (\(layer.kind)) takes \(input) inputs, the layer before gives \(width)")
        }
        for (name, shape) in layerShapes.parameters { try expect(prefix + name, shape) }
        if outer == nil {
          for (name, shape) in layerShapes.legacyZeroTensors { declared.legacyZeroBiases[prefix + name] = shape }
        }
        if let output = layerShapes.outputSize {
          width = output
        } else if let input = layerShapes.inputSize {
          width = input
        }
      }
    }
    try check(architecture.layers, outer: nil, label: nil, depth: 0)
    return declared
  }

  /// The tensors an architecture accounts for, as ``checkDeclaredShapes(_:precision:shapes:source:)``
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
  /// `architecture` declares (see ``checkDeclaredShapes(_:precision:shapes:source:)``), every layer's
  /// kind is one that `precision` can rebuild, every tensor in the file is a parameter of the
  /// architecture or a training-state tensor that the `resume_state` entry of `metadata`
  /// accounts for (over a parameter, in its shape; see ``save(_:to:metadata:optimizer:training:)``),
  /// and every parameter is stored in the precision's dtype.
  ///
  /// A file that passes holds no byte that loading would not use (a registered layer of an
  /// app's own aside, whose tensors are judged when it is built), so the size of its data is
  /// that of the model's parameters.
  ///
  /// - Throws: the errors of ``checkDeclaredShapes(_:precision:shapes:source:)``;
  ///   ``CheckpointError/notACheckpoint(source:reason:)`` for a layer kind that cannot be
  ///   rebuilt, ``CheckpointError/unexpectedTensor(source:name:)``,
  ///   ``CheckpointError/dtypeMismatch(source:name:stored:expected:)``;
  ///   ``CheckpointError/notResumable(source:reason:)`` for training-state tensors of a
  ///   `resume_state` entry that is not valid.
  static func checkTensors(
    _ architecture: Architecture, precision: String,
    tensors: [(name: String, dtype: SafetensorsFile.DType, shape: [Int])], source: String,
    metadata: [String: String] = [:]
  ) throws {
    var tensors = tensors
    let members = try ensembleMembers(in: metadata, source: source)
    if members > 1 {
      // Models 1… of an ensemble: each the architecture's parameters and nothing else, under
      // its prefix. A tensor of no model of the ensemble stays for the first, which refuses it.
      var inner = metadata
      inner[ensembleKey] = nil
      for k in 1..<members {
        let own = tensors.compactMap { t in
          member(of: t.name).flatMap { $0.index == k ? ($0.name, t.dtype, t.shape) : nil }
        }
        do {
          try checkTensors(architecture, precision: precision, tensors: own, source: source, metadata: inner)
        } catch let error as CheckpointError {
          // Named as stored, under the member's prefix.
          throw error.prefixingTensorName(ensemblePrefix(k))
        }
      }
      tensors = tensors.filter { t in member(of: t.name).map { $0.index >= members } ?? true }
    }
    // An entry that is not valid accounts for no tensor (and keeps no model without
    // training-state tensors from loading); a training-state tensor it leaves unaccounted for
    // is refused with the entry's own fault, which is the cause.
    let resume: StoredResumeState?
    var resumeFault: (any Error)?
    do { resume = try resumeState(in: metadata, source: source) } catch {
      resume = nil
      resumeFault = error
    }
    try checkKinds(architecture, precision: precision, source: source)
    let declared = try checkDeclaredShapes(
      architecture, precision: precision, shapes: Dictionary(tensors.map { ($0.name, $0.shape) }, uniquingKeysWith: { a, _ in a }),
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
        if let resumeFault, tensor.name.hasPrefix("optimizer.") || tensor.name.hasPrefix("training.") {
          throw resumeFault
        }
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
        if let inner = layer.layers {
          try check(inner, parent: label)
          continue
        }
        let rebuilds =
          precision == "float"
          ? LayerRegistry.canRebuild(kind: layer.kind, Float.self) : LayerRegistry.canRebuild(kind: layer.kind, Double.self)
        guard rebuilds else {
          throw CheckpointError.notACheckpoint(
            source: source,
            reason: "layer \(label) has kind \"\(layer.kind)\", which no layer registered for \(precision) precision rebuilds (built-in kinds: \(LayerRegistry.builtInKinds.sorted().joined(separator: ", ")), sequential)")
        }
      }
    }
    try check(architecture.layers, parent: nil)
  }
}
