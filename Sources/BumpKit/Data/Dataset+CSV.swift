extension Dataset {
  /// Reads a dataset from a CSV file with a header row: the column named `target` is the
  /// target, every other column not in `ignored` is a feature, in file order (or the columns
  /// `features`, in that order, when given).
  ///
  /// **Format.** The first non-blank line is the header; names must be non-empty and
  /// distinct. Fields are separated by commas and may be quoted (`"a, b"`, with `""` for a
  /// quote inside); line endings may be LF, CRLF or CR, and a final line break is optional.
  /// Spaces and tabs around a field are ignored (inside quotes they belong to the field, so
  /// `" a"` is a name with a leading space), as are blank lines and a UTF-8 byte-order mark.
  /// The file is read as a stream (see `CSVRecordReader`): it is never held in memory whole,
  /// and a pipe, a FIFO or a `/proc` file (whose size reads as 0) is read like any file.
  /// Only commas separate fields: in a tab- or semicolon-separated file the header is one
  /// name, and the error for a missing column says the file looks tab- or
  /// semicolon-separated. Messages show invisible characters in names and cells as escapes
  /// (`"\u{feff}y"`).
  ///
  /// **Numbers.** Each feature cell (and a regression target) must be a number in Swift's
  /// strict `Double(String)` grammar, e.g. `3`, `-0.5`, `1e-3`, `0x1p-2`; surrounding spaces
  /// are trimmed. The precision is `Element`: `Dataset<Float>.loadCSV` parses each cell
  /// straight to the nearest `Float` (no double rounding through `Double`). `nan`, `inf`
  /// and the like are rejected although Swift parses them, and so is a finite number too
  /// large for `Element` (e.g. `1e39` for `Float`).
  ///
  /// **Class labels.** For `task: .classification` the target column holds either
  /// - only numbers: each must be a non-negative integer below 65 536 (`2` or `2.0`), and
  ///   is the class index itself; K is the largest label + 1 (a label that never occurs is
  ///   still a class) and ``classNames`` is `nil`; or
  /// - only names (cells that are not numbers): the distinct names, **sorted** in Swift's
  ///   `String` order (Unicode order, so `"Setosa" < "setosa"`), become classes 0, 1, …,
  ///   K − 1, and ``classNames`` lists them. Sorting, rather than order of appearance, makes
  ///   the class numbers independent of the row order, so a shuffled copy of the file gives
  ///   the same classes. Names are compared scalar by scalar, as pandas compares them: the
  ///   composed (NFC) and decomposed (NFD) spellings of `é` are two classes, ordered by
  ///   their scalars. Words that Swift reads as non-finite numbers (`nan`, `inf`,
  ///   `Infinity`) are names; a label with a digit that is not a finite number (`1e999`) is
  ///   an error.
  ///
  /// A column that mixes the two is an error, which catches typos such as `1.O`.
  ///
  /// - Parameters:
  ///   - path: The file to read; `-` reads standard input (named "standard input" in
  ///     messages).
  ///   - target: The name of the target column.
  ///   - task: Read the target as real numbers or as class labels.
  ///   - features: The feature columns to read, in this order; nil for every column that is
  ///     neither the target nor ignored. Other columns are not parsed.
  ///   - ignored: Columns to skip (an id, a name); the target cannot be one. Without
  ///     `features` each must be in the header, since a misspelt name would leave a column
  ///     among the features; with `features` (a trained model's), a name the header lacks is
  ///     passed over, as ignoring it is only a promise not to use it.
  ///   - classes: For classification, the classes the labels must belong to (a trained
  ///     model's); nil to take them from the file.
  ///   - byteLimit: The most memory the values read may take, in bytes, counted as allocated
  ///     (arrays grow by doubling, so up to twice the values); nil for no limit.
  /// - Throws: a ``DataError`` naming the file, the line (1-based; the header is line 1) and
  ///   the column: ``DataError/fileNotFound(path:)``,
  ///   ``DataError/unreadableFile(path:reason:)``, ``DataError/invalidEncoding(path:line:)``,
  ///   ``DataError/emptyFile(path:)``, ``DataError/noDataRows(path:line:columns:)``,
  ///   ``DataError/emptyColumnName(path:line:position:)``,
  ///   ``DataError/duplicateColumn(path:line:column:positions:)``,
  ///   ``DataError/missingColumn(path:line:column:available:)``,
  ///   ``DataError/noFeatureColumns(path:line:target:)``,
  ///   ``DataError/raggedRow(path:line:column:expected:found:)``,
  ///   ``DataError/emptyCell(path:line:column:)``,
  ///   ``DataError/notANumber(path:line:column:text:)`` (one bad cell),
  ///   ``DataError/textColumn(path:line:column:text:textCells:cells:)`` (a feature column
  ///   that holds text: after a cell that is not a number, up to 10 000 more rows are read to
  ///   tell the two apart),
  ///   ``DataError/nonFiniteNumber(path:line:column:text:)``,
  ///   ``DataError/numberOutOfRange(path:line:column:text:type:)``,
  ///   ``DataError/invalidLabel(path:line:column:text:reason:)``,
  ///   ``DataError/mixedLabels(path:line:column:text:firstLine:firstText:)``, the reading
  ///   errors (``DataError/nulByte(path:line:column:)``,
  ///   ``DataError/unterminatedQuote(path:line:column:)``,
  ///   ``DataError/textAfterQuote(path:line:column:)``,
  ///   ``DataError/fieldTooLong(path:line:column:limit:)``),
  ///   ``DataError/memoryLimitExceeded(path:line:rows:columns:bytes:limit:)`` and
  ///   ``BumpKitError/invalidArgument(name:value:reason:)`` for an ignored target or feature,
  ///   or for `classes` with no class (or, for numbers, more than 65 536), before the file is
  ///   opened.
  public static func loadCSV(
    path: String, target: String, task: TaskKind = .regression, features: [String]? = nil,
    ignoring ignored: [String] = [], classes: CSVClassLabels? = nil, byteLimit: Int? = nil
  ) throws -> Dataset {
    try classes.map(checkClasses)
    var reader = try CSVRecordReader(path: path)
    let path = reader.path
    let header = reader.header
    guard let targetIndex = reader.columnIndex[target] else {
      throw DataError.missingColumn(
        path: path, line: reader.headerLine, column: target, available: header)
    }
    // Choosing the features is where a misspelt ignored column would matter.
    let skipped = try ignoredColumns(ignored, reader: reader, requirePresent: features == nil)
    if skipped.contains(targetIndex) {
      throw BumpKitError.invalidArgument(
        name: "ignored column", value: MessageText.quoted(target), reason: "it is the target")
    }
    let featureIndices: [Int]
    if let features {
      featureIndices = try columns(named: features, skipped: skipped, reader: reader)
      if featureIndices.contains(targetIndex) {
        throw BumpKitError.invalidArgument(
          name: "feature", value: MessageText.quoted(target), reason: "it is the target")
      }
    } else {
      featureIndices = header.indices.filter { $0 != targetIndex && !skipped.contains($0) }
    }
    guard !featureIndices.isEmpty else {
      throw DataError.noFeatureColumns(path: path, line: reader.headerLine, target: target)
    }

    // Cells are checked in file order, so the first bad cell of a row is the one reported.
    var position = [Int?](repeating: nil, count: header.count)
    for (k, j) in featureIndices.enumerated() { position[j] = k }
    var row = [Element](repeating: 0, count: featureIndices.count)
    var values: [Element] = []
    var targets: [Element] = []
    var labels = CSVLabelReader(path: path, column: target, expected: classes)
    var rows = 0
    let stride = MemoryLayout<Element>.stride
    while let (line, fields) = try reader.next() {
      for (j, field) in fields.enumerated() {
        if let k = position[j] {
          do {
            row[k] = try parseCSVNumber(field, path: path, line: line, column: header[j])
          } catch let error as DataError {
            throw surveyed(error, column: j, numbersBefore: rows, reader: &reader)
          }
        } else if j == targetIndex {
          switch task {
          case .regression:
            targets.append(try parseCSVNumber(field, path: path, line: line, column: target))
          case .classification:
            try labels.read(field, line: line)
          }
        }
      }
      if let byteLimit {
        // What will be allocated, not only what is used: checked before the array doubles.
        let bytes = (grownCapacity(values, adding: row.count) + targets.capacity) * stride + labels.byteCount
        if bytes > byteLimit {
          throw DataError.memoryLimitExceeded(
            path: path, line: line, rows: rows, columns: featureIndices.count + 1, bytes: bytes,
            limit: byteLimit)
        }
      }
      values += row
      rows += 1
    }
    guard rows > 0 else {
      throw DataError.noDataRows(path: path, line: reader.headerLine + 1, columns: header)
    }

    let x = try Matrix(rows: rows, columns: featureIndices.count, elements: values)
    let names = featureIndices.map { header[$0] }
    switch task {
    case .regression:
      let y = try Matrix(rows: rows, columns: 1, elements: targets)
      return Dataset(
        unchecked: x, y: y, featureNames: names, targetName: target, task: .regression,
        classNames: nil)
    case .classification:
      let (indices, count, classNames) = labels.classes()
      let y = try Matrix(rows: rows, columns: 1, elements: indices.map { Element($0) })
      return Dataset(
        unchecked: x, y: y, featureNames: names, targetName: target,
        task: .classification(classes: count), classNames: classNames)
    }
  }

  /// Reads the inputs for prediction from a CSV file: the columns named `expectedFeatures`,
  /// in that order, whatever their order in the file.
  ///
  /// The file follows the format of ``loadCSV(path:target:task:features:ignoring:classes:byteLimit:)``.
  /// It needs no target column; other columns (a target, an id, text) may be present and are
  /// not parsed, but every row must still have one field per header column, and header names
  /// must be distinct.
  ///
  /// - Parameters:
  ///   - path: The file to read; `-` reads standard input.
  ///   - expectedFeatures: The model's feature names, in the model's order; non-empty.
  ///   - ignored: Columns the caller says to skip: none may be one of `expectedFeatures`;
  ///     names the header lacks are passed over.
  ///   - byteLimit: The most memory the values read may take, in bytes, counted as allocated
  ///     (arrays grow by doubling, so up to twice the values); nil for no limit.
  /// - Returns: `x`, `rows × expectedFeatures.count` with column j holding the feature
  ///   `expectedFeatures[j]`, and those names.
  /// - Throws: ``DataError/missingColumn(path:line:column:available:)`` naming the first
  ///   expected feature the header lacks; ``BumpKitError/invalidArgument(name:value:reason:)``
  ///   for an empty or repeating `expectedFeatures` or an ignored feature;
  ///   ``DataError/memoryLimitExceeded(path:line:rows:columns:bytes:limit:)``; otherwise the
  ///   errors of ``loadCSV(path:target:task:features:ignoring:classes:byteLimit:)``.
  public static func loadCSVFeatures(
    path: String, expectedFeatures: [String], ignoring ignored: [String] = [],
    byteLimit: Int? = nil
  ) throws -> (x: Matrix<Element>, featureNames: [String]) {
    guard !expectedFeatures.isEmpty else {
      throw BumpKitError.invalidArgument(
        name: "expected features", value: "[]", reason: "the model must have at least one feature")
    }
    var reader = try CSVRecordReader(path: path)
    let path = reader.path
    let header = reader.header
    let skipped = try ignoredColumns(ignored, reader: reader, requirePresent: false)
    let columns = try columns(named: expectedFeatures, skipped: skipped, reader: reader)
    var features: [Element] = []
    var rows = 0
    while let (line, fields) = try reader.next() {
      // What will be allocated, not only what is used: checked before the array doubles.
      if let byteLimit {
        let bytes = grownCapacity(features, adding: columns.count) * MemoryLayout<Element>.stride
        if bytes > byteLimit {
          throw DataError.memoryLimitExceeded(
            path: path, line: line, rows: rows, columns: columns.count, bytes: bytes, limit: byteLimit)
        }
      }
      for j in columns {
        do {
          features.append(
            try parseCSVNumber(fields[j], path: path, line: line, column: header[j]))
        } catch let error as DataError {
          throw surveyed(error, column: j, numbersBefore: rows, reader: &reader)
        }
      }
      rows += 1
    }
    guard rows > 0 else {
      throw DataError.noDataRows(path: path, line: reader.headerLine + 1, columns: header)
    }
    return (try Matrix(rows: rows, columns: columns.count, elements: features), expectedFeatures)
  }

  /// Checks classes fixed in advance: at least one, and for numbers at most
  /// `CSVLabelReader.classLimit`, the numeric labels a file may hold.
  private static func checkClasses(_ classes: CSVClassLabels) throws {
    switch classes {
    case .names(let names):
      guard !names.isEmpty else {
        throw BumpKitError.invalidArgument(name: "classes", value: "[]", reason: "a classification needs at least 1 class")
      }
    case .numbers(let count):
      guard count >= 1, count <= CSVLabelReader.classLimit else {
        throw BumpKitError.invalidArgument(
          name: "classes", value: "\(count)", reason: "numeric classes must number 1 to \(CSVLabelReader.classLimit)")
      }
    }
  }

  /// The header positions of the `ignored` names that are in the header. With
  /// `requirePresent`, each must be.
  private static func ignoredColumns(
    _ ignored: [String], reader: CSVRecordReader, requirePresent: Bool
  ) throws -> Set<Int> {
    var skipped = Set<Int>()
    for name in ignored {
      guard let index = reader.columnIndex[name] else {
        guard requirePresent else { continue }
        throw DataError.missingColumn(
          path: reader.path, line: reader.headerLine, column: name, available: reader.header)
      }
      skipped.insert(index)
    }
    return skipped
  }

  /// The header positions of `names`, in that order: distinct, present and not ignored.
  /// Linear in the number of names: each is looked up in the reader's index.
  private static func columns(
    named names: [String], skipped: Set<Int>, reader: CSVRecordReader
  ) throws -> [Int] {
    guard Set(names).count == names.count else {
      throw BumpKitError.invalidArgument(
        name: "expected features", value: MessageText.quotedList(names.prefix(20))
          + (names.count > 20 ? ", …" : ""), reason: "names must be distinct")
    }
    return try names.map { name in
      guard let index = reader.columnIndex[name] else {
        throw DataError.missingColumn(
          path: reader.path, line: reader.headerLine, column: name, available: reader.header)
      }
      if skipped.contains(index) {
        throw BumpKitError.invalidArgument(
          name: "ignored column", value: MessageText.quoted(name),
          reason: "the model needs it as a feature")
      }
      return index
    }
  }

  /// The rows after a bad cell that ``surveyed(_:column:numbersBefore:reader:)`` reads.
  static var surveyRowLimit: Int { 10_000 }

  /// `error`, or, when it is a cell that is not a number in a column that mostly holds text,
  /// ``DataError/textColumn(path:line:column:text:textCells:cells:)``.
  ///
  /// To tell one bad cell from a text column (an id, a name), the cells of column `column`
  /// in up to ``surveyRowLimit`` following rows are read, and parsed only to see whether they
  /// are numbers; the `numbersBefore` rows before the bad cell were. More than half of the
  /// non-empty cells read not being numbers, and at least two, makes it a text column. A
  /// malformed row met on the way ends the survey: the error reported is the first one.
  private static func surveyed(
    _ error: DataError, column: Int, numbersBefore: Int, reader: inout CSVRecordReader
  ) -> DataError {
    guard case .notANumber(let path, let line, let name, let text) = error else { return error }
    var numbers = numbersBefore
    var texts = 1
    for _ in 0..<surveyRowLimit {
      guard let record = try? reader.next() else { break }
      let cell = trimmedCSVField(record.fields[column])
      if cell.isEmpty { continue }
      if Double(cell) != nil { numbers += 1 } else { texts += 1 }
    }
    guard texts >= 2, texts > numbers else { return error }
    return .textColumn(
      path: path, line: line, column: name, text: text, textCells: texts, cells: texts + numbers)
  }

  /// Writes the dataset as CSV, atomically: one column per feature, then the target.
  ///
  /// Class labels are written as their ``classNames`` when there are some, otherwise as
  /// integers; so ``loadCSV(path:target:task:features:ignoring:classes:byteLimit:)`` with the same target and task reads back
  /// an equal dataset (numbers are written in the shortest form that parses back to the same
  /// value). For name labels that holds when ``classNames`` is sorted, as `loadCSV` makes
  /// it; otherwise the classes come back renumbered in sorted order. Several target columns
  /// are named `<targetName>_0`, `<targetName>_1`, ….
  ///
  /// - Throws: ``DataError/writeFailed(path:operation:reason:)``.
  public func writeCSV(path: String) throws {
    let targetHeader =
      y.columns == 1 ? [targetName] : (0..<y.columns).map { "\(targetName)_\($0)" }
    var rows: [[String]] = []
    rows.reserveCapacity(count)
    for i in 0..<count {
      var row = x.row(i).map(CSVFile.format)
      switch task {
      case .regression:
        row += y.row(i).map(CSVFile.format)
      case .classification:
        let label = Int(y[i, 0])
        row.append(classNames?[label] ?? String(label))
      }
      rows.append(row)
    }
    try CSVFile.write(path: path, header: featureNames + targetHeader, rows: rows)
  }

  /// Writes `matrix` as CSV under `header`, atomically; the same as
  /// ``CSVFile/write(path:header:matrix:)``.
  public static func writeCSV(path: String, header: [String], matrix: Matrix<Element>) throws {
    try CSVFile.write(path: path, header: header, matrix: matrix)
  }
}

/// Parses one CSV cell as an `Element`, with the errors of ``Dataset/loadCSV(path:target:task:features:ignoring:classes:byteLimit:)``.
func parseCSVNumber<Element: MatrixScalar>(_ field: String, path: String, line: Int, column: String)
  throws -> Element
{
  let text = trimmedCSVField(field)
  guard !text.isEmpty else { throw DataError.emptyCell(path: path, line: line, column: column) }
  guard let value = Element(text) else {
    throw DataError.notANumber(path: path, line: line, column: column, text: text)
  }
  if value.isFinite { return value }
  let spelled = text.lowercased()
  if spelled.contains("nan") || spelled.contains("inf") {
    throw DataError.nonFiniteNumber(path: path, line: line, column: column, text: text)
  }
  let type = (Double(text) ?? .infinity).isFinite ? "\(Element.self)" : "Double"
  throw DataError.numberOutOfRange(path: path, line: line, column: column, text: text, type: type)
}

/// `field` without leading and trailing spaces and tabs.
func trimmedCSVField(_ field: String) -> String {
  let scalars = field.unicodeScalars
  if let first = scalars.first, let last = scalars.last, first != " ", first != "\t", last != " ",
    last != "\t"
  {
    return field
  }
  guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
  let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" })!
  return String(scalars[first...last])
}

/// Class labels fixed in advance (a trained model's), for reading a labelled file with
/// ``Dataset/loadCSV(path:target:task:features:ignoring:classes:byteLimit:)``: every label
/// must be one of them, or the error names its line.
public enum CSVClassLabels: Equatable, Sendable {
  /// The classes are these names, class k being `names[k]`.
  case names([String])
  /// The classes are the numbers 0..<count.
  case numbers(count: Int)
}

/// Reads a classification target column cell by cell and turns it into class indices by the
/// rules of ``Dataset/loadCSV(path:target:task:features:ignoring:classes:byteLimit:)``.
struct CSVLabelReader {
  /// The largest accepted numeric label + 1, so that a stray large number cannot make the
  /// model allocate a huge output layer.
  static let classLimit = 65_536

  let path: String
  let column: String
  let expected: CSVClassLabels?
  private var first: (line: Int, text: String, isNumber: Bool)?
  /// One entry per row: the numeric label, or the name's index in `names`.
  private var labels: [Int32] = []
  private var names: [String] = []
  private var nameIndex: [ExactText: Int32] = [:]
  private let expectedIndex: [ExactText: Int32]
  /// The bytes held: row labels and distinct names.
  private(set) var byteCount = 0

  init(path: String, column: String, expected: CSVClassLabels? = nil) {
    self.path = path
    self.column = column
    self.expected = expected
    if case .names(let names)? = expected {
      expectedIndex = Dictionary(
        names.enumerated().map { (ExactText($1), Int32($0)) }, uniquingKeysWith: { a, _ in a })
    } else {
      expectedIndex = [:]
    }
  }

  /// Checks and records the label in `field`.
  ///
  /// A name is kept as the reader gives it: spaces around an unquoted field are gone, but
  /// inside quotes they are part of the name, as they are in a header.
  mutating func read(_ field: String, line: Int) throws {
    let trimmed = trimmedCSVField(field)
    guard !trimmed.isEmpty else {
      throw DataError.emptyCell(path: path, line: line, column: column)
    }
    let number = Self.number(trimmed)
    let text = number == nil ? field : trimmed
    func invalid(_ reason: String) -> DataError {
      .invalidLabel(path: path, line: line, column: column, text: text, reason: reason)
    }
    switch expected {
    case .names(let modelNames)?:
      guard let k = expectedIndex[ExactText(text)] else {
        let list = modelNames.map { "\"\(excerpt($0))\"" }.prefix(20).joined(separator: ", ")
        throw invalid(
          number != nil && !modelNames.contains(text)
            ? "is a number, but the model's classes are names (\(list))"
            : "is not one of the model's classes (\(list))")
      }
      labels.append(k)
      byteCount += 4
      return
    case .numbers(let count)?:
      guard let number else { throw invalid("is a name, but the model was trained on numeric labels") }
      try checkNumber(number, invalid)
      guard Int(number) < count else {
        throw invalid("is outside the model's classes, 0 to \(count - 1)")
      }
      labels.append(Int32(number))
      byteCount += 4
      return
    case nil: break
    }
    if first == nil { first = (line, text, number != nil) }
    guard let first, first.isNumber == (number != nil) else {
      throw DataError.mixedLabels(
        path: path, line: line, column: column, text: text, firstLine: first!.line,
        firstText: first!.text)
    }
    byteCount += 4
    guard let number else {
      if let k = nameIndex[ExactText(text)] {
        labels.append(k)
      } else {
        let k = Int32(names.count)
        names.append(text)
        nameIndex[ExactText(text)] = k
        labels.append(k)
        byteCount += 2 * text.utf8.count + 64
      }
      return
    }
    try checkNumber(number, invalid)
    labels.append(Int32(number))
  }

  private func checkNumber(_ number: Double, _ invalid: (String) -> DataError) throws {
    let reason: String? =
      !number.isFinite
      ? "is not finite"
      : number < 0
        ? "is negative; numeric labels must be integers ≥ 0"
        : number != number.rounded(.towardZero)
          ? "is not an integer"
          : number >= Double(Self.classLimit)
            ? "is too large; numeric labels must be below \(Self.classLimit)"
            : nil
    if let reason { throw invalid(reason) }
  }

  /// The class index of every label read, the number of classes K and, for names, the
  /// class names in class order.
  func classes() -> (indices: [Int], classes: Int, names: [String]?) {
    switch expected {
    case .names(let names)?: return (labels.map(Int.init), names.count, names)
    case .numbers(let count)?: return (labels.map(Int.init), count, nil)
    case nil: break
    }
    if first?.isNumber ?? true {
      return (labels.map(Int.init), Int(labels.max() ?? -1) + 1, nil)
    }
    // Canonically equivalent spellings compare equal as `String`s: their scalars order them.
    let order = names.indices.sorted {
      let (a, b) = (names[$0], names[$1])
      return a != b ? a < b : a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
    }
    var classOf = [Int](repeating: 0, count: names.count)
    for (rank, index) in order.enumerated() { classOf[index] = rank }
    return (labels.map { classOf[Int($0)] }, names.count, order.map { names[$0] })
  }

  /// The number a label spells, or nil for a name. Words that Swift parses as non-finite
  /// numbers (`nan`, `inf`, `Infinity`) are names; text with a digit is a number, finite or
  /// not (`1e999` is a number, and not a valid label).
  static func number(_ text: String) -> Double? {
    guard let value = Double(text) else { return nil }
    return value.isFinite || text.utf8.contains(where: { (0x30...0x39).contains($0) }) ? value : nil
  }
}

/// A string compared and hashed by its Unicode scalars, not by canonical equivalence as
/// `String` is: the composed and decomposed spellings of `é` are two keys.
struct ExactText: Hashable {
  let text: String
  init(_ text: String) { self.text = text }
  static func == (a: Self, b: Self) -> Bool { a.text.unicodeScalars.elementsEqual(b.text.unicodeScalars) }
  func hash(into hasher: inout Hasher) {
    for scalar in text.unicodeScalars { hasher.combine(scalar.value) }
  }
}

/// The capacity `array` will have once `count` more elements are appended: the same when they
/// fit, else at least double (the standard library's growth), so that a memory limit is
/// checked before the allocation rather than after it.
private func grownCapacity<Element>(_ array: [Element], adding count: Int) -> Int {
  let needed = array.count + count
  return needed <= array.capacity ? array.capacity : max(needed, 2 * array.capacity)
}
