import BumpKit
import Foundation
import Testing
import BumpTestSupport

@Suite("History as CSV")
struct HistoryCSVTests {
  @Test("Columns for what has one value per epoch, numbers in their shortest exact form")
  func everyColumn() {
    var history = History()
    history.loss = [0.5, 0.1]
    history.validationLoss = [0.75, 1e-05]
    history.accuracy = [0.5, 1]
    history.validationAccuracy = [0.25, 0.75]
    history.samplesPerSecond = [1000, 2000]
    #expect(
      history.csvText()
        == "epoch,loss,val_loss,accuracy,val_accuracy\n1,0.5,0.75,0.5,0.25\n2,0.1,1e-05,1.0,0.75\n")
  }

  @Test("Loss only; no epochs; a column of another length is left out")
  func partialHistories() {
    var history = History()
    #expect(history.csvText() == "epoch,loss\n")
    history.loss = [3]
    #expect(history.csvText() == "epoch,loss\n1,3.0\n")
    history.validationLoss = [1, 2]
    #expect(history.table.header == ["epoch", "loss"])
  }

  @Test("writeCSV writes the same text, atomically")
  func writes() throws {
    var history = History()
    history.loss = [0.25, 0.125]
    history.validationLoss = [0.5, 0.375]
    let folder = try TemporaryFolder(prefix: "bumpkit-history")
    defer { folder.remove() }
    let path = folder.path("history.csv")
    try history.writeCSV(to: path)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == history.csvText())
  }

  @Test("CSVFile.text quotes what the reader would otherwise split or trim")
  func quoting() {
    let text = CSVFile.text(header: ["a,b", "say \"hi\"", " padded", "", "plain"], rows: [["1", "line\nbreak"]])
    #expect(text == "\"a,b\",\"say \"\"hi\"\"\",\" padded\",\"\",plain\n1,\"line\nbreak\"\n")
  }
}

@Suite("Checkpoint metadata")
struct CheckpointMetadataTests {
  @Test("The reserved keys are exactly the entries save writes itself, and they win")
  func reservedKeys() throws {
    let model = try Sequential<Float>(layers: [try Dense<Float>(inputSize: 2, outputSize: 1)])
    let bare = try Checkpoint.encode(model)
    #expect(Set(bare.metadata.keys) == Set(Checkpoint.reservedMetadataKeys))
    let file = try Checkpoint.encode(model, metadata: ["format": "mine", "note": "kept"])
    #expect(file.metadata["format"] == Checkpoint.format)
    #expect(file.metadata["note"] == "kept")
  }
}
