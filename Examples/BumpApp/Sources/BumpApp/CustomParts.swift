import BumpKit

/// A learned per-unit scale, y = x ⊙ s: a trainable layer written with BumpKit's public API
/// only, and registered so that checkpoints store and rebuild it.
final class Scale: CheckpointableLayer {
  typealias Element = Double
  static var kind: String { "scale" }

  let units: Int
  let scale: Parameter<Double>
  private var savedInput: Matrix<Double>?
  private var output = Matrix<Double>()
  private var inputGradient = Matrix<Double>()

  init(units: Int) throws {
    guard units > 0 else {
      throw BumpKitError.invalidArgument(name: "scale.units", value: String(units), reason: "must be a positive integer")
    }
    self.units = units
    scale = Parameter(name: "scale", value: try Matrix(rows: 1, columns: units, repeating: 1))
  }

  /// What a checkpoint stores to build the layer again.
  struct Settings: Codable { var units: Int }

  convenience init(settings: Settings) throws { try self.init(units: settings.units) }

  var parameters: [Parameter<Double>] { [scale] }
  var requiredInputSize: Int? { units }
  var settings: Settings { Settings(units: units) }

  func outputSize(forInputSize inputSize: Int) throws -> Int {
    guard inputSize == units else {
      throw BumpKitError.shapeMismatch(operation: "Scale input", expected: MatrixShape(rows: nil, columns: units), actual: MatrixShape(rows: nil, columns: inputSize))
    }
    return units
  }

  func forward(_ input: Matrix<Double>) throws -> Matrix<Double> {
    _ = try outputSize(forInputSize: input.columns)
    savedInput = input
    try output.resize(rows: input.rows, columns: units)
    Self.apply(input, scale: scale.value, into: &output)
    return output
  }

  /// y = x ⊙ s into `output`: the one computation that training and inference share, so
  /// that both give the same bits.
  static func apply(_ input: Matrix<Double>, scale: Matrix<Double>, into output: inout Matrix<Double>) {
    for r in 0..<input.rows {
      for j in 0..<input.columns { output[r, j] = input[r, j] * scale[0, j] }
    }
  }

  func backward(_ outputGradient: Matrix<Double>) throws -> Matrix<Double> {
    guard let x = savedInput else {
      throw BumpKitError.invalidState(operation: "Scale.backward", reason: "needs a forward pass first")
    }
    try inputGradient.resize(rows: x.rows, columns: units)
    // ds_j = Σ_r G[r, j]·x[r, j]; dx = G ⊙ s.
    var sums = [Double](repeating: 0, count: units)
    for r in 0..<x.rows {
      for j in 0..<units {
        sums[j] += outputGradient[r, j] * x[r, j]
        inputGradient[r, j] = outputGradient[r, j] * scale.value[0, j]
      }
    }
    scale.updateGradient { g in
      for j in g.indices { g[j] = sums[j] }
    }
    return inputGradient
  }

  func releaseSavedState() { savedInput = nil }

  /// The prediction form: a copy of s, so that an `InferenceModel` holding it can be shared.
  func inferenceLayer() throws -> any InferenceLayer<Double> {
    Inference(units: units, scale: scale.value.copied())
  }

  /// y = x ⊙ s with an immutable s, writing only the output it returns.
  struct Inference: InferenceLayer {
    let units: Int
    let scale: Matrix<Double>

    func callAsFunction(_ input: Matrix<Double>) throws -> Matrix<Double> {
      var output = try Matrix<Double>(rows: input.rows, columns: units)
      Scale.apply(input, scale: scale, into: &output)
      return output
    }
  }
}

/// Sign descent (signSGD, Bernstein et al. 2018): θ ← θ − η·sign(g). An optimizer written
/// with BumpKit's public API only.
final class SignDescent: Optimizer {
  typealias Element = Double
  let learningRate: Double
  private(set) var iterations = 0

  init(learningRate: Double) { self.learningRate = learningRate }

  func step(_ parameters: [Parameter<Double>]) throws {
    for p in parameters where p.isTrainable {
      let g = p.gradient
      try g.withUnsafeBufferPointer { g in
        if let bad = g.firstIndex(where: { !$0.isFinite }) {
          throw BumpKitError.nonFiniteData(what: "SignDescent: the gradient of \(p.name)", row: bad / max(1, p.value.columns), column: bad % max(1, p.value.columns), value: "\(g[bad])")
        }
      }
    }
    for p in parameters where p.isTrainable {
      let g = p.gradient
      let eta = learningRate
      g.withUnsafeBufferPointer { g in
        p.updateValue { v in
          for i in v.indices where g[i] != 0 { v[i] -= g[i] > 0 ? eta : -eta }
        }
      }
      p.project()
    }
    iterations += 1
  }
}
