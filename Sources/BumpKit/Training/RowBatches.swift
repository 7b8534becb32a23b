/// The one way BumpKit cuts a dataset's rows into batches: `fit`'s epochs, ``Sequential/evaluate(x:y:loss:batchSize:)``,
/// ``Sequential/accuracy(x:y:batchSize:)``, ``Sequential/predict(_:batchSize:)``,
/// ``BumpLayerStatistics/collect(model:inputs:batchSize:)``, the end-of-training warnings and
/// the command's end-of-run pass all walk their rows through it.
///
/// Batch b holds positions b·``batchSize`` ..< min((b + 1)·``batchSize``, ``rows``) of the
/// visiting order — the rows in turn, or an order such as an epoch's shuffle — so the last
/// batch holds the rest. A batch size beyond the rows is one batch of all of them.
///
/// A batch's inputs (and targets) are copied into two buffers that the batches own and reuse:
/// once they have grown to a full batch, no batch allocates, as long as nothing else holds a
/// buffer when it is refilled. A model's first layer keeps its input for the backward pass, so
/// ``forEach(_:_:order:releasing:_:)`` releases the model's saved state
/// (``Sequential/releaseSavedState()``) before every refill and once the walk ends, normally
/// or by an error.
package struct RowBatches<Element: MatrixScalar> {
  /// The number of rows walked.
  package let rows: Int
  /// The rows of a full batch: the batch size asked for, or ``rows`` when that is smaller
  /// (and at least 1).
  package let batchSize: Int
  /// The inputs of the current batch.
  private var inputs = Matrix<Element>()
  /// The targets of the current batch (empty without targets).
  private var targets = Matrix<Element>()

  /// Batches of at most `batchSize` of `rows` rows.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` unless `batchSize` ≥ 1.
  package init(rows: Int, batchSize: Int) throws {
    guard batchSize > 0 else {
      throw BumpKitError.invalidArgument(name: "batchSize", value: String(batchSize), reason: "must be at least 1")
    }
    self.rows = rows
    self.batchSize = max(1, min(batchSize, rows))
  }

  /// The number of batches: ⌈``rows`` / ``batchSize``⌉ (0 without rows).
  package var count: Int { rows == 0 ? 0 : (rows - 1) / batchSize + 1 }

  /// The positions in the visiting order of batch `batch`.
  package func positions(ofBatch batch: Int) -> Range<Int> {
    let start = batch * batchSize
    return start..<min(rows, start + batchSize)
  }

  /// Calls `body` for every batch in turn with its index, its positions in the visiting order
  /// (``positions(ofBatch:)``) and its rows of `x` and of `y` (an empty matrix without `y`).
  ///
  /// - Parameters:
  ///   - x: the inputs, ``rows`` rows.
  ///   - y: the targets, ``rows`` rows, or nil.
  ///   - order: the rows to visit, in order (``rows`` of them, each in `0..<rows`), or nil for
  ///     the rows in turn.
  ///   - model: the model whose saved state is released before each refill and at the end,
  ///     so that the buffers are reused in place; nil when `body` keeps no reference to them.
  ///   - body: what to do with the batch; the matrices it is given are valid until it
  ///     returns.
  /// - Throws: what `body` throws; the walk stops there.
  @inline(__always)
  package mutating func forEach(
    _ x: Matrix<Element>, _ y: Matrix<Element>? = nil, order: [Int]? = nil,
    releasing model: Sequential<Element>? = nil,
    _ body: (_ batch: Int, _ positions: Range<Int>, _ inputs: Matrix<Element>, _ targets: Matrix<Element>) throws -> Void
  ) throws {
    defer { model?.releaseSavedState() }
    for batch in 0..<count {
      let positions = positions(ofBatch: batch)
      model?.releaseSavedState()
      Self.copy(x, positions, order, into: &inputs)
      if let y { Self.copy(y, positions, order, into: &targets) }
      // The next batch's rows, scattered over the data when an order shuffles them, are
      // fetched into the cache while this batch's work runs.
      if let order, batch + 1 < count {
        let next = self.positions(ofBatch: batch + 1)
        Self.prefetch(x, order[next])
        if let y { Self.prefetch(y, order[next]) }
      }
      try body(batch, positions, inputs, targets)
    }
  }

  /// The `outputSize` outputs of `forward` for every row of `x`, computed batch by batch into
  /// one `rows × outputSize` matrix, releasing `model`'s saved state as
  /// ``forEach(_:_:order:releasing:_:)`` does.
  ///
  /// - Throws: what `forward` throws; ``BumpKitError/shapeMismatch(operation:expected:actual:)``
  ///   if it returns another shape than `batch rows × outputSize`.
  package mutating func outputs(
    of x: Matrix<Element>, outputSize: Int, releasing model: Sequential<Element>? = nil,
    _ forward: (Matrix<Element>) throws -> Matrix<Element>
  ) throws -> Matrix<Element> {
    var result = try Matrix<Element>(rows: rows, columns: outputSize)
    try forEach(x, releasing: model) { _, positions, inputs, _ in
      let output = try forward(inputs)
      try result.withUnsafeMutableBufferPointer { r in
        try storeBatchOutputs(output, rows: positions, outputSize: outputSize, into: r.baseAddress!, "a batch's outputs")
      }
    }
    return result
  }

  /// Hints the cache to fetch the rows `rows` of `source`.
  private static func prefetch(_ source: Matrix<Element>, _ rows: ArraySlice<Int>) {
    let c = source.columns
    source.withUnsafeBufferPointer { src in
      guard let s = src.baseAddress else { return }
      for r in rows { prefetchForReading(s + r * c, count: c) }
    }
  }

  /// Copies the rows at `positions` of the order (of `source` itself without one) into
  /// `buffer`, resizing it in place when its capacity suffices and nothing shares it.
  private static func copy(
    _ source: Matrix<Element>, _ positions: Range<Int>, _ order: [Int]?, into buffer: inout Matrix<Element>
  ) {
    let c = source.columns
    buffer.resize(validRows: positions.count, columns: c)
    source.withUnsafeBufferPointer { src in
      buffer.withUnsafeMutableBufferPointer { dst in
        guard let s = src.baseAddress, let d = dst.baseAddress else { return }
        guard let order else {
          d.update(from: s + positions.lowerBound * c, count: positions.count * c)
          return
        }
        for (k, r) in order[positions].enumerated() { (d + k * c).update(from: s + r * c, count: c) }
      }
    }
  }
}

/// Copies `output`, the outputs of the rows `rows` of a batched pass, into their rows of the
/// `outputSize`-column result at `result`, after checking its shape: what
/// ``RowBatches/outputs(of:outputSize:releasing:_:)`` and the prediction blocks share.
///
/// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` naming `operation`
///   for another shape than `rows.count × outputSize`.
func storeBatchOutputs<Element: MatrixScalar>(
  _ output: Matrix<Element>, rows: Range<Int>, outputSize: Int, into result: UnsafeMutablePointer<Element>,
  _ operation: @autoclosure () -> String
) throws {
  guard output.rows == rows.count, output.columns == outputSize else {
    throw BumpKitError.shapeMismatch(
      operation: operation(), expected: MatrixShape(rows: rows.count, columns: outputSize), actual: MatrixShape(of: output))
  }
  output.withUnsafeBufferPointer { o in
    (result + rows.lowerBound * outputSize).update(from: o.baseAddress!, count: rows.count * outputSize)
  }
}
