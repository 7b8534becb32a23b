import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The memory a batch of ``CSVTableReader`` may allocate for its cells, shared by its threads:
/// every block and text is reserved here before it is allocated.
final class CSVByteBudget: Sendable {
  let limit: Int?
  private let used = Atomic<Int>(0)

  init(limit: Int?) { self.limit = limit }

  /// Reserves `bytes`, or throws ``CSVBudgetExceeded`` with the total it would reach.
  @inline(__always)
  func reserve(_ bytes: Int) throws {
    guard let limit else { return }
    let total = used.add(bytes, ordering: .relaxed).newValue
    if total > limit { throw CSVBudgetExceeded(bytes: total) }
  }
}

/// A reservation beyond ``CSVByteBudget/limit``.
struct CSVBudgetExceeded: Error {
  let bytes: Int
}

/// Values appended in blocks that are never moved: growing a column costs no copy and no
/// doubled peak. A number column's blocks become the table's (``CSVValues``); a text
/// column's codes are copied once, into the final array, the blocks freed as they go.
struct CSVBlockStore<T> {
  private var blocks: [(pointer: UnsafeMutablePointer<T>, count: Int)] = []
  private var current: UnsafeMutablePointer<T>?
  private var currentCount = 0
  private var currentCapacity = 0
  private var nextCapacity: Int
  private var finishedCount = 0
  static var largestBlock: Int { 1 << 18 }

  init(firstCapacity: Int) {
    nextCapacity = max(16, min(firstCapacity, Self.largestBlock))
  }

  var count: Int { finishedCount + currentCount }

  @inline(__always)
  mutating func append(_ value: T, budget: CSVByteBudget) throws {
    if currentCount == currentCapacity { try grow(budget: budget) }
    current.unsafelyUnwrapped[currentCount] = value
    currentCount += 1
  }

  @inline(never)
  private mutating func grow(budget: CSVByteBudget) throws {
    try budget.reserve(nextCapacity * MemoryLayout<T>.stride)
    if let current { blocks.append((current, currentCount)) }
    finishedCount += currentCount
    current = .allocate(capacity: nextCapacity)
    currentCapacity = nextCapacity
    currentCount = 0
    nextCapacity = min(2 * nextCapacity, Self.largestBlock)
  }

  /// The free slots of the current block: values may be written at ``nextSlot`` up to this
  /// many, then counted with ``didAppend(_:)`` (0 before the first block).
  @inline(__always)
  var room: Int { currentCapacity &- currentCount }

  /// Where the next appended value goes, when ``room`` is positive.
  @inline(__always)
  var nextSlot: UnsafeMutablePointer<T>? { current.map { $0 + currentCount } }

  /// Counts `count` (at most ``room``) values written at ``nextSlot`` as appended.
  @inline(__always)
  mutating func didAppend(_ count: Int) { currentCount &+= count }

  /// Calls `body` with each block's values in order.
  func forEachBlock(_ body: (UnsafeBufferPointer<T>) throws -> Void) rethrows {
    for block in blocks { try body(UnsafeBufferPointer(start: block.pointer, count: block.count)) }
    if let current { try body(UnsafeBufferPointer(start: current, count: currentCount)) }
  }

  /// Frees the blocks; the store is empty afterwards.
  mutating func release() {
    for block in blocks { block.pointer.deallocate() }
    current?.deallocate()
    blocks = []
    current = nil
    currentCount = 0
    currentCapacity = 0
    finishedCount = 0
  }

  /// The blocks, in order, handed over without a copy (the current one included, even when
  /// empty); the store is empty afterwards and no longer owns them.
  mutating func takeBlocks() -> [(pointer: UnsafeMutablePointer<T>, count: Int)] {
    var pieces = blocks
    if let current { pieces.append((current, currentCount)) }
    blocks = []
    current = nil
    currentCount = 0
    currentCapacity = 0
    finishedCount = 0
    return pieces
  }

  /// The values of `stores` in order, in one array (each value through `transforms[i]` of
  /// its store, if given); the stores are released.
  static func concatenate(_ stores: inout [CSVBlockStore<T>], transforms: [((T) -> T)?] = [])
    -> [T]
  {
    let total = stores.reduce(0) { $0 + $1.count }
    let array = [T](unsafeUninitializedCapacity: total) { buffer, initialized in
      var offset = 0
      for i in stores.indices {
        let transform = i < transforms.count ? transforms[i] : nil
        var pieces = stores[i].blocks.map { ($0.pointer, $0.count) }
        if let current = stores[i].current { pieces.append((current, stores[i].currentCount)) }
        for block in pieces {
          if let transform {
            for j in 0..<block.1 { (buffer.baseAddress! + offset + j).initialize(to: transform(block.0[j])) }
          } else {
            (buffer.baseAddress! + offset).initialize(from: block.0, count: block.1)
          }
          offset += block.1
          block.0.deallocate()
        }
        stores[i].blocks = []
        stores[i].current = nil
        stores[i].currentCount = 0
        stores[i].currentCapacity = 0
        stores[i].finishedCount = 0
      }
      initialized = total
    }
    return array
  }
}

/// Distinct byte strings with their codes (0, 1, … in order of first insertion), looked up
/// without making a `String`. Bytes are compared exactly, as ``ExactText`` compares scalars.
struct CSVTextDictionary {
  private(set) var texts: [String] = []
  /// The line each text first appeared on.
  private(set) var firstLines: [Int] = []
  private var bytes: [UInt8] = []
  private var offsets: [Int] = [0]
  private var hashes: [UInt64] = []
  private var slots = [Int32](repeating: -1, count: 16)

  var count: Int { texts.count }

  @inline(__always)
  static func hash(_ p: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for i in 0..<count { h = (h ^ UInt64(p[i])) &* 0x100_0000_01b3 }
    return h ^ (h >> 29)
  }

  /// The code of the text, if present.
  func find(_ p: UnsafePointer<UInt8>, _ count: Int, hash: UInt64) -> Int? {
    let mask = slots.count - 1
    var i = Int(truncatingIfNeeded: hash) & mask
    while true {
      let entry = Int(slots[i])
      if entry < 0 { return nil }
      if hashes[entry] == hash, offsets[entry + 1] - offsets[entry] == count {
        let equal = bytes.withUnsafeBufferPointer { b in
          count == 0 || memcmp(b.baseAddress! + offsets[entry], p, count) == 0
        }
        if equal { return entry }
      }
      i = (i + 1) & mask
    }
  }

  /// Adds a text known to be absent (valid UTF-8); returns its code.
  mutating func insert(_ p: UnsafePointer<UInt8>, _ count: Int, hash: UInt64, line: Int) -> Int {
    let code = texts.count
    bytes.append(contentsOf: UnsafeBufferPointer(start: p, count: count))
    offsets.append(bytes.count)
    hashes.append(hash)
    texts.append(String(decoding: UnsafeBufferPointer(start: p, count: count), as: UTF8.self))
    firstLines.append(line)
    if 2 * texts.count > slots.count {
      slots = [Int32](repeating: -1, count: 2 * slots.count)
      let mask = slots.count - 1
      for entry in 0..<texts.count {
        var i = Int(truncatingIfNeeded: hashes[entry]) & mask
        while slots[i] >= 0 { i = (i + 1) & mask }
        slots[i] = Int32(entry)
      }
    } else {
      let mask = slots.count - 1
      var i = Int(truncatingIfNeeded: hash) & mask
      while slots[i] >= 0 { i = (i + 1) & mask }
      slots[i] = Int32(code)
    }
    return code
  }

  /// Calls `body` with the bytes of text `code`.
  func withBytes<R>(of code: Int, _ body: (UnsafePointer<UInt8>, Int) throws -> R) rethrows -> R {
    try bytes.withUnsafeBufferPointer { b in
      try body(b.baseAddress.map { $0 + offsets[code] } ?? UnsafePointer(bitPattern: 1)!, offsets[code + 1] - offsets[code])
    }
  }
}

/// Whether the cell (trimmed) is one of ``CSVTableReader/missingTokens``.
@inline(__always)
func csvIsMissingToken(_ p: UnsafePointer<UInt8>, _ count: Int) -> Bool {
  if count == 0 { return true }
  let c = p[0]
  if (c >= 0x30 && c <= 0x39) || c == 0x2E || c == 0x2B || count > 4 { return false }
  return csvIsMissingTokenSlow(p, count)
}

@inline(never)
func csvIsMissingTokenSlow(_ p: UnsafePointer<UInt8>, _ count: Int) -> Bool {
  func word(_ text: StaticString) -> Bool {
    guard text.utf8CodeUnitCount == count else { return false }
    return memcmp(text.utf8Start, p, count) == 0
  }
  switch count {
  case 1: return word("?") || word("-")
  case 2: return word("NA")
  case 3: return word("N/A") || word("NaN") || word("nan")
  case 4: return word("null") || word("NULL") || word("None") || word("<NA>") || word("#N/A")
  default: return false
  }
}

/// Whether `Double(String)` surely refuses the text: it starts with an ASCII letter other
/// than those of `nan` and `inf`, and has no digit.
func csvSurelyNotANumber(_ p: UnsafePointer<UInt8>, _ count: Int) -> Bool {
  guard count > 0 else { return false }
  let first = p[0] | 0x20
  guard first >= UInt8(ascii: "a"), first <= UInt8(ascii: "z"), first != UInt8(ascii: "n"),
    first != UInt8(ascii: "i")
  else { return false }
  for j in 0..<count where p[j] >= 0x30 && p[j] <= 0x39 { return false }
  return true
}

/// One requested column as read by one thread over one stretch of the file.
struct CSVColumnPart<Element: MatrixScalar> {
  let name: String
  let position: Int
  let kind: CSVColumnKind
  /// Number cells (numbers and automatic columns): NaN where missing or text.
  var numbers: CSVBlockStore<Element>
  /// Text codes (text columns).
  var codes: CSVBlockStore<UInt32>
  /// The texts of a text column, or the text cells of an automatic one.
  var dictionary = CSVTextDictionary()
  /// Automatic columns: the rows (of this part) that hold text, with the text's code.
  var textRows: [(row: Int, code: UInt32)] = []
  var cells = 0
  var missingCount = 0
  var missingLines: [Int] = []
  /// The first problems of this part (by line), and how many there are.
  var problems: [(line: Int, error: DataError)] = []
  var problemCount = 0
  /// Automatic columns: the first text cells as problems, and how many there are.
  var pending: [(line: Int, error: DataError)] = []
  var pendingCount = 0
  var textCount = 0
  var numberCount = 0
  /// A text column of the second part of a two-thread read: the code in the joined
  /// dictionary of each of this part's codes.
  var remap: [UInt32]?

  init(name: String, position: Int, kind: CSVColumnKind, firstCapacity: Int) {
    self.name = name
    self.position = position
    self.kind = kind
    numbers = CSVBlockStore(firstCapacity: kind == .texts ? 16 : firstCapacity)
    codes = CSVBlockStore(firstCapacity: kind == .texts ? firstCapacity : 16)
  }

  mutating func release() {
    numbers.release()
    codes.release()
  }

  /// Counts `count` finite numbers written at `numbers.nextSlot` (by the number fast path of
  /// `CSVPartReader`) as the cells ``add(_:_:line:path:textLimit:budget:)`` would have added
  /// for them: numbers and automatic columns only.
  @inline(__always)
  mutating func didAddNumbers(_ count: Int) {
    numbers.didAppend(count)
    cells &+= count
    if kind == .automatic { numberCount &+= count }
  }

  /// Records one cell (trimmed, valid UTF-8); `textLimit` nil lets a text column grow
  /// without a limit (the second part of a two-thread read, checked when joined).
  @inline(__always)
  mutating func add(
    _ raw: UnsafePointer<UInt8>, _ rawCount: Int, line: Int, path: String, textLimit: Int?,
    budget: CSVByteBudget
  ) throws {
    defer { cells += 1 }
    // A quoted cell keeps the spaces inside its quotes as text; missing tokens and numbers
    // are read without them.
    var p = raw
    var count = rawCount
    while count > 0, p[0] == 0x20 || p[0] == 0x09 {
      p += 1
      count -= 1
    }
    while count > 0, p[count - 1] == 0x20 || p[count - 1] == 0x09 { count -= 1 }
    if csvIsMissingToken(p, count) {
      missingCount += 1
      if missingLines.count < CSVTableReader<Element>.lineListLimit { missingLines.append(line) }
      switch kind {
      case .numbers, .automatic: try numbers.append(.nan, budget: budget)
      case .texts: try codes.append(CSVColumn<Element>.missingCode, budget: budget)
      }
      return
    }
    switch kind {
    case .numbers:
      if let value = parseDecimal(p, count: count, as: Element.self), value.isFinite {
        try numbers.append(value, budget: budget)
      } else {
        try addSlowNumber(p, count, line: line, path: path, budget: budget)
      }
    case .automatic:
      if let value = parseDecimal(p, count: count, as: Element.self), value.isFinite {
        try numbers.append(value, budget: budget)
        numberCount += 1
      } else {
        try addSlowAutomatic(p, count, raw: raw, rawCount, line: line, path: path, budget: budget)
      }
    case .texts:
      let code = try intern(raw, rawCount, line: line, path: path, limit: textLimit, budget: budget)
      try codes.append(code, budget: budget)
    }
  }

  @inline(never)
  mutating func intern(
    _ p: UnsafePointer<UInt8>, _ count: Int, line: Int, path: String, limit: Int?,
    budget: CSVByteBudget
  ) throws -> UInt32 {
    let hash = CSVTextDictionary.hash(p, count)
    if let code = dictionary.find(p, count, hash: hash) { return UInt32(code) }
    if let limit, dictionary.count >= limit {
      throw DataError.tooManyCategories(path: path, line: line, column: name, limit: limit)
    }
    try budget.reserve(count + 64 + 32)
    return UInt32(dictionary.insert(p, count, hash: hash, line: line))
  }

  /// A number cell that is not plain decimal: parsed as the reference parses it.
  @inline(never)
  mutating func addSlowNumber(
    _ p: UnsafePointer<UInt8>, _ count: Int, line: Int, path: String, budget: CSVByteBudget
  ) throws {
    let text = String(decoding: UnsafeBufferPointer(start: p, count: count), as: UTF8.self)
    let value: Element
    do {
      value = try parseCSVNumber(text, path: path, line: line, column: name)
    } catch let error as DataError {
      problemCount += 1
      if problems.count < CSVTableReader<Element>.problemLimit { problems.append((line, error)) }
      value = .nan
    }
    try numbers.append(value, budget: budget)
  }

  @inline(never)
  mutating func addSlowAutomatic(
    _ p: UnsafePointer<UInt8>, _ count: Int, raw: UnsafePointer<UInt8>, _ rawCount: Int,
    line: Int, path: String, budget: CSVByteBudget
  ) throws {
    var problem: DataError?
    if csvSurelyNotANumber(p, count) {
      textCount += 1
      if pending.count < CSVTableReader<Element>.problemLimit {
        let text = String(decoding: UnsafeBufferPointer(start: p, count: count), as: UTF8.self)
        problem = .notANumber(path: path, line: line, column: name, text: text)
      }
    } else {
      let text = String(decoding: UnsafeBufferPointer(start: p, count: count), as: UTF8.self)
      do {
        let value: Element = try parseCSVNumber(text, path: path, line: line, column: name)
        try numbers.append(value, budget: budget)
        numberCount += 1
        return
      } catch let error as DataError {
        if case .notANumber = error { textCount += 1 }
        problem = error
      }
    }
    pendingCount += 1
    if let problem, pending.count < CSVTableReader<Element>.problemLimit {
      pending.append((line, problem))
    }
    try numbers.append(.nan, budget: budget)
    let code = try intern(raw, rawCount, line: line, path: path, limit: nil, budget: budget)
    try budget.reserve(16)
    textRows.append((cells, code))
  }
}
