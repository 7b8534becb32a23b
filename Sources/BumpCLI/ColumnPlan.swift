import ArgumentParser
import BumpKit
import Dispatch

/// What `bump train` does with a feature cell that is missing (`--missing`).
enum MissingRule: String, Codable, CaseIterable, Sendable, ExpressibleByArgument {
  /// A number column's missing cells take the training part's median, and the column gets a
  /// 0/1 "was missing" input; a text column's are all zeros in its one-hot inputs.
  case impute
  /// Rows with a missing feature cell are left out of training.
  case dropRows = "drop-rows"
  /// A missing feature cell is an error, listing the cells.
  case error
}

/// How the columns of a CSV file become a model's inputs: fitted on the training part by
/// `bump train`, stored in the checkpoint (`column_plan`), and applied as they are by `bump
/// predict` and `bump evaluate`.
///
/// Each used feature column is either
/// - **numbers**: one input, the value; a missing cell takes ``Feature/median`` (the training
///   part's), and when the training part had missing cells in the column a second input,
///   `name (missing)`, is 1 for such a cell and 0 otherwise; or
/// - **categories**: one input per kept category, `name=category`, 1 for a cell of that
///   category; the ``categoryLimit`` most frequent categories of the training part are kept
///   (ties broken by text order), and when there were more, one more input `name=(other)`
///   takes the rest, and at prediction any category the model does not know. A missing cell
///   is all zeros.
///
/// A column with at most one distinct value in the training part (or none: all missing) is
/// dropped with a note.
struct ColumnPlan: Codable, Equatable, Sendable {
  /// The most categories kept per text column; the rest share one `(other)` input.
  static let categoryLimit = 32
  /// The category name of the input that takes lumped and unknown categories.
  static let otherCategory = "(other)"
  /// The most missing cells `--missing error` lists.
  static let missingListLimit = 20

  /// One used feature column.
  struct Feature: Codable, Equatable, Sendable {
    /// The header name.
    var name: String
    /// The kept categories in input order (text order); nil for a number column.
    var categories: [String]?
    /// Whether a categorical column has an `(other)` input.
    var other: Bool
    /// Whether a categorical column was recognised as text by the reader (not named by
    /// `--categorical`): its numbers are spelled canonically (`2007` for `2007.0`), so a
    /// number cell at prediction is matched in that spelling.
    var canonicalNumbers: Bool
    /// A number column's fill for a missing cell: the training part's median.
    var median: Double?
    /// Whether a number column has a `(missing)` input.
    var indicator: Bool
    /// The missing cells in the training part.
    var missing: Int
    /// A number column's piecewise-linear encoding (`--numeric-encoding piecewise-linear`):
    /// the bin edges b₀ < b₁ < … < b_T, quantiles of the training part's numbers, which give
    /// T more inputs after the value (and its `(missing)` input), `name (bin t)`, each
    /// ``piecewiseLinear(_:edges:)``'s t-th value; nil for none (and in a checkpoint written
    /// before the option).
    var edges: [Double]? = nil

    /// The number of piecewise-linear inputs: T for T + 1 edges, else 0.
    var bins: Int { edges.map { Swift.max($0.count - 1, 0) } ?? 0 }

    /// The number of model inputs the column becomes.
    var width: Int {
      categories.map { $0.count + (other ? 1 : 0) } ?? ((indicator ? 2 : 1) + bins)
    }

    /// The names of those inputs.
    var inputNames: [String] {
      if let categories {
        return categories.map { "\(name)=\($0)" } + (other ? ["\(name)=\(ColumnPlan.otherCategory)"] : [])
      }
      return (indicator ? [name, "\(name) (missing)"] : [name]) + (0..<bins).map { "\(name) (bin \($0 + 1))" }
    }

    /// How the column was read, for the summary and `bump inspect`.
    var description: String {
      if let categories {
        return "\(categories.count) categor\(categories.count == 1 ? "y" : "ies")"
          + (other ? " + other" : "") + (missing > 0 ? ", \(missing) missing → all zeros" : "")
      }
      let pieces = bins > 0 ? ", piecewise-linear in \(bins) bin\(bins == 1 ? "" : "s")" : ""
      guard missing > 0 else { return "numbers" + pieces }
      return "numbers with \(missing) missing → median \(formatted(median ?? 0, digits: 6))"
        + (indicator ? " + indicator" : "") + pieces
    }
  }

  // MARK: - Piecewise-linear encoding

  /// The least distinct training values a number column needs for a piecewise-linear
  /// encoding: a column with fewer (a 0/1 column, say) keeps its one input.
  static let piecewiseMinimumDistinct = 3

  /// The piecewise-linear encoding of `x` over the bins of `edges` (b₀ < b₁ < … < b_T): T
  /// values, the t-th (t = 1…T) 0 where x < b_{t−1}, 1 where x ≥ b_t, and
  /// (x − b_{t−1}) / (b_t − b_{t−1}) between (Gorishniy et al., 2022, eq. 2, clipped to
  /// [0, 1] in the first and last bin too): a value below b₀ is all zeros, one at or above
  /// b_T all ones. `x` is not NaN (a missing cell takes the column's fill first).
  static func piecewiseLinear(_ x: Double, edges: [Double]) -> [Double] {
    var out = [Double](repeating: 0, count: Swift.max(edges.count - 1, 0))
    out.withUnsafeMutableBufferPointer { out in
      edges.withUnsafeBufferPointer { edges in piecewiseLinear(x, edges: edges, into: out.baseAddress!, stride: 1) }
    }
    return out
  }

  /// ``piecewiseLinear(_:edges:)`` written to `out[0]`, `out[stride]`, … as `Element`s.
  @inline(__always)
  static func piecewiseLinear<Element: MatrixScalar>(
    _ x: Double, edges: UnsafeBufferPointer<Double>, into out: UnsafeMutablePointer<Element>, stride: Int
  ) {
    guard edges.count >= 2 else { return }
    for t in 1..<edges.count {
      let low = edges[t - 1]
      let high = edges[t]
      let e: Double
      if x >= high {
        e = 1
      } else if x < low {
        e = 0
      } else {
        e = (x - low) / (high - low)
      }
      out[(t - 1) * stride] = Element(e)
    }
  }

  /// The edges of a piecewise-linear encoding in `bins` bins for the numbers `values` (not
  /// empty, no NaN): the quantiles at t / `bins` (t = 0…bins), each interpolated linearly
  /// between the two values around its place (numpy's default), with repeated edges (ties
  /// in the values) kept once; nil when fewer than ``piecewiseMinimumDistinct`` values are
  /// distinct, more than `maximumDistinct`, or fewer than two edges remain.
  static func piecewiseEdges(_ values: [Double], bins: Int, maximumDistinct: Int? = nil) -> [Double]? {
    guard bins >= 1, !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let limit = maximumDistinct.map { $0 + 1 } ?? piecewiseMinimumDistinct
    var distinct = 1
    for i in 1..<sorted.count where sorted[i] != sorted[i - 1] {
      distinct += 1
      if distinct >= limit { break }
    }
    guard distinct >= piecewiseMinimumDistinct else { return nil }
    if let maximumDistinct, distinct > maximumDistinct { return nil }
    let last = Double(sorted.count - 1)
    var edges: [Double] = []
    for t in 0...bins {
      let place = last * Double(t) / Double(bins)
      let low = Swift.min(Int(place.rounded(.down)), sorted.count - 1)
      let high = Swift.min(low + 1, sorted.count - 1)
      let fraction = place - Double(low)
      var edge = sorted[low]
      if fraction > 0, sorted[high] != sorted[low] {
        edge = Swift.min(sorted[low] + fraction * (sorted[high] - sorted[low]), sorted[high])
      }
      if t == bins { edge = sorted[sorted.count - 1] }
      if let previous = edges.last, !(edge > previous) { continue }
      edges.append(edge)
    }
    return edges.count >= 2 ? edges : nil
  }

  /// The plan with a piecewise-linear encoding in `bins` bins for each number column with
  /// at least ``piecewiseMinimumDistinct`` distinct training values (and at most
  /// `maximumDistinct`, when given): edges fitted on the numbers of the training rows
  /// (flagged in `training`) of `columns` (one per feature, in plan order).
  func withPiecewiseLinear<Element: MatrixScalar>(
    bins: Int, maximumDistinct: Int? = nil, columns: [CSVColumn<Element>], training: [Bool]
  ) -> ColumnPlan {
    precondition(columns.count == features.count)
    var plan = self
    let edges = training.withUnsafeBufferPointer { training in
      let shared = UnsafeSendable(training)
      return concurrentMap(Array(zip(features, columns))) { feature, column -> [Double]? in
        guard feature.categories == nil, case .numbers(let cells) = column.cells else { return nil }
        var values: [Double] = []
        cells.forEachBlock { block, start in
          for i in block.indices where shared.value[start + i] && !block[i].isNaN {
            values.append(Double(block[i]))
          }
        }
        return ColumnPlan.piecewiseEdges(values, bins: bins, maximumDistinct: maximumDistinct)
      }
    }
    for f in plan.features.indices { plan.features[f].edges = edges[f] }
    return plan
  }

  /// A column left out of the model, and why.
  struct Dropped: Codable, Equatable, Sendable {
    var name: String
    var reason: String
  }

  /// The rule training used for missing feature cells; `error` also at prediction.
  var missing: MissingRule
  /// The used feature columns, in input order.
  var features: [Feature]
  /// The columns dropped by the plan (constant ones); `--ignore`d columns are not listed.
  var dropped: [Dropped]
  /// For classification: whether the class labels are numbers (matched by value: `2007.0` is
  /// class `2007`) rather than names (matched exactly); nil for regression.
  var numericClasses: Bool?

  /// The model's input names, in order.
  var inputNames: [String] { features.flatMap(\.inputNames) }

  /// The first input name that two inputs would share, with the columns that make them: a
  /// column named `x (missing)` beside a number column `x` with missing cells, `c=red` beside
  /// a text column `c` holding `red`, or (the same column twice) a category spelled `(other)`
  /// in a column that lumps categories. A model's input names must differ (a checkpoint with
  /// two equal ones is refused), so training refuses such a plan before it starts.
  var inputNameClash: (name: String, first: String, second: String)? {
    var owner: [String: String] = [:]
    for feature in features {
      for name in feature.inputNames {
        if let first = owner[name] { return (name, first, feature.name) }
        owner[name] = feature.name
      }
    }
    return nil
  }
  /// The number of model inputs.
  var width: Int { features.reduce(0) { $0 + $1.width } }

  /// The plan of a checkpoint written before plans: every feature a number column, a missing
  /// cell an error, numeric class labels their class indices.
  static func legacy(featureNames: [String], numericClasses: Bool?) -> ColumnPlan {
    ColumnPlan(
      missing: .error,
      features: featureNames.map {
        Feature(
          name: $0, categories: nil, other: false, canonicalNumbers: false, median: nil,
          indicator: false, missing: 0)
      },
      dropped: [], numericClasses: numericClasses)
  }

  /// One line per column: how it was read.
  var columnLines: [String] {
    var lines = features.map { "\(MessageText.quoted($0.name)): \($0.description)" }
    lines += dropped.map { "\(MessageText.quoted($0.name)): dropped: \($0.reason)" }
    return lines
  }

  /// The dropped columns for the summary: each with its reason, or more than 6 as one entry.
  private static func droppedText(_ dropped: [Dropped]) -> [String] {
    guard dropped.count > 6 else {
      return dropped.map { "\(MessageText.quoted($0.name)): dropped: \($0.reason)" }
    }
    let names = dropped.map { MessageText.quoted($0.name) }
    return ["\(dropped.count) constant columns dropped (\(names.prefix(3).joined(separator: ", ")), …, \(names.last!))"]
  }

  /// The one-line column summary of the training header: "Columns: "a": numbers; …".
  ///
  /// More than 6 number columns without missing cells are one entry: "20 number columns
  /// ("x0", "x1", "x2", …, "x19")".
  var summaryLine: String {
    let plain = features.filter { $0.categories == nil && $0.missing == 0 }
    guard plain.count > 6 else {
      let parts = features.map { "\(MessageText.quoted($0.name)): \($0.description)" } + Self.droppedText(dropped)
      return "Columns (missing: \(missing.rawValue)): " + parts.joined(separator: "; ")
    }
    let names = plain.map { MessageText.quoted($0.name) }
    var parts = [
      "\(plain.count) number columns (\(names.prefix(3).joined(separator: ", ")), …, \(names.last!))"
    ]
    parts += features.filter { $0.categories != nil || $0.missing > 0 }
      .map { "\(MessageText.quoted($0.name)): \($0.description)" }
    parts += Self.droppedText(dropped)
    return "Columns (missing: \(missing.rawValue)): " + parts.joined(separator: "; ")
  }

  // MARK: - Fitting

  /// Text order: Swift's `String` order, with canonically equivalent spellings ordered by
  /// their scalars (the order of class names).
  static func textPrecedes(_ a: String, _ b: String) -> Bool {
    a != b ? a < b : a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
  }

  /// The median of `values` (not empty): the middle value, or the mean of the two middle
  /// ones for an even count; the library's one median, which layer statistics use too.
  static func median(_ values: [Double]) -> Double { BumpKit.median(of: values) }

  /// The value of rank `k` (0-based) of `v`, which is reordered so that the values before
  /// position k are ≤ it and those after it are ≥ it: the library's selection, which its
  /// median uses. The values hold no NaN.
  static func select(_ v: UnsafeMutableBufferPointer<Double>, _ k: Int) -> Double { selectRank(k, in: v) }

  /// The plan for `columns` (the feature columns of a table), fitted on the rows `rows`.
  ///
  /// - Parameter categorical: the columns named by `--categorical` (read as text as
  ///   written).
  static func fit<Element: MatrixScalar>(
    columns: [CSVColumn<Element>], rows: [Int], missing rule: MissingRule, categorical: Set<String>
  ) -> ColumnPlan {
    let size = columns.first.map(\.count) ?? 0
    var chosen = [Bool](repeating: false, count: size)
    for r in rows { chosen[r] = true }
    return fit(columns: columns, training: chosen, missing: rule, categorical: categorical)
  }

  /// The plan for `columns` (the feature columns of a table), fitted on the rows whose flag
  /// in `training` (one per table row) is set.
  ///
  /// Medians, ranges and counts do not depend on the order of the rows: each column is read
  /// once or twice in file order, block by block, and the columns are shared among the
  /// processors. A median is selected among the few values near it (see
  /// ``medianOfColumn(_:training:)``), not from a copy of the column.
  static func fit<Element: MatrixScalar>(
    columns: [CSVColumn<Element>], training: [Bool], missing rule: MissingRule,
    categorical: Set<String>
  ) -> ColumnPlan {
    var flagged = 0
    for flag in training { flagged &+= flag ? 1 : 0 }
    let planned = training.withUnsafeBufferPointer { [flagged] training in
      let shared = UnsafeSendable(training)
      return concurrentMap(columns) { column in
        fitColumn(column, training: shared.value, flagged: flagged, missing: rule, categorical: categorical)
      }
    }
    var features: [Feature] = []
    var dropped: [Dropped] = []
    for result in planned {
      switch result {
      case .feature(let feature): features.append(feature)
      case .dropped(let column): dropped.append(column)
      }
    }
    return ColumnPlan(missing: rule, features: features, dropped: dropped, numericClasses: nil)
  }

  private enum ColumnFit {
    case feature(Feature)
    case dropped(Dropped)
  }

  /// The plan of one column, fitted on the rows flagged in `training`.
  private static func fitColumn<Element: MatrixScalar>(
    _ column: CSVColumn<Element>, training: UnsafeBufferPointer<Bool>, flagged: Int,
    missing rule: MissingRule, categorical: Set<String>
  ) -> ColumnFit {
    switch column.cells {
    case .numbers(let cells):
      let summary = NumberSummary(cells, training: training, flagged: flagged)
      guard summary.first != nil, summary.varies else {
        return .dropped(
          Dropped(
            name: column.name,
            reason: summary.first.map { "constant (one value, \(formatted($0, digits: 6)))" }
              ?? "constant (all missing)"))
      }
      return .feature(
        Feature(
          name: column.name, categories: nil, other: false, canonicalNumbers: false,
          median: summary.median,
          indicator: summary.missing > 0 && rule == .impute, missing: summary.missing))
    case .texts(let codes, let texts):
      let (counts, missing) = textCounts(Element.self, codes: codes, texts: texts.count, training: training)
      let seen = counts.indices.filter { counts[$0] > 0 }
      guard seen.count >= 2 else {
        return .dropped(
          Dropped(
            name: column.name,
            reason: seen.isEmpty
              ? "constant (all missing)" : "constant (one value, \(MessageText.quoted(texts[seen[0]])))"))
      }
      let byFrequency = seen.sorted {
        counts[$0] != counts[$1] ? counts[$0] > counts[$1] : textPrecedes(texts[$0], texts[$1])
      }
      let kept = byFrequency.prefix(categoryLimit).map { texts[$0] }.sorted(by: textPrecedes)
      return .feature(
        Feature(
          name: column.name, categories: kept, other: seen.count > categoryLimit,
          canonicalNumbers: !categorical.contains(column.name), median: nil, indicator: false,
          missing: missing))
    }
  }

  /// How many training cells (flagged in `training`, one flag per row) of a text column
  /// hold each of its `texts` texts, and how many are missing.
  static func textCounts<Element: MatrixScalar, Flags: RandomAccessCollection<Bool>>(
    _: Element.Type, codes: [UInt32], texts: Int, training: Flags
  ) -> (counts: [Int], missing: Int) where Flags.Index == Int {
    var counts = [Int](repeating: 0, count: texts)
    var missing = 0
    for r in codes.indices where training[r] {
      let code = codes[r]
      if code == CSVColumn<Element>.missingCode { missing += 1 } else { counts[Int(code)] += 1 }
    }
    return (counts, missing)
  }

  /// What one pass over a number column's training cells finds: how many there are and how
  /// many are missing, whether they vary, the first (in file order), and the median.
  ///
  /// The median is placed first by a sample of the training cells (every few rows): the
  /// pass counts the values below a sample value a and keeps those in [a, b], b another
  /// sample value, and the middle values are selected among those. Without −0 among the
  /// values, equal values have equal bits, so the value of each rank is the same whatever
  /// the method; with −0, or when the middle is not in [a, b] (a chance below 10⁻⁵), the
  /// median is that of all the values as one array in file order, as ``median(_:)`` takes
  /// it.
  struct NumberSummary {
    /// Training cells that hold a number.
    var count = 0
    /// Training cells that are missing.
    var missing = 0
    /// Whether the numbers are not all equal (−0 equals +0).
    var varies = false
    /// The first training number in file order.
    var first: Double?
    /// The median of the training numbers, if there are any.
    var median: Double?

    /// Rows sampled to place the median: about this many.
    static var sampleSize: Int { 16384 }

    /// - Parameter flagged: the rows flagged in `training`.
    init<Element: MatrixScalar>(_ cells: CSVValues<Element>, training: UnsafeBufferPointer<Bool>, flagged: Int) {
      let rows = training.count
      guard flagged > 0 else { return }
      // A small part: all its values, as one array (the median of few values).
      if flagged <= 2 * Self.sampleSize {
        var values: [Double] = []
        values.reserveCapacity(flagged)
        var start = 0
        for block in cells.blocks {
          for (i, cell) in block.values.enumerated() where training[start + i] && !cell.isNaN {
            values.append(Double(cell))
          }
          start += block.count
        }
        count = values.count
        missing = flagged - count
        guard !values.isEmpty else { return }
        varies = values.contains { $0 != values[0] }
        first = values[0]
        median = ColumnPlan.median(values)
        return
      }
      // The sample: the training numbers of every `stride`-th row.
      var sample: [Double] = []
      let stride = max(1, rows / Self.sampleSize)
      sample.reserveCapacity(rows / stride + 1)
      var start = 0
      for block in cells.blocks {
        var i = (stride - start % stride) % stride
        while i < block.count {
          let value = block.base[i]
          if training[start + i] && !value.isNaN { sample.append(Double(value)) }
          i += stride
        }
        start += block.count
      }
      // The middle ranks of the training numbers, estimated from the flagged rows (the
      // missing ones are not known yet): the rank of a sample value among all is within
      // about √s/2 sample places of its rank in the sample, so a margin of 2.5√s places (and
      // the missing share) keeps the middle inside [a, b] but for a rare chance, and the
      // values in [a, b] to a few thousandths of them.
      let s = Double(sample.count)
      let margin = 2.5 * s.squareRoot() + 4
      let lowIndex = Int((s / 2 - margin).rounded(.down))
      let highIndex = Int((s / 2 + margin).rounded(.up))
      // The sample values of those two ranks, selected rather than sorted: values of a rank
      // are the same whatever the method (the sample holds no NaN).
      let (lowBound, highBound) = sample.withUnsafeMutableBufferPointer { v -> (Double, Double) in
        let low = lowIndex <= 0 ? -Double.infinity : ColumnPlan.select(v, lowIndex)
        guard highIndex < v.count - 1 else { return (low, .infinity) }
        // After the first selection the values from lowIndex on are ≥ the low one: the high
        // rank is selected among them.
        let from = max(lowIndex, 0)
        let rest = UnsafeMutableBufferPointer(rebasing: v[from...])
        return (low, ColumnPlan.select(rest, highIndex - from))
      }

      // One pass, without a branch that depends on the data (a row's training flag is a
      // coin toss, and so is a value's side of a): counts, and the values in [a, b] written
      // to a scratch buffer whose end moves on only for them.
      let (lowE, highE) = (Element(lowBound), Element(highBound))
      var count = 0
      var below = 0
      var negativeZeros = 0
      var differ = 0
      var first: Element?
      var near: [Double] = []
      near.reserveCapacity(Int(3 * margin / max(s, 1) * Double(flagged)) + 16)
      let chunk = 4096
      withUnsafeTemporaryAllocation(of: Double.self, capacity: chunk) { scratch in
        var start = 0
        for block in cells.blocks {
          let values = block.values
          let flags = UnsafeRawPointer(training.baseAddress! + start).assumingMemoryBound(to: UInt8.self)
          if first == nil {
            for i in 0..<values.count where flags[i] != 0 && !values[i].isNaN {
              first = values[i]
              break
            }
          }
          let reference = first ?? 0
          var from = 0
          while from < values.count {
            let to = Swift.min(from + chunk, values.count)
            for i in from..<to {
              let value = values[i]
              let flag = Int(flags[i])
              let isNumber = value == value ? 1 : 0
              count &+= flag & isNumber
              below &+= flag & (value < lowE ? 1 : 0)
              differ &+= flag & isNumber & (value != reference ? 1 : 0)
              negativeZeros &+= flag & (value == 0 ? 1 : 0) & (value.sign == .minus ? 1 : 0)
            }
            var k = 0
            for i in from..<to {
              let value = values[i]
              scratch[k] = Double(value)
              // 3 when all three hold; a sum, which the compiler keeps free of branches (it
              // turns an `&` of the conditions into jumps).
              let holds = Int(flags[i]) &+ (value >= lowE ? 1 : 0) &+ (value <= highE ? 1 : 0)
              k &+= (holds &+ 1) >> 2
            }
            near.append(contentsOf: scratch[0..<k])
            from = to
          }
          start += values.count
        }
      }
      let negativeZero = negativeZeros > 0
      self.count = count
      missing = flagged - count
      guard count > 0 else { return }
      // Constant: every number equals the first (−0 equals +0, as `<` has it).
      self.first = first.map { Double($0) }
      varies = differ > 0
      let upperRank = count / 2
      let lowerRank = count % 2 == 0 ? upperRank - 1 : upperRank
      if !negativeZero, below <= lowerRank, upperRank < below + near.count {
        median = near.withUnsafeMutableBufferPointer { v in
          let upper = ColumnPlan.select(v, upperRank - below)
          guard lowerRank != upperRank else { return upper }
          // Every value before the upper middle is ≤ it: the lower middle is their largest.
          var lower = v[0]
          for i in 0..<(upperRank - below) where v[i] > lower { lower = v[i] }
          return lower / 2 + upper / 2
        }
        return
      }
      var values: [Double] = []
      values.reserveCapacity(count)
      start = 0
      for block in cells.blocks {
        for (i, cell) in block.values.enumerated() where training[start + i] && !cell.isNaN {
          values.append(Double(cell))
        }
        start += block.count
      }
      median = ColumnPlan.median(values)
    }
  }

  // MARK: - Encoding

  /// What encoding a batch met that prediction warns about, per feature.
  struct Tally {
    /// Categorical cells whose category is not one of the kept ones.
    var unknown: [Int]
    /// Missing number cells imputed in a column without a `(missing)` input.
    var imputed: [Int]
    /// An example of an unknown category per feature.
    var unknownExample: [String?]

    init(features: Int) {
      unknown = Array(repeating: 0, count: features)
      imputed = unknown
      unknownExample = Array(repeating: nil, count: features)
    }

    /// The warnings, one per column, for the file `source`.
    func warnings(plan: ColumnPlan, source: String) -> [String] {
      var lines: [String] = []
      for (f, feature) in plan.features.enumerated() {
        let name = MessageText.quoted(feature.name)
        if unknown[f] > 0 {
          let example = unknownExample[f].map { " (e.g. \(MessageText.quoted($0)))" } ?? ""
          let into = feature.other ? "read as \(ColumnPlan.otherCategory)" : "all zeros"
          lines.append(
            "Warning: \(source): \(name): \(unknown[f]) cell\(unknown[f] == 1 ? "" : "s") with a category the model does not know\(example), \(into)")
        }
        if imputed[f] > 0 {
          lines.append(
            "Warning: \(source): \(name): \(imputed[f]) missing cell\(imputed[f] == 1 ? "" : "s") (none in training) filled with the training median \(formatted(feature.median ?? 0, digits: 6))")
        }
      }
      return lines
    }
  }

  /// The encoder of one table (a whole file, or one batch of it): its columns matched to the
  /// plan's features, and its text codes to the plan's categories.
  struct Encoder<Element: MatrixScalar> {
    let plan: ColumnPlan
    let columns: [CSVColumn<Element>]
    /// Per feature: the input offset.
    let offsets: [Int]
    /// Per categorical feature: table code → category index, or -1 for an unknown one.
    let categoryOf: [[Int32]]

    /// - Parameter columns: the table's columns for the plan's features, in plan order.
    init(plan: ColumnPlan, columns: [CSVColumn<Element>]) {
      precondition(columns.count == plan.features.count)
      self.plan = plan
      self.columns = columns
      (offsets, categoryOf) = Self.layout(plan: plan, columns: columns)
    }

    /// Per feature of `plan`: its first input, and for a categorical one the map from the
    /// codes of its column in `columns` (in plan order) to its category indices (-1 for a
    /// category the plan does not keep).
    static func layout(plan: ColumnPlan, columns: [CSVColumn<Element>]) -> (offsets: [Int], categoryOf: [[Int32]]) {
      var offsets: [Int] = []
      var offset = 0
      for feature in plan.features {
        offsets.append(offset)
        offset += feature.width
      }
      let categoryOf: [[Int32]] = zip(plan.features, columns).map { feature, column in
        guard let categories = feature.categories, case .texts(_, let texts) = column.cells else {
          return []
        }
        var index: [[UInt32]: Int32] = [:]
        for (k, category) in categories.enumerated() {
          index[category.unicodeScalars.map(\.value)] = Int32(k)
        }
        return texts.map { text in
          if let k = index[text.unicodeScalars.map(\.value)] { return k }
          // A number written another way (`2007.0`) is the category the reader spelt `2007`.
          if feature.canonicalNumbers, let value = Element(text), value.isFinite {
            let canonical = CSVTableReader<Element>.canonicalText(value)
            if let k = index[canonical.unicodeScalars.map(\.value)] { return k }
          }
          return -1
        }
      }
      return (offsets, categoryOf)
    }

    /// The inputs of `rows` (table row indices), in that order.
    func encode(rows: some Collection<Int>, tally: inout Tally) throws -> Matrix<Element> {
      let width = plan.width
      var x = try Matrix<Element>(rows: rows.count, columns: width)
      x.withUnsafeMutableBufferPointer { out in
        for (f, feature) in plan.features.enumerated() {
          let offset = offsets[f]
          switch columns[f].cells {
          case .numbers(let cells):
            let fill = Element(feature.median ?? 0)
            func encodeNumbers<Values: RandomAccessCollection<Element>>(_ values: Values) where Values.Index == Int {
              var i = 0
              for r in rows {
                let value = values[r]
                if value.isNaN {
                  out[i * width + offset] = fill
                  if feature.indicator { out[i * width + offset + 1] = 1 } else { tally.imputed[f] += 1 }
                } else {
                  out[i * width + offset] = value
                }
                if let edges = feature.edges {
                  edges.withUnsafeBufferPointer { edges in
                    ColumnPlan.piecewiseLinear(
                      Double(value.isNaN ? fill : value), edges: edges,
                      into: out.baseAddress! + (i * width + offset + (feature.indicator ? 2 : 1)), stride: 1)
                  }
                }
                i += 1
              }
            }
            // A batch read for predict or evaluate is one block: indexed directly, not through
            // the collection's block search (a generic call per cell from this module).
            if cells.blocks.count == 1 {
              encodeNumbers(cells.blocks[0].values)
            } else {
              encodeNumbers(cells)
            }
          case .texts(let codes, let texts):
            let map = categoryOf[f]
            let otherOffset = feature.other ? offset + (feature.categories?.count ?? 0) : -1
            var i = 0
            for r in rows {
              let code = codes[r]
              if code != CSVColumn<Element>.missingCode {
                let k = Int(map[Int(code)])
                if k >= 0 {
                  out[i * width + offset + k] = 1
                } else {
                  if otherOffset >= 0 { out[i * width + otherOffset] = 1 }
                  tally.unknown[f] += 1
                  if tally.unknownExample[f] == nil { tally.unknownExample[f] = texts[Int(code)] }
                }
              }
              i += 1
            }
          }
        }
      }
      return x
    }
  }

  /// The reading kind of each feature column at prediction.
  var readingKinds: [(name: String, kind: CSVColumnKind)] {
    features.map { ($0.name, $0.categories == nil ? .numbers : .texts) }
  }
}

// MARK: - Class labels

/// The classes of a classification target read as text: its distinct labels, numbers sorted
/// by value (`2007` and `2007.0` are one class, named `2007`) or names in text order.
struct ClassLabels {
  /// Per text of the column: its class.
  var classOfText: [Int]
  /// The class names, in class order.
  var names: [String]
  /// Whether the labels are numbers.
  var numeric: Bool

  /// Whether a label spells a number: decimal text (see ``ExactDecimal``), whatever its
  /// magnitude (`1e400` and `1e-400` are classes of their own, as they are values of their
  /// own); `nan`, `inf`, `Infinity` and hexadecimal (`0x10`) are names.
  static func isNumber(_ text: String) -> Bool {
    ExactDecimal(text) != nil
  }

  /// The classes of the target column `column` (texts, `codes` one per row) of `path`.
  ///
  /// - Throws: ``CLIError/dataMismatch(path:reason:)`` for labels that mix numbers and names
  ///   (naming the first of each with its line: `lines` holds the line each text first
  ///   appears on).
  init(codes: [UInt32], texts: [String], lines: [Int], path: String, target: String) throws {
    let isNumber = texts.map(Self.isNumber)
    if isNumber.contains(true), isNumber.contains(false) {
      // The first row of each kind, in file order.
      var first: [Bool: (row: Int, text: String)] = [:]
      for (r, code) in codes.enumerated() where code != CSVColumn<Double>.missingCode {
        let kind = isNumber[Int(code)]
        if first[kind] == nil {
          // The first row of a kind is the first with its text.
          first[kind] = (Int(code) < lines.count ? lines[Int(code)] : r + 1, texts[Int(code)])
        }
        if first.count == 2 { break }
      }
      let (a, b) = (first[true]!, first[false]!)
      let (earlier, later) = a.row < b.row ? (a, b) : (b, a)
      func kind(_ text: String) -> String { Self.isNumber(text) ? "a number" : "a name" }
      throw CLIError.dataMismatch(
        path: path,
        reason:
          "line \(later.row), column \(MessageText.quoted(target)): class label \(MessageText.quoted(later.text)) is \(kind(later.text)) "
          + "but the label on line \(earlier.row) (\(MessageText.quoted(earlier.text))) is \(kind(earlier.text)); "
          + "labels must be all numbers or all names")
    }
    if isNumber.first == true {
      // Classes by exact value: labels that round to one `Double` but differ
      // (`9007199254740993` and `9007199254740992`) stay two classes.
      let keys = texts.map { ExactDecimal($0)! }
      let values = Array(Set(keys)).sorted()
      var classOf: [ExactDecimal: Int] = [:]
      for (k, v) in values.enumerated() { classOf[v] = k }
      classOfText = keys.map { classOf[$0]! }
      names = values.map(\.text)
      numeric = true
    } else {
      let order = texts.indices.sorted { ColumnPlan.textPrecedes(texts[$0], texts[$1]) }
      var classOf = [Int](repeating: 0, count: texts.count)
      for (rank, index) in order.enumerated() { classOf[index] = rank }
      classOfText = classOf
      names = order.map { texts[$0] }
      numeric = false
    }
  }
}

/// Matches the labels of a labelled file to a model's classes (`bump evaluate`).
struct ClassMatcher {
  private var byName: [[UInt32]: Int] = [:]
  private var byValue: [ExactDecimal: Int] = [:]
  let numeric: Bool
  let names: [String]

  /// For a model with `classes` classes named `names` (nil: numbered 0..<classes).
  init(classes: Int, names: [String]?, numeric: Bool) {
    self.numeric = numeric
    self.names = names ?? (0..<classes).map(String.init)
    if numeric {
      // A checkpoint written before exact labels named a class by its label's `Double` in
      // its shortest form (`1e-07`): the same exact value as the decimal labels it came from,
      // but for labels of more than 17 significant digits.
      for (k, name) in self.names.enumerated() {
        if let value = ExactDecimal(name) { byValue[value] = k }
      }
    } else {
      for (k, name) in self.names.enumerated() { byName[name.unicodeScalars.map(\.value)] = k }
    }
  }

  /// The class of `label`, or nil.
  func classOf(_ label: String) -> Int? {
    if numeric {
      return ExactDecimal(label).flatMap { byValue[$0] }
    }
    return byName[label.unicodeScalars.map(\.value)]
  }

  /// Why `label` is not one of the classes.
  func problem(_ label: String) -> String {
    let list = names.prefix(20).map(MessageText.quoted).joined(separator: ", ")
    if numeric, !ClassLabels.isNumber(label) {
      return "is a name, but the model was trained on numeric labels (\(list))"
    }
    if !numeric, ClassLabels.isNumber(label) {
      return "is a number, but the model's classes are names (\(list))"
    }
    return "is not one of the model's classes (\(list))"
  }
}

/// A decimal number's exact value: its sign, its significant digits (no leading or trailing
/// zero) and the power of ten of the last one. `2007`, `2007.0`, `+2.007e3` and `20070e-1`
/// are one value; `9007199254740993` and `9007199254740992`, one `Double`, are two.
struct ExactDecimal: Hashable, Comparable {
  /// Whether the value is below zero (never for zero).
  let negative: Bool
  /// The significant digits as ASCII bytes, first and last nonzero; empty for zero.
  let digits: [UInt8]
  /// The value is `digits` × 10^`exponent`.
  let exponent: Int

  /// The value of `text` in the decimal grammar `[+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?`,
  /// nil for any other text and for an exponent of more than 18 digits.
  init?(_ text: String) {
    var bytes = Array(text.utf8)[...]
    func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    var negative = false
    if let c = bytes.first, c == 0x2B || c == 0x2D {
      negative = c == 0x2D
      bytes = bytes.dropFirst()
    }
    var digits: [UInt8] = []
    var shift = 0, point = false
    while let c = bytes.first, isDigit(c) || (c == 0x2E && !point) {
      if c == 0x2E { point = true } else {
        digits.append(c)
        if point { shift -= 1 }
      }
      bytes = bytes.dropFirst()
    }
    guard !digits.isEmpty else { return nil }
    var exponent = 0
    if let c = bytes.first, c == 0x65 || c == 0x45 {
      bytes = bytes.dropFirst()
      var below = false
      if let c = bytes.first, c == 0x2B || c == 0x2D {
        below = c == 0x2D
        bytes = bytes.dropFirst()
      }
      guard !bytes.isEmpty, bytes.allSatisfy(isDigit) else { return nil }
      // Exact up to 18 digits; a longer exponent (beyond any label's use) is not a number.
      let significant = bytes.drop { $0 == 0x30 }
      guard significant.count <= 18 else { return nil }
      for c in significant { exponent = exponent * 10 + Int(c - 0x30) }
      if below { exponent = -exponent }
      bytes = bytes[bytes.endIndex...]
    }
    guard bytes.isEmpty else { return nil }
    let first = digits.firstIndex { $0 != 0x30 } ?? digits.endIndex
    let last = digits.lastIndex { $0 != 0x30 }.map { $0 + 1 } ?? first
    self.digits = Array(digits[first..<last])
    self.exponent = self.digits.isEmpty ? 0 : exponent + shift + (digits.count - last)
    self.negative = negative && !self.digits.isEmpty
  }

  /// The value written out: an integer or a plain decimal fraction when that takes at most
  /// 40 digits (`2007`, `-0.25`), else scientific notation (`1.5e-60`).
  var text: String {
    guard !digits.isEmpty else { return "0" }
    let sign = negative ? "-" : ""
    let all = String(decoding: digits, as: UTF8.self)
    let count = digits.count
    if exponent >= 0, count + exponent <= 40 {
      return sign + all + String(repeating: "0", count: exponent)
    }
    if exponent < 0, count + exponent > 0 {
      return sign + all.prefix(count + exponent) + "." + all.dropFirst(count + exponent)
    }
    if exponent < 0, -exponent <= 40 {
      return sign + "0." + String(repeating: "0", count: -exponent - count) + all
    }
    let mantissa = count == 1 ? all : all.prefix(1) + "." + all.dropFirst()
    return sign + mantissa + "e\(exponent + count - 1)"
  }

  static func < (a: ExactDecimal, b: ExactDecimal) -> Bool {
    if a.negative != b.negative { return a.negative }
    return a.negative ? magnitudeBelow(b, a) : magnitudeBelow(a, b)
  }

  /// Whether |a| < |b|.
  private static func magnitudeBelow(_ a: ExactDecimal, _ b: ExactDecimal) -> Bool {
    if a.digits.isEmpty || b.digits.isEmpty { return a.digits.isEmpty && !b.digits.isEmpty }
    // The power of ten of the leading digit decides, then the digits from the left.
    let (leadA, leadB) = (a.digits.count + a.exponent, b.digits.count + b.exponent)
    if leadA != leadB { return leadA < leadB }
    return a.digits.lexicographicallyPrecedes(b.digits)
  }
}

/// `transform` applied to each element of `items`, the elements shared among the processors
/// (Dispatch's `concurrentPerform`); the results in the order of `items`.
func concurrentMap<T, R>(_ items: [T], _ transform: (T) -> R) -> [R] {
  guard items.count > 1 else { return items.map(transform) }
  return [R](unsafeUninitializedCapacity: items.count) { buffer, initialized in
    withoutActuallyEscaping(transform) { transform in
      let shared = ConcurrentMapState(items: items, base: buffer.baseAddress!, transform: transform)
      DispatchQueue.concurrentPerform(iterations: items.count) { i in
        (shared.base + i).initialize(to: shared.transform(shared.items[i]))
      }
    }
    initialized = items.count
  }
}

/// A value that threads read but never write, such as a buffer pointer whose memory outlives
/// them.
struct UnsafeSendable<T>: @unchecked Sendable {
  let value: T
  init(_ value: T) { self.value = value }
}

/// What the iterations of ``concurrentMap(_:_:)`` share: they write disjoint elements and
/// read immutable state.
private struct ConcurrentMapState<T, R>: @unchecked Sendable {
  let items: [T]
  let base: UnsafeMutablePointer<R>
  let transform: (T) -> R
}
