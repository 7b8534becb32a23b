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
