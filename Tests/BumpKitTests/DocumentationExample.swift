// The code of the article "Layers and optimizers of your own" (ExtendingBumpKit.md), as it
// stands there: `DocumentationExampleTests` checks that each block below appears in the
// article verbatim, so the article shows code that compiles.
import BumpKit

// MARK: - Article: A learned per-unit scale

final class Scale: CheckpointableLayer {
  typealias Element = Double
  static var kind: String { "scale" }

  /// What a checkpoint stores to build the layer again.
  struct Settings: Codable { var units: Int }

  let units: Int
  let scale: Parameter<Double>
  private var savedInput: Matrix<Double>?
  private var output = Matrix<Double>()
  private var inputGradient = Matrix<Double>()

  init(units: Int) throws {
    self.units = units
    scale = Parameter(name: "scale", value: try Matrix(rows: 1, columns: units, repeating: 1))
  }

  convenience init(settings: Settings) throws { try self.init(units: settings.units) }
  var settings: Settings { Settings(units: units) }
  var parameters: [Parameter<Double>] { [scale] }

  func outputSize(forInputSize inputSize: Int) throws -> Int { units }

  func forward(_ input: Matrix<Double>) throws -> Matrix<Double> {
    savedInput = input
    try output.resize(rows: input.rows, columns: units)
    Self.apply(input, scale: scale.value, into: &output)  // see "An inference form"
    return output
  }

  func backward(_ outputGradient: Matrix<Double>) throws -> Matrix<Double> {
    guard let x = savedInput else {
      throw BumpKitError.invalidState(operation: "Scale.backward", reason: "needs a forward pass first")
    }
    try inputGradient.resize(rows: x.rows, columns: units)
    var sums = [Double](repeating: 0, count: units)
    for r in 0..<x.rows {
      for j in 0..<units {
        sums[j] += outputGradient[r, j] * x[r, j]
        inputGradient[r, j] = outputGradient[r, j] * scale.value[0, j]
      }
    }
    scale.updateGradient { g in for j in g.indices { g[j] = sums[j] } }
    return inputGradient
  }

  func releaseSavedState() { savedInput = nil }
}

// MARK: - Article: An inference form

extension Scale {
  // `forward` calls this too, with its own output buffer.
  static func apply(_ input: Matrix<Double>, scale: Matrix<Double>, into output: inout Matrix<Double>) {
    for r in 0..<input.rows {
      for j in 0..<input.columns { output[r, j] = input[r, j] * scale[0, j] }
    }
  }

  func inferenceLayer() throws -> any InferenceLayer<Double> {
    Inference(units: units, scale: scale.value.copied())
  }

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
