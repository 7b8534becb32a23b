import BumpKernels
import Testing
import BumpTestSupport

/// Large outputs are written with non-temporal stores (``KernelOptions/nonTemporalStoreBytes``):
/// a row then starts with a shorter vector up to the first aligned address of its output, and
/// whole vectors at aligned addresses bypass the caches. None of that may change a bit: every
/// buffer written, with streaming forced on (threshold 0), must equal the same call with it
/// off (threshold `Int.max`), for every SIMD width, buffers at every offset from a vector
/// boundary, ragged widths, every combination of the optional buffers, buffers written over
/// their inputs, and several threads writing their rows at once; and nothing may be written
/// outside the buffers. (Changing the value a non-temporal store writes makes these tests
/// fail: the streaming path runs in them.)
@Suite("Non-temporal stores")
struct NonTemporalStoreTests {
  /// Values placed `offset` elements past a 128-byte boundary (so past a vector boundary of
  /// any width), between guard elements that no kernel may touch.
  final class Placed<S: KernelScalar> {
    static var guardCount: Int { 32 }
    static var guardValue: S { S(1234.5) }
    let raw: UnsafeMutableRawPointer
    let whole: UnsafeMutableBufferPointer<S>
    let buffer: UnsafeMutableBufferPointer<S>

    init(_ values: [S], offset: Int) {
      let total = Self.guardCount + offset + values.count + Self.guardCount
      raw = .allocate(byteCount: total * MemoryLayout<S>.stride, alignment: 128)
      whole = UnsafeMutableBufferPointer(
        start: raw.initializeMemory(as: S.self, repeating: Self.guardValue, count: total), count: total)
      let start = whole.baseAddress! + Self.guardCount + offset
      start.update(from: values, count: values.count)
      buffer = UnsafeMutableBufferPointer(start: start, count: values.count)
    }

    var values: [S] { Array(buffer) }

    /// Whether every element outside the buffer still holds the guard value.
    var guardsIntact: Bool {
      let lo = buffer.baseAddress! - whole.baseAddress!, hi = lo + buffer.count
      return whole.indices.allSatisfy { i in (lo..<hi).contains(i) || whole[i] == Self.guardValue }
    }

    deinit { raw.deallocate() }
  }

  /// Which optional buffers a forward and a backward call get, and where.
  struct Layout: CustomStringConvertible {
    enum Cache: CaseIterable { case none, sameOffset, otherOffset, inOutput }
    enum InputGradient: CaseIterable { case none, separate, overUpstream }
    var cache: Cache
    var counts: Bool
    /// Whether the backward pass reads the forward cache (else it recomputes f).
    var backwardReadsCache: Bool
    var inputGradient: InputGradient

    var description: String {
      "cache \(cache), counts \(counts), backward \(backwardReadsCache ? "reads the cache" : "recomputes f"), dL/dx \(inputGradient)"
    }
  }

  /// Every buffer one forward and one backward call write.
  struct Written<S: KernelScalar> {
    var output: [S], cache: [S]?, counts: [Int]?
    var inputGradient: [S]?, sigma: [S], center: [S]?, amplitude: [S]?
    var guardsIntact: Bool
  }

  static func run<S: TestScalar>(
    _ p: Problem<S>, upstream: [S], offset: Int, layout: Layout, streaming: Bool, width: Int, threads: Int
  ) -> Written<S> {
    var options = KernelOptions(implementation: .simd(width: width), threads: threads)
    options.nonTemporalStoreBytes = streaming ? 0 : .max
    let n = p.rows * p.columns
    let nan = [S](repeating: .nan, count: n)
    let x = Placed(p.x, offset: offset)
    let output = Placed(nan, offset: offset)
    let cache: Placed<S>? =
      switch layout.cache {
      case .none, .inOutput: nil
      case .sameOffset: Placed(nan, offset: offset)
      case .otherOffset: Placed(nan, offset: offset + 1)
      }
    let cacheBuffer = layout.cache == .inOutput ? output.buffer : cache?.buffer
    let g = Placed(upstream, offset: offset)
    let dx: Placed<S>? =
      switch layout.inputGradient {
      case .none: nil
      case .separate: Placed(nan, offset: (offset + 3) % 16)
      case .overUpstream: g
      }
    var counts: [Int]? = layout.counts ? [Int](repeating: -1, count: p.columns) : nil
    let gradientCount = { (q: Param<S>) in q.isPerUnit ? p.columns : 1 }
    var ds = [S](repeating: .nan, count: gradientCount(p.sigma))
    var dc: [S]? = p.center.map { [S](repeating: .nan, count: gradientCount($0)) }
    var da: [S]? = p.amplitude.map { [S](repeating: .nan, count: gradientCount($0)) }
    withParameter(p.sigma) { s in
      withParameter(p.center) { c in
        withParameter(p.amplitude) { a in
          withOptionalMutable(&counts) { counts in
            BumpKernel.forward(
              input: UnsafeBufferPointer(x.buffer), rows: p.rows, columns: p.columns, sigma: s!,
              center: c, amplitude: a, output: output.buffer, cache: cacheBuffer, supportCounts: counts,
              options: options)
          }
          ds.withUnsafeMutableBufferPointer { ds in
            withOptionalMutable(&dc) { dc in
              withOptionalMutable(&da) { da in
                BumpKernel.backward(
                  input: UnsafeBufferPointer(x.buffer), upstream: UnsafeBufferPointer(g.buffer),
                  rows: p.rows, columns: p.columns, sigma: s!, center: c, amplitude: a,
                  cache: layout.backwardReadsCache ? cacheBuffer.map(UnsafeBufferPointer.init) : nil,
                  inputGradient: dx?.buffer, sigmaGradient: ds, centerGradient: dc, amplitudeGradient: da,
                  options: options)
              }
            }
          }
        }
      }
    }
    let placed = [x, output, g] + [cache, dx].compactMap { $0 }
    return Written(
      output: output.values, cache: cache?.values, counts: counts, inputGradient: dx?.values,
      sigma: ds, center: dc, amplitude: da, guardsIntact: placed.allSatisfy(\.guardsIntact))
  }

  static func compare<S: TestScalar>(_ a: Written<S>, _ b: Written<S>, _ label: String) {
    let guardsIntact = a.guardsIntact
    #expect(guardsIntact, "written outside a buffer: \(label)")
    #expect(firstBitDifference(a.output, b.output) == nil, "output differs: \(label)")
    for (name, x, y) in [
      ("cache", a.cache, b.cache), ("dL/dx", a.inputGradient, b.inputGradient), ("dL/dc", a.center, b.center),
      ("dL/da", a.amplitude, b.amplitude),
    ] {
      #expect((x == nil) == (y == nil))
      if let x, let y { #expect(firstBitDifference(x, y) == nil, "\(name) differs: \(label)") }
    }
    #expect(a.counts == b.counts, "support counts differ: \(label)")
    #expect(firstBitDifference(a.sigma, b.sigma) == nil, "dL/dσ differs: \(label)")
    // Nothing left unwritten: the outputs started as NaN, and these problems have no NaN.
    #expect(!a.output.contains { $0.isNaN } && !(a.inputGradient ?? []).contains { $0.isNaN },
            "a value was not written: \(label)")
  }

  static func check<S: TestScalar>(_: S.Type, width: Int) {
    let shapes = [(rows: 5, columns: 1), (3, 5), (4, width), (6, width + 1), (3, 2 * width + 3), (7, 37), (3, 64)]
    var cases = 0
    for (rows, columns) in shapes {
      for problemLayout in ConsistencyTests.Layout.allCases {
        let seed = UInt64(rows * 1000 + columns) &+ UInt64(ConsistencyTests.Layout.allCases.firstIndex(of: problemLayout)!)
        let (p, upstream) = ConsistencyTests.randomProblem(S.self, rows: rows, columns: columns, layout: problemLayout, seed: seed)
        for cacheKind in Layout.Cache.allCases {
          // The cache may share the output's memory only without an amplitude.
          if cacheKind == .inOutput && p.amplitude != nil { continue }
          for gradientKind in Layout.InputGradient.allCases {
            let layout = Layout(
              cache: cacheKind, counts: gradientKind != .none, backwardReadsCache: cacheKind != .none && gradientKind != .overUpstream,
              inputGradient: gradientKind)
            for offset in 0..<width {
              let label = "\(S.self) simd\(width) \(rows)×\(columns) \(problemLayout) offset \(offset), \(layout)"
              let plain = run(p, upstream: upstream, offset: offset, layout: layout, streaming: false, width: width, threads: 1)
              let streamed = run(p, upstream: upstream, offset: offset, layout: layout, streaming: true, width: width, threads: 1)
              compare(streamed, plain, label)
              cases += 1
            }
          }
        }
      }
    }
    #expect(cases > 0)
  }

  @Test("Float: streaming stores write the same bits as plain ones", arguments: Float.supportedSIMDWidths)
  func float(_ width: Int) { Self.check(Float.self, width: width) }

  @Test("Double: streaming stores write the same bits as plain ones", arguments: Double.supportedSIMDWidths)
  func double(_ width: Int) { Self.check(Double.self, width: width) }

  /// The forward pass written over its own input (allowed), streaming asked for.
  static func inPlace<S: TestScalar>(_: S.Type, width: Int) {
    let (p, _) = ConsistencyTests.randomProblem(S.self, rows: 6, columns: 2 * width + 5, layout: .mixed, seed: 0x1A7E)
    func forward(streaming: Bool) -> [S] {
      var options = KernelOptions(implementation: .simd(width: width), threads: 1)
      options.nonTemporalStoreBytes = streaming ? 0 : .max
      let x = Placed(p.x, offset: 1)
      withParameter(p.sigma) { s in
        withParameter(p.center) { c in
          withParameter(p.amplitude) { a in
            BumpKernel.forward(
              input: UnsafeBufferPointer(x.buffer), rows: p.rows, columns: p.columns, sigma: s!, center: c,
              amplitude: a, output: x.buffer, options: options)
          }
        }
      }
      #expect(x.guardsIntact)
      return x.values
    }
    #expect(firstBitDifference(forward(streaming: true), forward(streaming: false)) == nil)
  }

  @Test("The forward pass in place: the same bits with streaming asked for", arguments: [4, 8, 16])
  func inPlaceFloat(_ width: Int) { Self.inPlace(Float.self, width: width) }

  /// Several tasks (2¹⁶ elements each) on several threads, each fencing its own stores: the
  /// results equal one thread's plain stores, for buffers at several offsets.
  static func threaded<S: TestScalar>(_: S.Type) {
    let (rows, columns) = (TestConfig.count(release: 640, debug: 384), 515)
    let (p, upstream) = ConsistencyTests.randomProblem(S.self, rows: rows, columns: columns, layout: .allPerUnit, seed: 0x57EA)
    let layout = Layout(cache: .sameOffset, counts: true, backwardReadsCache: true, inputGradient: .separate)
    for offset in [0, 1, 5] {
      let plain = run(p, upstream: upstream, offset: offset, layout: layout, streaming: false, width: S.preferredSIMDWidth, threads: 1)
      for threads in [2, 3] {
        let streamed = run(p, upstream: upstream, offset: offset, layout: layout, streaming: true,
                           width: S.preferredSIMDWidth, threads: threads)
        compare(streamed, plain, "\(S.self) \(rows)×\(columns), offset \(offset), \(threads) threads")
      }
    }
  }

  @Test("Float: streaming on several threads equals one thread's plain stores")
  func floatThreads() { Self.threaded(Float.self) }

  @Test("Double: streaming on several threads equals one thread's plain stores")
  func doubleThreads() { Self.threaded(Double.self) }
}
