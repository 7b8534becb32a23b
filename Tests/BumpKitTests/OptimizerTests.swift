import BumpKit
import Foundation
import Testing

// MARK: - Helpers

/// A trainable matrix whose gradient a test can set through the public API: the weight W of
/// a bias-free Dense(k→n). After forward(I_k), backward(G) stores xᵀ·G = G exactly in W's
/// gradient (every other product is 0 · g = 0).
private final class SettableParameter<T: MatrixScalar> {
  let dense: Dense<T>
  var parameter: Parameter<T> { dense.weight }

  init(_ value: [[Double]]) throws {
    dense = try Dense(inputSize: value.count, outputSize: value[0].count, useBias: false)
    try dense.weight.assign(Matrix(value.map { $0.map { T($0) } }))
  }

  func setGradient(_ gradient: [[Double]]) throws {
    _ = try dense.forward(Matrix<T>.identity(size: dense.inputSize))
    _ = try dense.backward(Matrix(gradient.map { $0.map { T($0) } }))
    dense.releaseSavedState()
  }

  var values: [Double] { parameter.value.elements.map { Double($0) } }
}

/// Adam as the paper writes it, in Double: returns θ after each gradient in `gradients`.
private func referenceAdam(
  theta start: [Double], gradients: [[Double]], learningRate: Double, beta1: Double = 0.9,
  beta2: Double = 0.999, epsilon: Double = 1e-8, l2: Double = 0, decoupledDecay: Double = 0
) -> [[Double]] {
  var theta = start
  var m = [Double](repeating: 0, count: start.count), v = m
  var trajectory: [[Double]] = []
  for (step, g) in gradients.enumerated() {
    let t = Double(step + 1)
    for i in theta.indices {
      let gi = g[i] + l2 * theta[i]
      m[i] = beta1 * m[i] + (1 - beta1) * gi
      v[i] = beta2 * v[i] + (1 - beta2) * gi * gi
      let mHat = m[i] / (1 - pow(beta1, t))
      let vHat = v[i] / (1 - pow(beta2, t))
      theta[i] = theta[i] - learningRate * decoupledDecay * theta[i] - learningRate * mHat / (vHat.squareRoot() + epsilon)
    }
    trajectory.append(theta)
  }
  return trajectory
}

private func maxRelativeDifference(_ a: [Double], _ b: [Double]) -> Double {
  zip(a, b).map { abs($0 - $1) / max(abs($0), abs($1), 1e-300) }.max() ?? 0
}

/// Checks that `body` throws `BumpKitError.invalidArgument` naming `name`.
private func expectInvalidArgument(
  _ name: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
  do {
    try body()
    Issue.record("no error for invalid \(name)", sourceLocation: sourceLocation)
  } catch let BumpKitError.invalidArgument(got, _, _) {
    #expect(got.contains(name), "expected an error naming \(name), got \(got)", sourceLocation: sourceLocation)
  } catch {
    Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
  }
}

// MARK: - Tests

@Suite("Optimizers")
struct OptimizerTests {
  private static let target: [[Double]] = [[1, -2, 0.5], [3, 0, -1]]

  /// Minimises the quadratic bowl ‖W − W*‖²/6 (MSE of the identity map against W*) and
  /// returns the largest |W − W*|.
  private func bowlError<T: MatrixScalar, O: Optimizer>(_ optimizer: O, steps: Int, _: T.Type) throws -> Double
  where O.Element == T {
    let dense = try Dense<T>(inputSize: 2, outputSize: 3, useBias: false)
    let identity = try Matrix<T>.identity(size: 2)
    let target = try Matrix<T>(Self.target.map { $0.map { T($0) } })
    let loss = MeanSquaredError<T>()
    var gradient = Matrix<T>()
    for _ in 0..<steps {
      let y = try dense.forward(identity)
      _ = try loss.lossAndGradient(predicted: y, target: target, gradient: &gradient)
      _ = try dense.backward(gradient)
      try optimizer.step(dense.parameters)
    }
    #expect(optimizer.iterations == steps)
    return zip(dense.weight.value.elements, target.elements).map { abs(Double($0) - Double($1)) }.max()!
  }

  @Test("every optimizer minimises a quadratic bowl, in Float and in Double")
  func quadraticBowlConverges() throws {
    try checkBowl(Float.self, tolerance: 1e-4)
    try checkBowl(Double.self, tolerance: 1e-6)
  }

  private func checkBowl<T: MatrixScalar>(_: T.Type, tolerance: Double) throws {
    let annealed = LearningRateSchedule.cosine(totalSteps: 1500, minimum: 0)
    let runs: [(String, Double)] = [
      ("SGD", try bowlError(SGD<T>(learningRate: 1), steps: 200, T.self)),
      ("SGD momentum", try bowlError(SGD<T>(learningRate: 0.5, momentum: 0.9), steps: 600, T.self)),
      ("SGD Nesterov", try bowlError(SGD<T>(learningRate: 0.5, momentum: 0.9, nesterov: true), steps: 600, T.self)),
      ("Adam", try bowlError(Adam<T>(learningRate: 0.1, schedule: annealed), steps: 1500, T.self)),
      ("AdamW", try bowlError(AdamW<T>(learningRate: 0.1, weightDecay: 0, schedule: annealed), steps: 1500, T.self)),
      ("clipped SGD", try bowlError(SGD<T>(learningRate: 1, clipGlobalNorm: 0.1), steps: 400, T.self)),
    ]
    for (name, error) in runs { #expect(error < tolerance, "\(name) <\(T.self)>: max |W − W*| = \(error)") }
  }

  @Test("Adam's first steps match the paper's formula computed by hand")
  func adamMatchesReference() throws {
    try checkAdamReference(Double.self, epsilon: 1e-8, tolerance: 1e-14)
    try checkAdamReference(Double.self, epsilon: 1e-3, tolerance: 1e-14)
    try checkAdamReference(Float.self, epsilon: 1e-8, tolerance: 2e-6)
  }

  private func checkAdamReference<T: MatrixScalar>(_: T.Type, epsilon: Double, tolerance: Double) throws {
    let start = [0.5, -1, 2]
    let gradients: [[Double]] = [[0.1, -0.2, 0.3], [-0.05, 0.4, 0], [1, 1, -1], [0.002, -0.3, 0.25]]
    let theta = try SettableParameter<T>([start])
    let adam = try Adam<T>(learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: epsilon)
    let expected = referenceAdam(theta: start, gradients: gradients, learningRate: 0.01, epsilon: epsilon)
    for (t, g) in gradients.enumerated() {
      try theta.setGradient([g])
      try adam.step([theta.parameter])
      #expect(maxRelativeDifference(theta.values, expected[t]) < tolerance, "\(T.self) step \(t + 1): \(theta.values) vs \(expected[t])")
    }
    // The first step moves every coordinate by about η (m̂/√v̂ = ±1), whatever |g|.
    if epsilon == 1e-8 {
      for i in 0..<3 { #expect(abs(abs(expected[0][i] - start[i]) - 0.01) < 1e-6) }
    }
  }

  @Test("AdamW's decoupled decay differs from Adam's L2 term; each matches its formula")
  func adamWDiffersFromAdamWithL2() throws {
    let start = [0.5, -1, 2]
    let gradients: [[Double]] = [[0.1, -0.2, 0.3], [-0.05, 0.4, 0], [1, 1, -1]]
    let (lr, lambda) = (0.01, 0.1)
    let decoupled = try SettableParameter<Double>([start]), coupled = try SettableParameter<Double>([start])
    let adamW = try AdamW<Double>(learningRate: lr, weightDecay: lambda)
    let adamL2 = try Adam<Double>(learningRate: lr, weightDecay: lambda)
    for g in gradients {
      try decoupled.setGradient([g])
      try coupled.setGradient([g])
      try adamW.step([decoupled.parameter])
      try adamL2.step([coupled.parameter])
    }
    let expectedW = referenceAdam(theta: start, gradients: gradients, learningRate: lr, decoupledDecay: lambda).last!
    let expectedL2 = referenceAdam(theta: start, gradients: gradients, learningRate: lr, l2: lambda).last!
    #expect(maxRelativeDifference(decoupled.values, expectedW) < 1e-14)
    #expect(maxRelativeDifference(coupled.values, expectedL2) < 1e-14)
    #expect(maxRelativeDifference(decoupled.values, coupled.values) > 1e-5)

    // Without decay the two are the same optimizer, bit for bit.
    let a = try SettableParameter<Float>([start]), b = try SettableParameter<Float>([start])
    let plain = try Adam<Float>(learningRate: lr), w = try AdamW<Float>(learningRate: lr, weightDecay: 0)
    for g in gradients {
      try a.setGradient([g])
      try b.setGradient([g])
      try plain.step([a.parameter])
      try w.step([b.parameter])
    }
    #expect(a.values == b.values)
  }

  @Test("AdamW is Adam's decoupled form: Adam's initializer with its own default decay and kind")
  func adamWIsTheDecoupledForm() throws {
    let adam = try Adam<Float>(), adamW = try AdamW<Float>()
    #expect(adam.weightDecay == 0 && adam.kind == "adam")
    #expect(adamW.weightDecay == 0.01 && adamW.kind == "adamw")
    let given = try AdamW<Double>(learningRate: 0.02, beta1: 0.8, beta2: 0.99, epsilon: 1e-7, weightDecay: 0.3, clipGlobalNorm: 2)
    #expect(given.baseLearningRate == 0.02 && given.beta1 == 0.8 && given.beta2 == 0.99)
    #expect(given.epsilon == 1e-7 && given.weightDecay == 0.3 && given.clipGlobalNorm == 2)
    // An AdamW is an Adam: code written for Adam takes it.
    let asAdam: Adam<Double> = given
    #expect(asAdam.kind == "adamw")
  }

  @Test("global-norm clipping scales the whole gradient by c/‖g‖ before the update")
  func clippingScalesGlobalNorm() throws {
    let a = try SettableParameter<Double>([[1, 1]]), b = try SettableParameter<Double>([[1, 1]])
    try a.setGradient([[3, 0]])
    try b.setGradient([[0, 4]])  // global norm 5
    #expect(GradientClipping.globalNorm([a.parameter, b.parameter]) == 5)

    let clipped = try SGD<Double>(learningRate: 1, clipGlobalNorm: 1)
    try clipped.step([a.parameter, b.parameter])
    #expect(clipped.lastGradientNorm == 5)
    #expect(maxRelativeDifference(a.values, [1 - 0.6, 1]) < 1e-15)
    #expect(maxRelativeDifference(b.values, [1, 1 - 0.8]) < 1e-15)

    // Below the threshold nothing is scaled.
    let loose = try SGD<Double>(learningRate: 1, clipGlobalNorm: 10)
    try loose.step([a.parameter, b.parameter])
    #expect(maxRelativeDifference(a.values, [0.4 - 3, 1]) < 1e-15)
    #expect(maxRelativeDifference(b.values, [1, 0.2 - 4]) < 1e-15)

    // In place, for custom update rules.
    let norm = try GradientClipping.clipByGlobalNorm([a.parameter, b.parameter], maxNorm: 2.5)
    #expect(norm == 5)
    #expect(a.parameter.gradient.elements == [1.5, 0] && b.parameter.gradient.elements == [0, 2])
    #expect(GradientClipping.globalNorm([a.parameter, b.parameter]) == 2.5)
    expectInvalidArgument("clipGlobalNorm") { try GradientClipping.clipByGlobalNorm([a.parameter], maxNorm: 0) }
  }

  @Test("the global norm of huge finite gradients does not overflow")
  func clippingHugeGradients() throws {
    let p = try SettableParameter<Double>([[0, 0]])
    try p.setGradient([[1e300, 1e300]])
    let norm = GradientClipping.globalNorm([p.parameter])
    #expect(abs(norm / (1e300 * 2.0.squareRoot()) - 1) < 1e-15)
    let sgd = try SGD<Double>(learningRate: 1, clipGlobalNorm: 1)
    try sgd.step([p.parameter])
    for v in p.values { #expect(abs(v + 0.5.squareRoot()) < 1e-15) }
  }

  @Test("schedules give the expected rates, and steps use them")
  func schedules() throws {
    let stepped = LearningRateSchedule.step(every: 2, factor: 0.5)
    #expect((0..<6).map { stepped.learningRate(base: 1, iteration: $0) } == [1, 1, 0.5, 0.5, 0.25, 0.25])
    let cosine = LearningRateSchedule.cosine(totalSteps: 4, minimum: 0.1)
    let expected = [1, 0.1 + 0.9 * (1 + cos(Double.pi / 4)) / 2, 0.55, 0.1 + 0.9 * (1 + cos(3 * Double.pi / 4)) / 2, 0.1, 0.1]
    for (t, rate) in expected.enumerated() {
      #expect(abs(cosine.learningRate(base: 1, iteration: t) - rate) < 1e-15, "t = \(t)")
    }
    #expect(LearningRateSchedule.constant.learningRate(base: 0.3, iteration: 1000) == 0.3)

    // SGD with g = 1: each step moves θ by exactly the scheduled rate.
    let p = try SettableParameter<Double>([[0]])
    let sgd = try SGD<Double>(learningRate: 1, schedule: stepped)
    var theta = 0.0
    for t in 0..<6 {
      #expect(sgd.learningRate == stepped.learningRate(base: 1, iteration: t))
      try p.setGradient([[1]])
      try sgd.step([p.parameter])
      theta -= stepped.learningRate(base: 1, iteration: t)
      #expect(p.values == [theta])
    }
    let adam = try Adam<Float>(learningRate: 0.2, schedule: cosine)
    #expect(adam.learningRate == 0.2)
  }

  @Test("invalid arguments throw from the initializers, naming the argument")
  func invalidArguments() {
    for bad in [-1, .nan, .infinity] {
      expectInvalidArgument("learningRate") { _ = try SGD<Float>(learningRate: bad) }
      expectInvalidArgument("learningRate") { _ = try Adam<Float>(learningRate: bad) }
      expectInvalidArgument("learningRate") { _ = try AdamW<Double>(learningRate: bad) }
      expectInvalidArgument("weightDecay") { _ = try SGD<Float>(weightDecay: bad) }
      expectInvalidArgument("weightDecay") { _ = try AdamW<Float>(weightDecay: bad) }
      expectInvalidArgument("clipGlobalNorm") { _ = try Adam<Float>(clipGlobalNorm: bad) }
      expectInvalidArgument("epsilon") { _ = try Adam<Double>(epsilon: bad) }
    }
    for bad in [1, 1.5, -0.1, .nan] {
      expectInvalidArgument("momentum") { _ = try SGD<Float>(momentum: bad) }
      expectInvalidArgument("beta1") { _ = try Adam<Float>(beta1: bad) }
      expectInvalidArgument("beta2") { _ = try AdamW<Float>(beta2: bad) }
    }
    expectInvalidArgument("epsilon") { _ = try Adam<Float>(epsilon: 0) }
    expectInvalidArgument("epsilon") { _ = try Adam<Float>(epsilon: 1e-50) }  // 0 in Float
    expectInvalidArgument("clipGlobalNorm") { _ = try SGD<Float>(clipGlobalNorm: 0) }
    expectInvalidArgument("nesterov") { _ = try SGD<Float>(momentum: 0, nesterov: true) }
    expectInvalidArgument("every") { _ = try SGD<Float>(schedule: .step(every: 0, factor: 0.5)) }
    expectInvalidArgument("factor") { _ = try SGD<Float>(schedule: .step(every: 10, factor: 0)) }
    expectInvalidArgument("factor") { _ = try Adam<Float>(schedule: .step(every: 10, factor: .nan)) }
    expectInvalidArgument("totalSteps") { _ = try Adam<Float>(schedule: .cosine(totalSteps: 0, minimum: 0)) }
    expectInvalidArgument("minimum") { _ = try Adam<Float>(learningRate: 0.01, schedule: .cosine(totalSteps: 10, minimum: 0.1)) }
    expectInvalidArgument("minimum") { _ = try Adam<Float>(schedule: .cosine(totalSteps: 10, minimum: -1)) }
    #expect(throws: Never.self) { _ = try SGD<Float>(learningRate: 0, momentum: 0.99, nesterov: true) }
  }

  @Test("parameters with a lower bound are projected after the update")
  func projection() throws {
    // A zero gradient: the step leaves the values, the projection lifts them to the floor.
    for makeOptimizer in [{ try SGD<Double>(learningRate: 0.1) as any Optimizer<Double> }, { try Adam<Double>() }, { try AdamW<Double>() }] {
      let s = Parameter<Double>(name: "s", value: try Matrix([[-1, 0.5, 0.05]]), lowerBound: 0.1)
      try makeOptimizer().step([s])
      #expect(s.value[0, 0] == 0.1 && s.value[0, 2] == 0.1)
      #expect(abs(s.value[0, 1] - 0.5) < 1e-4)  // AdamW's default decay moves it by 5e-6
    }
    // A bump's σ pushed far below zero by a large step ends at the layer's floor.
    let bump = try Bump<Float>(units: 2, sigma: .perUnit(.constant(0.01)))
    _ = try bump.forward(try Matrix([[0.05, -0.02]]))
    _ = try bump.backward(try Matrix([[1, 1]]))
    #expect(bump.sigma.gradient.elements.allSatisfy { $0 > 0 })
    try SGD<Float>(learningRate: 1e6).step(bump.parameters)
    #expect(bump.sigma.value.elements == [bump.sigmaFloor, bump.sigmaFloor])
  }

  @Test("a NaN or infinite gradient throws, naming the parameter, and changes nothing")
  func nonFiniteGradients() throws {
    for bad in [Double.nan, .infinity] {
      let good = try SettableParameter<Float>([[1, 2]]), broken = try SettableParameter<Float>([[3, 4], [5, 6]])
      try good.setGradient([[0.1, 0.1]])
      try broken.setGradient([[0.5, 0.5], [0.5, bad]])
      let optimizers: [any Optimizer<Float>] = [
        try SGD<Float>(learningRate: 0.1, momentum: 0.9), try Adam<Float>(), try AdamW<Float>(),
        try SGD<Float>(clipGlobalNorm: 1),
      ]
      for optimizer in optimizers {
        do {
          try optimizer.step([good.parameter, broken.parameter])
          Issue.record("\(type(of: optimizer)) accepted a \(bad) gradient")
        } catch let BumpKitError.nonFiniteData(what, row, column, _) {
          #expect(what.contains("parameter 1") && what.contains("weight"), "\(what)")
          #expect(row == 0 || row == 1)
          #expect(column == 1)
        }
        #expect(optimizer.iterations == 0)
        #expect(good.values == [1, 2] && broken.values == [3, 4, 5, 6])
      }
    }
  }

  @Test("fixed parameters are left alone")
  func fixedParametersAreNotUpdated() throws {
    let p = try SettableParameter<Double>([[1, 2]])
    try p.setGradient([[5, 5]])
    p.parameter.isTrainable = false
    try Adam<Double>().step([p.parameter])
    try SGD<Double>().step([p.parameter])
    #expect(p.values == [1, 2])
  }

  @Test("state follows the parameter's identity, not its position; duplicates are rejected")
  func stateFollowsIdentity() throws {
    let gradients: [[[Double]]] = [[[0.1, -0.3]], [[0.2, 0.2]], [[-0.5, 0.05]]]
    let a1 = try SettableParameter<Double>([[1, 2]]), b1 = try SettableParameter<Double>([[-1, 0]])
    let a2 = try SettableParameter<Double>([[1, 2]]), b2 = try SettableParameter<Double>([[-1, 0]])
    let inOrder = try Adam<Double>(learningRate: 0.1), shuffled = try Adam<Double>(learningRate: 0.1)
    for (t, g) in gradients.enumerated() {
      for p in [a1, b1, a2, b2] { try p.setGradient(g) }
      try inOrder.step([a1.parameter, b1.parameter])
      try shuffled.step(t % 2 == 0 ? [a2.parameter, b2.parameter] : [b2.parameter, a2.parameter])
    }
    #expect(a1.values == a2.values && b1.values == b2.values)
    expectInvalidArgument("parameters") { try inOrder.step([a1.parameter, a1.parameter]) }
    #expect(inOrder.iterations == 3)
  }

  @Test("reset forgets the state and restarts the schedule")
  func reset() throws {
    let p = try SettableParameter<Float>([[1]]), q = try SettableParameter<Float>([[1]])
    let used = try Adam<Float>(learningRate: 0.1, schedule: .step(every: 1, factor: 0.5))
    for _ in 0..<3 {
      try p.setGradient([[1]])
      try used.step([p.parameter])
    }
    #expect(used.iterations == 3 && used.learningRate == 0.0125)
    used.reset()
    #expect(used.iterations == 0 && used.learningRate == 0.1 && used.lastGradientNorm == nil)
    try p.assign(1)
    let fresh = try Adam<Float>(learningRate: 0.1, schedule: .step(every: 1, factor: 0.5))
    try p.setGradient([[0.3]])
    try q.setGradient([[0.3]])
    try used.step([p.parameter])
    try fresh.step([q.parameter])
    #expect(p.values == q.values)
  }
}

extension SettableParameter {
  fileprivate func assign(_ value: Double) throws {
    try parameter.assign(Matrix(rows: parameter.value.rows, columns: parameter.value.columns, repeating: T(value)))
  }
}

// MARK: - The fused, chunked step

/// Runs three steps of an optimizer over parameters whose sizes cross the optimizer's
/// internal chunk boundaries, on `threads` threads.
private func chunkedTrajectory<T: MatrixScalar>(
  _: T.Type, threads: Int, make: @Sendable () throws -> any Optimizer<T>
) throws -> [[Double]] {
  // 160,000 + 21 + 120,000 elements: the optimizer's chunks (2¹⁴ elements) end inside the
  // first and the last parameter, and one holds the small one whole.
  let shapes = [(400, 400), (3, 7), (300, 400)]
  var state: UInt64 = 0x0BAD_5EED
  func next() -> Double {
    state = state &* 6364136223846793005 &+ 1442695040888963407
    return Double(state >> 11) * 0x1p-53 * 2 - 1
  }
  let parameters = try shapes.map { r, c in
    try SettableParameter<T>((0..<r).map { _ in (0..<c).map { _ in next() } })
  }
  let optimizer = try make()
  for _ in 0..<3 {
    for (p, (r, c)) in zip(parameters, shapes) {
      try p.setGradient((0..<r).map { _ in (0..<c).map { _ in next() } })
    }
    try OptimizerThreads.$override.withValue(threads) { try optimizer.step(parameters.map(\.parameter)) }
  }
  return parameters.map(\.values)
}

@Suite("Optimizers: the fused step")
struct FusedOptimizerStepTests {
  static let makers: [(String, @Sendable () throws -> any Optimizer<Float>)] = [
    ("Adam", { try Adam<Float>(learningRate: 0.01) }),
    ("AdamW", { try AdamW<Float>(learningRate: 0.01, weightDecay: 0.1) }),
    ("Adam clipped", { try Adam<Float>(learningRate: 0.01, clipGlobalNorm: 1) }),
    ("SGD", { try SGD<Float>(learningRate: 0.1) }),
    ("SGD Nesterov", { try SGD<Float>(learningRate: 0.1, momentum: 0.9, nesterov: true) }),
  ]

  @Test("the update passes follow the one thread setting unless a task overrides it for its own steps")
  func threadsFollowTheSetting() async throws {
    #expect(OptimizerThreads.count == max(1, KernelOptions.defaultThreadCount))
    OptimizerThreads.$override.withValue(3) { #expect(OptimizerThreads.count == 3) }
    // Another task does not see this task's override.
    await OptimizerThreads.$override.withValue(5) {
      let other = await Task.detached { OptimizerThreads.count }.value
      #expect(other == max(1, KernelOptions.defaultThreadCount))
    }
  }

  @Test("results are bit-identical for 1, 2 and 3 threads across chunk boundaries")
  func threadCountIndependence() throws {
    for (name, make) in Self.makers {
      let one = try chunkedTrajectory(Float.self, threads: 1, make: make)
      for threads in [2, 3] {
        let other = try chunkedTrajectory(Float.self, threads: threads, make: make)
        #expect(one.map { $0.map(\.bitPattern) } == other.map { $0.map(\.bitPattern) }, "\(name), \(threads) threads")
      }
    }
  }

  @Test("a step over many parameters matches the paper's Adam for every element")
  func chunkedAdamMatchesReference() throws {
    // Two parameters of 160,000 and 140,000 elements, so that chunks (2¹⁷ elements) cut both.
    let starts: [[Double]] = [(0..<160_000).map { Double($0 % 97) * 0.01 - 0.4 }, (0..<140_000).map { Double($0 % 89) * -0.02 + 0.7 }]
    let gradients: [[[Double]]] = starts.map { s in
      (0..<3).map { step in s.indices.map { i in sin(Double(i * (step + 2))) } }
    }
    let parameters = try starts.map { try SettableParameter<Double>([$0]) }
    let adam = try Adam<Double>(learningRate: 0.05)
    for step in 0..<3 {
      for (p, g) in zip(parameters, gradients) { try p.setGradient([g[step]]) }
      try OptimizerThreads.$override.withValue(2) { try adam.step(parameters.map(\.parameter)) }
    }
    for (k, p) in parameters.enumerated() {
      let expected = referenceAdam(theta: starts[k], gradients: gradients[k], learningRate: 0.05).last!
      // Values are O(1): an absolute bound, since a value near 0 makes relative ones meaningless.
      let worst = zip(p.values, expected).map { abs($0 - $1) }.max() ?? .nan
      #expect(worst < 1e-13, "parameter \(k): max |Δ| = \(worst)")
    }
  }

  @Test("a copy of a parameter's value taken before a step keeps its elements")
  func copiesOfValuesAreUnchanged() throws {
    let p = try SettableParameter<Float>([[1, 2, 3]])
    try p.setGradient([[1, 1, 1]])
    let snapshot = p.parameter.value
    try Adam<Float>(learningRate: 0.5).step([p.parameter])
    #expect(snapshot.elements == [1, 2, 3])
    #expect(p.values.allSatisfy { $0 < 3 } && p.values != [1, 2, 3])
  }

  @Test("a parameter fixed for a step keeps its Adam moments for when it is trainable again")
  func frozenParametersKeepTheirState() throws {
    let (lr, b1, b2, eps) = (0.1, 0.9, 0.999, 1e-8)
    let a = try SettableParameter<Double>([[1, 2]]), b = try SettableParameter<Double>([[-1, 0.5]])
    let adam = try Adam<Double>(learningRate: lr)
    let g1: [Double] = [0.3, -0.2], g3: [Double] = [-0.1, 0.4]
    try a.setGradient([g1]); try b.setGradient([g1])
    try adam.step([a.parameter, b.parameter])
    b.parameter.isTrainable = false
    try a.setGradient([g1])
    try adam.step([a.parameter, b.parameter])
    b.parameter.isTrainable = true
    try a.setGradient([g3]); try b.setGradient([g3])
    try adam.step([a.parameter, b.parameter])
    // By hand: b's moments from step 1, untouched at step 2, updated at step 3 (t = 3).
    let start: [Double] = [-1, 0.5]
    var expected: [Double] = []
    for i in 0..<2 {
      var m = (1 - b1) * g1[i], v = (1 - b2) * g1[i] * g1[i]
      var theta = start[i] - lr * (m / (1 - b1)) / ((v / (1 - b2)).squareRoot() + eps)
      m = b1 * m + (1 - b1) * g3[i]
      v = b2 * v + (1 - b2) * g3[i] * g3[i]
      theta -= lr * (m / (1 - pow(b1, 3))) / ((v / (1 - pow(b2, 3))).squareRoot() + eps)
      expected.append(theta)
    }
    let worst = zip(b.values, expected).map { abs($0 - $1) }.max()!
    #expect(worst < 1e-12, "b = \(b.values), expected \(expected)")
  }
}
