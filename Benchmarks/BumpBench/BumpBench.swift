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
    for t in threadCounts where accept("training adam float \(t)t") {
      let epochs = quick ? 2 : 5
      let result = try runTraining(epochs: epochs, samples: quick ? 16_384 : 65_536, threads: t)
      let rates = result.samplesPerSecond
      let sorted = rates.sorted()
      records.append(Record(
        workload: "training", implementation: "adam", precision: "float", threads: t,
        shape: [quick ? 16_384 : 65_536, 16, 256, 256, 1], unit: "samples/s",
        median: sorted[sorted.count / 2], min: sorted.last ?? .nan, speedup: nil, runs: rates.count,
        extra: ["mse_after_epochs": result.mse, "epochs": Double(epochs - 1) + 1,
                "allocations_per_step": result.allocationsPerStep]))
    }
    Threading.threadCount = savedThreads

    if json {
      let document = Document(build: TargetFeatures.summary, records: records)
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      print(String(decoding: try encoder.encode(document), as: UTF8.self))
    } else {
      print("BumpKit benchmark — build targets: \(TargetFeatures.summary)")
      print("Kernels: ns/element (lower is better), speedup over the scalar reference of the same row.")
      print("GEMM: GFLOP/s (higher is better), speedup over the naive loop.")
      print("Dense: GFLOP/s of the layer's forward + backward; speedup = raw BLAS time / this row's time.\n")
      printTable(records)
    }
  }
}

/// The JSON document: `schema` is bumped only when a field changes meaning.
struct Document: Encodable {
  var schema = 1
  var build: String
  var records: [Record]
}
