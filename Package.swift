// swift-tools-version:6.1
//
// munet: a deterministic µ2Net-style evolutionary multitask engine.
//
// Module map (see spec/ and README.md):
//   MuNetRuntime    arenas, tensor views, reference kernels (Tier 0), threads (Tier 1),
//                   own transcendentals, counter-based random streams
//   MuNetBLAS       Tier 2: OpenBLAS sgemm, validated against Tier 0
//   MuNetStorage    SHA-256, canonical and atomic files
//   MuNetData       datasets (issue 3)
//   MuNetModel      the ViT components (issue 3)
//   MuNetEvolution  the µ2Net system (issue 4)
//   MuNetCLI        the commands; `munet` is a thin executable over it
import PackageDescription

// The engine's kernels use `addingProduct` (fused multiply-add). It has the same bits on every
// target, but it only becomes one hardware instruction when the target CPU has FMA; on the
// baseline x86-64 target every lane is a libm `fmaf` call (same bits, ~100x slower). So the
// engine targets are compiled for x86-64-v3 (Haswell: AVX2 + FMA) on x86_64. The `munet`
// executable itself is compiled for the baseline and refuses, with a message, to run on a CPU
// without AVX2/FMA. MUNET_PORTABLE=1 at build time drops the flag (portable, slow, same bits).
// See spec/determinism.md, "Builds and CPUs".
let portable = Context.environment["MUNET_PORTABLE"] == "1"
#if arch(x86_64)
let engineSettings: [SwiftSetting] =
  portable ? [.define("MUNET_PORTABLE")] : [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let engineSettings: [SwiftSetting] = portable ? [.define("MUNET_PORTABLE")] : []
#endif

let package = Package(
  name: "munet",
  products: [
    .executable(name: "munet", targets: ["munet"]),
    .library(name: "MuNetRuntime", targets: ["MuNetRuntime"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
  ],
  targets: [
    .systemLibrary(
      name: "COpenBLAS",
      path: "Sources/COpenBLAS",
      pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"])]
    ),
    // CPU feature probe, resident-set reader and other small C helpers that Swift lacks.
    .target(name: "CMuNetSupport", path: "Sources/CMuNetSupport"),
    .target(name: "MuNetRuntime", dependencies: ["CMuNetSupport"], swiftSettings: engineSettings),
    .target(name: "MuNetBLAS", dependencies: ["MuNetRuntime", "COpenBLAS"], swiftSettings: engineSettings),
    .target(name: "MuNetStorage", dependencies: ["MuNetRuntime"], swiftSettings: engineSettings),
    .target(name: "MuNetData", dependencies: ["MuNetRuntime", "MuNetStorage"], swiftSettings: engineSettings),
    .target(name: "MuNetModel", dependencies: ["MuNetRuntime", "MuNetStorage"], swiftSettings: engineSettings),
    .target(
      name: "MuNetTraining",
      dependencies: ["MuNetRuntime", "MuNetModel", "MuNetData", "MuNetStorage"],
      swiftSettings: engineSettings
    ),
    .target(
      name: "MuNetEvolution",
      dependencies: ["MuNetRuntime", "MuNetModel", "MuNetData", "MuNetStorage", "MuNetTraining"],
      swiftSettings: engineSettings
    ),
    .target(
      name: "MuNetCLI",
      dependencies: [
        "MuNetRuntime", "MuNetBLAS", "MuNetStorage", "MuNetData", "MuNetModel", "MuNetTraining",
        "MuNetEvolution", "CMuNetSupport",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: engineSettings
    ),
    // Deliberately compiled for the baseline CPU: it checks for AVX2/FMA before any engine code runs.
    .executableTarget(name: "munet", dependencies: ["MuNetCLI", "CMuNetSupport"]),
    // Test-only: counts heap allocations per thread (replaces malloc & co. in the test binary).
    .target(name: "CAllocationCounter", path: "Tests/CAllocationCounter"),
    .target(
      name: "MuNetTestSupport", dependencies: ["CAllocationCounter", "MuNetRuntime"],
      path: "Tests/MuNetTestSupport", swiftSettings: engineSettings),
    .testTarget(
      name: "RuntimeTests",
      dependencies: [
        "MuNetRuntime", "MuNetStorage", "CAllocationCounter", "MuNetTestSupport",
        .product(name: "PropertyBased", package: "swift-property-based"),
      ],
      swiftSettings: engineSettings
    ),
    .testTarget(
      name: "BLASTests", dependencies: ["MuNetRuntime", "MuNetBLAS", "MuNetTestSupport"],
      swiftSettings: engineSettings),
    .testTarget(
      name: "StorageTests", dependencies: ["MuNetStorage", "MuNetTestSupport"],
      swiftSettings: engineSettings),
    .testTarget(
      name: "ModelTests", dependencies: ["MuNetModel", "MuNetRuntime", "MuNetTestSupport"],
      swiftSettings: engineSettings),
    .testTarget(name: "DataTests", dependencies: ["MuNetData", "MuNetRuntime"], swiftSettings: engineSettings),
    .testTarget(
      name: "TrainingTests",
      dependencies: ["MuNetModel", "MuNetRuntime", "MuNetStorage", "MuNetData", "MuNetTraining", "MuNetTestSupport"],
      swiftSettings: engineSettings
    ),
    .testTarget(
      name: "EvolutionTests",
      dependencies: ["MuNetEvolution", "MuNetTraining", "MuNetModel", "MuNetRuntime", "MuNetStorage", "MuNetData"],
      swiftSettings: engineSettings
    ),
    .testTarget(name: "TidyTests", dependencies: []),
    .testTarget(name: "CLITests", dependencies: ["MuNetCLI"], swiftSettings: engineSettings),
  ],
  swiftLanguageModes: [.v6]
)
