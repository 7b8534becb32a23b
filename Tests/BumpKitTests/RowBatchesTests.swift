import BumpKit
import Testing

@Suite("RowBatches: the one batching of training, evaluation, prediction and statistics")
struct RowBatchesTests {
  /// A `rows × columns` matrix whose element (r, c) is 100·r + c, so a row names itself.
  private static func numbered(_ rows: Int, _ columns: Int) -> Matrix<Float> {
    var m = Matrix<Float>(validRows: rows, columns: columns)
    m.withUnsafeMutableBufferPointer { p in
      for i in p.indices { p[i] = Float(100 * (i / columns) + i % columns) }
    }
    return m
  }

  @Test(
    "batches cover the rows once, in the visiting order, the last one holding the rest",
    arguments: [(10, 3), (10, 10), (10, 25), (1, 1), (7, 1)])
  func batchesCoverTheRows(rows: Int, batchSize: Int) throws {
    let x = Self.numbered(rows, 2), y = Self.numbered(rows, 1)
    let order = Array((0..<rows).reversed())
    var batches = try RowBatches<Float>(rows: rows, batchSize: batchSize)
    #expect(batches.batchSize == min(batchSize, rows))
    #expect(batches.count == (rows + batchSize - 1) / batchSize)
    let expectedPositions = (0..<batches.count).map { batches.positions(ofBatch: $0) }
    var seen: [Int] = [], sizes: [Int] = []
    try batches.forEach(x, y, order: order) { batch, positions, bx, by in
      #expect(positions == expectedPositions[batch])
      sizes.append(positions.count)
      for k in 0..<bx.rows {
        #expect(bx[k, 1] == bx[k, 0] + 1)
        #expect(by[k, 0] == bx[k, 0])
        seen.append(Int(bx[k, 0]) / 100)
      }
    }
    #expect(seen == order)
    #expect(sizes.dropLast().allSatisfy { $0 == min(batchSize, rows) })
  }

  @Test("no rows make no batch; a batch size below 1 is refused")
  func edges() throws {
    var empty = try RowBatches<Float>(rows: 0, batchSize: 4)
    var calls = 0
    try empty.forEach(Matrix<Float>()) { _, _, _, _ in calls += 1 }
    #expect(calls == 0 && empty.count == 0)
    #expect(throws: BumpKitError.invalidArgument(name: "batchSize", value: "0", reason: "must be at least 1")) {
      try RowBatches<Float>(rows: 3, batchSize: 0)
    }
  }

  @Test("a model that keeps its input does not make a batch allocate: one buffer serves every batch")
  func buffersAreReused() throws {
    let model = try Sequential<Float>(seed: 3) { try Dense(inputSize: 2, outputSize: 3) }
    let x = Self.numbered(50, 2)
    var batches = try RowBatches<Float>(rows: 50, batchSize: 8)
    var addresses = Set<UnsafeRawPointer?>()
    try batches.forEach(x, releasing: model) { _, _, bx, _ in
      _ = try model.forward(bx)  // the Dense layer keeps `bx` for its backward pass
      addresses.insert(bx.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) })
    }
    #expect(addresses.count == 1)
  }

  @Test("predict gives each batch the bits of a forward pass over its rows, as InferenceModel does", arguments: [4, 37, 100])
  func predictMatchesForwardPerBatch(batchSize: Int) throws {
    let model = try Sequential<Double>(seed: 5) {
      try Dense(inputSize: 2, outputSize: 4)
      try Dense(inputSize: 4, outputSize: 2)
    }
    var x = Matrix<Double>(validRows: 37, columns: 2)
    x.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = Double(i % 11) * 0.37 - 1.5 } }
    var expected: [Double] = []
    for start in stride(from: 0, to: 37, by: batchSize) {
      var rows = Matrix<Double>()
      try x.copyRows(start..<min(37, start + batchSize), into: &rows)
      expected += try model.forward(rows).elements
    }
    let predicted = try model.predict(x, batchSize: batchSize)
    #expect(predicted.rows == 37 && predicted.columns == 2)
    #expect(predicted.elements.map(\.bitPattern) == expected.map(\.bitPattern))
    let inference = try InferenceModel(model).predict(x, batchSize: batchSize)
    #expect(predicted.elements.map(\.bitPattern) == inference.elements.map(\.bitPattern))
  }
}
