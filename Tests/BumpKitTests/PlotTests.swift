import BumpKit
import Foundation
import Testing

#if canImport(FoundationXML)
  import FoundationXML
#endif

// MARK: - Parsing support

/// One parsed SVG element: its name, attributes and direct text content.
private struct ParsedElement {
  let name: String
  let attributes: [String: String]
  var text: String
}

/// Parses an SVG document with Foundation's `XMLParser`, recording every element.
private final class SVGCollector: NSObject, XMLParserDelegate {
  var elements: [ParsedElement] = []
  var stack: [Int] = []
  var error: Error?

  func parser(
    _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
    qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
  ) {
    elements.append(ParsedElement(name: elementName, attributes: attributeDict, text: ""))
    stack.append(elements.count - 1)
  }

  func parser(
    _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?,
    qualifiedName qName: String?
  ) {
    stack.removeLast()
  }

  func parser(_ parser: XMLParser, foundCharacters string: String) {
    if let top = stack.last { elements[top].text += string }
  }

  func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) {
    error = parseError
  }
}

/// The parsed form of a rendered plot, with helpers for the checks below.
private struct ParsedSVG {
  let source: String
  let elements: [ParsedElement]

  func all(_ name: String) -> [ParsedElement] { elements.filter { $0.name == name } }

  /// The contents of every `<text>` element, in order.
  var texts: [String] { all("text").map(\.text) }

  /// Every numeric value in coordinate-like attributes and path data.
  var numbers: [String] {
    let keys = [
      "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "width", "height", "stroke-width",
    ]
    var out: [String] = []
    for element in elements {
      for key in keys { if let value = element.attributes[key] { out.append(value) } }
      if let d = element.attributes["d"] {
        out += d.split(whereSeparator: { $0 == " " || $0 == "M" || $0 == "L" }).map(String.init)
      }
      if let box = element.attributes["viewBox"] {
        out += box.split(separator: " ").map(String.init)
      }
    }
    return out
  }
}

/// Parses `svg`, failing the test if it is not well-formed XML.
private func parse(_ svg: String, sourceLocation: SourceLocation = #_sourceLocation) throws
  -> ParsedSVG
{
  let parser = XMLParser(data: Data(svg.utf8))
  let collector = SVGCollector()
  parser.delegate = collector
  let ok = parser.parse()
  #expect(
    ok, "not well-formed XML: \(String(describing: collector.error ?? parser.parserError))",
    sourceLocation: sourceLocation)
  #expect(collector.error == nil, sourceLocation: sourceLocation)
  return ParsedSVG(source: svg, elements: collector.elements)
}

/// Parses `svg` and checks what every plot must satisfy: an `<svg>` root with the SVG
/// namespace, a viewBox, a sans-serif font, and only finite plain-decimal coordinates.
///
/// When the environment variable `PLOT_TEST_OUTPUT` names a directory, the document is
/// also written there (as `PlotTests-line<N>-<k>.svg`) for a visual check in a browser.
private func check(_ svg: String, sourceLocation: SourceLocation = #_sourceLocation) throws
  -> ParsedSVG
{
  if let directory = ProcessInfo.processInfo.environment["PLOT_TEST_OUTPUT"], !directory.isEmpty {
    let stem = "\(directory)/PlotTests-line\(sourceLocation.line)"
    var k = 0
    while FileManager.default.fileExists(atPath: "\(stem)-\(k).svg") { k += 1 }
    try svg.write(toFile: "\(stem)-\(k).svg", atomically: true, encoding: .utf8)
  }
  let parsed = try parse(svg, sourceLocation: sourceLocation)
  let root = try #require(parsed.elements.first, sourceLocation: sourceLocation)
  #expect(root.name == "svg", sourceLocation: sourceLocation)
  #expect(root.attributes["xmlns"] == "http://www.w3.org/2000/svg", sourceLocation: sourceLocation)
  #expect(root.attributes["version"] == "1.1", sourceLocation: sourceLocation)
  #expect(root.attributes["viewBox"] != nil, sourceLocation: sourceLocation)
  #expect(
    root.attributes["width"] != nil && root.attributes["height"] != nil,
    sourceLocation: sourceLocation)
  #expect(root.attributes["font-family"] == "sans-serif", sourceLocation: sourceLocation)
  let lowered = svg.lowercased()
  #expect(!lowered.contains("nan"), sourceLocation: sourceLocation)
  #expect(!lowered.contains("inf"), sourceLocation: sourceLocation)
  for number in parsed.numbers {
    let value = Double(number)
    #expect(value != nil && value!.isFinite, "bad number \(number)", sourceLocation: sourceLocation)
    #expect(!number.contains("e"), "exponent in \(number)", sourceLocation: sourceLocation)
  }
  return parsed
}

/// `<path>` elements that draw data (those with a hover title are series or curves).
private func dataPaths(_ parsed: ParsedSVG) -> [ParsedElement] {
  parsed.all("path")
}

/// All plot tests, grouped so that `swift test --filter PlotTests` selects them.
@Suite("PlotTests")
struct PlotTests {}

// MARK: - SVGDocument

extension PlotTests {
  @Suite("SVGDocument")
  struct SVGDocumentTests {
    @Test func escapesMarkupCharacters() {
      #expect(
        SVGDocument.escape("a & b < c > d \"e\" 'f'")
          == "a &amp; b &lt; c &gt; d &quot;e&quot; &#39;f&#39;")
      #expect(SVGDocument.escape("bell\u{07}tab\t") == "belltab\t")
      #expect(SVGDocument.escape("σ → √σ") == "σ → √σ")
    }

    @Test func rendersStandaloneDocument() throws {
      var svg = SVGDocument(width: 320, height: 200, title: "T & <t>")
      svg.rect(x: 10, y: 10, width: -5, height: 20, style: .init(fill: "#1f77b4"), tooltip: "r < 1")
      svg.line(x1: 0, y1: 0, x2: .nan, y2: .infinity)
      svg.circle(cx: 5, cy: 5, r: -1, style: .init(fill: "red", stroke: "black", strokeWidth: 1))
      svg.text("A & \"B\" <C>", x: 1, y: 2, anchor: .middle, rotation: -90)
      svg.group(opacity: 0.5) { g in g.text("inner", x: 3, y: 4) }
      let text = svg.render()
      #expect(text.hasPrefix("<?xml version=\"1.0\""))
      #expect(text.contains("viewBox=\"0 0 320 200\""))
      #expect(svg.elementCount == 5)
      let parsed = try check(text)
      #expect(parsed.texts.contains("A & \"B\" <C>"))
      #expect(parsed.texts.contains("inner"))
      #expect(parsed.all("title").map(\.text).contains("T & <t>"))
      #expect(parsed.all("title").map(\.text).contains("r < 1"))
      let rect = try #require(parsed.all("rect").first { $0.attributes["fill"] == "#1f77b4" })
      #expect(rect.attributes["x"] == "5")
      #expect(rect.attributes["width"] == "5")
      #expect(parsed.all("line").first?.attributes["x2"] == "0")
      #expect(text.description == svg.description)
    }

    @Test func pathBreaksAtNonFinitePoints() throws {
      var svg = SVGDocument(width: 100, height: 100)
      svg.path(through: [(0, 0), (1, 1), (.nan, 2), (3, 3), (4, .infinity), (5, 5), (6, 6)])
      svg.path(through: [(.nan, .nan)])
      svg.path(through: [])
      let parsed = try check(svg.render())
      let paths = parsed.all("path")
      #expect(paths.count == 3)
      #expect(paths[0].attributes["d"] == "M0 0 L1 1 M3 3 M5 5 L6 6")
      #expect(paths[0].attributes["fill"] == "none")
      #expect(paths[1].attributes["d"] == "")
    }

    @Test func pathCollapsesStraightRuns() throws {
      var svg = SVGDocument(width: 100, height: 100)
      svg.path(through: [(0, 5), (1, 5), (2, 5), (3, 5), (4, 7), (4, 8), (4, 9)])
      svg.path(through: [(0, 5), (10, 5), (5, 5)])
      let paths = try check(svg.render()).all("path")
      #expect(paths[0].attributes["d"] == "M0 5 L3 5 L4 7 L4 9")
      // A run that turns back is kept whole.
      #expect(paths[1].attributes["d"] == "M0 5 L10 5 L5 5")
    }

    @Test func numbersArePlainAndClamped() throws {
      var svg = SVGDocument(width: .nan, height: -3)
      svg.circle(cx: 1e300, cy: -1e300, r: 0.123456)
      svg.circle(cx: -0.001, cy: 2.5, r: 1.05)
      let text = svg.render()
      #expect(text.contains("cx=\"1000000\" cy=\"-1000000\" r=\"0.12\""))
      #expect(text.contains("cx=\"0\" cy=\"2.5\" r=\"1.05\""))
      _ = try check(text)
    }

    @Test func clipPathIdentifiersAreSanitized() throws {
      var svg = SVGDocument(width: 10, height: 10)
      let id = svg.defineClipRect(id: "9 \"bad\" id", x: 0, y: 0, width: 5, height: 5)
      svg.group(clipPathID: id, crispEdges: true) { g in g.rect(x: 0, y: 0, width: 10, height: 10) }
      let parsed = try check(svg.render())
      #expect(id == "id-9badid")
      #expect(parsed.all("clipPath").first?.attributes["id"] == id)
      #expect(parsed.all("g").first?.attributes["clip-path"] == "url(#\(id))")
    }
  }
}

// MARK: - Ticks

extension PlotTests {
  @Suite("ticks")
  struct PlotTickTests {
    @Test func linearTicksUseOneTwoFiveSteps() {
      let ticks = Plot.LinearTicks(lower: 0.13, upper: 0.87, targetCount: 5)
      #expect(ticks.lower == 0)
      #expect(ticks.upper == 1)
      #expect(ticks.step == 0.2)
      #expect(ticks.ticks.compactMap(\.label) == ["0", "0.2", "0.4", "0.6", "0.8", "1.0"])

      for (lo, hi) in [(0.0, 7.3), (-3.0, 3.0), (12.0, 980.0), (1e-5, 3e-5), (-0.004, 0.0)] {
        let t = Plot.LinearTicks(lower: lo, upper: hi, targetCount: 6)
        let power = pow(10, log10(t.step).rounded(.down))
        let mantissa = (t.step / power * 1e6).rounded() / 1e6
        #expect([1, 2, 5].contains(mantissa), "step \(t.step)")
        #expect(t.lower <= lo && t.upper >= hi)
        #expect((2...13).contains(t.ticks.count), "\(lo)...\(hi): \(t.values)")
        #expect(
          Set(t.ticks.compactMap(\.label)).count == t.ticks.count, "duplicate labels \(t.ticks)")
      }
    }

    @Test func linearTicksTightDomain() {
      let t = Plot.LinearTicks(lower: -1.5, upper: 2.5, targetCount: 4, extendToNiceBounds: false)
      #expect(t.lower == -1.5 && t.upper == 2.5)
      #expect(t.values == [-1, 0, 1, 2])
      #expect(t.label(for: 0) == "0")
    }

    @Test func linearTicksRepairDegenerateInput() {
      let zero = Plot.LinearTicks(lower: 0, upper: 0)
      #expect(zero.lower < 0 && zero.upper > 0)
      let constant = Plot.LinearTicks(lower: 5, upper: 5)
      #expect(constant.lower < 5 && constant.upper > 5 && constant.ticks.count >= 2)
      let nan = Plot.LinearTicks(lower: .nan, upper: .infinity)
      #expect(nan.lower == 0 && nan.upper == 1)
      let swapped = Plot.LinearTicks(lower: 10, upper: 0)
      #expect(swapped.lower == 0 && swapped.upper == 10)
      let huge = Plot.LinearTicks(
        lower: -Double.greatestFiniteMagnitude, upper: .greatestFiniteMagnitude)
      #expect(huge.values.allSatisfy(\.isFinite) && !huge.values.isEmpty)
    }

    @Test func integerTicksForEpochs() {
      let t = Plot.LinearTicks(lower: 1, upper: 3, targetCount: 10, integerStep: true)
      #expect(t.step == 1)
      #expect(t.ticks.compactMap(\.label) == ["1", "2", "3"])
      let long = Plot.LinearTicks(lower: 1, upper: 100, targetCount: 5, integerStep: true)
      #expect(long.step == 20)
      #expect(long.ticks.compactMap(\.label) == ["0", "20", "40", "60", "80", "100"])
    }

    @Test func linearLabelsAreReadable() {
      let big = Plot.LinearTicks(lower: 0, upper: 3e6, targetCount: 6)
      #expect(big.ticks.compactMap(\.label) == ["0", "5e5", "1e6", "1.5e6", "2e6", "2.5e6", "3e6"])
      let tiny = Plot.LinearTicks(lower: 0, upper: 4e-4, targetCount: 4)
      #expect(tiny.ticks.compactMap(\.label) == ["0", "1e-4", "2e-4", "3e-4", "4e-4"])
      let negative = Plot.LinearTicks(lower: -1, upper: 1, targetCount: 4)
      #expect(negative.ticks.compactMap(\.label) == ["-1.0", "-0.5", "0", "0.5", "1.0"])
    }

    @Test func logTicksPerDecade() {
      let t = Plot.LogTicks(minimum: 3e-4, maximum: 0.8)
      #expect(t.lowerExponent == -4 && t.upperExponent == 0)
      let labels = t.ticks.compactMap(\.label)
      #expect(labels == ["1e-4", "1e-3", "1e-2", "1e-1", "1"])
      #expect(t.ticks.filter { !$0.isMajor }.count == 4 * 8)
      #expect(t.lower == 1e-4 && t.upper == 1)
    }

    @Test func logTicksDegenerateAndNarrowRanges() {
      let constant = Plot.LogTicks(minimum: 0.01, maximum: 0.01)
      #expect(constant.lowerExponent == -3 && constant.upperExponent == -1)
      let narrow = Plot.LogTicks(minimum: 0.2, maximum: 0.5)
      #expect(narrow.ticks.compactMap(\.label) == ["1e-1", "2e-1", "5e-1", "1"])
      let invalid = Plot.LogTicks(minimum: -1, maximum: .nan)
      #expect(invalid.lowerExponent < invalid.upperExponent)
      let extreme = Plot.LogTicks(
        minimum: .leastNonzeroMagnitude, maximum: .greatestFiniteMagnitude)
      #expect(extreme.lowerExponent >= -300 && extreme.upperExponent <= 300)
      #expect(extreme.ticks.compactMap(\.label).count <= 8)
    }

    @Test func logTicksThinLabelsOverManyDecades() {
      let t = Plot.LogTicks(minimum: 1e-15, maximum: 1, maxLabels: 8)
      let labels = t.ticks.compactMap(\.label)
      #expect(labels.count <= 8 && labels.count >= 4)
      #expect(labels.contains("1") && labels.contains("1e-3"))
      #expect(!labels.contains("1e-1"))
    }

    @Test func logLabelFormatting() {
      #expect(Plot.LogTicks.label(exponent: -1) == "1e-1")
      #expect(Plot.LogTicks.label(exponent: 0) == "1")
      #expect(Plot.LogTicks.label(exponent: 2) == "100")
      #expect(Plot.LogTicks.label(exponent: 3) == "1e3")
      #expect(Plot.LogTicks.label(mantissa: 5, exponent: -2) == "5e-2")
      #expect(Plot.LogTicks.label(mantissa: 2, exponent: 1) == "20")
    }

    @Test func paletteCycles() {
      #expect(Plot.palette.count == 10)
      #expect(Set(Plot.palette).count == 10)
      #expect(Plot.color(at: 10) == Plot.color(at: 0))
      #expect(Plot.color(at: -1) == Plot.palette[9])
    }
  }
}

// MARK: - Loss curves

extension PlotTests {
  @Suite("loss curves")
  struct LossCurveTests {
    static let train = (0..<50).map { 0.9 * exp(-Double($0) / 8) + 1e-4 }
    static let validation = (0..<50).map { 1.1 * exp(-Double($0) / 9) + 5e-4 }

    @Test func logScaleTrainingAndValidation() throws {
      let svg = Plot.lossCurves(
        series: [("training", Self.train), ("validation", Self.validation)], title: "Loss")
      let parsed = try check(svg)
      #expect(dataPaths(parsed).count == 2)
      #expect(parsed.texts.contains("training"))
      #expect(parsed.texts.contains("validation"))
      #expect(parsed.texts.contains("Loss"))
      #expect(parsed.texts.contains("Epoch"))
      for label in ["1e-3", "1e-2", "1e-1", "1", "10"] {
        #expect(parsed.texts.contains(label), "\(label)")
      }
      #expect(parsed.texts.contains("10") && parsed.texts.contains("50"))
      // Two paths with the first and second palette colors.
      #expect(
        dataPaths(parsed).map { $0.attributes["stroke"] } == [Plot.palette[0], Plot.palette[1]])
    }

    @Test func higherValuesAreDrawnHigher() throws {
      let parsed = try check(Plot.lossCurves(series: [("s", [1, 0.1, 0.01])], title: ""))
      let d = try #require(dataPaths(parsed).first?.attributes["d"])
      let ys = d.split(separator: " ").enumerated().filter { $0.offset % 2 == 1 }.map {
        Double($0.element)!
      }
      #expect(ys.count == 3)
      #expect(ys[0] < ys[1] && ys[1] < ys[2])
      // Equal log steps give equal pixel steps.
      #expect(abs((ys[1] - ys[0]) - (ys[2] - ys[1])) < 0.02)
    }

    @Test func linearScale() throws {
      let parsed = try check(
        Plot.lossCurves(series: [("training", Self.train)], title: "Linear", yLogScale: false))
      #expect(dataPaths(parsed).count == 1)
      #expect(!parsed.texts.contains("1e-2"))
      #expect(parsed.texts.contains("0") && parsed.texts.contains("0.2"))
    }

    @Test func nonFiniteAndNonPositiveValuesLeaveGaps() throws {
      var values = Self.train
      values[5] = .nan
      values[10] = .infinity
      values[15] = 0
      values[20] = -2
      values[25] = -.infinity
      let parsed = try check(Plot.lossCurves(series: [("gappy", values)], title: "Gaps"))
      let d = try #require(dataPaths(parsed).first?.attributes["d"])
      #expect(d.filter { $0 == "M" }.count == 6)
      // Linear scale keeps zero and negative values but still skips non-finite ones.
      let linear = try check(
        Plot.lossCurves(series: [("gappy", values)], title: "Gaps", yLogScale: false))
      let dl = try #require(dataPaths(linear).first?.attributes["d"])
      #expect(dl.filter { $0 == "M" }.count == 4)
    }

    @Test func singleEpochRendersAMarker() throws {
      let parsed = try check(Plot.lossCurves(series: [("train", [0.25])], title: "One"))
      #expect(dataPaths(parsed).count == 1)
      #expect(parsed.all("circle").count == 1)
      #expect(parsed.texts.contains("1"))
    }

    @Test func emptyInputs() throws {
      let none = try check(Plot.lossCurves(series: [], title: "Empty"))
      #expect(none.texts.contains("No data"))
      #expect(dataPaths(none).isEmpty)
      let emptySeries = try check(Plot.lossCurves(series: [("a", []), ("b", [])], title: "Empty"))
      #expect(dataPaths(emptySeries).count == 2)
      let allBad = try check(
        Plot.lossCurves(series: [("a", [.nan, 0, -1, .infinity])], title: "Bad"))
      #expect(allBad.texts.contains("No drawable values"))
    }

    @Test func constantValues() throws {
      let parsed = try check(
        Plot.lossCurves(series: [("c", Array(repeating: 0.01, count: 10))], title: "Const"))
      #expect(parsed.texts.contains("1e-2"))
      let linear = try check(
        Plot.lossCurves(
          series: [("c", Array(repeating: 3, count: 10))], title: "Const", yLogScale: false))
      #expect(dataPaths(linear).count == 1)
    }

    @Test func labelsAreEscaped() throws {
      let name = "train <mse> & \"val\""
      let svg = Plot.lossCurves(
        series: [(name, [0.5, 0.2])], title: "A < B & C > D", xLabel: "epoch & <step>",
        yLabel: "loss \"x\"")
      #expect(!svg.contains("<mse>"))
      let parsed = try check(svg)
      #expect(parsed.texts.contains(name))
      #expect(parsed.texts.contains("A < B & C > D"))
      #expect(parsed.texts.contains("epoch & <step>"))
      #expect(parsed.texts.contains("loss \"x\""))
    }

    @Test func manySeriesAndLongRuns() throws {
      let series = (0..<14).map { k in ("series \(k)", (0..<500).map { 1 / Double($0 + k + 1) }) }
      let parsed = try check(
        Plot.lossCurves(series: series, title: "Many", width: 1000, height: 600))
      #expect(dataPaths(parsed).count == 14)
      // Colors repeat after ten series; the repeats are dashed.
      #expect(dataPaths(parsed)[9].attributes["stroke-dasharray"] == nil)
      #expect(dataPaths(parsed)[10].attributes["stroke-dasharray"] != nil)
      #expect(parsed.all("circle").isEmpty)
    }

    @Test func tinyAndExtremeSizes() throws {
      _ = try check(Plot.lossCurves(series: [("a", [1, 0.5])], title: "t", width: 10, height: 10))
      _ = try check(
        Plot.lossCurves(series: [("a", [1, 0.5])], title: "t", width: .nan, height: .infinity))
      _ = try check(
        Plot.lossCurves(
          series: [("a", [.leastNonzeroMagnitude, 1e300, .greatestFiniteMagnitude])], title: "t"))
    }
  }
}

// MARK: - Function curves

extension PlotTests {
  @Suite("function curves")
  struct FunctionCurveTests {
    static func bump(_ x: Double, c: Double, sigma: Double) -> Double {
      let u = (x - c) * (x - c) / sigma
      return u < 1 ? exp(1 - 1 / (1 - u)) : 0
    }

    static func units(_ count: Int) -> (
      curves: [(label: String, xs: [Double], ys: [Double])],
      supports: [(label: String, lower: Double, upper: Double)]
    ) {
      let xs = (0...200).map { -2 + 4 * Double($0) / 200 }
      var curves: [(label: String, xs: [Double], ys: [Double])] = []
      var supports: [(label: String, lower: Double, upper: Double)] = []
      for k in 0..<count {
        let c = -2 + 4 * Double(k) / Double(Swift.max(count - 1, 1))
        let sigma = 0.1 + 0.02 * Double(k % 5)
        curves.append(("unit \(k)", xs, xs.map { bump($0, c: c, sigma: sigma) }))
        supports.append(("unit \(k)", c - sigma.squareRoot(), c + sigma.squareRoot()))
      }
      return (curves, supports)
    }

    @Test func fewCurvesWithLegendAndDashedSupports() throws {
      let (curves, supports) = Self.units(4)
      let parsed = try check(
        Plot.functionCurves(
          curves: curves, supports: supports, title: "Bumps", xLabel: "x", yLabel: "g(x)"))
      #expect(dataPaths(parsed).count == 4)
      for k in 0..<4 { #expect(parsed.texts.contains("unit \(k)")) }
      #expect(parsed.texts.contains("support"))
      #expect(parsed.texts.contains("g(x)"))
      let bands = parsed.all("rect").filter {
        $0.attributes["fill-opacity"] != nil && $0.attributes["height"] != "12"
      }
      #expect(bands.count == 4)
      let dashed = parsed.all("line").filter { $0.attributes["stroke-dasharray"] != nil }
      #expect(dashed.count == 8)
      // Band and curve of a unit share its color.
      #expect(bands[2].attributes["fill"] == dataPaths(parsed)[2].attributes["stroke"])
    }

    @Test func sixtyFourCurvesStayReadable() throws {
      let (curves, supports) = Self.units(64)
      let svg = Plot.functionCurves(
        curves: curves, supports: supports, title: "64 units", xLabel: "x", yLabel: "g(x)")
      let parsed = try check(svg)
      let paths = dataPaths(parsed)
      #expect(paths.count == 64)
      // No legend: no text element names a unit; hover titles still do.
      #expect(!parsed.texts.contains { $0.hasPrefix("unit") })
      #expect(parsed.all("title").filter { $0.text.hasPrefix("unit") }.count >= 64)
      #expect(parsed.texts.contains { $0.contains("64 curves") })
      // Thin lines, ten colors cycling.
      #expect(paths.allSatisfy { (Double($0.attributes["stroke-width"] ?? "9") ?? 9) <= 1.5 })
      #expect(Set(paths.compactMap { $0.attributes["stroke"] }).count == 10)
      #expect(paths[10].attributes["stroke"] == paths[0].attributes["stroke"])
      // 64 faint bands and no per-edge dashed lines.
      let bands = parsed.all("rect").filter { $0.attributes["fill-opacity"] != nil }
      #expect(bands.count == 64)
      #expect(bands.allSatisfy { (Double($0.attributes["fill-opacity"]!) ?? 1) < 0.05 })
      #expect(parsed.all("line").filter { $0.attributes["stroke-dasharray"] != nil }.isEmpty)
      // Flat tails are collapsed, keeping the file small.
      #expect(svg.utf8.count < 200_000)
    }

    @Test func elevenCurvesHaveNoLegend() throws {
      let (curves, _) = Self.units(11)
      let parsed = try check(
        Plot.functionCurves(curves: curves, title: "11", xLabel: "x", yLabel: "y"))
      #expect(dataPaths(parsed).count == 11)
      #expect(!parsed.texts.contains("unit 0"))
      let (ten, _) = Self.units(10)
      let withLegend = try check(
        Plot.functionCurves(curves: ten, title: "10", xLabel: "x", yLabel: "y"))
      #expect(withLegend.texts.contains("unit 9"))
    }

    @Test func edgeCases() throws {
      // Zero-width x range, NaN, mismatched lengths, constant values, escaped labels.
      let parsed = try check(
        Plot.functionCurves(
          curves: [
            ("a & <b>", [1, 1, 1], [0.5, .nan, 0.5]),
            ("flat", [0, 1, 2], [0, 0]),
            ("unbounded", [.infinity, 2], [1, .nan]),
          ],
          supports: [("a & <b>", 1, 1), ("reversed", 3, 2), ("bad", .nan, 1)],
          title: "Edge <cases> & more", xLabel: "x < 0", yLabel: "y & z"))
      #expect(dataPaths(parsed).count == 3)
      #expect(parsed.texts.contains("a & <b>"))
      #expect(parsed.texts.contains("Edge <cases> & more"))
      #expect(parsed.texts.contains("x < 0"))

      let empty = try check(
        Plot.functionCurves(curves: [], supports: [], title: "Empty", xLabel: "x", yLabel: "y"))
      #expect(empty.texts.contains("No curves"))
      #expect(dataPaths(empty).isEmpty)

      let onePoint = try check(
        Plot.functionCurves(curves: [("p", [0.3], [0.7])], title: "One", xLabel: "x", yLabel: "y"))
      #expect(dataPaths(onePoint).count == 1)
      #expect(onePoint.all("circle").count == 1)

      let supportsOnly = try check(
        Plot.functionCurves(
          curves: [], supports: [("s", -1, 1)], title: "S", xLabel: "x", yLabel: "y"))
      #expect(supportsOnly.all("rect").contains { $0.attributes["fill-opacity"] != nil })

      let negative = try check(
        Plot.functionCurves(
          curves: [("neg", [0, 1, 2], [-1, -3, -2])], title: "N", xLabel: "x", yLabel: "y"))
      #expect(negative.texts.contains("0"))
    }
  }
}

// MARK: - Decision regions

extension PlotTests {
  @Suite("decision regions")
  struct DecisionRegionTests {
    static let points: [(x: Double, y: Double, label: Int)] = [
      (-0.5, -0.5, 0), (0.5, 0.5, 1), (0.6, -0.4, 2), (-0.2, 0.7, 1),
    ]

    @Test func gridRegionsAndPoints() throws {
      let xs = [-0.75, -0.25, 0.25, 0.75]
      let ys = [-0.75, -0.25, 0.25, 0.75]
      let classOf = [[0, 0, 2, 2], [0, 0, 2, 2], [1, 1, 1, 1], [1, 1, 1, 0]]
      let parsed = try check(
        Plot.decisionRegions(grid: (xs, ys, classOf), points: Self.points, title: "Grid"))
      // Runs of equal class merge: 2 + 2 + 1 + 2 rects, plus background, frame and legend.
      let regions = parsed.all("rect").filter {
        $0.attributes["fill"] != nil && $0.attributes["fill"] != "white"
          && $0.attributes["fill"] != "none"
          && $0.attributes["stroke"] == nil
      }
      #expect(regions.count == 7)
      let circles = parsed.all("circle").filter { $0.attributes["r"] != "4" }
      #expect(circles.count == 4)
      #expect(circles.allSatisfy { $0.attributes["stroke"] == "#1a1a1a" })
      #expect(
        circles.map { $0.attributes["fill"]! } == Self.points.map { Plot.color(at: $0.label) })
      for label in ["class 0", "class 1", "class 2", "x₁", "x₂", "Grid"] {
        #expect(parsed.texts.contains(label), "\(label)")
      }
    }

    @Test func closureIsSampledAtCellCenters() throws {
      var calls = 0
      var seen: [(Double, Double)] = []
      let svg = Plot.decisionRegions(
        xRange: -1...1, yRange: 0...2, resolution: 4, points: Self.points, title: "Closure",
        classNames: [0: "left & <low>", 1: "right"]
      ) { x, y in
        calls += 1
        seen.append((x, y))
        return x < 0 ? 0 : 1
      }
      #expect(calls == 16)
      #expect(seen.first! == (-0.75, 0.25))
      let parsed = try check(svg)
      #expect(parsed.texts.contains("left & <low>"))
      #expect(parsed.texts.contains("right"))
      #expect(parsed.texts.contains("class 2"))
      // Each of the 4 rows is one run per class.
      let regions = parsed.all("rect").filter {
        $0.attributes["fill"] != nil && $0.attributes["fill"] != "white"
          && $0.attributes["fill"] != "none"
          && $0.attributes["stroke"] == nil
      }
      #expect(regions.count == 8)
    }

    @Test func closureRethrows() {
      struct Failure: Error {}
      #expect(throws: Failure.self) {
        _ = try Plot.decisionRegions(xRange: 0...1, yRange: 0...1, resolution: 3, title: "t") {
          _, _ in
          throw Failure()
        }
      }
    }

    @Test func highResolutionStaysCompact() throws {
      let svg = Plot.decisionRegions(
        xRange: -3...3, yRange: -3...3, resolution: 200, title: "Circle"
      ) { x, y in
        x * x + y * y < 4 ? 1 : 0
      }
      let parsed = try check(svg)
      #expect(parsed.all("rect").count < 200 * 4)
    }

    @Test func edgeCases() throws {
      // Empty grid and no points.
      let empty = try check(Plot.decisionRegions(grid: ([], [], []), title: "Empty"))
      #expect(empty.texts.contains("No data"))
      // Points only, with a non-finite point skipped.
      let pointsOnly = try check(
        Plot.decisionRegions(
          grid: ([], [], []), points: [(1, 2, 0), (.nan, 1, 1), (3, .infinity, 1)], title: "P"))
      #expect(pointsOnly.all("circle").filter { $0.attributes["r"] != "4" }.count == 1)
      // A single cell, zero-width ranges, ragged and short rows, non-finite centers.
      _ = try check(
        Plot.decisionRegions(grid: ([0], [0], [[3]]), points: [(0, 0, 3)], title: "One cell"))
      _ = try check(
        Plot.decisionRegions(xRange: 1...1, yRange: 2...2, resolution: 10, title: "Zero width") {
          _, _ in 0
        })
      _ = try check(
        Plot.decisionRegions(
          grid: ([0, 1, .nan, 3], [0, 1], [[0, 1, 1, 1, 5], [2]]), points: [], title: "Ragged"))
      _ = try check(
        Plot.decisionRegions(
          xRange: -Double.infinity...Double.infinity, yRange: 0...1, resolution: 5,
          points: [(0, 0.5, 0), (2, 0.5, 1)], title: "Unbounded range"
        ) { x, _ in x < 1 ? 0 : 1 })
      // Negative and large class numbers wrap around the palette.
      let wrap = try check(
        Plot.decisionRegions(
          grid: ([0, 1], [0, 1], [[-1, 12], [3, 0]]), points: [(0, 0, -1)], title: "Wrap"))
      #expect(wrap.texts.contains("class -1") && wrap.texts.contains("class 12"))
    }
  }
}

// MARK: - Composition

@Suite("SVGDocument composition")
struct SVGCompositionTests {
  private func panel(_ title: String, height: Double) -> SVGDocument {
    Plot.functionCurvesDocument(
      curves: [(label: "unit 1", xs: [-1, 0, 1], ys: [0, 1, 0])],
      supports: [(label: "unit 1", lower: -0.5, upper: 0.5)], title: title, width: 300,
      height: height)
  }

  @Test("stacked: panels one below the other, every identifier unique and every reference resolved")
  func stacked() throws {
    let panels = [panel("first", height: 200), panel("second", height: 250), panel("third", height: 300)]
    let stack = SVGDocument.stacked(panels)
    #expect(stack.width == 300)
    #expect(stack.height == 750)
    #expect(stack.elementCount == panels.reduce(0) { $0 + $1.elementCount })
    let parsed = try check(stack.render())
    let nested = Array(parsed.all("svg").dropFirst())
    #expect(nested.map { $0.attributes["y"] } == ["0", "200", "450"])
    #expect(nested.map { $0.attributes["height"] } == ["200", "250", "300"])
    let ids = parsed.elements.compactMap { $0.attributes["id"] }
    #expect(ids.count == 3, "one clip path per panel: \(ids)")
    #expect(Set(ids).count == ids.count, "\(ids)")
    let references = parsed.elements.compactMap { $0.attributes["clip-path"] }
    #expect(references.count == 3)
    for reference in references {
      #expect(ids.contains(String(reference.dropFirst(5).dropLast())), "\(reference) resolves")
    }
    #expect(parsed.texts.contains("second"))
  }

  @Test("One document stacks to itself; embedding does not change how a document renders")
  func unchanged() {
    let one = panel("alone", height: 200)
    #expect(SVGDocument.stacked([one]) == one)
    var host = SVGDocument(width: 400, height: 400)
    host.embed(one, x: 10, y: 20)
    host.embed(one, x: 10, y: 220)
    let text = host.render()
    #expect(text.contains("<svg x=\"10\" y=\"20\" xmlns="))
    #expect(text.contains("id=\"p0-plot-area\"") && text.contains("id=\"p1-plot-area\""))
    #expect(one.render() == Plot.functionCurves(
      curves: [(label: "unit 1", xs: [-1, 0, 1], ys: [0, 1, 0])],
      supports: [(label: "unit 1", lower: -0.5, upper: 0.5)], title: "alone", width: 300,
      height: 200))
  }
}

// MARK: - Radial supports

extension PlotTests {
  @Suite("Radial supports")
  struct RadialSupportsTests {
    @Test("circles per unit, dashed dead units, a merged heat map, points; degenerate input")
    func radialSupports() throws {
      let xs = [0.0, 1, 2, 3]
      let svg = try check(
        Plot.radialSupports(
          centers: [(0, 0), (2, 1), (.nan, 1)], radii: [1, 0.5, 1], dead: [1],
          grid: (xs, xs, [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [.nan, 0, 0, 0]]),
          points: [(0.5, 0.5), (1, .infinity)], title: "Supports"))
      // Two finite circles as paths (one dashed), their centre dots and one data point.
      let paths = svg.all("path").filter { $0.attributes["fill"] == "none" && $0.attributes["d"]?.isEmpty == false }
      #expect(paths.filter { $0.attributes["stroke-dasharray"] != nil }.count >= 1)
      #expect(svg.all("circle").count >= 3)
      // Runs of one shade are one rectangle: the first row of zeros is a single rect.
      #expect(svg.all("rect").count < 4 * 4)
      let empty = try check(Plot.radialSupports(centers: [], radii: [], title: "Empty"))
      #expect(empty.texts.contains("No data"))
    }

    @Test("a trained layer's supports render")
    func fromLayer() throws {
      let layer = try RadialBump<Double>(inputSize: 2, units: 4)
      var generator = SeededGenerator(seed: 3)
      let data = try Matrix((0..<40).map { i in [Double(i % 7) - 3, Double(i % 5) - 2] })
      try layer.initializeCenters(from: data, sigmaScale: 1, using: &generator)
      _ = try layer.forward(data)
      let centers = (0..<4).map { (x: layer.center.value[$0, 0], y: layer.center.value[$0, 1]) }
      let radii = layer.sigma.value.elements.map { $0.squareRoot() }
      let svg = try check(Plot.radialSupports(
        centers: centers, radii: radii, dead: Set(layer.deadUnits),
        points: (0..<40).map { (x: data[$0, 0], y: data[$0, 1]) }, title: "Layer"))
      #expect(svg.all("path").count >= 4)
    }
  }
}
