extension History {
  /// The history as a table, one row per epoch: `epoch` (1-based) and `loss`, then
  /// `val_loss`, `accuracy` and `val_accuracy` for the quantities that have one value per
  /// epoch (none of them for a history without epochs). Numbers are written as by
  /// ``CSVFile/format(_:)``, in the shortest form that reads back exactly.
  ///
  /// Throughput (``samplesPerSecond``) is left out: it differs from run to run, and the table
  /// is meant to compare runs.
  public var table: (header: [String], rows: [[String]]) {
    let n = epochs
    var columns: [(name: String, values: [Double])] = [("loss", loss)]
    for (name, values) in [
      ("val_loss", validationLoss), ("accuracy", accuracy), ("val_accuracy", validationAccuracy),
    ] where n > 0 && values.count == n {
      columns.append((name, values))
    }
    let rows = (0..<n).map { e in [String(e + 1)] + columns.map { CSVFile.format($0.values[e]) } }
    return (["epoch"] + columns.map(\.name), rows)
  }

  /// ``table`` as CSV text, in the format of ``CSVFile``.
  public func csvText() -> String {
    let (header, rows) = table
    return CSVFile.text(header: header, rows: rows)
  }

  /// Writes ``table`` to `path` as CSV, atomically (see ``CSVFile``).
  ///
  /// - Throws: ``DataError/writeFailed(path:operation:reason:)``.
  public func writeCSV(to path: String) throws {
    let (header, rows) = table
    try CSVFile.write(path: path, header: header, rows: rows)
  }
}
