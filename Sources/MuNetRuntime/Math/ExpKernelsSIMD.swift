// exp and tanh on SIMD lanes: lane by lane the same IEEE operations as ExpKernels.swift
// (spec/math.md, "Vectorised forms").
//
// Why the bits are the same as the scalar functions: every step below is the lane-wise form of
// the scalar step, and each lane-wise operation is the same IEEE operation as its scalar one:
// - `+ - * /` and `addingProduct` on SIMD types are defined by the standard library as the
//   scalar operation on each lane (the compiler emits vector instructions with the same
//   per-lane IEEE semantics; Swift never contracts or reassociates);
// - `Double(Float)` on each lane is exact, and `Float(Double)` on each lane is the IEEE
//   conversion, round to nearest even, with overflow, subnormals and underflow exactly as the
//   scalar conversion (it is the scalar conversion, lane by lane; ElementaryLaneTests checks
//   the edges);
// - the clamps `y > 128 ? 128 : y` become `replacing(with:where:)` on the same comparison, so
//   NaN still passes;
// - negation (`-v`) is a sign-bit flip, as for the scalar `-`. (The standard library's SIMD
//   prefix `-` is `0 - v`, which gives +0 for +0: so it is not used here);
// - the bit-pattern steps use the same wrapping integer arithmetic on 64-bit lanes;
// - NaN results are rebuilt from bits exactly as ``ElementaryKernels/settledNaN(_:_:)`` does.
// Nothing depends on the lane a value sits in or on its neighbours, so any split of a buffer
// into vectors and a scalar remainder gives the same bits. `munet check-math --exhaustive`
// compares the vector forms with the scalar functions over all 2^32 inputs in a release build;
// ElementaryLaneTests does so on about a million chosen inputs in debug.

/// A vector of `Float` lanes for munet's vectorised elementary functions: `SIMD4<Float>`,
/// `SIMD8<Float>` or `SIMD16<Float>`. Every lane of ``Elementary/exp(_:)-(Lanes)`` (and
/// `tanh`, `erf`) has the bits of the scalar function of that lane, whatever the width.
///
/// Which width is fastest depends on the function (measured on the project machine, spec/math.md
/// "Vectorised forms"): 16 lanes for `exp` and `tanh`, 8 for `erf`.
public protocol ElementaryLanes: SIMD where Scalar == Float {
  /// As many `Double` lanes.
  associatedtype DoubleLanes: SIMD where DoubleLanes.Scalar == Double
  /// The bit patterns of the lanes.
  associatedtype BitLanes: SIMD where BitLanes.Scalar == UInt32, BitLanes.MaskStorage == MaskStorage
  /// The bit patterns of ``DoubleLanes``.
  associatedtype DoubleBitLanes: SIMD where DoubleBitLanes.Scalar == UInt64
  /// As many `Int` lanes (table offsets).
  associatedtype IndexLanes: SIMD where IndexLanes.Scalar == Int

  // Lane-wise comparisons, each the standard library's concrete operator of the conforming
  // type (one vector compare). Generic code calling `.<` and friends gets the generic
  // definition instead, a loop over the lanes that the optimiser was measured leaving as a loop
  // for 16 lanes (seven times slower). Same results: IEEE comparisons, false for NaN except `!=`.

  /// `a .== b`.
  static func lanesEqual(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage>
  /// `a .!= b` (true for NaN lanes when `a` is `b`).
  static func lanesNotEqual(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage>
  /// `a .< b`.
  static func lanesLess(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage>
  /// `a .> b`.
  static func lanesGreater(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage>
  /// `a .>= b`.
  static func lanesGreaterOrEqual(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage>
  /// `a .< b` on `Double` lanes.
  static func doublesLess(_ a: DoubleLanes, _ b: DoubleLanes) -> SIMDMask<DoubleLanes.MaskStorage>
  /// `a .> b` on `Double` lanes.
  static func doublesGreater(_ a: DoubleLanes, _ b: DoubleLanes) -> SIMDMask<DoubleLanes.MaskStorage>
}

extension SIMD4: ElementaryLanes where Scalar == Float {
  public typealias DoubleLanes = SIMD4<Double>
  public typealias BitLanes = SIMD4<UInt32>
  public typealias DoubleBitLanes = SIMD4<UInt64>
  public typealias IndexLanes = SIMD4<Int>

  @inlinable @inline(__always)
  public static func lanesEqual(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage> { a .== b }
  @inlinable @inline(__always)
  public static func lanesNotEqual(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage> { a .!= b }
  @inlinable @inline(__always)
  public static func lanesLess(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage> { a .< b }
  @inlinable @inline(__always)
  public static func lanesGreater(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage> { a .> b }
  @inlinable @inline(__always)
  public static func lanesGreaterOrEqual(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage> { a .>= b }
  @inlinable @inline(__always)
  public static func doublesLess(_ a: DoubleLanes, _ b: DoubleLanes) -> SIMDMask<DoubleLanes.MaskStorage> {
    a .< b
  }
  @inlinable @inline(__always)
  public static func doublesGreater(_ a: DoubleLanes, _ b: DoubleLanes) -> SIMDMask<DoubleLanes.MaskStorage> {
    a .> b
  }
}

extension SIMD8: ElementaryLanes where Scalar == Float {
  public typealias DoubleLanes = SIMD8<Double>
  public typealias BitLanes = SIMD8<UInt32>
  public typealias DoubleBitLanes = SIMD8<UInt64>
  public typealias IndexLanes = SIMD8<Int>

  @inlinable @inline(__always)
  public static func lanesEqual(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage> { a .== b }
  @inlinable @inline(__always)
  public static func lanesNotEqual(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage> { a .!= b }
  @inlinable @inline(__always)
  public static func lanesLess(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage> { a .< b }
  @inlinable @inline(__always)
  public static func lanesGreater(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage> { a .> b }
  @inlinable @inline(__always)
  public static func lanesGreaterOrEqual(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage> { a .>= b }
  @inlinable @inline(__always)
  public static func doublesLess(_ a: DoubleLanes, _ b: DoubleLanes) -> SIMDMask<DoubleLanes.MaskStorage> {
    a .< b
  }
  @inlinable @inline(__always)
  public static func doublesGreater(_ a: DoubleLanes, _ b: DoubleLanes) -> SIMDMask<DoubleLanes.MaskStorage> {
    a .> b
  }
}

extension SIMD16: ElementaryLanes where Scalar == Float {
  public typealias DoubleLanes = SIMD16<Double>
  public typealias BitLanes = SIMD16<UInt32>
  public typealias DoubleBitLanes = SIMD16<UInt64>
  public typealias IndexLanes = SIMD16<Int>

  @inlinable @inline(__always)
  public static func lanesEqual(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage> { a .== b }
  @inlinable @inline(__always)
  public static func lanesNotEqual(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage> { a .!= b }
  @inlinable @inline(__always)
  public static func lanesLess(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage> { a .< b }
  @inlinable @inline(__always)
  public static func lanesGreater(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage> { a .> b }
  @inlinable @inline(__always)
  public static func lanesGreaterOrEqual(_ a: Self, _ b: Self) -> SIMDMask<MaskStorage> { a .>= b }
  @inlinable @inline(__always)
  public static func doublesLess(_ a: DoubleLanes, _ b: DoubleLanes) -> SIMDMask<DoubleLanes.MaskStorage> {
    a .< b
  }
  @inlinable @inline(__always)
  public static func doublesGreater(_ a: DoubleLanes, _ b: DoubleLanes) -> SIMDMask<DoubleLanes.MaskStorage> {
    a .> b
  }
}

extension Elementary {
  /// e^x on each lane; every lane bit-identical to ``exp(_:)-(Float)`` of that lane.
  @inlinable @inline(__always)
  public static func exp<Lanes: ElementaryLanes>(_ x: Lanes) -> Lanes {
    ElementaryKernels.settledNaN(x, ElementaryKernels.exp(x))
  }

  /// tanh on each lane; every lane bit-identical to ``tanh(_:)-(Float)`` of that lane.
  @inlinable @inline(__always)
  public static func tanh<Lanes: ElementaryLanes>(_ x: Lanes) -> Lanes {
    ElementaryKernels.settledNaN(x, ElementaryKernels.tanh(x))
  }
}

extension ElementaryKernels {
  /// The lanes of `Lanes` from `pointer` (no alignment needed).
  @inlinable @inline(__always)
  static func loadLanes<Lanes: ElementaryLanes>(
    _ pointer: UnsafePointer<Float>, as _: Lanes.Type = Lanes.self
  ) -> Lanes {
    UnsafeRawPointer(pointer).loadUnaligned(as: Lanes.self)
  }

  /// Stores the lanes at `pointer` (no alignment needed).
  @inlinable @inline(__always)
  static func storeLanes<Lanes: ElementaryLanes>(_ value: Lanes, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Lanes.self)
  }

  @inlinable @inline(__always)
  static func bits<Lanes: ElementaryLanes>(_ value: Lanes) -> Lanes.BitLanes {
    unsafeBitCast(value, to: Lanes.BitLanes.self)
  }

  @inlinable @inline(__always)
  static func floats<Lanes: ElementaryLanes>(_ bits: Lanes.BitLanes, as _: Lanes.Type) -> Lanes {
    unsafeBitCast(bits, to: Lanes.self)
  }

  @inlinable @inline(__always)
  static func doubleBits<Lanes: ElementaryLanes>(
    _ value: Lanes.DoubleLanes, of _: Lanes.Type
  ) -> Lanes.DoubleBitLanes {
    unsafeBitCast(value, to: Lanes.DoubleBitLanes.self)
  }

  @inlinable @inline(__always)
  static func doubles<Lanes: ElementaryLanes>(
    _ bits: Lanes.DoubleBitLanes, of _: Lanes.Type
  ) -> Lanes.DoubleLanes {
    unsafeBitCast(bits, to: Lanes.DoubleLanes.self)
  }

  /// `Double(value)` on each lane (exact). A loop over the lanes like the standard library's
  /// conversion initialiser, but always inlined: the optimiser was measured leaving that
  /// initialiser as a call in hot loops.
  @inlinable @inline(__always)
  static func widened<Lanes: ElementaryLanes>(_ value: Lanes) -> Lanes.DoubleLanes {
    var result = Lanes.DoubleLanes()
    for lane in 0..<Lanes.scalarCount { result[lane] = Double(value[lane]) }
    return result
  }

  /// `Float(value)` on each lane: the scalar IEEE conversion, lane by lane (round to nearest
  /// even; overflow to infinity, subnormal and zero results as for one `Float(_: Double)`).
  @inlinable @inline(__always)
  static func narrowed<Lanes: ElementaryLanes>(_ value: Lanes.DoubleLanes, to _: Lanes.Type) -> Lanes {
    var result = Lanes()
    for lane in 0..<Lanes.scalarCount { result[lane] = Float(value[lane]) }
    return result
  }

  /// `-value` on each lane: the sign bit flipped, exactly what the scalar prefix `-` does.
  @inlinable @inline(__always)
  static func negated<Lanes: ElementaryLanes>(
    _ value: Lanes.DoubleLanes, of lanes: Lanes.Type
  ) -> Lanes.DoubleLanes {
    doubles(doubleBits(value, of: lanes) ^ 0x8000_0000_0000_0000, of: lanes)
  }

  /// `a * b + c` with one rounding on each lane (lane-wise ``mulAdd(_:_:_:)-(Double,_,_)``).
  @inlinable @inline(__always)
  static func mulAdd<D: SIMD>(_ a: D, _ b: D, _ c: D) -> D where D.Scalar == Double {
    c.addingProduct(a, b)
  }

  @inlinable @inline(__always)
  static func mulAdd<D: SIMD>(_ a: D, _ b: Double, _ c: Double) -> D where D.Scalar == Double {
    D(repeating: c).addingProduct(a, D(repeating: b))
  }

  @inlinable @inline(__always)
  static func mulAdd<D: SIMD>(_ a: Double, _ b: D, _ c: Double) -> D where D.Scalar == Double {
    D(repeating: c).addingProduct(D(repeating: a), b)
  }

  @inlinable @inline(__always)
  static func mulAdd<D: SIMD>(_ a: Double, _ b: D, _ c: D) -> D where D.Scalar == Double {
    c.addingProduct(D(repeating: a), b)
  }

  @inlinable @inline(__always)
  static func mulAdd<D: SIMD>(_ a: D, _ b: Double, _ c: D) -> D where D.Scalar == Double {
    c.addingProduct(a, D(repeating: b))
  }

  /// Lane-wise ``settledNaN(_:_:)-(Float,_)``: NaN lanes of `result` become the input NaN
  /// with its quiet bit set, or `0x7FC00000` where the input was not a NaN.
  @inlinable @inline(__always)
  static func settledNaN<Lanes: ElementaryLanes>(_ x: Lanes, _ result: Lanes) -> Lanes {
    let quietedInput = bits(x) | 0x0040_0000
    let replacement = Lanes.BitLanes(repeating: 0x7FC0_0000)
      .replacing(with: quietedInput, where: Lanes.lanesNotEqual(x, x))
    return floats(bits(result).replacing(with: replacement, where: Lanes.lanesNotEqual(result, result)),
                  as: Lanes.self)
  }

  /// Lane-wise ``withSign(of:_:)-(Float,_)``.
  @inlinable @inline(__always)
  static func withSign<Lanes: ElementaryLanes>(of signSource: Lanes, _ value: Lanes) -> Lanes {
    floats((bits(value) & 0x7FFF_FFFF) | (bits(signSource) & 0x8000_0000), as: Lanes.self)
  }

  /// Lane-wise ``expm1Reduced(_:)-(Double)``.
  @inlinable @inline(__always)
  static func expm1Reduced<Lanes: ElementaryLanes>(
    _ y: Lanes.DoubleLanes, of lanes: Lanes.Type
  ) -> (scale: Lanes.DoubleLanes, expm1OfR: Lanes.DoubleLanes) {
    let shifted: Lanes.DoubleLanes = mulAdd(y, inverseLn2, roundingShift)
    let k = doubleBits(shifted, of: lanes) &- roundingShift.bitPattern  // k as wrapping 64-bit integers
    let kDouble = shifted - roundingShift
    let negatedK = negated(kDouble, of: lanes)
    let r = mulAdd(negatedK, ln2Low, mulAdd(negatedK, ln2High, y))
    // (k + 1023) << 52 with wrapping arithmetic: the same bits whether the lanes are read as
    // Int64 (the scalar code) or UInt64.
    let scale = doubles((k &+ 1023) &<< 52, of: lanes)
    return (scale, expm1Polynomial(r))
  }

  /// Lane-wise ``expm1Polynomial(_:)-(Double)``: the same coefficients in the same Estrin order.
  @inlinable @inline(__always)
  static func expm1Polynomial<D: SIMD>(_ r: D) -> D where D.Scalar == Double {
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
  static func exp<Lanes: ElementaryLanes>(_ x: Lanes) -> Lanes {
    var y = widened(x)
    y.replace(with: 128, where: Lanes.doublesGreater(y, Lanes.DoubleLanes(repeating: 128)))
    y.replace(with: -128, where: Lanes.doublesLess(y, Lanes.DoubleLanes(repeating: -128)))
    let (scale, expm1OfR) = expm1Reduced(y, of: Lanes.self)
    return narrowed(mulAdd(scale, expm1OfR, scale), to: Lanes.self)
  }

  /// Lane-wise ``tanh(_:)-(Float)`` (NaN lanes not yet settled).
  @inlinable @inline(__always)
  static func tanh<Lanes: ElementaryLanes>(_ x: Lanes) -> Lanes {
    let magnitude = floats(bits(x) & 0x7FFF_FFFF, as: Lanes.self)
    var y = -2 * widened(magnitude)
    y.replace(with: -40, where: Lanes.doublesLess(y, Lanes.DoubleLanes(repeating: -40)))
    let (scale, expm1OfR) = expm1Reduced(y, of: Lanes.self)
    let u = mulAdd(scale, expm1OfR, scale - 1)
    return withSign(of: x, narrowed(negated(u, of: Lanes.self) / (2 + u), to: Lanes.self))
  }
}
