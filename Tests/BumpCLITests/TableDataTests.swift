@testable import BumpCLI
import BumpKit
import Foundation
import Testing
import BumpTestSupport

/// ``TableData``: the training and validation rows, the plan and the standardisation that
/// `bump train` prepares from a CSV file, against a plain reference that does each step the
/// direct way (the rows gathered from the table in the order of ``BucketShuffle/order()``,
/// medians from sorted values, the statistics in extended precision); and the parts it is
/// made of (``TrainingRows``, ``ColumnPlan/NumberSummary``) on their edge cases.
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

  /// The mean and population standard deviation of each column of `x`, in `Float80` (1 for
  /// a constant column).
  static func referenceStatistics(_ x: Matrix<Float>) -> [(mean: Float80, deviation: Float80)] {
    (0..<x.columns).map { j in
      let values = (0..<x.rows).map { Float80(x[$0, j]) }
      let mean = values.reduce(0, +) / Float80(values.count)
      guard Set(values).count > 1 else { return (values[0], 1) }
      let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float80(values.count)
      return (mean, variance.squareRoot())
    }
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
    path: String, target: String, rule: MissingRule, split: Double, seed: UInt64, computed: Standardization?
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
    let permutation = BucketShuffle(rows: order.count, seed: seed &+ 0x5EED).order()
    order = permutation.map { order[$0] }
    let held = split > 0 ? Int((Double(order.count) * split).rounded()) : 0
    let cut = order.count - held
    let training = Array(order[..<cut]).sorted()
    let plan = referencePlan(features, training: training, rule: rule)
    let used = plan.features.map { feature in features.first { $0.name == feature.name }! }
    let encoder = ColumnPlan.Encoder(plan: plan, columns: used)
    var tally = ColumnPlan.Tally(features: plan.features.count)
    let x = try encoder.encode(rows: order[..<cut], tally: &tally)
    let statistics = referenceStatistics(x)
    // The statistics to a few units in the last place; the inputs exactly as
    // `Standardization.apply` maps the raw ones with the statistics computed.
    let map = try #require(computed)
    for (j, (mean, deviation)) in statistics.enumerated() {
      let tolerance: Float80 = 1e-12 * (deviation + abs(mean))
      #expect(abs(Float80(map.mean[j]) - mean) <= tolerance, "mean of input \(j)")
      #expect(abs(Float80(map.standardDeviation[j]) - deviation) <= 1e-12 * deviation, "deviation of input \(j)")
    }
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
      "--validation-split", "\(split)", "--seed", "\(seed)", "--numeric-encoding", "plain",
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
      let actual = try Self.prepared(path: path, target: "y", rule: rule, split: split, seed: seed)
      let expected = try Self.reference(
        path: path, target: "y", rule: rule, split: split, seed: seed, computed: actual.standardization)
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

  /// Encoding into buckets and shuffling them in place puts the kept rows in the order of
  /// ``BucketShuffle/order()`` (on one thread and on two), and ``TrainingRows/Placement/before(_:rows:keep:shuffle:)``
  /// flags exactly the rows that end before the cut: 0–3 rows, one bucket, several.
  @Test(arguments: [0, 1, 2, 3, 1000, 9000, 30_000])
  func theRowsLandInTheShufflesOrder(rows: Int) throws {
    var generator = SeededGenerator(seed: UInt64(rows) &+ 5)
    let keep = rows > 100 ? (0..<rows).map { _ in generator.nextUnit() < 0.9 } : nil
    let kept = (0..<rows).filter { keep?[$0] ?? true }
    let shuffle = BucketShuffle(rows: kept.count, seed: 77)
    let placement = TrainingRows<Float>.Placement(rows: rows, keep: keep, shuffle: shuffle)
    #expect(placement.starts.count == shuffle.buckets + 1 && placement.starts.last == kept.count)
    let expected = shuffle.order().map { Float(kept[$0]) }
    for threads in [1, 2] {
      let values = (0..<rows).map(Float.init)
      var sources: [TrainingRows<Float>.Source] = [
        .numbers(CSVValues(values), fill: 0, mean: 0, deviation: 1, indicator: nil)
      ]
      var target = TrainingRows<Float>.Target.numbers(CSVValues(values))
      var encoded = TrainingRows(
        rows: rows, keep: keep, placement: placement, sources: &sources, offsets: [0], width: 1,
        target: &target, threads: threads, parallelRows: 100)
      let cut = kept.count * 2 / 3
      let held = TrainingRows.shuffleBuckets(
        &encoded.x, targets: &encoded.y, shuffle: shuffle, starts: placement.starts, threads: threads,
        copyingFrom: cut)
      #expect(encoded.y == expected, "\(threads) threads")
      #expect(encoded.x.elements == expected, "\(threads) threads")
      // The rows from the cut on, copied out.
      #expect(held?.y == (cut < kept.count ? Array(expected[cut...]) : nil))
      #expect(held?.x.elements == (cut < kept.count ? Array(expected[cut...]) : nil))
    }
    for cut in Set([0, kept.count / 3, kept.count - 1, kept.count]) where cut >= 0 {
      let flags = placement.before(cut, rows: rows, keep: keep, shuffle: shuffle)
      let flagged = Set((0..<rows).filter { flags[$0] }.map(Float.init))
      #expect(flagged == Set(expected.prefix(cut)), "cut \(cut)")
    }
  }

  /// A column's statistics are those of its training values to a few units in the last
  /// place, with the missing training cells taking the fill: ordinary values, values far
  /// from zero with a small spread, and `Double` values whose squares overflow (the running
  /// mean and scaled deviations take over).
  @Test(arguments: [(0.0, 1.0), (1e7, 1e-3), (-3e5, 2.0), (1e300, 5e299), (-1e200, 1e199)])
  func numberStatisticsAreTheTrainingValues(offset: Double, spread: Double) throws {
    var generator = SeededGenerator(seed: 21)
    let n = 20_000
    let values = (0..<n).map { i in i % 97 == 0 ? Double.nan : offset + spread * generator.nextNormal() }
    let training = (0..<n).map { _ in generator.nextUnit() < 0.8 }
    let flagged = training.filter { $0 }.count
    let missing = (0..<n).filter { training[$0] && values[$0].isNaN }.count
    let numbers = (0..<n).filter { training[$0] && !values[$0].isNaN }.map { values[$0] }
    let median = ColumnPlan.median(numbers)
    let fill = median
    let statistics = training.withUnsafeBufferPointer {
      InputStatistics.numbers(
        CSVValues(values), fill: fill, median: median, missing: missing, training: $0, n: flagged)
    }
    // In Float80, from the values scaled down by the spread (no overflow).
    let scale = Float80(spread)
    let all = numbers.map { Float80($0) / scale } + [Float80](repeating: Float80(fill) / scale, count: missing)
    let mean = all.reduce(0, +) / Float80(all.count)
    let deviation = (all.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float80(all.count)).squareRoot()
    #expect(abs(Float80(statistics.mean) / scale - mean) <= 1e-12 * (deviation + abs(mean)), "mean")
    #expect(abs(Float80(statistics.deviation) / scale - deviation) <= 1e-11 * deviation, "deviation")
  }

  /// Regression targets are standardised by their mean and population standard deviation
  /// to a few units in the last place: ordinary values, values far from zero with a small
  /// spread (where a one-pass sum of squares would cancel), a constant column (s = 1), and
  /// `Double` values whose squares overflow (the library's form takes over). A NaN throws
  /// the library's error.
  @Test(arguments: [(0.0, 1.0), (1e7, 1e-3), (-3e5, 2.0), (5.0, 0.0), (1e300, 5e299)])
  func targetStatisticsAreTheValues(offset: Double, spread: Double) throws {
    var generator = SeededGenerator(seed: 5)
    for (rows, columns) in [(10_003, 1), (4097, 2), (3, 1)] {
      let values = (0..<rows * columns).map { _ in offset + spread * generator.nextNormal() }
      let map = try InputStatistics.targets(try Matrix<Double>(rows: rows, columns: columns, elements: values))
      for j in 0..<columns {
        let scale = Float80(spread == 0 ? 1 : spread)
        let column = (0..<rows).map { Float80(values[$0 * columns + j]) / scale }
        let mean = column.reduce(0, +) / Float80(rows)
        let deviation = (column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float80(rows)).squareRoot()
        #expect(abs(Float80(map.mean[j]) / scale - mean) <= 1e-12 * (deviation + abs(mean)), "mean \(rows)×\(columns)")
        if spread == 0 {
          #expect(map.standardDeviation[j] == 1)
        } else {
          #expect(abs(Float80(map.standardDeviation[j]) / scale - deviation) <= 1e-11 * deviation, "s \(rows)×\(columns)")
        }
      }
    }
    let floats = try Matrix<Float>(rows: 5, columns: 1, elements: [1, 2, 3, 4, 6])
    let map = try InputStatistics.targets(floats)
    #expect(abs(map.mean[0] - 3.2) < 1e-15 && abs(map.standardDeviation[0] - 1.7204650534085253) < 1e-15)
    let bad = try Matrix<Float>(rows: 3, columns: 1, elements: [1, .nan, 2])
    #expect(throws: BumpKitError.self) { try InputStatistics.targets(bad) }
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
    let codes = (0..<rows).map { _ in generator.nextUnit() < 0.1 ? CSVColumn<Float>.missingCode : UInt32(generator.nextUnit() * 3) }
    let keep = (0..<rows).map { _ in generator.nextUnit() < 0.9 }
    var results: [TrainingRows<Float>] = []
    for threads in [1, 2] {
      var sources: [TrainingRows<Float>.Source] = [
        .numbers(column(aValues), fill: 42, mean: 0.5, deviation: 3, indicator: (-0.25, 4)),
        .texts(codes: codes, categoryOf: [0, -1, 1], other: 2, zeros: [-1, -2, -3], ones: [1, 2, 3]),
      ]
      var target = TrainingRows<Float>.Target.numbers(column(tValues))
      let placement = TrainingRows<Float>.Placement(
        rows: rows, keep: keep, shuffle: BucketShuffle(rows: keep.filter { $0 }.count, seed: 1))
      results.append(
        TrainingRows(
          rows: rows, keep: keep, placement: placement, sources: &sources, offsets: [0, 2],
          width: 5, target: &target, threads: threads, parallelRows: 100))
    }
    #expect(results[0].x.elements == results[1].x.elements)
    #expect(results[0].y == results[1].y)
    // Row by row against the cells (one bucket: file order), standardised: a number as
    // `Standardization.apply` maps it, the fill and each 0/1 input as given.
    let kept = (0..<rows).filter { keep[$0] }
    var expected: [Float] = []
    for r in kept {
      let value = aValues[r]
      expected += value.isNaN ? [Float((42 - 0.5) / 3.0), 4] : [Float((Double(value) - 0.5) / 3), -0.25]
      var hot: [Float] = [-1, -2, -3]
      if codes[r] != CSVColumn<Float>.missingCode {
        let k = [0, 2, 1][Int(codes[r])]
        hot[k] = Float(k + 1)
      }
      expected += hot
    }
    #expect(results[0].x.elements == expected)
    #expect(results[0].y == kept.map { tValues[$0] })
  }
}
