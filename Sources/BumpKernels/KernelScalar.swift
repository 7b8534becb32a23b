/// A floating-point type that the bump kernels are implemented for: `Float` and `Double`.
///
/// The protocol is small on purpose. It names the SIMD widths that the kernels are compiled
/// for and routes a call to the concrete kernel of one width; everything else is shared in
/// extensions. Concrete SIMD types matter here: Swift emits vector instructions for
/// `SIMD16<Float>` arithmetic, but not for the same code written generically over `SIMD`.
public protocol KernelScalar: BinaryFloatingPoint, SIMDScalar, Sendable, LosslessStringConvertible, Codable
{
  /// The SIMD widths (lanes per vector) that kernels exist for, narrowest first.
  static var supportedSIMDWidths: [Int] { get }

  /// The width the kernels use when the caller does not choose one. It depends on the
  /// instruction set the build targets (see the Performance article).
  static var preferredSIMDWidth: Int { get }

  /// The C library's exponential, used by the scalar reference implementation.
  static func libmExp(_ x: Self) -> Self

  // Internal entry points of the generated kernels; not for direct use.
  static func _forward(_ job: BumpJob<Self>, rows: Range<Int>, counts: UnsafeMutablePointer<Self>?, width: Int)
  static func _backward(
    _ job: BumpJob<Self>, rows: Range<Int>, dSigma: UnsafeMutablePointer<Self>?,
    dCenter: UnsafeMutablePointer<Self>?, dAmplitude: UnsafeMutablePointer<Self>?, width: Int)
  static func _exp(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int, width: Int)
  static func _radialForward(_ job: RadialBumpJob<Self>, rows: Range<Int>, width: Int)
  static func _radialBackward(
    _ job: RadialBumpJob<Self>, rows: Range<Int>, dSigma: UnsafeMutablePointer<Self>?,
    dAmplitude: UnsafeMutablePointer<Self>?, columnSums: UnsafeMutablePointer<Self>?,
    dCenterT: UnsafeMutablePointer<Self>?, width: Int)
}
