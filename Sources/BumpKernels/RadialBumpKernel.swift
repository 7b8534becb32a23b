/// The radial (multivariate) bump and its gradients for a batch of input rows and a set of
/// units, each with a centre cⱼ ∈ ℝᵈ, a width σⱼ ≥ 0 and an optional amplitude aⱼ:
///
///     gⱼ(x) = aⱼ · exp(−σⱼ / (σⱼ − rⱼ²))  where rⱼ² = ‖x − cⱼ‖² < σⱼ,   0 elsewhere.
///
/// With u = σ − r², t = σ/u and f the bump, inside the support
///
///     H = ∂g/∂r² = −a·t·f/u,   ∂g/∂σ = a·(r²/u²)·f,   ∂g/∂a = f,
///
/// and every value and derivative is exactly 0 outside it (the support is decided on u > 0).
/// The backward pass returns W = G ⊙ H, from which the caller gets the input and centre
/// gradients as matrix products, dL/dX = 2·(rowsum(W) ⊙ X − W·C) and
/// dL/dC = −2·(Wᵀ·X − colsum(W) ⊙ C); in the direct form it computes both itself.
///
/// ## Two ways to r²
///
/// - Direct: rⱼ² = Σₖ (xₖ − cⱼₖ)², d fused multiply-adds per element. Its error is at most
///   about d·ε·r² (ε = `ulpOfOne`): small next to σ wherever the point is inside the support.
/// - GEMM form: rⱼ² = ‖x‖² + ‖cⱼ‖² − 2·x·cⱼ from a product P = X·Cᵀ that the caller computes
///   with BLAS. Its error is bounded by ``errorBoundFactor(dimension:_:)``·(‖x‖² + ‖cⱼ‖²),
///   which cancels badly when x and cⱼ are large and close. The kernel keeps the GEMM value
///   where that bound says the point is surely outside the support (r² − bound ≥ σ) or where
///   ‖x‖² + ‖cⱼ‖² ≤ ``acceptRatio``·σⱼ, so that the error is at most
///   `acceptRatio`·`errorBoundFactor`·σⱼ; everywhere else it recomputes r² directly. Callers
///   shift X and C by a common point (the layer uses the centres' mean) before the product,
///   which leaves r² unchanged and makes the norms small.
///
/// Numerics as in ``BumpKernel``: exactly 0 outside the support for the value and every
/// gradient, never NaN from finite inputs with σ ≥ 0 (a distance that overflows lies outside
/// the support; where f underflows every gradient is 0), NaN inputs propagate. The relative
/// error of f is about (t²/σ)·|error of r²| + the element-wise kernel's 8e-7·max(1, t) (Float)
/// or 4e-15·max(1, t) (Double). Results do not depend on the thread count.
///
/// The radial kernels are vectorized only; ``KernelImplementation/scalarReference`` runs the
/// narrowest SIMD width. Shapes are checked with preconditions, parameter values are not.
///
/// See also: ``BumpKernel``.
public enum RadialBumpKernel {
  /// ρ of the GEMM rule: the GEMM value of r² is kept where ‖x‖² + ‖c‖² ≤ ρ·σ (or where the
  /// point is surely outside the support). 8, so that a unit whose support reaches to within
  /// a factor √8 of the norms keeps the fast path.
  public static let acceptRatio = 8.0

  /// κ(d) = (d + 4)·ε: |r²(GEMM) − r²| ≤ κ(d)·(‖x‖² + ‖c‖²) for d-dimensional inputs shifted
  /// by a common point in the same type (rounding of the shift 4u·N, of the two norms and
  /// the dot product 2·γ_d·N, of the final sum 2u·N, with N = ‖x‖² + ‖c‖²). The tests
  /// measure the actual errors against a wide reference; they are far below it.
  public static func errorBoundFactor<Scalar: KernelScalar>(dimension: Int, _: Scalar.Type = Scalar.self) -> Scalar {
    Scalar(dimension + 4) * Scalar.ulpOfOne
  }

  /// Computes g for every (row, unit) pair, writing r² over `squaredDistances`.
  ///
  /// - Parameters:
  ///   - inputs: X, `rows × dimension`, row-major, not shifted.
  ///   - centers: C, `units × dimension`, row-major, not shifted: the GEMM form recomputes
  ///     r² from it where its rule says so.
  ///   - centersTransposed: Cᵀ, `dimension × units`, row-major, not shifted; needed by the
  ///     direct form, `nil` allowed in the GEMM form.
  ///   - rows: the number of input rows (≥ 0).
  ///   - units: the number of units (≥ 0).
  ///   - dimension: d, the number of input features (≥ 0).
  ///   - squaredDistances: `rows × units`. With norms, holds P = X'·C'ᵀ of the shifted
  ///     inputs and centres on entry; on return it holds r², which ``backward(squaredDistances:cache:upstream:inputs:centersTransposed:rows:units:dimension:sigma:amplitude:direct:weights:rowSums:sigmaGradient:amplitudeGradient:columnSums:inputGradient:centerGradientTransposed:options:workspace:)`` reads.
  ///   - inputNorms: ‖x'‖² per row of the shifted inputs (`rows`), or `nil` for the direct form.
  ///   - centerNorms: ‖c'‖² per unit of the shifted centres (`units`), or `nil` for the direct form.
  ///   - sigma: σ per unit (`units`, ≥ 0 and finite: not checked).
  ///   - amplitude: a per unit, or `nil` for a = 1.
  ///   - output: receives g, `rows × units`.
  ///   - cache: receives f (without the amplitude), −0 outside the support, `rows × units`;
  ///     ``BumpKernel/supportCounts(cache:rows:columns:into:)`` counts the support from it.
  ///   - options: the SIMD width and thread count; results do not depend on the latter.
  ///   - workspace: scratch memory to reuse; a temporary one when `nil`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func forward<Scalar: KernelScalar>(
    inputs: UnsafeBufferPointer<Scalar>, centers: UnsafeBufferPointer<Scalar>,
    centersTransposed: UnsafeBufferPointer<Scalar>?,
    rows: Int, units: Int, dimension: Int,
    squaredDistances: UnsafeMutableBufferPointer<Scalar>,
    inputNorms: UnsafeBufferPointer<Scalar>? = nil, centerNorms: UnsafeBufferPointer<Scalar>? = nil,
    sigma: UnsafeBufferPointer<Scalar>, amplitude: UnsafeBufferPointer<Scalar>? = nil,
    output: UnsafeMutableBufferPointer<Scalar>, cache: UnsafeMutableBufferPointer<Scalar>,
    options: KernelOptions = KernelOptions(), workspace: KernelWorkspace? = nil
  ) {
    checkShapes(inputs, centers, centersTransposed, rows, units, dimension, sigma, amplitude)
    precondition((inputNorms == nil) == (centerNorms == nil), "the GEMM form needs both norm vectors")
    precondition(inputNorms != nil || centersTransposed != nil, "the direct form needs the transposed centres")
    checkEntryCount(inputNorms?.count, rows, "inputNorms")
    checkEntryCount(centerNorms?.count, units, "centerNorms")
    checkElementCount(squaredDistances.count, rows, units, "squaredDistances")
    checkElementCount(output.count, rows, units, "output")
    checkElementCount(cache.count, rows, units, "cache")
    guard rows > 0 && units > 0 else { return }
    let job = RadialBumpJob<Scalar>(
      inputs: base(inputs), centers: base(centers), centersT: base(centersTransposed), rows: rows, units: units,
      dimension: dimension,
      squaredDistances: squaredDistances.baseAddress!,
      inputNorms: inputNorms?.baseAddress, centerNorms: centerNorms?.baseAddress,
      sigma: sigma.baseAddress!, amplitude: amplitude?.baseAddress,
      boundFactor: errorBoundFactor(dimension: dimension), acceptRatio: Scalar(acceptRatio),
      output: output.baseAddress!, cache: cache.baseAddress!)
    let width = resolve(options.implementation, Scalar.self)
    let ws = workspace ?? KernelWorkspace()
    withExtendedLifetime(ws) {
      let plan = makePlan(job, slots: 0, options: options, workspace: ws)
      _ = plan.run { range, _ in KernelDispatch.radialForward(job, rows: range, width: width) }
    }
  }

  /// Backpropagates G through g in one pass over the cached r² and f.
  ///
  /// Writes W = G ⊙ H (`rows × units`) and its row sums, and reduces per unit over the rows
  /// dL/dσ = Σ G·a·(r²/u²)·f, dL/da = Σ G·f and colsum(W). With `direct`, it also computes
  /// dL/dX = 2·Σⱼ Wⱼ(x − cⱼ) and dL/dCᵀ (`dimension × units`) from the unshifted inputs and
  /// centres, with no cancellation; otherwise the caller forms them with two products.
  ///
  /// - Parameters:
  ///   - squaredDistances: r² as the forward pass left it, `rows × units`.
  ///   - cache: f as the forward pass wrote it, `rows × units`.
  ///   - upstream: G = dL/dg, `rows × units`.
  ///   - inputs: X as in the forward pass (read only when `direct`).
  ///   - centersTransposed: Cᵀ as in the forward pass; needed when `direct`, else `nil` allowed.
  ///   - rows: the number of input rows (≥ 0).
  ///   - units: the number of units (≥ 0).
  ///   - dimension: d.
  ///   - sigma: σ as in the forward pass.
  ///   - amplitude: a as in the forward pass; `nil` means 1.
  ///   - direct: whether to compute the input and centre gradients here.
  ///   - weights: receives W; `nil` skips it (the direct form needs no W afterwards).
  ///   - rowSums: receives rowsum(W) (`rows`); `nil` skips it.
  ///   - sigmaGradient: receives dL/dσ (`units`); `nil` skips it.
  ///   - amplitudeGradient: receives dL/da (`units`); `nil` skips it.
  ///   - columnSums: receives colsum(W) (`units`); `nil` skips it.
  ///   - inputGradient: receives dL/dX (`rows × dimension`) when `direct`; `nil` skips it.
  ///   - centerGradientTransposed: receives dL/dCᵀ (`dimension × units`) when `direct`;
  ///     `nil` skips it.
  ///   - options: the SIMD width and thread count; results do not depend on the latter.
  ///   - workspace: scratch memory to reuse; a temporary one when `nil`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func backward<Scalar: KernelScalar>(
    squaredDistances: UnsafeBufferPointer<Scalar>, cache: UnsafeBufferPointer<Scalar>,
    upstream: UnsafeBufferPointer<Scalar>,
    inputs: UnsafeBufferPointer<Scalar>, centersTransposed: UnsafeBufferPointer<Scalar>?,
    rows: Int, units: Int, dimension: Int,
    sigma: UnsafeBufferPointer<Scalar>, amplitude: UnsafeBufferPointer<Scalar>? = nil,
    direct: Bool,
    weights: UnsafeMutableBufferPointer<Scalar>?, rowSums: UnsafeMutableBufferPointer<Scalar>?,
    sigmaGradient: UnsafeMutableBufferPointer<Scalar>? = nil,
    amplitudeGradient: UnsafeMutableBufferPointer<Scalar>? = nil,
    columnSums: UnsafeMutableBufferPointer<Scalar>? = nil,
    inputGradient: UnsafeMutableBufferPointer<Scalar>? = nil,
    centerGradientTransposed: UnsafeMutableBufferPointer<Scalar>? = nil,
    options: KernelOptions = KernelOptions(), workspace: KernelWorkspace? = nil
  ) {
    checkShapes(inputs, nil, centersTransposed, rows, units, dimension, sigma, amplitude)
    precondition(!direct || centersTransposed != nil, "the direct form needs the transposed centres")
    checkElementCount(squaredDistances.count, rows, units, "squaredDistances")
    checkElementCount(cache.count, rows, units, "cache")
    checkElementCount(upstream.count, rows, units, "upstream")
    checkElementCount(weights?.count, rows, units, "weights")
    checkEntryCount(rowSums?.count, rows, "rowSums")
    checkEntryCount(sigmaGradient?.count, units, "dσ")
    checkEntryCount(amplitudeGradient?.count, units, "da")
    checkEntryCount(columnSums?.count, units, "columnSums")
    checkElementCount(inputGradient?.count, rows, dimension, "inputGradient")
    checkElementCount(centerGradientTransposed?.count, dimension, units, "centerGradientTransposed")
    precondition(direct || (inputGradient == nil && centerGradientTransposed == nil), "input and centre gradients come from the kernel only in the direct form")
    if rows == 0 || units == 0 {
      for b in [sigmaGradient, amplitudeGradient, columnSums, centerGradientTransposed] { b?.update(repeating: 0) }
      inputGradient?.update(repeating: 0)
      rowSums?.update(repeating: 0)
      return
    }
    // Reduction slots: σ, a, colsum(W), then the d rows of dCᵀ.
    var numbering = ReductionSlots()
    let s0 = numbering.take(sigmaGradient != nil)
    let s1 = numbering.take(amplitudeGradient != nil)
    let s2 = numbering.take(columnSums != nil)
    let s3 = numbering.take(centerGradientTransposed != nil, rows: dimension)
    let slots = numbering.count
    var job = RadialBumpJob<Scalar>(
      inputs: base(inputs), centers: base(centersTransposed), centersT: base(centersTransposed), rows: rows,
      units: units, dimension: dimension,
      squaredDistances: UnsafeMutablePointer(mutating: squaredDistances.baseAddress!),
      inputNorms: nil, centerNorms: nil, sigma: sigma.baseAddress!, amplitude: amplitude?.baseAddress,
      boundFactor: 0, acceptRatio: 0, output: UnsafeMutablePointer(mutating: cache.baseAddress!),
      cache: UnsafeMutablePointer(mutating: cache.baseAddress!))
    job.upstream = upstream.baseAddress
    job.weights = weights?.baseAddress
    job.rowSums = rowSums?.baseAddress
    job.inputGradient = inputGradient?.baseAddress
    // The kernel tells the two forms apart by the centre norms: a dummy pointer marks GEMM.
    if !direct { job.centerNorms = UnsafePointer(job.sigma) }
    let width = resolve(options.implementation, Scalar.self)
    // The plan points into the workspace's memory: keep the workspace alive while it runs.
    let ws = workspace ?? KernelWorkspace()
    withExtendedLifetime(ws) {
      let plan = makePlan(job, slots: slots, options: options, workspace: ws)
      let totals = plan.run { range, acc in
        KernelDispatch.radialBackward(
          job, rows: range, dSigma: s0.map { acc! + $0 * units }, dAmplitude: s1.map { acc! + $0 * units },
          columnSums: s2.map { acc! + $0 * units }, dCenterT: s3.map { acc! + $0 * units }, width: width)
      }
      guard let totals else { return }
      func store(_ b: UnsafeMutableBufferPointer<Scalar>?, _ slot: Int?) {
        guard let b, let slot else { return }
        for i in b.indices { b[i] = Scalar(totals[slot * units + i]) }
      }
      store(sigmaGradient, s0)
      store(amplitudeGradient, s1)
      store(columnSums, s2)
      store(centerGradientTransposed, s3)
    }
  }

  // MARK: - Plumbing

  private static func base<S>(_ b: UnsafeBufferPointer<S>?) -> UnsafePointer<S> {
    // An empty or absent buffer may have no address; the kernels then read nothing through it.
    b?.baseAddress ?? UnsafePointer(bitPattern: MemoryLayout<S>.alignment)!
  }

  private static func resolve<S: KernelScalar>(_ i: KernelImplementation?, _: S.Type) -> Int {
    switch i {
    case nil: return S.preferredSIMDWidth
    case .scalarReference?: return S.supportedSIMDWidths[0]
    case .simd(let w)?:
      precondition(S.supportedSIMDWidths.contains(w), "\(S.self) kernels exist for SIMD widths \(S.supportedSIMDWidths), not \(w)")
      return w
    }
  }

  private static func checkShapes<S>(
    _ inputs: UnsafeBufferPointer<S>, _ centers: UnsafeBufferPointer<S>?, _ centersT: UnsafeBufferPointer<S>?,
    _ rows: Int, _ units: Int, _ dimension: Int, _ sigma: UnsafeBufferPointer<S>, _ amplitude: UnsafeBufferPointer<S>?
  ) {
    precondition(rows >= 0 && units >= 0 && dimension >= 0, "negative shape \(rows)×\(units)×\(dimension)")
    checkElementCount(inputs.count, rows, dimension, "inputs")
    checkElementCount(centers?.count, units, dimension, "centres")
    checkElementCount(centersT?.count, dimension, units, "transposed centres")
    precondition(sigma.count == units, "σ has \(sigma.count) values for \(units) units")
    if let amplitude { precondition(amplitude.count == units, "a has \(amplitude.count) values for \(units) units") }
  }

  private static func makePlan<S: KernelScalar>(
    _ job: RadialBumpJob<S>, slots: Int, options: KernelOptions, workspace: KernelWorkspace
  ) -> ReductionPlan<S> {
    let (rows, columns) = (job.rows, job.units)
    // Tasks sized by the elements a row costs: with the direct form, d passes per element.
    let rowsPerTask = RowTasks.rowsPerTask(rows: rows, columns: columns * max(1, job.centerNorms == nil ? job.dimension : 1))
    let tasks = RowTasks.taskCount(rows: rows, rowsPerTask: rowsPerTask)
    let workers = max(1, min(options.threads, tasks))
    var layout = ScratchLayout()
    let partialOffset = layout.reserve(Double.self, count: tasks * slots * columns)
    let totalOffset = layout.reserve(Double.self, count: slots * columns)
    let accOffset = layout.reserve(S.self, count: workers * slots * columns)
    let raw = workspace.memory(bytes: max(64, layout.bytes))
    return ReductionPlan<S>(
      rows: rows, columns: columns, slots: slots, rowsPerTask: rowsPerTask, workers: workers,
      partials: (raw + partialOffset).bindMemory(to: Double.self, capacity: tasks * slots * columns),
      totals: (raw + totalOffset).bindMemory(to: Double.self, capacity: slots * columns),
      accumulators: (raw + accOffset).bindMemory(to: S.self, capacity: workers * slots * columns))
  }
}

/// One radial kernel call as the generated kernels see it: plumbing between
/// ``RadialBumpKernel`` and the concrete SIMD kernels.
struct RadialBumpJob<Scalar: KernelScalar>: @unchecked Sendable {
  var inputs: UnsafePointer<Scalar>
  var centers: UnsafePointer<Scalar>
  var centersT: UnsafePointer<Scalar>
  var rows, units, dimension: Int
  var squaredDistances: UnsafeMutablePointer<Scalar>
  var inputNorms: UnsafePointer<Scalar>?
  var centerNorms: UnsafePointer<Scalar>?
  var sigma: UnsafePointer<Scalar>
  var amplitude: UnsafePointer<Scalar>?
  var boundFactor: Scalar
  var acceptRatio: Scalar
  var output: UnsafeMutablePointer<Scalar>
  var cache: UnsafeMutablePointer<Scalar>?
  var upstream: UnsafePointer<Scalar>? = nil
  var weights: UnsafeMutablePointer<Scalar>? = nil
  var rowSums: UnsafeMutablePointer<Scalar>? = nil
  var inputGradient: UnsafeMutablePointer<Scalar>? = nil
}
