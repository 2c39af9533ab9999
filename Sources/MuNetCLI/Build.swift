/// Facts about this build of munet.
public enum MuNetBuild {
  public static let version = "0.1.0"

  /// True when built with MUNET_CPU=portable or MUNET_PORTABLE=1 (no CPU requirement).
  public static var isPortable: Bool { cpuLevel == "portable" }

  /// The CPU level the engine modules were compiled for (see Package.swift): `avx512`
  /// (AVX-512), `haswell` (AVX2 + FMA) or `portable`. It changes speed, never bits.
  public static var cpuLevel: String {
    #if MUNET_CPU_AVX512
    return "avx512"
    #elseif MUNET_CPU_HASWELL
    return "haswell"
    #else
    return "portable"
    #endif
  }

  public static var configuration: String {
    #if DEBUG
    return "debug"
    #else
    return "release"
    #endif
  }
}
