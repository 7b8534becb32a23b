import ArgumentParser
import BumpKit
import Foundation

/// `bump-bench`: compares the bump kernels (scalar reference vs SIMD widths, Float and
/// Double, 1 and 2 threads) and GEMM (wrapper vs raw cblas vs a naive loop), side by side
/// in one run. Reports medians and minima of repeated runs after a warm-up.
@main
struct BumpBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bump-bench",
    abstract: "Benchmarks BumpKit's kernels side by side (medians of repeated runs).")

  @Option(help: "Only run measurements whose name contains these words (e.g. 'forward simd16 float', 'training h1024 2t').")
  var filter: String?

  @Flag(help: "Fewer and shorter runs: only the small shapes, and small training sets.")
  var quick = false

  @Flag(help: "Print a JSON document (one record per measurement) instead of the table.")
  var json = false

  @Option(help: ArgumentHelp(
    "Thread counts to compare: one, or several comma-separated (e.g. 2, or 1,2,4).",
    discussion: "Every threaded row runs at each; the training row runs each of its sizes at each and compares its samples/s with 1 thread's when 1 is in the list."))
  var threads: String = "1,2"

  @Option(help: ArgumentHelp(
    "Epochs of every training size, the first of them a warm-up (at least 2).",
    discussion: "By default 5 for H 32 and H 256 and 3 for H 1024; 2 with --quick."))
  var trainingEpochs: Int?

  @Option(help: ArgumentHelp(
    "Samples every training size trains on: the first rows of the one seeded data set.",
    discussion: "By default 65,536 for H 32 and H 256 and 16,384 for H 1024; with --quick 8,192, 16,384 and 8,192."))
  var trainingSamples: Int?

  @Option(help: ArgumentHelp(
    "Rounds of the training row: each size runs at every thread count once a round, the counts alternating.",
    discussion: "samples/s is then the median of the rounds' medians, and tT/1T the median of the rounds' ratios: on a shared machine a burst of other work then spoils one round, not the ratio."))
  var trainingRounds: Int = 1

  @Option(help: ArgumentHelp(
    "Training sizes to break down by phase, by hidden width: comma-separated (32, 256, 1024), 'all' or 'none'.",
    discussion: "The breakdown is a second pass over the size's data at each thread count; its table follows the training table."))
  var trainingPhases: String = "256"

  @Option(help: ArgumentHelp(
    "Kernel rows on x86-64: outputs of at least this many bytes are written with non-temporal stores (0: every one; 'off': none).",
    discussion: "By default the library's 8 MiB; with 'off' a run shows the kernels with ordinary stores beside one with the default, from the same build."))
  var nonTemporalBytes: String?

  mutating func validate() throws {
    _ = try threadCounts()
    _ = try phaseWidths()
    if let e = trainingEpochs, e < 2 {
      throw ValidationError("--training-epochs needs at least 2: the first epoch is a warm-up")
    }
    if trainingRounds < 1 {
      throw ValidationError("--training-rounds needs at least 1")
    }
    _ = try nonTemporalThreshold()
    if let n = trainingSamples, n < 1024 {
      throw ValidationError("--training-samples needs at least 1024: four batches of the widest size")
    }
  }

  /// `--threads` as positive counts, in order, each once.
  private func threadCounts() throws -> [Int] {
    var counts: [Int] = []
    for word in threads.split(separator: ",", omittingEmptySubsequences: false) {
      guard let t = Int(word.trimmingCharacters(in: .whitespaces)), t > 0 else {
        throw ValidationError("--threads needs positive integers, comma-separated (e.g. 1,2,4), not '\(threads)'")
      }
      if !counts.contains(t) { counts.append(t) }
    }
    return counts
  }

  /// `--non-temporal-bytes` as a byte count for ``KernelOptions/nonTemporalStoreBytes``.
  private func nonTemporalThreshold() throws -> Int {
    guard let text = nonTemporalBytes?.trimmingCharacters(in: .whitespaces) else {
      return KernelOptions.defaultNonTemporalStoreBytes
    }
    if text.lowercased() == "off" { return .max }
    guard let bytes = Int(text), bytes >= 0 else {
      throw ValidationError("--non-temporal-bytes takes a number of bytes (0 or more) or 'off', not '\(text)'")
    }
    return bytes
  }

  /// `--training-phases`: which hidden widths get the phase breakdown.
  private func phaseWidths() throws -> (Int) -> Bool {
    switch trainingPhases.lowercased().trimmingCharacters(in: .whitespaces) {
    case "all": return { _ in true }
    case "none", "": return { _ in false }
    default:
      let widths = TrainingSize.defaults(quick: false).map(\.hidden)
      var chosen: Set<Int> = []
      for word in trainingPhases.split(separator: ",") {
        guard let h = Int(word.trimmingCharacters(in: .whitespaces)), widths.contains(h) else {
          throw ValidationError(
            "--training-phases takes hidden widths among \(widths.map(String.init).joined(separator: ", ")), 'all' or 'none', not '\(trainingPhases)'")
        }
        chosen.insert(h)
      }
      return { chosen.contains($0) }
    }
  }

  mutating func run() throws {
    let threadCounts = try threadCounts()
    let words = (filter ?? "").lowercased().split(separator: " ").map(String.init)
    let accept: (String) -> Bool = { name in
      let n = name.lowercased()
      return words.allSatisfy { n.contains($0) }
    }
    let kernelShapes = quick ? [(128, 256), (1024, 1024)] : [(128, 256), (1024, 1024), (4096, 1024)]
    let gemmShapes = quick ? [(128, 256, 256)] : [(128, 256, 256), (1024, 1024, 1024)]
    let savedThreads = Threading.threadCount

    var records: [Record] = []
    let streaming = try nonTemporalThreshold()
    records += kernelRecords(
      Float.self, shapes: kernelShapes, threads: threadCounts, quick: quick, nonTemporalBytes: streaming, filter: accept)
    records += kernelRecords(
      Double.self, shapes: kernelShapes, threads: threadCounts, quick: quick, nonTemporalBytes: streaming, filter: accept)
    records += gemmRecords(shapes: gemmShapes, threads: threadCounts, quick: quick, filter: accept)
    records += try denseRecords(threads: threadCounts, quick: quick, filter: accept)
    records += try optimizerRecords(threads: threadCounts, quick: quick, filter: accept)
    records += try radialRecords(threads: threadCounts, quick: quick, filter: accept)
    records += try ingestRecords(quick: quick, filter: accept)
    records += try inferenceRecords(tasks: threadCounts, quick: quick, filter: accept)
    var sizes = TrainingSize.defaults(quick: quick)
    for i in sizes.indices {
      if let e = trainingEpochs { sizes[i].epochs = e }
      if let n = trainingSamples { sizes[i].samples = n }
    }
    let training = try trainingRuns(
      sizes: sizes, threads: threadCounts, rounds: trainingRounds, phases: phaseWidths(), filter: accept)
    records += training.records
    Threading.threadCount = savedThreads

    let blas = BLAS.configuration
    if let advice = blas.advice { FileHandle.standardError.write(Data((advice + "\n").utf8)) }
    let build = Build(
      targets: TargetFeatures.summary, cpu: blas.cpu.description, blasCore: blas.coreName,
      blasConfig: blas.buildConfiguration)
    if json {
      let document = Document(build: build, records: records, trainingScaling: training.scaling)
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      print(String(decoding: try encoder.encode(document), as: UTF8.self))
    } else {
      print("BumpKit benchmark — build targets: \(TargetFeatures.summary); CPU: \(blas.cpu)")
      print("BLAS: \(blas.buildConfiguration) — core \(blas.coreName)")
      let others = records.filter { $0.workload != "training" }
      if !others.isEmpty {
        print("Kernels: ns/element (lower is better), speedup over the scalar reference of the same row.")
        print("GEMM: GFLOP/s (higher is better), speedup over the naive loop.")
        print("Dense: GFLOP/s of the layer's forward + backward; speedup = raw BLAS time / this row's time.")
        print("Radial: µs per pass of RadialBump(d→256) beside the GEMMs of the same shapes; gemm_ratio = layer / GEMM.")
        print("Ingest: MB/s of CSV text read into a dataset as `bump train --data` reads it (20 features + target).")
        print("Inference: predictions/s of one shared InferenceModel; threads = tasks, each single-threaded; speedup over one task of Sequential.predict.")
        if !training.scaling.isEmpty { print("Training: in its own table below.") }
        print("")
      }
      printTable(others)
      printTraining(training.scaling, threads: threadCounts)
      printPhases(training.scaling)
    }
  }
}

/// The JSON document: `schema` is bumped only when a field changes meaning.
///
/// `training_scaling` has the training row at each of its sizes, each at every thread
/// count; the (256, 128) size is also in `records` (workload "training", one record per
/// thread count), where the row has always been.
struct Document: Encodable {
  var schema = 2
  var build: Build
  var records: [Record]
  var trainingScaling: [TrainingScaling]

  enum CodingKeys: String, CodingKey {
    case schema, build, records
    case trainingScaling = "training_scaling"
  }
}

/// What the figures were measured on.
struct Build: Encodable {
  /// The CPU features the build targets, e.g. "AVX-512 + FMA".
  var targets: String
  /// The CPU's own vector extensions.
  var cpu: String
  /// OpenBLAS's core name and build string.
  var blasCore: String
  var blasConfig: String

  enum CodingKeys: String, CodingKey {
    case targets, cpu
    case blasCore = "blas_core"
    case blasConfig = "blas_config"
  }
}
