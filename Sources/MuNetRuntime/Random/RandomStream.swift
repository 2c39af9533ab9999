/// A stream of random 32-bit words and munet's own mappings from words to numbers.
///
/// The stream with key `K` is the word sequence w0, w1, w2, ... where
///
///     w(i) = Philox4x32-10(counter: [lo(i / 4), hi(i / 4), 0, 0], key: K)[i % 4]
///
/// (`lo`/`hi` are the 32-bit halves of the 64-bit block number i / 4). The struct holds only the
/// key, the block number, the position within the block and the current block: no heap, no
/// shared state. Every mapping below is defined in terms of the words it reads, in order, so the
/// values are the same on every machine and Swift version (spec/random.md). The stdlib random
/// API is never used.
public struct RandomStream: Sendable {
  /// The key of this stream.
  public let key: StreamKey
  /// The Philox block that holds the next word.
  public private(set) var blockNumber: UInt64
  /// The index (0...3) of the next word within ``blockNumber``.
  public private(set) var positionInBlock: Int
  private var block: SIMD4<UInt32>

  /// The stream of `key`, positioned at word `wordOffset` (default: its first word).
  ///
  /// Counter-based: starting at word `n` gives exactly the words a stream started at 0 gives after
  /// reading `n` words, so independent parts of one stream can be computed by different threads.
  public init(key: StreamKey, wordOffset: UInt64 = 0) {
    self.key = key
    blockNumber = wordOffset / 4
    positionInBlock = Int(wordOffset % 4)
    block = RandomStream.block(blockNumber, key: key)
  }

  /// The index of the next word in the stream (the number of words read from word 0).
  public var wordOffset: UInt64 { blockNumber &* 4 &+ UInt64(positionInBlock) }

  private static func block(_ number: UInt64, key: StreamKey) -> SIMD4<UInt32> {
    let counter = SIMD4(UInt32(truncatingIfNeeded: number), UInt32(truncatingIfNeeded: number >> 32), 0, 0)
    return Philox4x32.block(counter: counter, key: key.words)
  }

  // MARK: Words

  /// The next word w(i). Reads 1 word.
  public mutating func nextUInt32() -> UInt32 {
    if positionInBlock == 4 {
      blockNumber &+= 1
      positionInBlock = 0
      block = RandomStream.block(blockNumber, key: key)
    }
    // A switch rather than `block[positionInBlock]`: dynamic SIMD indexing spills to memory.
    let word: UInt32
    switch positionInBlock {
    case 0: word = block.x
    case 1: word = block.y
    case 2: word = block.z
    default: word = block.w
    }
    positionInBlock += 1
    return word
  }

  /// w(i) | w(i+1) << 32: the first word read is the low half. Reads 2 words.
  public mutating func nextUInt64() -> UInt64 {
    let low = UInt64(nextUInt32())
    let high = UInt64(nextUInt32())
    return low | high << 32
  }

  // MARK: Uniform reals

  /// A uniform `Float` in [0, 1): (w >> 8) × 2^-24, the top 24 bits of one word. Exact (every
  /// value is a multiple of 2^-24, all 2^24 of them equally likely); the largest is 1 - 2^-24.
  /// Reads 1 word.
  public mutating func nextFloat() -> Float {
    Float(nextUInt32() >> 8) * 0x1p-24
  }

  /// A uniform `Double` in [0, 1): (u >> 11) × 2^-53 with u = ``nextUInt64()``, the top 53 bits.
  /// Exact; reads 2 words.
  public mutating func nextDouble() -> Double {
    Double(nextUInt64() >> 11) * 0x1p-53
  }

  // MARK: Integers and Bernoulli trials

  /// A uniform integer in 0..<n, exactly unbiased (Lemire, "Fast random integer generation in an
  /// interval", 2019):
  ///
  ///     x = nextUInt64(); (high, low) = x × n (128-bit product)
  ///     if low < n: t = (2^64 - n) mod n; while low < t: x = nextUInt64(); (high, low) = x × n
  ///     return high
  ///
  /// Rejection makes every result equally likely: exactly t of the 2^64 values of x are rejected.
  /// Reads 2 words per attempt; a retry happens with probability t / 2^64 < n / 2^64.
  public mutating func nextInt(below n: UInt64) -> UInt64 {
    precondition(n > 0, "nextInt(below:) needs n > 0")
    var product = nextUInt64().multipliedFullWidth(by: n)
    if product.low < n {
      let threshold = (0 &- n) % n
      while product.low < threshold {
        product = nextUInt64().multipliedFullWidth(by: n)
      }
    }
    return product.high
  }

  /// ``nextInt(below:)`` for `Int` bounds and results (n > 0).
  public mutating func nextInt(below n: Int) -> Int {
    precondition(n > 0, "nextInt(below:) needs n > 0, got \(n)")
    return Int(nextInt(below: UInt64(n)))
  }

  /// True with probability exactly numerator / denominator: `nextInt(below: denominator) <
  /// numerator`. Always draws (also when the answer is certain), so the stream position after
  /// the call does not depend on the probability. Needs 0 ≤ numerator ≤ denominator, denominator > 0.
  public mutating func nextBool(numerator: UInt64, denominator: UInt64) -> Bool {
    precondition(denominator > 0, "nextBool: denominator must be > 0")
    precondition(numerator <= denominator, "nextBool: numerator \(numerator) > denominator \(denominator)")
    return nextInt(below: denominator) < numerator
  }

  /// True with probability exactly 2^-n (n ≥ 0, any size): true iff n random bits are all zero.
  ///
  /// The bits are taken in groups of up to 32 from successive words: the low min(32, remaining)
  /// bits of each word. It returns false at the first group that is not all zero, so it reads at
  /// most ceil(n / 32) words, and one word unless the first 32 bits are all zero. n = 0 reads
  /// nothing and returns true.
  public mutating func nextBool(halfPower n: Int) -> Bool {
    precondition(n >= 0, "nextBool(halfPower:) needs n >= 0, got \(n)")
    var remaining = n
    while remaining > 0 {
      let word = nextUInt32()
      let bits = min(32, remaining)
      let mask: UInt32 = bits == 32 ? .max : (1 << UInt32(bits)) - 1
      if word & mask != 0 { return false }
      remaining -= bits
    }
    return true
  }

  // MARK: Permutations and choices

  /// Shuffles `buffer` in place by Fisher–Yates with descending i:
  ///
  ///     for i in stride(from: count - 1, through: 1, by: -1):
  ///       j = nextInt(below: i + 1); swap(buffer[i], buffer[j])
  ///
  /// Every permutation is equally likely. Reads 2 × (count - 1) words when no retry occurs.
  public mutating func shuffle<T>(_ buffer: inout UnsafeMutableBufferPointer<T>) {
    guard buffer.count > 1 else { return }
    for i in stride(from: buffer.count - 1, through: 1, by: -1) {
      let j = nextInt(below: i + 1)
      buffer.swapAt(i, j)
    }
  }

  /// The same Fisher–Yates shuffle of an array (see the buffer version).
  public mutating func shuffle<T>(_ array: inout [T]) {
    array.withUnsafeMutableBufferPointer { buffer in shuffle(&buffer) }
  }

  /// An index i with probability weights[i] / total: r = nextInt(below: total), then the first i
  /// whose running sum weights[0] + ... + weights[i] exceeds r. A zero weight is never chosen.
  /// Needs total > 0 and no overflow of the total. Reads the words of one ``nextInt(below:)``.
  public mutating func weightedChoice(weights: [UInt64]) -> Int {
    var total: UInt64 = 0
    for weight in weights {
      let (sum, overflow) = total.addingReportingOverflow(weight)
      precondition(!overflow, "weightedChoice: total weight overflows UInt64")
      total = sum
    }
    precondition(total > 0, "weightedChoice: needs at least one positive weight")
    let r = nextInt(below: total)
    var runningSum: UInt64 = 0
    for (index, weight) in weights.enumerated() {
      runningSum += weight
      if r < runningSum { return index }
    }
    preconditionFailure("weightedChoice: unreachable, r < total")
  }

  // MARK: Normal deviates

  /// A standard normal deviate by Box–Muller (cosine branch only), in `Float`:
  ///
  ///     u1 = ((w1 >> 8) + 1) × 2^-24          in (0, 1]   (so log(u1) is finite)
  ///     u2 = (w2 >> 8) × 2^-24                in [0, 1)
  ///     z  = (-2 × Elementary.log(u1)).squareRoot() × Elementary.cos(Float(2π) × u2)
  ///
  /// evaluated in exactly that order with `Float` operations. Reads 2 words (w1 then w2); the sine
  /// branch is not used, so no state is carried between calls. |z| ≤ sqrt(48 ln 2) ≈ 5.77.
  /// The bits depend on ``Elementary/log(_:)`` and ``Elementary/cos(_:)``.
  public mutating func nextNormal() -> Float {
    let u1 = Float((nextUInt32() >> 8) + 1) * 0x1p-24
    let u2 = Float(nextUInt32() >> 8) * 0x1p-24
    let radius = (-2 * Elementary.log(u1)).squareRoot()
    return radius * Elementary.cos(RandomStream.twoPi * u2)
  }

  /// 2π rounded to `Float` (6.2831855).
  public static let twoPi = Float(6.283185307179586)

  /// A standard normal deviate conditioned on |z| ≤ `bound`: draws ``nextNormal()`` until one
  /// satisfies |z| ≤ bound (rejection). Needs bound > 0; small bounds make many attempts.
  public mutating func nextTruncatedNormal(bound: Float) -> Float {
    precondition(bound > 0, "nextTruncatedNormal: bound must be > 0, got \(bound)")
    while true {
      let z = nextNormal()
      if z.magnitude <= bound { return z }
    }
  }

  // MARK: Fills

  /// Fills `buffer` in index order with ``nextFloat()`` values in [0, 1).
  public mutating func fill(uniform buffer: UnsafeMutableBufferPointer<Float>) {
    for index in buffer.indices { buffer[index] = nextFloat() }
  }

  /// Fills `buffer` in index order with ``nextNormal()`` values.
  public mutating func fill(normal buffer: UnsafeMutableBufferPointer<Float>) {
    for index in buffer.indices { buffer[index] = nextNormal() }
  }
}
