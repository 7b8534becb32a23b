/// How one of a bump layer's parameters σ, c and a is laid out, whether it is learned, and
/// how its first values are drawn: the one vocabulary of ``Bump`` and ``RadialBump``, whose
/// initializers take the three in that order, `sigma:`, `center:`, `amplitude:`.
///
/// - ``perUnit``: one value per unit (true) or one value shared by the layer (false). A
///   ``RadialBump`` holds every parameter per unit (c as one centre of `inputSize`
///   coordinates per unit); it takes a shared spec only with a ``Initializer/constant(_:)``
///   or ``Initializer/zeros`` initializer, whose value it repeats for every unit.
/// - ``trainable``: whether optimizers update it.
/// - ``initializer``: the first values, drawn as every new layer's are (see
///   ``Sequential/init(layers:seed:)``).
///
/// ```swift
/// let bump = try Bump<Float>(units: 8, sigma: .shared(.constant(0.5)), center: .perUnit(.zeros))
/// let radial = try RadialBump<Float>(inputSize: 2, units: 8, sigma: .fixed(0.25))
/// ```
public struct BumpParameterSpec<Element: MatrixScalar>: Sendable, Equatable {
  /// One value per unit (true, the default) or one shared value (false).
  public var perUnit: Bool
  /// Whether optimizers update it.
  public var trainable: Bool
  /// The initial values.
  public var initializer: Initializer<Element>

  /// A spec from its parts; per unit unless told otherwise.
  public init(perUnit: Bool = true, trainable: Bool, initializer: Initializer<Element>) {
    self.perUnit = perUnit
    self.trainable = trainable
    self.initializer = initializer
  }

  /// One value per unit, starting at `initial`, learned unless `trainable` is false.
  public static func perUnit(_ initial: Initializer<Element>, trainable: Bool = true) -> Self {
    Self(perUnit: true, trainable: trainable, initializer: initial)
  }

  /// One value for the whole layer, starting at `initial`, learned unless `trainable` is
  /// false.
  public static func shared(_ initial: Initializer<Element>, trainable: Bool = true) -> Self {
    Self(perUnit: false, trainable: trainable, initializer: initial)
  }

  /// One value per unit, learned, starting at `initial`: ``perUnit(_:trainable:)`` with its
  /// default, under the name ``RadialBump`` layers used for it.
  public static func trainable(_ initial: Initializer<Element>) -> Self { .perUnit(initial) }

  /// One fixed value, `value`, for the whole layer (for every unit of a ``RadialBump``).
  public static func fixed(_ value: Element) -> Self {
    Self(perUnit: false, trainable: false, initializer: .constant(value))
  }

  /// The one value the initializer draws for every entry (zeros or a constant), else nil:
  /// one shared value and one per unit then hold the same numbers, and a layer can check it
  /// before anything is drawn.
  var constantValue: Element? {
    switch initializer {
    case .zeros: 0
    case .constant(let value): value
    default: nil
    }
  }
}

/// Why a bump layer refuses a negative initial σ.
let initialSigmaReason =
  "must be finite and ≥ 0 (a negative initial σ would be raised to the floor, leaving a nearly dead unit)"

/// Throws for a constant initial value that a bump layer refuses — σ negative or not finite,
/// c or a not finite — when the layer is made, before anything is drawn; the values of a
/// random initializer are checked when they are drawn.
func validateConstantSpecs<Element>(
  layer: String,
  _ specs: (sigma: BumpParameterSpec<Element>, center: BumpParameterSpec<Element>, amplitude: BumpParameterSpec<Element>)
) throws {
  for (spec, name) in [(specs.sigma, "σ"), (specs.center, "c"), (specs.amplitude, "a")] {
    guard let value = spec.constantValue else { continue }
    try checkParameterValues(
      Matrix(rows: 1, columns: 1, elements: [value]), layer: layer, parameter: name, allowNegative: name != "σ",
      negativeReason: initialSigmaReason)
  }
}
