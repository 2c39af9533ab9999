/// Facts about this build of munet.
public enum MuNetBuild {
  public static let version = "0.1.0"

  /// True when built with MUNET_PORTABLE=1 (no AVX2/FMA requirement).
  public static var isPortable: Bool {
    #if MUNET_PORTABLE
    return true
    #else
    return false
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
