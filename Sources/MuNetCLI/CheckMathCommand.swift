import ArgumentParser
import CMuNetSupport
import MuNetRuntime

#if canImport(Glibc)
import Glibc
#endif

#if arch(x86_64) || arch(i386)
/// glibc's long double: a 64-bit significand, used to settle results near a Float midpoint.
typealias PreciseReal = Float80
let preciseName = "Float80"
private func preciseExp(_ x: PreciseReal) -> PreciseReal { Glibc.expl(x) }
private func preciseLog(_ x: PreciseReal) -> PreciseReal { Glibc.logl(x) }
private func preciseTanh(_ x: PreciseReal) -> PreciseReal { Glibc.tanhl(x) }
private func preciseErf(_ x: PreciseReal) -> PreciseReal { Glibc.erfl(x) }
private func preciseCos(_ x: PreciseReal) -> PreciseReal { Glibc.cosl(x) }
#else
// No Float80 here: near-midpoint decisions fall back to the Double reference.
typealias PreciseReal = Double
let preciseName = "Double"
private func preciseExp(_ x: PreciseReal) -> PreciseReal { Glibc.exp(x) }
private func preciseLog(_ x: PreciseReal) -> PreciseReal { Glibc.log(x) }
private func preciseTanh(_ x: PreciseReal) -> PreciseReal { Glibc.tanh(x) }
private func preciseErf(_ x: PreciseReal) -> PreciseReal { Glibc.erf(x) }
private func preciseCos(_ x: PreciseReal) -> PreciseReal { Glibc.cos(x) }
#endif

/// `munet check-math`: measures munet's own elementary functions against libm.
///
/// The reference is glibc's Double function of the (exact) Double argument. The error of a
/// result y is |y - ref| / ulp(ref) where ulp(ref) is the spacing of Floats in the binade of
/// |ref| (2^-149 below 2^-126), which is never smaller than ulp(Float(ref)). A result is
/// correctly rounded when it equals the Float nearest the true value. When the Double
/// reference lies within 2^-20 ulp of a midpoint between two Floats, glibc's long double
/// (Float80, 64-bit significand) function decides instead, since glibc's Double error (about
/// 2^-29 Float ulps) could flip the decision. The result digest (FNV-1a of every result's
/// bits) compares builds and machines bit for bit. The vector forms (`exp`, `tanh` and `erf` on
/// `SIMD8<Float>` and `SIMD16<Float>`) are compared bit for bit with the scalar functions on
/// every input of the sweep. Exit status 1 when a function exceeds ``Elementary/errorBoundULPs``, misses a
/// special value, gets a sign of zero wrong, or its vector form differs from it in any bit.
struct CheckMathCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check-math",
    abstract: "Measure munet's exp/log/tanh/erf/cos against libm (ulp error, correct rounding)."
  )

  @Flag(help: "Check all 2^32 Float inputs per function (minutes in a release build).")
  var exhaustive = false

  @Option(help: "Threads for the sweep.")
  var threads = 1

  @Option(help: "Without --exhaustive: check every Nth bit pattern.")
  var stride: UInt32 = 4096

  @Option(help: "Only these functions (exp, log, tanh, erf, cos); repeatable.")
  var function: [String] = []

  @Flag(help: """
    Only compare the vector forms (exp, tanh, erf) with the scalar functions, bit for bit, \
    without measuring errors against libm (fast: seconds per function with --exhaustive).
    """)
  var lanesOnly = false

  func validate() throws {
    guard (1...ThreadPool.threadCountMax).contains(threads) else {
      throw ValidationError("--threads must be in 1...\(ThreadPool.threadCountMax)")
    }
    guard stride >= 1 else { throw ValidationError("--stride must be at least 1") }
    let unknown = function.filter { name in !MathCheck.all.contains { $0.name == name } }
    guard unknown.isEmpty else { throw ValidationError("unknown function(s): \(unknown)") }
  }

  func run() throws {
    let checks = MathCheck.all.filter {
      (function.isEmpty || function.contains($0.name)) && (!lanesOnly || $0.lanes != nil)
    }
    let strideUsed: UInt64 = exhaustive ? 1 : UInt64(stride)
    let pool = ThreadPool(threadCount: threads)
    let sweepText = exhaustive ? "all 2^32" : "every \(strideUsed)th of the 2^32"
    let buildText = "\(MuNetBuild.configuration) build, CPU level \(MuNetBuild.cpuLevel)"
    if lanesOnly {
      try runLanesOnly(checks, stride: strideUsed, pool: pool, header: "\(sweepText) Float bit patterns, "
        + "\(threads) thread(s), \(buildText)")
      return
    }
    print("munet check-math: \(sweepText) Float bit patterns, \(threads) thread(s), \(buildText), "
      + "bound \(Elementary.errorBoundULPs) ulp")
    print(MathSweepSummary.header)
    var failed = false
    for check in checks {
      let started = munet_monotonic_ns()
      var summary = check.sweep(stride: strideUsed, pool: pool, measuring: true)
      summary.merge(check.checkSpecialValues())
      summary.seconds = Double(munet_monotonic_ns() - started) / 1e9
      let timing = check.timePerCall()
      summary.nanosecondsPerCall = timing.scalar
      summary.nanosecondsPerElementBatched = timing.batched
      if !timing.batchedMatches { summary.failures.append("buffer form differs from the scalar function") }
      print(summary.row(name: check.name))
      for failure in summary.failures.prefix(8) { print("  FAIL \(check.name): \(failure)") }
      for input in summary.notCorrectlyRoundedInputs { print("  " + check.describeMisrounding(input)) }
      if check.lanes != nil { print("  " + summary.lanesLine(name: check.name)) }
      if !summary.failures.isEmpty || summary.maxErrorULPs > Elementary.errorBoundULPs
        || summary.laneDifferences > 0 {
        failed = true
      }
    }
    if failed {
      print("check-math: FAILED")
      throw ExitCode(1)
    }
    print("check-math: all functions within \(Elementary.errorBoundULPs) ulp, special values correct"
      + (checks.contains { $0.lanes != nil } ? ", vector forms bit-identical to the scalar functions" : ""))
  }

  /// `--lanes-only`: the vector forms against the scalar functions, nothing else.
  private func runLanesOnly(_ checks: [MathCheck], stride: UInt64, pool: ThreadPool, header: String) throws {
    print("munet check-math --lanes-only: \(header)")
    var failed = false
    for check in checks {
      let started = munet_monotonic_ns()
      var summary = check.sweep(stride: stride, pool: pool, measuring: false)
      summary.seconds = Double(munet_monotonic_ns() - started) / 1e9
      print(summary.lanesLine(name: check.name))
      if summary.laneDifferences > 0 { failed = true }
    }
    if failed {
      print("check-math: FAILED (a vector form differs from its scalar function)")
      throw ExitCode(1)
    }
    print("check-math: vector forms bit-identical to the scalar functions")
  }
}

/// One function under test: munet's version, glibc's Double and long double versions, and the
/// special values it must return exactly.
struct MathCheck: Sendable {
  let name: String
  let munet: @Sendable (Float) -> Float
  let reference: @Sendable (Double) -> Double
  let precise: @Sendable (PreciseReal) -> PreciseReal
  /// (input, expected); an expected NaN means "any NaN", zeros must match in sign.
  let specialValues: [(Float, Float)]
  /// The buffer form, where munet has one (timed, and checked bit-identical to `munet`).
  var batched: (@Sendable (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void)? = nil
  /// The vector form at 8 and 16 lanes, where munet has one: checked bit-identical to `munet`
  /// on every input of the sweep, NaN payloads included.
  var lanes: VectorForms? = nil

  struct VectorForms: Sendable {
    let eight: @Sendable (SIMD8<Float>) -> SIMD8<Float>
    let sixteen: @Sendable (SIMD16<Float>) -> SIMD16<Float>
  }

  static let all: [MathCheck] = [
    MathCheck(
      name: "exp", munet: { Elementary.exp($0) }, reference: { Glibc.exp($0) },
      precise: { preciseExp($0) },
      specialValues: [
        (.nan, .nan), (.infinity, .infinity), (-.infinity, 0), (0, 1), (-0.0, 1), (1, 0x1.5bf0a8p1),
        // Largest argument with a finite result, and the first that overflows.
        (Float(bitPattern: 0x42B1_7217), 0x1.ffff08p127),
        (Float(bitPattern: 0x42B1_7218), .infinity),
        // Last argument giving the smallest subnormal, and the first that gives +0.
        (Float(bitPattern: 0xC2CF_F1B4), .leastNonzeroMagnitude), (Float(bitPattern: 0xC2CF_F1B5), 0),
        (.greatestFiniteMagnitude, .infinity), (-.greatestFiniteMagnitude, 0),
      ],
      batched: { Elementary.exp($0, $1, count: $2) },
      lanes: VectorForms(eight: { Elementary.exp($0) }, sixteen: { Elementary.exp($0) })),
    MathCheck(
      name: "log", munet: { Elementary.log($0) }, reference: { Glibc.log($0) },
      precise: { preciseLog($0) },
      specialValues: [
        (.nan, .nan), (.infinity, .infinity), (-.infinity, .nan), (0, -.infinity),
        (-0.0, -.infinity), (-1, .nan), (-.leastNonzeroMagnitude, .nan), (1, 0),
        (.leastNonzeroMagnitude, -0x1.9d1da0p6), (.greatestFiniteMagnitude, 0x1.62e430p6),
      ]),
    MathCheck(
      name: "tanh", munet: { Elementary.tanh($0) }, reference: { Glibc.tanh($0) },
      precise: { preciseTanh($0) },
      specialValues: [
        (.nan, .nan), (.infinity, 1), (-.infinity, -1), (0, 0), (-0.0, -0.0),
        (.leastNonzeroMagnitude, .leastNonzeroMagnitude),
        (-.leastNonzeroMagnitude, -.leastNonzeroMagnitude),
        // tanh rounds to ±1 from 9.010913848876953 on.
        (Float(bitPattern: 0x4110_2CB4), 1), (Float(bitPattern: 0xC110_2CB4), -1),
        (Float(bitPattern: 0x4110_2CB3), 0x1.fffffep-1), (.greatestFiniteMagnitude, 1),
      ],
      batched: { Elementary.tanh($0, $1, count: $2) },
      lanes: VectorForms(eight: { Elementary.tanh($0) }, sixteen: { Elementary.tanh($0) })),
    MathCheck(
      name: "erf", munet: { Elementary.erf($0) }, reference: { Glibc.erf($0) },
      precise: { preciseErf($0) },
      specialValues: [
        (.nan, .nan), (.infinity, 1), (-.infinity, -1), (0, 0), (-0.0, -0.0),
        (.leastNonzeroMagnitude, .leastNonzeroMagnitude),
        (-.leastNonzeroMagnitude, -.leastNonzeroMagnitude),
        // erf rounds to ±1 from 3.919205904006958 on.
        (Float(bitPattern: 0x407A_D445), 1), (Float(bitPattern: 0xC07A_D445), -1),
        (Float(bitPattern: 0x407A_D444), 0x1.fffffep-1), (4, 1), (-4, -1),
      ],
      batched: { Elementary.erf($0, $1, count: $2) },
      lanes: VectorForms(eight: { Elementary.erf($0) }, sixteen: { Elementary.erf($0) })),
    MathCheck(
      name: "cos", munet: { Elementary.cos($0) }, reference: { Glibc.cos($0) },
      precise: { preciseCos($0) },
      specialValues: [
        (.nan, .nan), (.infinity, .nan), (-.infinity, .nan), (0, 1), (-0.0, 1),
        (.leastNonzeroMagnitude, 1), (.pi, -1), (-.pi, -1),
      ]),
  ]

  /// Checks `input` and returns its error in ulps (infinity for a wrong NaN/infinity), whether
  /// the result is the correctly rounded one, and whether a zero has the wrong sign.
  @inline(__always)
  func measure(_ input: Float) -> (errorULPs: Double, correctlyRounded: Bool, zeroSignWrong: Bool) {
    let result = munet(input)
    let referenceValue = reference(Double(input))
    if referenceValue.isNaN { return (result.isNaN ? 0 : .infinity, result.isNaN, false) }
    if result.isNaN { return (.infinity, false, false) }
    if referenceValue.isInfinite {
      let exact = result == Float(referenceValue)
      return (exact ? 0 : .infinity, exact, false)
    }
    var nearest = Float(referenceValue)
    let ulp = MathCheck.floatULP(at: referenceValue)
    if abs(Double(nearest) - referenceValue) > (0.5 - 0x1p-20) * ulp && nearest.isFinite {
      nearest = Float(precise(PreciseReal(input)))
    }
    let zeroSignWrong = result == 0 && nearest == 0 && result.sign != nearest.sign
    let correctlyRounded = result == nearest && !zeroSignWrong
    if result.isInfinite {
      return (result == nearest ? 0 : .infinity, correctlyRounded, false)
    }
    var error = abs(Double(result) - referenceValue) / ulp
    if error > 0.5 - 0x1p-20 {
      // Near the maximum the Double reference's own error (~2^-29 ulp) would show: refine.
      let precise = self.precise(PreciseReal(input))
      let preciseULP = PreciseReal(MathCheck.floatULP(at: Double(precise)))
      error = Double(abs(PreciseReal(result) - precise) / preciseULP)
    }
    return (error, correctlyRounded, zeroSignWrong)
  }

  /// One line about an input whose result is not correctly rounded.
  func describeMisrounding(_ input: Float) -> String {
    let result = munet(input)
    let precise = self.precise(PreciseReal(input))
    let nearest = Float(precise)
    let ulp = PreciseReal(MathCheck.floatULP(at: Double(precise)))
    let error = abs(PreciseReal(result) - precise) / ulp
    return "not correctly rounded: \(name)(\(input)) [0x\(String(input.bitPattern, radix: 16))] = \(result), "
      + "nearest \(nearest); error \(Double(error)) ulp (\(preciseName) reference)"
  }

  /// Spacing of Floats in the binade of |value| (2^-149 in the subnormal range).
  static func floatULP(at value: Double) -> Double {
    let magnitude = value.magnitude
    if magnitude < 0x1p-126 { return 0x1p-149 }
    return Double(sign: .plus, exponent: magnitude.exponent - 23, significand: 1)
  }

  /// Checks bit patterns 0, stride, 2·stride, ... below 2^32, split into fixed chunks dealt
  /// to the pool's threads; the merged summary does not depend on the thread count. Without
  /// `measuring`, only the result digest and the vector form's comparison are made.
  func sweep(stride: UInt64, pool: ThreadPool, measuring: Bool) -> MathSweepSummary {
    let patternCount: UInt64 = 1 << 32
    let inputCount = (patternCount + stride - 1) / stride
    let chunkCount = Int(min(inputCount, 1024))
    let partials = UnsafeMutablePointer<MathSweepSummary>.allocate(capacity: chunkCount)
    partials.initialize(repeating: MathSweepSummary(), count: chunkCount)
    defer {
      partials.deinitialize(count: chunkCount)
      partials.deallocate()
    }
    pool.run(taskCount: chunkCount, MathSweepJob(
      check: self, partials: partials, chunkCount: chunkCount, inputCount: Int(inputCount), stride: stride,
      measuring: measuring))
    var total = MathSweepSummary()
    var digest = MathSweepSummary.digestSeed
    for chunk in 0..<chunkCount {
      total.merge(partials[chunk])
      digest = MathSweepSummary.digest(digest, partials[chunk].resultDigest)
    }
    total.resultDigest = digest
    return total
  }

  /// The special values must come out exactly (any NaN for NaN); they also enter the error
  /// statistics.
  func checkSpecialValues() -> MathSweepSummary {
    var summary = MathSweepSummary()
    for (input, expected) in specialValues {
      let result = munet(input)
      let matches = expected.isNaN ? result.isNaN : result.bitPattern == expected.bitPattern
      if !matches {
        summary.failures.append("special value \(name)(\(input)) = \(result), expected \(expected)")
      }
      summary.add(input, measure(input))
    }
    return summary
  }

  /// Nanoseconds per call of munet's scalar function (through a closure, as a caller in
  /// another module without inlining would see it) and per element of the buffer form, over
  /// 2^20 arguments spread over the function's useful range. Fails if the buffer form
  /// differs from the scalar function in any bit.
  func timePerCall() -> (scalar: Double, batched: Double?, batchedMatches: Bool) {
    let count = 1 << 20
    var inputs = [Float](repeating: 0, count: count)
    var state: UInt32 = 0x9E37_79B9
    for index in 0..<count {
      state = state &* 1_664_525 &+ 1_013_904_223
      let unit = Float(state >> 8) * 0x1p-24  // [0, 1)
      inputs[index] = name == "log" ? unit * 100 + 0x1p-10 : (unit - 0.5) * 16
    }
    var scalarOutputs = [Float](repeating: 0, count: count)
    let repeats = 4
    var started = munet_monotonic_ns()
    for _ in 0..<repeats {
      for index in 0..<count { scalarOutputs[index] = munet(inputs[index]) }
    }
    let scalar = Double(munet_monotonic_ns() - started) / Double(repeats * count)
    guard let batched else { return (scalar, nil, true) }
    var batchedOutputs = [Float](repeating: 0, count: count)
    started = munet_monotonic_ns()
    for _ in 0..<repeats {
      inputs.withUnsafeBufferPointer { input in
        batchedOutputs.withUnsafeMutableBufferPointer { output in
          batched(input.baseAddress!, output.baseAddress!, count)
        }
      }
    }
    let perElement = Double(munet_monotonic_ns() - started) / Double(repeats * count)
    let matches = zip(scalarOutputs, batchedOutputs).allSatisfy { $0.bitPattern == $1.bitPattern }
    return (scalar, perElement, matches)
  }
}

/// Error statistics of one function over a set of inputs.
/// One chunk of a sweep per task (a struct, not a closure: see `ParallelJob`).
struct MathSweepJob: ParallelJob {
  let check: MathCheck
  let partials: UnsafeMutablePointer<MathSweepSummary>
  let chunkCount: Int
  let inputCount: Int
  let stride: UInt64

  let measuring: Bool

  func run(task chunk: Int) {
    let range = Partition.range(part: chunk, parts: chunkCount, count: inputCount, grain: 1)
    var summary = MathSweepSummary()
    var digest = MathSweepSummary.digestSeed
    var start = range.lowerBound
    while start < range.upperBound {
      // Sixteen consecutive inputs (the last block padded with the chunk's last input), as one
      // 16-lane vector and as two 8-lane vectors.
      let used = min(16, range.upperBound - start)
      var vector = SIMD16<Float>()
      for lane in 0..<16 { vector[lane] = input(start + min(lane, used - 1)) }
      let sixteen = check.lanes?.sixteen(vector)
      let low = check.lanes?.eight(vector.lowHalf), high = check.lanes?.eight(vector.highHalf)
      for lane in 0..<used {
        let value = vector[lane]
        let result = check.munet(value)
        if measuring { summary.add(value, check.measure(value)) }
        digest = MathSweepSummary.digest(digest, UInt64(result.bitPattern))
        if let sixteen, let low, let high {
          let eight = lane < 8 ? low[lane] : high[lane - 8]
          if sixteen[lane].bitPattern != result.bitPattern || eight.bitPattern != result.bitPattern {
            summary.addLaneDifference(value)
          }
        }
      }
      if check.lanes != nil { summary.laneInputsChecked += UInt64(used) }
      if !measuring { summary.inputsChecked += UInt64(used) }
      start += used
    }
    summary.resultDigest = digest
    partials[chunk] = summary
  }

  @inline(__always)
  private func input(_ index: Int) -> Float {
    Float(bitPattern: UInt32(truncatingIfNeeded: UInt64(index) * stride))
  }
}

struct MathSweepSummary {
  var inputsChecked: UInt64 = 0
  /// FNV-1a over the result bit patterns in input order (per chunk, then over the chunks in
  /// order): equal digests mean bit-identical results, e.g. between the AVX2/FMA and the
  /// portable build, or two machines.
  var resultDigest: UInt64 = 0
  var maxErrorULPs = 0.0
  var maxErrorInput: Float = 0
  var notCorrectlyRounded: UInt64 = 0
  /// The first few inputs (in bit-pattern order) whose result is not correctly rounded.
  var notCorrectlyRoundedInputs: [Float] = []
  var failures: [String] = []
  var seconds = 0.0
  var nanosecondsPerCall = 0.0
  var nanosecondsPerElementBatched: Double?
  /// Inputs on which the vector form was compared with the scalar function, and on how many
  /// its bits differed (the first few listed).
  var laneInputsChecked: UInt64 = 0
  var laneDifferences: UInt64 = 0
  var laneDifferenceInputs: [Float] = []

  static let listedMax = 12
  static let digestSeed: UInt64 = 0xCBF2_9CE4_8422_2325

  static func digest(_ state: UInt64, _ word: UInt64) -> UInt64 {
    (state ^ word) &* 0x0000_0100_0000_01B3
  }

  static let header = "function   inputs checked   max ulp error   at input (bits)                "
    + "not correctly rounded   ns/call   ns/elt(buffer)   seconds   result digest"

  mutating func add(
    _ input: Float, _ outcome: (errorULPs: Double, correctlyRounded: Bool, zeroSignWrong: Bool)
  ) {
    inputsChecked += 1
    if outcome.errorULPs > maxErrorULPs || (outcome.errorULPs.isNaN && !maxErrorULPs.isNaN) {
      maxErrorULPs = outcome.errorULPs
      maxErrorInput = input
    }
    if !outcome.correctlyRounded {
      notCorrectlyRounded += 1
      if notCorrectlyRoundedInputs.count < MathSweepSummary.listedMax {
        notCorrectlyRoundedInputs.append(input)
      }
    }
    if outcome.zeroSignWrong, failures.count < 16 {
      failures.append("wrong sign of zero at input \(input)")
    }
    if outcome.errorULPs == .infinity, failures.count < 16 {
      failures.append("wrong NaN/infinity at input \(input) (bits 0x\(String(input.bitPattern, radix: 16)))")
    }
  }

  mutating func addLaneDifference(_ input: Float) {
    laneDifferences += 1
    if laneDifferenceInputs.count < MathSweepSummary.listedMax { laneDifferenceInputs.append(input) }
  }

  /// Adds `other`; on equal maximum error the earlier summary's input is kept, so merging
  /// chunks in order gives the same report for any thread count.
  mutating func merge(_ other: MathSweepSummary) {
    inputsChecked += other.inputsChecked
    laneInputsChecked += other.laneInputsChecked
    laneDifferences += other.laneDifferences
    let laneRoom = max(0, MathSweepSummary.listedMax - laneDifferenceInputs.count)
    laneDifferenceInputs.append(contentsOf: other.laneDifferenceInputs.prefix(laneRoom))
    if other.maxErrorULPs > maxErrorULPs {
      maxErrorULPs = other.maxErrorULPs
      maxErrorInput = other.maxErrorInput
    }
    notCorrectlyRounded += other.notCorrectlyRounded
    let room = max(0, MathSweepSummary.listedMax - notCorrectlyRoundedInputs.count)
    notCorrectlyRoundedInputs.append(contentsOf: other.notCorrectlyRoundedInputs.prefix(room))
    failures.append(contentsOf: other.failures.prefix(max(0, 16 - failures.count)))
  }

  func row(name: String) -> String {
    let at = "\(maxErrorInput) (0x\(String(maxErrorInput.bitPattern, radix: 16)))"
    return pad(name, 11) + pad("\(inputsChecked)", 17) + pad(format(maxErrorULPs, digits: 12), 16)
      + pad(at, 31) + pad("\(notCorrectlyRounded)", 24) + pad(format(nanosecondsPerCall, digits: 2), 10)
      + pad(nanosecondsPerElementBatched.map { format($0, digits: 2) } ?? "-", 17)
      + pad(format(seconds, digits: 1), 10) + "0x" + String(resultDigest, radix: 16)
  }

  /// The vector form's comparison with the scalar function.
  func lanesLine(name: String) -> String {
    let listed = laneDifferenceInputs.map { "0x" + String($0.bitPattern, radix: 16) }.joined(separator: " ")
    return pad(name, 6) + "vector forms (8 and 16 lanes) vs scalar: "
      + "\(laneInputsChecked) inputs, \(laneDifferences) differing"
      + (laneDifferences > 0 ? " (first: \(listed))" : "")
      + (seconds > 0 ? ", \(format(seconds, digits: 1)) s" : "")
      + ", scalar digest 0x" + String(resultDigest, radix: 16)
  }

  private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
  }

  private func format(_ value: Double, digits: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (value * scale).rounded()
    let whole = Int(scaled / scale)
    let fraction = Int(scaled - Double(whole) * scale)
    let fractionText = String(fraction)
    return "\(whole)." + String(repeating: "0", count: digits - fractionText.count) + fractionText
  }
}
