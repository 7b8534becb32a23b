/// A trained model frozen for prediction: immutable, `Sendable`, and safe to share between
/// any number of tasks.
///
/// Made from a ``Sequential``, it holds copies of the model's parameters (later training of
/// the model does not change it) in each layer's ``Layer/inferenceLayer()`` form. Every
/// prediction allocates its own buffers and writes nowhere else, so tasks that share one
/// model need no lock and no `@unchecked`, and each gets the same bits as a single task —
/// and as ``Sequential/predict(_:batchSize:)`` with the same batch size — would:
///
///     let frozen = try InferenceModel(model)
///     let outputs = try await withThrowingTaskGroup(of: Matrix<Float>.self) { group in
///       for batch in batches { group.addTask { try frozen.predict(batch) } }
///       return try await group.reduce(into: []) { $0.append($1) }
///     }
///
/// A model with a layer of your own needs that layer's ``Layer/inferenceLayer()``.
///
/// See also: ``InferenceLayer``, ``Sequential/copy()``.
public struct InferenceModel<Element: MatrixScalar>: InferenceLayer {
  /// The number of input features.
  public let inputSize: Int
  /// The number of output features.
  public let outputSize: Int
  /// The layers' prediction forms, in order.
  let layers: [any InferenceLayer<Element>]

  /// The prediction form of `model`, with copies of its current parameters.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` naming the first layer
  ///   that has no inference form (`layers[i]`);
  ///   ``BumpKitError/invalidParameter(layer:parameter:index:value:reason:)`` for a parameter
  ///   a layer cannot use, such as a NaN or negative σ, and for any NaN or infinite
  ///   parameter of any layer (``Sequential/checkParameters()``).
  public init(_ model: Sequential<Element>) throws {
    try model.checkParameters()
    var layers: [any InferenceLayer<Element>] = []
    for (i, layer) in model.layers.enumerated() {
      do {
        layers.append(try layer.inferenceLayer())
      } catch BumpKitError.invalidArgument(name: "layer", let value, let reason) {
        throw BumpKitError.invalidArgument(name: "layers[\(i)]", value: value, reason: reason)
      }
    }
    self.layers = layers
    self.inputSize = model.inputSize
    self.outputSize = model.outputSize
  }

  /// The output for `input` (`batch × inputSize`), one batch: the form a containing model
  /// calls. Unlike ``predict(_:batchSize:)`` it does not check values or split rows.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` for the wrong
  ///   number of columns, ``BumpKitError/emptyBatch(operation:)`` for no rows.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public func callAsFunction(_ input: Matrix<Element>) throws -> Matrix<Element> {
    try checkBatch(input, features: inputSize, "InferenceModel input")
    var x = input
    for layer in layers { x = try layer(x) }
    return x
  }

  /// The model's output for `input`, computed in batches of at most `batchSize` rows so that
  /// memory stays bounded, after checking that every input is finite.
  ///
  /// Safe to call from many tasks at once. The result is that of
  /// ``Sequential/predict(_:batchSize:)`` with the same batch size, bit for bit, and does
  /// not depend on the batch size beyond rounding.
  ///
  /// Finite inputs are taken as they are, however large: far outside the training data a
  /// model extrapolates (bump units answer exactly 0 outside their supports, so the output
  /// tends to the bias of the read-out). Standardize inputs as the model was trained.
  ///
  /// - Throws: ``BumpKitError/nonFiniteData(what:row:column:value:)`` naming the first NaN
  ///   or ±∞ input by row and column (0-based);
  ///   ``BumpKitError/shapeMismatch(operation:expected:actual:)`` for the wrong number of
  ///   columns; ``BumpKitError/emptyBatch(operation:)`` for no rows;
  ///   ``BumpKitError/invalidArgument(name:value:reason:)`` for `batchSize` < 1.
  public func predict(_ input: Matrix<Element>, batchSize: Int = 1024) throws -> Matrix<Element> {
    try predictInBatches(
      input, batchSize: batchSize, inputSize: inputSize, outputSize: outputSize,
      operation: "InferenceModel.predict"
    ) { try self($0) }
  }
}

/// `forward` over `input` in batches of at most `batchSize` rows, into one `rows × outputSize`
/// matrix, after checking the arguments and that every input is finite: the one batching of
/// ``Sequential/predict(_:batchSize:)`` and ``InferenceModel/predict(_:batchSize:)``.
///
/// Each batch is cut into blocks of at least ``predictionBlockRows`` rows (at most 64 blocks),
/// fixed by the batch's rows alone; the blocks run on the process's worker pool
/// (``Threading/threadCount`` threads), each with single-threaded BLAS. `forward` must
/// therefore be safe to call from several threads at once (an ``InferenceModel`` is). The
/// result does not depend on the thread count.
@_specialize(where Element == Float)
@_specialize(where Element == Double)
func predictInBatches<Element: MatrixScalar>(
  _ input: Matrix<Element>, batchSize: Int, inputSize: Int, outputSize: Int, operation: String,
  forward: (Matrix<Element>) throws -> Matrix<Element>
) throws -> Matrix<Element> {
  guard batchSize > 0 else {
    throw BumpKitError.invalidArgument(name: "batchSize", value: String(batchSize), reason: "must be at least 1")
  }
  try checkBatch(input, features: inputSize, operation)
  try checkFiniteInput(input, operation)
  // Written through its buffer by the blocks, each its own rows.
  let result = try Matrix<Element>(rows: input.rows, columns: outputSize)
  let blocks = predictionBlocks(rows: input.rows, batchSize: batchSize)
  let out = result.storage.base
  var errors = [(any Error)?](repeating: nil, count: blocks.count)
  try errors.withUnsafeMutableBufferPointer { errors in
    func run(_ b: Int, _ worker: Int) {
      let rows = blocks[b]
      do {
        var block = Matrix<Element>()
        try input.copyRows(rows, into: &block)
        try storeBatchOutputs(try forward(block), rows: rows, outputSize: outputSize, into: out, "\(operation): a batch's outputs")
      } catch {
        errors[b] = error
      }
    }
    let pool = blocks.count > 1 ? TrainingWorkers.pool : nil
    Threading.withSingleThreadedBLAS {
      WorkerPool.withCurrent(pool) {
        if let pool { pool.run(tasks: blocks.count, run) } else { for b in blocks.indices { run(b, 0) } }
      }
    }
    // The first block's error, in row order, whatever the threads.
    if let error = errors.lazy.compactMap({ $0 }).first { throw error }
  }
  return result
}

/// The fewest rows of a block of ``predictInBatches(_:batchSize:inputSize:outputSize:operation:forward:)``:
/// 256, so that a block's products keep BLAS efficient and its fixed costs (a copy of its
/// rows, an output per layer) stay small beside its work.
let predictionBlockRows = 256

/// The blocks of a prediction over `rows` rows in batches of `batchSize`, in order: every
/// batch cut into balanced parts of at least ``predictionBlockRows`` rows (at most 64).
func predictionBlocks(rows: Int, batchSize: Int) -> [Range<Int>] {
  var blocks: [Range<Int>] = []
  var start = 0
  while start < rows {
    let end = min(rows, start + max(1, batchSize))
    let parts = max(1, min(64, (end - start) / predictionBlockRows))
    for k in 0..<parts {
      blocks.append((start + k * (end - start) / parts)..<(start + (k + 1) * (end - start) / parts))
    }
    start = end
  }
  return blocks
}

/// Throws ``BumpKitError/nonFiniteData(what:row:column:value:)`` for the first NaN or ±∞ of
/// `input`, in row-major order.
@_specialize(where Element == Float)
@_specialize(where Element == Double)
func checkFiniteInput<Element: MatrixScalar>(_ input: Matrix<Element>, _ operation: String) throws {
  let columns = input.columns
  try input.withUnsafeBufferPointer { x in
    guard let i = x.firstIndex(where: { !$0.isFinite }) else { return }
    throw BumpKitError.nonFiniteData(what: "\(operation) input", row: i / columns, column: i % columns, value: "\(x[i])")
  }
}
