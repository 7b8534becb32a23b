/// A dense `rows × columns` matrix of `Float` or `Double`, stored row-major and contiguous:
/// element (i, j) is at offset `i·columns + j`.
///
/// `Matrix` has value semantics. Copies share one 64-byte-aligned buffer until one of them is
/// mutated, which copies it first (copy-on-write), so passing matrices around is cheap and
/// sending them across tasks is safe. A batch of samples is `batch × features`.
///
/// Layers that run the same step many times keep their matrices and reuse the memory:
/// ``resize(rows:columns:)`` and ``copy(from:)`` do not allocate while the new element count
/// fits in ``capacity`` and the buffer is not shared.
///
/// Products, level-1 operations and LAPACK solves are in extensions
/// (``gemm(_:transposeA:_:transposeB:alpha:beta:into:)``, ``axpy(alpha:_:_:)``, ``qr()``,
/// ``solveLeastSquares(_:_:)``); they check shapes and throw ``BumpKitError`` or
/// ``LinearAlgebraError``. A shape that is negative, whose size overflows `Int` or whose
/// memory cannot be allocated is an error too; only element access out of bounds (the
/// subscript and ``row(_:)``, like an `Array`'s) is a programming error, and traps.
public struct Matrix<Element: MatrixScalar> {
  @usableFromInline var storage: MatrixStorage<Element>

  /// The number of rows (for a batch: the number of samples).
  public private(set) var rows: Int

  /// The number of columns (for a batch: the number of features).
  public private(set) var columns: Int

  /// A zero matrix of a shape known to be valid (taken from another matrix, or a count
  /// known to be ≥ 0): for the library's own buffers, where a bad shape is a bug.
  package init(validRows rows: Int, columns: Int) {
    self.storage = MatrixStorage(capacity: Self.validCount(rows: rows, columns: columns), repeating: 0)
    self.rows = rows
    self.columns = columns
  }

  /// A `rows × columns` matrix (a shape known to be valid) whose elements `initialize`
  /// writes, every one of them, in row-major order; nothing is written before, so that the
  /// pages of a large matrix filled by parts are taken only as they are written.
  package init(
    validRows rows: Int, columns: Int,
    initializingWith initialize: (UnsafeMutableBufferPointer<Element>) throws -> Void
  ) rethrows {
    self.storage = try MatrixStorage(
      capacity: Self.validCount(rows: rows, columns: columns), initializingWith: initialize)
    self.rows = rows
    self.columns = columns
  }

  /// The empty `0 × 0` matrix, e.g. for a buffer that a layer resizes on first use.
  public init() {
    self.storage = MatrixStorage(capacity: 0, repeating: 0)
    self.rows = 0
    self.columns = 0
  }

  /// A `rows × columns` matrix with every element equal to `value` (zero by default).
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for a negative count, a
  ///   shape whose size in bytes overflows `Int`, or one whose memory the system cannot
  ///   allocate (beyond the address space, say).
  public init(rows: Int, columns: Int, repeating value: Element = 0) throws {
    let count = try Self.checkedCount(rows: rows, columns: columns)
    self.storage = MatrixStorage(
      allocated: try Self.allocate(count, rows: rows, columns: columns), capacity: count, repeating: value)
    self.rows = rows
    self.columns = columns
  }

  /// A `rows × columns` matrix of zeros; the same as `Matrix(rows:columns:)`.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for a negative count or
  ///   a shape too large to allocate.
  public static func zeros(rows: Int, columns: Int) throws -> Matrix {
    try Matrix(rows: rows, columns: columns)
  }

  /// The `size × size` identity matrix I, with Iᵢⱼ = 1 if i = j and 0 otherwise.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for a negative size or
  ///   one too large to allocate.
  public static func identity(size: Int) throws -> Matrix {
    var m = try Matrix(rows: size, columns: size)
    m.withUnsafeMutableBufferPointer { buffer in
      for i in 0..<size { buffer[i * size + i] = 1 }
    }
    return m
  }

  /// A `rows × columns` matrix with the given elements in row-major order.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` if a size is negative,
  ///   if `rows·columns` overflows `Int`, or if `elements.count ≠ rows·columns` (the
  ///   message gives both counts).
  public init(rows: Int, columns: Int, elements: [Element]) throws {
    guard rows >= 0, columns >= 0 else {
      throw BumpKitError.invalidArgument(name: "Matrix shape", value: "\(rows)×\(columns)", reason: "rows and columns must be ≥ 0")
    }
    let (count, overflow) = rows.multipliedReportingOverflow(by: columns)
    guard !overflow, count == elements.count else {
      throw BumpKitError.invalidArgument(
        name: "Matrix elements", value: "\(elements.count) elements",
        reason: overflow ? "a \(rows)×\(columns) shape overflows Int" : "a \(rows)×\(columns) matrix needs \(count)")
    }
    let base = try Self.allocate(count, rows: rows, columns: columns)
    elements.withUnsafeBufferPointer { if let from = $0.baseAddress { base.initialize(from: from, count: count) } }
    self.storage = MatrixStorage(allocated: base, capacity: count)
    self.rows = rows
    self.columns = columns
  }

  /// A matrix whose i-th row is `rowsOfElements[i]`.
  ///
  /// An empty array gives a 0 × 0 matrix.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` if the rows do
  ///   not all have the same length.
  public init(_ rowsOfElements: [[Element]]) throws {
    let columns = rowsOfElements.first?.count ?? 0
    if let bad = rowsOfElements.firstIndex(where: { $0.count != columns }) {
      throw BumpKitError.shapeMismatch(
        operation: "Matrix.init: row \(bad)", expected: MatrixShape(rows: 1, columns: columns),
        actual: MatrixShape(rows: 1, columns: rowsOfElements[bad].count))
    }
    try self.init(
      rows: rowsOfElements.count, columns: columns, elements: rowsOfElements.flatMap { $0 })
  }

  /// The number of elements, `rows·columns`.
  @inlinable public var count: Int { rows * columns }

  /// The shape as `(rows, columns)`.
  @inlinable public var shape: (rows: Int, columns: Int) { (rows, columns) }

  /// The number of elements the buffer holds, at least ``count``; ``resize(rows:columns:)``
  /// and ``copy(from:)`` stay within it without allocating.
  public var capacity: Int { storage.capacity }

  /// The elements in row-major order, copied into an array.
  public var elements: [Element] {
    withUnsafeBufferPointer { Array($0) }
  }

  /// The element in row `row`, column `column` (both zero-based).
  ///
  /// - Precondition: `0 ≤ row < rows` and `0 ≤ column < columns`.
  @inlinable
  public subscript(row: Int, column: Int) -> Element {
    get {
      precondition(
        row >= 0 && row < rows && column >= 0 && column < columns, "Matrix index out of range")
      return storage.base[row * columns + column]
    }
    set {
      precondition(
        row >= 0 && row < rows && column >= 0 && column < columns, "Matrix index out of range")
      makeUnique()
      storage.base[row * columns + column] = newValue
    }
  }

  /// Row `index` as an array of ``columns`` elements.
  ///
  /// - Precondition: `0 ≤ index < rows`.
  public func row(_ index: Int) -> [Element] {
    precondition(index >= 0 && index < rows, "Matrix row index out of range")
    return Array(UnsafeBufferPointer(start: storage.base + index * columns, count: columns))
  }

  /// Replaces row `index` by `values`.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` unless
  ///   `0 ≤ index < rows`; ``BumpKitError/shapeMismatch(operation:expected:actual:)`` if
  ///   `values.count ≠ columns`. The matrix is then unchanged.
  public mutating func setRow(_ index: Int, to values: [Element]) throws {
    guard index >= 0 && index < rows else {
      throw BumpKitError.invalidArgument(name: "row index", value: "\(index)", reason: Self.rowRange(rows))
    }
    guard values.count == columns else {
      throw BumpKitError.shapeMismatch(
        operation: "setRow", expected: MatrixShape(rows: 1, columns: columns), actual: MatrixShape(rows: 1, columns: values.count))
    }
    makeUnique()
    let start = storage.base + index * columns
    values.withUnsafeBufferPointer { start.update(from: $0.baseAddress!, count: columns) }
  }

  /// Calls `body` with the ``count`` elements in row-major order. The pointer is valid only
  /// during the call.
  @inlinable
  public func withUnsafeBufferPointer<R, E: Error>(
    _ body: (UnsafeBufferPointer<Element>) throws(E) -> R
  ) throws(E) -> R {
    try body(UnsafeBufferPointer(start: storage.base, count: count))
  }

  /// Calls `body` with the ``count`` elements in row-major order for writing. The buffer is
  /// made unique first (copy-on-write), so other copies of the matrix are unaffected. The
  /// pointer is valid only during the call.
  @inlinable
  public mutating func withUnsafeMutableBufferPointer<R, E: Error>(
    _ body: (UnsafeMutableBufferPointer<Element>) throws(E) -> R
  ) throws(E) -> R {
    makeUnique()
    return try body(UnsafeMutableBufferPointer(start: storage.base, count: count))
  }

  // MARK: - Shape and capacity (here because they set the private shape)

  /// Changes the shape to `rows × columns`, keeping the elements in row-major order.
  ///
  /// Element k (in row-major order) keeps its value for k < min(old count, new count);
  /// elements beyond the old count are zero. The buffer is reused, without allocation, when
  /// the new count is at most ``capacity`` and no other matrix shares it; otherwise a new
  /// buffer of exactly the new count is allocated. Shrinking keeps the capacity, so a layer
  /// whose last mini-batch is smaller grows back for free.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` for a negative count, a
  ///   shape whose size in bytes overflows `Int`, or a new buffer the system cannot
  ///   allocate; the matrix is then unchanged.
  public mutating func resize(rows newRows: Int, columns newColumns: Int) throws(BumpKitError) {
    let newCount = try Self.checkedCount(rows: newRows, columns: newColumns)
    let buffer = try bufferForResize(to: newCount) { () throws(BumpKitError) in
      try Self.allocate(newCount, rows: newRows, columns: newColumns)
    }
    resize(to: newRows, newColumns, count: newCount, buffer: buffer)
  }

  /// ``resize(rows:columns:)`` to a shape known to be valid.
  package mutating func resize(validRows newRows: Int, columns newColumns: Int) {
    let newCount = Self.validCount(rows: newRows, columns: newColumns)
    let buffer = bufferForResize(to: newCount) { MatrixStorage.allocateOrStop(newCount) }
    resize(to: newRows, newColumns, count: newCount, buffer: buffer)
  }

  /// The new memory a resize to `newCount` elements needs, from `allocate`; nil when the
  /// buffer is reused.
  private mutating func bufferForResize<E: Error>(
    to newCount: Int, _ allocate: () throws(E) -> UnsafeMutablePointer<Element>
  ) throws(E) -> UnsafeMutablePointer<Element>? {
    newCount <= storage.capacity && isKnownUniquelyReferenced(&storage) ? nil : try allocate()
  }

  /// Sets the shape, in `buffer` (fresh memory for `newCount` elements) or, when nil, in
  /// the buffer the matrix has.
  private mutating func resize(to newRows: Int, _ newColumns: Int, count newCount: Int, buffer: UnsafeMutablePointer<Element>?) {
    let oldCount = count
    if let buffer {
      let kept = min(oldCount, newCount)
      buffer.initialize(from: storage.base, count: kept)
      (buffer + kept).initialize(repeating: 0, count: newCount - kept)
      storage = MatrixStorage(allocated: buffer, capacity: newCount)
    } else if newCount > oldCount {
      (storage.base + oldCount).update(repeating: 0, count: newCount - oldCount)
    }
    rows = newRows
    columns = newColumns
  }

  /// Reinterprets the same elements, in the same row-major order, as a `rows × columns`
  /// matrix. Never allocates or copies.
  ///
  /// - Throws: ``BumpKitError/shapeMismatch(operation:expected:actual:)`` if
  ///   `rows·columns ≠ count`, or ``BumpKitError/invalidArgument(name:value:reason:)``
  ///   for a negative size.
  public mutating func reshape(rows newRows: Int, columns newColumns: Int) throws {
    guard newRows >= 0, newColumns >= 0 else {
      throw BumpKitError.invalidArgument(name: "reshape shape", value: "\(newRows)×\(newColumns)", reason: "rows and columns must be ≥ 0")
    }
    let (newCount, overflow) = newRows.multipliedReportingOverflow(by: newColumns)
    guard !overflow, newCount == count else {
      throw BumpKitError.invalidArgument(
        name: "reshape shape", value: "\(newRows)×\(newColumns)", reason: "must hold the \(count) elements of \(rows)×\(columns)")
    }
    rows = newRows
    columns = newColumns
  }

  /// Makes this matrix equal to `source` (its shape and its elements).
  ///
  /// Reuses the buffer, without allocating, when `source.count ≤` ``capacity`` and no other
  /// matrix shares it. Unlike plain assignment, the buffer stays this matrix's own, so later
  /// in-place writes do not trigger a copy.
  public mutating func copy(from source: Matrix) {
    if source.storage === storage && source.count == count {
      rows = source.rows
      columns = source.columns
      return
    }
    prepareForOverwrite(rows: source.rows, columns: source.columns)
    storage.base.update(from: source.storage.base, count: source.count)
  }

  /// Gives the matrix shape `rows × columns` with a unique buffer, leaving the elements'
  /// values unspecified (they are initialised, but stale). For callers that overwrite every
  /// element next, e.g. `gemm` with β = 0.
  mutating func prepareForOverwrite(rows newRows: Int, columns newColumns: Int) {
    let newCount = Self.validCount(rows: newRows, columns: newColumns)
    if newCount > storage.capacity || !isKnownUniquelyReferenced(&storage) {
      storage = MatrixStorage(capacity: newCount, repeating: 0)
    }
    rows = newRows
    columns = newColumns
  }

  /// Copies the buffer if another matrix shares it.
  @inlinable
  mutating func makeUnique() {
    if !isKnownUniquelyReferenced(&storage) {
      storage = storage.copy(count: count)
    }
  }

  /// The element count of a shape known to be valid.
  @usableFromInline
  static func validCount(rows: Int, columns: Int) -> Int {
    precondition(rows >= 0 && columns >= 0, "Matrix shape \(rows)×\(columns) is negative")
    let (count, overflow) = rows.multipliedReportingOverflow(by: columns)
    precondition(!overflow, "Matrix shape \(rows)×\(columns) overflows Int")
    return count
  }

  /// The element count of a `rows × columns` matrix, checked: sizes ≥ 0, and a size in bytes
  /// that `Int` holds.
  @usableFromInline
  static func checkedCount(rows: Int, columns: Int) throws(BumpKitError) -> Int {
    guard rows >= 0 && columns >= 0 else {
      throw .invalidArgument(name: "Matrix shape", value: "\(rows)×\(columns)", reason: "rows and columns must be ≥ 0")
    }
    let (count, overflow) = rows.multipliedReportingOverflow(by: columns)
    guard !overflow, !count.multipliedReportingOverflow(by: MemoryLayout<Element>.stride).overflow else {
      throw .invalidArgument(
        name: "Matrix shape", value: "\(rows)×\(columns)",
        reason: overflow ? "the element count overflows Int" : "its size in bytes overflows Int")
    }
    return count
  }

  /// Memory for the `count` elements of a `rows × columns` matrix.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` when the system cannot
  ///   allocate it.
  static func allocate(_ count: Int, rows: Int, columns: Int) throws(BumpKitError) -> UnsafeMutablePointer<Element> {
    guard let base = MatrixStorage<Element>.allocate(count) else {
      throw .invalidArgument(
        name: "Matrix shape", value: "\(rows)×\(columns)",
        reason: "its \(byteText(count * MemoryLayout<Element>.stride)) cannot be allocated")
    }
    return base
  }

  /// `the matrix has rows 0 to n − 1`, or that it has none: the valid row indices.
  static func rowRange(_ rows: Int) -> String {
    rows == 0 ? "the matrix has no rows" : "the matrix has rows 0 to \(rows - 1)"
  }
}

extension Matrix: Sendable {}
