/// A LAPACK routine reported failure: a matrix that is singular, not positive definite or
/// not of full rank, or workspace that could not be allocated. Shape and argument errors of
/// ``Matrix`` operations are ``BumpKitError``s.
public enum LinearAlgebraError: Error, Equatable, Sendable, CustomStringConvertible {
  /// LAPACK routine `routine` (e.g. `dposv`) returned a nonzero `info`.
  ///
  /// `info = −i` means its i-th argument was illegal (a bug in the caller), `−1010` that
  /// LAPACKE could not allocate workspace, and `info = i > 0` a numerical failure whose
  /// meaning depends on the routine: for `?posv` the leading minor of order i is not positive
  /// definite; for `?gels` the i-th diagonal element of the triangular factor is zero, so the
  /// matrix does not have full rank.
  case lapack(routine: String, info: Int32)

  /// A one-line explanation naming the routine and what its `info` means.
  public var description: String {
    switch self {
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
