import BumpKit

/// One Adam step over the training workload's parameters (16→256→Bump→256→Bump→1: about
/// 70,000 Float scalars), with the gradients of one real batch: ns per parameter.
func optimizerRecords(threads: [Int], quick: Bool, filter: (String) -> Bool) throws -> [Record] {
  var records: [Record] = []
  for t in threads where filter("optimizer adam float \(t)t") {
    Threading.threadCount = t
    let model = try trainingModel()
    let (x, y) = try trainingData(samples: 128, seed: 2024)
    let loss = MeanSquaredError<Float>()
    var gradient = try Matrix<Float>(rows: 128, columns: 1)
    let predicted = try model.forward(x)
    _ = try loss.lossAndGradient(predicted: predicted, target: y, gradient: &gradient)
    _ = try model.backward(gradient)
    let parameters = model.parameters
    let count = parameters.filter(\.isTrainable).reduce(0) { $0 + $1.count }
    // A tiny rate keeps the weights where they are over thousands of repeated steps.
    let adam = try Adam<Float>(learningRate: 1e-9)
    let timing = measure(minRuns: quick ? 20 : 200, minSeconds: quick ? 0.05 : 0.5) {
      try! adam.step(parameters)
    }
    records.append(Record(
      workload: "optimizer", implementation: "adam", precision: "float", threads: t,
      shape: [count], unit: "ns/parameter", median: timing.median / Double(count) * 1e9,
      min: timing.min / Double(count) * 1e9, speedup: nil, runs: timing.samples.count))
  }
  return records
}
