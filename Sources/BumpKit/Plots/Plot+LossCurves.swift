import Foundation

extension Plot {
  /// Draws loss per epoch for one or more series, such as training and validation loss.
  ///
  /// The value at index `i` of a series belongs to epoch `i + 1`. The x axis is linear
  /// with whole-number epoch ticks; the y axis is logarithmic by default, with a tick and
  /// grid line per decade (labels `1`, `1e-1`, `1e-2`, …) and lighter minor grid lines.
  /// Each series is one `<path>` in its own palette color (dashed, then dotted, once the
  /// ten colors repeat), listed in a legend at the right.
  ///
  /// Values that cannot be drawn — NaN, ±infinity, and zero or negative values on a log
  /// axis — are skipped and leave a gap in the line. Points with no drawable neighbor
  /// (for example a single epoch) are marked with a dot, so they stay visible.
  ///
  /// ```swift
  /// let svg = Plot.lossCurves(
  ///   series: [("training", train), ("validation", validation)],
  ///   title: "Bump network, 64 units")
  /// try svg.write(toFile: "loss.svg", atomically: true, encoding: .utf8)
  /// ```
  ///
  /// - Parameters:
  ///   - series: Named loss values per epoch.
  ///   - title: The plot title (escaped; may contain any characters).
  ///   - yLogScale: Whether the loss axis is base-10 logarithmic (default) or linear.
  ///   - xLabel: The x-axis label.
  ///   - yLabel: The y-axis label.
  ///   - width: Image width in pixels.
  ///   - height: Image height in pixels.
  /// - Returns: A standalone SVG document.
  public static func lossCurves(
    series: [(name: String, values: [Double])],
    title: String,
    yLogScale: Bool = true,
    xLabel: String = "Epoch",
    yLabel: String = "Loss",
    width: Double = 800,
    height: Double = 480
  ) -> String {
    let drawable: (Double) -> Bool = { value in
      guard isPlottable(value) else { return false }
      return !yLogScale || value >= 1e-300
    }
    let epochs = series.map(\.values.count).max() ?? 0
    let finite = series.flatMap { $0.values.filter(drawable) }
    let ySpec: AxisSpec
    if yLogScale {
      ySpec = .log(minimum: finite.min() ?? .nan, maximum: finite.max() ?? .nan)
    } else {
      ySpec = .linear(
        lower: finite.min() ?? 0, upper: finite.max() ?? 1, extend: true, integer: false)
    }
    let xSpec = AxisSpec.linear(
      lower: epochs <= 1 ? 0 : 1, upper: Double(Swift.max(epochs, 2)), extend: true, integer: true)
    let legend = series.enumerated().map { index, entry in
      LegendEntry(
        label: entry.name, swatch: .line(color: color(at: index), width: 2, dash: dash(at: index)))
    }

    var canvas = PlotCanvas(
      width: width, height: height, title: title, xLabel: xLabel, yLabel: yLabel,
      x: xSpec, y: ySpec, legend: legend)
    canvas.drawBackground()
    let frame = canvas
    // Markers are collected and drawn last, unclipped, so that points on the frame (the
    // first and last epoch, the extreme values) stay whole and visible.
    var markers: [(x: Double, y: Double, color: String, isolated: Bool)] = []
    canvas.drawData { svg in
      for (index, entry) in series.enumerated() {
        let color = color(at: index)
        let points = entry.values.enumerated().map { epoch, value in
          drawable(value) ? (x: frame.x(Double(epoch + 1)), y: frame.y(value)) : (x: .nan, y: .nan)
        }
        svg.path(
          through: points,
          style: .init(
            stroke: color, strokeWidth: 2, dashArray: dash(at: index), lineJoin: "round",
            lineCap: dash(at: index) == nil ? "round" : "butt"),
          tooltip: entry.name)
        let markAll = entry.values.count <= 40
        for (i, point) in points.enumerated() where point.x.isFinite && point.y.isFinite {
          let isolated =
            (i == 0 || !points[i - 1].y.isFinite)
            && (i + 1 == points.count || !points[i + 1].y.isFinite)
          if markAll || isolated { markers.append((point.x, point.y, color, isolated)) }
        }
      }
    }
    if finite.isEmpty {
      canvas.drawMessage(series.isEmpty || epochs == 0 ? "No data" : "No drawable values")
    }
    canvas.drawAxes()
    for marker in markers {
      canvas.svg.circle(
        cx: marker.x, cy: marker.y, r: marker.isolated ? 3.5 : 2.5,
        style: .init(fill: marker.color, stroke: "white", strokeWidth: 0.8))
    }
    return canvas.render()
  }
}
