// exp and tanh on SIMD lanes: lane by lane the same IEEE operations as ExpKernels.swift
// (spec/math.md, "Vectorised forms").
//
// Why the bits are the same as the scalar functions: every step below is the lane-wise form of
// the scalar step, and each lane-wise operation is the same IEEE operation as its scalar one:
// - `+ - * /` and `addingProduct` on SIMD types are defined by the standard library as the
//   scalar operation on each lane (the compiler emits vector instructions with the same
//   per-lane IEEE semantics; Swift never contracts or reassociates);
// - `Double(Float)` lane-wise is exact, and `Float(Double)` lane-wise is the IEEE conversion
//   with round-to-nearest-even, overflow, subnormals and underflow like the scalar one (tested
//   on those edges, ElementaryLaneTests);
// - the clamps `y > 128 ? 128 : y` become `replacing(with:where:)` on the same comparison, so
//   NaN still passes;
// - negation (`-v`) is a sign-bit flip, as for the scalar `-`. (The standard library's SIMD
//   prefix `-` is `0 - v`, which gives +0 for +0: so it is not used here);
// - the bit-pattern steps use the same wrapping integer arithmetic on 64-bit lanes;
// - NaN results are rebuilt from bits exactly as ``ElementaryKernels/settledNaN(_:_:)`` does.
// `munet check-math --exhaustive` compares every lane result with the scalar function over all
// 2^32 inputs in a release build; ElementaryLaneTests does so on ~1M chosen inputs in debug.

extension Elementary {
  /// The `Float` lane vector of the vectorised elementary functions and kernels.
  ///
  /// Eight lanes: on the project machine (Zen 5, code for AVX2), 8 was measured faster than 4
  /// and 16 lanes for GELU and softmax (spec/math.md, "Vectorised forms").
  public typealias FloatLanes = SIMD8<Float>

  /// e^x on each lane; every lane bit-identical to ``exp(_:)-(Float)`` of that lane.
  @inlinable @inline(__always)
  public static func exp(_ x: FloatLanes) -> FloatLanes {
    ElementaryKernels.settledNaN(x, ElementaryKernels.exp(x))
  }

  /// tanh on each lane; every lane bit-identical to ``tanh(_:)-(Float)`` of that lane.
  @inlinable @inline(__always)
  public static func tanh(_ x: FloatLanes) -> FloatLanes {
    ElementaryKernels.settledNaN(x, ElementaryKernels.tanh(x))
  }
}

extension ElementaryKernels {
  @usableFromInline typealias FloatLanes = Elementary.FloatLanes
  /// The `Double` lanes matching ``FloatLanes`` (same lane count).
  @usableFromInline typealias DoubleLanes = SIMD8<Double>
  @usableFromInline typealias FloatBitLanes = SIMD8<UInt32>
  @usableFromInline typealias DoubleBitLanes = SIMD8<UInt64>
  @usableFromInline typealias IntLanes = SIMD8<Int>

  /// Lanes per vector.
  @inlinable static var laneCount: Int { FloatLanes.scalarCount }

  /// `count` `Float`s from `pointer` (no alignment needed).
  @inlinable @inline(__always)
  static func loadLanes(_ pointer: UnsafePointer<Float>) -> FloatLanes {
    UnsafeRawPointer(pointer).loadUnaligned(as: FloatLanes.self)
  }

  /// Stores the lanes at `pointer` (no alignment needed).
  @inlinable @inline(__always)
  static func storeLanes(_ value: FloatLanes, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: FloatLanes.self)
  }

  @inlinable @inline(__always)
  static func bits(_ value: FloatLanes) -> FloatBitLanes { unsafeBitCast(value, to: FloatBitLanes.self) }

  @inlinable @inline(__always)
  static func floats(_ bits: FloatBitLanes) -> FloatLanes { unsafeBitCast(bits, to: FloatLanes.self) }

  @inlinable @inline(__always)
  static func bits(_ value: DoubleLanes) -> DoubleBitLanes { unsafeBitCast(value, to: DoubleBitLanes.self) }

  @inlinable @inline(__always)
  static func doubles(_ bits: DoubleBitLanes) -> DoubleLanes { unsafeBitCast(bits, to: DoubleLanes.self) }

  /// `Double(value)` on each lane (exact). Written as a loop over the lanes, like the standard
  /// library's conversion initialiser, but always inlined: the optimiser was measured leaving
  /// that initialiser as a call in hot loops.
  @inlinable @inline(__always)
  static func widened(_ value: FloatLanes) -> DoubleLanes {
    var result = DoubleLanes()
    for lane in 0..<laneCount { result[lane] = Double(value[lane]) }
    return result
  }

  /// `Float(value)` on each lane: the IEEE conversion, round to nearest even (overflow to
  /// infinity, subnormal and zero results as for the scalar conversion). Always inlined, as
  /// ``widened(_:)``.
  @inlinable @inline(__always)
  static func narrowed(_ value: DoubleLanes) -> FloatLanes {
    var result = FloatLanes()
    for lane in 0..<laneCount { result[lane] = Float(value[lane]) }
    return result
  }

  /// `-value` on each lane: the sign bit flipped, exactly what the scalar prefix `-` does.
  @inlinable @inline(__always)
  static func negated(_ value: DoubleLanes) -> DoubleLanes {
    doubles(bits(value) ^ 0x8000_0000_0000_0000)
  }

  /// `a * b + c` with one rounding on each lane (lane-wise ``mulAdd(_:_:_:)-(Double,_,_)``).
  @inlinable @inline(__always)
  static func mulAdd(_ a: DoubleLanes, _ b: DoubleLanes, _ c: DoubleLanes) -> DoubleLanes {
    c.addingProduct(a, b)
  }

  @inlinable @inline(__always)
  static func mulAdd(_ a: DoubleLanes, _ b: Double, _ c: Double) -> DoubleLanes {
    DoubleLanes(repeating: c).addingProduct(a, DoubleLanes(repeating: b))
  }

  @inlinable @inline(__always)
  static func mulAdd(_ a: Double, _ b: DoubleLanes, _ c: Double) -> DoubleLanes {
    DoubleLanes(repeating: c).addingProduct(DoubleLanes(repeating: a), b)
  }

  @inlinable @inline(__always)
  static func mulAdd(_ a: Double, _ b: DoubleLanes, _ c: DoubleLanes) -> DoubleLanes {
    c.addingProduct(DoubleLanes(repeating: a), b)
  }

  @inlinable @inline(__always)
  static func mulAdd(_ a: DoubleLanes, _ b: Double, _ c: DoubleLanes) -> DoubleLanes {
    c.addingProduct(a, DoubleLanes(repeating: b))
  }

  /// Lane-wise ``settledNaN(_:_:)-(Float,_)``: NaN lanes of `result` become the input NaN
  /// with its quiet bit set, or `0x7FC00000` where the input was not a NaN.
  @inlinable @inline(__always)
  static func settledNaN(_ x: FloatLanes, _ result: FloatLanes) -> FloatLanes {
    let quietedInput = bits(x) | 0x0040_0000
    let replacement = FloatBitLanes(repeating: 0x7FC0_0000).replacing(with: quietedInput, where: x .!= x)
    return floats(bits(result).replacing(with: replacement, where: result .!= result))
  }

  /// Lane-wise ``withSign(of:_:)-(Float,_)``.
  @inlinable @inline(__always)
  static func withSign(of signSource: FloatLanes, _ value: FloatLanes) -> FloatLanes {
    floats((bits(value) & 0x7FFF_FFFF) | (bits(signSource) & 0x8000_0000))
  }

  /// Lane-wise ``expm1Reduced(_:)-(Double)``.
  @inlinable @inline(__always)
  static func expm1Reduced(_ y: DoubleLanes) -> (scale: DoubleLanes, expm1OfR: DoubleLanes) {
    let shifted = mulAdd(y, inverseLn2, roundingShift)
    let k = bits(shifted) &- roundingShift.bitPattern  // k as a wrapping 64-bit integer
    let kDouble = shifted - roundingShift
    let negatedK = negated(kDouble)
    let r = mulAdd(negatedK, ln2Low, mulAdd(negatedK, ln2High, y))
    // (k + 1023) << 52 with wrapping arithmetic: the same bits whether the lanes are read as
    // Int64 (the scalar code) or UInt64.
    let scale = doubles((k &+ 1023) &<< 52)
    return (scale, expm1Polynomial(r))
  }

  /// Lane-wise ``expm1Polynomial(_:)-(Double)``: the same coefficients in the same Estrin order.
  @inlinable @inline(__always)
  static func expm1Polynomial(_ r: DoubleLanes) -> DoubleLanes {
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

  /// Lane-wise ``exp(_:)-(Float)`` (NaN lanes not yet settled).
  @inlinable @inline(__always)
  static func exp(_ x: FloatLanes) -> FloatLanes {
    var y = widened(x)
    y.replace(with: 128, where: y .> 128)
    y.replace(with: -128, where: y .< -128)
    let (scale, expm1OfR) = expm1Reduced(y)
    return narrowed(mulAdd(scale, expm1OfR, scale))
  }

  /// Lane-wise ``tanh(_:)-(Float)`` (NaN lanes not yet settled).
  @inlinable @inline(__always)
  static func tanh(_ x: FloatLanes) -> FloatLanes {
    let magnitude = floats(bits(x) & 0x7FFF_FFFF)
    var y = -2 * widened(magnitude)
    y.replace(with: -40, where: y .< -40)
    let (scale, expm1OfR) = expm1Reduced(y)
    let u = mulAdd(scale, expm1OfR, scale - 1)
    return withSign(of: x, narrowed(negated(u) / (2 + u)))
  }
}
