extension SafetensorsFile {
  /// Decodes and validates a complete safetensors file held in memory.
  ///
  /// Checks, in this order: the 8-byte length field (against 100 MB and against the bytes
  /// present, before anything is allocated from it), UTF-8, JSON syntax, that the header is
  /// an object, each entry's fields, dtype, offsets and byte size (in header order), and then
  /// the buffer layout: tensors sorted by offset must tile the data buffer exactly. Unknown
  /// fields inside a tensor entry are ignored, as by the reference implementation; duplicate
  /// keys anywhere are rejected. The header may have leading and trailing JSON whitespace
  /// (writers pad it with spaces).
  ///
  /// - Parameter bytes: the whole file.
  /// - Returns: the tensors, in data-buffer order (ties between empty tensors in header
  ///   order), and the metadata.
  /// - Throws: ``SafetensorsError``, naming the tensor and offsets at fault.
  public static func decode(_ bytes: [UInt8]) throws -> SafetensorsFile {
    try bytes.withUnsafeBufferPointer { try decode(buffer: $0) }
  }

  /// One tensor's entry in a validated header: where its bytes lie in the data buffer.
  struct Entry {
    var name: String
    var dtype: DType
    var shape: [Int]
    var begin: Int
    var end: Int
  }

  private static func decode(buffer file: UnsafeBufferPointer<UInt8>) throws -> SafetensorsFile {
    guard file.count >= 8 else { throw SafetensorsError.truncatedFile(byteCount: file.count) }
    var claimed: UInt64 = 0
    for i in (0..<8).reversed() { claimed = claimed << 8 | UInt64(file[i]) }
    let headerEnd = 8 + (try checkedHeaderLength(claimed, fileSize: file.count))
    let layout = try decodeLayout(
      header: UnsafeBufferPointer(rebasing: file[8..<headerEnd]),
      bufferLength: file.count - headerEnd)
    return assemble(layout, data: UnsafeBufferPointer(rebasing: file[headerEnd...]))
  }

  /// The header length from the 8-byte length field, checked against the 100 MB limit and
  /// the file's size before anything is allocated from it.
  static func checkedHeaderLength(_ claimed: UInt64, fileSize: Int) throws -> Int {
    guard claimed <= UInt64(maximumHeaderLength) else {
      throw SafetensorsError.headerTooLarge(length: claimed, limit: maximumHeaderLength)
    }
    guard claimed <= UInt64(fileSize - 8) else {
      throw SafetensorsError.headerLengthExceedsFile(length: claimed, available: fileSize - 8)
    }
    return Int(claimed)
  }

  /// A header checked against the length of the data buffer that follows it: the entries
  /// in data-buffer order, which tile the buffer exactly, and the metadata.
  struct Layout {
    var entries: [Entry]
    var metadata: [String: String]

    /// Each tensor's shape, by name.
    var shapes: [String: [Int]] {
      Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0.shape) })
    }
  }

  /// Validates the JSON header alone (see ``decode(_:)``), given the length of the data
  /// buffer, so that a file's data need not be read before its header is known to be good.
  static func decodeLayout(header: UnsafeBufferPointer<UInt8>, bufferLength: Int) throws -> Layout {
    if let bad = UTF8Validation.firstInvalidByte(in: header) {
      throw SafetensorsError.headerNotUTF8(offset: bad)
    }
    let root = try SafetensorsHeaderJSON.parse(header)
    guard case .object(let members) = root else {
      throw SafetensorsError.headerNotObject(found: root.kindDescription)
    }

    var metadata: [String: String]?
    var entries: [Entry] = []
    var seen = Set<String>()
    entries.reserveCapacity(members.count)
    for member in members {
      if member.key == metadataKey {
        guard metadata == nil else {
          throw SafetensorsError.malformedMetadata(reason: "it appears more than once")
        }
        metadata = try decodeMetadata(member.value)
        continue
      }
      guard seen.insert(member.key).inserted else {
        throw SafetensorsError.duplicateTensorName(member.key)
      }
      entries.append(try decodeEntry(named: member.key, member.value, bufferLength: bufferLength))
    }

    // Stable sort by offsets: `entries` is in header order, which breaks ties between empty
    // tensors at the same offset deterministically.
    let order = entries.indices.sorted {
      (entries[$0].begin, entries[$0].end, $0) < (entries[$1].begin, entries[$1].end, $1)
    }
    var covered = 0
    var previous: Entry?
    for index in order {
      let entry = entries[index]
      if entry.begin < covered, let previous {
        throw SafetensorsError.overlappingTensors(
          first: previous.name, firstRange: previous.begin..<previous.end,
          second: entry.name, secondRange: entry.begin..<entry.end)
      }
      if entry.begin > covered {
        throw SafetensorsError.holeBetweenTensors(
          previous: previous?.name, next: entry.name, hole: covered..<entry.begin)
      }
      covered = entry.end
      previous = entry
    }
    guard covered == bufferLength else {
      throw SafetensorsError.bufferNotCovered(
        last: previous?.name, coveredUpTo: covered, bufferLength: bufferLength)
    }
    return Layout(entries: order.map { entries[$0] }, metadata: metadata ?? [:])
  }

  /// The file that `layout` describes, its tensors' bytes taken from `data`.
  static func assemble(_ layout: Layout, data: UnsafeBufferPointer<UInt8>) -> SafetensorsFile {
    var tensors: [String: Tensor] = [:]
    tensors.reserveCapacity(layout.entries.count)
    for entry in layout.entries {
      tensors[entry.name] = Tensor(
        unchecked: entry.dtype, shape: entry.shape,
        data: Array(UnsafeBufferPointer(rebasing: data[entry.begin..<entry.end])))
    }
    return SafetensorsFile(
      validatedNames: layout.entries.map(\.name), tensors: tensors, metadata: layout.metadata)
  }

  private static func decodeMetadata(_ value: SafetensorsHeaderJSON.Value) throws -> [String:
    String]
  {
    guard case .object(let members) = value else {
      throw SafetensorsError.malformedMetadata(
        reason: "expected an object, found \(value.kindDescription)")
    }
    var metadata: [String: String] = [:]
    metadata.reserveCapacity(members.count)
    for member in members {
      guard case .string(let string) = member.value else {
        throw SafetensorsError.metadataValueNotString(
          key: member.key, found: member.value.kindDescription)
      }
      guard metadata.updateValue(string, forKey: member.key) == nil else {
        throw SafetensorsError.duplicateMetadataKey(member.key)
      }
    }
    return metadata
  }

  private static func decodeEntry(
    named name: String, _ value: SafetensorsHeaderJSON.Value, bufferLength: Int
  ) throws -> Entry {
    func malformed(_ reason: String) -> SafetensorsError {
      .malformedTensorEntry(tensor: name, reason: reason)
    }
    guard case .object(let fields) = value else {
      throw malformed("expected an object, found \(value.kindDescription)")
    }
    var dtypeValue: SafetensorsHeaderJSON.Value?
    var shapeValue: SafetensorsHeaderJSON.Value?
    var offsetsValue: SafetensorsHeaderJSON.Value?
    for field in fields {
      switch field.key {
      case "dtype" where dtypeValue == nil: dtypeValue = field.value
      case "shape" where shapeValue == nil: shapeValue = field.value
      case "data_offsets" where offsetsValue == nil: offsetsValue = field.value
      case "dtype", "shape", "data_offsets":
        throw malformed("field \"\(field.key)\" appears more than once")
      default: continue
      }
    }

    guard let dtypeValue else { throw malformed("missing field \"dtype\"") }
    guard case .string(let dtypeName) = dtypeValue else {
      throw malformed("\"dtype\" must be a string, found \(dtypeValue.kindDescription)")
    }
    guard let shapeValue else { throw malformed("missing field \"shape\"") }
    let shape = try nonNegativeIntegers(
      shapeValue, field: "shape", what: "a dimension",
      tooLarge: "larger than the largest supported dimension, \(Int.max)", malformed: malformed)
    guard let offsetsValue else { throw malformed("missing field \"data_offsets\"") }
    let offsets = try nonNegativeIntegers(
      offsetsValue, field: "data_offsets", what: "an offset",
      tooLarge: "past the end of the \(bufferLength)-byte data buffer", malformed: malformed)
    guard offsets.count == 2 else {
      throw malformed("\"data_offsets\" must hold 2 integers [begin, end], found \(offsets.count)")
    }

    guard let dtype = DType(rawValue: dtypeName) else {
      throw SafetensorsError.unknownDType(tensor: name, dtype: dtypeName)
    }
    let (begin, end) = (offsets[0], offsets[1])
    guard begin <= end else {
      throw SafetensorsError.beginAfterEnd(tensor: name, begin: begin, end: end)
    }
    guard end <= bufferLength else {
      throw SafetensorsError.offsetsOutOfRange(
        tensor: name, begin: begin, end: end, bufferLength: bufferLength)
    }
    guard let expected = Tensor.checkedByteCount(of: shape, dtype: dtype) else {
      throw SafetensorsError.elementCountOverflow(tensor: name, shape: shape, dtype: dtype)
    }
    guard expected == end - begin else {
      throw SafetensorsError.byteSizeMismatch(
        tensor: name, dtype: dtype, shape: shape, expected: expected, actual: end - begin)
    }
    return Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
  }

  /// The elements of `value`, which must be an array of integers in `0...Int.max`; an
  /// element that is not says what is wrong with it: a fraction or exponent, a negative
  /// `what` ("a dimension"), or a value beyond `Int`, `tooLarge` ("past the end of the data
  /// buffer").
  private static func nonNegativeIntegers(
    _ value: SafetensorsHeaderJSON.Value, field: String, what: String, tooLarge: String,
    malformed: (String) -> SafetensorsError
  ) throws -> [Int] {
    guard case .array(let elements) = value else {
      throw malformed("\"\(field)\" must be an array of integers, found \(value.kindDescription)")
    }
    return try elements.enumerated().map { index, element in
      guard case .number(let text, let integer) = element else {
        throw malformed(
          "\"\(field)\"[\(index)] must be an integer, found \(element.kindDescription)")
      }
      let element = "\"\(field)\"[\(index)] is \(text)"
      if text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
        throw malformed("\(element), not an integer: it must be written without a fraction or exponent")
      }
      if text.hasPrefix("-"), integer != 0 {
        throw malformed("\(element): \(what) cannot be negative")
      }
      guard let integer else { throw malformed("\(element), \(tooLarge)") }
      return integer
    }
  }
}
