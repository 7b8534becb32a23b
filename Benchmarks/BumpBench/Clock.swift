#if canImport(Glibc)
import Glibc
#endif

/// Monotonic wall-clock time in nanoseconds.
func nanoseconds() -> UInt64 {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Timings of repeated runs of one measurement.
struct Timing {
  var samples: [Double]  // seconds per run

  var median: Double {
    let s = samples.sorted()
    let n = s.count
    return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
  }
  var min: Double { samples.min() ?? .nan }
}

/// Runs `body` once to warm up, then repeatedly: at least `minRuns` times and until
/// `minSeconds` have passed (capped at `maxRuns`).
func measure(minRuns: Int, maxRuns: Int = 1000, minSeconds: Double, _ body: () -> Void) -> Timing {
  body()
  var samples: [Double] = []
  let start = nanoseconds()
  while samples.count < minRuns
    || (Double(nanoseconds() - start) * 1e-9 < minSeconds && samples.count < maxRuns)
  {
    let t0 = nanoseconds()
    body()
    samples.append(Double(nanoseconds() - t0) * 1e-9)
  }
  return Timing(samples: samples)
}
