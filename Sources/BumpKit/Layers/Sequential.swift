/// Builds the layer list of a ``Sequential`` from a closure of layer expressions.
@resultBuilder
public enum LayerBuilder<Element: MatrixScalar> {
  public static func buildExpression(_ layer: any Layer<Element>) -> [any Layer<Element>] { [layer] }
  public static func buildBlock(_ parts: [any Layer<Element>]...) -> [any Layer<Element>] { parts.flatMap { $0 } }
  public static func buildOptional(_ part: [any Layer<Element>]?) -> [any Layer<Element>] { part ?? [] }
  public static func buildEither(first part: [any Layer<Element>]) -> [any Layer<Element>] { part }
  public static func buildEither(second part: [any Layer<Element>]) -> [any Layer<Element>] { part }
  public static func buildArray(_ parts: [[any Layer<Element>]]) -> [any Layer<Element>] { parts.flatMap { $0 } }
}

/// Layers applied one after another:
///
///     let model = try Sequential<Float>(seed: 7) {
///       try Dense(inputSize: 1, outputSize: 32)
///       try Bump(units: 32)
///       try Dense(inputSize: 32, outputSize: 1)
///     }
///
/// The initializer checks that each layer's output size fits the next layer's input and
/// draws the parameters of every new layer from one generator seeded with `seed`, so the same
/// seed gives the same initial weights bit for bit. (A layer made on its own holds the values
/// it would get as the first new layer of a model with the default seed, 0, so that it works
/// before it joins a model; they are drawn when first read, so a layer that joins a model
/// first is drawn once, from the model's seed.) Layers that already hold weights — trained,
/// loaded, assigned, or part of another model — keep them, so a trained body can be reused
/// under a new head (see <doc:GettingStarted>).
///
/// ## Threads
///
/// A `Sequential` is a training model: its layers own the buffers that ``forward(_:)``,
/// ``backward(_:)``, ``predict(_:batchSize:)`` and `fit` write into, so it belongs to one
/// task at a time and is not `Sendable`. Two tasks that use one model at once — even only to
/// predict — give wrong results or crash. To predict from many tasks, make an
/// ``InferenceModel`` (immutable and `Sendable`); to train two variants, ``copy()`` the model.
public final class Sequential<Element: MatrixScalar>: Layer {
  /// The layers in order.
  public let layers: [any Layer<Element>]
  /// The number of input features (from the first layer that fixes it).
  public let inputSize: Int
  /// The number of output features.
  public let outputSize: Int
  /// Whether every layer is a built-in one (so that predictions may run the inference form).
  let hasOnlyBuiltInLayers: Bool

  /// A model from a layer list, drawing the parameters of its new layers from `seed`.
  ///
  /// A layer is new when none of its parameters has been set since it was made: a layer
  /// that a `Sequential` initialized before, that an optimizer has trained, that a checkpoint
  /// loaded or whose values were assigned keeps its weights, and the generator seeded with
  /// `seed` draws only the new layers', in order, in place of the first draw they would make
  /// when read on their own: each parameter is drawn once. With new layers only (the usual
  /// case), the weights are those of earlier versions for the same seed, bit for bit. Layers are shared,
  /// not copied: training the model trains them wherever else they are used — ``copy()`` a
  /// model first to keep its weights apart. ``reinitialize(seed:)`` draws every layer again.
  ///
  /// A layer object may appear once in a model, nested models included: a layer keeps what
  /// its one place in the model needs (the input its backward pass reads, its parameters'
  /// gradients), which a second place would overwrite, giving wrong gradients.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` when sizes do not
  ///   chain, ``BumpKitError/invalidArgument(name:value:reason:)`` for an empty model, one
  ///   whose input size no layer fixes, or one that holds a layer object twice.
  public init(layers: [any Layer<Element>], seed: UInt64 = 0) throws {
    guard !layers.isEmpty else {
      throw BumpKitError.invalidArgument(name: "layers", value: "[]", reason: "a Sequential model needs at least one layer")
    }
    try Self.checkDistinct(layers)
    guard let firstFixed = layers.firstIndex(where: { $0.requiredInputSize != nil }) else {
      throw BumpKitError.invalidArgument(name: "layers", value: "\(layers.count) layers", reason: "no layer fixes the input size (start with Dense or Bump)")
    }
    var size = layers[firstFixed].requiredInputSize!
    let input = size
    for (i, layer) in layers.enumerated() where i >= firstFixed {
      if let expected = layer.requiredInputSize, expected != size {
        throw BumpKitError.shapeMismatch(
          operation: "Sequential layer \(i) (\(layer.kindName)) input, from the layer before",
          expected: MatrixShape(rows: nil, columns: expected), actual: MatrixShape(rows: nil, columns: size))
      }
      size = try layer.outputSize(forInputSize: size)
    }
    self.layers = layers
    self.inputSize = input
    self.outputSize = size
    hasOnlyBuiltInLayers = layers.allSatisfy { $0 is any CopyableLayer<Element> }
    var generator = SeededGenerator(seed: seed)
    for layer in layers where !layer.hasSetParameters {
      try layer.drawReplacingPendingDraw(using: &generator)
    }
    for layer in layers { layer.markParametersSet() }
  }

  /// Throws unless every layer object of `layers`, and of the models nested in them, appears
  /// once.
  private static func checkDistinct(_ layers: [any Layer<Element>]) throws {
    var seen: [ObjectIdentifier: String] = [:]
    func visit(_ layers: [any Layer<Element>], path: String) throws {
      for (i, layer) in layers.enumerated() {
        let place = "\(path)\(i) (\(Self.kind(of: layer)))"
        if let first = seen.updateValue(place, forKey: ObjectIdentifier(layer)) {
          throw BumpKitError.invalidArgument(
            name: "layers", value: "layer \(place)",
            reason:
              "is the same object as layer \(first); a layer keeps the state of its one place in a model (its input for the backward pass, its gradients), so a second place would give wrong gradients: use another layer, or copy() a model")
        }
        if let nested = layer as? Sequential<Element> { try visit(nested.layers, path: "\(place.prefix { $0 != " " })/") }
      }
    }
    try visit(layers, path: "")
  }

  /// A model from a builder closure, drawing the parameters of its new layers from `seed`
  /// (see ``init(layers:seed:)``).
  public convenience init(seed: UInt64 = 0, @LayerBuilder<Element> _ content: () throws -> [any Layer<Element>]) throws {
    try self.init(layers: content(), seed: seed)
  }

  /// Re-draws every layer's parameters, new or trained, from one generator seeded with
  /// `seed`: the weights a new model with this seed would get.
  public func reinitialize(seed: UInt64) throws {
    var generator = SeededGenerator(seed: seed)
    try initializeParameters(using: &generator)
  }

  /// Re-draws every layer's parameters from `generator`, in order.
  public func initializeParameters(using generator: inout SeededGenerator) throws {
    for layer in layers { try layer.initializeParameters(using: &generator) }
    markParametersSet()
  }

  public var requiredInputSize: Int? { inputSize }

  public var parameters: [Parameter<Element>] { layers.flatMap { $0.parameters } }

  public func outputSize(forInputSize size: Int) throws -> Int {
    try checkInputSize(size, inputSize, "Sequential input")
    return outputSize
  }

  /// The configuration a checkpoint stores for the model nested in another:
  /// ``LayerConfiguration/sequential(_:)`` of its layers' configurations. A layer that
  /// checkpoints cannot store shows as its type's name (and ``Checkpoint`` refuses to save it).
  public var configuration: LayerConfiguration {
    .sequential(layers.map { $0.checkpointConfiguration ?? LayerConfiguration(kind: "\(type(of: $0))") })
  }

  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public func forward(_ input: Matrix<Element>) throws -> Matrix<Element> {
    for layer in layers { layer.releaseSavedState() }
    var x = input
    for layer in layers { x = try layer.forward(x) }
    return x
  }

  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public func backward(_ outputGradient: Matrix<Element>) throws -> Matrix<Element> {
    var g = outputGradient
    for layer in layers.reversed() { g = try layer.backward(g) }
    return g
  }

  public func releaseSavedState() {
    for layer in layers { layer.releaseSavedState() }
  }

  /// The model's output for `input`, computed in batches of at most `batchSize` rows so
  /// that memory stays bounded; the result does not depend on the batch size beyond rounding.
  ///
  /// A model of built-in layers given rows enough for several blocks predicts through its
  /// ``InferenceModel`` form, whose blocks of rows run on the worker pool (see
  /// ``InferenceModel/predict(_:batchSize:)``); fewer rows, or a model with a layer of your
  /// own, run through ``forward(_:)``, writing into the layers' buffers. Either way, one task
  /// at a time (see the type's threading rule): to predict from many tasks, use an
  /// ``InferenceModel``, which gives the same bits.
  /// Finite inputs are taken as they are, however large (see
  /// ``InferenceModel/predict(_:batchSize:)``).
  ///
  /// - Throws: ``BumpKitError/nonFiniteData(what:row:column:value:)`` naming the first NaN
  ///   or ±∞ input by row and column (0-based);
  ///   ``BumpKitError/shapeMismatch(operation:expected:actual:)`` for the wrong number of
  ///   columns; ``BumpKitError/emptyBatch(operation:)`` for no rows;
  ///   ``BumpKitError/invalidArgument(name:value:reason:)`` for `batchSize` < 1;
  ///   ``BumpKitError/invalidParameter(layer:parameter:index:value:reason:)`` for a NaN or
  ///   infinite parameter of any layer (``checkParameters()``: every parameter is checked
  ///   alike, once per call).
  public func predict(_ input: Matrix<Element>, batchSize: Int = 1024) throws -> Matrix<Element> {
    try checkParameters()
    var batches = try RowBatches<Element>(rows: input.rows, batchSize: batchSize)
    try checkBatch(input, features: inputSize, "Sequential.predict")
    // Rows enough for several blocks: built-in layers predict through the model's inference
    // form (a copy of the parameters), whose blocks run on the worker pool. Fewer rows run
    // through the layers themselves, with the same single-threaded products, so the same bits.
    let blocks = predictionBlocks(rows: input.rows, batchSize: batchSize).count
    if blocks > 1, hasOnlyBuiltInLayers, let inference = try? InferenceModel(self) {
      return try predictInBatches(
        input, batchSize: batchSize, inputSize: inputSize, outputSize: outputSize, operation: "Sequential.predict"
      ) { try inference($0) }
    }
    try checkFiniteInput(input, "Sequential.predict")
    guard blocks == 1, hasOnlyBuiltInLayers else {
      return try batches.outputs(of: input, outputSize: outputSize, releasing: self) { try forward($0) }
    }
    return try Threading.withSingleThreadedBLAS {
      try batches.outputs(of: input, outputSize: outputSize, releasing: self) { try forward($0) }
    }
  }

  /// The model's prediction form, an ``InferenceModel`` (so that models nest).
  public func inferenceLayer() throws -> any InferenceLayer<Element> {
    try InferenceModel(self)
  }

  /// A readable table of the layers, their output sizes and parameter counts.
  public var summary: String {
    var lines = ["Sequential<\(Element.self)>: \(inputSize) → \(outputSize)"]
    var size = inputSize
    for (i, layer) in layers.enumerated() {
      size = (try? layer.outputSize(forInputSize: size)) ?? size
      let trainable = layer.trainableParameterCount
      lines.append("  \(i). \(layer.description) → \(size) features, \(layer.parameterCount) parameters (\(trainable) trainable)")
    }
    lines.append("  total: \(parameterCount) parameters (\(trainableParameterCount) trainable)")
    return lines.joined(separator: "\n")
  }
}
