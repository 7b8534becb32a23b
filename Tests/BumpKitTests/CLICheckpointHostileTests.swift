import BumpKit
import Foundation
import Testing
import BumpTestSupport

/// Hostile checkpoints given to `bump inspect`, `predict` and `evaluate`, run as a
/// subprocess: each is refused with exit status 1 and a message naming the file, where it
/// used to abort (a failed allocation) or pass with exit status 0.
@Suite struct CLICheckpointHostileTests {
  typealias Hostile = BumpExecutable
  typealias Scratch = TemporaryFolder

  /// Every command that reads a checkpoint, on `path`, with a small data file.
  static func commands(_ path: String) -> [[String]] {
    [
      ["inspect", path], ["predict", "--model", path, "--data", "-"],
      ["evaluate", "--model", path, "--data", "-"],
    ]
  }

  static let ringsCSV = "x0,x1,ring\n0.1,0.2,inner\n0.5,0.1,outer\n"

  /// Runs every command of ``commands(_:)`` on `path` and expects each to fail with status 1
  /// and exactly "Error: `path`: `reason`" on standard error. The commands read `stdin` with
  /// `environment` added, or with `underAddressLimit` run under `ulimit -v 1000000` (1 GB of
  /// address space) with no standard input.
  static func expectEveryCommand(
    on path: String, toFailWith reason: String, stdin: String = CLICheckpointHostileTests.ringsCSV, environment: [String: String] = [:],
    underAddressLimit: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    for command in commands(path) {
      let script = "ulimit -v 1000000; exec \"$0\" \"$@\" < /dev/null"
      let result =
        underAddressLimit
        ? try Hostile.run(["/bin/sh", "-c", script, "BUMP"] + command, shell: true)
        : try Hostile.run(command, stdin: stdin, environment: environment)
      #expect(result.status == 1, "\(command): \(result.stderr)", sourceLocation: sourceLocation)
      #expect(result.stderr == "Error: \(path): \(reason)\n", "\(command)", sourceLocation: sourceLocation)
    }
  }

  /// A trained rings classifier's checkpoint (layers dense, bump, dense), in `scratch`.
  static func trainedModel(in scratch: Scratch, _ extra: [String] = []) throws -> String {
    let run = scratch.path("run")
    let train = try Hostile.run(
      ["train", "--samples", "64", "--epochs", "1", "--layers", "4", "--output", run] + extra)
    #expect(train.status == 0, "\(train.stderr)")
    return run + "/model.safetensors"
  }

  /// An 8 KB file whose first layer, nested inside a `sequential` layer, declares 40 GB of
  /// weights.
  @Test func aNestedLayerThatLiesAboutItsSizeIsRefused() throws {
    let scratch = try Scratch()
    var file = try SafetensorsFile.read(from: try Self.trainedModel(in: scratch))
    var architecture = try JSONDecoder().decode(
      Checkpoint.Architecture.self, from: Data(try #require(file.metadata["architecture"]).utf8))
    architecture.layers[0] = .sequential([
      .sequential([.dense(DenseConfiguration(inputSize: 2, outputSize: 100_000))]),
      .dense(DenseConfiguration(inputSize: 100_000, outputSize: 100_000)),
    ])
    file.metadata["architecture"] = String(decoding: try JSONEncoder().encode(architecture), as: UTF8.self)
    let path = scratch.path("nested.safetensors")
    try file.write(to: path)
    try Self.expectEveryCommand(
      on: path,
      toFailWith: "not a BumpKit checkpoint: layer 0.0.0 (dense) outputSize is 100000, a width no tensor in the file has")
  }

  /// A million activation layers in 22 MB took 8.8 s and 1.2 GB; an architecture that long
  /// is now refused before it is decoded, under an address-space limit of 1 GB.
  @Test func anArchitectureOfAMillionLayersIsRefused() throws {
    let scratch = try Scratch()
    var file = try SafetensorsFile.read(from: try Self.trainedModel(in: scratch))
    var architecture = try JSONDecoder().decode(
      Checkpoint.Architecture.self, from: Data(try #require(file.metadata["architecture"]).utf8))
    architecture.layers += [LayerConfiguration](repeating: .relu, count: 1_000_000)
    let text = String(decoding: try JSONEncoder().encode(architecture), as: UTF8.self)
    file.metadata["architecture"] = text
    let path = scratch.path("long.safetensors")
    try file.write(to: path)
    try Self.expectEveryCommand(
      on: path,
      toFailWith:
        "not a BumpKit checkpoint: the architecture metadata is \(text.utf8.count) bytes, more than the 10485760 a checkpoint may hold",
      underAddressLimit: true)
  }

  /// A 64 GiB language-model shard (sparse) under a 1 GB address-space limit: refused from
  /// its header, where reading it whole aborted.
  @Test func aSafetensorsFileThatIsNotACheckpointIsRefusedWithoutReadingIt() throws {
    let scratch = try Scratch()
    let path = scratch.path("shard.safetensors")
    try CheckpointHeaderFirstTests.writeSparse(
      path, metadata: ["format": "pt"], name: "lm_head.weight", shape: [16, 1 << 30])
    try Self.expectEveryCommand(
      on: path, toFailWith: "not a BumpKit checkpoint: metadata format is \"pt\", expected \"bumpkit.sequential\"",
      underAddressLimit: true)
  }

  /// A checkpoint whose 64 GiB of weights are real (its architecture needs them all) is
  /// refused for memory from its header, before reading any of it.
  @Test func aCheckpointLargerThanTheMemoryLimitIsRefusedBeforeReading() throws {
    let scratch = try Scratch()
    let path = scratch.path("wide.safetensors")
    try CheckpointHeaderFirstTests.writeSparse(
      path, metadata: CheckpointHeaderFirstTests.wideDenseMetadata, name: "layers.0.weight",
      shape: [2, 1 << 33])
    // The message names the file, and its advice fits a checkpoint: the model is too large.
    try Self.expectEveryCommand(
      on: path,
      toFailWith:
        "not enough memory to load this checkpoint: its 17179869184 parameters (64.0 GiB of tensor data) need about 256.0 GiB to read and convert, more than the limit of 1.0 GiB (BUMP_MEMORY_LIMIT); the model is larger than the memory limit allows: load it where more memory is available, raising BUMP_MEMORY_LIMIT if this machine has more",
      stdin: "x0,x1\n0,0\n", environment: ["BUMP_MEMORY_LIMIT": "1G"])
  }

  /// A trained checkpoint plus one 64 GiB tensor (sparse) that is no parameter of its
  /// architecture, under a 1 GB address-space limit: refused from the header as an unused
  /// tensor, where its data was read up to the memory limit first (or it was refused for
  /// memory, with advice about data and layers).
  @Test func aCheckpointWithAnUnusedTensorIsRefusedFromItsHeader() throws {
    let scratch = try Scratch()
    let file = try SafetensorsFile.read(from: try Self.trainedModel(in: scratch))
    let path = scratch.path("extra.safetensors")
    try CheckpointHeaderFirstTests.writeRaw(
      path, metadata: file.metadata,
      tensors: CheckpointHeaderFirstTests.rawTensors(of: file) + [CheckpointHeaderFirstTests.hugeTensor])
    try Self.expectEveryCommand(
      on: path, toFailWith: "tensor extra belongs to no parameter of the architecture", underAddressLimit: true)
  }

  /// A device is not a checkpoint, and says so: `/dev/zero` was "truncated safetensors file:
  /// 0 bytes". An empty file is called empty.
  @Test func aDeviceOrAnEmptyFileIsRefusedForWhatItIs() throws {
    for device in ["/dev/zero", "/dev/urandom"] {
      try Self.expectEveryCommand(
        on: device, toFailWith: "not a usable bump model: it is a character device, not a regular file")
    }
    let scratch = try Scratch()
    let empty = scratch.path("empty.safetensors")
    #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
    try Self.expectEveryCommand(on: empty, toFailWith: "not a usable bump model: the file is empty (0 bytes)")
  }

  /// Names that differ only in spaces read differently.
  @Test func inspectQuotesNames() throws {
    let scratch = try Scratch()
    let csv = scratch.path("d.csv")
    var text = "\" a\",a,y\n"
    for i in 0..<40 { text += "\(i % 5),\(i % 3),\(i % 2 == 0 ? "\" cat\"" : "cat")\n" }
    try text.write(toFile: csv, atomically: true, encoding: .utf8)
    let run = scratch.path("run")
    let train = try Hostile.run(
      ["train", "--data", csv, "--target", "y", "--task", "classification", "--epochs", "1", "--output", run])
    // Inside quotes, spaces belong to the label: " cat" and "cat" are two classes.
    #expect(train.status == 0, "\(train.stderr)")
    #expect(train.stdout.contains(#"→ "y" (2 classes: " cat", "cat")"#), "\(train.stdout)")
    // Feature names keep their spaces.
    let features = "\" a\",a,y\n" + (0..<40).map { "\($0 % 5),\($0 % 3),\($0 % 2)\n" }.joined()
    try features.write(toFile: csv, atomically: true, encoding: .utf8)
    let named = try Hostile.run(
      ["train", "--data", csv, "--target", "y", "--task", "classification", "--epochs", "1", "--output", run + "2"])
    #expect(named.status == 0, "\(named.stderr)")
    let inspect = try Hostile.run(["inspect", run + "2/model.safetensors"])
    #expect(inspect.status == 0, "\(inspect.stderr)")
    #expect(inspect.stdout.contains(#"features (2): " a", "a""#), "\(inspect.stdout)")
  }
}
