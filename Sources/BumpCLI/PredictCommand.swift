import ArgumentParser
import BumpKit

/// `bump predict`: applies a trained model to the feature columns of a CSV file.
struct PredictCommand: CheckpointCommand {
  static let configuration = CommandConfiguration(
    commandName: "predict",
    abstract: "Write a model's predictions for a CSV file as CSV.",
    discussion: """
      The features are read by the names stored in the checkpoint (other columns are \
      ignored) and standardized as in training. Regression writes one column, prediction, in \
      the target's own units (a target standardized in training is mapped back); \
      classification writes predicted_class (the class name, or its number) and one \
      probability column per class, probability_<class>.
      """
  )

  @Option(help: ArgumentHelp("A checkpoint written by bump train.", valueName: "checkpoint"))
  var model: String

  @Option(
    help: ArgumentHelp(
      "A CSV file with the model's feature columns; - reads standard input.", valueName: "file"))
  var data: String

  @OptionGroup var ignored: IgnoredColumns

  @Option(
    help: ArgumentHelp(
      "Write the CSV here (atomically) instead of to standard output.", valueName: "file"))
  var output: String?

  func validate() throws {
    try ModelFile.validate(model: model, data: data)
    if let output {
      if output.isEmpty { throw ValidationError("--output is empty; give a file name") }
      for (path, option) in [(model, "--model"), (data, "--data")]
      where ModelFile.sameFile(output, path) {
        throw ValidationError(
          "--output \(output) is the \(option) file; writing there would overwrite it")
      }
    }
  }

  var checkpointPath: String { model }

  func run<Element: MatrixScalar>(_: Element.Type) throws {
    let (network, info) = try ModelFile.load(Element.self, from: model)
    let x = try ModelFile.inputs(
      Element.self, path: data, info: info, ignoring: ignored.names)
    let outputs = try network.predict(x)
    // A regression model trained on a standardized target predicts in standardized units.
    let logits = info.task.classes == nil ? try info.naturalUnits(outputs) : outputs
    var header: [String]
    var rows: [[String]] = []
    rows.reserveCapacity(x.rows)
    switch info.task {
    case .regression:
      header =
        logits.columns == 1 ? ["prediction"] : (0..<logits.columns).map { "prediction_\($0)" }
      for r in 0..<logits.rows { rows.append(logits.row(r).map(CSVFile.format)) }
    case .classification(let classes):
      header = ["predicted_class"] + (0..<classes).map { "probability_\(info.className($0))" }
      let predicted = Prediction.classes(logits: logits)
      for r in 0..<logits.rows {
        let p = Prediction.probabilities(logits: logits, row: r)
        rows.append([info.className(predicted[r])] + p.map { "\($0)" })
      }
    }
    if let output {
      try InterruptHandler.critical {
        try CSVFile.write(path: output, header: header, rows: rows)
      }
    } else {
      Console.write(CSVFile.text(header: header, rows: rows))
    }
  }
}
