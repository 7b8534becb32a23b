/// Why a safetensors file could not be used as a model checkpoint.
public enum CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The metadata does not describe a BumpKit model.
  case notACheckpoint(source: String, reason: String)
  /// The file stores another precision than the one asked for.
  case precisionMismatch(source: String, stored: String, requested: String)
  /// A parameter of the architecture has no tensor.
  case missingTensor(source: String, name: String)
  /// A tensor belongs to no parameter of the architecture.
  case unexpectedTensor(source: String, name: String)
  /// A tensor's shape differs from its parameter's.
  case tensorShapeMismatch(source: String, name: String, expected: [Int], stored: [Int])
  /// A tensor's dtype differs from the checkpoint's precision.
  case dtypeMismatch(source: String, name: String, stored: String, expected: String)
  /// A stored parameter value is NaN or infinite.
  case nonFiniteValue(source: String, name: String, index: Int)
  /// Saving: layer `index` is not one that a checkpoint could rebuild (a layer of an app's
  /// own that is not a ``CheckpointableLayer``, `kind` empty, or whose type is not the one
  /// registered with ``LayerRegistry`` for its kind); `path` is the file it was to be saved
  /// to, nil from ``Checkpoint/encode(_:metadata:)``.
  case unregisteredLayer(index: Int, kind: String, type: String, path: String? = nil)
  /// Saving: two parameters of layer `index` share a name, so their tensors would too;
  /// `path` is the file it was to be saved to, as for ``unregisteredLayer(index:kind:type:path:)``.
  case duplicateParameterName(index: Int, kind: String, name: String, path: String? = nil)
  /// A stored value lies below its parameter's floor (e.g. a negative σ).
  case valueBelowFloor(source: String, name: String, index: Int, value: String, floor: String)
  /// Saving: the model or its metadata is larger than a checkpoint may be, so the file could
  /// not be read back; `what` says what and how large, `limit` names the limit and its value,
  /// `path` is the file it was to be saved to, as for ``unregisteredLayer(index:kind:type:path:)``.
  case tooLargeToSave(what: String, limit: String, path: String? = nil)
  /// Resuming: the file holds no training state, or one that does not fit the model or the
  /// optimizer given; `reason` says which.
  case notResumable(source: String, reason: String)

  public var description: String {
    switch self {
    case .notACheckpoint(let s, let r): return "\(s): not a BumpKit checkpoint: \(r)"
    case .precisionMismatch(let s, let stored, let requested): return "\(s): the checkpoint stores \(stored) parameters, not \(requested)"
    case .missingTensor(let s, let n): return "\(s): missing tensor \(n) required by the architecture"
    case .unexpectedTensor(let s, let n): return "\(s): tensor \(n) belongs to no parameter of the architecture"
    case .tensorShapeMismatch(let s, let n, let e, let st): return "\(s): tensor \(n) has shape \(st), the architecture needs \(e)"
    case .dtypeMismatch(let s, let n, let st, let e): return "\(s): tensor \(n) has dtype \(st), expected \(e)"
    case .nonFiniteValue(let s, let n, let i): return "\(s): tensor \(n) holds a non-finite value at index \(i)"
    case .valueBelowFloor(let s, let n, let i, let v, let f): return "\(s): tensor \(n) holds \(v) at index \(i), below its floor \(f)"
    case .unregisteredLayer(let i, let kind, let type, let path):
      let described = kind.isEmpty ? "\(type), not a CheckpointableLayer" : "\(type), kind \"\(kind)\""
      return "cannot save layer \(i) (\(described))\(Self.destination(path)): a checkpoint could not rebuild it; conform \(type) to CheckpointableLayer and call LayerRegistry.register(\(type).self) before saving and loading"
    case .notResumable(let s, let r): return "\(s): cannot resume training from this checkpoint: \(r)"
    case .tooLargeToSave(let what, let limit, let path):
      return "cannot save\(Self.destination(path)): \(what), more than \(limit); a checkpoint that large could not be read back"
    case .duplicateParameterName(let i, let kind, let name, let path):
      return "cannot save layer \(i) (\(kind))\(Self.destination(path)): two of its parameters are named \"\(name)\", and parameter names name the tensors"
    }
  }

  /// " to <path>", or nothing without a path.
  private static func destination(_ path: String?) -> String { path.map { " to \($0)" } ?? "" }

  /// This error naming `path` as the file being saved, for the errors of saving a model that
  /// are found before any file is touched.
  func saving(to path: String) -> CheckpointError {
    switch self {
    case .unregisteredLayer(let i, let kind, let type, nil): .unregisteredLayer(index: i, kind: kind, type: type, path: path)
    case .duplicateParameterName(let i, let kind, let name, nil): .duplicateParameterName(index: i, kind: kind, name: name, path: path)
    case .tooLargeToSave(let what, let limit, nil): .tooLargeToSave(what: what, limit: limit, path: path)
    default: self
    }
  }

  /// This error with `prefix` before the tensor name it names, for the errors found while an
  /// ensemble member's tensors (stored under `ensemble.<k>.`) are read as a model of their own.
  func prefixingTensorName(_ prefix: String) -> CheckpointError {
    switch self {
    case .missingTensor(let s, let n): .missingTensor(source: s, name: prefix + n)
    case .unexpectedTensor(let s, let n): .unexpectedTensor(source: s, name: prefix + n)
    case .tensorShapeMismatch(let s, let n, let e, let st): .tensorShapeMismatch(source: s, name: prefix + n, expected: e, stored: st)
    case .dtypeMismatch(let s, let n, let st, let e): .dtypeMismatch(source: s, name: prefix + n, stored: st, expected: e)
    case .nonFiniteValue(let s, let n, let i): .nonFiniteValue(source: s, name: prefix + n, index: i)
    case .valueBelowFloor(let s, let n, let i, let v, let f): .valueBelowFloor(source: s, name: prefix + n, index: i, value: v, floor: f)
    default: self
    }
  }
}
