import BumpKit

/// What `bump train` reports after training that needs the model's outputs on the data —
/// the final loss, accuracy and R² of the training, validation and test parts, the bump layers'
/// statistics and the radial layers' support counts — from one streamed pass over each part.
///
/// The rows are walked in batches of at most ``batchSize``: only one batch's activations
/// (and its copies of inputs, targets and outputs) are held at a time, in buffers reused
/// from batch to batch, so this phase's memory does not grow with the number of rows
/// (``MemoryBudget/checkTraining(_:rows:features:outputs:scalarBytes:dataCopies:)`` counts
/// it). Sums are taken in `Double`; the results equal the whole-matrix computations
/// (``Sequential/evaluate(x:y:loss:batchSize:)``, ``Sequential/accuracy(x:y:batchSize:)``,
/// ``Baseline/rSquared(predicted:targets:)`` of the predictions in the target's units) up to
/// the order of summation.
struct EndOfRunPass<Element: MatrixScalar> {
  /// The rows per batch.
  static var batchSize: Int { 4096 }

  /// The metrics of one part of the data.
  struct PartMetrics: Equatable {
    /// The mean loss: on the standardized targets for classification, in the target's own
    /// units for regression.
    var loss: Double
    /// Classification only: the fraction of rows whose predicted class is the label.
    var accuracy: Double?
    /// Regression only: 1 − Σ(p − t)² / Σ(t − t̄)², per column and averaged.
    var rSquared: Double?
  }

  /// Statistics of the training part's pass, as ``BumpLayerStatistics/Accumulator`` sums
  /// them over the batches.
  struct LayerStatistics {
    /// Every ``Bump`` layer's statistics on the training inputs.
    var bumps: [BumpLayerStatistics]
    /// Every ``RadialBump`` layer's statistics on the training inputs.
    var radials: [BumpLayerStatistics]

    /// Per RadialBump layer (by its index in the model), the number of training inputs
    /// inside each unit's support; empty when the model has no RadialBump layer.
    var radialCounts: [Int: [Int]] {
      Dictionary(uniqueKeysWithValues: radials.map { ($0.layerIndex, $0.supportCountPerUnit) })
    }
  }

  let model: Sequential<Element>
  let loss: any Loss<Element>
  /// Whether the targets are class labels (accuracy) or values (R²).
  let classification: Bool
  /// The map of a standardized regression target, to bring outputs back to its units.
  let targetStandardization: Standardization?
  /// Called between batches (and may end the process: a pending signal).
  var checkpoint: () -> Void = {}
  /// The other models of an ensemble whose first model is ``model``: the metrics are those
  /// of their combined outputs (``ModelEnsemble/combine(_:loss:)``); the layer statistics
  /// stay ``model``'s.
  var others: [Sequential<Element>] = []

  /// How an ensemble's outputs combine: by the loss they were trained with.
  private var combination: LossChoice {
    if loss is SoftmaxCrossEntropy<Element> { return .softmax }
    if loss is BinaryCrossEntropyWithLogits<Element> { return .bce }
    return .mse
  }

  /// The metrics of `x` against `y` (labels, or standardized targets) and, for regression,
  /// `targets` (in the target's own units); with `collectingStatistics`, the bump and radial
  /// statistics too (the radial ones only when the model has a RadialBump layer).
  func run(
    x: Matrix<Element>, y: Matrix<Element>, targets: Matrix<Element>, collectingStatistics: Bool
  ) throws -> (metrics: PartMetrics, statistics: LayerStatistics) {
    let rows = x.rows
    var accumulator = BumpLayerStatistics.Accumulator(model: model)
    let columns = targets.columns
    var residual = [Double](repeating: 0, count: columns)
    var lossSum = 0.0
    var correct = 0
    var natural = Matrix<Element>()
    // Classification scores the labels, regression the targets as read.
    var batches = try RowBatches<Element>(rows: rows, batchSize: Self.batchSize)
    try batches.forEach(x, classification ? y : targets, releasing: model) { _, positions, batchX, batchY in
      checkpoint()
      var output =
        collectingStatistics ? try accumulator.forward(batchX) : try model.forward(batchX)
      if !others.isEmpty {
        var outputs = [output]
        for other in others {
          outputs.append(try other.forward(batchX))
          other.releaseSavedState()
        }
        output = try ModelEnsemble.combine(outputs, loss: combination)
      }
      let batchRows = Double(positions.count)
      if classification {
        lossSum += try loss.loss(predicted: output, target: batchY) * batchRows
        correct += Sequential<Element>.correctCount(output, batchY)
      } else {
        // Predictions mapped back to the target's units, scored against the targets as read.
        let predicted: Matrix<Element>
        if let map = targetStandardization {
          try map.invert(output, into: &natural)
          predicted = natural
        } else {
          predicted = output
        }
        lossSum += try loss.loss(predicted: predicted, target: batchY) * batchRows
        predicted.withUnsafeBufferPointer { p in
          batchY.withUnsafeBufferPointer { t in
            residual.withUnsafeMutableBufferPointer { r in
              for i in t.indices {
                let e = Double(p[i]) - Double(t[i])
                r[i % columns] += e * e
              }
            }
          }
        }
      }
    }
    var metrics = PartMetrics(loss: lossSum / Double(rows))
    if classification {
      metrics.accuracy = Double(correct) / Double(rows)
    } else {
      metrics.rSquared = Self.rSquared(residual: residual, targets: targets)
    }
    if let group = Processes.group {
      // The part over every process's rows: its sums added, and R² from the targets'
      // deviations from their mean over all of them.
      var sums = try group.sum([Double(rows), lossSum, Double(correct)] + residual + Self.columnSums(targets))
      let total = max(sums[0], 1)
      metrics.loss = sums[1] / total
      if classification {
        metrics.accuracy = sums[2] / total
      } else {
        let means = sums[(3 + columns)...].map { $0 / total }
        var deviations = [Double](repeating: 0, count: columns)
        targets.withUnsafeBufferPointer { t in
          for i in t.indices {
            let d = Double(t[i]) - means[i % columns]
            deviations[i % columns] += d * d
          }
        }
        deviations = try group.sum(deviations)
        sums = Array(sums[3..<(3 + columns)])
        var score = 0.0
        for j in 0..<columns {
          score += deviations[j] > 0 ? 1 - sums[j] / deviations[j] : (sums[j] == 0 ? 1 : 0)
        }
        metrics.rSquared = score / Double(columns)
      }
    }
    var statistics = accumulator.statistics
    if let group = Processes.group, collectingStatistics {
      statistics = try GroupStatistics.layerStatistics(statistics, in: group)
    }
    return (
      metrics,
      LayerStatistics(
        bumps: statistics.filter { $0.kind == .bump }, radials: statistics.filter { $0.kind == .radialBump })
    )
  }

  /// The sum of each column of `targets`.
  static func columnSums(_ targets: Matrix<Element>) -> [Double] {
    var sums = [Double](repeating: 0, count: targets.columns)
    targets.withUnsafeBufferPointer { t in
      for i in t.indices { sums[i % targets.columns] += Double(t[i]) }
    }
    return sums
  }

  /// R² from the residual sums of squares per column, with Σ(t − t̄)² from the targets (as
  /// ``Baseline/rSquared(predicted:targets:)`` scores them).
  static func rSquared(residual: [Double], targets: Matrix<Element>) -> Double {
    let columns = targets.columns
    var means = [Double](repeating: 0, count: columns)
    var total = [Double](repeating: 0, count: columns)
    targets.withUnsafeBufferPointer { t in
      for i in t.indices { means[i % columns] += Double(t[i]) }
      for j in 0..<columns { means[j] /= Double(targets.rows) }
      for i in t.indices {
        let d = Double(t[i]) - means[i % columns]
        total[i % columns] += d * d
      }
    }
    var score = 0.0
    for j in 0..<columns {
      score += total[j] > 0 ? 1 - residual[j] / total[j] : (residual[j] == 0 ? 1 : 0)
    }
    return score / Double(columns)
  }
}

extension Standardization {
  /// ``invert(_:)`` written into `result`, whose buffer is reused when it is large enough
  /// and not shared.
  func invert<Element: MatrixScalar>(_ x: Matrix<Element>, into result: inout Matrix<Element>)
    throws
  {
    guard x.columns == features else {
      _ = try invert(x)  // throws its shape error
      return
    }
    try x.copyRows(0..<x.rows, into: &result)
    let columns = x.columns
    result.withUnsafeMutableBufferPointer { buffer in
      for index in buffer.indices {
        let j = index % columns
        buffer[index] = Element(Double(buffer[index]) * standardDeviation[j] + mean[j])
      }
    }
  }
}
