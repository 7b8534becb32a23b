import BumpKit
import Testing

/// Bump and RadialBump describe σ, c and a with one spec type, in one order, and report them
/// through one statistics type with one median.
@Suite("One vocabulary for Bump and RadialBump")
struct BumpVocabularyTests {
  @Test("one spec value configures both layers, given in the order σ, c, a")
  func oneSpecType() throws {
    let sigma: BumpParameterSpec<Float> = .perUnit(.constant(0.5), trainable: false)
    let center: BumpParameterSpec<Float> = .fixed(0.25)
    let amplitude: BumpParameterSpec<Float> = .trainable(.constant(2))
    let bump = try Bump<Float>(units: 3, sigma: sigma, center: center, amplitude: amplitude)
    let radial = try RadialBump<Float>(inputSize: 2, units: 3, sigma: sigma, center: center, amplitude: amplitude)
    for (s, c, a) in [(bump.sigma, bump.center, bump.amplitude), (radial.sigma, radial.center, radial.amplitude)] {
      #expect(s.value.elements == [0.5, 0.5, 0.5])
      #expect(!s.isTrainable && !c.isTrainable && a.isTrainable)
      #expect(Set(c.value.elements) == [0.25])
      #expect(a.value.elements == [2, 2, 2])
    }
    #expect(bump.center.value.elements == [0.25], "a fixed spec is one shared value for a Bump layer")
    #expect(radial.center.value.rows == 3 && radial.center.value.columns == 2, "one centre per unit for a radial one")
    // The old nested names are the shared type.
    let nested: Bump<Float>.ParameterSpec = sigma
    let radialNested: RadialBump<Float>.ParameterSpec = nested
    #expect(radialNested == sigma)
    #expect(BumpParameterSpec<Float>(trainable: true, initializer: .zeros).perUnit, "per unit unless told otherwise")
  }

  @Test("a radial layer refuses a shared spec that would draw one random value, and takes a shared constant")
  func radialSharedSpec() throws {
    let error = try #require(throws: BumpKitError.self) {
      try RadialBump<Double>(inputSize: 2, units: 3, sigma: .shared(.uniform(0.5, 1)))
    }
    guard case .invalidArgument(let name, _, _) = error else {
      Issue.record("expected invalidArgument, got \(error)")
      return
    }
    #expect(name == "sigma")
    let layer = try RadialBump<Double>(inputSize: 2, units: 3, sigma: .shared(.constant(0.5)))
    #expect(layer.sigma.value.elements == [0.5, 0.5, 0.5])
    #expect(layer.sigma.isTrainable)
  }

  @Test("the radial initializer's σ-first order draws the same weights as before, from the stored order c, σ, a")
  func radialDrawOrder() throws {
    let layer = try RadialBump<Double>(
      inputSize: 2, units: 3, sigma: .trainable(.uniform(0.5, 1)), center: .trainable(.uniform(-1, 1)))
    var generator = SeededGenerator(seed: 0)
    let c = try Initializer<Double>.uniform(-1, 1).matrix(rows: 3, columns: 2, using: &generator)
    let s = try Initializer<Double>.uniform(0.5, 1).matrix(rows: 1, columns: 3, using: &generator)
    #expect(layer.center.value.elements == c.elements)
    #expect(layer.sigma.value.elements == s.elements)
    #expect(layer.parameters.map(\.name) == ["center", "sigma", "amplitude"], "the tensor order checkpoints store")
    let settings = RadialBumpConfiguration(inputSize: 2, units: 3, trainableSigma: false, trainableCenter: true)
    #expect(!settings.trainableSigma && settings.trainableCenter && !settings.trainableAmplitude)
  }

  @Test("statistics say what each kind learns, in the same terms")
  func trainability() throws {
    let bump = try Bump<Float>(units: 2, center: .perUnit(.zeros))
    let radial = try RadialBump<Float>(inputSize: 2, units: 2, sigma: .fixed(1), amplitude: .trainable(.constant(1)))
    let model = try Sequential<Float>(layers: [radial, bump])
    let statistics = BumpLayerStatistics.parametersOnly(model: model)
    #expect(statistics.map(\.trainable) == [
      .init(sigma: false, center: true, amplitude: true),
      .init(sigma: true, center: true, amplitude: false),
    ])
  }

  @Test("σ and radius spreads: the median of √σ, not √ of σ's median, for an even count")
  func spreads() throws {
    for layer in [try Bump<Double>(units: 4) as any Layer<Double>, try RadialBump<Double>(inputSize: 3, units: 4)] {
      let sigma = layer.parameters.first { $0.name == "sigma" }!
      try sigma.assign(Matrix(rows: 1, columns: 4, elements: [16, 1, 9, 4]))
      let s = try #require(BumpLayerStatistics.parametersOnly(model: Sequential(layers: [layer])).first)
      #expect([s.sigmaSpread.minimum, s.sigmaSpread.median, s.sigmaSpread.maximum] == [1, 6.5, 16])
      #expect(s.supportRadiusSpread.minimum == 1)
      #expect(s.supportRadiusSpread.median == 2.5, "(2 + 3) / 2, where √6.5 would be 2.55")
      #expect(s.supportRadiusSpread.maximum == 4)
    }
    let shared = try Bump<Double>(units: 4, sigma: .shared(.constant(0.25)))
    let s = try #require(BumpLayerStatistics.parametersOnly(model: Sequential(layers: [shared])).first)
    let radii = s.supportRadiusSpread
    #expect([radii.minimum, radii.median, radii.maximum] == [0.5, 0.5, 0.5], "one shared σ = 0.25")
  }

  @Test("the one median: middle value, mean of the middle two, no overflow, any order")
  func oneMedian() {
    #expect(median(of: [3]) == 3)
    #expect(median(of: [5, 1, 3]) == 3)
    #expect(median(of: [4, 1, 3, 2]) == 2.5)
    #expect(median(of: [2, 2, 2, 7, 7, 7]) == 4.5)
    #expect(median(of: [-1, -3, -2, -4]) == -2.5)
    let big = Double.greatestFiniteMagnitude
    #expect(median(of: [big, big]) == big, "lower/2 + upper/2, not (lower + upper)/2")
    var generator = SeededGenerator(seed: 3)
    let values = (0..<101).map { _ in generator.nextUnit() }
    #expect(median(of: values) == values.sorted()[50])
    #expect(median(of: values.reversed()) == values.sorted()[50])
  }
}
