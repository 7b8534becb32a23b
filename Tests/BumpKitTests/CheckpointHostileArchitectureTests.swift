import BumpKit
import Foundation
import Testing
import BumpTestSupport

/// Hand-made checkpoints whose architecture is hostile: nested `sequential` layers that
/// declare sizes no tensor backs, and architectures too long or too deep to decode cheaply.
/// Each would have allocated gigabytes, or taken seconds, before its fix.
@Suite struct CheckpointHostileArchitectureTests {
  /// A scratch folder, removed with the value.
  final class Folder {
    private let folder: TemporaryFolder
    init() throws { folder = try TemporaryFolder(prefix: "bumpkit-hostile-architecture") }
    func file(_ name: String) -> String { folder.path(name) }
    func entries() throws -> [String] { try folder.entries() }
  }

  /// A float checkpoint with `layers` as its architecture on `inputs` features and `tensors`
  /// (name → shape, zero-filled F32) as its tensors, written to `path`.
  static func writeCheckpoint(
    _ path: String, inputs: Int, layers: [LayerConfiguration], tensors: KeyValuePairs<String, [Int]>
  ) throws {
    let architecture = Checkpoint.Architecture(inputSize: inputs, layers: layers)
    var file = SafetensorsFile(metadata: [
      "format": Checkpoint.format, "format_version": Checkpoint.formatVersion, "precision": "float",
      "architecture": String(decoding: try JSONEncoder().encode(architecture), as: UTF8.self),
    ])
    for (name, shape) in tensors {
      try file.insert(
        SafetensorsFile.Tensor([Float](repeating: 0.5, count: shape.reduce(1, *)), shape: shape),
        named: name)
    }
    try file.write(to: path)
  }

  /// The `CheckpointError` that `body` throws, or nil (recording an issue).
  static func checkpointError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> CheckpointError? {
    thrownError(CheckpointError.self, sourceLocation: sourceLocation, body)
  }

  static let dense23 = LayerConfiguration.dense(DenseConfiguration(inputSize: 2, outputSize: 3))

  @Test func aNestedSequentialLoadsAndPredictsAsTheFlatModel() throws {
    let folder = try Folder()
    let path = folder.file("nested.safetensors")
    try Self.writeCheckpoint(
      path, inputs: 2, layers: [.sequential([.sequential([Self.dense23, .relu])]), .tanh],
      tensors: ["layers.0.weight": [2, 3], "layers.0.bias": [1, 3]])
    let (model, _) = try Checkpoint.load(Float.self, from: path)
    #expect(model.inputSize == 2 && model.outputSize == 3)
    // Every weight and bias 0.5: inputs (1, 2) give tanh(relu(0.5 + 1 + 0.5)) = tanh(2).
    let y = try model.predict(Matrix(rows: 1, columns: 2, elements: [1, 2]))
    #expect(y.elements.allSatisfy { abs(Double($0) - tanh(2.0)) < 1e-6 }, "\(y.elements)")
  }

  /// 40 GB of weights declared inside a nested layer of an 8 KB file (it aborted `bump
  /// inspect`, `predict` and `evaluate`).
  @Test func aNestedLayerIsCheckedAgainstTheTensorsBeforeAnythingIsBuilt() throws {
    let folder = try Folder()
    let path = folder.file("lying.safetensors")
    let huge = LayerConfiguration.dense(DenseConfiguration(inputSize: 2, outputSize: 100_000_000))
    try Self.writeCheckpoint(
      path, inputs: 2, layers: [.sequential([.relu, .sequential([huge])])],
      tensors: ["layers.0.weight": [2, 3], "layers.0.bias": [1, 3]])
    for read in [{ _ = try Checkpoint.load(Float.self, from: path) }, { _ = try Checkpoint.header(at: path) }] {
      let error = try #require(Self.checkpointError(read))
      #expect(
        error == .notACheckpoint(
          source: path, reason: "layer 0.1.0 (dense) outputSize is 100000000, a width no tensor in the file has"))
    }
    // A width that tensors do show, in the wrong tensor, is a shape mismatch.
    let misshapen = folder.file("misshapen.safetensors")
    try Self.writeCheckpoint(
      misshapen, inputs: 2, layers: [.sequential([Self.dense23])],
      tensors: ["layers.0.weight": [2, 4], "layers.0.bias": [1, 3]])
    #expect(
      Self.checkpointError { _ = try Checkpoint.load(Float.self, from: misshapen) }
        == .tensorShapeMismatch(source: misshapen, name: "layers.0.weight", expected: [2, 3], stored: [2, 4]))
    // Widths chain through nested layers as through flat ones.
    let unchained = folder.file("unchained.safetensors")
    try Self.writeCheckpoint(
      unchained, inputs: 2, layers: [.sequential([Self.dense23]), .dense(DenseConfiguration(inputSize: 2, outputSize: 3))],
      tensors: ["layers.0.weight": [2, 3], "layers.0.bias": [1, 3], "layers.1.weight": [2, 3], "layers.1.bias": [1, 3]])
    #expect(
      Self.checkpointError { _ = try Checkpoint.header(at: unchained) }
        == .notACheckpoint(source: unchained, reason: "layer 1 (dense) takes 2 inputs, the layer before gives 3"))
  }

  @Test func theLayerCountIsBoundedWhileDecoding() throws {
    let folder = try Folder()
    let tensors: KeyValuePairs<String, [Int]> = ["layers.0.weight": [2, 3], "layers.0.bias": [1, 3]]
    let atLimit = folder.file("at-limit.safetensors")
    let activations = [LayerConfiguration](repeating: .relu, count: Checkpoint.maximumLayerCount - 2)
    try Self.writeCheckpoint(atLimit, inputs: 2, layers: [Self.dense23, .sequential(activations)], tensors: tensors)
    #expect(try Checkpoint.header(at: atLimit).architecture.layers.count == 2)
    let over = folder.file("over.safetensors")
    try Self.writeCheckpoint(over, inputs: 2, layers: [Self.dense23, .sequential(activations + [.tanh])], tensors: tensors)
    let error = try #require(Self.checkpointError { _ = try Checkpoint.load(Float.self, from: over) })
    #expect(
      error == .notACheckpoint(
        source: over,
        reason: "the architecture has more than 10000 layers (counting those inside nested sequential layers), the most a checkpoint may hold"))
  }

  @Test func theNestingDepthIsBounded() throws {
    let folder = try Folder()
    func nested(_ depth: Int) -> LayerConfiguration {
      (0..<depth).reduce(Self.dense23) { inner, _ in .sequential([inner]) }
    }
    let tensors: KeyValuePairs<String, [Int]> = ["layers.0.weight": [2, 3], "layers.0.bias": [1, 3]]
    let deepest = folder.file("deepest.safetensors")
    try Self.writeCheckpoint(deepest, inputs: 2, layers: [nested(Checkpoint.maximumNestingDepth)], tensors: tensors)
    #expect(try Checkpoint.load(Float.self, from: deepest).model.outputSize == 3)
    let deeper = folder.file("deeper.safetensors")
    try Self.writeCheckpoint(deeper, inputs: 2, layers: [nested(Checkpoint.maximumNestingDepth + 1)], tensors: tensors)
    #expect(
      Self.checkpointError { _ = try Checkpoint.summary(at: deeper) }
        == .notACheckpoint(
          source: deeper, reason: "the architecture nests sequential layers more than 8 deep, the most a checkpoint may hold"))
  }

  @Test func savingRefusesAModelWithMoreLayersThanReadersAccept() throws {
    let folder = try Folder()
    let path = folder.file("long.safetensors")
    let layers: [any Layer<Float>] =
      [try Dense(inputSize: 2, outputSize: 2)]
      + (0..<Checkpoint.maximumLayerCount).map { _ in ReLU<Float>() }
    let model = try Sequential<Float>(layers: layers)
    let error = try #require(Self.checkpointError { try Checkpoint.save(model, to: path) })
    #expect(
      error.description
        == "cannot save to \(path): the model has 10001 layers (counting those inside nested Sequential layers), more than the 10000 a checkpoint may hold (Checkpoint.maximumLayerCount); a checkpoint that large could not be read back")
    #expect(try folder.entries().isEmpty)
    let fits = try Sequential<Float>(layers: Array(layers.dropLast()))
    try Checkpoint.save(fits, to: path)
    #expect(try Checkpoint.load(Float.self, from: path).model.layers.count == Checkpoint.maximumLayerCount)
  }

  /// A registered layer whose settings carry a note: its architecture entry is as long as
  /// the note.
  final class Annotated: CheckpointableLayer {
    typealias Element = Float
    static let kind = "test-annotated"
    struct Settings: Codable { var note: String }
    let settings: Settings
    init(settings: Settings) throws { self.settings = settings }
    var parameters: [Parameter<Float>] { [] }
    func outputSize(forInputSize inputSize: Int) throws -> Int { inputSize }
    func forward(_ input: Matrix<Float>) throws -> Matrix<Float> { input }
    func backward(_ outputGradient: Matrix<Float>) throws -> Matrix<Float> { outputGradient }
    func releaseSavedState() {}
  }

  @Test func savingRefusesAnArchitectureLongerThanReadersAccept() throws {
    try LayerRegistry.register(Annotated.self)
    let folder = try Folder()
    let path = folder.file("annotated.safetensors")
    let note = String(repeating: "n", count: Checkpoint.maximumArchitectureLength)
    let model = try Sequential<Float>(layers: [try Dense(inputSize: 2, outputSize: 2), try Annotated(settings: .init(note: note))])
    let error = try #require(Self.checkpointError { try Checkpoint.save(model, to: path) })
    guard case .tooLargeToSave(let what, let limit, let savedTo) = error, savedTo == path else {
      Issue.record("\(error)")
      return
    }
    let length = try #require(what.firstMatch(of: /^the model's architecture would be (\d+) bytes of JSON$/).flatMap { Int($0.1) }, "\(what)")
    #expect(length > note.utf8.count)
    #expect(limit == "the 10485760 bytes a checkpoint may hold (Checkpoint.maximumArchitectureLength)")
    #expect(try folder.entries().isEmpty)
    let short = try Sequential<Float>(layers: [try Dense(inputSize: 2, outputSize: 2), try Annotated(settings: .init(note: "short"))])
    try Checkpoint.save(short, to: path)
    #expect(try Checkpoint.load(Float.self, from: path).model.layers.count == 2)
  }

  /// Very long feature or class names made `bump train` write a header that `predict` then
  /// refused.
  @Test func savingRefusesAHeaderLargerThanReadersAccept() throws {
    let folder = try Folder()
    let path = folder.file("names.safetensors")
    let model = try Sequential<Float>(layers: [try Dense(inputSize: 2, outputSize: 1)])
    let names = String(repeating: "n", count: SafetensorsFile.maximumHeaderLength)
    let error = try #require(
      Self.checkpointError { try Checkpoint.save(model, to: path, metadata: ["feature_names": names]) })
    guard case .tooLargeToSave(let what, let limit, let savedTo) = error, savedTo == path else {
      Issue.record("\(error)")
      return
    }
    #expect(what.contains("its largest metadata entry, \"feature_names\", has 100000000 bytes"), "\(what)")
    #expect(limit == "the 100000000 bytes that readers accept (SafetensorsFile.maximumHeaderLength)")
    #expect(try folder.entries().isEmpty)
    // The file layer itself refuses to write what it would refuse to read.
    var file = SafetensorsFile(metadata: ["names": names])
    try file.insert(SafetensorsFile.Tensor([Float(1)], shape: [1]), named: "w")
    #expect(throws: SafetensorsError.self) { try file.write(to: path) }
    #expect(try folder.entries().isEmpty)
  }
}
