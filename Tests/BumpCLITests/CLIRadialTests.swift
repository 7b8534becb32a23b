import Foundation
import Testing

/// `bump train --radial` and `bump inspect` of its checkpoint, end to end (a subprocess, with
/// the helpers of ``CLITrainTests``).
extension CLITrainTests {
  @Test func radialFirstLayerTrainsReportsAndPlots() throws {
    let scratch = try Scratch()
    let run = scratch.path("run")
    let result = try TrainTool.run(["train", "--dataset", "rings", "--radial", "--layers", "24", "--epochs", "30", "--output", run])
    #expect(result.status == 0, "\(result.stderr)")
    let files = try FileManager.default.contentsOfDirectory(atPath: run).sorted()
    #expect(files.contains("radial_supports.svg") && !files.contains("bumps.svg"), "\(files)")
    let svg = try String(contentsOfFile: run + "/radial_supports.svg", encoding: .utf8)
    #expect(svg.contains("<svg") && svg.hasSuffix("</svg>\n") && !svg.contains("nan"))
    let summary = try String(contentsOfFile: run + "/summary.txt", encoding: .utf8)
    for expected in ["Radial bump layers:", "RadialBump(2→24)", "support radius √σ", "inside a support", "dead units"] {
      #expect(summary.contains(expected), "summary.txt lacks \(expected):\n\(summary)")
    }
    let accuracy = try #require(
      result.stdout.split(separator: "\n").first { $0.contains("accuracy") }?
        .split(separator: " ").compactMap { Double($0.dropLast()) }.last)
    #expect(accuracy >= 90, "\(result.stdout)")

    let inspect = try TrainTool.run(["inspect", run + "/model.safetensors"])
    #expect(inspect.status == 0, "\(inspect.stderr)")
    for expected in ["radialBump(", "radial first layer", "Radial bump layers:", "RadialBump(2→24), c learned, σ learned, a fixed", "support radius √σ"] {
      #expect(inspect.stdout.contains(expected), "inspect lacks \(expected):\n\(inspect.stdout)")
    }
  }
}
