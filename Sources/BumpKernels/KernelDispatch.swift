import RealModule

/// Routes a kernel call on a generic `KernelScalar` to the concrete kernel of its type and
/// width. In code specialised for `Float` or `Double` the type test folds away.
enum KernelDispatch {
  @inline(__always)
  private static func cast<From, To>(_ p: UnsafeMutablePointer<From>?, _: To.Type) -> UnsafeMutablePointer<To>? {
    p.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: To.self) }
  }

  static func forward<S: KernelScalar>(_ job: BumpJob<S>, rows: Range<Int>, counts: UnsafeMutablePointer<S>?, width: Int) {
    if S.self == Float.self {
      let job = unsafeBitCast(job, to: BumpJob<Float>.self), counts = cast(counts, Float.self)
      switch width {
      case 4: _KernelFloatx4.forward(job, rows: rows, counts: counts)
      case 8: _KernelFloatx8.forward(job, rows: rows, counts: counts)
      default: _KernelFloatx16.forward(job, rows: rows, counts: counts)
      }
    } else if S.self == Double.self {
      let job = unsafeBitCast(job, to: BumpJob<Double>.self), counts = cast(counts, Double.self)
      switch width {
      case 2: _KernelDoublex2.forward(job, rows: rows, counts: counts)
      case 4: _KernelDoublex4.forward(job, rows: rows, counts: counts)
      default: _KernelDoublex8.forward(job, rows: rows, counts: counts)
      }
    } else {
      BumpKernel.ScalarReference.forward(job, rows: rows, counts: counts)
    }
  }

  static func backward<S: KernelScalar>(
    _ job: BumpJob<S>, rows: Range<Int>, dSigma: UnsafeMutablePointer<S>?,
    dCenter: UnsafeMutablePointer<S>?, dAmplitude: UnsafeMutablePointer<S>?, width: Int
  ) {
    if S.self == Float.self {
      let job = unsafeBitCast(job, to: BumpJob<Float>.self)
      let (dS, dC, dA) = (cast(dSigma, Float.self), cast(dCenter, Float.self), cast(dAmplitude, Float.self))
      switch width {
      case 4: _KernelFloatx4.backward(job, rows: rows, dSigma: dS, dCenter: dC, dAmplitude: dA)
      case 8: _KernelFloatx8.backward(job, rows: rows, dSigma: dS, dCenter: dC, dAmplitude: dA)
      default: _KernelFloatx16.backward(job, rows: rows, dSigma: dS, dCenter: dC, dAmplitude: dA)
      }
    } else if S.self == Double.self {
      let job = unsafeBitCast(job, to: BumpJob<Double>.self)
      let (dS, dC, dA) = (cast(dSigma, Double.self), cast(dCenter, Double.self), cast(dAmplitude, Double.self))
      switch width {
      case 2: _KernelDoublex2.backward(job, rows: rows, dSigma: dS, dCenter: dC, dAmplitude: dA)
      case 4: _KernelDoublex4.backward(job, rows: rows, dSigma: dS, dCenter: dC, dAmplitude: dA)
      default: _KernelDoublex8.backward(job, rows: rows, dSigma: dS, dCenter: dC, dAmplitude: dA)
      }
    } else {
      BumpKernel.ScalarReference.backward(job, rows: rows, dSigma: dSigma, dCenter: dCenter, dAmplitude: dAmplitude)
    }
  }

  static func exp<S: KernelScalar>(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, count: Int, width: Int) {
    if S.self == Float.self {
      let (x, y) = (UnsafeRawPointer(x).assumingMemoryBound(to: Float.self), cast(y, Float.self)!)
      switch width {
      case 4: _KernelFloatx4.exp(x, y, count)
      case 8: _KernelFloatx8.exp(x, y, count)
      default: _KernelFloatx16.exp(x, y, count)
      }
    } else if S.self == Double.self {
      let (x, y) = (UnsafeRawPointer(x).assumingMemoryBound(to: Double.self), cast(y, Double.self)!)
      switch width {
      case 2: _KernelDoublex2.exp(x, y, count)
      case 4: _KernelDoublex4.exp(x, y, count)
      default: _KernelDoublex8.exp(x, y, count)
      }
    } else {
      for i in 0..<count { y[i] = S.exp(x[i]) }
    }
  }

  static func radialForward<S: KernelScalar>(_ job: RadialBumpJob<S>, rows: Range<Int>, width: Int) {
    if S.self == Float.self {
      let job = unsafeBitCast(job, to: RadialBumpJob<Float>.self)
      switch width {
      case 4: _RadialFloatx4.forward(job, rows: rows)
      case 8: _RadialFloatx8.forward(job, rows: rows)
      default: _RadialFloatx16.forward(job, rows: rows)
      }
    } else if S.self == Double.self {
      let job = unsafeBitCast(job, to: RadialBumpJob<Double>.self)
      switch width {
      case 2: _RadialDoublex2.forward(job, rows: rows)
      case 4: _RadialDoublex4.forward(job, rows: rows)
      default: _RadialDoublex8.forward(job, rows: rows)
      }
    } else {
      preconditionFailure("the radial kernels serve Float and Double only")
    }
  }

  static func radialBackward<S: KernelScalar>(
    _ job: RadialBumpJob<S>, rows: Range<Int>, dSigma: UnsafeMutablePointer<S>?,
    dAmplitude: UnsafeMutablePointer<S>?, columnSums: UnsafeMutablePointer<S>?,
    dCenterT: UnsafeMutablePointer<S>?, width: Int
  ) {
    if S.self == Float.self {
      let job = unsafeBitCast(job, to: RadialBumpJob<Float>.self)
      let (dS, dA, cS, dC) = (cast(dSigma, Float.self), cast(dAmplitude, Float.self), cast(columnSums, Float.self), cast(dCenterT, Float.self))
      switch width {
      case 4: _RadialFloatx4.backward(job, rows: rows, dSigma: dS, dAmplitude: dA, columnSums: cS, dCenterT: dC)
      case 8: _RadialFloatx8.backward(job, rows: rows, dSigma: dS, dAmplitude: dA, columnSums: cS, dCenterT: dC)
      default: _RadialFloatx16.backward(job, rows: rows, dSigma: dS, dAmplitude: dA, columnSums: cS, dCenterT: dC)
      }
    } else if S.self == Double.self {
      let job = unsafeBitCast(job, to: RadialBumpJob<Double>.self)
      let (dS, dA, cS, dC) = (cast(dSigma, Double.self), cast(dAmplitude, Double.self), cast(columnSums, Double.self), cast(dCenterT, Double.self))
      switch width {
      case 2: _RadialDoublex2.backward(job, rows: rows, dSigma: dS, dAmplitude: dA, columnSums: cS, dCenterT: dC)
      case 4: _RadialDoublex4.backward(job, rows: rows, dSigma: dS, dAmplitude: dA, columnSums: cS, dCenterT: dC)
      default: _RadialDoublex8.backward(job, rows: rows, dSigma: dS, dAmplitude: dA, columnSums: cS, dCenterT: dC)
      }
    } else {
      preconditionFailure("the radial kernels serve Float and Double only")
    }
  }
}
