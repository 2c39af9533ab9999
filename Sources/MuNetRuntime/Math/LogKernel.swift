// log in Double (spec/math.md).

extension ElementaryKernels {
  /// Bit pattern of √½ as a Double: the lower end of the reduced mantissa range.
  @usableFromInline static let sqrtHalfBits: Int64 = 0x3FE6_A09E_667F_3BCD

  /// log x = e ln 2 + log m with x = m 2^e, √½ ≤ m < √2 (taken from the Double bit pattern,
  /// so Float subnormals need no special step). log m = 2 atanh s = 2s + s^3 h(s^2) with
  /// s = (m - 1) / (m + 1): m - 1 and m + 1 are exact, so s carries one rounding. h is the
  /// degree-6 near-minimax (Chebyshev-node) interpolant of (2 atanh s - 2s) / s^3 in s^2 on
  /// s ≤ (√2 - 1)/(√2 + 1); its relative error in log m is below 2^-57. e ln 2 is added
  /// with ln 2 in two parts, so x near 1 keeps full relative accuracy.
  @inlinable @inline(__always)
  static func log(_ x: Float) -> Float {
    guard x > 0 && x < .infinity else { return logOfSpecial(x) }
    let bits = Int64(bitPattern: Double(x).bitPattern)
    let exponent = (bits &- sqrtHalfBits) >> 52
    let m = Double(bitPattern: UInt64(bitPattern: bits &- (exponent &<< 52)))
    let s = (m - 1) / (m + 1)
    let z = s * s
    var h = mulAdd(0x1.2b584aae78a57p-3, z, 0x1.39fe606542ddep-3)
    h = mulAdd(h, z, 0x1.7462b4ab2ef6bp-3)
    h = mulAdd(h, z, 0x1.c71c62e5800a1p-3)
    h = mulAdd(h, z, 0x1.2492492df148dp-2)
    h = mulAdd(h, z, 0x1.99999999952e2p-2)
    h = mulAdd(h, z, 0x1.5555555555558p-1)
    let logM = mulAdd(s * z, h, 2 * s)
    let e = Double(exponent)
    return Float(mulAdd(e, ln2High, mulAdd(e, ln2Low, logM)))
  }

  /// log of NaN, ±0, negative numbers and +infinity.
  @usableFromInline
  static func logOfSpecial(_ x: Float) -> Float {
    if x.isNaN { return x }
    if x == 0 { return -.infinity }
    if x < 0 { return .nan }
    return x
  }
}
