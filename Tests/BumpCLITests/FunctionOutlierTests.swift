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

  /// Where f is subnormal, its rounding is a large part of it: derivatives computed as f
  /// times a factor (as large as 10³⁰⁰ at σ = 10⁻³⁰⁰) were off by up to 75 % although they
  /// are normal numbers. The expected values come from an 80-digit decimal evaluation.
  @Test func derivativesWhereFIsSubnormalKeepTheirPrecision() throws {
    let parameters = try BumpFunctionParameters<Double>(
      sigma: NumberArgument(argument: "1e-300")!, center: NumberArgument(argument: "0")!,
      amplitude: NumberArgument(argument: "1")!)
    let x = [9.993286336940443e-151, 9.993240959011489e-151]
    let t = BumpFunctionTable(parameters: parameters, x: x)
    // f = 2.8223507304408627e-324 and 4.1887398800828737e-322, correctly rounded: 1 and 85
    // times the least subnormal.
    let least = Double.leastNonzeroMagnitude
    #expect(t.value == [least, 85 * least], "\(t.value)")
    // Through Float80 where there is one, else through logarithms in Double.
    #if arch(x86_64) || arch(i386)
    let tolerance = 1e-13
    #else
    let tolerance = 1e-12
    #endif
    let dx = [-3.1308470709701647e-168, -4.5844072012622733e-166]
    for i in 0..<2 {
      #expect(abs(t.dx[i] / dx[i] - 1) < tolerance, "\(t.dx[i])")
      #expect(t.dCenter[i] == -t.dx[i])
    }
    #expect(abs(t.dSigma[0] / 1.5643725628688076e-18 - 1) < tolerance, "\(t.dSigma[0])")
  }
}
