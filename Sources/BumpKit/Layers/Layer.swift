/// A differentiable transformation of a batch: a `batch × features` matrix in, a
/// `batch × outputs` matrix out.
///
/// A layer is a reference type that owns its parameters and its buffers (outputs,
/// gradients, saved inputs) and reuses them from step to step: once warm, a training step
/// allocates nothing. ``forward(_:)`` keeps what ``backward(_:)`` needs; `backward` takes
/// dL/d(output) of the last forward pass, stores the parameters' gradients and returns
/// dL/d(input).
///
/// A layer that models should save in checkpoints is also a ``CheckpointableLayer``; one
/// that is only trained and used for predictions needs nothing more than this protocol.
///
/// Because forward passes write into those buffers, a layer belongs to one task at a time;
/// ``inferenceLayer()`` gives its immutable, `Sendable` prediction form (see
/// ``InferenceModel``).
public protocol Layer<Element>: AnyObject, CustomStringConvertible {
  /// The scalar type, Float or Double.
  associatedtype Element: MatrixScalar

  /// The output for a batch. Throws on a shape mismatch or an invalid parameter.
  func forward(_ input: Matrix<Element>) throws -> Matrix<Element>

  /// dL/d(input) for the last forward pass, given dL/d(output); stores parameter gradients.
  func backward(_ outputGradient: Matrix<Element>) throws -> Matrix<Element>

  /// The layer's parameters, trainable or fixed, in a stable order.
  var parameters: [Parameter<Element>] { get }

  /// The number of output features for `inputSize` input features.
  func outputSize(forInputSize inputSize: Int) throws -> Int

  /// The number of input features the layer requires, or nil if it takes any number.
  var requiredInputSize: Int? { get }

  /// Re-draws the parameters from their initializers with `generator`.
  func initializeParameters(using generator: inout SeededGenerator) throws

  /// Drops references to the last input, so the producer of that input can reuse its buffer
  /// without a copy. ``Sequential`` calls this before every forward pass.
  func releaseSavedState()

  /// The layer's prediction form: an immutable, `Sendable` value holding copies of the
  /// current parameters, whose output is the same, bit for bit, as ``forward(_:)`` gives for
  /// them. ``InferenceModel`` is built from these.
  ///
  /// Every built-in layer has one. For a layer of your own the default throws; implement it
  /// to let models that use the layer be shared between tasks (see <doc:ExtendingBumpKit>).
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` from the default, naming
  ///   the layer type; ``BumpKitError/invalidParameter(layer:parameter:index:value:reason:)``
  ///   for a parameter the layer cannot use (checked once here, not at every prediction).
  func inferenceLayer() throws -> any InferenceLayer<Element>
}

extension Layer {
  public var requiredInputSize: Int? { nil }
  public func initializeParameters(using generator: inout SeededGenerator) throws {}

  /// Throws: a layer has no prediction form unless it provides one.
  public func inferenceLayer() throws -> any InferenceLayer<Element> {
    throw BumpKitError.invalidArgument(
      name: "layer", value: "\(Self.self)",
      reason: "has no inference form: implement inferenceLayer() to return an immutable InferenceLayer with copies of its parameters")
  }

  /// Applies the layer: `layer(x)` is `try layer.forward(x)`.
  public func callAsFunction(_ input: Matrix<Element>) throws -> Matrix<Element> {
    try forward(input)
  }

  /// The number of scalars in all parameters.
  public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

  /// The number of scalars in trainable parameters.
  public var trainableParameterCount: Int {
    parameters.filter(\.isTrainable).reduce(0) { $0 + $1.count }
  }

  /// The layer's kind and settings (``LayerConfiguration/summary``) for a layer that
  /// checkpoints store, else its type's name.
  public var description: String { checkpointConfiguration?.summary ?? "\(Self.self)" }

  /// Whether any parameter has been set since the layer was made (see
  /// ``Sequential/init(layers:seed:)``).
  var hasSetParameters: Bool { parameters.contains { $0.isInitialized } }

  /// The one rule by which a new layer's parameters get their first values, which every
  /// built-in layer's initializer follows: the values ``initializeParameters(using:)`` draws
  /// from a generator seeded with 0 — those the layer gets as the first new layer of a
  /// ``Sequential`` with the default seed — drawn once, when one of its parameters is first
  /// read, and left marked as not set. A model the layer joins before that draws it from the
  /// model's seed instead (``drawReplacingPendingDraw(using:)``), so that no parameter is
  /// drawn twice.
  ///
  /// `draw` makes the first draw. It cannot throw, since a read cannot: a layer whose
  /// initializers may draw values it refuses keeps them, so that its first use names them.
  ///
  /// The draw holds the layer `unowned`, not `weak`: a weak reference would give the layer a
  /// side table for good, and every retain and release of the layer after that — each pass
  /// over a model's layers, twice a training step — would take the runtime's slow path (about
  /// a tenth of a step of the `bump` command's default model). So the layer's `deinit` calls
  /// ``cancelPendingDraw()``, which takes the draw back from parameters that outlive the layer:
  /// the draw never runs once the layer is gone, and such a parameter keeps its zeros.
  func deferInitialDraw(_ draw: @escaping (Self, inout SeededGenerator) -> Void) {
    let pending = PendingDraw { [unowned self] in
      for p in self.parameters { p.pendingDraw = nil }
      var generator = SeededGenerator(seed: 0)
      draw(self, &generator)
      for p in self.parameters { p.isInitialized = false }
    }
    for p in parameters { p.pendingDraw = pending }
  }

  /// Takes a first draw that is still to be made back from the layer's parameters: what a
  /// layer that defers its draw (``deferInitialDraw(_:)``) does when it goes.
  func cancelPendingDraw() {
    for p in parameters where p.pendingDraw != nil { p.pendingDraw = nil }
  }

  /// Sets every parameter to NaN: what a first draw leaves when it fails (only an allocation
  /// or a factorization can), so that the layer refuses to predict instead of using zeros.
  func fillParametersWithNaN() {
    for p in parameters { p.value.withUnsafeMutableBufferPointer { $0.update(repeating: .nan) } }
  }

  /// Whether the layer's first draw is still to be made (see ``deferInitialDraw(_:)``).
  var hasPendingDraw: Bool { parameters.contains { $0.pendingDraw != nil } }

  /// Draws the parameters from `generator` with ``initializeParameters(using:)``, in place of
  /// the layer's pending first draw, which is then never made; if the draw throws, the
  /// first draw stays pending.
  func drawReplacingPendingDraw(using generator: inout SeededGenerator) throws {
    let pending = parameters.map(\.pendingDraw)
    for p in parameters { p.pendingDraw = nil }
    do {
      try initializeParameters(using: &generator)
    } catch {
      for (p, draw) in zip(parameters, pending) { p.pendingDraw = draw }
      throw error
    }
  }

  /// Marks every parameter as set, so that a ``Sequential`` keeps it, and drops a pending
  /// first draw: the caller has just drawn the values, or sets every one of them (a
  /// checkpoint's, a copy's), so loading and copying draw nothing.
  func markParametersSet() {
    for p in parameters {
      p.pendingDraw = nil
      p.isInitialized = true
    }
  }
}

// The operation names are autoclosures: interpolating them on every call would allocate in
// the training loop, which must not.
func checkBatch<E>(_ input: Matrix<E>, features: Int?, _ operation: @autoclosure () -> String) throws {
  guard input.rows > 0 else { throw BumpKitError.emptyBatch(operation: operation()) }
  if let features, input.columns != features {
    throw BumpKitError.shapeMismatch(
      operation: operation(), expected: MatrixShape(rows: nil, columns: features), actual: MatrixShape(of: input))
  }
}

/// Throws unless `size` input features are the `expected` number a layer takes.
func checkInputSize(_ size: Int, _ expected: Int, _ operation: @autoclosure () -> String) throws {
  guard size == expected else {
    throw BumpKitError.shapeMismatch(
      operation: operation(), expected: MatrixShape(rows: nil, columns: expected),
      actual: MatrixShape(rows: nil, columns: size))
  }
}

func checkGradient<E>(_ gradient: Matrix<E>, matches output: Matrix<E>, _ operation: @autoclosure () -> String) throws {
  guard gradient.rows == output.rows && gradient.columns == output.columns else {
    throw BumpKitError.shapeMismatch(
      operation: operation(), expected: MatrixShape(of: output),
      actual: MatrixShape(of: gradient))
  }
}

/// Throws for the first NaN or infinite value of a layer's parameter, or negative one unless
/// `allowNegative`.
func checkParameterValues<E: MatrixScalar>(
  _ values: Matrix<E>, layer: @autoclosure () -> String, parameter: String, allowNegative: Bool,
  negativeReason: String = "must be finite and ≥ 0"
) throws {
  try values.withUnsafeBufferPointer { v in
    for i in v.indices where !v[i].isFinite || (!allowNegative && v[i] < 0) {
      throw BumpKitError.invalidParameter(
        layer: layer(), parameter: parameter, index: i, value: "\(v[i])",
        reason: allowNegative ? "must be finite" : negativeReason)
    }
  }
}

/// Per unit, the entries of a forward cache (`rows × units`, −0 outside the support) that lie
/// inside the support; all 0 for no rows.
@_specialize(where E == Float)
@_specialize(where E == Double)
func supportCounts<E: MatrixScalar>(cache: Matrix<E>, rows: Int, units: Int) -> [Int] {
  var counts = [Int](repeating: 0, count: units)
  guard rows > 0 else { return counts }
  cache.withUnsafeBufferPointer { f in
    counts.withUnsafeMutableBufferPointer { n in
      BumpKernel.supportCounts(cache: f, rows: rows, columns: units, into: n)
    }
  }
  return counts
}
