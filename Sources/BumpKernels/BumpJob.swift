/// One kernel call over a row-major `rows × columns` matrix, as the generated kernels see it.
///
/// Shared parameters arrive here already broadcast to a row of `columns` values, so every
/// kernel reads σ, c and a per column. This is plumbing between ``BumpKernel`` and the
/// concrete SIMD kernels; build the public entry points' arguments instead.
public struct BumpJob<Scalar: KernelScalar>: @unchecked Sendable {
  public var input: UnsafePointer<Scalar>
  public var rows: Int
  public var columns: Int
  public var sigma: UnsafePointer<Scalar>
  public var center: UnsafePointer<Scalar>
  public var amplitude: UnsafePointer<Scalar>
  public var hasCenter: Bool
  public var hasAmplitude: Bool
  public var output: UnsafeMutablePointer<Scalar>?
  public var cache: UnsafeMutablePointer<Scalar>?
  public var upstream: UnsafePointer<Scalar>?
  public var inputGradient: UnsafeMutablePointer<Scalar>?
}
