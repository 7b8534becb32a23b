import RealModule

/// How a parameter's initial values are drawn.
///
/// The fan-based schemes follow Glorot & Bengio (2010) and He et al. (2015); `orthogonal`
/// follows Saxe et al. (2014), through a LAPACK QR factorization (geqrf + orgqr).
public enum Initializer<Element: MatrixScalar>: Sendable, Equatable {
  /// All zeros.
  case zeros
  /// Every value equal to the constant.
  case constant(Element)
  /// Uniform on [lower, upper).
  case uniform(Element, Element)
  /// Normal with the given mean and standard deviation.
  case normal(mean: Element, standardDeviation: Element)
  /// Uniform on ±√(6 / (fanIn + fanOut)).
  case glorotUniform
  /// Normal with standard deviation √(2 / (fanIn + fanOut)).
  case glorotNormal
  /// Uniform on ±√(6 / fanIn).
  case heUniform
  /// Normal with standard deviation √(2 / fanIn).
  case heNormal
  /// A (semi-)orthogonal matrix times `gain`: QR of a Gaussian matrix, signs fixed by R's
  /// diagonal so that the distribution is uniform (Haar).
  case orthogonal(gain: Element)

  /// The initializer of the widely copied Keras bump layer's σ: Uniform(0, 0.1).
  public static var kerasBumpSigma: Initializer { .uniform(0, 0.1) }

  /// A `rows × columns` matrix drawn from this initializer; `fanIn` is `rows` and `fanOut`
  /// `columns` (a Dense weight is inputSize × outputSize).
  public func matrix(rows: Int, columns: Int, using generator: inout SeededGenerator) throws -> Matrix<Element> {
    var m = try Matrix<Element>(rows: rows, columns: columns, repeating: 0)
    let fanIn = Double(rows), fanOut = Double(columns)
    func fill(_ draw: (inout SeededGenerator) -> Double) {
      m.withUnsafeMutableBufferPointer { p in
        for i in p.indices { p[i] = Element(draw(&generator)) }
      }
    }
    switch self {
    case .zeros: break
    case .constant(let c):
      m.withUnsafeMutableBufferPointer { $0.update(repeating: c) }
    case .uniform(let lo, let hi):
      let (l, h) = (Double(lo), Double(hi))
      fill { l + (h - l) * $0.nextUnit() }
    case .normal(let mean, let sd):
      let (mu, s) = (Double(mean), Double(sd))
      fill { mu + s * $0.nextNormal() }
    case .glorotUniform:
      let limit = (6 / (fanIn + fanOut)).squareRoot()
      fill { limit * (2 * $0.nextUnit() - 1) }
    case .glorotNormal:
      let s = (2 / (fanIn + fanOut)).squareRoot()
      fill { s * $0.nextNormal() }
    case .heUniform:
      let limit = (6 / fanIn).squareRoot()
      fill { limit * (2 * $0.nextUnit() - 1) }
    case .heNormal:
      let s = (2 / fanIn).squareRoot()
      fill { s * $0.nextNormal() }
    case .orthogonal(let gain):
      m = try Self.orthogonal(rows: rows, columns: columns, gain: gain, using: &generator)
    }
    return m
  }

  private static func orthogonal(
    rows: Int, columns: Int, gain: Element, using generator: inout SeededGenerator
  ) throws -> Matrix<Element> {
    guard rows > 0 && columns > 0 else { return try Matrix(rows: rows, columns: columns, repeating: 0) }
    // QR needs a tall matrix: factor the transpose when the target is wide.
    let tall = rows >= columns
    let (r, c) = tall ? (rows, columns) : (columns, rows)
    var a = try Matrix<Element>(rows: r, columns: c, repeating: 0)
    a.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = Element(generator.nextNormal()) } }
    let (q, rr) = try a.qr()
    var result = q
    result.withUnsafeMutableBufferPointer { p in
      for j in 0..<c {
        let sign: Element = rr[j, j] < 0 ? -gain : gain
        for i in 0..<r { p[i * c + j] *= sign }
      }
    }
    return tall ? result : result.transposed()
  }
}
