import BumpKit
import Foundation

/// The SVG plots of a run folder.
enum RunPlots {
  /// Training and validation loss per epoch, on a log scale.
  static func loss(training: [Double], validation: [Double], lossName: String) -> String {
    var series: [(name: String, values: [Double])] = [("training", training)]
    if !validation.isEmpty { series.append(("validation", validation)) }
    return Plot.lossCurves(series: series, title: "Loss (\(lossName))", yLabel: "Loss (log scale)")
  }

  /// For every bump layer, the learned g(x) of each unit over the range of the layer's inputs
  /// on the training data, with each unit's support c ± √σ marked; one panel per layer,
  /// stacked. Nil when the model has no bump layer.
  static func bumps<Element: MatrixScalar>(
    model: Sequential<Element>, statistics: [BumpLayerStatistics], points: Int = 241
  ) throws -> String? {
    var panels: [(svg: String, height: Double)] = []
    for stats in statistics {
      guard let bump = model.layers[stats.layerIndex] as? Bump<Element> else { continue }
      var range = stats.inputRange ?? -1...1
      if range.upperBound - range.lowerBound < 1e-9 {
        range = (range.lowerBound - 1)...(range.upperBound + 1)
      }
      let xs = (0..<points).map {
        range.lowerBound + (range.upperBound - range.lowerBound) * Double($0) / Double(points - 1)
      }
      // Every unit sees the same grid: column j of the input is the grid, so column j of the
      // output is unit j's g(x), computed by the layer's own kernels.
      var grid = try Matrix<Element>(rows: points, columns: bump.units)
      grid.withUnsafeMutableBufferPointer { g in
        for i in 0..<points {
          for j in 0..<bump.units { g[i * bump.units + j] = Element(xs[i]) }
        }
      }
      let values = try bump.forward(grid)
      bump.releaseSavedState()
      let curves = (0..<bump.units).map { j in
        (label: "unit \(j + 1)", xs: xs, ys: (0..<points).map { Double(values[$0, j]) })
      }
      let supports = (0..<bump.units).map { j in
        let half = stats.sigma(unit: j).squareRoot()
        return (
          label: "unit \(j + 1)", lower: stats.center(unit: j) - half,
          upper: stats.center(unit: j) + half
        )
      }
      let title =
        "Layer \(stats.layerIndex): bump, \(bump.units) units — learned g(x), supports c ± √σ"
      let height = 440.0
      panels.append(
        (
          Plot.functionCurves(
            curves: curves, supports: supports, title: title, xLabel: "input x of the bump layer",
            yLabel: "g(x)", width: 900, height: height),
          height
        ))
    }
    guard !panels.isEmpty else { return nil }
    return stack(panels, width: 900)
  }

  /// The predicted class over a grid spanning the data (in original units, 5 % margin), with
  /// the samples on top; for models with two input features.
  static func decisionRegions<Element: MatrixScalar>(
    model: Sequential<Element>, data: Dataset<Element>, info: ModelInfo, resolution: Int = 120,
    maxPoints: Int = 2000
  ) throws -> String {
    let x = data.x
    func span(_ column: Int) -> ClosedRange<Double> {
      var lo = Double.infinity
      var hi = -Double.infinity
      for i in 0..<x.rows {
        lo = min(lo, Double(x[i, column]))
        hi = max(hi, Double(x[i, column]))
      }
      let margin = hi > lo ? 0.05 * (hi - lo) : 1
      return (lo - margin)...(hi + margin)
    }
    let (xRange, yRange) = (span(0), span(1))
    func centers(_ r: ClosedRange<Double>) -> [Double] {
      let step = (r.upperBound - r.lowerBound) / Double(resolution)
      return (0..<resolution).map { r.lowerBound + (Double($0) + 0.5) * step }
    }
    let (xs, ys) = (centers(xRange), centers(yRange))
    var grid = try Matrix<Element>(rows: resolution * resolution, columns: 2)
    for (j, yv) in ys.enumerated() {
      for (i, xv) in xs.enumerated() {
        grid[j * resolution + i, 0] = Element(xv)
        grid[j * resolution + i, 1] = Element(yv)
      }
    }
    if let s = info.standardization { grid = try s.apply(to: grid) }
    let classes = Prediction.classes(logits: try model.predict(grid), loss: info.loss)
    let classOf = (0..<resolution).map { j in
      Array(classes[(j * resolution)..<((j + 1) * resolution)])
    }
    let points = (0..<min(x.rows, maxPoints)).map {
      (x: Double(x[$0, 0]), y: Double(x[$0, 1]), label: Int(data.y[$0, 0]))
    }
    var names: [Int: String] = [:]
    if let classNames = info.classNames {
      for (k, name) in classNames.enumerated() { names[k] = name }
    }
    return Plot.decisionRegions(
      grid: (xs, ys, classOf), points: points,
      title: "Decision regions (\(data.targetName))", xLabel: info.featureNames[0],
      yLabel: info.featureNames[1], classNames: names)
  }

  /// Stacks standalone SVG documents vertically into one, each as a nested `<svg>` whose
  /// element ids are prefixed so that they stay unique.
  static func stack(_ panels: [(svg: String, height: Double)], width: Double) -> String {
    if panels.count == 1 { return panels[0].svg }
    let total = panels.reduce(0) { $0 + $1.height }
    var out = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
    out +=
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"\(Int(width))\" height=\"\(Int(total))\" viewBox=\"0 0 \(Int(width)) \(Int(total))\">\n"
    var offset = 0.0
    for (k, panel) in panels.enumerated() {
      var svg = panel.svg
      if svg.hasPrefix("<?xml"), let end = svg.firstIndex(of: "\n") {
        svg = String(svg[svg.index(after: end)...])
      }
      if let open = svg.range(of: "<svg ") {
        svg.replaceSubrange(open, with: "<svg x=\"0\" y=\"\(Int(offset))\" ")
      }
      for id in ids(in: svg) {
        svg = svg.replacingOccurrences(of: "id=\"\(id)\"", with: "id=\"p\(k)-\(id)\"")
        svg = svg.replacingOccurrences(of: "url(#\(id))", with: "url(#p\(k)-\(id))")
      }
      out += svg
      offset += panel.height
    }
    out += "</svg>\n"
    return out
  }

  private static func ids(in svg: String) -> Set<String> {
    var found = Set<String>()
    var rest = svg[...]
    while let r = rest.range(of: " id=\"") {
      let after = rest[r.upperBound...]
      guard let close = after.firstIndex(of: "\"") else { break }
      found.insert(String(after[..<close]))
      rest = after[close...]
    }
    return found
  }
}

/// Turning model outputs into classes and probabilities.
enum Prediction {
  /// The predicted class of each row: the arg-max of the logits for softmax, the sign of the
  /// single logit for binary cross-entropy.
  static func classes<Element: MatrixScalar>(logits: Matrix<Element>, loss: LossChoice) -> [Int] {
    (0..<logits.rows).map { r in
      if logits.columns == 1 { return logits[r, 0] > 0 ? 1 : 0 }
      var best = 0
      for k in 1..<logits.columns where logits[r, k] > logits[r, best] { best = k }
      return best
    }
  }

  /// The class probabilities of one row: softmax of the logits, or (1 − σ(z), σ(z)) for a
  /// single logit z.
  static func probabilities<Element: MatrixScalar>(logits: Matrix<Element>, row r: Int) -> [Double] {
    if logits.columns == 1 {
      let z = Double(logits[r, 0])
      let e = exp(-abs(z))
      let p = z >= 0 ? 1 / (1 + e) : e / (1 + e)
      return [1 - p, p]
    }
    let values = (0..<logits.columns).map { Double(logits[r, $0]) }
    let m = values.max()!
    let exps = values.map { exp($0 - m) }
    let total = exps.reduce(0, +)
    return exps.map { $0 / total }
  }
}
