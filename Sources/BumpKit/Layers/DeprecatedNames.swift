// Names that an earlier version used for the same values. They are kept for one release so
// that code written against it still builds, with a warning that names the replacement.

extension Dense {
  /// The number of input features.
  @available(*, deprecated, renamed: "inputSize")
  public var inputFeatures: Int { inputSize }
  /// The number of output features.
  @available(*, deprecated, renamed: "outputSize")
  public var outputFeatures: Int { outputSize }
}

extension Sequential {
  /// The number of input features.
  @available(*, deprecated, renamed: "inputSize")
  public var inputFeatures: Int { inputSize }
  /// The number of output features.
  @available(*, deprecated, renamed: "outputSize")
  public var outputFeatures: Int { outputSize }
}

extension Checkpoint.Architecture {
  /// The model's input width.
  @available(*, deprecated, renamed: "inputSize")
  public var inputFeatures: Int { inputSize }
}
