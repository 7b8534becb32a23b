import BumpKit
import Foundation
import Testing
import BumpTestSupport

/// The RadialBump layer: gradient checks in both distance forms (direct for small d, GEMM
/// above), Float against Double, accuracy against a wide direct evaluation in the
/// cancellation regime, errors on bad values, σ's floor, support statistics and centres from
/// data.
@Suite("RadialBump")
struct RadialBumpTests {
  /// Rows near the centres, at distance ratios ‖x − cⱼ‖/√σⱼ on both sides of 1 for the unit
  /// they were placed by, and kept only where every pair is at least 5 % away from a
  /// boundary (finite differences across it would compare the zero branch with the other).
  static func straddlingInputs<E: MatrixScalar>(_ layer: RadialBump<E>, rows: Int, seed: UInt64) throws -> Matrix<Double> {
    var generator = SeededGenerator(seed: seed)
    let d = layer.inputSize
    var out: [[Double]] = []
    let ratios = [0.1, 0.4, 0.7, 0.9, 1.1, 1.5]
    var attempts = 0
    while out.count < rows && attempts < 10_000 {
      attempts += 1
      let j = Int(generator.next() % UInt64(layer.units))
      let ratio = ratios[Int(generator.next() % UInt64(ratios.count))]
      var dir = (0..<d).map { _ in generator.nextNormal() }
      let norm = dir.map { $0 * $0 }.reduce(0, +).squareRoot()
      let radius = Double(layer.sigma.value[0, j]).squareRoot() * ratio
      dir = dir.map { $0 / norm * radius }
      let x = (0..<d).map { Double(layer.center.value[j, $0]) + dir[$0] }
      let ok = (0..<layer.units).allSatisfy { u in
        var r2 = 0.0
        for k in 0..<d { r2 += (x[k] - Double(layer.center.value[u, k])) * (x[k] - Double(layer.center.value[u, k])) }
        return abs((r2 / Double(layer.sigma.value[0, u])).squareRoot() - 1) >= 0.05
      }
      if ok { out.append(x) }
    }
    return try Matrix(out)
  }

  static func layer<E: MatrixScalar>(_: E.Type, inputSize: Int, units: Int) throws -> RadialBump<E> {
    try RadialBump<E>(
      inputSize: inputSize, units: units, sigma: .trainable(.uniform(0.3, 1.2)),
      center: .trainable(.uniform(-1, 1)), amplitude: .trainable(.uniform(-2, 2)))
  }

  @Test("Gradient check in Double: c, σ, a and the input, inputs straddling the supports", arguments: [1, 2, 5, 12, 24])
  func gradientCheck(inputSize: Int) throws {
    let layer = try Self.layer(Double.self, inputSize: inputSize, units: 7)
    // Wider supports in higher dimension, so that random points fall inside some.
    if inputSize > 4 {
      layer.sigma.updateValue { s in for i in s.indices { s[i] *= Double(inputSize) / 4 } }
    }
    let x = try Self.straddlingInputs(layer, rows: 12, seed: UInt64(inputSize))
    #expect(x.rows == 12)
    // The GEMM form (d > 8) rounds r² to ε·(‖x'‖² + ‖c'‖²) rather than ε·r², a little more
    // rounding noise in the differences: a larger step and a looser tolerance there.
    let gemm = inputSize > RadialBump<Double>.directDimensionLimit
    let report = try GradientCheck.check(layer: layer, input: x, relativeStep: gemm ? 1e-5 : 1e-6)
    #expect(report.passed(tolerance: gemm ? 1e-5 : 1e-6), "d=\(inputSize):\n\(report)")
    #expect(report.tensors.map(\.name) == ["input", "center", "sigma", "amplitude"])
    #expect(layer.supportFraction > 0.05 && layer.supportFraction < 0.95, "support fraction \(layer.supportFraction)")
  }

  @Test("Float against Double, both distance forms", arguments: [2, 24])
  func floatAgainstDouble(inputSize: Int) throws {
    let f = try Self.layer(Float.self, inputSize: inputSize, units: 9)
    let d = try Self.layer(Double.self, inputSize: inputSize, units: 9)
    if inputSize > 4 {
      f.sigma.updateValue { s in for i in s.indices { s[i] *= Float(inputSize) / 4 } }
    }
    let x = try Self.straddlingInputs(f, rows: 20, seed: 3)
    let xf = try Matrix<Float>(rows: x.rows, columns: x.columns, repeating: 0)
    var input = xf
    for i in 0..<x.rows { for k in 0..<x.columns { input[i, k] = Float(x[i, k]) } }
    let report = try GradientCheck.compare(f, reference: d, input: input)
    #expect(report.passed(tolerance: 1e-3), "d=\(inputSize):\n\(report)")
  }

  /// Data and centres far from the origin and close to each other (offset 10⁴ in Float,
  /// spread 1): the plain GEMM form would have errors far above σ. Against r² and g computed
  /// directly in Double (Float layer) and Float80 (Double layer).
  @Test("Accuracy in the cancellation regime", arguments: [2, 16, 64])
  func cancellation(inputSize d: Int) throws {
    for offset in [0.0, 1e2, 1e4] {
      let units = 16, rows = 40
      var generator = SeededGenerator(seed: UInt64(d))
      var c = try Matrix<Float>(rows: units, columns: d), x = try Matrix<Float>(rows: rows, columns: d)
      for j in 0..<units { for k in 0..<d { c[j, k] = Float(offset + 2 * generator.nextUnit() - 1) } }
      for i in 0..<rows { for k in 0..<d { x[i, k] = Float(offset + 2 * generator.nextUnit() - 1) } }
      let typical = 2.0 / 3.0 * Double(d)
      let layer = try RadialBump<Float>(inputSize: d, units: units, sigma: .trainable(.constant(Float(typical))))
      try layer.center.assign(c)
      let g = try layer.forward(x)
      var worst = 0.0, inside = 0
      let sigma = Double(Float(typical))
      let kappa = Double(RadialBumpKernel.errorBoundFactor(dimension: d, Float.self))
      for i in 0..<rows {
        for j in 0..<units {
          var r2: Double = 0
          for k in 0..<d { r2 += (Double(x[i, k]) - Double(c[j, k])) * (Double(x[i, k]) - Double(c[j, k])) }
          let u = sigma - r2
          guard u > 0 else {
            #expect(g[i, j] == 0, "offset \(offset): nonzero outside at (\(i), \(j))")
            continue
          }
          inside += 1
          let t = sigma / u
          let f = Foundation.exp(-t)
          // Relative accuracy is promised where f is a normal Float.
          guard f >= Double(Float.leastNormalMagnitude) else { continue }
          // f's error from r²'s bound 8·κ(d)·σ (condition t²/σ) plus the element-wise kernel's.
          let bound = 1.01 * t * t * 8 * kappa + 4 * 8e-7 * max(1, t)
          worst = max(worst, abs(Double(g[i, j]) - f) / f / bound)
        }
      }
      #expect(inside > rows * units / 10, "offset \(offset): only \(inside) pairs inside")
      #expect(worst <= 1, "d=\(d), offset \(offset): error \(worst) of the bound")
    }
  }

  @Test("Bad values throw typed errors")
  func errors() throws {
    #expect(throws: BumpKitError.self) { try RadialBump<Float>(inputSize: 0, units: 3) }
    #expect(throws: BumpKitError.self) { try RadialBump<Float>(inputSize: 2, units: 0) }
    #expect(throws: BumpKitError.self) { try RadialBump<Float>(inputSize: 2, units: 3, sigmaFloor: 0) }
    let negative = #expect(throws: BumpKitError.self) {
      try RadialBump<Double>(inputSize: 2, units: 3, sigma: .trainable(.constant(-1)))
    }
    if case .invalidParameter(_, let parameter, _, _, _)? = negative { #expect(parameter == "σ") } else { Issue.record("\(String(describing: negative))") }
    #expect(throws: BumpKitError.self) { try RadialBump<Double>(inputSize: 2, units: 3, center: .fixed(.nan)) }
    #expect(throws: BumpKitError.self) { try RadialBump<Double>(inputSize: 2, units: 3, amplitude: .fixed(.infinity)) }
    let layer = try RadialBump<Double>(inputSize: 2, units: 3)
    #expect(throws: BumpKitError.self) { try layer.forward(Matrix(rows: 4, columns: 3)) }
    #expect(throws: BumpKitError.self) { try layer.backward(Matrix(rows: 4, columns: 3)) }
    layer.sigma.updateValue { $0[1] = .nan }
    #expect(throws: BumpKitError.self) { try layer.forward(Matrix(rows: 4, columns: 2)) }
    var generator = SeededGenerator(seed: 1)
    #expect(throws: BumpKitError.self) { try layer.initializeCenters(from: Matrix(rows: 0, columns: 2), using: &generator) }
    var bad = try Matrix<Double>(rows: 3, columns: 2)
    bad[1, 1] = .nan
    #expect(throws: BumpKitError.self) { try layer.initializeCenters(from: bad, using: &generator) }
    #expect(throws: BumpKitError.self) { try layer.initializeCenters(from: Matrix(rows: 3, columns: 2), sigmaScale: -1, using: &generator) }
  }

  @Test("σ is projected onto its floor, by the layer and by an optimizer step")
  func sigmaFloor() throws {
    let layer = try RadialBump<Double>(inputSize: 2, units: 3, sigma: .trainable(.uniform(0, 1e-6)), sigmaFloor: 1e-3)
    #expect(layer.sigma.value.elements.allSatisfy { $0 == 1e-3 })
    #expect(layer.sigma.lowerBound == 1e-3)
    let model = try Sequential<Double>(layers: [layer])
    try layer.sigma.assign(Matrix(rows: 1, columns: 3, repeating: 0.5))
    _ = try model.forward(Matrix(rows: 2, columns: 2))
    try layer.sigma.setGradient(Matrix(rows: 1, columns: 3, repeating: 1e6))
    let sgd = try SGD<Double>(learningRate: 1)
    try sgd.step(model.parameters)
    #expect(layer.sigma.value.elements.allSatisfy { $0 == 1e-3 }, "\(layer.sigma.value.elements)")
  }

  @Test("Support statistics and dead units")
  func supportStatistics() throws {
    let layer = try RadialBump<Float>(inputSize: 2, units: 3, sigma: .fixed(1), center: .fixed(0))
    try layer.center.assign(try Matrix([[0, 0], [3, 0], [50, 50]]))
    #expect(layer.deadUnits == [0, 1, 2])
    _ = try layer.forward(try Matrix([[0, 0], [0.5, 0], [3, 0.2], [10, 10]]))
    #expect(layer.supportFractionPerUnit == [0.5, 0.25, 0])
    #expect(layer.deadUnits == [2])
    #expect(abs(layer.supportFraction - 0.25) < 1e-12)
  }

  @Test("Exactly zero outside every support, in value and gradient, in both forms", arguments: [2, 16])
  func exactZeros(inputSize d: Int) throws {
    let layer = try RadialBump<Float>(inputSize: d, units: 5, sigma: .trainable(.constant(1)), center: .trainable(.constant(0)), amplitude: .trainable(.constant(1)))
    let x = try Matrix<Float>(rows: 3, columns: d, repeating: 2)
    let y = try layer.forward(x)
    #expect(y.elements.allSatisfy { $0 == 0 })
    let dx = try layer.backward(Matrix(rows: 3, columns: 5, repeating: 1))
    #expect(dx.elements.allSatisfy { $0 == 0 && $0.sign == .plus || $0 == 0 })
    for p in layer.parameters { #expect(p.gradient.elements.allSatisfy { $0 == 0 }, "\(p.name)") }
  }

  @Test("Centres from data: k-means++ spreads over clusters, sampled rows are rows, σ from spacing")
  func centersFromData() throws {
    // Four tight clusters far apart: k-means++ with four units puts one centre in each.
    var rows: [[Double]] = []
    var generator = SeededGenerator(seed: 2)
    let corners: [[Double]] = [[0, 0], [10, 0], [0, 10], [10, 10]]
    for i in 0..<200 {
      let c = corners[i % 4]
      rows.append([c[0] + 0.1 * generator.nextNormal(), c[1] + 0.1 * generator.nextNormal()])
    }
    let data = try Matrix(rows)
    let layer = try RadialBump<Double>(inputSize: 2, units: 4)
    var g1 = SeededGenerator(seed: 9)
    try layer.initializeCenters(from: data, sigmaScale: 0.5, using: &g1)
    let clusters = Set((0..<4).map { j in corners.firstIndex { abs($0[0] - layer.center.value[j, 0]) < 1 && abs($0[1] - layer.center.value[j, 1]) < 1 }! })
    #expect(clusters.count == 4)
    // σ = (0.5·nearest-centre distance)², about (0.5·10)².
    for j in 0..<4 { #expect(abs(layer.sigma.value[0, j] - 25) < 2, "σ[\(j)] = \(layer.sigma.value[0, j])") }
    // The same seed picks the same rows; sampled rows are rows of the data.
    let again = try RadialBump<Double>(inputSize: 2, units: 4)
    var g2 = SeededGenerator(seed: 9)
    try again.initializeCenters(from: data, sigmaScale: 0.5, using: &g2)
    #expect(again.center.value.elements == layer.center.value.elements)
    let sampled = try RadialBump<Double>(inputSize: 2, units: 6)
    var g3 = SeededGenerator(seed: 4)
    try sampled.initializeCenters(from: data, selection: .sampledRows, using: &g3)
    for j in 0..<6 { #expect(rows.contains(sampled.center.value.row(j))) }
    // Fewer rows than units: rows repeat, nothing traps.
    try sampled.initializeCenters(from: try Matrix([[1, 2]]), using: &g3)
    #expect(sampled.center.value.elements == [Double](repeating: 0, count: 12).enumerated().map { $0.offset % 2 == 0 ? 1 : 2 })
  }

  @Test("Checkpoints round-trip RadialBump models in both forms: configuration, values, trainability, predictions", arguments: [2, 12])
  func checkpointRoundTrip(inputSize d: Int) throws {
    let folder = try TemporaryFolder(prefix: "bumpkit-radial")
    defer { folder.remove() }
    let path = folder.path("model.safetensors")
    let radial = try RadialBump<Float>(
      inputSize: d, units: 5, sigma: .trainable(.uniform(0.5, 2)), center: .fixed(0.25),
      amplitude: .trainable(.uniform(-1, 1)), sigmaFloor: 0.002)
    let model = try Sequential<Float>(
      layers: [try Dense<Float>(inputSize: 3, outputSize: d), radial, try Dense<Float>(inputSize: 5, outputSize: 1)], seed: 4)
    var generator = SeededGenerator(seed: 8)
    var data = try Matrix<Float>(rows: 30, columns: d)
    for i in 0..<30 { for k in 0..<d { data[i, k] = Float(2 * generator.nextUnit() - 1) } }
    try radial.initializeCenters(from: data, sigmaScale: 1.5, using: &generator)
    try Checkpoint.save(model, to: path)
    let (loaded, _) = try Checkpoint.load(Float.self, from: path)
    #expect(loaded.configuration == model.configuration)
    let back = try #require(loaded.layers[1] as? RadialBump<Float>)
    #expect(back.sigmaFloor == 0.002 && back.inputSize == d && back.units == 5)
    #expect(loaded.parameters.map(\.isTrainable) == model.parameters.map(\.isTrainable))
    #expect(back.center.isTrainable == false && back.amplitude.isTrainable)
    for (a, b) in zip(loaded.parameters, model.parameters) { #expect(a.value.elements == b.value.elements, "\(a.name)") }
    var x = try Matrix<Float>(rows: 20, columns: 3)
    for i in 0..<20 { for k in 0..<3 { x[i, k] = Float(2 * generator.nextUnit() - 1) } }
    #expect(try loaded.predict(x).elements == model.predict(x).elements)
    let summary = radial.configuration.summary
    #expect(summary == "radialBump(amplitude: trainable, center: fixed, inputSize: \(d), sigma: trainable, sigmaFloor: \(Double(Float(0.002))), units: 5)")
    // A stored setting that is neither trainable nor fixed names itself.
    let json = #"{"kind": "radialBump", "settings": {"inputSize": "2", "units": "3", "center": "maybe", "sigma": "fixed", "amplitude": "fixed"}}"#
    #expect(throws: (any Error).self) { try JSONDecoder().decode(LayerConfiguration.self, from: Data(json.utf8)) }
  }

  @Test("A Float RadialBump network learns a localized 2-D target")
  func learns() throws {
    var generator = SeededGenerator(seed: 5)
    var x = try Matrix<Float>(rows: 512, columns: 2), y = try Matrix<Float>(rows: 512, columns: 1)
    for i in 0..<512 {
      let a = Float(4 * generator.nextUnit() - 2), b = Float(4 * generator.nextUnit() - 2)
      x[i, 0] = a
      x[i, 1] = b
      y[i, 0] = Foundation.exp(-4 * ((a - 0.5) * (a - 0.5) + (b + 0.5) * (b + 0.5)))
    }
    let radial = try RadialBump<Float>(inputSize: 2, units: 16)
    let model = try Sequential<Float>(layers: [radial, try Dense<Float>(inputSize: 16, outputSize: 1)])
    var g = SeededGenerator(seed: 1)
    try radial.initializeCenters(from: x, sigmaScale: 1.5, using: &g)
    let before = try MeanSquaredError<Float>().loss(predicted: model.predict(x), target: y)
    let adam = try Adam<Float>(learningRate: 0.02)
    let loss = MeanSquaredError<Float>()
    var gradient = Matrix<Float>()
    for _ in 0..<300 {
      let p = try model.forward(x)
      _ = try loss.lossAndGradient(predicted: p, target: y, gradient: &gradient)
      for q in model.parameters { q.zeroGradient() }
      _ = try model.backward(gradient)
      try adam.step(model.parameters)
    }
    let after = try loss.loss(predicted: model.predict(x), target: y)
    #expect(after < before / 10, "MSE \(before) → \(after)")
  }
}
