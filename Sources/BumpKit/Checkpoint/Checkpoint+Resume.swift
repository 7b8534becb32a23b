import Foundation

/// Resumable checkpoints: the model, the optimizer's state and the training loop's state in
/// one safetensors file.
///
/// Besides the model's tensors and metadata (see ``Checkpoint``), a resumable checkpoint
/// stores, for parameter tensor `layers.<i>.<name>`:
///
/// - `optimizer.<slot>.layers.<i>.<name>`: the optimizer's per-parameter state, in the
///   checkpoint's dtype and the parameter's shape; slots `m` and `v` (Adam's and AdamW's
///   first and second moments), `velocity` (SGD with momentum). A parameter without state
///   has none of its slots.
/// - `training.best.layers.<i>.<name>`: the weights of the best epoch so far, when early
///   stopping restores them.
/// - `training.history.<field>`: F64, shape `[1, epochs completed]`, for each non-empty field
///   of the ``History``: `loss`, `validation_loss`, `accuracy`, `validation_accuracy`,
///   `samples_per_second`.
/// - `training.best_loss`: F64, shape `[1, 1]`, the best monitored loss (+∞ for none).
///
/// and the metadata entry ``resumeStateKey`` (`resume_state`), JSON with sorted keys:
///
/// ```json
/// {"best_epoch": 3, "best_weights": true, "epochs_completed": 5, "epochs_without_improvement": 1,
///  "optimizer": {"iterations": 160, "kind": "adam", "slots": ["m", "v"]},
///  "run": {"batch_size": 32, "seed": 1, "shuffle": true, "training_rows": 1000}}
/// ```
///
/// Only the entries written lie in the file: ``load(_:from:)`` reads such a file for
/// inference and ignores the training state (after checking its names, shapes and dtypes
/// against the model's, as for every tensor), and files without it (every earlier version's)
/// load as before. ``header(at:)`` holds the extra tensors to the same rules, so the data
/// stays bounded by the model's size times the number of slots plus two.
extension Checkpoint {
  /// The metadata entry of a resumable checkpoint's training state: `resume_state`.
  ///
  /// ``save(_:to:metadata:)`` and ``encode(_:metadata:)`` drop a caller-supplied entry of
  /// this name, so a file holds one only with the tensors it describes.
  public static let resumeStateKey = "resume_state"

  /// The fields of ``History`` stored as `training.history.<field>`, in order.
  static var historyFields: [(name: String, path: WritableKeyPath<History, [Double]>)] { [
    ("loss", \.loss), ("validation_loss", \.validationLoss), ("accuracy", \.accuracy),
    ("validation_accuracy", \.validationAccuracy), ("samples_per_second", \.samplesPerSecond),
  ] }

  /// The most per-parameter slots an optimizer's state may have in a checkpoint.
  public static let maximumOptimizerSlots = 4

  /// Writes `model`, the state of `optimizer` and the training state `training` to `path`
  /// atomically: a checkpoint from which
  /// ``Sequential/fit(x:y:loss:optimizer:epochs:batchSize:shuffle:seed:validation:earlyStopping:metrics:resumingFrom:progress:onEpochEnd:)``
  /// can resume (see ``loadForResuming(_:from:optimizer:)``). Either part may be nil.
  ///
  /// - Throws: the errors of ``encode(_:metadata:optimizer:training:)``, naming `path`;
  ///   ``SafetensorsError/io(operation:path:errno:)`` when the file cannot be written.
  public static func save<Element: MatrixScalar>(
    _ model: Sequential<Element>, to path: String, metadata: [String: String] = [:],
    optimizer: (any ResumableOptimizer<Element>)?, training: TrainingState<Element>?
  ) throws {
    let file: SafetensorsFile
    do {
      file = try encode(model, metadata: metadata, optimizer: optimizer, training: training)
    } catch let error as CheckpointError {
      throw error.saving(to: path)
    }
    try file.write(to: path)
  }

  /// The safetensors file of a resumable checkpoint (see ``save(_:to:metadata:optimizer:training:)``).
  ///
  /// - Throws: the errors of ``encode(_:metadata:)``;
  ///   ``BumpKitError/invalidArgument(name:value:reason:)`` for an optimizer with more than
  ///   ``maximumOptimizerSlots`` slots or a slot name that is not lower-case letters and `_`,
  ///   or a training state whose best weights do not match the model's parameters.
  public static func encode<Element: MatrixScalar>(
    _ model: Sequential<Element>, metadata: [String: String] = [:],
    optimizer: (any ResumableOptimizer<Element>)?, training: TrainingState<Element>?
  ) throws -> SafetensorsFile {
    var file = try encode(model, metadata: metadata)
    guard optimizer != nil || training != nil else { return file }
    let parameters = model.parameters
    let names = parameterTensorNames(model)
    var stored = StoredResumeState()
    if let optimizer {
      let snapshot = optimizer.snapshot(for: parameters)
      guard snapshot.slotNames.count <= maximumOptimizerSlots,
        snapshot.slotNames.allSatisfy(isSlotName), Set(snapshot.slotNames).count == snapshot.slotNames.count
      else {
        throw BumpKitError.invalidArgument(
          name: "optimizer", value: "slots \(snapshot.slotNames)",
          reason: "a checkpoint stores at most \(maximumOptimizerSlots) distinct slots named in lower-case letters and _")
      }
      stored.optimizer = .init(kind: snapshot.kind, iterations: snapshot.iterations, slots: snapshot.slotNames)
      for (name, state) in zip(names, snapshot.states) {
        guard let state else { continue }
        for (slot, m) in zip(snapshot.slotNames, state) {
          try file.insert(tensor(m), named: "optimizer.\(slot).\(name)")
        }
      }
    }
    if let training {
      try training.check(against: training.run, parameters: parameters)
      stored.epochsCompleted = training.epochsCompleted
      stored.bestEpoch = training.bestEpoch
      stored.epochsWithoutImprovement = training.epochsWithoutImprovement
      stored.bestWeights = !training.bestWeights.isEmpty
      stored.run = training.run
      for (name, w) in zip(names, training.bestWeights) {
        try file.insert(tensor(w), named: "training.best.\(name)")
      }
      for field in historyFields where !training.history[keyPath: field.path].isEmpty {
        let values = training.history[keyPath: field.path]
        try file.insert(.init(values, shape: [1, values.count]), named: "training.history.\(field.name)")
      }
      try file.insert(.init([training.bestLoss], shape: [1, 1]), named: "training.best_loss")
    }
    file.metadata[resumeStateKey] = String(decoding: try JSONEncoder.sorted.encode(stored), as: UTF8.self)
    try checkHeaderSize(of: file)
    return file
  }

  /// Rebuilds the model stored at `path`, puts the optimizer state it holds into
  /// `optimizer` (a fresh optimizer of the same kind, created with the run's settings) and
  /// returns the training state to pass to `fit` as `resumingFrom`.
  ///
  /// The file is read as by ``load(_:from:)``, header first.
  ///
  /// - Throws: the errors of ``load(_:from:)``; ``CheckpointError/notResumable(source:reason:)``
  ///   when the file holds no training state, holds the state of another kind of optimizer,
  ///   or its state does not fit the model.
  public static func loadForResuming<Element: MatrixScalar>(
    _: Element.Type = Element.self, from path: String, optimizer: some ResumableOptimizer<Element>
  ) throws -> (model: Sequential<Element>, metadata: [String: String], training: TrainingState<Element>) {
    try SafetensorsFile.withHeader(at: path) { layout, readFile in
      let stored = try header(of: layout, source: path).precision
      let wanted = Element.self == Float.self ? "float" : "double"
      guard stored == wanted else {
        throw CheckpointError.precisionMismatch(source: path, stored: stored, requested: wanted)
      }
      return try loadForResuming(Element.self, file: readFile(), source: path, optimizer: optimizer)
    }
  }

  /// Rebuilds a model, its optimizer state and its training state from a decoded file (see
  /// ``loadForResuming(_:from:optimizer:)``).
  public static func loadForResuming<Element: MatrixScalar>(
    _: Element.Type = Element.self, file: SafetensorsFile, source: String = "checkpoint",
    optimizer: some ResumableOptimizer<Element>
  ) throws -> (model: Sequential<Element>, metadata: [String: String], training: TrainingState<Element>) {
    let (model, metadata) = try load(Element.self, file: file, source: source)
    func refuse(_ reason: String) -> CheckpointError { .notResumable(source: source, reason: reason) }
    guard let stored = try resumeState(in: metadata, source: source) else {
      throw refuse("it holds no training state (it was saved for inference, or by an earlier version)")
    }
    guard let run = stored.run, let epochs = stored.epochsCompleted else {
      throw refuse("it holds no training loop state, only an optimizer's")
    }
    let parameters = model.parameters
    let names = parameterTensorNames(model)
    func values(_ name: String) throws -> Matrix<Element>? {
      guard let t = file.tensors[name] else { return nil }
      let elements: [Element] =
        Element.self == Float.self ? try t.floats().map { Element($0) } : try t.doubles().map { Element($0) }
      return try Matrix(rows: t.shape[0], columns: t.shape.count > 1 ? t.shape[1] : 1, elements: elements)
    }
    if let o = stored.optimizer {
      guard o.kind == optimizer.kind else {
        throw refuse("it holds the state of \(o.kind), and the optimizer given is \(optimizer.kind)")
      }
      var states: [[Matrix<Element>]?] = []
      for name in names {
        let slots = try o.slots.map { try values("optimizer.\($0).\(name)") }
        let present = slots.compactMap { $0 }
        guard present.isEmpty || present.count == slots.count else {
          throw refuse("the optimizer state of \(name) has \(present.count) of its \(slots.count) slots")
        }
        states.append(present.isEmpty ? nil : present)
      }
      do {
        try optimizer.restore(
          OptimizerSnapshot(kind: o.kind, iterations: o.iterations, slotNames: o.slots, states: states), for: parameters)
      } catch let error as BumpKitError {
        throw refuse("the optimizer state does not fit the optimizer: \(error)")
      }
    }
    var history = History()
    for field in historyFields {
      if let t = file.tensors["training.history.\(field.name)"] { history[keyPath: field.path] = try t.doubles() }
    }
    guard history.loss.count == epochs else {
      throw refuse("it says \(epochs) epochs completed, and its history holds \(history.loss.count)")
    }
    let bestLoss = try file.tensors["training.best_loss"].map { try $0.doubles()[0] } ?? .infinity
    var bestWeights: [Matrix<Element>] = []
    if stored.bestWeights == true {
      for name in names {
        guard let w = try values("training.best.\(name)") else { throw refuse("the best weights lack \(name)") }
        bestWeights.append(w)
      }
    }
    let training = TrainingState<Element>(
      epochsCompleted: epochs, history: history, bestLoss: bestLoss, bestEpoch: stored.bestEpoch ?? -1,
      epochsWithoutImprovement: stored.epochsWithoutImprovement ?? 0, bestWeights: bestWeights, run: run)
    do {
      try training.check(against: run, parameters: parameters)
    } catch let error as BumpKitError {
      throw refuse("its training state is inconsistent: \(error)")
    }
    return (model, metadata, training)
  }

  // MARK: - Stored form

  /// The `resume_state` metadata entry.
  struct StoredResumeState: Codable {
    struct Optimizer: Codable {
      var kind: String
      var iterations: Int
      var slots: [String]
    }
    var optimizer: Optimizer?
    var epochsCompleted: Int?
    var bestEpoch: Int?
    var epochsWithoutImprovement: Int?
    var bestWeights: Bool?
    var run: TrainingRunIdentity?

    enum CodingKeys: String, CodingKey {
      case optimizer, run
      case epochsCompleted = "epochs_completed"
      case bestEpoch = "best_epoch"
      case epochsWithoutImprovement = "epochs_without_improvement"
      case bestWeights = "best_weights"
    }
  }

  /// The resume state that `metadata` describes, or nil for none.
  ///
  /// - Throws: ``CheckpointError/notResumable(source:reason:)`` for an entry that is not
  ///   valid (so its tensors cannot be accounted for).
  static func resumeState(in metadata: [String: String], source: String) throws -> StoredResumeState? {
    guard let text = metadata[resumeStateKey] else { return nil }
    guard text.utf8.count <= 4096, let state = try? JSONDecoder().decode(StoredResumeState.self, from: Data(text.utf8)) else {
      throw CheckpointError.notResumable(source: source, reason: "its \(resumeStateKey) metadata is not valid")
    }
    if let o = state.optimizer {
      guard o.slots.count <= maximumOptimizerSlots, o.slots.allSatisfy(isSlotName),
        Set(o.slots).count == o.slots.count, o.iterations >= 0
      else {
        throw CheckpointError.notResumable(source: source, reason: "its optimizer state declares invalid slots or step count")
      }
    }
    if let epochs = state.epochsCompleted, epochs < 0 {
      throw CheckpointError.notResumable(source: source, reason: "it declares \(epochs) epochs completed")
    }
    return state
  }

  /// Whether `tensor` is a training-state tensor that `state` accounts for: the name of a
  /// declared slot or of the best weights over a parameter tensor of `parameterShapes`, of
  /// `dtype` and the parameter's shape; or a history row of the completed epochs, or the
  /// best loss, in F64.
  static func isResumeTensor(
    _ tensor: (name: String, dtype: SafetensorsFile.DType, shape: [Int]), state: StoredResumeState,
    parameterShapes: [String: [Int]], dtype: SafetensorsFile.DType
  ) -> Bool {
    let name = tensor.name
    func overParameter(_ prefix: String) -> Bool {
      guard name.hasPrefix(prefix), let shape = parameterShapes[String(name.dropFirst(prefix.count))] else { return false }
      return tensor.dtype == dtype && tensor.shape == shape
    }
    if name.hasPrefix("optimizer."), let slots = state.optimizer?.slots {
      return slots.contains { overParameter("optimizer.\($0).") }
    }
    if state.bestWeights == true, overParameter("training.best.") { return true }
    if name == "training.best_loss", state.epochsCompleted != nil {
      return tensor.dtype == .f64 && tensor.shape == [1, 1]
    }
    if name.hasPrefix("training.history."), let epochs = state.epochsCompleted,
      historyFields.contains(where: { "training.history.\($0.name)" == name })
    {
      return tensor.dtype == .f64 && tensor.shape == [1, epochs]
    }
    return false
  }

  /// `layers.<i>.<name>` for every parameter of `model`, in ``Sequential/parameters`` order.
  static func parameterTensorNames<Element>(_ model: Sequential<Element>) -> [String] {
    model.layers.enumerated().flatMap { i, layer in layer.parameters.map { "layers.\(i).\($0.name)" } }
  }

  private static func isSlotName(_ name: String) -> Bool {
    !name.isEmpty && name.utf8.count <= 32 && name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || $0 == 95 }
  }

  private static func tensor<Element: MatrixScalar>(_ m: Matrix<Element>) throws -> SafetensorsFile.Tensor {
    let shape = [m.rows, m.columns]
    return Element.self == Float.self
      ? try .init(m.elements.map { Float($0) }, shape: shape) : try .init(m.elements.map { Double($0) }, shape: shape)
  }
}
