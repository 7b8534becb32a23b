import BumpKit
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A training CSV file read into a table, planned on its training part and encoded: the CSV
/// half of ``PreparedData``. The table lives only inside ``init(_:budget:)``.
struct TableData<Element: MatrixScalar> {
  let source: String
  let training: Dataset<Element>
  let validation: Dataset<Element>?
  /// The rows held out by `--test-split`, encoded and standardised as `bump evaluate`
  /// encodes a file for the model (``ColumnPlan/Encoder``, then the training part's
  /// standardization); nil without a test split.
  let test: Dataset<Element>?
  /// The data rows of the test part (0 for the row after the header), in file order.
  let testRows: [Int]
  let standardization: Standardization?
  let plan: ColumnPlan
  let summaryLines: [String]

  init(_ configuration: TrainingConfiguration, budget: MemoryBudget) throws {
    let path = configuration.dataFile!
    let source = path == "-" ? "standard input" : path
    let target = configuration.target!
    let task = configuration.task
    let rule = configuration.missingValues ?? .impute
    let ignored = configuration.ignoredColumns ?? []
    let categorical = configuration.categoricalColumns ?? []
    let categoricalSet = Set(categorical)

    // The columns are chosen from the header as the file is opened (once: standard input
    // and a pipe are read as they come).
    let group = Processes.group
    var table: CSVTable<Element>
    table = try Processes.agreeing("reading its part of \(source)") {
    do {
      var reader = try CSVTableReader<Element>(path: path, byteLimit: budget.bytes) { header, headerLine in
        func absent(_ column: String) -> DataError {
          .missingColumn(path: source, line: headerLine, column: column, available: header)
        }
        let names = Set(header)
        // A column without a name can only be left out: to use it, it needs one.
        for (column, use) in [(target, "the target")] + categorical.map({ ($0, "read as categories") }) {
          if let cell = column.isEmpty ? header.firstIndex(of: "") : Self.emptyCell(column, in: header) {
            throw CLIError.dataMismatch(
              path: source,
              reason: "line \(headerLine), column \(cell + 1): the header cell is empty; the column can be \(use) once it is named in the file")
          }
        }
        guard names.contains(target) else { throw absent(target) }
        for column in ignored where !names.contains(column) && Self.emptyCell(column, in: header) == nil {
          throw absent(column)
        }
        for column in categorical where !names.contains(column) { throw absent(column) }
        if ignored.contains(target) {
          throw BumpKitError.invalidArgument(
            name: "ignored column", value: MessageText.quoted(target), reason: "it is the target")
        }
        for column in categorical where column == target || ignored.contains(column) {
          throw BumpKitError.invalidArgument(
            name: "categorical column", value: MessageText.quoted(column),
            reason: column == target ? "it is the target" : "it is ignored")
        }
        let ignoredSet = Set(ignored)
        let ignoredCells = Set(ignored.compactMap { Self.emptyCell($0, in: header) })
        var featureNames: [String] = []
        var unnamed: [Int] = []
        for (position, name) in header.enumerated()
        where name != target && !ignoredSet.contains(name) && !ignoredCells.contains(position) {
          if name.isEmpty { unnamed.append(position) } else { featureNames.append(name) }
        }
        // A column without a name (a file's row index, say) is refused, not guessed at; the
        // hint names every such column at once.
        if let first = unnamed.first {
          let aliases = unnamed.map { "column \($0 + 1)" }
          let usable = aliases.allSatisfy { Self.emptyCell($0, in: header) != nil }
          let hint =
            usable
            ? "name \(unnamed.count == 1 ? "the column" : "the columns") in the file, or leave \(unnamed.count == 1 ? "it" : "them") out with --ignore \(ShellWord.quoted(aliases.joined(separator: ",")))"
            : "name \(unnamed.count == 1 ? "the column" : "the columns") in the file (a column is named \(MessageText.quoted(aliases.first { Self.emptyCell($0, in: header) == nil }!)), so --ignore cannot name \(unnamed.count == 1 ? "this one" : "them all"))"
          let rest = unnamed.dropFirst().map { String($0 + 1) }
          let more = rest.isEmpty ? "" : " (and \(rest.count) more: column\(rest.count == 1 ? "" : "s") \(rest.joined(separator: ", ")))"
          throw CLIError.withHint(
            CLIError.dataMismatch(
              path: source, reason: "line \(headerLine), column \(first + 1): the header cell is empty\(more); every column used needs a name"),
            hint: hint)
        }
        guard !featureNames.isEmpty else {
          if !ignored.isEmpty {
            throw CLIError.dataMismatch(
              path: source,
              reason: "--ignore leaves no feature column: every column but the target \(MessageText.quoted(target)) is ignored")
          }
          throw DataError.noFeatureColumns(path: source, line: headerLine, target: target)
        }
        var requests: [(name: String, kind: CSVColumnKind)] = [
          (target, task == .classification ? .texts : .numbers)
        ]
        requests += featureNames.map { ($0, categoricalSet.contains($0) ? .texts : .automatic) }
        return requests
      }
      if let group {
        // Each process reads its own records.
        guard let read = try reader.readPart(of: group) else {
          throw CLIError.dataMismatch(
            path: source,
            reason: "process \(group.rank) of \(group.size) found no record in its part: the file has too few for \(group.size) processes; use fewer")
        }
        return read
      }
      guard let read = try reader.read() else {
        throw DataError.noDataRows(path: reader.path, line: reader.headerLine + 1, columns: reader.header)
      }
      return read
    } catch DataError.memoryLimitExceeded(let path, let line, let rows, let columns, let bytes, _) {
      throw CLIError.notEnoughMemory(
        needed: nil, limit: budget.bytes, source: budget.source,
        parts: ["\(path): \(byteText(bytes)) for \(rows) rows × \(columns) values by line \(line), and more to read"])
    } catch let error as DataError {
      throw PreparedData<Element>.advised(error, target: target, task: task)
    }
    }
    self.source = source
    let rows = table.rows
    guard rows <= Int(UInt32.max) else {
      throw CLIError.dataMismatch(path: source, reason: "more than \(UInt32.max) rows")
    }
    var notes: [String] = []

    // Rows: those with a target, and with --missing drop-rows every feature cell.
    var keep = [Bool](repeating: true, count: rows)
    do {
      let targetColumn = table.columns[0]
      Self.forEachMissing(targetColumn) { keep[$0] = false }
      // Over a group, the counts are all the processes' (the lines listed, some of them).
      let targetMissing = try group.map { try GroupStatistics.sum([targetColumn.missingCount], in: $0)[0] }
        ?? targetColumn.missingCount
      if targetMissing > 0 {
        notes.append(
          "Dropped \(ModelInfo.count(targetMissing, "row")) with a missing target "
            + "\(MessageText.quoted(target)) (\(Self.lineList(targetColumn.missingLines, total: targetMissing)))")
      }
      let incomplete = table.columns.dropFirst().filter { $0.missingCount > 0 }
      switch rule {
      case .impute: break
      case .error:
        try Processes.agreeing("on a missing cell") {
          guard incomplete.isEmpty else { throw Self.missingError(Array(incomplete), source: source) }
        }
      case .dropRows:
        var dropped = 0
        for column in incomplete {
          Self.forEachMissing(column) { r in
            if keep[r] {
              keep[r] = false
              dropped += 1
            }
          }
        }
        var cells = incomplete.reduce(0) { $0 + $1.missingCount }
        if let group {
          let sums = try GroupStatistics.sum([dropped, cells], in: group)
          (dropped, cells) = (sums[0], sums[1])
        }
        if dropped > 0 {
          let lines = Array(Set(incomplete.flatMap(\.missingLines))).sorted()
          notes.append(
            "Dropped \(ModelInfo.count(dropped, "row")) with a missing feature cell (--missing drop-rows; cells on \(Self.lineList(lines, total: cells)))")
        }
      }
    }
    var kept = 0
    for flag in keep { kept &+= flag ? 1 : 0 }
    try Processes.agreeing("with no rows left") {
      guard kept > 0 else {
        throw CLIError.dataMismatch(
          path: source, reason: "no rows are left to train on once rows with missing cells are dropped"
            + (group.map { " (in the part of process \($0.rank) of \($0.size))" } ?? ""))
      }
    }

    // The targets' classes.
    let taskValue: LearningTask
    var classOfCode: [Int32] = []
    var classNames: [String]?
    var numericClasses: Bool?
    switch (task, table.columns[0].cells) {
    case (.classification, .texts(let codes, let texts)) where group != nil:
      // Over the group: the labels of every process's kept rows.
      var present = [Bool](repeating: false, count: texts.count)
      for r in 0..<rows where keep[r] { present[Int(codes[r])] = true }
      let found = try GroupStatistics.classes(
        texts: texts, lines: table.columns[0].textLines, present: present, path: source, target: target, in: group!)
      try Processes.agreeing("with one class") {
        guard found.names.count >= 2 else {
          throw CLIError.dataMismatch(
            path: source,
            reason: "the target \(MessageText.quoted(target)) holds only one class (\(MessageText.quoted(found.names.first ?? "?"))); "
              + "classification needs at least 2 (use --task regression for a numeric target)")
        }
      }
      classOfCode = found.classOfText
      classNames = found.names
      numericClasses = found.numeric
      taskValue = .classification(classes: found.names.count)
    case (.classification, .texts(let codes, let texts)):
      let labels = try ClassLabels(
        codes: codes, texts: texts, lines: table.columns[0].textLines, path: source, target: target)
      // Only the classes of the rows kept.
      var present = [Bool](repeating: false, count: labels.names.count)
      for r in 0..<rows where keep[r] { present[labels.classOfText[Int(codes[r])]] = true }
      var renumber = [Int](repeating: -1, count: labels.names.count)
      var names: [String] = []
      for k in present.indices where present[k] {
        renumber[k] = names.count
        names.append(labels.names[k])
      }
      guard names.count >= 2 else {
        throw CLIError.dataMismatch(
          path: source,
          reason: "the target \(MessageText.quoted(target)) holds only one class (\(MessageText.quoted(names.first ?? "?"))) in \(kept) rows; "
            + "classification needs at least 2 (use --task regression for a numeric target)")
      }
      classOfCode = labels.classOfText.map { Int32(renumber[$0]) }
      classNames = names
      numericClasses = labels.numeric
      taskValue = .classification(classes: names.count)
    default:
      taskValue = .regression
    }

    // The test part (--test-split) first: a seeded draw among the kept rows, which are then
    // left out as rows without a target are, so that the rest is split and prepared exactly
    // as the file without them would be (their labels are among the classes above).
    let sizes = try Processes.agreeing("splitting its rows") {
      try PreparedData<Element>.partSizes(configuration, count: kept, source: source)
    }
    // Each process draws its own parts from its own rows (its seeds differ).
    let seed = configuration.seed &+ Processes.seedOffset
    var testRows: [Int] = []
    if sizes.test > 0 {
      let chosen = TestPart.choose(sizes.test, of: kept, seed: seed)
      testRows.reserveCapacity(chosen.count)
      var k = 0
      for r in 0..<rows where keep[r] {
        if testRows.count < chosen.count, chosen[testRows.count] == k {
          testRows.append(r)
          keep[r] = false
        }
        k += 1
      }
      kept -= testRows.count
    }

    // Files are often sorted (by class, by time): shuffle before the validation split takes
    // the last rows. Each kept row draws a bucket now (`BucketShuffle`), and the rows that end
    // before the cut are the training part.
    let shuffle = BucketShuffle(rows: kept, seed: seed &+ 0x5EED)
    let dropping = kept == rows ? nil : keep
    let placement = TrainingRows<Element>.Placement(rows: rows, keep: dropping, shuffle: shuffle)
    let cut = kept - sizes.validation
    var inTraining = placement.before(cut, rows: rows, keep: dropping, shuffle: shuffle)

    var plan =
      try group.map {
        try GroupStatistics.plan(
          columns: Array(table.columns.dropFirst()), training: inTraining, missing: rule,
          categorical: categoricalSet, path: source, in: $0)
      }
      ?? ColumnPlan.fit(
        columns: Array(table.columns.dropFirst()), training: inTraining, missing: rule,
        categorical: categoricalSet)
    plan.numericClasses = numericClasses
    if let bins = configuration.piecewiseBins {
      guard group == nil else {
        throw CLIError.dataMismatch(
          path: source,
          reason: "--numeric-encoding piecewise-linear needs one process: its bins are quantiles of the whole training part")
      }
      let positions = Dictionary(
        table.columns.indices.dropFirst().map { (table.columns[$0].name, $0) }, uniquingKeysWith: { a, _ in a })
      let encoded = plan.withPiecewiseLinear(
        bins: bins, maximumDistinct: configuration.piecewiseMaximumDistinct,
        columns: plan.features.map { table.columns[positions[$0.name]!] }, training: inTraining)
      // The default's budget: beyond it the first layer would cost more than the encoding is
      // worth (training time grows with the rows times the inputs).
      let inputs = encoded.features.reduce(0) { $0 + $1.bins }
      let cells = inputs.multipliedReportingOverflow(by: cut)
      if let limit = configuration.binsCellLimit, cells.overflow || cells.partialValue > limit {
        notes.append(
          "Number columns plain: a piecewise-linear encoding would add \(inputs) inputs for \(cut) training rows, beyond the default's \(limit) cells (--numeric-encoding piecewise-linear applies it)")
      } else {
        plan = encoded
      }
    }
    try Processes.agreeing("planning the columns") {
    guard !plan.features.isEmpty else {
      throw CLIError.dataMismatch(
        path: source,
        reason: "no usable feature column: "
          + plan.dropped.map { "\(MessageText.quoted($0.name)) is \($0.reason)" }.joined(separator: ", "))
    }
    if let clash = plan.inputNameClash {
      let makers =
        clash.first == clash.second
        ? "twice by column \(MessageText.quoted(clash.first))"
        : "by column \(MessageText.quoted(clash.first)) and by column \(MessageText.quoted(clash.second))"
      throw CLIError.dataMismatch(
        path: source,
        reason: "two model inputs would be named \(MessageText.quoted(clash.name)), made \(makers); "
          + "rename a column, or leave one out with --ignore")
    }
    try budget.checkTraining(
      configuration, rows: kept + testRows.count, features: plan.width,
      outputs: configuration.loss == .bce ? 1 : (taskValue.classes ?? 1),
      scalarBytes: MemoryLayout<Element>.stride, dataCopies: MemoryBudget.tableDataCopies)
    }

    // Standardised with the training rows' statistics and encoded, each row into its
    // bucket, the table's number blocks freed on the way; then the buckets shuffled in place,
    // and the validation rows (the last ones) copied out.
    let threads = ProcessInfo.processInfo.activeProcessorCount >= 2 ? 2 : 1
    var rowsData: TrainingRows<Element>
    // The test rows' targets, before the target column is handed over.
    var testY: [Element] = []
    if !testRows.isEmpty {
      switch table.columns[0].cells {
      case .numbers(let values) where taskValue.classes == nil: testY = testRows.map { values[$0] }
      case .texts(let codes, _): testY = testRows.map { Element(classOfCode[Int(codes[$0])]) }
      default: break
      }
    }
    var testX: Matrix<Element>?
    var standardizationMap: Standardization?
    do {
      let positions = Dictionary(
        table.columns.indices.dropFirst().map { (table.columns[$0].name, $0) }, uniquingKeysWith: { a, _ in a })
      let used = plan.features.map { positions[$0.name]! }
      // (The columns are not held beyond this: encoding frees their blocks.)
      var usedColumns = used.map { table.columns[$0] }
      let (offsets, categoryOf) = ColumnPlan.Encoder<Element>.layout(plan: plan, columns: usedColumns)
      // Over a group the statistics come from every process's encoded training rows, below.
      let map: Standardization? =
        configuration.standardize && group == nil
        ? try InputStatistics.fit(
          plan: plan, columns: usedColumns, categoryOf: categoryOf, training: inTraining, flagged: cut)
        : nil
      if !testRows.isEmpty {
        // As `bump evaluate` encodes a file's rows for the model.
        var tally = ColumnPlan.Tally(features: plan.features.count)
        var x = try ColumnPlan.Encoder(plan: plan, columns: usedColumns).encode(rows: testRows, tally: &tally)
        if let map { try map.apply(toInPlace: &x) }
        testX = x
      }
      usedColumns = []
      standardizationMap = map
      inTraining = []
      func input(_ value: Element, _ j: Int) -> Element {
        guard let map else { return value }
        return Element((Double(value) - map.mean[j]) / map.standardDeviation[j])
      }
      var sources: [TrainingRows<Element>.Source] = []
      for (f, k) in used.enumerated() {
        let feature = plan.features[f]
        let first = offsets[f]
        switch table.columns[k].cells {
        case .numbers(let values):
          table.columns[k].cells = .numbers(CSVValues())
          sources.append(
            .numbers(
              values, fill: Element(feature.median ?? 0), mean: map?.mean[first] ?? 0,
              deviation: map?.standardDeviation[first] ?? 1,
              indicator: feature.indicator ? (input(0, first + 1), input(1, first + 1)) : nil,
              edges: feature.edges))
        case .texts(let codes, _):
          let other = feature.other ? (feature.categories?.count ?? 0) : -1
          let inputs = first..<(first + feature.width)
          sources.append(
            .texts(
              codes: codes, categoryOf: categoryOf[f], other: other, zeros: inputs.map { input(0, $0) },
              ones: inputs.map { input(1, $0) }))
        }
      }
      var targetSource: TrainingRows<Element>.Target
      switch table.columns[0].cells {
      case .numbers(let values) where taskValue.classes == nil:
        table.columns[0].cells = .numbers(CSVValues())
        targetSource = .numbers(values)
      case .texts(let codes, _):
        targetSource = .classes(codes: codes, classOf: classOfCode)
      default:
        throw CLIError.dataMismatch(path: source, reason: "the target was not read as classes")
      }
      table.columns = []
      rowsData = TrainingRows(
        rows: rows, keep: dropping, placement: placement, sources: &sources, offsets: offsets,
        width: plan.width, target: &targetSource, threads: threads)
    }
    keep = []
    let held = TrainingRows.shuffleBuckets(
      &rowsData.x, targets: &rowsData.y, shuffle: shuffle, starts: placement.starts, threads: threads,
      copyingFrom: cut)
    var x = rowsData.x
    rowsData.x = Matrix()
    var validationX: Matrix<Element>?
    var validationY: Matrix<Element>?
    if let held {
      validationX = held.x
      validationY = try Matrix(rows: kept - cut, columns: 1, elements: held.y)
      TrainingRows.releaseRows(of: &x, from: cut)
      x.resize(validRows: cut, columns: plan.width)
    }
    let y = try Matrix(rows: cut, columns: 1, elements: Array(rowsData.y[..<cut]))
    rowsData.y = []

    var standardization = standardizationMap
    if let group, configuration.standardize {
      let map = try GroupStatistics.standardization(of: x, in: group)
      try map.apply(toInPlace: &x)
      if validationX != nil { try map.apply(toInPlace: &validationX!) }
      if testX != nil { try map.apply(toInPlace: &testX!) }
      standardization = map
    }
    self.standardization = standardization
    let names = plan.inputNames
    training = try Dataset(
      x: x, y: y, featureNames: names, targetName: target, task: taskValue, classNames: classNames)
    if let validationX, let validationY {
      validation = try Dataset(
        x: validationX, y: validationY, featureNames: names, targetName: target, task: taskValue,
        classNames: classNames)
    } else {
      validation = nil
    }
    if let testX {
      test = try Dataset(
        x: testX, y: try Matrix(rows: testY.count, columns: 1, elements: testY), featureNames: names,
        targetName: target, task: taskValue, classNames: classNames)
    } else {
      test = nil
    }
    self.testRows = testRows
    self.plan = plan
    summaryLines = [plan.summaryLine] + notes
  }

  /// The position (0-based) of the empty header cell that `name` stands for: `column N` is
  /// the N-th column when its header cell is empty and no column is named so; nil otherwise.
  /// A column without a name cannot be named in `--ignore` otherwise.
  static func emptyCell(_ name: String, in header: [String]) -> Int? {
    let number = name.dropFirst("column ".count)
    guard name.hasPrefix("column "), let n = Int(number), String(n) == number, n >= 1, n <= header.count,
      header[n - 1].isEmpty, !header.contains(name)
    else { return nil }
    return n - 1
  }

  /// Calls `body` with each row whose cell in `column` is missing, in order.
  static func forEachMissing(_ column: CSVColumn<Element>, _ body: (Int) -> Void) {
    switch column.cells {
    case .numbers(let values):
      values.forEachBlock { block, start in
        for i in block.indices where block[i].isNaN { body(start + i) }
      }
    case .texts(let codes, _):
      for r in codes.indices where codes[r] == CSVColumn<Element>.missingCode { body(r) }
    }
  }

  /// "lines 5, 9" or "lines 5, 9, … (12 in all)".
  static func lineList(_ lines: [Int], total: Int) -> String {
    let shown = lines.prefix(CSVTableReader<Element>.lineListLimit)
    // Over a group, process 0's part may hold none of them.
    if shown.isEmpty { return "lines in other processes' parts (\(total) in all)" }
    return "line\(shown.count == 1 ? "" : "s") " + shown.map(String.init).joined(separator: ", ")
      + (total > shown.count ? ", … (\(total) in all)" : "")
  }

  /// The error of `--missing error`: every missing cell (up to ``ColumnPlan/missingListLimit``)
  /// with its line and column, and the total.
  static func missingError(
    _ columns: [CSVColumn<Element>], source: String,
    hint: String = "use --missing impute (the default) to fill them, or --missing drop-rows to leave their rows out"
  ) -> CLIError {
    let total = columns.reduce(0) { $0 + $1.missingCount }
    let cells = columns.flatMap { column in column.missingLines.map { ($0, column.position, column.name) } }
      .sorted { ($0.0, $0.1) < ($1.0, $1.1) }
    var text = "\(ModelInfo.count(total, "missing cell")) (--missing error):"
    for (line, _, name) in cells.prefix(ColumnPlan.missingListLimit) {
      text += "\n  line \(line), column \(MessageText.quoted(name)): missing"
    }
    let listed = min(cells.count, ColumnPlan.missingListLimit)
    if total > listed { text += "\n  … and \(total - listed) more" }
    text += "\n  \(hint)"
    return .dataMismatch(path: source, reason: text)
  }
}
