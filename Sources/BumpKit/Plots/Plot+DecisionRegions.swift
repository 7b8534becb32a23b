import Foundation

extension Plot {
  /// Draws the decision regions of a two-dimensional classifier from a grid of
  /// predictions, with labeled data points on top.
  ///
  /// `grid.xs` and `grid.ys` are the centers of the grid cells along each axis (in
  /// increasing order), and `grid.classOf[j][i]` is the class predicted at
  /// `(xs[i], ys[j])` — one row per y value. Each cell extends halfway to its
  /// neighbors; runs of equal classes along a row are merged into one `<rect>`, filled
  /// with a pale tint of the class color. Cells missing from a short row are left blank,
  /// and so are cells with a non-finite center and the cells beside them (whose extent
  /// is then unknown).
  ///
  /// Data points are drawn as `<circle>` elements in the full class color with a dark
  /// outline; points with a non-finite coordinate are skipped. Class `k` always uses
  /// palette color `k` (cycling after ten), so colors agree between plots. A legend lists
  /// every class seen in the grid or the points, named by `classNames` or `class k`.
  ///
  /// - Parameters:
  ///   - grid: Cell centers along x and y, and the predicted class per cell.
  ///   - points: Data points with their true class labels.
  ///   - title: The plot title.
  ///   - xLabel: The x-axis label.
  ///   - yLabel: The y-axis label.
  ///   - classNames: Optional display names for classes.
  ///   - width: Image width in pixels.
  ///   - height: Image height in pixels.
  /// - Returns: A standalone SVG document.
  public static func decisionRegions(
    grid: (xs: [Double], ys: [Double], classOf: [[Int]]),
    points: [(x: Double, y: Double, label: Int)] = [],
    title: String,
    xLabel: String = "x₁",
    yLabel: String = "x₂",
    classNames: [Int: String] = [:],
    width: Double = 680,
    height: Double = 560
  ) -> String {
    let drawnPoints = points.filter { isPlottable($0.x) && isPlottable($0.y) }

    // Domain: the grid's cell extent together with all points.
    let xEdges = cellEdges(grid.xs)
    let yEdges = cellEdges(grid.ys)
    var xValues = xEdges.compactMap { $0 }
    var yValues = yEdges.compactMap { $0 }
    xValues += drawnPoints.map(\.x)
    yValues += drawnPoints.map(\.y)
    let xBounds = (xValues.min() ?? 0, xValues.max() ?? 1)
    let yBounds = (yValues.min() ?? 0, yValues.max() ?? 1)

    var classes = Set(drawnPoints.map(\.label))
    for (j, row) in grid.classOf.enumerated() where j < grid.ys.count {
      for (i, value) in row.enumerated() where i < grid.xs.count { classes.insert(value) }
    }
    let sortedClasses = classes.sorted()
    let legend = sortedClasses.map { label in
      LegendEntry(
        label: classNames[label] ?? "class \(label)",
        swatch: .region(fill: regionColor(label), point: color(at: label)))
    }

    var canvas = PlotCanvas(
      width: width, height: height, title: title, xLabel: xLabel, yLabel: yLabel,
      x: .linear(lower: xBounds.0, upper: xBounds.1, extend: false, integer: false),
      y: .linear(lower: yBounds.0, upper: yBounds.1, extend: false, integer: false),
      legend: legend)
    // With a single column or row the cell spans the whole (possibly widened) domain.
    let xPixelEdges = pixelEdges(
      xEdges, count: grid.xs.count, low: canvas.left, high: canvas.right, map: canvas.x)
    let yPixelEdges = pixelEdges(
      yEdges, count: grid.ys.count, low: canvas.bottom, high: canvas.top, map: canvas.y)

    canvas.drawBackground()
    let frame = canvas
    canvas.drawData { svg in
      // Regions, as horizontal runs of equal class; each rect overlaps its neighbors by
      // half a pixel so that anti-aliasing leaves no seams.
      for (j, row) in grid.classOf.enumerated() where j < grid.ys.count {
        guard let y0 = yPixelEdges[j], let y1 = yPixelEdges[j + 1] else { continue }
        var i = 0
        let columns = Swift.min(row.count, grid.xs.count)
        while i < columns {
          guard xPixelEdges[i] != nil, xPixelEdges[i + 1] != nil else {
            i += 1
            continue
          }
          var end = i
          while end + 1 < columns, row[end + 1] == row[i], xPixelEdges[end + 2] != nil { end += 1 }
          if let xa = xPixelEdges[i], let xb = xPixelEdges[end + 1] {
            let left = Swift.min(xa, xb) - 0.5
            let top = Swift.min(y0, y1) - 0.5
            svg.rect(
              x: left, y: top, width: abs(xb - xa) + 1, height: abs(y1 - y0) + 1,
              style: .init(fill: regionColor(row[i])))
          }
          i = end + 1
        }
      }
    }
    if grid.classOf.isEmpty && drawnPoints.isEmpty {
      canvas.drawMessage("No data")
    }
    canvas.drawAxes()
    // Points last and unclipped, so that points on the edge of the domain stay whole.
    let radius = drawnPoints.count > 1000 ? 2.5 : drawnPoints.count > 200 ? 3.2 : 4.2
    for point in drawnPoints {
      canvas.svg.circle(
        cx: frame.x(point.x), cy: frame.y(point.y), r: radius,
        style: .init(fill: color(at: point.label), stroke: "#1a1a1a", strokeWidth: 0.9))
    }
    return canvas.render()
  }

  /// Draws the decision regions of a two-dimensional classifier by evaluating it on a
  /// regular grid, with labeled data points on top.
  ///
  /// The rectangle `xRange × yRange` is divided into `resolution × resolution` cells and
  /// `classOf` is called once at each cell center; the result is drawn as by
  /// ``decisionRegions(grid:points:title:xLabel:yLabel:classNames:width:height:)``.
  /// Infinite range bounds fall back to the extent of the points (or `0...1`).
  ///
  /// ```swift
  /// let svg = Plot.decisionRegions(
  ///   xRange: -3...3, yRange: -3...3, resolution: 120,
  ///   points: samples, title: "Two moons"
  /// ) { x, y in model.predictClass(x, y) }
  /// ```
  ///
  /// - Parameters:
  ///   - xRange: The x extent of the region grid.
  ///   - yRange: The y extent of the region grid.
  ///   - resolution: Cells per axis, clamped to `1...1000`.
  ///   - points: Data points with their true class labels.
  ///   - title: The plot title.
  ///   - xLabel: The x-axis label.
  ///   - yLabel: The y-axis label.
  ///   - classNames: Optional display names for classes.
  ///   - width: Image width in pixels.
  ///   - height: Image height in pixels.
  ///   - classOf: The classifier: returns the predicted class at `(x, y)`.
  /// - Returns: A standalone SVG document.
  public static func decisionRegions(
    xRange: ClosedRange<Double>,
    yRange: ClosedRange<Double>,
    resolution: Int = 100,
    points: [(x: Double, y: Double, label: Int)] = [],
    title: String,
    xLabel: String = "x₁",
    yLabel: String = "x₂",
    classNames: [Int: String] = [:],
    width: Double = 680,
    height: Double = 560,
    classOf: (Double, Double) throws -> Int
  ) rethrows -> String {
    let n = Swift.min(Swift.max(resolution, 1), 1000)
    let finitePoints = points.filter { $0.x.isFinite && $0.y.isFinite }
    func centers(_ range: ClosedRange<Double>, _ fallback: [Double]) -> [Double] {
      var lo = range.lowerBound
      var hi = range.upperBound
      if !(lo.isFinite && hi.isFinite && hi - lo <= 1e300) {
        lo = fallback.min() ?? 0
        hi = fallback.max() ?? 1
      }
      if hi == lo { return [lo] }
      let step = (hi - lo) / Double(n)
      return (0..<n).map { lo + (Double($0) + 0.5) * step }
    }
    let xs = centers(xRange, finitePoints.map(\.x))
    let ys = centers(yRange, finitePoints.map(\.y))
    var classes: [[Int]] = []
    classes.reserveCapacity(ys.count)
    for y in ys {
      var row: [Int] = []
      row.reserveCapacity(xs.count)
      for x in xs { row.append(try classOf(x, y)) }
      classes.append(row)
    }
    return decisionRegions(
      grid: (xs: xs, ys: ys, classOf: classes), points: points, title: title,
      xLabel: xLabel, yLabel: yLabel, classNames: classNames, width: width, height: height)
  }

  /// The pale region fill for a class.
  static func regionColor(_ label: Int) -> String {
    tint(color(at: label), towardWhite: 0.68)
  }

  /// Cell boundaries for cell centers: midpoints between neighbors, and half a spacing
  /// beyond the ends. Entry `i` is the left edge of cell `i`, entry `count` the right edge
  /// of the last; `nil` where a neighboring center is not finite. A single center gets
  /// no edges (`[nil, nil]`): its cell spans the plot.
  static func cellEdges(_ centers: [Double]) -> [Double?] {
    let n = centers.count
    guard n >= 2 else {
      return n == 1 && centers[0].isFinite
        ? [centers[0], centers[0]] : Array(repeating: nil, count: n + 1)
    }
    var edges: [Double?] = Array(repeating: nil, count: n + 1)
    for i in 1..<n where isPlottable(centers[i - 1]) && isPlottable(centers[i]) {
      edges[i] = (centers[i - 1] + centers[i]) / 2
    }
    if isPlottable(centers[0]), let e1 = edges[1] { edges[0] = centers[0] - (e1 - centers[0]) }
    if isPlottable(centers[n - 1]), let en = edges[n - 1] {
      edges[n] = centers[n - 1] + (centers[n - 1] - en)
    }
    for (i, edge) in edges.enumerated() where edge.map({ !isPlottable($0) }) ?? false { edges[i] = nil }
    return edges
  }

  /// Maps cell edges to pixels; a single cell spans `low...high`.
  static func pixelEdges(
    _ edges: [Double?], count: Int, low: Double, high: Double, map: (Double) -> Double
  ) -> [Double?] {
    if count == 1 { return edges[0] == nil ? [nil, nil] : [low, high] }
    return edges.map { edge in
      guard let edge else { return nil }
      let pixel = map(edge)
      return pixel.isFinite ? pixel : nil
    }
  }
}
