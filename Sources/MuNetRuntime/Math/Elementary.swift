/// munet's own elementary functions on `Float`.
///
/// Engine code calls these, never libm: libm results differ between glibc versions and
/// platforms (glibc 2.28 alone rewrote `exp`, `log`, `sin` and `cos`), and a training run must
/// give the same bits everywhere. Every function here is written with IEEE `Double` `+ - * /`,
/// fused multiply-add (`addingProduct`), integer and bit-pattern operations only, so its result
/// is fixed by this source code alone.
///
/// Each function widens its argument to `Double`, reduces the range, evaluates a fixed
/// polynomial in `Double` (relative error about 2^-52) and rounds once to `Float`. The result
/// is therefore the correctly rounded one except when the true value lies within about
/// 2^-52 relative of the midpoint between two floats; the exhaustive measurement over all
/// 2^32 inputs (`munet check-math --exhaustive`, figures in spec/math.md) finds the maximum
/// error and how many results are not correctly rounded. The documented bound for every
/// function is ``errorBoundULPs``.
///
/// ```swift
/// let weight = Elementary.exp(-0.5)   // 0.60653067
/// let gate = Elementary.tanh(0.25)    // 0.24491866
/// ```
public enum Elementary {
  /// The maximum error of every function here, in units in the last place of the true value,
  /// over all 2^32 `Float` inputs. The measured maxima are a little above 0.5 (spec/math.md).
  public static let errorBoundULPs = 1.0

  /// e^x. Overflows to `+infinity` from x = 88.72283935546875 on and underflows (through
  /// subnormals) to `+0` from x = -103.97208404541016 down; `exp(±0) == 1`,
  /// `exp(-infinity) == 0`, NaN gives NaN.
  @inlinable
  public static func exp(_ x: Float) -> Float {
    ElementaryKernels.settledNaN(x, ElementaryKernels.exp(x))
  }

  /// e^x for `count` elements of `input`, written to `output` (which may equal `input`).
  /// Bit-identical to ``exp(_:)-(Float)`` for every element: whole vectors of 16 and then 8
  /// lanes by ``exp(_:)-(Lanes)``, the remainder by the scalar function.
  @inlinable
  public static func exp(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
    precondition(count >= 0)
    var index = ElementaryKernels.mapLanes(
      ElementaryKernels.WideLanes.self, input, output, from: 0, count: count) { Elementary.exp($0) }
    index = ElementaryKernels.mapLanes(
      ElementaryKernels.HalfLanes.self, input, output, from: index, count: count) { Elementary.exp($0) }
    while index < count {
      output[index] = Elementary.exp(input[index])
      index &+= 1
    }
  }

  /// Natural logarithm. `log(±0) == -infinity`, `log(1) == +0`, `log(+infinity) == +infinity`,
  /// negative arguments and NaN give NaN. Subnormal arguments are exact inputs.
  @inlinable
  public static func log(_ x: Float) -> Float {
    ElementaryKernels.settledNaN(x, ElementaryKernels.log(x))
  }

  /// Hyperbolic tangent: odd, `tanh(±0) == ±0`, `tanh(±infinity) == ±1`, NaN gives NaN.
  /// The result is exactly ±1 for |x| ≥ 9.010913.
  @inlinable
  public static func tanh(_ x: Float) -> Float {
    ElementaryKernels.settledNaN(x, ElementaryKernels.tanh(x))
  }

  /// tanh for `count` elements of `input`, written to `output` (which may equal `input`).
  /// Bit-identical to ``tanh(_:)-(Float)`` for every element: whole vectors of 16 and then 8
  /// lanes by ``tanh(_:)-(Lanes)``, the remainder by the scalar function.
  @inlinable
  public static func tanh(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
    precondition(count >= 0)
    var index = ElementaryKernels.mapLanes(
      ElementaryKernels.WideLanes.self, input, output, from: 0, count: count) { Elementary.tanh($0) }
    index = ElementaryKernels.mapLanes(
      ElementaryKernels.HalfLanes.self, input, output, from: index, count: count) { Elementary.tanh($0) }
    while index < count {
      output[index] = Elementary.tanh(input[index])
      index &+= 1
    }
  }

  /// The error function: odd, `erf(±0) == ±0`, `erf(±infinity) == ±1`, NaN gives NaN.
  /// The result is exactly ±1 for |x| ≥ 3.9192059.
  @inlinable
  public static func erf(_ x: Float) -> Float {
    ElementaryKernels.settledNaN(x, ElementaryKernels.erf(x))
  }

  /// erf for `count` elements of `input`, written to `output` (which may equal `input`).
  /// Bit-identical to ``erf(_:)-(Float)`` for every element: whole vectors of 8 lanes by
  /// ``erf(_:)-(Lanes)``, the remainder by the scalar function.
  @inlinable
  public static func erf(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
    precondition(count >= 0)
    var index = ElementaryKernels.mapLanes(
      ElementaryKernels.ErfLanes.self, input, output, from: 0, count: count) { Elementary.erf($0) }
    index = ElementaryKernels.mapLanes(
      ElementaryKernels.HalfLanes.self, input, output, from: index, count: count) { Elementary.erf($0) }
    while index < count {
      output[index] = Elementary.erf(input[index])
      index &+= 1
    }
  }

  /// Cosine of x radians, for every finite `Float` x (the argument is reduced exactly, with
  /// 128 bits of 2/π, so huge arguments are as accurate as small ones). Even;
  /// `cos(±0) == 1`, `cos(±infinity)` and `cos(NaN)` are NaN.
  @inlinable
  public static func cos(_ x: Float) -> Float {
    ElementaryKernels.settledNaN(x, ElementaryKernels.cos(x))
  }
}

/// The implementations behind ``Elementary``, visible to other modules only through its
/// `@inlinable` functions.
@usableFromInline enum ElementaryKernels {
  /// The widths the buffer forms and the kernels use, the fastest measured on the project
  /// machine (spec/math.md, "Vectorised forms"): 16 lanes for `exp` and `tanh` (and the GELU
  /// tanh form and softmax built on them), 8 for `erf` (the exact GELU form); a remainder of 8
  /// or more after the wide vectors takes one 8-lane vector.
  @usableFromInline typealias WideLanes = SIMD16<Float>
  @usableFromInline typealias HalfLanes = SIMD8<Float>
  @usableFromInline typealias ErfLanes = SIMD8<Float>

  /// `output[j] = transform(input[j...])` for whole vectors of `Lanes` from `start` on; returns
  /// the index after the last one. Each vector is read before it is written, so `output` may
  /// equal `input`.
  @inlinable @inline(__always)
  static func mapLanes<Lanes: ElementaryLanes>(
    _: Lanes.Type, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, from start: Int,
    count: Int, _ transform: (Lanes) -> Lanes
  ) -> Int {
    var index = start
    while index &+ Lanes.scalarCount <= count {
      storeLanes(transform(loadLanes(input + index)), output + index)
      index &+= Lanes.scalarCount
    }
    return index
  }
}

extension ElementaryKernels {
  /// a * b + c with one rounding: the only operation besides `+ - * /` the polynomials use.
  @inlinable @inline(__always)
  static func mulAdd(_ a: Double, _ b: Double, _ c: Double) -> Double {
    c.addingProduct(a, b)
  }

  /// `result`, unless it is a NaN: then the input NaN with its quiet bit set, or the canonical
  /// quiet NaN `0x7FC00000` when the input was not a NaN (`log(-1)`, `cos(infinity)`).
  ///
  /// Why: LLVM does not promise which NaN an arithmetic operation returns (operand order may
  /// change with optimisation, and x86's default NaN is negative), and a debug build was
  /// measured returning `0xFFC01000` where the release build returned `0x7FC01000` for the
  /// signalling NaN input `0x7F801000`. Rebuilding NaN outputs from bits makes them part of the
  /// contract like every other result.
  @inlinable @inline(__always)
  static func settledNaN(_ x: Float, _ result: Float) -> Float {
    if !result.isNaN { return result }
    return x.isNaN ? Float(bitPattern: x.bitPattern | 0x0040_0000) : Float(bitPattern: 0x7FC0_0000)
  }

  /// |value| with the sign bit of `signSource` (NaN values keep their payload).
  @inlinable @inline(__always)
  static func withSign(of signSource: Float, _ value: Float) -> Float {
    Float(bitPattern: (value.bitPattern & 0x7FFF_FFFF) | (signSource.bitPattern & 0x8000_0000))
  }
}
