import Foundation

/// Saves and restores whole models as safetensors files.
///
/// Every parameter is stored as a named tensor, `layers.<index>.<parameter>` (e.g.
/// `layers.1.sigma`), of dtype F32 or F64 and shape `[rows, columns]` of the parameter. The
/// `__metadata__` map holds:
///
/// - `format`: `bumpkit.sequential`, `format_version`: `1`;
/// - `precision`: `float` or `double`;
/// - `architecture`: JSON, `{"inputFeatures": n, "layers": [{"kind": …, "settings": {…}}]}`;
/// - any caller-supplied entries (the CLI stores the training configuration, feature names
///   and standardization there).
///
/// A resumable checkpoint adds the optimizer's and the training loop's state under
/// `optimizer.` and `training.` names and the `resume_state` entry (see
/// ``save(_:to:metadata:optimizer:training:)``); loading for inference ignores them.
///
/// An ensemble of models of one architecture is stored as one file too (see
/// ``loadEnsemble(_:from:)``). A model is rebuilt from the file alone. Writes are atomic (temporary file, fsync, rename).
///
/// Reading trusts nothing in the file: its header is read and checked first (see
/// ``header(at:)``), every shape the architecture declares is compared with the stored
/// tensors before a layer is built, and the architecture is bounded by
/// ``maximumArchitectureLength``, ``maximumLayerCount`` and ``maximumNestingDepth``, limits
/// that ``save(_:to:metadata:)`` enforces too, so that every file it writes reads back.
/// Python reads the files with `safetensors.numpy.load_file`, and files written by Python
/// with the same names and metadata load here.
public enum Checkpoint {
  /// The `format` metadata value.
  public static let format = "bumpkit.sequential"
  /// The `format_version` this code writes and reads.
  public static let formatVersion = "1"
  /// The metadata entries that ``save(_:to:metadata:)`` writes itself, replacing any
  /// caller-supplied entry of the same name: `format`, `format_version`, `precision` and
  /// `architecture`.
  ///
  /// Code that copies a checkpoint's metadata into a new one drops these first.
  public static let reservedMetadataKeys = ["format", "format_version", "precision", "architecture"]

  /// The architecture part of a checkpoint.
  public struct Architecture: Codable, Equatable, Sendable {
    /// The model's input width.
    public var inputSize: Int
    /// The layers, in order.
    public var layers: [LayerConfiguration]

    /// An architecture from its parts: `inputSize` features into `layers`.
    public init(inputSize: Int, layers: [LayerConfiguration]) {
      self.inputSize = inputSize
      self.layers = layers
    }

    // The stored key keeps the name every version of the format has used.
    private enum CodingKeys: String, CodingKey {
      case inputSize = "inputFeatures"
      case layers
    }
  }

  /// What a checkpoint describes, read without choosing a precision.
  public struct Summary: Sendable {
    /// `float` or `double`.
    public var precision: String
    /// The architecture.
    public var architecture: Architecture
    /// Tensor names in file order with their shapes.
    public var tensors: [(name: String, shape: [Int])]
    /// All metadata entries, including the reserved ones.
    public var metadata: [String: String]
    /// The raw file, for reading values.
    public var file: SafetensorsFile
  }

  /// Writes `model` to `path` atomically, with `metadata` added to the reserved entries.
  ///
  /// - Throws: the errors of ``encode(_:metadata:)``, naming `path` (nothing is written then);
  ///   ``SafetensorsError/io(operation:path:errno:)`` when the file cannot be written.
  public static func save<Element: MatrixScalar>(
    _ model: Sequential<Element>, to path: String, metadata: [String: String] = [:]
  ) throws {
    try write(to: path) { try encode(model, metadata: metadata) }
  }

  /// Writes the file `encode` makes to `path` atomically; its checkpoint errors name `path`.
  static func write(to path: String, _ encode: () throws -> SafetensorsFile) throws {
    let file: SafetensorsFile
    do {
      file = try encode()
    } catch let error as CheckpointError {
      throw error.saving(to: path)
    }
    try file.write(to: path)
  }

  /// The safetensors file for `model` (see ``save(_:to:metadata:)``).
  ///
  /// Refuses what could not be loaded back: a layer that ``LayerRegistry`` could not rebuild,
  /// two parameters of one layer with one name, a longer architecture, more layers or deeper
  /// nesting than ``maximumArchitectureLength``, ``maximumLayerCount`` and
  /// ``maximumNestingDepth`` allow, and a header (mostly `metadata`)
  /// larger than ``SafetensorsFile/maximumHeaderLength``, which readers refuse.
  ///
  /// - Throws: ``CheckpointError/unregisteredLayer(index:kind:type:path:)``,
  ///   ``CheckpointError/duplicateParameterName(index:kind:name:path:)``,
  ///   ``CheckpointError/tooLargeToSave(what:limit:path:)``; a registered layer's settings
  ///   encoder's error.
  public static func encode<Element: MatrixScalar>(
    _ model: Sequential<Element>, metadata: [String: String] = [:]
  ) throws -> SafetensorsFile {
    // Refuse now what could not be loaded later, or would load as another type: every layer
    // must be a CheckpointableLayer whose type is the one registered for its kind.
    var configurations: [LayerConfiguration] = []
    for (i, instance) in model.layers.enumerated() {
      guard let layer = instance as? any CheckpointableLayer else {
        throw CheckpointError.unregisteredLayer(
          index: i, kind: "", type: "\(type(of: instance))")
      }
      let configuration = try layer.checkedConfiguration()  // throws the encoder's error
      guard LayerRegistry.registeredType(kind: configuration.kind, Element.self) == type(of: layer) else {
        throw CheckpointError.unregisteredLayer(index: i, kind: configuration.kind, type: "\(type(of: instance))")
      }
      configurations.append(configuration)
    }
    let architecture = Architecture(inputSize: model.inputSize, layers: configurations)
    try checkSaveLimits(architecture)
    for (i, layer) in model.layers.enumerated() {
      var names = Set<String>()
      for p in layer.parameters where !names.insert(p.name).inserted {
        throw CheckpointError.duplicateParameterName(index: i, kind: architecture.layers[i].kind, name: p.name)
      }
    }
    var meta = metadata
    meta[resumeStateKey] = nil
    meta["format"] = format
    meta["format_version"] = formatVersion
    meta["precision"] = Element.self == Float.self ? "float" : "double"
    let json = try JSONEncoder.sorted.encode(architecture)
    try checkSaveLength(json)
    meta["architecture"] = String(decoding: json, as: UTF8.self)
    var file = SafetensorsFile(metadata: meta)
    for (i, layer) in model.layers.enumerated() {
      for p in layer.parameters {
        let shape = [p.value.rows, p.value.columns]
        let tensor: SafetensorsFile.Tensor
        if Element.self == Float.self {
          tensor = try .init(p.value.elements.map { Float($0) }, shape: shape)
        } else {
          tensor = try .init(p.value.elements.map { Double($0) }, shape: shape)
        }
        try file.insert(tensor, named: "layers.\(i).\(p.name)")
      }
    }
    try checkHeaderSize(of: file)
    return file
  }

  /// Reads the architecture, precision and tensor list of the checkpoint at `path`.
  ///
  /// The header is read and checked first, as by ``header(at:)``; the tensor data is read
  /// only for a BumpKit checkpoint whose declared shapes its tensors bear out.
  ///
  /// - Throws: ``CheckpointError`` when the file is not a BumpKit checkpoint;
  ///   ``SafetensorsError`` when the file itself is malformed
  ///   (``SafetensorsError/malformedFile(path:error:)``, naming `path`) or cannot be read.
  public static func summary(at path: String) throws -> Summary {
    try SafetensorsFile.withHeader(at: path) { layout, readFile in
      _ = try header(of: layout, source: path)
      return try summary(of: readFile(), source: path)
    }
  }

  /// Reads the architecture, precision and tensor list of a decoded file.
  ///
  /// - Throws: ``CheckpointError/notACheckpoint(source:reason:)`` when the metadata does not
  ///   describe a BumpKit model, or describes a longer architecture, more layers or deeper
  ///   nesting than ``maximumArchitectureLength``, ``maximumLayerCount`` and
  ///   ``maximumNestingDepth`` allow.
  public static func summary(of file: SafetensorsFile, source: String = "checkpoint") throws -> Summary {
    let (precision, architecture) = try describedModel(file.metadata, source: source)
    let tensors = file.names.map { ($0, file.tensors[$0]!.shape) }
    return Summary(precision: precision, architecture: architecture, tensors: tensors, metadata: file.metadata, file: file)
  }

  /// The precision and architecture that checkpoint metadata `meta` describes.
  ///
  /// The architecture's length is checked against ``maximumArchitectureLength`` first, and it
  /// is decoded with ``maximumLayerCount`` and ``maximumNestingDepth`` enforced as it is
  /// read, so that a header of a million layers costs no more than the limits allow.
  ///
  /// - Throws: ``CheckpointError/notACheckpoint(source:reason:)``.
  static func describedModel(_ meta: [String: String], source: String) throws -> (precision: String, architecture: Architecture) {
    guard meta["format"] == format else {
      throw CheckpointError.notACheckpoint(source: source, reason: "metadata format is \(meta["format"].map { "\"\($0)\"" } ?? "missing"), expected \"\(format)\"")
    }
    guard meta["format_version"] == formatVersion else {
      throw CheckpointError.notACheckpoint(source: source, reason: "format_version \(meta["format_version"] ?? "missing") is not supported (expected \(formatVersion))")
    }
    guard let precision = meta["precision"], precision == "float" || precision == "double" else {
      throw CheckpointError.notACheckpoint(source: source, reason: "precision \(meta["precision"] ?? "missing") is not float or double")
    }
    guard let text = meta["architecture"] else {
      throw CheckpointError.notACheckpoint(source: source, reason: "the architecture metadata is missing")
    }
    guard text.utf8.count <= maximumArchitectureLength else {
      throw CheckpointError.notACheckpoint(
        source: source,
        reason: "the architecture metadata is \(text.utf8.count) bytes, more than the \(maximumArchitectureLength) a checkpoint may hold")
    }
    let architecture: Architecture
    do {
      let decoder = JSONDecoder()
      decoder.userInfo[LayerCountLimit.key] = LayerCountLimit(
        layers: maximumLayerCount, depth: maximumNestingDepth, source: source)
      architecture = try decoder.decode(Architecture.self, from: Data(text.utf8))
    } catch let error as CheckpointError {
      throw error
    } catch let error as BumpKitError {
      throw CheckpointError.notACheckpoint(source: source, reason: "the architecture is invalid: \(error)")
    } catch {
      throw CheckpointError.notACheckpoint(source: source, reason: "the architecture metadata is not valid JSON of an architecture")
    }
    return (precision, architecture)
  }

  /// Rebuilds the model stored at `path` with `Element` as its scalar type.
  ///
  /// The header is read and checked first, as by ``header(at:)``, and the precision compared
  /// with `Element`; the tensor data is read only after that, so a file that is not a BumpKit
  /// checkpoint (a language model's weights, say), or one that holds a tensor besides the
  /// model's parameters, costs its header, however large its data.
  ///
  /// - Throws: ``CheckpointError`` when the file is not a checkpoint (or its architecture is
  ///   beyond ``maximumArchitectureLength``, ``maximumLayerCount`` or
  ///   ``maximumNestingDepth``), its precision is not `Element`, a parameter is missing,
  ///   extra, of the wrong dtype or shape; ``SafetensorsError`` when the file itself is
  ///   malformed (``SafetensorsError/malformedFile(path:error:)``, naming `path`) or cannot
  ///   be read.
  public static func load<Element: MatrixScalar>(_: Element.Type = Element.self, from path: String) throws -> (model: Sequential<Element>, metadata: [String: String]) {
    try readChecked(Element.self, at: path) { try load(Element.self, file: $0, source: path) }
  }

  /// Checks the header of the checkpoint at `path`, and its precision against `Element`,
  /// before reading the whole file for `body`.
  static func readChecked<Element: MatrixScalar, R>(
    _: Element.Type, at path: String, _ body: (SafetensorsFile) throws -> R
  ) throws -> R {
    try SafetensorsFile.withHeader(at: path) { layout, readFile in
      let stored = try header(of: layout, source: path).precision
      let wanted = Element.self == Float.self ? "float" : "double"
      guard stored == wanted else {
        throw CheckpointError.precisionMismatch(source: path, stored: stored, requested: wanted)
      }
      return try body(readFile())
    }
  }

  /// Rebuilds a model from a decoded file (see ``load(_:from:)``).
  public static func load<Element: MatrixScalar>(_: Element.Type = Element.self, file: SafetensorsFile, source: String = "checkpoint") throws -> (model: Sequential<Element>, metadata: [String: String]) {
    let s = try summary(of: file, source: source)
    let wanted = Element.self == Float.self ? "float" : "double"
    guard s.precision == wanted else {
      throw CheckpointError.precisionMismatch(source: source, stored: s.precision, requested: wanted)
    }
    let members = try ensembleMembers(in: s.metadata, source: source)
    guard members == 1 else {
      throw CheckpointError.notACheckpoint(
        source: source,
        reason: "it holds an ensemble of \(members) models, which its first model alone does not stand for; Checkpoint.loadEnsemble reads it")
    }
    // The architecture is only text: check every size it declares against the tensors in
    // the file before building anything, so that a lying header cannot allocate.
    try checkTensors(
      s.architecture, precision: s.precision,
      tensors: file.names.compactMap { name in file.tensors[name].map { (name, $0.dtype, $0.shape) } },
      source: source, metadata: s.metadata)
    let layers: [any Layer<Element>]
    let model: Sequential<Element>
    do {
      layers = try s.architecture.layers.map { try $0.makeLayer(Element.self) }
      // Every parameter is assigned from the file below: the model draws none of them.
      for layer in layers { layer.markParametersSet() }
      model = try Sequential<Element>(layers: layers)
    } catch let error as CheckpointError {
      throw error
    } catch {
      // A layer type's own error (from its init(settings:)) names the file too.
      throw CheckpointError.notACheckpoint(source: source, reason: "the architecture cannot be built: \(error)")
    }
    guard model.inputSize == s.architecture.inputSize else {
      throw CheckpointError.notACheckpoint(source: source, reason: "architecture says \(s.architecture.inputSize) input features, its layers take \(model.inputSize)")
    }
    var expected = Set<String>()
    for (i, layer) in layers.enumerated() {
      for p in layer.parameters {
        let name = "layers.\(i).\(p.name)"
        expected.insert(name)
        guard let tensor = file.tensors[name] else { throw CheckpointError.missingTensor(source: source, name: name) }
        let shape = [p.value.rows, p.value.columns]
        guard tensor.shape == shape else {
          throw CheckpointError.tensorShapeMismatch(source: source, name: name, expected: shape, stored: tensor.shape)
        }
        let values: [Element]
        switch (tensor.dtype, Element.self == Float.self) {
        case (.f32, true): values = try tensor.floats().map { Element($0) }
        case (.f64, false): values = try tensor.doubles().map { Element($0) }
        default:
          throw CheckpointError.dtypeMismatch(source: source, name: name, stored: tensor.dtype.rawValue, expected: wanted == "float" ? "F32" : "F64")
        }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
          throw CheckpointError.nonFiniteValue(source: source, name: name, index: bad)
        }
        if let lower = p.lowerBound, let bad = values.firstIndex(where: { $0 < lower }) {
          throw CheckpointError.valueBelowFloor(source: source, name: name, index: bad, value: "\(values[bad])", floor: "\(lower)")
        }
        try p.assign(Matrix(rows: shape[0], columns: shape[1], elements: values))
      }
    }
    // Files written by older versions may hold zero tensors besides a layer's parameters
    // (a bias-free Dense layer's zero bias row); such a tensor is read and dropped.
    for (i, layer) in s.architecture.layers.enumerated() {
      for (name, shape) in try declaredShapes(of: layer, Element.self)?.legacyZeroTensors ?? [] {
        guard let tensor = file.tensors["layers.\(i).\(name)"], tensor.shape == shape else { continue }
        let values = tensor.dtype == .f32 ? try tensor.floats().map(Double.init) : try tensor.doubles()
        guard values.allSatisfy({ $0 == 0 }) else { continue }
        expected.insert("layers.\(i).\(name)")
      }
    }
    // A resumable checkpoint's training state, checked with the other tensors above, is not
    // the model's.
    let resumable = s.metadata[resumeStateKey] != nil
    if let extra = file.names.first(where: {
      !expected.contains($0) && !(resumable && ($0.hasPrefix("optimizer.") || $0.hasPrefix("training.")))
    }) {
      throw CheckpointError.unexpectedTensor(source: source, name: extra)
    }
    return (model, s.metadata)
  }
}

extension JSONEncoder {
  static var sorted: JSONEncoder {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    return e
  }
}
