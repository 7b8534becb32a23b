import BumpKernels

/// Checks per-element kernel results against the wide reference and the numeric rules of
/// the numeric rules of the "The bump function" article, collecting the largest errors and the first failures.
///
/// Rules, for finite parameters with σ ≥ 0:
/// - NaN input gives NaN value and NaN gradients; otherwise nothing is NaN.
/// - Outside the support (exact σ − z² ≤ 0, or σ = 0) value and every gradient are exactly 0.
/// - Where the kernel's f is 0 every gradient is 0 (never 0·∞).
/// - ±∞ only where the true value is beyond the type's range.
/// - Where σ, u = σ − z² and f are normal: relative error of f and g at most
///   tol·max(1, t), of each gradient at most 4·tol·max(1, t), with tol from the documented accuracy.
///
/// The reference takes z = x − c rounded in the kernel's type — exactly what the kernels feed
/// to f. The subtraction's rounding is not kernel error: f's condition number in z is
/// 2t(t − 1), so an error of one rounding in z would show up as 2t(t − 1)·2⁻²⁴ in Float,
/// which no implementation in that type can avoid.
///
/// Gradients get an absolute floor of 4·max(1, t)·max(1, |a|)·(least nonzero magnitude):
/// where an intermediate product (q·f, or the final a·∂f) falls into the subnormal range it
/// carries an absolute error of up to half a subnormal ulp, which the later factors (2t, a)
/// scale. That floor is ~1e-45 in Float and ~5e-324 in Double, so it only matters for
/// gradients that are themselves subnormal or nearly so (z ≈ 0, tiny q), never for values
/// of ordinary size.
struct ElementCheck<S: TestScalar> {
  /// The rules, so that a test can isolate one.
  enum Rule: String, CaseIterable, Sendable {
    case nanPropagates = "NaN input gives NaN"
    case noNaN = "no NaN from finite inputs"
    case zeroOutside = "exactly 0 outside the support"
    case zeroWhereUnderflow = "gradients 0 where f is 0"
    case noSpuriousInfinity = "±∞ only beyond the range"
    case accuracy = "accuracy where σ, u, f are normal"
  }

  /// The checked quantities: g, f (the forward cache) and the four partials of g.
  enum Quantity: Int, CaseIterable {
    case g, f, dx, dsigma, dc, da
    var name: String { ["g", "f", "∂g/∂x", "∂g/∂σ", "∂g/∂c", "∂g/∂a"][rawValue] }
    var isGradient: Bool { rawValue >= 2 }
  }

  let label: String
  /// Largest relative error / max(1, t) per quantity, where the exact value is normal.
  var maxima = [MaxTracker](repeating: MaxTracker(), count: Quantity.allCases.count)
  /// Elements on which the accuracy bound was checked.
  var accuracyChecked = 0
  var failureCount = 0
  var failuresByRule: [Rule: Int] = [:]
  /// The first few failure messages of each rule.
  var examples: [Rule: [String]] = [:]

  init(_ label: String) { self.label = label }

  private mutating func fail(_ rule: Rule, _ message: @autoclosure () -> String) {
    failureCount += 1
    failuresByRule[rule, default: 0] += 1
    if examples[rule, default: []].count < 6 { examples[rule, default: []].append(message()) }
  }

  /// Checks every element of a one-row problem; `references` may carry the precomputed
  /// ``TestScalar/reference(z:sigma:)`` of each element.
  mutating func check(_ problem: Problem<S>, _ r: ElementResults<S>, references: [BumpReference<S.Wide>]? = nil) {
    for i in 0..<problem.x.count {
      check(problem, r, i, references?[i] ?? S.reference(z: problem.zAt(i), sigma: problem.sigmaAt(i)))
    }
  }

  mutating func check(_ problem: Problem<S>, _ r: ElementResults<S>, _ i: Int, _ ref: BumpReference<S.Wide>) {
    let x = problem.x[i], sigma = problem.sigmaAt(i), a = problem.amplitudeAt(i)
    let c = problem.center?.value(at: i) ?? 0
    let aw = S.widen(a)
    let label = self.label
    func where_() -> String { "x=\(x) σ=\(sigma) c=\(c) a=\(a) [\(label)]" }

    /// The kernel's value and the exact one, or nil when the kernel did not compute it.
    func item(_ q: Quantity) -> (got: S, exact: S.Wide)? {
      switch q {
      case .g: return (r.g[i], aw * ref.f)
      case .f: return (r.f[i], ref.f)
      case .dx: return (r.dx[i], aw * ref.dz)
      case .dsigma: return (r.dsigma[i], aw * ref.dsigma)
      case .dc: return r.dc.map { ($0[i], -aw * ref.dz) }
      case .da: return r.da.map { ($0[i], ref.f) }
      }
    }

    if ref.isNaN {
      for q in Quantity.allCases {
        guard let (got, _) = item(q), !got.isNaN else { continue }
        fail(.nanPropagates, "NaN input must give NaN \(q.name), got \(got): \(where_())")
      }
      return
    }
    for q in Quantity.allCases {
      guard let (got, exact) = item(q) else { continue }
      if got.isNaN {
        fail(.noNaN, "\(q.name) is NaN for finite parameters: \(where_()) (t=\(S.toDouble(ref.t)))")
      }
      if !ref.inside && got != 0 {
        fail(.zeroOutside, "\(q.name) = \(got) outside the support (σ−z² = \(S.toDouble(ref.u))), expected exactly 0: \(where_())")
      }
      if ref.inside && q.isGradient && r.f[i] == 0 && got != 0 {
        fail(.zeroWhereUnderflow, "f underflowed to 0 but \(q.name) = \(got): \(where_())")
      }
      if got.isInfinite && !S.isBeyondRange(exact) {
        fail(.noSpuriousInfinity, "\(q.name) = \(got) but the true value \(S.toDouble(exact)) is finite: \(where_())")
      }
    }

    guard ref.inside, S.isNormal(S.widen(sigma)), S.isNormal(ref.u), S.isNormal(ref.f) else { return }
    accuracyChecked += 1
    let scale = max(1, S.toDouble(ref.t))
    let tol = S.valueTolerance * scale
    let floor = S.Wide(4 * scale) * max(1, abs(aw)) * S.widen(S.leastNonzeroMagnitude)
    for q in Quantity.allCases {
      guard let (got, exact) = item(q), !S.isBeyondRange(exact) else { continue }
      let err = S.relativeError(got, exact)
      let bound = q.isGradient ? 4 * tol : tol
      let pass: Bool
      if q.isGradient {
        pass = abs(S.widen(got) - exact) <= S.Wide(bound) * abs(exact) + floor
      } else {
        pass = err <= bound
      }
      if !pass {
        fail(.accuracy, "\(q.name) = \(got), exact \(S.toDouble(exact)): relative error \(err) > \(bound) (t=\(S.toDouble(ref.t))): \(where_())")
      }
      // Report relative errors normalized by max(1, t), where the value is normal (the
      // floor does not apply there).
      if S.isNormal(exact) { maxima[q.rawValue].update(err / scale, where_()) }
    }
  }

  var summary: String {
    """
    \(label): \(accuracyChecked) elements checked for accuracy; max relative error / max(1,t): \
    \(Quantity.allCases.filter { maxima[$0.rawValue].measured }.map { "\($0.name) \(maxima[$0.rawValue].value)" }.joined(separator: ", ")) \
    (tolerance \(S.valueTolerance), gradients ×4)
    """
  }

  var failureReport: String {
    var lines = ["\(failureCount) failures in \(label):"]
    for rule in Rule.allCases {
      guard let n = failuresByRule[rule] else { continue }
      lines.append("[\(rule.rawValue)] \(n) failures, e.g.:")
      lines += (examples[rule] ?? []).map { "  " + $0 }
    }
    return lines.joined(separator: "\n")
  }

  func failures(of rule: Rule) -> Int { failuresByRule[rule] ?? 0 }

  func report(of rule: Rule) -> String {
    "\(failures(of: rule)) failures of [\(rule.rawValue)] in \(label), e.g.:\n"
      + (examples[rule] ?? []).joined(separator: "\n")
  }
}
