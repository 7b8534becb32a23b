import BumpKernels
import Testing
import BumpTestSupport

/// The implementations against each other and the plumbing around them: SIMD widths vs the
/// scalar reference on ragged shapes, thread-count independence (bit for bit), the forward
/// cache, support counts, buffer aliasing, workspace reuse and empty shapes.
@Suite("Consistency")
struct ConsistencyTests {
  enum Layout: String, CaseIterable, Sendable {
    /// σ per unit, no c or a (the layer's default).
    case sigmaOnly
    /// σ shared, c per unit, a shared.
    case sharedSigma
    /// σ per unit, c shared, a per unit.
    case mixed
    /// Everything per unit.
    case allPerUnit
  }

  /// A random rows × columns problem with σ in [0.01, 10] and x within ±1.5·√σ of c: most
  /// of it inside the support, some outside, t moderate.
  static func randomProblem<S: TestScalar>(
    _: S.Type, rows: Int, columns: Int, layout: Layout, seed: UInt64
  ) -> (Problem<S>, upstream: [S]) {
    var rng = SplitMix64(seed: seed)
    let sigmas = (0..<columns).map { _ in S(rng.logUniform(0.01, 10)) }
    let centers = (0..<columns).map { _ in S(rng.uniform(-2, 2)) }
    let amplitudes = (0..<columns).map { _ in S(rng.uniform(-2, 2)) }
    let sigma: Param<S>, center: Param<S>?, amplitude: Param<S>?
    switch layout {
    case .sigmaOnly: (sigma, center, amplitude) = (.perUnit(sigmas), nil, nil)
    case .sharedSigma: (sigma, center, amplitude) = (.shared(sigmas[0]), .perUnit(centers), .shared(amplitudes[0]))
    case .mixed: (sigma, center, amplitude) = (.perUnit(sigmas), .shared(centers[0]), .perUnit(amplitudes))
    case .allPerUnit: (sigma, center, amplitude) = (.perUnit(sigmas), .perUnit(centers), .perUnit(amplitudes))
    }
    var x = [S]()
    x.reserveCapacity(rows * columns)
    for i in 0..<(rows * columns) {
      let j = i % columns
      let root = S.toDouble(S.widen(sigma.value(at: j)).squareRoot())
      x.append(S(S.toDouble(S.widen(center?.value(at: j) ?? 0)) + rng.uniform(-1.5, 1.5) * root))
    }
    let upstream = (0..<(rows * columns)).map { _ in S(rng.uniform(-1, 1)) }
    return (Problem(rows: rows, columns: columns, x: x, sigma: sigma, center: center, amplitude: amplitude), upstream)
  }

  // MARK: - SIMD widths vs the scalar reference

  /// Element-wise bound for two correct implementations of the same formula: each is within
  /// a few ulp of the other times max(1, t) (f's conditioning in t), plus a subnormal floor.
  static func close<S: TestScalar>(_ a: S, _ b: S, t: Double, ulps: Double) -> Bool {
    if a.isNaN || b.isNaN { return a.isNaN && b.isNaN }
    let bound = ulps * S.toDouble(S.widen(S.ulpOfOne)) * max(1, t) * max(abs(S.toDouble(S.widen(a))), abs(S.toDouble(S.widen(b))))
    return abs(S.toDouble(S.widen(a) - S.widen(b))) <= bound + 4 * S.toDouble(S.widen(S.leastNonzeroMagnitude))
  }

  static func simdMatchesScalar<S: TestScalar>(_: S.Type, width: Int) {
    var worstElement = 0.0, worstSum = 0.0
    for columns in [1, 3, 17, 33] {
      for rows in [1, 5, 40] {
        for layout in Layout.allCases {
          let seed = UInt64(columns * 1000 + rows * 10) &+ UInt64(Layout.allCases.firstIndex(of: layout)!)
          let (p, upstream) = randomProblem(S.self, rows: rows, columns: columns, layout: layout, seed: seed)
          let scalarOptions = KernelOptions(implementation: .scalarReference, threads: 1)
          let simdOptions = KernelOptions(implementation: .simd(width: width), threads: 1)
          let where_ = "\(S.self) simd\(width) \(rows)×\(columns) \(layout)"
          let fs = p.forward(scalarOptions, cache: true, counts: true)
          let fv = p.forward(simdOptions, cache: true, counts: true)
          #expect(fs.counts == fv.counts, "support counts differ: \(where_)")
          let ts = p.x.indices.map { S.toDouble(S.reference(z: p.zAt($0), sigma: p.sigmaAt($0)).t) }
          for i in p.x.indices {
            #expect(close(fs.output[i], fv.output[i], t: ts[i], ulps: 4), "g[\(i)]: scalar \(fs.output[i]), SIMD \(fv.output[i]) (t=\(ts[i])): \(where_)")
            #expect(close(fs.cache![i], fv.cache![i], t: ts[i], ulps: 4), "f[\(i)]: scalar \(fs.cache![i]), SIMD \(fv.cache![i]): \(where_)")
            worstElement = max(worstElement, relativeGap(fs.output[i], fv.output[i]) / max(1, ts[i]))
          }
          let bs = p.backward(upstream: upstream, scalarOptions)
          let bv = p.backward(upstream: upstream, simdOptions)
          for i in p.x.indices {
            #expect(close(bs.input![i], bv.input![i], t: ts[i], ulps: 8), "dL/dx[\(i)]: scalar \(bs.input![i]), SIMD \(bv.input![i]) (t=\(ts[i])): \(where_)")
            worstElement = max(worstElement, relativeGap(bs.input![i], bv.input![i]) / max(1, ts[i]))
          }
          // Sums: each term within 8 ulp·max(1, t) of the other's, and the accumulation
          // order is the same, so the sums differ by at most that bound summed over terms
          // plus one rounding per row: Σ|term|·(8·max(1, t) + rows)·ulp.
          let sums: [(String, [S]?, [S]?, (Int) -> S.Wide)] = [
            ("dL/dσ", bs.sigma, bv.sigma, { i in S.widen(p.amplitudeAt(i)) * S.reference(z: p.zAt(i), sigma: p.sigmaAt(i)).dsigma }),
            ("dL/dc", bs.center, bv.center, { i in -S.widen(p.amplitudeAt(i)) * S.reference(z: p.zAt(i), sigma: p.sigmaAt(i)).dz }),
            ("dL/da", bs.amplitude, bv.amplitude, { i in S.reference(z: p.zAt(i), sigma: p.sigmaAt(i)).f }),
          ]
          for (name, a, b, term) in sums {
            #expect((a == nil) == (b == nil))
            guard let a, let b else { continue }
            #expect(a.count == b.count)
            for k in a.indices {
              var magnitude = 0.0
              for i in p.x.indices where a.count == 1 || i % columns == k {
                magnitude += abs(S.toDouble(S.widen(upstream[i]) * term(i))) * (8 * max(1, ts[i]) + Double(rows))
              }
              let bound = magnitude * S.toDouble(S.widen(S.ulpOfOne)) + 4 * S.toDouble(S.widen(S.leastNonzeroMagnitude))
              let gap = abs(S.toDouble(S.widen(a[k]) - S.widen(b[k])))
              #expect(gap <= bound, "\(name)[\(k)]: scalar \(a[k]), SIMD \(b[k]), bound \(bound): \(where_)")
              if magnitude > 0 { worstSum = max(worstSum, gap / magnitude * Double(rows) / S.toDouble(S.widen(S.ulpOfOne))) }
            }
          }
        }
      }
    }
    print("\(S.self) simd\(width) vs scalar: max element gap / max(1,t) = \(worstElement / S.toDouble(S.widen(S.ulpOfOne))) ulp")
  }

  static func relativeGap<S: TestScalar>(_ a: S, _ b: S) -> Double {
    if a == b || (a.isNaN && b.isNaN) { return 0 }
    return S.toDouble(abs(S.widen(a) - S.widen(b)) / max(abs(S.widen(a)), abs(S.widen(b))))
  }

  @Test("Float SIMD widths agree with the scalar reference on ragged shapes", arguments: Float.supportedSIMDWidths)
  func floatSIMDvsScalar(_ width: Int) { Self.simdMatchesScalar(Float.self, width: width) }

  @Test("Double SIMD widths agree with the scalar reference on ragged shapes", arguments: Double.supportedSIMDWidths)
  func doubleSIMDvsScalar(_ width: Int) { Self.simdMatchesScalar(Double.self, width: width) }

  // MARK: - Threads

  /// 3000 × 300 cuts into 14 row tasks (release); debug uses 900 × 300 (5 tasks) for time.
  static func threadIndependence<S: TestScalar>(_: S.Type, _ implementation: KernelImplementation) {
    let rows = TestConfig.count(release: 3000, debug: 900)
    let (p, upstream) = randomProblem(S.self, rows: rows, columns: 300, layout: .mixed, seed: 0x7EAD)
    var reference: (forward: (output: [S], cache: [S]?, counts: [Int]?), backward: Gradients<S>)?
    for threads in [1, 2, 3, 8] {
      let options = KernelOptions(implementation: implementation, threads: threads)
      let f = p.forward(options, cache: true, counts: true)
      let b = p.backward(upstream: upstream, options)
      guard let r = reference else {
        reference = (f, b)
        continue
      }
      let label = "\(S.self) \(implementation), \(threads) threads vs 1"
      #expect(firstBitDifference(f.output, r.forward.output) == nil, "output differs: \(label)")
      #expect(firstBitDifference(f.cache!, r.forward.cache!) == nil, "cache differs: \(label)")
      #expect(f.counts == r.forward.counts, "support counts differ: \(label)")
      #expect(firstBitDifference(b.input!, r.backward.input!) == nil, "dL/dx differs: \(label)")
      #expect(firstBitDifference(b.sigma!, r.backward.sigma!) == nil, "dL/dσ differs: \(label)")
      #expect(firstBitDifference(b.center!, r.backward.center!) == nil, "dL/dc differs: \(label)")
      #expect(firstBitDifference(b.amplitude!, r.backward.amplitude!) == nil, "dL/da differs: \(label)")
    }
  }

  @Test("Float results are bit-identical for 1, 2, 3 and 8 threads", arguments: floatImplementations)
  func floatThreads(_ implementation: KernelImplementation) { Self.threadIndependence(Float.self, implementation) }

  @Test("Double results are bit-identical for 1, 2, 3 and 8 threads", arguments: doubleImplementations)
  func doubleThreads(_ implementation: KernelImplementation) { Self.threadIndependence(Double.self, implementation) }

  // MARK: - Cache

  static func cacheMatchesRecompute<S: TestScalar>(_: S.Type, _ implementation: KernelImplementation) {
    let options = KernelOptions(implementation: implementation, threads: 1)
    for layout in Layout.allCases {
      let (p, upstream) = randomProblem(S.self, rows: 37, columns: 19, layout: layout, seed: 0xCAC4E)
      let f = p.forward(options, cache: true)
      let cached = p.backward(upstream: upstream, options, cache: f.cache)
      let recomputed = p.backward(upstream: upstream, options)
      let ts = p.x.indices.map { S.toDouble(S.reference(z: p.zAt($0), sigma: p.sigmaAt($0)).t) }
      for i in p.x.indices {
        #expect(close(cached.input![i], recomputed.input![i], t: ts[i], ulps: 4),
          "dL/dx[\(i)] with cache \(cached.input![i]), recomputed \(recomputed.input![i]) (\(layout))")
      }
      for (name, a, b) in [("dL/dσ", cached.sigma, recomputed.sigma), ("dL/dc", cached.center, recomputed.center), ("dL/da", cached.amplitude, recomputed.amplitude)] {
        guard let a, let b else { continue }
        let maxT = ts.max() ?? 1
        for k in a.indices {
          // Same accumulation order; terms within 4 ulp·max(1, t); 37 rows.
          #expect(close(a[k], b[k], t: maxT, ulps: 4 + 37), "\(name)[\(k)] with cache \(a[k]), recomputed \(b[k]) (\(layout))")
        }
      }
    }
  }

  @Test("Backward with the forward cache matches recomputing f (Float)", arguments: floatImplementations)
  func floatCache(_ implementation: KernelImplementation) { Self.cacheMatchesRecompute(Float.self, implementation) }

  @Test("Backward with the forward cache matches recomputing f (Double)", arguments: doubleImplementations)
  func doubleCache(_ implementation: KernelImplementation) { Self.cacheMatchesRecompute(Double.self, implementation) }

  // MARK: - Support counts

  /// Counts against a direct count of exact z² < σ, on inputs that include the boundary
  /// itself: x = ±√σ rounded and its neighbours, where z² rounded can equal σ although the
  /// exact z² is below it (the FMA decides those right).
  static func supportCounts<S: TestScalar>(_: S.Type, _ implementation: KernelImplementation) {
    let columns = 23, rows = 64
    var rng = SplitMix64(seed: 0xC0_4E7)
    let sigmas = (0..<columns).map { _ in S(rng.logUniform(1e-3, 1e3)) }
    var x = [S]()
    for _ in 0..<rows {
      for j in 0..<columns {
        let r = S.narrow(S.widen(sigmas[j]).squareRoot())
        let candidates: [S] = [r, -r, r.nextUp, r.nextDown, -r.nextUp, -r.nextDown, S(rng.uniform(-1.2, 1.2)) * r, .nan, .infinity, 0]
        x.append(candidates[rng.index(candidates.count)])
      }
    }
    for center in [nil, Param<S>.shared(0), Param<S>.perUnit((0..<columns).map { _ in S(rng.uniform(-1, 1)) })] {
      var p = Problem(rows: rows, columns: columns, x: x, sigma: .perUnit(sigmas), center: center)
      if let center {
        // Keep the boundary points on the boundary: x = c + z.
        p.x = x.indices.map { x[$0] + center.value(at: $0 % columns) }
      }
      var expected = [Int](repeating: 0, count: columns)
      for i in p.x.indices where S.reference(z: p.zAt(i), sigma: p.sigmaAt(i)).inside { expected[i % columns] += 1 }
      let got = p.forward(KernelOptions(implementation: implementation, threads: 1), counts: true).counts!
      let label = "\(implementation), centre \(center.map { $0.isPerUnit ? "per unit" : "shared 0" } ?? "none")"
      #expect(got == expected, "support counts (\(label)): got \(got), exact \(expected)")

      // The same counts afterwards from the cache alone: −0 outside the support, +0 or more
      // inside (f underflows to +0 just inside the boundary), NaN for NaN.
      let cache = p.forward(KernelOptions(implementation: implementation, threads: 2), cache: true).cache!
      var fromCache = [Int](repeating: -1, count: columns)
      cache.withUnsafeBufferPointer { f in
        fromCache.withUnsafeMutableBufferPointer { n in
          BumpKernel.supportCounts(cache: f, rows: rows, columns: columns, into: n)
        }
      }
      #expect(fromCache == expected, "support counts from the cache (\(label)): got \(fromCache), exact \(expected)")
      for i in p.x.indices {
        let inside = S.reference(z: p.zAt(i), sigma: p.sigmaAt(i)).inside
        if p.x[i].isNaN {
          #expect(cache[i].isNaN, "NaN input must cache NaN (\(label), element \(i))")
        } else if !inside {
          #expect(cache[i] == 0 && cache[i].sign == .minus, "outside the support the cache holds −0 (\(label), element \(i): \(cache[i]))")
        } else {
          #expect(cache[i] >= 0 && cache[i].sign == .plus, "inside the support the cache holds f ≥ +0 (\(label), element \(i): \(cache[i]))")
        }
      }
    }
  }

  @Test("Support counts, from the pass and from its cache, equal a direct count of exact z² < σ (Float)", arguments: floatImplementations)
  func floatSupportCounts(_ implementation: KernelImplementation) { Self.supportCounts(Float.self, implementation) }

  @Test("Support counts, from the pass and from its cache, equal a direct count of exact z² < σ (Double)", arguments: doubleImplementations)
  func doubleSupportCounts(_ implementation: KernelImplementation) { Self.supportCounts(Double.self, implementation) }

  // MARK: - Aliasing, workspaces, overwrite, empty shapes

  static func aliasing<S: TestScalar>(_: S.Type, _ implementation: KernelImplementation) {
    let options = KernelOptions(implementation: implementation, threads: 2)
    let (p, upstream) = randomProblem(S.self, rows: 300, columns: 37, layout: .allPerUnit, seed: 0xA11A5)
    let expectedForward = p.forward(options).output
    let expected = p.backward(upstream: upstream, options)

    // Forward in place: output is the input buffer.
    var inPlace = p.x
    withParameter(p.sigma) { s in
      withParameter(p.center) { c in
        withParameter(p.amplitude) { a in
          inPlace.withUnsafeMutableBufferPointer { b in
            BumpKernel.forward(
              input: UnsafeBufferPointer(b), rows: p.rows, columns: p.columns, sigma: s!, center: c,
              amplitude: a, output: b, options: options)
          }
        }
      }
    }
    #expect(firstBitDifference(inPlace, expectedForward) == nil, "forward in place differs")

    // Backward with dL/dx written over the upstream gradient.
    var shared = upstream
    var ds = [S](repeating: .nan, count: p.columns), dc = ds, da = ds
    withParameter(p.sigma) { s in
      withParameter(p.center) { c in
        withParameter(p.amplitude) { a in
          p.x.withUnsafeBufferPointer { xb in
            shared.withUnsafeMutableBufferPointer { g in
              ds.withUnsafeMutableBufferPointer { dsb in
                dc.withUnsafeMutableBufferPointer { dcb in
                  da.withUnsafeMutableBufferPointer { dab in
                    BumpKernel.backward(
                      input: xb, upstream: UnsafeBufferPointer(g), rows: p.rows, columns: p.columns,
                      sigma: s!, center: c, amplitude: a, inputGradient: g, sigmaGradient: dsb,
                      centerGradient: dcb, amplitudeGradient: dab, options: options)
                  }
                }
              }
            }
          }
        }
      }
    }
    #expect(firstBitDifference(shared, expected.input!) == nil, "dL/dx in place differs")
    #expect(firstBitDifference(ds, expected.sigma!) == nil, "dL/dσ with aliased buffers differs")
    #expect(firstBitDifference(dc, expected.center!) == nil, "dL/dc with aliased buffers differs")
    #expect(firstBitDifference(da, expected.amplitude!) == nil, "dL/da with aliased buffers differs")
  }

  @Test("Forward in place and backward with dL/dx over the upstream buffer (Float)", arguments: floatImplementations)
  func floatAliasing(_ implementation: KernelImplementation) { Self.aliasing(Float.self, implementation) }

  @Test("Forward in place and backward with dL/dx over the upstream buffer (Double)", arguments: doubleImplementations)
  func doubleAliasing(_ implementation: KernelImplementation) { Self.aliasing(Double.self, implementation) }

  /// Without an amplitude the cache may be the output's own memory: the output then holds
  /// the cache's bits (f, −0 outside the support), and backward reading it gives the bits of
  /// backward reading a separate cache.
  static func cacheInOutput<S: TestScalar>(_: S.Type, _ implementation: KernelImplementation) {
    let options = KernelOptions(implementation: implementation, threads: 2)
    let problem = randomProblem(S.self, rows: 300, columns: 37, layout: .sigmaOnly, seed: 0xCAC4E)
    var p = problem.0
    let upstream = problem.upstream
    // A NaN input and elements exactly on the support's boundary, whose f is −0 in the cache.
    p.x[5] = .nan
    for j in 0..<p.columns { p.x[37 + j] = S(S.toDouble(S.widen(p.sigmaAt(j)).squareRoot())) }
    let separate = p.forward(options, cache: true, counts: true)
    var shared = [S](repeating: .nan, count: p.x.count)
    var counts = [Int](repeating: -1, count: p.columns)
    withParameter(p.sigma) { s in
      p.x.withUnsafeBufferPointer { xb in
        shared.withUnsafeMutableBufferPointer { ob in
          counts.withUnsafeMutableBufferPointer { nb in
            BumpKernel.forward(
              input: xb, rows: p.rows, columns: p.columns, sigma: s!, output: ob, cache: ob,
              supportCounts: nb, options: options)
          }
        }
      }
    }
    #expect(firstBitDifference(shared, separate.cache!) == nil, "the output differs from a separate cache")
    #expect(shared.contains { $0 == 0 && $0.sign == .minus }, "no −0 outside the support")
    #expect(counts == separate.counts!, "support counts differ")
    // g = f here: the values (not the zeros' signs) are the output's of a separate cache.
    #expect(zip(shared, separate.output).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) })
    let fromShared = p.backward(upstream: upstream, options, cache: shared)
    let fromSeparate = p.backward(upstream: upstream, options, cache: separate.cache)
    #expect(firstBitDifference(fromShared.input!, fromSeparate.input!) == nil, "dL/dx differs")
    #expect(firstBitDifference(fromShared.sigma!, fromSeparate.sigma!) == nil, "dL/dσ differs")
  }

  @Test("The cache in the output's memory: the cache's bits, one store (Float)", arguments: floatImplementations)
  func floatCacheInOutput(_ implementation: KernelImplementation) { Self.cacheInOutput(Float.self, implementation) }

  @Test("The cache in the output's memory: the cache's bits, one store (Double)", arguments: doubleImplementations)
  func doubleCacheInOutput(_ implementation: KernelImplementation) { Self.cacheInOutput(Double.self, implementation) }

  @Test("A reused workspace gives the same bits as a fresh one, across shapes", arguments: floatImplementations)
  func workspaceReuse(_ implementation: KernelImplementation) {
    let workspace = KernelWorkspace()
    let options = KernelOptions(implementation: implementation, threads: 2)
    // Growing, shrinking and growing again; layouts with different slot counts.
    for (k, (rows, columns)) in [(5, 3), (700, 129), (2, 1), (64, 17), (1200, 60)].enumerated() {
      let layout = Layout.allCases[k % Layout.allCases.count]
      let (p, upstream) = Self.randomProblem(Float.self, rows: rows, columns: columns, layout: layout, seed: UInt64(k))
      let fresh = (p.forward(options, cache: true, counts: true), p.backward(upstream: upstream, options))
      let reused = (
        p.forward(options, cache: true, counts: true, workspace: workspace),
        p.backward(upstream: upstream, options, workspace: workspace))
      #expect(firstBitDifference(reused.0.output, fresh.0.output) == nil, "\(rows)×\(columns)")
      #expect(reused.0.counts == fresh.0.counts, "\(rows)×\(columns)")
      #expect(firstBitDifference(reused.1.input!, fresh.1.input!) == nil, "\(rows)×\(columns)")
      #expect(firstBitDifference(reused.1.sigma!, fresh.1.sigma!) == nil, "\(rows)×\(columns)")
      if let a = reused.1.center, let b = fresh.1.center { #expect(firstBitDifference(a, b) == nil) }
      if let a = reused.1.amplitude, let b = fresh.1.amplitude { #expect(firstBitDifference(a, b) == nil) }
    }
  }

  @Test("Gradient buffers are overwritten, not accumulated into", arguments: floatImplementations)
  func overwrite(_ implementation: KernelImplementation) {
    let options = KernelOptions(implementation: implementation, threads: 1)
    let (p, upstream) = Self.randomProblem(Float.self, rows: 50, columns: 9, layout: .allPerUnit, seed: 0x0E)
    // Problem.backward fills its buffers with NaN first; here they start with garbage and
    // are used twice.
    let expected = p.backward(upstream: upstream, options)
    var ds = [Float](repeating: 1e30, count: 9), dc = ds, da = ds
    for _ in 0..<2 {
      withParameter(p.sigma) { s in
        withParameter(p.center) { c in
          withParameter(p.amplitude) { a in
            p.x.withUnsafeBufferPointer { xb in
              upstream.withUnsafeBufferPointer { gb in
                ds.withUnsafeMutableBufferPointer { dsb in
                  dc.withUnsafeMutableBufferPointer { dcb in
                    da.withUnsafeMutableBufferPointer { dab in
                      BumpKernel.backward(
                        input: xb, upstream: gb, rows: p.rows, columns: p.columns, sigma: s!,
                        center: c, amplitude: a, inputGradient: nil, sigmaGradient: dsb,
                        centerGradient: dcb, amplitudeGradient: dab, options: options)
                    }
                  }
                }
              }
            }
          }
        }
      }
      #expect(firstBitDifference(ds, expected.sigma!) == nil)
      #expect(firstBitDifference(dc, expected.center!) == nil)
      #expect(firstBitDifference(da, expected.amplitude!) == nil)
    }
  }

  static func emptyProblem(rows: Int, columns: Int) -> Problem<Float> {
    Problem<Float>(
      rows: rows, columns: columns, x: [], sigma: .perUnit([Float](repeating: 1, count: columns)),
      center: .shared(0.5), amplitude: .perUnit([Float](repeating: 2, count: columns)))
  }

  static func checkEmptyBackward(_ p: Problem<Float>, _ options: KernelOptions) {
    let b = p.backward(upstream: [], options)
    #expect(b.sigma! == [Float](repeating: 0, count: p.columns), "dσ over \(p.rows)×\(p.columns): \(b.sigma!)")
    #expect(b.center! == [0], "shared dc over \(p.rows)×\(p.columns): \(b.center!)")
    #expect(b.amplitude! == [Float](repeating: 0, count: p.columns))
  }

  @Test("Empty shapes: no work, zero parameter gradients", arguments: floatImplementations)
  func emptyShapes(_ implementation: KernelImplementation) {
    let options = KernelOptions(implementation: implementation, threads: 2)
    for (rows, columns) in [(0, 5), (3, 0), (0, 0)] {
      let p = Self.emptyProblem(rows: rows, columns: columns)
      let f = p.forward(options, cache: true, counts: true)
      #expect(f.output.isEmpty && f.counts == [Int](repeating: 0, count: columns))
      // rows × 0 backward is the separate test below.
      if columns > 0 || rows == 0 { Self.checkEmptyBackward(p, options) }
    }
  }

  @Test(
    "Backward over rows × 0 columns writes zero gradients",
    arguments: floatImplementations)
  func backwardWithoutColumns(_ implementation: KernelImplementation) {
    Self.checkEmptyBackward(Self.emptyProblem(rows: 3, columns: 0), KernelOptions(implementation: implementation, threads: 1))
  }
}
