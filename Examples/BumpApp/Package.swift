// swift-tools-version: 6.0
// A small numerical app that uses BumpKit as an ordinary package dependency.
import PackageDescription

let package = Package(
  name: "BumpApp",
  dependencies: [
    .package(name: "BumpKit", path: "../.."),
  ],
  targets: [
    .executableTarget(
      name: "BumpApp",
      dependencies: [.product(name: "BumpKit", package: "BumpKit")]
    ),
    // The README's "Use it from Swift" example, verbatim (Scripts/check-readme-example
    // checks that the two agree).
    .executableTarget(
      name: "ReadmeExample",
      dependencies: [.product(name: "BumpKit", package: "BumpKit")]
    ),
  ]
)
