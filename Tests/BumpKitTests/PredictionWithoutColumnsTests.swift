import BumpKit
import Testing

@Suite("Prediction on logits without columns")
struct PredictionWithoutColumnsTests {
  @Test("Classes and probabilities of 0-column logits are empty, not a trap")
  func noColumns() throws {
    let logits = try Matrix<Float>(rows: 3, columns: 0)
    #expect(Prediction.classes(logits: logits).isEmpty)
    #expect(Prediction.probabilities(logits: logits, row: 1).isEmpty)
  }
}
