/// An error from a ``Matrix`` operation: operands of the wrong shape, an invalid argument, or
/// a LAPACK routine that reported failure.
///
/// The ``description`` is written for people: a shape mismatch names the shapes that were
/// expected and the shapes that were given, e.g. `gemm: expected 3×4 · 4×2, got 3×4 · 5×2`.
public enum LinearAlgebraError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The operands of `operation` do not have compatible shapes. `expected` and `got` describe
  /// all the operands' shapes (`rows×columns`, with `ᵀ` for an operand used transposed).
  case shapeMismatch(operation: String, expected: String, got: String)

  /// LAPACK routine `routine` (e.g. `dposv`) returned a nonzero `info`.
  ///
  /// `info = −i` means its i-th argument was illegal (a bug in the caller), `−1010` that
  /// LAPACKE could not allocate workspace, and `info = i > 0` a numerical failure whose
  /// meaning depends on the routine: for `?posv` the leading minor of order i is not positive
  /// definite; for `?gels` the i-th diagonal element of the triangular factor is zero, so the
  /// matrix does not have full rank.
  case lapack(routine: String, info: Int32)

  /// An argument of `operation` is outside its domain (a negative size, a non-finite
  /// regularisation, a size beyond the 32-bit BLAS interface); `reason` says which and why.
  case invalidArgument(operation: String, reason: String)

  /// A one-line explanation naming the operation and, for shape mismatches, both shapes.
  public var description: String {
    switch self {
    case .shapeMismatch(let operation, let expected, let got):
      return "\(operation): expected \(expected), got \(got)"
    case .invalidArgument(let operation, let reason):
      return "\(operation): \(reason)"
    case .lapack(let routine, let info):
      return "\(routine): \(Self.explain(routine: routine, info: info)) (info = \(info))"
    }
  }

  private static func explain(routine: String, info: Int32) -> String {
    switch info {
    case 0:
      return "success"
    case -1010:
      return "LAPACKE could not allocate its workspace"
    case -1011:
      return "LAPACKE could not allocate memory for a transposed copy"
    case ..<0:
      return "argument \(-info) had an illegal value"
    default:
      if routine.hasSuffix("posv") || routine.hasSuffix("potrf") {
        return "the matrix is not positive definite (the leading minor of order \(info) is not)"
      }
      if routine.hasSuffix("gels") {
        return
          "the matrix does not have full rank (diagonal element \(info) of the triangular factor is zero)"
      }
      return "the matrix is singular (diagonal element \(info) of the factor is zero)"
    }
  }
}
