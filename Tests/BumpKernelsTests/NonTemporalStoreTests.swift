import BumpKernels
import Testing
import BumpTestSupport

/// Large outputs are written with non-temporal stores (``KernelOptions/nonTemporalStoreBytes``):
/// a row then starts with a shorter vector up to the first aligned address of its output, and
/// whole vectors at aligned addresses bypass the caches. None of that may change a bit: every
/// buffer written, with streaming forced on (threshold 0), must equal the same call with it
/// off (threshold `Int.max`), for every SIMD width, buffers at every offset from a vector
/// boundary, ragged widths, a separate cache and one in the output's memory, dL/dx over the
/// upstream buffer, and several threads writing their rows at once.
@Suite("Non-temporal stores")
struct NonTemporalStoreTests {
  /// `count` values in memory aligned to 128 bytes and then moved `offset` elements on, so
  /// that the buffer starts `offset` elements past a vector boundary of any width.
  final class Placed<S: KernelScalar> {
    let raw: UnsafeMutableRawPointer
    let buffer: UnsafeMutableBufferPointer<S>

    init(_ values: [S], offset: Int) {
      raw = .allocate(byteCount: (values.count + offset + 1) * MemoryLayout<S>.stride, alignment: 128)
      let start = raw.bindMemory(to: S.self, capacity: values.count + offset + 1) + offset
      start.initialize(from: values, count: values.count)
      buffer = UnsafeMutableBufferPointer(start: start, count: values.count)
    }

    var values: [S] { Array(buffer) }
    deinit { raw.deallocate() }
  }

  /// Every buffer one forward and one backward call write.
  struct Written<S: KernelScalar> {
    var output: [S], cache: [S]?, counts: [Int]
    var inputGradient: [S], sigma: [S], center: [S]?, amplitude: [S]?
  }

  static func run<S: TestScalar>(
    _ p: Problem<S>, upstream: [S], offset: Int, cacheInOutput: Bool, inPlace: Bool,
    streaming: Bool, width: Int, threads: Int
  ) -> Written<S> {
    var options = KernelOptions(implementation: .simd(width: width), threads: threads)
    options.nonTemporalStoreBytes = streaming ? 0 : .max
    let n = p.rows * p.columns
    let x = Placed(p.x, offset: offset)
    let output = Placed([S](repeating: .nan, count: n), offset: offset)
    // A separate cache sits one element further on, so that its vectors are not aligned
    // where the output's are.
    let cache = cacheInOutput ? nil : Placed([S](repeating: .nan, count: n), offset: offset + 1)
    let g = Placed(upstream, offset: offset)
    let dx = inPlace ? g : Placed([S](repeating: .nan, count: n), offset: (offset + 3) % 16)
    var counts = [Int](repeating: -1, count: p.columns)
    let gradientCount = { (q: Param<S>) in q.isPerUnit ? p.columns : 1 }
    var ds = [S](repeating: .nan, count: gradientCount(p.sigma))
    var dc: [S]? = p.center.map { [S](repeating: .nan, count: gradientCount($0)) }
    var da: [S]? = p.amplitude.map { [S](repeating: .nan, count: gradientCount($0)) }
    withParameter(p.sigma) { s in
      withParameter(p.center) { c in
        withParameter(p.amplitude) { a in
          counts.withUnsafeMutableBufferPointer { counts in
            BumpKernel.forward(
              input: UnsafeBufferPointer(x.buffer), rows: p.rows, columns: p.columns, sigma: s!,
              center: c, amplitude: a, output: output.buffer,
              cache: cacheInOutput ? output.buffer : cache!.buffer, supportCounts: counts,
              options: options)
          }
          ds.withUnsafeMutableBufferPointer { ds in
            withOptionalMutable(&dc) { dc in
              withOptionalMutable(&da) { da in
                BumpKernel.backward(
                  input: UnsafeBufferPointer(x.buffer), upstream: UnsafeBufferPointer(g.buffer),
                  rows: p.rows, columns: p.columns, sigma: s!, center: c, amplitude: a,
                  cache: UnsafeBufferPointer(cacheInOutput ? output.buffer : cache!.buffer),
                  inputGradient: dx.buffer, sigmaGradient: ds, centerGradient: dc, amplitudeGradient: da,
                  options: options)
              }
            }
          }
        }
      }
    }
    return Written(
      output: output.values, cache: cache?.values, counts: counts, inputGradient: dx.values,
      sigma: ds, center: dc, amplitude: da)
  }

  static func check<S: TestScalar>(_: S.Type, width: Int) {
    let shapes = [(rows: 5, columns: 1), (3, 5), (4, width), (6, width + 1), (7, 37), (3, 64)]
    var cases = 0
    for (rows, columns) in shapes {
      for layout in ConsistencyTests.Layout.allCases {
        let seed = UInt64(rows * 1000 + columns) &+ UInt64(ConsistencyTests.Layout.allCases.firstIndex(of: layout)!)
        let (p, upstream) = ConsistencyTests.randomProblem(S.self, rows: rows, columns: columns, layout: layout, seed: seed)
        // The cache may share the output's memory only without an amplitude.
        for cacheInOutput in p.amplitude == nil ? [false, true] : [false] {
          for inPlace in [false, true] {
            for offset in 0..<width {
              let label = "\(S.self) simd\(width) \(rows)×\(columns) \(layout) offset \(offset)"
                + (cacheInOutput ? ", cache in the output" : "") + (inPlace ? ", dL/dx over G" : "")
              let plain = run(p, upstream: upstream, offset: offset, cacheInOutput: cacheInOutput, inPlace: inPlace,
                              streaming: false, width: width, threads: 1)
              let streamed = run(p, upstream: upstream, offset: offset, cacheInOutput: cacheInOutput, inPlace: inPlace,
                                 streaming: true, width: width, threads: 1)
              compare(streamed, plain, label)
              cases += 1
            }
          }
        }
      }
    }
    #expect(cases > 0)
  }

  static func compare<S: TestScalar>(_ a: Written<S>, _ b: Written<S>, _ label: String) {
    #expect(firstBitDifference(a.output, b.output) == nil, "output differs: \(label)")
    #expect((a.cache == nil) == (b.cache == nil))
    if let ca = a.cache, let cb = b.cache { #expect(firstBitDifference(ca, cb) == nil, "cache differs: \(label)") }
    #expect(a.counts == b.counts, "support counts differ: \(label)")
    #expect(firstBitDifference(a.inputGradient, b.inputGradient) == nil, "dL/dx differs: \(label)")
    #expect(firstBitDifference(a.sigma, b.sigma) == nil, "dL/dσ differs: \(label)")
    for (name, x, y) in [("dL/dc", a.center, b.center), ("dL/da", a.amplitude, b.amplitude)] {
      #expect((x == nil) == (y == nil))
      if let x, let y { #expect(firstBitDifference(x, y) == nil, "\(name) differs: \(label)") }
    }
    // Nothing left unwritten: the outputs started as NaN, and these problems have no NaN.
    #expect(!a.output.contains { $0.isNaN } && !a.inputGradient.contains { $0.isNaN }, "a value was not written: \(label)")
  }

  @Test("Float: streaming stores write the same bits as plain ones", arguments: Float.supportedSIMDWidths)
  func float(_ width: Int) { Self.check(Float.self, width: width) }

  @Test("Double: streaming stores write the same bits as plain ones", arguments: Double.supportedSIMDWidths)
  func double(_ width: Int) { Self.check(Double.self, width: width) }

  /// Several tasks (2¹⁶ elements each) on several threads, each fencing its own stores:
  /// the results equal one thread's plain stores.
  static func threaded<S: TestScalar>(_: S.Type) {
    let (rows, columns) = (TestConfig.count(release: 640, debug: 384), 515)
    let (p, upstream) = ConsistencyTests.randomProblem(S.self, rows: rows, columns: columns, layout: .allPerUnit, seed: 0x57EA)
    let width = S.preferredSIMDWidth
    let plain = run(p, upstream: upstream, offset: 1, cacheInOutput: false, inPlace: false,
                    streaming: false, width: width, threads: 1)
    for threads in [2, 3] {
      let streamed = run(p, upstream: upstream, offset: 1, cacheInOutput: false, inPlace: false,
                         streaming: true, width: width, threads: threads)
      compare(streamed, plain, "\(S.self) \(rows)×\(columns), \(threads) threads")
    }
  }

  @Test("Float: streaming on several threads equals one thread's plain stores")
  func floatThreads() { Self.threaded(Float.self) }

  @Test("Double: streaming on several threads equals one thread's plain stores")
  func doubleThreads() { Self.threaded(Double.self) }

  @Test("The default streams a 4096 × 1024 Float batch and not a training batch of 256 × 1024")
  func defaultThreshold() {
    let threshold = KernelOptions().nonTemporalStoreBytes
    #expect(threshold <= 4096 * 1024 * MemoryLayout<Float>.stride)
    #expect(threshold > 256 * 1024 * MemoryLayout<Float>.stride)
  }
}
