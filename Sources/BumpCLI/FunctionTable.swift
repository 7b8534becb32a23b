import ArgumentParser
import BumpKit
import Foundation

/// The floating-point type that `bump function` evaluates in and `bump train` trains in.
enum Precision: String, CaseIterable, ExpressibleByArgument, Sendable {
  /// 32-bit `Float` kernels.
  case float
  /// 64-bit `Double` kernels.
  case double
}

/// The parameters of one bump g(x) = a·f(x − c; σ), checked: σ ≥ 0 and finite, c and a
/// finite, in the precision that will be evaluated.
struct BumpFunctionParameters<Scalar: MatrixScalar>: Equatable {
  /// σ, the squared half-width of the support (σ = 0 makes g ≡ 0).
  let sigma: Scalar
  /// c, the centre.
  let center: Scalar
  /// a, the amplitude.
  let amplitude: Scalar

  /// Converts and checks the options; a failure names the option, for example
  /// `--sigma must be finite and ≥ 0, got -1`.
  init(sigma: NumberArgument, center: NumberArgument, amplitude: NumberArgument)
    throws(ValidationError)
  {
    func checked(_ argument: NumberArgument, _ option: String, nonNegative: Bool)
      throws(ValidationError) -> Scalar
    {
      let value = argument.value(as: Scalar.self)
      let requirement = nonNegative ? "finite and ≥ 0" : "finite"
      guard value.isFinite, !(nonNegative && value < 0) else {
        let inPrecision =
          Double(argument.text).map { $0.isFinite } == true && !value.isFinite
          ? " in \(Scalar.self) precision" : ""
        throw ValidationError(
          "--\(option) must be \(requirement)\(inPrecision), got \(argument.text)")
      }
      return value
    }
    self.sigma = try checked(sigma, "sigma", nonNegative: true)
    self.center = try checked(center, "center", nonNegative: false)
    self.amplitude = try checked(amplitude, "amplitude", nonNegative: false)
  }
}

/// Values of g(x) = a·f(x − c; σ) and of its four partial derivatives at a list of x values.
///
/// Columns, in CSV order: x, g, ∂g/∂x, ∂g/∂σ, ∂g/∂c, ∂g/∂a (see ``BumpKernel`` for the
/// formulas). Everything outside the support (−√σ, √σ) + c is exactly 0; NaN x gives NaN.
struct BumpFunctionTable<Scalar: MatrixScalar> {
  /// The CSV header line, without a line ending.
  static var csvHeader: String { "x,value,d_dx,d_dsigma,d_dcenter,d_damplitude" }

  var x: [Scalar] = []
  var value: [Scalar] = []
  var dx: [Scalar] = []
  var dSigma: [Scalar] = []
  var dCenter: [Scalar] = []
  var dAmplitude: [Scalar] = []

  /// Evaluates the table at `x` with the SIMD kernels: one forward and one backward call.
  ///
  /// The kernels reduce parameter gradients over rows and keep one sum per column, so the x
  /// values go in as one row of `x.count` columns with every parameter per-unit (the same
  /// value in each column) and an upstream gradient of ones: each column's "sum" is then the
  /// partial derivative at that x alone.
  init(parameters p: BumpFunctionParameters<Scalar>, x: [Scalar], workspace: KernelWorkspace? = nil)
  {
    let n = x.count
    self.x = x
    guard n > 0 else { return }
    var value = [Scalar](repeating: 0, count: n)
    var (dx, dSigma, dCenter, dAmplitude) = (value, value, value, value)
    let sigmas = [Scalar](repeating: p.sigma, count: n)
    let centers = [Scalar](repeating: p.center, count: n)
    let amplitudes = [Scalar](repeating: p.amplitude, count: n)
    let ones = [Scalar](repeating: 1, count: n)
    var cache = [Scalar](repeating: 0, count: n)
    let options = KernelOptions(implementation: .simd(width: Scalar.preferredSIMDWidth))
    x.withUnsafeBufferPointer { input in
      sigmas.withUnsafeBufferPointer { s in
        centers.withUnsafeBufferPointer { c in
          amplitudes.withUnsafeBufferPointer { a in
            ones.withUnsafeBufferPointer { upstream in
              value.withUnsafeMutableBufferPointer { output in
                cache.withUnsafeMutableBufferPointer { cache in
                  BumpKernel.forward(
                    input: input, rows: 1, columns: n,
                    sigma: .perUnit(s), center: .perUnit(c), amplitude: .perUnit(a),
                    output: output, cache: cache, options: options, workspace: workspace)
                }
              }
              cache.withUnsafeBufferPointer { cache in
                dx.withUnsafeMutableBufferPointer { dx in
                  dSigma.withUnsafeMutableBufferPointer { dSigma in
                    dCenter.withUnsafeMutableBufferPointer { dCenter in
                      dAmplitude.withUnsafeMutableBufferPointer { dAmplitude in
                        BumpKernel.backward(
                          input: input, upstream: upstream, rows: 1, columns: n,
                          sigma: .perUnit(s), center: .perUnit(c), amplitude: .perUnit(a),
                          cache: cache, inputGradient: dx, sigmaGradient: dSigma,
                          centerGradient: dCenter, amplitudeGradient: dAmplitude,
                          options: options, workspace: workspace)
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    // Where f is subnormal, its rounding is a large part of it (75 % at the least one), and
    // the kernels' derivatives, f times a factor that can be as large as 10³⁰⁰, carry that
    // error into numbers of the normal range: those x are recomputed from log f, in a wider
    // type where there is one.
    for i in 0..<n where cache[i] != 0 && Swift.abs(cache[i]) < Scalar.leastNormalMagnitude {
      let u = Wide(Double(x[i])) - Wide(Double(p.center))
      let sigma = Wide(Double(p.sigma)), a = Wide(Double(p.amplitude))
      let t = sigma.addingProduct(-u, u)
      guard t > 0, u != 0 else { continue }
      // log f = −σ/t; ∂f/∂x = f·(−2σu/t²), ∂f/∂σ = f·u²/t², each through its logarithm
      // (σ|u| and u² may underflow, and 2σ overflow, where the product is a normal number).
      let logF = -sigma / t, logT = Foundation.log(t), logU = Foundation.log(Swift.abs(u))
      let slope = Foundation.exp(logF + Foundation.log(2) + Foundation.log(sigma) + logU - 2 * logT)
      let dxWide = a * (u > 0 ? -slope : slope)
      dx[i] = Scalar(Double(dxWide))
      dCenter[i] = Scalar(Double(-dxWide))
      dSigma[i] = Scalar(Double(a * Foundation.exp(logF + 2 * logU - 2 * logT)))
    }
    (self.value, self.dx, self.dSigma, self.dCenter, self.dAmplitude) = (
      value, dx, dSigma, dCenter, dAmplitude
    )
  }

  /// Appends one CSV line per x (each ending in `\n`) to `text`.
  ///
  /// Numbers use `Scalar`'s `description`: the shortest decimal that reads back as the same
  /// value (`Float` values are printed as `Float`, not widened to `Double`), with `inf`,
  /// `-inf` and `nan` for the special values.
  func appendCSVRows(to text: inout String) {
    for i in x.indices {
      text += x[i].description
      for column in [value, dx, dSigma, dCenter, dAmplitude] {
        text += ","
        text += column[i].description
      }
      text += "\n"
    }
  }
}

#if arch(x86_64) || arch(i386)
/// The type ``BumpFunctionTable`` recomputes derivatives in where f is subnormal: `Float80`,
/// whose wider exponent and significand keep them to a few units in the last place of
/// `Double`.
private typealias Wide = Float80
#else
/// The type ``BumpFunctionTable`` recomputes derivatives in where f is subnormal: `Double`
/// (this architecture has no `Float80`), through logarithms.
private typealias Wide = Double
#endif

