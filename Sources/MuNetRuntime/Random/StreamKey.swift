/// The 64-bit Philox key of one random stream, named by a path from a run seed.
///
/// Every random decision in munet draws from a stream whose key is derived from the run seed by a
/// named path, e.g. `StreamKey(seed: 7).child("round", 1).child("task", "mnist")`. A child key is a
/// pure function of its parent key and its one (label, value) component, so streams never share
/// state and the order in which sibling streams are derived or used cannot change any draw.
///
/// Derivation of a child (spec/random.md, "Key derivation"):
///
///     h  = FNV-1a-64(kind byte ++ UTF-8(label) ++ 0xFF ++ UTF-8(string value, if any))
///     v  = index            (kind 2, `.child(label, index)`)
///        = FNV-1a-64'(UTF-8(string value))   (kind 3, `.child(label, string)`; see below)
///        = 0                (kind 1, `.child(label)`)
///     (k0', k1') = first two words of Philox4x32-10(counter: [lo(v), hi(v), lo(h), hi(h)],
///                                                   key: parent)
///
/// Kind bytes are 0x01 (label only), 0x02 (label and integer index), 0x03 (label and string).
/// 0xFF never occurs in UTF-8, so it separates label and string value unambiguously.
/// FNV-1a-64' is FNV-1a-64 whose input is prefixed by the byte 0x03, so `v` of a string value
/// differs from the `h` of any label. Strings are compared by their UTF-8 bytes (no Unicode
/// normalization); labels should be plain ASCII identifiers.
///
/// Collision odds: for one parent, Philox under a fixed key is a bijection on 128-bit counters, so
/// distinct (v, h) give distinct blocks; truncating to 64 bits makes two distinct children collide
/// with probability about 2^-64, and two distinct components collide in h (FNV-1a-64 is not a
/// cryptographic hash, but these are not adversarial inputs) with probability about 2^-64 as well.
/// Over a whole run with N stream keys the birthday bound is N^2 / 2^65 (≈ 3e-8 for N = 10^6).
public struct StreamKey: Hashable, Sendable, CustomStringConvertible {
  /// The Philox key words (k0, k1).
  public let words: SIMD2<UInt32>

  /// The root key of a run: k0 = low 32 bits of `seed`, k1 = high 32 bits.
  public init(seed: UInt64) {
    words = SIMD2(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
  }

  /// A key given directly by its Philox words (for tests and for keys read back from a file).
  public init(words: SIMD2<UInt32>) { self.words = words }

  /// The key as one 64-bit number: k0 | k1 << 32 (`StreamKey(seed: s).value == s`).
  public var value: UInt64 { UInt64(words[0]) | UInt64(words[1]) << 32 }

  /// The key as 16 lowercase hex digits of ``value``.
  public var description: String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
  }

  /// The child named by `label` alone (kind 1).
  public func child(_ label: String) -> StreamKey {
    derive(value: 0, componentHash: StreamKey.componentHash(kind: 1, label: label, stringValue: nil))
  }

  /// The child named by `label` and an integer `index`, e.g. `.child("generation", 3)` (kind 2).
  public func child(_ label: String, _ index: UInt64) -> StreamKey {
    derive(value: index, componentHash: StreamKey.componentHash(kind: 2, label: label, stringValue: nil))
  }

  /// The child named by `label` and an integer `index` (convenience for `Int` indices ≥ 0).
  public func child(_ label: String, _ index: Int) -> StreamKey {
    precondition(index >= 0, "stream path index must be non-negative, got \(index) for \(label)")
    return child(label, UInt64(index))
  }

  /// The child named by `label` and a string `value`, e.g. `.child("task", "mnist")` (kind 3).
  public func child(_ label: String, _ value: String) -> StreamKey {
    var valueHash = FNV1a64()
    valueHash.add(3)
    valueHash.add(value.utf8)
    let componentHash = StreamKey.componentHash(kind: 3, label: label, stringValue: value)
    return derive(value: valueHash.state, componentHash: componentHash)
  }

  /// A stream positioned at its first word.
  public var stream: RandomStream { RandomStream(key: self) }

  private func derive(value: UInt64, componentHash: UInt64) -> StreamKey {
    let counter = SIMD4(
      UInt32(truncatingIfNeeded: value), UInt32(truncatingIfNeeded: value >> 32),
      UInt32(truncatingIfNeeded: componentHash), UInt32(truncatingIfNeeded: componentHash >> 32))
    let block = Philox4x32.block(counter: counter, key: words)
    return StreamKey(words: SIMD2(block[0], block[1]))
  }

  private static func componentHash(kind: UInt8, label: String, stringValue: String?) -> UInt64 {
    var hash = FNV1a64()
    hash.add(kind)
    hash.add(label.utf8)
    hash.add(0xFF)
    if let stringValue { hash.add(stringValue.utf8) }
    return hash.state
  }
}

/// FNV-1a, 64-bit (Fowler–Noll–Vo): offset basis 0xcbf29ce484222325, prime 0x100000001b3;
/// per byte: state = (state ^ byte) &* prime.
public struct FNV1a64: Sendable {
  public static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
  public static let prime: UInt64 = 0x0000_0100_0000_01b3

  /// The hash of the bytes added so far.
  public private(set) var state = FNV1a64.offsetBasis

  public init() {}

  public mutating func add(_ byte: UInt8) {
    state = (state ^ UInt64(byte)) &* FNV1a64.prime
  }

  public mutating func add<Bytes: Sequence<UInt8>>(_ bytes: Bytes) {
    for byte in bytes { add(byte) }
  }
}
