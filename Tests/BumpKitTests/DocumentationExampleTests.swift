import BumpKit
import Foundation
import Testing

@Suite("Documentation example")
struct DocumentationExampleTests {
  @Test("the article's Scale code is the code that DocumentationExample.swift compiles")
  func articleCodeCompiles() throws {
    let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    let article = try String(
      contentsOf: here.appendingPathComponent("../../Sources/BumpKit/Documentation.docc/ExtendingBumpKit.md"), encoding: .utf8)
    let compiled = try String(contentsOf: here.appendingPathComponent("DocumentationExample.swift"), encoding: .utf8)
    let blocks = article.components(separatedBy: "```swift\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
    let scale = blocks.filter { $0.hasPrefix("final class Scale") || $0.hasPrefix("extension Scale") }
    #expect(scale.count == 2)
    for block in scale { #expect(compiled.contains(block), "not compiled as written:\n\(block)") }
    #expect(scale.first?.contains("static var kind: String { \"scale\" }") == true)
  }

  @Test("the article's Scale trains, saves and loads")
  func articleScaleWorks() throws {
    try LayerRegistry.register(Scale.self)
    let model = try Sequential<Double>(seed: 2) {
      try Dense<Double>(inputSize: 2, outputSize: 3)
      try Scale(units: 3)
    }
    let (loaded, _) = try Checkpoint.load(Double.self, file: try Checkpoint.encode(model))
    #expect(loaded.layers[1] is Scale)
    let x = try Matrix<Double>([[0.5, -1]])
    #expect(try loaded.predict(x).elements == model.predict(x).elements)
    #expect(try InferenceModel(loaded).predict(x).elements == model.predict(x).elements)
  }
}
