extension Matrix {
  /// General matrix product, `C ← α·op(A)·op(B) + β·C`, with `op(X) = Xᵀ` when the matching
  /// `transpose` flag is set (BLAS `?gemm`, row-major, through OpenBLAS).
  ///
  /// op(A) must be `m × k`, op(B) `k × n` and C `m × n`. With β = 0 (the default) C is only
  /// written, so its old contents, NaN included, do not matter. C may be the same matrix as
  /// A or B: it is then copied before it is written (copy-on-write), which allocates.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` naming the operand and its
  ///   expected and actual shapes, e.g. `gemm: op(B) after op(A) 3×4: shape mismatch, expected 4×2, got 5×2`;
  ///   ``BumpKitError/invalidArgument(name:value:reason:)`` if a size exceeds `Int32.max`.
  ///
  /// See also: ``multiplied(by:transposingSelf:transposingOther:)``,
  /// ``gemv(_:transpose:_:alpha:beta:into:)``.
  public static func gemm(
    _ a: Matrix, transposeA: Bool = false, _ b: Matrix, transposeB: Bool = false,
    alpha: Element = 1, beta: Element = 0, into c: inout Matrix
  ) throws {
    try gemm("gemm", a, transposeA, b, transposeB, alpha, beta, &c)
  }

  /// The product `op(self)·op(other)` as a new matrix, with `op(X) = Xᵀ` when the matching
  /// flag is set; `x.multiplied(by: x, transposingSelf: true)` is the Gram matrix XᵀX.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` if the inner
  ///   dimensions differ, e.g. `multiplied(by:): op(B) after op(A) 3×4: shape mismatch, expected 4×2, got 5×2`.
  ///
  /// See also: ``gemm(_:transposeA:_:transposeB:alpha:beta:into:)``, which writes into a
  /// matrix you keep and reuse.
  public func multiplied(
    by other: Matrix, transposingSelf: Bool = false, transposingOther: Bool = false
  ) throws -> Matrix {
    let m = transposingSelf ? columns : rows
    let n = transposingOther ? other.rows : other.columns
    var result = try Matrix(rows: m, columns: n)
    try Self.gemm("multiplied(by:)", self, transposingSelf, other, transposingOther, 1, 0, &result)
    return result
  }

  /// Matrix–vector product, `y ← α·op(A)·x + β·y`, with `op(A) = Aᵀ` when `transpose` is set
  /// (BLAS `?gemv`, row-major).
  ///
  /// x and y are vectors: matrices with one row or one column. With op(A) of shape `m × n`,
  /// x must have n elements and y m. With β = 0 (the default) y is only written.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` naming the
  ///   shapes, e.g. `gemv: expected 3×4 · vector of 4 → vector of 3, got 3×4 · 5×1 → 3×1`.
  public static func gemv(
    _ a: Matrix, transpose: Bool = false, _ x: Matrix,
    alpha: Element = 1, beta: Element = 0, into y: inout Matrix
  ) throws {
    let (m, n) = transpose ? (a.columns, a.rows) : (a.rows, a.columns)
    let xIsVector = x.rows == 1 || x.columns == 1
    let yIsVector = y.rows == 1 || y.columns == 1
    guard xIsVector, yIsVector, x.count == n, y.count == m else {
      let opA = operandShape(a, transposed: transpose)
      if !(xIsVector && x.count == n) {
        throw BumpKitError.shapeMismatch(
          operation: "gemv: x, a vector for op(A) \(opA)", expected: MatrixShape(rows: n, columns: 1), actual: MatrixShape(of: x))
      }
      throw BumpKitError.shapeMismatch(
        operation: "gemv: y, a vector for op(A) \(opA)", expected: MatrixShape(rows: m, columns: 1), actual: MatrixShape(of: y))
    }
    if m == 0 { return }
    if n == 0 {
      y.scaleOrZero(by: beta)
      return
    }
    try callGemv("gemv", a, transpose, x, alpha, beta, &y)
  }

  /// `y ← α·op(A)·x + β·y` through BLAS, for shapes the caller has checked (x and y
  /// contiguous vectors of the right lengths).
  private static func callGemv(
    _ operation: String, _ a: Matrix, _ transpose: Bool, _ x: Matrix,
    _ alpha: Element, _ beta: Element, _ y: inout Matrix
  ) throws {
    let rows32 = try blasInt(a.rows, operation)
    let columns32 = try blasInt(a.columns, operation)
    let lda = try blasInt(max(1, a.columns), operation)
    // With β = 0, y is only written: clear it first, so that NaN in it cannot survive
    // whatever the BLAS does with 0·NaN.
    if beta == 0 { y.scaleOrZero(by: 0) }
    a.withUnsafeBufferPointer { aBuffer in
      x.withUnsafeBufferPointer { xBuffer in
        y.withUnsafeMutableBufferPointer { yBuffer in
          Element.blasGemv(
            transpose: transpose, m: rows32, n: columns32, alpha: alpha,
            a: aBuffer.baseAddress!, lda: lda, x: xBuffer.baseAddress!, incx: 1,
            beta: beta, y: yBuffer.baseAddress!, incy: 1)
        }
      }
    }
  }

  private static func gemm(
    _ operation: String, _ a: Matrix, _ transposeA: Bool, _ b: Matrix, _ transposeB: Bool,
    _ alpha: Element, _ beta: Element, _ c: inout Matrix
  ) throws {
    let (m, k) = transposeA ? (a.columns, a.rows) : (a.rows, a.columns)
    let (kb, n) = transposeB ? (b.columns, b.rows) : (b.rows, b.columns)
    guard k == kb else {
      throw BumpKitError.shapeMismatch(
        operation: "\(operation): op(B) after op(A) \(operandShape(a, transposed: transposeA))",
        expected: MatrixShape(rows: k, columns: n), actual: operandShape(b, transposed: transposeB))
    }
    guard c.rows == m, c.columns == n else {
      throw BumpKitError.shapeMismatch(
        operation: "\(operation): C = op(A) · op(B)", expected: MatrixShape(rows: m, columns: n), actual: MatrixShape(of: c))
    }
    if m == 0 || n == 0 { return }
    if k == 0 {
      c.scaleOrZero(by: beta)
      return
    }
    let m32 = try blasInt(m, operation)
    let n32 = try blasInt(n, operation)
    let k32 = try blasInt(k, operation)
    let lda = try blasInt(max(1, a.columns), operation)
    let ldb = try blasInt(max(1, b.columns), operation)
    let ldc = try blasInt(max(1, c.columns), operation)
    // A product with one output column is a matrix–vector product: op(B) is then a
    // contiguous vector (k×1, or 1×k transposed) and so is C. GEMV is faster for it, and
    // OpenBLAS's GEMM allocates a buffer on every such call.
    if n == 1 {
      try callGemv(operation, a, transposeA, b, alpha, beta, &c)
      return
    }
    a.withUnsafeBufferPointer { aBuffer in
      b.withUnsafeBufferPointer { bBuffer in
        c.withUnsafeMutableBufferPointer { cBuffer in
          Element.blasGemm(
            transposeA: transposeA, transposeB: transposeB, m: m32, n: n32, k: k32,
            alpha: alpha, a: aBuffer.baseAddress!, lda: lda, b: bBuffer.baseAddress!, ldb: ldb,
            beta: beta, c: cBuffer.baseAddress!, ldc: ldc)
        }
      }
    }
  }

  /// `self ← β·self`, where β = 0 writes zeros without reading (as BLAS does), so that NaN in
  /// a destination that is about to be overwritten does not survive.
  mutating func scaleOrZero(by beta: Element) {
    if beta == 0 {
      withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    } else if beta != 1 {
      scale(by: beta)
    }
  }
}
