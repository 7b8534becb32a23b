extension BumpKernel {
  /// The bump function and its derivatives for one element, computed plainly in `Scalar`
  /// with the C library's `exp`: the baseline that the SIMD kernels are tested and
  /// benchmarked against. Same formulas and numeric rules as ``BumpKernel``.
  public enum ScalarReference {
    /// f(z; σ), ∂f/∂z and ∂f/∂σ at z = x − c (each exactly 0 outside the support, NaN for NaN).
    @inlinable
    public static func evaluate<Scalar: KernelScalar>(z: Scalar, sigma: Scalar)
      -> (f: Scalar, dz: Scalar, dsigma: Scalar)
    {
      let u = sigma.addingProduct(-z, z)
      if u.isNaN || sigma.isNaN { return (.nan, .nan, .nan) }
      guard u > 0 else { return (0, 0, 0) }
      let t = sigma / u
      let q = z / u
      let f = Scalar.libmExp(-t)
      guard f != 0 else { return (0, 0, 0) }
      let qf = q * f
      return (f, -2 * t * qf, qf * q)
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    static func forward<S: KernelScalar>(_ job: BumpJob<S>, rows: Range<Int>, counts: UnsafeMutablePointer<S>?) {
      let cols = job.columns
      for row in rows {
        for j in 0..<cols {
          let i = row * cols + j
          let z = job.input[i] - job.center[j]
          let r = evaluate(z: z, sigma: job.sigma[j])
          job.output![i] = job.amplitude[j] * r.f
          job.cache?[i] = r.f
          if let counts, z * z < job.sigma[j], job.sigma[j].addingProduct(-z, z) > 0 { counts[j] += 1 }
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
          let r = evaluate(z: job.input[i] - job.center[j], sigma: job.sigma[j])
          let g = job.upstream![i]
          let ga = g * job.amplitude[j]
          let gx = ga * r.dz
          job.inputGradient?[i] = gx
          dSigma?[j] += ga * r.dsigma
          dCenter?[j] -= gx
          dAmplitude?[j] += g * r.f
        }
      }
    }
  }
}
