import BumpKit
import Testing

/// `fit` with the largest epoch budget and batch size a caller can pass: the counts it
/// derives (epochs × batches for progress, the batch buffers) must neither trap nor allocate
/// beyond the rows (issue 14).
@Suite("fit: huge epoch budgets and batch sizes")
struct FitHugeArgumentsTests {
  @Test("Int.max epochs and batch size train until early stopping, one batch of all rows")
  func largestEpochsAndBatchSize() throws {
    let xs = (0..<24).map { -1 + 2 * Double($0) / 23 }
    let x = try Matrix<Double>(rows: 24, columns: 1, elements: xs)
    let y = try Matrix<Double>(rows: 24, columns: 1, elements: xs.map { 2 * $0 + 1 })
    let model = try Sequential<Double>(
      layers: [try Dense<Double>(inputSize: 1, outputSize: 1)], seed: 3)
    var batches = Set<Int>()
    var fractions: [Double] = []
    let history = try model.fit(
      x: x, y: y, loss: MeanSquaredError(), optimizer: try SGD(learningRate: 10),
      epochs: .max, batchSize: .max, validation: .split(0.25),
      earlyStopping: EarlyStopping(patience: 1),
      progress: { p in
        batches.insert(p.batches)
        // The share of the budget done, from elapsed / remaining: finite, in [0, 1].
        if p.elapsed > 0, p.remaining.isFinite { fractions.append(p.elapsed / (p.elapsed + p.remaining)) }
      })
    #expect(history.stoppedEarly)
    #expect(batches == [1], "one batch of all 18 training rows per epoch")
    #expect(fractions.allSatisfy { $0 >= 0 && $0 <= 1 })
  }
}
