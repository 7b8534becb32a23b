internal import COpenBLAS

/// A floating-point type with BLAS and LAPACK routines: `Float` (the `s` routines) and
/// `Double` (the `d` routines).
///
/// `MatrixScalar` refines `KernelScalar` (the SIMD bump kernels) with one thin static requirement
/// per routine that ``Matrix`` uses. Every requirement forwards to OpenBLAS (`cblas_s*`,
/// `cblas_d*`) or LAPACKE (`LAPACKE_s*`, `LAPACKE_d*`) with **row-major** layout: a matrix
/// with `rows × columns` logical shape and leading dimension `ld` stores element (i, j) at
/// `pointer[i * ld + j]`, with `ld ≥ max(1, columns)`.
///
/// The requirements take raw pointers and 32-bit sizes exactly as the C routines do and check
/// nothing; use the typed, shape-checked operations on ``Matrix`` instead
/// (``Matrix/gemm(_:transposeA:_:transposeB:alpha:beta:into:)``, ``Matrix/qr()``, …).
///
/// See also: ``Matrix``, ``LinearAlgebraError``.
public protocol MatrixScalar: KernelScalar {
  /// General matrix product, `C ← α·op(A)·op(B) + β·C` (BLAS `?gemm`).
  ///
  /// op(A) is `m × k`, op(B) is `k × n` and C is `m × n`; `op(X) = Xᵀ` when the matching
  /// `transpose` flag is set. When β = 0, C is not read (NaN in C does not propagate).
  static func blasGemm(
    transposeA: Bool, transposeB: Bool, m: Int32, n: Int32, k: Int32,
    alpha: Self, a: UnsafePointer<Self>, lda: Int32, b: UnsafePointer<Self>, ldb: Int32,
    beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int32)

  /// Matrix–vector product, `y ← α·op(A)·x + β·y` (BLAS `?gemv`).
  ///
  /// A is stored `m × n`; op(A) = A (x has n elements, y has m) or Aᵀ (x has m, y has n).
  static func blasGemv(
    transpose: Bool, m: Int32, n: Int32, alpha: Self, a: UnsafePointer<Self>, lda: Int32,
    x: UnsafePointer<Self>, incx: Int32, beta: Self, y: UnsafeMutablePointer<Self>, incy: Int32)

  /// Scaled vector addition, `y ← α·x + y` over n elements (BLAS `?axpy`).
  static func blasAxpy(
    n: Int32, alpha: Self, x: UnsafePointer<Self>, incx: Int32,
    y: UnsafeMutablePointer<Self>, incy: Int32)

  /// Vector scaling, `x ← α·x` over n elements (BLAS `?scal`).
  static func blasScal(n: Int32, alpha: Self, x: UnsafeMutablePointer<Self>, incx: Int32)

  /// Inner product, `Σᵢ xᵢ·yᵢ` over n elements (BLAS `?dot`), accumulated in `Self`.
  static func blasDot(
    n: Int32, x: UnsafePointer<Self>, incx: Int32, y: UnsafePointer<Self>, incy: Int32
  ) -> Self

  /// Euclidean norm, `√(Σᵢ xᵢ²)` over n elements (BLAS `?nrm2`), computed with scaling so
  /// that it neither overflows nor underflows where the result is representable.
  static func blasNrm2(n: Int32, x: UnsafePointer<Self>, incx: Int32) -> Self

  /// Householder QR factorisation, `A = Q·R` (LAPACK `?geqrf`).
  ///
  /// A is `m × n`. On return R (`min(m, n) × n`, upper trapezoidal) is on and above the
  /// diagonal of `a`, and the Householder reflectors that define Q are below it, with their
  /// scalar factors in `tau` (`min(m, n)` elements). Returns LAPACK's `info`: 0 on success,
  /// `−i` if argument i was illegal.
  static func lapackGeqrf(
    m: Int32, n: Int32, a: UnsafeMutablePointer<Self>, lda: Int32,
    tau: UnsafeMutablePointer<Self>
  ) -> Int32

  /// Forms the `m × n` matrix Q with orthonormal columns from the first k reflectors that
  /// ``lapackGeqrf(m:n:a:lda:tau:)`` produced (LAPACK `?orgqr`); requires `m ≥ n ≥ k ≥ 0`.
  /// Returns LAPACK's `info`.
  static func lapackOrgqr(
    m: Int32, n: Int32, k: Int32, a: UnsafeMutablePointer<Self>, lda: Int32,
    tau: UnsafePointer<Self>
  ) -> Int32

  /// Least squares or minimum-norm solution of `op(A)·X = B` for full-rank A (LAPACK `?gels`).
  ///
  /// A is `m × n`. With op(A) = A and m ≥ n it minimises ‖B − A·X‖₂; with m < n it returns
  /// the X of least norm. B holds `max(m, n)` rows and `nrhs` columns; on return its first
  /// rows hold X. Returns LAPACK's `info`: `i > 0` means the i-th diagonal element of the
  /// triangular factor is zero (A does not have full rank).
  static func lapackGels(
    transpose: Bool, m: Int32, n: Int32, nrhs: Int32, a: UnsafeMutablePointer<Self>,
    lda: Int32, b: UnsafeMutablePointer<Self>, ldb: Int32
  ) -> Int32

  /// Solves `A·X = B` for symmetric positive definite A by Cholesky factorisation
  /// (LAPACK `?posv`).
  ///
  /// A is `n × n`; only the triangle named by `upper` is read, and it is overwritten by the
  /// Cholesky factor. B (`n × nrhs`) is overwritten by X. Returns LAPACK's `info`: `i > 0`
  /// means the leading minor of order i is not positive definite.
  static func lapackPosv(
    upper: Bool, n: Int32, nrhs: Int32, a: UnsafeMutablePointer<Self>, lda: Int32,
    b: UnsafeMutablePointer<Self>, ldb: Int32
  ) -> Int32
}

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

extension Float: MatrixScalar {
  /// Forwards to `cblas_sgemm` (row-major).
  public static func blasGemm(
    transposeA: Bool, transposeB: Bool, m: Int32, n: Int32, k: Int32,
    alpha: Float, a: UnsafePointer<Float>, lda: Int32, b: UnsafePointer<Float>, ldb: Int32,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int32
  ) {
    cblas_sgemm(
      CblasRowMajor, cblasTranspose(transposeA), cblasTranspose(transposeB), m, n, k, alpha, a, lda,
      b, ldb, beta, c, ldc)
  }

  /// Forwards to `cblas_sgemv` (row-major).
  public static func blasGemv(
    transpose: Bool, m: Int32, n: Int32, alpha: Float, a: UnsafePointer<Float>, lda: Int32,
    x: UnsafePointer<Float>, incx: Int32, beta: Float, y: UnsafeMutablePointer<Float>, incy: Int32
  ) {
    cblas_sgemv(
      CblasRowMajor, cblasTranspose(transpose), m, n, alpha, a, lda, x, incx, beta, y, incy)
  }

  /// Forwards to `cblas_saxpy`.
  public static func blasAxpy(
    n: Int32, alpha: Float, x: UnsafePointer<Float>, incx: Int32,
    y: UnsafeMutablePointer<Float>, incy: Int32
  ) { cblas_saxpy(n, alpha, x, incx, y, incy) }

  /// Forwards to `cblas_sscal`.
  public static func blasScal(n: Int32, alpha: Float, x: UnsafeMutablePointer<Float>, incx: Int32) {
    cblas_sscal(n, alpha, x, incx)
  }

  /// Forwards to `cblas_sdot`.
  public static func blasDot(
    n: Int32, x: UnsafePointer<Float>, incx: Int32, y: UnsafePointer<Float>, incy: Int32
  ) -> Float { cblas_sdot(n, x, incx, y, incy) }

  /// Forwards to `cblas_snrm2`.
  public static func blasNrm2(n: Int32, x: UnsafePointer<Float>, incx: Int32) -> Float {
    cblas_snrm2(n, x, incx)
  }

  /// Forwards to `LAPACKE_sgeqrf` (row-major).
  public static func lapackGeqrf(
    m: Int32, n: Int32, a: UnsafeMutablePointer<Float>, lda: Int32,
    tau: UnsafeMutablePointer<Float>
  ) -> Int32 { LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, m, n, a, lda, tau) }

  /// Forwards to `LAPACKE_sorgqr` (row-major).
  public static func lapackOrgqr(
    m: Int32, n: Int32, k: Int32, a: UnsafeMutablePointer<Float>, lda: Int32,
    tau: UnsafePointer<Float>
  ) -> Int32 { LAPACKE_sorgqr(LAPACK_ROW_MAJOR, m, n, k, a, lda, tau) }

  /// Forwards to `LAPACKE_sgels` (row-major).
  public static func lapackGels(
    transpose: Bool, m: Int32, n: Int32, nrhs: Int32, a: UnsafeMutablePointer<Float>,
    lda: Int32, b: UnsafeMutablePointer<Float>, ldb: Int32
  ) -> Int32 {
    LAPACKE_sgels(LAPACK_ROW_MAJOR, lapackTranspose(transpose), m, n, nrhs, a, lda, b, ldb)
  }

  /// Forwards to `LAPACKE_sposv` (row-major).
  public static func lapackPosv(
    upper: Bool, n: Int32, nrhs: Int32, a: UnsafeMutablePointer<Float>, lda: Int32,
    b: UnsafeMutablePointer<Float>, ldb: Int32
  ) -> Int32 { LAPACKE_sposv(LAPACK_ROW_MAJOR, lapackUplo(upper), n, nrhs, a, lda, b, ldb) }
}

extension Double: MatrixScalar {
  /// Forwards to `cblas_dgemm` (row-major).
  public static func blasGemm(
    transposeA: Bool, transposeB: Bool, m: Int32, n: Int32, k: Int32,
    alpha: Double, a: UnsafePointer<Double>, lda: Int32, b: UnsafePointer<Double>, ldb: Int32,
    beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int32
  ) {
    cblas_dgemm(
      CblasRowMajor, cblasTranspose(transposeA), cblasTranspose(transposeB), m, n, k, alpha, a, lda,
      b, ldb, beta, c, ldc)
  }

  /// Forwards to `cblas_dgemv` (row-major).
  public static func blasGemv(
    transpose: Bool, m: Int32, n: Int32, alpha: Double, a: UnsafePointer<Double>, lda: Int32,
    x: UnsafePointer<Double>, incx: Int32, beta: Double, y: UnsafeMutablePointer<Double>,
    incy: Int32
  ) {
    cblas_dgemv(
      CblasRowMajor, cblasTranspose(transpose), m, n, alpha, a, lda, x, incx, beta, y, incy)
  }

  /// Forwards to `cblas_daxpy`.
  public static func blasAxpy(
    n: Int32, alpha: Double, x: UnsafePointer<Double>, incx: Int32,
    y: UnsafeMutablePointer<Double>, incy: Int32
  ) { cblas_daxpy(n, alpha, x, incx, y, incy) }

  /// Forwards to `cblas_dscal`.
  public static func blasScal(n: Int32, alpha: Double, x: UnsafeMutablePointer<Double>, incx: Int32)
  {
    cblas_dscal(n, alpha, x, incx)
  }

  /// Forwards to `cblas_ddot`.
  public static func blasDot(
    n: Int32, x: UnsafePointer<Double>, incx: Int32, y: UnsafePointer<Double>, incy: Int32
  ) -> Double { cblas_ddot(n, x, incx, y, incy) }

  /// Forwards to `cblas_dnrm2`.
  public static func blasNrm2(n: Int32, x: UnsafePointer<Double>, incx: Int32) -> Double {
    cblas_dnrm2(n, x, incx)
  }

  /// Forwards to `LAPACKE_dgeqrf` (row-major).
  public static func lapackGeqrf(
    m: Int32, n: Int32, a: UnsafeMutablePointer<Double>, lda: Int32,
    tau: UnsafeMutablePointer<Double>
  ) -> Int32 { LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, m, n, a, lda, tau) }

  /// Forwards to `LAPACKE_dorgqr` (row-major).
  public static func lapackOrgqr(
    m: Int32, n: Int32, k: Int32, a: UnsafeMutablePointer<Double>, lda: Int32,
    tau: UnsafePointer<Double>
  ) -> Int32 { LAPACKE_dorgqr(LAPACK_ROW_MAJOR, m, n, k, a, lda, tau) }

  /// Forwards to `LAPACKE_dgels` (row-major).
  public static func lapackGels(
    transpose: Bool, m: Int32, n: Int32, nrhs: Int32, a: UnsafeMutablePointer<Double>,
    lda: Int32, b: UnsafeMutablePointer<Double>, ldb: Int32
  ) -> Int32 {
    LAPACKE_dgels(LAPACK_ROW_MAJOR, lapackTranspose(transpose), m, n, nrhs, a, lda, b, ldb)
  }

  /// Forwards to `LAPACKE_dposv` (row-major).
  public static func lapackPosv(
    upper: Bool, n: Int32, nrhs: Int32, a: UnsafeMutablePointer<Double>, lda: Int32,
    b: UnsafeMutablePointer<Double>, ldb: Int32
  ) -> Int32 { LAPACKE_dposv(LAPACK_ROW_MAJOR, lapackUplo(upper), n, nrhs, a, lda, b, ldb) }
}
