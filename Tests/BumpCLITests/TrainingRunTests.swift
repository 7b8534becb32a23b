@testable import BumpCLI
import BumpKit
import Foundation
import Testing
import BumpTestSupport

#if canImport(FoundationXML)
  import FoundationXML
#endif


/// The `bump train` configuration for `arguments`, as the command resolves it.
func trainConfiguration(_ arguments: [String]) throws -> TrainingConfiguration {
  try TrainCommand.parse(arguments).resolvedConfiguration()
}

/// Every `id` an SVG document defines and every `url(#…)` it references, read with an XML
/// parser (which also proves the document well-formed).
private final class SVGIdentifiers: NSObject, XMLParserDelegate {
  var defined: [String] = []
  var referenced: [String] = []
  var nestedSVGOffsets: [String] = []
  private var depth = 0

  func parser(
    _ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
    qualifiedName: String?, attributes: [String: String]
  ) {
    if let id = attributes["id"] { defined.append(id) }
    for value in attributes.values where value.hasPrefix("url(#") {
      referenced.append(String(value.dropFirst(5).dropLast()))
    }
    if name == "svg", depth > 0 { nestedSVGOffsets.append(attributes["y"] ?? "?") }
    depth += 1
  }

  func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
    depth -= 1
  }

  static func read(_ svg: String) throws -> SVGIdentifiers {
    let parser = XMLParser(data: Data(svg.utf8))
    let collector = SVGIdentifiers()
    parser.delegate = collector
    #expect(parser.parse(), "not well-formed: \(String(describing: parser.parserError))")
    return collector
  }
}

/// `bump train` run in process: the run folder, the checkpoint written at each epoch's end and
/// the failure path, without a subprocess.
///
/// Serialized: a run installs process-wide signal polling (``InterruptHandler``).
@Suite(.serialized) struct TrainingRunTests {
  @Test func aRunWritesItsFolderWithHistoryStatisticsAndStackedPlots() throws {
    let folder = try TemporaryFolder()
    let output = folder.path + "/run"
    let configuration = try trainConfiguration(["--epochs", "3", "--samples", "200", "--output", output])
    try TrainingRun<Float>(configuration: configuration, output: output, checkpointInterval: .zero).run()
    #expect(try folder.entries() == ["run"], "published, no .partial left")
    let files = try FileManager.default.contentsOfDirectory(atPath: output).sorted()
    #expect(
      files == [
        "bumps.svg", "decision_regions.svg", "history.csv", "loss.svg", "model.safetensors",
        "summary.txt",
      ])

    let history = try String(contentsOfFile: output + "/history.csv", encoding: .utf8)
    let lines = history.split(separator: "\n")
    #expect(lines.first == "epoch,loss,val_loss,accuracy,val_accuracy")
    #expect(lines.dropFirst().map { $0.split(separator: ",").first } == ["1", "2", "3"])

    // Two hidden bump layers: two panels, stacked, with identifiers that stay unique.
    let bumps = try SVGIdentifiers.read(String(contentsOfFile: output + "/bumps.svg", encoding: .utf8))
    #expect(bumps.nestedSVGOffsets == ["0", "440"])
    #expect(Set(bumps.defined).count == bumps.defined.count, "\(bumps.defined)")
    #expect(!bumps.referenced.isEmpty)
    #expect(Set(bumps.referenced).isSubset(of: Set(bumps.defined)), "every url(#…) resolves")

    // The default final model is an ensemble, which Checkpoint.load refuses (issue 18).
    let (_, metadata) = try Checkpoint.loadEnsemble(Float.self, from: output + "/model.safetensors")
    #expect(metadata["status"] == "complete")
    #expect(metadata["epochs_completed"] == "3")

    let summary = try String(contentsOfFile: output + "/summary.txt", encoding: .utf8)
    for expected in ["layer 1, bump(32 units)", "layer 3, bump(32 units)", "inside the support", "dead units"] {
      #expect(summary.contains(expected), "summary.txt lacks \(expected)")
    }
  }

  @Test func aDivergingRunKeepsTheLastGoodCheckpointMarkedFailed() throws {
    let folder = try TemporaryFolder()
    let output = folder.path + "/run"
    let configuration = try trainConfiguration([
      "--dataset", "regression", "--samples", "400", "--optimizer", "sgd", "--lr", "1e30",
      "--epochs", "3", "--output", output,
    ])
    let error = try #require(throws: CLIError.self) {
      try TrainingRun<Float>(configuration: configuration, output: output, checkpointInterval: .zero).run()
    }
    guard case .trainingFailed(let message, let runFolder) = error else {
      Issue.record("unexpected error \(error)")
      return
    }
    #expect(message.contains("diverged at epoch"), "\(message)")
    #expect(runFolder == output)
    #expect(try folder.entries() == ["run"])
    let summary = try String(contentsOfFile: output + "/summary.txt", encoding: .utf8)
    #expect(summary.contains("FAILED: \(message)."), "\(summary)")

    let (_, metadata) = try Checkpoint.load(Float.self, from: output + "/model.safetensors")
    #expect(metadata["status"] == "failed")
    #expect(metadata["failure"] == message)
    let history = try String(contentsOfFile: output + "/history.csv", encoding: .utf8)
    #expect(history.hasPrefix("epoch,loss"))
    #expect(!history.contains("accuracy"), "a failed run's history has the losses only")
  }

  @Test func predictWritesTheClassOfTheLargestProbability() throws {
    let folder = try TemporaryFolder()
    let output = folder.path + "/run"
    let configuration = try trainConfiguration(["--epochs", "2", "--samples", "100", "--output", output])
    try TrainingRun<Float>(configuration: configuration, output: output).run()
    let data = folder.path + "/points.csv"
    try "x0,x1\n0,0\n1.5,-0.5\n-2,2\n".write(toFile: data, atomically: true, encoding: .utf8)
    let predictions = folder.path + "/predictions.csv"
    let command = try PredictCommand.parse([
      "--model", output + "/model.safetensors", "--data", data, "--output", predictions,
    ])
    try command.run()
    let lines = try String(contentsOfFile: predictions, encoding: .utf8).split(separator: "\n")
    let header = lines.first?.split(separator: ",") ?? []
    #expect(header.count == 3)
    #expect(header == ["predicted_class", "probability_inner", "probability_outer"])
    #expect(lines.count == 4)
    for line in lines.dropFirst() {
      let fields = line.split(separator: ",").map(String.init)
      let p = fields.dropFirst().compactMap(Double.init)
      #expect(p.count == 2 && abs(p[0] + p[1] - 1) < 1e-12, "\(line)")
      let best = p[1] > p[0] ? 1 : 0
      #expect(fields[0] == String(header[best + 1].dropFirst("probability_".count)), "\(line)")
    }
  }

  @Test func theBumpPlotIsAbsentWithoutBumpLayers() throws {
    let folder = try TemporaryFolder()
    let output = folder.path + "/run"
    let configuration = try trainConfiguration([
      "--dataset", "bumps", "--samples", "100", "--activation", "relu", "--epochs", "2", "--output", output,
    ])
    try TrainingRun<Double>(configuration: configuration, output: output).run()
    let files = try FileManager.default.contentsOfDirectory(atPath: output).sorted()
    #expect(files == ["history.csv", "loss.svg", "model.safetensors", "summary.txt"])
    let history = try String(contentsOfFile: output + "/history.csv", encoding: .utf8)
    #expect(history.hasPrefix("epoch,loss,val_loss\n"), "regression: no accuracy columns")
  }
}
