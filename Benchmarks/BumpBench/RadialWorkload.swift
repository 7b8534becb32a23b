import BumpKit

/// The RadialBump layer, Float, 256 units: forward and forward + backward through the layer
/// for batches of 128 and 4096 and input dimensions 2, 16 and 64, each beside the GEMMs of
/// the same shapes that the layer's GEMM form needs (forward X·Cᵀ; backward also W·C and
/// Wᵀ·X), through the same typed wrapper. `gemm_ratio` = layer time / GEMM time of the same
/// pass. For d ≤ 8 the layer computes distances directly and calls no GEMM: its ratio is
/// against GEMMs it does not make.
func radialRecords(threads: [Int], quick: Bool, filter: (String) -> Bool) throws -> [Record] {
  var records: [Record] = []
  let units = 256
  for batch in quick ? [128] : [128, 4096] {
    for d in [2, 16, 64] {
      var generator = SeededGenerator(seed: UInt64(d))
      var x = try Matrix<Float>(rows: batch, columns: d)
      x.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = Float(2 * generator.nextUnit() - 1) } }
      var g = try Matrix<Float>(rows: batch, columns: units)
      g.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = Float(2 * generator.nextUnit() - 1) } }
      // Centres on rows of the data, σ the mean squared distance of two points (2d/3): about
      // half the pairs inside a support.
      let sigma = 2 * Float(d) / 3
      let layer = try RadialBump<Float>(inputSize: d, units: units, sigma: .trainable(.constant(sigma)), amplitude: .trainable(.constant(1)))
      var pick = SeededGenerator(seed: 1)
      try layer.initializeCenters(from: x, selection: .sampledRows, using: &pick)
      let c = layer.center.value
      var products = try Matrix<Float>(rows: batch, columns: units)
      var dx = try Matrix<Float>(rows: batch, columns: d), dc = try Matrix<Float>(rows: units, columns: d)
      for t in threads {
        Threading.threadCount = t
        let shape = [batch, d, units]
        let tag = "\(t)t \(batch)x\(d)x\(units)"
        guard ["radial layer forward", "radial layer forward+backward", "radial gemm forward", "radial gemm forward+backward"]
          .contains(where: { filter("\($0) float \(tag)") }) else { continue }
        let minRuns = quick ? 3 : 9, minSeconds = quick ? 0.05 : 0.4
        let gemmForward = measure(minRuns: minRuns, minSeconds: minSeconds) {
          try! Matrix.gemm(x, c, transposeB: true, into: &products)
        }
        let gemmBoth = measure(minRuns: minRuns, minSeconds: minSeconds) {
          try! Matrix.gemm(x, c, transposeB: true, into: &products)
          try! Matrix.gemm(g, c, alpha: -2, beta: 1, into: &dx)
          try! Matrix.gemm(g, transposeA: true, x, alpha: -2, beta: 1, into: &dc)
        }
        let forward = measure(minRuns: minRuns, minSeconds: minSeconds) {
          layer.releaseSavedState()
          _ = try! layer.forward(x)
        }
        let both = measure(minRuns: minRuns, minSeconds: minSeconds) {
          layer.releaseSavedState()
          _ = try! layer.forward(x)
          _ = try! layer.backward(g)
        }
        let fraction = layer.supportFraction
        for (workload, implementation, timing, reference) in [
          ("radial forward", "gemm", gemmForward, gemmForward), ("radial forward", "layer", forward, gemmForward),
          ("radial forward+backward", "gemm", gemmBoth, gemmBoth), ("radial forward+backward", "layer", both, gemmBoth),
        ] {
          var extra: [String: Extra] = [:]
          if implementation == "layer" {
            extra["gemm_ratio"] = .number((timing.median / reference.median * 100).rounded() / 100)
            extra["support"] = .number((fraction * 1000).rounded() / 1000)
          }
          records.append(Record(
            workload: workload, implementation: implementation, precision: "float", threads: t, shape: shape,
            unit: "µs", median: timing.median * 1e6, min: timing.min * 1e6, speedup: nil,
            runs: timing.samples.count, extra: extra))
        }
      }
    }
  }
  return records
}
