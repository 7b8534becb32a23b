internal import COpenBLAS

/// A training step's forward and backward passes over a batch cut into shards, run on a
/// pool of long-lived workers: data parallelism inside a step.
///
/// The number of shards is fixed by the shape — the batch's rows and the model's size, see
/// ``shardCount(rows:parameters:)`` — never by the thread count. Shard 0 runs on the model
/// itself, shard k on a replica of it: layers of the same kinds with buffers of their own,
/// whose parameters hold the model's values (the same buffers, not copies) while the passes
/// run, and whose gradients are the shard's partials. Every shard runs its layers with
/// single-threaded BLAS and kernels, its rows fixed by the shape; the partials are added into
/// the model's gradients in shard order. So the parameters' gradients — and everything
/// training computes from them — are the same bits on 1, 2, 3 or 64 threads, and on any
/// machine that computes the same single-threaded products.
///
/// A model with a layer of your own runs as one shard on the calling thread (a layer of your
/// own may keep state besides its parameters, which replicas would not share).
///
/// Once warm (a full batch seen), a step allocates nothing.
final class ShardedPasses<Element: MatrixScalar>: WorkerPoolJob {
  /// What one shard owns: its model (the primary for shard 0), its rows' inputs and output
  /// gradients, and the error its last pass threw.
  final class Shard {
    let model: Sequential<Element>
    let parameters: [Parameter<Element>]
    var input = Matrix<Element>()
    var gradient = Matrix<Element>()
    var targets = Matrix<Element>()
    /// The loss of the shard's rows times their count (a fused step's).
    var lossSum = 0.0
    var error: (any Error)?
    init(_ model: Sequential<Element>) {
      self.model = model
      parameters = model.parameters
    }
  }

  let model: Sequential<Element>
  /// The pool the passes run on; nil runs every shard on the calling thread.
  let pool: WorkerPool?
  /// Whether the model's layers can be replicated (else one shard, always).
  let isShardable: Bool
  private var shards: [Shard]
  /// The number of parameter tensors, and of scalars in them.
  private let parameterCount: Int
  private let scalarCount: Int
  /// The outputs of the last forward pass, every shard's rows in place.
  private var output = Matrix<Element>()
  /// The number of shards of the current batch, and its rows.
  private(set) var activeShards = 1
  private var rows = 0
  /// What a replica's parameter holds between steps: an empty value, shared by all.
  private let placeholder = Matrix<Element>()
  /// What the pool's current job does with each task, and the batch matrix it reads (the
  /// input of a forward pass, the output gradient of a backward pass; the placeholder
  /// between jobs, so that the caller's buffer is not shared then).
  private enum Phase: Int { case forward, backward, step, reduce }
  /// Per phase, the shards whose first pass has run.
  private var warmShards = [0, 0, 0, 0]
  private var phase = Phase.forward
  private var batchMatrix = Matrix<Element>()
  /// A fused step's targets, and its loss.
  private var batchTargets = Matrix<Element>()
  private var stepLoss: (any RowSeparableLoss<Element>)?
  /// The reduction's chunks over the model's parameters: (parameter, start, end).
  private let chunks: [(parameter: Int, start: Int, end: Int)]
  /// Gradient base pointers of every shard's parameters, refreshed every step:
  /// `pointers[s * parameters + k]`.
  private var pointers: UnsafeMutableBufferPointer<UnsafeMutablePointer<Element>?>
  private var trainable: [Bool]
  /// Which thread runs which shard, and which run of reduction chunks: each thread keeps the
  /// same shard and the same slice of the gradients from step to step.
  private let parts = PreferredParts()
  /// The reduction's runs of chunks, one task each: run g covers chunks
  /// `reductionRuns[g] ..< reductionRuns[g + 1]`, about the same number of elements each
  /// (a run is at least one chunk: a model's small parameters make short ones).
  private let reductionRuns: [Int]

  /// Elements per reduction chunk (a parameter's piece); the pool runs the chunks in runs of
  /// about equal size (``OptimizerState/runCount(chunks:elements:threads:)``).
  static var reductionChunk: Int { 1 << 12 }

  /// The fewest elements a reduction hands to the pool: a shorter one takes less time than
  /// the hand-off, and runs on the calling thread.
  static var pooledReductionMinimum: Int { 1 << 14 }

  static func shardCount(rows: Int, parameters: Int) -> Int {
    ShardPlan.shardCount(rows: rows, parameters: parameters)
  }

  /// The rows of shard `s` of `count` over `rows` rows: balanced, in order.
  static func shardRows(_ s: Int, of count: Int, rows: Int) -> Range<Int> {
    (s * rows / count)..<((s + 1) * rows / count)
  }

  /// Passes for `model` on `pool`, with replicas made for up to `maxRows` rows a batch.
  init(model: Sequential<Element>, pool: WorkerPool?, maxRows: Int) throws {
    self.model = model
    self.pool = pool
    let parameters = model.parameters
    parameterCount = parameters.count
    scalarCount = model.parameterCount
    isShardable = model.layers.allSatisfy(Self.canReplicate)
    let count = isShardable ? Self.shardCount(rows: maxRows, parameters: model.parameterCount) : 1
    shards = [Shard(model)]
    for _ in 1..<max(1, count) {
      let replica = try model.copy()
      let shard = Shard(replica)
      for q in shard.parameters { q.releaseSharedValue(placeholder) }
      shards.append(shard)
    }
    var chunks: [(Int, Int, Int)] = []
    for (k, p) in parameters.enumerated() {
      var start = 0
      while start < p.count {
        let end = min(p.count, start + Self.reductionChunk)
        chunks.append((k, start, end))
        start = end
      }
    }
    self.chunks = chunks
    // Runs of consecutive chunks of about the same number of elements, one task each, as
    // many as the optimizer cuts its passes into; each thread takes the runs of its own share
    // first, so that it adds up the same gradients step after step, about those it then
    // updates.
    let total = chunks.reduce(0) { $0 + $1.2 - $1.1 }
    let runs = OptimizerState<Element>.runCount(chunks: chunks.count, elements: total, threads: pool?.threadCount ?? 1)
    var bounds = [0], before = 0
    for (c, chunk) in chunks.enumerated() {
      if bounds.count < runs, before * runs >= bounds.count * total { bounds.append(c) }
      before += chunk.2 - chunk.1
    }
    while bounds.count <= runs { bounds.append(chunks.count) }
    reductionRuns = bounds
    pointers = .allocate(capacity: max(1, shards.count * parameters.count))
    pointers.initialize(repeating: nil)
    trainable = parameters.map(\.isTrainable)
  }

  deinit { pointers.deallocate() }

  /// Whether `layer` can run on a replica: a built-in layer or a nested model of them. A
  /// layer of your own may keep state besides its parameters that replicas would not share.
  private static func canReplicate(_ layer: any Layer<Element>) -> Bool {
    if let model = layer as? Sequential<Element> { return model.layers.allSatisfy(canReplicate) }
    return layer is any CopyableLayer<Element>
  }

  /// Runs the current phase on every active shard, on the pool, and rethrows the first
  /// shard's error (in shard order, so the same error whatever the threads).
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  private func runShards(_ phase: Phase, _ matrix: Matrix<Element>) throws {
    self.phase = phase
    batchMatrix = matrix
    defer { batchMatrix = placeholder }
    let active = activeShards
    // The first pass of each shard sizes its buffers: on the calling thread, so that the
    // workers never allocate (and never start an allocator arena of their own).
    parts.reset()
    if let pool, warmShards[phase.rawValue] >= active {
      pool.run(tasks: active, job: self)
    } else {
      for s in 0..<active { runTask(s, worker: 0) }
      warmShards[phase.rawValue] = max(warmShards[phase.rawValue], active)
    }
    for s in 0..<active {
      if let error = shards[s].error {
        for shard in shards { shard.error = nil }
        throw error
      }
    }
  }

  /// One task of the current job: a shard's forward or backward pass, or a chunk of the
  /// reduction.
  func runTask(_ task: Int, worker: Int) {
    let threads = pool?.threadCount ?? 1
    switch phase {
    case .forward, .backward, .step:
      guard let s = parts.claim(worker: worker, threads: threads, count: activeShards) else { return }
      let shard = shards[s]
      do {
        switch phase {
        case .forward: try forwardShard(s, shard)
        case .backward: try backwardShard(s, shard)
        default: try stepShard(s, shard)
        }
      } catch {
        shard.error = error
      }
    case .reduce:
      let runs = reductionRuns.count - 1
      guard let g = parts.claim(worker: worker, threads: threads, count: runs) else { return }
      for c in reductionRuns[g]..<reductionRuns[g + 1] { reduceChunk(c) }
    }
  }

  /// Shard `s`'s forward pass: its rows of the batch through its model, the outputs into
  /// their rows of ``output``.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  @discardableResult
  private func forwardShard(_ s: Int, _ shard: Shard) throws -> Matrix<Element> {
    let range = Self.shardRows(s, of: activeShards, rows: rows)
    let columns = batchMatrix.columns, outputs = output.columns
    shard.model.releaseSavedState()
    shard.input.resize(validRows: range.count, columns: columns)
    shard.input.storage.base.update(from: batchMatrix.storage.base + range.lowerBound * columns, count: range.count * columns)
    let y = try shard.model.forward(shard.input)
    (output.storage.base + range.lowerBound * outputs).update(from: y.storage.base, count: range.count * outputs)
    return y
  }

  /// Shard `s`'s whole step: forward, the loss of its rows (scaled to the batch's mean) and
  /// backward.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  private func stepShard(_ s: Int, _ shard: Shard) throws {
    let predicted = try forwardShard(s, shard)
    let range = Self.shardRows(s, of: activeShards, rows: rows)
    let targetColumns = batchTargets.columns
    shard.targets.resize(validRows: range.count, columns: targetColumns)
    shard.targets.storage.base.update(
      from: batchTargets.storage.base + range.lowerBound * targetColumns, count: range.count * targetColumns)
    guard let loss = stepLoss else { return }
    let mean = try loss.shardLoss(predicted: predicted, target: shard.targets, gradient: &shard.gradient, rowsInBatch: rows)
    shard.lossSum = mean * Double(range.count)
    _ = try shard.model.backward(shard.gradient)
  }

  /// The fused form of a step with a loss whose value is a mean over rows: every shard runs
  /// forward, its rows' loss and backward in one job (one hand-off instead of two, the loss
  /// on the shards), then the reduction. Returns the batch's mean loss (the shards' sums
  /// added in shard order), or nil when the batch is one shard — the caller then runs the
  /// step itself with ``forward(_:)`` and ``backward(_:)``.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  func fusedStep(_ input: Matrix<Element>, targets: Matrix<Element>, loss: any RowSeparableLoss<Element>) throws -> Double? {
    selectShards(rows: input.rows)
    guard activeShards > 1 else { return nil }
    shareValues()
    defer {
      releaseValues()
      stepLoss = nil
      batchTargets = placeholder
    }
    output.resize(validRows: rows, columns: model.outputSize)
    stepLoss = loss
    batchTargets = targets
    try runShards(.step, input)
    var total = 0.0
    for s in 0..<activeShards { total += shards[s].lossSum }
    reduce()
    return total / Double(rows)
  }

  /// The outputs of the last forward pass or fused step, every shard's rows in place.
  var lastOutput: Matrix<Element> { output }

  /// Shard `s`'s backward pass from its rows of the output gradient; its parameters'
  /// gradients are its partials.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  private func backwardShard(_ s: Int, _ shard: Shard) throws {
    let range = Self.shardRows(s, of: activeShards, rows: rows)
    let columns = batchMatrix.columns
    shard.gradient.resize(validRows: range.count, columns: columns)
    shard.gradient.storage.base.update(from: batchMatrix.storage.base + range.lowerBound * columns, count: range.count * columns)
    _ = try shard.model.backward(shard.gradient)
  }

  /// The model's outputs for `input` (a batch), each shard's rows computed by its model.
  ///
  /// Valid until the next call; the shards keep what their backward passes need.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  func forward(_ input: Matrix<Element>) throws -> Matrix<Element> {
    selectShards(rows: input.rows)
    if activeShards == 1 {
      model.releaseSavedState()
      return try model.forward(input)
    }
    shareValues()
    output.resize(validRows: rows, columns: model.outputSize)
    try runShards(.forward, input)
    return output
  }

  /// Backpropagates dL/d(output) of the last forward pass and leaves the parameters'
  /// gradients — the sum of the shards' partials, in shard order — in the model's
  /// parameters.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  func backward(_ gradient: Matrix<Element>) throws {
    guard activeShards > 1 else {
      _ = try model.backward(gradient)
      return
    }
    defer { releaseValues() }
    guard gradient.rows == rows, gradient.columns == model.outputSize else {
      throw BumpKitError.shapeMismatch(
        operation: "Sequential.backward", expected: MatrixShape(rows: rows, columns: model.outputSize),
        actual: MatrixShape(of: gradient))
    }
    try runShards(.backward, gradient)
    reduce()
  }

  /// The batch's rows and its shards (one for a model that cannot be replicated).
  private func selectShards(rows: Int) {
    self.rows = rows
    activeShards = isShardable ? min(shards.count, Self.shardCount(rows: rows, parameters: scalarCount)) : 1
  }

  /// Replicas hold the model's parameter values (and trainable flags) for this step.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  private func shareValues() {
    let primary = shards[0].parameters
    for k in 0..<parameterCount { trainable[k] = primary[k].isTrainable }
    for s in 1..<activeShards {
      let replica = shards[s].parameters
      for k in 0..<parameterCount { replica[k].shareValue(of: primary[k]) }
    }
  }

  /// Replicas let go of the model's values, so that the optimizer updates them in place.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  private func releaseValues() {
    for s in 1..<activeShards {
      let replica = shards[s].parameters
      for k in 0..<parameterCount { replica[k].releaseSharedValue(placeholder) }
    }
  }

  /// Adds the partials of shards 1… into shard 0's (the model's) gradients, element by
  /// element in shard order, chunk by chunk on the pool.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  private func reduce() {
    let start = StepPhaseRecorder.isEnabled ? WorkerPool.now() : 0
    defer {
      if StepPhaseRecorder.isEnabled { StepPhaseRecorder.totals.reduce += Double(WorkerPool.now() - start) * 1e-9 }
    }
    let n = parameterCount, active = activeShards
    for s in 0..<active {
      let parameters = shards[s].parameters
      for k in 0..<n where trainable[k] {
        if s == 0 { parameters[k].gradient.makeUnique() }
        pointers[s * n + k] = parameters[k].gradient.storage.base
      }
    }
    // A small model's reduction is shorter than a hand-off to the workers.
    phase = .reduce
    if let pool, scalarCount * (active - 1) >= Self.pooledReductionMinimum {
      parts.reset()
      pool.run(tasks: reductionRuns.count - 1, job: self)
    } else {
      for c in chunks.indices { reduceChunk(c) }
    }
  }

  /// Chunk `c` of the reduction: the model's gradient += every other shard's partial, in
  /// shard order.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  private func reduceChunk(_ c: Int) {
    let (k, start, end) = chunks[c]
    let n = parameterCount
    guard trainable[k], let total = pointers[k] else { return }
    for s in 1..<activeShards {
      guard let partial = pointers[s * n + k] else { continue }
      accumulatePartial(total, partial, start..<end)
    }
  }
}

/// total[i] += partial[i] for i in `range`: a reduction step of ``ShardedPasses``.
@_specialize(where T == Float)
@_specialize(where T == Double)
func accumulatePartial<T: MatrixScalar>(_ total: UnsafeMutablePointer<T>, _ partial: UnsafeMutablePointer<T>, _ range: Range<Int>) {
  for i in range { total[i] += partial[i] }
}

/// A loss whose value is the mean over the batch's rows of a per-row loss (every built-in
/// one), so that shards compute it on their rows: the shard's gradient is scaled to the
/// whole batch's mean.
protocol RowSeparableLoss<Element>: Loss {
  /// The mean loss of `predicted` against `target` (a shard's rows), with dL/d(predicted)
  /// for a batch of `rowsInBatch` rows written into `gradient`.
  func shardLoss(
    predicted: Matrix<Element>, target: Matrix<Element>, gradient: inout Matrix<Element>, rowsInBatch: Int
  ) throws -> Double
}

extension RowSeparableLoss {
  @_specialize(where Self == MeanSquaredError<Float>)
  @_specialize(where Self == MeanSquaredError<Double>)
  func shardLoss(
    predicted: Matrix<Element>, target: Matrix<Element>, gradient: inout Matrix<Element>, rowsInBatch: Int
  ) throws -> Double {
    let mean = try lossAndGradient(predicted: predicted, target: target, gradient: &gradient)
    let scale = Element(Double(predicted.rows) / Double(rowsInBatch))
    gradient.withUnsafeMutableBufferPointer { g in
      for i in g.indices { g[i] *= scale }
    }
    return mean
  }
}

extension MeanSquaredError: RowSeparableLoss {}
extension BinaryCrossEntropyWithLogits: RowSeparableLoss {}
extension SoftmaxCrossEntropy: RowSeparableLoss {}

/// How `fit` cuts a batch into shards (``ShardedPasses``): fixed by the batch's rows and the
/// model's size alone.
package enum ShardPlan {
  /// The smallest number of rows a shard gets: 32 for models of up to 2¹⁴ parameters, 64 up
  /// to 2¹⁷, 128 above. A shard's fixed costs grow with the model — its share of the
  /// reduction (a pass over a gradient the size of the model) and its weight-gradient
  /// products, whose output is the size of the model whatever the rows and which lose BLAS's
  /// efficiency on few rows — while its work grows with rows × model size; for a small model
  /// the fixed cost is the layers' calls themselves, a few microseconds a shard. Fewer rows
  /// than this cost more in overhead than a second thread gains (measured on the
  /// benchmark's three sizes: 16-row shards of the 1,700-parameter model and 64-row shards of
  /// the 1,070,000-parameter one ran slower on two threads than one shard did).
  package static func minimumRows(parameters: Int) -> Int {
    parameters <= 1 << 14 ? 32 : parameters <= 1 << 17 ? 64 : 128
  }

  /// The most shards of a batch: 64.
  package static var maximumShards: Int { 64 }

  /// The shards of a batch of `rows` rows for a model of `parameters` parameters: as many as
  /// ``minimumRows(parameters:)`` allows, at most ``maximumShards``, at least 1.
  package static func shardCount(rows: Int, parameters: Int) -> Int {
    max(1, min(maximumShards, rows / minimumRows(parameters: parameters)))
  }

}
