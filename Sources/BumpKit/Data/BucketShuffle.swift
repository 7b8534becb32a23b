/// A seeded, uniformly random permutation of `rows` rows in two steps that each touch memory
/// in order: every row draws a bucket (in row order), the buckets are laid end to end (each
/// keeps its rows in their original order), and then each bucket is shuffled on its own by a
/// Fisher–Yates shuffle.
///
/// Random bucket labels followed by a uniform order inside each bucket give every
/// permutation the same probability (it is a sort by a random key with random tie-breaks).
/// Applied to a large row-major table, the first step writes into a few hundred sequential
/// streams and the second shuffles regions that fit in the cache, where one Fisher–Yates
/// over the whole table would miss the cache on almost every swap.
///
/// With fewer than 2 · ``bucketRows`` rows there is one bucket, and the permutation is the
/// plain Fisher–Yates shuffle of `Dataset.shuffled(seed:)` with the same seed.
package struct BucketShuffle: Sendable {
  /// The number of rows permuted.
  package let rows: Int
  /// The seed of the bucket draws and of the shuffles inside the buckets.
  package let seed: UInt64
  /// The number of buckets: ``bucketCount(rows:)``.
  package let buckets: Int

  /// The rows a bucket holds on average when there are several.
  package static var bucketRows: Int { 4096 }

  /// The most buckets: a bucket index fits in a byte.
  package static var maximumBuckets: Int { 256 }

  /// 1 below 2 · ``bucketRows`` rows, else ⌊rows / bucketRows⌋ up to ``maximumBuckets``: a
  /// function of the row count alone, so that the permutation does not depend on the
  /// machine or the number of threads.
  package static func bucketCount(rows: Int) -> Int {
    rows < 2 * bucketRows ? 1 : min(maximumBuckets, rows / bucketRows)
  }

  package init(rows: Int, seed: UInt64) {
    precondition(rows >= 0)
    self.rows = rows
    self.seed = seed
    buckets = Self.bucketCount(rows: rows)
  }

  /// The generator of the bucket draws: each row's bucket is ⌊g·buckets / 2⁶⁴⌋ for the
  /// generator's next output g, in row order (no draws with one bucket).
  @inlinable
  package var bucketGenerator: SeededGenerator { SeededGenerator(seed: seed) }

  /// The bucket of a row, given the next output of ``bucketGenerator``.
  @inlinable
  package func bucket(for draw: UInt64) -> Int {
    Int(draw.multipliedFullWidth(by: UInt64(buckets)).high)
  }

  /// The generator of bucket `bucket`'s Fisher–Yates shuffle: the seed itself with one
  /// bucket, else a seed mixed from it and the bucket's index (independent streams).
  @inlinable
  package func generator(bucket: Int) -> SeededGenerator {
    guard buckets > 1 else { return SeededGenerator(seed: seed) }
    var mixer = SeededGenerator(seed: seed ^ (UInt64(bucket + 1) &* 0xD1B5_4A32_D192_ED03))
    return SeededGenerator(seed: mixer.next())
  }

  /// Shuffles the `count` rows of bucket `bucket` (its positions 0..<count) by calling
  /// `swap(i, j)` for the Fisher–Yates swaps: for i from count − 1 down to 1, j =
  /// ⌊g·(i + 1) / 2⁶⁴⌋ (a call with i == j is skipped).
  @inlinable
  package func shuffle(bucket: Int, count: Int, _ swap: (Int, Int) -> Void) {
    var generator = generator(bucket: bucket)
    var i = count - 1
    while i > 0 {
      let j = Int(generator.next().multipliedFullWidth(by: UInt64(i + 1)).high)
      if j != i { swap(i, j) }
      i -= 1
    }
  }

  /// The permutation as a list: the row at each position.
  package func order() -> [Int] {
    var members = [[Int]](repeating: [], count: buckets)
    if buckets == 1 {
      members[0] = Array(0..<rows)
    } else {
      var generator = bucketGenerator
      for r in 0..<rows { members[bucket(for: generator.next())].append(r) }
    }
    var order: [Int] = []
    order.reserveCapacity(rows)
    for b in 0..<buckets {
      var part = members[b]
      shuffle(bucket: b, count: part.count) { part.swapAt($0, $1) }
      order += part
    }
    return order
  }
}
