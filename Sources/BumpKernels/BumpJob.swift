/// One kernel call over a row-major `rows × columns` matrix, as the generated kernels see it.
///
/// Shared parameters arrive here already broadcast to a row of `columns` values, so every
/// kernel reads σ, c and a per column. This is plumbing between ``BumpKernel`` and the
/// concrete SIMD kernels.
struct BumpJob<Scalar: KernelScalar>: @unchecked Sendable {
  var input: UnsafePointer<Scalar>
  var rows: Int
  var columns: Int
  var sigma: UnsafePointer<Scalar>
  var center: UnsafePointer<Scalar>
  var amplitude: UnsafePointer<Scalar>
  var hasCenter: Bool
  var hasAmplitude: Bool
  var output: UnsafeMutablePointer<Scalar>?
  var cache: UnsafeMutablePointer<Scalar>?
  var upstream: UnsafePointer<Scalar>?
  var inputGradient: UnsafeMutablePointer<Scalar>?
  /// Whether the SIMD kernels write the call's large outputs with non-temporal stores
  /// (``KernelOptions/nonTemporalStoreBytes``).
  var nonTemporalStores = false
}
