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
final class ShardedPasses<Element: MatrixScalar> {
  /// What one shard owns: its model (the primary for shard 0), its rows' inputs and output
  /// gradients, and the error its last pass threw.
  final class Shard {
    let model: Sequential<Element>
    let parameters: [Parameter<Element>]
    var input = Matrix<Element>()
    var gradient = Matrix<Element>()
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
  private let parameterCount: Int
  /// The outputs of the last forward pass, every shard's rows in place.
  private var output = Matrix<Element>()
  /// The number of shards of the current batch, and its rows.
  private(set) var activeShards = 1
  private var rows = 0
  /// What a replica's parameter holds between steps: an empty value, shared by all.
  private let placeholder = Matrix<Element>()
  /// The reduction's chunks over the model's parameters: (parameter, start, end).
  private let chunks: [(parameter: Int, start: Int, end: Int)]
  /// Gradient base pointers of every shard's parameters, refreshed every step:
  /// `pointers[s * parameters + k]`.
  private var pointers: UnsafeMutableBufferPointer<UnsafeMutablePointer<Element>?>
  private var trainable: [Bool]

  /// Elements per reduction task.
  static var reductionChunk: Int { 1 << 14 }

  /// The smallest number of rows a shard gets: 16 for models of up to 2¹⁷ parameters,
  /// 64 above. A shard's fixed costs (its share of the reduction: one pass over a gradient
  /// the size of the model; its own weight-gradient products, whose output is the size of
  /// the model whatever the rows) grow with the model, its work with rows × model size, so
  /// fewer rows than this cost more in overhead than a thread gains.
  static func minimumRows(parameters: Int) -> Int { parameters <= 1 << 17 ? 16 : 64 }

  /// The most shards of a batch: 64.
  static var maximumShards: Int { 64 }

  /// The shards of a batch of `rows` rows for a model of `parameters` parameters: as many as
  /// ``minimumRows(parameters:)`` allows, at most ``maximumShards``, at least 1.
  static func shardCount(rows: Int, parameters: Int) -> Int {
    max(1, min(maximumShards, rows / minimumRows(parameters: parameters)))
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

  /// Runs `body` on every active shard, on the pool, and rethrows the first shard's error
  /// (in shard order, so the same error whatever the threads).
  private func forEachShard(_ body: (Int, Shard) throws -> Void) throws {
    let shards = self.shards
    let active = activeShards
    func run(_ s: Int, _ worker: Int) {
      let shard = shards[s]
      do { try body(s, shard) } catch { shard.error = error }
    }
    if let pool {
      pool.run(tasks: active, run)
    } else {
      for s in 0..<active { run(s, 0) }
    }
    for s in 0..<active {
      if let error = shards[s].error {
        for shard in shards { shard.error = nil }
        throw error
      }
    }
  }

  /// The model's outputs for `input` (a batch), each shard's rows computed by its model.
  ///
  /// Valid until the next call; the shards keep what their backward passes need.
  func forward(_ input: Matrix<Element>) throws -> Matrix<Element> {
    rows = input.rows
    activeShards = isShardable ? min(shards.count, Self.shardCount(rows: rows, parameters: model.parameterCount)) : 1
    if activeShards == 1 {
      model.releaseSavedState()
      return try model.forward(input)
    }
    shareValues()
    let columns = input.columns, outputs = model.outputSize, rows = rows, active = activeShards
    output.resize(validRows: rows, columns: outputs)
    let out = output.storage.base
    try forEachShard { s, shard in
      let range = Self.shardRows(s, of: active, rows: rows)
      shard.model.releaseSavedState()
      shard.input.resize(validRows: range.count, columns: columns)
      input.withUnsafeBufferPointer { x in
        shard.input.storage.base.update(from: x.baseAddress! + range.lowerBound * columns, count: range.count * columns)
      }
      let y = try shard.model.forward(shard.input)
      y.withUnsafeBufferPointer { y in
        (out + range.lowerBound * outputs).update(from: y.baseAddress!, count: range.count * outputs)
      }
    }
    return output
  }

  /// Backpropagates dL/d(output) of the last forward pass and leaves the parameters'
  /// gradients — the sum of the shards' partials, in shard order — in the model's
  /// parameters.
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
    let columns = gradient.columns, rows = rows, active = activeShards
    try forEachShard { s, shard in
      let range = Self.shardRows(s, of: active, rows: rows)
      shard.gradient.resize(validRows: range.count, columns: columns)
      gradient.withUnsafeBufferPointer { g in
        shard.gradient.storage.base.update(from: g.baseAddress! + range.lowerBound * columns, count: range.count * columns)
      }
      _ = try shard.model.backward(shard.gradient)
    }
    reduce()
  }

  /// Replicas hold the model's parameter values (and trainable flags) for this step.
  private func shareValues() {
    let primary = shards[0].parameters
    for k in primary.indices { trainable[k] = primary[k].isTrainable }
    for s in 1..<activeShards {
      for (q, p) in zip(shards[s].parameters, primary) { q.shareValue(of: p) }
    }
  }

  /// Replicas let go of the model's values, so that the optimizer updates them in place.
  private func releaseValues() {
    for s in 1..<activeShards {
      for q in shards[s].parameters { q.releaseSharedValue(placeholder) }
    }
  }

  /// Adds the partials of shards 1… into shard 0's (the model's) gradients, element by
  /// element in shard order, chunk by chunk on the pool.
  private func reduce() {
    let n = parameterCount, active = activeShards
    for s in 0..<active {
      for (k, p) in shards[s].parameters.enumerated() where trainable[k] {
        if s == 0 { p.gradient.makeUnique() }
        pointers[s * n + k] = p.gradient.storage.base
      }
    }
    let (pointers, chunks, trainable) = (pointers, chunks, trainable)
    func add(_ c: Int, _ worker: Int) {
      let (k, start, end) = chunks[c]
      guard trainable[k], let total = pointers[k] else { return }
      for s in 1..<active {
        guard let partial = pointers[s * n + k] else { continue }
        accumulatePartial(total, partial, start..<end)
      }
    }
    if let pool {
      pool.run(tasks: chunks.count, add)
    } else {
      for c in chunks.indices { add(c, 0) }
    }
  }

}

/// total[i] += partial[i] for i in `range`: a reduction step of ``ShardedPasses``.
@_specialize(where T == Float)
@_specialize(where T == Double)
func accumulatePartial<T: MatrixScalar>(_ total: UnsafeMutablePointer<T>, _ partial: UnsafeMutablePointer<T>, _ range: Range<Int>) {
  for i in range { total[i] += partial[i] }
}
