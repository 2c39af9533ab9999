import MuNetModel
import MuNetRuntime
import MuNetTraining
import Testing

@testable import MuNetEvolution

// The fixed-point score: factor = round(2^30 · sizeBase^(accounted / P) · flopsBase^(FLOPs / F)),
// score = correct · factor / count in integers.

private func scorer(
  sizeBase: Int64 = 1_000_000, reference: Int = 1000, flopsBase: Int64 = 1_000_000
) -> Scorer {
  var settings = EvolutionConfig.Score()
  settings.sizeBaseMicros = sizeBase
  settings.referenceParams = reference
  settings.flopsBaseMicros = flopsBase
  settings.flopsReference = 1_000_000
  return Scorer(settings: settings)
}

@Test func factorIsExactlyOneWhenBothBasesAreOne() {
  let unit = scorer()
  for accounted in [0.0, 1, 650.5, 1e5, 1e9, 1e300] {
    for flops in [0, 1, 123_456, 1 << 40] {
      #expect(unit.factor(accountedParameters: accounted, flops: flops) == 1 << 30)
    }
  }
  #expect(ValidationScoring.one == 1 << 30)
}

@Test func factorFallsWithAccountedParameters() {
  let half = scorer(sizeBase: 500_000, reference: 1000)
  let one = Int64(1) << 30
  // Tolerance: the penalty is a Float (24-bit significand) scaled by 2^30.
  let tolerance = one >> 20
  #expect(half.factor(accountedParameters: 0, flops: 10) == one)
  #expect(abs(half.factor(accountedParameters: 1000, flops: 10) - one / 2) <= tolerance)
  #expect(abs(half.factor(accountedParameters: 3000, flops: 10) - one / 8) <= tolerance)
  #expect(abs(half.factor(accountedParameters: 500, flops: 10) - 759_250_125) <= tolerance)
  var previous = half.factor(accountedParameters: 0, flops: 0)
  var strictSteps = 0
  for accounted in stride(from: 0.0, through: 40_000, by: 7.25) {
    let factor = half.factor(accountedParameters: accounted, flops: 0)
    #expect(factor <= previous, "factor rises at \(accounted) accounted parameters")
    #expect(factor >= 1 && factor <= one)
    if factor < previous { strictSteps += 1 }
    previous = factor
  }
  #expect(strictSteps > 2500)
  // Far past the point where the penalty underflows, the factor stays at its floor of 1.
  #expect(half.factor(accountedParameters: 1e6, flops: 0) == 1)
  // The size term ignores FLOPs while the FLOPs base is 1.
  let withFLOPs = half.factor(accountedParameters: 1000, flops: 1 << 40)
  #expect(half.factor(accountedParameters: 1000, flops: 0) == withFLOPs)
}

@Test func flopsTermMultipliesTheSizeTerm() {
  let one = Double(Int64(1) << 30)
  let flops = scorer(flopsBase: 250_000)
  #expect(flops.factor(accountedParameters: 1e9, flops: 0) == 1 << 30)
  #expect(abs(Double(flops.factor(accountedParameters: 0, flops: 500_000)) - one / 2) <= one / 1e6)
  let both = scorer(sizeBase: 500_000, reference: 1000, flopsBase: 250_000)
  #expect(abs(Double(both.factor(accountedParameters: 1000, flops: 500_000)) - one / 4) <= one / 1e6)
}

@Test func scoreIsCorrectTimesFactorOverCountInIntegers() {
  let one = ValidationScoring.one
  #expect(Scorer.score(Quality(correct: 1, count: 3), factor: one) == 357_913_941)
  #expect(Scorer.score(Quality(correct: 2, count: 3), factor: one) == 715_827_882)
  #expect(Scorer.score(Quality(correct: 7, count: 7), factor: 123_456_789) == 123_456_789)
  #expect(Scorer.score(Quality(correct: 0, count: 50), factor: one) == 0)
  #expect(Scorer.score(Quality(correct: 0, count: 0), factor: one) == 0)
  #expect(Scorer.score(Quality(correct: 99, count: 100), factor: 1000) == 990)
  #expect(Scorer.score(Quality(correct: 1, count: 100), factor: 99) == 0)
  // Exact at the extremes: no overflow with 2^31 − 1 examples and the full factor.
  let count = Int(Int32.max)
  #expect(Scorer.score(Quality(correct: count - 1, count: count), factor: one) == one - 1)
  // Equal accuracies out of different counts score alike; a better one scores higher.
  #expect(Scorer.score(Quality(correct: 30, count: 100), factor: one)
    == Scorer.score(Quality(correct: 3, count: 10), factor: one))
  #expect(Scorer.score(Quality(correct: 31, count: 100), factor: one)
    > Scorer.score(Quality(correct: 3, count: 10), factor: one))
}

@Test func accountedParametersDivideSharedComponentsByTheirHolders() throws {
  let config = try Fixtures.smokeConfig()
  let state = SystemState.bare(config)
  let factory = state.factory
  let key = StreamKey(seed: 8)
  func add(_ name: String, locks: [String], classCount: Int = 10) -> (id: Int, count: Int) {
    let component = factory.fresh(name, tokenCount: 10, adapterDim: 4, classCount: classCount, initKey: key)
    let id = state.allocateComponentID()
    state.insert(StoredComponent(id: id, component: component, locks: locks, digest: ""))
    return (id, component.parameterCount)
  }
  let embedding = add("embedding", locks: [SystemState.rootTask])
  let block = add("encoderblock_0", locks: ["a", "b"])
  let table = add("posembed_input", locks: [])
  let head = add("head", locks: ["t"])
  let norm = add("encoder_norm", locks: [SystemState.rootTask, "a"])
  let adapter = add("residual_adapter_0", locks: ["a", "b", "t"])
  let ids = [embedding.id, block.id, table.id, head.id, norm.id, adapter.id]
  // Holders of each, with the path's own task and without the root: 1, 3, 1, 1, 2, 3.
  let expected = Double(embedding.count) + Double(block.count) / 3 + Double(table.count) + Double(head.count)
    + Double(norm.count) / 2 + Double(adapter.count) / 3
  #expect(state.accountedParameters(componentIDs: ids, task: "t") == expected)
  // From task "a"'s side: 1, 2, 2 (a and a), …: the divisors change with the task.
  let fromA = Double(embedding.count) + Double(block.count) / 2 + Double(table.count) + Double(head.count) / 2
    + Double(norm.count) + Double(adapter.count) / 3
  #expect(state.accountedParameters(componentIDs: ids, task: "a") == fromA)
  #expect(state.accountedParameters(componentIDs: [], task: "t") == 0)
  // The path's score factor uses them: with a size base, sharing lowers the penalty.
  var sized = config
  sized.score.sizeBaseMicros = 500_000
  sized.score.referenceParams = 100
  var hyper = config.defaults
  hyper[.layerCount] = .integer(1)
  hyper.adapterLayers = [0]
  let path = EvolutionPath(
    id: 1, task: "t", parent: 0, hyperparameters: hyper,
    componentIDs: [embedding.id, table.id, adapter.id, block.id, norm.id, head.id], classCount: 10,
    validation: Quality(correct: 50, count: 100))
  state.insert(path)
  let sizeScorer = Scorer(settings: sized.score)
  let accounted = state.accountedParameters(componentIDs: path.componentIDs, task: "t")
  let flops = Scorer.forwardFLOPs(state.modelConfig(hyper, classCount: 10))
  let factor = state.scoreFactor(of: path, scorer: sizeScorer)
  #expect(factor == sizeScorer.factor(accountedParameters: accounted, flops: flops))
  let alone = Double(state.parameterCount(of: path))
  #expect(accounted < alone)
  #expect(factor > sizeScorer.factor(accountedParameters: alone, flops: flops))
  #expect(state.score(of: path, scorer: sizeScorer) == Scorer.score(
    Quality(correct: 50, count: 100), factor: state.scoreFactor(of: path, scorer: sizeScorer)))
  #expect(state.score(of: state.root, scorer: sizeScorer) == nil)
}

@Test func childFactorMatchesTheCommittedPathsFactor() throws {
  // The factor a child is trained under (computed from its plan) must be the one its path
  // scores with once committed: otherwise the bar and the kept snapshot disagree.
  var config = try Fixtures.smokeConfig()
  config.score.sizeBaseMicros = 900_000
  config.score.referenceParams = 500
  config.score.flopsBaseMicros = 950_000
  config.score.flopsReference = 20_000
  let fixture = try PlannerFixture(config: config)
  let scorer = Scorer(settings: config.score)
  var distinct = Set<Int64>()
  for parent in fixture.parents {
    for index in 0..<25 {
      let plan = try fixture.plan(parent: parent, index: index)
      let path = fixture.state.commitTestChild(
        plan, task: PlannerFixture.task, classCount: PlannerFixture.classCount,
        validation: Quality(correct: 1, count: 2))
      let committed = fixture.state.scoreFactor(of: path, scorer: scorer)
      #expect(plan.factor == committed, "child \(index) of \(parent.id)")
      #expect(plan.factor < ValidationScoring.one)
      distinct.insert(plan.factor)
    }
  }
  #expect(distinct.count > 10)
}
