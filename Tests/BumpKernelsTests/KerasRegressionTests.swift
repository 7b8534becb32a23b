import BumpKernels
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The bug that the bump-function article describes: the widely copied Keras layer tests |x| < σ instead
/// of x² < σ, and its `tf.where` has no safe inner branch. Each case below is one of the
/// documented failures; our kernels must give the mathematically right answer.
@Suite("Keras regressions")
struct KerasRegressionTests {
  /// The Keras layer's forward formula, for showing that each input really triggers its bug.
  static func keras(_ x: Double, sigma: Double) -> Double {
    abs(x) < sigma ? Glibc.exp(-sigma / (sigma - x * x)) : 0
  }

  /// Runs the cases with per-unit σ (one column each) and with a shared σ (one column, one
  /// row per x, as Keras's shape-[1] σ), returning g, ∂g/∂x and the per-element ∂g/∂σ.
  static func run<S: TestScalar>(
    _: S.Type, _ implementation: KernelImplementation, x: [S], sigma: S
  ) -> [(g: S, dx: S, dsigma: S)] {
    let options = KernelOptions(implementation: implementation, threads: 1)
    let perUnit = Problem<S>.elements(
      x: x, sigma: [S](repeating: sigma, count: x.count), center: nil, amplitude: nil
    ).elementResults(options)
    var out = x.indices.map { (perUnit.g[$0], perUnit.dx[$0], perUnit.dsigma[$0]) }
    // Shared σ: each x alone in a one-element problem, so the σ sum is that element's term.
    for xi in x {
      let p = Problem<S>(rows: 1, columns: 1, x: [xi], sigma: .shared(sigma))
      let g = p.forward(options).output[0]
      let b = p.backward(upstream: [1], options)
      out.append((g, b.input![0], b.sigma![0]))
    }
    return out
  }

  static func outsideForLargeSigma<S: TestScalar>(_: S.Type, _ implementation: KernelImplementation) {
    // σ = 2, x = ±1.5: x² = 2.25 > σ, outside the support. Keras: |x| < σ lets it through
    // and returns exp(−2/(2 − 2.25)) = e⁸ ≈ 2981.
    #expect(abs(keras(1.5, sigma: 2) - 2981) < 1)
    for r in run(S.self, implementation, x: [1.5, -1.5], sigma: 2) {
      #expect(r.g == 0, "g(1.5; σ=2) = \(r.g), expected exactly 0")
      #expect(r.dx == 0 && r.dsigma == 0, "gradients \(r.dx), \(r.dsigma), expected exactly 0")
    }
  }

  static func insideForSmallSigma<S: TestScalar>(_: S.Type, _ implementation: KernelImplementation) {
    // σ = 0.05, x = ±0.2: x² = 0.04 < σ, inside. Keras: |x| = 0.2 ≥ σ cuts it to 0.
    #expect(keras(0.2, sigma: 0.05) == 0)
    let sigma = S(0.05), x = S(0.2)
    let ref = S.reference(z: x, sigma: sigma)
    let e5 = Glibc.exp(-5.0)
    for r in run(S.self, implementation, x: [x, -x], sigma: sigma) {
      // e⁻⁵ up to the conditioning of f (t(t−1) = 20) times the rounding of 0.05 and 0.2.
      #expect(abs(Double(r.g) - e5) <= 1e-5 * e5, "g(0.2; σ=0.05) = \(r.g), expected e⁻⁵ = \(e5)")
      // And the exact value for these very inputs, to the documented accuracy bound (t = 5).
      #expect(S.relativeError(r.g, ref.f) <= S.valueTolerance * 5)
      #expect(r.dx != 0 && !r.dx.isNaN && r.dsigma > 0, "gradients \(r.dx), \(r.dsigma)")
    }
  }

  static func noNaNJustOutside<S: TestScalar>(_: S.Type, _ implementation: KernelImplementation) {
    // σ = 0.5, x = ±0.7072: x² = 0.50013… > σ, just outside. Keras's tf.where evaluates
    // exp(−σ/(σ − x²)) = exp(+3846) = ∞ in the untaken branch, and its gradient 0·∞ = NaN.
    #expect(Glibc.exp(-0.5 / (0.5 - 0.7072 * 0.7072)).isInfinite)
    for r in run(S.self, implementation, x: [S(0.7072), S(-0.7072)], sigma: 0.5) {
      #expect(r.g == 0)
      #expect(!r.dx.isNaN && r.dx == 0, "dL/dx = \(r.dx), expected 0")
      #expect(!r.dsigma.isNaN && r.dsigma == 0, "dL/dσ = \(r.dsigma), expected 0")
    }
  }

  @Test("σ = 2, x = 1.5 gives exactly 0 (Keras: 2981)", arguments: floatImplementations)
  func floatOutside(_ implementation: KernelImplementation) { Self.outsideForLargeSigma(Float.self, implementation) }

  @Test("σ = 2, x = 1.5 gives exactly 0 (Keras: 2981), Double", arguments: doubleImplementations)
  func doubleOutside(_ implementation: KernelImplementation) { Self.outsideForLargeSigma(Double.self, implementation) }

  @Test("σ = 0.05, x = 0.2 gives e⁻⁵ (Keras: 0)", arguments: floatImplementations)
  func floatInside(_ implementation: KernelImplementation) { Self.insideForSmallSigma(Float.self, implementation) }

  @Test("σ = 0.05, x = 0.2 gives e⁻⁵ (Keras: 0), Double", arguments: doubleImplementations)
  func doubleInside(_ implementation: KernelImplementation) { Self.insideForSmallSigma(Double.self, implementation) }

  @Test("σ = 0.5, x = 0.7072: dL/dx = dL/dσ = 0, not NaN", arguments: floatImplementations)
  func floatNoNaN(_ implementation: KernelImplementation) { Self.noNaNJustOutside(Float.self, implementation) }

  @Test("σ = 0.5, x = 0.7072: dL/dx = dL/dσ = 0, not NaN, Double", arguments: doubleImplementations)
  func doubleNoNaN(_ implementation: KernelImplementation) { Self.noNaNJustOutside(Double.self, implementation) }
}
