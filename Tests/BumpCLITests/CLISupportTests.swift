import BumpKit
import BumpTestSupport
import Foundation
import Testing

/// The support score end to end: `bump train --radial` stores a calibration and reports the
/// validation rows outside the support, `bump predict` writes `in_support` and `abstain`
/// (checked against a brute-force Double evaluation from the checkpoint's tensors), and
/// `bump evaluate` reports coverage (a subprocess, with the helpers of ``CLITrainTests``).
@Suite struct CLISupportTests {
  typealias Scratch = CLITrainTests.Scratch
  typealias TrainTool = CLITrainTests.TrainTool

  /// Two classes in two Gaussian clusters around (−2, 0) and (2, 0), spread 0.5.
  static func clusters(rows: Int, seed: UInt64) -> String {
    var generator = SeededGenerator(seed: seed)
    var lines = ["a,b,label"]
    for i in 0..<rows {
      let label = i % 2
      let x = (label == 0 ? -2.0 : 2.0) + 0.5 * generator.nextNormal()
      let y = 0.5 * generator.nextNormal()
      lines.append("\(x),\(y),\(label)")
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The features (a, b) of `count` rows of ``clusters(rows:seed:)``.
  static func clusterPoints(_ count: Int, seed: UInt64) -> [[Double]] {
    clusters(rows: count, seed: seed).split(separator: "\n").dropFirst().map {
      $0.split(separator: ",").prefix(2).map { Double($0)! }
    }
  }

  /// `bump predict` of `model` on `rows` (columns a, b) written to the scratch folder: its
  /// cells, after checking the status and the header of a two-class radial model, and the
  /// `in_support` column.
  static func predictSupport(
    model: String, rows: [[Double]], in scratch: Scratch
  ) throws -> (cells: [[String]], scores: [Double], input: String) {
    let input = scratch.path("rows.csv")
    try (["a,b"] + rows.map { "\($0[0]),\($0[1])" }).joined(separator: "\n").write(toFile: input, atomically: true, encoding: .utf8)
    let predict = try TrainTool.run(["predict", "--model", model, "--data", input])
    #expect(predict.status == 0, "\(predict.stderr)")
    let lines = predict.stdout.split(separator: "\n").map(String.init)
    #expect(lines.first == "predicted_class,probability_0,probability_1,in_support,abstain")
    let cells = lines.dropFirst().map { $0.split(separator: ",").map(String.init) }
    try #require(cells.count == rows.count)
    return (cells, cells.map { Double($0[3])! }, input)
  }

  /// `model`'s support score of each row (original units) brute-forced in Double from the
  /// checkpoint's Float parameters: standardized as its metadata says, the maximum bump of each member's first
  /// layer, averaged over the members, divided by the calibration's scale.
  static func referenceScores(model path: String, rows: [[Double]]) throws -> [Double] {
    let (models, metadata) = try Checkpoint.loadEnsemble(Float.self, from: path)
    struct Scaling: Decodable { var mean: [Double]; var standardDeviation: [Double] }
    let scaling = try JSONDecoder().decode(Scaling.self, from: Data(try #require(metadata["standardization"]).utf8))
    let calibration = try JSONDecoder().decode(
      SupportCalibration.self, from: Data(try #require(metadata[SupportCalibration.metadataKey]).utf8))
    #expect(calibration.reduction == .max && calibration.coverage == 0.99)
    return try rows.map { row in
      let z = row.indices.map { (row[$0] - scaling.mean[$0]) / scaling.standardDeviation[$0] }
      var total = 0.0
      for model in models {
        let layer = try #require(model.layers.first as? RadialBump<Float>)
        var deepest = 0.0
        for j in 0..<layer.units {
          let sigma = Double(layer.sigma.value[0, j])
          let r2 = z.indices.reduce(0.0) { sum, k in
            let diff = z[k] - Double(layer.center.value[j, k])
            return sum + diff * diff
          }
          if r2 < sigma { deepest = max(deepest, exp(-sigma / (sigma - r2))) }
        }
        total += deepest
      }
      return total / Double(models.count) / calibration.scale
    }
  }

  @Test func radialModelScoresAbstainsAndReportsCoverage() throws {
    let scratch = try Scratch()
    let (_, run, train) = try TrainTool.train(
      Self.clusters(rows: 400, seed: 3), as: "train.csv", target: "label", task: "classification",
      ["--radial", "--layers", "12", "--epochs", "40"], in: scratch)
    #expect(train.status == 0, "\(train.stderr)")
    // The 80 validation rows (20 % of 400) set no threshold for 99 % of new rows (k =
    // ⌊0.01·81⌋ = 0): only a score of 0 abstains.
    #expect(
      train.stdout.contains("Support score (radial first layer): abstains only where it is 0 (the 80 validation rows"),
      "\(train.stdout)")
    #expect(train.stdout.contains("validation rows outside every support: "), "\(train.stdout)")
    let files = try FileManager.default.contentsOfDirectory(atPath: run)
    #expect(files.contains("support.svg"), "\(files)")
    let svg = try String(contentsOfFile: run + "/support.svg", encoding: .utf8)
    #expect(svg.contains("<svg") && svg.contains("Where the model abstains") && !svg.contains("nan"))
    #expect(svg.contains(" r=\"2.4\""), "the centre markers of the first layer's supports")

    // Rows from the training distribution, rows far from it in several directions, and the
    // origin between the clusters.
    let near = Self.clusterPoints(200, seed: 9)
    let far: [[Double]] = [[40, 0], [-40, 3], [0, 25], [1e4, -1e4], [-7, -7], [12, 0.5]]
    let rows = near + far
    let model = run + "/model.safetensors"
    let (cells, scores, input) = try Self.predictSupport(model: model, rows: rows, in: scratch)
    let abstain = cells.map { $0[4] }
    let reference = try Self.referenceScores(model: model, rows: rows)
    for r in rows.indices {
      #expect(abs(scores[r] - reference[r]) <= 1e-4 * max(reference[r], 1e-3), "row \(r): \(scores[r]) vs \(reference[r])")
      #expect((scores[r] == 0) == (reference[r] == 0), "row \(r)")
    }
    // Far rows lie outside every support: score 0 and abstention, whatever the threshold.
    for r in near.count..<rows.count {
      #expect(scores[r] == 0 && abstain[r] == "1", "far row \(rows[r]): \(cells[r])")
    }
    let covered = abstain.prefix(near.count).filter { $0 == "0" }.count
    #expect(covered >= near.count * 9 / 10, "only \(covered) of \(near.count) rows from the training distribution covered")
    #expect(abstain.allSatisfy { $0 == "0" || $0 == "1" })

    // evaluate: coverage over labelled rows, the far ones included.
    let labelled = scratch.path("labelled.csv")
    try (["a,b,label"] + rows.map { "\($0[0]),\($0[1]),\($0[0] < 0 ? 0 : 1)" }).joined(separator: "\n")
      .write(toFile: labelled, atomically: true, encoding: .utf8)
    let evaluate = try TrainTool.run(["evaluate", "--model", model, "--data", labelled])
    #expect(evaluate.status == 0, "\(evaluate.stderr)")
    let uncovered = abstain.filter { $0 == "1" }.count
    #expect(
      evaluate.stdout.contains(
        "coverage (rows not abstained on): \(String(format: "%.2f", Double(rows.count - uncovered) / Double(rows.count) * 100))% (\(rows.count - uncovered) of \(rows.count);"),
      "\(evaluate.stdout)")
    #expect(evaluate.stdout.contains("accuracy on covered rows: "), "\(evaluate.stdout)")

    // --coverage: a lower coverage abstains on at least as many rows, and coverage 1 (no
    // threshold but 0) on no more; far rows stay abstained on either way.
    for (coverage, fewer) in [("0.5", false), ("1", true)] {
      let moved = try TrainTool.run(["predict", "--model", model, "--data", input, "--coverage", coverage])
      #expect(moved.status == 0, "\(moved.stderr)")
      let flags = moved.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",").last.map(String.init) ?? "" }
      let count = flags.filter { $0 == "1" }.count
      #expect(fewer ? count <= uncovered : count >= uncovered, "--coverage \(coverage): \(count) against \(uncovered)")
      #expect(flags.suffix(far.count).allSatisfy { $0 == "1" })
    }
    let bad = try TrainTool.run(["predict", "--model", model, "--data", input, "--coverage", "0"])
    #expect(bad.status != 0 && bad.stderr.contains("--coverage"), "\(bad.stderr)")

    let inspect = try TrainTool.run(["inspect", model])
    #expect(inspect.status == 0, "\(inspect.stderr)")
    #expect(inspect.stdout.contains("support score: max of the radial bumps over "), "\(inspect.stdout)")
    // As the training summary says it: 80 held-out rows cannot give one up at 99 %.
    #expect(
      inspect.stdout.contains(
        "abstains only where it is 0 (the 80 held-out rows are too few to set a threshold that covers 99% of new "
          + "rows; 0.987 and below, with --coverage, set one)"), "\(inspect.stdout)")
  }

  /// The stored calibration of `model`.
  static func calibration(model path: String) throws -> SupportCalibration {
    let (_, metadata) = try Checkpoint.loadEnsemble(Float.self, from: path)
    return try JSONDecoder().decode(
      SupportCalibration.self, from: Data(try #require(metadata[SupportCalibration.metadataKey]).utf8))
  }

  @Test func thresholdIsSetOnValidationRowsOrTrainingRowsWithoutThem() throws {
    let scratch = try Scratch()
    let data = scratch.path("train.csv")
    try Self.clusters(rows: 400, seed: 6).write(toFile: data, atomically: true, encoding: .utf8)
    let rows = Self.clusterPoints(400, seed: 6)
    func train(_ name: String, _ extra: [String]) throws -> (stdout: String, model: String) {
      let run = scratch.path(name)
      let result = try TrainTool.run(
        ["train", "--data", data, "--target", "label", "--task", "classification", "--radial", "--layers", "12",
         "--epochs", "30", "--output", run] + extra)
      #expect(result.status == 0, "\(result.stderr)")
      return (result.stdout, run + "/model.safetensors")
    }
    // The early-stopped model itself: every threshold is the score of one of its 80
    // validation rows (the ⌊(1 − q)·81⌋-th smallest; 8th for 90 %), which are rows of the
    // file; 7 of them, at least, score below it.
    let early = try train("early", ["--final-model", "early-stopped"])
    // k = ⌊0.01·81⌋ = 0 at 99 %: no threshold but 0; from ⌈1000/81⌉ = 13 steps of 0.1 %, one.
    #expect(
      early.stdout.contains(
        "abstains only where it is 0 (the 80 validation rows are too few to set a threshold that covers 99.00% of "
          + "new rows; 0.987 and below, with --coverage, set one)"), "\(early.stdout)")
    let stored = try Self.calibration(model: early.model)
    #expect(stored.heldOutRows == 80)
    #expect(stored.threshold == 0)
    #expect(try stored.recalibrated(coverage: 0.988).threshold == 0)
    #expect(try stored.recalibrated(coverage: 0.987).threshold > 0)
    let scores = try Self.predictSupport(model: early.model, rows: rows, in: scratch).scores
    let threshold = try stored.recalibrated(coverage: 0.9).threshold
    #expect(threshold > 0)
    #expect(scores.contains { abs($0 - threshold) <= 1e-6 * threshold }, "\(threshold) is no row's score")
    #expect(scores.filter { $0 < threshold * (1 - 1e-6) }.count >= 7)

    // The default ensemble with 120 validation rows (30 %): k = ⌊0.01·121⌋ = 1, a threshold,
    // set on them by its early-stopped member.
    let ensemble = try train("ensemble", ["--validation-split", "0.3"])
    #expect(
      ensemble.stdout.contains(
        "(set on the 120 validation rows by the early-stopped model, which did not train on them, to cover 99.00% of new rows)"),
      "\(ensemble.stdout)")
    let set = try Self.calibration(model: ensemble.model)
    #expect(set.heldOutRows == 120 && set.threshold > 0)
    let inspect = try TrainTool.run(["inspect", ensemble.model])
    #expect(inspect.stdout.contains("(set on 120 held-out rows to cover 99% of new rows)"), "\(inspect.stdout)")

    // Without validation rows: fitted on the training rows, as before, and said so.
    let none = try train("none", ["--validation-split", "0"])
    #expect(none.stdout.contains("of the training rows at or above it; no validation rows"), "\(none.stdout)")
    let fitted = try Self.calibration(model: none.model)
    #expect(fitted.heldOutRows == 0)
    let all = try Self.predictSupport(model: none.model, rows: rows, in: scratch).scores
    // Every row trained on: at least 99 % of them at or above the threshold, and a few below.
    let below = all.filter { fitted.abstains(score: $0) }.count
    #expect(below <= 4 && below >= 1, "\(below) of 400 training rows below the threshold")
  }

  /// The support score of `model` for `rows` (original units) brute-forced in Double from the
  /// checkpoint's Float parameters, for a model of Dense, Bump and RadialBump layers: each
  /// member's layers run forward, the maximum bump of each radial layer at its input
  /// multiplied, averaged over the members, divided by the calibration's scale.
  static func referenceLayeredScores(model path: String, rows: [[Double]]) throws -> [Double] {
    let (models, metadata) = try Checkpoint.loadEnsemble(Float.self, from: path)
    struct Scaling: Decodable { var mean: [Double]; var standardDeviation: [Double] }
    let scaling = try JSONDecoder().decode(Scaling.self, from: Data(try #require(metadata["standardization"]).utf8))
    let calibration = try JSONDecoder().decode(
      SupportCalibration.self, from: Data(try #require(metadata[SupportCalibration.metadataKey]).utf8))
    func value(_ p: Parameter<Float>, _ i: Int) -> Double { Double(p.value.columns == 1 ? p.value[0, 0] : p.value[0, i]) }
    return rows.map { row in
      var total = 0.0
      for model in models {
        var h = row.indices.map { (row[$0] - scaling.mean[$0]) / scaling.standardDeviation[$0] }
        var product = 1.0
        for layer in model.layers {
          switch layer {
          case let dense as Dense<Float>:
            h = (0..<dense.outputSize).map { o in
              (0..<dense.inputSize).reduce(Double(dense.bias?.value[0, o] ?? 0)) { $0 + h[$1] * Double(dense.weight.value[$1, o]) }
            }
          case let bump as Bump<Float>:
            h = h.indices.map { i in
              let z = h[i] - value(bump.center, i), sigma = value(bump.sigma, i)
              return z * z < sigma ? value(bump.amplitude, i) * exp(-sigma / (sigma - z * z)) : 0
            }
          case let radial as RadialBump<Float>:
            let f = (0..<radial.units).map { j -> Double in
              let sigma = Double(radial.sigma.value[0, j])
              let r2 = h.indices.reduce(0.0) { $0 + pow(h[$1] - Double(radial.center.value[j, $1]), 2) }
              return r2 < sigma ? exp(-sigma / (sigma - r2)) : 0
            }
            product *= f.max()!
            h = f.indices.map { f[$0] * Double(radial.amplitude.value[0, $0]) }
          default:
            Issue.record("unexpected layer \(layer)")
          }
        }
        total += product
      }
      return total / Double(models.count) / calibration.scale
    }
  }

  @Test func radialLayerOnLearnedFeaturesScoresAndRoundTrips() throws {
    let scratch = try Scratch()
    let (data, run, train) = try TrainTool.train(
      Self.clusters(rows: 400, seed: 5), as: "train.csv", target: "label", task: "classification",
      ["--layers", "8,6", "--radial-last", "--epochs", "30"], in: scratch)
    #expect(train.status == 0, "\(train.stderr)")
    #expect(train.stdout.contains("Support score (radial layer 2): abstains "), "\(train.stdout)")
    // Two inputs: the abstention plot, without circles (the radial layer's supports are in
    // its feature space).
    let svg = try String(contentsOfFile: run + "/support.svg", encoding: .utf8)
    #expect(svg.contains("<svg") && svg.contains("Where the model abstains") && !svg.contains("nan"))
    #expect(svg.contains(" r=\"1.6\"") && !svg.contains(" r=\"2.4\""), "data points, and no centre markers")
    let model = run + "/model.safetensors"
    let (loaded, _) = try Checkpoint.loadEnsemble(Float.self, from: model)
    #expect(loaded.count == 4, "the default ensemble: 3 refits and the early-stopped model")
    #expect(loaded[0].layers.map { "\(type(of: $0))" } == ["Dense<Float>", "Bump<Float>", "RadialBump<Float>", "Dense<Float>"])
    let rows = Self.clusterPoints(100, seed: 8) + [[40, 0], [0, -25], [3, 3]]
    let (cells, scores, _) = try Self.predictSupport(model: model, rows: rows, in: scratch)
    let near = rows.count - 3
    let reference = try Self.referenceLayeredScores(model: model, rows: rows)
    var inside = 0
    for r in rows.indices {
      #expect(abs(scores[r] - reference[r]) <= 1e-3 * max(reference[r], 1e-3), "row \(r): \(scores[r]) vs \(reference[r])")
      if reference[r] > 0 { inside += 1 }
      // Score 0 (features outside every support of the radial layer) is always abstained on.
      if scores[r] == 0 { #expect(cells[r][4] == "1", "row \(r)") }
    }
    #expect(inside >= near * 9 / 10, "\(inside) of \(rows.count) rows inside a support")
    let evaluate = try TrainTool.run(["evaluate", "--model", model, "--data", data])
    #expect(evaluate.status == 0 && evaluate.stdout.contains("coverage (rows not abstained on): "), "\(evaluate.stdout)")
  }

  @Test func modelWithoutRadialLayerWritesNoSupportColumns() throws {
    let scratch = try Scratch()
    let (data, run, train) = try TrainTool.train(
      Self.clusters(rows: 120, seed: 4), as: "train.csv", target: "label", task: "classification",
      ["--layers", "4", "--epochs", "3"], in: scratch)
    #expect(train.status == 0, "\(train.stderr)")
    #expect(!train.stdout.contains("Support score"))
    let predict = try TrainTool.run(["predict", "--model", run + "/model.safetensors", "--data", data])
    #expect(predict.status == 0, "\(predict.stderr)")
    #expect(predict.stdout.split(separator: "\n").first == "predicted_class,probability_0,probability_1")
    let evaluate = try TrainTool.run(["evaluate", "--model", run + "/model.safetensors", "--data", data])
    #expect(evaluate.status == 0 && !evaluate.stdout.contains("coverage"), "\(evaluate.stdout)")
    let coverage = try TrainTool.run(["predict", "--model", run + "/model.safetensors", "--data", data, "--coverage", "0.9"])
    #expect(coverage.status != 0 && coverage.stderr.contains("--coverage applies to a model with a radial layer")
      && !coverage.stderr.contains("not a usable"), "\(coverage.stderr)")
  }
}
