/// Scratch memory that kernel calls reuse: broadcast parameter rows, per-task partial sums
/// and per-thread accumulators. It only grows, so once a caller has made the largest call
/// it will make, later calls allocate nothing.
///
/// A workspace is not thread-safe: use one per concurrent caller (a layer owns one).
public final class KernelWorkspace: @unchecked Sendable {
  private var storage: UnsafeMutableRawPointer?
  private var capacity = 0

  /// An empty workspace; memory is taken on first use.
  public init() {}

  deinit { storage?.deallocate() }

  /// At least `bytes` bytes, 64-byte aligned, reusing the current block when it is large
  /// enough. The contents are unspecified.
  func memory(bytes: Int) -> UnsafeMutableRawPointer {
    if bytes > capacity || storage == nil {
      storage?.deallocate()
      capacity = max(bytes, capacity * 2, 4096)
      storage = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    }
    return storage!
  }
}

/// Carves typed, 64-byte-aligned regions out of one raw block.
struct ScratchLayout {
  private(set) var bytes = 0

  mutating func reserve<T>(_ type: T.Type, count: Int) -> Int {
    let offset = bytes
    bytes += (count * MemoryLayout<T>.stride + 63) & ~63
    return offset
  }
}
