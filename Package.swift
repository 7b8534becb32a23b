// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "BumpKit",
  products: [
    // MARK: - Public API
    .library(name: "BumpKit", targets: ["BumpKit"]),
    // Data-parallel training over MPI (Open MPI); apps that do not use it never link MPI.
    .library(name: "BumpKitMPI", targets: ["BumpKitMPI"]),
    .executable(name: "bump", targets: ["bump"]),
    .executable(name: "bump-bench", targets: ["BumpBench"]),
  ],
  // `--traits MPI` builds `bump` with Open MPI, so that `mpirun -np N bump train …` trains one
  // model over N processes (the `BumpKitMPI` product is there either way).
  traits: [
    .trait(name: "MPI", description: "Build the bump command with Open MPI: mpirun -np N bump train trains over N processes.")
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
    .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
  ],
  targets: [
    // MARK: - Public API
    .target(
      name: "BumpKernels",
      dependencies: [
        "_BumpKernelsShims",
        .product(name: "RealModule", package: "swift-numerics"),
      ]
    ),
    .target(
      name: "BumpKit",
      dependencies: [
        "BumpKernels",
        "COpenBLAS",
        .product(name: "RealModule", package: "swift-numerics"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    .target(name: "BumpKitMPI", dependencies: ["BumpKit", "CBumpMPI"]),
    .executableTarget(
      name: "bump",
      dependencies: [
        "BumpCLI", "_BumpStartup",
        .target(name: "BumpKitMPI", condition: .when(traits: ["MPI"])),
      ]
    ),
    .executableTarget(
      name: "BumpBench",
      dependencies: [
        "BumpKit",
        "COpenBLAS",
        "_AllocationCounter",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Benchmarks/BumpBench"
    ),

    // Data-parallel training over MPI, beside bump-bench's threads: run under mpirun.
    .executableTarget(
      name: "bump-mpi-bench", dependencies: ["BumpKit", "BumpKitMPI"], path: "Benchmarks/BumpMPIBench"),

    // MARK: - Implementation details
    .systemLibrary(
      name: "COpenBLAS",
      pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
    ),
    .systemLibrary(
      name: "CBumpMPI",
      pkgConfig: "ompi-c",
      providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]
    ),
    .target(name: "_BumpKernelsShims"),
    // Runs before OpenBLAS's initializer in `bump`, to explain a failure to start its threads.
    .target(name: "_BumpStartup"),
    // The `bump` command's own logic (run folders, training runs, reports), kept out of the
    // executable so that tests reach it in process.
    .target(
      name: "BumpCLI",
      dependencies: [
        "BumpKit",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    .target(name: "_AllocationCounter", path: "Benchmarks/AllocationCounter"),

    // MARK: - Unit test bundles
    // What the test bundles share: temporary folders, child processes (the built `bump`,
    // python3), a seeded generator.
    .target(name: "BumpTestSupport", path: "Tests/BumpTestSupport"),
    .testTarget(name: "BumpKernelsTests", dependencies: ["BumpKernels", "BumpTestSupport"]),
    .testTarget(name: "BumpKitTests", dependencies: ["BumpKit", "BumpTestSupport"], exclude: ["Fixtures"]),
    // Trains data-parallel under mpirun for BumpKitMPITests.
    .executableTarget(name: "bump-mpi-check", dependencies: ["BumpKit", "BumpKitMPI"], path: "Tests/BumpMPICheck"),
    .testTarget(name: "BumpKitMPITests", dependencies: ["BumpKit", "BumpKitMPI", "BumpTestSupport"]),
    .testTarget(
      name: "BumpCLITests",
      dependencies: [
        "BumpCLI", "BumpKit", "BumpTestSupport",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
  ]
)
