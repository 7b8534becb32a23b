import BumpKernels
import Testing
import BumpTestSupport

/// Batch reductions of the parameter gradients (the documented rule: relative error ≤ 1e-5 for
/// Float over 10⁶ terms), against Double sums of per-element contributions computed in
/// Double from the reference formula.
@Suite("Reductions")
struct ReductionTests {
  static let columns = 5  // one full 4-lane vector plus a tail; a tail only for 8 and 16
  static let rows = TestConfig.count(release: 1_000_000, debug: 10_000)

  /// Float inputs with σ, c, a per column, x across the support and a little beyond it.
  /// `positiveUpstream` makes every σ and a contribution ≥ 0, so that the sum has no
  /// cancellation and its relative error is meaningful on its own.
  static func problem(positiveUpstream: Bool, seed: UInt64) -> (Problem<Float>, upstream: [Float]) {
    var rng = SplitMix64(seed: seed)
    let sigmas = (0..<columns).map { _ in Float(rng.logUniform(0.3, 3)) }
    let centers = (0..<columns).map { _ in Float(rng.uniform(-1, 1)) }
    let amplitudes = (0..<columns).map { _ in Float(rng.uniform(0.5, 2)) }
    var x = [Float](), upstream = [Float]()
    x.reserveCapacity(rows * columns)
    upstream.reserveCapacity(rows * columns)
    for i in 0..<(rows * columns) {
      let j = i % columns
      x.append(Float(Double(centers[j]) + rng.uniform(-1.1, 1.1) * Double(sigmas[j]).squareRoot()))
      upstream.append(Float(positiveUpstream ? rng.unit() : rng.uniform(-1, 1)))
    }
    let p = Problem(
      rows: rows, columns: columns, x: x, sigma: .perUnit(sigmas), center: .perUnit(centers),
      amplitude: .perUnit(amplitudes))
    return (p, upstream)
  }

  /// A problem with, per column, Σ G·∂g/∂σ, Σ G·∂g/∂c, Σ G·∂g/∂a in Double from the
  /// reference formula, and the Σ of their magnitudes. Built once, shared by the tests of
  /// every implementation.
  struct Case: Sendable {
    let problem: Problem<Float>
    let upstream: [Float]
    let positiveUpstream: Bool
    var sums = [[Double]](repeating: [Double](repeating: 0, count: columns), count: 3)
    var magnitudes = [[Double]](repeating: [Double](repeating: 0, count: columns), count: 3)

    init(positiveUpstream: Bool, seed: UInt64) {
      (problem, upstream) = ReductionTests.problem(positiveUpstream: positiveUpstream, seed: seed)
      self.positiveUpstream = positiveUpstream
      for i in problem.x.indices {
        let j = i % columns
        let r = Float.reference(z: problem.zAt(i), sigma: problem.sigmaAt(i))
        let g = Double(upstream[i]), a = Double(problem.amplitudeAt(i))
        let (ds, dc, da) = (g * a * r.dsigma, -g * a * r.dz, g * r.f)
        sums[0][j] += ds
        sums[1][j] += dc
        sums[2][j] += da
        magnitudes[0][j] += abs(ds)
        magnitudes[1][j] += abs(dc)
        magnitudes[2][j] += abs(da)
      }
    }
  }

  static let positiveCase = Case(positiveUpstream: true, seed: 0x5E_0001)
  static let signedCase = Case(positiveUpstream: false, seed: 0x5E_0002)

  @Test("Per-column Float gradient sums over 10⁶ rows are within 1e-5 of a Double sum", arguments: floatImplementations)
  func perColumn(_ implementation: KernelImplementation) {
    for c in [Self.positiveCase, Self.signedCase] {
      let (p, upstream, sums, magnitudes, positive) = (c.problem, c.upstream, c.sums, c.magnitudes, c.positiveUpstream)
      for threads in [1, 2] {
        let grads = p.backward(upstream: upstream, KernelOptions(implementation: implementation, threads: threads), input: false)
        for (k, (name, got)) in [("dL/dσ", grads.sigma!), ("dL/dc", grads.center!), ("dL/da", grads.amplitude!)].enumerated() {
          var worst = 0.0
          for j in 0..<Self.columns {
            // With G ≥ 0 the σ and a sums have no cancellation: plain relative error. The c
            // sum (∂g/∂c changes sign with z), and every sum for signed G, are measured
            // against Σ|term|, the scale rounding errors are proportional to.
            let noCancellation = positive && k != 1
            let scale = noCancellation ? abs(sums[k][j]) : magnitudes[k][j]
            let err = abs(Double(got[j]) - sums[k][j]) / scale
            worst = max(worst, err)
            #expect(err <= 1e-5, "\(name)[\(j)] = \(got[j]), Double sum \(sums[k][j]), error \(err) relative to \(scale) (\(implementation), \(threads) threads, G \(positive ? "≥ 0" : "signed"))")
          }
          if threads == 1 {
            print("reduction \(name) \(implementation) over \(Self.rows) rows, G \(positive ? "≥ 0" : "signed"): max relative error \(worst)")
          }
        }
      }
    }
  }

  @Test("A shared parameter's gradient is the sum of the per-unit ones", arguments: floatImplementations)
  func sharedIsSumOfPerUnit(_ implementation: KernelImplementation) {
    let options = KernelOptions(implementation: implementation, threads: 2)
    let rows = TestConfig.count(release: 20_000, debug: 2_000), columns = 13
    var rng = SplitMix64(seed: 0x54A4ED)
    let (sigma, center, amplitude): (Float, Float, Float) = (1.3, 0.2, -0.7)
    let x = (0..<(rows * columns)).map { _ in Float(rng.uniform(-1.2, 1.6)) }
    let upstream = (0..<(rows * columns)).map { _ in Float(rng.unit()) }
    let shared = Problem(rows: rows, columns: columns, x: x, sigma: .shared(sigma), center: .shared(center), amplitude: .shared(amplitude))
    let perUnit = Problem(
      rows: rows, columns: columns, x: x, sigma: .perUnit([Float](repeating: sigma, count: columns)),
      center: .perUnit([Float](repeating: center, count: columns)),
      amplitude: .perUnit([Float](repeating: amplitude, count: columns)))
    let s = shared.backward(upstream: upstream, options, input: false)
    let u = perUnit.backward(upstream: upstream, options, input: false)
    for (name, one, many) in [("dL/dσ", s.sigma!, u.sigma!), ("dL/dc", s.center!, u.center!), ("dL/da", s.amplitude!, u.amplitude!)] {
      #expect(one.count == 1 && many.count == columns)
      let total = many.reduce(0.0) { $0 + Double($1) }
      let magnitude = many.reduce(0.0) { $0 + abs(Double($1)) }
      // Each per-unit value is its column's Double total rounded to Float once; the
      // shared value is the sum of the same totals rounded once: they differ by at most
      // (columns + 1) roundings of the magnitudes.
      let bound = Double(columns + 1) * Double(Float.ulpOfOne) * magnitude
      #expect(abs(Double(one[0]) - total) <= bound, "\(name): shared \(one[0]), Σ per-unit \(total) (\(implementation))")
      #expect(magnitude > 0, "\(name): no signal")
    }
  }
}
