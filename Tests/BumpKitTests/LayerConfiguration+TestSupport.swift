import BumpKit

/// Short spellings of built-in layers' configurations, for tests that write architectures by
/// hand.
extension LayerConfiguration {
  static func dense(_ settings: DenseConfiguration) -> LayerConfiguration {
    try! LayerConfiguration(kind: Dense<Float>.kind, settings: settings)
  }
  static func gaussian(_ settings: GaussianConfiguration) -> LayerConfiguration {
    try! LayerConfiguration(kind: Gaussian<Float>.kind, settings: settings)
  }
  static var relu: LayerConfiguration { LayerConfiguration(kind: ReLU<Float>.kind) }
  static var tanh: LayerConfiguration { LayerConfiguration(kind: Tanh<Float>.kind) }
}
