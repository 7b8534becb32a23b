

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Float: KernelScalar {
  public static var supportedSIMDWidths: [Int] { [4, 8, 16] }
  // 16 lanes win in every build measured: AVX-512, and SSE2 too (four registers per vector).
  public static var preferredSIMDWidth: Int { 16 }
  public static func libmExp(_ x: Float) -> Float { expf(x) }

  public static func _forward(
    _ job: BumpJob<Float>, rows: Range<Int>, counts: UnsafeMutablePointer<Float>?, width: Int
  ) {
    switch width {
    case 4: _KernelFloatx4.forward(job, rows: rows, counts: counts)
    case 8: _KernelFloatx8.forward(job, rows: rows, counts: counts)
    default: _KernelFloatx16.forward(job, rows: rows, counts: counts)
    }
  }

  public static func _backward(
    _ job: BumpJob<Float>, rows: Range<Int>, dSigma: UnsafeMutablePointer<Float>?,
    dCenter: UnsafeMutablePointer<Float>?, dAmplitude: UnsafeMutablePointer<Float>?, width: Int
  ) {
    switch width {
    case 4: _KernelFloatx4.backward(job, rows: rows, dSigma: dSigma, dCenter: dCenter, dAmplitude: dAmplitude)
    case 8: _KernelFloatx8.backward(job, rows: rows, dSigma: dSigma, dCenter: dCenter, dAmplitude: dAmplitude)
    default: _KernelFloatx16.backward(job, rows: rows, dSigma: dSigma, dCenter: dCenter, dAmplitude: dAmplitude)
    }
  }

  public static func _exp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, width: Int) {
    switch width {
    case 4: _KernelFloatx4.exp(x, y, count)
    case 8: _KernelFloatx8.exp(x, y, count)
    default: _KernelFloatx16.exp(x, y, count)
    }
  }

  public static func _radialForward(_ job: RadialBumpJob<Float>, rows: Range<Int>, width: Int) {
    switch width {
    case 4: _RadialFloatx4.forward(job, rows: rows)
    case 8: _RadialFloatx8.forward(job, rows: rows)
    default: _RadialFloatx16.forward(job, rows: rows)
    }
  }

  public static func _radialBackward(
    _ job: RadialBumpJob<Float>, rows: Range<Int>, dSigma: UnsafeMutablePointer<Float>?,
    dAmplitude: UnsafeMutablePointer<Float>?, columnSums: UnsafeMutablePointer<Float>?,
    dCenterT: UnsafeMutablePointer<Float>?, width: Int
  ) {
    switch width {
    case 4: _RadialFloatx4.backward(job, rows: rows, dSigma: dSigma, dAmplitude: dAmplitude, columnSums: columnSums, dCenterT: dCenterT)
    case 8: _RadialFloatx8.backward(job, rows: rows, dSigma: dSigma, dAmplitude: dAmplitude, columnSums: columnSums, dCenterT: dCenterT)
    default: _RadialFloatx16.backward(job, rows: rows, dSigma: dSigma, dAmplitude: dAmplitude, columnSums: columnSums, dCenterT: dCenterT)
    }
  }
}

extension Double: KernelScalar {
  public static var supportedSIMDWidths: [Int] { [2, 4, 8] }
  public static var preferredSIMDWidth: Int { TargetFeatures.hasAVX512 ? 8 : 4 }
  public static func libmExp(_ x: Double) -> Double { Glibc.exp(x) }

  public static func _forward(
    _ job: BumpJob<Double>, rows: Range<Int>, counts: UnsafeMutablePointer<Double>?, width: Int
  ) {
    switch width {
    case 2: _KernelDoublex2.forward(job, rows: rows, counts: counts)
    case 4: _KernelDoublex4.forward(job, rows: rows, counts: counts)
    default: _KernelDoublex8.forward(job, rows: rows, counts: counts)
    }
  }

  public static func _backward(
    _ job: BumpJob<Double>, rows: Range<Int>, dSigma: UnsafeMutablePointer<Double>?,
    dCenter: UnsafeMutablePointer<Double>?, dAmplitude: UnsafeMutablePointer<Double>?, width: Int
  ) {
    switch width {
    case 2: _KernelDoublex2.backward(job, rows: rows, dSigma: dSigma, dCenter: dCenter, dAmplitude: dAmplitude)
    case 4: _KernelDoublex4.backward(job, rows: rows, dSigma: dSigma, dCenter: dCenter, dAmplitude: dAmplitude)
    default: _KernelDoublex8.backward(job, rows: rows, dSigma: dSigma, dCenter: dCenter, dAmplitude: dAmplitude)
    }
  }

  public static func _exp(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, count: Int, width: Int) {
    switch width {
    case 2: _KernelDoublex2.exp(x, y, count)
    case 4: _KernelDoublex4.exp(x, y, count)
    default: _KernelDoublex8.exp(x, y, count)
    }
  }

  public static func _radialForward(_ job: RadialBumpJob<Double>, rows: Range<Int>, width: Int) {
    switch width {
    case 2: _RadialDoublex2.forward(job, rows: rows)
    case 4: _RadialDoublex4.forward(job, rows: rows)
    default: _RadialDoublex8.forward(job, rows: rows)
    }
  }

  public static func _radialBackward(
    _ job: RadialBumpJob<Double>, rows: Range<Int>, dSigma: UnsafeMutablePointer<Double>?,
    dAmplitude: UnsafeMutablePointer<Double>?, columnSums: UnsafeMutablePointer<Double>?,
    dCenterT: UnsafeMutablePointer<Double>?, width: Int
  ) {
    switch width {
    case 2: _RadialDoublex2.backward(job, rows: rows, dSigma: dSigma, dAmplitude: dAmplitude, columnSums: columnSums, dCenterT: dCenterT)
    case 4: _RadialDoublex4.backward(job, rows: rows, dSigma: dSigma, dAmplitude: dAmplitude, columnSums: columnSums, dCenterT: dCenterT)
    default: _RadialDoublex8.backward(job, rows: rows, dSigma: dSigma, dAmplitude: dAmplitude, columnSums: columnSums, dCenterT: dCenterT)
    }
  }
}
