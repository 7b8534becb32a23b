import BumpKit
import Foundation

extension BumpLayerStatistics {
  /// Lines describing σ (min/median/max, and every value for at most 16) and, when data was
  /// given, the support fractions.
  func reportLines(indent: String = "  ") -> [String] {
    var lines = ["\(indent)layer \(layerIndex), bump(\(units) units):"]
    if sigma.count == 1 {
      lines.append(
        "\(indent)  σ (shared) = \(formatted(sigma[0]))   support ±\(formatted(sigma[0].squareRoot()))"
      )
    } else {
      let spread = sigmaSpread
      lines.append(
        "\(indent)  σ min \(formatted(spread.minimum))  median \(formatted(spread.median))  max \(formatted(spread.maximum))"
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
