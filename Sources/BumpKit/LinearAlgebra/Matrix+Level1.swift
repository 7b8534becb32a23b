extension Matrix {
  /// Scaled addition, `Y ← α·X + Y`, element by element (BLAS `?axpy` over the matrices as
  /// vectors of `count` elements). The gradient step `W ← W − η·∇W` is
  /// `Matrix.axpy(alpha: -η, gradient, &weights)`.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` unless X and Y
  ///   have the same shape.
  public static func axpy(alpha: Element, _ x: Matrix, _ y: inout Matrix) throws {
    guard x.rows == y.rows, x.columns == y.columns else {
      throw BumpKitError.shapeMismatch(operation: "axpy: x (like y)", expected: MatrixShape(of: y), actual: MatrixShape(of: x))
    }
    x.withUnsafeBufferPointer { xBuffer in
      y.withUnsafeMutableBufferPointer { yBuffer in
        forEachBLASChunk(xBuffer.count) { offset, n in
          Element.blasAxpy(
            n: n, alpha: alpha, x: xBuffer.baseAddress! + offset, incx: 1,
            y: yBuffer.baseAddress! + offset, incy: 1)
        }
      }
    }
  }

  /// Scales every element in place, `A ← α·A` (BLAS `?scal`). Follows BLAS for α = 0 as
  /// OpenBLAS implements it; to clear a matrix, prefer `withUnsafeMutableBufferPointer`.
  public mutating func scale(by alpha: Element) {
    withUnsafeMutableBufferPointer { buffer in
      forEachBLASChunk(buffer.count) { offset, n in
        Element.blasScal(n: n, alpha: alpha, x: buffer.baseAddress! + offset, incx: 1)
      }
    }
  }

  /// The Frobenius inner product `⟨A, B⟩ = Σᵢⱼ aᵢⱼ·bᵢⱼ` (BLAS `?dot` over the matrices as
  /// vectors), accumulated in `Element` by OpenBLAS; 0 for empty matrices.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` unless both have
  ///   the same shape.
  public func dot(_ other: Matrix) throws -> Element {
    guard rows == other.rows, columns == other.columns else {
      throw BumpKitError.shapeMismatch(operation: "dot: the other operand", expected: MatrixShape(of: self), actual: MatrixShape(of: other))
    }
    return withUnsafeBufferPointer { a in
      other.withUnsafeBufferPointer { b in
        var sum: Element = 0
        forEachBLASChunk(a.count) { offset, n in
          sum += Element.blasDot(
            n: n, x: a.baseAddress! + offset, incx: 1, y: b.baseAddress! + offset, incy: 1)
        }
        return sum
      }
    }
  }

  /// The Frobenius norm `‖A‖_F = √(Σᵢⱼ aᵢⱼ²)` — the Euclidean norm of a vector (BLAS
  /// `?nrm2`). Scaled internally, so it does not overflow or underflow where the result is
  /// representable; 0 for an empty matrix.
  public func norm() -> Element {
    withUnsafeBufferPointer { a in
      var result: Element = 0
      forEachBLASChunk(a.count) { offset, n in
        let part = Element.blasNrm2(n: n, x: a.baseAddress! + offset, incx: 1)
        result = Self.hypot(result, part)
      }
      return result
    }
  }

  /// √(x² + y²) for x, y ≥ 0 without intermediate overflow.
  private static func hypot(_ x: Element, _ y: Element) -> Element {
    if x.isNaN || y.isNaN { return .nan }
    let big = Swift.max(x, y)
    let small = Swift.min(x, y)
    if big == 0 || big.isInfinite { return big }
    let ratio = small / big
    return big * (1 + ratio * ratio).squareRoot()
  }
}
