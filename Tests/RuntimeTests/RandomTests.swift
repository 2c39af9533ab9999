import Foundation
import MuNetRuntime
import Testing

/// The repository's `golden/` directory, found from this file's path. Tests only read it.
private let goldenDirectory = URL(fileURLWithPath: #filePath)
  .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  .appendingPathComponent("golden")

private func loadGolden<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
  let url = goldenDirectory.appendingPathComponent(name)
  let data = try #require(try? Data(contentsOf: url), "golden file \(url.path) is missing")
  return try JSONDecoder().decode(T.self, from: data)
}

private func hex32(_ text: String) throws -> UInt32 { try #require(UInt32(text, radix: 16), "\(text)") }
private func hex64(_ text: String) throws -> UInt64 { try #require(UInt64(text, radix: 16), "\(text)") }

// MARK: Philox known answers

private struct PhiloxGolden: Decodable {
  struct Vector: Decodable {
    let rounds: Int
    let counter: [String]
    let key: [String]
    let expected: [String]
  }
  let source: String
  let vectors: [Vector]
}

@Test func philoxMatchesRandom123KnownAnswers() throws {
  let golden = try loadGolden("philox4x32-10.json", as: PhiloxGolden.self)
  #expect(golden.source.contains("Random123"))
  #expect(golden.vectors.filter { $0.rounds == 10 }.count >= 3)
  for vector in golden.vectors {
    let counter = try SIMD4(vector.counter.map(hex32))
    let key = try SIMD2(vector.key.map(hex32))
    let expected = try SIMD4(vector.expected.map(hex32))
    #expect(Philox4x32.block(counter: counter, key: key, rounds: vector.rounds) == expected)
    if vector.rounds == 10 {
      #expect(Philox4x32.block(counter: counter, key: key) == expected)
    }
  }
}

// MARK: munet's golden streams

private struct StreamGolden: Decodable {
  struct Component: Decodable {
    let label: String
    let index: UInt64?
    let string: String?
  }
  struct Choice: Decodable {
    let weights: [UInt64]
    let picks: [Int]
  }
  struct Stream: Decodable {
    let seed: String
    let path: [Component]
    let key: String
    let uint32: [String]
    let uint64: [String]
    let floatBits: [String]
    let floatValues: [Double]
    let doubleBits: [String]
    let intBelow10: [Int]
    let intBelow3x2p62plus1: [String]
    let boolHalfPower1: [Bool]
    let boolNumerator3Denominator7: [Bool]
    let shuffle0to9: [Int]
    let weightedChoice: Choice
  }
  let philoxCheck: [String]
  let streams: [Stream]
}

private func key(of stream: StreamGolden.Stream) throws -> StreamKey {
  var key = StreamKey(seed: try #require(UInt64(stream.seed)))
  for component in stream.path {
    if let index = component.index {
      key = key.child(component.label, index)
    } else if let string = component.string {
      key = key.child(component.label, string)
    } else {
      key = key.child(component.label)
    }
  }
  return key
}

private func draws<T>(_ count: Int, from key: StreamKey, _ draw: (inout RandomStream) -> T) -> [T] {
  var stream = key.stream
  return (0..<count).map { _ in draw(&stream) }
}

@Test func streamsMatchGoldenFile() throws {
  let golden = try loadGolden("random-streams.json", as: StreamGolden.self)
  let pi = SIMD4<UInt32>(0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344)
  let check = Philox4x32.block(counter: pi, key: [0xa409_3822, 0x299f_31d0])
  #expect(try SIMD4(golden.philoxCheck.map(hex32)) == check)
  #expect(golden.streams.count >= 4)
  for expected in golden.streams {
    let key = try key(of: expected)
    #expect(key.description == expected.key, "path \(expected.path.map(\.label))")
    #expect(draws(8, from: key) { $0.nextUInt32() } == (try expected.uint32.map(hex32)))
    #expect(draws(4, from: key) { $0.nextUInt64() } == (try expected.uint64.map(hex64)))
    let floats = draws(8, from: key) { $0.nextFloat() }
    #expect(floats.map(\.bitPattern) == (try expected.floatBits.map(hex32)))
    #expect(floats.map(Double.init) == expected.floatValues)
    #expect(draws(4, from: key) { $0.nextDouble().bitPattern } == (try expected.doubleBits.map(hex64)))
    #expect(draws(16, from: key) { $0.nextInt(below: 10) } == expected.intBelow10)
    let bigBound: UInt64 = 3 << 62 + 1
    let bigInts = draws(4, from: key) { $0.nextInt(below: bigBound) }
    #expect(bigInts == (try expected.intBelow3x2p62plus1.map(hex64)))
    #expect(draws(16, from: key) { $0.nextBool(halfPower: 1) } == expected.boolHalfPower1)
    let rational = draws(16, from: key) { $0.nextBool(numerator: 3, denominator: 7) }
    #expect(rational == expected.boolNumerator3Denominator7)
    var permutation = Array(0..<10)
    var stream = key.stream
    stream.shuffle(&permutation)
    #expect(permutation == expected.shuffle0to9)
    let weights = expected.weightedChoice.weights
    #expect(draws(16, from: key) { $0.weightedChoice(weights: weights) } == expected.weightedChoice.picks)
  }
}

// MARK: Key derivation

@Test func siblingOrderDoesNotMatter() {
  let parent = StreamKey(seed: 12345).child("round", 1)
  let labels = ["mutation", "data", "init", "eval"]
  let forward = labels.map { parent.child("purpose", $0) }
  let backward = labels.reversed().map { parent.child("purpose", $0) }.reversed()
  #expect(forward == Array(backward))

  // Interleaved use of sibling streams gives each the same words as using it alone.
  var streams = forward.map(\.stream)
  var interleaved = Array(repeating: [UInt32](), count: streams.count)
  for _ in 0..<10 {
    for index in streams.indices.reversed() { interleaved[index].append(streams[index].nextUInt32()) }
  }
  for (index, key) in forward.enumerated() {
    #expect(interleaved[index] == draws(10, from: key) { $0.nextUInt32() })
  }
}

@Test func pathsThatDifferGiveDifferentKeys() {
  let root = StreamKey(seed: 7)
  let keys: [StreamKey] = [
    root,
    root.child("a"), root.child("b"), root.child("a", 0), root.child("a", 1),
    root.child("a", ""), root.child("a", "0"), root.child("ab", "c"), root.child("a", "bc"),
    root.child("ab"), root.child("a").child("b"), root.child("b").child("a"),
    root.child("a", 0).child("a", 0), StreamKey(seed: 8).child("a"),
  ]
  #expect(Set(keys).count == keys.count)
  let indexed = (0..<5000).map { root.child("child", $0).value }
  #expect(Set(indexed).count == indexed.count)
  #expect(StreamKey(seed: 0xdead_beef_0000_0001).value == 0xdead_beef_0000_0001)
  #expect(root.child("task", "mnist") == StreamKey(seed: 7).child("task", "mnist"))
}

// MARK: Stream positions

@Test func startingAtAnOffsetEqualsSkipping() {
  let key = StreamKey(seed: 3).child("offsets")
  let reference = draws(24, from: key) { $0.nextUInt32() }
  for offset in 0..<12 {
    var stream = RandomStream(key: key, wordOffset: UInt64(offset))
    #expect(stream.wordOffset == UInt64(offset))
    let words = (0..<12).map { _ in stream.nextUInt32() }
    #expect(words == Array(reference[offset..<offset + 12]))
  }
  // A 64-bit draw straddling a block boundary takes words 3 and 4, low half first.
  var straddling = RandomStream(key: key, wordOffset: 3)
  #expect(straddling.nextUInt64() == UInt64(reference[3]) | UInt64(reference[4]) << 32)
  #expect(_isPOD(RandomStream.self), "a stream must hold no references (no heap)")
}

// MARK: Mappings

@Test func floatAndDoubleAreTheDocumentedBits() {
  let key = StreamKey(seed: 11).child("mapping")
  var words = key.stream
  var floats = key.stream
  var doubles = key.stream
  for _ in 0..<1000 {
    let word = words.nextUInt32()
    let value = floats.nextFloat()
    #expect(value == Float(word >> 8) / 16_777_216 && value >= 0 && value < 1)
    let high = UInt64(words.nextUInt32())
    _ = floats.nextUInt32()
    let double = doubles.nextDouble()
    #expect(double == Double((UInt64(word) | high << 32) >> 11) / 9_007_199_254_740_992)
  }
}

/// Pearson's chi-square statistic of `counts` against equal expected counts.
private func chiSquare(_ counts: [Int]) -> Double {
  let total = Double(counts.reduce(0, +))
  let expected = total / Double(counts.count)
  return counts.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
}

@Test func uniformitySmokeChecks() {
  var stream = StreamKey(seed: 2024).child("uniformity").stream
  let draws = 100_000
  var intCounts = Array(repeating: 0, count: 10)
  var floatCounts = Array(repeating: 0, count: 16)
  var doubleCounts = Array(repeating: 0, count: 16)
  var topNibbleCounts = Array(repeating: 0, count: 16)
  for _ in 0..<draws {
    intCounts[stream.nextInt(below: 10)] += 1
    floatCounts[Int(stream.nextFloat() * 16)] += 1
    doubleCounts[Int(stream.nextDouble() * 16)] += 1
    topNibbleCounts[Int(stream.nextUInt32() >> 28)] += 1
  }
  // Bounds far in the tail (p < 1e-5 for 9 and 15 degrees of freedom are about 37 and 46).
  #expect(chiSquare(intCounts) < 40)
  #expect(chiSquare(floatCounts) < 50)
  #expect(chiSquare(doubleCounts) < 50)
  #expect(chiSquare(topNibbleCounts) < 50)
}

@Test func nextIntIsUnbiasedForBoundsNearTwoToThe63() {
  // With n = 2^63 + 1 the naive `x % n` would give results below 2^62 with probability ~3/4
  // (small results have two preimages); the unbiased method gives ~1/2.
  var stream = StreamKey(seed: 5).child("bias").stream
  let n: UInt64 = 1 << 63 + 1
  var below = 0
  for _ in 0..<20_000 {
    let value = stream.nextInt(below: n)
    #expect(value < n)
    if value < 1 << 62 { below += 1 }
  }
  #expect(abs(Double(below) / 20_000 - 0.5) < 0.02)
  var one = StreamKey(seed: 5).child("one").stream
  #expect((0..<100).allSatisfy { _ in one.nextInt(below: 1 as UInt64) == 0 })
}

@Test func halfPowerIsExact() {
  let key = StreamKey(seed: 99).child("halfPower")
  var stream = key.stream
  #expect((0..<1000).allSatisfy { _ in stream.nextBool(halfPower: 0) })
  #expect(stream.wordOffset == 0, "n = 0 reads no words")

  // n <= 32 is exactly "the low n bits of one word are zero".
  var words = key.stream
  for n in [1, 3, 5, 17, 31, 32] {
    for _ in 0..<200 {
      let word = words.nextUInt32()
      let mask: UInt32 = n == 32 ? .max : (1 << UInt32(n)) - 1
      #expect(stream.nextBool(halfPower: n) == (word & mask == 0))
    }
  }
  var frequency = StreamKey(seed: 99).child("frequency").stream
  let trials = 80_000
  let ones = (0..<trials).filter { _ in frequency.nextBool(halfPower: 1) }.count
  let eighths = (0..<trials).filter { _ in frequency.nextBool(halfPower: 3) }.count
  #expect(abs(Double(ones) / Double(trials) - 0.5) < 0.01)
  #expect(abs(Double(eighths) / Double(trials) - 0.125) < 0.006)
  for n in [40, 64, 65, 100, 1000, 1 << 40] {
    let start = frequency.wordOffset
    #expect(!(0..<2000).contains { _ in frequency.nextBool(halfPower: n) })
    // Almost always one word per call: the first 32 bits are rarely all zero.
    #expect(frequency.wordOffset - start < 2010)
  }
}

@Test func rationalBernoulli() {
  var stream = StreamKey(seed: 1).child("bernoulli").stream
  #expect(!(0..<1000).contains { _ in stream.nextBool(numerator: 0, denominator: 7) })
  #expect((0..<1000).allSatisfy { _ in stream.nextBool(numerator: 7, denominator: 7) })
  let hits = (0..<60_000).filter { _ in stream.nextBool(numerator: 1, denominator: 3) }.count
  #expect(abs(Double(hits) / 60_000 - 1.0 / 3.0) < 0.01)
}

// MARK: Shuffles and choices

@Test func shuffleIsAPermutationAndUniform() {
  let key = StreamKey(seed: 4).child("shuffle")
  var stream = key.stream
  for count in [0, 1, 2, 17, 100] {
    var items = Array(0..<count)
    stream.shuffle(&items)
    #expect(items.sorted() == Array(0..<count))
  }
  // The array and buffer versions are the same algorithm.
  var array = Array(0..<50)
  var viaArray = key.stream
  viaArray.shuffle(&array)
  var buffer = UnsafeMutableBufferPointer<Int>.allocate(capacity: 50)
  defer { buffer.deallocate() }
  _ = buffer.initialize(from: 0..<50)
  var viaBuffer = key.stream
  viaBuffer.shuffle(&buffer)
  #expect(Array(buffer) == array)

  // All 6 orders of 3 items come up equally often (chi-square, 5 degrees of freedom).
  var counts = Array(repeating: 0, count: 6)
  let orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]
  for _ in 0..<30_000 {
    var items = [0, 1, 2]
    stream.shuffle(&items)
    counts[orders.firstIndex(of: items)!] += 1
  }
  #expect(chiSquare(counts) < 30)
}

@Test func weightedChoiceNeverPicksZeroWeights() {
  var stream = StreamKey(seed: 6).child("choice").stream
  let weights: [UInt64] = [0, 5, 0, 0, 15, 0, 80, 0]
  var counts = Array(repeating: 0, count: weights.count)
  for _ in 0..<20_000 { counts[stream.weightedChoice(weights: weights)] += 1 }
  for index in weights.indices where weights[index] == 0 { #expect(counts[index] == 0) }
  #expect(abs(Double(counts[1]) / 20_000 - 0.05) < 0.01)
  #expect(abs(Double(counts[4]) / 20_000 - 0.15) < 0.015)
  #expect(abs(Double(counts[6]) / 20_000 - 0.80) < 0.015)
  #expect((0..<100).allSatisfy { _ in stream.weightedChoice(weights: [0, 0, 1, 0]) == 2 })
}

// MARK: Normals and fills

@Test func normalMomentsAndBounds() {
  var stream = StreamKey(seed: 8).child("normal").stream
  let count = 100_000
  var sum = 0.0, sumOfSquares = 0.0, largest: Float = 0
  for _ in 0..<count {
    let z = stream.nextNormal()
    sum += Double(z)
    sumOfSquares += Double(z) * Double(z)
    largest = max(largest, z.magnitude)
  }
  let mean = sum / Double(count)
  #expect(abs(mean) < 0.02)
  #expect(abs(sumOfSquares / Double(count) - mean * mean - 1) < 0.03)
  #expect(largest <= 5.78 && largest > 3.5)
  for _ in 0..<10_000 { #expect(stream.nextTruncatedNormal(bound: 2).magnitude <= 2) }
}

@Test func fillUsesTheStreamInOrder() {
  let key = StreamKey(seed: 10).child("fill")
  let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: 37)
  defer { buffer.deallocate() }
  var filler = key.stream
  filler.fill(uniform: buffer)
  #expect(Array(buffer) == draws(37, from: key) { $0.nextFloat() })
  filler = key.stream
  filler.fill(normal: buffer)
  #expect(Array(buffer).map(\.bitPattern) == draws(37, from: key) { $0.nextNormal().bitPattern })
}
