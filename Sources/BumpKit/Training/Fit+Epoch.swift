/// One epoch of `fit` after another: the seeded visiting order, the batches and the optimizer
/// steps, the progress reports and the divergence check, with what they carry from epoch to
/// epoch.
struct EpochLoop<Element: MatrixScalar, L: Loss, O: Optimizer> where L.Element == Element, O.Element == Element {
  /// What one epoch gave: its mean training loss, throughput and (when counted) accuracy.
  struct Result {
    /// The mean loss over the epoch's batches, weighted by their rows.
    var loss: Double
    /// Training rows per second.
    var samplesPerSecond: Double
    /// The fraction of rows classified right, when ``EpochLoop/countCorrect``; else 0.
    var accuracy: Double
    /// The sums behind them: the rows trained on, the loss summed over them, the rows
    /// classified right.
    var rows: Int
    var lossSum: Double
    var correct: Int
  }

  let model: Sequential<Element>
  let x: Matrix<Element>
  let y: Matrix<Element>
  let loss: L
  let optimizer: O
  let parameters: [Parameter<Element>]
  /// The epoch budget of the `fit` call, for the progress reports.
  let epochs: Int
  let shuffle: Bool
  /// Whether ``Metric/accuracy`` is asked for.
  let countCorrect: Bool
  let progress: ((TrainingProgress) -> Void)?
  /// The forward and backward passes, cut into shards run on the worker pool.
  let passes: ShardedPasses<Element>
  /// The training rows' batches, whose buffers every epoch reuses.
  private(set) var batches: RowBatches<Element>
  /// With a ``GroupOptimizer`` of several processes: the group's plan and the optimizer.
  let group: (plan: GroupTraining, optimizer: any GroupOptimizer<Element>)?
  /// The visiting order of the current epoch: the previous epoch's, shuffled.
  private var order: [Int]
  private var generator: SeededGenerator
  private var gradient: Matrix<Element>
  /// The best constant predictor's loss on the training rows (``prepareDivergenceCheck()``).
  private var constantLoss: Double?
  /// The larger of this call's first batch's loss, before any step, and ``constantLoss``.
  private var divergenceReference: Double?
  private let clock = ContinuousClock()
  private let start: ContinuousClock.Instant
  /// The first epoch this loop trains (a resumed run's epochs before it ran earlier): the
  /// remaining time is estimated from this loop's own epochs.
  private let firstEpoch: Int

  /// The loop over `x` and `y` before its first epoch, with the shuffles of
  /// `replayingEpochs` completed epochs replayed (the order of epoch e is the e-th shuffle of
  /// the previous order), and `optimizer.stepsPerEpoch` set.
  init(
    model: Sequential<Element>, x: Matrix<Element>, y: Matrix<Element>, loss: L, optimizer: O, epochs: Int,
    batchSize: Int, shuffle: Bool, seed: UInt64, countCorrect: Bool,
    progress: ((TrainingProgress) -> Void)?, replayingEpochs: Int,
    group: (plan: GroupTraining, optimizer: any GroupOptimizer<Element>)? = nil
  ) throws {
    self.group = group
    self.model = model
    self.x = x
    self.y = y
    self.loss = loss
    self.optimizer = optimizer
    parameters = model.parameters
    self.epochs = epochs
    self.shuffle = shuffle
    self.countCorrect = countCorrect
    self.progress = progress
    // A batch size beyond the rows is one batch of all of them: the buffers hold no more
    // (and the counts below cannot overflow, whatever `batchSize` and `epochs` are).
    batches = try RowBatches(rows: x.rows, batchSize: batchSize)
    passes = try ShardedPasses(model: model, pool: TrainingWorkers.pool, maxRows: batches.batchSize)
    order = Array(0..<x.rows)
    generator = SeededGenerator(seed: seed)
    if shuffle {
      for _ in 0..<replayingEpochs { order.shuffle(using: &generator) }
    }
    // Every process of a group takes the same steps: its schedule counts the group's.
    optimizer.stepsPerEpoch = group?.plan.stepsPerEpoch ?? batches.count
    gradient = try Matrix(rows: batches.batchSize, columns: model.outputSize)
    firstEpoch = replayingEpochs
    start = clock.now
  }

  /// Finds the constant predictor's loss that the divergence check compares with; called
  /// once, before the first epoch this call trains.
  mutating func prepareDivergenceCheck() throws {
    constantLoss = try Baseline.constantPredictorLoss(loss, targets: y)
  }

  /// Trains epoch `epoch` (0-based): one optimizer step per batch, in this epoch's order.
  ///
  /// - Throws: ``BumpKitError/nonFiniteLoss(epoch:batch:value:)`` for a non-finite loss or
  ///   gradient (the parameters keep the values from before that batch); the errors of the
  ///   layers, the loss and the optimizer.
  mutating func train(epoch: Int) throws -> Result {
    guard passes.isShardable else { return try trainShards(epoch: epoch) }
    // Each shard runs its products on its own thread; everything else that the step splits
    // over rows (the optimizer's passes, a one-shard batch's kernels) runs on the pool.
    return try Threading.withSingleThreadedBLAS {
      try WorkerPool.withCurrent(passes.pool) { try trainShards(epoch: epoch) }
    }
  }

  private mutating func trainShards(epoch: Int) throws -> Result {
    if shuffle { order.shuffle(using: &generator) }
    let epochStart = clock.now
    var lossSum = 0.0, correct = 0
    let samples = x.rows, batchCount = batches.count
    // Captured by the batch body, which cannot capture `self` while `batches` is borrowed.
    let (model, passes, loss, optimizer, parameters, countCorrect) = (model, passes, loss, optimizer, parameters, countCorrect)
    // A built-in loss runs on the shards, fused with their passes.
    let separableLoss = loss as? any RowSeparableLoss<Element>
    let (clock, start, epochs, firstEpoch, progress, constantLoss) =
      (clock, start, epochs, firstEpoch, progress, constantLoss)
    let groupOptimizer = group?.optimizer
    // Moved out and back (not copied), so that the loss writes into the buffer in place.
    var gradient = Matrix<Element>()
    swap(&gradient, &self.gradient)
    var reference = divergenceReference
    defer {
      swap(&gradient, &self.gradient)
      divergenceReference = reference
    }
    let recording = StepPhaseRecorder.isEnabled
    var lapStart = recording ? WorkerPool.now() : 0
    var poolTimings = passes.pool?.timings
    if recording { passes.pool?.recordsTimings = true }
    defer { if recording { passes.pool?.recordsTimings = false } }
    /// Adds the time since the last lap to a phase, when recording.
    func lap(_ phase: WritableKeyPath<StepPhaseRecorder.Totals, Double>) {
      guard recording else { return }
      let now = WorkerPool.now()
      StepPhaseRecorder.totals[keyPath: phase] += Double(now - lapStart) * 1e-9
      lapStart = now
    }
    try batches.forEach(x, y, order: order, releasing: model) { batch, positions, batchX, batchY in
      lap(\.gather)
      let predicted: Matrix<Element>
      let value: Double
      let fused = try separableLoss.flatMap { try passes.fusedStep(batchX, targets: batchY, loss: $0) }
      if let fused {
        // Forward, loss and backward ran on the shards, and the reduction after them.
        (predicted, value) = (passes.lastOutput, fused)
        lap(\.backward)
      } else {
        predicted = try passes.forward(batchX)
        lap(\.forward)
        value = try loss.lossAndGradient(predicted: predicted, target: batchY, gradient: &gradient)
        lap(\.loss)
      }
      guard value.isFinite else {
        // The other processes of a group learn of it at this step, and stop too.
        try? groupOptimizer?.step(parameters, rows: 0, failed: true)
        throw BumpKitError.nonFiniteLoss(epoch: epoch, batch: batch, value: "\(value)")
      }
      if reference == nil { reference = max(value, constantLoss ?? 0) }
      if countCorrect { correct += Sequential<Element>.correctCount(predicted, batchY) }
      if fused == nil {
        try passes.backward(gradient)
        lap(\.backward)
      }
      do {
        // The optimizer checks every gradient before it changes anything.
        if let groupOptimizer {
          try groupOptimizer.step(parameters, rows: positions.count, failed: false)
        } else {
          try optimizer.step(parameters)
        }
      } catch BumpKitError.nonFiniteData(let what, _, _, let value) {
        throw BumpKitError.nonFiniteLoss(epoch: epoch, batch: batch, value: "finite, but \(what) is \(value)")
      }
      lap(\.optimizer)
      if recording {
        StepPhaseRecorder.totals.steps += 1
        if let now = passes.pool?.timings, let before = poolTimings {
          StepPhaseRecorder.totals.wait += (now.offered - before.offered) - (now.busy - before.busy)
          poolTimings = now
        }
      }
      lossSum += value * Double(positions.count)
      if let progress {
        let seconds = Sequential<Element>.seconds(clock.now - epochStart)
        let elapsed = Sequential<Element>.seconds(clock.now - start)
        let done = positions.upperBound
        // In floating point: epochs × batches overflows Int for a budget such as 10¹⁸
        // epochs ("until early stopping").
        let fraction =
          (Double(epoch - firstEpoch) * Double(batchCount) + Double(batch + 1))
          / (Double(epochs - firstEpoch) * Double(batchCount))
        progress(TrainingProgress(
          event: .batch, epoch: epoch, epochs: epochs, batch: batch, batches: batchCount,
          loss: lossSum / Double(done), validationLoss: nil,
          samplesPerSecond: Double(done) / max(seconds, 1e-9), elapsed: elapsed,
          remaining: elapsed / fraction - elapsed))
      }
    }
    // A process of a group whose rows are used up steps with empty batches until the
    // group's epoch ends (its gradients weigh nothing).
    if let group {
      for batch in batchCount..<group.plan.stepsPerEpoch {
        do {
          try group.optimizer.step(parameters, rows: 0, failed: false)
        } catch BumpKitError.nonFiniteData(let what, _, _, let value) {
          throw BumpKitError.nonFiniteLoss(epoch: epoch, batch: batch, value: "finite, but \(what) is \(value)")
        }
      }
    }
    let epochSeconds = Sequential<Element>.seconds(clock.now - epochStart)
    return Result(
      loss: lossSum / Double(samples), samplesPerSecond: Double(samples) / max(epochSeconds, 1e-9),
      accuracy: Double(correct) / Double(samples), rows: samples, lossSum: lossSum, correct: correct)
  }

  /// Makes `trained` and `validation` (this process's sums: loss over rows, rows, rows right)
  /// the epoch's over every process of `group`, in one exchange; the divergence check's
  /// reference becomes the mean of the processes'. Returns the validation sums, nil when no
  /// process has validation rows.
  mutating func combine(
    _ trained: inout Result, validation: (loss: Double, rows: Int, correct: Int)?, in group: any ProcessGroup
  ) throws -> (loss: Double, rows: Int, correct: Int)? {
    let reference = divergenceReference
    let sums = try group.sum([
      trained.lossSum, Double(trained.rows), Double(trained.correct),
      validation?.loss ?? 0, Double(validation?.rows ?? 0), Double(validation?.correct ?? 0),
      reference ?? 0, reference == nil ? 0 : 1,
    ])
    let rows = max(sums[1], 1)
    trained.loss = sums[0] / rows
    trained.accuracy = sums[2] / rows
    if sums[7] > 0 { divergenceReference = sums[6] / sums[7] }
    return sums[4] > 0 ? (sums[3], Int(sums[4]), Int(sums[5])) : nil
  }

  /// Reports the end of epoch `epoch`, whose entries `history` holds, to ``progress``.
  func reportEpoch(_ epoch: Int, _ history: History) {
    guard let progress else { return }
    let elapsed = Sequential<Element>.seconds(clock.now - start)
    let done = Double(epoch + 1 - firstEpoch) / Double(epochs - firstEpoch)
    progress(TrainingProgress(
      event: .epoch, epoch: epoch, epochs: epochs, batch: batches.count - 1, batches: batches.count,
      loss: history.loss.last!, validationLoss: history.validationLoss.last,
      samplesPerSecond: history.samplesPerSecond.last!, elapsed: elapsed,
      remaining: elapsed / done - elapsed))
  }

  /// Throws ``BumpKitError/diverged(epoch:loss:reference:factor:)`` when the epoch's mean
  /// training loss `loss` exceeds ``Sequential/divergenceFactor`` times the reference, unless
  /// `excused` (early stopping ends training here and restores a better epoch's weights).
  func checkDivergence(epoch: Int, loss: Double, excused: Bool) throws {
    let factor = Sequential<Element>.divergenceFactor
    if let reference = divergenceReference, loss > factor * reference, !excused {
      throw BumpKitError.diverged(epoch: epoch, loss: loss, reference: reference, factor: factor)
    }
  }
}

/// `fit`'s early stopping: the best monitored loss, its epoch and (when they are to be
/// restored) its weights, and the epochs since the last improvement, continued from a
/// resumed ``TrainingState``. Without an ``EarlyStopping`` it keeps the state as it was.
struct EarlyStoppingProgress<Element: MatrixScalar> {
  let rule: EarlyStopping?
  private(set) var bestLoss: Double
  private(set) var bestEpoch: Int
  private(set) var bestWeights: [Matrix<Element>]
  private(set) var epochsWithoutImprovement: Int

  /// The progress stored in `state`, under `rule`.
  init(_ rule: EarlyStopping?, resuming state: TrainingState<Element>) {
    self.rule = rule
    bestLoss = state.bestLoss
    bestEpoch = state.bestEpoch
    bestWeights = state.bestWeights
    epochsWithoutImprovement = state.epochsWithoutImprovement
  }

  /// Whether the patience is used up: training ends.
  var patienceExhausted: Bool { rule.map { epochsWithoutImprovement >= $0.patience } ?? false }

  /// Whether ending training puts back the best epoch's weights.
  var restoresBestWeights: Bool { rule?.restoreBestWeights == true && !bestWeights.isEmpty }

  /// Takes in epoch `epoch` with monitored loss `monitored`: an improvement by more than
  /// `minDelta` becomes the best (with a copy of `parameters`' values when they are to be
  /// restored); otherwise the patience count grows. Returns whether the patience is now used
  /// up.
  mutating func takeIn(_ monitored: Double, epoch: Int, parameters: [Parameter<Element>]) -> Bool {
    guard let rule else { return false }
    guard monitored < bestLoss - rule.minDelta else {
      epochsWithoutImprovement += 1
      return patienceExhausted
    }
    (bestLoss, bestEpoch) = (monitored, epoch)
    epochsWithoutImprovement = 0
    if rule.restoreBestWeights { bestWeights = parameters.map { $0.value.copied() } }
    return false
  }

  /// The state to resume from after `epochsCompleted` epochs recorded in `history`.
  func state(epochsCompleted: Int, history: History, run: TrainingRunIdentity) -> TrainingState<Element> {
    TrainingState(
      epochsCompleted: epochsCompleted, history: history, bestLoss: bestLoss, bestEpoch: bestEpoch,
      epochsWithoutImprovement: epochsWithoutImprovement, bestWeights: bestWeights, run: run)
  }

  /// Puts the best epoch's weights back into `parameters` and records the epoch in
  /// `history`, when the rule restores them and there are any.
  func restoreBestWeights(_ parameters: [Parameter<Element>], _ history: inout History) throws {
    guard restoresBestWeights else { return }
    for (p, w) in zip(parameters, bestWeights) { try p.assign(w) }
    history.restoredEpoch = bestEpoch
  }
}
