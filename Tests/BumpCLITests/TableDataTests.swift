@testable import BumpCLI
import BumpKit
import Foundation
import Testing

/// ``TableData``: the training and validation rows, the plan and the standardisation that
/// `bump train` prepares from a CSV file, against a plain reference that does each step the
/// direct way (the rows gathered from the table in the shuffled order, medians from sorted
/// values, the statistics in three plain passes); and the parts it is made of
/// (``TrainingRows``, ``ColumnPlan/NumberSummary``) on their edge cases.
@Suite struct TableDataTests {
  // MARK: - The reference

  /// What the reference prepares: inputs and targets row by row, as bit patterns.
  struct Prepared: Equatable {
    var x: [UInt32]
    var y: [UInt32]
    var validationX: [UInt32]?
    var validationY: [UInt32]?
    var plan: ColumnPlan
    var standardization: Standardization?
  }

  static func bits(_ m: Matrix<Float>) -> [UInt32] { m.elements.map(\.bitPattern) }

  /// The median of `values` from their sorted order.
  static func sortedMedian(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    let n = sorted.count
    return n % 2 == 1 ? sorted[n / 2] : sorted[n / 2 - 1] / 2 + sorted[n / 2] / 2
  }

  /// The statistics of `x`'s columns in three passes over the rows in order, as
  /// ``Standardization/init(fitting:)`` defines them.
  static func referenceStatistics(_ x: Matrix<Float>) throws -> Standardization {
    var means = [Double](repeating: 0, count: x.columns)
    var largest = means
    var sums = means
    var scales = [Double](repeating: 1, count: x.columns)
    for i in 0..<x.rows {
      for j in 0..<x.columns { means[j] += (Double(x[i, j]) - means[j]) / Double(i + 1) }
    }
    for i in 0..<x.rows {
      for j in 0..<x.columns { largest[j] = max(largest[j], abs(Double(x[i, j]) - means[j])) }
    }
    for i in 0..<x.rows {
      for j in 0..<x.columns where largest[j] > 0 {
        let scaled = (Double(x[i, j]) - means[j]) / largest[j]
        sums[j] += scaled * scaled
      }
    }
    for j in 0..<x.columns where largest[j] > 0 {
      let s = largest[j] * (sums[j] / Double(x.rows)).squareRoot()
      if s > 0 && s.isFinite { scales[j] = s }
    }
    return try Standardization(mean: means, standardDeviation: scales)
  }

  /// The plan of one column fitted the direct way (for the columns these tests write).
  static func referencePlan(
    _ columns: [CSVColumn<Float>], training: [Int], rule: MissingRule
  ) -> ColumnPlan {
    var features: [ColumnPlan.Feature] = []
    var dropped: [ColumnPlan.Dropped] = []
    for column in columns {
      switch column.cells {
      case .numbers(let cells):
        let values = training.map { Double(cells[$0]) }.filter { !$0.isNaN }
        let missing = training.count - values.count
        if values.isEmpty || Set(values).count == 1 {
          dropped.append(
            ColumnPlan.Dropped(
              name: column.name,
              reason: values.isEmpty ? "constant (all missing)" : "constant (one value, \(formatted(values[0], digits: 6)))"))
          continue
        }
        features.append(
          ColumnPlan.Feature(
            name: column.name, categories: nil, other: false, canonicalNumbers: false,
            median: sortedMedian(values), indicator: missing > 0 && rule == .impute, missing: missing))
      case .texts(let codes, let texts):
        var counts = [Int](repeating: 0, count: texts.count)
        var missing = 0
        for r in training {
          if codes[r] == CSVColumn<Float>.missingCode { missing += 1 } else { counts[Int(codes[r])] += 1 }
        }
        let seen = counts.indices.filter { counts[$0] > 0 }
        let kept = seen.sorted {
          counts[$0] != counts[$1] ? counts[$0] > counts[$1] : ColumnPlan.textPrecedes(texts[$0], texts[$1])
        }.prefix(ColumnPlan.categoryLimit).map { texts[$0] }.sorted(by: ColumnPlan.textPrecedes)
        features.append(
          ColumnPlan.Feature(
            name: column.name, categories: kept, other: seen.count > ColumnPlan.categoryLimit,
            canonicalNumbers: true, median: nil, indicator: false, missing: missing))
      }
    }
    return ColumnPlan(missing: rule, features: features, dropped: dropped, numericClasses: nil)
  }

  /// The rows of `path` prepared the direct way: read, rows kept, shuffled, split, planned,
  /// gathered in the shuffled order with ``ColumnPlan/Encoder`` and standardised.
  static func reference(
    path: String, target: String, rule: MissingRule, split: Double, seed: UInt64
  ) throws -> Prepared {
    var reader = try CSVTableReader<Float>(path: path) { header, _ in
      [(target, .numbers)] + header.filter { $0 != target }.map { ($0, .automatic) }
    }
    let table = try #require(try reader.read())
    let targets = table.columns[0]
    let features = Array(table.columns.dropFirst())
    guard case .numbers(let y) = targets.cells else { throw CLIError.dataMismatch(path: path, reason: "target") }
    var order = (0..<table.rows).filter { r in
      !y[r].isNaN
        && (rule != .dropRows
          || features.allSatisfy { column in
            switch column.cells {
            case .numbers(let cells): !cells[r].isNaN
            case .texts(let codes, _): codes[r] != CSVColumn<Float>.missingCode
            }
          })
    }
    var generator = SeededGenerator(seed: seed &+ 0x5EED)
    var i = order.count - 1
    while i > 0 {
      let j = Int(generator.next().multipliedFullWidth(by: UInt64(i + 1)).high)
      order.swapAt(i, j)
      i -= 1
    }
    let held = split > 0 ? Int((Double(order.count) * split).rounded()) : 0
    let cut = order.count - held
    let training = Array(order[..<cut]).sorted()
    let plan = referencePlan(features, training: training, rule: rule)
    let used = plan.features.map { feature in features.first { $0.name == feature.name }! }
    let encoder = ColumnPlan.Encoder(plan: plan, columns: used)
    var tally = ColumnPlan.Tally(features: plan.features.count)
    let x = try encoder.encode(rows: order[..<cut], tally: &tally)
    let map = try referenceStatistics(x)
    func standardized(_ x: Matrix<Float>) -> [UInt32] {
      (0..<x.rows).flatMap { i in
        (0..<x.columns).map { j in Float((Double(x[i, j]) - map.mean[j]) / map.standardDeviation[j]).bitPattern }
      }
    }
    var prepared = Prepared(
      x: standardized(x), y: order[..<cut].map { y[$0].bitPattern }, plan: plan, standardization: map)
    if held > 0 {
      prepared.validationX = standardized(try encoder.encode(rows: order[cut...], tally: &tally))
      prepared.validationY = order[cut...].map { y[$0].bitPattern }
    }
    return prepared
  }

  /// What ``TableData`` prepares from `path`.
  static func prepared(
    path: String, target: String, rule: MissingRule, split: Double, seed: UInt64
  ) throws -> Prepared {
    let configuration = try trainConfiguration([
      "--data", path, "--target", target, "--task", "regression", "--missing", rule.rawValue,
      "--validation-split", "\(split)", "--seed", "\(seed)",
    ])
    let data = try TableData<Float>(configuration, budget: MemoryBudget(bytes: Int.max, source: "a test"))
    var plan = data.plan
    plan.numericClasses = nil
    return Prepared(
      x: bits(data.training.x), y: bits(data.training.y), validationX: data.validation.map { bits($0.x) },
      validationY: data.validation.map { bits($0.y) }, plan: plan, standardization: data.standardization)
  }

  /// A CSV file of `rows` rows: numbers with missing cells (`NA`, empty), a number column
  /// with many equal values, a text column of a few categories, a constant column, and the
  /// target `y` (missing in some rows).
  static func writeFile(rows: Int, seed: UInt64, in folder: TemporaryFolder) throws -> String {
    var generator = SeededGenerator(seed: seed)
    var text = "a,b,kind,c,flat,y\n"
    let kinds = ["red", "green", "blue", "teal"]
    for _ in 0..<rows {
      let u = generator.nextUnit()
      let a = generator.nextUnit() < 0.05 ? "NA" : "\(Float(generator.nextNormal() * 3))"
      let b = generator.nextUnit() < 0.02 ? "" : "\(Int(generator.nextUnit() * 4))"
      let kind = generator.nextUnit() < 0.03 ? "" : kinds[Int(generator.nextUnit() * 4)]
      let c = "\(Float(generator.nextUnit() * 100 - 50))"
      let y = u < 0.01 ? "NA" : "\(Float(u * 10))"
      text += "\(a),\(b),\(kind),\(c),7,\(y)\n"
    }
    let path = folder.path + "/d\(seed).csv"
    try text.write(toFile: path, atomically: false, encoding: .utf8)
    return path
  }

  // MARK: - TableData against the reference

  @Test(arguments: [
    (rows: 300, rule: MissingRule.impute, split: 0.2),
    (rows: 300, rule: MissingRule.dropRows, split: 0.25),
    (rows: 301, rule: MissingRule.impute, split: 0),
    (rows: 70_000, rule: MissingRule.impute, split: 0.2),
    (rows: 70_000, rule: MissingRule.dropRows, split: 0.1),
  ])
  func theRowsPlanAndStatisticsAreTheReferences(rows: Int, rule: MissingRule, split: Double) throws {
    let folder = try TemporaryFolder()
    for seed: UInt64 in [1, 42] {
      let path = try Self.writeFile(rows: rows, seed: seed, in: folder)
      let expected = try Self.reference(path: path, target: "y", rule: rule, split: split, seed: seed)
      let actual = try Self.prepared(path: path, target: "y", rule: rule, split: split, seed: seed)
      #expect(actual.plan == expected.plan)
      #expect(actual.standardization == expected.standardization)
      #expect(actual.y == expected.y, "targets in another order")
      #expect(actual.x == expected.x, "inputs differ")
      #expect(actual.validationX == expected.validationX && actual.validationY == expected.validationY)
      #expect(actual.plan.dropped.map(\.name) == ["flat"])
    }
  }

  // MARK: - The parts

  /// The median of large training parts (where it is placed by a sample) is that of the
  /// values sorted, whatever their distribution; with −0 among them it is ``ColumnPlan/median(_:)``'s.
  @Test func theSampledMedianIsTheMedian() {
    var generator = SeededGenerator(seed: 9)
    let n = 80_000
    let shapes: [(String, () -> Double)] = [
      ("normal", { generator.nextNormal() }),
      ("few values", { Double(Int(generator.nextUnit() * 3)) }),
      ("one value mostly", { generator.nextUnit() < 0.9 ? 5 : generator.nextNormal() }),
      ("wide", { pow(10, generator.nextUnit() * 60 - 30) * (generator.nextUnit() < 0.5 ? -1 : 1) }),
      ("with -0", { generator.nextUnit() < 0.3 ? -0.0 : (generator.nextUnit() < 0.5 ? 0 : 1) }),
    ]
    for (name, draw) in shapes {
      for sorted in [false, true] {
        var values = (0..<n).map { _ in Float(draw()) }
        if sorted { values.sort() }
        for k in stride(from: 0, to: n, by: 37) { values[k] = .nan }
        let training = (0..<n).map { _ in generator.nextUnit() < 0.8 }
        let kept = (0..<n).filter { training[$0] && !values[$0].isNaN }.map { Double(values[$0]) }
        let flagged = training.filter { $0 }.count
        let summary = training.withUnsafeBufferPointer {
          ColumnPlan.NumberSummary(CSVValues(values), training: $0, flagged: flagged)
        }
        let expected = name == "with -0" ? ColumnPlan.median(kept) : Self.sortedMedian(kept)
        #expect(summary.median?.bitPattern == expected.bitPattern, "\(name), sorted: \(sorted)")
        #expect(summary.count == kept.count && summary.missing == flagged - kept.count, "\(name)")
        #expect(summary.first == kept.first && summary.varies == (Set(kept).count > 1), "\(name)")
      }
    }
  }

  /// In-place shuffling puts row i where the seeded Fisher–Yates shuffle of the indices puts
  /// index i: 0, 1, 2 rows, and larger.
  @Test(arguments: [0, 1, 2, 3, 1000])
  func shufflingInPlaceIsTheShuffleOfTheIndices(rows: Int) throws {
    let width = 3
    var x = try Matrix<Float>(rows: rows, columns: width, elements: (0..<(rows * width)).map { Float($0) })
    var y = (0..<rows).map { Float($0) }
    TrainingRows.shuffle(&x, targets: &y, seed: 77)
    var order = Array(0..<rows)
    var generator = SeededGenerator(seed: 77)
    var i = rows - 1
    while i > 0 {
      let j = Int(generator.next().multipliedFullWidth(by: UInt64(i + 1)).high)
      order.swapAt(i, j)
      i -= 1
    }
    #expect(y == order.map { Float($0) })
    #expect(x.elements == order.flatMap { r in (0..<width).map { Float(r * width + $0) } })
  }

  /// Encoding is the same on one thread and on two (each a half of the rows), with dropped
  /// rows on both sides of the middle; and it frees the table's blocks.
  @Test func oneThreadAndTwoEncodeTheSameRows() throws {
    let rows = 5000
    var generator = SeededGenerator(seed: 3)
    // Blocks of uneven sizes, as the reader leaves them; fresh ones for each run, since
    // encoding gives the pages of the cells it has read back to the system (they read as
    // zeros afterwards).
    func column(_ values: [Float]) -> CSVValues<Float> {
      var blocks: [CSVValues<Float>.Block] = []
      var start = 0
      for size in [1, 700, 1024, 2000, 1275] {
        let base = UnsafeMutablePointer<Float>.allocate(capacity: size)
        for k in 0..<size { base[k] = values[start + k] }
        blocks.append(.init(base: base, count: size))
        start += size
      }
      #expect(start == rows)
      return CSVValues(blocks: blocks)
    }
    let aValues = (0..<rows).map { _ in generator.nextUnit() < 0.1 ? Float.nan : Float(generator.nextNormal()) }
    let tValues = (0..<rows).map { _ in Float(generator.nextUnit()) }
    let a = column(aValues)
    let t = column(tValues)
    let codes = (0..<rows).map { _ in generator.nextUnit() < 0.1 ? CSVColumn<Float>.missingCode : UInt32(generator.nextUnit() * 3) }
    let keep = (0..<rows).map { _ in generator.nextUnit() < 0.9 }
    var results: [TrainingRows<Float>] = []
    for threads in [1, 2] {
      var sources: [TrainingRows<Float>.Source] = [
        .numbers(column(aValues), fill: 42, indicator: true),
        .texts(codes: codes, categoryOf: [0, -1, 1], other: 2),
      ]
      var target = TrainingRows<Float>.Target.numbers(column(tValues))
      results.append(
        TrainingRows(
          rows: rows, keep: keep, kept: keep.filter { $0 }.count, sources: &sources, offsets: [0, 2],
          width: 5, target: &target, threads: threads, parallelRows: 100))
    }
    #expect(results[0].x.elements == results[1].x.elements)
    #expect(results[0].y == results[1].y)
    // Row by row against the cells.
    let kept = (0..<rows).filter { keep[$0] }
    var expected: [Float] = []
    for r in kept {
      let value = a[r]
      expected += value.isNaN ? [42, 1] : [value, 0]
      var hot: [Float] = [0, 0, 0]
      if codes[r] != CSVColumn<Float>.missingCode { hot[[0, 2, 1][Int(codes[r])]] = 1 }
      expected += hot
    }
    #expect(results[0].x.elements == expected)
    #expect(results[0].y == kept.map { t[$0] })
  }
}
