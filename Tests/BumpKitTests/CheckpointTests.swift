@_spi(Testing) import BumpKit
import Foundation
import Testing
import BumpTestSupport

// MARK: - Helpers

/// A fresh, empty directory, removed by `remove()`.
/// A temporary folder for one test (removed by `remove()` or when released).
private typealias CheckpointDirectory = TemporaryFolder

/// A model with every layer kind and every parameter layout, its parameters moved off their
/// initial values (so that a loader that re-initialises would be caught).
private func everyLayerModel<T: MatrixScalar>(_: T.Type = T.self, seed: UInt64 = 1) throws -> Sequential<T> {
  let model = try Sequential<T>(seed: seed) {
    try Dense(inputSize: 3, outputSize: 6)
    try Bump(units: 6, sigma: .perUnit(.uniform(0.5, 2)), center: .perUnit(.uniform(-0.3, 0.3)), amplitude: .shared(.constant(1.2)), sigmaFloor: 0.003)
    ReLU()
    try Dense(inputSize: 6, outputSize: 4, weightInitializer: .orthogonal(gain: 1), biasInitializer: .constant(0.1))
    try Bump(units: 4, sigma: .fixed(3), center: .shared(.constant(0.1)), amplitude: .perUnit(.constant(0.9), trainable: false))
    Tanh()
    try Dense(inputSize: 4, outputSize: 4, useBias: false)
    Sigmoid()
    try Gaussian()
    try Dense(inputSize: 4, outputSize: 2)
  }
  var generator = SeededGenerator(seed: seed &+ 100)
  for p in model.parameters where p.isTrainable {
    var v = p.value
    for i in 0..<v.rows {
      for j in 0..<v.columns { v[i, j] += T(0.05 * generator.nextNormal()) }
    }
    try p.assign(v)
    p.project()
  }
  return model
}

/// Runs `body`, which must throw a `CheckpointError`, and returns it (recording an issue otherwise).
private func checkpointError(
  _ label: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> CheckpointError? {
  thrownError(CheckpointError.self, label, sourceLocation: sourceLocation, body)
}

private struct InterruptedWrite: Error {}

// MARK: - Tests

@Suite("Model checkpoints")
struct CheckpointTests {
  // MARK: Round trip

  @Test("save → load gives the same architecture, parameters, trainability, metadata and predictions")
  func roundTrip() throws {
    try checkRoundTrip(Float.self)
    try checkRoundTrip(Double.self)
  }

  private func checkRoundTrip<T: MatrixScalar>(_: T.Type) throws {
    let directory = try CheckpointDirectory()
    defer { directory.remove() }
    let path = directory.path + "/model.safetensors"
    let model: Sequential<T> = try everyLayerModel()
    let metadata = ["note": "héllo \"quoted\" \\ and\nnewline", "features": #"["x0","x1","x2"]"#]
    try Checkpoint.save(model, to: path, metadata: metadata)
    #expect(try directory.entries() == ["model.safetensors"])

    let (loaded, loadedMetadata) = try Checkpoint.load(T.self, from: path)
    #expect(loaded.inputSize == model.inputSize && loaded.outputSize == model.outputSize)
    #expect(loaded.configuration == model.configuration)
    #expect(parameterBits(loaded) == parameterBits(model), "\(T.self): parameters differ")
    #expect(loaded.parameters.map(\.isTrainable) == model.parameters.map(\.isTrainable))
    #expect(loaded.parameters.map(\.name) == model.parameters.map(\.name))
    #expect(loaded.parameterCount == model.parameterCount)
    #expect((loaded.layers[1] as? Bump<T>)?.sigmaFloor == T(0.003))
    for (key, value) in metadata { #expect(loadedMetadata[key] == value, "metadata \(key)") }
    #expect(loadedMetadata["format"] == Checkpoint.format)
    #expect(loadedMetadata["format_version"] == Checkpoint.formatVersion)
    #expect(loadedMetadata["precision"] == (T.self == Float.self ? "float" : "double"))

    let x: Matrix<T> = seededMatrix(50, 3, seed: 2, in: (-2, 2))
    #expect(elementBits(try loaded.predict(x)) == elementBits(try model.predict(x)), "\(T.self): predictions differ")

    // The summary reads the same description without choosing a precision.
    let summary = try Checkpoint.summary(at: path)
    #expect(summary.precision == (T.self == Float.self ? "float" : "double"))
    #expect(summary.architecture.inputSize == 3)
    #expect(.sequential(summary.architecture.layers) == model.configuration)
    let expectedTensors = model.layers.enumerated().flatMap { i, layer in
      layer.parameters.map { ("layers.\(i).\($0.name)", [$0.value.rows, $0.value.columns]) }
    }
    #expect(Set(summary.tensors.map(\.name)) == Set(expectedTensors.map(\.0)))
    for (name, shape) in expectedTensors {
      #expect(summary.tensors.first { $0.name == name }?.shape == shape, "\(name)")
    }

    // The loaded model trains on: it is a complete model, not a read-only copy.
    let y: Matrix<T> = seededMatrix(50, 2, seed: 3)
    try loaded.fit(x: x, y: y, loss: MeanSquaredError(), optimizer: SGD(learningRate: 0.01), epochs: 1, batchSize: 10)
    #expect(parameterBits(loaded) != parameterBits(model))

    // Saving the loaded-then-trained model over the file replaces it.
    try Checkpoint.save(loaded, to: path)
    #expect(parameterBits(try Checkpoint.load(T.self, from: path).model) == parameterBits(loaded))
  }

  @Test("loading another precision than the stored one is precisionMismatch")
  func precisionMismatch() throws {
    let directory = try CheckpointDirectory()
    defer { directory.remove() }
    let floatPath = directory.path + "/float.safetensors", doublePath = directory.path + "/double.safetensors"
    try Checkpoint.save(everyLayerModel(Float.self), to: floatPath)
    try Checkpoint.save(everyLayerModel(Double.self), to: doublePath)
    let e1 = checkpointError("float as double") { _ = try Checkpoint.load(Double.self, from: floatPath) }
    #expect(e1 == .precisionMismatch(source: floatPath, stored: "float", requested: "double"))
    let e2 = checkpointError("double as float") { _ = try Checkpoint.load(Float.self, from: doublePath) }
    #expect(e2 == .precisionMismatch(source: doublePath, stored: "double", requested: "float"))
    #expect(e1.map { String(describing: $0) }?.contains("float") == true)
  }

  // MARK: Bad files

  /// Encodes `model`, lets `edit` damage the file, and loads it back through encode/decode.
  private func loadEdited<T: MatrixScalar>(
    _ model: Sequential<T>, _ label: String, _ edit: (inout SafetensorsFile) throws -> Void
  ) -> CheckpointError? {
    checkpointError(label) {
      var file = try Checkpoint.encode(model)
      try edit(&file)
      let decoded = try SafetensorsFile.decode(file.encode())
      _ = try Checkpoint.load(T.self, file: decoded, source: "bad.safetensors")
    }
  }

  @Test("missing, extra, misshapen, mistyped and non-finite tensors are clear CheckpointErrors")
  func badTensors() throws {
    let model: Sequential<Float> = try everyLayerModel()
    // layers.0.weight is 3×6, layers.1.sigma 1×6.
    var error = loadEdited(model, "missing tensor") { $0.removeTensor(named: "layers.1.sigma") }
    #expect(error == .missingTensor(source: "bad.safetensors", name: "layers.1.sigma"))
    #expect(error.map { "\($0)" }?.contains("layers.1.sigma") == true)

    error = loadEdited(model, "extra tensor") { try $0.insert(.init([Float](repeating: 0, count: 6), shape: [1, 6]), named: "layers.2.bias") }
    #expect(error == .unexpectedTensor(source: "bad.safetensors", name: "layers.2.bias"))
    #expect(error.map { "\($0)" }?.contains("layers.2.bias") == true)

    error = loadEdited(model, "transposed weight") { file in
      try file.insert(.init(file["layers.0.weight"]!.floats(), shape: [6, 3]), named: "layers.0.weight")
    }
    #expect(error == .tensorShapeMismatch(source: "bad.safetensors", name: "layers.0.weight", expected: [3, 6], stored: [6, 3]))
    error = loadEdited(model, "flat weight") { file in
      try file.insert(.init(file["layers.0.weight"]!.floats(), shape: [18]), named: "layers.0.weight")
    }
    #expect(error == .tensorShapeMismatch(source: "bad.safetensors", name: "layers.0.weight", expected: [3, 6], stored: [18]))
    #expect(error.map { "\($0)" }?.contains("[18]") == true)

    error = loadEdited(model, "F64 in a float file") { file in
      try file.insert(.init(file["layers.0.bias"]!.floats().map { Double($0) }, shape: [1, 6]), named: "layers.0.bias")
    }
    #expect(error == .dtypeMismatch(source: "bad.safetensors", name: "layers.0.bias", stored: "F64", expected: "F32"))
    error = loadEdited(model, "F16 in a float file") { file in
      try file.insert(.init(dtype: .f16, shape: [1, 6], data: [UInt8](repeating: 0, count: 12)), named: "layers.0.bias")
    }
    #expect(error == .dtypeMismatch(source: "bad.safetensors", name: "layers.0.bias", stored: "F16", expected: "F32"))
    let doubleModel: Sequential<Double> = try everyLayerModel()
    error = loadEdited(doubleModel, "F32 in a double file") { file in
      try file.insert(.init(file["layers.3.weight"]!.doubles().map { Float($0) }, shape: [6, 4]), named: "layers.3.weight")
    }
    #expect(error == .dtypeMismatch(source: "bad.safetensors", name: "layers.3.weight", stored: "F32", expected: "F64"))

    for (index, value) in [(2, Float.nan), (5, Float.infinity), (0, -Float.infinity)] {
      error = loadEdited(model, "\(value) in sigma") { file in
        var values = try file["layers.1.sigma"]!.floats()
        values[index] = value
        try file.insert(.init(values, shape: [1, 6]), named: "layers.1.sigma")
      }
      #expect(error == .nonFiniteValue(source: "bad.safetensors", name: "layers.1.sigma", index: index))
    }
    error = loadEdited(doubleModel, "NaN in a double weight") { file in
      var values = try file["layers.9.weight"]!.doubles()
      values[3] = .nan
      try file.insert(.init(values, shape: [4, 2]), named: "layers.9.weight")
    }
    #expect(error == .nonFiniteValue(source: "bad.safetensors", name: "layers.9.weight", index: 3))
  }

  /// The layers reject σ < 0 before any kernel runs (the numeric rules in the "The bump function" article); a checkpoint holding one
  /// is as unusable as one holding NaN, so loading it should fail, naming the tensor, rather
  /// than give a model whose every prediction throws.
  @Test("a negative σ in a checkpoint is rejected when loading")
  func negativeSigmaRejected() throws {
    let model: Sequential<Float> = try everyLayerModel()
    let error = loadEdited(model, "negative σ") { file in
      var values = try file["layers.1.sigma"]!.floats()
      values[4] = -0.25
      try file.insert(.init(values, shape: [1, 6]), named: "layers.1.sigma")
    }
    if let error { #expect("\(error)".contains("layers.1.sigma"), "\(error)") }
  }

  @Test("wrong format, version or precision, and malformed architecture JSON, are notACheckpoint")
  func badMetadata() throws {
    let model: Sequential<Float> = try everyLayerModel()
    func expectNotACheckpoint(_ label: String, mentioning words: [String], _ edit: (inout SafetensorsFile) throws -> Void) {
      let error = loadEdited(model, label, edit)
      guard case .notACheckpoint(let source, let reason)? = error else {
        Issue.record("\(label): expected notACheckpoint, got \(String(describing: error))")
        return
      }
      #expect(source == "bad.safetensors")
      for word in words { #expect(reason.contains(word), "\(label): \(reason)") }
    }
    expectNotACheckpoint("wrong format", mentioning: ["pt"]) { $0.metadata["format"] = "pt" }
    expectNotACheckpoint("no format", mentioning: ["missing"]) { $0.metadata["format"] = nil }
    expectNotACheckpoint("format version 2", mentioning: ["2"]) { $0.metadata["format_version"] = "2" }
    expectNotACheckpoint("no format version", mentioning: ["missing"]) { $0.metadata["format_version"] = nil }
    expectNotACheckpoint("precision half", mentioning: ["half"]) { $0.metadata["precision"] = "half" }
    expectNotACheckpoint("no architecture", mentioning: ["architecture"]) { $0.metadata["architecture"] = nil }
    expectNotACheckpoint("truncated JSON", mentioning: ["architecture"]) { file in
      file.metadata["architecture"] = String(file.metadata["architecture"]!.dropLast(3))
    }
    expectNotACheckpoint("JSON of the wrong shape", mentioning: ["architecture"]) { file in
      file.metadata["architecture"] = #"{"inputFeatures": "three", "layers": {}}"#
    }
    expectNotACheckpoint("input width that disagrees with the layers", mentioning: ["5", "3"]) { file in
      file.metadata["architecture"] = file.metadata["architecture"]!.replacingOccurrences(of: #""inputFeatures":3"#, with: #""inputFeatures":5"#)
    }
    // A file that is not a checkpoint at all.
    let error = checkpointError("a plain safetensors file") {
      let plain = try SafetensorsFile(tensors: ["w": .init([Float(1)], shape: [1])], metadata: ["format": "pt"])
      _ = try Checkpoint.load(Float.self, file: plain)
    }
    if case .notACheckpoint? = error {} else { Issue.record("plain file: \(String(describing: error))") }
  }

  /// An architecture that parses as JSON but cannot be built: an unknown kind, a malformed
  /// setting, layers that do not chain. The file is still not a usable checkpoint, so the
  /// error must be a CheckpointError that names the culprit.
  @Test("an unknown layer kind, a bad setting or non-chaining layers are CheckpointErrors")
  func unbuildableArchitecture() throws {
    let model: Sequential<Float> = try everyLayerModel()
    let cases: [(String, String, String, String)] = [
      ("unknown layer kind", #""kind":"relu""#, #""kind":"conv2d""#, "conv2d"),
      ("units not a number", #""units":"6""#, #""units":"six""#, "six"),
      ("bad parameter layout", #""sigma":"per-unit""#, #""sigma":"per-row""#, "per-row"),
      ("layers that do not chain", #""inputSize":"6","outputSize":"4""#, #""inputSize":"7","outputSize":"4""#, "7"),
    ]
    for (label, from, to, culprit) in cases {
      let error = loadEdited(model, label) { file in
        let text = file.metadata["architecture"]!
        guard text.contains(from) else {
          Issue.record("\(label): the architecture JSON has no \(from): \(text)")
          return
        }
        file.metadata["architecture"] = text.replacingOccurrences(of: from, with: to)
      }
      if let error {
        #expect("\(error)".contains(culprit), "\(label): \(error)")
        #expect("\(error)".contains("bad.safetensors"), "\(label): the message should name the file: \(error)")
      }
    }
  }

  // MARK: Atomic writes

  @Test("an interrupted save leaves the previous checkpoint intact and no temporary file")
  func interruptedSaveKeepsOldFile() throws {
    let directory = try CheckpointDirectory()
    defer { directory.remove() }
    let path = directory.path + "/model.safetensors"
    let old: Sequential<Double> = try everyLayerModel(seed: 1)
    let new: Sequential<Double> = try everyLayerModel(seed: 2)
    #expect(parameterBits(old) != parameterBits(new))
    try Checkpoint.save(old, to: path, metadata: ["run": "old"])
    let oldBytes = try Data(contentsOf: URL(fileURLWithPath: path))

    var hookRan = false
    #expect(throws: InterruptedWrite.self) {
      try Checkpoint.encode(new, metadata: ["run": "new"]).write(to: path) {
        hookRan = true
        // The temporary file is complete at this point, beside the old one.
        #expect(try directory.entries().count == 2)
        throw InterruptedWrite()
      }
    }
    #expect(hookRan)
    #expect(try directory.entries() == ["model.safetensors"], "the temporary file must be removed")
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == oldBytes)
    let (reloaded, metadata) = try Checkpoint.load(Double.self, from: path)
    #expect(parameterBits(reloaded) == parameterBits(old))
    #expect(metadata["run"] == "old")

    // An uninterrupted save replaces it.
    try Checkpoint.save(new, to: path, metadata: ["run": "new"])
    #expect(parameterBits(try Checkpoint.load(Double.self, from: path).model) == parameterBits(new))
    #expect(try directory.entries() == ["model.safetensors"])

    // Saving into a directory that does not exist fails cleanly.
    #expect(throws: SafetensorsError.self) { try Checkpoint.save(new, to: directory.path + "/missing/model.safetensors") }
  }

  // MARK: Python interoperability

  /// numpy computes in float64 from the stored values; Swift in the model's precision. Measured
  /// largest relative differences: 1.1e-7 (Float) and 2.2e-16 (Double); allowed 4e-6 and 1e-13.
  @Test("Python reads our checkpoints, checks them against the architecture and computes the same outputs")
  func pythonComputesOurModel() throws {
    try PythonScript.requireSafetensors(for: "the checkpoint interop tests")
    try checkPythonForward(Float.self, tolerance: 4e-6)
    try checkPythonForward(Double.self, tolerance: 1e-13)
  }

  private func checkPythonForward<T: MatrixScalar>(_: T.Type, tolerance: Double) throws {
    let directory = try CheckpointDirectory()
    defer { directory.remove() }
    let model: Sequential<T> = try everyLayerModel(seed: 3)
    let x: Matrix<T> = seededMatrix(64, 3, seed: 4, in: (-2, 2))
    let modelPath = directory.path + "/model.safetensors"
    try Checkpoint.save(model, to: modelPath, metadata: ["note": "from Swift"])
    let expected = try model.predict(x)
    let numpy = try CheckpointPython.forward(modelPath, x, in: directory)
    try #require(numpy.rows == expected.rows && numpy.columns == expected.columns, "numpy gave \(numpy.rows)×\(numpy.columns)")
    let worst = CheckpointPython.largestDifference(expected, numpy)
    #expect(worst <= tolerance, "\(T.self): Swift and numpy differ by \(worst)")
    #expect(expected.elements.contains { $0 != 0 })
  }

  @Test("Python's checker rejects a checkpoint whose tensors disagree with the architecture")
  func pythonChecksTheArchitecture() throws {
    try PythonScript.requireSafetensors(for: "the checkpoint interop tests")
    let directory = try CheckpointDirectory()
    defer { directory.remove() }
    let model: Sequential<Float> = try everyLayerModel()
    var file = try Checkpoint.encode(model)
    file.removeTensor(named: "layers.4.center")
    let path = directory.path + "/broken.safetensors"
    try file.write(to: path)
    let inputs = directory.path + "/x.safetensors"
    try SafetensorsFile(tensors: ["x": .init([Float](repeating: 0, count: 3), shape: [1, 3])]).write(to: inputs)
    let result = try CheckpointPython.script.run(["forward", path, inputs, directory.path + "/y.safetensors"])
    #expect(result.status != 0)
    #expect(result.output.contains("layers.4.center"), "\(result.output)")
  }

  @Test("a checkpoint written by Python with modified weights loads here and predicts what numpy computes")
  func weLoadPythonCheckpoints() throws {
    try PythonScript.requireSafetensors(for: "the checkpoint interop tests")
    try checkPythonWritten(Float.self, tolerance: 4e-6)
    try checkPythonWritten(Double.self, tolerance: 1e-13)
  }

  private func checkPythonWritten<T: MatrixScalar>(_: T.Type, tolerance: Double) throws {
    let directory = try CheckpointDirectory()
    defer { directory.remove() }
    let original: Sequential<T> = try everyLayerModel(seed: 5)
    let ours = directory.path + "/ours.safetensors", theirs = directory.path + "/theirs.safetensors"
    try Checkpoint.save(original, to: ours, metadata: ["note": "round trip through Python"])
    let rewrite = try CheckpointPython.script.run(["rewrite", ours, theirs])
    try #require(rewrite.status == 0, "checkpoint_interop.py rewrite failed:\n\(rewrite.output)")

    let (loaded, metadata) = try Checkpoint.load(T.self, from: theirs)
    #expect(metadata["note"] == "round trip through Python")
    #expect(loaded.configuration == original.configuration)
    // Every value is the script's transformation of ours, rounded once to T.
    for (i, layer) in original.layers.enumerated() {
      for (p, q) in zip(layer.parameters, loaded.layers[i].parameters) {
        let scaled = p.name == "sigma" || p.name == "width"
        let expected = p.value.elements.map { T(scaled ? Double($0) * 1.5 : Double($0) * 0.75 + 0.05) }
        #expect(q.value.elements == expected, "layers.\(i).\(p.name)")
      }
    }
    let x: Matrix<T> = seededMatrix(64, 3, seed: 6, in: (-2, 2))
    let swift = try loaded.predict(x)
    let numpy = try CheckpointPython.forward(theirs, x, in: directory)
    let worst = CheckpointPython.largestDifference(swift, numpy)
    #expect(worst <= tolerance, "\(T.self): Swift and numpy differ by \(worst) on the Python-written model")
    #expect(CheckpointPython.largestDifference(swift, try original.predict(x)) > 100 * tolerance, "the weights were modified")
  }
}

// MARK: - Python helpers

private enum CheckpointPython {
  static let script = PythonScript("checkpoint_interop.py")

  /// numpy's forward pass of the checkpoint at `modelPath` on `x`, in Double.
  static func forward<T: MatrixScalar>(_ modelPath: String, _ x: Matrix<T>, in directory: CheckpointDirectory) throws -> Matrix<Double> {
    let inputs = directory.path + "/inputs-\(UUID().uuidString).safetensors"
    let outputs = directory.path + "/outputs-\(UUID().uuidString).safetensors"
    let tensor: SafetensorsFile.Tensor =
      T.self == Float.self
      ? try .init(x.elements.map { Float($0) }, shape: [x.rows, x.columns])
      : try .init(x.elements.map { Double($0) }, shape: [x.rows, x.columns])
    try SafetensorsFile(tensors: ["x": tensor]).write(to: inputs)
    let result = try script.run(["forward", modelPath, inputs, outputs])
    try #require(result.status == 0, "checkpoint_interop.py forward failed:\n\(result.output)")
    let y = try #require(try SafetensorsFile.read(from: outputs)["y"])
    try #require(y.shape.count == 2)
    return try Matrix(rows: y.shape[0], columns: y.shape[1], elements: y.doubles())
  }

  /// max |a − b| / max(1, |b|) over all elements.
  static func largestDifference<T: MatrixScalar>(_ a: Matrix<T>, _ b: Matrix<Double>) -> Double {
    zip(a.elements, b.elements).reduce(0) { max($0, abs(Double($1.0) - $1.1) / max(1, abs($1.1))) }
  }

  static func largestDifference<T: MatrixScalar>(_ a: Matrix<T>, _ b: Matrix<T>) -> Double {
    largestDifference(a, Matrix<Double>(rows: b.rows, columns: b.columns, elementsOf: b))
  }
}

extension Matrix where Element == Double {
  /// `other` widened to Double.
  fileprivate init<T: MatrixScalar>(rows: Int, columns: Int, elementsOf other: Matrix<T>) {
    self.init(validRows: rows, columns: columns)
    for i in 0..<rows {
      for j in 0..<columns { self[i, j] = Double(other[i, j]) }
    }
  }
}
