import ArgumentParser
import BumpKit

/// `bump evaluate`: the loss (the one the model was trained with) and, for classification,
/// the accuracy of a checkpoint on a labelled CSV file.
struct EvaluateCommand: CheckpointCommand {
  static let configuration = CommandConfiguration(
    commandName: "evaluate",
    abstract: "Print a model's loss and accuracy on a labelled CSV file.",
    discussion: """
      The file needs the model's feature columns and its target column (names as in \
      training); other columns (an id, text) are not read. Class labels are matched to the \
      model's classes by name, or by number when the model was trained on numeric labels; a \
      label that is not one of them is an error naming its line.
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

  var checkpointPath: String { model }

  func run<Element: MatrixScalar>(_: Element.Type) throws {
    let (network, info) = try ModelFile.load(Element.self, from: model)
    let (x, y) = try ModelFile.labelled(
      Element.self, path: data, info: info, ignoring: ignored.names)
    let loss = ModelFactory.loss(info.loss, as: Element.self)
    // Regression is scored in the target's own units, whatever units the model predicts in.
    let value =
      info.task.classes == nil
      ? try loss.loss(predicted: try info.naturalUnits(try network.predict(x)), target: y)
      : try network.evaluate(x: x, y: y, loss: loss)
    var lines = [
      "Model: \(model) (\(info.task), \(info.loss.rawValue) loss)",
      "Data: \(data == "-" ? "standard input" : data), \(x.rows) samples",
      "loss (\(info.loss.rawValue)): \(formatted(value, digits: 6))",
    ]
    switch info.task {
    case .regression:
      lines.append("rmse: \(formatted(value.squareRoot(), digits: 6))")
    case .classification:
      let accuracy = try network.accuracy(x: x, y: y)
      let correct = Int((accuracy * Double(x.rows)).rounded())
      lines.append("accuracy: \(String(format: "%.2f", accuracy * 100))% (\(correct) of \(x.rows))")
    }
    Console.line(lines.joined(separator: "\n"))
  }
}
