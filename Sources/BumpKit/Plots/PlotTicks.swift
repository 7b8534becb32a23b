import Foundation

extension Plot {
  /// One tick on an axis: a position in data units and an optional label.
  public struct Tick: Sendable, Equatable {
    /// The position of the tick, in data units.
    public var value: Double
    /// The text drawn next to the tick, or `nil` for an unlabeled (minor) tick.
    public var label: String?
    /// Whether the tick is a major tick (drawn with a stronger grid line).
    public var isMajor: Bool

    /// Creates a tick.
    ///
    /// - Parameters:
    ///   - value: The position in data units.
    ///   - label: The label text, or `nil` for none.
    ///   - isMajor: Whether the tick is major.
    public init(value: Double, label: String?, isMajor: Bool = true) {
      self.value = value
      self.label = label
      self.isMajor = isMajor
    }
  }

  /// "Nice" linear axis ticks whose step is 1, 2 or 5 times a power of ten.
  ///
  /// ```swift
  /// let ticks = Plot.LinearTicks(lower: 0.13, upper: 0.87, targetCount: 5)
  /// // ticks.lower == 0, ticks.upper == 1, ticks.step == 0.2
  /// // labels: "0", "0.2", "0.4", "0.6", "0.8", "1.0"
  /// ```
  ///
  /// Degenerate input is repaired rather than rejected: non-finite bounds fall back to
  /// `0...1` (or to the finite bound ± 1), swapped bounds are reordered, and a zero-width
  /// range is widened by 10 % of its magnitude (or by 1 around zero).
  public struct LinearTicks: Sendable, Equatable {
    /// The lower end of the axis domain (rounded down to a multiple of `step` when the
    /// ticks were made with `extendToNiceBounds`).
    public let lower: Double
    /// The upper end of the axis domain (rounded up to a multiple of `step` when the
    /// ticks were made with `extendToNiceBounds`).
    public let upper: Double
    /// The distance between consecutive ticks: 1, 2 or 5 times a power of ten.
    public let step: Double
    /// The labeled ticks inside `lower...upper`, in increasing order.
    public let ticks: [Tick]

    /// The tick positions, in increasing order.
    public var values: [Double] { ticks.map(\.value) }

    /// Computes nice ticks for a data range.
    ///
    /// - Parameters:
    ///   - lower: The smallest data value to show.
    ///   - upper: The largest data value to show.
    ///   - targetCount: About how many intervals to aim for (at least 1).
    ///   - extendToNiceBounds: Whether to widen the domain to the enclosing multiples of
    ///     the step (`true`), or keep it tight at `lower...upper` with ticks inside.
    ///   - integerStep: Whether the step must be a whole number (at least 1), as for
    ///     epoch counts.
    public init(
      lower: Double,
      upper: Double,
      targetCount: Int = 6,
      extendToNiceBounds: Bool = true,
      integerStep: Bool = false
    ) {
      var lo = Plot.clampMagnitude(lower)
      var hi = Plot.clampMagnitude(upper)
      switch (lo.isFinite, hi.isFinite) {
      case (true, true): break
      case (true, false): hi = lo
      case (false, true): lo = hi
      case (false, false): (lo, hi) = (0, 1)
      }
      if lo > hi { swap(&lo, &hi) }
      let magnitude = Swift.max(abs(lo), abs(hi))
      if hi - lo <= magnitude * 1e-12 {
        var pad = magnitude == 0 ? 1 : magnitude * 0.1
        if integerStep { pad = Swift.max(pad, 1) }
        lo -= pad
        hi += pad
      }
      let intervals = Double(Swift.max(1, targetCount))
      let raw = (hi - lo) / intervals
      let power = pow(10, (log10(raw)).rounded(.down))
      let fraction = raw / power
      let nice: Double = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
      var step = nice * power
      if integerStep { step = Swift.max(1, step.rounded()) }
      if !(step.isFinite && step > 0) { step = Swift.max(hi - lo, 1) }
      if extendToNiceBounds {
        let niceLo = (lo / step).rounded(.down) * step
        let niceHi = (hi / step).rounded(.up) * step
        if niceLo.isFinite, niceHi.isFinite { (lo, hi) = (niceLo, niceHi) }
      }
      self.lower = lo
      self.upper = hi
      self.step = step

      let first = (lo / step - 1e-9).rounded(.up)
      let last = (hi / step + 1e-9).rounded(.down)
      var values: [Double] = []
      if first.isFinite, last.isFinite, last >= first {
        // Compared as a Double: a huge targetCount makes more ticks than Int counts.
        let count = Int(Swift.min(last - first, 199)) + 1
        for k in 0..<count {
          var value = (first + Double(k)) * step
          if abs(value) < step * 1e-9 { value = 0 }
          values.append(value)
        }
      }
      let decimals = Self.decimals(forStep: step)
      let scientific = Swift.max(abs(lo), abs(hi)) >= 1e6 || Swift.max(abs(lo), abs(hi)) < 1e-3
      self.ticks = values.map { value in
        Tick(
          value: value,
          label: Self.format(value, step: step, decimals: decimals, scientific: scientific))
      }
    }

    /// Formats a value as a tick label with as many decimals as the step needs.
    ///
    /// Values whose axis reaches a million or more, or stays below 0.001, use compact
    /// scientific notation such as `2.5e6` or `5e-4`; others use plain decimals.
    ///
    /// - Parameter value: The value to format.
    /// - Returns: A short, readable label.
    public func label(for value: Double) -> String {
      let scientific =
        Swift.max(abs(lower), abs(upper)) >= 1e6 || Swift.max(abs(lower), abs(upper)) < 1e-3
      return Self.format(
        value, step: step, decimals: Self.decimals(forStep: step), scientific: scientific)
    }

    private static func decimals(forStep step: Double) -> Int {
      Swift.min(12, Swift.max(0, Int((-log10(step) - 1e-9).rounded(.up))))
    }

    private static func format(_ value: Double, step: Double, decimals: Int, scientific: Bool)
      -> String
    {
      guard value.isFinite else { return "" }
      // `step * 1e-6` is 0 for a subnormal step, and 0 has no exponent.
      if abs(value) < step * 1e-6 || value == 0 { return "0" }
      if scientific {
        let exponent = Int(log10(abs(value)).rounded(.down))
        // In two factors: 10^exponent alone is 0 below 1e-323, which made the mantissa infinite.
        let half = exponent / 2
        let mantissa = value / pow(10, Double(half)) / pow(10, Double(exponent - half))
        let digits = Swift.min(6, Swift.max(0, exponent - Int(log10(step).rounded(.down))))
        var text = String(format: "%.\(digits)f", mantissa)
        if text.contains(".") {
          while text.hasSuffix("0") { text.removeLast() }
          if text.hasSuffix(".") { text.removeLast() }
        }
        return text + "e\(exponent)"
      }
      let text = String(format: "%.\(decimals)f", value)
      return text == "-0" ? "0" : text
    }
  }

  /// Ticks for a base-10 logarithmic axis: one major tick per decade, plus minor ticks
  /// at 2…9 times each decade while few decades are shown.
  ///
  /// The domain always spans whole decades, at least one, so every log axis has at least
  /// two labeled ticks. Decade labels read `1e-3`, `1e-2`, `1e-1`, `1`, `10`, `100`,
  /// `1e3`, …; when the domain is a single decade the minor ticks at 2 and 5 are labeled
  /// too (`2e-2`, `5e-2`). When there are more decades than `maxLabels`, only every
  /// second (third, …) decade is labeled.
  public struct LogTicks: Sendable, Equatable {
    /// The exponent of the decade at the lower end of the axis.
    public let lowerExponent: Int
    /// The exponent of the decade at the upper end of the axis.
    public let upperExponent: Int
    /// All ticks, major and minor, in increasing order.
    public let ticks: [Tick]

    /// The lower end of the axis domain, `10^lowerExponent`.
    public var lower: Double { pow(10, Double(lowerExponent)) }
    /// The upper end of the axis domain, `10^upperExponent`.
    public var upper: Double { pow(10, Double(upperExponent)) }

    /// Computes log ticks covering `minimum...maximum`.
    ///
    /// - Parameters:
    ///   - minimum: The smallest positive value to show.
    ///   - maximum: The largest positive value to show.
    ///   - maxLabels: The most decade labels to draw (at least 2).
    ///
    /// Non-finite or non-positive bounds fall back to the other bound, or to `1e-2...1`.
    /// Exponents are limited to `-300...300`.
    public init(minimum: Double, maximum: Double, maxLabels: Int = 8) {
      let valid = { (v: Double) in v.isFinite && v > 0 }
      var lo = minimum
      var hi = maximum
      switch (valid(lo), valid(hi)) {
      case (true, true): break
      case (true, false): hi = lo
      case (false, true): lo = hi
      case (false, false): (lo, hi) = (1e-2, 1)
      }
      if lo > hi { swap(&lo, &hi) }
      var loExp = Swift.max(-300, Swift.min(300, Int(log10(lo).rounded(.down))))
      var hiExp = Swift.max(-300, Swift.min(300, Int(log10(hi).rounded(.up))))
      if hiExp <= loExp {
        loExp -= 1
        hiExp = loExp + 2
      }
      lowerExponent = loExp
      upperExponent = hiExp

      let decades = hiExp - loExp
      let stride = Swift.max(
        1, Int((Double(decades) / Double(Swift.max(2, maxLabels) - 1)).rounded(.up)))
      var ticks: [Tick] = []
      for exponent in loExp...hiExp {
        let remainder = ((exponent % stride) + stride) % stride
        let labeled = remainder == 0
        ticks.append(
          Tick(
            value: pow(10, Double(exponent)),
            label: labeled ? Self.label(mantissa: 1, exponent: exponent) : nil,
            isMajor: labeled))
        if exponent < hiExp, decades <= 6 {
          for mantissa in 2...9 {
            let labelMinor = decades == 1 && (mantissa == 2 || mantissa == 5)
            ticks.append(
              Tick(
                value: Double(mantissa) * pow(10, Double(exponent)),
                label: labelMinor ? Self.label(mantissa: mantissa, exponent: exponent) : nil,
                isMajor: false))
          }
        }
      }
      self.ticks = ticks
    }

    /// The label of `mantissa × 10^exponent`: plain digits for exponents 0 to 2
    /// (`1`, `20`, `500`), compact scientific notation otherwise (`1e-2`, `5e-1`, `1e3`).
    ///
    /// - Parameters:
    ///   - mantissa: The leading digit, 1…9.
    ///   - exponent: The power of ten.
    /// - Returns: The label text.
    public static func label(mantissa: Int = 1, exponent: Int) -> String {
      if (0...2).contains(exponent) {
        var text = String(mantissa)
        text += String(repeating: "0", count: exponent)
        return text
      }
      return "\(mantissa)e\(exponent)"
    }
  }

  /// Treats magnitudes beyond 1e300 as non-finite, so that spans stay finite.
  static func clampMagnitude(_ value: Double) -> Double {
    isPlottable(value) ? value : .nan
  }
}
