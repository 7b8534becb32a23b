import BumpKit

let data = try Dataset<Float>.bumps(samples: 1000, seed: 1)
let model = try Sequential<Float>(seed: 7) {
  try Dense(inputSize: 1, outputSize: 32)
  try Bump(units: 32, sigma: .perUnit(.constant(1)))     // σ per unit, trainable
  try Dense(inputSize: 32, outputSize: 1)
}
let history = try model.fit(
  x: data.x, y: data.y, loss: MeanSquaredError<Float>(),
  optimizer: try Adam<Float>(learningRate: 1e-2), epochs: 200, batchSize: 64,
  validation: .split(0.2), earlyStopping: EarlyStopping(patience: 20))
// Early stopping restored the weights of the best epoch; this is their validation loss.
// restoredEpoch counts from 0; the summary of `bump train` counts epochs from 1.
print("best validation MSE:", history.validationLoss.min()!, "at epoch", (history.restoredEpoch ?? -1) + 1)
try Checkpoint.save(model, to: "model.safetensors")

let grid = try Matrix<Float>(rows: 5, columns: 1, elements: [-2, -1, 0, 1, 2])
let predicted = try model.predict(grid)
for i in 0..<grid.rows { print("x = \(grid[i, 0]): \(predicted[i, 0])") }
