import BumpKit
import Foundation
import Testing

// MARK: - Helpers

private func lossMatrix<T: MatrixScalar>(_ rows: [[Double]], as _: T.Type = T.self) throws -> Matrix<T> {
  try Matrix<T>(rows.map { $0.map { T($0) } })
}

private func lossElements<T: MatrixScalar>(_ m: Matrix<T>) -> [Double] { m.elements.map { Double($0) } }

private func lossRelativeError(_ a: Double, _ b: Double) -> Double {
  a == b ? 0 : abs(a - b) / max(abs(a), abs(b), 1e-300)
}

/// −y·log σ(z) − (1 − y)·log(1 − σ(z)), straight from the definition (moderate z only).
private func directBinaryCrossEntropy(_ z: Double, _ y: Double) -> Double {
  let s = 1 / (1 + exp(-z))
  return -y * log(s) - (1 - y) * log(1 - s)
}

// MARK: - Tests

@Suite("Losses")
struct LossTests {
  private static let logits: [[Double]] = [[0.3, -1.2, 2.5], [-0.7, 0.05, 1.1], [4.0, -3.0, 0.0], [0.9, 0.9, -0.4]]
  private static let probabilities: [[Double]] = [[1, 0, 0.25], [0, 1, 0.5], [0.75, 0.1, 1], [0, 0, 1]]

  @Test("MSE is the mean of squared differences over all elements; gradient 2(p − t)/(N·K)")
  func meanSquaredErrorMatchesFormula() throws {
    try checkMeanSquaredError(Float.self, tolerance: 1e-6)
    try checkMeanSquaredError(Double.self, tolerance: 1e-15)
  }

  private func checkMeanSquaredError<T: MatrixScalar>(_: T.Type, tolerance: Double) throws {
    let p = try lossMatrix(Self.logits, as: T.self)
    let t = try lossMatrix(Self.probabilities, as: T.self)
    var gradient = Matrix<T>()
    let value = try MeanSquaredError<T>().lossAndGradient(predicted: p, target: t, gradient: &gradient)
    let pd = lossElements(p), td = lossElements(t)
    let expected = zip(pd, td).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(pd.count)
    #expect(lossRelativeError(value, expected) < tolerance)
    #expect(gradient.rows == 4 && gradient.columns == 3)
    for (i, g) in lossElements(gradient).enumerated() {
      #expect(abs(g - 2 * (pd[i] - td[i]) / 12) < tolerance)
    }
    #expect(try MeanSquaredError<T>().loss(predicted: p, target: t) == value)
    #expect(MeanSquaredError<T>().name == "mse")
  }

  @Test("binary cross-entropy on logits matches −y log σ(z) − (1 − y) log(1 − σ(z))")
  func binaryCrossEntropyMatchesFormula() throws {
    try checkBinaryCrossEntropy(Float.self, tolerance: 2e-6)
    try checkBinaryCrossEntropy(Double.self, tolerance: 1e-14)
  }

  private func checkBinaryCrossEntropy<T: MatrixScalar>(_: T.Type, tolerance: Double) throws {
    let z = try lossMatrix(Self.logits, as: T.self)
    let y = try lossMatrix(Self.probabilities, as: T.self)
    var gradient = Matrix<T>()
    let loss = BinaryCrossEntropyWithLogits<T>()
    let value = try loss.lossAndGradient(predicted: z, target: y, gradient: &gradient)
    let zd = lossElements(z), yd = lossElements(y)
    let expected = zip(zd, yd).map { directBinaryCrossEntropy($0, $1) }.reduce(0, +) / 12
    #expect(lossRelativeError(value, expected) < tolerance)
    for (i, g) in lossElements(gradient).enumerated() {
      let sigmoid = 1 / (1 + exp(-zd[i]))
      #expect(abs(g - (sigmoid - yd[i]) / 12) < tolerance)
    }
    #expect(try loss.loss(predicted: z, target: y) == value)
  }

  @Test("binary cross-entropy stays exact and finite for logits of ±1000")
  func binaryCrossEntropyExtremeLogits() throws {
    try checkBinaryCrossEntropyExtremes(Float.self)
    try checkBinaryCrossEntropyExtremes(Double.self)
  }

  private func checkBinaryCrossEntropyExtremes<T: MatrixScalar>(_: T.Type) throws {
    let loss = BinaryCrossEntropyWithLogits<T>()
    // (z, y, loss, gradient · N): right with certainty, wrong with certainty, and a soft target.
    let cases: [(Double, Double, Double, Double)] = [
      (1000, 1, 0, 0), (-1000, 0, 0, 0), (1000, 0, 1000, 1), (-1000, 1, 1000, -1),
      (1000, 0.5, 500, 0.5), (-1000, 0.25, 250, -0.25),
    ]
    for (z, y, expected, expectedGradient) in cases {
      var gradient = Matrix<T>()
      let value = try loss.lossAndGradient(
        predicted: Matrix(rows: 1, columns: 1, repeating: T(z)), target: Matrix(rows: 1, columns: 1, repeating: T(y)),
        gradient: &gradient)
      #expect(value.isFinite && lossRelativeError(value, expected) < 1e-12, "z = \(z), y = \(y): \(value)")
      #expect(Double(gradient[0, 0]) == expectedGradient, "z = \(z), y = \(y)")
    }
  }

  @Test("binary cross-entropy rejects targets outside [0, 1], naming the position")
  func binaryCrossEntropyRejectsBadTargets() throws {
    let z = try lossMatrix([[0, 0], [0, 0]], as: Double.self)
    for bad in [1.5, -0.1, Double.nan] {
      let y = try lossMatrix([[0, 1], [bad, 0]], as: Double.self)
      do {
        _ = try BinaryCrossEntropyWithLogits<Double>().loss(predicted: z, target: y)
        Issue.record("target \(bad) was accepted")
      } catch let BumpKitError.invalidArgument(name, _, _) {
        #expect(name.contains("[1, 0]"), "\(name)")
      }
    }
  }

  @Test("softmax cross-entropy matches −log softmax(z)_y, gradient (softmax − onehot)/N")
  func softmaxCrossEntropyMatchesFormula() throws {
    try checkSoftmaxCrossEntropy(Float.self, tolerance: 2e-6)
    try checkSoftmaxCrossEntropy(Double.self, tolerance: 1e-14)
  }

  private func checkSoftmaxCrossEntropy<T: MatrixScalar>(_: T.Type, tolerance: Double) throws {
    let z = try lossMatrix(Self.logits, as: T.self)
    let labels: [Double] = [2, 0, 1, 1]
    let y = try lossMatrix(labels.map { [$0] }, as: T.self)
    var gradient = Matrix<T>()
    let loss = SoftmaxCrossEntropy<T>()
    let value = try loss.lossAndGradient(predicted: z, target: y, gradient: &gradient)
    var expected = 0.0
    for (r, row) in Self.logits.enumerated() {
      let zr = row.map { Double(T($0)) }
      let total = zr.map { exp($0) }.reduce(0, +)
      expected -= log(exp(zr[Int(labels[r])]) / total) / 4
      for k in 0..<3 {
        let p = exp(zr[k]) / total
        let g = (p - (k == Int(labels[r]) ? 1 : 0)) / 4
        #expect(abs(Double(gradient[r, k]) - g) < tolerance, "row \(r), class \(k)")
      }
    }
    #expect(lossRelativeError(value, expected) < tolerance)
    #expect(try loss.loss(predicted: z, target: y) == value)
  }

  @Test("label smoothing ε: the cross-entropy against (1 − ε)·onehot(y) + ε/K, gradient softmax − that target")
  func softmaxLabelSmoothingMatchesFormula() throws {
    try checkLabelSmoothing(Float.self, tolerance: 2e-6)
    try checkLabelSmoothing(Double.self, tolerance: 1e-14)
  }

  private func checkLabelSmoothing<T: MatrixScalar>(_: T.Type, tolerance: Double) throws {
    let z = try lossMatrix(Self.logits, as: T.self)
    let labels: [Double] = [2, 0, 1, 1]
    let y = try lossMatrix(labels.map { [$0] }, as: T.self)
    let epsilon = 0.1
    var gradient = Matrix<T>()
    let loss = try SoftmaxCrossEntropy<T>(labelSmoothing: epsilon)
    #expect(loss.labelSmoothing == epsilon)
    let value = try loss.lossAndGradient(predicted: z, target: y, gradient: &gradient)
    var expected = 0.0
    for (r, row) in Self.logits.enumerated() {
      let zr = row.map { Double(T($0)) }
      let total = zr.map { exp($0) }.reduce(0, +)
      for k in 0..<3 {
        let target = (k == Int(labels[r]) ? 1 - epsilon : 0) + epsilon / 3
        let p = exp(zr[k]) / total
        expected -= target * log(p) / 4
        #expect(abs(Double(gradient[r, k]) - (p - target) / 4) < tolerance, "row \(r), class \(k)")
      }
    }
    #expect(lossRelativeError(value, expected) < tolerance, "\(value) vs \(expected)")
    #expect(try loss.loss(predicted: z, target: y) == value)
    // Smoothing 0 is the plain loss, to the bit.
    let plain = try SoftmaxCrossEntropy<T>().loss(predicted: z, target: y)
    #expect(try SoftmaxCrossEntropy<T>(labelSmoothing: 0).loss(predicted: z, target: y) == plain)
    #expect(value != plain)
    for bad in [-0.1, 1, .nan] {
      #expect(throws: BumpKitError.self) { try SoftmaxCrossEntropy<T>(labelSmoothing: bad) }
    }
  }

  @Test("softmax cross-entropy stays exact and finite for logits of ±1000")
  func softmaxCrossEntropyExtremeLogits() throws {
    try checkSoftmaxExtremes(Float.self)
    try checkSoftmaxExtremes(Double.self)
  }

  private func checkSoftmaxExtremes<T: MatrixScalar>(_: T.Type) throws {
    let z = try lossMatrix([[1000, -1000, 0], [1000, -1000, 0], [-1000, -1000, -1000]], as: T.self)
    let y = try lossMatrix([[0], [1], [2]], as: T.self)
    var gradient = Matrix<T>()
    let value = try SoftmaxCrossEntropy<T>().lossAndGradient(predicted: z, target: y, gradient: &gradient)
    // Row losses 0, 2000 and log 3.
    let expected = (0 + 2000 + log(3.0)) / 3
    #expect(value.isFinite && lossRelativeError(value, expected) < 1e-12, "\(value)")
    for g in lossElements(gradient) { #expect(g.isFinite) }
    #expect(gradient[1, 0] == T(1.0 / 3))
    #expect(gradient[1, 1] == T(-1.0 / 3))
  }

  @Test("softmax cross-entropy names the row of a label outside 0..<K or not an integer")
  func softmaxCrossEntropyLabelErrors() throws {
    let z = try lossMatrix([[0, 1, 2], [2, 1, 0], [1, 1, 1]], as: Double.self)
    for (labels, badRow) in [([0.0, 2, 3], 2), ([0.0, 1.5, 1], 1), ([-1.0, 0, 0], 0), ([0.0, 0, .nan], 2)] {
      let y = try lossMatrix(labels.map { [$0] }, as: Double.self)
      var gradient = Matrix<Double>()
      do {
        _ = try SoftmaxCrossEntropy<Double>().lossAndGradient(predicted: z, target: y, gradient: &gradient)
        Issue.record("labels \(labels) were accepted")
      } catch let BumpKitError.labelOutOfRange(row, label, classes) {
        #expect(row == badRow, "labels \(labels)")
        #expect(classes == 3)
        #expect(label == "\(labels[badRow])")
        let message = BumpKitError.labelOutOfRange(row: row, label: label, classes: classes).description
        #expect(message.contains("row \(badRow)"))
      }
    }
  }

  @Test("shape mismatches name both shapes; empty batches are errors")
  func shapeErrors() throws {
    let a = try Matrix<Double>(rows: 2, columns: 3), b = try Matrix<Double>(rows: 3, columns: 2)
    do {
      _ = try MeanSquaredError<Double>().loss(predicted: a, target: b)
      Issue.record("2×3 against 3×2 was accepted")
    } catch let error as BumpKitError {
      #expect(error.description.contains("2×3") && error.description.contains("3×2"), "\(error)")
    }
    do {
      _ = try SoftmaxCrossEntropy<Double>().loss(predicted: a, target: a)
      Issue.record("2×3 labels were accepted")
    } catch let error as BumpKitError {
      #expect(error.description.contains("2×1") && error.description.contains("2×3"), "\(error)")
    }
    let empty = try Matrix<Double>(rows: 0, columns: 3)
    #expect(throws: BumpKitError.emptyBatch(operation: "MeanSquaredError")) {
      try MeanSquaredError<Double>().loss(predicted: empty, target: empty)
    }
    #expect(throws: BumpKitError.self) {
      try BinaryCrossEntropyWithLogits<Double>().loss(predicted: empty, target: empty)
    }
    #expect(throws: BumpKitError.self) {
      try SoftmaxCrossEntropy<Double>().loss(predicted: empty, target: Matrix(rows: 0, columns: 1))
    }
  }

  @Test("a NaN prediction gives a NaN loss, never a number")
  func nanPropagates() throws {
    let z = try lossMatrix([[0.5, .nan], [1, 2]], as: Double.self)
    #expect(try MeanSquaredError<Double>().loss(predicted: z, target: Matrix(rows: 2, columns: 2)).isNaN)
    #expect(try BinaryCrossEntropyWithLogits<Double>().loss(predicted: z, target: Matrix(rows: 2, columns: 2)).isNaN)
    #expect(try SoftmaxCrossEntropy<Double>().loss(predicted: z, target: Matrix(rows: 2, columns: 1)).isNaN)
  }

  @Test("the gradient matrix is reused: its buffer stays when the capacity suffices")
  func gradientBufferIsReused() throws {
    let p = try lossMatrix(Self.logits, as: Float.self)
    let t = try lossMatrix(Self.probabilities, as: Float.self)
    var gradient = try Matrix<Float>(rows: 10, columns: 10)
    let before = gradient.withUnsafeBufferPointer { $0.baseAddress }
    _ = try MeanSquaredError<Float>().lossAndGradient(predicted: p, target: t, gradient: &gradient)
    _ = try BinaryCrossEntropyWithLogits<Float>().lossAndGradient(predicted: p, target: t, gradient: &gradient)
    #expect(gradient.withUnsafeBufferPointer { $0.baseAddress } == before)
    #expect(gradient.rows == 4 && gradient.columns == 3 && gradient.capacity == 100)
  }
}
