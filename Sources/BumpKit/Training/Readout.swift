/// Closed-form fitting of a linear read-out: the last ``Dense`` layer of a model, on fixed
/// features.
///
/// **When it helps.** Bump units are localised features: unit j responds only inside
/// (c − √σ, c + √σ). With the hidden layers fixed, the model's output y = φ(x)·W + b is
/// linear in (W, b), so fitting the read-out to mean squared error is a linear
/// least-squares problem with a closed-form optimum — one solve instead of many epochs of
/// gradient descent, and the exact minimiser rather than an approximation of it. This is the
/// read-out of radial-basis-function networks (Broomhead & Lowe, "Multivariable functional
/// interpolation and adaptive networks", Complex Systems 2, 1988) and of extreme learning
/// machines. Typical uses: a final refit after training the hidden layers (``refit(_:inputs:targets:lambda:)``),
/// or an initial read-out for bump units placed by hand.
///
/// **Ridge.** Bump features are often ill-conditioned: dead units give all-zero columns,
/// overlapping units nearly equal ones. λ > 0 minimises
///
///     ‖Y − Φ·W − 1·b‖²_F + λ·‖W‖²_F
///
/// (Hoerl & Kennard, "Ridge regression", Technometrics 12, 1970), which has a unique,
/// stable solution for any features; λ = 0 is ordinary least squares, which needs the
/// features (with the ones column) to have full column rank. The bias b is never penalised.
///
/// **How.** Φ is augmented with a column of ones for b and solved by the package's one ridge
/// solve with only W penalised: the ridge term becomes √λ·I rows below Φ, so that one
/// QR-based least-squares solve (LAPACK `?gels`, through ``Matrix/solveLeastSquares(_:_:)``)
/// handles both cases without forming ΦᵀΦ, which would square the condition number. The
/// solve runs in Double whatever the element type; W and b are rounded to the element type
/// once, at the end.
public enum Readout {
  /// Fits `dense`'s weight W and bias b to map `features` onto `targets` with the least
  /// (ridge-penalised) squared error, and writes them into the layer.
  ///
  /// If the layer has no trainable bias (made with `useBias: false`), only W is fitted and
  /// b stays as it is.
  ///
  /// - Parameters:
  ///   - features: Φ, `N × d`: the input of `dense` for N samples (the output of the layers
  ///     before it), with d = `dense.inputSize`.
  ///   - targets: Y, `N × p`, with p = `dense.outputSize`.
  ///   - lambda: λ ≥ 0, finite; the ridge penalty on W.
  ///   - dense: the layer to write; its parameters are replaced with ``Parameter/assign(_:)``.
  /// - Returns: the mean squared error of the fitted read-out on (Φ, Y), computed in Double.
  /// - Throws: ``BumpKitError/emptyBatch(operation:)`` for N = 0;
  ///   ``BumpKitError/shapeMismatch(operation:expected:actual:)`` naming the shapes;
  ///   ``BumpKitError/invalidArgument(name:value:reason:)`` for a negative or non-finite λ, or
  ///   for λ = 0 with fewer samples than unknowns or rank-deficient features;
  ///   ``BumpKitError/nonFiniteData(what:row:column:value:)`` naming the first NaN or ±∞.
  @discardableResult
  public static func fitRidge<E: MatrixScalar>(
    features: Matrix<E>, targets: Matrix<E>, lambda: E, into dense: Dense<E>
  ) throws -> Double {
    let operation = "Readout.fitRidge"
    let (n, d, p) = (features.rows, features.columns, targets.columns)
    guard n > 0 else { throw BumpKitError.emptyBatch(operation: operation) }
    guard targets.rows == n else {
      throw BumpKitError.shapeMismatch(
        operation: "\(operation): targets, one row per row of the features \(MatrixShape(of: features))", expected: MatrixShape(rows: n, columns: p),
        actual: MatrixShape(of: targets))
    }
    guard d == dense.inputSize else {
      throw BumpKitError.shapeMismatch(
        operation: "\(operation): features for Dense(\(dense.inputSize)→\(dense.outputSize))",
        expected: MatrixShape(rows: n, columns: dense.inputSize), actual: MatrixShape(of: features))
    }
    guard p == dense.outputSize else {
      throw BumpKitError.shapeMismatch(
        operation: "\(operation): targets for Dense(\(dense.inputSize)→\(dense.outputSize))",
        expected: MatrixShape(rows: n, columns: dense.outputSize), actual: MatrixShape(of: targets))
    }
    guard lambda.isFinite && lambda >= 0 else {
      throw BumpKitError.invalidArgument(name: "lambda", value: "\(lambda)", reason: "must be finite and ≥ 0")
    }
    try checkFinite(features, "\(operation) features")
    try checkFinite(targets, "\(operation) targets")

    let fitBias = dense.bias?.isTrainable ?? false
    let unknowns = d + (fitBias ? 1 : 0)
    let ridge = Double(lambda)
    if ridge == 0 && n < unknowns {
      throw BumpKitError.invalidArgument(
        name: "lambda", value: "0",
        reason: "\(n) samples cannot determine \(unknowns) unknowns (\(d) weights per output\(fitBias ? " and a bias" : "")); use lambda > 0")
    }

    // A = [Φ 1] with only Φ's weights penalised: the ridge solve of Matrix, in Double.
    var a = try Matrix<Double>(rows: n, columns: unknowns)
    var b = try Matrix<Double>(rows: n, columns: p)
    features.withUnsafeBufferPointer { phi in
      a.withUnsafeMutableBufferPointer { a in
        for i in 0..<n {
          for j in 0..<d { a[i * unknowns + j] = Double(phi[i * d + j]) }
          if fitBias { a[i * unknowns + d] = 1 }
        }
      }
    }
    targets.withUnsafeBufferPointer { y in
      b.withUnsafeMutableBufferPointer { b in
        for i in 0..<(n * p) { b[i] = Double(y[i]) }
      }
    }

    let solution: Matrix<Double>
    do {
      solution = try Matrix.ridge(features: a, targets: b, lambda: ridge, penalizedColumns: d)
    } catch LinearAlgebraError.lapack(let routine, let info) where info > 0 {
      throw BumpKitError.invalidArgument(
        name: "features", value: "\(MatrixShape(of: features))",
        reason: "are rank deficient\(fitBias ? " together with the bias column" : "") (\(routine) info \(info): e.g. a dead unit's all-zero column or two identical units); use lambda > 0")
    }

    var weight = try Matrix<E>(rows: d, columns: p)
    var bias = try Matrix<E>(rows: 1, columns: p)
    for j in 0..<d {
      for k in 0..<p { weight[j, k] = E(solution[j, k]) }
    }
    if fitBias {
      for k in 0..<p { bias[0, k] = E(solution[d, k]) }
    }
    try dense.weight.assign(weight)
    if fitBias { try dense.bias?.assign(bias) }

    // The training error of the rounded W and b, as the layer will compute it.
    var squaredError = 0.0
    let fitted = fitBias ? bias : (try dense.bias?.value ?? Matrix(rows: 1, columns: dense.outputSize))
    for i in 0..<n {
      for k in 0..<p {
        var prediction = Double(fitted[0, k])
        for j in 0..<d { prediction += a[i, j] * Double(weight[j, k]) }
        let residual = prediction - b[i, k]
        squaredError += residual * residual
      }
    }
    return squaredError / Double(n * p)
  }

  /// Refits the last layer of `model`, which must be ``Dense``, in closed form on the
  /// features that the layers before it compute from `inputs`.
  ///
  /// The hidden layers are unchanged; the features are computed in batches
  /// (``Sequential/predict(_:batchSize:)`` semantics: no state is kept).
  ///
  /// - Returns: the mean squared error of the refitted model on (`inputs`, `targets`).
  /// - Throws: ``BumpKitError/invalidArgument(name:value:reason:)`` if the last layer is
  ///   not ``Dense``; the errors of ``fitRidge(features:targets:lambda:into:)`` and of the
  ///   layers.
  @discardableResult
  public static func refit<E: MatrixScalar>(
    _ model: Sequential<E>, inputs: Matrix<E>, targets: Matrix<E>, lambda: E
  ) throws -> Double {
    guard let readout = model.layers.last as? Dense<E> else {
      throw BumpKitError.invalidArgument(
        name: "model", value: model.layers.last?.kindName ?? "empty",
        reason: "Readout.refit needs a model whose last layer is Dense")
    }
    guard inputs.rows > 0 else { throw BumpKitError.emptyBatch(operation: "Readout.refit") }
    guard inputs.columns == model.inputSize else {
      throw BumpKitError.shapeMismatch(
        operation: "Readout.refit: inputs", expected: MatrixShape(rows: inputs.rows, columns: model.inputSize),
        actual: MatrixShape(of: inputs))
    }
    let hidden = model.layers.dropLast()
    let batchSize = 4096
    var features = try Matrix<E>(rows: inputs.rows, columns: readout.inputSize)
    var batch = Matrix<E>()
    var start = 0
    defer { model.releaseSavedState() }
    while start < inputs.rows {
      let end = Swift.min(inputs.rows, start + batchSize)
      try inputs.copyRows(start..<end, into: &batch)
      var x = batch
      for layer in hidden {
        layer.releaseSavedState()
        x = try layer.forward(x)
      }
      let width = readout.inputSize
      x.withUnsafeBufferPointer { src in
        features.withUnsafeMutableBufferPointer { dst in
          for i in 0..<((end - start) * width) { dst[start * width + i] = src[i] }
        }
      }
      start = end
    }
    return try fitRidge(features: features, targets: targets, lambda: lambda, into: readout)
  }

  private static func checkFinite<E: MatrixScalar>(_ m: Matrix<E>, _ what: String) throws {
    let columns = m.columns
    try m.withUnsafeBufferPointer { v in
      if let i = v.firstIndex(where: { !$0.isFinite }) {
        throw BumpKitError.nonFiniteData(what: what, row: i / columns, column: i % columns, value: "\(v[i])")
      }
    }
  }
}
