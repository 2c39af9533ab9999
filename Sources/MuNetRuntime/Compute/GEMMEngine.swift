/// Something that multiplies matrices: `c = (accumulate ? c : 0) + a · b`.
///
/// `a` is `m × k`, `b` is `k × n`, `c` is `m × n`; transposes are expressed by the views
/// (``Matrix/transposed``). `c` must not overlap `a` or `b`.
///
/// The deterministic engines (Tier 0 and Tier 1) compute every output as one fused
/// multiply-add chain over ascending `k`, starting from `c` when `accumulate` is true and from
/// +0 otherwise: `acc = fma(a[i,0], b[0,j], acc); acc = fma(a[i,1], b[1,j], acc); ...`.
/// Tier 2 (OpenBLAS) promises only a bound (spec/determinism.md).
public protocol GEMMEngine: AnyObject, Sendable {
  /// A short name for tables and run headers, e.g. `reference`, `threads(4)`, `openblas(...)`.
  var name: String { get }

  func gemm(_ a: Matrix, _ b: Matrix, _ c: Matrix, accumulate: Bool)

  /// `c = a · b`, then `c[i, j] = c[i, j] + bias[j]` (`bias`: `c.cols` floats): the bits of
  /// ``gemm(_:_:_:accumulate:)`` followed by a separate bias pass. The deterministic engines
  /// add the bias to each tile as it finishes; others may do the two passes.
  func gemm(_ a: Matrix, _ b: Matrix, _ c: Matrix, addingBias bias: UnsafeMutableBufferPointer<Float>)

  /// `c[i] = (accumulate ? c[i] : 0) + a[i] · b[i]` for every batch index.
  func gemmBatched(_ a: MatrixBatch, _ b: MatrixBatch, _ c: MatrixBatch, accumulate: Bool)
}

extension GEMMEngine {
  /// The two-pass form: the product, then the bias on every row.
  public func gemm(
    _ a: Matrix, _ b: Matrix, _ c: Matrix, addingBias bias: UnsafeMutableBufferPointer<Float>
  ) {
    precondition(bias.count == c.cols, "gemm: bias has \(bias.count) values for \(c.cols) columns")
    gemm(a, b, c, accumulate: false)
    ElementwiseKernel.addBias(c, bias, into: c, rows: 0..<c.rows)
  }

  /// Checks the shapes of a product; every engine calls it first.
  @inlinable
  public func checkShapes(_ a: Matrix, _ b: Matrix, _ c: Matrix) {
    precondition(a.cols == b.rows, "gemm: inner extents differ (\(a.rows)x\(a.cols) · \(b.rows)x\(b.cols))")
    precondition(c.rows == a.rows && c.cols == b.cols,
                 "gemm: output is \(c.rows)x\(c.cols), expected \(a.rows)x\(b.cols)")
  }

  @inlinable
  public func checkShapes(_ a: MatrixBatch, _ b: MatrixBatch, _ c: MatrixBatch) {
    precondition(a.count == b.count && b.count == c.count, "gemmBatched: batch counts differ")
    checkShapes(a.first, b.first, c.first)
  }
}
