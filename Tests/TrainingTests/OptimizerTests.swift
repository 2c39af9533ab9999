import MuNetModel
import MuNetRuntime
import MuNetTestSupport
import Testing

/// Parameters, gradients and an optimizer over buffers of the given sizes, all in one arena.
final class Fixture {
  let arena: Arena
  let values: [UnsafeMutableBufferPointer<Float>]
  let gradients: [UnsafeMutableBufferPointer<Float>]
  let optimizer: SGDMomentum

  init(sizes: [Int], momentum: Float, nesterov: Bool, initial: (Int, Int) -> Float) throws {
    var plan = ArenaPlan()
    for size in sizes { plan.reserve(elements: size); plan.reserve(elements: size) }
    var traces = ArenaPlan()
    for size in sizes { traces.reserve(elements: size) }
    arena = Arena(name: "optimizer test", plannedBytes: plan.totalBytes + traces.totalBytes)
    var values: [UnsafeMutableBufferPointer<Float>] = []
    var gradients: [UnsafeMutableBufferPointer<Float>] = []
    for (index, size) in sizes.enumerated() {
      let buffer = try arena.allocate(Shape(size)).buffer
      for k in 0..<size { buffer[k] = initial(index, k) }
      values.append(buffer)
      gradients.append(try arena.allocate(Shape(size)).buffer)
    }
    self.values = values
    self.gradients = gradients
    let parameters = zip(values, gradients).map { TrainableParameter(values: $0, gradients: $1) }
    optimizer = try SGDMomentum(parameters: parameters, momentum: momentum, nesterov: nesterov, arena: arena)
  }

  func setGradients(_ gradient: (Int, Int) -> Float) {
    for (index, buffer) in gradients.enumerated() {
      for k in buffer.indices { buffer[k] = gradient(index, k) }
    }
  }
}

@Test func oneAndTwoStepsOnExactNumbers() throws {
  // Powers of two, so every intermediate value is exact: p = 1, g = 0.5, m = 0.5, lr = 0.25.
  for nesterov in [false, true] {
    let fixture = try Fixture(sizes: [1], momentum: 0.5, nesterov: nesterov) { _, _ in 1 }
    let compute = Compute(tier: .reference)
    fixture.setGradients { _, _ in 0.5 }
    let clip = fixture.optimizer.step(learningRate: 0.25, compute: compute)
    #expect(clip == GlobalNormClip(norm: 0.5, scale: 1))
    // trace = 0.5 + 0.5·0 = 0.5; plain: p = 1 − 0.25·0.5; Nesterov: u = 0.5 + 0.5·0.5 = 0.75.
    #expect(fixture.optimizer.traces[0][0] == 0.5)
    #expect(fixture.values[0][0] == (nesterov ? 0.8125 : 0.875))
    fixture.setGradients { _, _ in 0.5 }
    fixture.optimizer.step(learningRate: 0.25, compute: compute)
    // trace = 0.5 + 0.5·0.5 = 0.75; plain: p −= 0.25·0.75; Nesterov: u = 0.5 + 0.375 = 0.875.
    #expect(fixture.optimizer.traces[0][0] == 0.75)
    #expect(fixture.values[0][0] == (nesterov ? 0.8125 - 0.21875 : 0.875 - 0.1875))
  }
}

/// The reference optimizer in `Double`: clip to global norm 1, trace, update.
private struct DoubleReference {
  var values: [[Double]]
  var traces: [[Double]]
  let momentum: Double
  let nesterov: Bool

  mutating func step(gradients: [[Double]], learningRate: Double) {
    let norm = gradients.joined().reduce(0) { $0 + $1 * $1 }.squareRoot()
    let scale = norm > 1 ? 1 / norm : 1
    for i in values.indices {
      for k in values[i].indices {
        let g = gradients[i][k] * scale
        traces[i][k] = g + momentum * traces[i][k]
        let update = nesterov ? g + momentum * traces[i][k] : traces[i][k]
        values[i][k] -= learningRate * update
      }
    }
  }
}

@Test(arguments: [(Float(0), false), (0.9, false), (0.9, true), (0.5, true)])
func matchesTheDoubleReference(momentum: Float, nesterov: Bool) throws {
  let sizes = [3, 17, 1, 40]
  var random = SplitMix64(seed: 11)
  let initial = sizes.map { size in (0..<size).map { _ in random.signedUnit() } }
  let fixture = try Fixture(sizes: sizes, momentum: momentum, nesterov: nesterov) { initial[$0][$1] }
  var reference = DoubleReference(
    values: initial.map { $0.map(Double.init) }, traces: sizes.map { [Double](repeating: 0, count: $0) },
    momentum: Double(momentum), nesterov: nesterov)
  let compute = Compute(tier: .reference)
  let schedule = LearningRateSchedule(kind: .cosine, peak: 0.1, totalSteps: 6, warmupRatio: 0.2)
  for step in 0..<6 {
    // Small gradients in even steps (no clipping), large ones (norm ≈ 5) in odd steps.
    let size: Float = step % 2 == 0 ? 0.05 : 1
    let gradients = sizes.map { count in (0..<count).map { _ in random.signedUnit() * size } }
    fixture.setGradients { gradients[$0][$1] }
    let learningRate = schedule.learningRate(step: step)
    let clip = fixture.optimizer.step(learningRate: learningRate, compute: compute)
    #expect(clip.clipped == (step % 2 == 1))
    reference.step(gradients: gradients.map { $0.map(Double.init) }, learningRate: Double(learningRate))
  }
  for i in sizes.indices {
    for k in 0..<sizes[i] {
      #expect(abs(Double(fixture.values[i][k]) - reference.values[i][k]) <= 1e-6, "value \(i), \(k)")
      let trace = Double(fixture.optimizer.traces[i][k])
      #expect(abs(trace - reference.traces[i][k]) <= 1e-6, "trace \(i), \(k)")
    }
  }
}

@Test func clippingBringsTheGlobalNormToOne() throws {
  var random = SplitMix64(seed: 3)
  let compute = Compute(tier: .reference)
  var excessMax = 0.0
  for trial in 0..<200 {
    let sizes = [1 + trial % 7, 5000, 33]
    let fixture = try Fixture(sizes: sizes, momentum: 0.9, nesterov: false) { _, _ in 0 }
    let magnitude = Float(1 + trial)
    fixture.setGradients { _, _ in random.signedUnit() * magnitude }
    let clip = fixture.optimizer.step(learningRate: 0, compute: compute)
    #expect(clip.clipped)
    let after = compute.sumOfSquares(fixture.gradients).squareRoot()
    // The factor is rounded once to Float and each element once more, so the clipped norm is
    // 1 within about one Float ulp of 1 (2^-23) either way; it is not guaranteed to be <= 1.
    #expect(abs(after - 1) <= 0x1p-23, "trial \(trial): norm \(after) after clipping")
    excessMax = max(excessMax, after - 1)
    // Learning rate 0 leaves the values alone, and the trace holds the clipped gradients.
    #expect(fixture.values.allSatisfy { $0.allSatisfy { $0 == 0 } })
    #expect(fixture.optimizer.traces[1][7] == fixture.gradients[1][7])
  }
  #expect(excessMax < 0x1p-23)
}

@Test func gradientsWithNormAtMostOneAreNotTouched() throws {
  var random = SplitMix64(seed: 8)
  let fixture = try Fixture(sizes: [10, 300], momentum: 0.9, nesterov: false) { _, _ in 0 }
  let raw = (0..<310).map { _ in random.signedUnit() }
  let norm = raw.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
  // Scale so the norm is just below 1 (computed in Double, so the Float values keep it <= 1).
  let scaled = raw.map { $0 * Float(0.999 / norm) }
  fixture.setGradients { $0 == 0 ? scaled[$1] : scaled[10 + $1] }
  let clip = fixture.optimizer.step(learningRate: 0, compute: Compute(tier: .reference))
  #expect(!clip.clipped)
  #expect(clip.norm <= 1 && clip.norm > 0.99)
  #expect(fixture.gradients[0].map(\.bitPattern) == scaled[0..<10].map(\.bitPattern))
  #expect(fixture.gradients[1].map(\.bitPattern) == scaled[10...].map(\.bitPattern))
}

@Test func tierOneMatchesTierZeroBitwise() throws {
  // Sizes chosen so that static partitions cut inside parameters and across their ends.
  let sizes = [4096 * 3 + 17, 1, 256, 0, 9000, 64, 4096 * 2]
  for (momentum, nesterov) in [(Float(0.9), false), (0.9, true), (0, false)] {
    func run(_ compute: Compute) throws -> ([UInt32], [UInt32]) {
      var random = SplitMix64(seed: 21)
      let fixture = try Fixture(sizes: sizes, momentum: momentum, nesterov: nesterov) { _, _ in
        random.signedUnit()
      }
      for step in 0..<3 {
        fixture.setGradients { _, _ in random.signedUnit() }
        fixture.optimizer.step(learningRate: 0.05 / Float(step + 1), compute: compute)
      }
      let values = fixture.values.flatMap { $0.map(\.bitPattern) }
      let traces = fixture.optimizer.traces.flatMap { $0.map(\.bitPattern) }
      return (values, traces)
    }
    let reference = try run(Compute(tier: .reference))
    for threads in [1, 2, 3, 4, 7] {
      let threaded = try run(Compute(tier: .threads, threadCount: threads))
      let label = "\(threads) threads, momentum \(momentum), Nesterov \(nesterov)"
      #expect(threaded.0 == reference.0, "values, \(label)")
      #expect(threaded.1 == reference.1, "traces, \(label)")
    }
  }
}

@Test func tracesComeFromThePlannedArena() throws {
  var plan = ArenaPlan()
  let values = [Float](repeating: 0, count: 100)
  try values.withUnsafeBufferPointer { pointer in
    let buffer = UnsafeMutableBufferPointer(mutating: pointer)
    let parameters = [TrainableParameter(values: buffer, gradients: buffer)]
    SGDMomentum.reserveTraces(in: &plan, for: parameters)
    let arena = Arena(name: "traces", plan: plan)
    let optimizer = try SGDMomentum(parameters: parameters, momentum: 0.9, nesterov: false, arena: arena)
    #expect(arena.usedBytes == plan.totalBytes)
    #expect(optimizer.elementCount == 100)
    optimizer.traces[0][5] = 3
    optimizer.resetTraces()
    #expect(optimizer.traces[0].allSatisfy { $0 == 0 })
    let tooSmall = Arena(name: "too small", plannedBytes: 64)
    #expect(throws: ArenaError.overflow(arena: "too small", plannedBytes: 64, neededBytes: 448)) {
      try SGDMomentum(parameters: parameters, momentum: 0.9, nesterov: false, arena: tooSmall)
    }
  }
}
