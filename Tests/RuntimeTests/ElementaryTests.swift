import Glibc
import MuNetRuntime
import Testing

/// munet's elementary functions against glibc's Double functions (the measurement in full is
/// `munet check-math --exhaustive`, spec/math.md; these tests sample it).
@Suite struct ElementaryTests {
  struct Function: CustomStringConvertible, Sendable {
    let name: String
    let munet: @Sendable (Float) -> Float
    let reference: @Sendable (Double) -> Double
    /// Starts of windows of consecutive Floats checked densely: range and interval
    /// boundaries of the implementation, where a slip would show first.
    let windowStarts: [Float]
    var description: String { name }
  }

  static let functions: [Function] = [
    Function(
      name: "exp", munet: { Elementary.exp($0) }, reference: { Glibc.exp($0) },
      windowStarts: [-0x1p-20, 0.3465, -0.3466, 1, 10.39, 88.72, -87.34, -103.96]),
    Function(
      name: "log", munet: { Elementary.log($0) }, reference: { Glibc.log($0) },
      windowStarts: [0.999, 0.99999, 1, 0.7071, 1.4142, 0x1p-140, 3.0e38]),
    Function(
      name: "tanh", munet: { Elementary.tanh($0) }, reference: { Glibc.tanh($0) },
      windowStarts: [0x1p-12, 2.99e-4, 0.17, 0.5, 1, 3, 9.0105]),
    Function(
      name: "erf", munet: { Elementary.erf($0) }, reference: { Glibc.erf($0) },
      windowStarts: [0x1p-20, 0.4999, 0.5, 0.7499, 1.2, 2.24, 3.7499, 3.919]),
    Function(
      name: "cos", munet: { Elementary.cos($0) }, reference: { Glibc.cos($0) },
      windowStarts: [0x1p-13, 0.7853, 1.5707, 3.1415, 1_000, 0x1p24, 1e30]),
  ]

  /// Error statistics of `function` over `inputs`.
  static func measure(
    _ function: Function, _ inputs: [Float]
  ) -> (maxError: Double, worstInput: Float, clearlyMisrounded: [Float], wrongSpecial: [Float]) {
    var maxError = 0.0
    var worstInput: Float = 0
    var clearlyMisrounded: [Float] = []
    var wrongSpecial: [Float] = []
    for input in inputs {
      let result = function.munet(input)
      let reference = function.reference(Double(input))
      if reference.isNaN || result.isNaN || reference.isInfinite || result.isInfinite {
        let same = reference.isNaN ? result.isNaN : result == Float(reference)
        if !same { wrongSpecial.append(input) }
        continue
      }
      let ulp = floatULP(at: reference)
      let error = abs(Double(result) - reference) / ulp
      if error > maxError {
        maxError = error
        worstInput = input
      }
      let nearest = Float(reference)
      // Within 2^-20 ulp of a midpoint glibc's own Double error could decide: skip those.
      let nearMidpoint = abs(Double(nearest) - reference) > (0.5 - 0x1p-20) * ulp
      if result != nearest && !nearMidpoint { clearlyMisrounded.append(input) }
      if result == 0 && nearest == 0 && result.sign != nearest.sign { wrongSpecial.append(input) }
    }
    return (maxError, worstInput, clearlyMisrounded, wrongSpecial)
  }

  /// Spacing of Floats in the binade of |value| (2^-149 below 2^-126).
  static func floatULP(at value: Double) -> Double {
    let magnitude = value.magnitude
    if magnitude < 0x1p-126 { return 0x1p-149 }
    return Double(sign: .plus, exponent: magnitude.exponent - 23, significand: 1)
  }

  /// 2^20 bit patterns spread over all 2^32 (every exponent, both signs), offset from the
  /// ones `munet check-math` samples.
  static let sampledInputs: [Float] = (0..<(UInt32(1) << 20)).map {
    Float(bitPattern: $0 &* 4_096 &+ 0x2A5B)
  }

  /// 2^18 other bit patterns, for the slower checks.
  static let fewerInputs: [Float] = (0..<(UInt32(1) << 18)).map {
    Float(bitPattern: $0 &* 16_384 &+ 0x1A5B)
  }

  @Test(arguments: functions)
  func sampledErrorWithinDocumentedBound(function: Function) {
    let outcome = Self.measure(function, Self.sampledInputs)
    #expect(outcome.wrongSpecial.isEmpty,
            "\(function): wrong NaN/infinity/zero sign at \(outcome.wrongSpecial.prefix(5))")
    #expect(outcome.maxError <= Elementary.errorBoundULPs,
            "\(function): \(outcome.maxError) ulp at \(outcome.worstInput)")
    // The exhaustive run finds misrounding only within 10^-9 ulp of a midpoint (spec/math.md).
    #expect(outcome.clearlyMisrounded.isEmpty,
            "\(function): not correctly rounded at \(outcome.clearlyMisrounded.prefix(5))")
  }

  @Test(arguments: functions)
  func correctlyRoundedInDenseWindows(function: Function) {
    var inputs: [Float] = []
    for start in function.windowStarts {
      var input = start
      for _ in 0..<16_384 {
        inputs.append(input)
        input = input.nextUp
      }
    }
    let outcome = Self.measure(function, inputs)
    #expect(outcome.wrongSpecial.isEmpty, "\(function): wrong special at \(outcome.wrongSpecial.prefix(5))")
    #expect(outcome.maxError <= Elementary.errorBoundULPs,
            "\(function): \(outcome.maxError) ulp at \(outcome.worstInput)")
    #expect(outcome.clearlyMisrounded.isEmpty,
            "\(function): not correctly rounded at \(outcome.clearlyMisrounded.prefix(5))")
  }

  @Test func expSpecialValues() {
    expectBits(Elementary.exp(.nan), .nan)
    expectBits(Elementary.exp(.infinity), .infinity)
    expectBits(Elementary.exp(-.infinity), 0)
    expectBits(Elementary.exp(0), 1)
    expectBits(Elementary.exp(-0.0), 1)
    expectBits(Elementary.exp(1), 0x1.5bf0a8p1)
    // Overflow threshold: 88.72283172607422 is the largest argument with a finite result.
    expectBits(Elementary.exp(Float(bitPattern: 0x42B1_7217)), 0x1.ffff08p127)
    expectBits(Elementary.exp(Float(bitPattern: 0x42B1_7218)), .infinity)
    // Underflow: the smallest subnormal, then +0.
    expectBits(Elementary.exp(Float(bitPattern: 0xC2CF_F1B4)), .leastNonzeroMagnitude)
    expectBits(Elementary.exp(Float(bitPattern: 0xC2CF_F1B5)), 0)
    expectBits(Elementary.exp(-100), Float(bitPattern: 27))  // subnormal: 27 · 2^-149
    expectBits(Elementary.exp(.greatestFiniteMagnitude), .infinity)
    expectBits(Elementary.exp(-.greatestFiniteMagnitude), 0)
  }

  @Test func logSpecialValues() {
    expectBits(Elementary.log(.nan), .nan)
    expectBits(Elementary.log(.infinity), .infinity)
    expectBits(Elementary.log(-.infinity), .nan)
    expectBits(Elementary.log(0), -.infinity)
    expectBits(Elementary.log(-0.0), -.infinity)
    expectBits(Elementary.log(-1), .nan)
    expectBits(Elementary.log(-.leastNonzeroMagnitude), .nan)
    expectBits(Elementary.log(1), 0)
    expectBits(Elementary.log(2), 0x1.62e430p-1)
    expectBits(Elementary.log(.leastNonzeroMagnitude), -0x1.9d1da0p6)  // -149 ln 2
    expectBits(Elementary.log(.greatestFiniteMagnitude), 0x1.62e430p6)
    // Just below and above 1 the result keeps full relative accuracy.
    expectBits(Elementary.log(Float(1).nextDown), -0x1p-24)
    expectBits(Elementary.log(Float(1).nextUp), 0x1.fffffep-24)
  }

  @Test func tanhSpecialValues() {
    expectBits(Elementary.tanh(.nan), .nan)
    expectBits(Elementary.tanh(.infinity), 1)
    expectBits(Elementary.tanh(-.infinity), -1)
    expectBits(Elementary.tanh(0), 0)
    expectBits(Elementary.tanh(-0.0), -0.0)
    expectBits(Elementary.tanh(.leastNonzeroMagnitude), .leastNonzeroMagnitude)
    expectBits(Elementary.tanh(-.leastNonzeroMagnitude), -.leastNonzeroMagnitude)
    // tanh rounds to 1 from 9.010913848876953 on.
    expectBits(Elementary.tanh(Float(bitPattern: 0x4110_2CB3)), Float(1).nextDown)
    expectBits(Elementary.tanh(Float(bitPattern: 0x4110_2CB4)), 1)
    expectBits(Elementary.tanh(Float(bitPattern: 0xC110_2CB4)), -1)
    expectBits(Elementary.tanh(.greatestFiniteMagnitude), 1)
  }

  @Test func erfSpecialValues() {
    expectBits(Elementary.erf(.nan), .nan)
    expectBits(Elementary.erf(.infinity), 1)
    expectBits(Elementary.erf(-.infinity), -1)
    expectBits(Elementary.erf(0), 0)
    expectBits(Elementary.erf(-0.0), -0.0)
    expectBits(Elementary.erf(.leastNonzeroMagnitude), .leastNonzeroMagnitude)
    expectBits(Elementary.erf(-.leastNonzeroMagnitude), -.leastNonzeroMagnitude)
    // erf rounds to 1 from 3.919205904006958 on.
    expectBits(Elementary.erf(Float(bitPattern: 0x407A_D444)), Float(1).nextDown)
    expectBits(Elementary.erf(Float(bitPattern: 0x407A_D445)), 1)
    expectBits(Elementary.erf(-4), -1)
    expectBits(Elementary.erf(1), 0x1.af767ap-1)
  }

  @Test func cosSpecialValues() {
    expectBits(Elementary.cos(.nan), .nan)
    expectBits(Elementary.cos(.infinity), .nan)
    expectBits(Elementary.cos(-.infinity), .nan)
    expectBits(Elementary.cos(0), 1)
    expectBits(Elementary.cos(-0.0), 1)
    expectBits(Elementary.cos(.leastNonzeroMagnitude), 1)
    expectBits(Elementary.cos(.pi), -1)
    // The Float nearest π/2 lies 4.37e-8 above it, so cos is minus that small number.
    expectBits(Elementary.cos(Float(bitPattern: 0x3FC9_0FDB)), -0x1.777a5cp-25)
    // Float.pi is π rounded toward zero: half of it lies 7.55e-8 below π/2.
    expectBits(Elementary.cos(Float.pi / 2), 0x1.4442d2p-24)
  }

  @Test func cosOfHugeArgumentsUsesExactReduction() {
    // Values of glibc's correctly reduced cos, rounded to Float.
    for input: Float in [.greatestFiniteMagnitude, 0x1p100, 1e30, 16_777_215, 123_456.7, -8_388_609] {
      expectBits(Elementary.cos(input), Float(Glibc.cos(Double(input))))
    }
  }

  @Test func oddAndEvenSymmetry() {
    for input in Self.fewerInputs where input.sign == .plus {
      expectBits(Elementary.tanh(-input), -Elementary.tanh(input))
      expectBits(Elementary.erf(-input), -Elementary.erf(input))
      expectBits(Elementary.cos(-input), Elementary.cos(input))
    }
  }

  @Test func monotoneOverConsecutiveFloats() {
    // Walks of consecutive Floats across range boundaries of the implementations.
    let starts: [Float] = [
      -104, -88, -10, -4.01, -1, -0.51, -1e-3, 0, 0x1p-12, 0.24, 0.49, 0.74, 1, 2.99, 3.9, 8.9, 88.7,
    ]
    for start in starts {
      var previous = start
      for _ in 0..<2_048 {
        let next = previous.nextUp
        #expect(Elementary.exp(next) >= Elementary.exp(previous), "exp at \(previous)")
        #expect(Elementary.tanh(next) >= Elementary.tanh(previous), "tanh at \(previous)")
        #expect(Elementary.erf(next) >= Elementary.erf(previous), "erf at \(previous)")
        if previous > 0 { #expect(Elementary.log(next) >= Elementary.log(previous), "log at \(previous)") }
        previous = next
      }
    }
    // cos falls on [0, π]: the cosine learning-rate schedule's arguments.
    var previousValue = Elementary.cos(0)
    for step in 1...10_000 {
      let value = Elementary.cos(Float.pi * Float(step) / 10_000)
      #expect(value <= previousValue, "cos at step \(step)")
      previousValue = value
    }
  }

  @Test func bufferFormsMatchScalarBits() {
    let inputs = Self.fewerInputs
    var exps = [Float](repeating: 0, count: inputs.count)
    var tanhs = [Float](repeating: 0, count: inputs.count)
    inputs.withUnsafeBufferPointer { input in
      exps.withUnsafeMutableBufferPointer {
        Elementary.exp(input.baseAddress!, $0.baseAddress!, count: input.count)
      }
      tanhs.withUnsafeMutableBufferPointer {
        Elementary.tanh(input.baseAddress!, $0.baseAddress!, count: input.count)
      }
    }
    var mismatches = 0
    for (index, input) in inputs.enumerated() {
      if exps[index].bitPattern != Elementary.exp(input).bitPattern { mismatches += 1 }
      if tanhs[index].bitPattern != Elementary.tanh(input).bitPattern { mismatches += 1 }
    }
    #expect(mismatches == 0)
  }
}

/// Same bits, or both NaN.
private func expectBits(
  _ actual: Float, _ expected: Float, sourceLocation: SourceLocation = #_sourceLocation
) {
  let same = expected.isNaN ? actual.isNaN : actual.bitPattern == expected.bitPattern
  #expect(same, "got \(actual) (0x\(String(actual.bitPattern, radix: 16))), expected \(expected)",
          sourceLocation: sourceLocation)
}
