import BumpKit
import Foundation
import Testing

/// The support score of a radial model (`RadialSupport`, `SupportCalibration`): against a
/// brute-force evaluation in Double, its guarantee (0 and abstention outside every support)
/// in both precisions and both distance forms, the calibration's order statistic, ensembles,
/// and the errors.
@Suite("Support score")
struct SupportScoreTests {
  /// A radial model d → units → 2 with σ drawn from [0.3, 1.2]·d/4 (wider supports in higher
  /// d, so that random points near the centres fall inside some) and centres in [−1, 1]ᵈ.
  static func model<E: MatrixScalar>(_: E.Type, inputSize d: Int, units: Int, seed: UInt64) throws -> Sequential<E> {
    let radial = try RadialBump<E>(
      inputSize: d, units: units, sigma: .trainable(.uniform(0.3, 1.2)), center: .trainable(.uniform(-1, 1)),
      amplitude: .trainable(.uniform(-2, 2)))
    let model = try Sequential<E>(layers: [radial, try Dense<E>(inputSize: units, outputSize: 2)], seed: seed)
    if d > 4 { radial.sigma.updateValue { s in for i in s.indices { s[i] *= E(d) / 4 } } }
    return model
  }

  /// (r²ⱼ, σⱼ) for row `x` against every unit of `layer`, in Double.
  static func distances<E: MatrixScalar>(_ layer: RadialBump<E>, _ x: [Double]) -> [(r2: Double, sigma: Double)] {
    (0..<layer.units).map { j in
      var r2 = 0.0
      for k in 0..<layer.inputSize {
        let diff = x[k] - Double(layer.center.value[j, k])
        r2 += diff * diff
      }
      return (r2, Double(layer.sigma.value[0, j]))
    }
  }

  /// ρ(x) = Σⱼ or maxⱼ of exp(−σⱼ/(σⱼ − r²ⱼ)) over the units with r²ⱼ < σⱼ (0 without
  /// any), in Double: the reference.
  static func referenceDensity<E: MatrixScalar>(_ layer: RadialBump<E>, _ x: [Double], _ reduction: SupportReduction) -> Double {
    let bumps = distances(layer, x).filter { $0.r2 < $0.sigma }.map { exp(-$0.sigma / ($0.sigma - $0.r2)) }
    switch reduction {
    case .sum: return bumps.reduce(0, +)
    case .max: return bumps.max() ?? 0
    }
  }

  /// Rows at random distance ratios ‖x − cⱼ‖/√σⱼ in [0, 1.4) from a random unit's centre,
  /// kept where every pair is at least 2 % of σ from a support's edge (either form rounds r²
  /// far less than that).
  static func rows<E: MatrixScalar>(near layer: RadialBump<E>, count: Int, seed: UInt64) -> [[Double]] {
    var generator = SeededGenerator(seed: seed)
    var out: [[Double]] = []
    while out.count < count {
      let j = Int(generator.next() % UInt64(layer.units))
      let ratio = 1.4 * Double(generator.next() % 1000) / 1000
      var direction = (0..<layer.inputSize).map { _ in generator.nextNormal() }
      let norm = direction.reduce(0) { $0 + $1 * $1 }.squareRoot()
      let radius = Double(layer.sigma.value[0, j]).squareRoot() * ratio
      direction = direction.map { $0 / norm * radius }
      let x = (0..<layer.inputSize).map { Double(layer.center.value[j, $0]) + direction[$0] }
      if distances(layer, x).allSatisfy({ abs($0.r2 / $0.sigma - 1) >= 0.02 }) { out.append(x) }
    }
    return out
  }

  @Test(
    "ρ matches a brute-force Double evaluation (direct and GEMM distance forms)",
    arguments: [(2, false), (2, true), (16, false), (16, true)], SupportReduction.allCases)
  func densityMatchesReference(form: (inputSize: Int, double: Bool), reduction: SupportReduction) throws {
    if form.double {
      try checkDensity(Double.self, inputSize: form.inputSize, reduction)
    } else {
      try checkDensity(Float.self, inputSize: form.inputSize, reduction)
    }
  }

  func checkDensity<E: MatrixScalar>(_: E.Type, inputSize d: Int, _ reduction: SupportReduction) throws {
    let model = try Self.model(E.self, inputSize: d, units: 9, seed: UInt64(d))
    let layer = try #require(model.layers.first as? RadialBump<E>)
    let rows = Self.rows(near: layer, count: 200, seed: 7)
    let x = try Matrix<E>(rows.map { $0.map { E($0) } })
    let densities = try RadialSupport(model: model, reduction: reduction).densities(x)
    // The reference takes the rows as the model sees them (rounded to E).
    let tolerance = E.self == Float.self ? 2e-4 : 1e-10
    var inside = 0
    for (r, row) in rows.enumerated() {
      let reference = Self.referenceDensity(layer, row.map { Double(E($0)) }, reduction)
      if reference > 0 { inside += 1 }
      #expect(
        abs(densities[r] - reference) <= tolerance * max(reference, 1e-3),
        "row \(r): ρ = \(densities[r]), reference \(reference)")
      #expect((densities[r] == 0) == (reference == 0), "row \(r): support disagrees")
    }
    // Both sides of the supports are exercised.
    #expect(inside > 20 && inside < rows.count - 20, "inside: \(inside) of \(rows.count)")
  }

  @Test(
    "The guarantee: farther than every √σⱼ from every centre gives score 0 and abstention",
    arguments: [(3, false), (3, true), (24, false), (24, true)], SupportReduction.allCases)
  func guarantee(form: (inputSize: Int, double: Bool), reduction: SupportReduction) throws {
    if form.double {
      try checkGuarantee(Double.self, inputSize: form.inputSize, reduction)
    } else {
      try checkGuarantee(Float.self, inputSize: form.inputSize, reduction)
    }
  }

  func checkGuarantee<E: MatrixScalar>(_: E.Type, inputSize d: Int, _ reduction: SupportReduction) throws {
    let model = try Self.model(E.self, inputSize: d, units: 12, seed: 3)
    let layer = try #require(model.layers.first as? RadialBump<E>)
    // Rows just outside one unit's support (ratios 1.02–1.4, outside every other one too)
    // and rows far away in random directions.
    var outside = Self.rows(near: layer, count: 400, seed: 11).filter { row in
      Self.distances(layer, row).allSatisfy { $0.r2 > $0.sigma }
    }
    var generator = SeededGenerator(seed: 5)
    for scale in [10.0, 1e3, 1e6] {
      for _ in 0..<20 { outside.append((0..<d).map { _ in generator.nextNormal() * scale }) }
    }
    outside = outside.map { $0.map { Double(E($0)) } }.filter { row in
      Self.distances(layer, row).allSatisfy { $0.r2 > $0.sigma }
    }
    #expect(outside.count > 80)
    // A calibration fitted on rows inside the supports, with a threshold > 0, and one whose
    // threshold is 0 (most training rows outside): both abstain at score 0.
    let inside = try Matrix<E>(Self.rows(near: layer, count: 100, seed: 13).map { $0.map { E($0) } })
    let support = try RadialSupport(model: model, reduction: reduction)
    let fitted = try SupportCalibration(
      trainingDensities: try support.densities(inside).filter { $0 > 0 }, reduction: reduction)
    let zero = try SupportCalibration(trainingDensities: [0, 0, 0, 1], reduction: reduction)
    #expect(fitted.threshold > 0)
    #expect(zero.threshold == 0)
    let densities = try support.densities(try Matrix<E>(outside.map { $0.map { E($0) } }))
    for (r, density) in densities.enumerated() {
      #expect(density == 0 && density.sign == .plus, "row \(r): ρ = \(density)")
      for calibration in [fitted, zero] {
        let score = calibration.score(density: density)
        #expect(score == 0)
        #expect(calibration.abstains(score: score))
      }
    }
  }

  @Test("The calibration: median scale, the ⌊(1 − q)·n⌋-th smallest score, coverage ≥ q")
  func calibration() throws {
    var generator = SeededGenerator(seed: 21)
    for n in [1, 2, 7, 100, 1001] {
      for q in [0.5, 0.9, 0.99, 1.0] {
        // Densities with ties and zeros, as outside rows give.
        let densities = (0..<n).map { _ in generator.next() % 4 == 0 ? 0 : Double(generator.next() % 50) / 7 }
        let c = try SupportCalibration(trainingDensities: densities, coverage: q)
        let sorted = densities.sorted()
        let median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
        let mean = densities.reduce(0, +) / Double(n)
        #expect(c.scale == (median > 0 ? median : mean > 0 ? mean : 1))
        #expect(c.coverage == q)
        // Independent count: the fraction of rows at or above the threshold is ≥ q, and no
        // larger training score would keep it so.
        let scores = densities.map { $0 / c.scale }
        let atOrAbove = scores.filter { $0 >= c.threshold }.count
        #expect(Double(atOrAbove) >= q * Double(n) - 1e-9, "n \(n) q \(q)")
        if let higher = scores.filter({ $0 > c.threshold }).min() {
          #expect(Double(scores.filter { $0 >= higher }.count) < q * Double(n), "n \(n) q \(q)")
        }
        // The quantile table: entry i is the ⌊(i/1000)·n⌋-th smallest score.
        let sortedScores = scores.sorted()
        #expect(c.quantiles.count == 1001)
        for i in [0, 1, 10, 500, 999, 1000] {
          #expect(c.quantiles[i] == sortedScores[min(n - 1, i * n / 1000)], "n \(n) i \(i)")
        }
        // Another coverage from the table: on the grid the fit's own threshold, off it one
        // that still covers at least that fraction.
        for other in [0.5, 0.9, 0.95, 0.999] {
          let refitted = try SupportCalibration(trainingDensities: densities, coverage: other)
          #expect(try c.recalibrated(coverage: other) == refitted, "n \(n) q \(q) → \(other)")
        }
        for other in [0.9937, 0.42, 1e-9] {
          let moved = try c.recalibrated(coverage: other)
          #expect(Double(scores.filter { $0 >= moved.threshold }.count) >= other * Double(n) - 1e-9, "n \(n) → \(other)")
          #expect(moved.threshold <= (try SupportCalibration(trainingDensities: densities, coverage: other)).threshold)
        }
      }
    }
    let c = try SupportCalibration(scale: 2, threshold: 0.25, coverage: 0.99)
    #expect(c.score(density: 1) == 0.5)
    #expect(!c.abstains(score: 0.25))
    #expect(c.abstains(score: 0.2499))
    #expect(c.abstains(score: 0))
    #expect(c.abstains(score: .nan))
  }

  @Test("A calibration round-trips through JSON; a bad stored one is refused")
  func coding() throws {
    for reduction in SupportReduction.allCases {
      let c = try SupportCalibration(scale: 0.125, threshold: 0.031_25, coverage: 0.99, reduction: reduction)
      let data = try JSONEncoder().encode(c)
      #expect(try JSONDecoder().decode(SupportCalibration.self, from: data) == c)
    }
    let fitted = try SupportCalibration(trainingDensities: (0..<50).map { Double($0 % 7) }, coverage: 0.9)
    #expect(try JSONDecoder().decode(SupportCalibration.self, from: try JSONEncoder().encode(fitted)) == fitted)
    // Stored without quantiles: read, but another coverage cannot be set from it.
    let good = #"{"scale": 1, "threshold": 0.1, "coverage": 0.99, "reduction": "sum"}"#
    let bare = try JSONDecoder().decode(SupportCalibration.self, from: Data(good.utf8))
    #expect(bare.reduction == .sum && bare.quantiles.isEmpty)
    #expect(throws: BumpKitError.self) { try bare.recalibrated(coverage: 0.9) }
    #expect(throws: BumpKitError.self) { try fitted.recalibrated(coverage: 0) }
    #expect(throws: BumpKitError.self) { try fitted.recalibrated(coverage: 1.01) }
    let decreasing = [Double](repeating: 1, count: 1000) + [0.5]
    #expect(throws: BumpKitError.self) {
      try SupportCalibration(scale: 1, threshold: 0.1, coverage: 0.99, quantiles: decreasing)
    }
    #expect(throws: BumpKitError.self) { try SupportCalibration(scale: 1, threshold: 0.1, coverage: 0.99, quantiles: [0, 1]) }
    for bad in [
      #"{"scale": 0, "threshold": 0.1, "coverage": 0.99, "reduction": "max"}"#,
      #"{"scale": 1, "threshold": -1, "coverage": 0.99, "reduction": "max"}"#,
      #"{"scale": 1, "threshold": 0.1, "coverage": 1.5, "reduction": "max"}"#,
      #"{"scale": 1, "threshold": 0.1, "reduction": "max"}"#,
      #"{"scale": 1, "threshold": 0.1, "coverage": 0.99}"#,
      #"{"scale": 1, "threshold": 0.1, "coverage": 0.99, "reduction": "mean"}"#,
    ] {
      #expect(throws: (any Error).self, "\(bad)") { try JSONDecoder().decode(SupportCalibration.self, from: Data(bad.utf8)) }
    }
    #expect(throws: BumpKitError.self) { try SupportCalibration(trainingDensities: []) }
    #expect(throws: BumpKitError.self) { try SupportCalibration(trainingDensities: [1, .nan]) }
    #expect(throws: BumpKitError.self) { try SupportCalibration(trainingDensities: [1, -1]) }
    #expect(throws: BumpKitError.self) { try SupportCalibration(trainingDensities: [1], coverage: 0) }
  }

  @Test("Held-out calibration of the reference model itself: the ⌊(1 − q)·(n + 1)⌋-th smallest held-out density")
  func heldOutCalibration() throws {
    // Training densities 1…200 (median 100.5); held-out ones 0.5, 1.5, …, 99.5 below them
    // and ties: new rows score lower than the rows the model trained on.
    let training = (1...200).map(Double.init)
    let heldOut = (0..<100).map { Double($0) + 0.5 }
    for (q, k) in [(0.99, 1), (0.95, 5), (0.9, 10), (0.5, 50), (0.999, 0), (1.0, 0)] {
      let c = try SupportCalibration(
        memberTrainingDensities: [training], referenceDensities: (training: training, heldOut: heldOut.reversed()), coverage: q)
      #expect(c.scale == 100.5)
      #expect(c.heldOutRows == 100 && c.coverage == q)
      // k = ⌊(1 − q)·101⌋: the k-th smallest held-out density itself (0.5 + k − 1), or no
      // threshold (0) when k = 0.
      let expected = k == 0 ? 0 : (Double(k) - 0.5) / 100.5
      #expect(abs(c.threshold - expected) <= 1e-12, "q \(q): \(c.threshold) against \(expected)")
      // Exactly k − 1 held-out rows fall below it.
      #expect(heldOut.filter { c.abstains(score: c.score(density: $0)) }.count == max(0, k - 1), "q \(q)")
      #expect(try c.recalibrated(coverage: 0.95).threshold == (try SupportCalibration(
        memberTrainingDensities: [training], referenceDensities: (training: training, heldOut: heldOut), coverage: 0.95)).threshold)
      #expect(try c.recalibrated(coverage: 0.9).heldOutRows == 100)
      #expect(try JSONDecoder().decode(SupportCalibration.self, from: try JSONEncoder().encode(c)) == c)
    }
    // A fit on the training rows sets it at 3 (2 of the 200 below it), where it abstains on
    // 3 % of the held-out rows.
    let inSample = try SupportCalibration(trainingDensities: training)
    #expect(inSample.threshold * inSample.scale == 3 && inSample.heldOutRows == 0)
  }

  @Test("Held-out calibration carried over by rank to another model; split-conformal coverage")
  func heldOutCalibrationTransfer() throws {
    // The calibrated model's training densities are a monotone transform of the reference
    // model's (g(ρ) = 3ρ², with the same ranks): a held-out density that equals a reference
    // training density h maps to g(h) exactly.
    let reference = (1...300).map { Double($0) / 300 }
    let calibrated = reference.map { 3 * $0 * $0 }
    let heldOut = [0.05, 0.1, 0.2, 0.3, 0.5, 0.7] + (0..<94).map { _ in 0.9 }
    // n = 100: 99 % → k = 1 (0.05), 95 % → k = 5 (0.5), 94 % → k = 6 (0.7).
    for (q, h) in [(0.99, 0.05), (0.95, 0.5), (0.94, 0.7)] {
      let c = try SupportCalibration(
        memberTrainingDensities: [calibrated.shuffled()], referenceDensities: (training: reference, heldOut: heldOut), coverage: q)
      let median = (calibrated[149] + calibrated[150]) / 2
      #expect(abs(c.threshold - 3 * h * h / median) <= 1e-9 * c.threshold, "q \(q): \(c.threshold)")
    }
    // Below the smallest training density the map is linear to 0: h = 1/600 is half the
    // smallest reference density, and maps to half the smallest calibrated one.
    let low = try SupportCalibration(
      memberTrainingDensities: [calibrated], referenceDensities: (training: reference, heldOut: [1.0 / 600] + heldOut), coverage: 0.99)
    #expect(abs(low.threshold * low.scale - calibrated[0] / 2) <= 1e-15)
    // Above the largest: the largest.
    let high = try SupportCalibration(
      memberTrainingDensities: [calibrated], referenceDensities: (training: reference, heldOut: [5, 6, 7]), coverage: 0.5)
    #expect(abs(high.threshold * high.scale - calibrated[299]) <= 1e-12)

    // Split conformal: densities of new rows exchangeable with the held-out ones are abstained
    // on with probability k/(n + 1) ≤ 1 − q over the draw of the held-out rows, whatever the
    // training densities (here drawn from a higher distribution, as in-sample rows score).
    var generator = SeededGenerator(seed: 5)
    func draw(_ shift: Double) -> Double { shift + Double(generator.next() % 1_000_000) / 1_000_000 }
    for (n, q) in [(60, 0.95), (120, 0.99), (120, 0.9)] {
      let k = Int((1 - q) * Double(n + 1) + 1e-9)
      var abstained = 0, total = 0
      for _ in 0..<400 {
        let training = (0..<200).map { _ in draw(0.3) }
        let c = try SupportCalibration(
          memberTrainingDensities: [training], referenceDensities: (training: training, heldOut: (0..<n).map { _ in draw(0) }),
          coverage: q)
        for _ in 0..<50 where c.abstains(score: c.score(density: draw(0))) { abstained += 1 }
        total += 50
      }
      let rate = Double(abstained) / Double(total), expected = Double(k) / Double(n + 1)
      // 20,000 draws: a standard error below 0.005 (mostly from the 400 calibrations).
      #expect(abs(rate - expected) <= 0.012 && rate <= 1 - q + 0.012, "n \(n) q \(q): \(rate) against \(expected)")
      // The training rows' threshold abstains on far more of the new rows.
      let training = (0..<200).map { _ in draw(0.3) }
      let inSample = try SupportCalibration(trainingDensities: training, coverage: q)
      let fresh = (0..<2000).map { _ in draw(0) }
      #expect(Double(fresh.filter { inSample.abstains(score: inSample.score(density: $0)) }.count) / 2000 > 1 - q + 0.1)
    }

    // An ensemble of the reference and a member g(ρ) = 3ρ² trained on the held-out rows too:
    // each held-out row's estimate is the mean of its density and g of it (exactly, where it
    // is a reference training density), and τ the k-th smallest estimate over the ensemble's
    // median training density.
    for (q, h) in [(0.99, 0.05), (0.95, 0.5)] {
      let c = try SupportCalibration(
        memberTrainingDensities: [reference, calibrated], referenceDensities: (training: reference, heldOut: heldOut),
        coverage: q)
      let ensemble = reference.indices.map { (reference[$0] + calibrated[$0]) / 2 }
      let median = (ensemble[149] + ensemble[150]) / 2
      #expect(c.scale == median)
      #expect(abs(c.threshold - (h + 3 * h * h) / 2 / median) <= 1e-9 * c.threshold, "q \(q): \(c.threshold)")
    }
    // Members that rank the rows in opposite orders: each member is read at the held-out
    // row's rank, not the ensemble. Reference densities 1…100, the other member's 101 − ρ
    // row by row: every ensemble training density is 50.5 (the scale), but the held-out
    // density 10.5 (the smallest of 99: k = 1 at 99 %) is low in both members' ranks, and
    // τ = 10.5/50.5 (the ensemble's own training densities at that rank would give 1).
    let up = (1...100).map(Double.init), down = up.map { 101 - $0 }
    let crossed = try SupportCalibration(
      memberTrainingDensities: [up, down],
      referenceDensities: (training: up, heldOut: [10.5] + [Double](repeating: 80, count: 98)), coverage: 0.99)
    #expect(crossed.scale == 50.5 && abs(crossed.threshold - 10.5 / 50.5) <= 1e-15)

    // Stored: held_out_rows, read back; a calibration without it (older checkpoints) reads as 0.
    let stored = try SupportCalibration(
      memberTrainingDensities: [calibrated], referenceDensities: (training: reference, heldOut: heldOut))
    let json = String(decoding: try JSONEncoder().encode(stored), as: UTF8.self)
    #expect(json.contains(#""held_out_rows":100"#), "\(json)")
    let fitted = try SupportCalibration(trainingDensities: calibrated)
    #expect(!String(decoding: try JSONEncoder().encode(fitted), as: UTF8.self).contains("held_out"))
    let old = #"{"scale": 1, "threshold": 0.1, "coverage": 0.99, "reduction": "max", "quantiles": []}"#
    #expect(try JSONDecoder().decode(SupportCalibration.self, from: Data(old.utf8)).heldOutRows == 0)
    let negative = #"{"scale": 1, "threshold": 0.1, "coverage": 0.99, "reduction": "max", "held_out_rows": -1}"#
    #expect(throws: (any Error).self) { try JSONDecoder().decode(SupportCalibration.self, from: Data(negative.utf8)) }
    for (t, r, h) in [([[Double]()], reference, heldOut), ([], reference, heldOut), ([calibrated], [], heldOut),
                      ([calibrated], reference, []), ([calibrated], reference, [0.5, .nan]),
                      ([calibrated], [-1] + reference, heldOut), ([calibrated, [1, 2]], reference, heldOut)] {
      #expect(throws: BumpKitError.self) {
        try SupportCalibration(memberTrainingDensities: t, referenceDensities: (training: r, heldOut: h))
      }
    }
    #expect(throws: BumpKitError.self) {
      try SupportCalibration(memberTrainingDensities: [calibrated], referenceDensities: (training: reference, heldOut: heldOut), coverage: 0)
    }
  }

  @Test(
    "An ensemble's density is the mean of its members'; a model without a radial layer is refused",
    arguments: SupportReduction.allCases)
  func ensembleAndErrors(reduction: SupportReduction) throws {
    let a = try Self.model(Double.self, inputSize: 2, units: 6, seed: 1)
    let b = try Self.model(Double.self, inputSize: 2, units: 6, seed: 2)
    let layerA = try #require(a.layers.first as? RadialBump<Double>)
    let layerB = try #require(b.layers.first as? RadialBump<Double>)
    let rows = Self.rows(near: layerA, count: 50, seed: 3) + Self.rows(near: layerB, count: 50, seed: 4)
    let densities = try RadialSupport(models: [a, b], reduction: reduction).densities(try Matrix(rows))
    for (r, row) in rows.enumerated() {
      let reference = (Self.referenceDensity(layerA, row, reduction) + Self.referenceDensity(layerB, row, reduction)) / 2
      #expect(abs(densities[r] - reference) <= 1e-12 * max(reference, 1))
    }
    let dense = try Sequential<Double>(layers: [try Dense<Double>(inputSize: 2, outputSize: 1)], seed: 1)
    #expect(throws: BumpKitError.self) { try RadialSupport(model: dense) }
    #expect(throws: BumpKitError.self) { try RadialSupport(models: [a, dense]) }
    #expect(throws: BumpKitError.self) { try RadialSupport<Double>(models: []) }
    let wider = try Self.model(Double.self, inputSize: 3, units: 6, seed: 1)
    #expect(throws: BumpKitError.self) { try RadialSupport(models: [a, wider]) }
    #expect(throws: BumpKitError.self) { try RadialSupport(model: a).densities(try Matrix(rows: 2, columns: 3)) }
  }
}
