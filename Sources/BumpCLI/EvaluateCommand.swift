import ArgumentParser
import BumpKit

/// `bump evaluate`: the loss (the one the model was trained with) and, for classification,
/// the accuracy of a checkpoint on a labelled CSV file.
struct EvaluateCommand: TableCheckpointCommand {
  static let configuration = CommandConfiguration(
    commandName: "evaluate",
    abstract: "Print a model's loss and accuracy on a labelled CSV file.",
    discussion: """
      The file needs the model's feature columns and its target column (names as in \
      training); other columns (an id, text) are not read. The features are encoded with the \
      checkpoint's column plan, as predict does. Class labels are matched to the model's \
      classes by name, or by value when the model was trained on numeric labels (2007.0 is \
      class 2007); a label that is not one of them is an error naming its line, and a \
      row with a missing label is left out and counted. The file is read 4096 rows at a time. \
      An ensemble checkpoint is scored as one model: the mean of its models' outputs, or the \
      cross-entropy and accuracy of their mean class probabilities. A model with a radial \
      layer (bump train --radial or --radial-last) also reports its coverage, the rows it \
      does not abstain on (see bump predict), and the loss and accuracy or rmse on them.
      """
  )

  @Option(help: ArgumentHelp("A checkpoint written by bump train.", valueName: "checkpoint"))
  var model: String

  @Option(
    help: ArgumentHelp(
      "A CSV file with the feature and target columns; - reads standard input.",
      valueName: "file"))
  var data: String

  @OptionGroup var ignored: IgnoredColumns

  @OptionGroup var coverageOption: CoverageOption

  func validate() throws {
    try ModelFile.validate(model: model, data: data)
  }

  func run<Element: MatrixScalar>(_: Element.Type) throws {
    let (network, info, table) = try open(Element.self, target: true)
    var input = table
    let covered = try coverageOption.calibration(info.support, model: model).flatMap { calibration in
      try SupportReport.support(network.members, reduction: calibration.reduction).map {
        SupportReport.Covered(support: $0, calibration: calibration, network: network, info: info)
      }
    }
    let score = try Self.score(network, info: info, input: &input, each: covered?.add)
    if let note = input.missingTargetNote { Console.error("Note: \(note)") }
    for warning in input.tally.warnings(plan: input.plan, source: input.source) { Console.error(warning) }
    var lines = [
      "Model: \(model) (\(info.task), \(info.loss.rawValue) loss)",
      "Data: \(input.source), \(score.rows) sample\(score.rows == 1 ? "" : "s")",
      "loss (\(info.loss.rawValue)): \(formatted(score.loss, digits: 6))",
    ]
    switch info.task {
    case .regression:
      lines.append("rmse: \(formatted(score.loss.squareRoot(), digits: 6))")
    case .classification:
      let accuracy = Double(score.correct) / Double(score.rows)
      lines.append("accuracy: \(String(format: "%.2f", accuracy * 100))% (\(score.correct) of \(score.rows))")
    }
    lines += covered?.lines ?? []
    Console.line(lines.joined(separator: "\n"))
  }

  /// The score of `network` (described by `info`) on every row of `input` with a target,
  /// ``batchSize`` rows a step: the mean loss (the one the model was trained with; in the
  /// target's own units for regression), and for classification the rows predicted right.
  ///
  /// - Throws: what ``ModelFile/TableInput/nextLabelled()`` throws;
  ///   ``CLIError/dataMismatch(path:reason:)`` when no row has a target.
  static func score<Element: MatrixScalar>(
    _ network: Sequential<Element>, info: ModelInfo, input: inout ModelFile.TableInput<Element>
  ) throws -> (loss: Double, correct: Int, rows: Int) {
    try score(ModelEnsemble([network], loss: info.loss), info: info, input: &input)
  }

  /// The score of the model or ensemble `network` (see ``score(_:info:input:)``): an
  /// ensemble's combined outputs are scored as one model's (the loss of its mean
  /// probabilities, the class they make most likely); `each`, when given, sees every step's
  /// inputs and targets.
  static func score<Element: MatrixScalar>(
    _ network: ModelEnsemble<Element>, info: ModelInfo, input: inout ModelFile.TableInput<Element>,
    each: ((Matrix<Element>, Matrix<Element>) throws -> Void)? = nil
  ) throws -> (loss: Double, correct: Int, rows: Int) {
    let single = network.isEnsemble ? nil : network.first
    let loss = ModelFactory.loss(info.loss, as: Element.self)
    // Sums over the batches, in Double: the loss weighted by rows, the correct predictions.
    var lossSum = 0.0
    var correct = 0
    var rows = 0
    var steps = 0
    var lastLoss = 0.0
    var batchX = Matrix<Element>(), batchY = Matrix<Element>()
    while let (x, targets) = try input.nextLabelled() {
      for start in stride(from: 0, to: x.rows, by: Self.batchSize) {
        let range = start..<min(x.rows, start + Self.batchSize)
        try x.copyRows(range, into: &batchX)
        try targets.copyRows(range, into: &batchY)
        try each?(batchX, batchY)
        // Regression is scored in the target's own units, whatever units the model predicts in.
        let value: Double
        if info.task.classes == nil {
          value = try loss.loss(predicted: try info.naturalUnits(try network.predict(batchX)), target: batchY)
        } else if let single {
          value = try single.evaluate(x: batchX, y: batchY, loss: loss)
          correct += Int((try single.accuracy(x: batchX, y: batchY) * Double(range.count)).rounded())
        } else {
          let outputs = try network.predict(batchX)
          value = try loss.loss(predicted: outputs, target: batchY)
          correct += Sequential<Element>.correctCount(outputs, batchY)
        }
        if !value.isFinite {
          // An output that is not a number (inputs far beyond the training data, with an
          // activation that grows without bound) would score as class 0, or as a loss of nan.
          let outputs = try network.predict(batchX)
          try ModelFile.checkFiniteOutputs(
            info.task.classes == nil ? try info.naturalUnits(outputs) : outputs, firstRow: rows, source: input.source,
            scored: true)
        }
        lossSum += value * Double(range.count)
        lastLoss = value
        steps += 1
        rows += range.count
      }
    }
    guard rows > 0 else {
      throw CLIError.dataMismatch(
        path: input.source, reason: "no row has a target \(MessageText.quoted(info.targetName)) to score against")
    }
    // One step is today's single computation; more are combined as `evaluate` combines them.
    return (steps == 1 ? lastLoss : lossSum / Double(rows), correct, rows)
  }
}
