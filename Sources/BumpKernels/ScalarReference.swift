import RealModule

extension BumpKernel {
  /// The bump function and its derivatives for one element, computed plainly in `Scalar`
  /// with `Real.exp` (the C library's `exp`, through swift-numerics): the baseline that the SIMD kernels are tested and
  /// benchmarked against. Same formulas and numeric rules as ``BumpKernel``.
  public enum ScalarReference {
    /// f(z; σ), ∂f/∂z and ∂f/∂σ at z = x − c (each exactly 0 outside the support, NaN for NaN).
    ///
    /// ∂f/∂σ can overflow on its own for a subnormal σ even where a·G·∂f/∂σ is finite; the
    /// kernels multiply by a·G first (``BumpKernel/backward(input:upstream:rows:columns:sigma:center:amplitude:cache:inputGradient:sigmaGradient:centerGradient:amplitudeGradient:options:workspace:)``).
    @inlinable
    public static func evaluate<Scalar: KernelScalar>(z: Scalar, sigma: Scalar)
      -> (f: Scalar, dz: Scalar, dsigma: Scalar)
    {
      let r = terms(z: z, sigma: sigma, weight: 1)
      return (r.f, r.gz, r.gsigma)
    }

    /// f, and w·∂f/∂z and w·∂f/∂σ with the weight w (= G·a) applied before the last products,
    /// so that they overflow only where the weighted value does.
    @inlinable @inline(__always)
    static func terms<Scalar: KernelScalar>(z rawZ: Scalar, sigma rawSigma: Scalar, weight: Scalar)
      -> (f: Scalar, gz: Scalar, gsigma: Scalar, inside: Bool)
    {
      // For tiny σ, work with z·s and σ·s² (t unchanged) so that σ − z² stays exact.
      let s: Scalar = rawSigma < smallSigma(Scalar.self) ? sigmaScale(Scalar.self) : 1
      let z = rawZ * s, sigma = rawSigma * (s * s)
      let u = sigma.addingProduct(-z, z)
      if u.isNaN || sigma.isNaN { return (.nan, .nan, .nan, false) }
      guard u > 0 else { return (0, 0, 0, false) }
      let t = sigma / u
      let q = (z / u) * s
      let f = Scalar.exp(-t)
      guard f != 0 else { return (0, 0, 0, true) }
      let wqf = weight * (q * f)
      return (f, wqf * (-2 * t), wqf * q, true)
    }

    @inlinable @inline(__always) static func smallSigma<S: KernelScalar>(_: S.Type) -> S { S.self == Float.self ? 0x1p-60 : 0x1p-500 }
    @inlinable @inline(__always) static func sigmaScale<S: KernelScalar>(_: S.Type) -> S { S.self == Float.self ? 0x1p40 : 0x1p300 }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    static func forward<S: KernelScalar>(_ job: BumpJob<S>, rows: Range<Int>, counts: UnsafeMutablePointer<S>?) {
      let cols = job.columns
      let cacheIsOutput = job.cache == job.output
      for row in rows {
        for j in 0..<cols {
          let i = row * cols + j
          let r = terms(z: job.input[i] - job.center[j], sigma: job.sigma[j], weight: 1)
          if !cacheIsOutput { job.output![i] = job.amplitude[j] * r.f }
          // −0 outside the support (NaN stays NaN), as the SIMD kernels write it.
          job.cache?[i] = r.inside || r.f.isNaN ? r.f : -0.0
          if let counts, r.inside { counts[j] += 1 }
        }
      }
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    static func backward<S: KernelScalar>(
      _ job: BumpJob<S>, rows: Range<Int>, dSigma: UnsafeMutablePointer<S>?,
      dCenter: UnsafeMutablePointer<S>?, dAmplitude: UnsafeMutablePointer<S>?
    ) {
      let cols = job.columns
      for row in rows {
        for j in 0..<cols {
          let i = row * cols + j
          let g = job.upstream![i]
          let r = terms(z: job.input[i] - job.center[j], sigma: job.sigma[j], weight: g * job.amplitude[j])
          job.inputGradient?[i] = r.gz
          dSigma?[j] += r.gsigma
          dCenter?[j] -= r.gz
          dAmplitude?[j] += g * r.f
        }
      }
    }
  }
}
