import ArgumentParser
@testable import BumpCLI
import BumpKit
import Foundation
import Testing
import BumpTestSupport

/// Option parsing, the run folder's rules and the text helpers of `bump`, in process.
@Suite struct CommandTests {
  @Test func trainDefaultsAreResolved() throws {
    let c = try trainConfiguration([])
    #expect(c.dataset == .rings)
    #expect(c.samples == 2000)
    #expect(c.epochs == 200)
    #expect(c.patience == 20, "early stopping by default with a validation split")
    #expect(c.loss == .softmax)
    #expect(c.learningRate == 0.003)
    #expect(c.hiddenLayers == [32, 32])
    #expect(try trainConfiguration(["--patience", "0"]).patience == nil)
    #expect(try trainConfiguration(["--validation-split", "0"]).patience == nil)
    #expect(try trainConfiguration(["--optimizer", "sgd"]).learningRate == 0.1)
    #expect(try trainConfiguration(["--dataset", "bumps"]).loss == .mse)
  }

  @Test func aRadialFirstLayerTrainsForUpTo600EpochsByDefault() throws {
    #expect(try trainConfiguration(["--radial"]).epochs == 600)
    #expect(try trainConfiguration(["--radial", "--epochs", "50"]).epochs == 50)
    #expect(try trainConfiguration(["--layers", "8,8", "--radial-last"]).epochs == 200)
    #expect(try trainConfiguration(["--layers", "8,8", "--radial", "--radial-last"]).epochs == 600)
    let both = try trainConfiguration(["--layers", "8,6,4", "--radial", "--radial-last"])
    #expect(both.radialFirstLayer == true && both.radialLastLayer == true)
  }

  @Test(arguments: [
    (["--activation", "softplus"], "--activation"),
    (["--loss", "mse"], "--loss"),
    (["--sigma-init", "-1"], "--sigma-init"),
    (["--layers", "32,x"], "--layers"),
    (["--layers", "32", "--radial-last"], "--radial-last"),
    (["--epochs", "0"], "--epochs"),
    (["--data", "x.csv"], "--target"),
    (["--dataset", "rings", "--data", "x.csv", "--target", "y", "--task", "regression"], "--data"),
    (["--output", "runs/."], "--output"),
    (["--checkpoint-interval", "-1"], "--checkpoint-interval"),
  ])
  func badTrainOptionsAreOneLineMessages(arguments: [String], option: String) throws {
    let error = try #require(throws: (any Error).self) {
      _ = try BumpCommand.parseAsRoot(["train"] + arguments)
    }
    let message = BumpCommand.oneLineMessage(for: error)
    #expect(message.hasPrefix("Error: "), "\(message)")
    #expect(!message.contains("\n"))
    #expect(message.contains(option), "\(message)")
  }

  @Test func runFolderPathRules() {
    #expect(RunFolder.problem(with: "runs/a") == nil)
    for bad in ["", "~/x", ".", "..", "runs/.", "runs/..", "/"] {
      #expect(RunFolder.problem(with: bad) != nil, "\(bad)")
    }
    #expect(RunFolder.problem(with: "runs/" + String(repeating: "é", count: 123)) == nil)
    #expect(RunFolder.problem(with: "runs/" + String(repeating: "é", count: 123) + "x")?.contains("247 bytes") == true)
    let stem = RunFolder.defaultStem(String(repeating: "ü", count: 200))
    #expect(stem.utf8.count <= 226 && stem.utf8.count >= 225 && stem.allSatisfy { $0 == "ü" })
    #expect(RunFolder.partialPath(for: "runs/a") == "runs/.a.partial")
    #expect(RunFolder.partialPath(for: "a") == ".a.partial")
    #expect(RunFolder.split("/a") == (parent: "/", name: "a"))
    #expect(RunFolder.split("x//y") == (parent: "x", name: "y"))
  }

  @Test func aRunFolderAppearsOnlyWhenPublished() throws {
    let scratch = try TemporaryFolder()
    let path = scratch.path + "/run"
    let folder = try RunFolder(output: path, defaultStem: "unused")
    try folder.write("text\n", to: "a.txt")
    #expect(!FileManager.default.fileExists(atPath: path))
    #expect(try scratch.entries() == [".run.partial"])
    #expect(throws: CLIError.self) { try RunFolder(output: path, defaultStem: "unused") }
    try folder.publish()
    #expect(try scratch.entries() == ["run"])
    #expect(folder.fileNames() == ["a.txt"])
  }

  @Test func memoryLimitsParse() {
    #expect(MemoryBudget.parse("1000") == 1000)
    #expect(MemoryBudget.parse("64K") == 64 << 10)
    #expect(MemoryBudget.parse("512MiB") == 512 << 20)
    #expect(MemoryBudget.parse("4g") == 4 << 30)
    for bad in ["", "0", "-1", "x", "1Q", "1e30T", "0x100M", "0X10", "inf", "nan", "0.5", "1.5", "1.0000001K", "+5", ".", "M"] {
      #expect(MemoryBudget.parse(bad) == nil, "\(bad)")
    }
    // A fraction of a unit, as long as it is at least a byte.
    #expect(MemoryBudget.parse("0.5G") == 512 << 20)
    #expect(MemoryBudget.parse("1.5K") == 1536)
    #expect(MemoryBudget.parse(".5M") == 512 << 10)
    #expect(MemoryBudget.parse("2.0") == 2)
    #expect(MemoryBudget.parseLimit("1e400") == .tooLarge)
  }

  @Test func ignoredColumnsAreSplitTrimmedAndDeduplicated() throws {
    #expect(try ColumnList.names(["id, name", "name", ",x,,"]) == ["id", "name", "x"])
  }

  @Test func statisticsReportNamesTheLayerAndItsDeadUnits() throws {
    let bump = try Bump<Double>(units: 2, sigma: .perUnit(.constant(1)), center: .perUnit(.zeros))
    let model = try Sequential<Double>(layers: [bump])
    try bump.center.assign(Matrix<Double>(rows: 1, columns: 2, elements: [0, 50]))
    let x = try Matrix<Double>(rows: 4, columns: 2, elements: [0, 0, 0.5, 0, 3, 0, -0.25, 0])
    let statistics = try #require(try BumpLayerStatistics.collect(model: model, inputs: x).first)
    let lines = statistics.reportLines()
    #expect(lines.first == "  layer 0, bump(2 units):")
    #expect(lines.contains("    σ min 1  median 1  max 1"), "\(lines)")
    #expect(lines.contains("    c = 0, 50"), "\(lines)")
    // 3 of 4 inputs inside for unit 0, none for unit 1: 3 of 8.
    #expect(lines.contains("    inputs inside the support: 37.5%, dead units (never inside): 1 of 2"), "\(lines)")
    #expect(lines.contains("    inputs range over [-0.25, 3]"), "\(lines)")
    let parametersOnly = BumpLayerStatistics.parametersOnly(model: model)[0].reportLines()
    #expect(!parametersOnly.contains { $0.contains("inside the support") })
  }

  @Test func checkpointMetadataRoundTripsAndAvoidsTheReservedKeys() throws {
    let info = ModelInfo(
      configuration: try trainConfiguration([]), featureNames: ["x", "y"], targetName: "ring",
      task: .classification(classes: 2), classNames: ["inner", "outer"], loss: .softmax,
      standardization: nil, status: "complete", epochsCompleted: 7)
    let metadata = try info.metadata()
    #expect(Set(metadata.keys).isDisjoint(with: Checkpoint.reservedMetadataKeys))
    #expect(try ModelInfo(metadata: metadata, source: "m") == info)
  }

  @Test func durationsAndRatesAreShort() {
    #expect(ProgressReporter.duration(0.04) == "0.04s")
    #expect(ProgressReporter.duration(2.5) == "2.5s")
    #expect(ProgressReporter.duration(185) == "3m05s")
    #expect(ProgressReporter.rate(41_234) == "41.2k")
    #expect(ProgressReporter.rate(1_300_000) == "1.3M")
  }
}
