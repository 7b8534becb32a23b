#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// An error from reading, validating or writing a safetensors file.
///
/// Every case carries what is needed to find the fault: the tensor's name, the offending byte
/// offsets, the shape and dtype. Offsets called *header offsets* count from the first byte of
/// the JSON header (file offset 8); `data_offsets` count from the first byte of the data
/// buffer, as in the file format.
///
/// The ``description`` is one line written for people, e.g.
/// `tensors "a" (bytes 0..<16) and "b" (bytes 8..<24) of the data buffer overlap`.
///
/// See also: ``SafetensorsFile/decode(_:)``, ``SafetensorsFile/read(from:)``,
/// ``SafetensorsFile/write(to:)``.
public enum SafetensorsError: Error, Equatable, Sendable, CustomStringConvertible {
  // MARK: Framing

  /// The file has `byteCount` bytes, fewer than the 8 bytes of the header-length field
  /// (none: the file is empty).
  case truncatedFile(byteCount: Int)

  /// The header-length field claims `length` bytes, more than the reader accepts (`limit`,
  /// 100 MB, the limit of the reference implementation). Checked before anything is allocated.
  case headerTooLarge(length: UInt64, limit: Int)

  /// The header-length field claims `length` bytes but only `available` bytes follow it.
  case headerLengthExceedsFile(length: UInt64, available: Int)

  /// The header is not valid UTF-8; `offset` is the header offset of the first bad byte.
  case headerNotUTF8(offset: Int)

  /// The header is not valid JSON (or nests deeper than the reader accepts); `offset` is the
  /// header offset where parsing stopped and `reason` says what was expected there.
  case invalidHeaderJSON(offset: Int, reason: String)

  /// The header is valid JSON but not an object; `found` names what it is ("an array", …).
  case headerNotObject(found: String)

  // MARK: Header entries

  /// The header names the tensor `name` more than once (JSON parsers that keep the last
  /// duplicate key would silently drop a tensor, so this is rejected).
  case duplicateTensorName(String)

  /// The entry for tensor `tensor` is not `{"dtype": String, "shape": [Int], "data_offsets":
  /// [Int, Int]}`; `reason` names the missing or ill-typed field (negative dimensions and
  /// offsets, fractions and integers beyond 64 bits are ill-typed too).
  case malformedTensorEntry(tensor: String, reason: String)

  /// Tensor `tensor` has a `dtype` that is not one of ``SafetensorsFile/DType``.
  case unknownDType(tensor: String, dtype: String)

  /// Tensor `tensor` has `data_offsets` `[begin, end]` with `begin > end`.
  case beginAfterEnd(tensor: String, begin: Int, end: Int)

  /// Tensor `tensor` has `data_offsets` `[begin, end]` reaching past the end of the data
  /// buffer, which has `bufferLength` bytes.
  case offsetsOutOfRange(tensor: String, begin: Int, end: Int, bufferLength: Int)

  /// The number of elements of tensor `tensor`, or its size in bytes, does not fit in `Int`.
  case elementCountOverflow(tensor: String, shape: [Int], dtype: SafetensorsFile.DType)

  /// Tensor `tensor` spans `actual` bytes, but `shape` × the size of `dtype` is `expected`.
  case byteSizeMismatch(
    tensor: String, dtype: SafetensorsFile.DType, shape: [Int], expected: Int, actual: Int)

  // MARK: Data buffer layout

  /// Tensors `first` and `second` share bytes of the data buffer.
  case overlappingTensors(
    first: String, firstRange: Range<Int>, second: String, secondRange: Range<Int>)

  /// The bytes `hole` of the data buffer, between tensor `previous` (`nil`: the start of the
  /// buffer) and tensor `next`, belong to no tensor.
  case holeBetweenTensors(previous: String?, next: String, hole: Range<Int>)

  /// The data buffer has `bufferLength` bytes but the tensors cover only `0..<coveredUpTo`;
  /// `last` is the tensor that ends there (`nil` when there are no tensors).
  case bufferNotCovered(last: String?, coveredUpTo: Int, bufferLength: Int)

  // MARK: Metadata

  /// `__metadata__` is not an object of strings, or appears twice; `reason` says which.
  case malformedMetadata(reason: String)

  /// The metadata value for `key` is `found` ("a number", …), not a string.
  case metadataValueNotString(key: String, found: String)

  /// The metadata key `key` appears more than once.
  case duplicateMetadataKey(String)

  // MARK: Building and accessing tensors

  /// A tensor was given the name `__metadata__`, which the format reserves.
  case reservedTensorName(String)

  /// `shape` is not a valid tensor shape; `reason` says why (a negative dimension, an element
  /// count beyond `Int`).
  case invalidShape(shape: [Int], reason: String)

  /// `shape` holds `expected` elements but `actual` values were given.
  case valueCountMismatch(shape: [Int], expected: Int, actual: Int)

  /// `shape` of `dtype` needs `expectedBytes` bytes but `actualBytes` were given.
  case dataSizeMismatch(
    dtype: SafetensorsFile.DType, shape: [Int], expectedBytes: Int, actualBytes: Int)

  /// The values of a tensor of dtype `actual` were requested as `requested`. BumpKit converts
  /// only F32 (``SafetensorsFile/Tensor/floats()``) and F64
  /// (``SafetensorsFile/Tensor/doubles()``); other dtypes keep their raw bytes.
  case dtypeMismatch(requested: SafetensorsFile.DType, actual: SafetensorsFile.DType)

  // MARK: Files

  /// `path` is not a regular file but `kind` ("a character device", "a pipe", …): it has no
  /// size to check the header against (a device such as `/dev/zero` reports none and never
  /// ends), so it is not read.
  case notARegularFile(path: String, kind: String)

  /// The system call behind `operation` (e.g. "open for reading") failed on `path` with
  /// `errno`.
  case io(operation: String, path: String, errno: Int32)

  /// The safetensors file at `path` is malformed, as `error` says (a framing, header,
  /// layout or metadata case above).
  ///
  /// The functions that read a file from a path — ``SafetensorsFile/read(from:)``,
  /// ``Checkpoint/header(at:)``, ``Checkpoint/summary(at:)``, ``Checkpoint/load(_:from:)``
  /// and ``Checkpoint/loadForResuming(_:from:optimizer:)`` — throw their validation errors in
  /// this case, so that the message names the file; ``SafetensorsFile/decode(_:)``, which has
  /// no file, throws them bare. ``io(operation:path:errno:)`` and
  /// ``notARegularFile(path:kind:)`` name their path already and are never wrapped. To handle
  /// what is wrong with the bytes whichever function read them, switch over
  /// ``contentError``.
  indirect case malformedFile(path: String, error: SafetensorsError)

  /// What is wrong with the file's bytes: the `error` of
  /// ``malformedFile(path:error:)``, and the error itself for every other case.
  public var contentError: SafetensorsError {
    if case .malformedFile(_, let error) = self { return error }
    return self
  }

  /// This error naming the file at `path` (``malformedFile(path:error:)``), unless it names a
  /// path already.
  func naming(path: String) -> SafetensorsError {
    switch self {
    case .io, .notARegularFile, .malformedFile: self
    default: .malformedFile(path: path, error: self)
    }
  }

  /// A one-line explanation naming the tensor, key, offsets or path concerned.
  public var description: String {
    switch self {
    case .truncatedFile(0):
      return "empty file: a safetensors file starts with an 8-byte header length"
    case .truncatedFile(let byteCount):
      return "truncated safetensors file: \(byteCount) bytes, fewer than the 8-byte header length"
    case .headerTooLarge(let length, let limit):
      return "safetensors header length \(length) exceeds the limit of \(limit) bytes"
        + textHint(length)
    case .headerLengthExceedsFile(let length, let available):
      return
        "safetensors header length \(length) is larger than the \(available) bytes that follow it"
        + textHint(length)
    case .headerNotUTF8(let offset):
      return "safetensors header is not valid UTF-8 (bad byte at header offset \(offset))"
    case .invalidHeaderJSON(let offset, let reason):
      return "safetensors header is not valid JSON at header offset \(offset): \(reason)"
    case .headerNotObject(let found):
      return "safetensors header must be a JSON object, found \(found)"
    case .duplicateTensorName(let name):
      return "tensor \(quoted(name)) appears more than once in the header"
    case .malformedTensorEntry(let tensor, let reason):
      return "malformed header entry for tensor \(quoted(tensor)): \(reason)"
    case .unknownDType(let tensor, let dtype):
      return "tensor \(quoted(tensor)) has unknown dtype \(quoted(dtype))"
    case .beginAfterEnd(let tensor, let begin, let end):
      return "tensor \(quoted(tensor)) has data_offsets [\(begin), \(end)]: begin is after end"
    case .offsetsOutOfRange(let tensor, let begin, let end, let bufferLength):
      return
        "tensor \(quoted(tensor)) has data_offsets [\(begin), \(end)] beyond the \(bufferLength)-byte data buffer"
    case .elementCountOverflow(let tensor, let shape, let dtype):
      return
        "tensor \(quoted(tensor)) of shape \(shape) and dtype \(dtype.rawValue) is too large: its size overflows Int"
    case .byteSizeMismatch(let tensor, let dtype, let shape, let expected, let actual):
      return
        "tensor \(quoted(tensor)) spans \(actual) bytes, but shape \(shape) of \(dtype.rawValue) needs \(expected)"
    case .overlappingTensors(let first, let firstRange, let second, let secondRange):
      return
        "tensors \(quoted(first)) (bytes \(firstRange)) and \(quoted(second)) (bytes \(secondRange)) of the data buffer overlap"
    case .holeBetweenTensors(let previous, let next, let hole):
      let after = previous.map { "tensor \(quoted($0))" } ?? "the start of the data buffer"
      return
        "bytes \(hole) of the data buffer, between \(after) and tensor \(quoted(next)), belong to no tensor"
    case .bufferNotCovered(let last, let coveredUpTo, let bufferLength):
      let end =
        last.map { "the last tensor, \(quoted($0)), ends at byte \(coveredUpTo)" }
        ?? "there are no tensors"
      return
        "the data buffer has \(bufferLength) bytes but \(end): bytes \(coveredUpTo)..<\(bufferLength) belong to no tensor"
    case .malformedMetadata(let reason):
      return "malformed __metadata__: \(reason)"
    case .metadataValueNotString(let key, let found):
      return "__metadata__ value for key \(quoted(key)) must be a string, found \(found)"
    case .duplicateMetadataKey(let key):
      return "__metadata__ key \(quoted(key)) appears more than once"
    case .reservedTensorName(let name):
      return "\(quoted(name)) is reserved by the safetensors format and cannot name a tensor"
    case .invalidShape(let shape, let reason):
      return "invalid tensor shape \(shape): \(reason)"
    case .valueCountMismatch(let shape, let expected, let actual):
      return "shape \(shape) holds \(expected) elements, but \(actual) values were given"
    case .dataSizeMismatch(let dtype, let shape, let expectedBytes, let actualBytes):
      return
        "shape \(shape) of \(dtype.rawValue) needs \(expectedBytes) bytes, but \(actualBytes) were given"
    case .dtypeMismatch(let requested, let actual):
      return
        "cannot read a \(actual.rawValue) tensor as \(requested.rawValue) values (BumpKit converts only F32 and F64)"
    case .notARegularFile(let path, let kind):
      return
        "cannot read \(quoted(path)) as a safetensors file: it is \(kind), not a regular file (its size cannot be known before reading it)"
    case .io(let operation, let path, let code):
      return
        "cannot \(operation) \(quoted(path)): \(String(cString: strerror(code))) (errno \(code))"
    case .malformedFile(let path, let error):
      return "\(quoted(path)) is not a valid safetensors file: \(error)"
    }
  }
}

/// `s` in double quotes, escaped (``MessageText/quoted(_:)``), so that a hostile tensor name
/// cannot forge or break an error message.
private func quoted(_ s: String) -> String { MessageText.quoted(s) }

/// For a header length read from a text file (its first 8 bytes, little-endian, all printable
/// ASCII or line breaks): "; the file begins with text ("x0,x1\n1,"), not a safetensors
/// header", so that a CSV file given as a model is named as such. Empty otherwise.
private func textHint(_ length: UInt64) -> String {
  let bytes = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) }
  guard bytes.allSatisfy({ (0x20...0x7E).contains($0) || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) else {
    return ""
  }
  let text = String(decoding: bytes, as: UTF8.self)
  return "; the file begins with text (\(quoted(text))), not a safetensors header: is it a CSV or other text file?"
}
