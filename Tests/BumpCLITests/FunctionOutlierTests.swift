@testable import BumpCLI
import BumpKit
import Testing

/// `bump function` at inputs whose square overflows the precision while the input is finite:
/// the default (no-FMA) build printed `nan` in every column there.
@Suite struct FunctionOutlierTests {
  func table<S: MatrixScalar>(_: S.Type, _ x: [S]) throws -> BumpFunctionTable<S> {
    let parameters = try BumpFunctionParameters<S>(
      sigma: NumberArgument(argument: "1")!, center: NumberArgument(argument: "0")!,
      amplitude: NumberArgument(argument: "1")!)
    return BumpFunctionTable(parameters: parameters, x: x)
  }

  @Test func hugeFiniteInputsGiveExactZerosInDouble() throws {
    let x: [Double] = [1e160, -1e160, 1.35e154, 1e299, .greatestFiniteMagnitude]
    let t = try table(Double.self, x)
    for column in [t.value, t.dx, t.dSigma, t.dCenter, t.dAmplitude] { #expect(column == [0, 0, 0, 0, 0], "\(column)") }
  }

  @Test func hugeFiniteInputsGiveExactZerosInFloat() throws {
    let x: [Float] = [1e21, -1e21, 1.85e19, 1e30, .greatestFiniteMagnitude]
    let t = try table(Float.self, x)
    for column in [t.value, t.dx, t.dSigma, t.dCenter, t.dAmplitude] { #expect(column == [0, 0, 0, 0, 0], "\(column)") }
  }
}
