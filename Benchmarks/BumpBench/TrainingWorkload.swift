import BumpKit
import Foundation
import _AllocationCounter

/// The end-to-end training workload: 16 → Dense H → Bump → Dense H → Bump → Dense 1, mean
/// squared error, Adam (1e-3), Float, on y = sin(x₀)·exp(−x₁²) + 0.1·x₂ with x ~ N(0, 1)¹⁶
/// (fixed seeds), through the public `fit`. It runs at three sizes (`TrainingSize`), each at
/// every thread count, to show how a step scales with the width and the threads.
struct TrainingResult {
  var samplesPerSecond: [Double]  // per timed epoch
  var mse: Double
  var allocationsPerStep: Double
  var epochs: Int
}

/// One size of the training workload: the hidden width H, the batch, and how long it trains.
/// `epochs` counts the warm-up epoch; the samples are the first `samples` rows of the one
/// seeded data set.
struct TrainingSize {
  var hidden: Int
  var batch: Int
  var samples: Int
  var epochs: Int

  /// The sizes the training row runs: (H, batch) = (32, 32), (256, 128), (1024, 256).
  /// (256, 128) is the row's historical size and keeps its sample count and epochs; the
  /// widest trains on fewer samples and epochs so that the whole row (three sizes at 1 and
  /// 2 threads, and the phase breakdown of H 256) stays within about a minute on two cores.
  /// With `quick` the widest still trains on 8,192 samples: on a few thousand its first
  /// epoch is too rough for `fit`'s divergence check (Adam 1e-3 on 2,048 samples stops there).
  static func defaults(quick: Bool) -> [TrainingSize] {
    quick
      ? [TrainingSize(hidden: 32, batch: 32, samples: 8_192, epochs: 2),
         TrainingSize(hidden: 256, batch: 128, samples: 16_384, epochs: 2),
         TrainingSize(hidden: 1024, batch: 256, samples: 8_192, epochs: 2)]
      : [TrainingSize(hidden: 32, batch: 32, samples: 65_536, epochs: 5),
         TrainingSize(hidden: 256, batch: 128, samples: 65_536, epochs: 5),
         TrainingSize(hidden: 1024, batch: 256, samples: 16_384, epochs: 3)]
  }

  /// The size the training row had before it ran several: its records keep their place
  /// and keys in the JSON document's `records`.
  var isHistorical: Bool { hidden == 256 && batch == 128 }

  /// The words `--filter` matches, e.g. "training adam float h256 b128 2t".
  func filterName(threads: Int) -> String { "training adam float h\(hidden) b\(batch) \(threads)t" }

  var shape: [Int] { [samples, 16, hidden, hidden, 1] }
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

/// The workload's model, 16 → H → Bump → H → Bump → 1, with its fixed seed (the other
/// workloads use H = 256).
func trainingModel(hidden: Int = 256) throws -> Sequential<Float> {
  try Sequential<Float>(seed: 1) {
    try Dense(inputSize: 16, outputSize: hidden)
    try Bump(units: hidden, sigma: .perUnit(.constant(1)))
    try Dense(inputSize: hidden, outputSize: hidden)
    try Bump(units: hidden, sigma: .perUnit(.constant(1)))
    try Dense(inputSize: hidden, outputSize: 1)
  }
}

func runTraining(_ size: TrainingSize, threads: Int) throws -> TrainingResult {
  Threading.threadCount = threads
  let (x, y) = try trainingData(samples: size.samples, seed: 2024)
  let model = try trainingModel(hidden: size.hidden)
  let optimizer = try Adam<Float>(learningRate: 1e-3)
  var allocations = 0, steps = 0
  var last = -1
  // Epoch 0 warms up (buffers, optimizer state); allocations are counted between batch
  // callbacks of the later epochs, so they cover exactly the training steps.
  let history = try model.fit(
    x: x, y: y, loss: MeanSquaredError<Float>(), optimizer: optimizer, epochs: size.epochs,
    batchSize: size.batch, shuffle: true, seed: 3
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
    allocationsPerStep: steps == 0 ? .nan : Double(allocations) / Double(steps), epochs: size.epochs)
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
func runPhases(samples: Int, hidden: Int = 256, batch: Int = 128, threads: Int) throws -> [String: Double] {
  Threading.threadCount = threads
  let (x, y) = try trainingData(samples: samples, seed: 2024)
  let model = try trainingModel(hidden: hidden)
  let loss = MeanSquaredError<Float>()
  let optimizer = try Adam<Float>(learningRate: 1e-3)
  let parameters = model.parameters
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

/// The wall-time phases of `fit`'s step, in order (`wait` is thread time, reported beside).
let stepPhaseKeys = ["gather", "forward", "loss", "backward", "reduce", "optimizer"]

/// Where `fit`'s own steps spend their time, in seconds per step, from the library's phase
/// recorder (clock reads around each phase of the step, over the second epoch of a run of
/// two): the batch gather, the shards' forward and backward passes (wall time, all shards),
/// the loss, the reduction of the shards' gradient partials, the optimizer, and `wait` — the
/// thread time the pool's threads spent idle inside the step's jobs, per step (0 on one
/// thread).
func runStepPhases(_ size: TrainingSize, threads: Int) throws -> [String: Double] {
  Threading.threadCount = threads
  let (x, y) = try trainingData(samples: size.samples, seed: 2024)
  let model = try trainingModel(hidden: size.hidden)
  StepPhaseRecorder.totals = .init()
  defer { StepPhaseRecorder.isEnabled = false }
  try model.fit(
    x: x, y: y, loss: MeanSquaredError<Float>(), optimizer: try Adam<Float>(learningRate: 1e-3), epochs: 2,
    batchSize: size.batch, shuffle: true, seed: 3
  ) { progress in
    // Record the second epoch only: the first warms the buffers up.
    if progress.event == .epoch && progress.epoch == 0 { StepPhaseRecorder.isEnabled = true }
  }
  let t = StepPhaseRecorder.totals
  let n = Double(max(1, t.steps))
  // The recorder's backward lap includes the reduction; report the shards' part alone.
  return [
    "gather": t.gather / n, "forward": t.forward / n, "loss": t.loss / n,
    "backward": (t.backward - t.reduce) / n, "reduce": t.reduce / n, "optimizer": t.optimizer / n,
    "wait": t.wait / n,
  ]
}

/// The training row at one size, at every thread count it ran: an entry of the JSON
/// document's `training_scaling`.
struct TrainingScaling: Encodable {
  var hidden: Int
  var batch: Int
  var samples: Int
  /// Epochs trained, the first of them the warm-up.
  var epochs: Int
  var shape: [Int]
  var runs: [TrainingRun]
}

/// One size trained at one thread count.
struct TrainingRun: Encodable {
  var threads: Int
  /// Median samples/s over the timed epochs (all but the first).
  var samplesPerSecond: Double
  /// The fastest timed epoch's samples/s.
  var bestSamplesPerSecond: Double
  /// Each timed epoch's samples/s, in order.
  var epochSamplesPerSecond: [Double]
  /// Mean squared error on the training samples after the last epoch.
  var mseAfterEpochs: Double
  /// Heap allocations per training step in the timed epochs.
  var allocationsPerStep: Double
  /// samples/s over the 1-thread run's of the same size (the median of the rounds' ratios);
  /// absent when 1 is not among the thread counts.
  var ratioTo1T: Double?
  /// Each round's ratio, with more than one round.
  var roundRatiosTo1T: [Double]?
  /// Seconds per step by phase (see `runPhases`), for the sizes broken down by phase.
  var phases: [String: Double]?
  /// With more than one thread: the core-to-core round trip (``CoreLatency``) measured just
  /// before each round's run, in nanoseconds.
  var coreRoundTripNanoseconds: [Double]?

  enum CodingKeys: String, CodingKey {
    case threads, phases
    case samplesPerSecond = "samples_per_second"
    case bestSamplesPerSecond = "best_samples_per_second"
    case epochSamplesPerSecond = "epoch_samples_per_second"
    case mseAfterEpochs = "mse_after_epochs"
    case allocationsPerStep = "allocations_per_step"
    case ratioTo1T = "ratio_to_1t"
    case roundRatiosTo1T = "round_ratios_to_1t"
    case coreRoundTripNanoseconds = "core_round_trip_ns"
  }
}

/// Runs the training row: each size at each thread count that `filter` accepts, in that
/// order, `rounds` times (the thread counts alternating), then the phase breakdown of the
/// sizes whose hidden width `phases` accepts. A run's samples/s is the median of its rounds'
/// medians, and its ratio to 1 thread the median of the rounds' ratios. Returns the results
/// by size, and the records of the historical size (256, 128) in the form the row always had
/// in `records` (workload "training", one per thread count).
func trainingRuns(
  sizes: [TrainingSize], threads: [Int], rounds: Int = 1, phases: (Int) -> Bool, filter: (String) -> Bool
) throws -> (scaling: [TrainingScaling], records: [Record]) {
  var scaling: [TrainingScaling] = []
  var records: [Record] = []
  for size in sizes {
    var roundRuns: [[TrainingRun]] = []
    for _ in 0..<max(1, rounds) {
      roundRuns.append(try trainingRound(size, threads: threads, filter: filter))
    }
    var runs: [TrainingRun] = []
    for first in roundRuns[0] {
      let same = roundRuns.compactMap { round in round.first { $0.threads == first.threads } }
      var run = first
      run.samplesPerSecond = median(same.map(\.samplesPerSecond))
      run.bestSamplesPerSecond = same.map(\.bestSamplesPerSecond).max() ?? .nan
      run.epochSamplesPerSecond = same.flatMap(\.epochSamplesPerSecond)
      run.allocationsPerStep = same.map(\.allocationsPerStep).max() ?? .nan
      let mses = Set(same.map(\.mseAfterEpochs))
      if mses.count > 1 {
        FileHandle.standardError.write(Data(
          "\(size.filterName(threads: first.threads)): the rounds' MSE differ: \(mses.sorted())\n".utf8))
      }
      var ratios: [Double] = []
      for round in roundRuns {
        if let one = round.first(where: { $0.threads == 1 }), let this = round.first(where: { $0.threads == first.threads }) {
          ratios.append(this.samplesPerSecond / one.samplesPerSecond)
        }
      }
      run.ratioTo1T = ratios.isEmpty ? nil : median(ratios)
      run.roundRatiosTo1T = rounds > 1 && !ratios.isEmpty ? ratios : nil
      let trips = same.compactMap(\.coreRoundTripNanoseconds).flatMap { $0 }
      run.coreRoundTripNanoseconds = trips.isEmpty ? nil : trips
      runs.append(run)
    }
    guard !runs.isEmpty else { continue }
    for i in runs.indices {
      // The breakdown runs in its own pass (its clocks would slow the samples/s pass); `rest`
      // is what the step of `fit` spends besides the phases.
      if phases(size.hidden) {
        var p = try runStepPhases(size, threads: runs[i].threads)
        p["rest"] = Double(size.batch) / runs[i].samplesPerSecond
          - stepPhaseKeys.compactMap { p[$0] }.reduce(0, +)
        // The layer-by-layer breakdown of the unsharded step, on one thread.
        if runs[i].threads == 1 {
          let layers = try runPhases(samples: size.samples, hidden: size.hidden, batch: size.batch, threads: 1)
          for (k, v) in layers { p["layer_" + k] = v }
        }
        runs[i].phases = p
      }
    }
    scaling.append(TrainingScaling(
      hidden: size.hidden, batch: size.batch, samples: size.samples, epochs: size.epochs,
      shape: size.shape, runs: runs))
    if size.isHistorical {
      for run in runs {
        var extra: [String: Extra] = [
          "mse_after_epochs": .number(run.mseAfterEpochs), "epochs": .number(Double(size.epochs)),
          "allocations_per_step": .number(run.allocationsPerStep),
        ]
        if let p = run.phases { extra["phases"] = .map(p) }
        records.append(Record(
          workload: "training", implementation: "adam", precision: "float", threads: run.threads,
          shape: size.shape, unit: "samples/s", median: run.samplesPerSecond,
          min: run.bestSamplesPerSecond, speedup: run.ratioTo1T,
          runs: run.epochSamplesPerSecond.count, extra: extra))
      }
    }
  }
  return (scaling, records)
}

/// One round of the training row at `size`: a run at each thread count that `filter`
/// accepts, in order.
private func trainingRound(
  _ size: TrainingSize, threads: [Int], filter: (String) -> Bool
) throws -> [TrainingRun] {
  var runs: [TrainingRun] = []
  for t in threads where filter(size.filterName(threads: t)) {
    // A size that `fit` refuses to finish (e.g. too few samples for its divergence check)
    // is reported and left out; the rest of the benchmark goes on.
    // OpenBLAS's threads keep spinning on the cores after the threaded products of earlier
    // rows; a training step holds BLAS to one thread and needs both cores for its own
    // workers. A full run showed 2T/1T of 1.39–1.45 at (256, 128) against 1.82–1.86 alone
    // or with OPENBLAS_THREAD_TIMEOUT=4 in the environment. (`bump` ends them the same way.)
    _ = BLAS.endIdleThreads()
    // Where the host placed the two vCPUs matters to a multi-threaded step (see CoreLatency).
    let roundTrip = t > 1 ? CoreLatency.roundTripNanoseconds() : nil
    let result: TrainingResult
    do { result = try runTraining(size, threads: t) } catch {
      FileHandle.standardError.write(Data("\(size.filterName(threads: t)): \(error)\n".utf8))
      continue
    }
    if Threading.threadCount != t {
      FileHandle.standardError.write(Data(
        "training: \(t) threads asked, OpenBLAS runs \(Threading.threadCount)\n".utf8))
    }
    let rates = result.samplesPerSecond
    runs.append(TrainingRun(
      threads: t, samplesPerSecond: median(rates), bestSamplesPerSecond: rates.max() ?? .nan,
      epochSamplesPerSecond: rates, mseAfterEpochs: result.mse,
      allocationsPerStep: result.allocationsPerStep,
      coreRoundTripNanoseconds: roundTrip.map { [$0] }))
  }
  return runs
}

/// The median of the values (the mean of the middle two for an even count).
private func median(_ values: [Double]) -> Double {
  values.isEmpty ? .nan : Timing(samples: values).median
}
