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
import Foundation
import PackageDescription

// The engine's kernels use `addingProduct` (fused multiply-add) and `SIMD16<Float>` rows. The
// bits are the same on every target (IEEE operations, one rounding per FMA, no reassociation),
// but the speed is not: without FMA every lane is a libm `fmaf` call (~100x slower), and with
// AVX-512 a `SIMD16<Float>` row is one register instead of two. So on x86_64 the engine targets
// are compiled for a CPU level chosen when the package is built:
//   avx512    `-target-cpu skylake-avx512` (AVX-512F/CD/BW/DQ/VL + FMA, a subset of every
//             AVX-512 CPU from Skylake-SP and Zen 4 on) when the building machine has it, else
//   haswell   `-target-cpu haswell` (AVX2 + FMA), the floor of a fast build; or
//   portable  no flag: any CPU, slow, same bits.
// MUNET_CPU=avx512|haswell|portable overrides the choice (MUNET_PORTABLE=1 means portable).
// The `munet` executable itself is compiled for the baseline CPU and refuses, with a message,
// to run on a CPU that lacks the level its engine was built for.
// See spec/determinism.md, "Builds and CPUs".
func hostHasAVX512() -> Bool {
  // Linux only: other systems get the AVX2 floor unless MUNET_CPU says otherwise.
  guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
        let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
  else { return false }
  let flags = Set(flagsLine.split(separator: " ").map(String.init))
  return ["avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains)
}

let cpuLevel: String = {
  if Context.environment["MUNET_PORTABLE"] == "1" { return "portable" }
  if let chosen = Context.environment["MUNET_CPU"] {
    precondition(["avx512", "haswell", "portable"].contains(chosen),
                 "MUNET_CPU must be avx512, haswell or portable (got \(chosen))")
    return chosen
  }
  #if arch(x86_64)
  return hostHasAVX512() ? "avx512" : "haswell"
  #else
  return "portable"  // aarch64 has FMA in its baseline; no flag is needed for fast code.
  #endif
}()

// `MUNET_CPU_*` tells the code (the executable's check, build facts) what the engine assumes.
let cpuDefine: SwiftSetting = .define(
  cpuLevel == "avx512" ? "MUNET_CPU_AVX512" : cpuLevel == "haswell" ? "MUNET_CPU_HASWELL" : "MUNET_PORTABLE")
let targetCPU = ["avx512": "skylake-avx512", "haswell": "haswell"]
#if arch(x86_64)
let engineSettings: [SwiftSetting] =
  cpuLevel == "portable" ? [cpuDefine] : [cpuDefine, .unsafeFlags(["-target-cpu", targetCPU[cpuLevel]!])]
#else
let engineSettings: [SwiftSetting] = [cpuDefine]
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
    // Deliberately compiled for the baseline CPU: it checks the CPU before any engine code runs.
    .executableTarget(name: "munet", dependencies: ["MuNetCLI", "CMuNetSupport"], swiftSettings: [cpuDefine]),
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
