// swift-tools-version: 6.0
// The 2-D regression comparison of docs/radial-bump.md: RadialBump → Dense against
// Dense → Bump → Dense networks on a target with localized structure.
import PackageDescription

let package = Package(
  name: "RadialComparison",
  dependencies: [
    .package(name: "BumpKit", path: "../.."),
  ],
  targets: [
    .executableTarget(
      name: "RadialComparison",
      dependencies: [.product(name: "BumpKit", package: "BumpKit")]
    ),
  ]
)
