// The one seeded generator for test data, shared by every test target.

/// SplitMix64: a tiny deterministic generator for test data (independent of the engine's own
/// random streams, so tests do not move when those do).
///
/// Every helper below draws from ``next()`` in a fixed way, so a seed always yields the same
/// values; tests rely on that to check the same cases on every run.
public struct SplitMix64 {
  private var state: UInt64

  /// A generator whose first output is determined by `seed` alone.
  public init(seed: UInt64) { state = seed }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in `0..<bound` (one draw; the modulo bias is irrelevant for tests).
  public mutating func below(_ bound: Int) -> Int {
    precondition(bound > 0, "below(_:) needs a positive bound")
    return Int(next() % UInt64(bound))
  }

  /// Uniform in `range` (one draw; small ranges, the modulo bias is irrelevant for tests).
  public mutating func int(in range: ClosedRange<Int>) -> Int {
    range.lowerBound + Int(next() % UInt64(range.count))
  }

  /// A fair coin (one draw, its lowest bit).
  public mutating func bool() -> Bool { next() & 1 == 1 }

  /// Mostly full-precision values in [-1, 1); sometimes ±0 or small integers, so signed zeros
  /// and exact products also occur (GEMM test data).
  public mutating func float() -> Float {
    switch next() % 16 {
    case 0: return 0
    case 1: return -0.0
    case 2: return Float(int(in: -3...3))
    default: return Float(Int32(truncatingIfNeeded: next() >> 32)) * 0x1p-31
    }
  }

  /// Uniform in `range`: one draw of 53 bits in [0, 1), scaled in Double, rounded to Float.
  public mutating func float(in range: ClosedRange<Float>) -> Float {
    let unit = Double(next() >> 11) * 0x1p-53
    return Float(Double(range.lowerBound) + unit * Double(range.upperBound - range.lowerBound))
  }

  /// Uniform in [-1, 1) with 24 random bits (one draw; every value is exact in Float).
  public mutating func signedUnit() -> Float {
    Float(Int64(next() >> 40) - (1 << 23)) / Float(1 << 23)
  }
}
