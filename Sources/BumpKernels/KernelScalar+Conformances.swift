import RealModule

extension Float: KernelScalar {
  public static var supportedSIMDWidths: [Int] { [4, 8, 16] }
  // 16 lanes win in every build measured: AVX-512, and SSE2 too (four registers per vector).
  public static var preferredSIMDWidth: Int { 16 }
}

extension Double: KernelScalar {
  public static var supportedSIMDWidths: [Int] { [2, 4, 8] }
  public static var preferredSIMDWidth: Int { TargetFeatures.hasAVX512 ? 8 : 4 }
}
