import RealModule

/// A Gaussian bump for comparison with ``Bump``: g(x) = a·exp(−b·(x − c)²), element-wise,
/// with a, b, c each shared (shape [1]) and trainable. Unlike the bump function it has no
/// compact support: every input gets a (possibly tiny) gradient. b is kept ≥ `widthFloor`.
public final class Gaussian<Element: MatrixScalar>: CheckpointableLayer {
  /// a, b, c: each `1 × 1`.
  public let amplitude, width, center: Parameter<Element>
  private var savedInput: Matrix<Element>?
  private var output = Matrix<Element>()
  private var inputGradient = Matrix<Element>()

  /// The smallest width b that optimizer steps leave.
  public let widthFloor: Element

  /// A Gaussian layer with a = 1, b = 1, c = 0 unless told otherwise.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` when the floor is not
  ///   finite and > 0, a or c is not finite, or b is not finite or lies below the floor.
  public init(amplitude: Element = 1, width: Element = 1, center: Element = 0, widthFloor: Element = 1e-4) throws {
    guard widthFloor.isFinite && widthFloor > 0 else {
      throw BumpKitError.invalidArgument(name: "widthFloor", value: "\(widthFloor)", reason: "must be finite and > 0")
    }
    guard width.isFinite && width >= widthFloor else {
      throw BumpKitError.invalidArgument(name: "width", value: "\(width)", reason: "must be finite and ≥ the width floor \(widthFloor)")
    }
    for (name, value) in [("amplitude", amplitude), ("center", center)] where !value.isFinite {
      throw BumpKitError.invalidArgument(name: name, value: "\(value)", reason: "must be finite")
    }
    self.widthFloor = widthFloor
    self.amplitude = Parameter(name: "amplitude", value: try Matrix(rows: 1, columns: 1, repeating: amplitude))
    self.width = Parameter(name: "width", value: try Matrix(rows: 1, columns: 1, repeating: width), lowerBound: widthFloor)
    self.center = Parameter(name: "center", value: try Matrix(rows: 1, columns: 1, repeating: center))
  }

  public var parameters: [Parameter<Element>] { [amplitude, width, center] }
  public func outputSize(forInputSize inputSize: Int) throws -> Int { inputSize }

  /// "gaussian".
  public static var kind: String { "gaussian" }

  /// The layer's width floor.
  public var settings: GaussianConfiguration { GaussianConfiguration(widthFloor: Double(widthFloor)) }

  /// The layer `settings` describe, with a = 1, b = 1 (or the floor, if above 1) and c = 0.
  public convenience init(settings: GaussianConfiguration) throws {
    let floor = Element(settings.widthFloor)
    try self.init(width: Swift.max(1, floor), widthFloor: floor)
  }

  /// a, b and c `1 × 1` each; any number of features in, as many out.
  public static func declaredShapes(for settings: GaussianConfiguration) -> DeclaredShapes? {
    DeclaredShapes(inputSize: nil, outputSize: nil, parameters: ["amplitude", "width", "center"].map { ($0, [1, 1]) })
  }

  public func forward(_ input: Matrix<Element>) throws -> Matrix<Element> {
    try checkBatch(input, features: nil, "gaussian.forward")
    savedInput = input
    try output.resize(rows: input.rows, columns: input.columns)
    Self.apply(input, a: amplitude.value[0, 0], b: width.value[0, 0], c: center.value[0, 0], into: &output)
    return output
  }

  /// a·exp(−b·(x − c)²) into `output`, already the input's shape: the one computation that
  /// training and inference share.
  static func apply(_ input: Matrix<Element>, a: Element, b: Element, c: Element, into output: inout Matrix<Element>) {
    let (a, b, c) = (Double(a), Double(b), Double(c))
    input.withUnsafeBufferPointer { x in
      output.withUnsafeMutableBufferPointer { y in
        for i in x.indices {
          let z = Double(x[i]) - c
          y[i] = Element(a * Double.exp(-b * z * z))
        }
      }
    }
  }

  public func backward(_ outputGradient: Matrix<Element>) throws -> Matrix<Element> {
    guard let input = savedInput else {
      throw BumpKitError.invalidState(operation: "Gaussian.backward", reason: "needs a forward pass first")
    }
    try checkGradient(outputGradient, matches: output, "gaussian.backward")
    let (a, b, c) = (Double(amplitude.value[0, 0]), Double(width.value[0, 0]), Double(center.value[0, 0]))
    var (da, db, dc) = (0.0, 0.0, 0.0)
    try inputGradient.resize(rows: input.rows, columns: input.columns)
    input.withUnsafeBufferPointer { x in
      outputGradient.withUnsafeBufferPointer { g in
        inputGradient.withUnsafeMutableBufferPointer { dx in
          for i in x.indices {
            let z = Double(x[i]) - c
            let e = Double.exp(-b * z * z)
            let gi = Double(g[i])
            let dgdx = -2 * a * b * z * e
            dx[i] = Element(gi * dgdx)
            da += gi * e
            db += gi * (-a * z * z * e)
            dc -= gi * dgdx
          }
        }
      }
    }
    amplitude.gradient[0, 0] = Element(da)
    width.gradient[0, 0] = Element(db)
    center.gradient[0, 0] = Element(dc)
    return inputGradient
  }

  public func releaseSavedState() { savedInput = nil }

  /// The layer's prediction form, holding a, b and c as they are now.
  public func inferenceLayer() throws -> any InferenceLayer<Element> {
    Inference(a: amplitude.value[0, 0], b: width.value[0, 0], c: center.value[0, 0])
  }

  /// a·exp(−b·(x − c)²) with fixed a, b, c, writing only the output it returns.
  struct Inference: InferenceLayer {
    let a, b, c: Element

    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    func callAsFunction(_ input: Matrix<Element>) throws -> Matrix<Element> {
      try checkBatch(input, features: nil, "gaussian inference")
      var output = Matrix<Element>(validRows: input.rows, columns: input.columns)
      Gaussian.apply(input, a: a, b: b, c: c, into: &output)
      return output
    }
  }
}

extension Gaussian: CopyableLayer {
  func emptyCopy() throws -> any Layer<Element> {
    try Gaussian(
      amplitude: amplitude.value[0, 0], width: width.value[0, 0], center: center.value[0, 0], widthFloor: widthFloor)
  }
}

/// The settings of a ``Gaussian`` layer. Stored as a string: `widthFloor` (1e-4 when missing,
/// as in files written before the floor was stored).
public struct GaussianConfiguration: Codable, Equatable, Sendable {
  /// The smallest width b that optimizer steps leave (the layer's element value, exactly).
  public var widthFloor: Double

  /// A configuration from its floor.
  public init(widthFloor: Double = 1e-4) { self.widthFloor = widthFloor }

  /// Reads the settings as a checkpoint stores them (strings, or JSON numbers and
  /// booleans); a missing or bad value is a ``BumpKitError`` naming it as `gaussian.<key>`.
  public init(from decoder: any Decoder) throws {
    let stored = try StoredSettings(kind: "gaussian", from: decoder)
    self.init(widthFloor: try stored.number("widthFloor", default: 1e-4))
  }

  /// Writes the settings as every version of the checkpoint format stored them: strings.
  public func encode(to encoder: any Encoder) throws {
    try StoredSettings.encode(["widthFloor": "\(widthFloor)"], to: encoder)
  }
}
