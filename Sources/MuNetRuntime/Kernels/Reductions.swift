/// Tier 0 reductions: column sums (bias gradients), row sums, and the sum of squares behind
/// global-norm gradient clipping.
///
/// Each reduction has one fixed order, written in its doc comment, which no partition changes:
/// Tier 1 splits only *independent* outputs (columns of a column sum, rows of a row sum, chunks
/// of a sum of squares), never the chain that produces one output.
public enum ReductionKernel {
  /// Elements per chunk of ``sumOfSquares(_:)``. Part of the order contract: changing it changes bits.
  public static let chunkElements = 4096

  /// Column sums over all rows, for the columns in `cols`:
  /// `sums[j] = (accumulate ? sums[j] : +0) + x[0, j] + x[1, j] + ... + x[rows - 1, j]`.
  ///
  /// Order: one `Float` accumulator per column (the output itself), rows added in ascending
  /// order, one rounding per addition, starting from the old `sums[j]` when `accumulate` is
  /// true and from +0 otherwise. With no rows the result is `sums[j]` or +0.
  public static func columnSums(
    _ x: Matrix, into sums: UnsafeMutableBufferPointer<Float>, accumulate: Bool, cols: Range<Int>
  ) {
    KernelCheck.count(sums.count, x.cols, "sums", "columnSums")
    KernelCheck.range(cols, within: x.cols, "columnSums")
    guard let sumBase = sums.baseAddress else { return }
    if !accumulate {
      for j in cols { sumBase[j] = 0 }
    }
    // Rows outer, columns inner: each column's chain is still ascending in i, and the inner
    // loop is contiguous (and vectorizable across columns) for row-major views.
    for i in 0..<x.rows {
      let row = x.rowPointer(i)
      let stride = x.colStride
      for j in cols { sumBase[j] = sumBase[j] + row[j &* stride] }
    }
  }

  /// Row sums for the rows in `rows`: `sums[i] = Float(x[i, 0] + x[i, 1] + ... + x[i, cols - 1])`.
  ///
  /// Order: one `Double` accumulator starting from +0, columns added in ascending order (each
  /// `Float` term converted exactly), the total rounded once to `Float`.
  public static func rowSums(_ x: Matrix, into sums: UnsafeMutableBufferPointer<Float>, rows: Range<Int>) {
    KernelCheck.count(sums.count, x.rows, "sums", "rowSums")
    KernelCheck.range(rows, within: x.rows, "rowSums")
    for i in rows {
      let row = x.rowPointer(i)
      let stride = x.colStride
      var total = 0.0
      for j in 0..<x.cols { total += Double(row[j &* stride]) }
      sums[i] = Float(total)
    }
  }

  /// The number of ``chunkElements``-sized chunks `elementCount` elements fall into (the last
  /// chunk may be short).
  public static func chunkCount(elementCount: Int) -> Int {
    (elementCount + chunkElements - 1) / chunkElements
  }

  /// The sum of squares of chunk `chunk` of `buffer`: elements `chunk * chunkElements` up to the
  /// next chunk or the end, in ascending order, `total += Double(v) * Double(v)` from +0.
  ///
  /// The square of a `Float` is exact in `Double` (48 significant bits), so the only roundings
  /// are the additions; FMA or not makes no difference.
  public static func chunkSumOfSquares(_ buffer: UnsafeMutableBufferPointer<Float>, chunk: Int) -> Double {
    let lower = chunk * chunkElements
    let upper = min(buffer.count, lower + chunkElements)
    precondition(chunk >= 0 && lower < upper, "chunkSumOfSquares: chunk \(chunk) out of range")
    let base = buffer.baseAddress!
    var total = 0.0
    for k in lower..<upper {
      let value = Double(base[k])
      total += value * value
    }
    return total
  }

  /// The sum of squares of a whole buffer.
  ///
  /// Order: `total = +0`, then for each chunk in ascending order
  /// `total += chunkSumOfSquares(buffer, chunk)` (all in `Double`). The chunk partials do not
  /// depend on the thread count, so Tier 1 computes them in parallel and adds them in this order.
  public static func sumOfSquares(_ buffer: UnsafeMutableBufferPointer<Float>) -> Double {
    var total = 0.0
    for chunk in 0..<chunkCount(elementCount: buffer.count) {
      total += chunkSumOfSquares(buffer, chunk: chunk)
    }
    return total
  }

  /// The factor gradients are multiplied by when clipping to global L2 norm `maxNorm`.
  ///
  /// `norm = sumOfSquares.squareRoot()` in `Double`. When `norm <= maxNorm` the factor is
  /// exactly 1 (nothing is scaled); otherwise it is `Float(Double(maxNorm) / norm)`, rounded
  /// once, and every gradient element is then multiplied by it (one rounding). This matches
  /// optax `clip_by_global_norm` up to rounding (optax computes `g / norm * maxNorm` per element).
  /// A NaN or infinite sum gives a NaN or zero factor, which makes the problem visible.
  public static func clipScale(sumOfSquares: Double, maxNorm: Float) -> Float {
    precondition(maxNorm > 0, "clipScale: maxNorm must be positive")
    let norm = sumOfSquares.squareRoot()
    if norm <= Double(maxNorm) { return 1 }
    return Float(Double(maxNorm) / norm)
  }
}
