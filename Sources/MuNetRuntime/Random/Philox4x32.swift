/// The Philox4x32-10 counter-based block function (Salmon, Moraes, Dror, Shaw, "Parallel random
/// numbers: as easy as 1, 2, 3", SC'11; the Random123 library).
///
/// Why a counter-based generator: the output for a given (counter, key) is a pure function, so any
/// thread can compute any part of any stream without shared state, and the streams never depend
/// on the Swift standard library's random algorithms (which "may change"). See spec/random.md.
///
/// One block maps a 128-bit counter and a 64-bit key to 128 output bits. Each of the 10 rounds is
///
///     (hi0, lo0) = mulhilo32(0xD2511F53, c0)
///     (hi1, lo1) = mulhilo32(0xCD9E8D57, c2)
///     c = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
///
/// and between rounds the key is bumped by the Weyl constants: k0 += 0x9E3779B9 (golden ratio),
/// k1 += 0xBB67AE85 (sqrt(3) - 1), both mod 2^32. Checked against Random123's `tests/kat_vectors`
/// (golden/philox4x32-10.json).
public enum Philox4x32 {
  /// Philox4x32-10 of one 128-bit `counter` (words c0...c3) under the 64-bit `key` (k0, k1).
  @inlinable
  public static func block(counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> SIMD4<UInt32> {
    block(counter: counter, key: key, rounds: 10)
  }

  /// Philox4x32 with an explicit round count: only for checking the round schedule against the
  /// published 7-round vectors. Engine code uses ``block(counter:key:)`` (10 rounds).
  ///
  /// Written on scalar words: Swift's `SIMD4` element shuffles made it about 8× slower.
  @inlinable
  public static func block(counter: SIMD4<UInt32>, key: SIMD2<UInt32>, rounds: Int) -> SIMD4<UInt32> {
    precondition(rounds >= 1, "Philox needs at least one round")
    var (c0, c1, c2, c3) = (counter[0], counter[1], counter[2], counter[3])
    var (k0, k1) = (key[0], key[1])
    for round in 0..<rounds {
      if round > 0 {
        k0 &+= 0x9E37_79B9
        k1 &+= 0xBB67_AE85
      }
      let product0 = UInt64(0xD251_1F53 as UInt32) &* UInt64(c0)
      let product1 = UInt64(0xCD9E_8D57 as UInt32) &* UInt64(c2)
      (c0, c1, c2, c3) = (
        UInt32(truncatingIfNeeded: product1 >> 32) ^ c1 ^ k0, UInt32(truncatingIfNeeded: product1),
        UInt32(truncatingIfNeeded: product0 >> 32) ^ c3 ^ k1, UInt32(truncatingIfNeeded: product0)
      )
    }
    return SIMD4(c0, c1, c2, c3)
  }
}
