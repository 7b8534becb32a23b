import ArgumentParser
import BumpKit

/// `bump inspect`: the architecture, parameter counts, precision, learned σ values and
/// training metadata of a checkpoint. A checkpoint of `bump train` whose metadata `predict`
/// would refuse is described as far as it can be, and then the command fails with the reason.
struct InspectCommand: CheckpointCommand {
  static let configuration = CommandConfiguration(
    commandName: "inspect",
    abstract: "Describe a checkpoint: architecture, parameters, σ values, training metadata."
  )

  @Argument(help: ArgumentHelp("A checkpoint (.safetensors).", valueName: "checkpoint"))
  var checkpoint: String

  func validate() throws {
    if checkpoint.isEmpty { throw ValidationError("the checkpoint path is empty") }
  }

  var checkpointPath: String { checkpoint }

  func run<Element: MatrixScalar>(_: Element.Type) throws {
    let (models, metadata) = try ModelFile.namingPath(checkpoint) {
      try Checkpoint.loadEnsemble(Element.self, from: checkpoint)
    }
    let model = models[0]
    var lines = [
      "\(checkpoint): BumpKit checkpoint, \(Element.self == Float.self ? "float" : "double") precision"
        + (models.count > 1 ? ", an ensemble of \(models.count) models" : ""),
      "",
      models.count > 1 ? "Architecture (of each model):" : "Architecture:",
    ]
    lines += model.summary.split(separator: "\n").map { "  " + $0 }
    let record = (try? ModelInfo(metadata: metadata, source: checkpoint, inputs: model.inputSize))?.finalModel
    for (k, member) in models.enumerated() {
      // An ensemble's models are described one after the other: the first refit, then (for
      // --final-model ensemble) the early-stopped model, then any further refits.
      let role =
        k == 1 && record?.choice != .refit
        ? " (the \(record?.trainedModelName ?? "early-stopped model"))" : models.count == 2 ? " (the refit)" : " (a refit)"
      let which = models.count > 1 ? " of model \(k + 1)\(role)" : ""
      let bumps = BumpLayerStatistics.parametersOnly(model: member).filter { $0.kind == .bump }
      if !bumps.isEmpty {
        lines += ["", "Bump layers\(which) (learned σ):"]
        for s in bumps { lines += s.reportLines() }
      }
      let radial = RadialLayerReport.lines(model: member)
      if !radial.isEmpty { lines += [""] + radial.dropLast() }
    }
    lines += ["", "Training metadata:"]
    // `bump train`'s metadata must be usable, as `predict` and `evaluate` require: what
    // inspect can show is shown, then the reason, and the command fails.
    var unusable: (any Error)?
    if ModelFile.isFromTraining(metadata) {
      do { _ = try ModelFile.checkedInfo(models: models, metadata: metadata, path: checkpoint) } catch { unusable = error }
    }
    if let info = try? ModelInfo(metadata: metadata, source: checkpoint, inputs: model.inputSize) {
      lines += describe(info)
    } else if unusable != nil {
      lines.append("  unusable (below)")
    } else {
      let reserved = Set(Checkpoint.reservedMetadataKeys)
      let other = metadata.keys.filter { !reserved.contains($0) }.sorted()
      lines.append("  none from bump train" + (other.isEmpty ? "" : "; other entries:"))
      for key in other { lines.append("  \(key): \(metadata[key]!.prefix(200))") }
    }
    if let failure = metadata["failure"] { lines.append("  failure: \(failure)") }
    Console.line(lines.joined(separator: "\n"))
    if let unusable { throw unusable }
  }

  private func describe(_ info: ModelInfo) -> [String] {
    var lines = ["  status: \(info.status), \(info.epochsCompleted) epochs completed"]
    // Names are quoted, so that " cat" and "cat" read differently.
    lines.append(
      "  features (\(info.featureNames.count)): "
        + info.featureNames.map(MessageText.quoted).joined(separator: ", "))
    if let plan = info.plan {
      lines.append("  columns (missing cells: \(plan.missing.rawValue)):")
      lines += plan.columnLines.map { "    " + $0 }
    }
    var target = "  target: \(MessageText.quoted(info.targetName)), \(info.task)"
    if let names = info.classNames { target += ": " + names.map(MessageText.quoted).joined(separator: ", ") }
    lines.append(target)
    lines.append("  loss: \(info.loss.rawValue) (\(info.loss.displayName))")
    if let s = info.standardization {
      lines.append(
        "  standardization: mean " + s.mean.map { formatted($0) }.joined(separator: ", "))
      lines.append(
        "                   sd " + s.standardDeviation.map { formatted($0) }.joined(separator: ", ")
      )
    } else {
      lines.append("  standardization: none")
    }
    if info.task.classes == nil {
      if let t = info.targetStandardization {
        lines.append(
          "  target standardization: mean " + t.mean.map { formatted($0) }.joined(separator: ", ")
            + ", sd " + t.standardDeviation.map { formatted($0) }.joined(separator: ", "))
      } else {
        lines.append("  target standardization: none (the model predicts in the target's units)")
      }
    }
    if let c = info.configuration {
      lines += c.descriptionLines.map { "  " + $0 }
    }
    if let f = info.finalModel {
      lines.append("  final model: \(f.choice.rawValue), \(f.description)")
    }
    if let c = info.support {
      let percent = "\(String(format: "%.0f", c.coverage * 100))%"
      let tooFew = SupportReport.tooFewHeldOutRows(c.heldOutRows, coverage: c.coverage)
      var text = "  support score: \(c.reduction.rawValue) of the radial bumps over \(formatted(c.scale)); "
      if c.threshold > 0 || !tooFew || c.heldOutRows == 0 {
        text += (c.threshold > 0 ? "abstains below \(formatted(c.threshold)) (" : "abstains only where it is 0 (")
        text +=
          c.heldOutRows > 0
          ? "set on \(c.heldOutRows) held-out rows to cover \(percent) of new rows)"
          : "\(percent) of the training rows at or above it)"
      } else {
        // As the summary says it: k = ⌊(1 − q)·(m + 1)⌋ = 0, no held-out row can be given up.
        text += SupportReport.tooFewRowsText(c.heldOutRows, "held-out", coverage: percent)
      }
      lines.append(text)
    }
    if let m = info.metrics {
      var text = "  metrics: train loss \(formatted(m.trainLoss))"
      // After a refit the validation rows were trained on: their score is the early-stopped model's.
      let early = info.finalModel.map { " (\($0.trainedModelName))" } ?? ""
      if let v = m.validationLoss { text += ", validation loss\(early) \(formatted(v))" }
      if let t = m.testLoss {
        text += ", test loss \(formatted(t))" + (m.testSamples.map { " (\(ModelInfo.count($0, "row")))" } ?? "")
      }
      if let a = m.trainAccuracy { text += ", train accuracy \(String(format: "%.2f", a * 100))%" }
      if let a = m.validationAccuracy {
        text += ", validation accuracy\(early) \(String(format: "%.2f", a * 100))%"
      }
      if let a = m.testAccuracy { text += ", test accuracy \(String(format: "%.2f", a * 100))%" }
      text += "; \(m.epochs) epochs in \(ProgressReporter.duration(m.trainingSeconds))"
      lines.append(text)
      // One line per part, as the summary shows them; the test part's baseline is the
      // training part's constant too.
      for (part, baseline, r2) in [
        ("train", m.trainBaseline, m.trainR2), ("validation", m.validationBaseline, m.validationR2),
        ("test", m.testBaseline, m.testR2),
      ] {
        guard let b = baseline else { continue }
        var text =
          info.task.classes == nil
          ? "  baseline: \(part) mse of the training mean \(formatted(b))"
          : "  baseline: \(part) accuracy of the majority class \(String(format: "%.2f", b * 100))%"
        if let r2 { text += "; \(part) R²\(part == "validation" ? early : "") \(formatted(r2))" }
        lines.append(text)
      }
    }
    return lines
  }
}
