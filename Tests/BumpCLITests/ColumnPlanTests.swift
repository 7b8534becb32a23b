@testable import BumpCLI
import BumpKit
import Foundation
import Testing

/// ``ColumnPlan``: fitting on training rows and encoding tables, against matrices worked out
/// by hand; ``ClassLabels`` and ``ClassMatcher``.
@Suite struct ColumnPlanTests {
  static func numbers(_ name: String, _ values: [Double], position: Int = 0) -> CSVColumn<Double> {
    CSVColumn(
      name: name, position: position, cells: .numbers(CSVValues(values)),
      missingCount: values.filter(\.isNaN).count)
  }

  /// A text column of `cells` (nil: missing), coded in order of first appearance.
  static func texts(_ name: String, _ cells: [String?], position: Int = 0) -> CSVColumn<Double> {
    var texts: [String] = []
    var codes: [UInt32] = []
    for cell in cells {
      guard let cell else {
        codes.append(CSVColumn<Double>.missingCode)
        continue
      }
      if let k = texts.firstIndex(of: cell) { codes.append(UInt32(k)) } else {
        codes.append(UInt32(texts.count))
        texts.append(cell)
      }
    }
    return CSVColumn(
      name: name, position: position, cells: .texts(codes: codes, texts: texts),
      missingCount: cells.filter { $0 == nil }.count)
  }

  static func rows(_ x: Matrix<Double>) -> [[Double]] { (0..<x.rows).map { x.row($0) } }

  @Test func theMedianOfOddAndEvenCounts() {
    #expect(ColumnPlan.median([3, 1, 2]) == 2)
    #expect(ColumnPlan.median([4, 1, 3, 2]) == 2.5)
    #expect(ColumnPlan.median([7]) == 7)
    #expect(ColumnPlan.median([-1, 10]) == 4.5)
  }

  @Test func aNumberColumnWithMissingCellsGetsTheTrainingMedianAndAnIndicator() throws {
    let nan = Double.nan
    // Rows 0–3 train; row 4 (value 100) is validation and must not move the median.
    let column = Self.numbers("a", [1, nan, 3, 10, 100])
    let plan = ColumnPlan.fit(columns: [column], rows: [0, 1, 2, 3], missing: .impute, categorical: [])
    let feature = try #require(plan.features.first)
    #expect(feature.median == 3)
    #expect(feature.indicator && feature.missing == 1)
    #expect(plan.inputNames == ["a", "a (missing)"])
    var tally = ColumnPlan.Tally(features: 1)
    let x = try ColumnPlan.Encoder(plan: plan, columns: [column]).encode(rows: [0, 1, 2, 3, 4], tally: &tally)
    #expect(Self.rows(x) == [[1, 0], [3, 1], [3, 0], [10, 0], [100, 0]])
    #expect(tally.imputed == [0], "an imputed cell of a column with an indicator is no surprise")
    // Even count: the mean of the two middle values.
    let even = ColumnPlan.fit(
      columns: [Self.numbers("b", [4, 1, nan, 2, 3])], rows: [0, 1, 2, 3, 4], missing: .impute,
      categorical: [])
    #expect(even.features.first?.median == 2.5)
  }

  @Test func aMissingCellWhereTrainingHadNoneIsImputedAndCounted() throws {
    let plan = ColumnPlan.fit(
      columns: [Self.numbers("a", [1, 2, 6])], rows: [0, 1, 2], missing: .impute, categorical: [])
    #expect(plan.inputNames == ["a"])
    var tally = ColumnPlan.Tally(features: 1)
    let batch = Self.numbers("a", [.nan, 5, .nan])
    let x = try ColumnPlan.Encoder(plan: plan, columns: [batch]).encode(rows: 0..<3, tally: &tally)
    #expect(Self.rows(x) == [[2], [5], [2]])
    #expect(tally.imputed == [2])
    let warnings = tally.warnings(plan: plan, source: "f.csv")
    #expect(warnings.count == 1 && warnings[0].contains("2 missing cells"), "\(warnings)")
  }

  @Test func categoriesAreOneHotInTextOrder() throws {
    let column = Self.texts("island", ["Dream", "Biscoe", nil, "Dream", "Torgersen"])
    let plan = ColumnPlan.fit(columns: [column], rows: [0, 1, 2, 3, 4], missing: .impute, categorical: [])
    #expect(plan.inputNames == ["island=Biscoe", "island=Dream", "island=Torgersen"])
    #expect(plan.features[0].other == false)
    var tally = ColumnPlan.Tally(features: 1)
    let x = try ColumnPlan.Encoder(plan: plan, columns: [column]).encode(rows: [0, 1, 2, 3, 4], tally: &tally)
    #expect(Self.rows(x) == [[0, 1, 0], [1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 1]])
  }

  @Test func theCategoryCapKeepsTheMostFrequentWithTiesInTextOrder() throws {
    // 34 categories: "a33" three times, the others once. Kept: "a33" and, of the ties, the
    // first 31 in text order (a00…a30); "a31" and "a32" are lumped into (other).
    var cells: [String?] = (0..<34).map { String(format: "a%02d", $0) }
    cells += ["a33", "a33"]
    let column = Self.texts("c", cells.reversed())
    let plan = ColumnPlan.fit(columns: [column], rows: Array(0..<cells.count), missing: .impute, categorical: [])
    let feature = try #require(plan.features.first)
    #expect(ColumnPlan.categoryLimit == 32)
    #expect(feature.categories == (0..<31).map { String(format: "a%02d", $0) } + ["a33"])
    #expect(feature.other)
    #expect(feature.width == 33)
    #expect(plan.inputNames.last == "c=(other)")
    let batch = Self.texts("c", ["a31", "a00", "a33", "zz"])
    var tally = ColumnPlan.Tally(features: 1)
    let x = try ColumnPlan.Encoder(plan: plan, columns: [batch]).encode(rows: 0..<4, tally: &tally)
    func hot(_ r: Int) -> [Int] { (0..<33).filter { x[r, $0] == 1 } }
    #expect(hot(0) == [32] && hot(1) == [0] && hot(2) == [31] && hot(3) == [32])
    #expect((0..<4).allSatisfy { r in (0..<33).reduce(0.0) { $0 + x[r, $1] } == 1 })
    #expect(tally.unknown == [2])
  }

  @Test func anUnseenCategoryWithoutOtherIsAllZerosAndWarnedOnce() throws {
    let plan = ColumnPlan.fit(
      columns: [Self.texts("island", ["b", "a", "b"])], rows: [0, 1, 2], missing: .impute, categorical: [])
    #expect(plan.inputNames == ["island=a", "island=b"])
    let batch = Self.texts("island", ["zzz", "a", "zzz", "yyy"])
    var tally = ColumnPlan.Tally(features: 1)
    let x = try ColumnPlan.Encoder(plan: plan, columns: [batch]).encode(rows: 0..<4, tally: &tally)
    #expect(Self.rows(x) == [[0, 0], [1, 0], [0, 0], [0, 0]])
    #expect(tally.unknown == [3])
    let warnings = tally.warnings(plan: plan, source: "f.csv")
    #expect(warnings.count == 1 && warnings[0].contains("3 cells") && warnings[0].contains("zzz"), "\(warnings)")
  }

  @Test func aNumberSpeltAnotherWayIsTheSameCategoryUnlessNamedCategorical() throws {
    let automatic = ColumnPlan.fit(
      columns: [Self.texts("year", ["2007", "2008", "x"])], rows: [0, 1, 2], missing: .impute,
      categorical: [])
    let named = ColumnPlan.fit(
      columns: [Self.texts("zip", ["02134", "10001"])], rows: [0, 1], missing: .impute,
      categorical: ["zip"])
    var tally = ColumnPlan.Tally(features: 1)
    let x = try ColumnPlan.Encoder(plan: automatic, columns: [Self.texts("year", ["2007.0"])])
      .encode(rows: [0], tally: &tally)
    #expect(Self.rows(x) == [[1, 0, 0]])
    let z = try ColumnPlan.Encoder(plan: named, columns: [Self.texts("zip", ["2134", "02134"])])
      .encode(rows: [0, 1], tally: &tally)
    #expect(Self.rows(z) == [[0, 0], [1, 0]])
  }

  @Test func constantColumnsAreDroppedWithTheirReason() {
    let plan = ColumnPlan.fit(
      columns: [
        Self.numbers("one", [5, 5, .nan]), Self.numbers("none", [.nan, .nan, .nan]),
        Self.texts("t", ["x", nil, "x"]), Self.numbers("kept", [1, 2, 3]),
      ], rows: [0, 1, 2], missing: .impute, categorical: [])
    #expect(plan.inputNames == ["kept"])
    #expect(plan.dropped.map(\.name) == ["one", "none", "t"])
    #expect(plan.dropped.allSatisfy { $0.reason.hasPrefix("constant") })
    #expect(plan.columnLines.contains("\"none\": dropped: constant (all missing)"), "\(plan.columnLines)")
  }

  @Test func numericClassLabelsAreSortedByValue() throws {
    let column = Self.texts("year", ["2009", "2007", "2007.0", "2008", nil])
    guard case .texts(let codes, let texts) = column.cells else { return }
    let labels = try ClassLabels(codes: codes, texts: texts, lines: [2, 3, 4, 5], path: "f", target: "year")
    #expect(labels.numeric)
    #expect(labels.names == ["2007", "2008", "2009"])
    #expect(labels.classOfText == [2, 0, 0, 1])
    let matcher = ClassMatcher(classes: 3, names: labels.names, numeric: true)
    #expect(matcher.classOf("2008.0") == 1 && matcher.classOf("2010") == nil)
  }

  /// Number labels are classes by their exact decimal value: labels beyond 2⁵³ that share a
  /// `Double` stay apart, every spelling of one value is one class, and classes sort by
  /// value across signs, fractions and magnitudes.
  @Test func numericClassLabelsAreExactDecimals() throws {
    let big = ["9007199254740993", "9007199254740992", "9007199254740993.00", "+90071992547409930e-1", "9007199254740994"]
    let column = Self.texts("id", big)
    guard case .texts(let codes, let texts) = column.cells else { return }
    let labels = try ClassLabels(codes: codes, texts: texts, lines: [2, 3, 4, 5, 6], path: "f", target: "id")
    #expect(labels.numeric)
    #expect(labels.names == ["9007199254740992", "9007199254740993", "9007199254740994"])
    #expect(labels.classOfText == [1, 0, 1, 1, 2])
    let matcher = ClassMatcher(classes: 3, names: labels.names, numeric: true)
    #expect(matcher.classOf("9007199254740993.0") == 1 && matcher.classOf("9.007199254740994e15") == 2)
    #expect(matcher.classOf("9007199254740995") == nil)

    let mixed = ["-2.5", "0.001", "-0", "1e3", "0", "1000.0", "-10", "3.25", "1.5e-60", "2E+45", "1e-400", "16"]
    let spread = Self.texts("v", mixed)
    guard case .texts(let codes2, let texts2) = spread.cells else { return }
    let sorted = try ClassLabels(codes: codes2, texts: texts2, lines: Array(2..<14), path: "f", target: "v")
    #expect(sorted.names == ["-10", "-2.5", "0", "1e-400", "1.5e-60", "0.001", "3.25", "16", "1000", "2e45"])
    // Exponents are exact: far below any Double, two values stay two and one value written
    // two ways is one.
    let tiny = Self.texts("t", ["1e-1000000001", "1e-1000000000", "10e-1000000001", "1"])
    guard case .texts(let codes3, let texts3) = tiny.cells else { return }
    let exact = try ClassLabels(codes: codes3, texts: texts3, lines: [2, 3, 4, 5], path: "f", target: "t")
    #expect(exact.names == ["1e-1000000001", "1e-1000000000", "1"] && exact.classOfText == [0, 1, 1, 2])
    // Beyond `Double`'s range both ways: values of their own, as any decimal (`1e400` was
    // refused as "not a finite number" while `1e-400` was a class).
    let huge = Self.texts("g", ["1e400", "-1e400", "1e-400", "10e399", "1"])
    guard case .texts(let codes4, let texts4) = huge.cells else { return }
    let beyond = try ClassLabels(codes: codes4, texts: texts4, lines: [2, 3, 4, 5, 6], path: "f", target: "g")
    #expect(beyond.names == ["-1e400", "1e-400", "1", "1e400"] && beyond.classOfText == [3, 0, 1, 3, 2])
    let far = ClassMatcher(classes: 4, names: beyond.names, numeric: true)
    #expect(far.classOf("1.0e400") == 3 && far.classOf("-10E399") == 0 && far.classOf("1e401") == nil)
    // Hexadecimal and an exponent beyond 18 digits are names, so beside numbers an error.
    for name in ["0x10", "1e-1234567890123456789"] {
      let column = Self.texts("h", ["1", name])
      guard case .texts(let c, let t) = column.cells else { return }
      #expect(throws: (any Error).self, "\(name)") { try ClassLabels(codes: c, texts: t, lines: [2, 3], path: "f", target: "h") }
    }
    #expect(ExactDecimal("2E+45")!.text == "2e45" && ExactDecimal("-0.00012")!.text == "-0.00012")
    #expect(ExactDecimal("123e37")!.text == String(repeating: "1", count: 0) + "123" + String(repeating: "0", count: 37))
    for text in ["", "-", ".", "1e", "1e+", "1.2.3", "0x10", "inf", "1 ", "1_000"] {
      #expect(ExactDecimal(text) == nil, "\(text)")
    }
    // A checkpoint written before exact labels named a class by its Double's shortest form:
    // the same exact value as the labels it came from; another value is no class.
    let old = ClassMatcher(classes: 2, names: ["0.3", "1e-07"], numeric: true)
    #expect(old.classOf("0.30") == 0 && old.classOf("0.0000001") == 1)
    #expect(old.classOf("0.30000000000000001") == nil && old.classOf("1e-400") == nil && old.classOf("0x1") == nil)
  }

  @Test func nameLabelsAreInTextOrderAndMixedLabelsAreRefused() throws {
    let column = Self.texts("kind", ["setosa", "Virginica", "versicolor"])
    guard case .texts(let codes, let texts) = column.cells else { return }
    let labels = try ClassLabels(codes: codes, texts: texts, lines: [2, 3, 4], path: "f", target: "kind")
    #expect(!labels.numeric && labels.names == ["Virginica", "setosa", "versicolor"])
    let mixed = Self.texts("kind", ["a", "1", "b"])
    guard case .texts(let mixedCodes, let mixedTexts) = mixed.cells else { return }
    #expect {
      try ClassLabels(codes: mixedCodes, texts: mixedTexts, lines: [2, 3, 4], path: "f", target: "kind")
    } throws: {
      "\($0)".contains("line 3, column \"kind\": class label \"1\" is a number but the label on line 2 (\"a\")")
        && "\($0)".contains("all numbers or all names")
    }
  }

  @Test func thePlanRoundTripsThroughTheCheckpointMetadata() throws {
    let plan = ColumnPlan.fit(
      columns: [Self.numbers("a", [1, .nan, 3]), Self.texts("b", ["x", "y", "x"])], rows: [0, 1, 2],
      missing: .impute, categorical: [])
    let info = ModelInfo(
      configuration: nil, featureNames: plan.inputNames, targetName: "y", task: .regression,
      classNames: nil, loss: .mse, standardization: nil, plan: plan)
    let metadata = try info.metadata()
    #expect(metadata["column_plan"]?.contains("\"median\":2") == true, "\(metadata["column_plan"] ?? "")")
    let back = try ModelInfo(metadata: metadata, source: "m", inputs: plan.width)
    #expect(back.plan == plan)
    // A plan whose inputs disagree with the feature names is refused.
    var bad = metadata
    bad["feature_names"] = "[\"a\",\"b=x\",\"b=y\",\"c\"]"
    #expect(throws: CLIError.self) { try ModelInfo(metadata: bad, source: "m", inputs: 4) }
    // A checkpoint without a plan reads its features as numbers, strictly.
    var legacy = metadata
    legacy["column_plan"] = nil
    legacy["feature_names"] = "[\"p\",\"q\"]"
    let old = try ModelInfo(metadata: legacy, source: "m", inputs: 2)
    #expect(old.plan == nil && old.columnPlan.missing == .error && old.columnPlan.inputNames == ["p", "q"])
  }

  @Test func theSelectedMedianEqualsTheSortedOne() {
    // Random sizes and values with many ties, against the middle of the sorted values.
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<400 {
      let n = Int.random(in: 1...300, using: &generator)
      let spread = Double(Int.random(in: 1...50, using: &generator))
      let values = (0..<n).map { _ in (Double.random(in: -spread...spread, using: &generator)).rounded() }
      let sorted = values.sorted()
      let expected = n % 2 == 1 ? sorted[n / 2] : sorted[n / 2 - 1] / 2 + sorted[n / 2] / 2
      #expect(ColumnPlan.median(values) == expected, "\(values)")
    }
    #expect(ColumnPlan.median(Array(repeating: 7, count: 1000)) == 7)
    #expect(ColumnPlan.median((0..<1001).map { Double(1000 - $0) }) == 500)
  }

  @Test func manyPlainNumberColumnsAreOneSummaryEntry() {
    let plan = ColumnPlan.legacy(featureNames: (0..<20).map { "x\($0)" }, numericClasses: nil)
    #expect(
      plan.summaryLine == "Columns (missing: error): 20 number columns (\"x0\", \"x1\", \"x2\", …, \"x19\")")
    let few = ColumnPlan.legacy(featureNames: ["a", "b"], numericClasses: nil)
    #expect(few.summaryLine == "Columns (missing: error): \"a\": numbers; \"b\": numbers")
  }
}
