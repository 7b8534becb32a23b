import _BumpKernelsShims

/// Vectorized elementary functions used by the kernels, exposed for testing and reuse.
public enum VectorMath {
  /// eˣ for every element of `input`, written to `output` (which may alias `input`).
  ///
  /// Cody–Waite reduction x = n·ln 2 + r with a two-part ln 2, a polynomial in r (Cephes'
  /// degree-5 minimax form for Float, a degree-13 Taylor form for Double), and a scale by 2ⁿ
  /// applied as two normal powers of two so that subnormal results are rounded once.
  /// Accuracy: at most 2 ulp for results in the normal range (measured: see the tests).
  /// Special values: exp(−∞) = 0, exp(+∞) = +∞, NaN stays NaN; results below half the
  /// smallest subnormal are 0 and above the largest finite value +∞.
  ///
  /// - Parameters:
  ///   - input: the arguments x.
  ///   - output: receives eˣ; as many elements as `input` (it may be the input buffer).
  ///   - implementation: `.simd(width:)` picks the vector width; `.scalarReference`
  ///     calls the C library; `nil` uses ``KernelScalar/preferredSIMDWidth``.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func exp<Scalar: KernelScalar>(
    _ input: UnsafeBufferPointer<Scalar>, into output: UnsafeMutableBufferPointer<Scalar>,
    implementation: KernelImplementation? = nil
  ) {
    precondition(output.count == input.count, "output has \(output.count) elements, input \(input.count)")
    guard let x = input.baseAddress, let y = output.baseAddress else { return }
    switch BumpKernel.resolve(implementation, Scalar.self) {
    case .scalarReference:
      for i in 0..<input.count { y[i] = Scalar.exp(x[i]) }
    case .simd(let width):
      KernelDispatch.exp(x, y, count: input.count, width: width)
    }
  }
}

/// Hints the core to fetch the cache lines of `count` elements from `start` for reading —
/// rows that a later step will gather, so that their cache misses overlap the work before
/// it. No effect on results.
@inline(__always)
package func prefetchForReading<T>(_ start: UnsafePointer<T>, count: Int) {
  let bytes = count * MemoryLayout<T>.stride
  let raw = UnsafeRawPointer(start)
  var offset = 0
  while offset < bytes {
    bumpkit_prefetch(raw + offset)
    offset += 64
  }
  // The last line, when the range does not start on a line boundary.
  if bytes > 0 { bumpkit_prefetch(raw + (bytes - 1)) }
}
