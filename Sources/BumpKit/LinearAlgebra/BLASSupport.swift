// Conversions and formatting shared by the BLAS and LAPACK wrappers on Matrix.

extension MatrixScalar {
  /// The BLAS/LAPACK type prefix: `s` for Float, `d` for Double.
  static var blasPrefix: String { MemoryLayout<Self>.size == 4 ? "s" : "d" }
}

/// `n` as the 32-bit integer the BLAS and LAPACK interfaces take.
@inline(__always)
func blasInt(_ n: Int, _ operation: String) throws(BumpKitError) -> Int32 {
  guard let value = Int32(exactly: n) else {
    throw .invalidArgument(name: "\(operation) size", value: String(n), reason: "exceeds the 32-bit BLAS interface")
  }
  return value
}

/// Throws ``LinearAlgebraError/lapack(routine:info:)`` for a nonzero `info`.
@inline(__always)
func checkLAPACK(_ info: Int32, _ routine: String) throws(LinearAlgebraError) {
  if info != 0 { throw .lapack(routine: routine, info: info) }
}

/// The shape of `op(X)`: X's, or its transpose's when `transposed`.
func operandShape<E>(_ x: Matrix<E>, transposed: Bool) -> MatrixShape {
  transposed ? MatrixShape(rows: x.columns, columns: x.rows) : MatrixShape(of: x)
}

/// Calls `body(offset, length)` over `0..<count` in pieces that fit the 32-bit BLAS interface.
@inline(__always)
func forEachBLASChunk(_ count: Int, _ body: (Int, Int32) -> Void) {
  let chunk = Int(Int32.max)
  var offset = 0
  while offset < count {
    let length = min(chunk, count - offset)
    body(offset, Int32(length))
    offset += length
  }
}
