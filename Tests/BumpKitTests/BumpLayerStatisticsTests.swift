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
}
