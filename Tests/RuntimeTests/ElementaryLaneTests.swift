import MuNetRuntime
import MuNetTestSupport
import Testing

/// The vectorised `exp`, `tanh` and `erf` (`Elementary.exp(_: Lanes)` on 4, 8 and 16 lanes, and the
/// buffer forms) give every lane the bits of the scalar function, NaN payloads included. All 2^32 inputs are
/// compared by `munet check-math --exhaustive` in a release build; this debug test takes about
/// a million inputs chosen to hit every binade, the clamps, the overflow and underflow edges,
/// signed zeros, infinities, subnormals and NaNs with payloads.
@Suite struct ElementaryLaneTests {
  /// About 2^20 bit patterns: a few per binade and sign, walks of consecutive Floats across
  /// every edge of exp and tanh, every NaN class, and pseudo-random patterns to fill up.
  static var inputs: [UInt32] { built.patterns }

  /// How many of ``inputs`` are chosen (the rest are pseudo-random).
  static var structuredCount: Int { built.structuredCount }

  static let built: (patterns: [UInt32], structuredCount: Int) = {
    var patterns: [UInt32] = []
    var rng = SplitMix64(seed: 0x51D_3A7)
    // Every binade (exponent field 0...255, so also subnormals, infinities and NaNs), both signs.
    let mantissas: [UInt32] = [0, 1, 2, 3, 0x40_0000, 0x40_0001, 0x3F_FFFF, 0x7F_FFFE, 0x7F_FFFF]
    for sign in [UInt32(0), 0x8000_0000] {
      for exponent in UInt32(0)...255 {
        for mantissa in mantissas { patterns.append(sign | exponent << 23 | mantissa) }
        for _ in 0..<64 { patterns.append(sign | exponent << 23 | UInt32(rng.next() & 0x7F_FFFF)) }
      }
    }
    // Walks of 4,096 consecutive patterns centred on each edge, for both signs.
    let edges: [Float] = [
      0, .leastNormalMagnitude, 128, 40, 20,  // zero and subnormals; exp's and tanh's clamps
      Float(bitPattern: 0x42B1_7218), Float(bitPattern: 0x42CF_F1B5),  // exp overflow, underflow
      87.33655, 2.99e-4, Float(bitPattern: 0x4110_2CB4),  // subnormal results; tanh x and ±1
      .greatestFiniteMagnitude, 1, 0.5, 0x1p-12, 0x1p-25, 0x1p-60,
      // erf: its ranges and intervals (a multiple of 1/4 from 1/2 to 4), and where it is ±1.
      0.75, 1.25, 1.5, 1.75, 2, 2.25, 2.5, 2.75, 3, 3.25, 3.5, 3.75, 4, Float(bitPattern: 0x407A_D445),
    ]
    for edge in edges {
      let centre = edge.bitPattern
      for offset in 0..<UInt32(4_096) {
        let pattern = centre &+ offset &- 2_048
        patterns.append(pattern)
        patterns.append(pattern ^ 0x8000_0000)
      }
    }
    // Where y / ln 2 is a half-integer, the rounding of k changes: 64 patterns around each.
    for n in -151...129 {
      let centre = Float((Double(n) + 0.5) * 0.693_147_180_559_945_3).bitPattern
      for offset in 0..<UInt32(64) { patterns.append(centre &+ offset &- 32) }
    }
    // NaNs: quiet and signalling, both signs, payloads at the top, bottom and in between.
    for payload: UInt32 in [1, 2, 0x1000, 0x3F_FFFF, 0x40_0000, 0x40_0001, 0x7F_FFFF, 0x55_5555, 0x2A_AAAA] {
      patterns.append(0x7F80_0000 | payload)
      patterns.append(0xFF80_0000 | payload)
    }
    let structuredCount = patterns.count
    while patterns.count < 1 << 20 { patterns.append(UInt32(truncatingIfNeeded: rng.next())) }
    return (patterns, structuredCount)
  }()

  /// The chosen inputs only, in another order.
  static let structuredPermuted: [UInt32] = permuted(Array(inputs.prefix(structuredCount)))

  /// Same inputs in another order (a stride coprime to the count), so each special value also
  /// sits in other lanes next to other neighbours.
  static func permuted(_ patterns: [UInt32]) -> [UInt32] {
    let count = patterns.count
    return (0..<count).map { patterns[($0 &* 7_919) % count] }
  }

  /// The inputs of `patterns` on which the vector form, at `Lanes`, differs from the scalar
  /// function (the first few).
  static func laneMismatches<Lanes: ElementaryLanes>(
    _: Lanes.Type, _ patterns: [UInt32], lanes: (Lanes) -> Lanes, scalar: (Float) -> Float
  ) -> [UInt32] {
    var wrong: [UInt32] = []
    var start = 0
    while start + Lanes.scalarCount <= patterns.count {
      var vector = Lanes()
      for lane in 0..<Lanes.scalarCount { vector[lane] = Float(bitPattern: patterns[start + lane]) }
      let results = lanes(vector)
      for lane in 0..<Lanes.scalarCount
      where results[lane].bitPattern != scalar(vector[lane]).bitPattern && wrong.count < 8 {
        wrong.append(patterns[start + lane])
      }
      start += Lanes.scalarCount
    }
    return wrong
  }

  /// The inputs of `patterns` on which the buffer form differs from the scalar function.
  static func bufferMismatches(
    _ patterns: [UInt32], buffer: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
    scalar: (Float) -> Float
  ) -> [UInt32] {
    let inputs = patterns.map { Float(bitPattern: $0) }
    var outputs = [Float](repeating: 0, count: inputs.count)
    inputs.withUnsafeBufferPointer { input in
      outputs.withUnsafeMutableBufferPointer { buffer(input.baseAddress!, $0.baseAddress!, input.count) }
    }
    return Array(patterns.indices.filter { outputs[$0].bitPattern != scalar(inputs[$0]).bitPattern }
      .prefix(8).map { patterns[$0] })
  }

  /// The buffer form (16 lanes at a time) on all the inputs; 16 and 8 lanes on the chosen ones
  /// in another order (other lanes, other neighbours); 4 lanes on some of those. (The debug
  /// build runs vector code slowly, so the widths the engine uses get the most inputs.)
  static func mismatches(
    lanes4: (SIMD4<Float>) -> SIMD4<Float>, lanes8: (SIMD8<Float>) -> SIMD8<Float>,
    lanes16: (SIMD16<Float>) -> SIMD16<Float>,
    buffer: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void, scalar: (Float) -> Float
  ) -> [UInt32] {
    bufferMismatches(inputs, buffer: buffer, scalar: scalar)
      + laneMismatches(SIMD16<Float>.self, structuredPermuted, lanes: lanes16, scalar: scalar)
      + laneMismatches(SIMD8<Float>.self, structuredPermuted, lanes: lanes8, scalar: scalar)
      + laneMismatches(
        SIMD4<Float>.self, Array(structuredPermuted.prefix(1 << 15)), lanes: lanes4, scalar: scalar)
  }

  @Test func inputsCoverWhatTheyClaim() {
    #expect(Self.inputs.count == 1 << 20)
    #expect(Self.inputs.count % 16 == 0)
    #expect(Self.structuredCount > 250_000 && Self.structuredPermuted.count == Self.structuredCount)
    let floats = Self.inputs.map { Float(bitPattern: $0) }
    #expect(floats.contains { $0.isSignalingNaN } && floats.contains { $0.isNaN && !$0.isSignalingNaN })
    #expect(floats.contains { $0.isSubnormal } && floats.contains { $0 == -.infinity })
    #expect(Self.inputs.contains(0x8000_0000) && Self.inputs.contains(0x42B1_7218))
  }

  @Test func expLanesEqualScalarBits() {
    let wrong = Self.mismatches(
      lanes4: { Elementary.exp($0) }, lanes8: { Elementary.exp($0) }, lanes16: { Elementary.exp($0) },
      buffer: { Elementary.exp($0, $1, count: $2) }, scalar: { Elementary.exp($0) })
    #expect(wrong.isEmpty, "exp lanes differ at \(wrong.map { "0x" + String($0, radix: 16) })")
  }


  @Test func tanhLanesEqualScalarBits() {
    let wrong = Self.mismatches(
      lanes4: { Elementary.tanh($0) }, lanes8: { Elementary.tanh($0) }, lanes16: { Elementary.tanh($0) },
      buffer: { Elementary.tanh($0, $1, count: $2) }, scalar: { Elementary.tanh($0) })
    #expect(wrong.isEmpty, "tanh lanes differ at \(wrong.map { "0x" + String($0, radix: 16) })")
  }


  @Test func erfLanesEqualScalarBits() {
    let wrong = Self.mismatches(
      lanes4: { Elementary.erf($0) }, lanes8: { Elementary.erf($0) }, lanes16: { Elementary.erf($0) },
      buffer: { Elementary.erf($0, $1, count: $2) }, scalar: { Elementary.erf($0) })
    #expect(wrong.isEmpty, "erf lanes differ at \(wrong.map { "0x" + String($0, radix: 16) })")
  }


  /// Tails: every count from 0 to 40 (the lanes, then the scalar remainder), in place too.
  @Test func bufferFormsHandleEveryTail() {
    let values = (0..<40).map { Float(bitPattern: Self.inputs[$0 &* 25_001 % Self.inputs.count]) }
    for count in 0...values.count {
      var exps = [Float](repeating: 7, count: values.count)
      var inPlace = values
      values.withUnsafeBufferPointer { input in
        exps.withUnsafeMutableBufferPointer {
          Elementary.exp(input.baseAddress!, $0.baseAddress!, count: count)
        }
      }
      inPlace.withUnsafeMutableBufferPointer {
        Elementary.tanh($0.baseAddress!, $0.baseAddress!, count: count)
      }
      for index in 0..<values.count {
        let expectedExp = index < count ? Elementary.exp(values[index]) : 7
        let expectedTanh = index < count ? Elementary.tanh(values[index]) : values[index]
        #expect(exps[index].bitPattern == expectedExp.bitPattern, "exp count \(count) index \(index)")
        #expect(inPlace[index].bitPattern == expectedTanh.bitPattern, "tanh count \(count) index \(index)")
      }
    }
  }

  /// `SIMD8<Float>(SIMD8<Double>)`, the last step of exp and tanh, rounds each lane like
  /// `Float(_: Double)`: ties to even, overflow to infinity at the midpoint above
  /// `greatestFiniteMagnitude`, subnormal results and their ties, underflow to signed zero.
  @Test func doubleToFloatLaneConversionMatchesScalar() {
    var doubles: [Double] = [
      0, -0.0, .infinity, -.infinity, .nan, -.nan, .signalingNaN, 1, -1,
      Double(Float.greatestFiniteMagnitude), 0x1.ffffffp127, 0x1.fffffefffffffp127, 0x1.ffffff0000001p127,
      0x1p128, .greatestFiniteMagnitude, 0x1p-126, 0x1.fffffep-127, 0x1.fffffdp-127, 0x1.fffffffp-127,
      0x1p-149, 0x1p-150, 0x1.0000000000001p-150, 0x1.8p-149, 0x1.8p-148, 0x1p-151, 0x1p-1074,
      .leastNormalMagnitude, 1 + 0x1p-24, 1 + 0x1p-24 + 0x1p-52, 1 + 0x1.8p-23, 1 - 0x1p-25,
    ]
    var rng = SplitMix64(seed: 77)
    for exponent in -160...130 {
      for _ in 0..<24 {
        // Random significands, half of them on or next to a Float midpoint (bit 28 set, the
        // 28 bits below it zero, one or all ones).
        var significand = rng.next() & 0xF_FFFF_FFFF_FFFF
        switch rng.next() % 4 {
        case 0: significand = significand & ~0x1FFF_FFFF | 0x1000_0000
        case 1: significand = significand & ~0x1FFF_FFFF | 0x0FFF_FFFF
        default: break
        }
        let magnitude = Double(sign: .plus, exponent: exponent, significand: 1)
          * Double(bitPattern: 0x3FF0_0000_0000_0000 | significand)
        doubles.append(rng.next() & 1 == 0 ? magnitude : -magnitude)
      }
    }
    while doubles.count % 8 != 0 { doubles.append(0) }
    var wrong: [Double] = []
    for start in stride(from: 0, to: doubles.count, by: 8) {
      var lanes = SIMD8<Double>()
      for lane in 0..<8 { lanes[lane] = doubles[start + lane] }
      let converted = SIMD8<Float>(lanes)
      for lane in 0..<8 {
        let expected = Float(doubles[start + lane])
        let same = expected.isNaN
          ? converted[lane].isNaN : converted[lane].bitPattern == expected.bitPattern
        if !same { wrong.append(doubles[start + lane]) }
      }
    }
    #expect(wrong.isEmpty, "lane conversion differs at \(wrong.prefix(8))")
    #expect(doubles.count > 7_000)
  }
}
