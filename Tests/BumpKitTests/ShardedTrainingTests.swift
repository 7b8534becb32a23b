import Foundation
import Testing
import BumpTestSupport
@testable import BumpKit

/// A training step cut into shards on a pool of workers: the same bits on any number of
/// threads, the gradients of the whole batch, errors that name what they named before.
@Suite("Sharded training steps")
struct ShardedTrainingTests {
  static func data(rows: Int, features: Int, seed: UInt64) throws -> (Matrix<Float>, Matrix<Float>) {
    var g = SplitMix64(seed: seed)
    var x = try Matrix<Float>(rows: rows, columns: features)
    var y = try Matrix<Float>(rows: rows, columns: 1)
    x.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = Float(g.unit() * 4 - 2) } }
    let xs = x
    y.withUnsafeMutableBufferPointer { t in
      xs.withUnsafeBufferPointer { p in
        for r in 0..<rows { t[r] = Float(sin(Double(p[r * features])) + 0.3 * Double(p[r * features + 1])) }
      }
    }
    return (x, y)
  }

  /// Models that cover every built-in layer kind.
  static func model(_ kind: Int) throws -> Sequential<Float> {
    switch kind {
    case 0:
      return try Sequential<Float>(seed: 5) {
        try Dense(inputSize: 6, outputSize: 24)
        try Bump(units: 24, sigma: .perUnit(.uniform(0.5, 2)), center: .perUnit(.uniform(-0.2, 0.2)), amplitude: .shared(.constant(1)))
        try Dense(inputSize: 24, outputSize: 24)
        try Bump(units: 24)
        try Dense(inputSize: 24, outputSize: 1)
      }
    default:
      return try Sequential<Float>(seed: 6) {
        try RadialBump(inputSize: 6, units: 12, amplitude: .trainable(.constant(1)))
        try Dense(inputSize: 12, outputSize: 16)
        Tanh()
        try Gaussian()
        try Sequential<Float> {
          try Dense(inputSize: 16, outputSize: 8)
          ReLU()
        }
        try Dense(inputSize: 8, outputSize: 1, useBias: false)
      }
    }
  }

  static func train(kind: Int, threads: Int, batchSize: Int) throws -> (params: [[Float]], losses: [Double]) {
    let (x, y) = try data(rows: 300, features: 6, seed: 11)
    let model = try model(kind)
    let pool = WorkerPool(threads: threads)
    defer { pool.retire() }
    let history = try TrainingWorkers.$override.withValue(pool) {
      try model.fit(
        x: x, y: y, loss: MeanSquaredError(), optimizer: try Adam(learningRate: 3e-3), epochs: 3,
        batchSize: batchSize, seed: 9)
    }
    return (model.parameters.map(\.value.elements), history.loss)
  }

  @Test("training gives the same bits on 1, 2, 3 and 8 threads (more threads than cores too)",
        arguments: [0, 1])
  func sameBitsOnAnyThreadCount(kind: Int) throws {
    // 128 rows a batch: 4 shards of 32 rows (the last batch of 44 rows: 1 shard).
    #expect(ShardedPasses<Float>.shardCount(rows: 128, parameters: 2000) == 4)
    let reference = try Self.train(kind: kind, threads: 1, batchSize: 128)
    for threads in [2, 3, 8] {
      let run = try Self.train(kind: kind, threads: threads, batchSize: 128)
      #expect(run.losses == reference.losses, "threads \(threads)")
      for (k, (a, b)) in zip(run.params, reference.params).enumerated() {
        #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "threads \(threads), parameter \(k)")
      }
    }
    // And it learns: the loss falls.
    #expect(reference.losses.last! < reference.losses.first!)
  }

  @Test("the reduced gradients of a sharded step are the whole batch's gradients", arguments: [0, 1])
  func shardedGradientsMatchTheWholeBatch(kind: Int) throws {
    let (x, y) = try Self.data(rows: 96, features: 6, seed: 12)
    let model = try Self.model(kind)
    let loss = MeanSquaredError<Float>()
    let pool = WorkerPool(threads: 3)
    defer { pool.retire() }
    let passes = try ShardedPasses(model: model, pool: pool, maxRows: 96)
    var gradient = Matrix<Float>()
    let sharded = try passes.forward(x)
    #expect(passes.activeShards == 3)
    let shardedLoss = try loss.lossAndGradient(predicted: sharded, target: y, gradient: &gradient)
    try passes.backward(gradient)
    let shardedGradients = model.parameters.map(\.gradient.elements)

    model.releaseSavedState()
    let whole = try model.forward(x)
    let wholeLoss = try loss.lossAndGradient(predicted: whole, target: y, gradient: &gradient)
    _ = try model.backward(gradient)
    #expect(abs(shardedLoss - wholeLoss) <= 1e-6 * abs(wholeLoss))
    for (k, p) in model.parameters.enumerated() where p.isTrainable {
      let scale = p.gradient.elements.map { abs(Double($0)) }.max()! + 1e-6
      for (a, b) in zip(shardedGradients[k], p.gradient.elements) {
        #expect(abs(Double(a) - Double(b)) <= 1e-5 * scale, "parameter \(k) (\(p.name))")
      }
    }
    // The fused step (forward, loss and backward on the shards) gives the same gradients
    // and loss, up to rounding.
    let fusedLoss = try #require(try passes.fusedStep(x, targets: y, loss: loss))
    #expect(abs(fusedLoss - wholeLoss) <= 1e-6 * abs(wholeLoss))
    for (k, p) in model.parameters.enumerated() where p.isTrainable {
      let scale = shardedGradients[k].map { abs(Double($0)) }.max()! + 1e-6
      for (a, b) in zip(shardedGradients[k], p.gradient.elements) {
        #expect(abs(Double(a) - Double(b)) <= 1e-5 * scale, "fused, parameter \(k) (\(p.name))")
      }
    }
    // The replicas let go of the model's values: an optimizer step updates them in place.
    let before = model.parameters.map { $0.value.storage.base }
    try Adam<Float>(learningRate: 1e-3).step(model.parameters)
    #expect(model.parameters.map { $0.value.storage.base } == before)
  }

  @Test("a batch too small to split runs as one shard, and a layer of your own keeps the model to one")
  func oneShardCases() throws {
    #expect(ShardedPasses<Float>.shardCount(rows: 32, parameters: 2000) == 1)
    #expect(ShardedPasses<Float>.shardCount(rows: 64, parameters: 2000) == 2)
    #expect(ShardedPasses<Float>.shardCount(rows: 127, parameters: 70_000) == 1)
    #expect(ShardedPasses<Float>.shardCount(rows: 128, parameters: 70_000) == 2)
    #expect(ShardedPasses<Float>.shardCount(rows: 255, parameters: 1 << 20) == 1)
    #expect(ShardedPasses<Float>.shardCount(rows: 256, parameters: 1 << 20) == 2)
    #expect(ShardedPasses<Float>.shardCount(rows: 1 << 20, parameters: 100) == 64)

    let model = try Sequential<Float>(seed: 1) {
      try Dense(inputSize: 6, outputSize: 4)
      Opaque()
      try Dense(inputSize: 4, outputSize: 1)
    }
    let passes = try ShardedPasses(model: model, pool: WorkerPool(threads: 2), maxRows: 128)
    #expect(!passes.isShardable)
    let (x, _) = try Self.data(rows: 128, features: 6, seed: 3)
    _ = try passes.forward(x)
    #expect(passes.activeShards == 1)
  }

  @Test("an error in a shard reaches the caller, and the next batch runs as if none had been")
  func shardErrorsPropagate() throws {
    let (x, _) = try Self.data(rows: 64, features: 6, seed: 4)
    let model = try Self.model(0)
    let pool = WorkerPool(threads: 2)
    defer { pool.retire() }
    let passes = try ShardedPasses(model: model, pool: pool, maxRows: 64)
    let narrow = try Matrix<Float>(rows: 64, columns: 5)
    #expect(throws: BumpKitError.self) { _ = try passes.forward(narrow) }
    let sharded = try passes.forward(x).elements
    model.releaseSavedState()
    let whole = try model.forward(x).elements
    for (a, b) in zip(sharded, whole) { #expect(abs(a - b) <= 1e-5 * max(1, abs(b))) }
  }
}
