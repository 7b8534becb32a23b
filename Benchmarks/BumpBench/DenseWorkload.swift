import BumpKit
import COpenBLAS

/// Dense(256→256) forward + backward on a batch of 128 through the layer, against the raw
/// BLAS calls it makes (bias broadcast + sgemm, sgemm for dW, sgemv for db, sgemm for dx).
func denseRecords(threads: [Int], quick: Bool, filter: (String) -> Bool) throws -> [Record] {
  var records: [Record] = []
  let (batch, n) = (128, 256)
  let layer = try Dense<Float>(inputSize: n, outputSize: n)
  var x = try Matrix<Float>(rows: batch, columns: n)
  var dy = try Matrix<Float>(rows: batch, columns: n)
  x.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = Float(i % 13) * 0.01 - 0.06 } }
  dy.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = Float(i % 7) * 0.01 - 0.03 } }
  let w = layer.weight.value
  var y = try Matrix<Float>(rows: batch, columns: n), dw = try Matrix<Float>(rows: n, columns: n)
  var dx = try Matrix<Float>(rows: batch, columns: n), db = try Matrix<Float>(rows: 1, columns: n)
  let ones = try Matrix<Float>(rows: batch, columns: 1, repeating: 1)
  let bias = layer.bias?.value ?? Matrix(validRows: 1, columns: n)
  for t in threads {
    Threading.threadCount = t
    let name = "dense layer float \(t)t"
    guard filter(name) || filter("dense raw float \(t)t") else { continue }
    let raw = measure(minRuns: quick ? 3 : 15, minSeconds: quick ? 0.05 : 0.5) {
      x.withUnsafeBufferPointer { px in
        dy.withUnsafeBufferPointer { pdy in
          w.withUnsafeBufferPointer { pw in
            bias.withUnsafeBufferPointer { pb in
              y.withUnsafeMutableBufferPointer { py in
                for r in 0..<batch { (py.baseAddress! + r * n).update(from: pb.baseAddress!, count: n) }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(batch), Int32(n), Int32(n), 1, px.baseAddress, Int32(n), pw.baseAddress, Int32(n), 1, py.baseAddress, Int32(n))
              }
            }
            dw.withUnsafeMutableBufferPointer { pdw in
              cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(n), Int32(n), Int32(batch), 1, px.baseAddress, Int32(n), pdy.baseAddress, Int32(n), 0, pdw.baseAddress, Int32(n))
            }
            ones.withUnsafeBufferPointer { po in
              db.withUnsafeMutableBufferPointer { pdb in
                cblas_sgemv(CblasRowMajor, CblasTrans, Int32(batch), Int32(n), 1, pdy.baseAddress, Int32(n), po.baseAddress, 1, 0, pdb.baseAddress, 1)
              }
            }
            dx.withUnsafeMutableBufferPointer { pdx in
              cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batch), Int32(n), Int32(n), 1, pdy.baseAddress, Int32(n), pw.baseAddress, Int32(n), 0, pdx.baseAddress, Int32(n))
            }
          }
        }
      }
    }
    let viaLayer = measure(minRuns: quick ? 3 : 15, minSeconds: quick ? 0.05 : 0.5) {
      layer.releaseSavedState()
      _ = try! layer.forward(x)
      _ = try! layer.backward(dy)
    }
    let flops = 3 * 2.0 * Double(batch * n * n)
    for (implementation, timing) in [("raw", raw), ("layer", viaLayer)] {
      records.append(Record(
        workload: "dense", implementation: implementation, precision: "float", threads: t,
        shape: [batch, n, n], unit: "GFLOP/s", median: flops / timing.median * 1e-9,
        min: flops / timing.min * 1e-9, speedup: raw.median / timing.median, runs: timing.samples.count))
    }
  }
  return records
}
