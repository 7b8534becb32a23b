public import RealModule

/// A floating-point type that the bump kernels are implemented for: `Float` and `Double`.
///
/// The protocol is small on purpose. It names the SIMD widths that the kernels are compiled
/// for; the kernels of each width are routed to by type inside the module, and everything
/// else is shared in extensions. Elementary functions come from `Real` (swift-numerics). Concrete SIMD types matter here: Swift emits vector instructions for
/// `SIMD16<Float>` arithmetic, but not for the same code written generically over `SIMD`.
///
/// It refines `Codable` (both conforming types are): generic code that encodes values under a
/// same-type constraint then needs nothing more, and dependents build without warnings.
///
/// Only `Float` and `Double` conform, and the kernels serve no other type: do not add
/// conformances.
public protocol KernelScalar: BinaryFloatingPoint, Real, SIMDScalar, Sendable, Codable {
  /// The SIMD widths (lanes per vector) that kernels exist for, narrowest first.
  static var supportedSIMDWidths: [Int] { get }

  /// The width the kernels use when the caller does not choose one. It depends on the
  /// instruction set the build targets (see the Performance article).
  static var preferredSIMDWidth: Int { get }
}
