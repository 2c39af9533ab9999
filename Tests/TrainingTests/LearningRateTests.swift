import Foundation
import MuNetModel
import Testing

/// The distance in units in the last place between two finite floats of the same sign.
func ulpDistance(_ a: Float, _ b: Float) -> Int {
  if a == b { return 0 }
  precondition(a.sign == b.sign || a == 0 || b == 0, "ulpDistance: \(a) and \(b) differ in sign")
  return abs(Int(a.magnitude.bitPattern) - Int(b.magnitude.bitPattern))
}

/// Expects `schedule` at each step to be within 2 ulp of the hand-computed value.
private func expectValues(_ schedule: LearningRateSchedule, _ expected: [(Int, Double)]) {
  for (step, value) in expected {
    let actual = schedule.learningRate(step: step)
    #expect(ulpDistance(actual, Float(value)) <= 2, "step \(step): \(actual) vs \(value)")
  }
}

@Test func cosineWithWarmupAtKeySteps() {
  // T = 100, W = int(0.1 · 100) = 10, peak 0.01, warmup from 0.01 / 100.
  let schedule = LearningRateSchedule(kind: .cosine, peak: 0.01, totalSteps: 100, warmupRatio: 0.1)
  #expect(schedule.warmupSteps == 10)
  expectValues(schedule, [
    (0, 0.0001),                      // warmup start, lr / 100
    (5, 0.0001 + 0.0099 * 0.5),       // half-way up: 0.00505
    (9, 0.0001 + 0.0099 * 0.9),
    (10, 0.01),                       // the peak: cos(0) = 1
    (40, 0.0075),                     // phase 30/90 = 1/3: 0.5 · (1 + cos(π/3)) = 0.75
    (55, 0.005),                      // phase 1/2: cos(π/2) = 0
    (70, 0.0025),                     // phase 2/3: cos(2π/3) = −1/2
  ])
  // The end: cos(π) = −1, exactly 0 from step T on.
  #expect(schedule.learningRate(step: 100) == 0)
  #expect(schedule.learningRate(step: 1000) == 0)
}

@Test func cosineFollowsTheFormulaAtEveryStep() {
  // Against the formula in Double with libm's cos: the warmup within 1 ulp; the decay within
  // 2e-7 · peak absolute (the phase is rounded to Float before munet's own Float cosine).
  for (peak, total, ratio) in [(0.01, 100, 0.1), (0.5, 37, 0.3), (0.002, 250, 0.02), (0.1, 7, 0.0)] {
    let schedule = LearningRateSchedule(kind: .cosine, peak: peak, totalSteps: total, warmupRatio: ratio)
    let warmup = Int(ratio * Double(total))
    for step in 0...(total + 2) {
      let actual = schedule.learningRate(step: step)
      if step < warmup {
        let expected = peak / 100 + (peak - peak / 100) * Double(step) / Double(warmup)
        #expect(ulpDistance(actual, Float(expected)) <= 1, "step \(step)")
      } else {
        let k = Double(min(step - warmup, total - warmup)) / Double(total - warmup)
        let expected = peak * 0.5 * (1 + cos(Double.pi * k))
        #expect(abs(Double(actual) - expected) <= 2e-7 * peak, "step \(step): \(actual) vs \(expected)")
      }
    }
  }
}

@Test func warmupStepsTruncateLikePython() {
  // int(0.29 · 100) == 28 in Python, because 0.29 · 100 == 28.999999999999996.
  #expect(LearningRateSchedule(kind: .cosine, peak: 1, totalSteps: 100, warmupRatio: 0.29).warmupSteps == 28)
  #expect(LearningRateSchedule(kind: .cosine, peak: 1, totalSteps: 30, warmupRatio: 0.1).warmupSteps == 3)
  #expect(LearningRateSchedule(kind: .cosine, peak: 1, totalSteps: 9, warmupRatio: 0.1).warmupSteps == 0)
}

@Test func noWarmupStartsAtThePeak() {
  let schedule = LearningRateSchedule(kind: .cosine, peak: 0.05, totalSteps: 9, warmupRatio: 0.1)
  #expect(schedule.warmupSteps == 0)
  expectValues(schedule, [(0, 0.05), (3, 0.05 * 0.75), (9, 0)])  // step 3: phase 1/3
}

@Test func constantIsHalfThePeak() {
  let schedule = LearningRateSchedule(kind: .constant, peak: 0.02, totalSteps: 50, warmupRatio: 0.3)
  for step in [0, 1, 15, 49, 50, 500] { #expect(schedule.learningRate(step: step) == Float(0.01)) }
}

@Test func restartsRepeatTheCosineEveryCycle() {
  // T = 40 in 4 cycles of L = 10, each with W = int(0.2 · 10) = 2 and D = 8.
  let schedule = LearningRateSchedule(kind: .restarts, peak: 0.1, totalSteps: 40, warmupRatio: 0.2, cycles: 4)
  #expect(schedule.cycleSteps == 10)
  #expect(schedule.warmupSteps == 2)
  for cycle in 0..<4 {
    let start = cycle * 10
    expectValues(schedule, [
      (start, 0.001), (start + 1, 0.001 + 0.099 * 0.5), (start + 2, 0.1), (start + 6, 0.05),
    ])
    #expect(schedule.learningRate(step: start + 9) == schedule.learningRate(step: 9))
  }
  // Past the last cycle the last one's end value (0) holds.
  #expect(schedule.learningRate(step: 40) == 0)
  #expect(schedule.learningRate(step: 77) == 0)
}

@Test func linearGoesUpThenDownFromAThousandth() {
  // µ3Net: peak 0.02, T = 100, W = 20, from and back to 0.02 / 1000.
  let schedule = LearningRateSchedule(
    kind: .linear, peak: 0.02, totalSteps: 100, warmupRatio: 0.2, warmupStartDivisor: 1000)
  expectValues(schedule, [
    (0, 0.00002), (10, 0.01001), (20, 0.02), (60, 0.01001), (90, 0.02 - 0.01998 * 0.875), (100, 0.00002),
    (150, 0.00002),
  ])
}

@Test func mu3NetCosineWarmsUpFromAThousandth() {
  let schedule = LearningRateSchedule(
    kind: .cosine, peak: 0.02, totalSteps: 50, warmupRatio: 0.02, warmupStartDivisor: 1000)
  #expect(schedule.warmupSteps == 1)
  expectValues(schedule, [(0, 0.00002), (1, 0.02), (50, 0)])
}
