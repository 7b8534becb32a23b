import BumpKit
import Foundation
import Testing

@Suite("Prediction")
struct PredictionTests {
  @Test("Classes: the first largest logit, or the sign of a single logit")
  func classes() throws {
    let softmax = try Matrix<Float>(rows: 4, columns: 3, elements: [0, 2, 1, 5, 5, 1, -1, -3, -2, 0, 0, 0.5])
    #expect(Prediction.classes(logits: softmax) == [1, 0, 0, 2], "a tie goes to the first")
    let binary = try Matrix<Double>(rows: 4, columns: 1, elements: [0, 1e-300, -2, 7])
    #expect(Prediction.classes(logits: binary) == [0, 1, 0, 1], "0 itself is class 0")
  }

  @Test("Probabilities: softmax and the logistic function at values known by hand")
  func probabilities() throws {
    let ln3 = Foundation.log(3.0)
    let softmax = try Matrix<Double>(rows: 2, columns: 2, elements: [0, ln3, 1000, 0])
    let p = Prediction.probabilities(logits: softmax, row: 0)
    #expect(abs(p[0] - 0.25) < 1e-15 && abs(p[1] - 0.75) < 1e-15, "\(p)")
    #expect(Prediction.probabilities(logits: softmax, row: 1) == [1, 0], "no overflow at 1000")
    let binary = try Matrix<Double>(rows: 3, columns: 1, elements: [0, ln3, -1000])
    #expect(Prediction.probabilities(logits: binary, row: 0) == [0.5, 0.5])
    let q = Prediction.probabilities(logits: binary, row: 1)
    #expect(abs(q[0] - 0.25) < 1e-15 && abs(q[1] - 0.75) < 1e-15, "\(q)")
    #expect(Prediction.probabilities(logits: binary, row: 2) == [1, 0])
  }

  @Test("The losses' gradients are these probabilities minus the targets")
  func sharedWithTheLosses() throws {
    let logits = try Matrix<Double>(rows: 1, columns: 3, elements: [0.3, -1.2, 2.5])
    var gradient = try Matrix<Double>(rows: 1, columns: 3)
    _ = try SoftmaxCrossEntropy<Double>().lossAndGradient(
      predicted: logits, target: try Matrix(rows: 1, columns: 1, elements: [2]), gradient: &gradient)
    let p = Prediction.probabilities(logits: logits, row: 0)
    #expect(abs(gradient[0, 0] - p[0]) < 1e-15 && abs(gradient[0, 1] - p[1]) < 1e-15, "\(gradient) vs \(p)")
    #expect(abs(gradient[0, 2] - (p[2] - 1)) < 1e-15)

    let z = try Matrix<Double>(rows: 1, columns: 1, elements: [-0.7])
    var g = try Matrix<Double>(rows: 1, columns: 1)
    _ = try BinaryCrossEntropyWithLogits<Double>().lossAndGradient(
      predicted: z, target: try Matrix(rows: 1, columns: 1, elements: [0]), gradient: &g)
    #expect(g[0, 0] == Prediction.probabilities(logits: z, row: 0)[1])
  }

  @Test("accuracy counts the classes Prediction gives")
  func sharedWithAccuracy() throws {
    let model = try Sequential<Float>(layers: [try Dense<Float>(inputSize: 2, outputSize: 3)], seed: 9)
    var x = try Matrix<Float>(rows: 50, columns: 2)
    var generator = SeededGenerator(seed: 4)
    for i in 0..<50 {
      for j in 0..<2 { x[i, j] = Float(generator.nextUnit() * 4 - 2) }
    }
    let classes = Prediction.classes(logits: try model.predict(x))
    let labels = try Matrix<Float>(rows: 50, columns: 1, elements: classes.map { Float($0) })
    #expect(try model.accuracy(x: x, y: labels) == 1)
    let shifted = try Matrix<Float>(rows: 50, columns: 1, elements: classes.map { Float(($0 + 1) % 3) })
    #expect(try model.accuracy(x: x, y: shifted) == 0)
  }
}

extension PredictionTests {
  /// The reference: softmax written out as the formula, in Double.
  private static func reference<T: MatrixScalar>(_ row: [T]) -> [Double] {
    let z = row.map { Double($0) }
    var m = z[0]
    for v in z.dropFirst() where v > m || v.isNaN { m = v }
    let e = z.map { Foundation.exp($0 - m) }
    let total = e.reduce(0, +)
    return e.map { $0 / total }
  }

  @Test("Softmax over 10⁴ classes: the same bits as the formula, in both precisions")
  func manyClasses() throws {
    let k = 10_000
    var generator = SystemRandomNumberGenerator()
    let values = (0..<(3 * k)).map { _ in Double.random(in: -30...30, using: &generator) }
    func check<T: MatrixScalar>(_: T.Type) throws {
      let logits = try Matrix<T>(rows: 3, columns: k, elements: values.map { T("\($0)")! })
      for r in 0..<3 {
        let p = Prediction.probabilities(logits: logits, row: r)
        let expected = Self.reference(logits.row(r))
        // RealModule's exp is the C library's, so every probability agrees to the bit.
        #expect(p == expected, "\(T.self) row \(r)")
        #expect(abs(p.reduce(0, +) - 1) < 1e-12)
      }
      let classes = Prediction.classes(logits: logits)
      for r in 0..<3 {
        let row = logits.row(r)
        #expect(classes[r] == row.firstIndex(of: row.max()!)!)
      }
      // The loss is the same computation: −log p(label), averaged.
      let labels = try Matrix<T>(rows: 3, columns: 1, elements: [0, 4_999, 9_999])
      let loss = try SoftmaxCrossEntropy<T>().loss(predicted: logits, target: labels)
      let expected = (0..<3).map { r in -Foundation.log(Self.reference(logits.row(r))[[0, 4_999, 9_999][r]]) }
        .reduce(0, +) / 3
      #expect(abs(loss - expected) <= 1e-12 * abs(expected), "\(loss) vs \(expected)")
    }
    try check(Float.self)
    try check(Double.self)
    let nan = try Matrix<Float>(rows: 1, columns: 3, elements: [1, .nan, 2])
    #expect(Prediction.probabilities(logits: nan, row: 0).allSatisfy { $0.isNaN })
  }
}
