import BumpKit
import Foundation
import Testing

/// A checkpoint is judged by its header before its data is read: the files here have data
/// regions of 64 GiB (sparse, so they cost no disk), which no test machine could read into
/// memory; each call returning at all shows that the data was not read.
@Suite struct CheckpointHeaderFirstTests {
  typealias Folder = CheckpointHostileArchitectureTests.Folder

  static let dataBytes = 1 << 36  // 64 GiB

  /// Writes a safetensors file with `metadata` and one F32 tensor `name` of `shape` whose
  /// data (zeros) fills the rest of a file extended to `dataBytes` of data by truncation.
  static func writeSparse(_ path: String, metadata: [String: String], name: String, shape: [Int]) throws {
    let metadataJSON = String(decoding: try JSONEncoder().encode(metadata), as: UTF8.self)
    var header = Array(
      "{\"__metadata__\":\(metadataJSON),\"\(name)\":{\"dtype\":\"F32\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[0,\(dataBytes)]}}".utf8)
    header += repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8)
    let bytes = withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init) + header
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    try handle.truncate(atOffset: UInt64(bytes.count + dataBytes))
    try handle.close()
  }

  /// One tensor of a hand-made file: its bytes, or nil for zeros left as a sparse hole (so
  /// that a tensor of gigabytes costs no disk).
  struct RawTensor {
    var name: String
    var dtype: SafetensorsFile.DType
    var shape: [Int]
    var bytes: [UInt8]?
  }

  /// Writes a safetensors file with `metadata` and `tensors`, their data in the given order:
  /// a hand-made header, the given bytes, and the file extended by truncation over the rest.
  static func writeRaw(_ path: String, metadata: [String: String], tensors: [RawTensor]) throws {
    var entries = ["\"__metadata__\":" + String(decoding: try JSONEncoder().encode(metadata), as: UTF8.self)]
    var offsets: [Int] = []
    var end = 0
    for t in tensors {
      offsets.append(end)
      let length = t.shape.reduce(t.dtype.byteSize, *)
      entries.append(
        "\"\(t.name)\":{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":\(t.shape),\"data_offsets\":[\(end),\(end + length)]}")
      end += length
    }
    var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
    header += repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8)
    let start = 8 + header.count
    try Data(withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init) + header)
      .write(to: URL(fileURLWithPath: path))
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    for (t, offset) in zip(tensors, offsets) {
      guard let bytes = t.bytes else { continue }
      try handle.seek(toOffset: UInt64(start + offset))
      try handle.write(contentsOf: bytes)
    }
    try handle.truncate(atOffset: UInt64(start + end))
    try handle.close()
  }

  /// The tensors of `file`, in its order, with their bytes.
  static func rawTensors(of file: SafetensorsFile) -> [RawTensor] {
    file.names.compactMap { name in
      file[name].map { RawTensor(name: name, dtype: $0.dtype, shape: $0.shape, bytes: $0.data) }
    }
  }

  /// A valid float checkpoint of `dense(2 → 3)` with its tensors (weight and bias, 0.5 each).
  static func dense23() throws -> (metadata: [String: String], tensors: [RawTensor]) {
    let model = try Sequential<Float>(layers: [try Dense(inputSize: 2, outputSize: 3)])
    let file = try Checkpoint.encode(model)
    return (file.metadata, rawTensors(of: file))
  }

  /// 64 GiB of F32 zeros, as a sparse hole.
  static let hugeTensor = RawTensor(name: "extra", dtype: .f32, shape: [16, 1 << 30], bytes: nil)

  /// A valid checkpoint plus one tensor that is no parameter of its architecture: its data
  /// was read (up to a quarter of the memory) before the tensor was found unused.
  @Test func aTensorThatIsNoParameterIsRefusedFromTheHeader() throws {
    let folder = try Folder()
    let (metadata, tensors) = try Self.dense23()
    let small = folder.file("small-extra.safetensors")
    try Self.writeRaw(
      small, metadata: metadata,
      tensors: tensors + [RawTensor(name: "extra", dtype: .f32, shape: [1], bytes: [0, 0, 0, 0])])
    let path = folder.file("extra.safetensors")
    // Before the parameters or after them: the data is not read either way.
    let before = folder.file("extra-first.safetensors")
    try Self.writeRaw(path, metadata: metadata, tensors: tensors + [Self.hugeTensor])
    try Self.writeRaw(before, metadata: metadata, tensors: [Self.hugeTensor] + tensors)
    for file in [small, path, before] {
      let expected = CheckpointError.unexpectedTensor(source: file, name: "extra")
      #expect(throws: expected) { _ = try Checkpoint.header(at: file) }
      #expect(throws: expected) { _ = try Checkpoint.summary(at: file) }
      #expect(throws: expected) { _ = try Checkpoint.load(Float.self, from: file) }
    }
    // Without the extra tensor, the file loads.
    let good = folder.file("good.safetensors")
    try Self.writeRaw(good, metadata: metadata, tensors: tensors)
    #expect(try Checkpoint.header(at: good).dataByteCount == 9 * 4)
    #expect(try Checkpoint.load(Float.self, from: good).model.parameters.count == 2)
  }

  /// A parameter of the right shape in another dtype: F64 in a float checkpoint doubles the
  /// data that the architecture accounts for.
  @Test func aParameterOfAnotherDTypeIsRefusedFromTheHeader() throws {
    let folder = try Folder()
    let path = folder.file("f64.safetensors")
    try Self.writeRaw(
      path, metadata: Self.wideDenseMetadata,
      tensors: [RawTensor(name: "layers.0.weight", dtype: .f64, shape: [2, 1 << 33], bytes: nil)])
    let expected = CheckpointError.dtypeMismatch(
      source: path, name: "layers.0.weight", stored: "F64", expected: "F32")
    #expect(throws: expected) { _ = try Checkpoint.header(at: path) }
    #expect(throws: expected) { _ = try Checkpoint.load(Float.self, from: path) }
  }

  /// A layer kind that nothing registered rebuilds: no tensor can be its parameter, so its
  /// tensors are not read.
  @Test func aLayerOfAnUnknownKindIsRefusedFromTheHeader() throws {
    let folder = try Folder()
    let path = folder.file("conv.safetensors")
    var (metadata, tensors) = try Self.dense23()
    metadata["architecture"] =
      #"{"inputFeatures":2,"layers":[{"kind":"dense","settings":{"inputSize":"2","outputSize":"3","useBias":"true"}},{"kind":"conv2d","settings":{}}]}"#
    tensors.append(RawTensor(name: "layers.1.kernel", dtype: .f32, shape: [16, 1 << 30], bytes: nil))
    try Self.writeRaw(path, metadata: metadata, tensors: tensors)
    let expected = CheckpointError.notACheckpoint(
      source: path,
      reason: "layer 1 has kind \"conv2d\", which no layer registered for float precision rebuilds (built-in kinds: bump, dense, gaussian, radialBump, relu, sigmoid, tanh, sequential)")
    #expect(throws: expected) { _ = try Checkpoint.header(at: path) }
    #expect(throws: expected) { _ = try Checkpoint.load(Float.self, from: path) }
  }

  /// The zero bias row that older files of a bias-free Dense layer hold is still read (and
  /// dropped); of another shape it is a tensor of no parameter, refused from the header.
  @Test func anOlderBiasFreeDenseFileStillLoads() throws {
    let folder = try Folder()
    let model = try Sequential<Float>(layers: [try Dense(inputSize: 2, outputSize: 3, useBias: false)])
    let file = try Checkpoint.encode(model)
    let zeros = [UInt8](repeating: 0, count: 12)
    let older = folder.file("older.safetensors")
    try Self.writeRaw(
      older, metadata: file.metadata,
      tensors: Self.rawTensors(of: file) + [RawTensor(name: "layers.0.bias", dtype: .f32, shape: [1, 3], bytes: zeros)])
    #expect(try Checkpoint.load(Float.self, from: older).model.parameters.count == 1)
    let misshapen = folder.file("misshapen.safetensors")
    try Self.writeRaw(
      misshapen, metadata: file.metadata,
      tensors: Self.rawTensors(of: file) + [RawTensor(name: "layers.0.bias", dtype: .f32, shape: [3, 1 << 30], bytes: nil)])
    #expect(throws: CheckpointError.unexpectedTensor(source: misshapen, name: "layers.0.bias")) {
      _ = try Checkpoint.header(at: misshapen)
    }
  }

  /// A language model's shard: a valid safetensors file, not a BumpKit checkpoint. Reading it
  /// whole first cost twice its size in memory.
  @Test func aSafetensorsFileThatIsNotACheckpointIsRefusedFromItsHeader() throws {
    let folder = try Folder()
    let path = folder.file("model-00001-of-00002.safetensors")
    try Self.writeSparse(
      path, metadata: ["format": "pt"], name: "model.embed_tokens.weight", shape: [16, 1 << 30])
    let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber
    #expect((size?.intValue ?? 0) > Self.dataBytes)
    let expected = CheckpointError.notACheckpoint(
      source: path, reason: "metadata format is \"pt\", expected \"bumpkit.sequential\"")
    #expect(throws: expected) { _ = try Checkpoint.header(at: path) }
    #expect(throws: expected) { _ = try Checkpoint.summary(at: path) }
    #expect(throws: expected) { _ = try Checkpoint.load(Float.self, from: path) }
    #expect(throws: expected) { _ = try Checkpoint.load(Double.self, from: path) }
  }

  /// A BumpKit checkpoint in the other precision is refused before its data is read too.
  @Test func aCheckpointOfTheOtherPrecisionIsRefusedFromItsHeader() throws {
    let folder = try Folder()
    let path = folder.file("wide.safetensors")
    try Self.writeSparse(path, metadata: Self.wideDenseMetadata, name: "layers.0.weight", shape: [2, 1 << 33])
    #expect(throws: CheckpointError.precisionMismatch(source: path, stored: "float", requested: "double")) {
      _ = try Checkpoint.load(Double.self, from: path)
    }
  }

  /// `dense(2 → 2³³)` without bias, in float: its one tensor is 64 GiB.
  static let wideDenseMetadata: [String: String] = [
    "format": Checkpoint.format, "format_version": Checkpoint.formatVersion, "precision": "float",
    "architecture":
      #"{"inputFeatures":2,"layers":[{"kind":"dense","settings":{"inputSize":"2","outputSize":"8589934592","useBias":"false"}}]}"#,
  ]

  /// The header alone tells what loading would read, so that a caller can refuse it.
  @Test func theHeaderOfACheckpointIsReadWithoutItsData() throws {
    let folder = try Folder()
    let path = folder.file("wide.safetensors")
    try Self.writeSparse(path, metadata: Self.wideDenseMetadata, name: "layers.0.weight", shape: [2, 1 << 33])
    let header = try Checkpoint.header(at: path)
    #expect(header.precision == "float")
    #expect(header.dataByteCount == Self.dataBytes)
    #expect(header.tensors.map(\.name) == ["layers.0.weight"])
    #expect(header.tensors.map(\.shape) == [[2, 1 << 33]])
    #expect(header.architecture.layers == [.dense(DenseConfiguration(inputSize: 2, outputSize: 1 << 33, useBias: false))])
  }
}
