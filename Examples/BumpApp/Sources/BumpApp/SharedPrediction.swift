import BumpKit

/// Predicts `inputs` from `tasks` concurrent tasks that share one model, each task taking
/// every `tasks`-th row block, and puts the rows back in order.
///
/// `InferenceModel` is `Sendable`, so the child tasks capture it as it is: no lock, no
/// `@unchecked`, no copy per task. A `Sequential` could not be captured here (Swift 6
/// rejects it): its layers write into buffers they own while predicting.
func predictConcurrently(
  _ model: InferenceModel<Double>, _ inputs: Matrix<Double>, tasks: Int, rowsPerBlock: Int = 16
) async throws -> Matrix<Double> {
  let blocks = stride(from: 0, to: inputs.rows, by: rowsPerBlock).map { $0..<min(inputs.rows, $0 + rowsPerBlock) }
  let predicted = try await withThrowingTaskGroup(of: [(Range<Int>, Matrix<Double>)].self) { group in
    for task in 0..<tasks {
      group.addTask {
        var mine: [(Range<Int>, Matrix<Double>)] = []
        for block in stride(from: task, to: blocks.count, by: tasks).map({ blocks[$0] }) {
          var rows = Matrix<Double>()
          try inputs.copyRows(block, into: &rows)
          mine.append((block, try model.predict(rows)))
        }
        return mine
      }
    }
    return try await group.reduce(into: []) { $0 += $1 }
  }
  var output = try Matrix<Double>(rows: inputs.rows, columns: model.outputSize)
  for (block, rows) in predicted {
    for (i, r) in block.enumerated() {
      for j in 0..<model.outputSize { output[r, j] = rows[i, j] }
    }
  }
  return output
}
