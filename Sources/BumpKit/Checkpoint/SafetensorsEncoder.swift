extension SafetensorsFile {
  /// The file's bytes, in the layout Python's `safetensors` writes.
  ///
  /// The header lists `__metadata__` first (keys sorted, omitted when empty), then the tensors
  /// in ``names`` order with consecutive `data_offsets`; it is compact JSON padded with spaces
  /// so that its length, and hence the start of the data buffer, is a multiple of 8. The
  /// output is deterministic and ``decode(_:)`` returns an equal value.
  public func encode() -> [UInt8] {
    let header = encodedHeader()
    let dataLength = names.reduce(0) { $0 + tensors[$1]!.data.count }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(8 + header.count + dataLength)
    withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes.append(contentsOf: $0) }
    bytes.append(contentsOf: header)
    for name in names { bytes.append(contentsOf: tensors[name]!.data) }
    return bytes
  }

  /// The JSON header that ``encode()`` writes after the 8-byte length, padding included.
  func encodedHeader() -> [UInt8] {
    var header: [UInt8] = [UInt8(ascii: "{")]
    var separator = false
    func appendKey(_ key: String) {
      if separator { header.append(UInt8(ascii: ",")) }
      separator = true
      appendJSONString(key, to: &header)
      header.append(UInt8(ascii: ":"))
    }
    if !metadata.isEmpty {
      appendKey(Self.metadataKey)
      header.append(UInt8(ascii: "{"))
      for (i, key) in metadata.keys.sorted().enumerated() {
        if i > 0 { header.append(UInt8(ascii: ",")) }
        appendJSONString(key, to: &header)
        header.append(UInt8(ascii: ":"))
        appendJSONString(metadata[key]!, to: &header)
      }
      header.append(UInt8(ascii: "}"))
    }
    var offset = 0
    for name in names {
      let tensor = tensors[name]!
      appendKey(name)
      let shape = tensor.shape.map(String.init).joined(separator: ",")
      let end = offset + tensor.data.count
      header.append(
        contentsOf:
          "{\"dtype\":\"\(tensor.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}"
          .utf8)
      offset = end
    }
    header.append(UInt8(ascii: "}"))
    header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
    return header
  }
}

/// Appends `string` as a JSON string literal: quotes, backslashes and control characters
/// escaped, everything else as raw UTF-8.
private func appendJSONString(_ string: String, to out: inout [UInt8]) {
  out.append(UInt8(ascii: "\""))
  for byte in string.utf8 {
    switch byte {
    case UInt8(ascii: "\""), UInt8(ascii: "\\"):
      out.append(UInt8(ascii: "\\"))
      out.append(byte)
    case 0x0A: out.append(contentsOf: "\\n".utf8)
    case 0x0D: out.append(contentsOf: "\\r".utf8)
    case 0x09: out.append(contentsOf: "\\t".utf8)
    case 0..<0x20:
      let hex = Array("0123456789abcdef".utf8)
      out.append(contentsOf: "\\u00".utf8)
      out.append(hex[Int(byte >> 4)])
      out.append(hex[Int(byte & 0xF)])
    default:
      out.append(byte)
    }
  }
  out.append(UInt8(ascii: "\""))
}
