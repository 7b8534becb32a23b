import BumpKernels
import Testing
import BumpTestSupport

/// The radial bump kernels against a reference evaluated in the wider type (Float80 for
/// Double, Double for Float) from the same inputs: r² straight from the definition, then f,
/// H = ∂g/∂r², ∂g/∂σ and the reductions. Covers both ways to r² (direct, and the GEMM form
/// with the kernel's recompute rule, including the cancellation regime of large, close x
/// and c), exact zeros, NaN-free sweeps over huge and tiny σ and r², and thread counts.
@Suite("Radial bump kernels")
struct RadialBumpKernelTests {
  /// A radial problem: X (rows × d), C (units × d), σ and a per unit.
  struct RadialProblem<S: TestScalar> {
    var rows, units, dimension: Int
    var x: [S]
    var c: [S]
    var sigma: [S]
    var amplitude: [S]?

    var centersT: [S] {
      var t = [S](repeating: 0, count: c.count)
      for j in 0..<units { for k in 0..<dimension { t[k * units + j] = c[j * dimension + k] } }
      return t
    }

    /// The kernels' outputs for one forward and one backward pass.
    struct Result {
      var g, f, r2, weights, rowSums, dSigma, dAmplitude, columnSums: [S]
      var dx: [S]?, dCenterT: [S]?
    }

    /// Runs forward and backward. `gemm` computes P = X'·C'ᵀ of the inputs and centres
    /// shifted by the centres' mean, in `S`, as a BLAS would (plain dot products).
    func run(gemm: Bool, upstream: [S], options: KernelOptions = KernelOptions()) -> Result {
      let d = dimension
      var r2 = [S](repeating: .nan, count: rows * units)
      var norms: ([S], [S])? = nil
      if gemm {
        var mean = [S](repeating: 0, count: d)
        for k in 0..<d {
          var s = 0.0
          for j in 0..<units { s += Double(c[j * d + k]) }
          mean[k] = S(s / Double(units))
        }
        let xs = (0..<(rows * d)).map { x[$0] - mean[$0 % d] }
        let cs = (0..<(units * d)).map { c[$0] - mean[$0 % d] }
        func dot(_ a: [S], _ i: Int, _ b: [S], _ j: Int) -> S {
          var s: S = 0
          for k in 0..<d { s = s.addingProduct(a[i * d + k], b[j * d + k]) }
          return s
        }
        for b in 0..<rows { for j in 0..<units { r2[b * units + j] = dot(xs, b, cs, j) } }
        norms = ((0..<rows).map { dot(xs, $0, xs, $0) }, (0..<units).map { dot(cs, $0, cs, $0) })
      }
      let n = rows * units
      let g = Buffer<S>(n), f = Buffer<S>(n), r2b = Buffer<S>(r2), w = Buffer<S>(n), rs = Buffer<S>(rows)
      let ds = Buffer<S>(units), da = Buffer<S>(units), cs = Buffer<S>(units)
      let dx = Buffer<S>(rows * d), dct = Buffer<S>(units * d)
      let ct = Buffer<S>(centersT), cb = Buffer<S>(c), xb = Buffer<S>(x), sb = Buffer<S>(sigma)
      let ab = amplitude.map { Buffer<S>($0) }
      let xn = norms.map { Buffer<S>($0.0) }, cn = norms.map { Buffer<S>($0.1) }
      let up = Buffer<S>(upstream)
      // The buffers hand out raw pointers: keep every one alive until the calls return.
      return withExtendedLifetime((g, f, r2b, w, rs, ds, da, cs, dx, dct, ct, cb, xb, sb, ab, xn, cn, up)) {
      RadialBumpKernel.forward(
        inputs: xb.read, centers: cb.read, centersTransposed: gemm ? nil : ct.read, rows: rows, units: units,
        dimension: d, squaredDistances: r2b.p, inputNorms: xn?.read, centerNorms: cn?.read,
        sigma: sb.read, amplitude: ab?.read, output: g.p, cache: f.p, options: options)
      RadialBumpKernel.backward(
        squaredDistances: r2b.read, cache: f.read, upstream: up.read, inputs: xb.read,
        centersTransposed: gemm ? nil : ct.read, rows: rows, units: units, dimension: d, sigma: sb.read, amplitude: ab?.read,
        direct: !gemm, weights: w.p, rowSums: rs.p, sigmaGradient: ds.p,
        amplitudeGradient: amplitude == nil ? nil : da.p, columnSums: cs.p,
        inputGradient: gemm ? nil : dx.p, centerGradientTransposed: gemm ? nil : dct.p, options: options)
      return Result(
        g: g.array, f: f.array, r2: r2b.array, weights: w.array, rowSums: rs.array, dSigma: ds.array,
        dAmplitude: da.array, columnSums: cs.array, dx: gemm ? nil : dx.array, dCenterT: gemm ? nil : dct.array)
      }
    }

    /// r² of (row b, unit j) from the definition, in the wide type.
    func referenceR2(_ b: Int, _ j: Int) -> S.Wide {
      var s: S.Wide = 0
      for k in 0..<dimension {
        let diff = S.widen(x[b * dimension + k]) - S.widen(c[j * dimension + k])
        s += diff * diff
      }
      return s
    }

    /// f, H = ∂g/∂r² and ∂g/∂σ at a given r², in the wide type.
    func referenceBump(r2: S.Wide, _ j: Int) -> (f: S.Wide, h: S.Wide, ds: S.Wide, t: S.Wide) {
      let s = S.widen(sigma[j]), a = S.widen(amplitude?[j] ?? 1)
      let u = s - r2
      guard s > 0, u > 0 else { return (0, 0, 0, 0) }
      let t = s / u
      let f = S.wideExp(-t)
      return (f, -a * t * f / u, a * (r2 / u) * f / u, t)
    }
  }

  /// Memory the kernels write through, NaN-filled so that unwritten outputs show.
  final class Buffer<S: TestScalar> {
    let p: UnsafeMutableBufferPointer<S>
    init(_ count: Int) {
      p = .allocate(capacity: count)
      p.initialize(repeating: .nan)
    }
    init(_ values: [S]) {
      p = .allocate(capacity: values.count)
      _ = p.initialize(from: values)
    }
    deinit { p.deallocate() }
    var read: UnsafeBufferPointer<S> { UnsafeBufferPointer(p) }
    var array: [S] { Array(p) }
  }

  /// Random problems: x and c within `spread` of `offset` in every coordinate, σ chosen so
  /// that about half the pairs fall inside the support, upstream gradients in ±1.
  static func problem<S: TestScalar>(
    _: S.Type, rows: Int, units: Int, dimension d: Int, offset: Double, spread: Double, seed: UInt64,
    amplitude: Bool = true
  ) -> (RadialProblem<S>, [S]) {
    var rng = SplitMix64(seed: seed)
    let x = (0..<(rows * d)).map { _ in S(offset + rng.uniform(-spread, spread)) }
    let c = (0..<(units * d)).map { _ in S(offset + rng.uniform(-spread, spread)) }
    // Mean r² between two uniform points on ±spread is (2/3)·spread²·d.
    let typical = 2.0 / 3.0 * spread * spread * Double(d)
    let sigma = (0..<units).map { _ in S(typical * rng.logUniform(0.2, 2)) }
    let a = amplitude ? (0..<units).map { _ in S(rng.uniform(-2, 2)) } : nil
    let g = (0..<(rows * units)).map { _ in S(rng.uniform(-1, 1)) }
    return (RadialProblem(rows: rows, units: units, dimension: d, x: x, c: c, sigma: sigma, amplitude: a), g)
  }

  /// The documented bound on |r²(kernel) − r²| inside the support: the GEMM rule's
  /// ρ·κ(d)·σ, which also covers the direct form's (d + 2)·ε·r².
  static func r2Bound<S: TestScalar>(_: S.Type, dimension: Int, sigma: S) -> Double {
    RadialBumpKernel.acceptRatio * Double(RadialBumpKernel.errorBoundFactor(dimension: dimension, S.self)) * Double(sigma)
  }

  /// Checks one problem against the wide reference; returns the largest |δr²|/(ε·σ) inside
  /// the support.
  @discardableResult
  static func checkAgainstReference<S: TestScalar>(
    _ p: RadialProblem<S>, upstream: [S], gemm: Bool, _ label: String,
    sourceLocation: SourceLocation = #_sourceLocation
  ) -> Double {
    let r = p.run(gemm: gemm, upstream: upstream)
    var worstR2 = MaxTracker(), worstF = MaxTracker(), worstH = MaxTracker()
    var inside = 0
    var refDSigma = [Double](repeating: 0, count: p.units), refDA = refDSigma, refCS = refDSigma
    var scaleDSigma = refDSigma, scaleDA = refDSigma, scaleCS = refDSigma
    let eps = Double(S.ulpOfOne)
    for b in 0..<p.rows {
      for j in 0..<p.units {
        let i = b * p.units + j
        let r2ref = p.referenceR2(b, j)
        let sigma = S.widen(p.sigma[j])
        let g = S.widen(upstream[i])
        if r2ref < sigma {
          inside += 1
          let err = S.toDouble(abs(S.widen(r.r2[i]) - r2ref))
          worstR2.update(err / (eps * Double(p.sigma[j])), "(\(b), \(j))")
          #expect(err <= r2Bound(S.self, dimension: p.dimension, sigma: p.sigma[j]), "\(label): r² error \(err) at (\(b), \(j))", sourceLocation: sourceLocation)
          // f and H against the reference at the kernel's own r²: the bump part alone.
          let atKernel = p.referenceBump(r2: S.widen(r.r2[i]), j)
          if S.isNormal(atKernel.f) && atKernel.f > 0 {
            let tol = 4 * S.valueTolerance * max(1, S.toDouble(atKernel.t))
            let ef = S.relativeError(r.f[i], atKernel.f)
            worstF.update(ef / tol, "(\(b), \(j))")
            if S.isNormal(atKernel.h) {
              worstH.update(S.relativeError(r.weights[i], g * atKernel.h) / (4 * tol), "(\(b), \(j))")
            }
          }
        } else {
          #expect(r.g[i] == 0 && r.weights[i] == 0, "\(label): nonzero outside the support at (\(b), \(j))", sourceLocation: sourceLocation)
        }
        // The sums against the reference at the kernel's r² (whose own error is checked
        // above): near the boundary a term is too sensitive to r² to compare otherwise.
        let atKernel = p.referenceBump(r2: S.widen(r.r2[i]), j)
        refDSigma[j] += S.toDouble(g * atKernel.ds)
        refDA[j] += S.toDouble(g * atKernel.f)
        refCS[j] += S.toDouble(g * atKernel.h)
        scaleDSigma[j] += abs(S.toDouble(g * atKernel.ds))
        scaleDA[j] += abs(S.toDouble(g * atKernel.f))
        scaleCS[j] += abs(S.toDouble(g * atKernel.h))
      }
    }
    #expect(inside > p.rows * p.units / 10, "\(label): only \(inside) pairs inside the supports", sourceLocation: sourceLocation)
    #expect(worstF.value <= 1, "\(label): f \(worstF)", sourceLocation: sourceLocation)
    #expect(worstH.value <= 1, "\(label): H \(worstH)", sourceLocation: sourceLocation)
    // Sums: relative to Σ|terms|, with room for the terms' own errors near the boundary.
    let sumTol = S.self == Float.self ? 1e-5 : 1e-13
    for j in 0..<p.units {
      for (got, want, scale, name) in [
        (r.dSigma[j], refDSigma[j], scaleDSigma[j], "dσ"), (r.columnSums[j], refCS[j], scaleCS[j], "colsum"),
      ] + (p.amplitude == nil ? [] : [(r.dAmplitude[j], refDA[j], scaleDA[j], "da")]) {
        #expect(abs(Double(got) - want) <= sumTol * scale + 1e-300, "\(label): \(name)[\(j)] = \(got), reference \(want)", sourceLocation: sourceLocation)
      }
    }
    return worstR2.value
  }

  @Test("Direct form against the wide reference", arguments: [1, 2, 3, 8, 17])
  func directAccuracy(dimension: Int) {
    let (pf, gf) = Self.problem(Float.self, rows: 37, units: 21, dimension: dimension, offset: 0, spread: 1, seed: 1)
    Self.checkAgainstReference(pf, upstream: gf, gemm: false, "Float d=\(dimension)")
    let (pd, gd) = Self.problem(Double.self, rows: 37, units: 21, dimension: dimension, offset: 0, spread: 1, seed: 2)
    Self.checkAgainstReference(pd, upstream: gd, gemm: false, "Double d=\(dimension)")
  }

  /// The GEMM form with the recompute rule, from benign data (centred) to the cancellation
  /// regime (offsets of 10³ to 10⁶ spreads, where ‖x‖² + ‖c‖² exceeds σ by up to 10¹³).
  @Test("GEMM form against the wide reference, cancellation included", arguments: [0.0, 10, 1e3, 1e6])
  func gemmAccuracy(offset: Double) {
    for d in [2, 16, 64] {
      let (pf, gf) = Self.problem(Float.self, rows: 33, units: 19, dimension: d, offset: offset, spread: 1, seed: 3)
      Self.checkAgainstReference(pf, upstream: gf, gemm: true, "Float d=\(d) offset \(offset)")
      let (pd, gd) = Self.problem(Double.self, rows: 33, units: 19, dimension: d, offset: offset, spread: 1, seed: 4)
      Self.checkAgainstReference(pd, upstream: gd, gemm: true, "Double d=\(d) offset \(offset)")
    }
  }

  /// Without the shift and without the recompute rule, the GEMM form of the cancellation
  /// regime is useless: this documents why the rule exists (errors of order σ).
  @Test("The GEMM form alone cancels: the rule is needed")
  func gemmAloneCancels() {
    let d = 16
    let (p, _) = Self.problem(Float.self, rows: 20, units: 10, dimension: d, offset: 1e3, spread: 1, seed: 5)
    var worst = 0.0
    for b in 0..<p.rows {
      for j in 0..<p.units {
        var xn: Float = 0, cn: Float = 0, dot: Float = 0
        for k in 0..<d {
          let xv = p.x[b * d + k], cv = p.c[j * d + k]
          xn = xn.addingProduct(xv, xv); cn = cn.addingProduct(cv, cv); dot = dot.addingProduct(xv, cv)
        }
        let naive = Double(xn + cn - 2 * dot)
        worst = max(worst, abs(naive - p.referenceR2(b, j)) / Double(p.sigma[j]))
      }
    }
    #expect(worst > 0.1, "the unshifted GEMM form was accurate after all (\(worst)): the test no longer shows the problem")
  }

  /// The measured error of the GEMM form where the rule keeps it, relative to its bound
  /// κ(d)·(‖x‖² + ‖c‖²): the figure the docs quote.
  @Test("Measured GEMM error stays far below κ(d)·(‖x‖² + ‖c‖²)")
  func measuredGemmBound() {
    for d in [2, 16, 64, 256] {
      for offset in [0.0, 3, 30] {
        let (p, _) = Self.problem(Float.self, rows: 64, units: 32, dimension: d, offset: offset, spread: 1, seed: UInt64(d) + 7)
        let r = p.run(gemm: true, upstream: [Float](repeating: 1, count: p.rows * p.units))
        var worst = 0.0
        let kappa = Double(RadialBumpKernel.errorBoundFactor(dimension: d, Float.self))
        let mean = (0..<d).map { k in (0..<p.units).map { Double(p.c[$0 * d + k]) }.reduce(0, +) / Double(p.units) }
        for b in 0..<p.rows {
          for j in 0..<p.units {
            var n = 0.0
            for k in 0..<d {
              let xs = Double(p.x[b * d + k]) - mean[k], cs = Double(p.c[j * d + k]) - mean[k]
              n += xs * xs + cs * cs
            }
            worst = max(worst, abs(Double(r.r2[b * p.units + j]) - p.referenceR2(b, j)) / (kappa * n))
          }
        }
        #expect(worst <= 0.5, "d=\(d) offset \(offset): error \(worst)·κ(d)·N")
      }
    }
  }

  /// Exactly 0 outside the support and no NaN anywhere for finite inputs, over σ and r²
  /// from the smallest subnormal to the largest finite values.
  @Test("NaN-free and exact zeros over huge and tiny σ and r²")
  func extremeSweep() {
    sweep(Float.self, sigmas: [0, 0x1p-149, 0x1p-140, 1e-38, 1e-30, 1e-10, 1, 1e10, 1e30, 1e38, .greatestFiniteMagnitude],
          scales: [0, 1e-30, 1e-20, 1e-5, 1, 1e5, 1e15, 1e19, 1e30, 1e38])
    sweep(Double.self, sigmas: [0, 0x1p-1074, 0x1p-1030, 1e-300, 1e-100, 1, 1e100, 1e300, .greatestFiniteMagnitude],
          scales: [0, 1e-300, 1e-160, 1e-50, 1, 1e50, 1e150, 1e160, 1e300, 1e308])
  }

  func sweep<S: TestScalar>(_: S.Type, sigmas: [S], scales: [S]) {
    var rng = SplitMix64(seed: 11)
    for d in [1, 3, 16] {
      for gemm in [false, true] {
        let units = sigmas.count * 2, rows = scales.count * 3
        // Centres near the origin or at the scale of the inputs; inputs at every scale, some
        // right at a centre and some just beside one.
        var c = [S](), x = [S]()
        for j in 0..<units {
          for _ in 0..<d { c.append(j % 2 == 0 ? 0 : S(rng.uniform(-1, 1)) * scales[j % scales.count]) }
        }
        for b in 0..<rows {
          let s = scales[b % scales.count]
          for k in 0..<d {
            let base: S = b % 3 == 0 ? c[(b % units) * d + k] : 0
            x.append(base + S(rng.uniform(-1, 1)) * s)
          }
        }
        let sigma = (0..<units).map { sigmas[$0 % sigmas.count] }
        let a = (0..<units).map { _ in S(rng.uniform(-2, 2)) }
        let upstream = (0..<(rows * units)).map { _ in S(rng.uniform(-1, 1)) }
        let p = RadialProblem(rows: rows, units: units, dimension: d, x: x, c: c, sigma: sigma, amplitude: a)
        let r = p.run(gemm: gemm, upstream: upstream)
        let label = "\(S.self) d=\(d) \(gemm ? "gemm" : "direct")"
        for (name, values) in [("g", r.g), ("f", r.f), ("W", r.weights), ("da", r.dAmplitude)] {
          #expect(!values.contains { $0.isNaN }, "\(label): NaN in \(name)")
        }
        // A weight of a subnormal σ may exceed the range (H ~ 1/σ): an infinite term is
        // allowed there, and sums of opposite infinite terms have no value. Everywhere else
        // the sums are NaN-free.
        let infiniteRows = Set((0..<rows).filter { b in (0..<units).contains { r.weights[b * units + $0].isInfinite } })
        let infiniteUnits = Set((0..<units).filter { j in (0..<rows).contains { r.weights[$0 * units + j].isInfinite } })
        for b in 0..<rows where !infiniteRows.contains(b) {
          #expect(!r.rowSums[b].isNaN, "\(label): NaN row sum \(b)")
          for k in 0..<d where !gemm { #expect(!r.dx![b * d + k].isNaN, "\(label): NaN dx at (\(b), \(k))") }
        }
        for j in 0..<units where !infiniteUnits.contains(j) {
          #expect(!r.columnSums[j].isNaN && !r.dSigma[j].isNaN, "\(label): NaN sum for unit \(j)")
          for k in 0..<d where !gemm { #expect(!r.dCenterT![k * units + j].isNaN, "\(label): NaN dcᵀ at (\(k), \(j))") }
        }
        #expect(!r.g.contains { $0.isInfinite }, "\(label): infinite g")
        for b in 0..<rows {
          for j in 0..<units where !(p.referenceR2(b, j) < S.widen(sigma[j])) {
            let i = b * units + j
            // A GEMM r² may land within its bound of σ: allow a value only where the
            // reference is that close to the boundary (f is then e^(−huge), i.e. 0, anyway).
            #expect(r.g[i] == 0 && r.weights[i] == 0, "\(label): nonzero outside at (\(b), \(j)): g \(r.g[i]), W \(r.weights[i])")
          }
        }
      }
    }
  }

  @Test("NaN input propagates")
  func nanPropagates() {
    var (p, g) = Self.problem(Double.self, rows: 4, units: 5, dimension: 3, offset: 0, spread: 1, seed: 12)
    p.x[4] = .nan  // row 1
    for gemm in [false, true] {
      let r = p.run(gemm: gemm, upstream: g)
      for j in 0..<5 { #expect(r.g[5 + j].isNaN && r.weights[5 + j].isNaN) }
      #expect(!r.g[0].isNaN)
    }
  }

  /// Bit-identical results for 1, 2 and 3 threads and several tasks' worth of rows.
  @Test("Results do not depend on the thread count")
  func threadIndependence() {
    for (d, gemm) in [(2, false), (16, true)] {
      let (p, g) = Self.problem(Float.self, rows: 2600, units: 48, dimension: d, offset: 0, spread: 1, seed: 13)
      let one = p.run(gemm: gemm, upstream: g, options: KernelOptions(threads: 1))
      for threads in [2, 3] {
        let other = p.run(gemm: gemm, upstream: g, options: KernelOptions(threads: threads))
        for (a, b, name) in [(one.g, other.g, "g"), (one.weights, other.weights, "W"), (one.dSigma, other.dSigma, "dσ"),
                             (one.dAmplitude, other.dAmplitude, "da"), (one.columnSums, other.columnSums, "colsum"),
                             (one.rowSums, other.rowSums, "rowsum"), (one.dx ?? [], other.dx ?? [], "dx"),
                             (one.dCenterT ?? [], other.dCenterT ?? [], "dcᵀ")] {
          #expect(firstBitDifference(a, b) == nil, "d=\(d), \(threads) threads: \(name) differs")
        }
      }
    }
  }

  /// Every SIMD width computes the same values to within rounding (reduction order differs).
  @Test("SIMD widths agree", arguments: [2, 16])
  func widthsAgree(dimension: Int) {
    let (p, g) = Self.problem(Double.self, rows: 40, units: 13, dimension: dimension, offset: 0, spread: 1, seed: 14)
    let runs = Double.supportedSIMDWidths.map { p.run(gemm: dimension > 8, upstream: g, options: KernelOptions(implementation: .simd(width: $0))) }
    for r in runs.dropFirst() {
      for i in r.g.indices { #expect(abs(r.g[i] - runs[0].g[i]) <= 1e-14 * max(1, abs(runs[0].g[i]))) }
      for j in 0..<p.units { #expect(abs(r.dSigma[j] - runs[0].dSigma[j]) <= 1e-12 * max(1, abs(runs[0].dSigma[j]))) }
    }
  }

  /// The direct form's input and centre gradients against the wide reference formulas
  /// dL/dx = 2·Σⱼ Wⱼ(x − cⱼ) and dL/dcⱼ = −2·Σ_b Wⱼ(x − cⱼ) with the reference W.
  @Test("Direct input and centre gradients")
  func directGradients() {
    let (p, g) = Self.problem(Double.self, rows: 30, units: 11, dimension: 3, offset: 0.5, spread: 1, seed: 15)
    let r = p.run(gemm: false, upstream: g)
    let d = p.dimension
    typealias W = Double.Wide
    var dx = [W](repeating: 0, count: p.rows * d), dc = [W](repeating: 0, count: p.units * d)
    var sx = dx, sc = dc
    for b in 0..<p.rows {
      for j in 0..<p.units {
        let w = W(g[b * p.units + j]) * p.referenceBump(r2: p.referenceR2(b, j), j).h
        for k in 0..<d {
          let diff = W(p.x[b * d + k]) - W(p.c[j * d + k])
          dx[b * d + k] += 2 * w * diff
          dc[j * d + k] -= 2 * w * diff
          sx[b * d + k] += abs(2 * w * diff)
          sc[j * d + k] += abs(2 * w * diff)
        }
      }
    }
    for i in dx.indices { #expect(abs(W(r.dx![i]) - dx[i]) <= 1e-12 * (sx[i] + 1e-300)) }
    for j in 0..<p.units {
      for k in 0..<d {
        #expect(abs(W(r.dCenterT![k * p.units + j]) - dc[j * d + k]) <= 1e-12 * (sc[j * d + k] + 1e-300))
      }
    }
  }
}
