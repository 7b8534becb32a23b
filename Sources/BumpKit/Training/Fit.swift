extension Sequential {
  /// Trains the model by mini-batch gradient descent.
  ///
  /// Each epoch visits every training sample once, in an order shuffled by a generator
  /// seeded with `seed` (so the same seed, data and model give bit-identical weights), in
  /// batches of `batchSize` rows; the last batch holds the remainder. After every batch the
  /// optimizer updates the trainable parameters.
  ///
  /// Before training, the data is checked: matching row counts (inputs that look transposed,
  /// their columns matching the targets' rows, are called so), the model's input width,
  /// finite values (a NaN names its row), the targets' columns against the loss and the
  /// model's outputs (``Loss/validateTargets(_:outputs:)``), and every parameter of every
  /// layer is finite (``checkParameters()``). If a batch's loss or gradient is NaN or
  /// infinite, training stops with ``BumpKitError/nonFiniteLoss(epoch:batch:value:)`` and the
  /// model keeps the weights from before that batch. An update that itself overflows (a
  /// finite gradient times a learning rate far too large) is not undone: the next batch's
  /// loss, a layer's check of its parameters during the next pass, or the check after the
  /// epoch stops training, and the model then holds the non-finite values — reload or
  /// reinitialize it.
  ///
  /// After every epoch (O(parameters), not per step) the parameters are checked again, and
  /// training stops with ``BumpKitError/diverged(epoch:loss:reference:factor:)`` if the
  /// epoch's mean training loss exceeds ``divergenceFactor`` (10) times the larger of the
  /// loss of this call's first batch, before any step, and the best constant predictor's loss
  /// on the training rows (for the built-in losses; see
  /// ``TrainingWarning/noBetterThanConstant(loss:constantLoss:lossName:)``), before the
  /// epoch-end hook sees the epoch. The model then holds the weights of the end of that
  /// epoch. The one exception is an epoch at which early stopping ends training anyway and
  /// restores the weights of a better epoch: training then ends as early stopping ends it.
  ///
  /// Once training ends, `fit` looks for signs that the model learned nothing and puts them in
  /// ``History/warnings`` (``TrainingWarning``): more than half of a bump layer's units dead
  /// on the training rows (for a model with bump layers, one pass over them, or over
  /// ``TrainingWarning/sampleRows`` of them evenly spaced), or a training
  /// loss no better than a constant predictor's.
  ///
  /// - Parameters:
  ///   - x: inputs, `samples × inputSize`.
  ///   - y: targets: `samples × outputSize`, or `samples × 1` integer labels for
  ///     ``SoftmaxCrossEntropy``.
  ///   - loss: the loss to minimize; its gradient drives the updates.
  ///   - optimizer: updates the trainable parameters after every batch.
  ///   - epochs: the number of passes over the training rows (≥ 0).
  ///   - batchSize: rows per step (≥ 1, default 32); the last batch of an epoch holds the rest,
  ///     and a batch size beyond the training rows is one batch of all of them.
  ///   - shuffle: visit the rows in a new seeded order every epoch (default true).
  ///   - seed: seeds the shuffling, so equal seeds give bit-identical weights.
  ///   - validation: held-out data whose loss is computed after every epoch.
  ///   - earlyStopping: stops on the monitored loss and optionally restores the best weights.
  ///   - metrics: extra quantities per epoch; ``Metric/accuracy`` needs targets that are
  ///     classes (see ``accuracy(x:y:batchSize:)``), checked before training.
  ///   - resumed: the state of an interrupted run to continue (``EpochEnd/state``, or
  ///     from ``Checkpoint/loadForResuming(_:from:optimizer:)``), with the model holding that
  ///     run's weights and the optimizer its restored state; nil (the default) starts afresh.
  ///     Training goes on with epoch ``TrainingState/epochsCompleted`` up to `epochs` (the
  ///     whole budget, as Keras' `initial_epoch`): the shuffles of the completed epochs are
  ///     replayed from `seed`, early stopping continues from the stored best loss, patience
  ///     count and best weights, and the history is appended to. With the same data and
  ///     arguments the result equals the uninterrupted run's bit for bit. A state whose
  ///     early stopping had already ended the run trains no further epoch.
  ///   - progress: called after every batch and epoch, on the calling thread.
  ///   - onEpochEnd: called on the calling thread once each epoch's history (with
  ///     validation) is recorded, after `progress`, and after early stopping has taken the
  ///     epoch into its best loss and patience count but before it decides whether to stop;
  ///     the model holds that epoch's weights and ``EpochEnd/state`` the state to resume
  ///     from (e.g. to save a checkpoint). Returning
  ///     ``TrainingControl/stop`` ends training after this epoch, like early stopping does
  ///     (``History/stoppedEarly`` is set if epochs were left, and the best weights are
  ///     restored when early stopping asks for it). An error it throws ends training and is
  ///     rethrown; the model keeps the weights of this epoch.
  /// - Returns: the per-epoch ``History`` (for a resumed run, of every epoch since the start).
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for a bad argument or a
  ///   `resumingFrom` state of another run (seed, shuffling, rows or batch size differ);
  ///   ``BumpKitError/nonFiniteLoss(epoch:batch:value:)``;
  ///   ``BumpKitError/diverged(epoch:loss:reference:factor:)``;
  ///   ``BumpKitError/invalidParameter(layer:parameter:index:value:reason:)`` for a NaN or
  ///   infinite parameter, before training or after an epoch (or from a layer during an epoch,
  ///   after an update that overflowed); the data checks' errors
  ///   (``BumpKitError/shapeMismatch(operation:expected:actual:)`` for inputs, targets or
  ///   target columns of the wrong shape; ``BumpKitError/labelOutOfRange(row:label:classes:)``
  ///   for a target that is no class, with ``Metric/accuracy``).
  @discardableResult
  public func fit<L: Loss, O: Optimizer>(
    x: Matrix<Element>, y: Matrix<Element>, loss: L, optimizer: O,
    epochs: Int, batchSize: Int = 32, shuffle: Bool = true, seed: UInt64 = 0,
    validation: Validation<Element>? = nil, earlyStopping: EarlyStopping? = nil,
    metrics: [Metric] = [], resumingFrom resumed: TrainingState<Element>? = nil,
    progress: ((TrainingProgress) -> Void)? = nil,
    onEpochEnd: ((EpochEnd<Element>) throws -> TrainingControl)? = nil
  ) throws -> History where L.Element == Element, O.Element == Element {
    let groupOptimizer = optimizer as? any GroupOptimizer<Element>
    let group = groupOptimizer.flatMap { $0.group.size > 1 ? $0.group : nil }
    // With a group, every process learns whether any refused its data before anything
    // collective happens: one process throwing alone would leave the others waiting.
    let (train, held, run, state) = try Self.agreeing(in: group) {
      try Self.checkFitArguments(epochs: epochs, batchSize: batchSize, earlyStopping: earlyStopping)
      try checkData(x, y, "training data")
      try loss.validateTargets(y, outputs: outputSize)
      try checkParameters()
      let (train, held) = try trainingAndValidationRows(
        x, y, validation: validation, loss: loss, emptyValidationAllowed: group != nil)
      let run = TrainingRunIdentity(seed: seed, shuffle: shuffle, trainingRows: train.x.rows, batchSize: batchSize)
      let state = resumed ?? TrainingState(run: run)
      try state.check(against: run, parameters: parameters)
      if metrics.contains(.accuracy) {
        try Self.checkAccuracyTargets(train.y, outputs: outputSize, "training data")
        if let held { try Self.checkAccuracyTargets(held.y, outputs: outputSize, "validation data") }
      }
      return (train, held, run, state)
    }

    let params = parameters
    let firstEpoch = state.epochsCompleted
    let grouped = try GroupTraining(group, rows: train.x.rows, batchSize: batchSize)
    var loop = try EpochLoop(
      model: self, x: train.x, y: train.y, loss: loss, optimizer: optimizer, epochs: epochs,
      batchSize: batchSize, shuffle: shuffle, seed: seed, countCorrect: metrics.contains(.accuracy),
      progress: progress, replayingEpochs: min(firstEpoch, epochs),
      group: grouped.map { ($0, groupOptimizer!) })
    var history = state.history
    var stopping = EarlyStoppingProgress(earlyStopping, resuming: state)

    // A run that early stopping had ended goes no further.
    if stopping.patienceExhausted { history.stoppedEarly = firstEpoch < epochs }
    let startEpoch = stopping.patienceExhausted ? max(epochs, firstEpoch) : firstEpoch
    if startEpoch < epochs { try loop.prepareDivergenceCheck() }
    for epoch in startEpoch..<max(epochs, startEpoch) {
      var trained = try loop.train(epoch: epoch)
      var validated: (loss: Double, rows: Int, correct: Int)?
      if let held, held.x.rows > 0 {
        let (vLoss, vCorrect) = try evaluateBatches(held.x, held.y, loss: loss, batchSize: loop.batches.batchSize, countCorrect: loop.countCorrect)
        validated = (vLoss * Double(held.x.rows), held.x.rows, vCorrect)
      }
      if let grouped {
        // The epoch over every process's rows: one exchange of the sums.
        validated = try loop.combine(&trained, validation: validated, in: grouped.group)
      }
      history.loss.append(trained.loss)
      history.samplesPerSecond.append(trained.samplesPerSecond)
      if loop.countCorrect { history.accuracy.append(trained.accuracy) }
      var monitored = trained.loss
      if let validated {
        let vLoss = validated.loss / Double(validated.rows)
        history.validationLoss.append(vLoss)
        if loop.countCorrect { history.validationAccuracy.append(Double(validated.correct) / Double(validated.rows)) }
        monitored = vLoss
      }
      loop.reportEpoch(epoch, history)
      // O(parameters) once an epoch: a non-finite weight names its layer and parameter.
      try checkParameters()
      // Early stopping takes in the epoch before the hook sees the state, so that a state
      // saved there resumes exactly; it decides to stop after the hook.
      let patienceExhausted = stopping.takeIn(monitored, epoch: epoch, parameters: params)
      // A diverged epoch ends training with an error, unless early stopping ends it here
      // anyway and puts back the weights of a better epoch.
      try loop.checkDivergence(epoch: epoch, loss: trained.loss, excused: patienceExhausted && stopping.restoresBestWeights)
      var stopRequested = false
      if let onEpochEnd {
        let state = stopping.state(epochsCompleted: epoch + 1, history: history, run: run)
        stopRequested = try onEpochEnd(EpochEnd(epoch: epoch, epochs: epochs, history: history, model: self, state: state)) == .stop
      }
      if patienceExhausted || stopRequested {
        history.stoppedEarly = epoch < epochs - 1
        break
      }
    }
    try stopping.restoreBestWeights(params, &history)
    history.warnings = history.epochs > 0
      ? try trainingWarnings(x: train.x, y: train.y, loss: loss, history: history, batchSize: max(loop.batches.batchSize, 1024)) : []
    return history
  }

  /// How many times the larger of the starting loss (of the first batch of a `fit` call,
  /// before any step) and the best constant predictor's an epoch's mean training loss must
  /// exceed for `fit` to stop with ``BumpKitError/diverged(epoch:loss:reference:factor:)``: 10.
  ///
  /// Training lowers the loss: an epoch ten times worse than both where the model started and
  /// a predictor that ignores the inputs is running away (a learning rate far too high), and
  /// no later epoch brings it back. Normal training, noisy or not, stays below the reference
  /// itself after its first steps, so it never comes near the factor (the constant
  /// predictor's loss keeps a lucky first batch from making the reference small); Adam at a
  /// learning rate of 10⁴ on the Getting Started model exceeds it 10⁸-fold in its first epoch.
  public static var divergenceFactor: Double { 10 }

  /// Checks that every parameter of every layer is finite.
  ///
  /// `fit` calls it before training and after every epoch, `evaluate` and `accuracy` before
  /// they run: O(parameters), never per step. Call it before `predict` on a model whose
  /// weights came from elsewhere: a NaN weight of a ``Dense`` layer otherwise gives NaN
  /// outputs rather than an error.
  ///
  /// - Throws: ``BumpKitError/invalidParameter(layer:parameter:index:value:reason:)`` for the
  ///   first NaN or infinite value, naming the layer (its index in ``layers`` and its kind),
  ///   the parameter and the element's index in row-major order.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public func checkParameters() throws {
    for (i, layer) in layers.enumerated() {
      for parameter in layer.parameters {
        try parameter.value.withUnsafeBufferPointer { v in
          guard let bad = v.firstIndex(where: { !$0.isFinite }) else { return }
          throw BumpKitError.invalidParameter(
            layer: "layer \(i) (\(Self.kind(of: layer)))", parameter: parameter.name, index: bad,
            value: "\(v[bad])", reason: "must be finite")
        }
      }
    }
  }

  /// The mean loss of the model on `x`, `y`, computed in batches.
  ///
  /// - Throws: the data checks' errors, as for `fit`;
  ///   ``BumpKitError/invalidParameter(layer:parameter:index:value:reason:)`` for a NaN or
  ///   infinite parameter (``checkParameters()``).
  public func evaluate<L: Loss>(x: Matrix<Element>, y: Matrix<Element>, loss: L, batchSize: Int = 1024) throws -> Double
  where L.Element == Element {
    guard batchSize > 0 else { throw BumpKitError.invalidArgument(name: "batchSize", value: String(batchSize), reason: "must be at least 1") }
    try checkData(x, y, "evaluation data")
    try checkParameters()
    return try evaluateBatches(x, y, loss: loss, batchSize: batchSize, countCorrect: false).loss
  }

  /// Classification accuracy of the model on `x` against labels or 0/1 targets `y`.
  ///
  /// With one output (a logit) `y` is one column of targets in [0, 1], a target above 0.5
  /// being class 1; with K outputs, one column of integer labels in `0..<K`. A model of
  /// several independent logits (multi-label binary cross-entropy) has no single accuracy:
  /// its targets are refused.
  ///
  /// - Throws: the data checks' errors, as for `fit`;
  ///   ``BumpKitError/labelOutOfRange(row:label:classes:)`` for a target that is no class of
  ///   the model's (a regression target, say);
  ///   ``BumpKitError/shapeMismatch(operation:expected:actual:)`` for targets of more than one
  ///   column; ``BumpKitError/invalidParameter(layer:parameter:index:value:reason:)`` for a
  ///   NaN or infinite parameter (``checkParameters()``).
  public func accuracy(x: Matrix<Element>, y: Matrix<Element>, batchSize: Int = 1024) throws -> Double {
    try checkData(x, y, "evaluation data")
    try checkParameters()
    try Self.checkAccuracyTargets(y, outputs: outputSize, "evaluation data")
    let predicted = try predict(x, batchSize: batchSize)
    return Double(Self.correctCount(predicted, y)) / Double(x.rows)
  }

  // MARK: - Helpers

  /// The result of `body`, when no process of `group` throws: with a group, every process
  /// learns whether any threw (one collective exchange), and all throw together; a process
  /// whose `body` threw rethrows its own error, the others say which process refused.
  static func agreeing<R>(in group: (any ProcessGroup)?, _ body: () throws -> R) throws -> R {
    guard let group else { return try body() }
    let result = Result { try body() }
    var threw = 0
    if case .failure = result { threw = 1 }
    let failed = try group.allGather(threw)
    if case .failure(let error) = result { throw error }
    if let first = failed.firstIndex(of: 1) {
      throw BumpKitError.invalidArgument(
        name: "data on", value: "process \(first) of \(group.size)",
        reason: "refused there (that process's own error says why)")
    }
    return try result.get()
  }

  /// `fit`'s own arguments: `epochs` ≥ 0, `batchSize` ≥ 1, a patience ≥ 1 and a finite
  /// `minDelta` ≥ 0.
  static func checkFitArguments(epochs: Int, batchSize: Int, earlyStopping: EarlyStopping?) throws {
    guard epochs >= 0 else { throw BumpKitError.invalidArgument(name: "epochs", value: String(epochs), reason: "must be ≥ 0") }
    guard batchSize > 0 else { throw BumpKitError.invalidArgument(name: "batchSize", value: String(batchSize), reason: "must be at least 1") }
    if let earlyStopping, earlyStopping.patience < 1 {
      throw BumpKitError.invalidArgument(name: "patience", value: String(earlyStopping.patience), reason: "must be at least 1")
    }
    // NaN or +∞ would count no epoch as an improvement, a negative value every one.
    if let earlyStopping, !(earlyStopping.minDelta >= 0 && earlyStopping.minDelta.isFinite) {
      throw BumpKitError.invalidArgument(
        name: "minDelta", value: "\(earlyStopping.minDelta)", reason: "must be finite and ≥ 0 (the smallest decrease that counts as an improvement)")
    }
  }

  /// The rows `fit` trains on and those it validates on: for a split, the last `fraction` of
  /// the rows (before shuffling) held out; for separate data, that data, checked as the
  /// training data is.
  func trainingAndValidationRows<L: Loss>(
    _ x: Matrix<Element>, _ y: Matrix<Element>, validation: Validation<Element>?, loss: L,
    emptyValidationAllowed: Bool = false
  ) throws -> (train: (x: Matrix<Element>, y: Matrix<Element>), held: (x: Matrix<Element>, y: Matrix<Element>)?)
  where L.Element == Element {
    switch validation {
    case .split(let fraction)?:
      guard fraction > 0 && fraction < 1 else {
        throw BumpKitError.invalidArgument(name: "validation split", value: "\(fraction)", reason: "must be in (0, 1)")
      }
      let held = Int((Double(x.rows) * fraction).rounded())
      guard held >= 1 && held < x.rows else {
        throw BumpKitError.invalidArgument(name: "validation split", value: "\(fraction)", reason: "leaves \(held) of \(x.rows) rows for validation; need at least one on each side")
      }
      let cut = x.rows - held
      var tx = Matrix<Element>(), ty = tx, vx = tx, vy = tx
      try x.copyRows(cut..<x.rows, into: &vx)
      try y.copyRows(cut..<y.rows, into: &vy)
      try x.copyRows(0..<cut, into: &tx)
      try y.copyRows(0..<cut, into: &ty)
      return ((tx, ty), (vx, vy))
    case .data(let vx, let vy)? where emptyValidationAllowed && vx.rows == 0 && vy.rows == 0:
      return ((x, y), (vx, vy))
    case .data(let vx, let vy)?:
      try checkData(vx, vy, "validation data")
      try loss.validateTargets(vy, outputs: outputSize)
      return ((x, y), (vx, vy))
    case nil:
      return ((x, y), nil)
    }
  }

  /// The mean loss of the model on `x`, `y` in batches of at most `batchSize` rows and,
  /// with `countCorrect`, the number of rows it classifies right (``correctCount(_:_:)``).
  func evaluateBatches<L: Loss>(
    _ x: Matrix<Element>, _ y: Matrix<Element>, loss: L, batchSize: Int, countCorrect: Bool
  ) throws -> (loss: Double, correct: Int) where L.Element == Element {
    var total = 0.0, correct = 0
    var batches = try RowBatches<Element>(rows: x.rows, batchSize: batchSize)
    // The predictions of every row first (on the worker pool), then the loss batch by batch.
    let predicted = try predict(x, batchSize: batchSize)
    try batches.forEach(predicted, y) { _, positions, p, by in
      total += try loss.loss(predicted: p, target: by) * Double(positions.count)
      if countCorrect { correct += Self.correctCount(p, by) }
    }
    return (total / Double(x.rows), correct)
  }

  private func checkData(_ x: Matrix<Element>, _ y: Matrix<Element>, _ what: String) throws {
    guard x.rows > 0 else { throw BumpKitError.emptyBatch(operation: what) }
    guard x.rows == y.rows else {
      if x.columns == y.rows {
        throw BumpKitError.shapeMismatch(
          operation: "\(what): inputs, one row per sample; they look transposed (their \(x.columns) columns match the \(y.rows) rows of the targets): pass x.transposed()",
          expected: MatrixShape(rows: y.rows, columns: x.rows), actual: MatrixShape(of: x))
      }
      throw BumpKitError.shapeMismatch(
        operation: "\(what): targets, one row per row of the inputs \(MatrixShape(of: x))", expected: MatrixShape(rows: x.rows, columns: y.columns),
        actual: MatrixShape(of: y))
    }
    guard x.columns == inputSize else {
      throw BumpKitError.shapeMismatch(operation: "\(what): inputs", expected: MatrixShape(rows: x.rows, columns: inputSize), actual: MatrixShape(of: x))
    }
    for (m, name) in [(x, "inputs"), (y, "targets")] {
      let c = m.columns
      try m.withUnsafeBufferPointer { p in
        for i in p.indices where !p[i].isFinite {
          throw BumpKitError.nonFiniteData(what: "\(what) \(name)", row: i / c, column: i % c, value: "\(p[i])")
        }
      }
    }
  }

  /// Throws unless `y` holds what accuracy compares predictions with: one column, of targets
  /// in [0, 1] for a model of one output (a logit), of integer labels in `0..<outputs` for
  /// several.
  static func checkAccuracyTargets(_ y: Matrix<Element>, outputs: Int, _ what: String) throws {
    guard y.columns == 1 else {
      throw BumpKitError.shapeMismatch(
        operation:
          "\(what): accuracy's targets, one column of \(outputs == 1 ? "0/1 targets" : "class labels 0..<\(outputs)") "
          + "(a model of several independent logits, multi-label, has no single accuracy)",
        expected: MatrixShape(rows: y.rows, columns: 1), actual: MatrixShape(of: y))
    }
    try y.withUnsafeBufferPointer { t in
      for row in t.indices {
        let label = t[row]
        let valid = outputs == 1 ? label >= 0 && label <= 1 : isClassLabel(label, classes: outputs)
        guard valid else { throw BumpKitError.labelOutOfRange(row: row, label: "\(label)", classes: max(outputs, 2)) }
      }
    }
  }

  /// The rows whose predicted class (``Prediction``'s rule) is the label: with one output,
  /// a 0/1 target and class 1 when the logit is > 0; with several, the first of equal maxima
  /// against the integer label in the target's first column.
  package static func correctCount(_ predicted: Matrix<Element>, _ target: Matrix<Element>) -> Int {
    var correct = 0
    let k = predicted.columns
    predicted.withUnsafeBufferPointer { p in
      target.withUnsafeBufferPointer { t in
        for r in 0..<predicted.rows {
          if k == 1 {
            if (p[r] > 0) == (t[r] > 0.5) { correct += 1 }
          } else {
            let predicted = Prediction.argmax(p, start: r * k, count: k)
            if Element(predicted) == t[r * target.columns] { correct += 1 }
          }
        }
      }
    }
    return correct
  }

  /// A layer's type without its generic argument: "Dense" for a `Dense<Float>`.
  static func kind(of layer: any Layer<Element>) -> String {
    let name = String(describing: type(of: layer))
    return String(name.prefix { $0 != "<" })
  }

  static func seconds(_ d: Duration) -> Double {
    let (s, attoseconds) = d.components
    return Double(s) + Double(attoseconds) * 1e-18
  }
}
