/// The contents of a safetensors file: named tensors in file order and a string-to-string
/// metadata map.
///
/// The format (Hugging Face `safetensors`) is an 8-byte little-endian `UInt64` header length
/// N, N bytes of UTF-8 JSON mapping each tensor name to
/// `{"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}` (offsets into the data
/// buffer) plus an optional `"__metadata__": {String: String}`, then the data buffer. Tensors
/// are row-major and little-endian; together they cover the buffer exactly, without overlaps
/// or holes.
///
/// ``decode(_:)`` checks all of this and reports any violation as a ``SafetensorsError`` that
/// names the tensor and offsets at fault; it never trusts a length before comparing it with
/// the bytes actually present. ``encode()`` writes what Python's `safetensors` writes: the
/// header padded with spaces so that the data buffer starts at a multiple of 8 bytes.
/// ``write(to:)`` replaces a file atomically.
///
/// ```swift
/// var file = SafetensorsFile(metadata: ["format": "bumpkit"])
/// try file.insert(SafetensorsFile.Tensor([0.5, 1.5], shape: [2]), named: "sigma")
/// try file.write(to: "model.safetensors")
/// let back = try SafetensorsFile.read(from: "model.safetensors")
/// try back["sigma"]?.floats()  // [0.5, 1.5]
/// ```
///
/// This layer is generic: it knows nothing of layers or architectures, which callers keep in
/// ``metadata`` (for instance as a JSON string).
public struct SafetensorsFile: Equatable, Sendable {
  /// The tensor names in file order: the order of their bytes in the data buffer, which is
  /// the order ``encode()`` writes them in. New names are appended by ``insert(_:named:)``.
  public private(set) var names: [String]

  /// The tensors by name.
  public private(set) var tensors: [String: Tensor]

  /// The `__metadata__` map. Written with its keys sorted, and omitted when empty.
  public var metadata: [String: String]

  /// The name the format reserves for the metadata map; no tensor may carry it.
  public static let metadataKey = "__metadata__"

  /// The largest header ``decode(_:)`` accepts: 100 MB, as in the reference implementation.
  public static let maximumHeaderLength = 100_000_000

  /// A file with no tensors and the given metadata.
  public init(metadata: [String: String] = [:]) {
    self.names = []
    self.tensors = [:]
    self.metadata = metadata
  }

  /// A file holding `tensors` in the given order, and `metadata`.
  ///
  /// - Throws: ``SafetensorsError/duplicateTensorName(_:)`` if a name appears twice, and
  ///   ``SafetensorsError/reservedTensorName(_:)`` for a tensor named `__metadata__`.
  public init(tensors: KeyValuePairs<String, Tensor>, metadata: [String: String] = [:]) throws {
    self.init(metadata: metadata)
    for (name, tensor) in tensors {
      guard self.tensors[name] == nil else { throw SafetensorsError.duplicateTensorName(name) }
      try insert(tensor, named: name)
    }
  }

  /// The tensor called `name`, or `nil`.
  public subscript(name: String) -> Tensor? { tensors[name] }

  /// Stores `tensor` under `name`: replacing the tensor of that name in place, or appending
  /// it to ``names``.
  ///
  /// - Throws: ``SafetensorsError/reservedTensorName(_:)`` if `name` is `__metadata__`.
  public mutating func insert(_ tensor: Tensor, named name: String) throws {
    guard name != Self.metadataKey else { throw SafetensorsError.reservedTensorName(name) }
    if tensors.updateValue(tensor, forKey: name) == nil { names.append(name) }
  }

  /// Removes and returns the tensor called `name`, or returns `nil` if there is none.
  @discardableResult
  public mutating func removeTensor(named name: String) -> Tensor? {
    guard let tensor = tensors.removeValue(forKey: name) else { return nil }
    names.removeAll { $0 == name }
    return tensor
  }

  /// Builds a file from tensors already validated by the decoder, in file order.
  init(validatedNames names: [String], tensors: [String: Tensor], metadata: [String: String]) {
    self.names = names
    self.tensors = tensors
    self.metadata = metadata
  }
}
