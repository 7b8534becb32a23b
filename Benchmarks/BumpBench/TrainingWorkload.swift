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
  var x = try Matrix<Float>(rows: samples, columns: 16)
  var y = try Matrix<Float>(rows: samples, columns: 1)
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

/// The workload's model, with its fixed seed.
func trainingModel() throws -> Sequential<Float> {
  try Sequential<Float>(seed: 1) {
    try Dense(inputSize: 16, outputSize: 256)
    try Bump(units: 256, sigma: .perUnit(.constant(1)))
    try Dense(inputSize: 256, outputSize: 256)
    try Bump(units: 256, sigma: .perUnit(.constant(1)))
    try Dense(inputSize: 256, outputSize: 1)
  }
}

func runTraining(epochs: Int, samples: Int, threads: Int) throws -> TrainingResult {
  Threading.threadCount = threads
  let (x, y) = try trainingData(samples: samples, seed: 2024)
  let model = try trainingModel()
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

/// Where a training step's time goes, in seconds per step (medians over the steps of one
/// epoch, after a warm-up epoch): the Dense layers' forward and backward (their BLAS calls,
/// and the bias broadcast), the bump kernels each way, other layers, the loss, the optimizer,
/// and gathering the batch. The caller adds `rest`: the step time of `fit` (from the
/// samples/s pass) less these phases, i.e. what `fit` does besides them.
///
/// It runs the same step as `fit` (release the saved inputs, gather, forward layer by layer,
/// loss, backward layer by layer, optimizer), with a clock read around each phase, in its
/// own pass so that the clocks do not distort the samples/s figure.
func runPhases(samples: Int, threads: Int) throws -> [String: Double] {
  Threading.threadCount = threads
  let (x, y) = try trainingData(samples: samples, seed: 2024)
  let model = try trainingModel()
  let loss = MeanSquaredError<Float>()
  let optimizer = try Adam<Float>(learningRate: 1e-3)
  let parameters = model.parameters
  let batch = 128
  var order = Array(0..<samples)
  var generator = SeededGenerator(seed: 3)
  var bx = try Matrix<Float>(rows: batch, columns: 16), by = try Matrix<Float>(rows: batch, columns: 1)
  var gradient = try Matrix<Float>(rows: batch, columns: 1)
  let keys = ["gemm_forward", "gemm_backward", "bump_forward", "bump_backward", "other_layers",
              "loss", "optimizer", "batch_gather"]
  var perStep: [String: [Double]] = Dictionary(uniqueKeysWithValues: keys.map { ($0, []) })
  func key(_ layer: any Layer<Float>, forward: Bool) -> String {
    switch layer {
    case is Dense<Float>: return forward ? "gemm_forward" : "gemm_backward"
    case is Bump<Float>: return forward ? "bump_forward" : "bump_backward"
    default: return "other_layers"
    }
  }
  for epoch in 0..<2 {
    order.shuffle(using: &generator)
    for start in stride(from: 0, to: samples - batch + 1, by: batch) {
      var phase = Dictionary(uniqueKeysWithValues: keys.map { ($0, 0.0) })
      var t = nanoseconds()
      func lap(_ name: String) {
        let now = nanoseconds()
        phase[name]! += Double(now - t) * 1e-9
        t = now
      }
      model.releaseSavedState()
      x.withUnsafeBufferPointer { xs in
        bx.withUnsafeMutableBufferPointer { d in
          for k in 0..<batch { (d.baseAddress! + k * 16).update(from: xs.baseAddress! + order[start + k] * 16, count: 16) }
        }
      }
      y.withUnsafeBufferPointer { ys in
        by.withUnsafeMutableBufferPointer { d in for k in 0..<batch { d[k] = ys[order[start + k]] } }
      }
      lap("batch_gather")
      var h = bx
      for layer in model.layers {
        h = try layer.forward(h)
        lap(key(layer, forward: true))
      }
      _ = try loss.lossAndGradient(predicted: h, target: by, gradient: &gradient)
      lap("loss")
      var g = gradient
      for layer in model.layers.reversed() {
        g = try layer.backward(g)
        lap(key(layer, forward: false))
      }
      try optimizer.step(parameters)
      lap("optimizer")
      if epoch == 1 { for (k, v) in phase { perStep[k]!.append(v) } }
    }
  }
  return perStep.mapValues { Timing(samples: $0).median }
}
