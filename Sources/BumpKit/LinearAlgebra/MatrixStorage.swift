#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

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
  ///
  /// - Precondition: the buffer can be allocated (see ``allocate(_:)``).
  @usableFromInline
  convenience init(capacity: Int, repeating value: Element) {
    self.init(allocated: Self.allocateOrStop(capacity), capacity: capacity)
    base.initialize(repeating: value, count: capacity)
  }

  /// A buffer of `capacity` elements from `allocate(capacity)`, every one set to `value`.
  convenience init(allocated base: UnsafeMutablePointer<Element>, capacity: Int, repeating value: Element) {
    self.init(allocated: base, capacity: capacity)
    base.initialize(repeating: value, count: capacity)
  }

  /// A buffer of `capacity` elements that starts with the elements of `source` and is zero
  /// after them.
  @usableFromInline
  convenience init(capacity: Int, copying source: UnsafeBufferPointer<Element>) {
    precondition(capacity >= source.count, "Matrix capacity smaller than its contents")
    self.init(allocated: Self.allocateOrStop(capacity), capacity: capacity)
    if let from = source.baseAddress {
      base.initialize(from: from, count: source.count)
    }
    (base + source.count).initialize(repeating: 0, count: capacity - source.count)
  }

  /// A buffer of `capacity` elements that `initialize` writes, every one: its memory is not
  /// written first, so that a large buffer filled by parts takes its pages only as they are
  /// written.
  @usableFromInline
  convenience init(capacity: Int, initializingWith initialize: (UnsafeMutableBufferPointer<Element>) throws -> Void)
    rethrows
  {
    let base = Self.allocateOrStop(capacity)
    do {
      try initialize(UnsafeMutableBufferPointer(start: base, count: capacity))
    } catch {
      free(base)
      throw error
    }
    self.init(allocated: base, capacity: capacity)
  }

  /// Takes ownership of `base`, memory from ``allocate(_:)`` for `capacity` elements that
  /// the caller has initialised or initialises next.
  init(allocated base: UnsafeMutablePointer<Element>, capacity: Int) {
    self.base = base
    self.capacity = capacity
  }

  /// A new buffer holding a copy of the first `count` elements, with capacity `count`.
  @usableFromInline
  func copy(count: Int) -> MatrixStorage {
    MatrixStorage(capacity: count, copying: UnsafeBufferPointer(start: base, count: count))
  }

  deinit {
    base.deinitialize(count: capacity)
    free(base)
  }

  /// Memory for `capacity` elements (at least one, so that `base` is a valid pointer for BLAS
  /// even when empty), 64-byte aligned and uninitialised; nil when the system cannot provide
  /// it: a size in bytes beyond `Int`, or beyond the address space, or more than the system
  /// will commit.
  static func allocate(_ capacity: Int) -> UnsafeMutablePointer<Element>? {
    precondition(capacity >= 0, "Matrix capacity must be non-negative")
    let (bytes, overflow) = max(1, capacity).multipliedReportingOverflow(by: MemoryLayout<Element>.stride)
    var memory: UnsafeMutableRawPointer?
    guard !overflow, posix_memalign(&memory, alignment, bytes) == 0, let memory else { return nil }
    return memory.bindMemory(to: Element.self, capacity: max(1, capacity))
  }

  /// ``allocate(_:)`` for a buffer the library needs whatever the size (a copy of a matrix
  /// that exists, say): running out of memory there stops the program, as it does for an
  /// `Array`.
  static func allocateOrStop(_ capacity: Int) -> UnsafeMutablePointer<Element> {
    guard let base = allocate(capacity) else {
      fatalError("Matrix: out of memory for \(capacity) elements of \(Element.self)")
    }
    return base
  }
}
