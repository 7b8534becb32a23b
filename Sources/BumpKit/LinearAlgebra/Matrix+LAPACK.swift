extension Matrix {
  /// The reduced QR factorisation `A = Q·R` by Householder reflections (LAPACK `?geqrf`
  /// then `?orgqr`).
  ///
  /// For A of shape `m × n` and k = min(m, n), Q is `m × k` with orthonormal columns
  /// (QᵀQ = I) and R is `k × n` upper trapezoidal (zero below the diagonal):
  /// - m ≥ n (tall, the case for orthogonal initialisation): Q is `m × n`, R is `n × n`.
  /// - m < n (wide): Q is the `m × m` orthogonal matrix and R is `m × n`. To get orthonormal
  ///   *rows* of length n instead, factor the transpose: `Aᵀ = Q·R` gives `Qᵀ`, `m × n`.
  ///
  /// The signs of Q's columns follow LAPACK's reflector convention, so Q is not uniformly
  /// (Haar) distributed over orthogonal matrices even when A is Gaussian; multiplying
  /// column j of Q by sign(Rⱼⱼ) makes it so (Mezzadri 2007, "How to generate random matrices
  /// from the classical compact groups").
  ///
  /// - Throws: ``BumpKitError/nonFiniteData(what:row:column:value:)`` for a NaN or ±∞ in A
  ///   (which LAPACK would report as an illegal argument);
  ///   ``LinearAlgebraError/lapack(routine:info:)`` if LAPACK reports failure (only for
  ///   failed workspace allocation: QR exists for every finite A);
  ///   ``BumpKitError/invalidArgument(name:value:reason:)`` for sizes beyond `Int32.max`.
  public func qr() throws -> (q: Matrix, r: Matrix) {
    let (m, n) = (rows, columns)
    let k = Swift.min(m, n)
    if k == 0 { return (try Matrix(rows: m, columns: 0), try Matrix(rows: 0, columns: n)) }
    try checkFiniteInput(self, "qr")
    let m32 = try blasInt(m, "qr")
    let n32 = try blasInt(n, "qr")
    let k32 = try blasInt(k, "qr")
    var factors = self
    var tau = [Element](repeating: 0, count: k)
    let geqrf = Element.blasPrefix + "geqrf"
    let orgqr = Element.blasPrefix + "orgqr"
    try factors.withUnsafeMutableBufferPointer { (a) throws(LinearAlgebraError) in
      try tau.withUnsafeMutableBufferPointer { (t) throws(LinearAlgebraError) in
        try checkLAPACK(
          Element.lapackGeqrf(m: m32, n: n32, a: a.baseAddress!, lda: n32, tau: t.baseAddress!),
          geqrf)
      }
    }
    var r = try Matrix(rows: k, columns: n)
    factors.withUnsafeBufferPointer { a in
      r.withUnsafeMutableBufferPointer { rBuffer in
        for i in 0..<k {
          for j in i..<n { rBuffer[i * n + j] = a[i * n + j] }
        }
      }
    }
    // The leading k columns of the m × n buffer (leading dimension n) become Q in place.
    try factors.withUnsafeMutableBufferPointer { (a) throws(LinearAlgebraError) in
      try tau.withUnsafeBufferPointer { (t) throws(LinearAlgebraError) in
        try checkLAPACK(
          Element.lapackOrgqr(
            m: m32, n: k32, k: k32, a: a.baseAddress!, lda: n32, tau: t.baseAddress!), orgqr)
      }
    }
    if k == n { return (factors, r) }
    var q = try Matrix(rows: m, columns: k)
    factors.withUnsafeBufferPointer { a in
      q.withUnsafeMutableBufferPointer { qBuffer in
        for i in 0..<m {
          (qBuffer.baseAddress! + i * k).update(from: a.baseAddress! + i * n, count: k)
        }
      }
    }
    return (q, r)
  }

  /// The least-squares solution X of `A·X ≈ B` for A of full rank (LAPACK `?gels`, by QR or
  /// LQ factorisation).
  ///
  /// A is `m × n` and B is `m × p` (p right-hand sides, e.g. p targets); X is `n × p`.
  /// - m ≥ n: X minimises ‖B − A·X‖_F, i.e. solves the normal equations AᵀA·X = AᵀB, but
  ///   without forming AᵀA (so it stays accurate when A is ill-conditioned).
  /// - m < n: of the exact solutions, X is the one of least norm.
  ///
  /// The inputs are not modified (LAPACK works on copies).
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` if B's row count
  ///   differs from A's; ``BumpKitError/nonFiniteData(what:row:column:value:)`` for a NaN or
  ///   ±∞ in A or B; ``LinearAlgebraError/lapack(routine:info:)`` with info > 0 if A does
  ///   not have full rank (add a ridge term then, as ``Readout`` does). LAPACK detects
  ///   only an exactly zero diagonal element of the triangular factor: for a matrix that is
  ///   rank deficient only up to rounding, it returns a solution dominated by rounding noise.
  public static func solveLeastSquares(_ a: Matrix, _ b: Matrix) throws -> Matrix {
    try requireRows(a.rows, in: b, for: "solveLeastSquares: B (one row per row of A, \(MatrixShape(of: a)))")
    let (m, n, p) = (a.rows, a.columns, b.columns)
    if m == 0 || n == 0 || p == 0 { return try Matrix(rows: n, columns: p) }
    try checkFiniteInput(a, "solveLeastSquares: A")
    try checkFiniteInput(b, "solveLeastSquares: B")
    let m32 = try blasInt(m, "solveLeastSquares")
    let n32 = try blasInt(n, "solveLeastSquares")
    let p32 = try blasInt(p, "solveLeastSquares")
    var factors = a
    // gels needs B with max(m, n) rows: X (n rows) overwrites it.
    var solution = b
    try solution.resize(rows: Swift.max(m, n), columns: p)
    let routine = Element.blasPrefix + "gels"
    try factors.withUnsafeMutableBufferPointer { (aBuffer) throws(LinearAlgebraError) in
      try solution.withUnsafeMutableBufferPointer { (bBuffer) throws(LinearAlgebraError) in
        try checkLAPACK(
          Element.lapackGels(
            transpose: false, m: m32, n: n32, nrhs: p32, a: aBuffer.baseAddress!, lda: n32,
            b: bBuffer.baseAddress!, ldb: p32),
          routine)
      }
    }
    try solution.resize(rows: n, columns: p)
    return solution
  }

  /// The solution X of `A·X = B` for symmetric positive definite A, by Cholesky
  /// factorisation A = UᵀU (LAPACK `?posv`).
  ///
  /// A is `n × n` and B is `n × p`; X is `n × p`. Only the upper triangle of A is read, so A
  /// is taken to be symmetric. The inputs are not modified.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` if A is not
  ///   square or B has the wrong row count; ``LinearAlgebraError/lapack(routine:info:)`` with
  ///   info = i > 0 if A is not positive definite (its leading minor of order i is not).
  package static func solvePositiveDefinite(_ a: Matrix, _ b: Matrix) throws -> Matrix {
    guard a.rows == a.columns else {
      throw BumpKitError.shapeMismatch(
        operation: "solvePositiveDefinite: A (square)", expected: MatrixShape(rows: a.rows, columns: a.rows),
        actual: MatrixShape(of: a))
    }
    try requireRows(a.rows, in: b, for: "solvePositiveDefinite: B (one row per row of A)")
    let (n, p) = (a.rows, b.columns)
    if n == 0 || p == 0 { return try Matrix(rows: n, columns: p) }
    let n32 = try blasInt(n, "solvePositiveDefinite")
    let p32 = try blasInt(p, "solvePositiveDefinite")
    var factor = a
    var solution = b
    let routine = Element.blasPrefix + "posv"
    try factor.withUnsafeMutableBufferPointer { (aBuffer) throws(LinearAlgebraError) in
      try solution.withUnsafeMutableBufferPointer { (bBuffer) throws(LinearAlgebraError) in
        try checkLAPACK(
          Element.lapackPosv(
            upper: true, n: n32, nrhs: p32, a: aBuffer.baseAddress!, lda: n32,
            b: bBuffer.baseAddress!, ldb: p32),
          routine)
      }
    }
    return solution
  }

  /// Ridge regression: the W that minimises ‖Y − X·W‖²_F + λ‖W‖²_F, i.e. the solution of
  /// `(XᵀX + λI)·W = XᵀY`.
  ///
  /// X (`features`) is `N × d`, one sample per row; Y (`targets`) is `N × p`; W is `d × p`.
  /// Every weight is penalised, so to fit an unpenalised intercept, centre X and Y first
  /// (or accept a penalised one by appending a column of ones to X). λ > 0 determines W for
  /// any X; λ = 0 is least squares, which needs X of full column rank.
  ///
  /// Solved as the least-squares problem ‖[Y; 0] − [X; √λ·I]·W‖² by QR
  /// (``solveLeastSquares(_:_:)``), never forming XᵀX, whose condition number is the square
  /// of X's: accurate for the ill-conditioned features that dead or duplicate units give.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` unless λ is finite
  ///   and ≥ 0; ``BumpKitError/shapeMismatch(operation:expected:actual:)`` if X and Y have
  ///   different row counts; ``LinearAlgebraError/lapack(routine:info:)`` (info > 0) if
  ///   λ = 0 and X is rank deficient.
  package static func ridge(features x: Matrix, targets y: Matrix, lambda: Element) throws -> Matrix
  {
    try ridge(features: x, targets: y, lambda: lambda, penalizedColumns: x.columns)
  }

  /// ``ridge(features:targets:lambda:)`` with only the first `penalizedColumns` weights of
  /// each output penalised: a column of ones after them fits an unpenalised intercept.
  static func ridge(
    features x: Matrix, targets y: Matrix, lambda: Element, penalizedColumns: Int
  ) throws -> Matrix {
    guard lambda.isFinite, lambda >= 0 else {
      throw BumpKitError.invalidArgument(name: "ridge lambda", value: "\(lambda)", reason: "must be finite and ≥ 0")
    }
    try requireRows(x.rows, in: y, for: "ridge: targets Y (one row per row of X, \(MatrixShape(of: x)))")
    // A = [X; √λ·I 0] and B = [Y; 0], so that ‖B − A·W‖² is the ridge objective.
    let (n, d, penalized) = (x.rows, x.columns, Swift.min(penalizedColumns, x.columns))
    guard lambda > 0, penalized > 0 else { return try solveLeastSquares(x, y) }
    var a = Matrix(validRows: n + penalized, columns: d)
    var b = Matrix(validRows: n + penalized, columns: y.columns)
    a.withUnsafeMutableBufferPointer { a in
      x.withUnsafeBufferPointer { x in _ = a.update(fromContentsOf: x) }
      let root = lambda.squareRoot()
      for j in 0..<penalized { a[(n + j) * d + j] = root }
    }
    b.withUnsafeMutableBufferPointer { b in
      y.withUnsafeBufferPointer { y in _ = b.update(fromContentsOf: y) }
    }
    return try solveLeastSquares(a, b)
  }
}
