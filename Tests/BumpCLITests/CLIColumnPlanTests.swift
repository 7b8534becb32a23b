import Foundation
import Testing

/// `bump train`, `predict`, `evaluate` and `inspect` on CSV files with missing cells, text
/// columns and numeric class labels (column plans), run as a subprocess; and checkpoints
/// written before column plans, which must predict and evaluate byte for byte as before.
@Suite struct CLIColumnPlanTests {
  typealias Scratch = CLITrainTests.Scratch
  typealias TrainTool = CLITrainTests.TrainTool

  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../BumpKitTests/Fixtures/legacy")

  /// A penguins-style file: species (text target), island (text), four measurements with
  /// `NA` cells, sex (`NA`, male, female), year 2007–2009. Deterministic.
  static func penguins(rows: Int = 150) -> String {
    let species = ["Adelie", "Chinstrap", "Gentoo"]
    let islands = ["Biscoe", "Dream", "Torgersen"]
    var text = "species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year\n"
    for i in 0..<rows {
      let s = i % 3
      let wobble = Double((i * 37) % 11) / 10
      let bill = i % 17 == 0 ? "NA" : String(format: "%.1f", 38 + 5 * Double(s) + wobble)
      let depth = i % 23 == 0 ? "NA" : String(format: "%.1f", 18 - (s == 2 ? 3 : 0) + wobble / 2)
      let flipper = 190 + 10 * s + (i * 7) % 9
      let mass = i % 29 == 0 ? "NA" : String(3700 + (s == 2 ? 1200 : 0) + (i * 53) % 400)
      let sex = i % 19 == 0 ? "NA" : (i % 2 == 0 ? "male" : "female")
      text += "\(species[s]),\(islands[(s + (i % 5 == 0 ? 1 : 0)) % 3]),\(bill),\(depth),\(flipper),\(mass),\(sex),\(2007 + i % 3)\n"
    }
    return text
  }

  static func write(_ text: String, _ name: String, in scratch: Scratch) throws -> String {
    let path = scratch.path(name)
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  static func train(_ arguments: [String], in scratch: Scratch, run: String = "run") throws -> TrainTool.Result {
    try TrainTool.run(
      ["train", "--epochs", "3", "--layers", "8", "--output", scratch.path(run)] + arguments)
  }

  /// Columns whose inputs would share a name are refused before training (such a
  /// checkpoint would be unusable: predict refuses repeated feature names): a column named
  /// like another's missing-cell indicator, like another's one-hot input, and a category
  /// spelled `(other)` in a column that lumps categories. Without missing cells there is no
  /// indicator and nothing clashes.
  @Test func columnsWhoseInputsWouldShareANameAreRefusedBeforeTraining() throws {
    let scratch = try Scratch()
    var indicator = "x,x (missing),y\n"
    var oneHot = "c,c=red,y\n"
    var plain = "x,x (missing),y\n"
    for i in 0..<40 {
      indicator += "\(i % 5 == 0 ? "" : "\(i)"),\(i % 7),\(Double(i) / 4)\n"
      oneHot += "\(i % 3 == 0 ? "red" : "blue"),\(i % 7),\(Double(i) / 4)\n"
      plain += "\(i),\(i % 7),\(Double(i) / 4)\n"
    }
    var other = "c,y\n"
    for i in 0..<68 { other += "\(i % 34 == 0 ? "(other)" : "k\(i % 34)"),\(i % 2)\n" }
    let cases: [(text: String, task: String, message: String)] = [
      (indicator, "regression",
       #"two model inputs would be named "x (missing)", made by column "x" and by column "x (missing)"; rename a column, or leave one out with --ignore"#),
      (oneHot, "regression", #"two model inputs would be named "c=red", made by column "c" and by column "c=red""#),
      (other, "classification", #"two model inputs would be named "c=(other)", made twice by column "c""#),
    ]
    for (k, c) in cases.enumerated() {
      let data = try Self.write(c.text, "clash\(k).csv", in: scratch)
      let run = "clash\(k)"
      let train = try Self.train(["--data", data, "--target", "y", "--task", c.task], in: scratch, run: run)
      #expect(train.status == 1 && train.stderr.contains(c.message), "\(train.stderr)")
      #expect(!FileManager.default.fileExists(atPath: scratch.path(run)))
    }
    let data = try Self.write(plain, "plain.csv", in: scratch)
    let train = try Self.train(["--data", data, "--target", "y", "--task", "regression"], in: scratch, run: "plain")
    #expect(train.status == 0, "\(train.stderr)")
  }

  /// --ignore that leaves only the target says so (not "the target is the only column").
  @Test func ignoringEveryFeatureColumnSaysSo() throws {
    let scratch = try Scratch()
    let data = try Self.write("a,b,y\n1,2,3\n4,5,6\n7,8,9\n", "d.csv", in: scratch)
    let train = try Self.train(["--data", data, "--target", "y", "--task", "regression", "--ignore", "a,b"], in: scratch)
    #expect(train.status != 0)
    #expect(train.stderr.contains("--ignore leaves no feature column: every column but the target \"y\" is ignored"), "\(train.stderr)")
  }

  /// A file written with its row index (an empty first header cell, as pandas writes it) or
  /// with a repeated name: `train` refuses such a column as a feature, with the `--ignore`
  /// argument that leaves it out (`column N` for an empty cell), and trains once it is left
  /// out; `predict` and `evaluate` read the file as it is, since they read only the model's
  /// columns; a repeated target is refused.
  @Test func columnsWithoutANameOfTheirOwnAreUsableWhenLeftOut() throws {
    let scratch = try Scratch()
    var indexed = ",a,b,y\n", repeated = "a,b,a,y\n", repeatedTarget = "y,a,y\n"
    for i in 0..<40 {
      let (a, b) = (Double(i % 9) / 4, Double((i * 5) % 7) / 3)
      indexed += "\(i),\(a),\(b),\(a - b)\n"
      repeated += "\(i),\(b),\(2 * i),\(a - b)\n"
      repeatedTarget += "\(i),\(a),\(a)\n"
    }
    let indexedFile = try Self.write(indexed, "indexed.csv", in: scratch)
    let repeatedFile = try Self.write(repeated, "repeated.csv", in: scratch)
    let targetFile = try Self.write(repeatedTarget, "target.csv", in: scratch)
    let regression = ["--target", "y", "--task", "regression"]

    let unnamed = try Self.train(["--data", indexedFile] + regression, in: scratch, run: "unnamed")
    #expect(unnamed.status == 1, "\(unnamed.stderr)")
    #expect(unnamed.stderr.contains("line 1, column 1: the header cell is empty"), "\(unnamed.stderr)")
    #expect(unnamed.stderr.contains("leave it out with --ignore 'column 1'"), "\(unnamed.stderr)")
    #expect(!FileManager.default.fileExists(atPath: scratch.path("unnamed")))

    let named = try Self.train(["--data", indexedFile, "--ignore", "column 1"] + regression, in: scratch, run: "named")
    #expect(named.status == 0, "\(named.stderr)")
    #expect(named.stdout.contains(#"Columns (missing: impute): "a": numbers"#), "\(named.stdout)")
    #expect(named.stdout.contains(#"; "b": numbers"#) && !named.stdout.contains("column 1"), "\(named.stdout)")
    let model = scratch.path("named/model.safetensors")
    let predicted = scratch.path("predicted.csv")
    let predict = try TrainTool.run(["predict", "--model", model, "--data", indexedFile, "--output", predicted])
    #expect(predict.status == 0, "\(predict.stderr)")
    let lines = try String(contentsOfFile: predicted, encoding: .utf8).split(separator: "\n")
    #expect(lines.first == "prediction" && lines.count == 41)
    let evaluate = try TrainTool.run(["evaluate", "--model", model, "--data", indexedFile])
    #expect(evaluate.status == 0 && evaluate.stdout.contains("rmse"), "\(evaluate.stderr)")

    // Every unnamed column in one message; an alias that a real column has cannot be used;
    // only the plain spelling is an alias; an unnamed column cannot be the target.
    var twoEmpty = ",a,,y\n", taken = ",column 1,y\n"
    for i in 0..<40 { twoEmpty += "\(i),\(i % 5),\(i % 3),\(i % 7)\n"; taken += "\(i),\(i % 5),\(i % 7)\n" }
    let twoEmptyFile = try Self.write(twoEmpty, "two-empty.csv", in: scratch)
    let both = try Self.train(["--data", twoEmptyFile] + regression, in: scratch, run: "both")
    #expect(
      both.status == 1
        && both.stderr.contains("line 1, column 1: the header cell is empty (and 1 more: column 3)")
        && both.stderr.contains("leave them out with --ignore 'column 1,column 3'"), "\(both.stderr)")
    let padded = try Self.train(["--data", twoEmptyFile, "--ignore", "column 01,column 3"] + regression, in: scratch, run: "p")
    #expect(padded.status == 1 && padded.stderr.contains(#"column "column 01": no such column"#), "\(padded.stderr)")
    let takenFile = try Self.write(taken, "taken.csv", in: scratch)
    let clash = try Self.train(["--data", takenFile] + regression, in: scratch, run: "clash")
    #expect(
      clash.status == 1 && clash.stderr.contains(#"name the column in the file (a column is named "column 1", so --ignore cannot name this one)"#),
      "\(clash.stderr)")
    let unnamedTarget = try Self.train(["--data", indexedFile, "--target", "column 1", "--task", "regression"], in: scratch, run: "t")
    #expect(
      unnamedTarget.status == 1
        && unnamedTarget.stderr.contains("line 1, column 1: the header cell is empty; the column can be the target once it is named in the file"),
      "\(unnamedTarget.stderr)")

    // "column 2" names the second column only when its cell is empty: here it is "a".
    let notEmpty = try Self.train(["--data", indexedFile, "--ignore", "column 1,column 2"] + regression, in: scratch, run: "n")
    #expect(notEmpty.status == 1 && notEmpty.stderr.contains(#"column "column 2": no such column"#), "\(notEmpty.stderr)")

    let twice = try Self.train(["--data", repeatedFile] + regression, in: scratch, run: "twice")
    #expect(twice.status == 1, "\(twice.stderr)")
    #expect(
      twice.stderr.contains(#"column "a": the name appears more than once in the header (columns 1, 3); rename the columns in the file, or leave them all out with --ignore a"#),
      "\(twice.stderr)")
    let leftOut = try Self.train(["--data", repeatedFile, "--ignore", "a"] + regression, in: scratch, run: "left")
    #expect(leftOut.status == 0, "\(leftOut.stderr)")
    #expect(leftOut.stdout.contains(#"Columns (missing: impute): "b": numbers"#), "\(leftOut.stdout)")
    #expect(!leftOut.stdout.contains(#""a""#), "\(leftOut.stdout)")

    let target = try Self.train(["--data", targetFile] + regression, in: scratch, run: "target")
    #expect(target.status == 1, "\(target.stderr)")
    #expect(target.stderr.contains("(columns 1, 3); rename the columns in the file: the target must be one column"), "\(target.stderr)")
  }

  /// A regression target whose squared errors would overflow even in double precision is
  /// refused before training (its losses, in the target's units, would be infinite and the
  /// run's results could not be written); one just inside the bound trains.
  @Test func aTargetWhoseSquaredErrorsOverflowIsRefusedBeforeTraining() throws {
    let scratch = try Scratch()
    func table(_ scale: Double) -> String {
      var text = "x,y\n"
      for i in 0..<60 { text += "\(Double(i) / 60),\([scale, -scale, 0][i % 3])\n" }
      return text
    }
    let huge = try Self.write(table(1e200), "huge.csv", in: scratch)
    let refused = try Self.train(
      ["--data", huge, "--target", "y", "--task", "regression", "--precision", "double"], in: scratch, run: "huge")
    #expect(refused.status == 1, "\(refused.stdout)")
    #expect(refused.stderr.contains("the target's values lie up to 1.06e+200 from their mean")
        && refused.stderr.contains("their squared errors would overflow even in double precision; rescale the target"), "\(refused.stderr)")
    #expect(!FileManager.default.fileExists(atPath: scratch.path("huge")))
    let large = try Self.write(table(1e150), "large.csv", in: scratch)
    let trained = try Self.train(
      ["--data", large, "--target", "y", "--task", "regression", "--precision", "double"], in: scratch, run: "large")
    #expect(trained.status == 0, "\(trained.stderr)")
  }

  @Test func penguinsTrainWithNoOptionAndPredictClassNamesWarningOnceForAnUnseenIsland() throws {
    let scratch = try Scratch()
    let data = try Self.write(Self.penguins(), "penguins.csv", in: scratch)
    let train = try Self.train(["--data", data, "--target", "species", "--task", "classification"], in: scratch)
    #expect(train.status == 0, "\(train.stderr)")
    for expected in [
      "3 classes: \"Adelie\", \"Chinstrap\", \"Gentoo\"", "\"island\": 3 categories",
      "\"bill_length_mm\": numbers with", "+ indicator", "\"sex\": 2 categories", "\"year\": numbers",
    ] {
      #expect(train.stdout.contains(expected), "\(expected) in \(train.stdout)")
    }
    let model = scratch.path("run/model.safetensors")
    let inspect = try TrainTool.run(["inspect", model])
    #expect(inspect.status == 0, "\(inspect.stderr)")
    for expected in ["\"island=Biscoe\"", "\"bill_length_mm (missing)\"", "\"sex=male\"", "columns (missing cells: impute)"] {
      #expect(inspect.stdout.contains(expected), "\(expected) in \(inspect.stdout)")
    }

    let new = try Self.write(
      """
      island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year
      Atlantis,39.1,18.7,181,3750,male,2007
      Biscoe,NA,15,220,NA,female,2008
      Atlantis,50,16,200,4000,NA,2009

      """, "new.csv", in: scratch)
    let predict = try TrainTool.run(["predict", "--model", model, "--data", new])
    #expect(predict.status == 0, "\(predict.stderr)")
    let lines = predict.stdout.split(separator: "\n")
    #expect(lines.first == "predicted_class,probability_Adelie,probability_Chinstrap,probability_Gentoo")
    #expect(lines.count == 4, "\(predict.stdout)")
    for line in lines.dropFirst() {
      #expect(["Adelie", "Chinstrap", "Gentoo"].contains(String(line.split(separator: ",")[0])), "\(line)")
    }
    let warnings = predict.stderr.split(separator: "\n")
    #expect(warnings.filter { $0.contains("\"island\"") }.count == 1, "\(predict.stderr)")
    #expect(predict.stderr.contains("2 cells with a category the model does not know (e.g. \"Atlantis\")"), "\(predict.stderr)")

    let evaluate = try TrainTool.run(["evaluate", "--model", model, "--data", data])
    #expect(evaluate.status == 0, "\(evaluate.stderr)")
    #expect(evaluate.stdout.contains("150 samples") && evaluate.stdout.contains("accuracy"), "\(evaluate.stdout)")
  }

  @Test func aNumericClassTargetHasOneClassPerDistinctValue() throws {
    let scratch = try Scratch()
    // One 2008 written as 2008.0: the same class.
    let text = Self.penguins().replacingOccurrences(of: ",2008\n", with: ",2008.0\n")
    let data = try Self.write(text, "p.csv", in: scratch)
    let train = try Self.train(["--data", data, "--target", "year", "--task", "classification"], in: scratch)
    #expect(train.status == 0, "\(train.stderr)")
    #expect(train.stdout.contains("(3 classes: \"2007\", \"2008\", \"2009\")"), "\(train.stdout)")
    let model = scratch.path("run/model.safetensors")
    let predict = try TrainTool.run(["predict", "--model", model, "--data", data])
    #expect(predict.status == 0, "\(predict.stderr)")
    #expect(predict.stdout.hasPrefix("predicted_class,probability_2007,probability_2008,probability_2009\n"))
    let classes = Set(predict.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",")[0] })
    #expect(classes.isSubset(of: ["2007", "2008", "2009"]), "\(classes)")
    let evaluate = try TrainTool.run(["evaluate", "--model", model, "--data", data])
    #expect(evaluate.status == 0, "\(evaluate.stderr)")
  }

  @Test func rowsWithAMissingTargetAreDroppedAndReported() throws {
    let scratch = try Scratch()
    var text = "a,b,y\n"
    for i in 0..<40 { text += "\(i),\(i % 7),\(i == 1 || i == 3 ? "NA" : String(2 * i))\n" }
    let data = try Self.write(text, "d.csv", in: scratch)
    let train = try Self.train(["--data", data, "--target", "y", "--task", "regression"], in: scratch)
    #expect(train.status == 0, "\(train.stderr)")
    #expect(train.stdout.contains("Dropped 2 rows with a missing target \"y\" (lines 3, 5)"), "\(train.stdout)")
    #expect(train.stdout.contains("30 training + 8 validation samples"), "\(train.stdout)")
  }

  /// 40 rows; "a" misses lines 2 and 5, "b" line 4.
  static func holes() -> String {
    var text = "a,b,y\n"
    for i in 0..<40 {
      text += "\(i == 0 || i == 3 ? "NA" : String(i)),\(i == 2 ? "" : String(i % 5)),\(i % 2 == 0 ? "even" : "odd")\n"
    }
    return text
  }

  @Test func missingDropRowsLeavesTheRowsOut() throws {
    let scratch = try Scratch()
    let data = try Self.write(Self.holes(), "h.csv", in: scratch)
    let train = try Self.train(
      ["--data", data, "--target", "y", "--task", "classification", "--missing", "drop-rows"], in: scratch)
    #expect(train.status == 0, "\(train.stderr)")
    #expect(train.stdout.contains("Dropped 3 rows with a missing feature cell"), "\(train.stdout)")
    #expect(train.stdout.contains("30 training + 7 validation samples"), "\(train.stdout)")
    #expect(!train.stdout.contains("(missing)"), "\(train.stdout)")
  }

  @Test func missingErrorListsEveryMissingCellWithItsLine() throws {
    let scratch = try Scratch()
    let data = try Self.write(Self.holes(), "h.csv", in: scratch)
    let train = try Self.train(
      ["--data", data, "--target", "y", "--task", "classification", "--missing", "error"], in: scratch)
    #expect(train.status != 0)
    for expected in [
      "3 missing cells", "line 2, column \"a\"", "line 4, column \"b\"", "line 5, column \"a\"",
      "--missing impute",
    ] {
      #expect(train.stderr.contains(expected), "\(expected) in \(train.stderr)")
    }
    #expect(try scratch.entries() == ["h.csv"], "no run folder")
  }

  @Test func categoricalReadsANumericColumnAsCategoriesAsWritten() throws {
    let scratch = try Scratch()
    var text = "zip,x,y\n"
    let zips = ["02134", "10001", "94105"]
    for i in 0..<30 { text += "\(zips[i % 3]),\(i),\(i % 3 == 0 ? 1 : 0)\n" }
    let data = try Self.write(text, "z.csv", in: scratch)
    let train = try Self.train(
      ["--data", data, "--target", "y", "--task", "classification", "--categorical", "zip"], in: scratch)
    #expect(train.status == 0, "\(train.stderr)")
    #expect(train.stdout.contains("\"zip\": 3 categories"), "\(train.stdout)")
    let inspect = try TrainTool.run(["inspect", scratch.path("run/model.safetensors")])
    #expect(inspect.stdout.contains("\"zip=02134\", \"zip=10001\", \"zip=94105\""), "\(inspect.stdout)")
    // Without the option it is a number column.
    let plain = try Self.train(["--data", data, "--target", "y", "--task", "classification"], in: scratch, run: "plain")
    #expect(plain.stdout.contains("\"zip\": numbers"), "\(plain.stdout)")
  }

  @Test func aConstantColumnIsDroppedWithANoteAndTrueFalseIsOneHot() throws {
    let scratch = try Scratch()
    var text = "c,flag,x,y\n"
    for i in 0..<30 { text += "5,\(i % 3 == 0 ? "True" : "False"),\(i),\(Double(i) / 2)\n" }
    let data = try Self.write(text, "c.csv", in: scratch)
    let train = try Self.train(
      ["--data", data, "--target", "y", "--task", "regression", "--numeric-encoding", "plain"], in: scratch)
    #expect(train.status == 0, "\(train.stderr)")
    #expect(train.stdout.contains("\"c\": dropped: constant (one value, 5)"), "\(train.stdout)")
    #expect(train.stdout.contains("\"flag\": 2 categories"), "\(train.stdout)")
    let inspect = try TrainTool.run(["inspect", scratch.path("run/model.safetensors")])
    #expect(inspect.stdout.contains("features (3): \"flag=False\", \"flag=True\", \"x\""), "\(inspect.stdout)")
  }

  @Test func everyUnusableCellIsReportedUpToTheCapInOneRun() throws {
    let scratch = try Scratch()
    // 13 bad cells in each of two mostly-number columns: 26 problems, 20 listed.
    var text = "a,b,y\n"
    for i in 0..<60 {
      let bad = i % 4 == 1 && i < 52
      text += "\(bad ? "x\(i)" : String(i)),\(bad ? "oops" : String(i % 5)),\(i)\n"
    }
    let data = try Self.write(text, "bad.csv", in: scratch)
    let train = try Self.train(["--data", data, "--target", "y", "--task", "regression"], in: scratch)
    #expect(train.status != 0)
    #expect(train.stderr.contains("26 unusable cells"), "\(train.stderr)")
    #expect(train.stderr.contains("… and 6 more"), "\(train.stderr)")
    #expect(train.stderr.components(separatedBy: "is not a number").count - 1 == 20, "\(train.stderr)")
    // One cell a line, below the message's first line.
    let items = train.stderr.split(separator: "\n").filter { $0.hasPrefix("  ") && $0.contains("is not a number") }
    #expect(items.count == 20 && train.stderr.hasPrefix("Error: "), "\(train.stderr)")
    #expect(train.stderr.contains("line 3, column \"a\": \"x1\"") && train.stderr.contains("line 3, column \"b\""))
    #expect(train.stderr.contains("--categorical a"), "\(train.stderr)")
  }

  @Test func anIdColumnBeyondTheCategoryLimitIsRefusedWithTheIgnoreArgument() throws {
    let scratch = try Scratch()
    var text = "user id,x,y\n"
    for i in 0..<70_000 { text += "u\(i),\(i % 7),\(i % 3)\n" }
    let data = try Self.write(text, "ids.csv", in: scratch)
    let train = try Self.train(["--data", data, "--target", "y", "--task", "regression"], in: scratch)
    #expect(train.status == 1, "\(train.stderr)")
    #expect(train.stderr.contains("more than 65536 distinct texts"), "\(train.stderr)")
    #expect(train.stderr.contains("--ignore 'user id'"), "\(train.stderr)")
    let ignored = try Self.train(
      ["--data", data, "--target", "y", "--task", "regression", "--ignore", "user id", "--epochs", "1"],
      in: scratch, run: "run2")
    #expect(ignored.status == 0, "\(ignored.stderr)")
  }

  @Test func predictCountsTheUnusableCellsOfTheWholeFileNotOfItsFirstBatch() throws {
    let scratch = try Scratch()
    var text = "a,b,y\n"
    for i in 0..<40 { text += "\(i),\(i % 4),\(i * 2)\n" }
    let data = try Self.write(text, "d.csv", in: scratch)
    let train = try Self.train(["--data", data, "--target", "y", "--task", "regression"], in: scratch)
    #expect(train.status == 0, "\(train.stderr)")
    // 10 000 rows read in batches of 4096: a bad cell every 100 rows, 100 in all, in every
    // batch.
    var rows = "a,b\n"
    for i in 0..<10_000 { rows += i % 100 == 7 ? "oops,1\n" : "\(i % 50),\(i % 4)\n" }
    let new = try Self.write(rows, "new.csv", in: scratch)
    let predict = try TrainTool.run(["predict", "--model", scratch.path("run/model.safetensors"), "--data", new])
    #expect(predict.status == 1, "\(predict.stderr)")
    #expect(predict.stderr.contains("100 unusable cells"), "\(predict.stderr)")
    #expect(predict.stderr.contains("… and 80 more"), "\(predict.stderr)")
    #expect(predict.stderr.contains("line 9, column \"a\": \"oops\""), "\(predict.stderr)")
  }

  @Test func aMissingCellAtPredictionInAColumnWithoutMissingTrainingCellsIsImputedAndWarned() throws {
    let scratch = try Scratch()
    var text = "a,b,y\n"
    for i in 0..<30 { text += "\(i),\(i % 4),\(i * 2)\n" }
    let data = try Self.write(text, "d.csv", in: scratch)
    let train = try Self.train(["--data", data, "--target", "y", "--task", "regression"], in: scratch)
    #expect(train.status == 0, "\(train.stderr)")
    let new = try Self.write("a,b\nNA,1\n3,?\n,2\n", "new.csv", in: scratch)
    let predict = try TrainTool.run(["predict", "--model", scratch.path("run/model.safetensors"), "--data", new])
    #expect(predict.status == 0, "\(predict.stderr)")
    #expect(predict.stdout.split(separator: "\n").count == 4, "\(predict.stdout)")
    let warnings = predict.stderr.split(separator: "\n")
    #expect(warnings.count == 2, "\(predict.stderr)")
    #expect(predict.stderr.contains("\"a\": 2 missing cells (none in training)"), "\(predict.stderr)")
  }

  // MARK: - Checkpoints from before column plans

  @Test(arguments: ["legacy-regression", "legacy-numeric-labels", "legacy-name-labels"])
  func aCheckpointWithoutAPlanPredictsAndEvaluatesByteForByteAsBefore(name: String) throws {
    let model = Self.fixtures.appendingPathComponent("\(name).safetensors").path
    let data = Self.fixtures.appendingPathComponent("\(name).csv").path
    let predictions = try String(
      contentsOf: Self.fixtures.appendingPathComponent("\(name)-predictions.csv"), encoding: .utf8)
    let evaluation = try String(
      contentsOf: Self.fixtures.appendingPathComponent("\(name)-evaluate.txt"), encoding: .utf8)
    let predict = try TrainTool.run(["predict", "--model", "\(name).safetensors", "--data", "\(name).csv"], in: Self.fixtures)
    #expect(predict.status == 0, "\(predict.stderr)")
    #expect(Self.sameUpToKernelRounding(predict.stdout, predictions), "\(predict.stdout)")
    #expect(predict.stderr.isEmpty, "\(predict.stderr)")
    let evaluate = try TrainTool.run(["evaluate", "--model", "\(name).safetensors", "--data", "\(name).csv"], in: Self.fixtures)
    #expect(evaluate.status == 0, "\(evaluate.stderr)")
    #expect(Self.sameUpToKernelRounding(evaluate.stdout, evaluation), "\(evaluate.stdout)")
    // Through standard input and by absolute path: the same rows.
    let absolute = try TrainTool.run(["predict", "--model", model, "--data", data])
    #expect(absolute.stdout == predict.stdout)
  }

  /// Whether `output` is `expected` byte for byte except for numbers that differ by at most a
  /// relative 1e-5: the fixtures were written on one machine, and OpenBLAS's kernels for
  /// another CPU round a matrix product's last bits differently (predictions are printed with
  /// every digit of a Float).
  static func sameUpToKernelRounding(_ output: String, _ expected: String) -> Bool {
    let separators: (Character) -> Bool = { $0 == "," || $0 == "\n" || $0 == " " }
    let a = output.split(omittingEmptySubsequences: false, whereSeparator: separators)
    let b = expected.split(omittingEmptySubsequences: false, whereSeparator: separators)
    guard a.count == b.count, output.filter(separators) == expected.filter(separators) else {
      return false
    }
    return zip(a, b).allSatisfy { x, y in
      if x == y { return true }
      guard let u = Double(x), let v = Double(y), u.isFinite, v.isFinite else { return false }
      return abs(u - v) <= 1e-5 * max(abs(u), abs(v))
    }
  }

  @Test func aCheckpointWithoutAPlanStillRefusesAMissingCell() throws {
    let scratch = try Scratch()
    let model = Self.fixtures.appendingPathComponent("legacy-regression.safetensors").path
    let data = try Self.write("a,b\n1,2\nNA,3\n", "m.csv", in: scratch)
    let predict = try TrainTool.run(["predict", "--model", model, "--data", data])
    #expect(predict.status != 0)
    #expect(predict.stderr.contains("line 3, column \"a\": missing"), "\(predict.stderr)")
  }
}
