import Foundation

extension Plot {
  /// Draws the supports of a two-dimensional ``RadialBump`` layer as circles (centre cⱼ,
  /// radius √σⱼ) over the data, optionally on top of a shaded grid of model values (a
  /// regression surface, say).
  ///
  /// Circles are drawn in data coordinates, so they look round only when both axes have the
  /// same scale; they cycle through ``palette`` by unit, and dead units (`dead`) are dashed.
  /// The grid's `values[j][i]` is the value at `(xs[i], ys[j])`, shaded from white (lowest)
  /// to blue (highest); data points are small dark dots. Non-finite centres, radii, grid
  /// values and points are left out.
  ///
  /// - Parameters:
  ///   - centers: cⱼ, one `(x, y)` per unit.
  ///   - radii: √σⱼ, one per unit (extra entries of either array are ignored).
  ///   - dead: indices of units to draw dashed (e.g. ``RadialBump/deadUnits``).
  ///   - grid: cell centres along each axis and the shaded values; `nil` for none.
  ///   - points: data points.
  ///   - title: the plot title.
  ///   - xLabel: the x-axis label.
  ///   - yLabel: the y-axis label.
  ///   - width: image width in pixels.
  ///   - height: image height in pixels.
  /// - Returns: A standalone SVG document.
  public static func radialSupports(
    centers: [(x: Double, y: Double)],
    radii: [Double],
    dead: Set<Int> = [],
    grid: (xs: [Double], ys: [Double], values: [[Double]])? = nil,
    points: [(x: Double, y: Double)] = [],
    title: String,
    xLabel: String = "x₁",
    yLabel: String = "x₂",
    width: Double = 640,
    height: Double = 600
  ) -> String {
    let units = Swift.min(centers.count, radii.count)
    let circles = (0..<units).filter { isPlottable(centers[$0].x) && isPlottable(centers[$0].y) && isPlottable(radii[$0]) && radii[$0] >= 0 }
    let drawnPoints = points.filter { isPlottable($0.x) && isPlottable($0.y) }
    var xs = drawnPoints.map(\.x), ys = drawnPoints.map(\.y)
    for j in circles {
      xs += [centers[j].x - radii[j], centers[j].x + radii[j]]
      ys += [centers[j].y - radii[j], centers[j].y + radii[j]]
    }
    var xEdges: [Double?] = [], yEdges: [Double?] = []
    if let grid {
      xEdges = cellEdges(grid.xs)
      yEdges = cellEdges(grid.ys)
      xs += xEdges.compactMap { $0 }
      ys += yEdges.compactMap { $0 }
    }
    let legend = [
      LegendEntry(label: "support ‖x − cⱼ‖ < √σⱼ", swatch: .line(color: color(at: 0), width: 1.6)),
      LegendEntry(label: "dead unit", swatch: .line(color: "#7f7f7f", width: 1.2, dash: [4, 3])),
    ]
    var canvas = PlotCanvas(
      width: width, height: height, title: title, xLabel: xLabel, yLabel: yLabel,
      x: .linear(lower: xs.min() ?? 0, upper: xs.max() ?? 1, extend: false, integer: false),
      y: .linear(lower: ys.min() ?? 0, upper: ys.max() ?? 1, extend: false, integer: false),
      legend: legend)
    canvas.drawBackground()
    let frame = canvas
    canvas.drawData { svg in
      if let grid {
        let finite = grid.values.flatMap { $0 }.filter(isPlottable)
        let lo = finite.min() ?? 0, hi = finite.max() ?? 1
        let xp = pixelEdges(xEdges, count: grid.xs.count, low: frame.left, high: frame.right, map: frame.x)
        let yp = pixelEdges(yEdges, count: grid.ys.count, low: frame.bottom, high: frame.top, map: frame.y)
        // Nine shades keep the eye on the circles, and runs of one shade along a row are one
        // rectangle, which keeps the file small.
        func shade(_ v: Double) -> Int? { isPlottable(v) ? Int(((hi > lo ? (v - lo) / (hi - lo) : 0.5) * 8).rounded()) : nil }
        for (j, row) in grid.values.enumerated() where j < grid.ys.count {
          guard let y0 = yp[j], let y1 = yp[j + 1] else { continue }
          let columns = Swift.min(row.count, grid.xs.count)
          var i = 0
          while i < columns {
            guard let level = shade(row[i]), xp[i] != nil, xp[i + 1] != nil else {
              i += 1
              continue
            }
            var end = i
            while end + 1 < columns, shade(row[end + 1]) == level, xp[end + 2] != nil { end += 1 }
            if let xa = xp[i], let xb = xp[end + 1] {
              svg.rect(
                x: Swift.min(xa, xb) - 0.5, y: Swift.min(y0, y1) - 0.5, width: abs(xb - xa) + 1, height: abs(y1 - y0) + 1,
                style: .init(fill: tint("#1f77b4", towardWhite: 1 - 0.1 * Double(level))))
            }
            i = end + 1
          }
        }
      }
      for p in drawnPoints {
        svg.circle(cx: frame.x(p.x), cy: frame.y(p.y), r: 1.6, style: .init(fill: "#1a1a1a", opacity: 0.55))
      }
      for j in circles {
        let ring = (0...72).map { k -> (x: Double, y: Double) in
          let a = Double(k) / 72 * 2 * Double.pi
          return (frame.x(centers[j].x + radii[j] * Foundation.cos(a)), frame.y(centers[j].y + radii[j] * Foundation.sin(a)))
        }
        let isDead = dead.contains(j)
        svg.path(
          through: ring,
          style: .init(
            fill: "none", stroke: isDead ? "#7f7f7f" : color(at: j), strokeWidth: isDead ? 1.2 : 1.6,
            dashArray: isDead ? [4, 3] : nil))
        svg.circle(cx: frame.x(centers[j].x), cy: frame.y(centers[j].y), r: 2.4, style: .init(fill: isDead ? "#7f7f7f" : color(at: j)))
      }
    }
    if circles.isEmpty && drawnPoints.isEmpty { canvas.drawMessage("No data") }
    canvas.drawAxes()
    return canvas.render()
  }
}
