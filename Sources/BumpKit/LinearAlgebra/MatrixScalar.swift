internal import COpenBLAS

/// A floating-point type that ``Matrix`` works in: `Float` (BLAS and LAPACK `s` routines)
/// and `Double` (the `d` routines).
///
/// `MatrixScalar` adds to `KernelScalar` (the SIMD bump kernels) only what reading and
/// writing numbers needs; the BLAS and LAPACK calls are routed to the routine of the type
/// inside BumpKit. Use the typed, shape-checked operations on ``Matrix``
/// (``Matrix/gemm(_:transposeA:_:transposeB:alpha:beta:into:)``, ``Matrix/qr()``, …).
///
/// Only `Float` and `Double` conform: do not add conformances (a matrix operation on another
/// type stops the program).
public protocol MatrixScalar: KernelScalar, LosslessStringConvertible {}

extension Float: MatrixScalar {}
extension Double: MatrixScalar {}

@inline(__always)
private func cblasTranspose(_ transpose: Bool) -> CBLAS_TRANSPOSE {
  transpose ? CblasTrans : CblasNoTrans
}

@inline(__always)
private func lapackTranspose(_ transpose: Bool) -> CChar {
  CChar(UInt8(ascii: transpose ? "T" : "N"))
}

@inline(__always)
private func lapackUplo(_ upper: Bool) -> CChar {
  CChar(UInt8(ascii: upper ? "U" : "L"))
}

/// The BLAS and LAPACK routines that ``Matrix`` uses, for `Self` = Float or Double. Each takes
/// raw pointers and 32-bit sizes exactly as the C routine does, row-major, and checks
/// nothing: a matrix `rows × columns` with leading dimension `ld` stores (i, j) at
/// `pointer[i * ld + j]`. The type test folds away in code specialised for Float or Double.
extension MatrixScalar {
  @inline(__always) private static var isFloat: Bool { Self.self == Float.self }
  @inline(__always) private static func requireDouble() {
    precondition(Self.self == Double.self, "Matrix operations exist for Float and Double only, not \(Self.self)")
  }
  @inline(__always) private static func s(_ p: UnsafePointer<Self>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
  @inline(__always) private static func s(_ p: UnsafeMutablePointer<Self>) -> UnsafeMutablePointer<Float> { UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self) }
  @inline(__always) private static func d(_ p: UnsafePointer<Self>) -> UnsafePointer<Double> { UnsafeRawPointer(p).assumingMemoryBound(to: Double.self) }
  @inline(__always) private static func d(_ p: UnsafeMutablePointer<Self>) -> UnsafeMutablePointer<Double> { UnsafeMutableRawPointer(p).assumingMemoryBound(to: Double.self) }
  @inline(__always) private static func s(_ v: Self) -> Float { unsafeBitCast(v, to: Float.self) }
  @inline(__always) private static func d(_ v: Self) -> Double { unsafeBitCast(v, to: Double.self) }

  /// `C ← α·op(A)·op(B) + β·C` (`?gemm`). When β = 0, C is not read.
  static func blasGemm(
    transposeA: Bool, transposeB: Bool, m: Int32, n: Int32, k: Int32,
    alpha: Self, a: UnsafePointer<Self>, lda: Int32, b: UnsafePointer<Self>, ldb: Int32,
    beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int32
  ) {
    let (ta, tb) = (cblasTranspose(transposeA), cblasTranspose(transposeB))
    if isFloat {
      cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, s(alpha), s(a), lda, s(b), ldb, s(beta), s(c), ldc)
    } else {
      requireDouble()
      cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, d(alpha), d(a), lda, d(b), ldb, d(beta), d(c), ldc)
    }
  }

  /// `y ← α·op(A)·x + β·y` (`?gemv`); A is stored `m × n`.
  static func blasGemv(
    transpose: Bool, m: Int32, n: Int32, alpha: Self, a: UnsafePointer<Self>, lda: Int32,
    x: UnsafePointer<Self>, incx: Int32, beta: Self, y: UnsafeMutablePointer<Self>, incy: Int32
  ) {
    let t = cblasTranspose(transpose)
    if isFloat {
      cblas_sgemv(CblasRowMajor, t, m, n, s(alpha), s(a), lda, s(x), incx, s(beta), s(y), incy)
    } else {
      requireDouble()
      cblas_dgemv(CblasRowMajor, t, m, n, d(alpha), d(a), lda, d(x), incx, d(beta), d(y), incy)
    }
  }

  /// `y ← α·x + y` over n elements (`?axpy`).
  static func blasAxpy(n: Int32, alpha: Self, x: UnsafePointer<Self>, incx: Int32, y: UnsafeMutablePointer<Self>, incy: Int32) {
    if isFloat { cblas_saxpy(n, s(alpha), s(x), incx, s(y), incy) } else { requireDouble(); cblas_daxpy(n, d(alpha), d(x), incx, d(y), incy) }
  }

  /// `x ← α·x` over n elements (`?scal`).
  static func blasScal(n: Int32, alpha: Self, x: UnsafeMutablePointer<Self>, incx: Int32) {
    if isFloat { cblas_sscal(n, s(alpha), s(x), incx) } else { requireDouble(); cblas_dscal(n, d(alpha), d(x), incx) }
  }

  /// `Σᵢ xᵢ·yᵢ` over n elements (`?dot`), accumulated in `Self`.
  static func blasDot(n: Int32, x: UnsafePointer<Self>, incx: Int32, y: UnsafePointer<Self>, incy: Int32) -> Self {
    if isFloat { return unsafeBitCast(cblas_sdot(n, s(x), incx, s(y), incy), to: Self.self) }
    requireDouble()
    return unsafeBitCast(cblas_ddot(n, d(x), incx, d(y), incy), to: Self.self)
  }

  /// `√(Σᵢ xᵢ²)` over n elements, scaled against overflow and underflow (`?nrm2`).
  static func blasNrm2(n: Int32, x: UnsafePointer<Self>, incx: Int32) -> Self {
    if isFloat { return unsafeBitCast(cblas_snrm2(n, s(x), incx), to: Self.self) }
    requireDouble()
    return unsafeBitCast(cblas_dnrm2(n, d(x), incx), to: Self.self)
  }

  /// Householder QR of the `m × n` A (`?geqrf`); returns LAPACK's `info`.
  static func lapackGeqrf(m: Int32, n: Int32, a: UnsafeMutablePointer<Self>, lda: Int32, tau: UnsafeMutablePointer<Self>) -> Int32 {
    if isFloat { return LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, m, n, s(a), lda, s(tau)) }
    requireDouble()
    return LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, m, n, d(a), lda, d(tau))
  }

  /// Q with orthonormal columns from the first k reflectors of ``lapackGeqrf`` (`?orgqr`).
  static func lapackOrgqr(m: Int32, n: Int32, k: Int32, a: UnsafeMutablePointer<Self>, lda: Int32, tau: UnsafePointer<Self>) -> Int32 {
    if isFloat { return LAPACKE_sorgqr(LAPACK_ROW_MAJOR, m, n, k, s(a), lda, s(tau)) }
    requireDouble()
    return LAPACKE_dorgqr(LAPACK_ROW_MAJOR, m, n, k, d(a), lda, d(tau))
  }

  /// Least squares or minimum-norm solution of `op(A)·X = B` (`?gels`); `info > 0` means A
  /// does not have full rank.
  static func lapackGels(
    transpose: Bool, m: Int32, n: Int32, nrhs: Int32, a: UnsafeMutablePointer<Self>, lda: Int32,
    b: UnsafeMutablePointer<Self>, ldb: Int32
  ) -> Int32 {
    let t = lapackTranspose(transpose)
    if isFloat { return LAPACKE_sgels(LAPACK_ROW_MAJOR, t, m, n, nrhs, s(a), lda, s(b), ldb) }
    requireDouble()
    return LAPACKE_dgels(LAPACK_ROW_MAJOR, t, m, n, nrhs, d(a), lda, d(b), ldb)
  }

  /// Cholesky solve of `A·X = B` for symmetric positive definite A (`?posv`); `info = i > 0`
  /// means the leading minor of order i is not positive definite.
  static func lapackPosv(
    upper: Bool, n: Int32, nrhs: Int32, a: UnsafeMutablePointer<Self>, lda: Int32,
    b: UnsafeMutablePointer<Self>, ldb: Int32
  ) -> Int32 {
    let u = lapackUplo(upper)
    if isFloat { return LAPACKE_sposv(LAPACK_ROW_MAJOR, u, n, nrhs, s(a), lda, s(b), ldb) }
    requireDouble()
    return LAPACKE_dposv(LAPACK_ROW_MAJOR, u, n, nrhs, d(a), lda, d(b), ldb)
  }
}
