/// The fast deterministic GEMM used by Tier 0 and Tier 1.
///
/// INTERIM: delegates to ``GEMMReference``; the blocked SIMD kernel replaces this body.
public enum GEMMKernel {
  /// Row partitions in Tier 1 are multiples of this (the micro-kernel's rows).
  public static let rowGrain = 6
  /// Column partitions in Tier 1 are multiples of this (the micro-kernel's columns).
  public static let colGrain = 16

  public static func multiply(
    _ a: Matrix, _ b: Matrix, _ c: Matrix, accumulate: Bool,
    rows: Range<Int>, cols: Range<Int>
  ) {
    GEMMReference.multiply(a, b, c, accumulate: accumulate, rows: rows, cols: cols)
  }
}
