/// An update rule that moves parameters against their gradients.
///
/// An optimizer is a reference type: it keeps a step counter for its learning-rate schedule
/// and per-parameter state (a momentum buffer, Adam's moment estimates), and the same
/// instance is used for every step of a training run. ``step(_:)`` updates the trainable
/// parameters from the gradients that the last backward pass stored and then calls
/// ``Parameter/project()`` on each, which keeps constrained parameters (a bump's σ) in
/// their domain; fixed parameters are left alone.
///
/// State is allocated on the first step that sees a parameter and reused after that: once
/// warm, a step allocates nothing. It belongs to the parameter's identity (the object, not
/// its position), so passing a different list re-pairs the state (reallocating and copying
/// it once); a parameter that is fixed for some steps keeps its state for when it is
/// trainable again. The step count t of Adam's bias correction is the optimizer's, shared by
/// all parameters (PyTorch counts per parameter): a parameter that joins late starts from
/// zero moments with the current t.
///
/// Every step first checks the gradients: a NaN or infinite element throws
/// ``BumpKitError/nonFiniteData(what:row:column:value:)`` naming the parameter and position,
/// before anything is changed (no parameter moves and ``iterations`` stays). A NaN gradient
/// is never turned into a number — not by clipping and not by the projection, which would
/// otherwise replace the resulting NaN with the parameter's floor.
///
/// See also: ``SGD``, ``Adam``, ``AdamW``, ``LearningRateSchedule``, ``GradientClipping``.
public protocol Optimizer<Element>: AnyObject {
  /// The scalar type of the parameters it updates.
  associatedtype Element: MatrixScalar

  /// Updates every trainable parameter in `parameters` from its gradient, then projects it.
  ///
  /// - Throws: ``BumpKitError/nonFiniteData(what:row:column:value:)`` for a NaN or infinite
  ///   gradient, ``BumpKitError/shapeMismatch(operation:expected:actual:)`` for a gradient whose
  ///   shape is not its parameter's, ``BumpKitError/invalidArgument(name:value:reason:)`` for
  ///   a parameter listed twice. Nothing is updated when it throws.
  func step(_ parameters: [Parameter<Element>]) throws

  /// The learning rate that the next step uses: the base rate under the schedule at step
  /// ``iterations``.
  var learningRate: Double { get }

  /// The number of steps taken so far.
  var iterations: Int { get }

  /// Batches per epoch, for schedules that count epochs (``LearningRateScheduling/countsEpochs``);
  /// nil until set. `fit` sets it before its first step. The default implementation keeps
  /// nothing: an optimizer of an app's own that has no schedule need not store it.
  var stepsPerEpoch: Int? { get set }
}

extension Optimizer {
  /// Always nil; setting it does nothing (for optimizers without an epoch schedule).
  public var stepsPerEpoch: Int? {
    get { nil }
    set {}
  }
}

/// An optimizer whose state — everything besides the parameters that determines its next
/// step — can be saved and put back, so that a training run can be interrupted and resumed
/// bit for bit.
///
/// ``Checkpoint/save(_:to:metadata:optimizer:training:)`` stores a snapshot beside the
/// model, and ``Checkpoint/loadForResuming(_:from:optimizer:)`` puts it back into a fresh
/// optimizer of the same kind. ``Adam``, ``AdamW`` and ``SGD`` conform.
public protocol ResumableOptimizer<Element>: Optimizer {
  /// The name stored with a snapshot (`adam`, `adamw`, `sgd`); a snapshot is restored only
  /// into an optimizer of the same kind.
  var kind: String { get }

  /// The optimizer's state for `parameters` (the list its steps are given, e.g.
  /// ``Sequential/parameters``), one entry per parameter.
  func snapshot(for parameters: [Parameter<Element>]) -> OptimizerSnapshot<Element>

  /// Replaces the optimizer's state by `snapshot`, taken for a list of parameters that
  /// corresponds one to one, in order and shape, to `parameters`.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` when the snapshot is of
  ///   another kind, has other slots, another number of parameters or a state of another
  ///   shape than its parameter's, a negative step count, or a state value that is NaN (or,
  ///   for Adam's second moment, negative); the state is unchanged then.
  func restore(_ snapshot: OptimizerSnapshot<Element>, for parameters: [Parameter<Element>]) throws
}

/// An optimizer's state, apart from the parameters: its step count and its per-parameter
/// buffers (Adam's moments, SGD's velocity).
///
/// Checkpoints store it with the names in ``Checkpoint``'s documentation.
public struct OptimizerSnapshot<Element: MatrixScalar>: Sendable {
  /// The optimizer's ``ResumableOptimizer/kind``.
  public var kind: String
  /// Steps taken, t (Adam's bias correction and every schedule count from it).
  public var iterations: Int
  /// The names of the per-parameter buffers: `["m", "v"]` for Adam and AdamW (first and
  /// second moment), `["velocity"]` for SGD with momentum, none for plain SGD.
  public var slotNames: [String]
  /// Per parameter of the list the snapshot was taken for, in order: one matrix per slot,
  /// of the parameter's shape; nil for a parameter without state (fixed from the start, or
  /// not yet stepped).
  public var states: [[Matrix<Element>]?]

  /// A snapshot from its parts.
  public init(kind: String, iterations: Int, slotNames: [String], states: [[Matrix<Element>]?]) {
    self.kind = kind
    self.iterations = iterations
    self.slotNames = slotNames
    self.states = states
  }
}

/// An optimizer's view of the trainable parameters of a step, laid end to end, and its
/// per-parameter state in flat buffers over that layout.
///
/// Trainable parameter k covers elements `offsets[k] ..< offsets[k] + counts[k]` of the
/// concatenation; the state buffers (Adam's m and v, SGD's velocity) are that long, so a step
/// is one pass over all parameters, cut into fixed chunks of ``chunkElements`` that the
/// threads share. Chunks depend on the layout alone, so results are the same for any thread
/// count. Parameters keep their own value and gradient matrices: a user may hold a copy of a
/// value, and copy-on-write keeps that copy unchanged when the step writes.
///
/// State belongs to the parameter's identity (the object, not its position), so passing a
/// different list re-pairs it (reallocating and copying the state once); a parameter that is
/// fixed for a while keeps its state for when it is trainable again.
struct OptimizerState<Element: MatrixScalar> {
  /// Elements per chunk of a step. A pass runs as one task per thread, each a run of
  /// consecutive chunks that stays with the same thread from step to step
  /// (``PreferredParts``), so a chunk only sets how evenly the runs split the model and how
  /// many partial sums the gradient norm adds: 2¹² splits the 70,913-parameter benchmark
  /// model into 18 chunks, 9 a thread. (With one task per chunk, claimed by whichever thread
  /// came first, the model's state moved between the cores' caches every step: its
  /// optimizer phase took 14.9–24 µs a step on two threads against 15.6–17.4 µs on one.)
  static var chunkElements: Int { 1 << 12 }

  /// The elements of a run of chunks (a task) beyond one per thread: runs of a large model
  /// are short enough that threads balance each other, and those of a small one no shorter
  /// than what a task's claim costs. With one run per 2¹² chunk, the 70,913-parameter model's
  /// optimizer phase took 17–19 µs on two threads, against 15 µs with one run a thread.
  static var elementsPerRun: Int { 1 << 15 }

  /// The runs (tasks) a pass over `chunks` chunks holding `elements` elements is cut into on
  /// `threads` threads: one per thread, or one per ``elementsPerRun`` if that makes more, at
  /// most one per chunk and at most ``PreferredParts/maximumCount``. The optimizer's passes
  /// and the reduction of a sharded step (``ShardedPasses``) cut theirs alike.
  static func runCount(chunks: Int, elements: Int, threads: Int) -> Int {
    max(1, min(chunks, PreferredParts.maximumCount, max(threads, elements / elementsPerRun)))
  }

  /// The parameter list of the last step, in its order (trainable or not).
  private(set) var parameters: [Parameter<Element>] = []
  /// Whether each parameter was trainable when the layout was made.
  private var trainableFlags: [Bool] = []
  /// The trainable parameters, in list order, and where each starts in the concatenation.
  private(set) var trainable: [Parameter<Element>] = []
  private(set) var offsets: [Int] = []
  /// Per trainable parameter: the value's and gradient's first elements for this step.
  private var valuePointers: [UnsafeMutablePointer<Element>] = []
  private var gradientPointers: [UnsafeMutablePointer<Element>] = []
  /// Per chunk: the partial sum of squared gradients.
  private var partials = Matrix<Double>()
  /// The flat state buffers, each `total` long.
  private(set) var buffers: [Matrix<Element>] = []
  /// The state of listed parameters that are fixed for now, kept for when they are
  /// trainable again (one array per state buffer).
  private var frozen: [ObjectIdentifier: (parameter: Parameter<Element>, state: [[Element]])] = [:]
  /// The number of trainable scalars.
  private(set) var total = 0
  /// The number of steps taken (the optimizer's `iterations`).
  private(set) var iterations = 0
  /// The global norm of the trainable gradients, before clipping, at the last step.
  private(set) var lastGradientNorm: Double?
  /// The job object that runs a pass over the chunks (``sumOfSquaredGradients(threads:)``,
  /// ``update(_:threads:)``).
  private let pass = ChunkPass<Element>()

  /// The number of chunks a step runs.
  var chunkCount: Int { (total + Self.chunkElements - 1) / Self.chunkElements }

  /// Lays out `parameters` (reusing the state of every parameter seen before), with
  /// `bufferCount` zero-started state buffers, checks every trainable gradient's shape and
  /// records where the values and gradients are for the passes of this step.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for a parameter listed
  ///   twice; ``BumpKitError/shapeMismatch(operation:expected:actual:)`` for a gradient whose
  ///   shape is not its parameter's.
  mutating func bind(_ parameters: [Parameter<Element>], bufferCount: Int, _ operation: String) throws {
    if !isLaidOut(parameters, bufferCount: bufferCount) {
      try relayout(parameters, bufferCount: bufferCount, operation)
    }
    for index in trainable.indices {
      let p = trainable[index]
      guard p.gradient.rows == p.value.rows && p.gradient.columns == p.value.columns else {
        let position = parameters.firstIndex { $0 === p } ?? index
        throw BumpKitError.shapeMismatch(
          operation: "\(operation): gradient of parameter \(position) (\(p.name))",
          expected: MatrixShape(of: p.value),
          actual: MatrixShape(of: p.gradient))
      }
    }
    refreshPointers()
  }

  /// Σ g² over every trainable gradient, in chunks on up to `threads` threads, added in chunk
  /// order. Not finite when a gradient is NaN or infinite (or the squares overflow).
  func sumOfSquaredGradients(threads: Int) -> Double {
    // Chunks are visited in order within a task, and a chunk's pieces in order, so each
    // partial is the same sum whatever the thread count.
    runPass(.sumOfSquares, threads: threads)
    let out = partials.storage.base
    var total = 0.0
    for c in 0..<chunkCount { total += out[c] }
    return total
  }

  /// The end of every built-in optimizer's step: updates every trainable parameter by `rule`
  /// (Adam or SGD with its coefficients, and the parameter's floor), in chunks on up to
  /// `threads` threads, and counts the step, whose gradient norm was `norm`.
  mutating func finishStep(_ rule: ChunkPass<Element>.Kind, norm: Double, threads: Int) {
    runPass(rule, threads: threads)
    lastGradientNorm = norm
    iterations += 1
  }

  /// Runs `kind` over every chunk through ``pass``, a job object: handing it to a pool's
  /// workers allocates nothing, where a closure would cost its context on every step.
  private func runPass(_ kind: ChunkPass<Element>.Kind, threads: Int) {
    guard total > 0 else { return }
    pass.kind = kind
    pass.total = total
    pass.offsets = offsets
    pass.trainable = trainable
    pass.values = valuePointers
    pass.gradients = gradientPointers
    pass.first = buffers.count > 0 ? buffers[0].storage.base : nil
    pass.second = buffers.count > 1 ? buffers[1].storage.base : nil
    pass.partials = partials.storage.base
    // Runs of consecutive chunks, one task each (``runCount(chunks:elements:threads:)``).
    // Each thread takes the runs of its own share first (``PreferredParts``), so that it
    // updates the same parameters step after step and its share of the state stays in its
    // core's caches, while a late thread's runs are still taken by the others.
    let participants = max(1, min(threads, WorkerPool.current?.threadCount ?? threads))
    let groups = Self.runCount(chunks: chunkCount, elements: total, threads: participants)
    pass.groups = groups
    pass.threads = min(participants, groups)
    pass.parts.reset()
    RowTasks.run(tasks: groups, threads: threads, job: pass)
    // Let go of the arrays: holding them would make the next step's writes to this state's
    // arrays copy them.
    pass.release()
  }

  /// Drops all state and restarts the step count.
  mutating func removeAll() { self = OptimizerState() }

  /// The state of every parameter of `list`, one matrix per buffer, copied; nil for one
  /// without state.
  func export(_ list: [Parameter<Element>]) -> [[Matrix<Element>]?] {
    var index = [ObjectIdentifier: Int](minimumCapacity: trainable.count)
    for (k, p) in trainable.enumerated() { index[ObjectIdentifier(p)] = k }
    return list.map { p -> [Matrix<Element>]? in
      let id = ObjectIdentifier(p)
      let (rows, columns) = (p.value.rows, p.value.columns)
      if let k = index[id], counts(k) == p.count {
        return buffers.map { buffer in
          var m = Matrix<Element>(validRows: rows, columns: columns)
          if p.count > 0 {
            m.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: buffer.storage.base + offsets[k], count: p.count) }
          }
          return m
        }
      }
      if let kept = frozen[id], kept.state.allSatisfy({ $0.count == p.count }), !kept.state.isEmpty {
        return kept.state.map { values in
          var m = Matrix<Element>(validRows: rows, columns: columns)
          if p.count > 0 {
            values.withUnsafeBufferPointer { source in
              m.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: source.baseAddress!, count: p.count) }
            }
          }
          return m
        }
      }
      return nil
    }
  }

  /// Replaces all state by the snapshot's: its step count, and its `states` (one entry per
  /// parameter of `list`, see ``export(_:)``) laid out for `list` with `bufferCount` buffers.
  /// The last gradient norm is forgotten.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for a count or shape
  ///   that does not match; nothing changes then.
  mutating func restore(
    _ snapshot: OptimizerSnapshot<Element>, for list: [Parameter<Element>], bufferCount: Int, _ operation: String
  ) throws {
    let states = snapshot.states
    guard states.count == list.count else {
      throw BumpKitError.invalidArgument(
        name: "snapshot", value: "\(states.count) parameter states",
        reason: "\(operation): the parameter list has \(list.count) parameters")
    }
    for (i, (p, state)) in zip(list, states).enumerated() {
      guard let state else { continue }
      guard state.count == bufferCount else {
        throw BumpKitError.invalidArgument(
          name: "snapshot", value: "\(state.count) buffers for parameter \(i) (\(p.name))",
          reason: "\(operation): expected \(bufferCount)")
      }
      for m in state where m.rows != p.value.rows || m.columns != p.value.columns {
        throw BumpKitError.invalidArgument(
          name: "snapshot", value: "a \(MatrixShape(of: m)) state for parameter \(i) (\(p.name))",
          reason: "\(operation): the parameter is \(MatrixShape(of: p.value))")
      }
    }
    var fresh = OptimizerState()
    try fresh.relayout(list, bufferCount: bufferCount, operation)
    var position = [ObjectIdentifier: Int](minimumCapacity: fresh.trainable.count)
    for (k, p) in fresh.trainable.enumerated() { position[ObjectIdentifier(p)] = k }
    for (p, state) in zip(list, states) {
      guard let state, p.count > 0 else { continue }
      if let k = position[ObjectIdentifier(p)] {
        for (b, m) in state.enumerated() {
          m.withUnsafeBufferPointer { (fresh.buffers[b].storage.base + fresh.offsets[k]).update(from: $0.baseAddress!, count: p.count) }
        }
      } else {
        fresh.frozen[ObjectIdentifier(p)] = (p, state.map(\.elements))
      }
    }
    fresh.iterations = snapshot.iterations
    self = fresh
  }

  // MARK: - Layout

  private func isLaidOut(_ list: [Parameter<Element>], bufferCount: Int) -> Bool {
    guard list.count == parameters.count, buffers.count == bufferCount else { return false }
    for i in list.indices where list[i] !== parameters[i] || list[i].isTrainable != trainableFlags[i] {
      return false
    }
    for (k, p) in trainable.enumerated() where p.count != counts(k) { return false }
    return true
  }

  private func counts(_ k: Int) -> Int { (k + 1 < offsets.count ? offsets[k + 1] : total) - offsets[k] }

  private mutating func relayout(_ list: [Parameter<Element>], bufferCount: Int, _ operation: String) throws {
    var seen = Set<ObjectIdentifier>(minimumCapacity: list.count)
    for (index, p) in list.enumerated() {
      guard seen.insert(ObjectIdentifier(p)).inserted else {
        throw BumpKitError.invalidArgument(
          name: "parameters", value: "parameter \(index) (\(p.name))",
          reason: "\(operation): listed twice; it would be updated twice per step")
      }
    }
    // Where each parameter's state lies in the old layout, to carry it over.
    var old = [ObjectIdentifier: (offset: Int, count: Int)](minimumCapacity: trainable.count)
    for (k, p) in trainable.enumerated() { old[ObjectIdentifier(p)] = (offsets[k], counts(k)) }
    let newTrainable = list.filter(\.isTrainable)
    var newOffsets: [Int] = []
    newOffsets.reserveCapacity(newTrainable.count)
    var running = 0
    for p in newTrainable {
      newOffsets.append(running)
      running += p.count
    }
    let newBuffers = (0..<bufferCount).map { _ in Matrix<Element>(validRows: 1, columns: running) }
    // Parameters still listed but fixed now keep their state aside; parameters no longer
    // listed lose it.
    let listed = Set(list.map(ObjectIdentifier.init))
    frozen = frozen.filter { listed.contains($0.key) }
    for (id, was) in old where listed.contains(id) && !newTrainable.contains(where: { ObjectIdentifier($0) == id }) {
      let parameter = trainable.first { ObjectIdentifier($0) == id }!
      frozen[id] = (parameter, buffers.map { Array(UnsafeBufferPointer(start: $0.storage.base + was.offset, count: was.count)) })
    }
    for (k, p) in newTrainable.enumerated() {
      let id = ObjectIdentifier(p)
      if let was = old[id], was.count == p.count {
        for b in newBuffers.indices where b < buffers.count {
          (newBuffers[b].storage.base + newOffsets[k]).update(from: buffers[b].storage.base + was.offset, count: was.count)
        }
      } else if let kept = frozen.removeValue(forKey: id), kept.state.first?.count ?? p.count == p.count, p.count > 0 {
        for b in newBuffers.indices where b < kept.state.count {
          kept.state[b].withUnsafeBufferPointer { (newBuffers[b].storage.base + newOffsets[k]).update(from: $0.baseAddress!, count: p.count) }
        }
      }
    }
    parameters = list
    trainableFlags = list.map(\.isTrainable)
    trainable = newTrainable
    offsets = newOffsets
    total = running
    buffers = newBuffers
    valuePointers = newTrainable.map { $0.value.storage.base }
    gradientPointers = newTrainable.map { $0.gradient.storage.base }
    partials = try Matrix(rows: 1, columns: (running + Self.chunkElements - 1) / Self.chunkElements)
  }

  /// Makes every trainable value's buffer its own (copy-on-write, for a user's copy) and
  /// records where values and gradients are now. Allocates only when a copy exists.
  private mutating func refreshPointers() {
    for k in trainable.indices {
      let p = trainable[k]
      p.value.makeUnique()
      valuePointers[k] = p.value.storage.base
      gradientPointers[k] = p.gradient.storage.base
    }
  }
}

/// One pass of a step over the chunks of the flat layout (``OptimizerState``), as a job for
/// the threads: chunk c covers elements `c · chunkElements ..< (c + 1) · chunkElements` of the
/// concatenation, and its pieces (the parts of each parameter inside it) are visited in
/// order, so a chunk's result does not depend on the thread that runs it.
final class ChunkPass<Element: MatrixScalar>: WorkerPoolJob {
  /// What the pass does to each piece.
  enum Kind {
    /// Writes Σ g² of each chunk into `partials[chunk]`.
    case sumOfSquares
    /// Adam's update with these coefficients (state buffers: m, v).
    case adam(AdamCoefficients)
    /// SGD's update with these coefficients (state buffer: the velocity, if any).
    case sgd(SGDCoefficients)
  }

  // Unchecked exclusivity: the posting thread sets these before a job and the job's tasks
  // only read them, so no two accesses overlap; the dynamic checks cost a small step.
  @exclusivity(unchecked) var kind = Kind.sumOfSquares
  /// The layout's trainable parameters, where each starts, and the number of scalars.
  @exclusivity(unchecked) var trainable: [Parameter<Element>] = []
  @exclusivity(unchecked) var offsets: [Int] = []
  @exclusivity(unchecked) var total = 0
  /// Each trainable parameter's value and gradient, first element.
  @exclusivity(unchecked) var values: [UnsafeMutablePointer<Element>] = []
  @exclusivity(unchecked) var gradients: [UnsafeMutablePointer<Element>] = []
  /// The state buffers' first elements.
  @exclusivity(unchecked) var first: UnsafeMutablePointer<Element>?
  @exclusivity(unchecked) var second: UnsafeMutablePointer<Element>?
  /// One Double per chunk, for ``Kind/sumOfSquares``.
  @exclusivity(unchecked) var partials: UnsafeMutablePointer<Double>?
  /// The runs of chunks the pass is cut into (one task each): run g covers chunks
  /// `g·chunkCount/groups ..< (g+1)·chunkCount/groups`.
  @exclusivity(unchecked) var groups = 1
  /// The threads that share the runs.
  @exclusivity(unchecked) var threads = 1
  /// Which thread runs which run of chunks.
  let parts = PreferredParts()

  /// Drops the references to the layout's arrays.
  func release() {
    (trainable, offsets, values, gradients) = ([], [], [], [])
    (first, second, partials) = (nil, nil, nil)
  }

  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  func runTask(_ task: Int, worker: Int) {
    let chunks = (total + OptimizerState<Element>.chunkElements - 1) / OptimizerState<Element>.chunkElements
    guard let g = parts.claim(worker: worker, threads: threads, count: groups) else { return }
    for chunk in (g * chunks / groups)..<((g + 1) * chunks / groups) { runChunk(chunk) }
  }

  /// Chunk `chunk`: each piece of it in order.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  private func runChunk(_ chunk: Int) {
    let size = OptimizerState<Element>.chunkElements
    let (start, end) = (chunk * size, min(total, (chunk + 1) * size))
    // The first parameter that reaches into the chunk, then on until the chunk ends.
    var k = 0
    while offsets[k] + count(k) <= start { k += 1 }
    var isFirst = true
    while k < offsets.count && offsets[k] < end {
      let lo = max(start, offsets[k]) - offsets[k]
      let hi = min(end, offsets[k] + count(k)) - offsets[k]
      if hi > lo {
        piece(chunk: chunk, k, lo, hi, first: isFirst)
        isFirst = false
      }
      k += 1
    }
  }

  /// The scalars of trainable parameter k.
  private func count(_ k: Int) -> Int { (k + 1 < offsets.count ? offsets[k + 1] : total) - offsets[k] }

  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  private func piece(chunk: Int, _ k: Int, _ lo: Int, _ hi: Int, first isFirst: Bool) {
    let gradient = UnsafePointer(gradients[k] + lo)
    let at = offsets[k] + lo
    switch kind {
    case .sumOfSquares:
      let sum = UpdateKernels.sumOfSquares(gradient, count: hi - lo)
      partials![chunk] = isFirst ? sum : partials![chunk] + sum
    case .adam(let c):
      UpdateKernels.adam(
        value: values[k] + lo, gradient: gradient, firstMoment: first! + at, secondMoment: second! + at,
        count: hi - lo, c, floor: trainable[k].lowerBound)
    case .sgd(let c):
      UpdateKernels.sgd(
        value: values[k] + lo, gradient: gradient, velocity: first.map { $0 + at }, count: hi - lo, c,
        floor: trainable[k].lowerBound)
    }
  }
}

/// The global-norm clipping factor and the finite check of a step, from the flat layout.
extension OptimizerState {
  /// The global norm of the trainable gradients and the clipping factor min(1, c/‖g‖);
  /// throws, naming the parameter and position, if a gradient is NaN or infinite.
  /// The opening of every built-in optimizer's step: the scheduled rate η, the layout bound
  /// to `parameters` with `bufferCount` state buffers, the gradients checked and their global
  /// norm with the clipping factor for `maxNorm`, and the threads of the update pass
  /// (``OptimizerThreads/count``).
  ///
  /// - Throws: the schedule's errors, those of ``bind(_:bufferCount:_:)`` and a non-finite
  ///   gradient's; nothing has changed then but the layout.
  mutating func beginStep(
    _ parameters: [Parameter<Element>], bufferCount: Int, schedule: any LearningRateScheduling, base: Double,
    stepsPerEpoch: Int?, maxNorm: Double?, _ operation: String
  ) throws -> (rate: Double, norm: Double, factor: Double, threads: Int) {
    let rate = try OptimizerChecks.scheduledRate(
      schedule, base: base, iteration: iterations, stepsPerEpoch: stepsPerEpoch, operation)
    try bind(parameters, bufferCount: bufferCount, operation)
    let threads = OptimizerThreads.count
    let (norm, factor) = try checkedNormAndFactor(maxNorm: maxNorm, threads: threads, operation)
    return (rate, norm, factor, threads)
  }

  mutating func checkedNormAndFactor(maxNorm: Double?, threads: Int, _ operation: String) throws -> (norm: Double, factor: Double) {
    let sum = sumOfSquaredGradients(threads: threads)
    let norm = sum.isFinite ? sum.squareRoot() : try GradientClipping.checkedGlobalNorm(parameters, operation)
    guard let maxNorm, norm > maxNorm else { return (norm, 1) }
    return (norm, maxNorm / norm)
  }
}

// MARK: - Argument checks shared by the optimizers

/// Validation and the gradient check that every optimizer runs.
enum OptimizerChecks {
  static func validateLearningRate(_ value: Double) throws {
    guard value.isFinite && value >= 0 else {
      throw BumpKitError.invalidArgument(name: "learningRate", value: "\(value)", reason: "must be finite and ≥ 0")
    }
  }

  static func validateUnitInterval(_ value: Double, _ name: String) throws {
    guard value >= 0 && value < 1 else {
      throw BumpKitError.invalidArgument(name: name, value: "\(value)", reason: "must lie in [0, 1)")
    }
  }

  /// Checks that a snapshot fits an optimizer of `kind` with `slotNames` before it is
  /// restored.
  static func checkSnapshot<Element>(_ snapshot: OptimizerSnapshot<Element>, kind: String, slotNames: [String]) throws {
    guard snapshot.kind == kind else {
      throw BumpKitError.invalidArgument(
        name: "snapshot", value: snapshot.kind, reason: "it is the state of another optimizer; this one is \(kind)")
    }
    guard snapshot.slotNames == slotNames else {
      throw BumpKitError.invalidArgument(
        name: "snapshot", value: "slots \(snapshot.slotNames)",
        reason: "\(kind) with these settings keeps \(slotNames.isEmpty ? "none" : "\(slotNames)")")
    }
    guard snapshot.iterations >= 0 && snapshot.iterations < Int.max else {
      throw BumpKitError.invalidArgument(
        name: "snapshot", value: "\(snapshot.iterations) steps", reason: "the step count must be ≥ 0 and leave room for another step")
    }
  }

  /// Throws for a NaN in the snapshot's state buffers, or a negative value (−∞ included) in
  /// a slot of `nonNegative` (Adam's second moment `v`, a running mean of squares): a state
  /// no training makes (an edited checkpoint), which would turn the parameters into NaN at
  /// the first step, blamed on the model. Infinities that training does make are kept: in
  /// `Float`, `v` overflows to +∞ for a gradient beyond about 1.8·10¹⁹ while the parameter
  /// stays finite, and a velocity can overflow likewise.
  static func checkSlotValues<Element>(
    _ snapshot: OptimizerSnapshot<Element>, nonNegative: Set<String>, parameters: [Parameter<Element>]
  ) throws {
    for (k, buffers) in snapshot.states.enumerated() {
      guard let buffers else { continue }
      for (slot, buffer) in zip(snapshot.slotNames, buffers) {
        let floor = nonNegative.contains(slot)
        let bad = buffer.withUnsafeBufferPointer { b in b.firstIndex { $0.isNaN || (floor && $0 < 0) } }
        guard let bad else { continue }
        let name = k < parameters.count ? "parameter \(k) (\(parameters[k].name))" : "parameter \(k)"
        throw BumpKitError.invalidArgument(
          name: "snapshot", value: "\(slot) of \(name)[\(bad)] = \(buffer.withUnsafeBufferPointer { $0[bad] })",
          reason: "an optimizer's state must not be NaN\(floor ? ", and its \(slot) not negative" : ""); the snapshot (or the checkpoint it came from) is corrupt")
      }
    }
  }

  /// The checks of the settings every built-in optimizer has, after its own: λ finite and
  /// ≥ 0, the schedule against the base rate, a positive finite clipping norm.
  static func validateShared(
    learningRate: Double, weightDecay: Double, schedule: any LearningRateScheduling, clipGlobalNorm: Double?
  ) throws {
    guard weightDecay.isFinite && weightDecay >= 0 else {
      throw BumpKitError.invalidArgument(name: "weightDecay", value: "\(weightDecay)", reason: "must be finite and ≥ 0")
    }
    try schedule.validate(baseLearningRate: learningRate)
    if let clipGlobalNorm { try GradientClipping.validate(maxNorm: clipGlobalNorm) }
  }
}
