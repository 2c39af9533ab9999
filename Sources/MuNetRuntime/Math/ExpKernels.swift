// exp and tanh, both built on one kernel for e^y - 1 in Double (spec/math.md).

extension ElementaryKernels {
  // ln 2 split in two doubles: `ln2High` is ln 2 rounded, `ln2Low` the rounded remainder.
  @usableFromInline static let ln2High: Double = 0x1.62e42fefa39efp-1
  @usableFromInline static let ln2Low: Double = 0x1.abc9e3b39803fp-56
  @usableFromInline static let inverseLn2: Double = 0x1.71547652b82fep+0
  /// 1.5 * 2^52: adding it to |v| < 2^51 rounds v to the nearest integer (ties to even) and
  /// leaves that integer in the low bits of the bit pattern.
  @usableFromInline static let roundingShift: Double = 0x1.8p52

  // g(r) = g0 + g1 r + ... + g10 r^10 of ``expm1Polynomial(_:)`` (shared with the SIMD form,
  // ExpKernelsSIMD.swift, so both evaluate the same polynomial).
  @usableFromInline static let expm1G0: Double = 0x1.0000000000000p-1
  @usableFromInline static let expm1G1: Double = 0x1.5555555555557p-3
  @usableFromInline static let expm1G2: Double = 0x1.5555555555556p-5
  @usableFromInline static let expm1G3: Double = 0x1.11111111100dfp-7
  @usableFromInline static let expm1G4: Double = 0x1.6c16c16c162d6p-10
  @usableFromInline static let expm1G5: Double = 0x1.a01a01abe62ddp-13
  @usableFromInline static let expm1G6: Double = 0x1.a01a01a6d7808p-16
  @usableFromInline static let expm1G7: Double = 0x1.71de0237564cap-19
  @usableFromInline static let expm1G8: Double = 0x1.27e4db67b42a6p-22
  @usableFromInline static let expm1G9: Double = 0x1.af4ddd849d43dp-26
  @usableFromInline static let expm1G10: Double = 0x1.1f72fc73175a9p-29

  /// e^y - 1 for |y| ≤ 128 (NaN passes through), as (2^k, e^r - 1) with y = k ln 2 + r.
  ///
  /// k = round(y / ln 2); r = y - k ln 2 is formed with two fused multiply-adds (ln 2 in two
  /// parts), so |r| ≤ ln 2 / 2 + 2^-40 with an error far below 2^-60 relative. Then
  /// e^r - 1 = r + r^2 g(r) where g is the degree-10 near-minimax (Chebyshev-node)
  /// interpolant of (e^r - 1 - r) / r^2 on |r| ≤ ln 2 / 2 + 2^-30: its relative error in
  /// e^r - 1 is about 2^-60. g is evaluated in Estrin order (fixed, see below).
  @inlinable @inline(__always)
  static func expm1Reduced(_ y: Double) -> (scale: Double, expm1OfR: Double) {
    let shifted = mulAdd(y, inverseLn2, roundingShift)
    let k = Int64(bitPattern: shifted.bitPattern &- roundingShift.bitPattern)
    let kDouble = shifted - roundingShift
    let r = mulAdd(-kDouble, ln2Low, mulAdd(-kDouble, ln2High, y))
    // 2^k built from its bit pattern; wrapping arithmetic keeps a NaN argument trap-free.
    let scale = Double(bitPattern: UInt64(bitPattern: (k &+ 1023) &<< 52))
    return (scale, expm1Polynomial(r))
  }

  /// r + r^2 g(r) ≈ e^r - 1 on |r| ≤ ln 2 / 2 (see ``expm1Reduced(_:)``).
  @inlinable @inline(__always)
  static func expm1Polynomial(_ r: Double) -> Double {
    let r2 = r * r
    let r4 = r2 * r2
    let r8 = r4 * r4
    let g01 = mulAdd(expm1G1, r, expm1G0)
    let g23 = mulAdd(expm1G3, r, expm1G2)
    let g45 = mulAdd(expm1G5, r, expm1G4)
    let g67 = mulAdd(expm1G7, r, expm1G6)
    let g89 = mulAdd(expm1G9, r, expm1G8)
    let g0to3 = mulAdd(g23, r2, g01)
    let g4to7 = mulAdd(g67, r2, g45)
    let g8to10 = mulAdd(expm1G10, r2, g89)
    let g = mulAdd(g8to10, r8, mulAdd(g4to7, r4, g0to3))
    return mulAdd(r2, g, r)
  }

  /// e^x: e^x = 2^k (1 + (e^r - 1)), rounded once from Double to Float. Branch-free: the
  /// argument is clamped to ±128 (NaN passes the clamp), and `Float(_: Double)` produces
  /// overflow to infinity, subnormals and underflow to zero with correct rounding.
  @inlinable @inline(__always)
  static func exp(_ x: Float) -> Float {
    var y = Double(x)
    y = y > 128 ? 128 : y
    y = y < -128 ? -128 : y
    let (scale, expm1OfR) = expm1Reduced(y)
    return Float(mulAdd(scale, expm1OfR, scale))
  }

  /// tanh|x| = -u / (2 + u) with u = e^(-2|x|) - 1 (no cancellation: u is formed as
  /// 2^k (e^r - 1) + (2^k - 1), where 2^k - 1 is exact), then the sign of x is copied on.
  /// |x| is clamped to 20 (tanh rounds to 1 above 9.01); NaN passes the clamp.
  @inlinable @inline(__always)
  static func tanh(_ x: Float) -> Float {
    var y = -2 * Double(x.magnitude)
    y = y < -40 ? -40 : y
    let (scale, expm1OfR) = expm1Reduced(y)
    let u = mulAdd(scale, expm1OfR, scale - 1)
    return withSign(of: x, Float(-u / (2 + u)))
  }
}
