import BumpKit

/// The standardisation of a planned table's model inputs, fitted on its training rows
/// straight from the table's columns, before the rows are encoded (so that encoding writes
/// the standardised inputs at once).
///
/// Each input's mean μ and population standard deviation s are those of its values on the
/// training rows as ``ColumnPlan`` encodes them: a number cell (a missing one takes the
/// column's fill), a "was missing" indicator (0 or 1), a category's one-hot input (0 or 1).
/// A number column's piecewise-linear inputs (in [0, 1]) are left as they are: mean 0,
/// deviation 1.
/// A number column takes one pass in file order, in `Double`, over its deviations from the
/// training median (see ``numbers(_:fill:median:missing:training:n:)``; a `Double` column
/// whose squares would overflow is redone with a running mean and deviations scaled by the
/// largest one); a 0/1 input's are computed from its count. A 0/1 input that is constant on the training rows gets s = 1, as
/// ``Standardization/init(fitting:)`` gives it (a constant number column is not an input). The result depends on the set of training
/// rows, not on their order or on the number of processors.
enum InputStatistics {
  /// The standardisation of the inputs of `plan` (one column per feature in `columns`),
  /// fitted on the rows flagged in `training` (`flagged` of them, at least one).
  static func fit<Element: MatrixScalar>(
    plan: ColumnPlan, columns: [CSVColumn<Element>], categoryOf: [[Int32]], training: [Bool], flagged: Int
  ) throws -> Standardization {
    precondition(flagged > 0 && columns.count == plan.features.count)
    let items = Array(zip(plan.features, zip(columns, categoryOf)))
    let parts = training.withUnsafeBufferPointer { training in
      let shared = UnsafeSendable(training)
      return concurrentMap(items) { feature, column in
        inputs(of: feature, column: column.0, categoryOf: column.1, training: shared.value, n: flagged)
      }
    }
    return try Standardization(
      mean: parts.flatMap { $0.map(\.mean) }, standardDeviation: parts.flatMap { $0.map(\.deviation) })
  }

  /// The statistics of one feature's inputs.
  private static func inputs<Element: MatrixScalar>(
    of feature: ColumnPlan.Feature, column: CSVColumn<Element>, categoryOf: [Int32],
    training: UnsafeBufferPointer<Bool>, n: Int
  ) -> [(mean: Double, deviation: Double)] {
    switch column.cells {
    case .numbers(let values):
      // A number feature is not constant on the training rows (``ColumnPlan`` drops those),
      // and `feature.missing` counts its missing training cells.
      let fill = Double(Element(feature.median ?? 0))
      let number = numbers(
        values, fill: fill, median: feature.median ?? 0, missing: feature.missing, training: training, n: n)
      // Piecewise-linear inputs, in [0, 1], are not standardised (mean 0, deviation 1).
      let pieces = [(mean: Double, deviation: Double)](repeating: (0, 1), count: feature.bins)
      return (feature.indicator ? [number, binary(count: feature.missing, n: n)] : [number]) + pieces
    case .texts(let codes, _):
      var counts = [Int](repeating: 0, count: feature.width)
      let other = feature.other ? feature.width - 1 : -1
      var perCode = [Int](repeating: 0, count: categoryOf.count)
      codes.withUnsafeBufferPointer { codes in
        for r in codes.indices where training[r] {
          let code = codes[r]
          if code != CSVColumn<Element>.missingCode { perCode[Int(code)] += 1 }
        }
      }
      for (code, count) in perCode.enumerated() where count > 0 {
        let k = Int(categoryOf[code])
        let input = k >= 0 ? k : other
        if input >= 0 { counts[input] += count }
      }
      return counts.map { binary(count: $0, n: n) }
    }
  }

  /// The standardisation of regression targets `y` as ``Standardization/init(fitting:)``
  /// defines it — each column's mean and population standard deviation, 1 for a constant
  /// column — in two passes over each column in four interleaved lanes: the mean m of the
  /// values, then the deviations d = v − m, whose sums give μ = m + Σd / n and
  /// s² = Σd² / n − (Σd / n)² with no loss to cancellation. The library's three-pass form
  /// (a running mean with a division per value) takes over where a value is not finite (it
  /// throws) or the squares overflow.
  static func targets<Element: MatrixScalar>(_ y: Matrix<Element>) throws -> Standardization {
    let (rows, columns) = (y.rows, y.columns)
    guard rows > 0 else { return try Standardization(fitting: y) }
    var means = [Double](repeating: 0, count: columns)
    var deviations = [Double](repeating: 1, count: columns)
    let finite = y.withUnsafeBufferPointer { cells -> Bool in
      for j in 0..<columns {
        /// Σ(v − shift) and Σ(v − shift)² over column j, in four lanes by row index.
        func lanes(from shift: Double) -> (SIMD4<Double>, SIMD4<Double>) {
          var first = SIMD4<Double>()
          var second = SIMD4<Double>()
          var i = 0
          while i + 4 <= rows {
            let t =
              SIMD4<Double>(
                Double(cells[i &* columns &+ j]), Double(cells[(i &+ 1) &* columns &+ j]),
                Double(cells[(i &+ 2) &* columns &+ j]), Double(cells[(i &+ 3) &* columns &+ j])) - shift
            first += t
            second += t * t
            i &+= 4
          }
          while i < rows {
            let t = Double(cells[i &* columns &+ j]) - shift
            first[i & 3] += t
            second[i & 3] += t * t
            i &+= 1
          }
          return (first, second)
        }
        let n = Double(rows)
        let m = lanes(from: 0).0.sum() / n
        let (first, second) = lanes(from: m)
        let shift = first.sum() / n
        let squares = second.sum()
        let variance = squares / n - shift * shift
        guard m.isFinite, squares.isFinite, variance.isFinite else { return false }
        means[j] = m + shift
        deviations[j] = variance > 0 ? scale(variance.squareRoot()) : 1
      }
      return true
    }
    guard finite else { return try Standardization(fitting: y) }
    return try Standardization(mean: means, standardDeviation: deviations)
  }

  /// A 0/1 input that is 1 on `count` of the `n` training rows.
  static func binary(count: Int, n: Int) -> (mean: Double, deviation: Double) {
    let mean = Double(count) / Double(n)
    guard count > 0 && count < n else { return (mean, 1) }
    let sum = Double(count) * (1 - mean) * (1 - mean) + Double(n - count) * mean * mean
    return (mean, scale((sum / Double(n)).squareRoot()))
  }

  /// A number column's statistics on the training rows (a missing cell taking `fill`),
  /// which hold `missing` missing cells; `median` is the median of their numbers.
  ///
  /// One pass: the deviations d = v − m from the median m, Σd and Σd², give
  /// μ = m + Σd / n and s² = Σd² / n − (Σd / n)². The median lies within one standard
  /// deviation of the mean, so the subtraction loses at most about one bit, and the sums run
  /// in four interleaved lanes fixed by the row's index (they do not depend on the blocks or
  /// on the processors).
  static func numbers<Element: MatrixScalar>(
    _ values: CSVValues<Element>, fill: Double, median: Double, missing: Int, training: UnsafeBufferPointer<Bool>,
    n: Int
  ) -> (mean: Double, deviation: Double) {
    var first = SIMD4<Double>()
    var second = SIMD4<Double>()
    var lane = 0
    /// One cell's terms into lane `lane`.
    @inline(__always) func add(_ value: Element, flag: Bool) {
      let d = Double(value) - median
      let term = flag && !d.isNaN ? d : 0
      first[lane] += term
      second[lane] += term * term
      lane = (lane + 1) & 3
    }
    var start = 0
    for block in values.blocks {
      defer { start += block.count }
      let flags = training.baseAddress! + start
      let bytes = UnsafeRawPointer(flags).assumingMemoryBound(to: UInt8.self)
      let cells = UnsafePointer(block.base)
      var i = 0
      while i < block.count && lane != 0 {
        add(cells[i], flag: flags[i])
        i += 1
      }
      while i + 4 <= block.count {
        var d = SIMD4<Double>(Double(cells[i]), Double(cells[i + 1]), Double(cells[i + 2]), Double(cells[i + 3])) - median
        let t = SIMD4<Double>(Double(bytes[i]), Double(bytes[i + 1]), Double(bytes[i + 2]), Double(bytes[i + 3]))
        d.replace(with: 0, where: (t .== 0) .| (d .!= d))
        first += d
        second += d * d
        i += 4
      }
      while i < block.count {
        add(cells[i], flag: flags[i])
        i += 1
      }
    }
    let count = Double(n)
    let m = Double(missing)
    let sum = (first[0] + first[1]) + (first[2] + first[3]) + m * (fill - median)
    let squares = (second[0] + second[1]) + (second[2] + second[3]) + m * (fill - median) * (fill - median)
    let shift = sum / count
    let mean = median + shift
    let variance = squares / count - shift * shift
    if mean.isFinite && squares.isFinite && variance.isFinite {
      // (Rounding can leave a tiny negative variance for nearly equal values.)
      if variance <= 0 { return (mean, 1) }
      return (mean, scale(variance.squareRoot()))
    }
    // Values near the limits of `Double` (the squares overflow): a running mean, and the
    // squares of deviations scaled by the largest one.
    var running = 0.0
    var seen = 0.0
    func each(_ body: (Double) -> Void) {
      values.forEachBlock { block, start in
        for i in block.indices where training[start + i] {
          let v = Double(block[i])
          body(v.isNaN ? fill : v)
        }
      }
    }
    each { v in
      seen += 1
      running += (v - running) / seen
    }
    var largest = 0.0
    each { largest = max(largest, abs($0 - running)) }
    var scaled = 0.0
    each { v in
      let d = (v - running) / largest
      scaled += d * d
    }
    return (running, scale(largest * (scaled / count).squareRoot()))
  }

  /// `s` where it is finite and positive, else 1.
  private static func scale(_ s: Double) -> Double {
    s > 0 && s.isFinite ? s : 1
  }
}
