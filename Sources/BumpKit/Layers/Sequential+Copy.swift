extension Sequential {
  /// A deep copy: new layers of the same kinds and settings holding copies of the current
  /// parameter values (and whether each is trainable), sharing nothing with this model.
  ///
  /// Training, fine-tuning or re-initializing the copy leaves this model as it is, and the
  /// other way round: the way to train two variants of one model, or to keep a trained body
  /// while a copy of it is fine-tuned. Buffers and the statistics of the last forward pass
  /// are not copied. Optimizer state lives in the optimizer, not in the model.
  ///
  /// Built-in layers copy themselves; a layer of your own is rebuilt from its settings when
  /// it is a ``CheckpointableLayer`` (no registration needed), and its parameter values are
  /// then assigned.
  ///
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` naming the first layer
  ///   (`layers[i]`) that cannot be copied — one of your own that is not a
  ///   ``CheckpointableLayer`` — or whose rebuilt form has other parameters; an error of the
  ///   layer's ``CheckpointableLayer/init(settings:)``.
  public func copy() throws -> Sequential<Element> {
    var copies: [any Layer<Element>] = []
    for (i, layer) in layers.enumerated() {
      copies.append(try copyLayer(layer, name: "layers[\(i)]"))
    }
    return try Sequential(layers: copies)
  }
}

extension Sequential: CopyableLayer {
  func emptyCopy() throws -> any Layer<Element> { try copy() }
}

/// A built-in layer that can make a layer of its own kind and settings (initializers
/// included), whose parameters ``copyLayer(_:name:)`` then overwrites.
protocol CopyableLayer<Element>: Layer {
  /// A new layer like this one, with parameters of the same names and shapes.
  func emptyCopy() throws -> any Layer<Element>
}

/// A deep copy of `layer`, parameter values and trainable flags included.
func copyLayer<Element: MatrixScalar>(_ layer: any Layer<Element>, name: String) throws -> any Layer<Element> {
  let copy: any Layer<Element>
  if let layer = layer as? any CopyableLayer<Element> {
    copy = try layer.emptyCopy()
  } else if let layer = layer as? any CheckpointableLayer, let copyFromSettings = try rebuilt(layer) as? any Layer<Element> {
    copy = copyFromSettings
  } else {
    throw BumpKitError.invalidArgument(
      name: name, value: "\(type(of: layer))",
      reason: "cannot be copied: conform it to CheckpointableLayer, whose settings rebuild it")
  }
  // Every value is assigned below: the copy draws none.
  copy.markParametersSet()
  let (source, target) = (layer.parameters, copy.parameters)
  guard source.count == target.count,
    zip(source, target).allSatisfy({ $0.name == $1.name && $0.value.rows == $1.value.rows && $0.value.columns == $1.value.columns })
  else {
    throw BumpKitError.invalidArgument(
      name: name, value: "\(type(of: layer))",
      reason: "cannot be copied: the layer rebuilt from its settings has other parameters (\(target.map(\.name))) than the original (\(source.map(\.name)))")
  }
  for (p, q) in zip(source, target) {
    try q.assign(p.value)
    q.isTrainable = p.isTrainable
  }
  return copy
}

/// A new layer of `layer`'s type, built from its settings.
func rebuilt<L: CheckpointableLayer>(_ layer: L) throws -> any Layer {
  try L(settings: layer.settings)
}
