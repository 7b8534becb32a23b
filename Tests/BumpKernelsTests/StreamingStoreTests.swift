import BumpKernels
import Testing
import BumpTestSupport

/// Arrays from `BumpKernel.streamingBytes` on are written with streaming stores when they
/// are aligned. The stores change how the bits reach memory, never which bits: the same
/// call on buffers one element off a 16-byte boundary (which never stream) must give the
/// same bits, for every SIMD width, precision and thread count.
@Suite("Streaming stores")
struct StreamingStoreTests {
  /// Buffers of `count` elements cut from one 64-byte aligned allocation each, starting at
  /// element `offset` (0: aligned; 1: off every 16-byte boundary for both precisions).
  struct Buffers<S: TestScalar> {
    let count: Int, offset: Int
    var raw: [UnsafeMutableRawPointer] = []
    init(count: Int, offset: Int) {
      self.count = count
      self.offset = offset
    }
    mutating func make(_ values: [S]? = nil) -> UnsafeMutableBufferPointer<S> {
      let p = UnsafeMutableRawPointer.allocate(byteCount: (count + 1) * MemoryLayout<S>.stride, alignment: 64)
      raw.append(p)
      let b = UnsafeMutableBufferPointer(start: p.bindMemory(to: S.self, capacity: count + 1) + offset, count: count)
      if let values { _ = b.initialize(from: values) } else { b.initialize(repeating: .nan) }
      return b
    }
    func free() { for p in raw { p.deallocate() } }
  }

  struct Results<S: TestScalar> {
    var output: [S], cache: [S], counts: [Int], dx: [S], dSigma: [S], dCenter: [S], dAmplitude: [S]
  }

  /// Forward (with cache and counts) and backward (with every gradient, dL/dx over a
  /// buffer of its own) of `p` in buffers at element offset `offset`.
  static func run<S: TestScalar>(
    _ p: Problem<S>, upstream: [S], offset: Int, _ options: KernelOptions
  ) -> Results<S> {
    var buffers = Buffers<S>(count: p.x.count, offset: offset)
    defer { buffers.free() }
    let x = buffers.make(p.x), g = buffers.make(upstream)
    let output = buffers.make(), cache = buffers.make(), dx = buffers.make()
    var counts = [Int](repeating: -1, count: p.columns)
    var dSigma = [S](repeating: .nan, count: p.sigma.isPerUnit ? p.columns : 1)
    var dCenter = [S](repeating: .nan, count: p.center!.isPerUnit ? p.columns : 1)
    var dAmplitude = [S](repeating: .nan, count: p.amplitude!.isPerUnit ? p.columns : 1)
    withParameter(p.sigma) { s in
      withParameter(p.center) { c in
        withParameter(p.amplitude) { a in
          counts.withUnsafeMutableBufferPointer { n in
            BumpKernel.forward(
              input: UnsafeBufferPointer(x), rows: p.rows, columns: p.columns, sigma: s!, center: c,
              amplitude: a, output: output, cache: cache, supportCounts: n, options: options)
          }
          dSigma.withUnsafeMutableBufferPointer { ds in
            dCenter.withUnsafeMutableBufferPointer { dc in
              dAmplitude.withUnsafeMutableBufferPointer { da in
                BumpKernel.backward(
                  input: UnsafeBufferPointer(x), upstream: UnsafeBufferPointer(g), rows: p.rows,
                  columns: p.columns, sigma: s!, center: c, amplitude: a, cache: UnsafeBufferPointer(cache),
                  inputGradient: dx, sigmaGradient: ds, centerGradient: dc, amplitudeGradient: da,
                  options: options)
              }
            }
          }
        }
      }
    }
    return Results(
      output: Array(output), cache: Array(cache), counts: counts, dx: Array(dx), dSigma: dSigma,
      dCenter: dCenter, dAmplitude: dAmplitude)
  }

  static func check<S: TestScalar>(_: S.Type, _ implementation: KernelImplementation) {
    let stride = MemoryLayout<S>.stride
    let columns = 1024, rows = BumpKernel.streamingBytes / (columns * stride)
    // The two placements do take the two paths.
    #expect(BumpKernel.streamsOutputs(rows: rows, columns: columns, stride: stride, addresses: 64 | 128))
    #expect(!BumpKernel.streamsOutputs(rows: rows, columns: columns, stride: stride, addresses: 64 | UInt(stride)))
    #expect(!BumpKernel.streamsOutputs(rows: rows - 1, columns: columns, stride: stride, addresses: 64))
    #expect(!BumpKernel.streamsOutputs(rows: rows, columns: columns + 1, stride: stride, addresses: 64))

    let (p, upstream) = ConsistencyTests.randomProblem(S.self, rows: rows, columns: columns, layout: .mixed, seed: 0x57EA_4D)
    for threads in [1, 3] {
      let options = KernelOptions(implementation: implementation, threads: threads)
      let streamed = run(p, upstream: upstream, offset: 0, options)
      let ordinary = run(p, upstream: upstream, offset: 1, options)
      let label = "\(S.self) \(implementation), \(threads) threads"
      #expect(firstBitDifference(streamed.output, ordinary.output) == nil, "output differs: \(label)")
      #expect(firstBitDifference(streamed.cache, ordinary.cache) == nil, "cache differs: \(label)")
      #expect(streamed.counts == ordinary.counts, "support counts differ: \(label)")
      #expect(firstBitDifference(streamed.dx, ordinary.dx) == nil, "dL/dx differs: \(label)")
      #expect(firstBitDifference(streamed.dSigma, ordinary.dSigma) == nil, "dL/dσ differs: \(label)")
      #expect(firstBitDifference(streamed.dCenter, ordinary.dCenter) == nil, "dL/dc differs: \(label)")
      #expect(firstBitDifference(streamed.dAmplitude, ordinary.dAmplitude) == nil, "dL/da differs: \(label)")
      #expect(!streamed.output.contains { $0.isNaN }, "an element was not written: \(label)")
    }
  }

  @Test("Float: streamed and ordinary stores give the same bits", arguments: floatImplementations)
  func float(_ implementation: KernelImplementation) { Self.check(Float.self, implementation) }

  @Test("Double: streamed and ordinary stores give the same bits", arguments: doubleImplementations)
  func double(_ implementation: KernelImplementation) { Self.check(Double.self, implementation) }
}
