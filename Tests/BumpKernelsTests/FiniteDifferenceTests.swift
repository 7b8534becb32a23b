import BumpKernels
import Testing
import BumpTestSupport

/// The backward kernel against central finite differences of the forward kernel, in Double:
/// L = Σ G ⊙ g for a random upstream G, every input and parameter perturbed by a step of
/// ~1e-6 relative. Points lie inside the support and away from its boundary (|z| ≤ 0.8·√σ,
/// so t ≤ 2.8), where g is smooth on the scale of the step: the truncation error (~h²) and
/// the rounding error (~ε/h ≈ 1e-10) are far below the 1e-7 bound, while any wrong formula or
/// missing term is off by O(1).
@Suite("Finite differences")
struct FiniteDifferenceTests {
  typealias S = Double

  enum Layout: String, CaseIterable, Sendable {
    case allPerUnit, allShared, mixed, sigmaOnly
  }

  static let rows = 6
  static let columns = 7  // a full vector and a tail for every width
  static let relativeStep = 1e-6
  static let tolerance = 1e-7

  static func problem(_ layout: Layout, seed: UInt64) -> (Problem<S>, upstream: [S]) {
    var rng = SplitMix64(seed: seed)
    let sigmas = (0..<columns).map { _ in rng.logUniform(0.05, 5) }
    let centers = (0..<columns).map { _ in rng.uniform(-1, 1) }
    let amplitudes = (0..<columns).map { _ in rng.sign() * rng.uniform(0.5, 2) }
    func param(_ values: [S], shared: Bool) -> Param<S> { shared ? .shared(values[0]) : .perUnit(values) }
    let sigma: Param<S>, center: Param<S>?, amplitude: Param<S>?
    switch layout {
    case .allPerUnit:
      (sigma, center, amplitude) = (param(sigmas, shared: false), param(centers, shared: false), param(amplitudes, shared: false))
    case .allShared:
      (sigma, center, amplitude) = (param(sigmas, shared: true), param(centers, shared: true), param(amplitudes, shared: true))
    case .mixed:
      (sigma, center, amplitude) = (param(sigmas, shared: false), param(centers, shared: true), param(amplitudes, shared: false))
    case .sigmaOnly:
      (sigma, center, amplitude) = (param(sigmas, shared: false), nil, nil)
    }
    var x = [S]()
    for i in 0..<(rows * columns) {
      let j = i % columns
      let root = sigma.value(at: j).squareRoot()
      x.append((center?.value(at: j) ?? 0) + rng.uniform(-0.8, 0.8) * root)
    }
    let upstream = (0..<(rows * columns)).map { _ in rng.uniform(-1, 1) }
    return (Problem(rows: rows, columns: columns, x: x, sigma: sigma, center: center, amplitude: amplitude), upstream)
  }

  /// L = Σ G·g, summed in Float80 so that its rounding stays far below the differences.
  static func loss(_ p: Problem<S>, _ upstream: [S], _ options: KernelOptions) -> Float80 {
    let g = p.forward(options).output
    var sum: Float80 = 0
    for i in g.indices { sum += Float80(upstream[i]) * Float80(g[i]) }
    return sum
  }

  /// Central difference of L in one parameter entry (`column` nil: the shared value).
  static func difference(
    _ p: Problem<S>, _ upstream: [S], _ options: KernelOptions,
    _ keyPath: WritableKeyPath<Problem<S>, Param<S>?>, column: Int?
  ) -> Double {
    let value = p[keyPath: keyPath]!.value(at: column ?? 0)
    let h = relativeStep * max(abs(value), 0.1)
    func perturbed(_ v: S) -> Problem<S> {
      var q = p
      switch q[keyPath: keyPath]! {
      case .shared: q[keyPath: keyPath] = .shared(v)
      case .perUnit(var values):
        values[column!] = v
        q[keyPath: keyPath] = .perUnit(values)
      }
      return q
    }
    let (up, down) = (value + h, value - h)
    return Double((loss(perturbed(up), upstream, options) - loss(perturbed(down), upstream, options)) / Float80(up - down))
  }

  /// The scale the tolerance is relative to: Σ |G|·(|∂g/∂p| + 0.1·max(1, |a|)) over the
  /// entries a gradient sums, with ∂g/∂p from the wide reference. The 0.1 term keeps
  /// entries whose true partial is ≈ 0 (z ≈ 0 for ∂g/∂x) from demanding more than a
  /// difference quotient can give: its rounding error is ~ε·|g|/h ≈ 4e-10·|G·a|, below
  /// 1e-7 × 0.1·|G·a|, while a wrong formula errs by O(|G·a|).
  static func scale(
    _ p: Problem<S>, _ upstream: [S], entries: [Int], _ partial: (BumpReference<Float80>, Float80) -> Float80
  ) -> Double {
    var sum: Float80 = 0
    for i in entries {
      let ref = S.reference(z: p.zAt(i), sigma: p.sigmaAt(i))
      let a = Float80(p.amplitudeAt(i))
      sum += abs(Float80(upstream[i])) * (abs(partial(ref, a)) + 0.1 * max(1, abs(a)))
    }
    return Double(sum)
  }

  @Test(
    "Gradients match central differences (Double)", .enabled(if: Double.hasWideReference),
    arguments: doubleImplementations, Layout.allCases)
  func gradients(_ implementation: KernelImplementation, _ layout: Layout) throws {
    let options = KernelOptions(implementation: implementation, threads: 1)
    let (p, upstream) = Self.problem(layout, seed: 0xFD00 &+ UInt64(Layout.allCases.firstIndex(of: layout)!))
    let grads = p.backward(upstream: upstream, options)
    var worst = 0.0

    func compare(_ name: String, _ analytic: Double, _ numeric: Double, _ scale: Double) {
      let err = abs(analytic - numeric) / scale
      worst = max(worst, err)
      #expect(err <= Self.tolerance, "\(name) [\(layout), \(implementation)]: backward \(analytic), finite difference \(numeric), scale \(scale)")
    }

    // dL/dx, every element at once: g is element-wise, so perturbing all x together gives
    // each element's own difference quotient.
    let hs = p.x.map { Self.relativeStep * max(abs($0), 0.1) }
    var plus = p, minus = p
    plus.x = zip(p.x, hs).map { $0 + $1 }
    minus.x = zip(p.x, hs).map { $0 - $1 }
    let gPlus = plus.forward(options).output, gMinus = minus.forward(options).output
    for i in p.x.indices {
      let numeric = upstream[i] * (gPlus[i] - gMinus[i]) / (plus.x[i] - minus.x[i])
      let scale = Self.scale(p, upstream, entries: [i]) { r, a in a * r.dz }
      compare("dL/dx[\(i)]", grads.input![i], numeric, scale)
    }

    // Parameters, shared or per column.
    let parameters: [(String, WritableKeyPath<Problem<S>, Param<S>?>, [S]?, (BumpReference<Float80>, Float80) -> Float80)] = [
      ("dL/dσ", \.sigmaOptional, grads.sigma, { r, a in a * r.dsigma }),
      ("dL/dc", \.center, grads.center, { r, a in -a * r.dz }),
      ("dL/da", \.amplitude, grads.amplitude, { r, _ in r.f }),
    ]
    for (name, keyPath, gradient, partial) in parameters {
      guard let param = p[keyPath: keyPath] else {
        #expect(gradient == nil)
        continue
      }
      let gradient = try #require(gradient)
      let columns: [Int?] = param.isPerUnit ? Array(0..<p.columns) : [nil]
      #expect(gradient.count == columns.count)
      for (k, column) in columns.enumerated() {
        let numeric = Self.difference(p, upstream, options, keyPath, column: column)
        let entries = p.x.indices.filter { column == nil || $0 % p.columns == column! }
        let scale = Self.scale(p, upstream, entries: entries, partial)
        compare("\(name)[\(column.map(String.init) ?? "shared")]", gradient[k], numeric, scale)
      }
    }
    print("finite differences \(layout) \(implementation): max |backward − difference| / scale = \(worst)")
  }
}

extension Problem {
  /// σ as an optional, so that all three parameters share one key-path type.
  var sigmaOptional: Param<S>? {
    get { sigma }
    set { sigma = newValue! }
  }
}
