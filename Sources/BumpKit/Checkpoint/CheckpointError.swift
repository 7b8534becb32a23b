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
  /// Saving: layer `index` has a kind that a checkpoint could not rebuild (a layer of an
  /// app's own that is not registered with ``LayerRegistry``).
  case unregisteredLayer(index: Int, kind: String, type: String)
  /// Saving: two parameters of layer `index` share a name, so their tensors would too.
  case duplicateParameterName(index: Int, kind: String, name: String)
  /// A stored value lies below its parameter's floor (e.g. a negative σ).
  case valueBelowFloor(source: String, name: String, index: Int, value: String, floor: String)
  /// Saving: the model or its metadata is larger than a checkpoint may be, so the file could
  /// not be read back; `what` says what and how large, `limit` names the limit and its value.
  case tooLargeToSave(what: String, limit: String)
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
    case .unregisteredLayer(let i, let kind, let type):
      return "cannot save layer \(i) (\(type), kind \"\(kind)\"): a checkpoint could not rebuild it; conform \(type) to CheckpointableLayer and call LayerRegistry.register(\(type).self) before saving and loading"
    case .notResumable(let s, let r): return "\(s): cannot resume training from this checkpoint: \(r)"
    case .tooLargeToSave(let what, let limit):
      return "cannot save: \(what), more than \(limit); a checkpoint that large could not be read back"
    case .duplicateParameterName(let i, let kind, let name):
      return "cannot save layer \(i) (\(kind)): two of its parameters are named \"\(name)\", and parameter names name the tensors"
    }
  }
}
