import BumpKit

/// Builds the model, loss and optimizer that a ``TrainingConfiguration`` describes.
enum ModelFactory {
  /// Dense(inputs→h1) → act → Dense(h1→h2) → act → … → Dense(→outputs), initialised from the
  /// configuration's seed.
  static func model<Element: MatrixScalar>(
    _ configuration: TrainingConfiguration, inputs: Int, outputs: Int, as _: Element.Type
  ) throws -> Sequential<Element> {
    var layers: [any Layer<Element>] = []
    var width = inputs
    for size in configuration.hiddenLayers {
      layers.append(try Dense<Element>(inputSize: width, outputSize: size))
      layers.append(try activation(configuration, units: size, as: Element.self))
      width = size
    }
    layers.append(try Dense<Element>(inputSize: width, outputSize: outputs))
    return try Sequential(layers: layers, seed: configuration.seed)
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

  /// The optimizer, with the configuration's learning rate and schedule; a cosine schedule
  /// decays to 0 over `epochs` × `stepsPerEpoch` steps.
  static func optimizer<Element: MatrixScalar>(
    _ configuration: TrainingConfiguration, stepsPerEpoch: Int, as _: Element.Type
  ) throws -> any Optimizer<Element> {
    let rate = configuration.learningRate
    let schedule: LearningRateSchedule
    switch configuration.schedule ?? .constant {
    case .constant: schedule = .constant
    case .cosine:
      schedule = .cosine(totalSteps: max(1, configuration.epochs * stepsPerEpoch), minimum: 0)
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
