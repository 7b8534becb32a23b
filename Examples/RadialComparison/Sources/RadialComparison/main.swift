// Trains RadialBump(2→N) → Dense(N→1) and Dense(2→H) → Bump(H) → Dense(H→1) networks (N up to
// 48, H up to 256; Adam 0.01, batch 64, 300 epochs) on a
// sum of six Gaussian peaks of different widths and signs over [−2.5, 2.5]², and prints the
// best validation MSE of each size (three seeds each) with its trainable parameter count.
// With a folder argument it also writes the two figures of docs/radial-bump.md there.
//
//   swift run -c release --package-path Examples/RadialComparison RadialComparison [docs]
import BumpKit
import Foundation

let peaks: [(x: Double, y: Double, width: Double, height: Double)] = [
  (-1.5, -1.2, 0.35, 1.0), (1.2, 1.4, 0.5, 0.8), (0.3, -0.2, 0.25, -0.9),
  (-1.0, 1.3, 0.4, 0.6), (1.6, -1.3, 0.3, 0.9), (-0.2, 0.9, 0.2, -0.7),
]

func target(_ a: Double, _ b: Double) -> Double {
  peaks.reduce(0) { sum, p in
    let r2 = (a - p.x) * (a - p.x) + (b - p.y) * (b - p.y)
    return sum + p.height * exp(-r2 / (2 * p.width * p.width))
  }
}

func dataset(_ n: Int, seed: UInt64) throws -> (Matrix<Float>, Matrix<Float>) {
  var g = SeededGenerator(seed: seed)
  var x = try Matrix<Float>(rows: n, columns: 2), y = try Matrix<Float>(rows: n, columns: 1)
  for i in 0..<n {
    let a = 5 * g.nextUnit() - 2.5, b = 5 * g.nextUnit() - 2.5
    x[i, 0] = Float(a)
    x[i, 1] = Float(b)
    y[i, 0] = Float(target(a, b) + 0.01 * g.nextNormal())
  }
  return (x, y)
}

let (trainX, trainY) = try dataset(3000, seed: 1)
let (validX, validY) = try dataset(1500, seed: 2)
let epochs = 300

struct Run {
  var name: String
  var parameters: Int
  var best: Double
  var curve: [Double]
  var model: Sequential<Float>
}

func train(_ name: String, seed: UInt64, build: () throws -> [any Layer<Float>], prepare: (Sequential<Float>) throws -> Void) throws -> Run {
  let model = try Sequential<Float>(layers: try build(), seed: seed)
  try prepare(model)
  let history = try model.fit(
    x: trainX, y: trainY, loss: MeanSquaredError<Float>(), optimizer: try Adam<Float>(learningRate: 0.01),
    epochs: epochs, batchSize: 64, seed: seed, validation: .data(x: validX, y: validY))
  return Run(name: name, parameters: model.trainableParameterCount, best: history.validationLoss.min() ?? .nan,
             curve: history.validationLoss, model: model)
}

var best: [String: Run] = [:]
var order: [String] = []
@MainActor func keep(_ run: Run) {
  if best[run.name] == nil { order.append(run.name) }
  if best[run.name].map({ run.best < $0.best }) ?? true { best[run.name] = run }
}

for h in [16, 32, 64, 128, 256] {
  for seed: UInt64 in 1...3 {
    keep(try train("Dense(2→\(h)) → Bump(\(h)) → Dense(\(h)→1)", seed: seed, build: {
      [try Dense<Float>(inputSize: 2, outputSize: h), try Bump<Float>(units: h), try Dense<Float>(inputSize: h, outputSize: 1)]
    }, prepare: { _ in }))
  }
}
for n in [8, 16, 24, 32, 48] {
  for seed: UInt64 in 1...3 {
    keep(try train("RadialBump(2→\(n)) → Dense(\(n)→1)", seed: seed, build: {
      [try RadialBump<Float>(inputSize: 2, units: n), try Dense<Float>(inputSize: n, outputSize: 1)]
    }, prepare: { model in
      var g = SeededGenerator(seed: seed)
      try (model.layers[0] as! RadialBump<Float>).initializeCenters(from: trainX, sigmaScale: 2, using: &g)
    }))
  }
}

print("| network | trainable parameters | best validation MSE (of 3 seeds) |")
print("|---|---:|---:|")
for name in order {
  let r = best[name]!
  print("| \(name) | \(r.parameters) | \(String(format: "%.3e", r.best)) |")
}

if CommandLine.arguments.count > 1 {
  let folder = URL(fileURLWithPath: CommandLine.arguments[1])
  let dense = order.filter { $0.hasPrefix("Dense") }.map { best[$0]! }.min { $0.best < $1.best }!
  let radialRuns = order.filter { $0.hasPrefix("Radial") }.map { best[$0]! }
  // The smallest radial network that reaches the best Dense → Bump → Dense MSE, else the best.
  let radial = radialRuns.filter { $0.best <= dense.best }.min { $0.parameters < $1.parameters }
    ?? radialRuns.min { $0.best < $1.best }!
  let layer = radial.model.layers[0] as! RadialBump<Float>
  // Dead units over the training inputs (the layer's own counter would hold the grid's).
  let statistics = try BumpLayerStatistics.collect(model: radial.model, inputs: trainX)[0]
  let centers = (0..<layer.units).map { (x: Double(layer.center.value[$0, 0]), y: Double(layer.center.value[$0, 1])) }
  let radii = (0..<layer.units).map { Double(layer.sigma.value[0, $0]).squareRoot() }
  let xs = (0..<80).map { -2.5 + (Double($0) + 0.5) * 5 / 80 }
  var grid = try Matrix<Float>(rows: 80 * 80, columns: 2)
  for j in 0..<80 { for i in 0..<80 { grid[j * 80 + i, 0] = Float(xs[i]); grid[j * 80 + i, 1] = Float(xs[j]) } }
  let surface = try radial.model.predict(grid)
  let values = (0..<80).map { j in (0..<80).map { Double(surface[j * 80 + $0, 0]) } }
  let points = (0..<600).map { (x: Double(trainX[$0, 0]), y: Double(trainX[$0, 1])) }
  let svg = Plot.radialSupports(
    centers: centers, radii: radii, dead: Set(statistics.deadUnitIndices), grid: (xs, xs, values), points: points,
    title: "\(radial.name): supports over the learned surface")
  try svg.write(to: folder.appendingPathComponent("radial-supports.svg"), atomically: true, encoding: .utf8)
  let curves = Plot.lossCurves(
    series: [(name: dense.name, values: dense.curve), (name: radial.name, values: radial.curve)],
    title: "Validation MSE per epoch (best seed of each)", yLabel: "validation MSE")
  try curves.write(to: folder.appendingPathComponent("radial-comparison.svg"), atomically: true, encoding: .utf8)
  print("figures: \(dense.name) (\(dense.parameters) parameters) against \(radial.name) (\(radial.parameters))")
}
