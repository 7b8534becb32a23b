import ArgumentParser
import BumpKit
import Foundation

/// The support score of a model whose first hidden layer is radial (`bump train --radial`):
/// calibrated when a run ends (on the validation rows, which the early-stopped model did not
/// train on, or without them on the training rows), stored in the checkpoint
/// (`SupportCalibration`), and written by `predict` (`in_support`, `abstain`) and reported
/// by `evaluate` (coverage, the metrics on the covered rows).
enum SupportReport {
  /// Rows scored per call of `RadialSupport.densities(_:)`: its buffers are rows × units.
  static let batch = 4096

  /// The support of `models`, their units combined by `reduction`, when they have a radial
  /// layer (first, last or both); nil otherwise.
  static func support<Element: MatrixScalar>(
    _ models: [Sequential<Element>], reduction: SupportReduction = .max
  ) throws -> RadialSupport<Element>? {
    guard models.first?.layers.contains(where: { $0 is RadialBump<Element> }) == true else { return nil }
    return try RadialSupport(models: models, reduction: reduction)
  }

  /// ρ for every row of `x`, ``batch`` rows a call.
  static func densities<Element: MatrixScalar>(_ support: RadialSupport<Element>, _ x: Matrix<Element>) throws -> [Double] {
    if x.rows <= batch { return x.rows == 0 ? [] : try support.densities(x) }
    var result: [Double] = []
    result.reserveCapacity(x.rows)
    var part = Matrix<Element>()
    for start in stride(from: 0, to: x.rows, by: batch) {
      try x.copyRows(start..<min(x.rows, start + batch), into: &part)
      result += try support.densities(part)
    }
    return result
  }

  /// What a run's end reports of the support: the calibration at the default coverage, and
  /// the summary's lines. nil for a model without a radial layer.
  ///
  /// With validation rows, the threshold is set on them for new rows
  /// (`SupportCalibration(memberTrainingDensities:referenceDensities:…)`): `heldOutModel` is
  /// the model that did not train on them — the early-stopped model after a refit on all rows
  /// (`models` then holds the refit, and for an ensemble the early-stopped model too), or nil
  /// when `models` is that one model itself; `heldOutModelName` is what the summary calls it
  /// (the model of the last epoch without early stopping). Without validation rows (or without a model that
  /// did not train on them) it is fitted on the training rows, which sets it a little too high
  /// for new rows.
  static func fit<Element: MatrixScalar>(
    models: [Sequential<Element>], heldOutModel: Sequential<Element>? = nil, heldOutModelName: String = "early-stopped model",
    training: Matrix<Element>, validation: Matrix<Element>?
  ) throws -> (calibration: SupportCalibration, lines: [String])? {
    guard let support = try support(models), training.rows > 0 else { return nil }
    guard let validation, validation.rows > 0, let reference = heldOutModel ?? (models.count == 1 ? models[0] : nil)
    else {
      let calibration = try SupportCalibration(
        trainingDensities: try densities(support, training), reduction: support.reduction)
      let line =
        "Support score (\(layers(support))): abstains below \(formatted(calibration.threshold, digits: 4)) "
        + "(\(percent(calibration.coverage)) of the training rows at or above it; no validation rows to set it on "
        + "for new rows)"
      return (calibration, [line + ".", ""])
    }
    // Each member's densities on the training rows, and the reference model's there and on
    // the validation rows (a member that is the reference: its densities, not a second pass).
    let members = try models.count == 1
      ? [densities(support, training)]
      : models.map { try densities(try RadialSupport(model: $0, reduction: support.reduction), training) }
    let referenceSupport = try RadialSupport(model: reference, reduction: support.reduction)
    let heldOut = try densities(referenceSupport, validation)
    let referenceTraining =
      try heldOutModel == nil ? members[0]
      : models.firstIndex { $0 === reference }.map { members[$0] } ?? densities(referenceSupport, training)
    let calibration = try SupportCalibration(
      memberTrainingDensities: members, referenceDensities: (training: referenceTraining, heldOut: heldOut),
      reduction: support.reduction)
    let outside = heldOut.filter { $0 == 0 }.count
    let who = heldOutModel == nil ? "" : " by the \(heldOutModelName), which did not train on them"
    var line = "Support score (\(layers(support))): "
    if calibration.threshold > 0 || !tooFewHeldOutRows(validation.rows, coverage: calibration.coverage) {
      line +=
        (calibration.threshold > 0
          ? "abstains below \(formatted(calibration.threshold, digits: 4)) (" : "abstains only where it is 0 (")
        + "set on the \(validation.rows) validation rows\(who), to cover \(percent(calibration.coverage)) of new rows)"
    } else {
      // k = ⌊(1 − q)·(m + 1)⌋ = 0: no held-out row can be given up at this coverage.
      line += tooFewRowsText(validation.rows, "validation", coverage: percent(calibration.coverage))
    }
    line += "; validation rows outside every support: \(percent(Double(outside) / Double(heldOut.count)))"
    return (calibration, [line + ".", ""])
  }

  /// Whether `m` held-out rows are too few to set any threshold above 0 for `coverage`: the
  /// split-conformal rank k = ⌊(1 − q)·(m + 1)⌋ is 0 (as `SupportCalibration` computes it), so
  /// no held-out row can be given up. A threshold of 0 with k ≥ 1 is a real one: the k-th
  /// smallest held-out score was 0.
  static func tooFewHeldOutRows(_ m: Int, coverage: Double) -> Bool {
    Int(((1 - coverage) * Double(m + 1) * (1 + 1e-12)).rounded(.down)) == 0
  }

  /// What the summary and `inspect` say when ``tooFewHeldOutRows(_:coverage:)``: "abstains
  /// only where it is 0 (the 80 validation rows are too few …; 0.987 and below, with
  /// --coverage, set one)", with the rows called `kind` and the coverage as `coverage` shows it.
  static func tooFewRowsText(_ m: Int, _ kind: String, coverage: String) -> String {
    "abstains only where it is 0 (the \(m) \(kind) rows are too few to set a threshold that covers \(coverage) of new "
      + "rows; \(largestCoverage(heldOutRows: m)) and below, with --coverage, set one)"
  }

  /// The largest coverage on the 1/1000 grid of `SupportCalibration.quantiles` for which `m`
  /// held-out rows set a threshold above 0: the k-th smallest with k = ⌊(1 − q)·(m + 1)⌋ ≥ 1.
  static func largestCoverage(heldOutRows m: Int) -> String {
    let steps = (1000 + m) / (m + 1)  // ⌈1000/(m + 1)⌉
    return String(format: "%.3f", 1 - Double(steps) / 1000)
  }

  /// Which layers a support's density comes from: "radial first layer", or "radial layers
  /// 0 and 3" (positions in the model) for a radial layer on learned features.
  static func layers<Element: MatrixScalar>(_ support: RadialSupport<Element>) -> String {
    let positions = support.radialLayers.map(String.init)
    if positions == ["0"] { return "radial first layer" }
    if positions.count == 1 { return "radial layer \(positions[0])" }
    return "radial layers \(positions.dropLast().joined(separator: ", ")) and \(positions.last!)"
  }

  /// `value` as a percentage with two decimals.
  static func percent(_ value: Double) -> String { String(format: "%.2f%%", value * 100) }

  /// The support columns `predict` writes for a batch: the score and 1 where the model
  /// abstains, else 0.
  static func columns<Element: MatrixScalar>(
    _ support: RadialSupport<Element>, _ calibration: SupportCalibration, _ x: Matrix<Element>
  ) throws -> [(score: String, abstain: String)] {
    try densities(support, x).map { density in
      let score = calibration.score(density: density)
      return ("\(score)", calibration.abstains(score: score) ? "1" : "0")
    }
  }

  /// The metrics of `evaluate` over the rows the model does not abstain on, summed batch by
  /// batch.
  final class Covered<Element: MatrixScalar> {
    let support: RadialSupport<Element>
    let calibration: SupportCalibration
    let network: ModelEnsemble<Element>
    let info: ModelInfo
    private(set) var rows = 0
    private(set) var covered = 0
    private(set) var outside = 0
    private var lossSum = 0.0
    private var correct = 0

    init(support: RadialSupport<Element>, calibration: SupportCalibration, network: ModelEnsemble<Element>, info: ModelInfo) {
      (self.support, self.calibration, self.network, self.info) = (support, calibration, network, info)
    }

    /// Adds one batch of inputs and their targets.
    func add(_ x: Matrix<Element>, _ y: Matrix<Element>) throws {
      let scores = try densities(support, x).map(calibration.score(density:))
      rows += scores.count
      outside += scores.filter { $0 == 0 }.count
      let kept = scores.indices.filter { !calibration.abstains(score: scores[$0]) }
      guard !kept.isEmpty else { return }
      covered += kept.count
      let (keptX, keptY) = (try x.rows(at: kept), try y.rows(at: kept))
      let loss = ModelFactory.loss(info.loss, as: Element.self)
      if info.task.classes == nil {
        let predicted = try info.naturalUnits(try network.predict(keptX))
        lossSum += try loss.loss(predicted: predicted, target: keptY) * Double(kept.count)
      } else {
        let outputs = try network.predict(keptX)
        lossSum += try loss.loss(predicted: outputs, target: keptY) * Double(kept.count)
        correct += Sequential<Element>.correctCount(outputs, keptY)
      }
    }

    /// The report's lines: the coverage, and the loss (and rmse or accuracy) on the covered rows.
    var lines: [String] {
      guard rows > 0 else { return [] }
      var lines = [
        "coverage (rows not abstained on): \(percent(Double(covered) / Double(rows))) (\(covered) of \(rows); "
          + "\(outside) outside every support; threshold \(formatted(calibration.threshold, digits: 4)))"
      ]
      guard covered > 0 else { return lines }
      let loss = lossSum / Double(covered)
      lines.append("loss on covered rows (\(info.loss.rawValue)): \(formatted(loss, digits: 6))")
      if info.task.classes == nil {
        lines.append("rmse on covered rows: \(formatted(loss.squareRoot(), digits: 6))")
      } else {
        lines.append(
          "accuracy on covered rows: \(String(format: "%.2f", Double(correct) / Double(covered) * 100))% (\(correct) of \(covered))")
      }
      return lines
    }
  }
}

extension SupportReport {
  /// For a model with two inputs and a radial layer: where it abstains (white) and where it
  /// does not (shaded by the support score, up to 1 and beyond), with the first model's
  /// first-layer supports as circles when that layer is radial (a deeper radial layer's
  /// supports live in its feature space and are not drawn) and the training rows as dots,
  /// over the training rows' span with a 25 % margin on each side (in the model's input
  /// units). Nil otherwise.
  static func plot<Element: MatrixScalar>(
    models: [Sequential<Element>], calibration: SupportCalibration, inputs x: Matrix<Element>, standardized: Bool,
    resolution: Int = 100, maxPoints: Int = 2000
  ) throws -> String? {
    guard x.columns == 2, x.rows > 0, let support = try support(models, reduction: calibration.reduction) else {
      return nil
    }
    let radial = models.first?.layers.first as? RadialBump<Element>
    let (xs, ys, grid) = try RunPlots.grid(over: x, resolution: resolution, margin: 0.25)
    // 0 where the model abstains; 1 + min(score, 1) elsewhere, so that every covered cell is
    // visibly shaded and the abstention region stays white.
    let scores = try densities(support, grid).map(calibration.score(density:))
    let values = (0..<resolution).map { j in
      (0..<resolution).map { i -> Double in
        let score = scores[j * resolution + i]
        return calibration.abstains(score: score) ? 0 : 1 + min(score, 1)
      }
    }
    let centers = radial.map { r in (0..<r.units).map { (x: Double(r.center.value[$0, 0]), y: Double(r.center.value[$0, 1])) } } ?? []
    let radii = radial.map { $0.sigma.value.elements.map { Double($0).squareRoot() } } ?? []
    let stride = max(1, x.rows / maxPoints)
    let points = Swift.stride(from: 0, to: x.rows, by: stride).map { (x: Double(x[$0, 0]), y: Double(x[$0, 1])) }
    let suffix = standardized ? " (standardized)" : ""
    return Plot.radialSupports(
      centers: centers, radii: radii, grid: (xs, ys, values), points: points,
      title: "Where the model abstains (white): support score 0 or below \(formatted(calibration.threshold, digits: 3))",
      xLabel: "x₁" + suffix, yLabel: "x₂" + suffix)
  }
}

/// `--coverage` of `bump predict` and `bump evaluate`: a radial model's abstention threshold
/// at another in-distribution coverage than the one stored (0.99), set from the training
/// scores' quantiles the checkpoint keeps.
struct CoverageOption: ParsableArguments {
  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      """
      For a model with a radial layer (bump train --radial or --radial-last): abstain below \
      the support score that this fraction of new in-distribution rows reach, as set on \
      the run's validation rows (or, without them, of the training rows) (0 < q ≤ 1; \
      default: the checkpoint's, 0.99).
      """,
      valueName: "q"))
  var coverage: Double?

  func validate() throws {
    if let coverage, !(coverage > 0 && coverage <= 1) {
      throw ValidationError("--coverage \(coverage) must be greater than 0 and at most 1")
    }
  }

  /// The calibration to score with: `stored` (the checkpoint's, nil for a model without
  /// one) at the coverage asked for.
  ///
  /// - Throws: `ValidationError` for `--coverage` with a model that has no calibration (one
  ///   without a radial layer); ``CLIError/invalidCheckpoint(path:reason:)`` for one whose
  ///   calibration has no quantiles.
  func calibration(_ stored: SupportCalibration?, model path: String) throws -> SupportCalibration? {
    guard let coverage else { return stored }
    guard let stored else {
      throw ValidationError(
        "--coverage applies to a model with a radial layer, whose checkpoint holds the support calibration that "
          + "bump train --radial or --radial-last stores; \(path) holds none")
    }
    guard !stored.quantiles.isEmpty else {
      throw CLIError.invalidCheckpoint(
        path: path, reason: "--coverage needs the training quantiles of the support calibration, and this one has none")
    }
    return try stored.recalibrated(coverage: coverage)
  }
}
