// Trains one small model data-parallel over MPI (`mpi`), or in one process with the global
// batch (`single`), and writes the trained parameters: what BumpKitMPITests compares.
//
//   bump-mpi-check mpi    --local-batch B --epochs E --out FILE   (under mpirun -np N)
//   bump-mpi-check single --ranks N --local-batch B --epochs E --out FILE
//   bump-mpi-check uneven|stop|refused --out FILE                    (under mpirun -np N)
//
// uneven: the ranks hold different numbers of rows (rank 0 no validation rows) and train with
// validation and early stopping; each writes its parameters, its history and the loss of its
// final model on every rank's validation rows together. stop: rank 1 asks for a stop after
// its third step; each rank writes where it saw the agreed stop. refused: rank 1's inputs
// hold a NaN; each rank writes the error `fit` threw.
//
// The data: 203 rows (not a multiple of 2 or 3, so the dropped rows and the short last
// batch are exercised) of 3 features from a fixed generator, y = sin(2·x₀) + x₁·x₂.
import BumpKit
import BumpKitMPI
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
guard let mode = arguments.first, ["mpi", "single", "uneven", "stop", "refused"].contains(mode) else {
  FileHandle.standardError.write(Data("usage: bump-mpi-check mpi|single [--ranks N] --local-batch B --epochs E --out FILE\n".utf8))
  exit(64)
}
@MainActor func option(_ name: String) -> String? {
  guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
  return arguments[i + 1]
}
let localBatch = Int(option("--local-batch") ?? "") ?? 8
let epochs = Int(option("--epochs") ?? "") ?? 3
guard let out = option("--out") else { exit(64) }

var state: UInt64 = 42
@MainActor func uniform() -> Float {
  state &+= 0x9E37_79B9_7F4A_7C15
  var z = state
  z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
  z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
  return Float((z ^ (z >> 31)) >> 40) * 0x1p-24 * 2 - 1
}
let n = 203
var xs: [Float] = [], ys: [Float] = []
for _ in 0..<n {
  let row = (0..<3).map { _ in uniform() }
  xs += row
  ys.append(Float.sin(2 * row[0]) + row[1] * row[2])
}
let x = try Matrix<Float>(rows: n, columns: 3, elements: xs)
let y = try Matrix<Float>(rows: n, columns: 1, elements: ys)

let model = try Sequential<Float>(seed: 7) {
  try Dense(inputSize: 3, outputSize: 16)
  try Bump(units: 16, sigma: .perUnit(.constant(1)))
  try Dense(inputSize: 16, outputSize: 1)
}
let adam = try Adam<Float>(learningRate: 0.01)

var world: MPIWorld?
var extra: [String] = []
if ["uneven", "stop", "refused"].contains(mode) {
  let w = try MPIWorld.start()
  world = w
  // Uneven blocks of the rows, the last fifth of each (but rank 0's) for validation.
  let cuts = w.size == 2 ? [0, 120, n] : (0...w.size).map { $0 == w.size ? n : [0, 50, 140, 170, 190][$0] }
  func part(_ r: Int) -> (train: [Int], validation: [Int]) {
    let rows = Array(cuts[r]..<cuts[r + 1])
    let held = r == 0 ? 0 : rows.count / 5
    return (Array(rows.dropLast(held)), Array(rows.suffix(held)))
  }
  let (trainRows, validationRows) = part(w.rank)
  var localX = try x.rows(at: trainRows)
  if mode == "refused", w.rank == 1 { localX[0, 1] = .nan }
  let optimizer = DataParallelOptimizer(adam, world: w)
  var stepsSeen = 0
  var stopSeen: String?
  do {
    let history = try model.fit(
      x: localX, y: try y.rows(at: trainRows), loss: MeanSquaredError<Float>(), optimizer: optimizer,
      epochs: mode == "stop" ? 2 : 12, batchSize: 8, shuffle: true, seed: 3,
      validation: .data(x: try x.rows(at: validationRows), y: try y.rows(at: validationRows)),
      earlyStopping: EarlyStopping(patience: 3, minDelta: 0, restoreBestWeights: true),
      progress: { p in
        guard p.event == .batch else { return }
        stepsSeen += 1
        if w.rank == 1, stepsSeen == 3 { optimizer.requestStop(code: 15) }
        if stopSeen == nil, let code = optimizer.agreedStop { stopSeen = "stop \(stepsSeen) \(code)" }
      })
    let all = (0..<w.size).flatMap { part($0).validation }
    let union = try model.evaluate(x: try x.rows(at: all), y: try y.rows(at: all), loss: MeanSquaredError<Float>())
    extra = history.loss.map { "loss \($0.bitPattern)" } + history.validationLoss.map { "validation \($0.bitPattern)" }
      + ["restored \(history.restoredEpoch ?? -1)", "union \(union.bitPattern)"]
      + (history.restoredEpoch.map { ["kept \(history.validationLoss[$0].bitPattern)"] } ?? [])
    if mode == "stop" { extra = [stopSeen ?? "stop none"] }
  } catch {
    extra = ["error \(error)"]
  }
} else if mode == "mpi" {
  let w = try MPIWorld.start()
  world = w
  let (localX, localY) = try DataParallel.shard(x, y, rank: w.rank, ranks: w.size, localBatch: localBatch)
  _ = try model.fit(
    x: localX, y: localY, loss: MeanSquaredError<Float>(), optimizer: DataParallelOptimizer(adam, world: w),
    epochs: epochs, batchSize: localBatch, shuffle: false)
} else {
  let ranks = Int(option("--ranks") ?? "") ?? 1
  let used = n / ranks * ranks
  let rows = Array(0..<used)
  _ = try model.fit(
    x: try x.rows(at: rows), y: try y.rows(at: rows), loss: MeanSquaredError<Float>(), optimizer: adam,
    epochs: epochs, batchSize: ranks * localBatch, shuffle: false)
}

// Every rank writes its parameters (FILE.rank); the test checks that the ranks agree.
let suffix = world.map { ".\($0.rank)" } ?? ""
let text = (model.parameters.flatMap { $0.value.elements }.map { "\($0.bitPattern)" } + extra).joined(separator: "\n")
try Data((text + "\n").utf8).write(to: URL(fileURLWithPath: out + suffix))
try world?.end()
