import RealModule

/// An element-wise activation y = φ(x) with no parameters; backward multiplies by φ′.
/// The activation keeps its output (φ′ of ReLU, tanh and sigmoid is a function of y).
public class ElementwiseActivation<Element: MatrixScalar>: Layer {
  private var output = Matrix<Element>()
  private var inputGradient = Matrix<Element>()
  private var hasOutput = false
  let kind: String
  /// φ(x) for every element: a function of the values alone, shared with the inference form.
  let apply: Function

  /// φ applied to every element of x, written into y.
  typealias Function = @Sendable (_ x: UnsafeBufferPointer<Element>, _ y: UnsafeMutableBufferPointer<Element>) -> Void

  init(kind: String, apply: @escaping Function) {
    self.kind = kind
    self.apply = apply
  }
  /// dx = dy·φ′, given y = φ(x).
  func derivative(_ y: UnsafeBufferPointer<Element>, _ dy: UnsafeBufferPointer<Element>, _ dx: UnsafeMutableBufferPointer<Element>) {}

  public var parameters: [Parameter<Element>] { [] }
  public func outputSize(forInputSize inputSize: Int) throws -> Int { inputSize }

  /// None: an activation has no settings.
  public var settings: NoSettings { NoSettings() }
  /// No parameters; any number of features in, as many out.
  public static func declaredShapes(for settings: NoSettings) -> DeclaredShapes? {
    DeclaredShapes(inputSize: nil, outputSize: nil, parameters: [])
  }

  public func forward(_ input: Matrix<Element>) throws -> Matrix<Element> {
    try checkBatch(input, features: nil, "\(kind).forward")
    try output.resize(rows: input.rows, columns: input.columns)
    input.withUnsafeBufferPointer { x in output.withUnsafeMutableBufferPointer { y in apply(x, y) } }
    hasOutput = true
    return output
  }

  public func backward(_ outputGradient: Matrix<Element>) throws -> Matrix<Element> {
    guard hasOutput else {
      throw BumpKitError.invalidState(operation: "\(kind).backward", reason: "needs a forward pass first")
    }
    try checkGradient(outputGradient, matches: output, "\(kind).backward")
    try inputGradient.resize(rows: output.rows, columns: output.columns)
    output.withUnsafeBufferPointer { y in
      outputGradient.withUnsafeBufferPointer { dy in
        inputGradient.withUnsafeMutableBufferPointer { dx in derivative(y, dy, dx) }
      }
    }
    return inputGradient
  }

  public func releaseSavedState() {}

  /// The activation's prediction form (it has no parameters).
  public func inferenceLayer() throws -> any InferenceLayer<Element> {
    Inference(kind: kind, apply: apply)
  }

  /// φ applied element-wise, writing only the output it returns.
  struct Inference: InferenceLayer {
    let kind: String
    let apply: Function

    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    func callAsFunction(_ input: Matrix<Element>) throws -> Matrix<Element> {
      try checkBatch(input, features: nil, "\(kind) inference")
      var output = Matrix<Element>(validRows: input.rows, columns: input.columns)
      input.withUnsafeBufferPointer { x in output.withUnsafeMutableBufferPointer { y in apply(x, y) } }
      return output
    }
  }
}

/// Rectified linear unit, max(x, 0); NaN stays NaN.
public final class ReLU<Element: MatrixScalar>: ElementwiseActivation<Element>, CheckpointableLayer {
  /// A ReLU layer.
  public init() { super.init(kind: Self.kind, apply: ReLU.map) }
  /// The same as ``init()``: an activation has no settings.
  public convenience init(settings: NoSettings) { self.init() }
  /// "relu".
  public static var kind: String { "relu" }
  @Sendable static func map(_ x: UnsafeBufferPointer<Element>, _ y: UnsafeMutableBufferPointer<Element>) {
    for i in x.indices { y[i] = x[i] < 0 ? 0 : x[i] }
  }
  override func derivative(_ y: UnsafeBufferPointer<Element>, _ dy: UnsafeBufferPointer<Element>, _ dx: UnsafeMutableBufferPointer<Element>) {
    for i in y.indices { dx[i] = y[i] > 0 ? dy[i] : 0 }
  }
}

/// Hyperbolic tangent.
public final class Tanh<Element: MatrixScalar>: ElementwiseActivation<Element>, CheckpointableLayer {
  /// A tanh layer.
  public init() { super.init(kind: Self.kind, apply: Tanh.map) }
  /// The same as ``init()``: an activation has no settings.
  public convenience init(settings: NoSettings) { self.init() }
  /// "tanh".
  public static var kind: String { "tanh" }
  @Sendable static func map(_ x: UnsafeBufferPointer<Element>, _ y: UnsafeMutableBufferPointer<Element>) {
    for i in x.indices { y[i] = Element(Double.tanh(Double(x[i]))) }
  }
  override func derivative(_ y: UnsafeBufferPointer<Element>, _ dy: UnsafeBufferPointer<Element>, _ dx: UnsafeMutableBufferPointer<Element>) {
    for i in y.indices { dx[i] = dy[i] * (1 - y[i] * y[i]) }
  }
}

/// Logistic sigmoid, 1 / (1 + e⁻ˣ), evaluated without overflow for either sign.
public final class Sigmoid<Element: MatrixScalar>: ElementwiseActivation<Element>, CheckpointableLayer {
  /// A sigmoid layer.
  public init() { super.init(kind: Self.kind, apply: Sigmoid.map) }
  /// The same as ``init()``: an activation has no settings.
  public convenience init(settings: NoSettings) { self.init() }
  /// "sigmoid".
  public static var kind: String { "sigmoid" }
  @Sendable static func map(_ x: UnsafeBufferPointer<Element>, _ y: UnsafeMutableBufferPointer<Element>) {
    for i in x.indices {
      let v = Double(x[i])
      let e = Double.exp(-Swift.abs(v))
      y[i] = Element(v >= 0 ? 1 / (1 + e) : e / (1 + e))
    }
  }
  override func derivative(_ y: UnsafeBufferPointer<Element>, _ dy: UnsafeBufferPointer<Element>, _ dx: UnsafeMutableBufferPointer<Element>) {
    for i in y.indices { dx[i] = dy[i] * y[i] * (1 - y[i]) }
  }
}

extension ElementwiseActivation: CopyableLayer {
  /// The activation rebuilt from its (empty) settings: every activation is a
  /// ``CheckpointableLayer``, so a new one needs no line here.
  func emptyCopy() throws -> any Layer<Element> {
    guard let layer = self as? any CheckpointableLayer, let copy = try rebuilt(layer) as? any Layer<Element> else {
      throw BumpKitError.invalidState(operation: "copy", reason: "\(type(of: self)) has no copy")
    }
    return copy
  }
}
