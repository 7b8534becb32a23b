import BumpKernels
import BumpTestSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Configuration

enum TestConfig {
  /// Release builds run the full sweeps; debug builds (SIMD code ~1000× slower) run samples.
  static let isOptimized = !_isDebugAssertConfiguration()

  /// `release` when optimized, else `debug`.
  static func count(release: Int, debug: Int) -> Int { isOptimized ? release : debug }
}

// MARK: - Deterministic random numbers


// MARK: - Scalar types under test and their references

/// A kernel scalar with a wider type in which the tests compute references: Double for
/// Float, Float80 for Double (x86 only; see ``hasWideReference``).
protocol TestScalar: KernelScalar {
  associatedtype Wide: BinaryFloatingPoint & Sendable
  static func widen(_ x: Self) -> Wide
  static func narrow(_ x: Wide) -> Self
  /// eˣ in the wide type, close to correctly rounded there.
  static func wideExp(_ x: Wide) -> Wide
  /// The documented accuracy: relative error of f at most this × max(1, t) where σ, u and f are normal.
  static var valueTolerance: Double { get }
  /// Whether `Wide` really is wider than `Self` (false where Float80 does not exist).
  static var hasWideReference: Bool { get }
  /// Every implementation the kernels offer for this type: the scalar reference and each
  /// SIMD width.
  static var implementations: [KernelImplementation] { get }
  /// A bit-exact integer image of the value, for bit-identity checks.
  var bits: UInt64 { get }
}

extension TestScalar {
  static var implementations: [KernelImplementation] {
    [.scalarReference] + supportedSIMDWidths.map { .simd(width: $0) }
  }
  static func toDouble(_ x: Wide) -> Double { Double(x) }
}

extension Float: TestScalar {
  typealias Wide = Double
  static func widen(_ x: Float) -> Double { Double(x) }
  static func narrow(_ x: Double) -> Float { Float(x) }
  static func wideExp(_ x: Double) -> Double { Glibc.exp(x) }
  static var valueTolerance: Double { 8e-7 }
  static var hasWideReference: Bool { true }
  var bits: UInt64 { UInt64(bitPattern) }
}

#if arch(x86_64) || arch(i386)
extension Double: TestScalar {
  typealias Wide = Float80
  static func widen(_ x: Double) -> Float80 { Float80(x) }
  static func narrow(_ x: Float80) -> Double { Double(x) }
  static func wideExp(_ x: Float80) -> Float80 { expl(x) }
  static var valueTolerance: Double { 4e-15 }
  static var hasWideReference: Bool { true }
  var bits: UInt64 { bitPattern }
}
#else
extension Double: TestScalar {
  typealias Wide = Double
  static func widen(_ x: Double) -> Double { x }
  static func narrow(_ x: Double) -> Double { x }
  static func wideExp(_ x: Double) -> Double { Glibc.exp(x) }
  static var valueTolerance: Double { 4e-15 }
  static var hasWideReference: Bool { false }
  var bits: UInt64 { bitPattern }
}
#endif

/// Every (type, implementation) pair, for parameterized tests that name both.
let floatImplementations = Float.implementations
let doubleImplementations = Double.implementations

/// The bump function and its partial derivatives at one point, in a wide type.
struct BumpReference<W: BinaryFloatingPoint & Sendable>: Sendable {
  var f: W, dz: W, dsigma: W
  /// u = σ − z² and t = σ/u (t = 0 outside the support).
  var u: W, t: W
  var inside: Bool
  var isNaN: Bool
}

extension TestScalar {
  /// f(z; σ), ∂f/∂z and ∂f/∂σ by the formulas of the "The bump function" article, evaluated in `Wide` from
  /// the `Self` inputs. u is one fused multiply-add in `Wide` (z² is exact in Double for a
  /// Float z; in Float80 the FMA rounds σ − z² once), so its sign — the support — is exact.
  static func reference(z: Self, sigma: Self) -> BumpReference<Wide> {
    let zw = widen(z), sw = widen(sigma)
    if zw.isNaN || sw.isNaN {
      return BumpReference(f: .nan, dz: .nan, dsigma: .nan, u: .nan, t: .nan, inside: false, isNaN: true)
    }
    let u = sw.addingProduct(-zw, zw)
    guard sw > 0, u > 0 else {
      return BumpReference(f: 0, dz: 0, dsigma: 0, u: u, t: 0, inside: false, isNaN: false)
    }
    let t = sw / u
    let q = zw / u
    let f = wideExp(-t)
    return BumpReference(f: f, dz: -2 * t * q * f, dsigma: q * f * q, u: u, t: t, inside: true, isNaN: false)
  }

  /// Whether a wide value lies in `Self`'s normal range.
  static func isNormal(_ w: Wide) -> Bool {
    let m = abs(w)
    return m >= widen(leastNormalMagnitude) && m <= widen(greatestFiniteMagnitude)
  }

  /// Whether a wide value is beyond `Self`'s finite range (rounds to ±∞).
  static func isBeyondRange(_ w: Wide) -> Bool { narrow(w).isInfinite }

  /// |got − ref| / |ref| in Double; 0 when both are 0, ∞ when only `ref` is.
  static func relativeError(_ got: Self, _ ref: Wide) -> Double {
    let d = abs(widen(got) - ref)
    if d == 0 { return 0 }
    return ref == 0 ? .infinity : toDouble(d / abs(ref))
  }

  /// The size of one ulp of `Self` at the magnitude of `ref` (normal range), in `Wide`.
  static func ulp(at ref: Wide) -> Wide {
    let e = Int(abs(ref).exponent) - significandBitCount
    return Wide(sign: .plus, exponent: Wide.Exponent(max(e, Int(leastNonzeroMagnitude.exponent))), significand: 1)
  }
}

/// Bit-exact equality, NaN payloads and zero signs included.
func sameBits<S: TestScalar>(_ a: S, _ b: S) -> Bool { a.bits == b.bits }

/// The first index at which two arrays differ bitwise, or nil.
func firstBitDifference<S: TestScalar>(_ a: [S], _ b: [S]) -> Int? {
  if a.count != b.count { return min(a.count, b.count) }
  for i in a.indices where !sameBits(a[i], b[i]) { return i }
  return nil
}

/// Running maximum with the place where it occurred, for reports.
struct MaxTracker: CustomStringConvertible {
  var value = 0.0
  var at = ""
  /// Whether any value was seen.
  var measured = false
  mutating func update(_ v: Double, _ location: @autoclosure () -> String) {
    measured = true
    if v > value || (v.isNaN && !value.isNaN) {
      value = v
      at = location()
    }
  }
  var description: String { value == 0 ? "0" : "\(value) at \(at)" }
}

// MARK: - Calling the kernels with arrays

/// A parameter given as a value or an array, turned into a ``BumpParameter`` for one call.
enum Param<S: KernelScalar>: Sendable {
  case shared(S)
  case perUnit([S])

  var isPerUnit: Bool {
    if case .perUnit = self { return true }
    return false
  }

  func value(at column: Int) -> S {
    switch self {
    case .shared(let v): return v
    case .perUnit(let a): return a[column]
    }
  }
}

func withParameter<S: KernelScalar, R>(_ p: Param<S>?, _ body: (BumpParameter<S>?) -> R) -> R {
  switch p {
  case nil: return body(nil)
  case .shared(let v)?: return body(.shared(v))
  case .perUnit(let a)?: return a.withUnsafeBufferPointer { body(.perUnit($0)) }
  }
}

/// The gradients one backward call produces.
struct Gradients<S: KernelScalar> {
  var input: [S]?
  var sigma: [S]?
  var center: [S]?
  var amplitude: [S]?
}

/// One kernel problem: a rows × columns input and its parameters.
struct Problem<S: TestScalar>: Sendable {
  var rows: Int
  var columns: Int
  var x: [S]
  var sigma: Param<S>
  var center: Param<S>? = nil
  var amplitude: Param<S>? = nil

  /// z = x − c of element `i`, rounded as the kernels round it.
  func zAt(_ i: Int) -> S { x[i] - (center?.value(at: i % columns) ?? 0) }
  func sigmaAt(_ i: Int) -> S { sigma.value(at: i % columns) }
  func amplitudeAt(_ i: Int) -> S { amplitude?.value(at: i % columns) ?? 1 }

  private func gradientCount(_ p: Param<S>) -> Int { p.isPerUnit ? columns : 1 }

  /// Runs the forward kernel, returning g and, when asked, f and the support counts.
  func forward(
    _ options: KernelOptions, cache wantCache: Bool = false, counts wantCounts: Bool = false,
    workspace: KernelWorkspace? = nil
  ) -> (output: [S], cache: [S]?, counts: [Int]?) {
    var output = [S](repeating: .nan, count: x.count)
    var cache: [S]? = wantCache ? [S](repeating: .nan, count: x.count) : nil
    var counts: [Int]? = wantCounts ? [Int](repeating: -1, count: columns) : nil
    withParameter(sigma) { s in
      withParameter(center) { c in
        withParameter(amplitude) { a in
          x.withUnsafeBufferPointer { xb in
            output.withUnsafeMutableBufferPointer { ob in
              withOptionalMutable(&cache) { cb in
                withOptionalMutable(&counts) { nb in
                  BumpKernel.forward(
                    input: xb, rows: rows, columns: columns, sigma: s!, center: c, amplitude: a,
                    output: ob, cache: cb, supportCounts: nb, options: options, workspace: workspace)
                }
              }
            }
          }
        }
      }
    }
    return (output, cache, counts)
  }

  /// Runs the backward kernel with upstream gradient `upstream`. Gradient buffers start
  /// filled with NaN, so a kernel that accumulates instead of overwriting is caught.
  func backward(
    upstream: [S], _ options: KernelOptions, cache: [S]? = nil,
    input wantInput: Bool = true, sigma wantSigma: Bool = true,
    center wantCenter: Bool = true, amplitude wantAmplitude: Bool = true,
    workspace: KernelWorkspace? = nil
  ) -> Gradients<S> {
    var dx: [S]? = wantInput ? [S](repeating: .nan, count: x.count) : nil
    var ds: [S]? = wantSigma ? [S](repeating: .nan, count: gradientCount(sigma)) : nil
    var dc: [S]? = (wantCenter && center != nil) ? [S](repeating: .nan, count: gradientCount(center!)) : nil
    var da: [S]? = (wantAmplitude && amplitude != nil) ? [S](repeating: .nan, count: gradientCount(amplitude!)) : nil
    withParameter(sigma) { s in
      withParameter(center) { c in
        withParameter(amplitude) { a in
          x.withUnsafeBufferPointer { xb in
            upstream.withUnsafeBufferPointer { gb in
              withOptional(cache) { cb in
                withOptionalMutable(&dx) { dxb in
                  withOptionalMutable(&ds) { dsb in
                    withOptionalMutable(&dc) { dcb in
                      withOptionalMutable(&da) { dab in
                        BumpKernel.backward(
                          input: xb, upstream: gb, rows: rows, columns: columns, sigma: s!,
                          center: c, amplitude: a, cache: cb, inputGradient: dxb,
                          sigmaGradient: dsb, centerGradient: dcb, amplitudeGradient: dab,
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
    return Gradients(input: dx, sigma: ds, center: dc, amplitude: da)
  }
}

func withOptional<T, R>(_ a: [T]?, _ body: (UnsafeBufferPointer<T>?) -> R) -> R {
  guard let a else { return body(nil) }
  return a.withUnsafeBufferPointer { body($0) }
}

func withOptionalMutable<T, R>(_ a: inout [T]?, _ body: (UnsafeMutableBufferPointer<T>?) -> R) -> R {
  guard a != nil else { return body(nil) }
  return a!.withUnsafeMutableBufferPointer { body($0) }
}

/// Per-element results of the kernels: g, f and every partial derivative of g, obtained
/// with one row, one column per element, per-unit parameters and upstream gradient 1, so
/// that each "reduction" holds a single term.
struct ElementResults<S: KernelScalar> {
  var g: [S], f: [S], dx: [S], dsigma: [S]
  var dc: [S]?, da: [S]?
}

extension Problem {
  /// A one-row problem with one column per element.
  static func elements(x: [S], sigma: [S], center: [S]?, amplitude: [S]?) -> Problem {
    Problem(
      rows: 1, columns: x.count, x: x, sigma: .perUnit(sigma),
      center: center.map { .perUnit($0) }, amplitude: amplitude.map { .perUnit($0) })
  }

  func elementResults(_ options: KernelOptions) -> ElementResults<S> {
    precondition(rows == 1)
    let fw = forward(options, cache: true)
    let bw = backward(upstream: [S](repeating: 1, count: x.count), options)
    return ElementResults(g: fw.output, f: fw.cache!, dx: bw.input!, dsigma: bw.sigma!, dc: bw.center, da: bw.amplitude)
  }
}
