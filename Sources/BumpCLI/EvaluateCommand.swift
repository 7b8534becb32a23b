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
      row with a missing label is left out and counted. The file is read 4096 rows at a time.
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

  func validate() throws {
    try ModelFile.validate(model: model, data: data)
  }

  func run<Element: MatrixScalar>(_: Element.Type) throws {
    let (network, info, table) = try open(Element.self, target: true)
    var input = table
    let loss = ModelFactory.loss(info.loss, as: Element.self)
    let matcher = info.task.classes.map {
      ClassMatcher(classes: $0, names: info.classNames, numeric: info.columnPlan.numericClasses ?? false)
    }
    let source = data == "-" ? "standard input" : data
    // Sums over the batches, in Double: the loss weighted by rows, the correct predictions.
    var lossSum = 0.0
    var correct = 0
    var rows = 0
    var steps = 0
    var lastLoss = 0.0
    var missingTargets = 0
    var missingLines: [Int] = []
    var batchX = Matrix<Element>(), batchY = Matrix<Element>()
    while let (x, table, kept) = try input.next(keep: { table in
      let target = table.columns[table.columns.count - 1]
      missingTargets += target.missingCount
      missingLines += target.missingLines.prefix(CSVTableReader<Element>.lineListLimit - missingLines.count)
      switch target.cells {
      case .numbers(let values): return values.indices.filter { !values[$0].isNaN }
      case .texts(let codes, _): return codes.indices.filter { codes[$0] != CSVColumn<Element>.missingCode }
      }
    }) {
      let target = table.columns[table.columns.count - 1]
      var y: [Element]
      switch target.cells {
      case .numbers(let values): y = kept.map { values[$0] }
      case .texts(let codes, let texts):
        let lines = target.textLines
        let classes = texts.map { matcher?.classOf($0) }
        y = []
        y.reserveCapacity(kept.count)
        for r in kept {
          guard let k = classes[Int(codes[r])] else {
            let label = texts[Int(codes[r])]
            throw CLIError.dataMismatch(
              path: source,
              // The first row with an unknown label is the first with its text.
              reason: "line \(lines[Int(codes[r])]), column \(MessageText.quoted(info.targetName)): class label \(MessageText.quoted(label)) \(matcher!.problem(label))")
          }
          y.append(Element(k))
        }
      }
      let targets = try Matrix(rows: kept.count, columns: 1, elements: y)
      for start in stride(from: 0, to: x.rows, by: Self.batchSize) {
        let range = start..<min(x.rows, start + Self.batchSize)
        try x.copyRows(range, into: &batchX)
        try targets.copyRows(range, into: &batchY)
        // Regression is scored in the target's own units, whatever units the model predicts in.
        let value =
          info.task.classes == nil
          ? try loss.loss(predicted: try info.naturalUnits(try network.predict(batchX)), target: batchY)
          : try network.evaluate(x: batchX, y: batchY, loss: loss)
        lossSum += value * Double(range.count)
        lastLoss = value
        steps += 1
        if info.task.classes != nil {
          correct += Int((try network.accuracy(x: batchX, y: batchY) * Double(range.count)).rounded())
        }
        rows += range.count
      }
    }
    guard rows > 0 else {
      throw CLIError.dataMismatch(
        path: source, reason: "no row has a target \(MessageText.quoted(info.targetName)) to score against")
    }
    if missingTargets > 0 {
      Console.error(
        "Note: \(source): left out \(ModelInfo.count(missingTargets, "row")) with a missing target \(MessageText.quoted(info.targetName)) (\(TableData<Element>.lineList(missingLines, total: missingTargets)))")
    }
    for warning in input.tally.warnings(plan: input.plan, source: source) { Console.error(warning) }
    // One step is today's single computation; more are combined as `evaluate` combines them.
    let value = steps == 1 ? lastLoss : lossSum / Double(rows)
    var lines = [
      "Model: \(model) (\(info.task), \(info.loss.rawValue) loss)",
      "Data: \(source), \(rows) samples",
      "loss (\(info.loss.rawValue)): \(formatted(value, digits: 6))",
    ]
    switch info.task {
    case .regression:
      lines.append("rmse: \(formatted(value.squareRoot(), digits: 6))")
    case .classification:
      let accuracy = Double(correct) / Double(rows)
      lines.append("accuracy: \(String(format: "%.2f", accuracy * 100))% (\(correct) of \(rows))")
    }
    Console.line(lines.joined(separator: "\n"))
  }
}
