import BumpKit

/// The test part of a training run (`--test-split`, `--test-data`): rows that neither
/// training nor early stopping sees, scored once after training, for an honest score.
///
/// `--test-split F` holds out round(F·n) of the n usable rows (rounding halves away from
/// zero), chosen at random from the seed (``choose(_:of:seed:)``) before anything else is
/// decided: the rest is then shuffled and split into training and validation parts exactly
/// as a file without the test rows would be. `--test-data` reads a separate file the way
/// `bump evaluate` does (``read(path:info:configuration:budget:rowsBefore:)``).
enum TestPart {
  /// What is added to the run's seed for the draw of the test rows: a stream of its own,
  /// apart from the shuffle's (seed + 0x5EED) and the model's.
  static var seedOffset: UInt64 { 0x7E57 }

  /// The rows of the test part for `--test-split fraction` of `count` usable rows:
  /// round(fraction·count), halves away from zero (0 for a fraction of 0).
  static func count(_ fraction: Double?, of count: Int) -> Int {
    guard let fraction, fraction > 0 else { return 0 }
    return Int((Double(count) * fraction).rounded())
  }

  /// `held` of the indices `0..<count`, each subset equally likely, in increasing order: a
  /// selection sampling (Knuth's algorithm S) with one draw of a generator seeded with
  /// `seed` + ``seedOffset`` per index, so the test rows depend only on the seed, the
  /// number of usable rows and the fraction, not on the validation split.
  ///
  /// - Precondition: 0 ≤ `held` ≤ `count`.
  static func choose(_ held: Int, of count: Int, seed: UInt64) -> [Int] {
    precondition(held >= 0 && held <= count)
    var generator = SeededGenerator(seed: seed &+ seedOffset)
    var chosen: [Int] = []
    chosen.reserveCapacity(held)
    var index = 0
    while chosen.count < held {
      // Of the count − index indices left, held − chosen.count are still to be taken.
      let left = UInt64(count - index)
      let draw = generator.next().multipliedFullWidth(by: left).high
      if draw < UInt64(held - chosen.count) { chosen.append(index) }
      index += 1
    }
    return chosen
  }

  /// The rows of `dataset` at `indices` (in increasing order) and the others, each in their
  /// order.
  static func separate<Element: MatrixScalar>(_ dataset: Dataset<Element>, _ indices: [Int]) throws -> (
    rest: Dataset<Element>, test: Dataset<Element>
  ) {
    var isTest = [Bool](repeating: false, count: dataset.count)
    for i in indices { isTest[i] = true }
    func rows(_ wanted: Bool) throws -> Dataset<Element> {
      let selected = (0..<dataset.count).filter { isTest[$0] == wanted }
      var x = try Matrix<Element>(rows: selected.count, columns: dataset.x.columns)
      var y = try Matrix<Element>(rows: selected.count, columns: dataset.y.columns)
      for (i, r) in selected.enumerated() {
        for j in 0..<x.columns { x[i, j] = dataset.x[r, j] }
        for j in 0..<y.columns { y[i, j] = dataset.y[r, j] }
      }
      return try Dataset(
        x: x, y: y, featureNames: dataset.featureNames, targetName: dataset.targetName,
        task: dataset.task, classNames: dataset.classNames)
    }
    return (try rows(false), try rows(true))
  }

  /// The test part read from the CSV file at `path` (`-`: standard input) for the model
  /// that `info` describes, as `bump evaluate` reads a file (``ModelFile/TableInput``): the
  /// model's feature columns encoded with its column plan and standardized with the training
  /// part's statistics, the class labels matched to its classes (an unknown one is an error
  /// naming its line), rows without a target left out and counted.
  ///
  /// The rows are read ``ModelFile/readBatch`` at a time; before each batch is kept, the
  /// run's memory estimate is checked with the test rows so far added to the `rowsBefore`
  /// rows of the training file.
  ///
  /// - Returns: the inputs, the targets (class indices, or values in the target's own
  ///   units), and the notes for the run's header: where the part comes from, rows left
  ///   out, categories the model does not know.
  /// - Throws: the reader's errors (a missing column with a hint), ``CLIError/dataMismatch(path:reason:)``
  ///   for an unknown class label or a file without a labelled row,
  ///   ``CLIError/notEnoughMemory(needed:limit:source:parts:)``.
  static func read<Element: MatrixScalar>(
    path: String, info: ModelInfo, configuration: TrainingConfiguration, budget: MemoryBudget,
    rowsBefore: Int
  ) throws -> (x: Matrix<Element>, targets: Matrix<Element>, notes: [String]) {
    let width = info.featureNames.count
    let outputs = configuration.loss == .bce ? 1 : (info.task.classes ?? 1)
    var batches: [(x: Matrix<Element>, targets: Matrix<Element>)] = []
    var rows = 0
    var input: ModelFile.TableInput<Element>
    do {
      input = try ModelFile.TableInput<Element>(path: path, info: info, ignoring: [], target: true)
      while let batch = try input.nextLabelled() {
        rows += batch.x.rows
        try budget.checkTraining(
          configuration, rows: rowsBefore + rows, features: width, outputs: outputs,
          scalarBytes: MemoryLayout<Element>.stride, dataCopies: MemoryBudget.tableDataCopies)
        batches.append(batch)
      }
    } catch let error as DataError {
      if case .missingColumn = error {
        throw CLIError.withHint(
          error, hint: "the --test-data file needs the training file's feature columns and its target column")
      }
      throw error
    }
    guard rows > 0 else {
      throw CLIError.dataMismatch(
        path: input.source,
        reason: "no row has a target \(MessageText.quoted(info.targetName)) to score against; "
          + "the --test-data file needs labelled rows")
    }
    // The batches laid end to end, each released once copied.
    var x = try Matrix<Element>(rows: rows, columns: width)
    var targets = try Matrix<Element>(rows: rows, columns: 1)
    var start = 0
    for k in batches.indices {
      let (bx, by) = batches[k]
      batches[k] = (Matrix(), Matrix())
      guard bx.rows > 0 else { continue }
      func copy(_ part: Matrix<Element>, into whole: inout Matrix<Element>) {
        whole.withUnsafeMutableBufferPointer { out in
          part.withUnsafeBufferPointer { rows in
            (out.baseAddress! + start * part.columns).update(from: rows.baseAddress!, count: rows.count)
          }
        }
      }
      copy(bx, into: &x)
      copy(by, into: &targets)
      start += bx.rows
    }
    var notes = [
      "Test part: \(input.source), \(ModelInfo.count(rows, "row")), read as bump evaluate reads it "
        + "(the training part's column plan and standardization)"
    ]
    if let note = input.missingTargetNote { notes.append("Note: \(note)") }
    notes += input.tally.warnings(plan: input.plan, source: input.source)
    return (x, targets, notes)
  }
}
