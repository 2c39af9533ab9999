// cos with exact argument reduction (spec/math.md).

extension ElementaryKernels {
  /// The first 256 fraction bits of 2/π, most significant first, after one zero word that
  /// stands for the bits above the binary point (so windows starting before bit 1 read zeros).
  @usableFromInline static let twoOverPiWords: [UInt64] = [
    0, 0xA2F9_836E_4E44_1529, 0xFC27_57D1_F534_DDC0, 0xDB62_9599_3C43_9041,
    0xFE51_63AB_DEBB_C561,
  ]

  /// π/2 · 2^-128: converts a 128-bit signed fixed-point quadrant fraction to radians.
  @usableFromInline static let halfPiTimesTwoToMinus128: Double = 0x1.921fb54442d18p-128

  /// cos x for every Float x.
  ///
  /// |x| < π/4 is evaluated directly. Otherwise |x| = m 2^e (m a 24-bit integer) is reduced
  /// exactly in integer arithmetic (Payne–Hanek): (m 2^e · 2/π) mod 4 needs only the 128 bits
  /// of 2/π starting at bit e - 1 (earlier bits add multiples of 4), so one 24 × 128-bit
  /// product gives the quadrant q and the remainder f ∈ [-½, ½) as a 126-bit fraction; the
  /// bits of 2/π left out change f by less than 2^-100. Then r = f π/2 and
  /// cos x = cos r, -sin r, -cos r, sin r for q = 0, 1, 2, 3.
  @usableFromInline
  static func cos(_ x: Float) -> Float {
    let a = x.magnitude
    if a <= 0x1.921fb4p-1 {  // the largest Float below π/4
      let r = Double(a)
      return Float(cosPolynomial(r * r))
    }
    guard a.isFinite else { return x - x }  // NaN for ±infinity, NaN stays NaN
    let (quadrant, r) = reduceHalfPi(a)
    let value = quadrant & 1 == 0 ? cosPolynomial(r * r) : sinPolynomial(r)
    return Float((quadrant &+ 1) & 2 == 0 ? value : -value)
  }

  /// (q mod 4, r) with a = (4n + q) π/2 + r, |r| ≤ π/4, for finite a ≥ π/4.
  @usableFromInline
  static func reduceHalfPi(_ a: Float) -> (quadrant: Int, r: Double) {
    let bits = a.bitPattern
    let exponent = Int(bits >> 23) - 150  // a = m 2^exponent; a is normal here
    let m = UInt128(bits & 0x7F_FFFF | 0x80_0000)
    // Bit i of 2/π (i ≥ 1 after the binary point) is bit i + 63 of the word array.
    let firstBit = exponent + 62
    let word = firstBit >> 6
    let shift = firstBit & 63
    let window = twoOverPiWords.withUnsafeBufferPointer { words -> UInt128 in
      let top = UInt128(words[word]) << 64 | UInt128(words[word + 1])
      // Smart shifts: `>> 64` is 0, so shift 0 needs no special case.
      return top << shift | UInt128(words[word + 2] >> (64 - shift))
    }
    // a · 2/π in units of 2^-126 quadrants, mod 4 quadrants.
    let product = m &* window
    let rounded = product &+ (1 << 125)  // + ½ quadrant: round to the nearest quadrant
    let quadrant = Int(truncatingIfNeeded: rounded >> 126)
    let fraction = Int128(bitPattern: (rounded << 2) ^ (1 << 127))  // f · 2^128, f ∈ [-½, ½)
    let f = fixedPointToDouble(fraction.magnitude) * halfPiTimesTwoToMinus128
    return (quadrant, fraction < 0 ? -f : f)
  }

  /// `Double(value)` for a 128-bit integer: the leading 64 bits after normalisation, rounded
  /// to nearest by the UInt64 conversion (the bits below them change it by under 2^-63
  /// relative). Written out because the generic wide-integer conversion is slow.
  @usableFromInline
  static func fixedPointToDouble(_ value: UInt128) -> Double {
    let leadingZeros = value.leadingZeroBitCount
    if leadingZeros == 128 { return 0 }
    let top = UInt64(truncatingIfNeeded: (value << leadingZeros) >> 64)
    // 2^(64 - leadingZeros) from its bit pattern: exponent 1023 + 64 - leadingZeros ≥ 960.
    let scale = Double(bitPattern: UInt64(1023 + 64 - leadingZeros) << 52)
    return Double(top) * scale
  }

  /// cos r = 1 - z/2 + z^2 C(z), z = r^2 ≤ (π/4)^2: C the degree-5 near-minimax
  /// (Chebyshev-node) interpolant of (cos √z - 1 + z/2) / z^2 (error below 2^-59 relative to
  /// cos r). 1 - z/2 is split into its rounded value and exact error so that only the final
  /// addition rounds at full magnitude.
  @usableFromInline
  static func cosPolynomial(_ z: Double) -> Double {
    var c = mulAdd(-0x1.907da33638fbcp-37, z, 0x1.1eeb68e8f6cdfp-29)
    c = mulAdd(c, z, -0x1.27e4fa17d9c81p-22)
    c = mulAdd(c, z, 0x1.a01a019f4eafdp-16)
    c = mulAdd(c, z, -0x1.6c16c16c16967p-10)
    c = mulAdd(c, z, 0x1.5555555555555p-5)
    let halfZ = 0.5 * z
    let w = 1 - halfZ
    let wError = (1 - w) - halfZ  // exact: Fast2Sum, 1 ≥ halfZ
    return w + mulAdd(z * z, c, -wError)
  }

  /// sin r = r + r^3 S(r^2): S the degree-6 near-minimax (Chebyshev-node) interpolant of
  /// (sin √z - √z) / z^{3/2} (error below 2^-57 relative to sin r).
  @usableFromInline
  static func sinPolynomial(_ r: Double) -> Double {
    let z = r * r
    var s = mulAdd(-0x1.ab17d3ce9d15bp-41, z, 0x1.61217f0b24037p-33)
    s = mulAdd(s, z, -0x1.ae645412c4ecap-26)
    s = mulAdd(s, z, 0x1.71de3a5460957p-19)
    s = mulAdd(s, z, -0x1.a01a01a019938p-13)
    s = mulAdd(s, z, 0x1.1111111111110p-7)
    s = mulAdd(s, z, -0x1.5555555555555p-3)
    return mulAdd(r * z, s, r)
  }
}
