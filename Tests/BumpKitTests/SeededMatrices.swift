import BumpKit

// What the tests of models share: seeded random matrices, and bit patterns to compare
// results exactly.

/// A `rows × columns` matrix with entries uniform in [range.0, range.1), drawn in row-major
/// order from `seed`.
func seededMatrix<T: MatrixScalar>(
  _ rows: Int, _ columns: Int, seed: UInt64, in range: (Double, Double) = (-1, 1), as _: T.Type = T.self
) -> Matrix<T> {
  var generator = SeededGenerator(seed: seed)
  var m = Matrix<T>(validRows: rows, columns: columns)
  for i in 0..<rows {
    for j in 0..<columns { m[i, j] = T(range.0 + (range.1 - range.0) * generator.nextUnit()) }
  }
  return m
}

/// The elements' bit patterns, widened to Double (exact for Float), for bitwise comparisons.
func elementBits<T: MatrixScalar>(_ m: Matrix<T>) -> [UInt64] { m.elements.map { Double($0).bitPattern } }

/// Every parameter of a model as bit patterns (Float widened exactly to Double).
func parameterBits<T: MatrixScalar>(_ model: Sequential<T>) -> [[UInt64]] {
  model.parameters.map { elementBits($0.value) }
}
