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
///
/// An address-space limit also has to hold what the process maps before any data: the
/// program and its libraries as loaded (`VmSize` in `/proc/self/status`, which includes
/// the work buffers that OpenBLAS's worker threads map when they start) and the work buffer
/// that OpenBLAS maps for each other thread at its first matrix product
/// (``openBLASBufferBytes``): the calling thread, and each worker of a training step, whose
/// shards multiply matrices at the same time. OpenBLAS retries a failed mapping forever, at
/// full CPU, so a
/// limit that cannot hold them is refused up front (``current()`` throws), and the budget
/// for data is what is left.
struct MemoryBudget {
  /// The bytes the command's data may take.
  let bytes: Int
  /// Where the limit comes from, for messages.
  let source: String

  /// Whether ``bytes`` is already net of what the process holds (an address-space budget
  /// counts the program as loaded); else ``bytesForData`` subtracts what is resident now.
  var isNetOfProgram = false

  /// What the program held when the budget was taken (`VmRSS` before any data), counted by
  /// ``checkTraining(_:rows:features:outputs:scalarBytes:dataCopies:)`` unless the budget is
  /// already net of it; 0 where unknown.
  var programBytes = 0

  /// What the data read next may take: ``bytes``, less the memory the process holds now (the
  /// program, OpenBLAS, a loaded model) unless the budget already counts it.
  var bytesForData: Int {
    guard !isNetOfProgram, let resident = Self.residentBytes() else { return bytes }
    return max(bytes - resident, 0)
  }

  /// The memory the process holds now (`VmRSS`), or nil where `/proc` does not say.
  static func residentBytes() -> Int? { statusBytes("VmRSS:") }

  /// The environment variable that sets the limit.
  static let variable = "BUMP_MEMORY_LIMIT"

  /// The source named when the address-space limit cannot hold even the program and
  /// OpenBLAS's buffers.
  static let addressSpaceSource = "the address-space limit (ulimit -v)"

  /// The largest `BUMP_MEMORY_LIMIT` accepted: `Int.max` bytes, just under 8 EiB (`8E` is
  /// taken as it).
  static let largestLimit = Int.max

  /// The work buffer OpenBLAS maps for each thread that multiplies matrices: 128 MiB,
  /// measured with OpenBLAS 0.3 on x86-64 (the address space grows by 128 MiB at the first
  /// product with one thread, by 256 MiB with two). Builds for other cores map 32 MiB;
  /// counting 128 MiB is on the safe side for them.
  static let openBLASBufferBytes = 128 << 20

  /// Room for what the estimates leave out under an address-space limit: thread stacks,
  /// the allocator's per-thread arenas, small allocations.
  static let workingRoomBytes = 32 << 20

  /// The limit for this process.
  ///
  /// - Throws: ``CLIError/invalidEnvironment(name:value:reason:)`` for a malformed
  ///   `BUMP_MEMORY_LIMIT`; ``CLIError/notEnoughMemory(needed:limit:source:parts:)`` when
  ///   the address-space limit cannot even hold the program and OpenBLAS's work buffers.
  static func current() throws -> MemoryBudget {
    // Checked even when BUMP_MEMORY_LIMIT is set: OpenBLAS hangs, it does not fail, when its
    // buffers do not fit.
    var limit = rlimit()
    var addressSpace: MemoryBudget?
    if getrlimit(RLIMIT_AS_VALUE, &limit) == 0, limit.rlim_cur != rlim_t.max {
      addressSpace = try Self.addressSpace(limit: Int(clamping: limit.rlim_cur))
    }
    // Set but empty is unset, as a shell's `BUMP_MEMORY_LIMIT= bump …` means it.
    if let text = ProcessInfo.processInfo.environment[variable], !text.trimmingCharacters(in: .whitespaces).isEmpty {
      switch parseLimit(text) {
      case .bytes(let bytes):
        var budget = MemoryBudget(bytes: bytes, source: variable)
        budget.programBytes = residentBytes() ?? 0
        // An address-space limit is a hard one (beyond it OpenBLAS retries forever and an
        // allocation aborts): the variable may lower the budget, never raise it above that.
        if let addressSpace, addressSpace.bytes < bytes - min(budget.programBytes, bytes) {
          return addressSpace
        }
        return budget
      case .tooLarge:
        throw CLIError.invalidEnvironment(
          name: variable, value: text,
          reason:
            "larger than the largest accepted value, \(largestLimit) bytes (just under 8E); give at most that, or unset it to use the machine's limits")
      case .malformed:
        throw CLIError.invalidEnvironment(
          name: variable, value: text,
          reason: "expected a positive byte count such as 1000000, 512M or 4G (at most \(largestLimit), just under 8E)")
      }
    }
    var best = MemoryBudget(bytes: Int.max, source: "no known limit")
    let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
    if pages > 0, pageSize > 0 {
      let (total, overflow) = pages.multipliedReportingOverflow(by: pageSize)
      best = MemoryBudget(bytes: overflow ? Int.max : total, source: "physical memory")
    }
    if let addressSpace, addressSpace.bytes < best.bytes { best = addressSpace }
    if let text = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
      let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), value < best.bytes
    {
      best = MemoryBudget(bytes: value, source: "the cgroup memory limit")
    }
    if !best.isNetOfProgram { best.programBytes = residentBytes() ?? 0 }
    return best
  }

  /// What an address-space limit of `limit` bytes leaves for data once the program, the
  /// OpenBLAS work buffers and some working room are counted.
  ///
  /// - Throws: ``CLIError/notEnoughMemory(needed:limit:source:parts:)`` if nothing is left.
  ///
  /// The threads that multiply matrices at once are `blasThreads`: the caller and the
  /// training step's `blasThreads − 1` workers (``Threading/threadCount``, which is OpenBLAS's
  /// thread count unless set), each with a buffer of its own. OpenBLAS's own
  /// `blasThreads − 1` worker threads map theirs when they first run, which on a busy machine
  /// can be after `inUse` is read: those not among `mappedBuffers` (the mappings of
  /// ``openBLASBufferBytes`` now) are counted as well.
  static func addressSpace(
    limit: Int, inUse: Int? = addressSpaceInUse(), blasThreads: Int = BLAS.configuration.threadCount,
    mappedBuffers: Int? = anonymousMappings(ofBytes: openBLASBufferBytes)
  ) throws -> MemoryBudget {
    let name = addressSpaceSource
    guard let inUse else {
      // No /proc: count the buffers of every OpenBLAS thread and every caller instead.
      let buffers = 2 * max(blasThreads, 1) - 1
      let reserved = buffers * openBLASBufferBytes + workingRoomBytes
      return try leftOver(limit: limit, reserved: reserved, name: name, parts: [
        "\(byteText(buffers * openBLASBufferBytes)) for OpenBLAS's work buffers",
        "\(byteText(workingRoomBytes)) of working room",
      ], blasThreads: blasThreads)
    }
    let workers = max(blasThreads - 1, 0)
    let notYetMapped = workers - min(workers, max(mappedBuffers ?? 0, 0))
    let callers = max(blasThreads, 1)
    let reserved = inUse + (callers + notYetMapped) * openBLASBufferBytes + workingRoomBytes
    var parts = [
      "\(byteText(inUse)) for the program as loaded (with OpenBLAS's worker threads)",
      callers == 1
        ? "\(byteText(openBLASBufferBytes)) for OpenBLAS's work buffer at the first matrix product"
        : "\(byteText(callers * openBLASBufferBytes)) for OpenBLAS's work buffers of the \(callers) threads that train (one each, at its first matrix product)",
    ]
    if notYetMapped > 0 {
      parts.append(
        "\(byteText(notYetMapped * openBLASBufferBytes)) for the buffers of \(notYetMapped) OpenBLAS worker thread\(notYetMapped == 1 ? "" : "s") not started yet")
    }
    parts.append("\(byteText(workingRoomBytes)) of working room")
    return try leftOver(limit: limit, reserved: reserved, name: name, parts: parts, blasThreads: blasThreads)
  }

  private static func leftOver(
    limit: Int, reserved: Int, name: String, parts: [String], blasThreads: Int
  ) throws -> MemoryBudget {
    guard reserved < limit else {
      var parts = parts
      if blasThreads > 1 {
        parts.append(
          "OPENBLAS_NUM_THREADS=1 saves \(byteText(2 * (blasThreads - 1) * openBLASBufferBytes)) of OpenBLAS's buffers")
      }
      throw CLIError.notEnoughMemory(needed: Double(reserved), limit: limit, source: name, parts: parts)
    }
    var budget = MemoryBudget(
      bytes: limit - reserved,
      source: "what is left of \(name) of \(byteText(limit)) after \(byteText(reserved)) for the program and OpenBLAS's work buffers")
    budget.isNetOfProgram = true
    return budget
  }

  /// The number of anonymous mappings of exactly `bytes` bytes that the process has now
  /// (`/proc/self/maps`), or nil where `/proc` does not say.
  static func anonymousMappings(ofBytes bytes: Int) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return nil }
    var count = 0
    for line in text.split(separator: "\n") {
      // "start-end perms offset device inode [path]": an anonymous mapping has no path.
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      guard fields.count == 5, fields[1].hasPrefix("rw") else { continue }
      let range = fields[0].split(separator: "-")
      guard range.count == 2, let start = Int(range[0], radix: 16), let end = Int(range[1], radix: 16) else { continue }
      if end - start == bytes { count += 1 }
    }
    return count
  }

  /// The address space the process maps now (`VmSize`), or nil where `/proc` does not say.
  static func addressSpaceInUse() -> Int? { statusBytes("VmSize:") }

  /// A size in kB from `/proc/self/status` (the line starting with `field`), in bytes.
  private static func statusBytes(_ field: String) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
      return nil
    }
    for line in status.split(separator: "\n") where line.hasPrefix(field) {
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      guard fields.count >= 2, let kib = Int(fields[1]) else { return nil }
      return kib.multipliedReportingOverflow(by: 1024).overflow ? Int.max : kib * 1024
    }
    return nil
  }

  /// A parsed `BUMP_MEMORY_LIMIT`.
  enum ParsedLimit: Equatable {
    case bytes(Int)
    /// A number of bytes beyond ``largestLimit``.
    case tooLarge
    case malformed
  }

  /// `1000`, `64K`, `512M`, `4G`, `1T` (binary multiples; a trailing `B` or `iB` is allowed),
  /// or nil.
  static func parse(_ text: String) -> Int? {
    if case .bytes(let bytes) = parseLimit(text) { return bytes }
    return nil
  }

  /// ``parse(_:)``, saying why a value is refused.
  static func parseLimit(_ text: String) -> ParsedLimit {
    var t = text.trimmingCharacters(in: .whitespaces).uppercased()
    if t.hasSuffix("IB") { t.removeLast(2) } else if t.hasSuffix("B") { t.removeLast() }
    var shift = 0
    if let last = t.last, let index = ["K", "M", "G", "T", "P", "E"].firstIndex(of: String(last)) {
      shift = 10 * (index + 1)
      t.removeLast()
    }
    // Decimal only: digits, a fraction, an exponent (9e18); not hexadecimal (which Double
    // would read), nor inf or nan.
    guard t.first.map({ $0.isASCII && ($0.isNumber || $0 == ".") }) == true, !t.contains("X"),
      let value = Double(t), !value.isNaN, value > 0
    else { return .malformed }
    if value.isInfinite { return .tooLarge }  // 1e400
    let bytes = value * Double(sign: .plus, exponent: shift, significand: 1)
    // A whole number of bytes, at least one: 0.5G is 512M; 0.5 and 1.5 are not byte counts.
    guard bytes >= 1, bytes.rounded(.down) == bytes || bytes > 0x1p52 else { return .malformed }
    // 2⁶³ is the first Double beyond Int.max; 8E (2⁶³ bytes) is taken as Int.max.
    if bytes > 0x1p63 { return .tooLarge }
    return .bytes(bytes >= 0x1p63 ? Int.max : Int(bytes))
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
  /// The data copies a training run on a built-in dataset holds: the rows as generated,
  /// shuffled, split and standardized (the default of `dataCopies` in
  /// ``checkTraining(_:rows:features:outputs:scalarBytes:dataCopies:)``). A CSV file needs 2:
  /// the table as read, and the training and validation parts encoded from it (standardized
  /// in place); the table is freed before training.
  static let trainingDataCopies = 4

  /// The data copies a training run on a CSV file holds at its peak (see ``TrainingRows``):
  /// the pages of the table's cells are given back as the rows are encoded, so the table and
  /// the encoded rows together take about one copy of memory, then the validation rows are
  /// copied out (a fraction of a copy) and the targets twice more (per row in file order,
  /// then per part). The rows of a test part are encoded from the table too (a fraction of a
  /// copy); a `--test-data` file is read in batches that are then laid end to end (two
  /// copies of its rows at most). The address space is another matter: the matrix is
  /// reserved whole while the table's blocks are still mapped (each is unmapped once passed),
  /// so early in encoding it holds nearly 2 copies, and an address-space limit (`ulimit -v`)
  /// counts that. Counted as 2.
  static let tableDataCopies = 2

  /// What the matrix products of a batch of thousands of rows touch beyond the estimate's
  /// buffers: OpenBLAS's packing buffers (in its work buffers, one per thread), the
  /// kernels' scratch memory and the allocator's slack. Measured: up to about 8 MiB with
  /// two OpenBLAS threads and 256-unit layers; twice that is counted.
  static let workMemoryBytes = 16 << 20

  /// Refuses a training run that would not fit, from its shapes alone (nothing big is
  /// allocated yet); see ``trainingEstimate(_:rows:features:outputs:scalarBytes:dataCopies:)``
  /// for what is counted.
  ///
  /// - Throws: ``CLIError/notEnoughMemory(needed:limit:source:parts:)``.
  func checkTraining(
    _ configuration: TrainingConfiguration, rows: Int, features: Int, outputs: Int,
    scalarBytes: Int, dataCopies: Int = trainingDataCopies
  ) throws {
    var parts = Self.trainingEstimate(
      configuration, rows: rows, features: features, outputs: outputs, scalarBytes: scalarBytes,
      dataCopies: dataCopies)
    if programBytes > 0 {
      parts.insert(("the program as loaded", Double(programBytes)), at: 0)
    }
    try check(parts)
  }

  /// What a training run allocates beyond the program itself, from its shapes, as the code
  /// allocates it (`stride` = `scalarBytes`, P = parameters, B = rows of a training batch,
  /// E = rows of a batch after training, ``EndOfRunPass/batchSize`` or at least 1024, for
  /// the plots' grids):
  ///
  /// - the data: rows × (features + 1) × stride × `dataCopies` (see
  ///   ``trainingDataCopies``), and 8 bytes a row for the shuffled order of the training rows;
  ///   the rows are all those prepared, a test part's included (held out of the file with
  ///   `--test-split`, or read from `--test-data`, whose rows are added as they are read);
  /// - the parameters: P × stride × (2 for values and gradients, + 2 for Adam's moments or
  ///   1 for SGD's velocity, + 1 for the best weights that early stopping keeps, + 3 for a
  ///   checkpoint: the tensors copied for the file and the file's bytes when saving, or the
  ///   bytes and tensors when a failed run reloads it), and 1 MiB for the checkpoint header;
  /// - the layers' buffers, which each layer keeps and reuses at the size of its largest
  ///   batch: per row, the forward outputs (a Dense layer's output; a Bump's output, which
  ///   holds its cache, and a cache of its own with `--train-amplitude`; a RadialBump's
  ///   distances, output and cache, and its shifted inputs beyond
  ///   ``RadialBump/directDimensionLimit`` inputs; another activation's output) for
  ///   max(B, E) rows, and the backward buffers (each layer's input gradient, a Dense
  ///   layer's column of ones, a RadialBump's weights) for B rows;
  /// - the batch copies: for training, the batch's inputs, targets and loss gradient and the
  ///   validation batch's inputs and targets (B rows); after training, the batch's inputs,
  ///   targets and outputs in the target's units (E rows); the larger of the two;
  /// - ``workMemoryBytes`` for what the products of large batches touch beyond that;
  /// - with `--final-model refit` or `ensemble` (and a validation part), the refit: the rows
  ///   again (as one copy, with its shuffled order), and per refit (`--refits`) a model's
  ///   parameters × (2 + the optimizer's copies + 3 for the checkpoint) and its layers'
  ///   forward and backward buffers for max(B, E) rows.
  static func trainingEstimate(
    _ configuration: TrainingConfiguration, rows: Int, features: Int, outputs: Int,
    scalarBytes: Int, dataCopies: Int = trainingDataCopies
  ) -> [(what: String, bytes: Double)] {
    let stride = Double(scalarBytes)
    var parameters = 0.0
    var forward = 0.0  // values per row
    var backward = 0.0
    var width = Double(features)
    for (i, size) in configuration.hiddenLayers.map(Double.init).enumerated() {
      let radialLast =
        i > 0 && i == configuration.hiddenLayers.count - 1 && configuration.radialLastLayer == true
      if (i == 0 && configuration.radialFirstLayer == true) || radialLast {
        parameters += (width + 2) * size
        forward += 3 * size + 1
        if Int(width) > RadialBump<Float>.directDimensionLimit { forward += width }
        backward += width + size + 1
      } else {
        parameters += (width + 1) * size
        forward += size
        backward += width + 1
        switch configuration.activation {
        case .bump:
          parameters += 3 * size
          forward += (configuration.trainAmplitude ? 2 : 1) * size
          backward += size
        case .gaussian:
          parameters += 3
          forward += size
          backward += size
        case .relu, .tanh:
          forward += size
          backward += size
        }
      }
      width = size
    }
    let output = Double(outputs)
    parameters += (width + 1) * output
    forward += output
    backward += width + 1
    // Training batches hold at most all rows (a larger --batch-size is one batch of them).
    let trainingRows = Double(min(max(configuration.batchSize, 1), max(rows, 1)))
    let passRows = Double(max(min(EndOfRunPass<Float>.batchSize, rows), 1024))
    let (rowCount, featureCount) = (Double(rows), Double(features))
    let optimizerCopies: Double = configuration.optimizer == .sgd ? 1 : 2
    let bestWeights: Double = configuration.patience == nil ? 0 : 1
    let parameterCopies = 2 + optimizerCopies + bestWeights + 3
    // Targets: one column of labels, or one per output.
    let targetColumns = 1.0
    let trainingBatch = trainingRows * (2 * (featureCount + targetColumns) + output)
    // `fit` cuts a batch into shards fixed by its shape; shards 1… run on replicas of the model.
    let shards = ShardPlan.shardCount(rows: Int(trainingRows), parameters: Int(parameters))
    let passBatch = passRows * (featureCount + 2 * targetColumns + output)
    var parts: [(what: String, bytes: Double)] = [
      (
        "the data (\(rows) rows × \(features + 1) values, \(dataCopies) copies, and the shuffled order)",
        rowCount * (featureCount + 1) * stride * Double(dataCopies) + rowCount * 8
      ),
      (
        "\(Int(parameters)) parameters (values, gradients, optimizer state, best weights, checkpoint)",
        parameters * stride * parameterCopies + Double(1 << 20)
      ),
      (
        "layer outputs (\(Int(max(trainingRows, passRows))) rows) and gradients (\(Int(trainingRows)) rows)",
        (max(trainingRows, passRows) * forward + trainingRows * backward) * stride
      ),
      ("batch copies", max(trainingBatch, passBatch) * stride),
      (
        "\(shards - 1) shard replica\(shards == 2 ? "" : "s") of the model (gradients, buffers) and its inference copy",
        (Double(shards - 1) * (2 * parameters + trainingRows / Double(shards) * (forward + backward)) + parameters) * stride
      ),
      ("work memory of OpenBLAS and the kernels", Double(workMemoryBytes)),
    ]
    if (configuration.finalModel ?? .earlyStopped) != .earlyStopped, configuration.validationSplit > 0 {
      // Each refit's model is one more beside the early-stopped one (all are kept for an
      // ensemble, whose end-of-run pass runs them all), trained on the training and
      // validation rows laid end to end in a matrix of their own.
      let refits = Double(configuration.refits ?? 1)
      parts.append(
        (
          "the refit on all rows: the training and validation rows laid end to end (at most \(rows)), "
            + (refits == 1 ? "a second model" : "\(Int(refits)) more models")
            + " (values, gradients, optimizer state, checkpoint) and \(refits == 1 ? "its" : "their") layer buffers",
          rowCount * (featureCount + 1) * stride + rowCount * 8
            + refits * parameters * stride * (2 + optimizerCopies + 3)
            // Each refit's layers keep their buffers for the end-of-run pass: counted, with
            // room to spare, as forward and backward buffers for the larger batch.
            + refits * max(trainingRows, passRows) * (forward + backward) * stride
        ))
    }
    return parts
  }
}
