import Foundation

/// Dependency-free SVG plots for training diagnostics.
///
/// Each function returns a standalone SVG 1.1 document as a `String`; write it to a
/// `.svg` file and open it in a browser.
///
/// - ``lossCurves(series:title:yLogScale:xLabel:yLabel:width:height:)`` draws loss per
///   epoch, on a logarithmic y axis by default.
/// - ``functionCurves(curves:supports:title:xLabel:yLabel:width:height:)`` draws learned
///   one-dimensional functions, such as the bump function of each unit, with their
///   supports marked.
/// - ``decisionRegions(grid:points:title:xLabel:yLabel:classNames:width:height:)`` and
///   ``decisionRegions(xRange:yRange:resolution:points:title:xLabel:yLabel:classNames:width:height:classOf:)``
///   draw the predicted classes of a two-dimensional classifier with the data on top.
///
/// All plots tolerate degenerate data: empty input, NaN and infinite values (left out,
/// leaving gaps), single points, constant values and zero-width ranges all render without
/// `nan` or `inf` in the output.
public enum Plot {
  /// The ten colors that series, curves and classes cycle through (the Tableau 10
  /// palette), as `#rrggbb` strings.
  public static let palette: [String] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
  ]

  /// The palette color for an index, cycling through ``palette``; negative indices wrap
  /// around too.
  ///
  /// - Parameter index: A series, curve or class index.
  /// - Returns: A `#rrggbb` color.
  public static func color(at index: Int) -> String {
    let count = palette.count
    return palette[((index % count) + count) % count]
  }

  /// The dash pattern for a series index: solid for the first ten series, then dashed,
  /// dotted and dash-dotted as the palette repeats, so that up to 40 series stay distinct.
  static func dash(at index: Int) -> [Double]? {
    switch (Swift.max(index, 0) / palette.count) % 4 {
    case 0: nil
    case 1: [7, 3]
    case 2: [2, 3]
    default: [7, 3, 2, 3]
    }
  }

  /// Whether a data value can be placed on an axis: finite and at most 1e300 in magnitude,
  /// so that the spans, midpoints and cell edges computed from such values stay finite.
  static func isPlottable(_ value: Double) -> Bool {
    value.isFinite && abs(value) <= 1e300
  }

  /// Mixes a `#rrggbb` color with white; `amount` 0 keeps the color, 1 gives white.
  static func tint(_ hex: String, towardWhite amount: Double) -> String {
    let digits = Array(hex.dropFirst())
    guard hex.hasPrefix("#"), digits.count == 6 else { return hex }
    var out = "#"
    for i in stride(from: 0, to: 6, by: 2) {
      let channel = Double(Int(String(digits[i...i + 1]), radix: 16) ?? 0)
      let mixed = Int((channel + (255 - channel) * amount).rounded())
      let text = String(Swift.min(255, Swift.max(0, mixed)), radix: 16)
      out += text.count == 1 ? "0" + text : text
    }
    return out
  }

  /// A rough width estimate for sans-serif text, in pixels.
  static func textWidth(_ text: String, fontSize: Double) -> Double {
    Double(text.count) * fontSize * 0.6
  }

  /// Shortens text to about `maxWidth` pixels, ending it with an ellipsis when cut.
  static func truncate(_ text: String, maxWidth: Double, fontSize: Double) -> String {
    let maxCharacters = Swift.max(1, Int(maxWidth / (fontSize * 0.6)))
    guard text.count > maxCharacters else { return text }
    return String(text.prefix(Swift.max(1, maxCharacters - 1))) + "…"
  }
}

// MARK: - Shared layout

extension Plot {

  /// How an axis maps data to the plot area.
  enum AxisSpec {
    /// A linear axis over `lower...upper`; `extend` widens the domain to nice bounds.
    case linear(lower: Double, upper: Double, extend: Bool, integer: Bool)
    /// A base-10 logarithmic axis covering `minimum...maximum` (positive values).
    case log(minimum: Double, maximum: Double)
  }

  /// A resolved axis: the domain, its ticks, and a mapping to `0...1`.
  struct ResolvedAxis {
    let lower: Double
    let upper: Double
    let isLog: Bool
    let ticks: [Plot.Tick]

    init(_ spec: AxisSpec, targetCount: Int, maxLabels: Int) {
      switch spec {
      case .linear(let lower, let upper, let extend, let integer):
        let ticks = Plot.LinearTicks(
          lower: lower, upper: upper, targetCount: targetCount,
          extendToNiceBounds: extend, integerStep: integer)
        self.lower = ticks.lower
        self.upper = ticks.upper
        self.isLog = false
        self.ticks = ticks.ticks
      case .log(let minimum, let maximum):
        let ticks = Plot.LogTicks(minimum: minimum, maximum: maximum, maxLabels: maxLabels)
        self.lower = Double(ticks.lowerExponent)
        self.upper = Double(ticks.upperExponent)
        self.isLog = true
        self.ticks = ticks.ticks
      }
    }

    /// Maps a data value to the unit interval (0 at `lower`, 1 at `upper`); NaN when the
    /// value cannot be shown (non-finite, or non-positive on a log axis).
    func fraction(_ value: Double) -> Double {
      guard value.isFinite else { return .nan }
      let position: Double
      if isLog {
        guard value > 0 else { return .nan }
        position = log10(value)
      } else {
        position = value
      }
      let span = upper - lower
      guard span > 0, span.isFinite else { return 0.5 }
      let result = (position - lower) / span
      return result.isFinite ? result : .nan
    }

    var labeledTicks: [Plot.Tick] { ticks.filter { $0.label != nil } }
  }

  /// One legend row.
  struct LegendEntry {
    enum Swatch {
      /// A short line in the given color, optionally dashed.
      case line(color: String, width: Double, dash: [Double]? = nil)
      /// A translucent band.
      case band(color: String, opacity: Double)
      /// A pale region with a point on top (classification).
      case region(fill: String, point: String)
    }

    let label: String
    let swatch: Swatch
  }

  /// The frame of a 2-D plot: margins, title, axes, grid and legend around a clipped
  /// drawing area. Callers draw data with `drawData` using `x(_:)` and `y(_:)`.
  struct PlotCanvas {
    static let tickFont = 11.0
    static let labelFont = 13.0
    static let titleFont = 16.0
    static let legendFont = 12.0

    var svg: SVGDocument
    let left: Double
    let right: Double
    let top: Double
    let bottom: Double
    let xAxis: ResolvedAxis
    let yAxis: ResolvedAxis
    let clipID: String
    private let legend: [LegendEntry]
    private let legendOverflow: Int
    private let title: String
    private let subtitle: String?
    private let xLabel: String
    private let yLabel: String

    init(
      width: Double, height: Double,
      title: String, subtitle: String? = nil,
      xLabel: String, yLabel: String,
      x xSpec: AxisSpec, y ySpec: AxisSpec,
      legend: [LegendEntry]
    ) {
      let width = width.isFinite ? Swift.min(Swift.max(width, 200), 20000) : 800
      let height = height.isFinite ? Swift.min(Swift.max(height, 150), 20000) : 480
      svg = SVGDocument(width: width, height: height, title: title.isEmpty ? nil : title)
      self.title = title
      self.subtitle = subtitle
      self.xLabel = xLabel
      self.yLabel = yLabel

      // Vertical layout first: it fixes the y ticks, whose labels set the left margin.
      var top = 14.0
      if !title.isEmpty { top += 24 }
      if subtitle != nil { top += 16 }
      if !title.isEmpty || subtitle != nil { top += 6 }
      let bottom = height - (xLabel.isEmpty ? 30 : 50)
      let plotHeight = Swift.max(40, bottom - top)
      let yTarget = Swift.max(2, Int(plotHeight / 55))
      yAxis = ResolvedAxis(
        ySpec, targetCount: yTarget, maxLabels: Swift.max(2, Int(plotHeight / 28)))
      let yLabelWidth =
        yAxis.labeledTicks
        .map { Plot.textWidth($0.label ?? "", fontSize: Self.tickFont) }.max() ?? 0

      let left = 12 + (yLabel.isEmpty ? 0 : 22) + yLabelWidth + 10
      var right = width - 24
      let rowHeight = 20.0
      let maxRows = Swift.max(1, Int((plotHeight - 10) / rowHeight))
      var entries = legend
      var overflow = 0
      if entries.count > maxRows {
        overflow = entries.count - (maxRows - 1)
        entries = Array(entries.prefix(maxRows - 1))
      }
      if !legend.isEmpty {
        let maxLabel = Swift.min(170, Swift.max(60, width * 0.22))
        let longest =
          entries
          .map { Plot.textWidth($0.label, fontSize: Self.legendFont) }.max() ?? 0
        let legendWidth = 30 + Swift.min(maxLabel, Swift.max(longest, overflow > 0 ? 80 : 0))
        right = width - 16 - legendWidth - 12
      }
      right = Swift.max(right, left + 60)

      // Horizontal ticks: fewer until the labels no longer collide.
      let plotWidth = right - left
      var xTarget = Swift.max(2, Int(plotWidth / 80))
      var xAxis = ResolvedAxis(
        xSpec, targetCount: xTarget, maxLabels: Swift.max(2, Int(plotWidth / 60)))
      while xTarget > 1 {
        let labeled = xAxis.labeledTicks
        let widest =
          labeled.map { Plot.textWidth($0.label ?? "", fontSize: Self.tickFont) }.max() ?? 0
        let fractions = labeled.map { xAxis.fraction($0.value) }
        let gaps = zip(fractions.dropFirst(), fractions).map { ($0 - $1) * plotWidth }
        if (gaps.min() ?? .infinity) >= widest + 12 { break }
        xTarget -= 1
        xAxis = ResolvedAxis(xSpec, targetCount: xTarget, maxLabels: Swift.max(2, xTarget))
      }
      self.xAxis = xAxis

      self.left = left
      self.right = right
      self.top = top
      self.bottom = bottom
      self.legend = entries
      self.legendOverflow = overflow
      clipID = svg.defineClipRect(
        id: "plot-area", x: left, y: top, width: right - left, height: bottom - top)
    }

    /// Horizontal pixel position of a data x value (NaN when not showable).
    func x(_ value: Double) -> Double {
      let f = xAxis.fraction(value)
      return f.isFinite ? left + f * (right - left) : .nan
    }

    /// Vertical pixel position of a data y value (NaN when not showable).
    func y(_ value: Double) -> Double {
      let f = yAxis.fraction(value)
      return f.isFinite ? bottom - f * (bottom - top) : .nan
    }

    /// Draws title, grid lines and legend; call before the data.
    mutating func drawBackground() {
      let width = svg.width
      if !title.isEmpty {
        let center = (left + right) / 2
        let text = Plot.truncate(title, maxWidth: width - 20, fontSize: Self.titleFont)
        let half = Plot.textWidth(text, fontSize: Self.titleFont) / 2
        let x = Swift.min(Swift.max(center, 10 + half), width - 10 - half)
        svg.text(text, x: x, y: 26, fontSize: Self.titleFont, anchor: .middle, bold: true)
      }
      if let subtitle {
        let y = title.isEmpty ? 24.0 : 44.0
        let text = Plot.truncate(subtitle, maxWidth: width - 20, fontSize: 11)
        let half = Plot.textWidth(text, fontSize: 11) / 2
        let x = Swift.min(Swift.max((left + right) / 2, 10 + half), width - 10 - half)
        svg.text(text, x: x, y: y, fontSize: 11, anchor: .middle, fill: "#666666")
      }
      // Grid lines.
      let (left, right, top, bottom) = (self.left, self.right, self.top, self.bottom)
      let yLines = yAxis.ticks.map { (position: y($0.value), major: $0.isMajor) }
      let xLines = xAxis.ticks.map { (position: x($0.value), major: $0.isMajor) }
      svg.group { g in
        for line in yLines {
          let py = line.position
          guard py.isFinite, py >= top - 0.5, py <= bottom + 0.5 else { continue }
          let color = line.major ? "#dddddd" : "#f0f0f0"
          g.line(x1: left, y1: py, x2: right, y2: py, style: .init(stroke: color, strokeWidth: 1))
        }
        for line in xLines {
          let px = line.position
          guard px.isFinite, px >= left - 0.5, px <= right + 0.5 else { continue }
          let color = line.major ? "#dddddd" : "#f0f0f0"
          g.line(x1: px, y1: top, x2: px, y2: bottom, style: .init(stroke: color, strokeWidth: 1))
        }
      }
    }

    /// Draws data inside the plot area, clipped to it.
    mutating func drawData(_ content: (inout SVGDocument) -> Void) {
      svg.group(clipPathID: clipID, content: content)
    }

    /// Draws a centered gray message in the plot area, e.g. for missing data.
    mutating func drawMessage(_ message: String) {
      let boxWidth = Plot.textWidth(message, fontSize: 14) + 20
      svg.rect(
        x: (left + right - boxWidth) / 2, y: (top + bottom) / 2 - 12, width: boxWidth, height: 24,
        cornerRadius: 4, style: .init(fill: "white", fillOpacity: 0.9))
      svg.text(
        message, x: (left + right) / 2, y: (top + bottom) / 2 + 5,
        fontSize: 14, anchor: .middle, fill: "#888888")
    }

    /// Draws the frame, tick marks, tick labels, axis labels and legend; call last.
    mutating func drawAxes() {
      let (left, right, top, bottom) = (self.left, self.right, self.top, self.bottom)
      svg.rect(
        x: left, y: top, width: right - left, height: bottom - top,
        style: .init(fill: "none", stroke: "#555555", strokeWidth: 1))
      let tickStyle = SVGDocument.Style(stroke: "#555555", strokeWidth: 1)
      for tick in xAxis.ticks {
        let px = x(tick.value)
        guard px.isFinite, px >= left - 0.5, px <= right + 0.5 else { continue }
        let length = tick.label == nil ? 3.0 : 5.0
        svg.line(x1: px, y1: bottom, x2: px, y2: bottom + length, style: tickStyle)
        if let label = tick.label {
          svg.text(
            label, x: px, y: bottom + 18, fontSize: Self.tickFont, anchor: .middle, fill: "#333333")
        }
      }
      for tick in yAxis.ticks {
        let py = y(tick.value)
        guard py.isFinite, py >= top - 0.5, py <= bottom + 0.5 else { continue }
        let length = tick.label == nil ? 3.0 : 5.0
        svg.line(x1: left - length, y1: py, x2: left, y2: py, style: tickStyle)
        if let label = tick.label {
          svg.text(
            label, x: left - 8, y: py + 4, fontSize: Self.tickFont, anchor: .end, fill: "#333333")
        }
      }
      if !xLabel.isEmpty {
        let text = Plot.truncate(xLabel, maxWidth: right - left, fontSize: Self.labelFont)
        svg.text(
          text, x: (left + right) / 2, y: bottom + 38, fontSize: Self.labelFont, anchor: .middle)
      }
      if !yLabel.isEmpty {
        let text = Plot.truncate(yLabel, maxWidth: bottom - top, fontSize: Self.labelFont)
        let cy = (top + bottom) / 2
        svg.text(text, x: 22, y: cy, fontSize: Self.labelFont, anchor: .middle, rotation: -90)
      }
      drawLegend()
    }

    private mutating func drawLegend() {
      guard !legend.isEmpty else { return }
      let x0 = right + 16
      let maxLabel = svg.width - x0 - 34
      var y = top + 6
      for entry in legend {
        let cy = y + 7
        switch entry.swatch {
        case .line(let color, let width, let dash):
          svg.line(
            x1: x0, y1: cy, x2: x0 + 22, y2: cy,
            style: .init(
              stroke: color, strokeWidth: Swift.max(2, width), dashArray: dash,
              lineCap: dash == nil ? "round" : "butt"))
        case .band(let color, let opacity):
          svg.rect(
            x: x0, y: cy - 6, width: 22, height: 12,
            style: .init(
              fill: color, stroke: color, fillOpacity: opacity, strokeOpacity: 0.6,
              dashArray: [3, 2]))
        case .region(let fill, let point):
          svg.rect(
            x: x0, y: cy - 7, width: 22, height: 14,
            style: .init(fill: fill, stroke: "#bbbbbb", strokeWidth: 0.5))
          svg.circle(
            cx: x0 + 11, cy: cy, r: 4,
            style: .init(fill: point, stroke: "#1a1a1a", strokeWidth: 0.9))
        }
        let label = Plot.truncate(entry.label, maxWidth: maxLabel, fontSize: Self.legendFont)
        svg.text(label, x: x0 + 30, y: cy + 4, fontSize: Self.legendFont)
        y += 20
      }
      if legendOverflow > 0 {
        svg.text(
          "… \(legendOverflow) more", x: x0 + 30, y: y + 11, fontSize: Self.legendFont,
          fill: "#666666")
      }
    }

    /// Renders the finished document.
    func render() -> String { svg.render() }
  }
}
