/// Which formula of the Gaussian error linear unit to use.
public enum GELUForm: String, CaseIterable, Sendable {
  /// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`: flax `nn.gelu` default (`approximate=True`),
  /// what ViT uses.
  case tanh
  /// `0.5·x·(1 + erf(x/√2))`: the exact form (flax `approximate=False`).
  case exact
}

/// Tier 0 GELU, forward and backward, elementwise (Tier 1 splits rows).
///
/// Constants are the `Float` roundings of: `c = √(2/π) = 0.7978845608028654`,
/// `k = 0.044715`, `3k = 0.134145`, `s = 1/√2 = 0.7071067811865476`,
/// `p = 1/√(2π) = 0.3989422804014327`. All arithmetic is `Float`, one rounding per operation in
/// the order written, no FMA; transcendentals are `Elementary.tanh`, `.erf`, `.exp`.
///
/// Tanh form, per element:
/// `x3 = (x * x) * x`, `t = tanh(c * (x + k * x3))`, `y = (0.5 * x) * (1 + t)`;
/// derivative `d = 0.5 * (1 + t) + (0.5 * x) * ((1 - t * t) * (c * (1 + 3k * (x * x))))`,
/// except that `d = 0.5 * (1 + t)` when `1 - t * t` is exactly 0.
///
/// Exact form, per element:
/// `e = erf(x * s)`, `y = (0.5 * x) * (1 + e)`;
/// derivative `d = 0.5 * (1 + e) + x * (p * exp(-0.5 * (x * x)))`.
///
/// Backward: `dx = dy * d`, with `d` recomputed from the forward input `x`.
public enum GELUKernel {
  static let c: Float = 0.7978845608028654
  static let k: Float = 0.044715
  static let threeK: Float = 0.134145
  static let s: Float = 0.7071067811865476
  static let p: Float = 0.3989422804014327

  /// `y = gelu(x)` for the rows in `rows`; `y` may be the same view as `x`.
  public static func forward(_ x: Matrix, form: GELUForm, into y: Matrix, rows: Range<Int>) {
    KernelCheck.sameShape(x, y, "gelu")
    KernelCheck.range(rows, within: y.rows, "gelu")
    for i in rows {
      let xRow = x.rowPointer(i), yRow = y.rowPointer(i)
      let xStride = x.colStride, yStride = y.colStride
      switch form {
      case .tanh:
        for j in 0..<y.cols { yRow[j &* yStride] = tanhForm(xRow[j &* xStride]) }
      case .exact:
        for j in 0..<y.cols { yRow[j &* yStride] = exactForm(xRow[j &* xStride]) }
      }
    }
  }

  /// `dx = dy * gelu'(x)` for the rows in `rows`; `x` is the forward input. `dx` may be the
  /// same view as `dy` or `x`.
  public static func backward(
    _ x: Matrix, outputGradient dy: Matrix, form: GELUForm, into dx: Matrix, rows: Range<Int>
  ) {
    KernelCheck.sameShape(x, dx, "geluBackward")
    KernelCheck.sameShape(dy, dx, "geluBackward")
    KernelCheck.range(rows, within: dx.rows, "geluBackward")
    for i in rows {
      let xRow = x.rowPointer(i), dyRow = dy.rowPointer(i), dxRow = dx.rowPointer(i)
      let xStride = x.colStride, dyStride = dy.colStride, dxStride = dx.colStride
      switch form {
      case .tanh:
        if xStride == 1 && dyStride == 1 && dxStride == 1 {
          tanhBackwardContiguous(x: xRow, dy: dyRow, dx: dxRow, count: dx.cols)
        } else {
          for j in 0..<dx.cols {
            dxRow[j &* dxStride] = dyRow[j &* dyStride] * tanhFormDerivative(xRow[j &* xStride])
          }
        }
      case .exact:
        for j in 0..<dx.cols {
          dxRow[j &* dxStride] = dyRow[j &* dyStride] * exactFormDerivative(xRow[j &* xStride])
        }
      }
    }
  }

  /// GELU, tanh form, of one value (the documented expression).
  @inline(__always)
  public static func tanhForm(_ x: Float) -> Float {
    let t = tanhTerm(x)
    return (0.5 * x) * (1 + t)
  }

  /// Chunk length of ``tanhBackwardContiguous(x:dy:dx:count:)`` (a stack buffer of this size).
  static let backwardChunk = 64

  /// The tanh-form backward over `count` contiguous elements, the same per element as
  /// `dy * tanhFormDerivative(x)`: per chunk it first writes the tanh arguments
  /// `c * (x + k * ((x * x) * x))` (the expression ``tanhTerm(_:)`` evaluates), takes their tanh
  /// with the buffer form of ``Elementary/tanh(_:_:count:)`` (bit-identical to the scalar
  /// form), then applies ``tanhFormDerivative(_:tanh:)``. Same operations on the same values,
  /// so the same bits; separating the tanh loop lets the compiler vectorise it (profiled: the
  /// fused scalar loop was 5× slower than the forward pass). Reads all inputs of a chunk before
  /// writing its outputs, so `dx` may still alias `x` or `dy`.
  static func tanhBackwardContiguous(
    x: UnsafeMutablePointer<Float>, dy: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>,
    count: Int
  ) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * backwardChunk) { scratch in
      let tanhs = scratch.baseAddress!, grads = tanhs + backwardChunk
      var start = 0
      while start < count {
        let length = min(backwardChunk, count - start)
        for j in 0..<length {
          let value = x[start + j]
          tanhs[j] = c * (value + k * ((value * value) * value))
        }
        Elementary.tanh(tanhs, tanhs, count: length)
        for j in 0..<length {
          grads[j] = dy[start + j] * tanhFormDerivative(x[start + j], tanh: tanhs[j])
        }
        (dx + start).update(from: grads, count: length)
        start += length
      }
    }
  }

  /// The derivative of ``tanhForm(_:)`` at `x` (the documented expression).
  @inline(__always)
  public static func tanhFormDerivative(_ x: Float) -> Float {
    tanhFormDerivative(x, tanh: tanhTerm(x))
  }

  /// The derivative of ``tanhForm(_:)`` at `x` given `t = tanhTerm(x)`.
  @inline(__always)
  static func tanhFormDerivative(_ x: Float, tanh t: Float) -> Float {
    let sech2 = 1 - t * t
    // Where tanh has saturated the second term is exactly 0; computing it anyway would give
    // 0 · ∞ = NaN once x * x overflows (|x| > 1.8e19).
    if sech2 == 0 { return 0.5 * (1 + t) }
    let innerSlope = c * (1 + threeK * (x * x))
    return 0.5 * (1 + t) + (0.5 * x) * (sech2 * innerSlope)
  }

  /// GELU, exact form, of one value (the documented expression).
  @inline(__always)
  public static func exactForm(_ x: Float) -> Float {
    let e = Elementary.erf(x * s)
    return (0.5 * x) * (1 + e)
  }

  /// The derivative of ``exactForm(_:)`` at `x` (the documented expression).
  @inline(__always)
  public static func exactFormDerivative(_ x: Float) -> Float {
    let e = Elementary.erf(x * s)
    let density = p * Elementary.exp(-0.5 * (x * x))
    return 0.5 * (1 + e) + x * density
  }

  @inline(__always)
  static func tanhTerm(_ x: Float) -> Float {
    let cube = (x * x) * x
    return Elementary.tanh(c * (x + k * cube))
  }
}
