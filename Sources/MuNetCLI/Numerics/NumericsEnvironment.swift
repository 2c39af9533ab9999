import CMuNetSupport
import MuNetBLAS
import MuNetRuntime

/// Probes of the floating-point environment of the calling thread: are subnormal results and
/// operands kept (no flush-to-zero, no denormals-are-zero), and does arithmetic round to nearest,
/// ties to even? Either setting would change bits silently (they live in the MXCSR register,
/// per thread, and a library may change them).
///
/// The operands are parsed from text at run time so that the compiler cannot fold the probes
/// into constants (constant folding always assumes the default environment).
struct FloatingPointProbe: Sendable {
  /// What one probe run found: the names of the probes that failed.
  struct Outcome: Codable, Equatable, Sendable {
    var subnormalFailures: [String] = []
    var roundingFailures: [String] = []

    var subnormalsPreserved: Bool { subnormalFailures.isEmpty }
    var roundingNearestEven: Bool { roundingFailures.isEmpty }

    mutating func merge(_ other: Outcome) {
      for name in other.subnormalFailures where !subnormalFailures.contains(name) {
        subnormalFailures.append(name)
      }
      for name in other.roundingFailures where !roundingFailures.contains(name) {
        roundingFailures.append(name)
      }
    }
  }

  /// 2^-126, 2^-149, 1, 2^-24, 2^-53.
  let leastNormal: Float, leastSubnormal: Float, one: Float, halfUlp: Float
  let doubleHalfUlp: Double

  init() {
    leastNormal = Float("0x1p-126")!
    leastSubnormal = Float("0x1p-149")!
    one = Float("1")!
    halfUlp = Float("0x1p-24")!
    doubleHalfUlp = Double("0x1p-53")!
  }

  /// Runs every probe on the calling thread.
  func run() -> Outcome {
    var outcome = Outcome()
    func expectSubnormal(_ name: String, _ passed: Bool) {
      if !passed { outcome.subnormalFailures.append(name) }
    }
    func expectRounding(_ name: String, _ passed: Bool) {
      if !passed { outcome.roundingFailures.append(name) }
    }
    let half = leastNormal * 0.5  // exactly the subnormal 2^-127
    expectSubnormal("2^-126 · 0.5 = 2^-127 (FTZ)", half.bitPattern == 0x0040_0000)
    expectSubnormal("2^-149 · 2 = 2^-148 (DAZ)", (leastSubnormal * 2).bitPattern == 2)
    expectSubnormal("2^-126 − 2^-149 (FTZ)", (leastNormal - leastSubnormal).bitPattern == 0x007F_FFFF)
    let fused = Float(0).addingProduct(leastNormal, 0.5)
    expectSubnormal("fma(2^-126, 0.5, 0) (FTZ)", fused.bitPattern == 0x0040_0000)
    let lanes = SIMD8<Float>(repeating: leastNormal) * SIMD8(repeating: 0.5)
    expectSubnormal("SIMD 2^-126 · 0.5 (FTZ)", (0..<8).allSatisfy { lanes[$0].bitPattern == 0x0040_0000 })
    let doubleHalf = Double(leastNormal) * 0x1p-897  // 2^-1023: a Double subnormal
    expectSubnormal("Double 2^-1023 (FTZ)", doubleHalf.bitPattern == 0x0008_0000_0000_0000)

    // Ties go to the even neighbour; other values to the nearest. Each probe fails under at
    // least one of round up, round down and round toward zero.
    expectRounding("1 + 2^-24 = 1 (tie, down to even)", (one + halfUlp).bitPattern == 0x3F80_0000)
    let upToEven = one + 3 * halfUlp
    expectRounding("1 + 3·2^-24 = 1 + 2^-22 (tie, up to even)", upToEven.bitPattern == 0x3F80_0002)
    expectRounding("−1 − 2^-24 = −1 (tie)", (-one - halfUlp).bitPattern == 0xBF80_0000)
    expectRounding("1 − 2^-25 = 1 (tie)", (one - 0.5 * halfUlp).bitPattern == 0x3F80_0000)
    let aboveHalf = halfUlp * (one + 2 * halfUlp)  // 2^-24 + 2^-47
    expectRounding("1 + (2^-24 + 2^-47) = 1 + 2^-23", (one + aboveHalf).bitPattern == 0x3F80_0001)
    expectRounding("fma(2^-24, 1, 1) = 1 (tie)", one.addingProduct(halfUlp, one).bitPattern == 0x3F80_0000)
    let sums = SIMD8<Float>(repeating: one) + SIMD8(repeating: 3 * halfUlp)
    expectRounding("SIMD 1 + 3·2^-24 (tie)", (0..<8).allSatisfy { sums[$0].bitPattern == 0x3F80_0002 })
    let doubleOne = Double(one)
    expectRounding("Double 1 + 3·2^-53 = 1 + 2^-51 (tie)",
                   (doubleOne + 3 * doubleHalfUlp).bitPattern == 0x3FF0_0000_0000_0002)
    return outcome
  }

  /// Runs the probes on every thread of `pool` (task `t` runs on worker `t`) and merges them.
  func run(on pool: ThreadPool) -> Outcome {
    let outcomes = UnsafeMutablePointer<Outcome>.allocate(capacity: pool.threadCount)
    outcomes.initialize(repeating: Outcome(), count: pool.threadCount)
    defer {
      outcomes.deinitialize(count: pool.threadCount)
      outcomes.deallocate()
    }
    pool.run(taskCount: pool.threadCount, ProbeJob(probe: self, outcomes: outcomes))
    var merged = Outcome()
    for thread in 0..<pool.threadCount { merged.merge(outcomes[thread]) }
    return merged
  }
}

/// Task `t` probes its thread and stores the outcome at `outcomes[t]`.
private struct ProbeJob: ParallelJob {
  let probe: FloatingPointProbe
  let outcomes: UnsafeMutablePointer<FloatingPointProbe.Outcome>

  func run(task: Int) { outcomes[task] = probe.run() }
}

/// The machine and build facts printed at the top of check-numerics.
struct NumericsEnvironment: Codable, Equatable {
  var configuration: String
  /// The CPU level the engine was compiled for (``MuNetBuild/cpuLevel``).
  var cpuLevel: String
  var cpuHasAVX2FMA: Bool
  var cpuHasAVX512: Bool
  var openblasCore: String
  var openblasVersion: String
  var openblasConfig: String
  /// Threads the floating-point probes ran on (the main thread and every pool worker).
  var probedThreads: Int
  var floatingPoint: FloatingPointProbe.Outcome

  /// Probes the calling thread and every worker of a `threads`-thread pool.
  static func probe(threads: Int) -> NumericsEnvironment {
    let probe = FloatingPointProbe()
    var outcome = probe.run()
    outcome.merge(probe.run(on: ThreadPool(threadCount: threads)))
    return NumericsEnvironment(
      configuration: MuNetBuild.configuration, cpuLevel: MuNetBuild.cpuLevel,
      cpuHasAVX2FMA: munet_cpu_has_avx2_fma() != 0, cpuHasAVX512: munet_cpu_has_avx512() != 0,
      openblasCore: MuNetBLASInfo.coreName,
      openblasVersion: MuNetBLASInfo.version, openblasConfig: MuNetBLASInfo.config,
      probedThreads: threads, floatingPoint: outcome)
  }

  /// Flushed subnormals or another rounding mode.
  var violations: [String] {
    var found: [String] = []
    if !floatingPoint.subnormalsPreserved {
      found.append("subnormals are flushed: " + floatingPoint.subnormalFailures.joined(separator: "; "))
    }
    if !floatingPoint.roundingNearestEven {
      found.append("rounding is not to nearest, ties to even: "
                   + floatingPoint.roundingFailures.joined(separator: "; "))
    }
    return found
  }
}
