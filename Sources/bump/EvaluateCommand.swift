import ArgumentParser
import BumpKit

/// `bump evaluate`: the loss (the one the model was trained with) and, for classification,
/// the accuracy of a checkpoint on a labelled CSV file.
struct EvaluateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "evaluate",
    abstract: "Print a model's loss and accuracy on a labelled CSV file.",
    discussion: """
      The file needs the model's feature columns and its target column (names as in \
      training). Class labels are matched to the model's classes by name, or by number when \
      the model was trained on numeric labels.
      """
  )

  @Option(help: ArgumentHelp("A checkpoint written by bump train.", valueName: "checkpoint"))
  var model: String

  @Option(help: ArgumentHelp("A CSV file with the feature and target columns.", valueName: "file"))
  var data: String

  func run() throws {
    switch try ModelFile.precision(at: model) {
    case .float: try run(Float.self)
    case .double: try run(Double.self)
    }
  }

  private func run<Element: Scalar>(_: Element.Type) throws {
    let (network, info) = try ModelFile.load(Element.self, from: model)
    let x = try ModelFile.inputs(Element.self, path: data, info: info)
    let y = try targets(Element.self, info: info)
    let loss = ModelFactory.loss(info.loss, as: Element.self)
    // Regression is scored in the target's own units, whatever units the model predicts in.
    let value =
      info.task.classes == nil
      ? try loss.loss(predicted: try info.naturalUnits(try network.predict(x)), target: y)
      : try network.evaluate(x: x, y: y, loss: loss)
    var lines = [
      "Model: \(model) (\(info.task), \(info.loss.rawValue) loss)",
      "Data: \(data), \(x.rows) samples",
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

  /// The target column as the model's loss expects it: values for regression, the model's
  /// class numbers for classification.
  private func targets<Element: Scalar>(_: Element.Type, info: ModelInfo) throws -> Matrix<Element>
  {
    guard case .classification(let classes) = info.task else {
      return try Dataset<Element>.loadCSVFeatures(path: data, expectedFeatures: [info.targetName]).x
    }
    let labelled = try Dataset<Element>.loadCSV(
      path: data, target: info.targetName, task: .classification)
    var y = labelled.y
    switch (info.classNames, labelled.classNames) {
    case (let modelNames?, let fileNames?):
      var index: [String: Int] = [:]
      for (k, name) in modelNames.enumerated() { index[name] = k }
      for r in 0..<y.rows {
        let name = fileNames[Int(y[r, 0])]
        guard let k = index[name] else {
          throw CLIError.dataMismatch(
            path: data,
            reason: "class \"\(name)\" in column \"\(info.targetName)\" is not one of the "
              + "model's classes (\(modelNames.map { "\"\($0)\"" }.joined(separator: ", ")))")
        }
        y[r, 0] = Element(k)
      }
    case (nil, nil):
      if let found = labelled.task.classes, found > classes {
        throw CLIError.dataMismatch(
          path: data,
          reason:
            "label \(found - 1) in column \"\(info.targetName)\" is outside the model's classes 0..<\(classes)"
        )
      }
    case (_?, nil):
      throw CLIError.dataMismatch(
        path: data,
        reason: "column \"\(info.targetName)\" holds numbers, but the model's classes are names")
    case (nil, _?):
      throw CLIError.dataMismatch(
        path: data,
        reason:
          "column \"\(info.targetName)\" holds names, but the model was trained on numeric labels")
    }
    return y
  }
}
