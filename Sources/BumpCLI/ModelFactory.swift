import BumpKit

/// Builds the model, loss and optimizer that a ``TrainingConfiguration`` describes.
enum ModelFactory {
  /// Dense(inputs→h1) → act → Dense(h1→h2) → act → … → Dense(→outputs), initialised from the
  /// configuration's seed; with a radial first layer, RadialBump(inputs→h1) → Dense(h1→h2) →
  /// act → …, and with a radial last layer (two or more hidden layers) … → act →
  /// RadialBump(h(k−1)→hk) → Dense(hk→outputs) (their centres are then placed on the data by
  /// ``placeRadialCenters(_:on:seed:)``).
  static func model<Element: MatrixScalar>(
    _ configuration: TrainingConfiguration, inputs: Int, outputs: Int, as _: Element.Type
  ) throws -> Sequential<Element> {
    var layers: [any Layer<Element>] = []
    var width = inputs
    for (i, size) in configuration.hiddenLayers.enumerated() {
      let radialLast = i > 0 && i == configuration.hiddenLayers.count - 1 && configuration.radialLastLayer == true
      if (i == 0 && configuration.radialFirstLayer == true) || radialLast {
        layers.append(try RadialBump<Element>(inputSize: width, units: size))
      } else {
        layers.append(try Dense<Element>(inputSize: width, outputSize: size))
        layers.append(try activation(configuration, units: size, as: Element.self))
      }
      width = size
    }
    layers.append(try Dense<Element>(inputSize: width, outputSize: outputs))
    return try Sequential(layers: layers, seed: configuration.seed)
  }

  /// Puts each radial layer's centres on k-means++ rows of its inputs for the training rows (at
  /// most 4096 of them, the first ones): the rows themselves for a first layer, the features
  /// the freshly initialised layers before it compute for a deeper one; each support reaches
  /// twice the nearest-centre distance — the usual radial basis start. A model without a
  /// radial layer is left alone; a first layer's start does not depend on later layers.
  static func placeRadialCenters<Element: MatrixScalar>(_ model: Sequential<Element>, on x: Matrix<Element>, seed: UInt64) throws {
    guard x.rows > 0 else { return }
    var rows = x
    if x.rows > 4096 { try x.copyRows(0..<4096, into: &rows) }
    var features = rows
    for (k, layer) in model.layers.enumerated() {
      if let radial = layer as? RadialBump<Element> {
        var generator = SeededGenerator(seed: k == 0 ? seed ^ 0x7AD1A1 : (seed ^ 0x7AD1A1) &+ UInt64(k))
        try radial.initializeCenters(from: features, sigmaScale: 2, using: &generator)
      }
      guard model.layers[(k + 1)...].contains(where: { $0 is RadialBump<Element> }) else { break }
      features = try layer.forward(features)
      layer.releaseSavedState()
    }
  }

  /// One hidden activation layer over `units` features.
  static func activation<Element: MatrixScalar>(
    _ configuration: TrainingConfiguration, units: Int, as _: Element.Type
  ) throws -> any Layer<Element> {
    switch configuration.activation {
    case .bump:
      let perUnit = configuration.sigma == .perUnit
      func spec(trained: Bool, initial: Initializer<Element>, fixed: Element)
        -> Bump<Element>.ParameterSpec
      {
        trained ? .init(perUnit: perUnit, trainable: true, initializer: initial) : .fixed(fixed)
      }
      return try Bump<Element>(
        units: units,
        sigma: .init(
          perUnit: perUnit, trainable: true,
          initializer: configuration.sigmaInitialization.initializer(Element.self)),
        center: spec(trained: configuration.trainCenter, initial: .zeros, fixed: 0),
        amplitude: spec(trained: configuration.trainAmplitude, initial: .constant(1), fixed: 1))
    case .relu: return ReLU<Element>()
    case .tanh: return Tanh<Element>()
    case .gaussian: return try Gaussian<Element>()
    }
  }

  /// The loss function.
  static func loss<Element: MatrixScalar>(_ choice: LossChoice, as _: Element.Type) -> any Loss<Element> {
    switch choice {
    case .mse: return MeanSquaredError<Element>()
    case .bce: return BinaryCrossEntropyWithLogits<Element>()
    case .softmax: return SoftmaxCrossEntropy<Element>()
    }
  }

  /// The loss training minimizes: the configuration's, with its label smoothing.
  static func trainingLoss<Element: MatrixScalar>(_ configuration: TrainingConfiguration, as _: Element.Type) throws -> any Loss<Element> {
    if configuration.loss == .softmax, let smoothing = configuration.labelSmoothing, smoothing > 0 {
      return try SoftmaxCrossEntropy<Element>(labelSmoothing: smoothing)
    }
    return loss(configuration.loss, as: Element.self)
  }

  /// The optimizer, with the configuration's learning rate and schedule; a cosine schedule
  /// decays to 0 over `epochs` × `stepsPerEpoch` steps (at most `Int.max`).
  static func optimizer<Element: MatrixScalar>(
    _ configuration: TrainingConfiguration, stepsPerEpoch: Int, as _: Element.Type
  ) throws -> any ResumableOptimizer<Element> {
    let rate = configuration.learningRate
    let schedule: LearningRateSchedule
    switch configuration.schedule ?? .constant {
    case .constant: schedule = .constant
    case .cosine:
      // Saturates: a budget of 10¹⁸ epochs ("until early stopping") has more steps than Int
      // holds, and decays as slowly as the largest count would.
      let (steps, overflow) = configuration.epochs.multipliedReportingOverflow(by: stepsPerEpoch)
      schedule = .cosine(totalSteps: overflow ? .max : max(1, steps), minimum: 0)
    }
    switch configuration.optimizer {
    case .adam: return try Adam<Element>(learningRate: rate, schedule: schedule)
    case .adamw: return try AdamW<Element>(learningRate: rate, schedule: schedule)
    case .sgd: return try SGD<Element>(learningRate: rate, schedule: schedule)
    }
  }

  /// The number of model outputs for a task and loss: the target columns for regression,
  /// one logit for binary cross-entropy, one per class for softmax.
  static func outputs(task: LearningTask, targetColumns: Int, loss: LossChoice) -> Int {
    switch (task, loss) {
    case (.classification(let classes), .softmax): return classes
    case (.classification, _): return 1
    case (.regression, _): return targetColumns
    }
  }
}
