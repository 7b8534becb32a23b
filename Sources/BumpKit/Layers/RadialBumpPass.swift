/// What a ``RadialBump`` forward pass derives from the centres alone: Cᵀ for the direct form;
/// for the GEMM form the centres' mean m, C − m and ‖c − m‖². A training layer recomputes it
/// every pass; an inference form computes it once, since its centres do not change.
struct RadialCenterFrame<Element: MatrixScalar>: Sendable {
  let inputSize: Int
  let units: Int
  var centersT = Matrix<Element>()
  var shiftedCenters = Matrix<Element>()
  var centerNorms = Matrix<Element>()
  var shift = [Double]()
  /// Whether X and C are shifted by the centres' mean.
  var shiftApplied = false

  init(inputSize: Int, units: Int) {
    self.inputSize = inputSize
    self.units = units
  }

  /// For the direct form Cᵀ (unshifted), after checking that c is finite; for the GEMM form
  /// the centres' mean m, C − m and ‖c − m‖², where a finite mean doubles as the check.
  mutating func prepare(_ center: Matrix<Element>, layer name: String) throws {
    let (d, n) = (inputSize, units)
    guard inputSize > RadialBump<Element>.directDimensionLimit else {
      try checkParameterValues(center, layer: name, parameter: "c", allowNegative: true)
      transposeCenters(center)
      return
    }
    if shift.count != d { shift = [Double](repeating: 0, count: d) }
    shiftedCenters.resize(validRows: n, columns: d)
    centerNorms.resize(validRows: n, columns: 1)
    let finite = center.withUnsafeBufferPointer { c in
      shift.withUnsafeMutableBufferPointer { m in
        for k in 0..<d { m[k] = 0 }
        for j in 0..<n { for k in 0..<d { m[k] += Double(c[j * d + k]) } }
        let inverse = 1 / Double(n)
        for k in 0..<d { m[k] *= inverse }
        // Double centres near the range's end may overflow the sum: Σ cⱼ/n there.
        if m.contains(where: { !$0.isFinite }) {
          for k in 0..<d { m[k] = 0 }
          for j in 0..<n { for k in 0..<d { m[k] += Double(c[j * d + k]) * inverse } }
        }
        // Rounded to 8 significant bits: any point near the centres shrinks the norms as
        // well, and a shift that small changes of c do not move keeps the layer's rounding
        // a smooth function of each centre (finite differences see no jumps).
        for k in 0..<d where m[k] != 0 && m[k].isFinite {
          let unit = Double(sign: .plus, exponent: m[k].exponent - 7, significand: 1)
          m[k] = (m[k] / unit).rounded() * unit
        }
        return !m.contains { !$0.isFinite }
      }
    }
    // A NaN or infinite centre makes the mean non-finite: find it and say where.
    if !finite { try checkParameterValues(center, layer: name, parameter: "c", allowNegative: true) }
    // Σⱼ‖cⱼ − m‖² = Σⱼ‖cⱼ‖² − n·‖m‖²: shift only where that removes at least a quarter of
    // the norms, and otherwise use X and C as they are (no copies; the bound holds either way).
    Self.rowNorms(center, into: &centerNorms)
    let squares = centerNorms.withUnsafeBufferPointer { $0.reduce(0.0) { $0 + Double($1) } }
    let meanSquare = shift.reduce(0) { $0 + $1 * $1 }
    shiftApplied = !(meanSquare <= 0.25 * squares / Double(n))
    if shiftApplied { Self.shiftRows(center, by: shift, into: &shiftedCenters, norms: &centerNorms) }
  }

  /// The squared norm of each row.
  static func rowNorms(_ src: Matrix<Element>, into norms: inout Matrix<Element>) {
    let (rows, d) = (src.rows, src.columns)
    src.withUnsafeBufferPointer { s in
      norms.withUnsafeMutableBufferPointer { nb in
        for r in 0..<rows { nb[r] = squaredNorm(s.baseAddress! + r * d, d) }
      }
    }
  }

  /// Σ vₖ² with four partial sums: no chain of dependent multiply-adds (any order meets κ(d)).
  @inline(__always)
  static func squaredNorm(_ v: UnsafePointer<Element>, _ d: Int) -> Element {
    var acc: (Element, Element, Element, Element) = (0, 0, 0, 0)
    var k = 0
    while k + 4 <= d {
      acc.0 = acc.0.addingProduct(v[k], v[k])
      acc.1 = acc.1.addingProduct(v[k + 1], v[k + 1])
      acc.2 = acc.2.addingProduct(v[k + 2], v[k + 2])
      acc.3 = acc.3.addingProduct(v[k + 3], v[k + 3])
      k += 4
    }
    while k < d {
      acc.0 = acc.0.addingProduct(v[k], v[k])
      k += 1
    }
    return (acc.0 + acc.1) + (acc.2 + acc.3)
  }

  /// Cᵀ, which the direct form reads.
  mutating func transposeCenters(_ center: Matrix<Element>) {
    let (d, n) = (inputSize, units)
    centersT.resize(validRows: d, columns: n)
    center.withUnsafeBufferPointer { c in
      centersT.withUnsafeMutableBufferPointer { t in
        for j in 0..<n { for k in 0..<d { t[k * n + j] = c[j * d + k] } }
      }
    }
  }

  /// dst = src − m row by row, and the squared norm of each shifted row.
  static func shiftRows(_ src: Matrix<Element>, by shift: [Double], into dst: inout Matrix<Element>, norms: inout Matrix<Element>) {
    let (rows, d) = (src.rows, src.columns)
    src.withUnsafeBufferPointer { s in
      dst.withUnsafeMutableBufferPointer { t in
        norms.withUnsafeMutableBufferPointer { nb in
          shift.withUnsafeBufferPointer { m in
            for r in 0..<rows {
              let (src, dst) = (s.baseAddress! + r * d, t.baseAddress! + r * d)
              for k in 0..<d { dst[k] = src[k] - Element(m[k]) }
              nb[r] = squaredNorm(dst, d)
            }
          }
        }
      }
    }
  }
}

/// The buffers of one ``RadialBump`` forward pass and the pass itself, shared by the training
/// layer (one object, reused from step to step; its backward pass reads them) and the
/// inference form (one object per call).
final class RadialBumpPass<Element: MatrixScalar> {
  var frame: RadialCenterFrame<Element>
  /// Whether the last pass took the GEMM form (the backward pass follows it).
  var usedGEMM = false
  var shiftedInput = Matrix<Element>()
  var inputNorms = Matrix<Element>()
  var distances = Matrix<Element>()
  var output = Matrix<Element>()
  var cache = Matrix<Element>()

  init(frame: RadialCenterFrame<Element>) { self.frame = frame }

  var inputSize: Int { frame.inputSize }
  var units: Int { frame.units }

  /// The forward pass over `input` with the frame prepared for `center`; σ and a must have
  /// been validated. Leaves g in ``output`` and f in ``cache``.
  @_specialize(where Element == Float)
  @_specialize(where Element == Double)
  func run(
    _ input: Matrix<Element>, center: Matrix<Element>, sigma: Matrix<Element>, amplitude: Matrix<Element>,
    workspace: KernelWorkspace?
  ) throws {
    let (rows, n, d) = (input.rows, units, inputSize)
    distances.resize(validRows: rows, columns: n)
    output.resize(validRows: rows, columns: n)
    cache.resize(validRows: rows, columns: n)
    var gemm = inputSize > RadialBump<Element>.directDimensionLimit
    if gemm {
      inputNorms.resize(validRows: rows, columns: 1)
      if frame.shiftApplied {
        shiftedInput.resize(validRows: rows, columns: d)
        RadialCenterFrame.shiftRows(input, by: frame.shift, into: &shiftedInput, norms: &inputNorms)
      } else {
        RadialCenterFrame.rowNorms(input, into: &inputNorms)
      }
      // Values so large that a shifted norm overflows take the direct form, which stays
      // NaN-free there (the gradient products could form 0·∞).
      gemm = Self.allFinite(inputNorms) && Self.allFinite(frame.centerNorms)
      if gemm {
        try Matrix.gemm(
          frame.shiftApplied ? shiftedInput : input, frame.shiftApplied ? frame.shiftedCenters : center, transposeB: true,
          into: &distances)
      } else {
        frame.transposeCenters(center)
      }
    }
    usedGEMM = gemm
    let ws = workspace
    input.withUnsafeBufferPointer { x in
      center.withUnsafeBufferPointer { c in
        frame.centersT.withUnsafeBufferPointer { ct in
          inputNorms.withUnsafeBufferPointer { xn in
            frame.centerNorms.withUnsafeBufferPointer { cn in
              sigma.withUnsafeBufferPointer { s in
                amplitude.withUnsafeBufferPointer { a in
                  distances.withUnsafeMutableBufferPointer { r2 in
                    output.withUnsafeMutableBufferPointer { y in
                      cache.withUnsafeMutableBufferPointer { f in
                        RadialBumpKernel.forward(
                          inputs: x, centers: c, centersTransposed: gemm ? nil : ct, rows: rows, units: n,
                          dimension: d, squaredDistances: r2, inputNorms: gemm ? xn : nil,
                          centerNorms: gemm ? cn : nil, sigma: s, amplitude: a, output: y, cache: f, workspace: ws)
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }

  static func allFinite(_ m: Matrix<Element>) -> Bool {
    m.withUnsafeBufferPointer { b in !b.contains { !$0.isFinite } }
  }
}
