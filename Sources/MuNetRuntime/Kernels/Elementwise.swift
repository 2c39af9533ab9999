/// Tier 0 elementwise kernels over ``Matrix`` views.
///
/// Every output element is one expression of the inputs at the same index, evaluated in `Float`
/// with one rounding per operation as written (no fused multiply-add, no reassociation). Nothing
/// is reduced, so the bits of an output never depend on which rows a call covers: Tier 1 runs
/// the same functions over a static split of `rows` (see the `Compute` extension).
///
/// Views may be strided in both directions. An output may be the very same view as an input
/// (in place); partially overlapping views are not allowed.
public enum ElementwiseKernel {
  /// `out = x + y` for the rows in `rows`.
  public static func add(_ x: Matrix, _ y: Matrix, into out: Matrix, rows: Range<Int>) {
    KernelCheck.sameShape(x, out, "add")
    KernelCheck.sameShape(y, out, "add")
    KernelCheck.range(rows, within: out.rows, "add")
    for i in rows {
      let xRow = x.rowPointer(i), yRow = y.rowPointer(i), outRow = out.rowPointer(i)
      let xStride = x.colStride, yStride = y.colStride, outStride = out.colStride
      for j in 0..<out.cols {
        outRow[j &* outStride] = xRow[j &* xStride] + yRow[j &* yStride]
      }
    }
  }

  /// `y = y + x` (the residual update) for the rows in `rows`.
  public static func addInPlace(_ x: Matrix, to y: Matrix, rows: Range<Int>) {
    add(y, x, into: y, rows: rows)
  }

  /// `y = alpha * x` for the rows in `rows`.
  public static func scale(_ x: Matrix, by alpha: Float, into y: Matrix, rows: Range<Int>) {
    KernelCheck.sameShape(x, y, "scale")
    KernelCheck.range(rows, within: y.rows, "scale")
    for i in rows {
      let xRow = x.rowPointer(i), yRow = y.rowPointer(i)
      let xStride = x.colStride, yStride = y.colStride
      for j in 0..<y.cols { yRow[j &* yStride] = alpha * xRow[j &* xStride] }
    }
  }

  /// `y = y + (alpha * x)`: the product is rounded, then the sum (two roundings, no FMA).
  public static func accumulateScaled(_ x: Matrix, by alpha: Float, into y: Matrix, rows: Range<Int>) {
    KernelCheck.sameShape(x, y, "accumulateScaled")
    KernelCheck.range(rows, within: y.rows, "accumulateScaled")
    for i in rows {
      let xRow = x.rowPointer(i), yRow = y.rowPointer(i)
      let xStride = x.colStride, yStride = y.colStride
      for j in 0..<y.cols {
        let product = alpha * xRow[j &* xStride]
        yRow[j &* yStride] = yRow[j &* yStride] + product
      }
    }
  }

  /// `out[i, j] = x[i, j] + bias[j]` for the rows in `rows`; `bias.count == x.cols`.
  public static func addBias(
    _ x: Matrix, _ bias: UnsafeMutableBufferPointer<Float>, into out: Matrix, rows: Range<Int>
  ) {
    KernelCheck.sameShape(x, out, "addBias")
    KernelCheck.count(bias.count, out.cols, "bias", "addBias")
    KernelCheck.range(rows, within: out.rows, "addBias")
    guard let biasBase = bias.baseAddress else { return }
    for i in rows {
      let xRow = x.rowPointer(i), outRow = out.rowPointer(i)
      let xStride = x.colStride, outStride = out.colStride
      for j in 0..<out.cols { outRow[j &* outStride] = xRow[j &* xStride] + biasBase[j] }
    }
  }

  /// `y = x` (a bit copy) for the rows in `rows`.
  public static func copy(_ x: Matrix, into y: Matrix, rows: Range<Int>) {
    KernelCheck.sameShape(x, y, "copy")
    KernelCheck.range(rows, within: y.rows, "copy")
    for i in rows {
      let xRow = x.rowPointer(i), yRow = y.rowPointer(i)
      let xStride = x.colStride, yStride = y.colStride
      for j in 0..<y.cols { yRow[j &* yStride] = xRow[j &* xStride] }
    }
  }

  /// `out = x ⊙ y` (the elementwise product) for the rows in `rows`.
  public static func multiply(_ x: Matrix, _ y: Matrix, into out: Matrix, rows: Range<Int>) {
    KernelCheck.sameShape(x, out, "multiply")
    KernelCheck.sameShape(y, out, "multiply")
    KernelCheck.range(rows, within: out.rows, "multiply")
    for i in rows {
      let xRow = x.rowPointer(i), yRow = y.rowPointer(i), outRow = out.rowPointer(i)
      let xStride = x.colStride, yStride = y.colStride, outStride = out.colStride
      for j in 0..<out.cols {
        outRow[j &* outStride] = xRow[j &* xStride] * yRow[j &* yStride]
      }
    }
  }

  /// Sets every element of the rows in `rows` to `value`.
  public static func fill(_ y: Matrix, with value: Float, rows: Range<Int>) {
    KernelCheck.range(rows, within: y.rows, "fill")
    for i in rows {
      let yRow = y.rowPointer(i)
      let yStride = y.colStride
      for j in 0..<y.cols { yRow[j &* yStride] = value }
    }
  }

  /// `buffer[k] = alpha * buffer[k]` for `k` in `elements` (flat buffers, e.g. gradient clipping).
  public static func scale(
    _ buffer: UnsafeMutableBufferPointer<Float>, by alpha: Float, elements: Range<Int>
  ) {
    KernelCheck.range(elements, within: buffer.count, "scale")
    guard let base = buffer.baseAddress else { return }
    for k in elements { base[k] = alpha * base[k] }
  }
}
