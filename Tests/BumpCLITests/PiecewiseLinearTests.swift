@testable import BumpCLI
import BumpKit
import Foundation
import Testing

/// `--numeric-encoding piecewise-linear`: the encoding's values and its quantile edges against
/// values worked out by hand (edges, ties, constant columns, values outside the training
/// range, missing cells), the plan through a checkpoint's metadata and through `bump train`,
/// `predict` and `evaluate`, and a column plan stored before the option.
@Suite struct PiecewiseLinearTests {
  typealias Scratch = CLITrainTests.Scratch
  typealias TrainTool = CLITrainTests.TrainTool

  static func numbers(_ name: String, _ values: [Double]) -> CSVColumn<Double> {
    ColumnPlanTests.numbers(name, values)
  }

  /// The checkpoint metadata of a regression whose inputs `plan` makes.
  static func metadata(of plan: ColumnPlan) throws -> [String: String] {
    try ModelInfo(
      configuration: nil, featureNames: plan.inputNames, targetName: "y", task: .regression,
      classNames: nil, loss: .mse, standardization: nil, plan: plan
    ).metadata()
  }

  // MARK: - The encoding

  @Test func theValuesOfEachBinAgainstAHandComputedTable() {
    // Three bins: [0, 1), [1, 3), [3, 7].
    let edges: [Double] = [0, 1, 3, 7]
    let expected: [(Double, [Double])] = [
      (-5, [0, 0, 0]),  // below the training range: all zeros
      (0, [0, 0, 0]),  // the first edge
      (0.5, [0.5, 0, 0]),
      (1, [1, 0, 0]),  // an inner edge: the bin below full, the one above empty
      (2, [1, 0.5, 0]),
      (3, [1, 1, 0]),
      (6, [1, 1, 0.75]),
      (7, [1, 1, 1]),  // the last edge
      (1e9, [1, 1, 1]),  // above the training range: all ones
    ]
    for (x, values) in expected {
      #expect(ColumnPlan.piecewiseLinear(x, edges: edges) == values, "x = \(x)")
    }
    #expect(ColumnPlan.piecewiseLinear(-.infinity, edges: edges) == [0, 0, 0])
    #expect(ColumnPlan.piecewiseLinear(.infinity, edges: edges) == [1, 1, 1])
  }

  @Test func theEdgesAreQuantilesInterpolatedAsNumpyDoes() throws {
    // 9 values, 4 bins: the places 0, 2, 4, 6, 8 of the sorted values, whatever their order.
    #expect(ColumnPlan.piecewiseEdges([9, 1, 8, 2, 7, 3, 6, 4, 5], bins: 4) == [1, 3, 5, 7, 9])
    // 3 values, 4 bins: the places 0, 0.5, 1, 1.5, 2, interpolated linearly.
    #expect(ColumnPlan.piecewiseEdges([40, 0, 10], bins: 4) == [0, 5, 10, 25, 40])
    // More bins than values: interpolated edges between every pair.
    #expect(ColumnPlan.piecewiseEdges([0, 1, 2], bins: 4) == [0, 0.5, 1, 1.5, 2])
  }

  @Test func tiedQuantilesMergeTheirBins() throws {
    // Six zeros of eight values: the places 0, 1.75, 3.5, 5.25 and 7 give 0, 0, 0, 0.25, 2; the
    // repeated zeros are one edge, so 4 bins become 2.
    let edges = try #require(ColumnPlan.piecewiseEdges([0, 0, 2, 0, 0, 1, 0, 0], bins: 4))
    #expect(edges == [0, 0.25, 2])
    #expect(ColumnPlan.piecewiseLinear(0, edges: edges) == [0, 0])
    #expect(ColumnPlan.piecewiseLinear(1.125, edges: edges) == [1, 0.5])
  }

  @Test func aColumnWithFewerThanThreeDistinctValuesKeepsItsOneInput() throws {
    #expect(ColumnPlan.piecewiseEdges([5, 5, 5], bins: 8) == nil)
    #expect(ColumnPlan.piecewiseEdges([0, 1, 1, 0, 1], bins: 8) == nil)
    #expect(ColumnPlan.piecewiseEdges([], bins: 8) == nil)
    #expect(ColumnPlan.piecewiseEdges([0, 1, 2], bins: 1) == [0, 2])
    // In a plan: a 0/1 column keeps one input, a constant one is dropped as before, a text
    // column keeps its one-hot inputs.
    let columns = [
      Self.numbers("flag", [0, 1, 1, 0, 1]), Self.numbers("same", [4, 4, 4, 4, 4]),
      ColumnPlanTests.texts("kind", ["a", "b", "a", "b", "a"]), Self.numbers("x", [1, 2, 3, 4, 5]),
    ]
    let training = [Bool](repeating: true, count: 5)
    let plain = ColumnPlan.fit(columns: columns, training: training, missing: .impute, categorical: [])
    let kept = plain.features.map { feature in columns.first { $0.name == feature.name }! }
    let plan = plain.withPiecewiseLinear(bins: 2, columns: kept, training: training)
    #expect(plan.dropped.map(\.name) == ["same"])
    #expect(plan.features.map(\.edges) == [nil, nil, [1, 3, 5]])
    #expect(plan.inputNames == ["flag", "kind=a", "kind=b", "x", "x (bin 1)", "x (bin 2)"])
    #expect(plan.width == 6)
    #expect(plan.columnLines.contains("\"x\": numbers, piecewise-linear in 2 bins"), "\(plan.columnLines)")
  }

  @Test func aLimitOnDistinctValuesLeavesColumnsWithMoreAsTheyAre() throws {
    // 4 distinct values: encoded under a limit of 4, not under 3.
    let values: [Double] = [1, 2, 2, 3, 4, 4, 4]
    // 7 values: the places 0, 3 and 6 of the sorted values.
    #expect(ColumnPlan.piecewiseEdges(values, bins: 2, maximumDistinct: 4) == [1, 3, 4])
    #expect(ColumnPlan.piecewiseEdges(values, bins: 2, maximumDistinct: 3) == nil)
    #expect(ColumnPlan.piecewiseEdges(values, bins: 2) == [1, 3, 4])
    let columns = [Self.numbers("few", [0, 1, 2, 0, 1, 2]), Self.numbers("many", [1, 2, 3, 4, 5, 6])]
    let training = [Bool](repeating: true, count: 6)
    let plan = ColumnPlan.fit(columns: columns, training: training, missing: .impute, categorical: [])
      .withPiecewiseLinear(bins: 2, maximumDistinct: 5, columns: columns, training: training)
    #expect(plan.features.map(\.edges) == [[0, 1, 2], nil])
  }

  @Test func edgesComeFromTheTrainingRowsAndMissingCellsAreEncodedAsTheMedian() throws {
    let nan = Double.nan
    // Rows 0–4 train (numbers 1, 3, 10, 6; one missing), rows 5–6 do not and must not move
    // the edges; the median of the training numbers is 4.5.
    let column = Self.numbers("a", [1, nan, 3, 10, 6, 100, -50])
    let training = [true, true, true, true, true, false, false]
    let plain = ColumnPlan.fit(columns: [column], training: training, missing: .impute, categorical: [])
    let plan = plain.withPiecewiseLinear(bins: 3, columns: [column], training: training)
    let feature = try #require(plan.features.first)
    #expect(feature.median == 4.5)
    #expect(feature.edges == [1, 3, 6, 10])
    #expect(plan.inputNames == ["a", "a (missing)", "a (bin 1)", "a (bin 2)", "a (bin 3)"])
    var tally = ColumnPlan.Tally(features: 1)
    let x = try ColumnPlan.Encoder(plan: plan, columns: [column]).encode(rows: 0..<7, tally: &tally)
    #expect(
      ColumnPlanTests.rows(x) == [
        [1, 0, 0, 0, 0],
        [4.5, 1, 1, 0.5, 0],  // missing: the median, marked, and encoded as the median
        [3, 0, 1, 0, 0],
        [10, 0, 1, 1, 1],
        [6, 0, 1, 1, 0],
        [100, 0, 1, 1, 1],  // beyond the training range
        [-50, 0, 0, 0, 0],
      ])
    // A missing cell at prediction in a column without missing training cells: the median,
    // encoded, and counted for the warning.
    let clean = Self.numbers("b", [0, 2, 4, 6, 8])
    let all = [Bool](repeating: true, count: 5)
    let planB = ColumnPlan.fit(columns: [clean], training: all, missing: .impute, categorical: [])
      .withPiecewiseLinear(bins: 2, columns: [clean], training: all)
    var tallyB = ColumnPlan.Tally(features: 1)
    let batch = try ColumnPlan.Encoder(plan: planB, columns: [Self.numbers("b", [nan, 7])])
      .encode(rows: 0..<2, tally: &tallyB)
    #expect(ColumnPlanTests.rows(batch) == [[4, 1, 0], [7, 1, 0.75]])
    #expect(tallyB.imputed == [1])
  }

  // MARK: - Checkpoints

  @Test func theEdgesRoundTripThroughTheCheckpointMetadataAndAnOldPlanReadsWithoutThem() throws {
    let columns = [Self.numbers("a", [1, .nan, 3, 7, 9]), ColumnPlanTests.texts("b", ["x", "y", "x", "x", "y"])]
    let training = [Bool](repeating: true, count: 5)
    let plan = ColumnPlan.fit(columns: columns, training: training, missing: .impute, categorical: [])
      .withPiecewiseLinear(bins: 2, columns: columns, training: training)
    #expect(plan.features[0].edges == [1, 5, 9])
    let metadata = try Self.metadata(of: plan)
    #expect(metadata["column_plan"]?.contains("\"edges\":[1,5,9]") == true, "\(metadata["column_plan"] ?? "")")
    let back = try ModelInfo(metadata: metadata, source: "m", inputs: plan.width)
    #expect(back.plan == plan)

    // Without the encoding the stored plan has no edges entry, as before the option.
    let plain = ColumnPlan.fit(columns: columns, training: training, missing: .impute, categorical: [])
    let plainMetadata = try Self.metadata(of: plain)
    #expect(plainMetadata["column_plan"]?.contains("edges") == false)

    // A plan as a checkpoint of before the option stores it (no edges key) reads as plain.
    var old = plainMetadata
    old["column_plan"] =
      #"{"dropped":[],"features":[{"canonical_numbers":false,"indicator":true,"median":5,"missing":1,"name":"a","other":false},{"canonical_numbers":true,"categories":["x","y"],"indicator":false,"missing":0,"name":"b","other":false}],"missing":"impute"}"#
    let read = try ModelInfo(metadata: old, source: "m", inputs: 4)
    #expect(read.plan == plain)
    #expect(read.plan?.features.allSatisfy { $0.edges == nil } == true)
  }

  @Test func aCheckpointWhoseEdgesAreNotFiniteAndIncreasingIsRefused() throws {
    let columns = [Self.numbers("a", [1, 2, 3, 7, 9]), ColumnPlanTests.texts("b", ["x", "y", "x", "x", "y"])]
    let training = [Bool](repeating: true, count: 5)
    let plan = ColumnPlan.fit(columns: columns, training: training, missing: .impute, categorical: [])
      .withPiecewiseLinear(bins: 2, columns: columns, training: training)
    #expect(plan.features[0].edges == [1, 3, 9])
    let metadata = try Self.metadata(of: plan)
    let stored = try #require(metadata["column_plan"])
    #expect(try ModelInfo(metadata: metadata, source: "m", inputs: plan.width).plan == plan)
    // Two bins either way, so the inputs still match the feature names: only the edges differ.
    // Decreasing or repeated edges reach the check; a null does not decode at all.
    let changedEdges = [("[9,3,1]", "bin edges of"), ("[1,3,3]", "bin edges of"), ("[1,null,9]", "not valid")].map {
      (stored.replacingOccurrences(of: "\"edges\":[1,3,9]", with: "\"edges\":\($0.0)"), $0.1)
    }
    // And edges on a text column.
    let onText = (
      stored.replacingOccurrences(of: "\"categories\":", with: "\"edges\":[0,1],\"categories\":"),
      "bin edges of \"b\""
    )
    for (columnPlan, says) in changedEdges + [onText] {
      var bad = metadata
      bad["column_plan"] = columnPlan
      #expect(columnPlan != stored)
      #expect {
        try ModelInfo(metadata: bad, source: "m", inputs: plan.width)
      } throws: { error in
        "\(error)".contains(says)
      }
    }
  }

  // MARK: - bump train, predict, evaluate

  /// A table with a step in `a`, a 0/1 column, a text column and missing cells.
  static func table(rows: Int, offset: Int = 0) -> String {
    var text = "a,flag,kind,y\n"
    for i in offset..<(offset + rows) {
      let a = Double((i * 37) % 101) / 10
      let cell = i % 13 == 0 ? "NA" : String(a)
      let flag = i % 2
      let kind = ["p", "q", "r"][i % 3]
      let y = (a > 5 ? 3.0 : 0.0) + Double(flag) + (kind == "q" ? 0.5 : 0) + Double((i * 7) % 5) / 50
      text += "\(cell),\(flag),\(kind),\(y)\n"
    }
    return text
  }

  @Test func trainPredictAndEvaluateApplyTheStoredEdges() throws {
    let scratch = try Scratch()
    let data = try CLIColumnPlanTests.write(Self.table(rows: 120), "d.csv", in: scratch)
    let test = try CLIColumnPlanTests.write(Self.table(rows: 40, offset: 500), "t.csv", in: scratch)
    // Without a validation part the training part is the whole file: its quantiles are known.
    let train = try CLIColumnPlanTests.train(
      [
        "--data", data, "--target", "y", "--task", "regression", "--validation-split", "0",
        "--numeric-encoding", "piecewise-linear", "--bins", "4", "--bins-max-distinct", "1000", "--test-data", test,
      ], in: scratch)
    #expect(train.status == 0, "\(train.stderr)")
    #expect(train.stdout.contains("\"a\": numbers with 10 missing → median 4.95 + indicator, piecewise-linear in 4 bins"), "\(train.stdout)")
    let model = scratch.path("run/model.safetensors")
    let info = try ModelInfo(metadata: try Checkpoint.header(at: model).metadata, source: model)
    let plan = try #require(info.plan)
    var values: [Double] = []
    for i in 0..<120 where i % 13 != 0 { values.append(Double(Float(Double((i * 37) % 101) / 10))) }
    #expect(plan.features[0].edges == ColumnPlan.piecewiseEdges(values, bins: 4))
    #expect(plan.features[0].edges?.count == 5)
    #expect(plan.features.map(\.bins) == [4, 0, 0])
    #expect(info.featureNames.count == 1 + 1 + 4 + 1 + 3)
    #expect(info.configuration?.numericEncoding == .piecewiseLinear && info.configuration?.bins == 4)
    // The standardization leaves the piecewise-linear inputs as they are.
    let map = try #require(info.standardization)
    #expect(Array(map.mean[2..<6]) == [0, 0, 0, 0] && Array(map.standardDeviation[2..<6]) == [1, 1, 1, 1])

    // bump predict on the test file gives the test loss training reported.
    let predict = try TrainTool.run(["predict", "--model", model, "--data", test])
    #expect(predict.status == 0, "\(predict.stderr)")
    let predictions = predict.stdout.split(separator: "\n").dropFirst().map { Double($0)! }
    let truth = Self.table(rows: 40, offset: 500).split(separator: "\n").dropFirst()
      .map { Double($0.split(separator: ",").last!)! }
    #expect(predictions.count == 40)
    let mse = zip(predictions, truth).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / 40
    let reported = try #require(info.metrics?.testLoss)
    #expect(abs(mse - reported) <= 1e-4 * max(1, reported), "predict \(mse), training reported \(reported)")
    let evaluate = try TrainTool.run(["evaluate", "--model", model, "--data", test])
    #expect(evaluate.status == 0, "\(evaluate.stderr)")

    // The training rows encoded for training and the same rows encoded as a test file agree:
    // the final model's loss on both is the same.
    let again = try CLIColumnPlanTests.train(
      [
        "--data", data, "--target", "y", "--task", "regression", "--validation-split", "0",
        "--numeric-encoding", "piecewise-linear", "--bins", "4", "--bins-max-distinct", "1000", "--test-data", data,
      ], in: scratch, run: "again")
    #expect(again.status == 0, "\(again.stderr)")
    let path = scratch.path("again/model.safetensors")
    let metrics = try #require(try ModelInfo(metadata: try Checkpoint.header(at: path).metadata, source: path).metrics)
    let trainingLoss = metrics.trainLoss
    let testLoss = try #require(metrics.testLoss)
    #expect(abs(trainingLoss - testLoss) <= 1e-5 * max(1e-3, testLoss), "\(trainingLoss) against \(testLoss)")
  }

  @Test func theDefaultEncodingStaysWithinItsBudgetOfCellsAndAnAskedOneDoesNot() throws {
    let scratch = try Scratch()
    // 50,000 rows of a column of 50 levels: 40,000 training rows × 31 or 32 inputs is beyond
    // the default's 1,000,000 cells; 5,000 rows are within it.
    func file(rows: Int) -> String {
      var text = "level,y\n"
      for i in 0..<rows { text += "\((i * 7) % 50),\(Double((i * 7) % 50 >= 25 ? 1 : 0) + Double(i % 3) / 10)\n" }
      return text
    }
    let large = try CLIColumnPlanTests.write(file(rows: 50_000), "large.csv", in: scratch)
    let small = try CLIColumnPlanTests.write(file(rows: 5_000), "small.csv", in: scratch)
    let base = ["--target", "y", "--task", "regression", "--epochs", "1", "--refits", "1"]
    let byDefault = try CLIColumnPlanTests.train(["--data", large] + base, in: scratch, run: "a")
    #expect(byDefault.status == 0, "\(byDefault.stderr)")
    #expect(byDefault.stdout.contains("for 40000 training rows, beyond the default's 1000000 cells"), "\(byDefault.stdout)")
    let a = try Checkpoint.header(at: scratch.path("a/model.safetensors")).metadata
    #expect(a["column_plan"]?.contains("edges") == false)
    let asked = try CLIColumnPlanTests.train(
      ["--data", large, "--numeric-encoding", "piecewise-linear"] + base, in: scratch, run: "b")
    #expect(asked.status == 0, "\(asked.stderr)")
    #expect(try Checkpoint.header(at: scratch.path("b/model.safetensors")).metadata["column_plan"]?.contains("edges") == true)
    let within = try CLIColumnPlanTests.train(["--data", small] + base, in: scratch, run: "c")
    #expect(within.status == 0 && !within.stdout.contains("Number columns plain"), "\(within.stdout)")
    #expect(try Checkpoint.header(at: scratch.path("c/model.safetensors")).metadata["column_plan"]?.contains("edges") == true)
  }

  @Test func theOptionsAreCheckedAndApplyOnlyToAFile() throws {
    let scratch = try Scratch()
    let data = try CLIColumnPlanTests.write(Self.table(rows: 30), "d.csv", in: scratch)
    let regression = ["--data", data, "--target", "y", "--task", "regression"]
    let classification = ["--data", data, "--target", "kind", "--task", "classification"]
    let binsAlone = try CLIColumnPlanTests.train(classification + ["--bins", "8"], in: scratch, run: "a")
    #expect(binsAlone.status != 0 && binsAlone.stderr.contains("--bins applies only to --numeric-encoding piecewise-linear"), "\(binsAlone.stderr)")
    let plainBins = try CLIColumnPlanTests.train(regression + ["--numeric-encoding", "plain", "--bins", "8"], in: scratch, run: "a2")
    #expect(plainBins.status != 0 && plainBins.stderr.contains("--bins applies only to"), "\(plainBins.stderr)")
    let zero = try CLIColumnPlanTests.train(
      regression + ["--numeric-encoding", "piecewise-linear", "--bins", "0"], in: scratch, run: "b")
    #expect(zero.status != 0 && zero.stderr.contains("--bins must be between 1 and"), "\(zero.stderr)")
    let limitAlone = try CLIColumnPlanTests.train(classification + ["--bins-max-distinct", "8"], in: scratch, run: "f")
    #expect(limitAlone.status != 0 && limitAlone.stderr.contains("--bins-max-distinct applies only to --numeric-encoding piecewise-linear"), "\(limitAlone.stderr)")
    let builtIn = try TrainTool.run(["train", "--numeric-encoding", "piecewise-linear", "--output", scratch.path("c")])
    #expect(builtIn.status != 0 && builtIn.stderr.contains("--numeric-encoding applies only to --data"), "\(builtIn.stderr)")

    func metadata(_ run: String) throws -> [String: String] {
      try Checkpoint.header(at: scratch.path("\(run)/model.safetensors")).metadata
    }
    // Classification: plain is the default, and the same checkpoint metadata as without it.
    let plain = try CLIColumnPlanTests.train(classification + ["--numeric-encoding", "plain"], in: scratch, run: "d")
    let none = try CLIColumnPlanTests.train(classification, in: scratch, run: "e")
    #expect(plain.status == 0 && none.status == 0, "\(plain.stderr) \(none.stderr)")
    let (a, b) = (try metadata("d"), try metadata("e"))
    #expect(a["column_plan"] == b["column_plan"] && a["standardization"] == b["standardization"])
    #expect(a["column_plan"]?.contains("edges") == false)
    #expect(a["training_config"]?.contains("numeric_encoding") == false)
    // Regression: piecewise-linear in 32 bins for columns of at most 64 distinct values.
    let byDefault = try CLIColumnPlanTests.train(regression, in: scratch, run: "g")
    let given = try CLIColumnPlanTests.train(
      regression + ["--numeric-encoding", "piecewise-linear", "--bins", "32", "--bins-max-distinct", "64"], in: scratch,
      run: "h")
    #expect(byDefault.status == 0 && given.status == 0, "\(byDefault.stderr) \(given.stderr)")
    let (c, d) = (try metadata("g"), try metadata("h"))
    #expect(c["column_plan"] == d["column_plan"])
    // The default keeps within its budget of cells; an encoding asked for has none.
    #expect(c["training_config"]?.contains("\"bins_cell_limit\":1000000") == true, "\(c["training_config"] ?? "")")
    #expect(d["training_config"]?.contains("bins_cell_limit") == false, "\(d["training_config"] ?? "")")
    let inspect = try TrainTool.run(["inspect", scratch.path("g/model.safetensors")])
    #expect(inspect.stdout.contains("numbers piecewise-linear in 32 bins (columns with at most 64 distinct values)"), "\(inspect.stdout)")
    // "a" has 27 distinct values (and 3 missing cells): encoded; "flag" (0/1) is not.
    #expect(c["column_plan"]?.contains("\"edges\":[") == true)
    let info = try ModelInfo(metadata: c, source: "g")
    #expect(info.plan?.features.map(\.name) == ["a", "flag", "kind"])
    #expect(info.plan?.features[0].edges != nil && info.plan?.features[1].edges == nil)
    // A limit below the column's distinct values leaves it plain.
    let limited = try CLIColumnPlanTests.train(regression + ["--bins-max-distinct", "10"], in: scratch, run: "i")
    #expect(limited.status == 0, "\(limited.stderr)")
    #expect(try metadata("i")["column_plan"]?.contains("edges") == false)
  }
}
