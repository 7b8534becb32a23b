import BumpKit
import Foundation
import Testing

private func column<E: MatrixScalar>(_ m: Matrix<E>, _ j: Int) -> [Double] {
  (0..<m.rows).map { Double(m[$0, j]) }
}

private func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }

private func standardDeviation(_ values: [Double]) -> Double {
  let m = mean(values)
  return (values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(values.count)).squareRoot()
}

/// The error `body` throws, or `nil`.
private func thrownError(_ body: () throws -> Void) -> BumpKitError? {
  do {
    try body()
    return nil
  } catch {
    return error as? BumpKitError
  }
}

private func isInvalidArgument(_ error: BumpKitError?) -> Bool {
  if case .invalidArgument? = error { return true }
  return false
}

@Suite("Generated datasets")
struct GeneratedDatasetTests {
  private func checkDeterministic<E: MatrixScalar>(_: E.Type) throws {
    #expect(try Dataset<E>.rings(seed: 5) == Dataset<E>.rings(seed: 5))
    #expect(try Dataset<E>.rings(seed: 5) != Dataset<E>.rings(seed: 6))
    #expect(try Dataset<E>.bumps(seed: 5) == Dataset<E>.bumps(seed: 5))
    #expect(try Dataset<E>.bumps(seed: 5) != Dataset<E>.bumps(seed: 6))
    #expect(try Dataset<E>.regression(seed: 5) == Dataset<E>.regression(seed: 5))
    #expect(try Dataset<E>.regression(seed: 5) != Dataset<E>.regression(seed: 6))
  }

  @Test("The same seed gives the same dataset; another seed a different one")
  func deterministic() throws {
    try checkDeterministic(Float.self)
    try checkDeterministic(Double.self)
  }

  @Test("Float datasets are the Double ones rounded once")
  func floatIsRoundedDouble() throws {
    let pairs: [(Dataset<Float>, Dataset<Double>)] = [
      (try .rings(samples: 300, seed: 9), try .rings(samples: 300, seed: 9)),
      (try .bumps(samples: 300, seed: 9), try .bumps(samples: 300, seed: 9)),
      (try .regression(samples: 300, seed: 9), try .regression(samples: 300, seed: 9)),
    ]
    for (single, double) in pairs {
      #expect(single.x.elements == double.x.elements.map { Float($0) })
      #expect(single.y.elements == double.y.elements.map { Float($0) })
    }
  }

  @Test("Rings: shapes, names, exact class balance, alternating classes")
  func ringsShape() throws {
    let data = try Dataset<Double>.rings()
    #expect(data.count == 2000)
    #expect(data.x.shape == (2000, 2))
    #expect(data.y.shape == (2000, 1))
    #expect(data.task == .classification(classes: 2))
    #expect(data.classNames == ["inner", "outer"])
    #expect(data.featureNames == ["x0", "x1"])
    #expect(data.targetName == "ring")
    let labels = column(data.y, 0)
    #expect(labels.filter { $0 == 0 }.count == 1000)
    #expect(labels.filter { $0 == 1 }.count == 1000)
    #expect(labels.enumerated().allSatisfy { $0.element == Double($0.offset % 2) })

    let odd = try Dataset<Float>.rings(samples: 7)
    #expect(column(odd.y, 0).filter { $0 == 0 }.count == 4)
  }

  @Test("Rings: radii 1 and 2 with Gaussian spread `noise`, angles all around")
  func ringsRadii() throws {
    let data = try Dataset<Double>.rings(samples: 4000, noise: 0.05, seed: 1)
    let labels = column(data.y, 0)
    let radii = (0..<data.count).map {
      (data.x[$0, 0] * data.x[$0, 0] + data.x[$0, 1] * data.x[$0, 1]).squareRoot()
    }
    for k in 0..<2 {
      let ring = zip(radii, labels).filter { $0.1 == Double(k) }.map(\.0)
      #expect(abs(mean(ring) - Double(k + 1)) < 0.005)
      #expect(abs(standardDeviation(ring) - 0.05) < 0.005)
    }
    // Angles cover the circle evenly: each quadrant holds about a quarter of the points.
    let quadrants = (0..<data.count).map {
      (data.x[$0, 0] >= 0 ? 0 : 1) + (data.x[$0, 1] >= 0 ? 0 : 2)
    }
    for q in 0..<4 {
      let share = Double(quadrants.filter { $0 == q }.count) / Double(data.count)
      #expect(abs(share - 0.25) < 0.03)
    }

    let exact = try Dataset<Double>.rings(samples: 100, noise: 0)
    for i in 0..<exact.count {
      let r = (exact.x[i, 0] * exact.x[i, 0] + exact.x[i, 1] * exact.x[i, 1]).squareRoot()
      #expect(abs(r - (1 + exact.y[i, 0])) < 1e-12)
    }
  }

  @Test("Bumps: the truth constants")
  func bumpsTruthConstants() {
    let truth = Dataset<Float>.bumpsTruth
    #expect(truth.centers == [-1.0, 1.2])
    #expect(truth.sigmas == [0.25, 0.5])
    #expect(truth.amplitudes == [1.0, 0.6])
    #expect(truth == Dataset<Double>.bumpsTruth)
    // Peak a·e⁻¹ at each centre, exactly 0 outside each support (c ± √σ).
    #expect(abs(truth.value(at: -1) - exp(-1.0)) < 1e-15)
    #expect(abs(truth.value(at: 1.2) - 0.6 * exp(-1.0)) < 1e-15)
    for x in [-3.0, -1.5, -0.5, 0, 1.2 - 0.5.squareRoot(), 1.2 + 0.5.squareRoot(), 2.5] {
      #expect(truth.value(at: x) == 0, "x = \(x)")
    }
    #expect(truth.value(at: -0.51) > 0)
    // The formula, at a point inside the second bump.
    let z = 1.5 - 1.2
    #expect(abs(truth.value(at: 1.5) - 0.6 * exp(-0.5 / (0.5 - z * z))) < 1e-15)
  }

  @Test("Bumps: shape, x uniform in [−3, 3), y the truth plus `noise`")
  func bumpsData() throws {
    let clean = try Dataset<Double>.bumps(noise: 0, seed: 4)
    #expect(clean.x.shape == (1000, 1))
    #expect(clean.y.shape == (1000, 1))
    #expect(clean.task == .regression)
    #expect(clean.featureNames == ["x"])
    let truth = Dataset<Double>.bumpsTruth
    for i in 0..<clean.count {
      #expect(clean.x[i, 0] >= -3 && clean.x[i, 0] < 3)
      #expect(clean.y[i, 0] == truth.value(at: clean.x[i, 0]))
    }
    #expect(abs(mean(column(clean.x, 0))) < 0.15)
    #expect(column(clean.x, 0).min()! < -2.9 && column(clean.x, 0).max()! > 2.9)

    let noisy = try Dataset<Double>.bumps(samples: 5000, noise: 0.01, seed: 4)
    let residuals = (0..<noisy.count).map { noisy.y[$0, 0] - truth.value(at: noisy.x[$0, 0]) }
    #expect(abs(standardDeviation(residuals) - 0.01) < 0.001)
  }

  @Test("Regression: shapes and the formula y = sin(x0)·exp(−x1²) + 0.1·x2")
  func regressionData() throws {
    let clean = try Dataset<Double>.regression(samples: 500, features: 5, noise: 0, seed: 2)
    #expect(clean.x.shape == (500, 5))
    #expect(clean.y.shape == (500, 1))
    #expect(clean.featureNames == ["x0", "x1", "x2", "x3", "x4"])
    for i in 0..<clean.count {
      let x = clean.x.row(i)
      #expect(abs(clean.y[i, 0] - (sin(x[0]) * exp(-x[1] * x[1]) + 0.1 * x[2])) < 1e-15)
    }
    let big = try Dataset<Double>.regression(seed: 3)
    #expect(big.x.shape == (2000, 4))
    for j in 0..<4 {
      #expect(abs(mean(column(big.x, j))) < 0.1)
      #expect(abs(standardDeviation(column(big.x, j)) - 1) < 0.1)
    }
    let one = try Dataset<Double>.regression(samples: 50, features: 1, noise: 0)
    for i in 0..<one.count { #expect(one.y[i, 0] == sin(one.x[i, 0])) }
  }

  @Test("Generators reject bad arguments")
  func badArguments() {
    #expect(isInvalidArgument(thrownError { _ = try Dataset<Float>.rings(samples: 1) }))
    #expect(isInvalidArgument(thrownError { _ = try Dataset<Float>.rings(noise: -1) }))
    #expect(isInvalidArgument(thrownError { _ = try Dataset<Float>.rings(noise: .nan) }))
    #expect(isInvalidArgument(thrownError { _ = try Dataset<Float>.bumps(samples: 0) }))
    #expect(isInvalidArgument(thrownError { _ = try Dataset<Double>.regression(features: 0) }))
    #expect(isInvalidArgument(thrownError { _ = try Dataset<Double>.regression(noise: .infinity) }))
  }
}

@Suite("Dataset")
struct DatasetTests {
  @Test("The initialiser checks shapes, names, finiteness and labels")
  func checkedInit() throws {
    let x = try Matrix<Double>([[1, 2], [3, 4], [5, 6]])
    let labels = try Matrix<Double>([[0], [2], [1]])
    let data = try Dataset(
      x: x, y: labels, task: .classification(classes: 3), classNames: ["a", "b", "c"])
    #expect(data.featureNames == ["x0", "x1"])
    #expect(data.count == 3)
    #expect(data.task.classes == 3)
    #expect(data.task.kind == .classification)

    func fails(_ body: () throws -> Dataset<Double>) -> BumpKitError? {
      thrownError { _ = try body() }
    }
    guard case .shapeMismatch? = fails({ try Dataset(x: x, y: Matrix(rows: 2, columns: 1)) }) else {
      Issue.record("rows")
      return
    }
    guard case .invalidArgument? = fails({ try Dataset(x: x, y: labels, featureNames: ["a"]) }) else {
      Issue.record("names")
      return
    }
    #expect(
      fails({ try Dataset(x: x, y: labels, task: .classification(classes: 2)) })
        == .labelOutOfRange(row: 1, label: "2.0", classes: 2))
    var fractional = labels
    fractional[0, 0] = 0.5
    #expect(
      fails({ try Dataset(x: x, y: fractional, task: .classification(classes: 3)) })
        == .labelOutOfRange(row: 0, label: "0.5", classes: 3))
    var withNaN = x
    withNaN[2, 1] = .nan
    #expect(
      fails({ try Dataset(x: withNaN, y: labels) })
        == .nonFiniteData(what: "x", row: 2, column: 1, value: "nan"))
    guard
      case .invalidArgument? = fails({
        try Dataset(x: x, y: labels, task: .classification(classes: 3), classNames: ["a"])
      })
    else {
      Issue.record("class names")
      return
    }
    #expect(isInvalidArgument(fails({ try Dataset(x: x, y: labels, classNames: ["a"]) })))
    #expect(
      isInvalidArgument(fails({ try Dataset(x: x, y: labels, task: .classification(classes: 0)) })))
  }

  @Test("shuffled(seed:) permutes whole samples, deterministically")
  func shuffle() throws {
    let data = try Dataset<Float>.regression(samples: 200, features: 2, seed: 1)
    let shuffled = data.shuffled(seed: 42)
    #expect(shuffled == data.shuffled(seed: 42))
    #expect(shuffled != data.shuffled(seed: 43))
    #expect(shuffled.x != data.x)
    #expect(shuffled.featureNames == data.featureNames)
    func samples(_ d: Dataset<Float>) -> [[Float]] {
      (0..<d.count).map { d.x.row($0) + d.y.row($0) }.sorted { $0.lexicographicallyPrecedes($1) }
    }
    #expect(samples(shuffled) == samples(data))
    // A one-sample dataset stays itself.
    let single = try Dataset<Float>.regression(samples: 1)
    #expect(single.shuffled(seed: 1) == single)
  }

  @Test("split(validationFraction:) keeps the row order: training first, validation last")
  func split() throws {
    let data = try Dataset<Double>.rings(samples: 10, seed: 2)
    let (training, validation) = try data.split(validationFraction: 0.25)
    #expect(training.count == 7)  // round(2.5) = 3 held out
    #expect(validation.count == 3)
    #expect(training.x.elements == Array(data.x.elements[0..<14]))
    #expect(validation.y.elements == Array(data.y.elements[7...]))
    #expect(validation.task == data.task)
    #expect(validation.classNames == data.classNames)

    for fraction in [0, 1, -0.5, .nan, 0.01, 0.99] {
      #expect(
        isInvalidArgument(thrownError { _ = try data.split(validationFraction: fraction) }),
        "\(fraction)")
    }
  }

  @Test("standardized() gives zero mean and unit variance, and applies to new data")
  func standardize() throws {
    try checkStandardize(Float.self)
    try checkStandardize(Double.self)
  }

  private func checkStandardize<E: MatrixScalar>(_: E.Type) throws {
    do {
      do {
        let raw = try Dataset<E>.regression(samples: 500, features: 3, seed: 8)
        var x = raw.x
        for i in 0..<x.rows {
          x[i, 0] = x[i, 0] * 10 + 100
          x[i, 2] = 7  // a constant feature
        }
        let data = try Dataset(x: x, y: raw.y)
        let (scaled, standardization) = try data.standardized()
        #expect(scaled.y == data.y)
        #expect(abs(mean(column(scaled.x, 0))) < 1e-5)
        #expect(abs(standardDeviation(column(scaled.x, 0)) - 1) < 1e-5)
        #expect(abs(standardDeviation(column(scaled.x, 1)) - 1) < 1e-5)
        #expect(column(scaled.x, 2).allSatisfy { $0 == 0 })
        #expect(standardization.standardDeviation[2] == 1)
        #expect(abs(standardization.mean[0] - 100) < 1)
        #expect(abs(standardization.standardDeviation[0] - 10) < 1)

        // The same map on new inputs, and back.
        let fresh = try Matrix<E>([[100, 0, 7], [110, 1, 8]])
        let mapped = try standardization.apply(to: fresh)
        let expected =
          (fresh[1, 0] - E(standardization.mean[0])) / E(standardization.standardDeviation[0])
        #expect(abs(Double(mapped[1, 0] - expected)) < 1e-5)
        #expect(mapped[1, 2] == 1)
        let restored = try standardization.invert(mapped)
        for (a, b) in zip(restored.elements, fresh.elements) { #expect(abs(Double(a - b)) < 1e-4) }

        guard
          case .shapeMismatch? = thrownError({
            _ = try standardization.apply(to: Matrix<E>(rows: 1, columns: 2))
          })
        else {
          Issue.record("columns")
          return
        }
      }
    }
  }

  @Test("Standardization survives JSON and validates what it is given")
  func standardizationCodable() throws {
    let data = try Dataset<Double>.regression(samples: 100, seed: 1)
    let (_, standardization) = try data.standardized()
    let json = try JSONEncoder().encode(standardization)
    #expect(try JSONDecoder().decode(Standardization.self, from: json) == standardization)
    #expect(
      try Standardization(
        mean: standardization.mean, standardDeviation: standardization.standardDeviation)
        == standardization)

    #expect(
      isInvalidArgument(thrownError { _ = try Standardization(mean: [0], standardDeviation: [0]) }))
    #expect(
      isInvalidArgument(
        thrownError { _ = try Standardization(mean: [.nan], standardDeviation: [1]) }))
    guard
      case .invalidArgument? = thrownError({
        _ = try Standardization(mean: [0, 1], standardDeviation: [1])
      })
    else {
      Issue.record("lengths")
      return
    }
    let empty = try Dataset<Double>.rings(samples: 10).split(validationFraction: 0.5).validation
    #expect(empty.count == 5)
    #expect(
      isInvalidArgument(
        thrownError { _ = try Standardization(fitting: Matrix<Double>(rows: 0, columns: 2)) }))
  }

  @Test("Error messages say what and where")
  func messages() {
    #expect(
      DataError.raggedRow(path: "d.csv", line: 4, column: "y", expected: 3, found: 2).description
        == "d.csv: line 4, column \"y\": the row has 2 fields but the header has 3; "
        + "column \"y\" and those after it are missing")
    #expect(
      DataError.emptyCell(path: "d.csv", line: 9, column: "x 1").description
        == "d.csv: line 9, column \"x 1\": the cell is empty")
    #expect(
      DataError.duplicateColumn(path: "d.csv", line: 1, column: "a", positions: [1, 4]).description
        == "d.csv: line 1, column \"a\": "
        + "the name appears more than once in the header (columns 1, 4)")
    #expect(LearningTask.classification(classes: 3).description == "classification (3 classes)")
  }
}

@Suite("Standardization fitting")
struct StandardizationFittingTests {
  /// The statistics as the three passes define them, one column at a time in row order: a
  /// running mean μᵢ = μᵢ₋₁ + (xᵢ − μᵢ₋₁) / i (two quotients where x − μ overflows), the
  /// largest deviation m, and s = m·√(Σ((x − μ)/m)² / n), 1 where that is not finite and > 0.
  private static func reference<T: MatrixScalar>(_ x: Matrix<T>) -> (mean: [Double], deviation: [Double]) {
    var means: [Double] = [], deviations: [Double] = []
    for j in 0..<x.columns {
      let values = (0..<x.rows).map { Double(x[$0, j]) }
      var mu = 0.0
      for (i, v) in values.enumerated() {
        let w = Double(i + 1)
        let d = v - mu
        mu += d.isFinite ? d / w : v / w - mu / w
      }
      let m = values.reduce(0.0) { max($0, abs($1 - mu)) }
      var s = 1.0
      if m > 0 {
        let squares = values.reduce(0.0) { $0 + ((($1 - mu) / m) * (($1 - mu) / m)) }
        let candidate = m * (squares / Double(x.rows)).squareRoot()
        if candidate > 0 && candidate.isFinite { s = candidate }
      }
      means.append(mu)
      deviations.append(s)
    }
    return (means, deviations)
  }

  /// Random columns of their own offsets and spreads, a constant one, and (`huge`) one of
  /// values of both signs near the largest finite value, whose differences overflow.
  private static func randomMatrix<T: MatrixScalar>(
    _: T.Type, rows: Int, columns: Int, seed: UInt64, huge: Bool
  ) -> Matrix<T> {
    var generator = SeededGenerator(seed: seed)
    var m = Matrix<T>(validRows: rows, columns: columns)
    for i in 0..<rows {
      for j in 0..<columns {
        let u = 2 * generator.nextUnit() - 1
        let value: Double =
          j == 1 ? 3.25
          : huge && j == columns - 1 ? Double(T.greatestFiniteMagnitude) * (u < 0 ? -0.99 : 0.99)
          : Double(j * j) - 7 + Double(j + 1) * 1000 * u * u * u
        m[i, j] = T(value)
      }
    }
    return m
  }

  @Test("the fitted means and scales are, to the bit, those of the three passes one column at a time",
        arguments: [(1, 1000), (3, 517), (8, 300), (9, 257), (17, 1201), (20, 70_000)])
  func fittingMatchesThePassesToTheBit(columns: Int, rows: Int) throws {
    try check(Float.self, columns: columns, rows: rows)
    try check(Double.self, columns: columns, rows: rows)
  }

  private func check<T: MatrixScalar>(_: T.Type, columns: Int, rows: Int) throws {
    for huge in columns >= 3 ? [false, true] : [false] {
      let x = Self.randomMatrix(T.self, rows: rows, columns: columns, seed: UInt64(columns * 31 + rows), huge: huge)
      let fitted = try Standardization(fitting: x)
      let expected = Self.reference(x)
      #expect(fitted.mean.map(\.bitPattern) == expected.mean.map(\.bitPattern), "\(T.self), \(columns) columns, huge \(huge)")
      #expect(
        fitted.standardDeviation.map(\.bitPattern) == expected.deviation.map(\.bitPattern),
        "\(T.self), \(columns) columns, huge \(huge)")
    }
  }
}
