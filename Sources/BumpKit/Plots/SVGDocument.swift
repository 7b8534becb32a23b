import Foundation

/// A small builder for standalone SVG 1.1 documents.
///
/// `SVGDocument` collects drawing elements (rectangles, lines, paths, circles and text)
/// and renders them into one self-contained SVG string that any browser, `rsvg-convert`
/// or vector editor opens directly. It has no dependencies beyond Foundation.
///
/// Every piece of text passed in — labels, titles, tooltips, attribute values — is
/// XML-escaped, and every coordinate is written as a finite decimal number, so the
/// output is always well-formed XML even for hostile labels or non-finite inputs.
///
/// ```swift
/// var svg = SVGDocument(width: 200, height: 100, title: "Demo")
/// svg.rect(x: 10, y: 10, width: 50, height: 30, style: .init(fill: "#1f77b4"))
/// svg.text("A & B", x: 100, y: 50, anchor: .middle)
/// let string = svg.render()
/// ```
public struct SVGDocument: Sendable, Equatable, CustomStringConvertible {
  /// The width of the canvas in user units (pixels), also used for the `viewBox`.
  public let width: Double

  /// The height of the canvas in user units (pixels), also used for the `viewBox`.
  public let height: Double

  /// The default font family of all text in the document.
  public var fontFamily: String

  /// The default font size of all text in the document, in user units.
  public var fontSize: Double

  /// An optional document title, emitted as the SVG `<title>` element (shown by browsers
  /// as a tooltip and read by screen readers).
  public var title: String?

  /// The clip paths, rendered in `<defs>`.
  private var clipRects: [ClipRect] = []

  /// The body, in painting order.
  private var body: [Node] = []

  /// A `<clipPath>` holding one rectangle. Its identifier is kept apart from the markup so
  /// that an embedding document can rename it (see ``embed(_:x:y:)``).
  private struct ClipRect: Sendable, Equatable {
    var id: String
    var markup: String
  }

  /// One entry of the body.
  private indirect enum Node: Sendable, Equatable {
    /// A serialized element (shape or text).
    case markup(String)
    /// A `<g>` start tag: its clip path (by identifier) and its other attributes.
    case groupStart(clipPathID: String?, attributes: String)
    /// A `</g>` end tag.
    case groupEnd
    /// Another document, drawn as a nested `<svg>` at (x, y).
    case document(SVGDocument, x: Double, y: Double)
  }

  /// Creates an empty document.
  ///
  /// - Parameters:
  ///   - width: Canvas width in pixels; non-finite or non-positive values become 1.
  ///   - height: Canvas height in pixels; non-finite or non-positive values become 1.
  ///   - fontFamily: Default font family for text, `sans-serif` unless given.
  ///   - fontSize: Default font size for text, in pixels.
  ///   - title: Optional document title.
  public init(
    width: Double,
    height: Double,
    fontFamily: String = "sans-serif",
    fontSize: Double = 12,
    title: String? = nil
  ) {
    self.width = width.isFinite && width > 0 ? width : 1
    self.height = height.isFinite && height > 0 ? height : 1
    self.fontFamily = fontFamily
    self.fontSize = fontSize.isFinite && fontSize > 0 ? fontSize : 12
    self.title = title
  }

  // MARK: - Styles

  /// Presentation attributes shared by the shape elements.
  ///
  /// Properties left `nil` are omitted, so the SVG defaults apply (for example a black
  /// fill and no stroke).
  public struct Style: Sendable, Equatable {
    /// The fill paint, such as `#1f77b4`, `none` or `white`.
    public var fill: String?
    /// The stroke paint, such as `#333333` or `none`.
    public var stroke: String?
    /// The stroke width in user units.
    public var strokeWidth: Double?
    /// The opacity of the whole element, from 0 to 1.
    public var opacity: Double?
    /// The opacity of the fill only, from 0 to 1.
    public var fillOpacity: Double?
    /// The opacity of the stroke only, from 0 to 1.
    public var strokeOpacity: Double?
    /// A dash pattern as alternating dash and gap lengths, e.g. `[4, 3]`.
    public var dashArray: [Double]?
    /// The stroke line join, e.g. `round`.
    public var lineJoin: String?
    /// The stroke line cap, e.g. `round` or `butt`.
    public var lineCap: String?

    /// Creates a style; every property defaults to `nil` (not emitted).
    ///
    /// - Parameters:
    ///   - fill: Fill paint.
    ///   - stroke: Stroke paint.
    ///   - strokeWidth: Stroke width.
    ///   - opacity: Element opacity.
    ///   - fillOpacity: Fill opacity.
    ///   - strokeOpacity: Stroke opacity.
    ///   - dashArray: Dash pattern.
    ///   - lineJoin: Stroke line join.
    ///   - lineCap: Stroke line cap.
    public init(
      fill: String? = nil,
      stroke: String? = nil,
      strokeWidth: Double? = nil,
      opacity: Double? = nil,
      fillOpacity: Double? = nil,
      strokeOpacity: Double? = nil,
      dashArray: [Double]? = nil,
      lineJoin: String? = nil,
      lineCap: String? = nil
    ) {
      self.fill = fill
      self.stroke = stroke
      self.strokeWidth = strokeWidth
      self.opacity = opacity
      self.fillOpacity = fillOpacity
      self.strokeOpacity = strokeOpacity
      self.dashArray = dashArray
      self.lineJoin = lineJoin
      self.lineCap = lineCap
    }

    /// The style serialized as SVG presentation attributes, each preceded by a space.
    var attributes: String {
      var out = ""
      if let fill { out += " fill=\"\(SVGDocument.escape(fill))\"" }
      if let stroke { out += " stroke=\"\(SVGDocument.escape(stroke))\"" }
      if let strokeWidth { out += " stroke-width=\"\(SVGDocument.number(strokeWidth))\"" }
      if let opacity { out += " opacity=\"\(SVGDocument.unit(opacity))\"" }
      if let fillOpacity { out += " fill-opacity=\"\(SVGDocument.unit(fillOpacity))\"" }
      if let strokeOpacity { out += " stroke-opacity=\"\(SVGDocument.unit(strokeOpacity))\"" }
      if let dashArray, !dashArray.isEmpty {
        let list = dashArray.map { SVGDocument.number(Swift.max(0, $0)) }.joined(separator: " ")
        out += " stroke-dasharray=\"\(list)\""
      }
      if let lineJoin { out += " stroke-linejoin=\"\(SVGDocument.escape(lineJoin))\"" }
      if let lineCap { out += " stroke-linecap=\"\(SVGDocument.escape(lineCap))\"" }
      return out
    }
  }

  /// Horizontal alignment of a text element relative to its anchor point.
  public enum TextAnchor: String, Sendable {
    /// The text starts at the anchor point.
    case start
    /// The text is centered on the anchor point.
    case middle
    /// The text ends at the anchor point.
    case end
  }

  // MARK: - Elements

  /// Adds a rectangle. Rectangles with a negative width or height are normalized.
  ///
  /// - Parameters:
  ///   - x: Left edge.
  ///   - y: Top edge.
  ///   - width: Width (a negative width extends to the left).
  ///   - height: Height (a negative height extends upwards).
  ///   - cornerRadius: Optional corner radius.
  ///   - style: Presentation attributes.
  ///   - tooltip: Optional text shown by browsers on hover (a `<title>` child).
  public mutating func rect(
    x: Double, y: Double, width: Double, height: Double,
    cornerRadius: Double? = nil,
    style: Style = Style(),
    tooltip: String? = nil
  ) {
    let left = width < 0 ? x + width : x
    let top = height < 0 ? y + height : y
    var element = "<rect x=\"\(Self.number(left))\" y=\"\(Self.number(top))\""
    element += " width=\"\(Self.number(abs(width)))\" height=\"\(Self.number(abs(height)))\""
    if let cornerRadius { element += " rx=\"\(Self.number(cornerRadius))\"" }
    element += style.attributes
    body.append(.markup(Self.close(element, name: "rect", tooltip: tooltip)))
  }

  /// Adds a straight line segment.
  ///
  /// - Parameters:
  ///   - x1: Start x.
  ///   - y1: Start y.
  ///   - x2: End x.
  ///   - y2: End y.
  ///   - style: Presentation attributes; give a `stroke`, lines have none by default.
  public mutating func line(
    x1: Double, y1: Double, x2: Double, y2: Double,
    style: Style = Style(stroke: "black")
  ) {
    var element = "<line x1=\"\(Self.number(x1))\" y1=\"\(Self.number(y1))\""
    element += " x2=\"\(Self.number(x2))\" y2=\"\(Self.number(y2))\""
    element += style.attributes
    body.append(.markup(element + "/>"))
  }

  /// Adds a circle.
  ///
  /// - Parameters:
  ///   - cx: Center x.
  ///   - cy: Center y.
  ///   - r: Radius (negative radii become 0).
  ///   - style: Presentation attributes.
  ///   - tooltip: Optional text shown by browsers on hover.
  public mutating func circle(
    cx: Double, cy: Double, r: Double,
    style: Style = Style(),
    tooltip: String? = nil
  ) {
    var element = "<circle cx=\"\(Self.number(cx))\" cy=\"\(Self.number(cy))\""
    element += " r=\"\(Self.number(Swift.max(0, r)))\""
    element += style.attributes
    body.append(.markup(Self.close(element, name: "circle", tooltip: tooltip)))
  }

  /// Adds one `<path>` through the given points, joined by straight segments.
  ///
  /// A point with a non-finite coordinate is not drawn and breaks the line, so the
  /// path continues with a new sub-path after it (a gap, not a crash). If no point is
  /// finite the path is still emitted, with empty data, so that one call always yields
  /// exactly one `<path>` element.
  ///
  /// - Parameters:
  ///   - points: Vertices in user units.
  ///   - style: Presentation attributes; the fill defaults to `none`.
  ///   - tooltip: Optional text shown by browsers on hover.
  public mutating func path(
    through points: [(x: Double, y: Double)],
    style: Style = Style(stroke: "black"),
    tooltip: String? = nil
  ) {
    // Split at non-finite points into runs of formatted vertices, then drop the interior
    // vertices of horizontal or vertical runs (e.g. the flat zero tails of bump
    // functions), which changes nothing visible but keeps files small.
    typealias Vertex = (x: String, y: String, px: Double, py: Double)
    var runs: [[Vertex]] = []
    var current: [Vertex] = []
    for point in points {
      guard point.x.isFinite, point.y.isFinite else {
        if !current.isEmpty { runs.append(current) }
        current = []
        continue
      }
      let vertex: Vertex = (Self.number(point.x), Self.number(point.y), point.x, point.y)
      if current.count >= 2 {
        let a = current[current.count - 2]
        let b = current[current.count - 1]
        let between = { (p: Double, q: Double, r: Double) in
          (p <= q && q <= r) || (p >= q && q >= r)
        }
        if (a.y == b.y && b.y == vertex.y && between(a.px, b.px, vertex.px))
          || (a.x == b.x && b.x == vertex.x && between(a.py, b.py, vertex.py))
        {
          current[current.count - 1] = vertex
          continue
        }
      }
      current.append(vertex)
    }
    if !current.isEmpty { runs.append(current) }
    var data = ""
    for run in runs {
      for (index, vertex) in run.enumerated() {
        if !data.isEmpty { data += " " }
        data += (index == 0 ? "M" : "L") + vertex.x + " " + vertex.y
      }
    }
    var style = style
    if style.fill == nil { style.fill = "none" }
    let element = "<path d=\"\(data)\"" + style.attributes
    body.append(.markup(Self.close(element, name: "path", tooltip: tooltip)))
  }

  /// Adds a text element. The text is XML-escaped.
  ///
  /// - Parameters:
  ///   - string: The text to show.
  ///   - x: Anchor x.
  ///   - y: Baseline y.
  ///   - fontSize: Font size, or `nil` for the document default.
  ///   - anchor: Horizontal alignment relative to `x`.
  ///   - bold: Whether to use a bold weight.
  ///   - fill: Text color.
  ///   - rotation: Optional rotation in degrees around the anchor point
  ///     (`-90` gives vertical text reading upwards).
  public mutating func text(
    _ string: String,
    x: Double, y: Double,
    fontSize: Double? = nil,
    anchor: TextAnchor = .start,
    bold: Bool = false,
    fill: String = "#222222",
    rotation: Double? = nil
  ) {
    var element = "<text x=\"\(Self.number(x))\" y=\"\(Self.number(y))\""
    if let fontSize { element += " font-size=\"\(Self.number(fontSize))\"" }
    if anchor != .start { element += " text-anchor=\"\(anchor.rawValue)\"" }
    if bold { element += " font-weight=\"bold\"" }
    element += " fill=\"\(Self.escape(fill))\""
    if let rotation, rotation.isFinite, rotation != 0 {
      element +=
        " transform=\"rotate(\(Self.number(rotation)) \(Self.number(x)) \(Self.number(y)))\""
    }
    element += ">" + Self.escape(string) + "</text>"
    body.append(.markup(element))
  }

  /// Defines a rectangular clip path for
  /// ``group(clipPathID:opacity:crispEdges:content:)``.
  ///
  /// - Parameters:
  ///   - id: The identifier; only letters, digits, `-` and `_` are kept.
  ///   - x: Left edge.
  ///   - y: Top edge.
  ///   - width: Width.
  ///   - height: Height.
  /// - Returns: The sanitized identifier to pass to `group`.
  @discardableResult
  public mutating func defineClipRect(
    id: String, x: Double, y: Double, width: Double, height: Double
  ) -> String {
    let safe = Self.identifier(id)
    var element = "<rect x=\"\(Self.number(x))\" y=\"\(Self.number(y))\""
    element += " width=\"\(Self.number(Swift.max(0, width)))\""
    element += " height=\"\(Self.number(Swift.max(0, height)))\"/>"
    clipRects.append(ClipRect(id: safe, markup: element))
    return safe
  }

  /// Adds a group (`<g>`) whose content is drawn by the closure.
  ///
  /// - Parameters:
  ///   - clipPathID: Optional clip path from ``defineClipRect(id:x:y:width:height:)``.
  ///   - opacity: Optional group opacity.
  ///   - crispEdges: Whether to ask renderers not to anti-alias shape edges, which
  ///     avoids hairline seams between adjacent rectangles.
  ///   - content: Draws the group's children into the document passed in.
  public mutating func group(
    clipPathID: String? = nil,
    opacity: Double? = nil,
    crispEdges: Bool = false,
    content: (inout SVGDocument) -> Void
  ) {
    var attributes = ""
    if let opacity { attributes += " opacity=\"\(Self.unit(opacity))\"" }
    if crispEdges { attributes += " shape-rendering=\"crispEdges\"" }
    body.append(.groupStart(clipPathID: clipPathID.map(Self.identifier), attributes: attributes))
    content(&self)
    body.append(.groupEnd)
  }

  // MARK: - Composition

  /// Draws `document` into this one as a nested `<svg>` viewport of the document's size
  /// whose top-left corner is at (`x`, `y`), with its own title, clip paths, background and
  /// font.
  ///
  /// The identifiers the embedded document defines (its clip paths) are prefixed with
  /// `p<n>-`, n counting the documents embedded here from 0, and its references to them
  /// follow; so a document can be embedded several times, or next to others that use the
  /// same identifiers, and every identifier stays unique.
  ///
  /// - Parameters:
  ///   - document: The document to draw; later changes to it do not affect this one.
  ///   - x: The left edge of the nested viewport, in this document's user units.
  ///   - y: The top edge of the nested viewport.
  public mutating func embed(_ document: SVGDocument, x: Double, y: Double) {
    body.append(.document(document, x: x, y: y))
  }

  /// `documents` one below the other, each at full size and left-aligned, in one document
  /// as wide as the widest and as high as all of them together (see ``embed(_:x:y:)``).
  ///
  /// One document is returned unchanged; none gives an empty 1 × 1 document.
  public static func stacked(_ documents: [SVGDocument]) -> SVGDocument {
    if documents.count == 1 { return documents[0] }
    let width = documents.map(\.width).max() ?? 1
    var stack = SVGDocument(width: width, height: documents.reduce(0) { $0 + $1.height })
    var top = 0.0
    for document in documents {
      stack.embed(document, x: 0, y: top)
      top += document.height
    }
    return stack
  }

  // MARK: - Output

  /// The number of drawing elements added so far (group tags excluded).
  public var elementCount: Int {
    body.reduce(0) { count, node in
      switch node {
      case .markup: count + 1
      case .groupStart, .groupEnd: count
      case .document(let document, _, _): count + document.elementCount
      }
    }
  }

  /// Renders the standalone SVG 1.1 document: an XML declaration, then an `<svg>` root
  /// with `xmlns`, `version`, `width`, `height`, `viewBox` and the default font, and a
  /// white background.
  ///
  /// - Returns: The SVG text, ready to be written to a `.svg` file.
  public func render() -> String {
    var out = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
    render(into: &out, idPrefix: "", position: nil)
    return out
  }

  /// Appends the `<svg>` element; `position` places a nested one, whose identifiers get
  /// `idPrefix`.
  private func render(into out: inout String, idPrefix: String, position: (x: Double, y: Double)?) {
    out += "<svg"
    if let position { out += " x=\"\(Self.number(position.x))\" y=\"\(Self.number(position.y))\"" }
    out += " xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\""
    out += " width=\"\(Self.number(width))\" height=\"\(Self.number(height))\""
    out += " viewBox=\"0 0 \(Self.number(width)) \(Self.number(height))\""
    out += " font-family=\"\(Self.escape(fontFamily))\" font-size=\"\(Self.number(fontSize))\">\n"
    if let title { out += "<title>\(Self.escape(title))</title>\n" }
    if !clipRects.isEmpty {
      out += "<defs>\n"
      for clip in clipRects {
        out += "<clipPath id=\"\(idPrefix)\(clip.id)\">\(clip.markup)</clipPath>\n"
      }
      out += "</defs>\n"
    }
    out += "<rect x=\"0\" y=\"0\" width=\"\(Self.number(width))\""
    out += " height=\"\(Self.number(height))\" fill=\"white\"/>\n"
    var embedded = 0
    for node in body {
      switch node {
      case .markup(let element):
        out += element
      case .groupStart(let clipPathID, let attributes):
        out += "<g"
        if let clipPathID { out += " clip-path=\"url(#\(idPrefix)\(clipPathID))\"" }
        out += attributes + ">"
      case .groupEnd:
        out += "</g>"
      case .document(let document, let x, let y):
        document.render(into: &out, idPrefix: "\(idPrefix)p\(embedded)-", position: (x, y))
        embedded += 1
        continue
      }
      out += "\n"
    }
    out += "</svg>\n"
  }

  /// The rendered document; same as ``render()``.
  public var description: String { render() }

  // MARK: - Escaping and number formatting

  /// Escapes text for use in SVG/XML character data and attribute values.
  ///
  /// Replaces `&`, `<`, `>`, `"` and `'` by entity references and drops the control
  /// characters that XML 1.0 forbids (all below U+0020 except tab, line feed and carriage
  /// return, plus U+FFFE and U+FFFF).
  ///
  /// - Parameter text: Arbitrary text.
  /// - Returns: Text safe to place between tags or inside double-quoted attributes.
  public static func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
      switch scalar {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&#39;"
      case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
      default:
        if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF { continue }
        out.unicodeScalars.append(scalar)
      }
    }
    return out
  }

  /// Formats a coordinate with at most two decimals; non-finite values become `0` and
  /// magnitudes are clamped to one million so that the output never contains `nan`,
  /// `inf` or exponent notation.
  static func number(_ value: Double) -> String {
    guard value.isFinite else { return "0" }
    let clamped = Swift.min(Swift.max(value, -1e6), 1e6)
    let hundredths = (clamped * 100).rounded()
    if hundredths == 0 { return "0" }
    let integer = Int64(hundredths)
    let sign = integer < 0 ? "-" : ""
    let magnitude = integer.magnitude
    let whole = magnitude / 100
    let fraction = magnitude % 100
    if fraction == 0 { return "\(sign)\(whole)" }
    if fraction % 10 == 0 { return "\(sign)\(whole).\(fraction / 10)" }
    return "\(sign)\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
  }

  /// Formats an opacity-like value clamped to `0...1` with at most three decimals.
  static func unit(_ value: Double) -> String {
    let clamped = value.isFinite ? Swift.min(Swift.max(value, 0), 1) : 1
    let thousandths = Int((clamped * 1000).rounded())
    if thousandths == 1000 { return "1" }
    if thousandths == 0 { return "0" }
    var digits = String(thousandths)
    digits = String(repeating: "0", count: 3 - digits.count) + digits
    while digits.hasSuffix("0") { digits.removeLast() }
    return "0." + digits
  }

  /// Keeps only characters valid in an XML name fragment.
  static func identifier(_ id: String) -> String {
    let kept = id.unicodeScalars.filter {
      ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
        || $0 == "-" || $0 == "_"
    }
    var out = String(String.UnicodeScalarView(kept))
    if out.isEmpty
      || !(out.unicodeScalars.first.map { ("a"..."z").contains($0) || ("A"..."Z").contains($0) }
        ?? false)
    {
      out = "id-" + out
    }
    return out
  }

  /// Closes an element, adding a `<title>` child when a tooltip is given.
  private static func close(_ element: String, name: String, tooltip: String?) -> String {
    guard let tooltip else { return element + "/>" }
    return element + "><title>\(escape(tooltip))</title></\(name)>"
  }
}
