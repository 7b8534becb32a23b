import BumpKit

// Fit a 1-D target made of two bumps with a Dense → Bump → Dense model, then print the
// model's predictions next to the truth and what the bump layer learned.
let data = try Dataset<Double>.bumps(samples: 400, seed: 1)

let model = try Sequential<Double>(seed: 7) {
  Dense(inputSize: 1, outputSize: 16)
  try Bump(units: 16, sigma: .perUnit(.constant(1)))
  Dense(inputSize: 16, outputSize: 1)
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

let bump = model.layers[1] as! Bump<Double>
print("fraction of inputs inside the bump supports:", bump.supportFraction)
