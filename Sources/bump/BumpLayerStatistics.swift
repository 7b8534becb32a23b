import BumpKit
import Foundation

/// What one bump layer learned and how the training data falls on it: σ, c and a, the
/// range of the layer's inputs, and per unit the fraction of inputs inside its support
/// (c − √σ, c + √σ). A unit with fraction 0 is dead: it outputs 0 and gets no gradient.
struct BumpLayerStatistics {
  /// The layer's position in the model (0-based).
  let layerIndex: Int
  let units: Int
  /// σ: one value per unit, or one shared value.
  let sigma: [Double]
  let center: [Double]
  let amplitude: [Double]
  /// Per unit, the fraction of training inputs inside the support.
  let supportFractionPerUnit: [Double]
  /// The smallest and largest input the layer saw, over all units; nil without finite inputs.
  let inputRange: ClosedRange<Double>?

  /// The fraction of all (sample, unit) inputs inside the support.
  var supportFraction: Double {
    supportFractionPerUnit.isEmpty
      ? 0 : supportFractionPerUnit.reduce(0, +) / Double(supportFractionPerUnit.count)
  }

  /// Units whose inputs all fall outside the support.
  var deadUnits: Int { supportFractionPerUnit.filter { $0 == 0 }.count }

  /// σ of unit j (the shared value when σ is shared).
  func sigma(unit j: Int) -> Double { sigma[sigma.count == 1 ? 0 : j] }
  /// c of unit j.
  func center(unit j: Int) -> Double { center[center.count == 1 ? 0 : j] }

  /// Runs the layers of `model` on `x` in chunks and collects the statistics of every bump
  /// layer. Leaves the layers' saved state released.
  static func collect<Element: MatrixScalar>(
    model: Sequential<Element>, inputs x: Matrix<Element>, chunkRows: Int = 4096
  ) throws -> [BumpLayerStatistics] {
    let bumps = model.layers.enumerated().compactMap { i, layer in
      (layer as? Bump<Element>).map { (i, $0) }
    }
    guard !bumps.isEmpty, x.rows > 0 else { return [] }
    var lower = [Int: Double]()
    var upper = [Int: Double]()
    var inside = [Int: [Double]]()
    var chunk = Matrix<Element>()
    var start = 0
    while start < x.rows {
      let end = min(x.rows, start + chunkRows)
      model.releaseSavedState()
      try x.copyRows(start..<end, into: &chunk)
      var activations = chunk
      for (i, layer) in model.layers.enumerated() {
        if let bump = layer as? Bump<Element> {
          let (lo, hi) = finiteRange(activations)
          if let lo, let hi {
            lower[i] = min(lower[i] ?? lo, lo)
            upper[i] = max(upper[i] ?? hi, hi)
          }
          activations = try bump.forward(activations)
          let rows = Double(end - start)
          let counts = bump.supportFractionPerUnit.map { $0 * rows }
          inside[i] = zip(inside[i] ?? Array(repeating: 0, count: counts.count), counts).map {
            $0 + $1
          }
        } else {
          activations = try layer.forward(activations)
        }
      }
      start = end
    }
    model.releaseSavedState()
    let total = Double(x.rows)
    return bumps.map { i, bump in
      BumpLayerStatistics(
        layerIndex: i, units: bump.units,
        sigma: bump.sigma.value.elements.map { Double($0) },
        center: bump.center.value.elements.map { Double($0) },
        amplitude: bump.amplitude.value.elements.map { Double($0) },
        supportFractionPerUnit: (inside[i] ?? []).map { ($0 / total * 1e12).rounded() / 1e12 },
        inputRange: lower[i].flatMap { lo in upper[i].map { lo...$0 } })
    }
  }

  /// The statistics of the bump layers of `model` from its parameters alone (no data).
  static func parametersOnly<Element: MatrixScalar>(model: Sequential<Element>) -> [BumpLayerStatistics] {
    model.layers.enumerated().compactMap { i, layer in
      guard let bump = layer as? Bump<Element> else { return nil }
      return BumpLayerStatistics(
        layerIndex: i, units: bump.units,
        sigma: bump.sigma.value.elements.map { Double($0) },
        center: bump.center.value.elements.map { Double($0) },
        amplitude: bump.amplitude.value.elements.map { Double($0) },
        supportFractionPerUnit: [], inputRange: nil)
    }
  }

  private static func finiteRange<Element: MatrixScalar>(_ m: Matrix<Element>) -> (Double?, Double?) {
    m.withUnsafeBufferPointer { p in
      var lo = Element.infinity
      var hi = -Element.infinity
      for v in p where v.isFinite {
        if v < lo { lo = v }
        if v > hi { hi = v }
      }
      return lo <= hi ? (Double(lo), Double(hi)) : (nil, nil)
    }
  }

  // MARK: - Text

  /// Lines describing σ (min/median/max, and every value for at most 16) and, when data was
  /// given, the support fractions.
  func reportLines(indent: String = "  ") -> [String] {
    var lines = ["\(indent)layer \(layerIndex), bump(\(units) units):"]
    if sigma.count == 1 {
      lines.append(
        "\(indent)  σ (shared) = \(formatted(sigma[0]))   support ±\(formatted(sigma[0].squareRoot()))"
      )
    } else {
      let sorted = sigma.sorted()
      let median =
        sorted.count % 2 == 1
        ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
      lines.append(
        "\(indent)  σ min \(formatted(sorted.first!))  median \(formatted(median))  max \(formatted(sorted.last!))"
      )
      if sigma.count <= 16 {
        lines.append("\(indent)  σ = " + sigma.map { formatted($0) }.joined(separator: ", "))
      }
    }
    if center.count > 1 || center.first != 0 {
      lines.append("\(indent)  c " + Self.valuesText(center))
    }
    if amplitude.count > 1 || amplitude.first != 1 {
      lines.append("\(indent)  a " + Self.valuesText(amplitude))
    }
    if !supportFractionPerUnit.isEmpty {
      var text =
        "\(indent)  inputs inside the support: \(String(format: "%.1f", supportFraction * 100))%"
      text += ", dead units (never inside): \(deadUnits) of \(units)"
      lines.append(text)
      if let inputRange {
        lines.append(
          "\(indent)  inputs range over [\(formatted(inputRange.lowerBound)), \(formatted(inputRange.upperBound))]"
        )
      }
    }
    return lines
  }

  private static func valuesText(_ values: [Double]) -> String {
    if values.count == 1 { return "(shared) = \(formatted(values[0]))" }
    if values.count <= 16 { return "= " + values.map { formatted($0) }.joined(separator: ", ") }
    return "min \(formatted(values.min()!))  max \(formatted(values.max()!))"
  }
}
