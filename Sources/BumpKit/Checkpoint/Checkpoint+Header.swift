extension Checkpoint {
  /// What a checkpoint's header says, read and checked without reading its tensor data.
  ///
  /// ``Checkpoint/header(at:)`` reads the 8-byte length and the JSON header of a file and
  /// nothing more, so a command can refuse a file that is not a BumpKit checkpoint (a
  /// language model's weights, say), or size up the memory a load will take, before the data
  /// is read.
  public struct Header: Sendable {
    /// `float` or `double`.
    public var precision: String
    /// The architecture, checked against the tensors' declared shapes.
    public var architecture: Architecture
    /// Tensor names in file order with their shapes (dimensions in elements).
    public var tensors: [(name: String, shape: [Int])]
    /// All metadata entries, including the reserved ones.
    public var metadata: [String: String]
    /// The size of the tensor data in bytes: what loading the checkpoint reads after the
    /// header.
    public var dataByteCount: Int
  }

  /// Reads and checks the header of the checkpoint at `path`, without reading its tensor data.
  ///
  /// Checks that the file is a safetensors file, that its metadata describes a BumpKit model
  /// (format, version, precision and an architecture of at most
  /// ``maximumArchitectureLength`` bytes and ``maximumLayerCount`` layers nested at most
  /// ``maximumNestingDepth`` deep), that every shape the architecture
  /// declares, at every depth, is that of the tensor the file holds for it, and that every
  /// tensor the file holds is a parameter of the architecture, of the precision's dtype.
  /// The data that loading reads is then the parameters' values and nothing else, so a file
  /// whose data region holds more (an extra tensor of gigabytes, say) is refused here.
  ///
  /// - Throws: ``CheckpointError`` when the file is not a BumpKit checkpoint or its
  ///   architecture does not match its tensors (a tensor missing, of another shape or dtype,
  ///   or belonging to no parameter); ``SafetensorsError`` when the file itself is
  ///   malformed (``SafetensorsError/malformedFile(path:error:)``, naming `path`) or cannot
  ///   be read.
  public static func header(at path: String) throws -> Header {
    try SafetensorsFile.withHeader(at: path) { layout, _ in try header(of: layout, source: path) }
  }

  /// The checked header of a file whose safetensors header is `layout` (see ``header(at:)``).
  static func header(of layout: SafetensorsFile.Layout, source: String) throws -> Header {
    let (precision, architecture) = try describedModel(layout.metadata, source: source)
    try checkTensors(
      architecture, precision: precision,
      tensors: layout.entries.map { ($0.name, $0.dtype, $0.shape) }, source: source, metadata: layout.metadata)
    return Header(
      precision: precision, architecture: architecture,
      tensors: layout.entries.map { ($0.name, $0.shape) }, metadata: layout.metadata,
      dataByteCount: layout.entries.last?.end ?? 0)
  }
}
