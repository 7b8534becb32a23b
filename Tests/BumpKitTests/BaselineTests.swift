import BumpKit
import Testing

/// ``Baseline`` and target standardisation on fixtures small enough to work out by hand.
@Suite struct BaselineTests {
  private func column(_ values: [Double]) throws -> Matrix<Double> {
    try Matrix(rows: values.count, columns: 1, elements: values)
  }

  @Test func meanPredictorUsesTheTrainingMean() throws {
    // Training mean (1 + 2 + 3 + 6) / 4 = 3; on [0, 5]: ((0 − 3)² + (5 − 3)²) / 2 = 6.5.
    let mse = try Baseline.meanPredictorMSE(
      trainingTargets: column([1, 2, 3, 6]), targets: column([0, 5]))
    #expect(mse == 6.5)
    // On the training part itself: the population variance, (4 + 1 + 0 + 9) / 4.
    let variance = try Baseline.meanPredictorMSE(
      trainingTargets: column([1, 2, 3, 6]), targets: column([1, 2, 3, 6]))
    #expect(variance == 3.5)
  }

  @Test func meanPredictorAveragesOverColumns() throws {
    // Column means 2 and 10; squared errors (1, 0), (1, 4) → 6 / 4.
    let training = try Matrix<Double>(rows: 2, columns: 2, elements: [1, 8, 3, 12])
    let targets = try Matrix<Double>(rows: 2, columns: 2, elements: [3, 10, 1, 12])
    #expect(try Baseline.meanPredictorMSE(trainingTargets: training, targets: targets) == 1.5)
  }

  @Test func majorityClassComesFromTheTrainingLabels() throws {
    // Training: class 1 three times, 0 twice, 2 once. Labels [1, 2, 1, 0, 1]: 3 of 5 are 1.
    let accuracy = try Baseline.majorityClassAccuracy(
      trainingLabels: column([0, 1, 1, 2, 1, 0]), labels: column([1, 2, 1, 0, 1]))
    #expect(accuracy == 0.6)
    // The validation part's own majority (2) does not count.
    let other = try Baseline.majorityClassAccuracy(
      trainingLabels: column([0, 0, 1]), labels: column([2, 2, 2, 0]))
    #expect(other == 0.25)
  }

  @Test func majorityTieGoesToTheSmallestClass() throws {
    let accuracy = try Baseline.majorityClassAccuracy(
      trainingLabels: column([2, 0, 2, 0]), labels: column([0, 2, 2]))
    #expect(accuracy == 1.0 / 3.0)
  }

  @Test func rSquaredByHand() throws {
    // Targets 1…4: mean 2.5, Σ(t − t̄)² = 5. Predictions off by 1 in one place: 1 − 1/5.
    let r2 = try Baseline.rSquared(predicted: column([1, 2, 3, 5]), targets: column([1, 2, 3, 4]))
    #expect(abs(r2 - 0.8) < 1e-15)
    let constant = try Baseline.rSquared(
      predicted: column([2.5, 2.5, 2.5, 2.5]), targets: column([1, 2, 3, 4]))
    #expect(constant == 0)
    // Worse than the mean: Σ(p − t)² = 9 + 1 + 1 + 9 = 20 → 1 − 20/5 = −3.
    let worse = try Baseline.rSquared(predicted: column([4, 3, 2, 1]), targets: column([1, 2, 3, 4]))
    #expect(worse == -3)
  }

  @Test func rSquaredOfAConstantTarget() throws {
    #expect(try Baseline.rSquared(predicted: column([3, 3]), targets: column([3, 3])) == 1)
    #expect(try Baseline.rSquared(predicted: column([3, 4]), targets: column([3, 3])) == 0)
  }

  @Test func mismatchedShapesAreErrors() throws {
    #expect(throws: BumpKitError.self) {
      try Baseline.rSquared(predicted: column([1, 2]), targets: column([1, 2, 3]))
    }
    #expect(throws: BumpKitError.self) {
      try Baseline.meanPredictorMSE(
        trainingTargets: column([]), targets: column([1]))
    }
    let twoColumns = try Matrix<Double>(rows: 1, columns: 2, elements: [0, 1])
    #expect(throws: BumpKitError.self) {
      try Baseline.majorityClassAccuracy(trainingLabels: twoColumns, labels: twoColumns)
    }
  }

  // MARK: - Target standardisation

  @Test func standardizedTargetsRoundTrip() throws {
    // y = 2, 4, 6, 8: mean 5, population sd √5.
    let x = try Matrix<Double>(rows: 4, columns: 1, elements: [0, 1, 2, 3])
    let dataset = try Dataset(
      x: x, y: try column([2, 4, 6, 8]), featureNames: ["x"], targetName: "y", task: .regression)
    let (standardized, map) = try dataset.standardizedTargets()
    #expect(map.mean == [5])
    #expect(abs(map.standardDeviation[0] - 5.0.squareRoot()) < 1e-15)
    let expected = [-3.0, -1, 1, 3].map { $0 / 5.0.squareRoot() }
    for i in 0..<4 { #expect(abs(standardized.y[i, 0] - expected[i]) < 1e-15) }
    #expect(standardized.x == dataset.x, "inputs unchanged")
    let back = try map.invert(standardized.y)
    for i in 0..<4 { #expect(abs(back[i, 0] - dataset.y[i, 0]) < 1e-14) }
    // Applied to other data with the same statistics: 5 + √5 maps to 1.
    let other = try Dataset(
      x: try Matrix(rows: 1, columns: 1, elements: [0]), y: try column([5 + 5.0.squareRoot()]),
      featureNames: ["x"], targetName: "y", task: .regression)
    #expect(abs(try map.applyToTargets(of: other).y[0, 0] - 1) < 1e-15)
  }

  @Test func classLabelsAreNotStandardized() throws {
    let dataset = try Dataset(
      x: try Matrix<Double>(rows: 2, columns: 1, elements: [0, 1]), y: try column([0, 1]),
      featureNames: ["x"], targetName: "y", task: .classification(classes: 2))
    #expect(throws: BumpKitError.self) { try dataset.standardizedTargets() }
  }

  /// The scores as the definitions read, one loop over the elements in row-major order with
  /// each element's column taken from its offset, to compare the library's scores against to
  /// the bit (their sums run in the same order).
  private static func reference<T: MatrixScalar>(
    training: Matrix<T>, targets: Matrix<T>, predicted: Matrix<T>
  ) -> (mse: Double, rSquared: Double) {
    let k = targets.columns
    func means(_ m: Matrix<T>) -> [Double] {
      var sums = [Double](repeating: 0, count: k)
      for (i, v) in m.elements.enumerated() { sums[i % k] += Double(v) }
      return sums.map { $0 / Double(m.rows) }
    }
    let trainingMeans = means(training), targetMeans = means(targets)
    var sum = 0.0
    var residual = [Double](repeating: 0, count: k), total = [Double](repeating: 0, count: k)
    for (i, (t, p)) in zip(targets.elements, predicted.elements).enumerated() {
      let d = Double(t) - trainingMeans[i % k]
      sum += d * d
      let e = Double(p) - Double(t), c = Double(t) - targetMeans[i % k]
      residual[i % k] += e * e
      total[i % k] += c * c
    }
    let r2 = (0..<k).reduce(0.0) { $0 + (total[$1] > 0 ? 1 - residual[$1] / total[$1] : (residual[$1] == 0 ? 1 : 0)) }
    return (sum / Double(targets.rows * k), r2 / Double(k))
  }

  @Test(arguments: [1, 2, 3, 7])
  func scoresOnRandomDataMatchTheDefinitionsToTheBit(columns: Int) throws {
    try checkRandomScores(Float.self, columns: columns)
    try checkRandomScores(Double.self, columns: columns)
  }

  private func checkRandomScores<T: MatrixScalar>(_: T.Type, columns: Int) throws {
    // Columns with their own offsets and spreads, so that a value scored against another
    // column's mean changes the result.
    var generator = SeededGenerator(seed: UInt64(40 + columns))
    func draw(_ rows: Int) -> Matrix<T> {
      var m = Matrix<T>(validRows: rows, columns: columns)
      for i in 0..<rows {
        for j in 0..<columns { m[i, j] = T(Double(10 * j) + Double(j + 1) * (2 * generator.nextUnit() - 1)) }
      }
      return m
    }
    let training = draw(1001), targets = draw(503), predicted = draw(503)
    let expected = Self.reference(training: training, targets: targets, predicted: predicted)
    let mse = try Baseline.meanPredictorMSE(trainingTargets: training, targets: targets)
    let r2 = try Baseline.rSquared(predicted: predicted, targets: targets)
    #expect(mse.bitPattern == expected.mse.bitPattern, "\(T.self), \(columns) columns: \(mse) vs \(expected.mse)")
    #expect(r2.bitPattern == expected.rSquared.bitPattern, "\(T.self), \(columns) columns: \(r2) vs \(expected.rSquared)")
  }
}
