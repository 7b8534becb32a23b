import BumpKit
import Foundation

// Fit a 1-D target made of two bumps with a Dense → Bump → Dense model, then print the
// model's predictions next to the truth and what the bump layer learned.
let data = try Dataset<Double>.bumps(samples: 400, seed: 1)

let model = try Sequential<Double>(seed: 7) {
  try Dense(inputSize: 1, outputSize: 16)
  try Bump(units: 16, sigma: .perUnit(.constant(1)))
  try Dense(inputSize: 16, outputSize: 1)
}

let history = try model.fit(
  x: data.x, y: data.y,
  loss: MeanSquaredError<Double>(),
  optimizer: try Adam<Double>(learningRate: 0.01),
  epochs: 150, batchSize: 32, seed: 3,
  validation: .split(0.2))

print(model.summary)
print("validation MSE after \(history.epochs) epochs: \(history.validationLoss.last!)")

let grid: [Double] = stride(from: -3.0, through: 3.0, by: 0.5).map { $0 }
let x = try Matrix<Double>(rows: grid.count, columns: 1, elements: grid)
let predicted = try model.predict(x)
print("x, predicted, true")
for (i, xi) in grid.enumerated() {
  let truth = Dataset<Double>.bumpsTruth.value(at: xi)
  print(xi, predicted[i, 0], truth, separator: ", ")
}

// Over the data set, not the grid just predicted (the layer's own counter holds that pass).
let statistics = try BumpLayerStatistics.collect(model: model, inputs: data.x)[0]
print("fraction of inputs inside the bump supports:", statistics.supportFraction)

// A model with a layer and an optimizer of the app's own (CustomParts.swift), saved to a
// checkpoint and loaded back.
try LayerRegistry.register(Scale.self)
let custom = try Sequential<Double>(seed: 11) {
  try Dense(inputSize: 1, outputSize: 8)
  try Bump(units: 8, sigma: .perUnit(.constant(1)))
  try Scale(units: 8)
  try Dense(inputSize: 8, outputSize: 1)
}
let customHistory = try custom.fit(
  x: data.x, y: data.y, loss: MeanSquaredError<Double>(), optimizer: SignDescent(learningRate: 0.002),
  epochs: 60, batchSize: 32, seed: 5, validation: .split(0.2))
print("custom Scale layer + SignDescent: validation MSE \(customHistory.validationLoss.last!)")
let path = FileManager.default.temporaryDirectory.appendingPathComponent("bumpapp-custom.safetensors").path
try Checkpoint.save(custom, to: path)
let (reloaded, _) = try Checkpoint.load(Double.self, from: path)
try? FileManager.default.removeItem(atPath: path)
let before = try custom.predict(x), after = try reloaded.predict(x)
guard before.elements == after.elements, reloaded.layers[2] is Scale else {
  fatalError("the reloaded model differs from the saved one")
}
print("saved and reloaded with its Scale layer; learned scales:", (reloaded.layers[2] as! Scale).scale.value.elements.map { ($0 * 1000).rounded() / 1000 })

// One trained model shared by 8 tasks: freeze it into an InferenceModel (Sendable, with its
// own copy of the weights; the Scale layer takes part through its inferenceLayer()), predict
// concurrently and check that every bit matches one task's answer.
let frozen = try InferenceModel(reloaded)
let fine = try Matrix<Double>(rows: 1000, columns: 1, elements: (0..<1000).map { -3 + 6 * Double($0) / 999 })
let concurrent = try await predictConcurrently(frozen, fine, tasks: 8)
let serial = try reloaded.predict(fine, batchSize: 16)
guard concurrent.elements.map(\.bitPattern) == serial.elements.map(\.bitPattern) else {
  fatalError("predictions from 8 tasks differ from one task's")
}
print("8 tasks sharing one InferenceModel: \(fine.rows) predictions, identical to one task's")
