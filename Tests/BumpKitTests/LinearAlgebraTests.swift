import BumpKit
import Testing
import BumpTestSupport

// MARK: - Helpers

/// The element types every generic check runs for.
enum ScalarKind: String, CaseIterable, CustomTestStringConvertible {
  case float, double
  var testDescription: String { rawValue }
  /// The element type, for a generic check (`check(kind.type)` opens it as `T.Type`).
  var type: any MatrixScalar.Type { self == .float ? Float.self : Double.self }
}


/// Relative tolerance per element type for small, well-conditioned problems.
private func tolerance<T: MatrixScalar>(_: T.Type) -> Double {
  T.self == Float.self ? 2e-5 : 1e-13
}

private func randomMatrix<T: MatrixScalar>(
  _: T.Type, _ rows: Int, _ columns: Int, _ rng: inout SplitMix64
) -> Matrix<T> {
  var m = Matrix<T>(validRows: rows, columns: columns)
  for i in 0..<rows {
    for j in 0..<columns { m[i, j] = T(Double.random(in: -1...1, using: &rng)) }
  }
  return m
}

/// The elements as Doubles, row-major, as a nested array `[row][column]`.
private func toDouble<T: MatrixScalar>(_ m: Matrix<T>) -> [[Double]] {
  (0..<m.rows).map { i in (0..<m.columns).map { j in Double(m[i, j]) } }
}

private func naiveTranspose(_ a: [[Double]], columns: Int) -> [[Double]] {
  (0..<columns).map { j in a.map { $0[j] } }
}

/// The naive triple loop, in Double.
private func naiveProduct(_ a: [[Double]], _ b: [[Double]], inner: Int) -> [[Double]] {
  let n = b.first?.count ?? 0
  return a.map { row in
    (0..<n).map { j in (0..<inner).reduce(0.0) { $0 + row[$1] * b[$1][j] } }
  }
}

private func expectClose<T: MatrixScalar>(
  _ got: Matrix<T>, _ expected: [[Double]], tolerance tol: Double,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(got.rows == expected.count, sourceLocation: sourceLocation)
  guard got.rows == expected.count else { return }
  for i in 0..<got.rows {
    #expect(got.columns == expected[i].count, sourceLocation: sourceLocation)
    guard got.columns == expected[i].count else { return }
    for j in 0..<got.columns {
      let error = abs(Double(got[i, j]) - expected[i][j])
      #expect(
        error <= tol * max(1, abs(expected[i][j])),
        "element (\(i), \(j)): got \(got[i, j]), expected \(expected[i][j])",
        sourceLocation: sourceLocation)
    }
  }
}

// MARK: - Tests

@Suite struct LinearAlgebraTests {

  // MARK: Products

  @Test(arguments: ScalarKind.allCases)
  func gemmMatchesNaiveProduct(kind: ScalarKind) throws {
    try checkGemm(kind.type)
  }

  private func checkGemm<T: MatrixScalar>(_ type: T.Type) throws {
    // n = 1 takes the matrix–vector path; m = 1 and k = 1 are edge shapes of the general one.
    for shape in [(5, 7, 3), (5, 7, 1), (1, 7, 1), (6, 1, 1), (1, 4, 3)] {
      try checkGemm(T.self, shape)
    }
  }

  private func checkGemm<T: MatrixScalar>(_ type: T.Type, _ shape: (Int, Int, Int)) throws {
    var rng = SplitMix64(state: 1)
    let (m, k, n) = shape
    for transposeA in [false, true] {
      for transposeB in [false, true] {
        let a = transposeA ? randomMatrix(T.self, k, m, &rng) : randomMatrix(T.self, m, k, &rng)
        let b = transposeB ? randomMatrix(T.self, n, k, &rng) : randomMatrix(T.self, k, n, &rng)
        let opA = transposeA ? naiveTranspose(toDouble(a), columns: m) : toDouble(a)
        let opB = transposeB ? naiveTranspose(toDouble(b), columns: k) : toDouble(b)
        let product = naiveProduct(opA, opB, inner: k)

        // α = 1, β = 0: NaN in C must not survive.
        var c = try Matrix<T>(rows: m, columns: n, repeating: .nan)
        try Matrix.gemm(a, transposeA: transposeA, b, transposeB: transposeB, into: &c)
        expectClose(c, product, tolerance: tolerance(T.self))

        // General α and β.
        let c0 = randomMatrix(T.self, m, n, &rng)
        var c1 = c0
        try Matrix.gemm(
          a, transposeA: transposeA, b, transposeB: transposeB, alpha: 1.5, beta: -0.5, into: &c1)
        let expected = (0..<m).map { i in
          (0..<n).map { j in 1.5 * product[i][j] - 0.5 * Double(c0[i, j]) }
        }
        expectClose(c1, expected, tolerance: tolerance(T.self))

        let viaMultiplied = try a.multiplied(
          by: b, transposingSelf: transposeA, transposingOther: transposeB)
        expectClose(viaMultiplied, product, tolerance: tolerance(T.self))
      }
    }
  }

  @Test func gemmShapeMismatchNamesBothShapes() throws {
    let a = try Matrix<Double>(rows: 3, columns: 4)
    let b = try Matrix<Double>(rows: 5, columns: 2)
    var c = try Matrix<Double>(rows: 3, columns: 2)
    let error = #expect(throws: BumpKitError.self) { try Matrix.gemm(a, b, into: &c) }
    #expect(error?.description == "gemm: op(B) after op(A) 3×4: shape mismatch, expected 4×2, got 5×2")
    #expect(error == .shapeMismatch(
      operation: "gemm: op(B) after op(A) 3×4", expected: MatrixShape(rows: 4, columns: 2), actual: MatrixShape(rows: 5, columns: 2)))

    let transposedError = #expect(throws: BumpKitError.self) {
      try Matrix.gemm(a, transposeA: true, b, into: &c)
    }
    #expect(transposedError?.description == "gemm: op(B) after op(A) 4×3: shape mismatch, expected 3×2, got 5×2")

    var wrongC = try Matrix<Double>(rows: 3, columns: 5)
    let b42 = try Matrix<Double>(rows: 4, columns: 2)
    let cError = #expect(throws: BumpKitError.self) { try Matrix.gemm(a, b42, into: &wrongC) }
    #expect(cError?.description == "gemm: C = op(A) · op(B): shape mismatch, expected 3×2, got 3×5")

    let multiplyError = #expect(throws: BumpKitError.self) { _ = try a.multiplied(by: b) }
    #expect(multiplyError?.description.contains("expected 4×2, got 5×2") == true, "\(String(describing: multiplyError))")
  }

  @Test func gemmWithEmptyInnerDimensionScalesC() throws {
    let a = try Matrix<Double>(rows: 2, columns: 0)
    let b = try Matrix<Double>(rows: 0, columns: 3)
    var c = try Matrix<Double>(rows: 2, columns: 3, repeating: 4)
    try Matrix.gemm(a, b, beta: 0.5, into: &c)
    #expect(try c == Matrix(rows: 2, columns: 3, repeating: 2))
    var nanC = try Matrix<Double>(rows: 2, columns: 3, repeating: .nan)
    try Matrix.gemm(a, b, into: &nanC)
    #expect(try nanC == Matrix(rows: 2, columns: 3))
  }

  @Test func gemmIntoAnOperandCopiesFirst() throws {
    var a = try Matrix<Double>([[1, 2], [3, 4]])
    let original = a
    try Matrix.gemm(a, a, into: &a)
    #expect(a == (try Matrix([[7, 10], [15, 22]])))
    #expect(original == (try Matrix([[1, 2], [3, 4]])))
  }

  @Test(arguments: ScalarKind.allCases)
  func gemvMatchesNaiveProduct(kind: ScalarKind) throws {
    try checkGemv(kind.type)
  }

  private func checkGemv<T: MatrixScalar>(_ type: T.Type) throws {
    var rng = SplitMix64(state: 2)
    let a = randomMatrix(T.self, 4, 6, &rng)
    let aD = toDouble(a)
    for transpose in [false, true] {
      let (m, n) = transpose ? (6, 4) : (4, 6)
      let opA = transpose ? naiveTranspose(aD, columns: 6) : aD
      let x = randomMatrix(T.self, n, 1, &rng)  // column vector
      let y0 = randomMatrix(T.self, 1, m, &rng)  // row vector
      var y = y0
      try Matrix.gemv(a, transpose: transpose, x, alpha: 2, beta: 0.25, into: &y)
      let expected = [
        (0..<m).map { i in
          2 * (0..<n).reduce(0.0) { $0 + opA[i][$1] * Double(x[$1, 0]) } + 0.25 * Double(y0[0, i])
        }
      ]
      expectClose(y, expected, tolerance: tolerance(T.self))
    }
    var y = try Matrix<T>(rows: 4, columns: 1)
    let badX = try Matrix<T>(rows: 5, columns: 1)
    let error = #expect(throws: BumpKitError.self) { try Matrix.gemv(a, badX, into: &y) }
    #expect(
      error?.description == "gemv: x, a vector for op(A) 4×6: shape mismatch, expected 6×1, got 5×1")
  }

  // MARK: Level 1

  @Test(arguments: ScalarKind.allCases)
  func levelOneMatchesNaive(kind: ScalarKind) throws {
    try checkLevelOne(kind.type)
  }

  private func checkLevelOne<T: MatrixScalar>(_ type: T.Type) throws {
    var rng = SplitMix64(state: 3)
    let x = randomMatrix(T.self, 3, 5, &rng)
    let y0 = randomMatrix(T.self, 3, 5, &rng)
    let xD = toDouble(x)
    let yD = toDouble(y0)

    var y = y0
    try Matrix.axpy(alpha: -0.75, x, &y)
    expectClose(
      y, (0..<3).map { i in (0..<5).map { j in -0.75 * xD[i][j] + yD[i][j] } },
      tolerance: tolerance(T.self))

    var scaled = x
    scaled.scale(by: 3)
    expectClose(scaled, xD.map { $0.map { 3 * $0 } }, tolerance: tolerance(T.self))

    let dot = try x.dot(y0)
    let naiveDot = zip(xD.joined(), yD.joined()).reduce(0.0) { $0 + $1.0 * $1.1 }
    #expect(abs(Double(dot) - naiveDot) <= tolerance(T.self) * max(1, abs(naiveDot)))

    let norm = x.norm()
    let naiveNorm = xD.joined().reduce(0.0) { $0 + $1 * $1 }.squareRoot()
    #expect(abs(Double(norm) - naiveNorm) <= tolerance(T.self) * naiveNorm)
    #expect(try Matrix<T>(rows: 0, columns: 3).norm() == 0)

    // nrm2 scales: squaring 1e30 would overflow Float.
    let huge = try Matrix<T>(rows: 1, columns: 4, repeating: T(1e30))
    #expect(abs(Double(huge.norm()) - 2e30) <= tolerance(T.self) * 2e30)

    let other = try Matrix<T>(rows: 5, columns: 3)
    #expect(throws: BumpKitError.self) { try Matrix.axpy(alpha: 1, other, &y) }
    let dotError = #expect(throws: BumpKitError.self) { _ = try x.dot(other) }
    #expect(dotError?.description == "dot: the other operand: shape mismatch, expected 3×5, got 5×3")
  }

  // MARK: LAPACK

  @Test(arguments: ScalarKind.allCases)
  func qrIsOrthonormalAndReconstructs(kind: ScalarKind) throws {
    try checkQR(kind.type)
  }

  private func checkQR<T: MatrixScalar>(_ type: T.Type) throws {
    var rng = SplitMix64(state: 4)
    for (m, n) in [(6, 4), (4, 4), (3, 5)] {
      let a = randomMatrix(T.self, m, n, &rng)
      let (q, r) = try a.qr()
      let k = min(m, n)
      #expect(q.shape == (m, k))
      #expect(r.shape == (k, n))
      let qtq = try q.multiplied(by: q, transposingSelf: true)
      expectClose(
        qtq, toDouble(try Matrix<Double>.identity(size: k)), tolerance: 10 * tolerance(T.self))
      expectClose(try q.multiplied(by: r), toDouble(a), tolerance: 10 * tolerance(T.self))
      for i in 0..<k {
        for j in 0..<min(i, n) { #expect(r[i, j] == 0) }
      }
    }
    let (q0, r0) = try Matrix<T>(rows: 0, columns: 3).qr()
    #expect(q0.shape == (0, 0) && r0.shape == (0, 3))
  }

  @Test(arguments: ScalarKind.allCases)
  func leastSquaresRecoversCoefficients(kind: ScalarKind) throws {
    try checkLeastSquares(kind.type)
  }

  private func checkLeastSquares<T: MatrixScalar>(_ type: T.Type) throws {
    var rng = SplitMix64(state: 5)
    let x = randomMatrix(T.self, 20, 3, &rng)
    let w = try Matrix<T>([[1, -2], [0.5, 3], [-1.25, 0]])
    let y = try x.multiplied(by: w)
    let xBefore = x
    let yBefore = y
    let solved = try Matrix.solveLeastSquares(x, y)
    expectClose(solved, toDouble(w), tolerance: 10 * tolerance(T.self))
    #expect(x == xBefore && y == yBefore)

    // Overdetermined with noise: the residual is orthogonal to the columns of X.
    var noisy = y
    try Matrix.axpy(alpha: T(0.1), randomMatrix(T.self, 20, 2, &rng), &noisy)
    let fit = try Matrix.solveLeastSquares(x, noisy)
    var residual = noisy
    try Matrix.gemm(x, fit, alpha: -1, beta: 1, into: &residual)
    let normal = try x.multiplied(by: residual, transposingSelf: true)
    expectClose(normal, [[0, 0], [0, 0], [0, 0]], tolerance: 10 * tolerance(T.self))

    // Underdetermined: an exact solution.
    let wide = randomMatrix(T.self, 2, 4, &rng)
    let rhs = randomMatrix(T.self, 2, 1, &rng)
    let minimumNorm = try Matrix.solveLeastSquares(wide, rhs)
    #expect(minimumNorm.shape == (4, 1))
    expectClose(
      try wide.multiplied(by: minimumNorm), toDouble(rhs), tolerance: 10 * tolerance(T.self))

    // Exactly rank deficient (a zero column): a LAPACK error, not a crash.
    let deficient = try Matrix<T>([[1, 0], [2, 0], [3, 0]])
    let error = #expect(throws: LinearAlgebraError.self) {
      _ = try Matrix.solveLeastSquares(deficient, Matrix<T>(rows: 3, columns: 1, repeating: 1))
    }
    if case .lapack(let routine, let info)? = error {
      #expect(routine.hasSuffix("gels") && info > 0)
    } else {
      Issue.record("expected a LAPACK error, got \(String(describing: error))")
    }
  }

  @Test(arguments: ScalarKind.allCases)
  func positiveDefiniteAndRidgeSolveNormalEquations(kind: ScalarKind) throws {
    try checkPositiveDefinite(kind.type)
  }

  private func checkPositiveDefinite<T: MatrixScalar>(_ type: T.Type) throws {
    var rng = SplitMix64(state: 6)
    let m = randomMatrix(T.self, 4, 4, &rng)
    var a = try Matrix<T>.identity(size: 4)
    try Matrix.gemm(m, transposeA: true, m, beta: 1, into: &a)  // MᵀM + I
    let b = randomMatrix(T.self, 4, 2, &rng)
    let x = try Matrix.solvePositiveDefinite(a, b)
    expectClose(try a.multiplied(by: x), toDouble(b), tolerance: 10 * tolerance(T.self))

    // Ridge: (XᵀX + λI)·W − XᵀY ≈ 0, checked in Double.
    let features = randomMatrix(T.self, 15, 3, &rng)
    let targets = randomMatrix(T.self, 15, 2, &rng)
    let lambda = 0.3
    let w = try Matrix.ridge(features: features, targets: targets, lambda: T(lambda))
    #expect(w.shape == (3, 2))
    let xD = toDouble(features)
    let yD = toDouble(targets)
    let wD = toDouble(w)
    let xt = naiveTranspose(xD, columns: 3)
    var gram = naiveProduct(xt, xD, inner: 15)
    for i in 0..<3 { gram[i][i] += lambda }
    let lhs = naiveProduct(gram, wD, inner: 3)
    let rhs = naiveProduct(xt, yD, inner: 15)
    for i in 0..<3 {
      for j in 0..<2 {
        #expect(abs(lhs[i][j] - rhs[i][j]) <= 20 * tolerance(T.self) * max(1, abs(rhs[i][j])))
      }
    }
    // λ = 0 with full-rank X is least squares.
    let plain = try Matrix.ridge(features: features, targets: targets, lambda: 0)
    expectClose(
      plain, toDouble(try Matrix.solveLeastSquares(features, targets)),
      tolerance: 100 * tolerance(T.self))

    #expect(throws: BumpKitError.self) {
      _ = try Matrix.ridge(features: features, targets: targets, lambda: -1)
    }
    #expect(throws: BumpKitError.self) {
      _ = try Matrix.ridge(features: features, targets: b, lambda: 1)
    }
  }

  @Test func nonPositiveDefiniteMatrixThrowsLAPACKError() throws {
    let indefinite = try Matrix<Double>([[1, 2], [2, 1]])  // eigenvalues 3 and −1
    let error = #expect(throws: LinearAlgebraError.self) {
      _ = try Matrix.solvePositiveDefinite(indefinite, Matrix(rows: 2, columns: 1, repeating: 1))
    }
    #expect(error == .lapack(routine: "dposv", info: 2))
    #expect(error?.description.contains("not positive definite") == true)

    let floatError = #expect(throws: LinearAlgebraError.self) {
      _ = try Matrix.solvePositiveDefinite(
        Matrix<Float>(rows: 3, columns: 3), Matrix(rows: 3, columns: 1))
    }
    #expect(floatError == .lapack(routine: "sposv", info: 1))
    #expect(throws: BumpKitError.self) {
      _ = try Matrix.solvePositiveDefinite(
        Matrix<Float>(rows: 2, columns: 3), Matrix(rows: 2, columns: 1))
    }
  }

  @Test func lapackErrorDescriptions() {
    #expect(
      LinearAlgebraError.lapack(routine: "dgeqrf", info: -4).description
        == "dgeqrf: argument 4 had an illegal value (info = -4)")
    #expect(LinearAlgebraError.lapack(routine: "sgels", info: 2).description.contains("full rank"))
    #expect(LinearAlgebraError.lapack(routine: "dgesv", info: 1).description.contains("singular"))
  }

  // MARK: Matrix value semantics and storage

  @Test func copyOnWriteLeavesOriginalUnchanged() throws {
    let original = try Matrix<Float>([[1, 2, 3], [4, 5, 6]])
    var copy = original
    copy[0, 0] = 99
    #expect(original[0, 0] == 1 && copy[0, 0] == 99)

    var viaPointer = original
    viaPointer.withUnsafeMutableBufferPointer { $0[5] = -1 }
    #expect(original[1, 2] == 6 && viaPointer[1, 2] == -1)

    var scaled = original
    scaled.scale(by: 2)
    #expect(original == (try Matrix([[1, 2, 3], [4, 5, 6]])))
    #expect(scaled == (try Matrix([[2, 4, 6], [8, 10, 12]])))

    var resized = original
    try resized.resize(rows: 1, columns: 2)
    #expect(original.shape == (2, 3) && original.elements == [1, 2, 3, 4, 5, 6])
  }

  @Test func resizeAndCopyReuseCapacity() throws {
    var m = try Matrix<Double>(rows: 4, columns: 4, repeating: 7)
    let base = m.withUnsafeBufferPointer { $0.baseAddress }
    #expect(Int(bitPattern: base) % 64 == 0)

    try m.resize(rows: 2, columns: 3)
    #expect(m.shape == (2, 3) && m.capacity == 16)
    #expect(m.withUnsafeBufferPointer { $0.baseAddress } == base)
    #expect(m.elements == [7, 7, 7, 7, 7, 7])

    try m.resize(rows: 3, columns: 5)
    #expect(m.withUnsafeBufferPointer { $0.baseAddress } == base)
    #expect(m.elements == [7, 7, 7, 7, 7, 7] + Array(repeating: 0, count: 9))

    let source = try Matrix<Double>([[1, 2], [3, 4], [5, 6]])
    m.copy(from: source)
    #expect(m == source)
    #expect(m.withUnsafeBufferPointer { $0.baseAddress } == base)

    try m.resize(rows: 5, columns: 5)
    #expect(m.capacity == 25 && m.shape == (5, 5))
    #expect(Array(m.elements.prefix(6)) == [1, 2, 3, 4, 5, 6])

    try m.reshape(rows: 1, columns: 25)
    #expect(m.shape == (1, 25))
    let error = #expect(throws: BumpKitError.self) { try m.reshape(rows: 4, columns: 4) }
    #expect(error?.description.contains("25") == true && error?.description.contains("4×4") == true)
  }

  @Test func constructionAccessAndDescription() throws {
    let m = try Matrix<Float>(rows: 2, columns: 3, elements: [1, 2, 3, 4, 5, 6])
    #expect(m.count == 6 && m.rows == 2 && m.columns == 3)
    #expect(m.row(1) == [4, 5, 6])
    #expect(m.transposed() == (try Matrix([[1, 4], [2, 5], [3, 6]])))
    #expect(m.description == "2×3 [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]")
    #expect(try Matrix<Double>(rows: 10, columns: 10).description.contains("…"))
    #expect(try Matrix<Double>.zeros(rows: 2, columns: 2) == Matrix(rows: 2, columns: 2, repeating: 0))
    #expect(m != (try Matrix([[1, 2], [3, 4], [5, 6]])))
    #expect(
      try Matrix<Double>(rows: 1, columns: 1, repeating: .nan)
        != Matrix(rows: 1, columns: 1, repeating: .nan))

    var n = m
    try n.setRow(0, to: [7, 8, 9])
    #expect(n.row(0) == [7, 8, 9] && m.row(0) == [1, 2, 3])
    #expect(throws: BumpKitError.self) { try n.setRow(0, to: [1]) }
    #expect(throws: BumpKitError.self) {
      _ = try Matrix<Float>(rows: 2, columns: 2, elements: [1, 2, 3])
    }
    #expect(throws: BumpKitError.self) { _ = try Matrix<Float>([[1, 2], [3]]) }
    #expect(throws: BumpKitError.self) {
      _ = try Matrix<Float>(rows: -1, columns: 2, elements: [])
    }
    // Negative and overflowing shapes are errors naming the shape, not traps; a failed
    // resize leaves the matrix as it was.
    for (rows, columns) in [(-1, 2), (3, -4), (Int.max, 2)] {
      let error = #expect(throws: BumpKitError.self) { _ = try Matrix<Double>(rows: rows, columns: columns) }
      #expect(error?.localizedDescription.contains("\(rows)×\(columns)") == true, "\(String(describing: error))")
      #expect(throws: BumpKitError.self) { _ = try Matrix<Float>.zeros(rows: rows, columns: columns) }
      var kept = m
      #expect(throws: BumpKitError.self) { try kept.resize(rows: rows, columns: columns) }
      #expect(kept == m)
    }
    #expect(throws: BumpKitError.self) { _ = try Matrix<Float>.identity(size: -2) }
    #expect(Matrix<Float>().shape == (0, 0))

    var rng = SplitMix64(state: 7)
    let big = randomMatrix(Double.self, 37, 70, &rng)
    #expect(big.transposed().transposed() == big)
    #expect(big.transposed()[69, 36] == big[36, 69])
  }

  @Test func threadCountSetsOpenBLASAndKernels() {
    let saved = Threading.threadCount
    let savedKernels = KernelOptions.defaultThreadCount
    Threading.threadCount = 1
    #expect(Threading.threadCount == 1)
    #expect(KernelOptions.defaultThreadCount == 1)
    Threading.threadCount = 0
    #expect(Threading.threadCount == 1)
    Threading.threadCount = saved
    KernelOptions.defaultThreadCount = savedKernels
  }
}

@Suite("BLAS configuration")
struct BLASConfigurationTests {
  @Test("the loaded OpenBLAS reports its core, build string and thread count")
  func reportsTheLoadedLibrary() {
    let blas = BLAS.configuration
    #expect(!blas.coreName.isEmpty)
    #expect(blas.buildConfiguration.contains("OpenBLAS"), "\(blas.buildConfiguration)")
    #expect(blas.threadCount >= 1)
    let fixed = BLASConfiguration(
      coreName: "Haswell", buildConfiguration: "OpenBLAS 0.3.21 DYNAMIC_ARCH Haswell", threadCount: 1,
      cpu: CPUFeatures(hasFMA: true, hasAVX2: true, hasAVX512: false))
    #expect(fixed.description == "OpenBLAS 0.3.21 DYNAMIC_ARCH Haswell — core Haswell, 1 thread, CPU AVX2 + FMA")
  }

  /// Read from many threads at once, the report is the same each time: OpenBLAS's build
  /// string comes from one static buffer that each of its calls rewrites (read concurrently,
  /// it came out garbled, e.g. "HaswellHaswell MAX_THREADS=64 MAX_THREADS=64").
  @Test func theReportIsTheSameFromManyThreadsAtOnce() async {
    let expected = BLAS.configuration.buildConfiguration
    let reports = await withTaskGroup(of: [String].self) { group in
      for _ in 0..<8 {
        group.addTask { (0..<2000).map { _ in BLAS.configuration.buildConfiguration } }
      }
      var all: [String] = []
      for await part in group { all += part }
      return all
    }
    #expect(reports.count == 16_000)
    #expect(reports.allSatisfy { $0 == expected }, "\(Set(reports).subtracting([expected]).prefix(3))")
    #expect(expected.components(separatedBy: "MAX_THREADS=").count <= 2, "\(expected)")
  }

  /// Only the lookup: ending the threads while other tests multiply matrices on them would
  /// be unsafe in this process (the command line tests run `bump`, which ends them at start).
  @Test func theLoadedOpenBLASCanEndItsIdleThreads() {
    #expect(BLAS.canEndIdleThreads, "\(BLAS.configuration.buildConfiguration)")
  }

  @Test("a generic core on an AVX-512 or AVX2 CPU gets one warning naming the matching core")
  func adviceNamesTheMatchingCore() {
    let avx512bf16 = CPUFeatures(hasFMA: true, hasAVX2: true, hasAVX512: true, hasAVX512BF16: true)
    let avx512 = CPUFeatures(hasFMA: true, hasAVX2: true, hasAVX512: true)
    let avx2 = CPUFeatures(hasFMA: true, hasAVX2: true, hasAVX512: false)
    let sse = CPUFeatures(hasFMA: false, hasAVX2: false, hasAVX512: false)
    func config(_ core: String, _ cpu: CPUFeatures) -> BLASConfiguration {
      BLASConfiguration(coreName: core, buildConfiguration: "OpenBLAS 0.3.21 DYNAMIC_ARCH \(core)", threadCount: 2, cpu: cpu)
    }
    let cases: [(String, CPUFeatures, String?)] = [
      ("Prescott", avx512bf16, "Cooperlake"), ("Prescott", avx512, "SkylakeX"),
      ("Core2", avx2, "Haswell"), ("Nehalem", avx512, "SkylakeX"), ("Sandybridge", avx2, "Haswell"),
      ("Prescott", sse, nil), ("Haswell", avx2, nil), ("SkylakeX", avx512, nil),
      ("Cooperlake", avx512bf16, nil), ("Zen", avx2, nil),
    ]
    for (core, cpu, expected) in cases {
      let c = config(core, cpu)
      #expect(c.recommendedCoreType == expected, "\(core) on \(cpu)")
      if let expected {
        let advice = c.advice ?? ""
        #expect(advice.contains("OPENBLAS_CORETYPE=\(expected)") && advice.contains(core), "\(advice)")
        #expect(!advice.contains("\n"), "one line")
      } else {
        #expect(c.advice == nil, "\(core) on \(cpu): \(c.advice ?? "")")
      }
    }
  }
}
