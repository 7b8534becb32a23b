import BumpKit
import Testing

/// y = 2x + 1 on 32 points in [−1, 1], and a Dense(1→1) model for it.
private func lineProblem() throws -> (Sequential<Double>, Matrix<Double>, Matrix<Double>) {
  let xs = (0..<32).map { -1 + 2 * Double($0) / 31 }
  let x = try Matrix<Double>(rows: 32, columns: 1, elements: xs)
  let y = try Matrix<Double>(rows: 32, columns: 1, elements: xs.map { 2 * $0 + 1 })
  let model = try Sequential<Double>(layers: [try Dense<Double>(inputSize: 1, outputSize: 1)], seed: 3)
  return (model, x, y)
}

private struct HookFailure: Error, Equatable {}

@Suite("fit: the epoch-end hook")
struct FitEpochEndTests {
  @Test("Runs once per epoch with that epoch's history and the model holding its weights")
  func seesEveryEpoch() throws {
    let (model, x, y) = try lineProblem()
    var seen: [(epoch: Int, epochs: Int, losses: Int, validation: Int, weight: Double)] = []
    var progressEpochs = 0
    let history = try model.fit(
      x: x, y: y, loss: MeanSquaredError(), optimizer: try SGD(learningRate: 0.1), epochs: 4,
      batchSize: 8, validation: .split(0.25),
      progress: { if $0.event == .epoch { progressEpochs += 1 } },
      onEpochEnd: { end in
        #expect(end.model === model)
        let weight = Double(end.model.parameters[0].value[0, 0])
        seen.append((end.epoch, end.epochs, end.history.loss.count, end.history.validationLoss.count, weight))
        return .continue
      })
    #expect(seen.map(\.epoch) == [0, 1, 2, 3])
    #expect(seen.allSatisfy { $0.epochs == 4 })
    #expect(seen.map(\.losses) == [1, 2, 3, 4], "the history up to and including the epoch")
    #expect(seen.map(\.validation) == [1, 2, 3, 4])
    #expect(progressEpochs == 4)
    #expect(history.epochs == 4)
    #expect(!history.stoppedEarly)
    // The weights seen at the last epoch are the model's final ones.
    #expect(seen.last!.weight == Double(model.parameters[0].value[0, 0]))
    // And they changed from epoch to epoch: the hook saw the weights of its own epoch.
    #expect(Set(seen.map(\.weight)).count == 4)
  }

  @Test("Returning stop ends training after that epoch and marks it stopped early")
  func stops() throws {
    let (model, x, y) = try lineProblem()
    let history = try model.fit(
      x: x, y: y, loss: MeanSquaredError(), optimizer: try SGD(learningRate: 0.1), epochs: 10,
      onEpochEnd: { $0.epoch == 2 ? .stop : .continue })
    #expect(history.epochs == 3)
    #expect(history.stoppedEarly)

    let (other, _, _) = try lineProblem()
    let last = try other.fit(
      x: x, y: y, loss: MeanSquaredError(), optimizer: try SGD(learningRate: 0.1), epochs: 3,
      onEpochEnd: { $0.epoch == 2 ? .stop : .continue })
    #expect(last.epochs == 3)
    #expect(!last.stoppedEarly, "stopping at the last epoch leaves nothing out")
  }

  @Test("Stopping with early stopping restores the best weights")
  func stopRestoresBest() throws {
    let (model, x, y) = try lineProblem()
    var weightsAtEpoch: [Double] = []
    let history = try model.fit(
      x: x, y: y, loss: MeanSquaredError(), optimizer: try SGD(learningRate: 0.1), epochs: 10,
      validation: .split(0.25), earlyStopping: EarlyStopping(patience: 100),
      onEpochEnd: { end in
        weightsAtEpoch.append(Double(end.model.parameters[0].value[0, 0]))
        return end.epoch == 4 ? .stop : .continue
      })
    #expect(history.epochs == 5)
    let best = try #require(history.restoredEpoch)
    let losses = history.validationLoss
    #expect(losses[best] == losses.min())
    #expect(Double(model.parameters[0].value[0, 0]) == weightsAtEpoch[best])
  }

  @Test("An error thrown by the hook ends training and is rethrown")
  func errorsAreRethrown() throws {
    let (model, x, y) = try lineProblem()
    var calls = 0
    #expect(throws: HookFailure()) {
      try model.fit(
        x: x, y: y, loss: MeanSquaredError(), optimizer: try SGD(learningRate: 0.1), epochs: 5,
        onEpochEnd: { _ in
          calls += 1
          if calls == 2 { throw HookFailure() }
          return .continue
        })
    }
    #expect(calls == 2)
  }
}
