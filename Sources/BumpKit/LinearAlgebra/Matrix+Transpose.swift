extension Matrix {
  /// The transpose Aᵀ, a `columns × rows` matrix with (Aᵀ)ᵢⱼ = Aⱼᵢ.
  ///
  /// Products with a transpose do not need this: pass `transposeA`/`transposeB` to
  /// ``gemm(_:transposeA:_:transposeB:alpha:beta:into:)`` instead.
  public func transposed() -> Matrix {
    var result = Matrix(validRows: columns, columns: rows)
    let (m, n) = (rows, columns)
    // Square tiles keep both the reads and the writes within a few cache lines.
    let tile = 32
    withUnsafeBufferPointer { source in
      result.withUnsafeMutableBufferPointer { target in
        for i0 in stride(from: 0, to: m, by: tile) {
          for j0 in stride(from: 0, to: n, by: tile) {
            for i in i0..<min(i0 + tile, m) {
              for j in j0..<min(j0 + tile, n) {
                target[j * m + i] = source[i * n + j]
              }
            }
          }
        }
      }
    }
    return result
  }
}
