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
  /// Whether the SIMD kernels write `output`, `cache` and `inputGradient` with streaming
  /// stores (see ``chooseStreaming()``).
  var streamsOutputs = false

  /// Sets ``streamsOutputs`` for the arrays the job writes (see
  /// ``BumpKernel/streamsOutputs(rows:columns:stride:addresses:)``).
  mutating func chooseStreaming() {
    func bits(_ p: UnsafeMutablePointer<Scalar>?) -> UInt { p.map { UInt(bitPattern: $0) } ?? 0 }
    streamsOutputs = BumpKernel.streamsOutputs(
      rows: rows, columns: columns, stride: MemoryLayout<Scalar>.stride,
      addresses: bits(output) | bits(cache) | bits(inputGradient))
  }
}

extension BumpKernel {
  /// The size of one `rows × columns` array from which the SIMD kernels stream what they
  /// write: 8 MiB. A training step's forward and backward passes touch five such arrays (x,
  /// g, f, G and dL/dx); from this size on they no longer fit together in the 32 MiB of
  /// last-level cache a core shares on current server parts, so reading each written line
  /// into the cache first (what an ordinary store does) only costs memory bandwidth, and
  /// the lines written evict the inputs. Smaller arrays — a training batch's — stay in the
  /// caches for the next pass, where streaming stores would push them out to memory.
  package static var streamingBytes: Int { 1 << 23 }

  /// Whether a SIMD kernel over `rows × columns` elements of `stride` bytes writes its
  /// arrays with streaming stores: from ``streamingBytes`` on, when every array written
  /// starts on a 16-byte boundary (`addresses`: their start addresses or-ed together) and a
  /// row is a whole number of 16-byte units, so that every full vector's streaming store is
  /// aligned. The results do not depend on it: only how the stores reach memory.
  package static func streamsOutputs(rows: Int, columns: Int, stride: Int, addresses: UInt) -> Bool {
    rows * columns * stride >= streamingBytes && (columns * stride) % 16 == 0 && addresses % 16 == 0
  }
}
