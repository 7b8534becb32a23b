/// Failures of the `train`, `predict`, `evaluate` and `inspect` commands that the library
/// does not describe itself. Each description is one line naming the file or option.
enum CLIError: Error, CustomStringConvertible {
  /// The run folder (or its temporary sibling) already exists.
  case outputExists(path: String)
  /// A file or folder could not be created, written or renamed.
  case cannotWrite(path: String, reason: String)
  /// The checkpoint lacks, or has a malformed, entry that the command needs.
  case invalidCheckpoint(path: String, reason: String)
  /// The data does not fit the model or the chosen loss.
  case dataMismatch(path: String, reason: String)
  /// Training started and then failed; the run folder keeps the last good checkpoint.
  case trainingFailed(message: String, runFolder: String?)

  var description: String {
    switch self {
    case .outputExists(let path):
      return "\(path) already exists; choose another --output or remove it"
    case .cannotWrite(let path, let reason):
      return "\(path): \(reason)"
    case .invalidCheckpoint(let path, let reason):
      return "\(path): not a usable bump model: \(reason)"
    case .dataMismatch(let path, let reason):
      return "\(path): \(reason)"
    case .trainingFailed(let message, let runFolder?):
      return "\(message); the last good checkpoint is in \(runFolder)/model.safetensors "
        + "(see summary.txt there)"
    case .trainingFailed(let message, nil):
      return message
    }
  }
}
