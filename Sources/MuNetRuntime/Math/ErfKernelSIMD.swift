// erf on SIMD lanes: lane by lane the same IEEE operations as ErfKernel.swift (spec/math.md,
// "Vectorised forms"; why the bits are the same: see ExpKernelsSIMD.swift).
//
// The scalar function branches on a = |x| (a < 1/2, 1/2 ≤ a < 4, otherwise). Here every lane
// evaluates both polynomials and keeps the result of its own branch. The interval polynomial
// is evaluated for lanes outside [1/2, 4) on a = 1/2 instead, so that its table reads stay in
// bounds; those results are dropped. The dropped values may be infinite or NaN; nothing traps.

extension Elementary {
  /// erf on each lane; every lane bit-identical to ``erf(_:)-(Float)`` of that lane.
  @inlinable @inline(__always)
  public static func erf<Lanes: ElementaryLanes>(_ x: Lanes) -> Lanes {
    ElementaryKernels.settledNaN(x, ElementaryKernels.erf(x))
  }
}

extension ElementaryKernels {
  /// Lane-wise ``erf(_:)-(Float)`` (NaN lanes not yet settled).
  @inlinable @inline(__always)
  static func erf<Lanes: ElementaryLanes>(_ x: Lanes) -> Lanes {
    let a = floats(bits(x) & 0x7FFF_FFFF, as: Lanes.self)
    let half = Lanes(repeating: 0.5), four = Lanes(repeating: 4)
    let belowFour = Lanes.lanesLess(a, four)
    let inIntervals = Lanes.lanesGreaterOrEqual(a, half) .& belowFour
    var magnitude = Lanes(repeating: 1)
    let intervals = erfOnIntervals(a.replacing(with: 0.5, where: .!inIntervals))
    magnitude.replace(with: narrowed(intervals, to: Lanes.self), where: belowFour)
    magnitude.replace(with: erfSmall(a), where: Lanes.lanesLess(a, half))
    // The scalar code returns x itself for NaN (settled afterwards): keep NaN lanes NaN.
    return withSign(of: x, magnitude).replacing(with: x, where: Lanes.lanesNotEqual(x, x))
  }

  /// Lane-wise erf a for a < 1/2 (the first branch of ``erf(_:)-(Float)``), before the sign.
  @inlinable @inline(__always)
  static func erfSmall<Lanes: ElementaryLanes>(_ a: Lanes) -> Lanes {
    let xd = widened(a)
    let z = xd * xd
    let z2 = z * z
    let z4 = z2 * z2
    let e12 = mulAdd(0x1.ce2f21a03d814p-4, z, -0x1.812746b0379b5p-2)
    let e34 = mulAdd(0x1.565bcbf8e0365p-8, z, -0x1.b82ce30f2b28fp-6)
    let e56 = mulAdd(0x1.f98db34e8872ep-14, z, -0x1.c02d4f6e4921ap-11)
    let e78 = mulAdd(0x1.8b4b60851826bp-20, z, -0x1.f224dfc5409afp-17)
    let tail = mulAdd(mulAdd(e78, z2, e56), z4, mulAdd(e34, z2, e12))
    return narrowed(mulAdd(xd, 0x1.20dd750429b6dp+0, xd * (z * tail)), to: Lanes.self)
  }

  /// Lane-wise ``erfOnIntervals(_:)-(Float)`` for lanes with 1/2 ≤ a < 4.
  @inlinable @inline(__always)
  static func erfOnIntervals<Lanes: ElementaryLanes>(_ a: Lanes) -> Lanes.DoubleLanes {
    // ⌊4a⌋ - 2 in 0...13 (4a is exact; the Float result is a small integer, exact too).
    let interval = (a * 4).rounded(.towardZero) - 2
    let t = widened(a) - (widened(interval) * 0.25 + 0.625)
    var rows = Lanes.IndexLanes()
    for lane in 0..<Lanes.scalarCount { rows[lane] = Int(interval[lane]) &* 12 }
    return erfIntervalCoefficients.withUnsafeBufferPointer { table in
      let base = table.baseAddress!
      let t2 = t * t
      let t4 = t2 * t2
      let t8 = t4 * t4
      let q01 = mulAdd(gather(base + 2, rows), t, gather(base + 1, rows))
      let q23 = mulAdd(gather(base + 4, rows), t, gather(base + 3, rows))
      let q45 = mulAdd(gather(base + 6, rows), t, gather(base + 5, rows))
      let q67 = mulAdd(gather(base + 8, rows), t, gather(base + 7, rows))
      let q89 = mulAdd(gather(base + 10, rows), t, gather(base + 9, rows))
      let q0to3 = mulAdd(q23, t2, q01)
      let q4to7 = mulAdd(q67, t2, q45)
      let q8to10 = mulAdd(gather(base + 11, rows), t2, q89)
      let q = mulAdd(q8to10, t8, mulAdd(q4to7, t4, q0to3))
      return mulAdd(t, q, gather(base, rows))
    }
  }

  /// `base[offsets[lane]]` on each lane.
  @inlinable @inline(__always)
  static func gather<Offsets: SIMD, D: SIMD>(
    _ base: UnsafePointer<Double>, _ offsets: Offsets, as _: D.Type = D.self
  ) -> D where Offsets.Scalar == Int, D.Scalar == Double {
    var result = D()
    for lane in 0..<D.scalarCount { result[lane] = base[offsets[lane]] }
    return result
  }
}
