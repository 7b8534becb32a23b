// The training benchmark's model trained data-parallel over MPI: run it under
// `mpirun -np N` (1 rank is the reference) to compare ranks with `bump-bench`'s threads.
//
//   mpirun -np 2 bump-mpi-bench [--hidden 256] [--batch 128] [--samples 65536] [--epochs 5] [--threads 1]
//
// The model, data and optimizer are `bump-bench`'s training row's: 16 → Dense H → Bump →
// Dense H → Bump → Dense 1, MSE, Adam 1e-3, Float, y = sin(x₀)·exp(−x₁²) + 0.1·x₂ with
// x ~ N(0, 1)¹⁶. Each rank trains on its shard of the samples with a local batch of
// `--batch` rows (the global batch is ranks × batch) and `--threads` threads. Rank 0 prints
// the global samples/s of every epoch after the first (a warm-up) and their median.
import BumpKit
import BumpKitMPI
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
@MainActor func option(_ name: String, _ fallback: Int) -> Int {
  guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let value = Int(arguments[i + 1]) else {
    return fallback
  }
  return value
}
let hidden = option("--hidden", 256), batch = option("--batch", 128)
let samples = option("--samples", 65_536), epochs = option("--epochs", 5), threads = option("--threads", 1)

let world = try MPIWorld.start()
Threading.threadCount = threads

var g = SeededGenerator(seed: 2024)
var x = try Matrix<Float>(rows: samples, columns: 16)
var y = try Matrix<Float>(rows: samples, columns: 1)
x.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = Float(g.nextNormal()) } }
for r in 0..<samples {
  let (x0, x1, x2) = (Double(x[r, 0]), Double(x[r, 1]), Double(x[r, 2]))
  y[r, 0] = Float(sin(x0) * exp(-x1 * x1) + 0.1 * x2)
}
let (localX, localY) = try DataParallel.shard(x, y, rank: world.rank, ranks: world.size, localBatch: batch)
let model = try Sequential<Float>(seed: 1) {
  try Dense(inputSize: 16, outputSize: hidden)
  try Bump(units: hidden, sigma: .perUnit(.constant(1)))
  try Dense(inputSize: hidden, outputSize: hidden)
  try Bump(units: hidden, sigma: .perUnit(.constant(1)))
  try Dense(inputSize: hidden, outputSize: 1)
}
let optimizer = DataParallelOptimizer(try Adam<Float>(learningRate: 1e-3), world: world)
try world.barrier()
let history = try model.fit(
  x: localX, y: localY, loss: MeanSquaredError<Float>(), optimizer: optimizer, epochs: epochs,
  batchSize: batch, shuffle: true, seed: 3)
// The ranks step together, so the global rate is the ranks' local rates added up.
let rates = history.samplesPerSecond.dropFirst().map { $0 * Double(world.size) }
if world.rank == 0 {
  let sorted = rates.sorted()
  let median = sorted.isEmpty ? .nan : sorted[sorted.count / 2]
  print(
    "mpi training h\(hidden) b\(batch)/rank ranks \(world.size) threads \(threads): "
      + "samples/s by epoch \(rates.map { Int($0) }), median \(Int(median)), "
      + "final training loss \(history.loss.last ?? .nan)")
}
try world.end()
