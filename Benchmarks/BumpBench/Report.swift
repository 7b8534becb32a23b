/// One measurement: a row of the table and a record of the JSON document.
struct Record: Encodable {
  var workload: String
  var implementation: String
  var precision: String
  var threads: Int
  var shape: [Int]
  var unit: String
  var median: Double
  var min: Double
  var speedup: Double?
  var runs: Int
  /// Workload-specific figures (training: final MSE, epochs, heap allocations per step).
  var extra: [String: Double]? = nil
}

/// Prints records as an aligned text table.
func printTable(_ records: [Record]) {
  let header = ["workload", "implementation", "precision", "threads", "shape", "median", "min", "unit", "speedup", "notes"]
  let rows: [[String]] = records.map { r in
    [
      r.workload, r.implementation, r.precision, String(r.threads),
      r.shape.map(String.init).joined(separator: "×"), format(r.median), format(r.min), r.unit,
      r.speedup.map { format($0) + "×" } ?? "",
      (r.extra ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "),
    ]
  }
  var widths = header.map(\.count)
  for row in rows { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
  func line(_ cells: [String]) -> String {
    cells.enumerated().map { i, c in
      i >= 3 && i != 7 && i != 9 ? String(repeating: " ", count: widths[i] - c.count) + c : c + String(repeating: " ", count: widths[i] - c.count)
    }.joined(separator: "  ")
  }
  print(line(header))
  print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
  for row in rows { print(line(row)) }
}

func format(_ x: Double) -> String {
  if x.isNaN { return "-" }
  if x >= 100 { return String(Int(x.rounded())) }
  let digits = x >= 10 ? 1 : (x >= 1 ? 2 : 3)
  var s = String(Int((x * pow10(digits)).rounded()))
  while s.count <= digits { s = "0" + s }
  let cut = s.index(s.endIndex, offsetBy: -digits)
  return s[..<cut] + "." + s[cut...]
}

private func pow10(_ n: Int) -> Double { (0..<n).reduce(1.0) { a, _ in a * 10 } }
