extension SafetensorsFile {
  /// The element type of a tensor, spelled as in the safetensors header (`"F32"`, `"BF16"`, …).
  ///
  /// Every dtype of the format with a whole number of bytes per element is recognised, so a
  /// file holding, say, F16 weights decodes and re-encodes unchanged. BumpKit converts values
  /// only for ``f32`` and ``f64``; the others are kept as raw little-endian bytes in
  /// ``Tensor/data``. Names outside this list are rejected with
  /// ``SafetensorsError/unknownDType(tensor:dtype:)``.
  public enum DType: String, CaseIterable, Equatable, Hashable, Sendable {
    /// Boolean, one byte per element.
    case bool = "BOOL"
    /// Unsigned 8-bit integer.
    case u8 = "U8"
    /// Signed 8-bit integer.
    case i8 = "I8"
    /// 8-bit float with 5 exponent and 2 mantissa bits.
    case f8E5M2 = "F8_E5M2"
    /// 8-bit float with 4 exponent and 3 mantissa bits.
    case f8E4M3 = "F8_E4M3"
    /// 8-bit exponent-only scale (OCP MX E8M0).
    case f8E8M0 = "F8_E8M0"
    /// Signed 16-bit integer.
    case i16 = "I16"
    /// Unsigned 16-bit integer.
    case u16 = "U16"
    /// IEEE 754 binary16.
    case f16 = "F16"
    /// bfloat16: the top half of a binary32.
    case bf16 = "BF16"
    /// Signed 32-bit integer.
    case i32 = "I32"
    /// Unsigned 32-bit integer.
    case u32 = "U32"
    /// IEEE 754 binary32, Swift's `Float`.
    case f32 = "F32"
    /// Complex number of two binary32 (real, imaginary).
    case c64 = "C64"
    /// Signed 64-bit integer.
    case i64 = "I64"
    /// Unsigned 64-bit integer.
    case u64 = "U64"
    /// IEEE 754 binary64, Swift's `Double`.
    case f64 = "F64"

    /// The size of one element in bytes.
    public var byteSize: Int {
      switch self {
      case .bool, .u8, .i8, .f8E5M2, .f8E4M3, .f8E8M0: return 1
      case .i16, .u16, .f16, .bf16: return 2
      case .i32, .u32, .f32: return 4
      case .c64, .i64, .u64, .f64: return 8
      }
    }
  }

  /// One tensor of a safetensors file: a dtype, a row-major shape and the little-endian bytes
  /// of its elements.
  ///
  /// The invariant `data.count == shape.reduce(1, *) × dtype.byteSize` holds for every value
  /// (the initialisers check it), so a tensor can always be encoded. A shape of `[]` is a
  /// scalar (one element); a shape with a zero dimension has no elements and no bytes.
  ///
  /// ```swift
  /// let w = try SafetensorsFile.Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
  /// try w.floats()  // [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
  /// ```
  public struct Tensor: Equatable, Hashable, Sendable {
    /// The element type.
    public let dtype: DType
    /// The dimensions, outermost first (row-major). Empty for a scalar.
    public let shape: [Int]
    /// The elements' bytes: row-major, little-endian, `elementCount × dtype.byteSize` long.
    public let data: [UInt8]

    /// The number of elements: the product of ``shape`` (1 for a scalar).
    public var elementCount: Int { data.count / dtype.byteSize }

    /// A tensor of `dtype` and `shape` over the raw little-endian bytes `data`.
    ///
    /// - Throws: ``SafetensorsError/invalidShape(shape:reason:)`` for a negative dimension or
    ///   a size beyond `Int`; ``SafetensorsError/dataSizeMismatch(dtype:shape:expectedBytes:actualBytes:)``
    ///   if `data` does not hold exactly the shape's elements.
    public init(dtype: DType, shape: [Int], data: [UInt8]) throws {
      let expected = try Self.byteCount(of: shape, dtype: dtype)
      guard data.count == expected else {
        throw SafetensorsError.dataSizeMismatch(
          dtype: dtype, shape: shape, expectedBytes: expected, actualBytes: data.count)
      }
      self.init(unchecked: dtype, shape: shape, data: data)
    }

    /// An F32 tensor of `shape` holding `values` in row-major order.
    ///
    /// - Throws: ``SafetensorsError/invalidShape(shape:reason:)`` or
    ///   ``SafetensorsError/valueCountMismatch(shape:expected:actual:)``.
    public init(_ values: [Float], shape: [Int]) throws {
      self = try Self.encoding(values, shape: shape)
    }

    /// An F64 tensor of `shape` holding `values` in row-major order.
    ///
    /// - Throws: ``SafetensorsError/invalidShape(shape:reason:)`` or
    ///   ``SafetensorsError/valueCountMismatch(shape:expected:actual:)``.
    public init(_ values: [Double], shape: [Int]) throws {
      self = try Self.encoding(values, shape: shape)
    }

    /// The elements of an F32 tensor, row-major, bit for bit (NaN payloads and −0 included).
    ///
    /// - Throws: ``SafetensorsError/dtypeMismatch(requested:actual:)`` unless ``dtype`` is
    ///   ``DType/f32``.
    public func floats() throws -> [Float] { try decoded(as: Float.self) }

    /// The elements of an F64 tensor, row-major, bit for bit (NaN payloads and −0 included).
    ///
    /// - Throws: ``SafetensorsError/dtypeMismatch(requested:actual:)`` unless ``dtype`` is
    ///   ``DType/f64``.
    public func doubles() throws -> [Double] { try decoded(as: Double.self) }

    init(unchecked dtype: DType, shape: [Int], data: [UInt8]) {
      self.dtype = dtype
      self.shape = shape
      self.data = data
    }

    /// The number of bytes `shape` of `dtype` occupies, or `nil` for a negative dimension
    /// or a size beyond `Int`. A zero dimension makes the size 0 whatever the others are.
    static func checkedByteCount(of shape: [Int], dtype: DType) -> Int? {
      if shape.contains(where: { $0 < 0 }) { return nil }
      if shape.contains(0) { return 0 }
      var count = dtype.byteSize
      for dimension in shape {
        let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
        if overflow { return nil }
        count = product
      }
      return count
    }

    private static func byteCount(of shape: [Int], dtype: DType) throws -> Int {
      if let negative = shape.first(where: { $0 < 0 }) {
        throw SafetensorsError.invalidShape(
          shape: shape, reason: "dimension \(negative) is negative")
      }
      guard let count = checkedByteCount(of: shape, dtype: dtype) else {
        throw SafetensorsError.invalidShape(
          shape: shape, reason: "its size in \(dtype.rawValue) bytes overflows Int")
      }
      return count
    }

    private static func encoding<T: SafetensorsScalar>(_ values: [T], shape: [Int]) throws -> Self {
      let bytes = try byteCount(of: shape, dtype: T.safetensorsDType)
      let expected = bytes / MemoryLayout<T.Bits>.size
      guard values.count == expected else {
        throw SafetensorsError.valueCountMismatch(
          shape: shape, expected: expected, actual: values.count)
      }
      let data = [UInt8](unsafeUninitializedCapacity: bytes) { buffer, initialized in
        let raw = UnsafeMutableRawBufferPointer(buffer)
        for (i, value) in values.enumerated() {
          raw.storeBytes(
            of: value.bitPattern.littleEndian, toByteOffset: i * MemoryLayout<T.Bits>.size,
            as: T.Bits.self)
        }
        initialized = bytes
      }
      return Self(unchecked: T.safetensorsDType, shape: shape, data: data)
    }

    private func decoded<T: SafetensorsScalar>(as type: T.Type) throws -> [T] {
      guard dtype == T.safetensorsDType else {
        throw SafetensorsError.dtypeMismatch(requested: T.safetensorsDType, actual: dtype)
      }
      let count = elementCount
      return data.withUnsafeBytes { raw in
        [T](unsafeUninitializedCapacity: count) { buffer, initialized in
          for i in 0..<count {
            let bits = raw.loadUnaligned(
              fromByteOffset: i * MemoryLayout<T.Bits>.size, as: T.Bits.self)
            buffer.initializeElement(at: i, to: T(bitPattern: T.Bits(littleEndian: bits)))
          }
          initialized = count
        }
      }
    }
  }
}

/// A floating-point type BumpKit converts to and from safetensors bytes.
protocol SafetensorsScalar {
  associatedtype Bits: FixedWidthInteger
  static var safetensorsDType: SafetensorsFile.DType { get }
  var bitPattern: Bits { get }
  init(bitPattern: Bits)
}

extension Float: SafetensorsScalar {
  static var safetensorsDType: SafetensorsFile.DType { .f32 }
}

extension Double: SafetensorsScalar {
  static var safetensorsDType: SafetensorsFile.DType { .f64 }
}
