import BumpKit
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The model inputs and targets of a table's kept rows, encoded with a ``ColumnPlan`` and
/// standardised as they are written, in the seeded shuffled order of a ``BucketShuffle``.
///
/// The table is read in file order, column by column a tile of rows at a time, and every row
/// is written to the next free row of its bucket (a few hundred sequential streams); the
/// table's number blocks are freed as they are passed, so that the table and the matrix are
/// not both whole at any time. Then each bucket, small enough to stay in the cache, is
/// shuffled in place (``shuffleBuckets(_:targets:shuffle:starts:threads:)``).
struct TrainingRows<Element: MatrixScalar> {
  /// The inputs, one row per kept table row.
  var x: Matrix<Element>
  /// The targets, one per row of ``x``.
  var y: [Element]

  /// How one used feature column is encoded: its inputs are written standardised,
  /// `Element((Double(v) − mean) / deviation)` for each input value v, the formula of
  /// `Standardization.apply(to:)` (with mean 0 and deviation 1 they are written as they are).
  enum Source {
    /// Numbers in blocks (each freed once encoded); a missing cell takes `fill`, and with an
    /// indicator (`indicator`: its standardised 0 and 1) the next input says whether it was
    /// missing; with `edges`, the inputs after those are the piecewise-linear encoding of the
    /// value (or of `fill`), not standardised.
    case numbers(
      CSVValues<Element>, fill: Element, mean: Double, deviation: Double,
      indicator: (zero: Element, one: Element)?, edges: [Double]? = nil)
    /// Text codes; `categoryOf` maps a code to its input within the feature (or -1), `other`
    /// is the input that takes the rest (-1 for none); `zeros` and `ones` are each input's
    /// standardised 0 and 1.
    case texts(codes: [UInt32], categoryOf: [Int32], other: Int, zeros: [Element], ones: [Element])
  }

  /// How the targets are read.
  enum Target {
    /// A regression target's numbers (each block freed once read).
    case numbers(CSVValues<Element>)
    /// A class target's codes, and the class of each code.
    case classes(codes: [UInt32], classOf: [Int32])
  }

  /// Where the rows go: each kept row's bucket, in file order, and where the buckets start.
  struct Placement {
    /// Per table row, its bucket (a dropped row's entry is not read).
    var bucketOf: [UInt8]
    /// Per bucket, its first output row; one more entry, the number of kept rows.
    var starts: [Int]
    /// Per bucket, its kept rows among the first ``halfRows`` table rows.
    var firstHalf: [Int]
    /// The table rows of the first half (the rows the first of two threads encodes).
    var halfRows: Int

    /// The buckets of the `rows` table rows whose `keep` flag is set (all when nil), drawn
    /// in file order by `shuffle` (whose row count is the number kept).
    init(rows: Int, keep: [Bool]?, shuffle: BucketShuffle) {
      let buckets = shuffle.buckets
      bucketOf = [UInt8](repeating: 0, count: rows)
      var counts = [Int](repeating: 0, count: buckets)
      firstHalf = [Int](repeating: 0, count: buckets)
      halfRows = rows / 2
      var generator = shuffle.bucketGenerator
      for r in 0..<rows where keep?[r] ?? true {
        let b = buckets == 1 ? 0 : shuffle.bucket(for: generator.next())
        bucketOf[r] = UInt8(b)
        counts[b] += 1
        if r < halfRows { firstHalf[b] += 1 }
      }
      starts = [0]
      for b in 0..<buckets { starts.append(starts[b] + counts[b]) }
    }

    /// Per table row, whether it lands before output row `cut` once the buckets are shuffled
    /// (false for dropped rows): whole buckets, and in the one that `cut` divides, its rows'
    /// places after its shuffle.
    func before(_ cut: Int, rows: Int, keep: [Bool]?, shuffle: BucketShuffle) -> [Bool] {
      var flags = [Bool](repeating: false, count: rows)
      let divided = (0..<shuffle.buckets).first { starts[$0] < cut && cut < starts[$0 + 1] }
      var members: [Int] = []
      for r in 0..<rows where keep?[r] ?? true {
        let b = Int(bucketOf[r])
        if b == divided {
          members.append(r)
        } else {
          flags[r] = starts[b + 1] <= cut
        }
      }
      if let divided {
        shuffle.shuffle(bucket: divided, count: members.count) { members.swapAt($0, $1) }
        for (place, r) in members.enumerated() { flags[r] = starts[divided] + place < cut }
      }
      return flags
    }
  }

  /// The rows of a table per tile: the tile's rows of every column are encoded while the
  /// tile (`tileRows` × inputs) stays in the cache.
  static var tileRows: Int { 1024 }

  /// The rows between two releases of the pages of the cells encoded. Each release is a
  /// `madvise` per column, and each of those interrupts the other processor to flush its
  /// address translations: rarer releases cost fewer interrupts, and hold at most this many
  /// rows' cells per thread more at the peak (5 MB for 20 `Float` inputs).
  static var releaseRows: Int { 1 << 16 }

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

  /// Encodes the `rows` table rows whose `keep` flag is set (all when `keep` is nil), each to
  /// the next row of its bucket in `placement`: input offsets `offsets` (one per source),
  /// `width` inputs a row; with `threads` 2 and at least `parallelRows` rows, each half of
  /// the rows by its own thread (the same result). The rows are in their buckets, each
  /// bucket in file order: ``shuffleBuckets(_:targets:shuffle:starts:threads:)`` finishes
  /// the shuffle.
  ///
  /// The sources' and the target's number blocks are taken and freed as encoding passes them.
  init(
    rows: Int, keep: [Bool]?, placement: Placement, sources: inout [Source], offsets: [Int], width: Int,
    target: inout Target, threads: Int, parallelRows: Int = Self.parallelRows
  ) {
    let kept = placement.starts.last ?? 0
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
      case .numbers(var values, let fill, let mean, let deviation, let indicator, let edges):
        sources[f] = .numbers(CSVValues(), fill: fill, mean: mean, deviation: deviation, indicator: indicator)
        let standardized = mean != 0 || deviation != 1
        let fillInput = standardized ? Element((Double(fill) - mean) / deviation) : fill
        plans.append(
          .numbers(
            list: addNumbers(&values), offset: offsets[f], fill: fillInput, mean: mean, deviation: deviation,
            standardized: standardized, indicator: indicator,
            pieces: edges.map { (edges: $0, fill: Double(fill)) }))
      case .texts(let codes, let categoryOf, let other, let zeros, let ones):
        plans.append(
          .texts(codes: codes, categoryOf: categoryOf, offset: offsets[f], other: other, zeros: zeros, ones: ones))
      }
    }
    var targetTask: ColumnTask
    switch target {
    case .numbers(var values):
      target = .numbers(CSVValues())
      targetTask = .numbers(
        list: addNumbers(&values), offset: 0, fill: .nan, mean: 0, deviation: 1, standardized: false, indicator: nil,
        pieces: nil)
    case .classes(let codes, let classOf):
      targetTask = .classes(codes: codes, classOf: classOf)
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
          placement.bucketOf.withUnsafeBufferPointer { bucketOf in
            let job = EncodeJob(
              lists: lists, starts: starts, ends: ends, plans: plans, target: targetTask, keep: keepBuffer,
              bucketOf: bucketOf, out: out.baseAddress!, y: yOut.baseAddress!, width: width)
            // The halves, and where the second one's rows start in each bucket.
            let split = threads >= 2 && rows >= max(parallelRows, 2) ? placement.halfRows : rows
            if split < rows {
              let second = zip(placement.starts, placement.firstHalf).map { $0 + $1 }
              let shared = UnsafeSendable((job, split, placement.starts, second))
              DispatchQueue.concurrentPerform(iterations: 2) { half in
                let (job, split, first, second) = shared.value
                if half == 0 {
                  job.run(rows: 0..<split, cursors: first)
                } else {
                  job.run(rows: split..<rows, cursors: second)
                }
              }
            } else {
              job.run(rows: 0..<rows, cursors: placement.starts)
            }
          }
        }
      }
    }
    self.x = x
    self.y = y
  }

  /// One column's work, with everything a thread needs.
  enum ColumnTask {
    case numbers(
      list: Int, offset: Int, fill: Element, mean: Double, deviation: Double, standardized: Bool,
      indicator: (zero: Element, one: Element)?, pieces: (edges: [Double], fill: Double)?)
    case texts(codes: [UInt32], categoryOf: [Int32], offset: Int, other: Int, zeros: [Element], ones: [Element])
    case classes(codes: [UInt32], classOf: [Int32])
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
    let bucketOf: UnsafeBufferPointer<UInt8>
    let out: UnsafeMutablePointer<Element>
    let y: UnsafeMutablePointer<Element>
    let width: Int

    /// Encodes table rows `rows`, each kept one to the next row of its bucket (`cursors`:
    /// per bucket, the output row the first of them goes to); gives back the pages of the
    /// cells passed, and frees the blocks that lie within `rows` once they are passed.
    func run(rows: Range<Int>, cursors: [Int]) {
      var next = cursors
      var blockCursors = [Int](repeating: 0, count: lists.count)
      var slots = [Int](repeating: 0, count: TrainingRows.tileRows)
      // The rows whose number cells have been given back to the system, per column.
      var released = [Int](repeating: rows.lowerBound, count: lists.count)
      var a = rows.lowerBound
      while a < rows.upperBound {
        let b = min(a + TrainingRows.tileRows, rows.upperBound)
        // The output row of each row of the tile (-1 for a dropped one).
        next.withUnsafeMutableBufferPointer { next in
          if let keep {
            for r in a..<b {
              if keep[r] {
                let bucket = Int(bucketOf[r])
                slots[r - a] = next[bucket]
                next[bucket] += 1
              } else {
                slots[r - a] = -1
              }
            }
          } else {
            for r in a..<b {
              let bucket = Int(bucketOf[r])
              slots[r - a] = next[bucket]
              next[bucket] += 1
            }
          }
        }
        slots.withUnsafeBufferPointer { slots in
          for plan in plans {
            encode(plan, rows: a..<b, into: out, stride: width, slots: slots, cursors: &blockCursors)
          }
          encode(target, rows: a..<b, into: y, stride: 1, slots: slots, cursors: &blockCursors)
        }
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

    /// One column's inputs of table rows `rows`: row r's at `output + slots[r − rows.lowerBound]·stride`
    /// (none for a slot of -1).
    @inline(__always)
    private func encode(
      _ plan: ColumnTask, rows: Range<Int>, into output: UnsafeMutablePointer<Element>, stride: Int,
      slots: UnsafeBufferPointer<Int>, cursors: inout [Int]
    ) {
      let base = rows.lowerBound
      switch plan {
      case .numbers(let list, let offset, let fill, let mean, let deviation, let standardized, let indicator, let pieces):
        let piecesOffset = indicator == nil ? 1 : 2
        let blocks = lists[list]
        let blockStarts = starts[list]
        let blockEnds = ends[list]
        var r = rows.lowerBound
        while r < rows.upperBound {
          var c = cursors[list]
          while blockEnds[c] <= r { c += 1 }
          cursors[list] = c
          let end = min(rows.upperBound, blockEnds[c])
          let values = blocks[c]!.base + (r - blockStarts[c])
          for i in 0..<(end - r) {
            let slot = slots[r - base + i]
            guard slot >= 0 else { continue }
            let value = values[i]
            let cell = output + slot * stride + offset
            let missing = value.isNaN
            if missing {
              cell[0] = fill
            } else if standardized {
              cell[0] = Element((Double(value) - mean) / deviation)
            } else {
              cell[0] = value
            }
            if let indicator { cell[1] = missing ? indicator.one : indicator.zero }
            if let pieces {
              pieces.edges.withUnsafeBufferPointer { edges in
                ColumnPlan.piecewiseLinear(
                  missing ? pieces.fill : Double(value), edges: edges, into: cell + piecesOffset, stride: 1)
              }
            }
          }
          r = end
        }
      case .texts(let codes, let categoryOf, let offset, let other, let zeros, let ones):
        codes.withUnsafeBufferPointer { codes in
          categoryOf.withUnsafeBufferPointer { categoryOf in
            zeros.withUnsafeBufferPointer { zeros in
              ones.withUnsafeBufferPointer { ones in
                for r in rows {
                  let slot = slots[r - base]
                  guard slot >= 0 else { continue }
                  let cell = output + slot * stride + offset
                  cell.update(from: zeros.baseAddress!, count: zeros.count)
                  let code = codes[r]
                  guard code != CSVColumn<Element>.missingCode else { continue }
                  let k = Int(categoryOf[Int(code)])
                  let input = k >= 0 ? k : other
                  if input >= 0 { cell[input] = ones[input] }
                }
              }
            }
          }
        }
      case .classes(let codes, let classOf):
        for r in rows {
          let slot = slots[r - base]
          guard slot >= 0 else { continue }
          output[slot * stride] = Element(Int(classOf[Int(codes[r])]))
        }
      }
    }
  }

  /// Shuffles each bucket of rows of `x` and `targets` (bucket b holds rows
  /// `starts[b]..<starts[b + 1]`, in file order) in place by `shuffle`'s Fisher–Yates swaps
  /// for it: the rows are then in the order of `shuffle.order()`. With `threads` 2 each half
  /// of the buckets is shuffled by its own thread (the same result).
  ///
  /// - Returns: a copy of the rows from `cut` on and their targets (made bucket by bucket
  ///   while each is in the cache), or nil when `cut` is the number of rows.
  static func shuffleBuckets(
    _ x: inout Matrix<Element>, targets: inout [Element], shuffle: BucketShuffle, starts: [Int], threads: Int,
    copyingFrom cut: Int
  ) -> (x: Matrix<Element>, y: [Element])? {
    let width = x.columns
    let count = x.rows
    precondition(targets.count == count && starts.count == shuffle.buckets + 1 && (0...count).contains(cut))
    var copy = cut < count ? [Element](repeating: 0, count: count - cut) : []
    let copyX = Matrix<Element>(validRows: count - cut, columns: width) { part in
      x.withUnsafeMutableBufferPointer { rows in
        targets.withUnsafeMutableBufferPointer { targets in
          copy.withUnsafeMutableBufferPointer { copyY in
            let shared = UnsafeSendable(
              (rows.baseAddress!, targets.baseAddress!, part.baseAddress, copyY.baseAddress, starts, shuffle, width, cut))
            @Sendable func run(_ buckets: Range<Int>) {
              let (rows, targets, partX, partY, starts, shuffle, width, cut) = shared.value
              for b in buckets {
                let first = starts[b]
                let end = starts[b + 1]
                // The bucket, written long ago, is read once in order first: the swaps
                // then find its rows in the cache instead of waiting for memory at random.
                touch(rows + first * width, count: (end - first) * width)
                shuffle.shuffle(bucket: b, count: end - first) { i, j in
                  let a = rows + (first + i) * width
                  let b = rows + (first + j) * width
                  for k in 0..<width {
                    let t = a[k]
                    a[k] = b[k]
                    b[k] = t
                  }
                  let t = targets[first + i]
                  targets[first + i] = targets[first + j]
                  targets[first + j] = t
                }
                let from = max(first, cut)
                if from < end, let partX, let partY {
                  (partX + (from - cut) * width).update(from: rows + from * width, count: (end - from) * width)
                  (partY + (from - cut)).update(from: targets + from, count: end - from)
                }
              }
            }
            let buckets = shuffle.buckets
            if threads >= 2 && buckets >= 2 {
              DispatchQueue.concurrentPerform(iterations: 2) { half in
                run(half == 0 ? 0..<buckets / 2 : buckets / 2..<buckets)
              }
            } else {
              run(0..<buckets)
            }
          }
        }
      }
    }
    return cut < count ? (copyX, copy) : nil
  }

  /// Reads the cache lines of `count` elements at `base` in order (a relaxed atomic store
  /// of what was read keeps the reads).
  private static func touch(_ base: UnsafeMutablePointer<Element>, count: Int) {
    let step = max(1, 64 / MemoryLayout<Element>.stride)
    let bytes = UnsafeRawPointer(base)
    var sum: UInt8 = 0
    var k = 0
    while k < count {
      sum &+= bytes.load(fromByteOffset: k * MemoryLayout<Element>.stride, as: UInt8.self)
      k += step
    }
    touchedBytes.store(sum, ordering: .relaxed)
  }

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

/// Where `TrainingRows.touch(_:count:)` leaves what it read.
private let touchedBytes = Atomic<UInt8>(0)
