/// SHA-256 (NIST FIPS 180-4), in pure Swift: content hashes of checkpoints, datasets and goldens.
///
/// Incremental: `update` any number of times, then ``finalize()`` once; the one-shot `hash` does
/// both. Checked against the FIPS 180 example messages (Tests/StorageTests/SHA256Tests.swift).
public struct SHA256: Sendable {
  /// A 32-byte SHA-256 digest.
  public struct Digest: Hashable, Sendable, CustomStringConvertible {
    /// The 32 digest bytes, in the standard (big-endian) order.
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
      precondition(bytes.count == 32, "a SHA-256 digest has 32 bytes, got \(bytes.count)")
      self.bytes = bytes
    }

    /// 64 lowercase hex digits.
    public var hex: String {
      let digits = Array("0123456789abcdef".utf8)
      var text = [UInt8]()
      text.reserveCapacity(64)
      for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 15)])
      }
      return String(decoding: text, as: UTF8.self)
    }

    public var description: String { hex }
  }

  private static let roundConstants: [UInt32] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]

  private static let initialState: [UInt32] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]

  private var state = SHA256.initialState
  /// Bytes of the current, incomplete block (always fewer than 64 between calls).
  private var pending = [UInt8]()
  private var messageBytes: UInt64 = 0
  private var finalized = false

  public init() { pending.reserveCapacity(64) }

  /// The digest of `bytes`.
  public static func hash(_ bytes: UnsafeRawBufferPointer) -> Digest {
    var hasher = SHA256()
    hasher.update(bytes)
    return hasher.finalize()
  }

  /// The digest of `bytes`.
  public static func hash(_ bytes: [UInt8]) -> Digest {
    bytes.withUnsafeBytes { hash($0) }
  }

  /// Appends `bytes` to the message.
  public mutating func update(_ bytes: UnsafeRawBufferPointer) {
    precondition(!finalized, "SHA256.update after finalize")
    messageBytes &+= UInt64(bytes.count)
    absorb(bytes)
  }

  /// Appends `bytes` to the message.
  public mutating func update(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { update($0) }
  }

  /// Pads the message (0x80, zeros, 64-bit big-endian bit length; FIPS 180-4, 5.1.1) and returns
  /// the digest. The hasher cannot be used afterwards.
  public mutating func finalize() -> Digest {
    precondition(!finalized, "SHA256.finalize called twice")
    finalized = true
    let bitLength = messageBytes &* 8
    let afterMarker = (pending.count + 1) % 64
    let zeroCount = afterMarker <= 56 ? 56 - afterMarker : 120 - afterMarker
    var padding: [UInt8] = [0x80] + repeatElement(0, count: zeroCount)
    for shift in stride(from: 56, through: 0, by: -8) {
      padding.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
    }
    padding.withUnsafeBytes { absorb($0) }
    precondition(pending.isEmpty, "SHA256 padding must end on a block boundary")
    var digest = [UInt8]()
    digest.reserveCapacity(32)
    for word in state {
      for shift in stride(from: 24, through: 0, by: -8) {
        digest.append(UInt8(truncatingIfNeeded: word >> UInt32(shift)))
      }
    }
    return Digest(bytes: digest)
  }

  /// Feeds bytes through the block buffer into the compression function.
  private mutating func absorb(_ bytes: UnsafeRawBufferPointer) {
    var offset = 0
    if !pending.isEmpty {
      let taken = min(64 - pending.count, bytes.count)
      pending.append(contentsOf: bytes[0..<taken])
      offset = taken
      guard pending.count == 64 else { return }
      let block = pending
      block.withUnsafeBytes { compress(block: $0) }
      pending.removeAll(keepingCapacity: true)
    }
    while bytes.count - offset >= 64 {
      compress(block: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + 64]))
      offset += 64
    }
    pending.append(contentsOf: bytes[offset...])
  }

  private static func rotateRight(_ x: UInt32, _ n: UInt32) -> UInt32 { x >> n | x << (32 - n) }

  /// The compression function on one 64-byte block (FIPS 180-4, 6.2.2).
  private mutating func compress(block: UnsafeRawBufferPointer) {
    withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { schedule in
      for t in 0..<16 {
        schedule[t] = UInt32(block[4 * t]) << 24 | UInt32(block[4 * t + 1]) << 16
          | UInt32(block[4 * t + 2]) << 8 | UInt32(block[4 * t + 3])
      }
      for t in 16..<64 {
        let w15 = schedule[t - 15], w2 = schedule[t - 2]
        let s0 = Self.rotateRight(w15, 7) ^ Self.rotateRight(w15, 18) ^ w15 >> 3
        let s1 = Self.rotateRight(w2, 17) ^ Self.rotateRight(w2, 19) ^ w2 >> 10
        schedule[t] = schedule[t - 16] &+ s0 &+ schedule[t - 7] &+ s1
      }
      compressRounds(schedule: UnsafeBufferPointer(schedule))
    }
  }

  private mutating func compressRounds(schedule: UnsafeBufferPointer<UInt32>) {
    var (a, b, c, d) = (state[0], state[1], state[2], state[3])
    var (e, f, g, h) = (state[4], state[5], state[6], state[7])
    for t in 0..<64 {
      let sum1 = Self.rotateRight(e, 6) ^ Self.rotateRight(e, 11) ^ Self.rotateRight(e, 25)
      let choice = (e & f) ^ (~e & g)
      let temp1 = h &+ sum1 &+ choice &+ Self.roundConstants[t] &+ schedule[t]
      let sum0 = Self.rotateRight(a, 2) ^ Self.rotateRight(a, 13) ^ Self.rotateRight(a, 22)
      let majority = (a & b) ^ (a & c) ^ (b & c)
      (h, g, f, e) = (g, f, e, d &+ temp1)
      (d, c, b, a) = (c, b, a, temp1 &+ sum0 &+ majority)
    }
    state[0] &+= a; state[1] &+= b; state[2] &+= c; state[3] &+= d
    state[4] &+= e; state[5] &+= f; state[6] &+= g; state[7] &+= h
  }
}
