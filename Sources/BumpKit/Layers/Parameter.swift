/// A named tensor that a layer learns (or holds fixed), with its gradient.
///
/// Layers own their parameters; optimizers update ``value`` from ``gradient`` and then call
/// ``project()``, which keeps constrained parameters (a bump's σ) inside their domain. Layers
/// and optimizers written outside BumpKit do the same through ``setGradient(_:)``,
/// ``updateGradient(_:)`` and ``updateValue(_:)``.
public final class Parameter<Element: MatrixScalar> {
  /// The name within its layer, e.g. "weight", "sigma".
  public let name: String
  /// The current value. A new built-in layer's values are drawn when one of them is first
  /// read, unless a ``Sequential`` has drawn them first (see ``Sequential/init(layers:seed:)``).
  public internal(set) var value: Matrix<Element> {
    get {
      pendingDraw?.run()
      return storage
    }
    set {
      pendingDraw?.run()
      storage = newValue
      isInitialized = true
    }
    // Any change through the property (assign, updateValue, an optimizer step, a
    // checkpoint load) marks the value as set, and stays in place (no copy).
    _modify {
      pendingDraw?.run()
      defer { isInitialized = true }
      yield &storage
    }
  }
  // Unchecked exclusivity: this and `gradient` are read on every pass of every layer, and
  // the runtime's dynamic check of each access (begin and end, a thread-local access set)
  // cost about 5 % of a step of the `bump` command's default model. Nothing here overlaps
  // an access to them with another; code of yours that read `value` inside
  // `updateValue(_:)` would read the buffer being updated instead of trapping.
  @exclusivity(unchecked) private var storage: Matrix<Element>
  /// Whether the value has been set since the parameter was made: drawn by a ``Sequential``,
  /// assigned, updated in place or changed by an optimizer. ``Sequential`` initializes only
  /// layers none of whose parameters is set, so that it keeps trained weights.
  var isInitialized = false
  /// The first draw of the layer's parameters while it is still to be made; ``value`` makes
  /// it, for every parameter of the layer at once (see `Layer.deferInitialDraw(_:)`).
  var pendingDraw: PendingDraw?
  /// dL/dvalue from the last backward pass; same shape as ``value``.
  @exclusivity(unchecked) public internal(set) var gradient: Matrix<Element>
  /// Whether optimizers update this parameter. Fixed parameters get no gradient.
  public var isTrainable: Bool
  /// The floor that ``project()`` enforces after every update, if any.
  public let lowerBound: Element?

  /// A parameter with an initial value; the gradient starts at zero.
  public init(name: String, value: Matrix<Element>, isTrainable: Bool = true, lowerBound: Element? = nil) {
    self.name = name
    self.storage = value
    self.gradient = Matrix(validRows: value.rows, columns: value.columns)
    self.isTrainable = isTrainable
    self.lowerBound = lowerBound
  }

  /// The number of scalars.
  public var count: Int { storage.count }

  /// For a shard's replica of a layer (see `ShardedPasses`): holds `primary`'s value — its
  /// buffer, not a copy — and its trainable flag, for the passes of one step. Nothing may
  /// write the value while it is shared.
  func shareValue(of primary: Parameter) {
    storage = primary.storage
    isTrainable = primary.isTrainable
  }

  /// Lets go of a value taken with ``shareValue(of:)``, holding `placeholder` instead, so
  /// that the primary's next in-place update (the optimizer's) does not copy its buffer.
  func releaseSharedValue(_ placeholder: Matrix<Element>) {
    storage = placeholder
  }

  /// Replaces the value with one of the same shape (e.g. from a checkpoint).
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)``.
  public func assign(_ newValue: Matrix<Element>) throws {
    try requireValueShape(newValue, "assign")
    value.copy(from: newValue)
  }

  /// Throws unless `matrix` has the value's shape.
  private func requireValueShape(_ matrix: Matrix<Element>, _ operation: String) throws {
    guard matrix.rows == storage.rows && matrix.columns == storage.columns else {
      throw BumpKitError.shapeMismatch(
        operation: "\(operation) \(name)", expected: MatrixShape(of: storage),
        actual: MatrixShape(of: matrix))
    }
  }

  /// Clamps the value to ``lowerBound`` (NaN becomes the bound too). Called by optimizers.
  public func project() {
    guard let floor = lowerBound else { return }
    value.withUnsafeMutableBufferPointer { v in
      for i in v.indices where !(v[i] >= floor) { v[i] = floor }
    }
  }

  /// Sets the gradient to zero, keeping its storage.
  public func zeroGradient() {
    gradient.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
  }

  /// Replaces the gradient by `newGradient`, which must have the value's shape: what the
  /// backward pass of a layer written outside BumpKit stores.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` when the shapes
  ///   differ; the gradient is then unchanged.
  public func setGradient(_ newGradient: Matrix<Element>) throws {
    try requireValueShape(newGradient, "setGradient")
    gradient.copy(from: newGradient)
  }

  /// Calls `body` with the gradient's elements, in row-major order, to change them in place
  /// (to accumulate into them, say), without a copy unless a copy of ``gradient`` is held
  /// elsewhere, which keeps its old elements (copy-on-write). The shape cannot change.
  public func updateGradient<R, E: Error>(_ body: (inout MutableSpan<Element>) throws(E) -> R) throws(E) -> R {
    try gradient.withUnsafeMutableBufferPointer { (buffer) throws(E) -> R in
      var span = buffer.mutableSpan
      return try body(&span)
    }
  }

  /// Calls `body` with the value's elements, in row-major order, to change them in place
  /// (an optimizer's update, say), without a copy unless a copy of ``value`` is held
  /// elsewhere, which keeps its old elements (copy-on-write). The shape cannot change. An
  /// optimizer calls ``project()`` afterwards to keep a constrained value in its domain.
  public func updateValue<R, E: Error>(_ body: (inout MutableSpan<Element>) throws(E) -> R) throws(E) -> R {
    try value.withUnsafeMutableBufferPointer { (buffer) throws(E) -> R in
      var span = buffer.mutableSpan
      return try body(&span)
    }
  }
}

/// A new layer's first draw, made once: by the first read of one of its parameters, or
/// replaced by the draw of the ``Sequential`` it joins (see `Layer.deferInitialDraw(_:)`).
final class PendingDraw {
  private var body: (() -> Void)?

  init(_ body: @escaping () -> Void) { self.body = body }

  /// Makes the draw, the first time only.
  func run() {
    guard let body else { return }
    self.body = nil
    body()
  }
}
