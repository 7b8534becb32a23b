import BumpKit
import Dispatch

/// Predictions per second of the training workload's model (16 → Dense 256 → Bump → Dense 256
/// → Bump → Dense 1, Float) frozen into an `InferenceModel`, at batch 1, 32 and 1024, from
/// 1 and 2 concurrent tasks sharing the one model. BumpKit runs single-threaded here
/// (`Threading.threadCount = 1`), so the tasks are the only parallelism; the `threads`
/// column of these rows counts tasks. A `sequential` row per batch size gives the training
/// model's `predict` from one task for comparison (speedup = its time / this row's).
func inferenceRecords(tasks: [Int], quick: Bool, filter: (String) -> Bool) throws -> [Record] {
  let batches = [1, 32, 1024]
  guard batches.contains(where: { b in tasks.contains { filter("inference float b\(b) \($0)t") } })
    || batches.contains(where: { filter("inference sequential float b\($0)") })
  else { return [] }
  let savedThreads = Threading.threadCount
  defer { Threading.threadCount = savedThreads }
  Threading.threadCount = 1
  let model = try trainingModel()
  let frozen = try InferenceModel(model)
  let (x, _) = try trainingData(samples: 1024, seed: 7)
  var records: [Record] = []
  for batch in batches {
    var rows = Matrix<Float>()
    try x.copyRows(0..<batch, into: &rows)
    let input = rows
    // Rows each task predicts per timed run: enough to dwarf the hand-off between tasks.
    let calls = max(1, (quick ? 512 : 4096) / batch)
    let runs = (min: quick ? 3 : 7, seconds: quick ? 0.05 : 0.5)
    let sequential = measure(minRuns: runs.min, minSeconds: runs.seconds) {
      for _ in 0..<calls { _ = try! model.predict(input) }
    }
    if filter("inference sequential float b\(batch)") {
      records.append(record("sequential", batch: batch, tasks: 1, predictions: calls * batch, timing: sequential, reference: sequential))
    }
    for t in tasks where filter("inference float b\(batch) \(t)t") {
      let timing = measure(minRuns: runs.min, minSeconds: runs.seconds) {
        DispatchQueue.concurrentPerform(iterations: t) { _ in
          for _ in 0..<calls { _ = try! frozen.predict(input) }
        }
      }
      records.append(record("inference", batch: batch, tasks: t, predictions: t * calls * batch, timing: timing, reference: sequential))
    }
  }
  return records
}

/// A row in predictions per second; `speedup` compares with the same work on one task of the
/// training model (`reference` covers one task's share).
private func record(
  _ implementation: String, batch: Int, tasks: Int, predictions: Int, timing: Timing, reference: Timing
) -> Record {
  let perTask = Double(predictions / tasks)
  return Record(
    workload: "inference b\(batch)", implementation: implementation, precision: "float", threads: tasks,
    shape: [batch, 16, 256, 256, 1], unit: "predictions/s",
    median: Double(predictions) / timing.median, min: Double(predictions) / timing.min,
    speedup: (Double(predictions) / timing.median) / (perTask / reference.median), runs: timing.samples.count)
}
