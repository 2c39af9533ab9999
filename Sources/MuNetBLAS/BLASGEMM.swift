import COpenBLAS
import MuNetRuntime

/// Tier 2 GEMM through OpenBLAS `cblas_sgemm`. (Filled in by the Tier 2 work.)
public enum MuNetBLASInfo {
  public static var coreName: String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name)
  }
}
