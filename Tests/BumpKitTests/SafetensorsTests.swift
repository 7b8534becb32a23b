@_spi(Testing) import BumpKit
import Foundation
import Testing
import BumpTestSupport

private typealias Tensor = SafetensorsFile.Tensor

// MARK: - Helpers

/// A hand-made file: the 8-byte length field (the header's byte count unless `length` is
/// given), the header bytes, then the data buffer.
private func rawFile(_ header: [UInt8], buffer: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
  withUnsafeBytes(of: (length ?? UInt64(header.count)).littleEndian) { Array($0) } + header + buffer
}

private func rawFile(_ header: String, buffer: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
  rawFile(Array(header.utf8), buffer: buffer, length: length)
}

/// The little-endian bytes of four F32 values: a 16-byte data buffer for hand-made files.
private let f32x4: [UInt8] = [1, -2, 0.5, 3].flatMap { (x: Float) in
  withUnsafeBytes(of: x.bitPattern.littleEndian) { Array($0) }
}

/// A compact tensor entry for hand-made headers.
private func entry(_ dtype: String, _ shape: [Int], _ begin: Int, _ end: Int) -> String {
  #"{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[\#(begin),\#(end)]}"#
}

private let fixturesDirectory = URL(fileURLWithPath: #filePath)
  .deletingLastPathComponent().appendingPathComponent("Fixtures/safetensors").path

/// A fresh, empty directory, removed by `remove()`.
/// A temporary folder for one test (removed by `remove()` or when released).
private typealias TemporaryDirectory = TemporaryFolder

/// The case name of a decoding error, e.g. "holeBetweenTensors" (a switch: `Mirror` would
/// double the fuzz test's run time).
private func kind(of error: SafetensorsError) -> String {
  switch error {
  case .truncatedFile: return "truncatedFile"
  case .headerTooLarge: return "headerTooLarge"
  case .headerLengthExceedsFile: return "headerLengthExceedsFile"
  case .headerNotUTF8: return "headerNotUTF8"
  case .invalidHeaderJSON: return "invalidHeaderJSON"
  case .headerNotObject: return "headerNotObject"
  case .duplicateTensorName: return "duplicateTensorName"
  case .malformedTensorEntry: return "malformedTensorEntry"
  case .unknownDType: return "unknownDType"
  case .beginAfterEnd: return "beginAfterEnd"
  case .offsetsOutOfRange: return "offsetsOutOfRange"
  case .elementCountOverflow: return "elementCountOverflow"
  case .byteSizeMismatch: return "byteSizeMismatch"
  case .overlappingTensors: return "overlappingTensors"
  case .holeBetweenTensors: return "holeBetweenTensors"
  case .bufferNotCovered: return "bufferNotCovered"
  case .malformedMetadata: return "malformedMetadata"
  case .metadataValueNotString: return "metadataValueNotString"
  case .duplicateMetadataKey: return "duplicateMetadataKey"
  default: return "unexpected: \(error)"
  }
}

// MARK: - Round trips

@Suite("Safetensors")
struct SafetensorsTests {
  static let specialFloats: [Float] = [
    0, -0.0, 1, -1.5, .infinity, -.infinity, .nan, Float(bitPattern: 0x7FA0_1234),
    .leastNonzeroMagnitude, .greatestFiniteMagnitude, .ulpOfOne, 3.1415927,
  ]
  static let specialDoubles: [Double] = [
    0, -0.0, .infinity, -.nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1e-300, -2.5,
  ]

  static func sampleFile() throws -> SafetensorsFile {
    var file = SafetensorsFile(metadata: [
      "architecture": #"{"layers":[{"type":"dense","units":3},{"type":"bump"}]}"#,
      "quote\"back\\slash": "line\nbreak\ttab\u{0}nul\u{1F} é 😀",
      "": "",
    ])
    try file.insert(Tensor(specialFloats, shape: [3, 4]), named: "dense.weight")
    try file.insert(Tensor(specialDoubles, shape: [2, 2, 2]), named: "dense.bias")
    try file.insert(Tensor([Float(2.5)], shape: []), named: "bump.sigma")
    try file.insert(Tensor([Double](), shape: [0, 3]), named: "empty")
    try file.insert(Tensor([Float](), shape: [3, 0, 5]), named: "empty.middle")
    try file.insert(Tensor([Double(-7)], shape: []), named: "scalar64")
    try file.insert(Tensor([Float](), shape: [0]), named: "ünï \"cödé\"\n")
    return file
  }

  @Test("F32 and F64 tensors, scalars, zero-size dimensions and metadata round-trip bit for bit")
  func roundTrip() throws {
    let file = try Self.sampleFile()
    let bytes = file.encode()

    let headerLength = bytes[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
    #expect(
      (8 + headerLength) % 8 == 0, "the data buffer starts 8-byte aligned, as Python writes it")
    #expect(bytes[8] == UInt8(ascii: "{"))
    #expect(bytes.count == 8 + headerLength + 12 * 4 + 8 * 8 + 4 + 8)

    let back = try SafetensorsFile.decode(bytes)
    #expect(back == file)
    #expect(back.names == file.names)
    #expect(back.metadata == file.metadata)
    #expect(
      try back["dense.weight"]!.floats().map(\.bitPattern) == Self.specialFloats.map(\.bitPattern))
    #expect(
      try back["dense.bias"]!.doubles().map(\.bitPattern) == Self.specialDoubles.map(\.bitPattern))
    #expect(try back["bump.sigma"]!.floats() == [2.5])
    #expect(back["bump.sigma"]!.shape == [])
    #expect(back["empty.middle"]!.shape == [3, 0, 5])
    #expect(try back["empty.middle"]!.floats() == [])
    #expect(back.encode() == bytes, "encoding is deterministic")
  }

  @Test("A file with no tensors and no metadata is a padded {} header")
  func emptyFile() throws {
    let bytes = SafetensorsFile().encode()
    #expect(bytes == rawFile("{}      "))
    #expect(try SafetensorsFile.decode(bytes) == SafetensorsFile())
    let metadataOnly = SafetensorsFile(metadata: ["k": "v"])
    #expect(try SafetensorsFile.decode(metadataOnly.encode()) == metadataOnly)
  }

  @Test("write(to:) and read(from:) round-trip through a file")
  func fileRoundTrip() throws {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let path = directory.path + "/model.safetensors"
    let file = try Self.sampleFile()
    try file.write(to: path)
    #expect(try SafetensorsFile.read(from: path) == file)
    #expect(try directory.entries() == ["model.safetensors"])
    #expect(FileManager.default.contents(atPath: path).map(Array.init) == file.encode())
  }

  @Test("names follow the data buffer, not the header order; unknown entry fields are ignored")
  func fileOrder() throws {
    let header =
      #"{"b":\#(entry("F32", [2], 8, 16)),"a":{"extra":[1,{"x":null}],"#
      + #""data_offsets":[0,8],"shape":[2],"dtype":"F32"},"e":\#(entry("F64", [0], 8, 8))}"#
    let file = try SafetensorsFile.decode(rawFile(header, buffer: f32x4))
    #expect(file.names == ["a", "e", "b"])
    #expect(try file["a"]!.floats() == [1, -2])
    #expect(try file["b"]!.floats() == [0.5, 3])
  }

  @Test("JSON whitespace around and inside the header, and escapes, are accepted")
  func whitespaceAndEscapes() throws {
    let header =
      " \r\n\t{ \"__metadata__\" : { \"k\\u00e9\\/\" : \"\\ud83d\\ude00\\b\\f\\n\\r\\t\\\"\\\\\" } ,\n"
      + " \"\\u0041\" : { \"dtype\" : \"F32\" , \"shape\" : [ 4 ] , \"data_offsets\" : [ 0 , 16 ] } }   \t"
    let file = try SafetensorsFile.decode(rawFile(header, buffer: f32x4))
    #expect(file.names == ["A"])
    #expect(file.metadata == ["ké/": "😀\u{8}\u{C}\n\r\t\"\\"])
  }

  @Test("a zero dimension makes a tensor empty however large the other dimensions are")
  func zeroDimensionWithHugeOthers() throws {
    let huge = 1 << 62
    let file = try SafetensorsFile.decode(rawFile("{\"z\":\(entry("F64", [huge, 0, huge], 0, 0))}"))
    #expect(file["z"]!.shape == [huge, 0, huge])
    #expect(file["z"]!.elementCount == 0)
    #expect(try Tensor([Float](), shape: [Int.max, 0]).data.isEmpty)
  }

  @Test("other dtypes decode as raw bytes and re-encode unchanged; only F32/F64 convert")
  func otherDTypes() throws {
    let names = SafetensorsFile.DType.allCases.map(\.rawValue)
    #expect(
      names == [
        "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "I16", "U16", "F16", "BF16", "I32",
        "U32",
        "F32", "C64", "I64", "U64", "F64",
      ])
    var file = SafetensorsFile()
    for dtype in SafetensorsFile.DType.allCases {
      let data = (0..<(3 * dtype.byteSize)).map { UInt8(truncatingIfNeeded: $0 * 37) }
      try file.insert(Tensor(dtype: dtype, shape: [3], data: data), named: dtype.rawValue)
    }
    let back = try SafetensorsFile.decode(file.encode())
    #expect(back == file)
    #expect(throws: SafetensorsError.dtypeMismatch(requested: .f32, actual: .bf16)) {
      try back["BF16"]!.floats()
    }
    #expect(throws: SafetensorsError.dtypeMismatch(requested: .f64, actual: .f32)) {
      try back["F32"]!.doubles()
    }
    #expect(try back["F64"]!.doubles().count == 3)
  }

  @Test("building files and tensors checks names, shapes and counts")
  func buildingErrors() throws {
    #expect(throws: SafetensorsError.valueCountMismatch(shape: [2, 2], expected: 4, actual: 3)) {
      try Tensor([Float](repeating: 1, count: 3), shape: [2, 2])
    }
    #expect(
      throws: SafetensorsError.invalidShape(shape: [2, -1], reason: "dimension -1 is negative")
    ) {
      try Tensor([Double](), shape: [2, -1])
    }
    #expect(
      throws: SafetensorsError.invalidShape(
        shape: [Int.max, 2], reason: "its size in F32 bytes overflows Int")
    ) {
      try Tensor([Float](), shape: [Int.max, 2])
    }
    #expect(
      throws: SafetensorsError.dataSizeMismatch(
        dtype: .f16, shape: [3], expectedBytes: 6, actualBytes: 4)
    ) {
      try Tensor(dtype: .f16, shape: [3], data: [1, 2, 3, 4])
    }
    let t = try Tensor([Float(1)], shape: [1])
    #expect(throws: SafetensorsError.duplicateTensorName("a")) {
      try SafetensorsFile(tensors: ["a": t, "b": t, "a": t])
    }
    var file = try SafetensorsFile(tensors: ["a": t, "b": t])
    #expect(throws: SafetensorsError.reservedTensorName("__metadata__")) {
      try file.insert(t, named: "__metadata__")
    }
    let replacement = try Tensor([Double(2)], shape: [])
    try file.insert(replacement, named: "a")
    #expect(file.names == ["a", "b"], "replacing keeps the position")
    #expect(file["a"] == replacement)
    #expect(file.removeTensor(named: "a") == replacement)
    #expect(file.removeTensor(named: "a") == nil)
    #expect(file.names == ["b"])
  }

  // MARK: - Errors

  struct DecodeCase: Sendable, CustomTestStringConvertible {
    let label: String
    let bytes: [UInt8]
    let expected: SafetensorsError
    var testDescription: String { label }

    init(_ label: String, _ bytes: [UInt8], _ expected: SafetensorsError) {
      (self.label, self.bytes, self.expected) = (label, bytes, expected)
    }
  }

  static let decodeCases: [DecodeCase] = {
    let json = { (offset: Int, reason: String) in
      SafetensorsError.invalidHeaderJSON(offset: offset, reason: reason)
    }
    let malformed = { (reason: String) in
      SafetensorsError.malformedTensorEntry(tensor: "a", reason: reason)
    }
    let f32a = entry("F32", [4], 0, 16)
    return [
      // Framing
      DecodeCase("empty file", [], .truncatedFile(byteCount: 0)),
      DecodeCase("7 bytes", [1, 2, 3, 4, 5, 6, 7], .truncatedFile(byteCount: 7)),
      DecodeCase(
        "length UInt64.max", rawFile("{}", length: .max),
        .headerTooLarge(length: .max, limit: 100_000_000)),
      DecodeCase(
        "length just over 100 MB", rawFile("{}", length: 100_000_001),
        .headerTooLarge(length: 100_000_001, limit: 100_000_000)),
      DecodeCase(
        "length beyond the file", rawFile("{}", length: 3),
        .headerLengthExceedsFile(length: 3, available: 2)),
      DecodeCase(
        "length 100 MB in a small file", rawFile("{}", buffer: f32x4, length: 100_000_000),
        .headerLengthExceedsFile(length: 100_000_000, available: 18)),
      DecodeCase("empty header", rawFile(""), json(0, "expected a value, found end of header")),
      // UTF-8
      DecodeCase(
        "invalid byte", rawFile([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]),
        .headerNotUTF8(offset: 2)),
      DecodeCase(
        "overlong '/'", rawFile([0x7B, 0x22, 0xC0, 0xAF, 0x22, 0x7D]), .headerNotUTF8(offset: 2)),
      DecodeCase(
        "UTF-8 surrogate", rawFile([0x7B, 0x22, 0xED, 0xA0, 0x80, 0x22, 0x7D]),
        .headerNotUTF8(offset: 2)),
      DecodeCase(
        "beyond U+10FFFF", rawFile([0x7B, 0xF4, 0x90, 0x80, 0x80, 0x7D]), .headerNotUTF8(offset: 1)),
      DecodeCase("cut multibyte", rawFile([0x7B, 0x7D, 0xE2, 0x82]), .headerNotUTF8(offset: 2)),
      // JSON syntax
      DecodeCase(
        "cut after a member", rawFile(#"{"a": {"dtype": "F32","#),
        json(22, "expected a string key, found end of header")),
      DecodeCase(
        "trailing data", rawFile("{} x"), json(3, "unexpected character 'x' after the JSON value")),
      DecodeCase(
        "trailing comma", rawFile(#"{"a":1,}"#),
        json(7, "expected a string key, found character '}'")),
      DecodeCase(
        "missing colon", rawFile(#"{"a" 1}"#),
        json(5, "expected ':' after key, found character '1'")),
      DecodeCase(
        "bad escape", rawFile(#"{"\x":1}"#),
        json(2, "invalid escape sequence '\\' followed by character 'x'")),
      DecodeCase("cut \\u escape", rawFile(#"{"\u12"#), json(2, "truncated \\u escape")),
      DecodeCase(
        "bad hex digit", rawFile(#"{"\u12g4":1}"#),
        json(6, "expected a hex digit in \\u escape, found character 'g'")),
      DecodeCase(
        "lone high surrogate", rawFile(#"{"\ud800":{}}"#),
        json(2, "unpaired high surrogate \\ud800")),
      DecodeCase(
        "lone low surrogate", rawFile(#"{"\udc00":{}}"#), json(2, "unpaired low surrogate \\udc00")),
      DecodeCase(
        "high surrogate and a non-surrogate", rawFile(#"{"\ud800\u0041":{}}"#),
        json(2, "high surrogate \\ud800 not followed by a low surrogate")),
      DecodeCase(
        "raw newline in a string", rawFile("{\"a\nb\":1}"),
        json(3, "unescaped control character byte 0xA in string")),
      DecodeCase("unterminated string", rawFile(#"{"abc"#), json(1, "unterminated string")),
      DecodeCase(
        "leading zero", rawFile(#"{"a":[01]}"#), json(7, "expected ',' or ']', found character '1'")
      ),
      DecodeCase(
        "lone minus", rawFile(#"{"a":-}"#),
        json(6, "expected a digit in number, found character '}'")),
      DecodeCase(
        "bare fraction", rawFile(#"{"a":1.}"#),
        json(7, "expected a digit after the decimal point, found character '}'")),
      DecodeCase(
        "misspelt literal", rawFile(#"{"a":nul}"#), json(5, "expected a value, found character 'n'")
      ),
      DecodeCase(
        "single quotes", rawFile("{'a':1}"), json(1, "expected a string key, found character '''")),
      DecodeCase(
        "NUL byte", rawFile([0x7B, 0x00, 0x7D]), json(1, "expected a string key, found byte 0x0")),
      DecodeCase(
        "nesting 100 deep",
        rawFile(
          #"{"a":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}"),
        json(68, "nesting deeper than 64 levels")),
      // Shape of the header
      DecodeCase("header is an array", rawFile("[1, 2]"), .headerNotObject(found: "an array")),
      DecodeCase("header is a string", rawFile(#""{}""#), .headerNotObject(found: "a string")),
      DecodeCase("header is a number", rawFile(" 42 "), .headerNotObject(found: "the number 42")),
      DecodeCase("header is null", rawFile("null"), .headerNotObject(found: "null")),
      DecodeCase(
        "duplicate tensor",
        rawFile(
          #"{"a":\#(entry("F32", [2], 0, 8)),"a":\#(entry("F32", [2], 8, 16))}"#, buffer: f32x4),
        .duplicateTensorName("a")),
      // Metadata
      DecodeCase(
        "metadata twice", rawFile(#"{"__metadata__":{},"__metadata__":{}}"#),
        .malformedMetadata(reason: "it appears more than once")),
      DecodeCase(
        "metadata is an array", rawFile(#"{"__metadata__":[]}"#),
        .malformedMetadata(reason: "expected an object, found an array")),
      DecodeCase(
        "metadata value is a number", rawFile(#"{"__metadata__":{"epochs":3}}"#),
        .metadataValueNotString(key: "epochs", found: "the number 3")),
      DecodeCase(
        "metadata value is null", rawFile(#"{"__metadata__":{"k":null}}"#),
        .metadataValueNotString(key: "k", found: "null")),
      DecodeCase(
        "metadata value is an object", rawFile(#"{"__metadata__":{"arch":{"layers":[]}}}"#),
        .metadataValueNotString(key: "arch", found: "an object")),
      DecodeCase(
        "duplicate metadata key", rawFile(#"{"__metadata__":{"k":"1","k":"2"}}"#),
        .duplicateMetadataKey("k")),
      // Tensor entries
      DecodeCase(
        "entry is an array", rawFile(#"{"a":[1]}"#), malformed("expected an object, found an array")
      ),
      DecodeCase(
        "missing dtype", rawFile(#"{"a":{"shape":[4],"data_offsets":[0,16]}}"#, buffer: f32x4),
        malformed("missing field \"dtype\"")),
      DecodeCase(
        "missing shape", rawFile(#"{"a":{"dtype":"F32","data_offsets":[0,16]}}"#, buffer: f32x4),
        malformed("missing field \"shape\"")),
      DecodeCase(
        "missing data_offsets", rawFile(#"{"a":{"dtype":"F32","shape":[4]}}"#, buffer: f32x4),
        malformed("missing field \"data_offsets\"")),
      DecodeCase(
        "dtype is a number",
        rawFile(#"{"a":{"dtype":32,"shape":[4],"data_offsets":[0,16]}}"#, buffer: f32x4),
        malformed("\"dtype\" must be a string, found the number 32")),
      DecodeCase(
        "shape is a number",
        rawFile(#"{"a":{"dtype":"F32","shape":4,"data_offsets":[0,16]}}"#, buffer: f32x4),
        malformed("\"shape\" must be an array of integers, found the number 4")),
      DecodeCase(
        "dimension is a fraction",
        rawFile(
          #"{"a":\#(entry("F32", [4], 0, 16).replacingOccurrences(of: "[4]", with: "[1.5]"))}"#,
          buffer: f32x4),
        malformed("\"shape\"[0] is 1.5, not an integer: it must be written without a fraction or exponent")),
      DecodeCase(
        "dimension has an exponent",
        rawFile(#"{"a":{"dtype":"F32","shape":[4e0],"data_offsets":[0,16]}}"#, buffer: f32x4),
        malformed("\"shape\"[0] is 4e0, not an integer: it must be written without a fraction or exponent")),
      DecodeCase(
        "dimension is a string",
        rawFile(#"{"a":{"dtype":"F32","shape":["4"],"data_offsets":[0,16]}}"#, buffer: f32x4),
        malformed("\"shape\"[0] must be an integer, found a string")),
      DecodeCase(
        "negative dimension", rawFile(#"{"a":\#(entry("F32", [2, -4], 0, 16))}"#, buffer: f32x4),
        malformed("\"shape\"[1] is -4: a dimension cannot be negative")),
      DecodeCase(
        "dimension beyond 64 bits",
        rawFile(
          #"{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,16]}}"#,
          buffer: f32x4),
        malformed(
          "\"shape\"[0] is 99999999999999999999, larger than the largest supported dimension, 9223372036854775807")),
      DecodeCase(
        "three offsets",
        rawFile(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,8,16]}}"#, buffer: f32x4),
        malformed("\"data_offsets\" must hold 2 integers [begin, end], found 3")),
      DecodeCase(
        "negative offset",
        rawFile(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[-1,16]}}"#, buffer: f32x4),
        malformed("\"data_offsets\"[0] is -1: an offset cannot be negative")),
      // 2⁶⁴ − 8: no file is that long, so the offset is past the end of the data buffer.
      DecodeCase(
        "offset beyond 64-bit signed integers",
        rawFile(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,18446744073709551608]}}"#, buffer: f32x4),
        malformed("\"data_offsets\"[1] is 18446744073709551608, past the end of the 16-byte data buffer")),
      DecodeCase(
        "dtype twice",
        rawFile(
          #"{"a":{"dtype":"F32","dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, buffer: f32x4),
        malformed("field \"dtype\" appears more than once")),
      DecodeCase(
        "unknown dtype", rawFile(#"{"a":\#(entry("F31", [4], 0, 16))}"#, buffer: f32x4),
        .unknownDType(tensor: "a", dtype: "F31")),
      DecodeCase(
        "lower-case dtype", rawFile(#"{"a":\#(entry("f32", [4], 0, 16))}"#, buffer: f32x4),
        .unknownDType(tensor: "a", dtype: "f32")),
      // Offsets and sizes
      DecodeCase(
        "begin after end", rawFile(#"{"a":\#(entry("F32", [0], 16, 0))}"#, buffer: f32x4),
        .beginAfterEnd(tensor: "a", begin: 16, end: 0)),
      DecodeCase(
        "end beyond the buffer", rawFile(#"{"a":\#(entry("F32", [8], 0, 32))}"#, buffer: f32x4),
        .offsetsOutOfRange(tensor: "a", begin: 0, end: 32, bufferLength: 16)),
      DecodeCase(
        "offsets near Int.max",
        rawFile(#"{"a":\#(entry("U8", [1], Int.max - 1, Int.max))}"#, buffer: f32x4),
        .offsetsOutOfRange(tensor: "a", begin: Int.max - 1, end: Int.max, bufferLength: 16)),
      DecodeCase(
        "size mismatch", rawFile(#"{"a":\#(entry("F64", [4], 0, 16))}"#, buffer: f32x4),
        .byteSizeMismatch(tensor: "a", dtype: .f64, shape: [4], expected: 32, actual: 16)),
      DecodeCase(
        "scalar size mismatch", rawFile(#"{"a":\#(entry("F32", [], 0, 16))}"#, buffer: f32x4),
        .byteSizeMismatch(tensor: "a", dtype: .f32, shape: [], expected: 4, actual: 16)),
      DecodeCase(
        "element count overflows",
        rawFile(#"{"a":\#(entry("F32", [1 << 62, 4], 0, 16))}"#, buffer: f32x4),
        .elementCountOverflow(tensor: "a", shape: [1 << 62, 4], dtype: .f32)),
      DecodeCase(
        "byte count overflows",
        rawFile(#"{"a":\#(entry("F64", [1 << 61], 0, 16))}"#, buffer: f32x4),
        .elementCountOverflow(tensor: "a", shape: [1 << 61], dtype: .f64)),
      // Layout
      DecodeCase(
        "overlap",
        rawFile(
          #"{"a":\#(entry("F32", [3], 0, 12)),"b":\#(entry("F32", [2], 8, 16))}"#, buffer: f32x4),
        .overlappingTensors(first: "a", firstRange: 0..<12, second: "b", secondRange: 8..<16)),
      DecodeCase(
        "empty tensor inside another",
        rawFile(#"{"e":\#(entry("F32", [0], 8, 8)),"a":\#(f32a)}"#, buffer: f32x4),
        .overlappingTensors(first: "a", firstRange: 0..<16, second: "e", secondRange: 8..<8)),
      DecodeCase(
        "same bytes twice", rawFile(#"{"a":\#(f32a),"b":\#(f32a)}"#, buffer: f32x4),
        .overlappingTensors(first: "a", firstRange: 0..<16, second: "b", secondRange: 0..<16)),
      DecodeCase(
        "hole between tensors",
        rawFile(
          #"{"a":\#(entry("F32", [1], 0, 4)),"b":\#(entry("F32", [2], 8, 16))}"#, buffer: f32x4),
        .holeBetweenTensors(previous: "a", next: "b", hole: 4..<8)),
      DecodeCase(
        "hole at the start", rawFile(#"{"a":\#(entry("F32", [3], 4, 16))}"#, buffer: f32x4),
        .holeBetweenTensors(previous: nil, next: "a", hole: 0..<4)),
      DecodeCase(
        "bytes after the last tensor",
        rawFile(#"{"a":\#(entry("F32", [3], 0, 12))}"#, buffer: f32x4),
        .bufferNotCovered(last: "a", coveredUpTo: 12, bufferLength: 16)),
      DecodeCase(
        "data but no tensors", rawFile("{}", buffer: [1, 2, 3, 4]),
        .bufferNotCovered(last: nil, coveredUpTo: 0, bufferLength: 4)),
    ]
  }()

  @Test("every malformed file is rejected with the precise error", arguments: decodeCases)
  func decodeErrors(_ testCase: DecodeCase) {
    #expect(throws: testCase.expected) { try SafetensorsFile.decode(testCase.bytes) }
  }

  @Test("error descriptions name the tensor and offsets, and escape hostile names")
  func errorDescriptions() {
    #expect(
      SafetensorsError.overlappingTensors(
        first: "a", firstRange: 0..<12, second: "b", secondRange: 8..<16
      )
      .description
        == #"tensors "a" (bytes 0..<12) and "b" (bytes 8..<16) of the data buffer overlap"#)
    #expect(
      SafetensorsError.holeBetweenTensors(previous: nil, next: "w", hole: 0..<4).description
        == #"bytes 0..<4 of the data buffer, between the start of the data buffer and tensor "w", belong to no tensor"#
    )
    #expect(
      SafetensorsError.headerLengthExceedsFile(length: 1000, available: 2).description
        == "safetensors header length 1000 is larger than the 2 bytes that follow it")
    // A text file's first 8 bytes read as a length: the message says it is text.
    let csvStart = Array("x0,x1\n1,".utf8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    #expect(
      SafetensorsError.headerTooLarge(length: csvStart, limit: 100_000_000).description
        == #"safetensors header length \#(csvStart) exceeds the limit of 100000000 bytes; the file begins with text ("x0,x1\n1,"), not a safetensors header: is it a CSV or other text file?"#)
    #expect(!SafetensorsError.headerTooLarge(length: .max, limit: 100_000_000).description.contains("text"))
    #expect(
      SafetensorsError.duplicateTensorName("x\"\n\u{1B}").description
        == #"tensor "x\"\n\u{1b}" appears more than once in the header"#)
    #expect(
      SafetensorsError.io(operation: "open", path: "/nope", errno: ENOENT).description
        == #"cannot open "/nope": No such file or directory (errno 2)"#)
  }

  // MARK: - Fixture corpus

  enum CorpusOutcome: Sendable {
    case valid(names: Set<String>)
    case invalid(SafetensorsError)
  }

  /// The expected outcome of every file in Fixtures/safetensors (made by
  /// Scripts/python/make_safetensors_fixtures.py; the valid-python-* files by
  /// `safetensors.numpy.save_file`, and Python rejects every err-* file too).
  static let corpusExpectations: [String: CorpusOutcome] = [
    "valid-python-f32-f64-metadata": .valid(names: ["weight", "bias"]),
    "valid-python-scalar-and-empty": .valid(names: ["scalar", "empty"]),
    "valid-python-f16": .valid(names: ["half"]),
    "valid-no-tensors": .valid(names: []),
    "valid-escapes-unpadded": .valid(names: ["a\"b\\é"]),
    "err-truncated": .invalid(.truncatedFile(byteCount: 5)),
    "err-header-too-large": .invalid(.headerTooLarge(length: .max, limit: 100_000_000)),
    "err-header-exceeds-file": .invalid(.headerLengthExceedsFile(length: 1000, available: 2)),
    "err-header-not-utf8": .invalid(.headerNotUTF8(offset: 2)),
    "err-invalid-json": .invalid(
      .invalidHeaderJSON(offset: 22, reason: "expected a string key, found end of header")),
    "err-lone-surrogate": .invalid(
      .invalidHeaderJSON(offset: 2, reason: "unpaired high surrogate \\ud800")),
    "err-deep-nesting": .invalid(
      .invalidHeaderJSON(offset: 68, reason: "nesting deeper than 64 levels")),
    "err-header-not-object": .invalid(.headerNotObject(found: "an array")),
    "err-missing-dtype": .invalid(
      .malformedTensorEntry(tensor: "a", reason: "missing field \"dtype\"")),
    "err-negative-dim": .invalid(
      .malformedTensorEntry(
        tensor: "a", reason: "\"shape\"[0] is -4: a dimension cannot be negative")),
    "err-unknown-dtype": .invalid(.unknownDType(tensor: "a", dtype: "F31")),
    "err-offsets-out-of-range": .invalid(
      .offsetsOutOfRange(tensor: "a", begin: 0, end: 32, bufferLength: 16)),
    "err-begin-after-end": .invalid(.beginAfterEnd(tensor: "a", begin: 16, end: 0)),
    "err-size-mismatch": .invalid(
      .byteSizeMismatch(tensor: "a", dtype: .f64, shape: [4], expected: 32, actual: 16)),
    "err-shape-overflow": .invalid(
      .elementCountOverflow(tensor: "a", shape: [1 << 62, 4], dtype: .f32)),
    "err-duplicate-name": .invalid(.duplicateTensorName("a")),
    "err-metadata-not-string": .invalid(
      .metadataValueNotString(key: "epochs", found: "the number 3")),
    "err-overlap": .invalid(
      .overlappingTensors(first: "a", firstRange: 0..<12, second: "b", secondRange: 8..<16)),
    "err-hole": .invalid(.holeBetweenTensors(previous: "a", next: "b", hole: 4..<8)),
    "err-buffer-not-covered": .invalid(
      .bufferNotCovered(last: "a", coveredUpTo: 12, bufferLength: 16)),
  ]

  static func corpusFiles() throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: fixturesDirectory)
      .filter { $0.hasSuffix(".safetensors") }.sorted()
  }

  @Test("every corpus file decodes to its expected outcome, and every file is listed")
  func corpus() throws {
    let files = try Self.corpusFiles()
    #expect(
      Set(files.map { String($0.dropLast(".safetensors".count)) })
        == Set(Self.corpusExpectations.keys))
    for file in files {
      let name = String(file.dropLast(".safetensors".count))
      let path = fixturesDirectory + "/" + file
      switch Self.corpusExpectations[name] {
      case .valid(let names):
        let decoded = try SafetensorsFile.read(from: path)
        #expect(Set(decoded.names) == names, "\(file)")
        #expect(try SafetensorsFile.decode(decoded.encode()) == decoded, "\(file)")
      case .invalid(let error):
        // Read from its path, the error names the file; the bytes alone give the bare case.
        #expect(throws: SafetensorsError.malformedFile(path: path, error: error), "\(file)") {
          try SafetensorsFile.read(from: path)
        }
        let bytes = try #require(FileManager.default.contents(atPath: path), "\(file)")
        #expect(throws: error, "\(file)") { try SafetensorsFile.decode([UInt8](bytes)) }
      case nil:
        break
      }
    }
  }

  @Test("files written by Python's safetensors.numpy.save_file read back with their values")
  func pythonWrittenFixtures() throws {
    let file = try SafetensorsFile.read(
      from: fixturesDirectory + "/valid-python-f32-f64-metadata.safetensors")
    #expect(file["weight"]!.shape == [2, 3])
    #expect(try file["weight"]!.floats() == [0, 0.25, 0.5, 0.75, 1, 1.25])
    #expect(try file["bias"]!.doubles() == [-1.5, 0, 2.25])
    #expect(file.metadata == ["architecture": #"{"layers":[{"type":"bump","units":3}]}"#])

    let small = try SafetensorsFile.read(
      from: fixturesDirectory + "/valid-python-scalar-and-empty.safetensors")
    #expect(small["scalar"]!.shape == [])
    #expect(try small["scalar"]!.floats() == [7.5])
    #expect(small["empty"]!.shape == [0, 4])
    #expect(small["empty"]!.dtype == .f64)

    let half = try SafetensorsFile.read(from: fixturesDirectory + "/valid-python-f16.safetensors")
    #expect(half["half"]!.data == [0x00, 0x3C, 0x00, 0xB8], "1.0 and -0.5 in binary16")
    #expect(throws: SafetensorsError.dtypeMismatch(requested: .f32, actual: .f16)) {
      try half["half"]!.floats()
    }
  }

  // MARK: - Fuzzing

  @Test(
    "decode survives a million mutated files: it returns a valid file or throws SafetensorsError")
  func fuzzDecode() throws {
    let iterations = _isDebugAssertConfiguration() ? 10_000 : 1_000_000
    var seeds = try SafetensorsFuzzer.builtInSeeds()
    for file in try Self.corpusFiles() {
      if let bytes = FileManager.default.contents(atPath: fixturesDirectory + "/" + file),
        bytes.count <= 1024
      {
        seeds.append(Array(bytes))
      }
    }
    var fuzzer = SafetensorsFuzzer(seed: 0xB0_4D5A_FE7E_4505, seeds: seeds)
    var outcomes: [String: Int] = [:]
    let clock = ContinuousClock()
    let start = clock.now
    for _ in 0..<iterations {
      let input = fuzzer.nextInput()
      do {
        let file = try SafetensorsFile.decode(input)
        outcomes["success", default: 0] += 1
        let again = try SafetensorsFile.decode(file.encode())
        if again != file {
          Issue.record("re-encoding changed a decoded file; input: \(input)")
          return
        }
      } catch let error as SafetensorsError {
        outcomes[kind(of: error), default: 0] += 1
      } catch {
        Issue.record("decode threw a non-SafetensorsError \(error); input: \(input)")
        return
      }
    }
    let elapsed = clock.now - start
    let summary = outcomes.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(
      separator: ", ")
    print("safetensors fuzz: \(iterations) inputs in \(elapsed): \(summary)")
    // The mutator must reach deep into validation, not just break the framing.
    #expect(outcomes["success", default: 0] >= iterations / 100, "\(summary)")
    for expected in [
      "truncatedFile", "headerTooLarge", "headerLengthExceedsFile", "headerNotUTF8",
      "invalidHeaderJSON",
      "malformedTensorEntry", "unknownDType", "beginAfterEnd", "offsetsOutOfRange",
      "byteSizeMismatch",
      "overlappingTensors", "holeBetweenTensors", "bufferNotCovered", "duplicateTensorName",
    ] {
      #expect(outcomes[expected, default: 0] > 0, "no input produced \(expected): \(summary)")
    }
  }

  // MARK: - Atomic writes

  @Test("a write interrupted before the rename leaves the old file intact and no temporary file")
  func interruptedWrite() throws {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let path = directory.path + "/model.safetensors"
    let old = try SafetensorsFile(
      tensors: ["w": Tensor([1, 2, 3] as [Float], shape: [3])], metadata: ["v": "1"])
    try old.write(to: path)
    let oldBytes = try #require(FileManager.default.contents(atPath: path))

    let new = try Self.sampleFile()
    struct SimulatedCrash: Error {}
    var temporaryFiles: [String] = []
    #expect(throws: SimulatedCrash.self) {
      try new.write(to: path) {
        // The new contents are complete and synced in a sibling file at this point.
        temporaryFiles = try directory.entries().filter { $0 != "model.safetensors" }
        if let temporary = temporaryFiles.first {
          #expect(
            FileManager.default.contents(atPath: directory.path + "/" + temporary).map(Array.init)
              == new.encode())
        }
        throw SimulatedCrash()
      }
    }
    #expect(temporaryFiles.count == 1 && temporaryFiles[0].hasPrefix(".model.safetensors.tmp-"))
    #expect(
      FileManager.default.contents(atPath: path) == oldBytes, "the old file is byte-identical")
    #expect(try directory.entries() == ["model.safetensors"], "no temporary file is left behind")
    #expect(try SafetensorsFile.read(from: path) == old)

    try new.write(to: path)
    #expect(try SafetensorsFile.read(from: path) == new)
    #expect(try directory.entries() == ["model.safetensors"])
  }

  @Test("file system errors are reported with the path and errno")
  func fileErrors() throws {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let missing = directory.path + "/missing.safetensors"
    #expect(throws: SafetensorsError.io(operation: "open", path: missing, errno: ENOENT)) {
      try SafetensorsFile.read(from: missing)
    }
    #expect(throws: SafetensorsError.io(operation: "read", path: directory.path, errno: EISDIR)) {
      try SafetensorsFile.read(from: directory.path)
    }
    let noDirectory = directory.path + "/no/such/dir/model.safetensors"
    #expect(
      throws: SafetensorsError.io(
        operation: "create a temporary file for", path: noDirectory, errno: ENOENT)
    ) {
      try SafetensorsFile().write(to: noDirectory)
    }
    #expect(
      throws: SafetensorsError.io(operation: "write to", path: directory.path + "/", errno: EISDIR)
    ) {
      try SafetensorsFile().write(to: directory.path + "/")
    }
    #expect(try directory.entries() == [])
  }

  @Test("a malformed file read from a path names the path, whichever function reads it; its content error stays the bare case")
  func malformedFilesNameThePath() throws {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let path = directory.path + "/broken.safetensors"
    // A header length of 1000 with 2 bytes after it.
    #expect(FileManager.default.createFile(atPath: path, contents: Data(rawFile([0x7B, 0x7D], length: 1000))))
    let bare = SafetensorsError.headerLengthExceedsFile(length: 1000, available: 2)
    let expected = SafetensorsError.malformedFile(path: path, error: bare)
    let readers: [(String, () throws -> Void)] = [
      ("SafetensorsFile.read(from:)", { _ = try SafetensorsFile.read(from: path) }),
      ("Checkpoint.header(at:)", { _ = try Checkpoint.header(at: path) }),
      ("Checkpoint.load(_:from:)", { _ = try Checkpoint.load(Float.self, from: path) }),
      ("Checkpoint.loadForResuming(_:from:optimizer:)", {
        _ = try Checkpoint.loadForResuming(Float.self, from: path, optimizer: try Adam<Float>())
      }),
    ]
    for (name, read) in readers {
      let error = #expect(throws: SafetensorsError.self, "\(name)") { try read() }
      #expect(error == expected, "\(name)")
      #expect(error?.contentError == bare, "\(name)")
    }
    #expect(expected.description == "\"\(path)\" is not a valid safetensors file: \(bare)")
    // Bytes in memory have no path: decode throws the bare case, whose content error is itself.
    #expect(throws: bare) { try SafetensorsFile.decode(rawFile([0x7B, 0x7D], length: 1000)) }
    #expect(bare.contentError == bare)
    // Errors that name their path already are not wrapped again.
    let missing = directory.path + "/missing.safetensors"
    #expect(throws: SafetensorsError.io(operation: "open", path: missing, errno: ENOENT)) {
      try Checkpoint.load(Float.self, from: missing)
    }
  }

  /// `/dev/zero` and `/dev/urandom` report 0 bytes and never end; they were called truncated
  /// files of 0 bytes. A pipe with no writer is refused too, without waiting for one.
  @Test("a device or pipe is refused as not a regular file; an empty file is called empty")
  func specialFiles() throws {
    for device in ["/dev/zero", "/dev/urandom"] {
      let expected = SafetensorsError.notARegularFile(path: device, kind: "a character device")
      #expect(throws: expected) { try SafetensorsFile.read(from: device) }
      #expect(
        expected.description
          == "cannot read \"\(device)\" as a safetensors file: it is a character device, not a regular file (its size cannot be known before reading it)")
    }
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let pipe = directory.path + "/pipe"
    #expect(mkfifo(pipe, 0o600) == 0)
    #expect(throws: SafetensorsError.notARegularFile(path: pipe, kind: "a pipe")) {
      try SafetensorsFile.read(from: pipe)
    }
    let empty = directory.path + "/empty.safetensors"
    #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
    #expect(throws: SafetensorsError.malformedFile(path: empty, error: .truncatedFile(byteCount: 0))) {
      try SafetensorsFile.read(from: empty)
    }
    #expect(
      SafetensorsError.truncatedFile(byteCount: 0).description
        == "empty file: a safetensors file starts with an 8-byte header length")
  }

  // MARK: - Python interoperability

  @Test("Python's safetensors reads what we write: values, dtypes, shapes and metadata")
  func pythonReadsOurFiles() throws {
    try PythonScript.requireSafetensors(for: "the interop tests")
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let specPath = directory.path + "/spec.json"
    let filePath = directory.path + "/swift.safetensors"
    try PythonInterop.writeSpec(of: PythonInterop.sampleFile(), to: specPath)
    try PythonInterop.sampleFile().write(to: filePath)
    let result = try PythonInterop.script.run(["check", specPath, filePath])
    #expect(result.status == 0, "safetensors_interop.py check failed:\n\(result.output)")
  }

  @Test("we read what Python's safetensors.numpy.save_file writes")
  func weReadPythonFiles() throws {
    try PythonScript.requireSafetensors(for: "the interop tests")
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let specPath = directory.path + "/spec.json"
    let filePath = directory.path + "/python.safetensors"
    let expected = try PythonInterop.sampleFile()
    try PythonInterop.writeSpec(of: expected, to: specPath)
    let result = try PythonInterop.script.run(["write", specPath, filePath])
    try #require(result.status == 0, "safetensors_interop.py write failed:\n\(result.output)")
    let file = try SafetensorsFile.read(from: filePath)
    #expect(file.tensors == expected.tensors)
    #expect(file.metadata == expected.metadata)
    #expect(Set(file.names) == Set(expected.names))
  }
}

// MARK: - Python helpers

private enum PythonInterop {
  static let script = PythonScript("safetensors_interop.py")

  /// Tensors covering what interop can get wrong: special values, NaN payloads, a scalar,
  /// zero-size dimensions, F16, non-ASCII names, and metadata that needs JSON escapes.
  static func sampleFile() throws -> SafetensorsFile {
    var file = try SafetensorsTests.sampleFile()
    try file.insert(Tensor(dtype: .f16, shape: [2], data: [0x00, 0x3C, 0x00, 0xB8]), named: "half")
    try file.insert(
      Tensor((0..<1000).map { sin(Double($0)) * 1e10 }, shape: [10, 100]), named: "large")
    file.metadata["format"] = "pt"
    return file
  }

  /// Writes the JSON spec safetensors_interop.py checks against (bit patterns in hex).
  static func writeSpec(of file: SafetensorsFile, to path: String) throws {
    let tensors: [[String: Any]] = file.names.map { name in
      let tensor = file[name]!
      let width = tensor.dtype.byteSize
      let bits = stride(from: 0, to: tensor.data.count, by: width).map { offset in
        String(
          tensor.data[offset..<offset + width].reversed().reduce(UInt64(0)) {
            $0 << 8 | UInt64($1)
          }, radix: 16)
      }
      return ["name": name, "dtype": tensor.dtype.rawValue, "shape": tensor.shape, "bits": bits]
    }
    let spec: [String: Any] = ["tensors": tensors, "metadata": file.metadata]
    try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: path))
  }
}

// MARK: - Fuzzer

/// A seeded mutation fuzzer for safetensors files: bit flips, byte insertions and deletions,
/// truncation, length-field edits, splices of JSON fragments (keeping the length field
/// consistent half the time, so mutations reach the validation behind the framing), numeric
/// edits and crossover between seeds.
private struct SafetensorsFuzzer {
  /// SplitMix64: small, fast and reproducible across platforms.
  struct Generator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
  }

  var rng: Generator
  let seeds: [[UInt8]]

  init(seed: UInt64, seeds: [[UInt8]]) {
    rng = Generator(state: seed)
    self.seeds = seeds
  }

  static let fragments: [[UInt8]] =
    [
      "{", "}", "[", "]", ",", ":", "\"", "\\", " ", "0", "-1", "1.5", "1e3", "null", "true",
      #""\u0000""#, #""\ud800""#, #""\ud83d\ude00""#, #"\""#, #""__metadata__""#,
      #""dtype":"F32""#, #""dtype":"F64""#, #""dtype":"BF16""#, #""dtype":"F99""#, #""dtype":1"#,
      #""shape":[]"#, #""shape":[0]"#, #""shape":[2,2]"#, #""shape":[-1]"#,
      #""shape":[4611686018427387904,4]"#,
      #""data_offsets":[0,0]"#, #""data_offsets":[0,16]"#, #""data_offsets":[16,0]"#,
      #""data_offsets":[0,18446744073709551615]"#, #""data_offsets":[0]"#,
      #""__metadata__":{"k":"v"}"#, #""__metadata__":{"k":1}"#, #""__metadata__":[]"#,
      #""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"#, #""a":{},"#,
      "é", String(repeating: "[", count: 70),
    ].map { Array($0.utf8) } + [
      [0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0],
    ]

  static let numbers: [[UInt8]] = [
    "0", "1", "2", "3", "4", "8", "12", "16", "24", "-1", "-0", "1.0", "1e1", "65536", "4294967296",
    "4611686018427387904", "9223372036854775807", "9223372036854775808", "18446744073709551616",
  ].map { Array($0.utf8) }

  static let interestingBytes: [UInt8] =
    Array("{}[]\",:\\ 0-e.u".utf8) + [0x00, 0x0A, 0x80, 0xC2, 0xE0, 0xF0, 0xFF]

  /// Valid files covering the shapes of header the format allows.
  static func builtInSeeds() throws -> [[UInt8]] {
    let two = try SafetensorsFile(
      tensors: [
        "w": Tensor([1, 2, 3, 4] as [Float], shape: [2, 2]),
        "b": Tensor([0.5, -0.5] as [Double], shape: [2]),
      ],
      metadata: ["arch": #"{"units":2}"#, "epoch": "3"])
    let edge = try SafetensorsFile(tensors: [
      "s": Tensor([Float(1)], shape: []),
      "e": Tensor([Double](), shape: [0, 2]),
      "h": Tensor(dtype: .f16, shape: [1, 2], data: [0, 0x3C, 0, 0xC0]),
      "i": Tensor(dtype: .u8, shape: [3], data: [1, 2, 3]),
    ])
    return [
      two.encode(), edge.encode(), SafetensorsFile().encode(),
      SafetensorsFile(metadata: ["k": "v"]).encode(),
    ]
  }

  mutating func nextInput() -> [UInt8] {
    var input = seeds[rng.below(seeds.count)]
    for _ in 0...rng.below(3) { mutate(&input) }
    return input
  }

  private func headerLength(_ bytes: [UInt8]) -> Int? {
    guard bytes.count >= 8 else { return nil }
    let n = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    return n <= UInt64(bytes.count - 8) ? Int(n) : nil
  }

  private func setHeaderLength(_ bytes: inout [UInt8], _ n: UInt64) {
    if bytes.count < 8 { bytes += [UInt8](repeating: 0, count: 8 - bytes.count) }
    for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: n >> (8 * UInt64(i))) }
  }

  /// A position inside the header (or anywhere, when the length field is already broken).
  private mutating func headerPosition(_ bytes: [UInt8]) -> Int {
    if let n = headerLength(bytes) { return 8 + rng.below(n + 1) }
    return rng.below(bytes.count + 1)
  }

  /// Replaces `range` with `replacement`. When the range lies inside a header whose length
  /// field is consistent, the field is updated three times in four, so that most edits keep
  /// the framing valid and reach the JSON and layout checks behind it.
  private mutating func replace(
    _ bytes: inout [UInt8], _ range: Range<Int>, with replacement: [UInt8]
  ) {
    let n = headerLength(bytes)
    bytes.replaceSubrange(range, with: replacement)
    if let n, range.lowerBound >= 8, range.upperBound <= 8 + n, rng.below(4) != 0 {
      setHeaderLength(&bytes, UInt64(n - range.count + replacement.count))
    }
  }

  private mutating func mutate(_ bytes: inout [UInt8]) {
    switch rng.below(11) {
    case 0 where !bytes.isEmpty:
      bytes[rng.below(bytes.count)] ^= 1 << UInt8(rng.below(8))
    case 1 where !bytes.isEmpty:
      let value =
        rng.below(2) == 0
        ? Self.interestingBytes[rng.below(Self.interestingBytes.count)]
        : UInt8(truncatingIfNeeded: rng.next())
      bytes[rng.below(bytes.count)] = value
    case 2:
      let at = rng.below(bytes.count + 1)
      let inserted = (0...rng.below(4)).map { _ in
        Self.interestingBytes[rng.below(Self.interestingBytes.count)]
      }
      replace(&bytes, at..<at, with: inserted)
    case 3 where !bytes.isEmpty:
      let start = rng.below(bytes.count)
      replace(&bytes, start..<min(bytes.count, start + 1 + rng.below(8)), with: [])
    case 4:
      bytes.removeLast(rng.below(bytes.count + 1))
    case 5:
      let current = headerLength(bytes) ?? 0
      let choices: [UInt64] = [
        UInt64(rng.below(bytes.count + 1)), UInt64(max(0, current + rng.below(17) - 8)),
        UInt64(max(0, bytes.count - 8)), rng.next(), UInt64.max, 100_000_000, 100_000_001, 0,
      ]
      setHeaderLength(&bytes, choices[rng.below(choices.count)])
    case 6, 7:
      let at = headerPosition(bytes)
      let fragment = Self.fragments[rng.below(Self.fragments.count)]
      let length = rng.below(2) == 0 ? 0 : rng.below(min(12, bytes.count - at) + 1)
      replace(&bytes, at..<at + length, with: fragment)
    case 8, 9:
      // Rewrite a number in the header: the way to reach offsets, shapes and sizes.
      let digits = bytes.indices.filter { (48...57).contains(bytes[$0]) && $0 >= 8 }
      guard !digits.isEmpty else { return }
      var start = digits[rng.below(digits.count)]
      var end = start + 1
      while start > 8, (48...57).contains(bytes[start - 1]) || bytes[start - 1] == UInt8(ascii: "-")
      { start -= 1 }
      while end < bytes.count, (48...57).contains(bytes[end]) { end += 1 }
      let replacement: [UInt8]
      if rng.below(2) == 0 {
        let old = Int(String(decoding: bytes[start..<end], as: UTF8.self)) ?? 0
        replacement = Array(String(max(-1, old &+ (rng.below(9) - 4))).utf8)
      } else {
        replacement = Self.numbers[rng.below(Self.numbers.count)]
      }
      replace(&bytes, start..<end, with: replacement)
    case 10:
      // Crossover: a chunk of another seed.
      let donor = seeds[rng.below(seeds.count)]
      guard !donor.isEmpty else { return }
      let from = rng.below(donor.count)
      let chunk = Array(donor[from..<min(donor.count, from + 1 + rng.below(32))])
      let at = headerPosition(bytes)
      replace(&bytes, at..<at, with: chunk)
    default:
      break
    }
  }
}
