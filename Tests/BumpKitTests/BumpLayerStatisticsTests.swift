import BumpKit
import Testing

/// Dense(3→3, identity) → Bump(3 units): σ = (1, 4, 1), c = (0, 10, 100); unit 2 is far from
/// every input the tests give.
private func statisticsModel<T: MatrixScalar>(_: T.Type) throws -> (Sequential<T>, Bump<T>) {
  let dense = try Dense<T>(inputSize: 3, outputSize: 3)
  let bump = try Bump<T>(units: 3, sigma: .perUnit(.constant(1)), center: .perUnit(.zeros))
  let model = try Sequential<T>(layers: [dense, bump], seed: 1)
  try dense.weight.assign(Matrix<T>.identity(size: 3))
  try bump.sigma.assign(Matrix<T>(rows: 1, columns: 3, elements: [1, 4, 1]))
  try bump.center.assign(Matrix<T>(rows: 1, columns: 3, elements: [0, 10, 100]))
  return (model, bump)
}

@Suite("BumpLayerStatistics")
struct BumpLayerStatisticsTests {
  @Test("Counts inside the open support, by hand: the boundary is outside, a far unit is dead")
  func countsByHand() throws {
    try checkCounts(Float.self)
    try checkCounts(Double.self)
  }

  private func checkCounts<T: MatrixScalar>(_: T.Type) throws {
    let (model, _) = try statisticsModel(T.self)
    // Column 0 (|x| < 1 inside): −0.5, 0, 0.75 inside; −2 and 1 (the boundary) outside.
    // Column 1 (|x − 10| < 2 inside): 10, 11.5, 8.5 inside; 12 (the boundary) and −3 outside.
    let x = try Matrix<T>(
      rows: 5, columns: 3,
      elements: [-2, 10, 0, -0.5, 11.5, 0, 0, 12, 0, 0.75, 8.5, 0, 1, -3, 0])
    for batchSize in [1, 2, 4096] {
      let statistics = try BumpLayerStatistics.collect(model: model, inputs: x, batchSize: batchSize)
      #expect(statistics.count == 1)
      let s = try #require(statistics.first)
      #expect(s.layerIndex == 1, "the bump layer's place in the model")
      #expect(s.units == 3)
      #expect(s.samples == 5)
      #expect(s.supportCountPerUnit == [3, 3, 0], "batch size \(batchSize)")
      #expect(s.supportFractionPerUnit == [0.6, 0.6, 0])
      #expect(s.supportFraction == 0.4)
      #expect(s.deadUnits == 1)
      #expect(s.inputRange == -3...12, "the bump layer's inputs, all units")
      #expect(s.sigma == [1, 4, 1])
      #expect(s.center == [0, 10, 100])
      #expect(s.amplitude == [1])
      #expect(s.sigma(unit: 1) == 4)
      #expect(s.center(unit: 2) == 100)
    }
  }

  @Test("Fractions are exact quotients of counts, not rounded")
  func exactFractions() throws {
    let (model, _) = try statisticsModel(Double.self)
    // One of three samples inside for unit 0, two of three for unit 1.
    let x = try Matrix<Double>(rows: 3, columns: 3, elements: [0, 10, 0, 5, 11, 0, 5, 20, 0])
    let s = try #require(try BumpLayerStatistics.collect(model: model, inputs: x).first)
    #expect(s.supportCountPerUnit == [1, 2, 0])
    #expect(s.supportFractionPerUnit[0] == 1.0 / 3.0)
    #expect(s.supportFractionPerUnit[1] == 2.0 / 3.0)
    #expect(s.supportFraction == 3.0 / 9.0)
  }

  @Test("No bump layer or no rows: no statistics; parameters alone: no counts")
  func emptyCases() throws {
    let (model, _) = try statisticsModel(Float.self)
    #expect(try BumpLayerStatistics.collect(model: model, inputs: Matrix<Float>(rows: 0, columns: 3)).isEmpty)
    let dense = try Sequential<Float>(layers: [try Dense<Float>(inputSize: 3, outputSize: 1)])
    #expect(try BumpLayerStatistics.collect(model: dense, inputs: Matrix<Float>(rows: 2, columns: 3)).isEmpty)

    let parameters = BumpLayerStatistics.parametersOnly(model: model)
    #expect(parameters.count == 1)
    let s = try #require(parameters.first)
    #expect(s.layerIndex == 1)
    #expect(s.samples == 0)
    #expect(s.supportCountPerUnit.isEmpty)
    #expect(s.supportFractionPerUnit.isEmpty)
    #expect(s.supportFraction == 0)
    #expect(s.deadUnits == 0)
    #expect(s.inputRange == nil)
    #expect(s.sigma == [1, 4, 1])
  }

  @Test("A batch size below 1 is refused")
  func badBatchSize() throws {
    let (model, _) = try statisticsModel(Float.self)
    #expect(throws: BumpKitError.self) {
      try BumpLayerStatistics.collect(model: model, inputs: Matrix<Float>(rows: 2, columns: 3), batchSize: 0)
    }
  }

  @Test("The accumulator over uneven batches gives collect's statistics and the model's outputs")
  func accumulatorMatchesCollect() throws {
    let (model, _) = try statisticsModel(Double.self)
    let x = try Matrix<Double>(
      rows: 5, columns: 3,
      elements: [-2, 10, 0, -0.5, 11.5, 0, 0, 12, 0, 0.75, 8.5, 0, 1, -3, 0])
    var accumulator = BumpLayerStatistics.Accumulator(model: model)
    #expect(accumulator.hasBumpLayers)
    #expect(accumulator.statistics.isEmpty, "no rows yet")
    var batch = Matrix<Double>()
    for range in [0..<2, 2..<3, 3..<5] {
      model.releaseSavedState()
      try x.copyRows(range, into: &batch)
      let output = try accumulator.forward(batch)
      let expected = try model.predict(batch)
      #expect(output.elements == expected.elements, "the model's output for rows \(range)")
    }
    #expect(accumulator.samples == 5)
    #expect(accumulator.statistics == (try BumpLayerStatistics.collect(model: model, inputs: x)))
    #expect(accumulator.statistics.first?.supportCountPerUnit == [3, 3, 0])
    #expect(accumulator.statistics.first?.inputRange == -3...12)
    let dense = try Sequential<Double>(layers: [try Dense<Double>(inputSize: 3, outputSize: 1)])
    #expect(!BumpLayerStatistics.Accumulator(model: dense).hasBumpLayers)
  }

  @Test("RadialBump.supportCountPerUnit counts the last forward pass")
  func radialLayerCounts() throws {
    let radial = try RadialBump<Double>(inputSize: 2, units: 2)
    try radial.center.assign(try Matrix<Double>(rows: 2, columns: 2, elements: [0, 0, 10, 10]))
    try radial.sigma.assign(try Matrix<Double>(rows: 1, columns: 2, elements: [1, 1]))
    #expect(radial.supportCountPerUnit == [0, 0], "before any forward pass")
    // ‖x − c‖² < σ: (0.5, 0) inside unit 0; (1, 0) on its boundary, outside; (10, 10.5) inside unit 1.
    _ = try radial.forward(try Matrix<Double>(rows: 3, columns: 2, elements: [0.5, 0, 1, 0, 10, 10.5]))
    #expect(radial.supportCountPerUnit == [1, 1])
  }

  @Test("Bump.supportCountPerUnit counts the last forward pass")
  func layerCounts() throws {
    let (_, bump) = try statisticsModel(Double.self)
    #expect(bump.supportCountPerUnit == [0, 0, 0], "before any forward pass")
    _ = try bump.forward(try Matrix<Double>(rows: 2, columns: 3, elements: [0.5, 9, 100, 3, 10, 99.5]))
    #expect(bump.supportCountPerUnit == [1, 2, 2])
  }

  /// 24 radial units on a line, centre k at (k, 0), radius 0.5; rows (k, 0.1) reach units
  /// 0 to 22, once each: unit 23 is the one truly dead unit.
  private func radialLineModel() throws -> (Sequential<Double>, RadialBump<Double>, Matrix<Double>) {
    let units = 24
    let radial = try RadialBump<Double>(inputSize: 2, units: units)
    let model = try Sequential<Double>(layers: [radial, try Dense<Double>(inputSize: units, outputSize: 1)])
    try radial.center.assign(
      Matrix(rows: units, columns: 2, elements: (0..<units).flatMap { [Double($0), 0] }))
    try radial.sigma.assign(Matrix(rows: 1, columns: units, elements: Array(repeating: 0.25, count: units)))
    let x = try Matrix<Double>(rows: units - 1, columns: 2, elements: (0..<(units - 1)).flatMap { [Double($0), 0.1] })
    return (model, radial, x)
  }

  @Test("Radial statistics describe the rows given, not the last predict: 1 dead unit, not 23")
  func radialStatisticsAfterPredict() throws {
    let (model, radial, x) = try radialLineModel()
    let before = try #require(try BumpLayerStatistics.collect(model: model, inputs: x).first)
    // A grid far from every centre but unit 0's.
    let grid = try Matrix<Double>(rows: 4, columns: 2, elements: [0, 0.2, 500, 500, -300, 40, 1e3, -1e3])
    _ = try model.forward(grid)
    #expect(radial.deadUnits.count == 23, "the layer's own counter describes the grid (its last pass)")
    let s = try #require(try BumpLayerStatistics.collect(model: model, inputs: x).first)
    #expect(s == before, "the statistics do not depend on what the model last saw")
    #expect(s.kind == .radialBump)
    #expect(s.layerIndex == 0)
    #expect(s.units == 24)
    #expect(s.inputSize == 2)
    #expect(s.samples == 23)
    #expect(s.supportCountPerUnit == Array(repeating: 1, count: 23) + [0])
    #expect(s.deadUnits == 1)
    #expect(s.deadUnitIndices == [23])
    #expect(s.supportFraction == 23.0 / (23.0 * 24.0))
    #expect(s.inputRange == 0...22)
    #expect(s.sigma == Array(repeating: 0.25, count: 24))
    #expect(s.sigma(unit: 5) == 0.25)
    #expect(s.centerCoordinates(unit: 7) == [7, 0])
    #expect(s.center(unit: 7) == 7, "the first coordinate")
    #expect(s.amplitude(unit: 3) == 1)
    // And on the grid itself: 23 dead, as the layer's counter said for its last pass.
    let onGrid = try #require(try BumpLayerStatistics.collect(model: model, inputs: grid).first)
    #expect(onGrid.deadUnitIndices == Array(1..<24))
  }

  @Test("collect covers Bump and RadialBump layers in one model, in layer order")
  func mixedModel() throws {
    let radial = try RadialBump<Double>(inputSize: 2, units: 3)
    let bump = try Bump<Double>(units: 3, sigma: .perUnit(.constant(1)), center: .perUnit(.zeros))
    let model = try Sequential<Double>(layers: [radial, bump, try Dense<Double>(inputSize: 3, outputSize: 1)])
    try radial.center.assign(Matrix(rows: 3, columns: 2, elements: [0, 0, 3, 0, 50, 50]))
    try radial.sigma.assign(Matrix(rows: 1, columns: 3, elements: [1, 4, 1]))
    // The bump's inputs are the radial outputs, in [0, 1): unit 0 with c = 0.3 and σ = 0.01
    // sees only outputs in (0.2, 0.4); unit 1 sees all of them; unit 2 (c = 5) none.
    try bump.sigma.assign(Matrix(rows: 1, columns: 3, elements: [0.01, 1, 1]))
    try bump.center.assign(Matrix(rows: 1, columns: 3, elements: [0.3, 0, 5]))
    let x = try Matrix<Double>(rows: 6, columns: 2, elements: [0, 0, 0.5, 0.5, 3, 1, 2.5, 0, 10, 10, 0.9, 0])
    let statistics = try BumpLayerStatistics.collect(model: model, inputs: x)
    #expect(statistics.map(\.kind) == [.radialBump, .bump])
    #expect(statistics.map(\.layerIndex) == [0, 1])
    #expect(BumpLayerStatistics.parametersOnly(model: model).map(\.kind) == [.radialBump, .bump])

    // Expected counts, by direct evaluation.
    var radialCounts = [0, 0, 0]
    var bumpCounts = [0, 0, 0]
    let h = try radial.forward(x)
    for i in 0..<x.rows {
      for j in 0..<3 {
        let dx = x[i, 0] - radial.center.value[j, 0], dy = x[i, 1] - radial.center.value[j, 1]
        if dx * dx + dy * dy < radial.sigma.value[0, j] { radialCounts[j] += 1 }
        let z = h[i, j] - bump.center.value[0, j]
        if z * z < bump.sigma.value[0, j] { bumpCounts[j] += 1 }
      }
    }
    model.releaseSavedState()
    #expect(radialCounts == [3, 2, 0], "(0, 0), (0.5, 0.5), (0.9, 0) in unit 0; (3, 1), (2.5, 0) in unit 1")
    #expect(bumpCounts[1] == 6 && bumpCounts[2] == 0 && bumpCounts[0] > 0 && bumpCounts[0] < 6, "\(bumpCounts)")
    #expect(statistics[0].supportCountPerUnit == radialCounts)
    #expect(statistics[0].deadUnitIndices == [2])
    #expect(statistics[0].inputRange == 0...10)
    #expect(statistics[0].centerCoordinates(unit: 1) == [3, 0])
    #expect(statistics[1].supportCountPerUnit == bumpCounts)
    #expect(statistics[1].deadUnitIndices == [2])
    #expect(statistics[1].centerCoordinates(unit: 0) == [0.3])
    #expect(statistics[1].inputSize == 3)

    // Accumulated across batches of every size: the statistics of one pass.
    let onePass = try BumpLayerStatistics.collect(model: model, inputs: x, batchSize: x.rows)
    #expect(onePass == statistics)
    for batchSize in 1...5 {
      #expect(try BumpLayerStatistics.collect(model: model, inputs: x, batchSize: batchSize) == onePass, "batch size \(batchSize)")
    }
    var accumulator = BumpLayerStatistics.Accumulator(model: model)
    var batch = Matrix<Double>()
    for range in [0..<1, 1..<4, 4..<6] {
      model.releaseSavedState()
      try x.copyRows(range, into: &batch)
      _ = try accumulator.forward(batch)
    }
    model.releaseSavedState()
    #expect(accumulator.statistics == onePass, "uneven batches")
    #expect(accumulator.statistics[0].supportCountPerUnit != radial.supportCountPerUnit, "not the last batch's counts")
  }
}
