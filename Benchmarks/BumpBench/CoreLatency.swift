import Foundation
import Synchronization

/// The time two threads take to pass a flag to each other and back, spinning: a cache line
/// crossing between their cores twice. On a virtual machine the two vCPUs may sit on cores
/// that share a cache (tens of nanoseconds) or on cores apart (several times that), and the
/// host may move them while a benchmark runs. A multi-threaded training step hands work and
/// data between its threads every step (the shards' passes, the reduction, the optimizer,
/// the next forward pass reading parameters the other thread updated), so its samples/s
/// follow this figure where single-threaded work does not: the benchmark prints it beside
/// each multi-threaded training run.
enum CoreLatency {
  private final class Flag: Sendable {
    let value = Atomic<Int>(0)
  }

  /// The median over `repeats` measurements of `trips` round trips, in nanoseconds; nil on a
  /// machine with one online processor, where two spinning threads would take turns.
  static func roundTripNanoseconds(trips: Int = 50_000, repeats: Int = 3) -> Double? {
    guard ProcessInfo.processInfo.activeProcessorCount > 1 else { return nil }
    var results: [Double] = []
    for _ in 0..<repeats {
      let flag = Flag()
      let done = DispatchSemaphore(value: 0)
      let partner = Thread {
        for _ in 0..<trips {
          while flag.value.load(ordering: .acquiring) != 1 {}
          flag.value.store(0, ordering: .releasing)
        }
        done.signal()
      }
      partner.start()
      let clock = ContinuousClock()
      let start = clock.now
      for _ in 0..<trips {
        flag.value.store(1, ordering: .releasing)
        while flag.value.load(ordering: .acquiring) != 0 {}
      }
      let elapsed = clock.now - start
      done.wait()
      let (seconds, attoseconds) = elapsed.components
      results.append((Double(seconds) + Double(attoseconds) * 1e-18) / Double(trips) * 1e9)
    }
    return results.sorted()[results.count / 2]
  }
}
