import BumpKit

/// The lines `bump train` and `bump inspect` print for RadialBump layers: shape, support
/// radii √σ, what is learned, and (given support counts on data) which units see data. The
/// numbers come from ``BumpLayerStatistics``; this only formats them.
enum RadialLayerReport {
  /// One block per RadialBump layer of `model`; with `statistics` (the layers' statistics on
  /// data, as ``EndOfRunPass`` collects them on the training rows), also the support
  /// statistics of the layers they describe. Empty without such a layer.
  static func lines<Element: MatrixScalar>(
    model: Sequential<Element>, statistics: [BumpLayerStatistics] = []
  ) -> [String] {
    var lines: [String] = []
    for layer in BumpLayerStatistics.parametersOnly(model: model) where layer.kind == .radialBump {
      let i = layer.layerIndex
      let learned = [("c", layer.trainable.center), ("σ", layer.trainable.sigma), ("a", layer.trainable.amplitude)]
        .map { "\($0.0) \($0.1 ? "learned" : "fixed")" }.joined(separator: ", ")
      let radii = layer.supportRadiusSpread
      lines.append("  layer \(i): RadialBump(\(layer.inputSize)→\(layer.units)), \(learned)")
      lines.append(
        "    support radius √σ: min \(formatted(radii.minimum)), median \(formatted(radii.median)), max \(formatted(radii.maximum))")
      if let layerStatistics = statistics.first(where: { $0.layerIndex == i && $0.kind == .radialBump }),
        layerStatistics.samples > 0
      {
        let dead = layerStatistics.deadUnitIndices
        var text = "    inside a support: \(formatted(100 * layerStatistics.supportFraction, digits: 3))% of (input, unit) pairs; dead units (no input inside): \(dead.count) of \(layer.units)"
        if !dead.isEmpty { text += " (" + dead.prefix(10).map { String($0 + 1) }.joined(separator: ", ") + (dead.count > 10 ? ", …)" : ")") }
        lines.append(text)
      }
    }
    return lines.isEmpty ? [] : ["Radial bump layers:"] + lines + [""]
  }
}

extension RunPlots {
  /// The supports of a radial first layer over 2 features as circles over the training
  /// inputs and the model's first output (in the model's input space, standardized where
  /// the features are), with the units that `counts` (the layer's support counts on `x`)
  /// shows dead; nil for any other model.
  static func radialSupports<Element: MatrixScalar>(
    model: Sequential<Element>, inputs x: Matrix<Element>, counts: [Int], standardized: Bool,
    resolution: Int = 80, maxPoints: Int = 2000
  ) throws -> String? {
    guard let radial = model.layers.first as? RadialBump<Element>, radial.inputSize == 2, x.rows > 0,
      counts.count == radial.units
    else { return nil }
    let dead = Set(counts.indices.filter { counts[$0] == 0 })
    let centers = (0..<radial.units).map { (x: Double(radial.center.value[$0, 0]), y: Double(radial.center.value[$0, 1])) }
    let radii = radial.sigma.value.elements.map { Double($0).squareRoot() }
    let (xs, ys, grid) = try RunPlots.grid(over: x, resolution: resolution, margin: 0.05)
    let surface = try model.predict(grid)
    let values = (0..<resolution).map { j in (0..<resolution).map { Double(surface[j * resolution + $0, 0]) } }
    let stride = max(1, x.rows / maxPoints)
    let points = Swift.stride(from: 0, to: x.rows, by: stride).map { (x: Double(x[$0, 0]), y: Double(x[$0, 1])) }
    let suffix = standardized ? " (standardized)" : ""
    return Plot.radialSupports(
      centers: centers, radii: radii, dead: dead, grid: (xs, ys, values), points: points,
      title: "Radial layer: supports ‖x − c‖ < √σ over the first output", xLabel: "x₁" + suffix,
      yLabel: "x₂" + suffix)
  }
}
