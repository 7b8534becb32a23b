import BumpKit
import Foundation
import _AllocationCounter

/// The end-to-end training workload: 16 → Dense 256 → Bump → Dense 256 → Bump → Dense 1,
/// mean squared error, Adam (1e-3), batch 128, Float, on y = sin(x₀)·exp(−x₁²) + 0.1·x₂ with
/// x ~ N(0, 1)¹⁶ (65,536 samples, fixed seed).
struct TrainingResult {
  var samplesPerSecond: [Double]  // per timed epoch
  var mse: Double
  var allocationsPerStep: Double
  var epochs: Int
}

func trainingData(samples: Int, seed: UInt64) throws -> (Matrix<Float>, Matrix<Float>) {
  var g = SeededGenerator(seed: seed)
  var x = Matrix<Float>(rows: samples, columns: 16)
  var y = Matrix<Float>(rows: samples, columns: 1)
  x.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = Float(g.nextNormal()) } }
  let xs = x
  y.withUnsafeMutableBufferPointer { t in
    xs.withUnsafeBufferPointer { p in
      for r in 0..<samples {
        let x0 = Double(p[r * 16]), x1 = Double(p[r * 16 + 1]), x2 = Double(p[r * 16 + 2])
        t[r] = Float(sin(x0) * exp(-x1 * x1) + 0.1 * x2)
      }
    }
  }
  return (x, y)
}

func runTraining(epochs: Int, samples: Int, threads: Int) throws -> TrainingResult {
  Threading.threadCount = threads
  let (x, y) = try trainingData(samples: samples, seed: 2024)
  let model = try Sequential<Float>(seed: 1) {
    Dense(inputSize: 16, outputSize: 256)
    try Bump(units: 256, sigma: .perUnit(.constant(1)))
    Dense(inputSize: 256, outputSize: 256)
    try Bump(units: 256, sigma: .perUnit(.constant(1)))
    Dense(inputSize: 256, outputSize: 1)
  }
  let optimizer = try Adam<Float>(learningRate: 1e-3)
  var allocations = 0, steps = 0
  var last = -1
  // Epoch 0 warms up (buffers, optimizer state); allocations are counted between batch
  // callbacks of the later epochs, so they cover exactly the training steps.
  let history = try model.fit(
    x: x, y: y, loss: MeanSquaredError<Float>(), optimizer: optimizer, epochs: epochs,
    batchSize: 128, shuffle: true, seed: 3
  ) { progress in
    guard progress.event == .batch else { return }
    if progress.epoch >= 1 {
      let now = bench_alloc_count()
      if last >= 0 && progress.batch > 0 {
        allocations += now - last
        steps += 1
      }
      last = now
    } else if progress.batch == progress.batches - 1 {
      bench_alloc_enable(1)
    }
  }
  bench_alloc_enable(0)
  let mse = try model.evaluate(x: x, y: y, loss: MeanSquaredError<Float>())
  return TrainingResult(
    samplesPerSecond: Array(history.samplesPerSecond.dropFirst()), mse: mse,
    allocationsPerStep: steps == 0 ? .nan : Double(allocations) / Double(steps), epochs: epochs)
}
