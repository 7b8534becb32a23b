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
    var panels: [SVGDocument] = []
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
      panels.append(
        Plot.functionCurvesDocument(
          curves: curves, supports: supports, title: title, xLabel: "input x of the bump layer",
          yLabel: "g(x)", width: 900, height: 440))
    }
    guard !panels.isEmpty else { return nil }
    return SVGDocument.stacked(panels).render()
  }

  /// The predicted class over a grid spanning the data (in original units, 5 % margin), with
  /// the samples on top; for models with two input features.
  static func decisionRegions<Element: MatrixScalar>(
    model: ModelEnsemble<Element>, data: Dataset<Element>, info: ModelInfo, resolution: Int = 120,
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
    let classes = Prediction.classes(logits: try model.predict(grid))
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

  /// A `resolution` × `resolution` grid over the span of the first two columns of `x`, with
  /// `margin` (a fraction of the span; 1 for a column of one value) on each side: the cell
  /// centres along each axis, and the grid's points as rows (x₁ varying fastest).
  static func grid<Element: MatrixScalar>(over x: Matrix<Element>, resolution: Int, margin: Double) throws
    -> (xs: [Double], ys: [Double], points: Matrix<Element>)
  {
    func span(_ k: Int) -> [Double] {
      var lo = Double.infinity, hi = -Double.infinity
      for i in 0..<x.rows {
        lo = min(lo, Double(x[i, k]))
        hi = max(hi, Double(x[i, k]))
      }
      let pad = hi > lo ? margin * (hi - lo) : 1
      let step = (hi - lo + 2 * pad) / Double(resolution)
      return (0..<resolution).map { lo - pad + (Double($0) + 0.5) * step }
    }
    let (xs, ys) = (span(0), span(1))
    var points = try Matrix<Element>(rows: resolution * resolution, columns: 2)
    for j in 0..<resolution {
      for i in 0..<resolution {
        points[j * resolution + i, 0] = Element(xs[i])
        points[j * resolution + i, 1] = Element(ys[j])
      }
    }
    return (xs, ys, points)
  }
}
