import ArgumentParser
import BumpKit

/// `bump predict`: applies a trained model to the feature columns of a CSV file.
struct PredictCommand: TableCheckpointCommand {
  static let configuration = CommandConfiguration(
    commandName: "predict",
    abstract: "Write a model's predictions for a CSV file as CSV.",
    discussion: """
      The features are read by the names stored in the checkpoint (other columns are \
      ignored), encoded as in training (the checkpoint's column plan: a missing number takes \
      the training median, a category becomes its one-hot inputs, one the model does not \
      know goes to its (other) input or to none, with one warning per column) and \
      standardized as in training. The file is read 4096 rows at a time. Regression writes one column, prediction, in \
      the target's own units (a target standardized in training is mapped back); \
      classification writes predicted_class (the class name, or its number) and one \
      probability column per class, probability_<class>. An ensemble checkpoint (bump train \
      --final-model ensemble, the default) predicts the mean of its models' outputs \
      (regression) or of their class probabilities (classification). A model with a radial \
      layer (bump train --radial or --radial-last) also writes in_support, its support \
      score (how deep the row lies in the deepest unit's support, relative to a typical \
      training row, which scores 1; exactly 0 outside every unit's support), and \
      abstain, 1 where the score is 0 or below the threshold bump train set to keep 99% of \
      new in-distribution rows (on its validation rows; or --coverage q), else 0.
      """
  )

  @Option(help: ArgumentHelp("A checkpoint written by bump train.", valueName: "checkpoint"))
  var model: String

  @Option(
    help: ArgumentHelp(
      "A CSV file with the model's feature columns; - reads standard input.", valueName: "file"))
  var data: String

  @OptionGroup var ignored: IgnoredColumns

  @OptionGroup var coverageOption: CoverageOption

  @Option(
    help: ArgumentHelp(
      """
      Write the CSV here instead of to standard output ('-'). A regular file is replaced \
      atomically, keeping its permissions; a symbolic link is followed; a device or FIFO \
      (/dev/null, a named pipe) is written in place; a read-only file is refused.
      """,
      valueName: "file"))
  var output: String?

  func validate() throws {
    try ModelFile.validate(model: model, data: data)
    if let output {
      if output.isEmpty { throw ValidationError("--output is empty; give a file name") }
      for (path, option) in [(model, "--model"), (data, "--data")]
      where output != "-" && ModelFile.sameFile(output, path) {
        throw ValidationError(
          "--output \(output) is the \(option) file; writing there would overwrite it")
      }
    }
  }

  func run<Element: MatrixScalar>(_: Element.Type) throws {
    let (network, info, table) = try open(Element.self, target: false)
    var input = table
    var header: [String]
    switch info.task {
    case .regression:
      header =
        network.outputSize == 1 ? ["prediction"] : (0..<network.outputSize).map { "prediction_\($0)" }
    case .classification(let classes):
      header = ["predicted_class"] + (0..<classes).map { "probability_\(info.className($0))" }
    }
    let support = try coverageOption.calibration(info.support, model: model).flatMap { calibration in
      try SupportReport.support(network.members, reduction: calibration.reduction).map { ($0, calibration) }
    }
    if support != nil { header += ["in_support", "abstain"] }
    // A file is written to a temporary sibling and renamed at the end; a device, FIFO or
    // standard output (`-`, or no --output) is written as rows come. A stop signal acts at
    // once, even in a write blocked on a stalled pipe: it removes the temporary file (the
    // handler knows it from its creation on) and exits, leaving the old file.
    InterruptHandler.removeTemporaryFileOnBrokenPipe()
    let writer = try InterruptHandler.critical {
      let writer = try CSVFile.Writer(path: output, header: header)
      InterruptHandler.setTemporaryFile(writer.temporaryPath.isEmpty ? nil : writer.temporaryPath)
      return writer
    }
    defer { InterruptHandler.setTemporaryFile(nil) }
    // The file is read, encoded and standardized a batch of rows at a time, and each batch
    // predicted in steps of `batchSize` rows.
    var batch = Matrix<Element>()
    var done = 0
    while let (x, _, _) = try input.next() {
      for start in stride(from: 0, to: x.rows, by: Self.batchSize) {
        try x.copyRows(start..<min(x.rows, start + Self.batchSize), into: &batch)
        let outputs = try network.predict(batch, batchSize: Self.batchSize)
        // A regression model trained on a standardized target predicts in standardized units.
        let logits = info.task.classes == nil ? try info.naturalUnits(outputs) : outputs
        try ModelFile.checkFiniteOutputs(logits, firstRow: done + start, source: input.source)
        let extra = try support.map { try SupportReport.columns($0.0, $0.1, batch).map { [$0.score, $0.abstain] } }
        switch info.task {
        case .regression:
          for r in 0..<logits.rows { try writer.write(row: logits.row(r).map(CSVFile.format) + (extra?[r] ?? [])) }
        case .classification:
          let predicted = Prediction.classes(logits: logits)
          for r in 0..<logits.rows {
            let p = Prediction.probabilities(logits: logits, row: r)
            try writer.write(row: [info.className(predicted[r])] + p.map { "\($0)" } + (extra?[r] ?? []))
          }
        }
      }
      done += x.rows
    }
    for warning in input.tally.warnings(plan: input.plan, source: input.source) {
      Console.error(warning)
    }
    // The last rows go out before signals are held: a write may block on a slow reader.
    try writer.writeBuffered()
    // A signal held during the final sync abandons the output (the old file stays) rather
    // than exiting as interrupted after replacing it.
    try InterruptHandler.critical {
      try writer.finish(beforeRename: {
        if InterruptHandler.pendingSignal != nil { throw CancellationError() }
      })
    }
  }
}
