/// The coefficients of one SGD update, in Double; the loops round them to the element type.
package struct SGDCoefficients: Sendable {
  /// η, the scheduled learning rate.
  package var learningRate: Double
  /// μ; 0 means no velocity buffer.
  package var momentum: Double
  package var nesterov: Bool
  /// λ of the L2 term added to the gradient.
  package var weightDecay: Double
  /// The clipping factor applied to the raw gradient (1 without clipping).
  package var gradientScale: Double

  package init(learningRate: Double, momentum: Double, nesterov: Bool, weightDecay: Double, gradientScale: Double) {
    self.learningRate = learningRate
    self.momentum = momentum
    self.nesterov = nesterov
    self.weightDecay = weightDecay
    self.gradientScale = gradientScale
  }
}

/// The coefficients of one Adam / AdamW update at step t (1-based).
package struct AdamCoefficients: Sendable {
  /// η / (1 − β₁ᵗ): the learning rate with the first moment's bias correction folded in.
  package var stepSize: Double
  package var beta1: Double
  package var beta2: Double
  /// 1 / √(1 − β₂ᵗ): the second moment's bias correction, applied to √v.
  package var inverseRootCorrection2: Double
  package var epsilon: Double
  /// λ of the L2 term added to the gradient (Adam with weight decay); 0 for AdamW.
  package var l2: Double
  /// 1 − η·λ, the decoupled decay factor of AdamW; 1 for Adam.
  package var decayFactor: Double
  /// The clipping factor applied to the raw gradient (1 without clipping).
  package var gradientScale: Double

  package init(
    stepSize: Double, beta1: Double, beta2: Double, inverseRootCorrection2: Double,
    epsilon: Double, l2: Double, decayFactor: Double, gradientScale: Double
  ) {
    self.stepSize = stepSize
    self.beta1 = beta1
    self.beta2 = beta2
    self.inverseRootCorrection2 = inverseRootCorrection2
    self.epsilon = epsilon
    self.l2 = l2
    self.decayFactor = decayFactor
    self.gradientScale = gradientScale
  }
}

/// The optimizer update loops over raw memory, dispatched to the generated SIMD loops of the
/// element type (16 Float or 8 Double lanes).
///
/// SGD (PyTorch's formulation; Sutskever et al. 2013 for Nesterov):
///
///     g′ = s·g + λ·θ;   v ← μ·v + g′;   θ ← θ − η·(nesterov ? g′ + μ·v : v)
///
/// and θ ← θ − η·g′ without a velocity. Adam (Kingma & Ba 2015, Algorithm 1, with the bias
/// corrections folded into the step size and the denominator, ε still added to √v̂):
///
///     g′ = s·g + λ₂·θ;   m ← β₁·m + (1 − β₁)·g′;   v ← β₂·v + (1 − β₂)·g′²
///     θ ← d·θ − (η / (1 − β₁ᵗ))·m / (√v / √(1 − β₂ᵗ) + ε)
///
/// with d = 1 − η·λ for AdamW's decoupled decay (Loshchilov & Hutter 2019) and d = 1 for
/// Adam. With a floor, θ ← max(θ, floor) afterwards (NaN becomes the floor), in the same pass.
package enum UpdateKernels {
  /// Σ xᵢ² in Double.
  @_specialize(where S == Float)
  @_specialize(where S == Double)
  package static func sumOfSquares<S: KernelScalar>(_ x: UnsafePointer<S>, count: Int) -> Double {
    guard count > 0 else { return 0 }
    if S.self == Float.self {
      return _UpdateFloatx16.sumOfSquares(x.reinterpreted(as: Float.self), count: count)
    } else if S.self == Double.self {
      return _UpdateDoublex8.sumOfSquares(x.reinterpreted(as: Double.self), count: count)
    }
    var total = 0.0
    for i in 0..<count { total += Double(x[i]) * Double(x[i]) }
    return total
  }

  /// One Adam / AdamW step on `count` elements.
  @_specialize(where S == Float)
  @_specialize(where S == Double)
  package static func adam<S: KernelScalar>(
    value: UnsafeMutablePointer<S>, gradient: UnsafePointer<S>, firstMoment: UnsafeMutablePointer<S>,
    secondMoment: UnsafeMutablePointer<S>, count: Int, _ c: AdamCoefficients, floor: S?
  ) {
    guard count > 0 else { return }
    if S.self == Float.self {
      _UpdateFloatx16.adam(
        value.reinterpreted(as: Float.self), gradient.reinterpreted(as: Float.self),
        firstMoment.reinterpreted(as: Float.self), secondMoment.reinterpreted(as: Float.self),
        count: count, c, floor: floor.map { unsafeBitCast($0, to: Float.self) })
    } else if S.self == Double.self {
      _UpdateDoublex8.adam(
        value.reinterpreted(as: Double.self), gradient.reinterpreted(as: Double.self),
        firstMoment.reinterpreted(as: Double.self), secondMoment.reinterpreted(as: Double.self),
        count: count, c, floor: floor.map { unsafeBitCast($0, to: Double.self) })
    } else {
      preconditionFailure("optimizer loops exist for Float and Double only")
    }
  }

  /// One SGD step on `count` elements; `velocity` is nil without momentum.
  @_specialize(where S == Float)
  @_specialize(where S == Double)
  package static func sgd<S: KernelScalar>(
    value: UnsafeMutablePointer<S>, gradient: UnsafePointer<S>, velocity: UnsafeMutablePointer<S>?,
    count: Int, _ c: SGDCoefficients, floor: S?
  ) {
    guard count > 0 else { return }
    if S.self == Float.self {
      _UpdateFloatx16.sgd(
        value.reinterpreted(as: Float.self), gradient.reinterpreted(as: Float.self),
        velocity?.reinterpreted(as: Float.self), count: count, c,
        floor: floor.map { unsafeBitCast($0, to: Float.self) })
    } else if S.self == Double.self {
      _UpdateDoublex8.sgd(
        value.reinterpreted(as: Double.self), gradient.reinterpreted(as: Double.self),
        velocity?.reinterpreted(as: Double.self), count: count, c,
        floor: floor.map { unsafeBitCast($0, to: Double.self) })
    } else {
      preconditionFailure("optimizer loops exist for Float and Double only")
    }
  }
}

extension UnsafePointer {
  /// The same memory as a pointer to `T`, which must be `Pointee` itself (callers check
  /// `Pointee.self == T.self` first); no rebinding takes place.
  @inline(__always)
  package func reinterpreted<T>(as _: T.Type) -> UnsafePointer<T> {
    UnsafeRawPointer(self).assumingMemoryBound(to: T.self)
  }
}

extension UnsafeMutablePointer {
  /// The same memory as a pointer to `T`, which must be `Pointee` itself.
  @inline(__always)
  package func reinterpreted<T>(as _: T.Type) -> UnsafeMutablePointer<T> {
    UnsafeMutableRawPointer(self).assumingMemoryBound(to: T.self)
  }
}

extension UnsafeBufferPointer {
  /// The same elements as a buffer of `T`, which must be `Element` itself.
  @inline(__always)
  package func reinterpreted<T>(as _: T.Type) -> UnsafeBufferPointer<T> {
    UnsafeBufferPointer<T>(start: baseAddress?.reinterpreted(as: T.self), count: count)
  }
}

extension UnsafeMutableBufferPointer {
  /// The same elements as a buffer of `T`, which must be `Element` itself.
  @inline(__always)
  package func reinterpreted<T>(as _: T.Type) -> UnsafeMutableBufferPointer<T> {
    UnsafeMutableBufferPointer<T>(start: baseAddress?.reinterpreted(as: T.self), count: count)
  }
}
