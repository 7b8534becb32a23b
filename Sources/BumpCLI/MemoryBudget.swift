import BumpKit
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The memory a command may use, so that a run too large for the machine is refused with a
/// message before anything big is allocated, instead of being killed halfway (or trapping on
/// a failed allocation).
///
/// The limit is `BUMP_MEMORY_LIMIT` when set (bytes, or with a binary suffix: `512M`, `4G`),
/// else the smallest of physical memory, the address-space limit (`ulimit -v`) and the
/// cgroup v2 memory limit of the process.
struct MemoryBudget {
  /// The limit in bytes.
  let bytes: Int
  /// Where the limit comes from, for messages.
  let source: String

  /// The environment variable that sets the limit.
  static let variable = "BUMP_MEMORY_LIMIT"

  /// The limit for this process.
  ///
  /// - Throws: ``CLIError/invalidEnvironment(name:value:reason:)`` for a malformed
  ///   `BUMP_MEMORY_LIMIT`.
  static func current() throws -> MemoryBudget {
    if let text = ProcessInfo.processInfo.environment[variable] {
      guard let bytes = parse(text) else {
        throw CLIError.invalidEnvironment(
          name: variable, value: text,
          reason: "expected a positive byte count such as 1000000, 512M or 4G")
      }
      return MemoryBudget(bytes: bytes, source: variable)
    }
    var best = MemoryBudget(bytes: Int.max, source: "no known limit")
    let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
    if pages > 0, pageSize > 0 {
      let (total, overflow) = pages.multipliedReportingOverflow(by: pageSize)
      best = MemoryBudget(bytes: overflow ? Int.max : total, source: "physical memory")
    }
    var limit = rlimit()
    if getrlimit(RLIMIT_AS_VALUE, &limit) == 0, limit.rlim_cur != rlim_t.max,
      limit.rlim_cur < UInt(best.bytes)
    {
      best = MemoryBudget(bytes: Int(limit.rlim_cur), source: "the address-space limit (ulimit -v)")
    }
    if let text = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
      let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), value < best.bytes
    {
      best = MemoryBudget(bytes: value, source: "the cgroup memory limit")
    }
    return best
  }

  /// `1000`, `64K`, `512M`, `4G`, `1T` (binary multiples; a trailing `B` or `iB` is allowed).
  static func parse(_ text: String) -> Int? {
    var t = text.trimmingCharacters(in: .whitespaces).uppercased()
    if t.hasSuffix("IB") { t.removeLast(2) } else if t.hasSuffix("B") { t.removeLast() }
    var shift = 0
    if let last = t.last, let index = ["K", "M", "G", "T"].firstIndex(of: String(last)) {
      shift = 10 * (index + 1)
      t.removeLast()
    }
    guard let value = Double(t), value.isFinite, value >= 1 else { return nil }
    let bytes = value * Double(1 << shift)
    return bytes < 9e18 ? Int(bytes) : nil
  }

  /// Refuses a job estimated to need `parts` (what → bytes) in all, more than the limit.
  ///
  /// - Throws: ``CLIError/notEnoughMemory(needed:limit:source:parts:)``.
  func check(_ parts: [(what: String, bytes: Double)]) throws {
    let needed = parts.reduce(0) { $0 + $1.bytes }
    guard needed > Double(bytes) else { return }
    throw CLIError.notEnoughMemory(
      needed: needed, limit: bytes, source: source,
      parts: parts.filter { $0.bytes >= 1 }.map { "\(byteText(Self.clamped($0.bytes))) for \($0.what)" })
  }

  static func clamped(_ bytes: Double) -> Int { bytes >= 9e18 ? Int.max : Int(bytes) }
}

#if canImport(Glibc)
  private let RLIMIT_AS_VALUE = __rlimit_resource_t(RLIMIT_AS.rawValue)
#else
  private let RLIMIT_AS_VALUE = RLIMIT_AS
#endif

extension MemoryBudget {
  /// Refuses a training run that would not fit, from its shapes alone (nothing is allocated
  /// yet): the data held in its copies (as loaded, shuffled, split and standardized), the
  /// parameters with their gradients, optimizer moments, best-weights and checkpoint copies,
  /// and the layer outputs of one evaluation batch.
  ///
  /// - Throws: ``CLIError/notEnoughMemory(needed:limit:source:parts:)``.
  func checkTraining(
    _ configuration: TrainingConfiguration, rows: Int, features: Int, outputs: Int,
    scalarBytes: Int
  ) throws {
    let stride = Double(scalarBytes)
    var parameters = 0.0
    var widths = 0.0
    var width = Double(features)
    for size in configuration.hiddenLayers.map(Double.init) {
      parameters += (width + 1) * size
      if configuration.activation == .bump { parameters += 3 * size }
      widths += 2 * size
      width = size
    }
    parameters += (width + 1) * Double(outputs)
    widths += Double(outputs)
    let batch = Double(max(configuration.batchSize, 1024))
    try check([
      (
        "the data (\(rows) rows × \(features + 1) values, 4 copies)",
        Double(rows) * Double(features + 1) * stride * 4
      ),
      (
        "\(Int(parameters)) parameters (with gradients, optimizer state and copies)",
        parameters * stride * 8
      ),
      ("layer outputs", batch * widths * stride * 4),
    ])
  }
}
