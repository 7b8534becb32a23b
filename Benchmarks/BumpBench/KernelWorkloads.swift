import BumpKit
import Dispatch

/// Deterministic inputs: x spread over [−1.5, 1.5] and σ over [0.5, 2], so that about
/// two thirds of the elements fall inside the support — both branches are exercised.
struct KernelInputs<S: KernelScalar> {
  let rows: Int, columns: Int
  var x: [S]
  var sigma: [S]
  var upstream: [S]
  // The written buffers are 64-byte aligned, as the library's matrices are (the layers
  // pass those to the kernels): a Swift array's elements start 32 bytes into its storage.
  let output: AlignedBuffer<S>
  let inputGradient: AlignedBuffer<S>
  var sigmaGradient: [S]
  let workspace = KernelWorkspace()

  init(rows: Int, columns: Int) {
    self.rows = rows
    self.columns = columns
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next() -> Double {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return Double((z ^ (z >> 31)) >> 11) * 0x1p-53
    }
    let n = rows * columns
    x = (0..<n).map { _ in S(next() * 3 - 1.5) }
    upstream = (0..<n).map { _ in S(next() * 2 - 1) }
    sigma = (0..<columns).map { _ in S(0.5 + 1.5 * next()) }
    output = AlignedBuffer(count: n)
    inputGradient = AlignedBuffer(count: n)
    sigmaGradient = [S](repeating: 0, count: columns)
  }

  /// The forward pass; with `caching`, the output also serves as the cache of f for the
  /// backward pass (−0 outside the support), as a layer without an amplitude keeps it in
  /// training.
  mutating func forward(_ options: KernelOptions, caching: Bool = false) {
    let (r, c, ws) = (rows, columns, workspace)
    x.withUnsafeBufferPointer { x in
      sigma.withUnsafeBufferPointer { s in
        do {
          let o = output.buffer
          BumpKernel.forward(
            input: x, rows: r, columns: c, sigma: .perUnit(s), output: o,
            cache: caching ? o : nil, options: options, workspace: ws)
        }
      }
    }
  }

  /// Reads x and writes y, the bytes the forward pass moves: the memory floor of a kernel,
  /// split into `threads` contiguous parts.
  mutating func copy(threads: Int) {
    let n = x.count
    x.withUnsafeBufferPointer { x in
      do {
        let y = output.buffer
        let (source, destination) = (UncheckedPointer(x.baseAddress!), UncheckedPointer(y.baseAddress!))
        if threads <= 1 {
          destination.value.update(from: source.value, count: n)
          return
        }
        DispatchQueue.concurrentPerform(iterations: threads) { part in
          let lo = n * part / threads, hi = n * (part + 1) / threads
          (destination.value + lo).update(from: source.value + lo, count: hi - lo)
        }
      }
    }
  }

  mutating func backward(_ options: KernelOptions) {
    let (r, c, ws) = (rows, columns, workspace)
    x.withUnsafeBufferPointer { x in
      sigma.withUnsafeBufferPointer { s in
        upstream.withUnsafeBufferPointer { g in
          do {
            let dx = inputGradient.buffer
            sigmaGradient.withUnsafeMutableBufferPointer { ds in
              do {
                let f = UnsafeBufferPointer(output.buffer)
                BumpKernel.backward(
                  input: x, upstream: g, rows: r, columns: c, sigma: .perUnit(s), cache: f,
                  inputGradient: dx, sigmaGradient: ds, options: options, workspace: ws)
              }
            }
          }
        }
      }
    }
  }
}

/// Forward and forward + backward for every implementation, precision and thread count.
func kernelRecords<S: KernelScalar>(
  _: S.Type, shapes: [(Int, Int)], threads: [Int], quick: Bool,
  nonTemporalBytes: Int = KernelOptions.defaultNonTemporalStoreBytes, filter: (String) -> Bool
) -> [Record] {
  var records: [Record] = []
  let precision = S.self == Float.self ? "float" : "double"
  let implementations: [KernelImplementation] =
    [.scalarReference] + S.supportedSIMDWidths.map { .simd(width: $0) }
  for (rows, columns) in shapes {
    // Made for the first row the filter accepts: a filtered run does not pay for the inputs
    // of shapes it skips.
    var inputs: KernelInputs<S>?
    let elements = Double(rows * columns)
    for t in threads {
      let name = "copy \(precision) \(t)t \(rows)x\(columns)"
      guard filter(name) else { continue }
      if inputs == nil { inputs = KernelInputs<S>(rows: rows, columns: columns) }
      let timing = measure(minRuns: quick ? 3 : 7, minSeconds: quick ? 0.05 : 0.3) { inputs!.copy(threads: t) }
      records.append(
        Record(
          workload: "copy", implementation: "memcpy", precision: precision, threads: t,
          shape: [rows, columns], unit: "ns/element", median: timing.median / elements * 1e9,
          min: timing.min / elements * 1e9, speedup: nil, runs: timing.samples.count))
    }
    for workload in ["forward", "forward+backward"] {
      for t in threads {
        var baseline: Double?
        for implementation in implementations {
          let name = "\(workload) \(implementation) \(precision) \(t)t \(rows)x\(columns)"
          guard filter(name) else { continue }
          if inputs == nil { inputs = KernelInputs<S>(rows: rows, columns: columns) }
          var options = KernelOptions(implementation: implementation, threads: t)
          options.nonTemporalStoreBytes = nonTemporalBytes
          let minSeconds = quick ? 0.05 : (implementation == .scalarReference ? 0.3 : 0.5)
          // forward+backward is what a training step runs: forward caching f (in the
          // output), then backward reading it.
          let both = workload == "forward+backward"
          let timing = measure(minRuns: quick ? 3 : 7, minSeconds: minSeconds) {
            inputs!.forward(options, caching: both)
            if both { inputs!.backward(options) }
          }
          let median = timing.median / elements * 1e9
          if implementation == .scalarReference { baseline = median }
          records.append(
            Record(
              workload: workload, implementation: implementation.description,
              precision: precision, threads: t, shape: [rows, columns], unit: "ns/element",
              median: median, min: timing.min / elements * 1e9,
              speedup: baseline.map { $0 / median }, runs: timing.samples.count,
              extra: streamingExtra(implementation, bytes: rows * columns * MemoryLayout<S>.stride, threshold: nonTemporalBytes)))
        }
      }
    }
  }
  return records
}

/// For a SIMD row whose output is large enough that the library's default, or the run's
/// `--non-temporal-bytes`, streams it: whether this run wrote it with non-temporal stores
/// (1) or ordinary ones (0). Nil for other rows.
func streamingExtra(_ implementation: KernelImplementation, bytes: Int, threshold: Int) -> [String: Extra]? {
  guard case .simd = implementation, bytes >= min(threshold, KernelOptions.defaultNonTemporalStoreBytes) else { return nil }
  #if arch(x86_64)
  let streamed = bytes >= threshold
  #else
  let streamed = false
  #endif
  return ["non_temporal_stores": .number(streamed ? 1 : 0)]
}

/// Zero-filled memory for `count` values, aligned to 64 bytes.
final class AlignedBuffer<S: KernelScalar> {
  let buffer: UnsafeMutableBufferPointer<S>

  init(count: Int) {
    let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * MemoryLayout<S>.stride, alignment: 64)
    buffer = UnsafeMutableBufferPointer(start: raw.initializeMemory(as: S.self, repeating: 0, count: count), count: count)
  }

  deinit { buffer.baseAddress.map { UnsafeMutableRawPointer($0).deallocate() } }
}

/// A pointer handed to concurrent workers that write disjoint parts of its memory.
struct UncheckedPointer<T>: @unchecked Sendable {
  let value: UnsafeMutablePointer<T>
  init(_ value: UnsafeMutablePointer<T>) { self.value = value }
  init(_ value: UnsafePointer<T>) { self.value = UnsafeMutablePointer(mutating: value) }
}
