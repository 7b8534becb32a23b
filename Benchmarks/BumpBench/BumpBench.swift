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

  @Option(help: "Only run measurements whose name contains this text (e.g. 'forward simd16 float').")
  var filter: String?

  @Flag(help: "Fewer and shorter runs, and only the small shapes.")
  var quick = false

  @Flag(help: "Print a JSON document (one record per measurement) instead of the table.")
  var json = false

  @Option(help: "Thread counts to compare, comma-separated.")
  var threads: String = "1,2"

  mutating func run() throws {
    let threadCounts = threads.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
    guard !threadCounts.isEmpty else { throw ValidationError("--threads needs positive integers") }
    let words = (filter ?? "").lowercased().split(separator: " ").map(String.init)
    let accept: (String) -> Bool = { name in
      let n = name.lowercased()
      return words.allSatisfy { n.contains($0) }
    }
    let kernelShapes = quick ? [(128, 256), (1024, 1024)] : [(128, 256), (1024, 1024), (4096, 1024)]
    let gemmShapes = quick ? [(128, 256, 256)] : [(128, 256, 256), (1024, 1024, 1024)]
    let savedThreads = Threading.threadCount

    var records: [Record] = []
    records += kernelRecords(Float.self, shapes: kernelShapes, threads: threadCounts, quick: quick, filter: accept)
    records += kernelRecords(Double.self, shapes: kernelShapes, threads: threadCounts, quick: quick, filter: accept)
    records += gemmRecords(shapes: gemmShapes, threads: threadCounts, quick: quick, filter: accept)
    records += try denseRecords(threads: threadCounts, quick: quick, filter: accept)
    records += try optimizerRecords(threads: threadCounts, quick: quick, filter: accept)
    records += try radialRecords(threads: threadCounts, quick: quick, filter: accept)
    records += try ingestRecords(quick: quick, filter: accept)
    records += try inferenceRecords(tasks: threadCounts, quick: quick, filter: accept)
    for t in threadCounts where accept("training adam float \(t)t") {
      let epochs = quick ? 2 : 5
      let samples = quick ? 16_384 : 65_536
      let result = try runTraining(epochs: epochs, samples: samples, threads: t)
      let rates = result.samplesPerSecond
      let sorted = rates.sorted()
      let median = sorted[sorted.count / 2]
      var phases = try runPhases(samples: samples, threads: t)
      phases["rest"] = 128 / median - phases.values.reduce(0, +)
      records.append(Record(
        workload: "training", implementation: "adam", precision: "float", threads: t,
        shape: [samples, 16, 256, 256, 1], unit: "samples/s",
        median: median, min: sorted.last ?? .nan, speedup: nil, runs: rates.count,
        extra: ["mse_after_epochs": .number(result.mse), "epochs": .number(Double(epochs)),
                "allocations_per_step": .number(result.allocationsPerStep), "phases": .map(phases)]))
    }
    Threading.threadCount = savedThreads

    let blas = BLAS.configuration
    if let advice = blas.advice { FileHandle.standardError.write(Data((advice + "\n").utf8)) }
    let build = Build(
      targets: TargetFeatures.summary, cpu: blas.cpu.description, blasCore: blas.coreName,
      blasConfig: blas.buildConfiguration)
    if json {
      let document = Document(build: build, records: records)
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      print(String(decoding: try encoder.encode(document), as: UTF8.self))
    } else {
      print("BumpKit benchmark — build targets: \(TargetFeatures.summary); CPU: \(blas.cpu)")
      print("BLAS: \(blas.buildConfiguration) — core \(blas.coreName)")
      print("Kernels: ns/element (lower is better), speedup over the scalar reference of the same row.")
      print("GEMM: GFLOP/s (higher is better), speedup over the naive loop.")
      print("Dense: GFLOP/s of the layer's forward + backward; speedup = raw BLAS time / this row's time.")
      print("Radial: µs per pass of RadialBump(d→256) beside the GEMMs of the same shapes; gemm_ratio = layer / GEMM.")
      print("Ingest: MB/s of CSV text read into a dataset as `bump train --data` reads it (20 features + target).")
      print("Inference: predictions/s of one shared InferenceModel; threads = tasks, each single-threaded; speedup over one task of Sequential.predict.\n")
      printTable(records)
      printPhases(records)
    }
  }
}

/// The JSON document: `schema` is bumped only when a field changes meaning.
struct Document: Encodable {
  var schema = 2
  var build: Build
  var records: [Record]
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
