import BumpKit
import Foundation
import Testing
import BumpTestSupport

/// The directory of small CSV files the tests read.
private let csvFixtures = URL(fileURLWithPath: #filePath)
  .deletingLastPathComponent()
  .appendingPathComponent("Fixtures/csv")

private func fixture(_ name: String) -> String {
  csvFixtures.appendingPathComponent(name).path
}

/// The `DataError` that `body` throws; records an issue if it throws something else or
/// nothing.
private func dataError(
  sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> DataError? {
  thrownError(DataError.self, sourceLocation: sourceLocation, body)
}

/// Checks that loading `file` fails with `expected`, and that the message names the file,
/// `line` and `column`.
private func expectLoadError(
  _ file: String, target: String = "y", task: TaskKind = .regression,
  _ expected: (String) -> DataError, line: Int?, column: String?,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  for precision in ["Float", "Double"] {
    let path = fixture(file)
    let error = dataError(sourceLocation: sourceLocation) {
      if precision == "Float" {
        _ = try Dataset<Float>.loadCSV(path: path, target: target, task: task)
      } else {
        _ = try Dataset<Double>.loadCSV(path: path, target: target, task: task)
      }
    }
    guard let error else { return }
    #expect(error == expected(path), "\(precision)", sourceLocation: sourceLocation)
    let message = error.description
    #expect(message.hasPrefix(path + ": "), "\(message)", sourceLocation: sourceLocation)
    if let line {
      #expect(message.contains("line \(line)"), "\(message)", sourceLocation: sourceLocation)
    }
    if let column {
      #expect(
        message.contains("column \"\(column)\""), "\(message)", sourceLocation: sourceLocation)
    }
  }
}

@Suite("CSV loading")
struct CSVLoadingTests {
  private func checkGoodRegression<E: MatrixScalar>(_: E.Type, file: String) throws {
    let data = try Dataset<E>.loadCSV(path: fixture(file), target: "y")
    #expect(data.featureNames == ["x1", "x2"])
    #expect(data.targetName == "y")
    #expect(data.task == .regression)
    #expect(data.classNames == nil)
    #expect(data.count == 3)
    #expect(data.x == (try Matrix<E>([[1.5, -2], [0, 300], [4, 0.25]])))
    #expect(data.y == (try Matrix<E>([[0.25], [-1], [7]])))
  }

  @Test("A good regression file loads, numbers trimmed of spaces, in both precisions")
  func goodRegression() throws {
    try checkGoodRegression(Float.self, file: "regression.csv")
    try checkGoodRegression(Double.self, file: "regression.csv")
  }

  @Test(
    "Line endings, a missing final newline, a byte-order mark and blank lines do not matter",
    arguments: [
      "regression-crlf.csv", "regression-no-final-newline.csv", "regression-bom-blank-lines.csv",
    ])
  func lineEndingVariants(file: String) throws {
    try checkGoodRegression(Float.self, file: file)
    try checkGoodRegression(Double.self, file: file)
  }

  @Test("The target may be any column; the others are features in file order")
  func targetInTheMiddle() throws {
    let data = try Dataset<Double>.loadCSV(path: fixture("regression.csv"), target: "x1")
    #expect(data.featureNames == ["x2", "y"])
    #expect(data.x == (try Matrix<Double>([[-2, 0.25], [300, -1], [0.25, 7]])))
    #expect(data.y == (try Matrix<Double>([[1.5], [0], [4]])))
  }

  @Test("Numeric class labels are the class indices; K is the largest label + 1")
  func numericLabels() throws {
    let data = try Dataset<Float>.loadCSV(
      path: fixture("labels-numeric.csv"), target: "label", task: .classification)
    #expect(data.task == .classification(classes: 3))
    #expect(data.classNames == nil)
    #expect(data.y == (try Matrix<Float>([[2], [0], [2]])))
    #expect(data.featureNames == ["a", "b"])
  }

  @Test("Quoted fields hold commas and quotes; name labels become sorted classes")
  func quotedFieldsAndNameLabels() throws {
    let data = try Dataset<Double>.loadCSV(
      path: fixture("labels-names-quoted.csv"), target: "species", task: .classification)
    #expect(data.featureNames == ["height, cm", "width"])
    #expect(data.classNames == ["Iris \"setosa\", wild", "versicolor", "virginica"])
    #expect(data.task == .classification(classes: 3))
    #expect(data.y == (try Matrix<Double>([[0], [1], [2], [0]])))
    #expect(data.x == (try Matrix<Double>([[5.1, 3.5], [7.0, 3.2], [6.3, 3.3], [4.9, 3.0]])))
  }

  @Test("A numeric target read as regression when asked")
  func numericLabelsAsRegression() throws {
    let data = try Dataset<Double>.loadCSV(path: fixture("labels-numeric.csv"), target: "label")
    #expect(data.task == .regression)
    #expect(data.y == (try Matrix<Double>([[2], [0], [2]])))
  }

  @Test("Prediction inputs: columns picked by name, in the model's order; others ignored")
  func featuresByName() throws {
    let (x, names) = try Dataset<Float>.loadCSVFeatures(
      path: fixture("features-reordered.csv"), expectedFeatures: ["x1", "x2"])
    #expect(names == ["x1", "x2"])
    #expect(x == (try Matrix<Float>([[1, 2], [10, 20]])))

    // The target column need not be there, and a file with it loads too.
    let (withTarget, _) = try Dataset<Double>.loadCSVFeatures(
      path: fixture("regression.csv"), expectedFeatures: ["x2", "x1"])
    #expect(withTarget == (try Matrix<Double>([[-2, 1.5], [300, 0], [0.25, 4]])))
  }

  @Test(
    "Prediction inputs: a missing feature names the file, line 1, the column and the alternatives")
  func featuresMissing() throws {
    let path = fixture("features-reordered.csv")
    let error = dataError {
      _ = try Dataset<Float>.loadCSVFeatures(path: path, expectedFeatures: ["x1", "x3"])
    }
    #expect(
      error
        == .missingColumn(path: path, line: 1, column: "x3", available: ["id", "y", "x2", "x1"]))
    #expect(error?.description.contains("\"id\", \"y\", \"x2\", \"x1\"") == true)
    let empty = #expect(throws: BumpKitError.self) { _ = try Dataset<Float>.loadCSVFeatures(path: path, expectedFeatures: []) }
    #expect(empty.map { if case .invalidArgument = $0 { true } else { false } } == true)
    let twice = #expect(throws: BumpKitError.self) {
      _ = try Dataset<Float>.loadCSVFeatures(path: path, expectedFeatures: ["x1", "x1"])
    }
    #expect(twice.map { if case .invalidArgument = $0 { true } else { false } } == true)
  }

  @Test("Prediction inputs: bad cells in the used columns are reported, others are not parsed")
  func featuresBadCell() throws {
    // "id" holds text but is not a feature, so it is never parsed.
    let path = fixture("error-after-multiline.csv")
    let error = dataError {
      _ = try Dataset<Double>.loadCSVFeatures(path: path, expectedFeatures: ["x"])
    }
    // The header spans lines 1–2 and the first record lines 3–5, so the second record is on
    // line 6.
    #expect(error == .notANumber(path: path, line: 6, column: "x", text: "oops"))
    #expect(error?.description == "\(path): line 6, column \"x\": \"oops\" is not a number")
  }
}

@Suite("CSV errors name the file, line and column")
struct CSVErrorTests {
  @Test("A missing file")
  func missingFile() {
    let path = fixture("does-not-exist.csv")
    expectLoadError("does-not-exist.csv", { .fileNotFound(path: $0) }, line: nil, column: nil)
    #expect(DataError.fileNotFound(path: path).description == "\(path): no such file")
  }

  @Test("An unreadable path (a directory)")
  func unreadable() {
    let error = dataError { _ = try Dataset<Double>.loadCSV(path: csvFixtures.path, target: "y") }
    guard case .unreadableFile(let path, let reason)? = error else {
      Issue.record("got \(String(describing: error))")
      return
    }
    #expect(path == csvFixtures.path)
    #expect(reason.lowercased().contains("directory"))
  }

  @Test("An empty file, and one with only blank lines")
  func empty() {
    expectLoadError("error-empty.csv", { .emptyFile(path: $0) }, line: 1, column: nil)
    expectLoadError("error-blank-only.csv", { .emptyFile(path: $0) }, line: 1, column: nil)
  }

  @Test("A header with no data rows")
  func headerOnly() {
    expectLoadError(
      "error-header-only.csv", { .noDataRows(path: $0, line: 2, columns: ["x1", "x2", "y"]) },
      line: 2, column: nil)
  }

  @Test("Ragged rows: too few and too many fields")
  func ragged() {
    expectLoadError(
      "error-ragged-short.csv",
      { .raggedRow(path: $0, line: 3, column: "y", expected: 3, found: 2) }, line: 3, column: "y")
    expectLoadError(
      "error-ragged-long.csv",
      { .raggedRow(path: $0, line: 3, column: "y", expected: 3, found: 4) }, line: 3, column: "y")
  }

  @Test("A cell that is not a number")
  func notANumber() {
    expectLoadError(
      "error-not-a-number.csv", { .notANumber(path: $0, line: 3, column: "x2", text: "abc") },
      line: 3, column: "x2")
    // A quoted "6,3" is one field, and not a number (no decimal commas).
    expectLoadError(
      "error-quoted-comma-number.csv",
      { .notANumber(path: $0, line: 2, column: "x2", text: "6,3") },
      line: 2, column: "x2")
  }

  @Test("NaN and infinity are rejected although Double(String) accepts them")
  func nonFinite() {
    expectLoadError(
      "error-nan.csv", { .nonFiniteNumber(path: $0, line: 3, column: "y", text: "nan") },
      line: 3, column: "y")
    expectLoadError(
      "error-infinity.csv", { .nonFiniteNumber(path: $0, line: 3, column: "x1", text: "-inf") },
      line: 3, column: "x1")
  }

  @Test("A finite number too large for the precision")
  func outOfRange() throws {
    let floatPath = fixture("error-float-overflow.csv")
    let error = dataError { _ = try Dataset<Float>.loadCSV(path: floatPath, target: "y") }
    #expect(
      error
        == .numberOutOfRange(path: floatPath, line: 3, column: "x2", text: "1e39", type: "Float"))
    // Double holds 1e39.
    let data = try Dataset<Double>.loadCSV(path: floatPath, target: "y")
    #expect(data.x[1, 1] == 1e39)
    expectLoadError(
      "error-double-overflow.csv",
      { .numberOutOfRange(path: $0, line: 3, column: "x2", text: "1e400", type: "Double") },
      line: 3, column: "x2")
  }

  @Test("A target column that is not there lists the columns that are")
  func missingTarget() {
    expectLoadError(
      "regression.csv", target: "price",
      { .missingColumn(path: $0, line: 1, column: "price", available: ["x1", "x2", "y"]) },
      line: 1, column: "price")
    let message = DataError.missingColumn(
      path: "a.csv", line: 1, column: "price", available: ["x1", "x2", "y"]
    ).description
    #expect(message.contains("available columns: \"x1\", \"x2\", \"y\""))
  }

  @Test("A file with only the target column")
  func targetOnly() {
    expectLoadError(
      "error-target-only.csv", target: "label",
      { .noFeatureColumns(path: $0, line: 1, target: "label") }, line: 1, column: "label")
  }

  @Test("Duplicate and empty column names")
  func badHeader() {
    expectLoadError(
      "error-duplicate-column.csv",
      { .duplicateColumn(path: $0, line: 1, column: "x1", positions: [1, 3]) },
      line: 1, column: "x1")
    expectLoadError(
      "error-empty-column-name.csv", { .emptyColumnName(path: $0, line: 1, position: 2) },
      line: 1, column: nil)
  }

  @Test("Empty cells, in a feature and in the target")
  func emptyCells() {
    expectLoadError(
      "error-empty-cell.csv", { .emptyCell(path: $0, line: 3, column: "x2") },
      line: 3, column: "x2")
    expectLoadError(
      "error-empty-target.csv", { .emptyCell(path: $0, line: 3, column: "y") },
      line: 3, column: "y")
    expectLoadError(
      "error-empty-target.csv", task: .classification,
      { .emptyCell(path: $0, line: 3, column: "y") }, line: 3, column: "y")
  }

  @Test("Bytes that are not UTF-8")
  func invalidUTF8() {
    expectLoadError(
      "error-invalid-utf8.csv", { .invalidEncoding(path: $0, line: 3) }, line: 3, column: nil)
  }

  /// The files of ``invalidLabels(file:text:reason:)``: each has the bad label on line 3.
  static let invalidLabelCases: [(file: String, text: String, reason: String)] = [
    ("error-label-negative.csv", "-1", "is negative; numeric labels must be integers ≥ 0"),
    ("error-label-fraction.csv", "1.5", "is not an integer"),
    ("error-label-too-large.csv", "70000", "is too large; numeric labels must be below 65536"),
    ("error-label-infinite.csv", "1e999", "is not finite"),
  ]

  @Test("Numeric class labels must be integers in 0..<65536", arguments: invalidLabelCases)
  func invalidLabels(file: String, text: String, reason: String) {
    expectLoadError(
      file, target: "label", task: .classification,
      { .invalidLabel(path: $0, line: 3, column: "label", text: text, reason: reason) }, line: 3, column: "label")
  }

  @Test("Class labels may not mix numbers and names")
  func mixedLabels() {
    expectLoadError(
      "error-label-mixed.csv", target: "label", task: .classification,
      {
        .mixedLabels(
          path: $0, line: 4, column: "label", text: "l.O", firstLine: 2, firstText: "0")
      }, line: 4, column: "label")
    expectLoadError(
      "error-label-mixed-names-first.csv", target: "label", task: .classification,
      {
        .mixedLabels(
          path: $0, line: 4, column: "label", text: "7", firstLine: 2, firstText: "cat")
      }, line: 4, column: "label")
    let message = DataError.mixedLabels(
      path: "a.csv", line: 4, column: "label", text: "l.O", firstLine: 2, firstText: "0"
    ).description
    #expect(message.contains("line 2"))
    #expect(message.contains("\"l.O\" is a name"))
  }

  @Test("Name labels in a regression target are not numbers")
  func namesAsRegression() {
    expectLoadError(
      "labels-names-quoted.csv", target: "species",
      {
        .notANumber(path: $0, line: 2, column: "species", text: "Iris \"setosa\", wild")
      }, line: 2, column: "species")
  }
}

@Suite("CSV writing")
struct CSVWritingTests {
  private func checkRoundTrip<E: MatrixScalar>(_: E.Type) throws {
    let directory = try TemporaryFolder(prefix: "bumpkit-csv")
    defer { directory.remove() }
    let path = directory.path("data.csv")

    let regression = try Dataset<E>.regression(samples: 50, features: 3, seed: 7)
    try regression.writeCSV(path: path)
    #expect(try Dataset<E>.loadCSV(path: path, target: "y") == regression)

    let rings = try Dataset<E>.rings(samples: 40, seed: 3)
    try rings.writeCSV(path: path)  // replaces the previous file
    let back = try Dataset<E>.loadCSV(path: path, target: "ring", task: .classification)
    #expect(back == rings)
    #expect(back.classNames == ["inner", "outer"])
  }

  @Test("Generated datasets round-trip through a file, in both precisions")
  func roundTrip() throws {
    try checkRoundTrip(Float.self)
    try checkRoundTrip(Double.self)
  }

  @Test("A loaded file round-trips, quoted names and all")
  func loadedFileRoundTrips() throws {
    let directory = try TemporaryFolder(prefix: "bumpkit-csv")
    defer { directory.remove() }
    let original = try Dataset<Double>.loadCSV(
      path: fixture("labels-names-quoted.csv"), target: "species", task: .classification)
    let path = directory.path("copy.csv")
    try original.writeCSV(path: path)
    let text = try String(contentsOfFile: path, encoding: .utf8)
    #expect(text.hasPrefix("\"height, cm\",width,species\n5.1,3.5,\"Iris \"\"setosa\"\", wild\"\n"))
    #expect(text.hasSuffix("\n"))
    #expect(
      try Dataset<Double>.loadCSV(path: path, target: "species", task: .classification) == original)

    let numeric = try Dataset<Float>.loadCSV(
      path: fixture("labels-numeric.csv"), target: "label", task: .classification)
    try numeric.writeCSV(path: path)
    #expect(
      try String(contentsOfFile: path, encoding: .utf8)
        == "a,b,label\n0.5,1.0,2\n1.5,2.0,0\n2.5,3.0,2\n")
  }

  @Test("Names with commas, quotes, line breaks and surrounding spaces round-trip")
  func awkwardNamesRoundTrip() throws {
    let directory = try TemporaryFolder(prefix: "bumpkit-csv")
    defer { directory.remove() }
    let path = directory.path("awkward.csv")
    let data = try Dataset(
      x: Matrix<Double>([[1, 2], [3, 4], [5, 6], [7, 8]]), y: Matrix<Double>([[0], [1], [2], [3]]),
      featureNames: ["x, 1", " y "], targetName: "the \"class\"",
      task: .classification(classes: 4), classNames: [" spaced", "a,b", "q\"uote", "two\r\nlines"])
    try data.writeCSV(path: path)
    let back = try Dataset<Double>.loadCSV(
      path: path, target: "the \"class\"", task: .classification)
    #expect(back == data)
  }

  @Test("Predictions: a matrix under a header, and rows of text")
  func writeMatrixAndRows() throws {
    let directory = try TemporaryFolder(prefix: "bumpkit-csv")
    defer { directory.remove() }
    let path = directory.path("predictions.csv")
    let predictions = try Matrix<Float>([[0.1, -2], [1e-5, 3]])
    try Dataset.writeCSV(path: path, header: ["p, 0", "p1"], matrix: predictions)
    #expect(
      try String(contentsOfFile: path, encoding: .utf8) == "\"p, 0\",p1\n0.1,-2.0\n1e-05,3.0\n")
    let (back, _) = try Dataset<Float>.loadCSVFeatures(
      path: path, expectedFeatures: ["p, 0", "p1"])
    #expect(back == predictions)

    try CSVFile.write(
      path: path, header: ["id", "class"], rows: [["1", "cat"], ["2", "dog\nhouse"]])
    #expect(
      try String(contentsOfFile: path, encoding: .utf8) == "id,class\n1,cat\n2,\"dog\nhouse\"\n")

    // No temporary files are left behind.
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["predictions.csv"])
  }

  @Test("Writing checks shapes and reports failures without touching the target")
  func writeErrors() throws {
    let directory = try TemporaryFolder(prefix: "bumpkit-csv")
    defer { directory.remove() }
    let path = directory.path("out.csv")
    let matrix = try Matrix<Double>([[1, 2]])
    let shape = #expect(throws: BumpKitError.self) { try CSVFile.write(path: path, header: ["a"], matrix: matrix) }
    #expect(shape?.localizedDescription.contains("needs one per column (2)") == true, "\(String(describing: shape))")
    let rows = #expect(throws: BumpKitError.self) {
      try CSVFile.write(path: path, header: ["a"], rows: [["1"], ["2", "3"]])
    }
    #expect(rows?.localizedDescription.contains("row 1") == true, "\(String(describing: rows))")
    #expect(!FileManager.default.fileExists(atPath: path))

    let missing = directory.path("no/such/dir/out.csv")
    let error = dataError { try CSVFile.write(path: missing, header: ["a", "b"], matrix: matrix) }
    guard case .writeFailed(let failedPath, _, let reason)? = error else {
      Issue.record("got \(String(describing: error))")
      return
    }
    #expect(failedPath == missing)
    #expect(reason.contains("No such file"))
    #expect(error!.description.hasPrefix(missing + ": cannot "))
  }
}
