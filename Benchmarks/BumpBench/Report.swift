import Foundation

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
  /// Workload-specific figures (training: final MSE, epochs, heap allocations per step, and
  /// `phases`, seconds per step by phase).
  var extra: [String: Extra]? = nil
}

/// A value in a record's `extra`: a number, or a map of numbers (training's `phases`).
enum Extra: Encodable, CustomStringConvertible {
  case number(Double)
  case map([String: Double])

  func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    switch self {
    case .number(let x): try container.encode(x)
    case .map(let m): try container.encode(m)
    }
  }

  var description: String {
    switch self {
    case .number(let x): return "\(x)"
    case .map(let m): return "{" + m.sorted { $0.key < $1.key }.map { "\($0.key): \(format($0.value * 1e6)) µs" }.joined(separator: ", ") + "}"
    }
  }
}

/// Prints the training row by size: samples/s at each thread count, each count's ratio to
/// 1 thread's (when 1 is among them), the MSE after training and heap allocations per step.
func printTraining(_ scaling: [TrainingScaling], threads: [Int]) {
  guard !scaling.isEmpty else { return }
  let counts = threads.filter { t in scaling.contains { $0.runs.contains { $0.threads == t } } }
  let ratios = counts.contains(1) ? counts.filter { $0 != 1 } : []
  print("\nTraining: 16 → Dense H → Bump → Dense H → Bump → Dense 1, Float, MSE, Adam 1e-3, through `fit`")
  print("(shuffled), on y = sin(x₀)·exp(−x₁²) + 0.1·x₂, x ~ N(0, 1)¹⁶, seeded; each size trains on the first")
  print("`samples` rows for `epochs` epochs. samples/s: median of the epochs after the first (a warm-up);")
  print("tT/1T: samples/s at t threads over 1 thread's; MSE on the training rows after training (one")
  print("figure per thread count where they differ); allocs/step: heap allocations per training step.")
  let header = ["H", "batch", "samples", "epochs"] + counts.map { "\($0)T samples/s" }
    + ratios.map { "\($0)T/1T" } + ["MSE"] + counts.map { "\($0)T allocs/step" }
  let rows: [[String]] = scaling.map { s in
    func run(_ t: Int) -> TrainingRun? { s.runs.first { $0.threads == t } }
    let mse = s.runs.map { String(format: "%.4g", $0.mseAfterEpochs) }
    return [String(s.hidden), String(s.batch), String(s.samples), String(s.epochs)]
      + counts.map { run($0).map { format($0.samplesPerSecond) } ?? "-" }
      + ratios.map { run($0)?.ratioTo1T.map { format($0) + "×" } ?? "-" }
      + [Set(mse).count == 1 ? mse[0] : mse.joined(separator: " / ")]
      + counts.map { run($0).map { format($0.allocationsPerStep) } ?? "-" }
  }
  var widths = header.map(\.count)
  for row in rows { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
  func line(_ cells: [String]) -> String {
    cells.enumerated().map { i, c in String(repeating: " ", count: widths[i] - c.count) + c }.joined(separator: "  ")
  }
  print(line(header))
  print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
  for row in rows { print(line(row)) }
  // With --training-rounds: the rounds' ratios, which the tT/1T column is the median of.
  for s in scaling {
    for run in s.runs {
      guard run.threads != 1, let rounds = run.roundRatiosTo1T else { continue }
      print("  H \(s.hidden), batch \(s.batch), \(run.threads)T/1T by round (samples/s: the median of the rounds' medians): "
        + rounds.map { format($0) }.joined(separator: ", "))
    }
  }
  // Where the host placed the threads' cores: a slow round trip slows every multi-threaded step.
  for s in scaling {
    for run in s.runs {
      guard let trips = run.coreRoundTripNanoseconds else { continue }
      print("  H \(s.hidden), batch \(s.batch), \(run.threads)T: core-to-core round trip before each run "
        + trips.map { String(format: "%.0f", $0) }.joined(separator: ", ") + " ns")
    }
  }
}

/// Prints the phase breakdown of a training step as its own table: µs per step and share,
/// for each size and thread count that has one.
func printPhases(_ scaling: [TrainingScaling]) {
  for s in scaling {
    for r in s.runs {
      guard let phases = r.phases else { continue }
      let steps = stepPhaseKeys + ["rest"]
      let total = steps.compactMap { phases[$0] }.reduce(0, +)
      print("\nTraining step by phase, H \(s.hidden), batch \(s.batch), \(r.threads) thread\(r.threads == 1 ? "" : "s") (µs per step, share of the step):")
      for k in steps {
        guard let v = phases[k] else { continue }
        let pad = String(repeating: " ", count: max(0, 14 - k.count))
        print("  \(k)\(pad)\(format(v * 1e6)) µs  \(format(100 * v / total))%")
      }
      if let wait = phases["wait"] {
        print("  wait          \(format(wait * 1e6)) thread-µs idle at the end of the step's jobs (\(format(100 * wait / max(total * Double(r.threads), 1e-12)))% of the threads' time)")
      }
      let layers = phases.filter { $0.key.hasPrefix("layer_") }
      guard !layers.isEmpty else { continue }
      let layerTotal = layers.values.reduce(0, +)
      print("  the unsharded step layer by layer (one thread):")
      let order = ["gemm_forward", "gemm_backward", "bump_forward", "bump_backward", "other_layers", "loss", "optimizer", "batch_gather"]
      for k in order {
        guard let v = phases["layer_" + k] else { continue }
        let pad = String(repeating: " ", count: max(0, 14 - k.count))
        print("    \(k)\(pad)\(format(v * 1e6)) µs  \(format(100 * v / layerTotal))%")
      }
      let gemm = layers.filter { $0.key.contains("gemm") }.values.reduce(0, +)
      print("    non-GEMM share: \(format(100 * (layerTotal - gemm) / layerTotal))%")
    }
  }
}

/// Prints records as an aligned text table.
func printTable(_ records: [Record]) {
  guard !records.isEmpty else { return }
  let header = ["workload", "implementation", "precision", "threads", "shape", "median", "min", "unit", "speedup", "notes"]
  let rows: [[String]] = records.map { r in
    [
      r.workload, r.implementation, r.precision, String(r.threads),
      r.shape.map(String.init).joined(separator: "×"), format(r.median), format(r.min), r.unit,
      r.speedup.map { format($0) + "×" } ?? "",
      (r.extra ?? [:]).filter { $0.key != "phases" }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "),
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
