/// A fully connected layer, y = x·W + b, computed with BLAS GEMM.
///
/// W is `inputSize × outputSize`, b has `outputSize` entries. Backward: dW = xᵀ·dy (GEMM),
/// db = column sums of dy (GEMV with a ones vector), dx = dy·Wᵀ (GEMM).
public final class Dense<Element: MatrixScalar>: CheckpointableLayer {
  /// Input features.
  public let inputSize: Int
  /// Output features.
  public let outputSize: Int
  /// W, `inputSize × outputSize`.
  public let weight: Parameter<Element>
  /// b, `1 × outputSize`; nil for a layer made without a bias (`useBias: false`).
  public let bias: Parameter<Element>?
  let weightInitializer: Initializer<Element>
  let biasInitializer: Initializer<Element>
  let useBias: Bool

  // The layer's own buffers, used by its passes alone: unchecked exclusivity spares each
  // access the runtime's dynamic check (see `Parameter`).
  @exclusivity(unchecked) private var savedInput: Matrix<Element>?
  @exclusivity(unchecked) private var output = Matrix<Element>()
  @exclusivity(unchecked) private var inputGradient = Matrix<Element>()
  @exclusivity(unchecked) private var ones = Matrix<Element>()

  /// A dense layer with Glorot-uniform weights and a zero bias unless told otherwise, drawn
  /// as every new layer's are (see ``Sequential/init(layers:seed:)``).
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` unless both sizes are
  ///   positive; an initializer's own error (e.g. a Glorot range that is not finite).
  public init(
    inputSize: Int, outputSize: Int,
    weightInitializer: Initializer<Element> = .glorotUniform,
    biasInitializer: Initializer<Element> = .zeros,
    useBias: Bool = true
  ) throws {
    for (name, size) in [("inputSize", inputSize), ("outputSize", outputSize)] where size <= 0 {
      throw BumpKitError.invalidArgument(
        name: name, value: String(size), reason: "a Dense layer needs at least one \(name == "inputSize" ? "input" : "output") feature")
    }
    self.inputSize = inputSize
    self.outputSize = outputSize
    self.weightInitializer = weightInitializer
    self.biasInitializer = biasInitializer
    self.useBias = useBias
    weight = Parameter(name: "weight", value: try Matrix(rows: inputSize, columns: outputSize))
    bias = useBias ? Parameter(name: "bias", value: try Matrix(rows: 1, columns: outputSize)) : nil
    deferInitialDraw { layer, generator in
      if (try? layer.initializeParameters(using: &generator)) == nil { layer.fillParametersWithNaN() }
    }
  }

  deinit { cancelPendingDraw() }

  public var parameters: [Parameter<Element>] { bias.map { [weight, $0] } ?? [weight] }
  public var requiredInputSize: Int? { inputSize }

  public func outputSize(forInputSize size: Int) throws -> Int {
    try checkInputSize(size, inputSize, "Dense(\(inputSize)→\(outputSize)) input")
    return outputSize
  }

  /// "dense".
  public static var kind: String { "dense" }

  /// The layer's sizes and whether it has a bias.
  public var settings: DenseConfiguration {
    DenseConfiguration(inputSize: inputSize, outputSize: outputSize, useBias: useBias)
  }

  /// The layer `settings` describe, with the default initializers.
  public convenience init(settings: DenseConfiguration) throws {
    try self.init(inputSize: settings.inputSize, outputSize: settings.outputSize, useBias: settings.useBias)
  }

  /// W `inputSize × outputSize` and b `1 × outputSize` (when it has one).
  public static func declaredShapes(for settings: DenseConfiguration) -> DeclaredShapes? {
    let (input, output) = (settings.inputSize, settings.outputSize)
    var shapes = DeclaredShapes(
      inputSize: input, outputSize: output,
      parameters: [("weight", [input, output])] + (settings.useBias ? [("bias", [1, output])] : []))
    (shapes.inputName, shapes.outputName) = ("inputSize", "outputSize")
    // Files written before bias-free Dense layers lost their bias parameter store it as a
    // fixed zero row, which loading reads and drops.
    if !settings.useBias { shapes.legacyZeroTensors = [("bias", [1, output])] }
    return shapes
  }

  /// Draws W and b from their initializers.
  public func initializeParameters(using generator: inout SeededGenerator) throws {
    try weight.assign(weightInitializer.matrix(rows: inputSize, columns: outputSize, using: &generator))
    if let bias { try bias.assign(biasInitializer.matrix(rows: 1, columns: outputSize, using: &generator)) }
  }

  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public func forward(_ input: Matrix<Element>) throws -> Matrix<Element> {
    try checkBatch(input, features: inputSize, "Dense(\(inputSize)→\(outputSize)).forward")
    savedInput = input
    try output.resize(rows: input.rows, columns: outputSize)
    try Self.apply(input, weight: weight.value, bias: bias?.value, into: &output)
    return output
  }

  /// y = x·W + b into `output`, already `input.rows × outputSize`: the one computation that
  /// training and inference share, so that both give the same bits.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  static func apply(
    _ input: Matrix<Element>, weight: Matrix<Element>, bias: Matrix<Element>?, into output: inout Matrix<Element>
  ) throws {
    guard let bias else {
      try Matrix.gemm(input, weight, into: &output)
      return
    }
    // Broadcast b into every row, then accumulate x·W on top (β = 1).
    let n = weight.columns
    bias.withUnsafeBufferPointer { b in
      output.withUnsafeMutableBufferPointer { y in
        for r in 0..<input.rows {
          _ = UnsafeMutableBufferPointer(rebasing: y[(r * n)..<(r * n + n)]).update(fromContentsOf: b)
        }
      }
    }
    try Matrix.gemm(input, weight, beta: 1, into: &output)
  }

  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  public func backward(_ outputGradient: Matrix<Element>) throws -> Matrix<Element> {
    guard let x = savedInput else {
      throw BumpKitError.invalidState(operation: "Dense.backward", reason: "needs a forward pass first")
    }
    try checkGradient(outputGradient, matches: output, "Dense(\(inputSize)→\(outputSize)).backward")
    if weight.isTrainable {
      try Matrix.gemm(x, transposeA: true, outputGradient, into: &weight.gradient)
    }
    if let bias, bias.isTrainable {
      if ones.count != outputGradient.rows {
        try ones.resize(rows: outputGradient.rows, columns: 1)
        ones.withUnsafeMutableBufferPointer { $0.update(repeating: 1) }
      }
      try Matrix.gemv(outputGradient, transpose: true, ones, into: &bias.gradient)
    }
    try inputGradient.resize(rows: outputGradient.rows, columns: inputSize)
    try Matrix.gemm(outputGradient, weight.value, transposeB: true, into: &inputGradient)
    return inputGradient
  }

  public func releaseSavedState() { savedInput = nil }

  /// The layer's prediction form, holding copies of W and b: later training does not change it.
  public func inferenceLayer() throws -> any InferenceLayer<Element> {
    Inference(inputSize: inputSize, weight: weight.value.copied(), bias: bias?.value.copied())
  }

  /// y = x·W + b with immutable W and b, writing only the output it returns.
  struct Inference: InferenceLayer {
    let inputSize: Int
    let weight: Matrix<Element>
    let bias: Matrix<Element>?

    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    func callAsFunction(_ input: Matrix<Element>) throws -> Matrix<Element> {
      try checkBatch(input, features: inputSize, "Dense(\(inputSize)→\(weight.columns)) inference")
      var output = Matrix<Element>(validRows: input.rows, columns: weight.columns)
      try Dense.apply(input, weight: weight, bias: bias, into: &output)
      return output
    }
  }
}

extension Dense: CopyableLayer {
  func emptyCopy() throws -> any Layer<Element> {
    try Dense(
      inputSize: inputSize, outputSize: outputSize, weightInitializer: weightInitializer,
      biasInitializer: biasInitializer, useBias: useBias)
  }
}

/// The settings of a ``Dense`` layer. Stored as strings: `inputSize`, `outputSize` and
/// `useBias` (true when missing).
public struct DenseConfiguration: Codable, Equatable, Sendable {
  /// The number of input features.
  public var inputSize: Int
  /// The number of output features.
  public var outputSize: Int
  /// Whether the layer has a bias parameter.
  public var useBias: Bool

  /// A configuration from its parts.
  public init(inputSize: Int, outputSize: Int, useBias: Bool = true) {
    self.inputSize = inputSize
    self.outputSize = outputSize
    self.useBias = useBias
  }

  /// Reads the settings as a checkpoint stores them (strings, or JSON numbers and
  /// booleans); a missing or bad value is a ``BumpKitError`` naming it as `dense.<key>`.
  public init(from decoder: any Decoder) throws {
    let stored = try StoredSettings(kind: "dense", from: decoder)
    self.init(
      inputSize: try stored.int("inputSize"), outputSize: try stored.int("outputSize"),
      useBias: try stored.bool("useBias", default: true))
  }

  /// Writes the settings as every version of the checkpoint format stored them: strings.
  public func encode(to encoder: any Encoder) throws {
    try StoredSettings.encode(
      ["inputSize": String(inputSize), "outputSize": String(outputSize), "useBias": String(useBias)], to: encoder)
  }
}
