/// The plain GEMM: the definition every fast matrix product in munet is checked against.
///
/// Each output is one fused multiply-add chain over ascending `k`, starting from the old
/// `c[i, j]` when accumulating and from +0 otherwise. Fast kernels reorder *which* outputs are
/// computed when, never the chain inside one output, so they reproduce these bits exactly.
public enum GEMMReference {
  /// Computes the outputs `c[rows, cols]` of `c = (accumulate ? c : 0) + a · b`.
  public static func multiply(
    _ a: Matrix, _ b: Matrix, _ c: Matrix, accumulate: Bool,
    rows: Range<Int>, cols: Range<Int>
  ) {
    let depth = a.cols
    for i in rows {
      for j in cols {
        var acc: Float = accumulate ? c[i, j] : 0
        for k in 0..<depth {
          acc = acc.addingProduct(a[i, k], b[k, j])
        }
        c[i, j] = acc
      }
    }
  }
}
