import BumpKit
import Foundation

/// Failures of the `train`, `predict`, `evaluate` and `inspect` commands that the library
/// does not describe itself. Each description is one line naming the file or option.
enum CLIError: Error, CustomStringConvertible {
  /// The run folder already exists.
  case outputExists(path: String)
  /// The temporary folder `partial` of the run folder `path` exists: another run is writing
  /// it (`writing`: it holds the folder's lock), or one that ended without finishing left it.
  case runFolderBusy(path: String, partial: String, writing: Bool)
  /// A file or folder could not be created, written or renamed.
  case cannotWrite(path: String, reason: String)
  /// The checkpoint lacks, or has a malformed, entry that the command needs.
  case invalidCheckpoint(path: String, reason: String)
  /// The data does not fit the model or the chosen loss.
  case dataMismatch(path: String, reason: String)
  /// Training started and then failed; the run folder keeps the last good checkpoint.
  case trainingFailed(message: String, runFolder: String?)
  /// A library error with advice on what to do about it.
  case withHint(any Error, hint: String)
  /// An environment variable the tool reads holds a value it cannot use.
  case invalidEnvironment(name: String, value: String, reason: String)
  /// The job is estimated to need `needed` bytes (nil: more than the limit, found while
  /// reading), more than the `limit` (from `source`); `parts` says what the estimate is made
  /// of.
  case notEnoughMemory(needed: Double?, limit: Int, source: String, parts: [String])
  /// Loading the checkpoint at `path`, whose tensors hold `parameters` values in
  /// `dataBytes` bytes, is estimated to need `needed` bytes, more than the `limit` (from
  /// `source`): the model itself is too large for the memory the command may use.
  case checkpointTooLarge(
    path: String, parameters: Int, dataBytes: Int, needed: Double, limit: Int, source: String)
  /// A write to standard output failed; the text says why ("cannot write to standard
  /// output: No space left on device").
  case outputFailed(String)
  /// In a group of `processes` processes (`mpirun`), process `process` failed at `what`
  /// (its own error says why); every process stops.
  case otherProcessFailed(process: Int, processes: Int, what: String)
  /// What `bump train` cannot do over several processes yet.
  case notWithProcesses(what: String)
  /// In a group of processes (`mpirun`), process `process` was started unlike process 0:
  /// `what` differs (its options, the `--data` file it reads, the checkpoint it resumes),
  /// `detail` says how.
  case processesDisagree(process: Int, what: String, detail: String)

  var description: String {
    switch self {
    case .outputExists(let path):
      return "\(path) already exists; choose another --output or remove it"
    case .runFolderBusy(let path, let partial, writing: true):
      return "another run is writing \(path) now (into \(partial)); choose another --output, "
        + "or wait for that run to end"
    case .runFolderBusy(let path, let partial, writing: false):
      return "\(partial) exists, left by a run of \(path) that ended without finishing "
        + "(it crashed or was killed; no running process holds it); choose another --output, "
        + "or remove it (rm -r \(partial)) once you have kept what you need from it"
    case .cannotWrite(let path, let reason):
      return "\(path): \(reason)"
    case .invalidCheckpoint(let path, let reason):
      return "\(path): not a usable bump model: \(reason)"
    case .dataMismatch(let path, let reason):
      return "\(path): \(reason)"
    case .trainingFailed(let message, let runFolder?):
      // Only what is there: a full disk (or no inodes left) may have kept a file from
      // being written.
      let checkpoint = runFolder + "/model.safetensors"
      let summary = runFolder + "/summary.txt"
      let exists = { (path: String) in FileManager.default.fileExists(atPath: path) }
      switch (exists(checkpoint), exists(summary)) {
      case (true, true):
        return "\(message); the last good checkpoint is in \(checkpoint) (see summary.txt there)"
      case (true, false):
        return "\(message); the last good checkpoint is in \(checkpoint)"
      case (false, true):
        return "\(message); \(runFolder) holds no checkpoint (see summary.txt there)"
      case (false, false):
        return "\(message); the run folder \(runFolder) holds neither a checkpoint nor a summary"
      }
    case .trainingFailed(let message, nil):
      return message
    case .withHint(let error, let hint):
      return "\(error); \(hint)"
    case .outputFailed(let text):
      return text
    case .otherProcessFailed(let process, let processes, let what):
      return "process \(process) of \(processes) failed \(what) (its own message says why); every process stops"
    case .notWithProcesses(let what):
      return "\(what) is not supported when bump runs as several processes (mpirun); run it as one process"
    case .processesDisagree(let process, let what, let detail):
      return
        "the processes were not started alike: process \(process) has other \(what) than process 0 (\(detail)); "
        + "every process must be given the same options and read the same files (a copy on each host must be identical)"
    case .invalidEnvironment(let name, let value, let reason):
      return "\(name)=\(value): \(reason)"
    case .checkpointTooLarge(let path, let parameters, let dataBytes, let needed, let limit, let source):
      let advice =
        source == MemoryBudget.variable
        ? "load it where more memory is available, raising \(MemoryBudget.variable) if this machine has more"
        : "load it on a machine with more memory (or set \(MemoryBudget.variable) if the limit is wrong)"
      return "\(path): not enough memory to load this checkpoint: its \(parameters) parameters "
        + "(\(byteText(dataBytes)) of tensor data) need about \(byteText(MemoryBudget.clamped(needed))) "
        + "to read and convert, more than the limit of \(byteText(limit)) (\(source)); "
        + "the model is larger than the memory limit allows: \(advice)"
    case .notEnoughMemory(let needed, let limit, let source, let parts):
      let advice =
        source == MemoryBudget.variable
        ? "raise \(MemoryBudget.variable) if the machine has more"
        : source.contains(MemoryBudget.addressSpaceSource)
          ? "raise the address-space limit (ulimit -v); \(MemoryBudget.variable) cannot go beyond it"
          : "use less data or smaller layers (or set \(MemoryBudget.variable) if the limit is wrong)"
      let limitText = "the limit of \(byteText(limit)) (\(source))"
      guard let needed else {
        return "not enough memory: this needs more than \(limitText): "
          + parts.joined(separator: "; ") + "; \(advice)"
      }
      return "not enough memory: this needs about \(byteText(MemoryBudget.clamped(needed))) ("
        + parts.joined(separator: "; ") + "), more than \(limitText); \(advice)"
    }
  }
}
