import BumpKit

/// What the processes of a group (`mpirun`) agree on about the data, each holding its own
/// part of the rows: the column plan, the classes, the statistics of the standardizations.
/// Each result is the same on every process, and is what one process reading all the rows
/// would find, but for the rounding of sums added in another order.
enum GroupStatistics {
  // MARK: Exchange

  /// `strings` as bytes: each as its UTF-8 length (8 bytes) and bytes.
  static func encode(_ strings: [String]) -> [UInt8] {
    var bytes: [UInt8] = []
    for string in strings {
      var count = UInt64(string.utf8.count).littleEndian
      withUnsafeBytes(of: &count) { bytes += $0 }
      bytes += string.utf8
    }
    return bytes
  }

  /// The strings of ``encode(_:)``.
  static func decode(_ bytes: [UInt8]) -> [String] {
    var strings: [String] = []
    var at = 0
    while at + 8 <= bytes.count {
      var count: UInt64 = 0
      withUnsafeMutableBytes(of: &count) { $0.copyBytes(from: bytes[at..<(at + 8)]) }
      let n = Int(UInt64(littleEndian: count))
      at += 8
      strings.append(String(decoding: bytes[at..<(at + n)], as: UTF8.self))
      at += n
    }
    return strings
  }

  /// Every process's `strings`, by rank.
  static func allGather(_ strings: [String], in group: any ProcessGroup) throws -> [[String]] {
    try group.allGather(encode(strings)).map(decode)
  }

  /// The sums over the group of `values`.
  static func sum(_ values: [Int], in group: any ProcessGroup) throws -> [Int] {
    try group.sum(values.map(Double.init)).map { Int($0) }
  }

  // MARK: Classes

  /// The classes of a classification target over the group: the labels of every process's
  /// rows (`texts`, the local dictionary; `present`, whether a kept local row has each),
  /// ordered as one process orders them. Returns the classes and, per local text, its class
  /// (-1 for a text no kept row has).
  static func classes(
    texts: [String], lines: [Int], present: [Bool], path: String, target: String, in group: any ProcessGroup
  ) throws -> (names: [String], numeric: Bool, classOfText: [Int32]) {
    let gathered = try allGather(texts, in: group)
    var union: [String] = []
    var index: [String: Int] = [:]
    for list in gathered {
      for text in list where index[text] == nil {
        index[text] = union.count
        union.append(text)
      }
    }
    // The lines are the processes' own (as in the whole file): the message of labels that
    // mix numbers and names names a line of some process.
    let allLines = try group.allGather(encode(lines.map(String.init))).flatMap { decode($0).compactMap { Int($0) } }
    var unionLines = [Int](repeating: 0, count: union.count)
    var k = 0
    for list in gathered {
      for text in list {
        if k < allLines.count, unionLines[index[text]!] == 0 { unionLines[index[text]!] = allLines[k] }
        k += 1
      }
    }
    let labels = try Processes.agreeing("reading the class labels") {
      try ClassLabels(
        codes: (0..<union.count).map { UInt32($0) }, texts: union, lines: unionLines, path: path, target: target)
    }
    var presence = [Int](repeating: 0, count: labels.names.count)
    for (t, text) in texts.enumerated() where present[t] { presence[labels.classOfText[index[text]!]] = 1 }
    presence = try sum(presence, in: group)
    var renumber = [Int](repeating: -1, count: labels.names.count)
    var names: [String] = []
    for c in presence.indices where presence[c] > 0 {
      renumber[c] = names.count
      names.append(labels.names[c])
    }
    let classOfText = texts.map { Int32(renumber[labels.classOfText[index[$0]!]]) }
    return (names, labels.numeric, classOfText)
  }

  // MARK: Column plan

  /// The plan of `columns` fitted on the training rows of every process (flagged in
  /// `training`, the local rows): as ``ColumnPlan/fit(columns:training:missing:categorical:)``
  /// fits it on all of them. The processes must have read every column as the same kind
  /// (numbers or text); a column read otherwise by some is refused, naming it.
  static func plan<Element: MatrixScalar>(
    columns: [CSVColumn<Element>], training: [Bool], missing rule: MissingRule, categorical: Set<String>,
    path: String, in group: any ProcessGroup
  ) throws -> ColumnPlan {
    // The kinds first: the rest of the exchange depends on them.
    let kinds = columns.map { column -> Int in
      if case .numbers = column.cells { return 1 } else { return 2 }
    }
    var slots = [Int](repeating: 0, count: columns.count * group.size)
    for (c, kind) in kinds.enumerated() { slots[group.rank * columns.count + c] = kind }
    let allKinds = try sum(slots, in: group)
    for c in columns.indices {
      let seen = (0..<group.size).map { allKinds[$0 * columns.count + c] }
      if Set(seen).count > 1 {
        let numbers = seen.indices.filter { seen[$0] == 1 }
        throw CLIError.dataMismatch(
          path: path,
          reason: "column \(MessageText.quoted(columns[c].name)) holds mostly numbers in the part of process\(numbers.count == 1 ? "" : "es") "
            + "\(numbers.map(String.init).joined(separator: ", ")) and mostly text in the others: read as one file it could be either; "
            + "name it in --categorical to read it as categories, or fix its cells")
      }
    }

    let numberColumns = columns.indices.filter { kinds[$0] == 1 }
    let textColumns = columns.indices.filter { kinds[$0] == 2 }
    var features = [ColumnPlan.Feature?](repeating: nil, count: columns.count)
    var dropped = [ColumnPlan.Dropped?](repeating: nil, count: columns.count)

    // Numbers: counts, whether they vary, the first value (in rank order), the median.
    var local: [Double] = []
    var firsts: [Double] = []
    for c in numberColumns {
      guard case .numbers(let values) = columns[c].cells else { continue }
      var count = 0, missing = 0
      var first: Double?
      var varies = false
      var start = 0
      for block in values.blocks {
        for (i, cell) in block.values.enumerated() where training[start + i] {
          if cell.isNaN {
            missing += 1
            continue
          }
          count += 1
          let value = Double(cell)
          if let first { if value != first { varies = true } } else { first = value }
        }
        start += block.count
      }
      local += [Double(count), Double(missing), varies ? 1 : 0]
      firsts += [first == nil ? 0 : 1, first ?? 0]
    }
    let totals = try group.sum(local)
    // Each process's first value, in its own slots.
    var firstSlots = [Double](repeating: 0, count: 2 * numberColumns.count * group.size)
    for i in firsts.indices { firstSlots[group.rank * firsts.count + i] = firsts[i] }
    let allFirsts = try group.sum(firstSlots)
    var medianRanks: [(column: Int, ranks: [Int])] = []
    var summaries: [(count: Int, missing: Int, first: Double?, varies: Bool)] = []
    for (j, c) in numberColumns.enumerated() {
      let (count, missing) = (Int(totals[3 * j]), Int(totals[3 * j + 1]))
      var varies = totals[3 * j + 2] > 0
      var first: Double?
      for r in 0..<group.size {
        let base = r * firsts.count + 2 * j
        guard allFirsts[base] > 0 else { continue }
        if let first { if allFirsts[base + 1] != first { varies = true } } else { first = allFirsts[base + 1] }
      }
      summaries.append((count, missing, first, varies))
      if count > 0, varies {
        let upper = count / 2
        medianRanks.append((c, count % 2 == 0 ? [upper - 1, upper] : [upper]))
      }
    }
    let selected = try select(
      medianRanks.flatMap { item in item.ranks.map { (item.column, $0) } }, of: columns, training: training,
      in: group)
    var medians: [Int: Double] = [:]
    var at = 0
    for item in medianRanks {
      if item.ranks.count == 1 {
        medians[item.column] = selected[at]
      } else {
        medians[item.column] = selected[at] / 2 + selected[at + 1] / 2
      }
      at += item.ranks.count
    }
    for (j, c) in numberColumns.enumerated() {
      let summary = summaries[j]
      let name = columns[c].name
      guard let first = summary.first, summary.varies else {
        dropped[c] = ColumnPlan.Dropped(
          name: name,
          reason: summary.first.map { "constant (one value, \(formatted($0, digits: 6)))" } ?? "constant (all missing)")
        continue
      }
      _ = first
      features[c] = ColumnPlan.Feature(
        name: name, categories: nil, other: false, canonicalNumbers: false, median: medians[c],
        indicator: summary.missing > 0 && rule == .impute, missing: summary.missing)
    }

    // Text: every process's counts of its texts on training rows, merged by text.
    for c in textColumns {
      guard case .texts(let codes, let texts) = columns[c].cells else { continue }
      var (counts, missing) = ColumnPlan.textCounts(Element.self, codes: codes, texts: texts.count, training: training)
      let seenHere = counts.indices.filter { counts[$0] > 0 }
      let gathered = try allGather(seenHere.map { texts[$0] } + seenHere.map { String(counts[$0]) }, in: group)
      var merged: [String: Int] = [:]
      for list in gathered {
        let half = list.count / 2
        for i in 0..<half { merged[list[i], default: 0] += Int(list[half + i]) ?? 0 }
      }
      missing = try sum([missing], in: group)[0]
      let name = columns[c].name
      let seen = Array(merged.keys)
      guard seen.count >= 2 else {
        dropped[c] = ColumnPlan.Dropped(
          name: name,
          reason: seen.isEmpty ? "constant (all missing)" : "constant (one value, \(MessageText.quoted(seen[0])))")
        continue
      }
      let byFrequency = seen.sorted {
        merged[$0]! != merged[$1]! ? merged[$0]! > merged[$1]! : ColumnPlan.textPrecedes($0, $1)
      }
      let kept = byFrequency.prefix(ColumnPlan.categoryLimit).sorted(by: ColumnPlan.textPrecedes)
      features[c] = ColumnPlan.Feature(
        name: name, categories: Array(kept), other: seen.count > ColumnPlan.categoryLimit,
        canonicalNumbers: !categorical.contains(name), median: nil, indicator: false, missing: missing)
    }
    return ColumnPlan(
      missing: rule, features: features.compactMap { $0 }, dropped: dropped.compactMap { $0 }, numericClasses: nil)
  }

  /// The value of each rank (0-based, in ascending order of value) asked for, among the
  /// training numbers of a column over every process: `selections` pairs a column with a
  /// rank. Exact, by radix selection: eight rounds, each a pass over the columns asked for
  /// and one exchange of their 256-bucket histograms of the next byte of an order-keeping
  /// key (−0 counts as +0).
  static func select<Element: MatrixScalar>(
    _ selections: [(column: Int, rank: Int)], of columns: [CSVColumn<Element>], training: [Bool],
    in group: any ProcessGroup
  ) throws -> [Double] {
    guard !selections.isEmpty else { return [] }
    @inline(__always) func key(_ value: Element) -> UInt64 {
      let bits = (Double(value) + 0).bitPattern
      return bits >> 63 == 1 ? ~bits : bits | (1 << 63)
    }
    var prefixes = [UInt64](repeating: 0, count: selections.count)
    var remaining = selections.map(\.rank)
    for round in 0..<8 {
      let shift = UInt64(56 - 8 * round)
      var histogram = [Double](repeating: 0, count: 256 * selections.count)
      for (s, selection) in selections.enumerated() {
        guard case .numbers(let values) = columns[selection.column].cells else { continue }
        let prefix = prefixes[s]
        var counts = [Int](repeating: 0, count: 256)
        var start = 0
        for block in values.blocks {
          for (i, cell) in block.values.enumerated() where training[start + i] && !cell.isNaN {
            let k = key(cell)
            // Only the keys whose higher bytes are the ones chosen so far.
            if round == 0 || k >> (shift + 8) == prefix { counts[Int((k >> shift) & 0xFF)] += 1 }
          }
          start += block.count
        }
        for b in 0..<256 { histogram[256 * s + b] = Double(counts[b]) }
      }
      histogram = try group.sum(histogram)
      for s in selections.indices {
        var below = 0
        for b in 0..<256 {
          let n = Int(histogram[256 * s + b])
          if remaining[s] < below + n {
            prefixes[s] = prefixes[s] << 8 | UInt64(b)
            remaining[s] -= below
            break
          }
          below += n
        }
      }
    }
    return prefixes.map { k in Double(bitPattern: k >> 63 == 1 ? k & ~(1 << 63) : ~k) }
  }

  // MARK: Standardization

  /// The mean and standard deviation of each column of `x` over the rows of every process
  /// (a deviation of 0, or not finite, becomes 1), as `Standardization(fitting:)` finds
  /// them on all the rows.
  static func standardization<Element: MatrixScalar>(of x: Matrix<Element>, in group: any ProcessGroup) throws
    -> Standardization
  {
    let (rows, columns) = (x.rows, x.columns)
    var sums = [Double](repeating: 0, count: columns + 1)
    x.withUnsafeBufferPointer { v in
      for i in 0..<rows { for j in 0..<columns { sums[j] += Double(v[i * columns + j]) } }
    }
    sums[columns] = Double(rows)
    sums = try group.sum(sums)
    let n = max(sums[columns], 1)
    let means = (0..<columns).map { sums[$0] / n }
    var squares = [Double](repeating: 0, count: columns)
    x.withUnsafeBufferPointer { v in
      for i in 0..<rows {
        for j in 0..<columns {
          let d = Double(v[i * columns + j]) - means[j]
          squares[j] += d * d
        }
      }
    }
    squares = try group.sum(squares)
    let deviations = squares.map { s -> Double in
      let d = (s / n).squareRoot()
      return d > 0 && d.isFinite ? d : 1
    }
    return try Standardization(mean: means, standardDeviation: deviations)
  }

  // MARK: Baselines

  /// ``Baseline/meanPredictorMSE(trainingTargets:targets:)`` over the rows of every process:
  /// the training part's mean over all of them, scored on every process's `targets`.
  static func meanPredictorMSE<Element: MatrixScalar>(
    trainingTargets: Matrix<Element>, targets: Matrix<Element>, in group: any ProcessGroup
  ) throws -> Double {
    let columns = trainingTargets.columns
    let sums = try group.sum(EndOfRunPass<Element>.columnSums(trainingTargets) + [Double(trainingTargets.rows)])
    let means = sums.prefix(columns).map { $0 / max(sums[columns], 1) }
    var squares = 0.0
    targets.withUnsafeBufferPointer { t in
      for i in t.indices {
        let d = Double(t[i]) - means[i % columns]
        squares += d * d
      }
    }
    let total = try group.sum([squares, Double(targets.rows * targets.columns)])
    return total[0] / max(total[1], 1)
  }

  /// ``Baseline/majorityClassAccuracy(trainingLabels:labels:)`` over the rows of every
  /// process: the most frequent class of all the training labels (the smallest among equally
  /// frequent ones), scored on every process's `labels`.
  static func majorityClassAccuracy<Element: MatrixScalar>(
    trainingLabels: Matrix<Element>, labels: Matrix<Element>, in group: any ProcessGroup
  ) throws -> Double {
    var largest = 0
    trainingLabels.withUnsafeBufferPointer { for v in $0 { largest = max(largest, Int(v)) } }
    labels.withUnsafeBufferPointer { for v in $0 { largest = max(largest, Int(v)) } }
    let classes = (try group.allGather(largest).max() ?? 0) + 1
    var counts = [Double](repeating: 0, count: classes)
    trainingLabels.withUnsafeBufferPointer { for v in $0 { counts[Int(v)] += 1 } }
    counts = try group.sum(counts)
    var majority = 0
    for k in counts.indices where counts[k] > counts[majority] { majority = k }
    var hits = 0
    labels.withUnsafeBufferPointer { for v in $0 where Int(v) == majority { hits += 1 } }
    let total = try group.sum([Double(hits), Double(labels.rows)])
    return total[0] / max(total[1], 1)
  }

  // MARK: Layer statistics

  /// The bump layers' statistics over every process's rows: each process's counts and input
  /// ranges joined (the parameters are the same everywhere).
  static func layerStatistics(_ local: [BumpLayerStatistics], in group: any ProcessGroup) throws
    -> [BumpLayerStatistics]
  {
    // Per layer: the rows and counts summed; each process's range in its own slots.
    var sums: [Double] = []
    var ranges = [Double](repeating: 0, count: 3 * local.count * group.size)
    for (k, s) in local.enumerated() {
      sums += [Double(s.samples)] + s.supportCountPerUnit.map(Double.init)
      if let range = s.inputRange {
        let at = 3 * (group.rank * local.count + k)
        (ranges[at], ranges[at + 1], ranges[at + 2]) = (1, range.lowerBound, range.upperBound)
      }
    }
    sums = try group.sum(sums)
    ranges = try group.sum(ranges)
    var merged: [BumpLayerStatistics] = []
    var at = 0
    for (k, s) in local.enumerated() {
      let units = s.supportCountPerUnit.count
      let samples = Int(sums[at]), counts = sums[(at + 1)...(at + units)].map { Int($0) }
      at += 1 + units
      var range: ClosedRange<Double>?
      for r in 0..<group.size {
        let base = 3 * (r * local.count + k)
        guard ranges[base] > 0 else { continue }
        let next = ranges[base + 1]...ranges[base + 2]
        range = range.map { min($0.lowerBound, next.lowerBound)...max($0.upperBound, next.upperBound) } ?? next
      }
      merged.append(s.replacing(samples: samples, counts: counts, inputRange: range))
    }
    return merged
  }
}
