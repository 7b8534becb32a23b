import BumpKit
import Foundation
import Testing

@Suite("Typed layer configuration")
struct LayerConfigurationTests {
  /// The architecture JSON of a checkpoint, as stored in its metadata.
  private func architectureJSON(_ file: SafetensorsFile) throws -> [String: Any] {
    let text = try #require(file.metadata["architecture"])
    return try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
  }

  @Test("a Gaussian's width floor is saved, so a width below the default floor loads again")
  func gaussianFloorRoundTrips() throws {
    let model = try Sequential<Double>(layers: [
      try Dense(inputSize: 2, outputSize: 3), try Gaussian(width: 2e-5, widthFloor: 1e-6),
    ])
    let file = try Checkpoint.encode(model)
    let (loaded, _) = try Checkpoint.load(Double.self, file: file)
    let gaussian = try #require(loaded.layers[1] as? Gaussian<Double>)
    #expect(gaussian.widthFloor == 1e-6)
    #expect(gaussian.width.value[0, 0] == 2e-5)
    #expect(gaussian.configuration == .gaussian(GaussianConfiguration(widthFloor: 1e-6)))
  }

  @Test("built-in settings are stored as strings, as every earlier version wrote them")
  func storedFormatIsUnchanged() throws {
    let model = try Sequential<Float>(layers: [
      try Dense(inputSize: 2, outputSize: 3, useBias: false),
      try Bump(units: 3, sigma: .shared(.constant(2), trainable: false), sigmaFloor: 0.25),
    ])
    let json = try architectureJSON(try Checkpoint.encode(model))
    let layers = try #require(json["layers"] as? [[String: Any]])
    #expect(layers[0]["kind"] as? String == "dense")
    #expect(layers[0]["settings"] as? [String: String] == ["inputSize": "2", "outputSize": "3", "useBias": "false"])
    #expect(layers[1]["settings"] as? [String: String] == [
      "units": "3", "sigma": "shared,fixed", "center": "shared,fixed", "amplitude": "shared,fixed", "sigmaFloor": "0.25",
    ])
  }

  @Test("settings written as JSON numbers and booleans read like strings; bad ones name the setting")
  func lenientAndStrictDecoding() throws {
    let decoder = JSONDecoder()
    let typed = try decoder.decode(LayerConfiguration.self, from: Data(#"{"kind":"dense","settings":{"inputSize":4,"outputSize":"5","useBias":false}}"#.utf8))
    #expect(typed == .dense(DenseConfiguration(inputSize: 4, outputSize: 5, useBias: false)))
    let old = try decoder.decode(LayerConfiguration.self, from: Data(#"{"kind":"gaussian","settings":{}}"#.utf8))
    #expect(old == .gaussian(GaussianConfiguration(widthFloor: 1e-4)), "a checkpoint from before the floor was stored")
    for (json, mentions) in [
      (#"{"kind":"dense","settings":{"inputSize":"0","outputSize":"5"}}"#, "dense.inputSize"),
      (#"{"kind":"dense","settings":{"inputSize":"2.5","outputSize":"5"}}"#, "dense.inputSize"),
      (#"{"kind":"bump","settings":{"units":"3","sigma":"sideways","center":"shared","amplitude":"shared"}}"#, "bump.sigma"),
      (#"{"kind":"gaussian","settings":{"widthFloor":"-1"}}"#, "gaussian.widthFloor"),
    ] {
      let error = #expect(throws: BumpKitError.self) { _ = try decoder.decode(LayerConfiguration.self, from: Data(json.utf8)) }
      #expect(error?.localizedDescription.contains(mentions) == true, "\(json): \(String(describing: error))")
    }
  }

  @Test("an unknown kind decodes as a custom configuration and fails to build, naming the kind")
  func unknownKind() throws {
    let c = try JSONDecoder().decode(LayerConfiguration.self, from: Data(#"{"kind":"mystery","settings":{"n":3}}"#.utf8))
    #expect(c.kind == "mystery")
    #expect(c.summary == "mystery(n: 3)")
    let error = #expect(throws: BumpKitError.self) { _ = try c.makeLayer(Float.self) }
    #expect(error?.localizedDescription.contains("mystery") == true)
  }

  @Test("custom settings encode to JSON and decode back into the layer's own type")
  func customSettingsRoundTrip() throws {
    struct Settings: Codable, Equatable { var units: Int; var label: String; var gains: [Double] }
    let settings = Settings(units: 3, label: "a \"quoted\" name", gains: [0.5, -2])
    let configuration = try LayerConfiguration(kind: "gains", settings: settings)
    let data = try JSONEncoder().encode(configuration)
    let back = try JSONDecoder().decode(LayerConfiguration.self, from: data)
    #expect(back == configuration)
    #expect(try back.settings(as: Settings.self) == settings)
    struct Other: Codable { var width: Int }
    let error = #expect(throws: BumpKitError.self) { _ = try back.settings(as: Other.self) }
    #expect(error?.localizedDescription.contains("gains") == true)
  }

  @Test("summaries list the typed settings")
  func summaries() throws {
    #expect(try Dense<Float>(inputSize: 2, outputSize: 8).configuration.summary == "dense(inputSize: 2, outputSize: 8, useBias: true)")
    #expect(ReLU<Float>().configuration.summary == "relu")
    #expect(try Bump<Double>(units: 4).configuration.summary
      == "bump(amplitude: shared,fixed, center: shared,fixed, sigma: per-unit, sigmaFloor: 0.0001, units: 4)")
  }

  @Test("a bias-free Dense layer from an older checkpoint, with its stored zero bias, loads")
  func olderBiasFreeDenseLoads() throws {
    let model = try Sequential<Float>(layers: [try Dense(inputSize: 2, outputSize: 3, useBias: false), Tanh()])
    var file = try Checkpoint.encode(model)
    #expect(!file.names.contains("layers.0.bias"))
    try file.insert(SafetensorsFile.Tensor([Float](repeating: 0, count: 3), shape: [1, 3]), named: "layers.0.bias")
    let (loaded, _) = try Checkpoint.load(Float.self, file: file)
    #expect(loaded.parameters.count == 1)
    let x = try Matrix<Float>([[0.5, -1]])
    #expect(try loaded.predict(x).elements == model.predict(x).elements)
    // A non-zero stored bias would change the outputs: it is refused, not dropped.
    var biased = try Checkpoint.encode(model)
    try biased.insert(SafetensorsFile.Tensor([0, 0.5, 0] as [Float], shape: [1, 3]), named: "layers.0.bias")
    #expect(throws: CheckpointError.unexpectedTensor(source: "checkpoint", name: "layers.0.bias")) {
      _ = try Checkpoint.load(Float.self, file: biased)
    }
  }

  @Test("Gaussian's initializer refuses values it cannot use")
  func gaussianRefusesBadValues() {
    for (label, make) in [
      ("floor 0", { _ = try Gaussian<Float>(widthFloor: 0) }),
      ("width below floor", { _ = try Gaussian<Float>(width: 1e-6) }),
      ("NaN amplitude", { _ = try Gaussian<Float>(amplitude: .nan) }),
      ("infinite center", { _ = try Gaussian<Double>(center: .infinity) }),
    ] as [(String, () throws -> Void)] {
      #expect(throws: BumpKitError.self, "\(label)") { try make() }
    }
  }
}
