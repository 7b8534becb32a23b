import BumpKit
import Dispatch
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The model inputs and targets of a table's kept rows, encoded with a ``ColumnPlan`` in file
/// order into one row-major matrix while the table's number blocks are freed as they are read
/// (so that the table and the matrix are not both whole at any time), then put in the seeded
/// shuffled order in place (``shuffle(_:targets:seed:)``).
///
/// File order reads every column sequentially; encoding straight into the shuffled order
/// would read each column at random, one cache miss per cell, and keep the whole table until
/// the end.
struct TrainingRows<Element: MatrixScalar> {
  /// The inputs, one row per kept table row.
  var x: Matrix<Element>
  /// The targets, one per row of ``x``.
  var y: [Element]

  /// How one used feature column is encoded.
  enum Source {
    /// Numbers in blocks (each freed once encoded); a missing cell takes `fill`, and with an
    /// indicator the next input is 1 for it and 0 otherwise.
    case numbers(CSVValues<Element>, fill: Element, indicator: Bool)
    /// Text codes; `categoryOf` maps a code to its input within the feature (or -1), `other`
    /// is the input that takes the rest (-1 for none).
    case texts(codes: [UInt32], categoryOf: [Int32], other: Int)
  }

  /// How the targets are read.
  enum Target {
    /// A regression target's numbers (each block freed once read).
    case numbers(CSVValues<Element>)
    /// A class target's codes, and the class of each code.
    case classes(codes: [UInt32], classOf: [Int32])
  }

  /// The rows of a table per tile: the tile's rows of every column are encoded while the
  /// tile (`tileRows` × inputs) stays in the cache.
  static var tileRows: Int { 1024 }

  /// The rows between two releases of the pages of the cells encoded.
  static var releaseRows: Int { 1 << 14 }

  /// The size of a memory page, or 0 where unknown.
  static var pageSize: Int {
    #if canImport(Glibc) || canImport(Musl)
      max(0, Int(sysconf(Int32(_SC_PAGESIZE))))
    #else
      0
    #endif
  }

  /// The least rows for which two threads encode (each one half of the rows).
  static var parallelRows: Int { 1 << 16 }

  /// Encodes the `rows` table rows whose `keep` flag is set (all when `keep` is nil), in file
  /// order: input offsets `offsets` (one per source), `width` inputs a row; with `threads` 2
  /// and at least `parallelRows` rows, each half of the rows by its own thread (the same
  /// result).
  ///
  /// The sources' and the target's number blocks are taken and freed as encoding passes them.
  init(
    rows: Int, keep: [Bool]?, kept: Int, sources: inout [Source], offsets: [Int], width: Int,
    target: inout Target, threads: Int, parallelRows: Int = Self.parallelRows
  ) {
    // Each column's blocks with their first rows, as buffers that the threads clear (each in
    // its own half of the rows) to free them.
    var blockLists: [[CSVValues<Element>.Block?]] = []
    var starts: [[Int]] = []
    var ends: [[Int]] = []
    var plans: [ColumnTask] = []
    func addNumbers(_ values: inout CSVValues<Element>) -> Int {
      let blocks = values.takeBlocks()
      var end = 0
      ends.append(
        blocks.map {
          end += $0.count
          return end
        })
      starts.append(zip(ends.last!, blocks).map { $0 - $1.count })
      blockLists.append(blocks)
      return blockLists.count - 1
    }
    for f in sources.indices {
      switch sources[f] {
      case .numbers(var values, let fill, let indicator):
        sources[f] = .numbers(CSVValues(), fill: fill, indicator: indicator)
        plans.append(.numbers(list: addNumbers(&values), offset: offsets[f], fill: fill, indicator: indicator))
      case .texts(let codes, let categoryOf, let other):
        plans.append(.texts(codes: codes, categoryOf: categoryOf, offset: offsets[f], other: other))
      }
    }
    var targetTask: ColumnTask
    switch target {
    case .numbers(var values):
      target = .numbers(CSVValues())
      targetTask = .numbers(list: addNumbers(&values), offset: 0, fill: .nan, indicator: false)
    case .classes(let codes, let classOf):
      targetTask = .texts(codes: codes, categoryOf: classOf, offset: 0, other: -1)
    }
    sources = []

    var y = [Element](repeating: 0, count: kept)
    var lists = blockLists.map { UnsafeMutableBufferPointer<CSVValues<Element>.Block?>.allocate(capacity: $0.count) }
    for k in lists.indices { _ = lists[k].initialize(from: blockLists[k]) }
    blockLists = []
    defer {
      for k in lists.indices {
        lists[k].deinitialize().deallocate()
      }
      lists = []
    }
    let x = Matrix<Element>(validRows: kept, columns: width) { out in
      y.withUnsafeMutableBufferPointer { yOut in
        let keepFlags = keep
        keepFlags.withUnsafeBufferPointerOrNil { keepBuffer in
          let job = EncodeJob(
            lists: lists, starts: starts, ends: ends, plans: plans, target: targetTask, keep: keepBuffer,
            out: out.baseAddress!, y: yOut.baseAddress!, width: width)
          // The halves, and the kept rows before the second.
          let split = threads >= 2 && rows >= max(parallelRows, 2) ? rows / 2 : rows
          if split < rows {
            var before = 0
            if let keepBuffer {
              for r in 0..<split where keepBuffer[r] { before += 1 }
            } else {
              before = split
            }
            let shared = UnsafeSendable((job, split, before))
            DispatchQueue.concurrentPerform(iterations: 2) { half in
              let (job, split, before) = shared.value
              if half == 0 {
                job.run(rows: 0..<split, compact: 0..<before)
              } else {
                job.run(rows: split..<rows, compact: before..<kept)
              }
            }
          } else {
            job.run(rows: 0..<rows, compact: 0..<kept)
          }
        }
      }
    }
    self.x = x
    self.y = y
  }

  /// One column's work, with everything a thread needs.
  enum ColumnTask {
    case numbers(list: Int, offset: Int, fill: Element, indicator: Bool)
    case texts(codes: [UInt32], categoryOf: [Int32], offset: Int, other: Int)
  }

  /// The shared state of the encoding threads: they write disjoint rows of the output and
  /// clear disjoint entries of the block lists.
  struct EncodeJob: @unchecked Sendable {
    let lists: [UnsafeMutableBufferPointer<CSVValues<Element>.Block?>]
    /// Per column, the first row of each block and the row past it (read, never the blocks
    /// themselves, outside a thread's rows: the other thread may be freeing them).
    let starts: [[Int]]
    let ends: [[Int]]
    let plans: [ColumnTask]
    let target: ColumnTask
    let keep: UnsafeBufferPointer<Bool>?
    let out: UnsafeMutablePointer<Element>
    let y: UnsafeMutablePointer<Element>
    let width: Int

    /// Encodes table rows `rows`, the kept ones to output rows `output` (in order); gives
    /// back the pages of the cells passed, and frees the blocks that lie within `rows` once
    /// they are passed.
    func run(rows: Range<Int>, compact output: Range<Int>) {
      let compactStart = output.lowerBound
      var cursors = [Int](repeating: 0, count: lists.count)
      var slots = [Int](repeating: 0, count: TrainingRows.tileRows)
      // The rows whose number cells have been given back to the system, per column.
      var released = [Int](repeating: rows.lowerBound, count: lists.count)
      var compact = compactStart
      var a = rows.lowerBound
      while a < rows.upperBound {
        let b = min(a + TrainingRows.tileRows, rows.upperBound)
        // The output row of each kept row of the tile (-1 for a dropped one).
        var count = 0
        if let keep {
          for r in a..<b {
            if keep[r] {
              slots[r - a] = count
              count += 1
            } else {
              slots[r - a] = -1
            }
          }
        } else {
          count = b - a
        }
        let tile = out + compact * width
        tile.update(repeating: 0, count: count * width)
        slots.withUnsafeBufferPointer { slots in
          for plan in plans {
            encode(plan, rows: a..<b, tile: tile, stride: width, slots: keep == nil ? nil : slots, cursors: &cursors)
          }
          encode(target, rows: a..<b, tile: y + compact, stride: 1, slots: keep == nil ? nil : slots, cursors: &cursors)
        }
        compact += count
        // The pages of the cells passed are given back as encoding goes (a block is freed
        // only once both threads are past it), and blocks wholly inside this thread's rows
        // are freed once passed.
        if b - released[0] >= TrainingRows.releaseRows || b == rows.upperBound {
          for k in lists.indices {
            release(list: k, rows: released[k]..<b)
            released[k] = b
          }
        }
        for k in lists.indices {
          var i = 0
          while i < lists[k].count, starts[k][i] < b {
            if starts[k][i] >= rows.lowerBound, ends[k][i] <= b, lists[k][i] != nil { lists[k][i] = nil }
            i += 1
          }
        }
        a = b
      }
    }

    /// Gives the pages that hold only cells of `rows` (rows of this thread's, already
    /// encoded) of column `list` back to the system; they read as zeros afterwards, and the
    /// blocks stay allocated until freed.
    private func release(list: Int, rows: Range<Int>) {
      #if canImport(Glibc) || canImport(Musl)
        let page = TrainingRows.pageSize
        guard page > 0 else { return }
        for c in starts[list].indices where starts[list][c] < rows.upperBound && ends[list][c] > rows.lowerBound {
          guard let block = lists[list][c] else { continue }
          let from = max(rows.lowerBound, starts[list][c]) - starts[list][c]
          let to = min(rows.upperBound, ends[list][c]) - starts[list][c]
          let first = (Int(bitPattern: block.base + from) + page - 1) / page * page
          let last = Int(bitPattern: block.base + to) / page * page
          if last > first {
            _ = madvise(UnsafeMutableRawPointer(bitPattern: first), last - first, MADV_DONTNEED)
          }
        }
      #endif
    }

    /// One column's inputs of table rows `rows` into `tile` (row i of the tile at
    /// `tile + i·stride`).
    @inline(__always)
    private func encode(
      _ plan: ColumnTask, rows: Range<Int>, tile: UnsafeMutablePointer<Element>, stride: Int,
      slots: UnsafeBufferPointer<Int>?, cursors: inout [Int]
    ) {
      switch plan {
      case .numbers(let list, let offset, let fill, let indicator):
        let blocks = lists[list]
        let blockStarts = starts[list]
        let blockEnds = ends[list]
        var r = rows.lowerBound
        while r < rows.upperBound {
          var c = cursors[list]
          while blockEnds[c] <= r { c += 1 }
          cursors[list] = c
          let start = blockStarts[c]
          let end = min(rows.upperBound, blockEnds[c])
          let values = blocks[c]!.base + (r - start)
          let base = rows.lowerBound
          if let slots {
            for i in 0..<(end - r) {
              let slot = slots[r - base + i]
              guard slot >= 0 else { continue }
              let value = values[i]
              let cell = tile + slot * stride + offset
              if value.isNaN {
                cell[0] = fill
                if indicator { cell[1] = 1 }
              } else {
                cell[0] = value
              }
            }
          } else {
            var cell = tile + (r - base) * stride + offset
            for i in 0..<(end - r) {
              let value = values[i]
              if value.isNaN {
                cell[0] = fill
                if indicator { cell[1] = 1 }
              } else {
                cell[0] = value
              }
              cell += stride
            }
          }
          r = end
        }
      case .texts(let codes, let categoryOf, let offset, let other):
        codes.withUnsafeBufferPointer { codes in
          categoryOf.withUnsafeBufferPointer { categoryOf in
            let base = rows.lowerBound
            for r in rows {
              let slot = slots.map { $0[r - base] } ?? (r - base)
              guard slot >= 0 else { continue }
              let code = codes[r]
              guard code != CSVColumn<Element>.missingCode else { continue }
              let k = Int(categoryOf[Int(code)])
              let cell = tile + slot * stride + offset
              if stride == 1 {
                cell[0] = Element(k)
              } else if k >= 0 {
                cell[k] = 1
              } else if other >= 0 {
                cell[other] = 1
              }
            }
          }
        }
      }
    }
  }

  /// Puts the rows of `x` and `targets` (one per row) in the order that the Fisher–Yates
  /// shuffle with `SeededGenerator(seed:)` gives an array of their indices (row i ends where
  /// index i ends), by making the same swaps in place: no index chain is followed, and no
  /// second copy is made.
  static func shuffle(
    _ x: inout Matrix<Element>, targets: inout [Element], seed: UInt64
  ) {
    let width = x.columns
    let count = x.rows
    precondition(targets.count == count)
    x.withUnsafeMutableBufferPointer { rows in
      targets.withUnsafeMutableBufferPointer { targets in
        var generator = SeededGenerator(seed: seed)
        // A second generator runs `lookahead` swaps ahead and reads one value of the row
        // that swap will take: the rows are far apart, and reading them early lets the
        // misses overlap instead of queueing one behind the other.
        let lookahead = 16
        var ahead = generator
        var aheadIndex = count - 1
        for _ in 0..<min(lookahead, max(count - 1, 0)) {
          _ = ahead.next()
          aheadIndex -= 1
        }
        var touched: UInt64 = 0
        var i = count - 1
        while i > 0 {
          if aheadIndex > 0 {
            let k = Int(ahead.next().multipliedFullWidth(by: UInt64(aheadIndex + 1)).high)
            touched &+= rows[k * width] == 0 ? 1 : 0
            aheadIndex -= 1
          }
          let j = Int(generator.next().multipliedFullWidth(by: UInt64(i + 1)).high)
          if j != i {
            let a = rows.baseAddress! + i * width
            let b = rows.baseAddress! + j * width
            for k in 0..<width {
              let t = a[k]
              a[k] = b[k]
              b[k] = t
            }
            targets.swapAt(i, j)
          }
          i -= 1
        }
        keep(touched)
      }
    }
  }

  /// Keeps the reads that compute `value` (they only warm the cache).
  @inline(never)
  private static func keep(_ value: UInt64) {}

  /// Returns the memory of `x`'s rows from `row` on to the system (they read as zeros
  /// afterwards), for a matrix about to be cut to `row` rows.
  static func releaseRows(of x: inout Matrix<Element>, from row: Int) {
    #if canImport(Glibc) || canImport(Musl)
      let page = Int(sysconf(Int32(_SC_PAGESIZE)))
      guard page > 0 else { return }
      let columns = x.columns
      x.withUnsafeMutableBufferPointer { buffer in
        let start = Int(bitPattern: buffer.baseAddress! + row * columns)
        let end = Int(bitPattern: buffer.baseAddress! + buffer.count)
        let first = (start + page - 1) / page * page
        let last = end / page * page
        if last > first {
          _ = madvise(UnsafeMutableRawPointer(bitPattern: first), last - first, MADV_DONTNEED)
        }
      }
    #endif
  }
}

extension Optional {
  /// Calls `body` with a buffer over the array's elements, or with nil.
  fileprivate func withUnsafeBufferPointerOrNil<T, R>(_ body: (UnsafeBufferPointer<T>?) throws -> R) rethrows -> R
  where Wrapped == [T] {
    guard let array = self else { return try body(nil) }
    return try array.withUnsafeBufferPointer { try body($0) }
  }
}
