/// The cells of some columns of a CSV file, read column by column before any encoding:
/// numbers as numbers (missing cells as NaN), text as codes into a list of distinct texts.
///
/// A table is what the tabular front end of `bump` builds on: it decides how each column is
/// encoded (imputed, one-hot, class labels) only after the whole file, or the training part
/// of it, has been seen. ``CSVTableReader`` reads one, whole or in batches of rows.
package struct CSVTable<Element: MatrixScalar> {
  /// The path as given, or "standard input"; for messages.
  package var path: String
  /// Every name of the header, in file order.
  package var header: [String]
  /// The line the header is on.
  package var headerLine: Int
  /// The number of data rows.
  package var rows: Int
  /// The columns read, in the order they were requested.
  package var columns: [CSVColumn<Element>]

  package init(path: String, header: [String], headerLine: Int, rows: Int, columns: [CSVColumn<Element>]) {
    self.path = path
    self.header = header
    self.headerLine = headerLine
    self.rows = rows
    self.columns = columns
  }

  /// The column named `name`, if it was read.
  package func column(named name: String) -> CSVColumn<Element>? {
    columns.first { $0.name == name }
  }
}

/// How ``CSVTableReader`` reads a column.
package enum CSVColumnKind: Equatable, Sendable {
  /// Numbers, unless the column turns out to hold text: a column whose non-missing cells are
  /// mostly (more than half, and at least 2) not numbers is read as ``texts``; otherwise each
  /// cell that is not a number is a problem (see ``CSVTableReader``).
  case automatic
  /// Numbers; every other non-missing cell is a problem.
  case numbers
  /// Texts, numbers included, as written (trimmed of surrounding spaces and tabs outside
  /// quotes).
  case texts
}

/// One column of a ``CSVTable``.
package struct CSVColumn<Element: MatrixScalar> {
  /// The cells of a column.
  package enum Cells {
    /// One number per row; NaN where the cell is missing.
    case numbers(CSVValues<Element>)
    /// One code per row, an index into `texts`, the distinct texts in order of first
    /// appearance; ``CSVColumn/missingCode`` where the cell is missing.
    case texts(codes: [UInt32], texts: [String])
  }

  /// The code of a missing cell in a text column.
  package static var missingCode: UInt32 { .max }

  /// The header name.
  package var name: String
  /// The 0-based position in the header.
  package var position: Int
  /// The cells, one per row.
  package var cells: Cells
  /// The number of missing cells (see ``CSVTableReader/missingTokens``).
  package var missingCount: Int
  /// The lines of the first missing cells, at most ``CSVTableReader/lineListLimit``.
  package var missingLines: [Int]
  /// For a column read as ``CSVColumnKind/texts``: the line each text first appears on,
  /// one per text (so a message about a text can name its line); empty otherwise.
  package var textLines: [Int] = []

  package init(name: String, position: Int, cells: Cells, missingCount: Int = 0, missingLines: [Int] = []) {
    self.name = name
    self.position = position
    self.cells = cells
    self.missingCount = missingCount
    self.missingLines = missingLines
  }

  /// The number of cells (rows).
  package var count: Int {
    switch cells {
    case .numbers(let values): values.count
    case .texts(let codes, _): codes.count
    }
  }

  /// Whether the column was read as text.
  package var isText: Bool {
    if case .texts = cells { return true }
    return false
  }
}

/// The numbers of a column as the reader stored them: in blocks that are never moved, so that
/// a table is made without copying its cells into one array, and a consumer that reads the
/// rows in order can free each block once it is done with it (see ``takeBlocks()``).
///
/// A random-access collection of one value per row: indexing finds the block by binary search
/// over the block ends (direct when there is one block), so code that walks many rows should
/// walk ``blocks`` instead.
package struct CSVValues<Element: MatrixScalar>: RandomAccessCollection {
  /// One block of values, freed when the last reference to it goes.
  package final class Block: @unchecked Sendable {
    /// The first value; valid for ``count`` values.
    package let base: UnsafeMutablePointer<Element>
    /// The values held.
    package let count: Int
    private let free: (UnsafeMutablePointer<Element>) -> Void

    /// Takes ownership of `count` values at `base`, which `free` releases.
    package init(
      base: UnsafeMutablePointer<Element>, count: Int,
      free: @escaping (UnsafeMutablePointer<Element>) -> Void = { $0.deallocate() }
    ) {
      self.base = base
      self.count = count
      self.free = free
    }

    /// The values, for reading.
    package var values: UnsafeBufferPointer<Element> { UnsafeBufferPointer(start: base, count: count) }

    deinit { free(base) }
  }

  /// The blocks, in row order; none is empty.
  package private(set) var blocks: [Block]
  /// The index one past each block's last value.
  private var ends: [Int]

  /// The values of `blocks`, in order (empty blocks are left out).
  package init(blocks: [Block]) {
    self.blocks = blocks.filter { $0.count > 0 }
    var end = 0
    ends = self.blocks.map {
      end += $0.count
      return end
    }
  }

  /// The values of `values`, copied into one block.
  package init(_ values: [Element]) {
    let base = UnsafeMutablePointer<Element>.allocate(capacity: Swift.max(values.count, 1))
    _ = UnsafeMutableBufferPointer(start: base, count: values.count).initialize(from: values)
    self.init(blocks: [Block(base: base, count: values.count)])
  }

  /// No values.
  package init() { self.init(blocks: []) }

  package var startIndex: Int { 0 }
  package var endIndex: Int { ends.last ?? 0 }

  package subscript(position: Int) -> Element {
    precondition(position >= 0 && position < endIndex, "CSVValues index out of range")
    if blocks.count == 1 { return blocks[0].base[position] }
    var low = 0
    var high = ends.count - 1
    while low < high {
      let middle = (low + high) / 2
      if ends[middle] > position { high = middle } else { low = middle + 1 }
    }
    return blocks[low].base[position - (low == 0 ? 0 : ends[low - 1])]
  }

  /// The values in one array.
  package var array: [Element] {
    var values: [Element] = []
    values.reserveCapacity(count)
    for block in blocks { values.append(contentsOf: block.values) }
    return values
  }

  /// Calls `body` with each block's values and the row of its first value, in order.
  package func forEachBlock(_ body: (_ values: UnsafeBufferPointer<Element>, _ start: Int) throws -> Void) rethrows {
    var start = 0
    for block in blocks {
      try body(block.values, start)
      start += block.count
    }
  }

  /// Removes the blocks and returns them: the collection is empty afterwards, and a block is
  /// freed as soon as the caller drops it (when no copy of the collection holds it too).
  package mutating func takeBlocks() -> [Block] {
    defer {
      blocks = []
      ends = []
    }
    return blocks
  }
}
