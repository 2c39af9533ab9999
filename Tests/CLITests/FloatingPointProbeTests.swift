import Glibc
@testable import MuNetCLI
import MuNetRuntime
import Testing

/// The environment probes pass here and catch a planted flush-to-zero or rounding mode. The
/// planted settings are per thread (MXCSR) and restored before each test returns; the tests
/// are synchronous, so they stay on one thread throughout.
@Suite(.serialized) struct FloatingPointProbeTests {
  @Test func thisMachinePassesOnEveryPoolThread() {
    let probe = FloatingPointProbe()
    #expect(probe.run() == FloatingPointProbe.Outcome())
    #expect(probe.run(on: ThreadPool(threadCount: 3)) == FloatingPointProbe.Outcome())
    #expect(NumericsEnvironment.probe(threads: 2).violations == [])
  }

  @Test func flushToZeroIsCaught() {
    var saved = fenv_t()
    fegetenv(&saved)
    var flushing = saved
    flushing.__mxcsr |= 0x8040  // FTZ (bit 15) and DAZ (bit 6)
    fesetenv(&flushing)
    let outcome = FloatingPointProbe().run()
    fesetenv(&saved)
    #expect(!outcome.subnormalsPreserved)
    #expect(outcome.subnormalFailures.contains("2^-126 · 0.5 = 2^-127 (FTZ)"))
    #expect(outcome.subnormalFailures.contains("2^-149 · 2 = 2^-148 (DAZ)"))
    #expect(outcome.roundingNearestEven)
    #expect(FloatingPointProbe().run() == FloatingPointProbe.Outcome(), "restored")
  }

  @Test(arguments: [FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO] as [Int32])
  func anotherRoundingModeIsCaught(mode: Int32) {
    let saved = fegetround()
    fesetround(mode)
    let outcome = FloatingPointProbe().run()
    fesetround(saved)
    #expect(!outcome.roundingNearestEven)
    #expect(outcome.subnormalsPreserved)
    var environment = NumericsEnvironment.probe(threads: 1)
    environment.floatingPoint = outcome
    #expect(environment.violations.count == 1)
    #expect(environment.violations.first?.hasPrefix("rounding is not to nearest") == true)
  }
}
