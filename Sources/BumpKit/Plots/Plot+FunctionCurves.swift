import Foundation

extension Plot {
  /// Draws one-dimensional functions over a shared input range, such as the learned bump
  /// function `g(x)` of each unit, with each unit's support marked.
  ///
  /// Each curve becomes one `<path>` (with its label as hover tooltip) in a palette color
  /// that cycles through ten colors. Lines get thinner as curves are added, so 64 units
  /// stay readable; the legend is drawn only for at most ten curves, and a subtitle
  /// states the count otherwise.
  ///
  /// Each support interval, for a bump unit `(c − √σ, c + √σ)`, is shaded as a
  /// translucent vertical band in the color of the curve with the same label (or, when no
  /// label matches, the color of the same index). With at most ten supports the band
  /// edges are also drawn as dashed vertical lines; with more, the bands are fainter so
  /// that overlaps stay legible. A zero-width support is drawn as a single dashed line.
  ///
  /// The x axis spans the finite x values of the curves exactly (falling back to the
  /// supports when there are no curve points); the y axis includes 0 when all values
  /// are non-negative (or all non-positive) and leaves 4 % room above and below. Points
  /// with a non-finite coordinate leave gaps; if `xs` and `ys` differ in length, the extra
  /// values are ignored.
  ///
  /// - Parameters:
  ///   - curves: The curves, each with a label and its sample points.
  ///   - supports: Intervals to mark, each with the label of its curve.
  ///   - title: The plot title.
  ///   - xLabel: The x-axis label.
  ///   - yLabel: The y-axis label.
  ///   - width: Image width in pixels.
  ///   - height: Image height in pixels.
  /// - Returns: A standalone SVG document.
  ///
  /// See also: ``functionCurvesDocument(curves:supports:title:xLabel:yLabel:width:height:)``,
  /// the same plot as an ``SVGDocument`` to compose with others.
  public static func functionCurves(
    curves: [(label: String, xs: [Double], ys: [Double])],
    supports: [(label: String, lower: Double, upper: Double)] = [], title: String,
    xLabel: String = "x", yLabel: String = "g(x)", width: Double = 800, height: Double = 480
  ) -> String {
    functionCurvesDocument(
      curves: curves, supports: supports, title: title, xLabel: xLabel, yLabel: yLabel,
      width: width, height: height
    ).render()
  }

  /// The plot of ``functionCurves(curves:supports:title:xLabel:yLabel:width:height:)`` as an
  /// ``SVGDocument``, e.g. to stack several with ``SVGDocument/stacked(_:)``.
  public static func functionCurvesDocument(
    curves: [(label: String, xs: [Double], ys: [Double])],
    supports: [(label: String, lower: Double, upper: Double)] = [],
    title: String,
    xLabel: String = "x",
    yLabel: String = "g(x)",
    width: Double = 800,
    height: Double = 480
  ) -> SVGDocument {
    var xMin = Double.infinity
    var xMax = -Double.infinity
    var yMin = Double.infinity
    var yMax = -Double.infinity
    for curve in curves {
      for (x, y) in zip(curve.xs, curve.ys) where isPlottable(x) && isPlottable(y) {
        xMin = Swift.min(xMin, x)
        xMax = Swift.max(xMax, x)
        yMin = Swift.min(yMin, y)
        yMax = Swift.max(yMax, y)
      }
    }
    let hasPoints = xMin <= xMax
    if !hasPoints {
      for support in supports {
        for bound in [support.lower, support.upper] where isPlottable(bound) {
          xMin = Swift.min(xMin, bound)
          xMax = Swift.max(xMax, bound)
        }
      }
    }
    if !(xMin <= xMax) { (xMin, xMax) = (0, 1) }
    if !(yMin <= yMax) { (yMin, yMax) = (0, 1) }
    if yMin >= 0 { yMin = 0 } else if yMax <= 0 { yMax = 0 }
    if yMax > yMin {
      // A little room on both sides, so that peaks and zero tails do not hide under the
      // frame; the ticks stay at nice values inside.
      let span = yMax - yMin
      yMax += span * 0.04
      yMin -= span * 0.04
    }

    let many = curves.count > 10
    let colors = curves.indices.map { color(at: $0) }
    var colorByLabel: [String: String] = [:]
    for (index, curve) in curves.enumerated() where colorByLabel[curve.label] == nil {
      colorByLabel[curve.label] = colors[index]
    }
    var legend: [LegendEntry] = []
    if !many {
      legend = curves.enumerated().map { index, curve in
        LegendEntry(label: curve.label, swatch: .line(color: colors[index], width: 2))
      }
      if !supports.isEmpty, !curves.isEmpty {
        legend.append(LegendEntry(label: "support", swatch: .band(color: "#777777", opacity: 0.18)))
      }
    }
    var subtitle: String?
    if many {
      subtitle = "\(curves.count) curves, colors cycle through \(palette.count); shaded: supports"
    }

    var canvas = PlotCanvas(
      width: width, height: height, title: title, subtitle: subtitle,
      xLabel: xLabel, yLabel: yLabel,
      x: .linear(lower: xMin, upper: xMax, extend: false, integer: false),
      y: .linear(lower: yMin, upper: yMax, extend: false, integer: false),
      legend: legend)
    canvas.drawBackground()
    let frame = canvas
    let bandOpacity = supports.count <= 10 ? 0.1 : Swift.max(0.025, 0.9 / Double(supports.count))
    var markers: [(x: Double, y: Double, color: String)] = []
    canvas.drawData { svg in
      for (index, support) in supports.enumerated() {
        guard isPlottable(support.lower), isPlottable(support.upper) else { continue }
        let color = colorByLabel[support.label] ?? Plot.color(at: index)
        let a = Swift.min(
          Swift.max(frame.x(Swift.min(support.lower, support.upper)), frame.left - 2),
          frame.right + 2)
        let b = Swift.min(
          Swift.max(frame.x(Swift.max(support.lower, support.upper)), frame.left - 2),
          frame.right + 2)
        guard a.isFinite, b.isFinite else { continue }
        let dashed = SVGDocument.Style(
          stroke: color, strokeWidth: 1, strokeOpacity: 0.8, dashArray: [5, 4])
        if b - a >= 0.5 {
          svg.rect(
            x: a, y: frame.top, width: b - a, height: frame.bottom - frame.top,
            style: .init(fill: color, fillOpacity: bandOpacity),
            tooltip: "\(support.label): support")
        }
        if supports.count <= 10 || b - a < 0.5 {
          svg.line(x1: a, y1: frame.top, x2: a, y2: frame.bottom, style: dashed)
          if b - a >= 0.5 {
            svg.line(x1: b, y1: frame.top, x2: b, y2: frame.bottom, style: dashed)
          }
        }
      }
      let lineWidth = curves.count <= 10 ? 2 : curves.count <= 32 ? 1.4 : 1.1
      for (index, curve) in curves.enumerated() {
        let points = zip(curve.xs, curve.ys).map { x, y in
          isPlottable(x) && isPlottable(y) ? (x: frame.x(x), y: frame.y(y)) : (x: Double.nan, y: Double.nan)
        }
        svg.path(
          through: points,
          style: .init(
            stroke: colors[index], strokeWidth: lineWidth, strokeOpacity: many ? 0.85 : 1,
            lineJoin: "round", lineCap: "round"),
          tooltip: curve.label)
        for (i, point) in points.enumerated() where point.x.isFinite && point.y.isFinite {
          let isolated =
            (i == 0 || !points[i - 1].y.isFinite)
            && (i + 1 == points.count || !points[i + 1].y.isFinite)
          if isolated {
            markers.append((point.x, point.y, colors[index]))
          }
        }
      }
    }
    if !hasPoints {
      canvas.drawMessage(curves.isEmpty ? "No curves" : "No drawable values")
    }
    canvas.drawAxes()
    // Isolated points are drawn last, unclipped, so that they stay whole on the frame.
    for marker in markers {
      canvas.svg.circle(cx: marker.x, cy: marker.y, r: 3, style: .init(fill: marker.color))
    }
    return canvas.svg
  }
}
