import BumpKit
import Foundation

/// Reading a CSV file as `bump train --data` does (`CSVTableReader`, every column read as a
/// number unless it holds text, Float): a seeded file of 20 standard-normal features and a
/// target, 7 significant digits per cell (the shape of the scale test's file), written to a
/// temporary folder first; with one thread and with two (the file split at a record
/// boundary). MB/s of file text (median), with rows/s beside it.
func ingestRecords(quick: Bool, filter: (String) -> Bool) throws -> [Record] {
  let wanted = [1, 2].filter { filter("ingest csv float \($0)t") }
  guard !wanted.isEmpty else { return [] }
  let rows = quick ? 100_000 : 1_000_000
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bump-bench-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: folder) }
  let path = folder.appendingPathComponent("ingest.csv").path
  let bytes = try writeIngestFile(path: path, rows: rows, features: 20)
  let columns = ((0..<20).map { "x\($0)" } + ["y"]).map { ($0, CSVColumnKind.automatic) }
  let megabytes = Double(bytes) / 1e6
  var records: [Record] = []
  for threads in wanted {
    let timing = measure(minRuns: quick ? 3 : 5, maxRuns: 20, minSeconds: quick ? 0.3 : 2) {
      var reader = try! CSVTableReader<Float>(path: path, columns: columns, threads: threads)
      let table = try! reader.read()
      precondition(table?.rows == rows)
    }
    records.append(Record(
      workload: "ingest", implementation: "csv", precision: "float", threads: threads,
      shape: [rows, 21], unit: "MB/s", median: megabytes / timing.median, min: megabytes / timing.min,
      speedup: nil, runs: timing.samples.count,
      extra: ["rows_per_second": .number(Double(rows) / timing.median), "file_bytes": .number(Double(bytes))]))
  }
  return records
}

/// Writes the seeded file; returns its size in bytes.
private func writeIngestFile(path: String, rows: Int, features: Int) throws -> Int {
  var rng = SeededGenerator(seed: 20_261_206)
  var text = (0..<features).map { "x\($0)" }.joined(separator: ",") + ",y\n"
  text.reserveCapacity(rows * (features + 1) * 11)
  var line: [String] = []
  for _ in 0..<rows {
    line.removeAll(keepingCapacity: true)
    var y = 0.0
    for j in 0..<features {
      let v = rng.nextNormal()
      if j < 3 { y += v * Double(j + 1) }
      line.append(String(format: "%.7g", v))
    }
    line.append(String(format: "%.7g", y))
    text += line.joined(separator: ",")
    text += "\n"
  }
  try text.write(toFile: path, atomically: false, encoding: .utf8)
  return text.utf8.count
}
