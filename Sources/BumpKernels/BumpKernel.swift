/// The generalized bump function and its gradients over a row-major batch × units matrix.
///
/// For each element, with the parameters of its column:
///
///     g(x) = a · f(x − c; σ),   f(z; σ) = exp(−σ / (σ − z²)) where z² < σ, else 0.
///
/// With z = x − c, u = σ − z², t = σ/u and q = z/u, inside the support
///
///     ∂g/∂x = −2·a·t·q·f,   ∂g/∂σ = a·q²·f,   ∂g/∂c = −∂g/∂x,   ∂g/∂a = f,
///
/// and every value and derivative is exactly 0 outside it. σ, c and a are each either
/// shared by all columns or one per column (``BumpParameter``); c and a may be absent
/// (c = 0, a = 1).
///
/// Numerics: u is computed with one rounding (an FMA, or an exact product split on targets
/// without FMA) and the support is decided on u > 0. Derivatives use the t/q form, which stays
/// finite for tiny σ where −2σz·f/u² overflows. Where f underflows to 0 every derivative is 0,
/// never 0·∞. Subnormals follow IEEE. NaN inputs give NaN. Relative error of f against an
/// exact reference is below 8e-7·max(1, t) (Float) and 4e-15·max(1, t) (Double) where σ, u and
/// f are normal; t enters because f itself is that ill-conditioned near the boundary.
///
/// The kernels do not check σ ≥ 0 or finiteness of parameters: the layer does that before
/// calling them. Shapes are checked with preconditions.
///
/// See also: ``BumpKernel/ScalarReference``, ``VectorMath/exp(_:into:implementation:)``.
public enum BumpKernel {
  /// Computes g over `input`, writing `output` (which may be the input buffer itself).
  ///
  /// - Parameters:
  ///   - input: `rows × columns` values, row-major.
  ///   - rows: the number of rows (≥ 0).
  ///   - columns: the number of columns, one per unit (≥ 0).
  ///   - sigma: σ, shared or one per column; must be ≥ 0 and finite (not checked here).
  ///   - center: c, shared or one per column; `nil` means 0.
  ///   - amplitude: a, shared or one per column; `nil` means 1.
  ///   - output: receives g, `rows × columns`.
  ///   - cache: when given, receives f (without the amplitude) for ``backward(input:upstream:rows:columns:sigma:center:amplitude:cache:inputGradient:sigmaGradient:centerGradient:amplitudeGradient:options:workspace:)``
  ///     to reuse instead of recomputing the exponential. Outside the support it holds −0
  ///     (inside, f ≥ +0), so ``supportCounts(cache:rows:columns:into:)`` can count the
  ///     support later without a pass of its own. Without an amplitude (g = f) it may be
  ///     `output` itself: the output then receives f as the cache holds it, −0 outside the
  ///     support, in one store instead of two.
  ///   - supportCounts: when given (`columns` entries), receives per column the number of
  ///     inputs strictly inside the support.
  ///   - options: implementation and thread count; results do not depend on the latter.
  ///   - workspace: scratch memory to reuse across calls; a temporary one when `nil`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func forward<Scalar: KernelScalar>(
    input: UnsafeBufferPointer<Scalar>, rows: Int, columns: Int,
    sigma: BumpParameter<Scalar>, center: BumpParameter<Scalar>? = nil,
    amplitude: BumpParameter<Scalar>? = nil,
    output: UnsafeMutableBufferPointer<Scalar>,
    cache: UnsafeMutableBufferPointer<Scalar>? = nil,
    supportCounts: UnsafeMutableBufferPointer<Int>? = nil,
    options: KernelOptions = KernelOptions(),
    workspace: KernelWorkspace? = nil
  ) {
    checkShapes(rows: rows, columns: columns, input.count, sigma, center, amplitude)
    checkElementCount(output.count, rows, columns, "output")
    checkElementCount(cache?.count, rows, columns, "cache")
    checkEntryCount(supportCounts?.count, columns, "supportCounts")
    if rows == 0 || columns == 0 {
      if let supportCounts { supportCounts.update(repeating: 0) }
      return
    }
    precondition(
      amplitude == nil || cache?.baseAddress != output.baseAddress,
      "the cache may share the output's memory only without an amplitude")
    let ws = workspace ?? KernelWorkspace()
    let slots = supportCounts == nil ? 0 : 1
    withJob(input: input, rows: rows, columns: columns, sigma: sigma, center: center,
            amplitude: amplitude, slots: slots, options: options, workspace: ws) { job, plan in
      var job = job
      job.output = output.baseAddress
      job.cache = cache?.baseAddress
      // In place (output over input) each line was just read: streaming would gain nothing.
      job.nonTemporalStores = streams(rows * columns * MemoryLayout<Scalar>.stride, options)
        && UnsafeRawPointer(output.baseAddress) != UnsafeRawPointer(input.baseAddress)
      let implementation = resolve(options.implementation, Scalar.self)
      let totals = plan.run { rowRange, acc in
        switch implementation {
        case .scalarReference:
          ScalarReference.forward(job, rows: rowRange, counts: acc)
        case .simd(let width):
          KernelDispatch.forward(job, rows: rowRange, counts: acc, width: width)
        }
      }
      if let supportCounts, let totals {
        for j in 0..<columns { supportCounts[j] = Int(totals[j]) }
      }
    }
  }

  /// Backpropagates the upstream gradient G through g in one fused pass.
  ///
  /// Writes dL/dx = G ⊙ ∂g/∂x into `inputGradient` (which may be the `upstream` buffer), and
  /// stores each requested parameter gradient reduced over the rows: one sum for a shared
  /// parameter (a buffer of count 1), one sum per column for a per-unit one (count
  /// `columns`). Sums are accumulated per 32-row block in `Scalar` and across blocks in
  /// Double, then combined in a fixed order.
  ///
  /// - Parameters:
  ///   - input: the forward pass's input, `rows × columns`, row-major.
  ///   - upstream: G = dL/dg, `rows × columns`.
  ///   - rows: the number of rows (≥ 0).
  ///   - columns: the number of columns, one per unit (≥ 0).
  ///   - sigma: σ as in the forward pass.
  ///   - center: c as in the forward pass; `nil` means 0.
  ///   - amplitude: a as in the forward pass; `nil` means 1.
  ///   - cache: f as written by ``forward(input:rows:columns:sigma:center:amplitude:output:cache:supportCounts:options:workspace:)``
  ///     for the same input and parameters; recomputed when `nil`.
  ///   - inputGradient: receives dL/dx; pass `nil` when the input needs no gradient.
  ///   - sigmaGradient: receives dL/dσ (1 entry for a shared σ, `columns` for a per-unit
  ///     one); `nil` skips it.
  ///   - centerGradient: receives dL/dc, shaped like c; `nil` skips it. Needs `center`.
  ///   - amplitudeGradient: receives dL/da, shaped like a; `nil` skips it. Needs `amplitude`.
  ///   - options: implementation and thread count; results do not depend on the latter.
  ///   - workspace: scratch memory to reuse across calls; a temporary one when `nil`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func backward<Scalar: KernelScalar>(
    input: UnsafeBufferPointer<Scalar>, upstream: UnsafeBufferPointer<Scalar>,
    rows: Int, columns: Int,
    sigma: BumpParameter<Scalar>, center: BumpParameter<Scalar>? = nil,
    amplitude: BumpParameter<Scalar>? = nil,
    cache: UnsafeBufferPointer<Scalar>? = nil,
    inputGradient: UnsafeMutableBufferPointer<Scalar>?,
    sigmaGradient: GradientBuffer<Scalar>? = nil,
    centerGradient: GradientBuffer<Scalar>? = nil,
    amplitudeGradient: GradientBuffer<Scalar>? = nil,
    options: KernelOptions = KernelOptions(),
    workspace: KernelWorkspace? = nil
  ) {
    checkShapes(rows: rows, columns: columns, input.count, sigma, center, amplitude)
    checkElementCount(upstream.count, rows, columns, "upstream gradient")
    checkElementCount(inputGradient?.count, rows, columns, "input gradient")
    checkElementCount(cache?.count, rows, columns, "cache")
    checkGradient(sigmaGradient, sigma, columns, "σ")
    if let centerGradient {
      precondition(center != nil, "a centre gradient needs a centre parameter")
      checkGradient(centerGradient, center!, columns, "c")
    }
    if let amplitudeGradient {
      precondition(amplitude != nil, "an amplitude gradient needs an amplitude parameter")
      checkGradient(amplitudeGradient, amplitude!, columns, "a")
    }
    if rows == 0 || columns == 0 {
      // No elements: every sum is empty, so every gradient is 0.
      sigmaGradient?.update(repeating: 0)
      centerGradient?.update(repeating: 0)
      amplitudeGradient?.update(repeating: 0)
      return
    }
    // Slot k of the reduction holds the k-th requested gradient (σ, then c, then a).
    var numbering = ReductionSlots()
    let s0 = numbering.take(sigmaGradient != nil)
    let s1 = numbering.take(centerGradient != nil)
    let s2 = numbering.take(amplitudeGradient != nil)
    let slots = numbering.count
    let ws = workspace ?? KernelWorkspace()
    withJob(input: input, rows: rows, columns: columns, sigma: sigma, center: center,
            amplitude: amplitude, slots: slots, options: options, workspace: ws) { job, plan in
      var job = job
      job.upstream = upstream.baseAddress
      job.inputGradient = inputGradient?.baseAddress
      job.cache = cache.map { UnsafeMutablePointer(mutating: $0.baseAddress!) }
      job.nonTemporalStores = streams(rows * columns * MemoryLayout<Scalar>.stride, options)
        && UnsafeRawPointer(inputGradient?.baseAddress) != UnsafeRawPointer(upstream.baseAddress)
      let implementation = resolve(options.implementation, Scalar.self)
      // Last rows first: the forward pass that wrote the cache ended on them, so a large
      // batch's backward pass starts on rows still in the caches (unless that pass streamed
      // them to memory: outputs of KernelOptions.nonTemporalStoreBytes and more).
      let totals = plan.run(lastFirst: true) { rowRange, acc in
        let dS = s0.map { acc! + $0 * columns }
        let dC = s1.map { acc! + $0 * columns }
        let dA = s2.map { acc! + $0 * columns }
        switch implementation {
        case .scalarReference:
          ScalarReference.backward(job, rows: rowRange, dSigma: dS, dCenter: dC, dAmplitude: dA)
        case .simd(let width):
          KernelDispatch.backward(job, rows: rowRange, dSigma: dS, dCenter: dC, dAmplitude: dA, width: width)
        }
      }
      guard let totals else { return }
      func store(_ gradient: GradientBuffer<Scalar>?, _ slot: Int?, perUnit: Bool) {
        guard let gradient, let slot else { return }
        let row = totals + slot * columns
        if perUnit {
          for j in 0..<columns { gradient[j] = Scalar(row[j]) }
        } else {
          var sum = 0.0
          for j in 0..<columns { sum += row[j] }
          gradient[0] = Scalar(sum)
        }
      }
      store(sigmaGradient, s0, perUnit: sigma.isPerUnit)
      store(centerGradient, s1, perUnit: center?.isPerUnit ?? false)
      store(amplitudeGradient, s2, perUnit: amplitude?.isPerUnit ?? false)
    }
  }

  /// Counts, per column, the elements of a forward cache that lie inside the support: those
  /// whose cached f is +0 or positive (the forward pass writes −0 outside and keeps NaN for
  /// NaN input, which is not counted). The same numbers as the forward pass's
  /// `supportCounts`, computed afterwards and only when someone asks.
  ///
  /// - Parameters:
  ///   - cache: a `rows × columns` cache written by ``forward(input:rows:columns:sigma:center:amplitude:output:cache:supportCounts:options:workspace:)``.
  ///   - rows: the number of rows of the cache.
  ///   - columns: the number of columns (units) of the cache.
  ///   - counts: receives `columns` counts.
  /// - Precondition: `cache.count == rows·columns`, `counts.count == columns`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func supportCounts<Scalar: KernelScalar>(
    cache: UnsafeBufferPointer<Scalar>, rows: Int, columns: Int, into counts: UnsafeMutableBufferPointer<Int>
  ) {
    precondition(rows >= 0 && columns >= 0, "negative shape \(rows)×\(columns)")
    checkElementCount(cache.count, rows, columns, "cache")
    checkEntryCount(counts.count, columns, "counts")
    counts.update(repeating: 0)
    for r in 0..<rows {
      for j in 0..<columns {
        let f = cache[r * columns + j]
        if f >= 0 && f.sign == .plus { counts[j] += 1 }
      }
    }
  }

  // MARK: - Plumbing

  static func resolve<S: KernelScalar>(_ i: KernelImplementation?, _: S.Type) -> KernelImplementation {
    guard let i else { return .simd(width: S.preferredSIMDWidth) }
    if case .simd(let w) = i {
      precondition(S.supportedSIMDWidths.contains(w), "\(S.self) kernels exist for SIMD widths \(S.supportedSIMDWidths), not \(w)")
    }
    return i
  }

  private static func checkShapes<S>(
    rows: Int, columns: Int, _ count: Int, _ sigma: BumpParameter<S>,
    _ center: BumpParameter<S>?, _ amplitude: BumpParameter<S>?
  ) {
    precondition(rows >= 0 && columns >= 0, "negative shape \(rows)×\(columns)")
    checkElementCount(count, rows, columns, "input")
    func check(_ p: BumpParameter<S>?, _ name: String) {
      if case .perUnit(let b)? = p {
        precondition(b.count == columns, "per-unit \(name) has \(b.count) values for \(columns) columns")
      }
    }
    check(sigma, "σ")
    check(center, "c")
    check(amplitude, "a")
  }

  private static func checkGradient<S>(_ g: GradientBuffer<S>?, _ p: BumpParameter<S>, _ columns: Int, _ name: String) {
    guard let g else { return }
    let expected = p.isPerUnit ? columns : 1
    checkEntryCount(g.count, expected, "d\(name) buffer")
  }

  /// Whether a call writes an output of `bytes` with non-temporal stores
  /// (``KernelOptions/nonTemporalStoreBytes``). Only on x86-64, where it was measured; other
  /// targets use ordinary stores.
  private static func streams(_ bytes: Int, _ options: KernelOptions) -> Bool {
    #if arch(x86_64)
    return bytes >= options.nonTemporalStoreBytes
    #else
    return false
    #endif
  }

  /// Lays out the workspace, broadcasts shared parameters to rows and hands the job and a
  /// reduction plan to `body`.
  private static func withJob<S: KernelScalar>(
    input: UnsafeBufferPointer<S>, rows: Int, columns: Int,
    sigma: BumpParameter<S>, center: BumpParameter<S>?, amplitude: BumpParameter<S>?,
    slots: Int, options: KernelOptions, workspace: KernelWorkspace,
    _ body: (BumpJob<S>, ReductionPlan<S>) -> Void
  ) {
    let rowsPerTask = RowTasks.rowsPerTask(rows: rows, columns: columns)
    let tasks = RowTasks.taskCount(rows: rows, rowsPerTask: rowsPerTask)
    let workers = max(1, min(options.threads, tasks))
    var layout = ScratchLayout()
    let paramOffset = layout.reserve(S.self, count: 3 * columns)
    let partialOffset = layout.reserve(Double.self, count: tasks * slots * columns)
    let totalOffset = layout.reserve(Double.self, count: slots * columns)
    let accOffset = layout.reserve(S.self, count: workers * slots * columns)
    let raw = workspace.memory(bytes: layout.bytes)

    let params = (raw + paramOffset).bindMemory(to: S.self, capacity: 3 * columns)
    func row(_ p: BumpParameter<S>?, _ k: Int, default d: S) -> UnsafePointer<S> {
      if case .perUnit(let b)? = p, let base = b.baseAddress { return base }
      let dst = params + k * columns
      let v: S
      if case .shared(let s)? = p { v = s } else { v = d }
      dst.initialize(repeating: v, count: columns)
      return UnsafePointer(dst)
    }
    let job = BumpJob<S>(
      input: input.baseAddress ?? UnsafePointer(params), rows: rows, columns: columns,
      sigma: row(sigma, 0, default: 0), center: row(center, 1, default: 0),
      amplitude: row(amplitude, 2, default: 1),
      hasCenter: center != nil, hasAmplitude: amplitude != nil,
      output: nil, cache: nil, upstream: nil, inputGradient: nil)
    let plan = ReductionPlan<S>(
      rows: rows, columns: columns, slots: slots, rowsPerTask: rowsPerTask, workers: workers,
      partials: (raw + partialOffset).bindMemory(to: Double.self, capacity: tasks * slots * columns),
      totals: (raw + totalOffset).bindMemory(to: Double.self, capacity: slots * columns),
      accumulators: (raw + accOffset).bindMemory(to: S.self, capacity: workers * slots * columns))
    body(job, plan)
  }
}

/// Traps unless a buffer of `count` elements (nil: no buffer, nothing to check) holds
/// `rows × columns`: a kernel's precondition, naming the buffer.
@inline(__always)
func checkElementCount(_ count: Int?, _ rows: Int, _ columns: Int, _ name: @autoclosure () -> String) {
  guard let count else { return }
  precondition(count == rows * columns, "\(name()) has \(count) elements, expected \(rows)×\(columns)")
}

/// Traps unless a vector of `count` entries (nil: none, nothing to check) has `expected`.
@inline(__always)
func checkEntryCount(_ count: Int?, _ expected: Int, _ name: @autoclosure () -> String) {
  guard let count else { return }
  precondition(count == expected, "\(name()) has \(count) entries, expected \(expected)")
}

/// Numbers the rows of a reduction in the order its sums are requested: the first requested
/// sum takes row 0, the next the rows after it; one not requested takes none.
struct ReductionSlots {
  /// The rows taken so far: the reduction's slot count once every sum is numbered.
  private(set) var count = 0

  /// The first of `rows` rows for a requested sum; nil, taking none, when not requested.
  mutating func take(_ requested: Bool, rows: Int = 1) -> Int? {
    guard requested else { return nil }
    defer { count += rows }
    return count
  }
}

/// Runs a kernel over row tasks and reduces its per-column accumulators deterministically.
struct ReductionPlan<S: KernelScalar>: @unchecked Sendable {
  let rows, columns, slots, rowsPerTask, workers: Int
  let partials: UnsafeMutablePointer<Double>
  let totals: UnsafeMutablePointer<Double>
  let accumulators: UnsafeMutablePointer<S>

  /// Calls `kernel(rowRange, accumulators)` on blocks of at most ``RowTasks/blockRows`` rows;
  /// `accumulators` (slots × columns, zeroed) is nil when there is nothing to reduce.
  /// Returns the totals (slots × columns, in Double), or nil without slots.
  ///
  /// With `lastFirst`, the row tasks run from the last rows to the first (see
  /// ``RowTasks/run(rows:rowsPerTask:threads:lastFirst:_:)``); the totals are the same bits.
  func run(lastFirst: Bool = false, _ kernel: (Range<Int>, UnsafeMutablePointer<S>?) -> Void) -> UnsafePointer<Double>? {
    let width = slots * columns
    RowTasks.run(rows: rows, rowsPerTask: rowsPerTask, threads: workers, lastFirst: lastFirst) { task, range, worker in
      guard width > 0 else {
        kernel(range, nil)
        return
      }
      let acc = accumulators + worker * width
      let partial = partials + task * width
      partial.initialize(repeating: 0, count: width)
      var start = range.lowerBound
      while start < range.upperBound {
        let end = min(range.upperBound, start + RowTasks.blockRows)
        acc.initialize(repeating: 0, count: width)
        kernel(start..<end, acc)
        for i in 0..<width { partial[i] += Double(acc[i]) }
        start = end
      }
    }
    guard width > 0 else { return nil }
    totals.initialize(repeating: 0, count: width)
    let tasks = RowTasks.taskCount(rows: rows, rowsPerTask: rowsPerTask)
    for t in 0..<tasks {
      let partial = partials + t * width
      for i in 0..<width { totals[i] += partial[i] }
    }
    return UnsafePointer(totals)
  }
}
