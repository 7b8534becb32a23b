/// The heap buffer behind a ``Matrix``: `capacity` elements, 64-byte aligned (one cache line,
/// and the widest AVX-512 load), always fully initialised.
///
/// Shared between copies of a matrix until one of them mutates; ``Matrix`` makes it unique
/// first (copy-on-write), which is what makes the `@unchecked Sendable` sound.
@usableFromInline
final class MatrixStorage<Element: MatrixScalar>: @unchecked Sendable {
  @usableFromInline static var alignment: Int { 64 }

  /// The first element; valid for `capacity` elements.
  @usableFromInline let base: UnsafeMutablePointer<Element>
  /// Elements allocated; a matrix may use fewer.
  @usableFromInline let capacity: Int

  /// A buffer of `capacity` elements, every one set to `value`.
  @usableFromInline
  init(capacity: Int, repeating value: Element) {
    precondition(capacity >= 0, "Matrix capacity must be non-negative")
    self.capacity = capacity
    self.base = Self.allocate(capacity)
    base.initialize(repeating: value, count: capacity)
  }

  /// A buffer of `capacity` elements that starts with the elements of `source` and is zero
  /// after them.
  @usableFromInline
  init(capacity: Int, copying source: UnsafeBufferPointer<Element>) {
    precondition(capacity >= source.count, "Matrix capacity smaller than its contents")
    self.capacity = capacity
    self.base = Self.allocate(capacity)
    if let from = source.baseAddress {
      base.initialize(from: from, count: source.count)
    }
    (base + source.count).initialize(repeating: 0, count: capacity - source.count)
  }

  /// A buffer of `capacity` elements that `initialize` writes, every one: its memory is not
  /// written first, so that a large buffer filled by parts takes its pages only as they are
  /// written.
  @usableFromInline
  init(capacity: Int, initializingWith initialize: (UnsafeMutableBufferPointer<Element>) throws -> Void)
    rethrows
  {
    precondition(capacity >= 0, "Matrix capacity must be non-negative")
    self.capacity = capacity
    let base = Self.allocate(capacity)
    do {
      try initialize(UnsafeMutableBufferPointer(start: base, count: capacity))
    } catch {
      UnsafeMutableRawPointer(base).deallocate()
      throw error
    }
    self.base = base
  }

  /// A new buffer holding a copy of the first `count` elements, with capacity `count`.
  @usableFromInline
  func copy(count: Int) -> MatrixStorage {
    MatrixStorage(capacity: count, copying: UnsafeBufferPointer(start: base, count: count))
  }

  deinit {
    base.deinitialize(count: capacity)
    UnsafeMutableRawPointer(base).deallocate()
  }

  private static func allocate(_ capacity: Int) -> UnsafeMutablePointer<Element> {
    // At least one element, so that `base` is a valid pointer for BLAS even when empty.
    let bytes = max(1, capacity) * MemoryLayout<Element>.stride
    return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: alignment)
      .bindMemory(to: Element.self, capacity: max(1, capacity))
  }
}
