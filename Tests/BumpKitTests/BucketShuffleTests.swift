import BumpKit
import Testing

/// ``BucketShuffle``: the permutation `bump train` puts a file's rows in before the
/// validation split.
@Suite struct BucketShuffleTests {
  /// One bucket below 8192 rows, then one per 4096 rows up to 256.
  @Test func theBucketCountDependsOnTheRowsAlone() {
    #expect(BucketShuffle.bucketCount(rows: 0) == 1)
    #expect(BucketShuffle.bucketCount(rows: 8191) == 1)
    #expect(BucketShuffle.bucketCount(rows: 8192) == 2)
    #expect(BucketShuffle.bucketCount(rows: 1_000_000) == 244)
    #expect(BucketShuffle.bucketCount(rows: 2_000_000) == 256)
  }

  /// With one bucket it is the Fisher–Yates shuffle of `Dataset.shuffled(seed:)`.
  @Test(arguments: [0, 1, 2, 3, 100, 8191])
  func oneBucketIsTheDatasetShuffle(rows: Int) throws {
    guard rows > 0 else {
      #expect(BucketShuffle(rows: 0, seed: 5).order().isEmpty)
      return
    }
    let data = try Dataset<Double>(
      x: try Matrix(rows: rows, columns: 1, elements: (0..<rows).map(Double.init)),
      y: try Matrix(rows: rows, columns: 1, elements: [Double](repeating: 0, count: rows)))
    let shuffled = data.shuffled(seed: 5)
    #expect(BucketShuffle(rows: rows, seed: 5).order() == (0..<rows).map { Int(shuffled.x[$0, 0]) })
  }

  /// The order is pinned (a file's split must not change between versions); these values
  /// also come out of the Python copy in the sklearn comparison script.
  @Test func theOrderIsPinned() {
    let order = BucketShuffle(rows: 10_000, seed: 7).order()
    #expect(Array(order.prefix(6)) == [5193, 8565, 7215, 9164, 5878, 284])
    #expect(Array(order.suffix(3)) == [6269, 9640, 7597])
    #expect(order.enumerated().reduce(0) { ($0 + $1.offset * $1.element) % 1_000_003 } == 708_712)
    #expect(Array(BucketShuffle(rows: 300, seed: 7).order().prefix(6)) == [168, 279, 93, 145, 25, 202])
  }

  /// Every row once; the same seed the same order, another seed another.
  @Test(arguments: [8192, 50_000])
  func itIsADeterministicPermutation(rows: Int) {
    let order = BucketShuffle(rows: rows, seed: 11).order()
    #expect(order.sorted() == Array(0..<rows))
    #expect(order == BucketShuffle(rows: rows, seed: 11).order())
    #expect(order != BucketShuffle(rows: rows, seed: 12).order())
  }

  /// Where a row lands is uniform over the positions: the tenth of the order that the first,
  /// a middle and the last row land in, over 400 seeds, passes a χ² test (9 degrees of
  /// freedom; 45 is exceeded by chance once in 10⁶).
  @Test func positionsAreUniform() {
    let rows = 3 * 4096
    let watched = [0, rows / 2, rows - 1]
    var counts = [[Int]](repeating: [Int](repeating: 0, count: 10), count: watched.count)
    // Also: the share of the first half of the rows that lands in the first half.
    var firstHalfShare = 0.0
    let seeds = 400
    for seed in 0..<UInt64(seeds) {
      let order = BucketShuffle(rows: rows, seed: seed &* 7919).order()
      var position = [Int](repeating: 0, count: rows)
      for (p, r) in order.enumerated() { position[r] = p }
      for (k, r) in watched.enumerated() { counts[k][position[r] * 10 / rows] += 1 }
      firstHalfShare += Double(order[..<(rows / 2)].filter { $0 < rows / 2 }.count) / Double(rows / 2)
    }
    let expected = Double(seeds) / 10
    for (k, histogram) in counts.enumerated() {
      let chi2 = histogram.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
      #expect(chi2 < 45, "row \(watched[k]): \(histogram)")
    }
    // Mean 0.5, standard deviation about 0.0045 per seed, so about 0.00023 over 400 seeds.
    #expect(abs(firstHalfShare / Double(seeds) - 0.5) < 0.002)
  }
}
