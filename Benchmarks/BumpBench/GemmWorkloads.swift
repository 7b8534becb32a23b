import BumpKit
import COpenBLAS

/// GEMM C = A·B through the Matrix wrapper, through raw cblas_sgemm, and as a naive loop.
func gemmRecords(shapes: [(Int, Int, Int)], threads: [Int], quick: Bool, filter: (String) -> Bool) -> [Record] {
  var records: [Record] = []
  for (m, k, n) in shapes {
    var a = Matrix<Float>(validRows: m, columns: k)
    var b = Matrix<Float>(validRows: k, columns: n)
    a.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = Float(i % 17) * 0.01 - 0.08 } }
    b.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = Float(i % 13) * 0.01 - 0.06 } }
    var c = Matrix<Float>(validRows: m, columns: n)
    let flops = 2.0 * Double(m) * Double(k) * Double(n)
    for t in threads {
      Threading.threadCount = t
      var cases: [(String, () -> Void)] = [
        ("wrapper", { try! Matrix.gemm(a, b, into: &c) }),
        ("cblas", {
          a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
              c.withUnsafeMutableBufferPointer { pc in
                cblas_sgemm(
                  CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1,
                  pa.baseAddress, Int32(k), pb.baseAddress, Int32(n), 0, pc.baseAddress, Int32(n))
              }
            }
          }
        }),
      ]
      if t == 1 && !(quick && m * k * n > 1 << 24) {
        cases.append(("naive", { naiveGemm(a, b, &c) }))
      }
      for (implementation, body) in cases {
        let name = "gemm \(implementation) float \(t)t \(m)x\(k)x\(n)"
        guard filter(name) else { continue }
        let heavy = implementation == "naive" && m * k * n > 1 << 24
        let timing = measure(minRuns: heavy ? 1 : (quick ? 3 : 7), minSeconds: heavy || quick ? 0.05 : 0.5, body)
        records.append(
          Record(
            workload: "gemm", implementation: implementation, precision: "float", threads: t,
            shape: [m, k, n], unit: "GFLOP/s", median: flops / timing.median * 1e-9,
            min: flops / timing.min * 1e-9, speedup: nil, runs: timing.samples.count))
      }
    }
  }
  // Speedup over the naive loop of the same shape (1 thread), where it ran.
  for i in records.indices {
    if let naive = records.first(where: { $0.implementation == "naive" && $0.shape == records[i].shape }) {
      records[i].speedup = records[i].median / naive.median
    }
  }
  return records
}

/// The textbook i-k-j loop, for scale.
func naiveGemm(_ a: Matrix<Float>, _ b: Matrix<Float>, _ c: inout Matrix<Float>) {
  let (m, k, n) = (a.rows, a.columns, b.columns)
  a.withUnsafeBufferPointer { pa in
    b.withUnsafeBufferPointer { pb in
      c.withUnsafeMutableBufferPointer { pc in
        for i in 0..<(m * n) { pc[i] = 0 }
        for i in 0..<m {
          for p in 0..<k {
            let aip = pa[i * k + p]
            for j in 0..<n { pc[i * n + j] += aip * pb[p * n + j] }
          }
        }
      }
    }
  }
}
