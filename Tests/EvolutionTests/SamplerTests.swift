import MuNetRuntime
import Testing

@testable import MuNetEvolution

// Parent sampling (µ2Net PPDecay) and the integer random decisions, over fixed sets of keys:
// every frequency bound below is checked on the same draws each run, so it is deterministic.

private let task = "t"

private func sampler(_ state: SystemState, _ config: EvolutionConfig) -> ChildPlanner {
  ChildPlanner(
    config: config, state: state, scorer: Scorer(settings: config.score), task: task, classCount: 10)
}

private func key(_ index: Int) -> StreamKey { StreamKey(seed: 42).child("sampler-test", index) }

/// |count − n·p| within five standard deviations of a binomial (plus one for tiny variances).
private func withinBinomialBound(_ count: Int, trials: Int, probability p: Double) -> Bool {
  let mean = Double(trials) * p
  return abs(Double(count) - mean) <= 5 * (mean * (1 - p)).squareRoot() + 1
}

@Test func bestPopulationPathWithoutOffspringIsAlwaysChosen() throws {
  let config = try Fixtures.smokeConfig()
  let state = SystemState.bare(config)
  state.addBarePath(id: 1, task: task, correct: 50, config: config)
  state.addBarePath(id: 2, task: task, correct: 80, config: config)
  state.addBarePath(id: 3, task: task, correct: 30, config: config)
  state.addBarePath(id: 4, task: "other", correct: 90, config: config)
  state.population = [1, 2, 3]
  state.seeds = [0, 4]
  let planner = sampler(state, config)
  for index in 0..<300 {
    let (id, via, seeds) = planner.sampleParent(key(index))
    #expect(id == 2 && via == "population" && seeds == [0, 4], "key \(index): \(id) via \(via)")
  }
}

@Test(arguments: [1, 2, 3])
func bestPathIsAcceptedWithProbabilityHalfToTheOffspringCount(offspring: Int) throws {
  let config = try Fixtures.smokeConfig()
  let state = SystemState.bare(config)
  state.addBarePath(id: 1, task: task, correct: 90, offspring: offspring, config: config)
  state.addBarePath(id: 2, task: task, correct: 10, config: config)
  state.population = [2, 1]
  state.seeds = [0]
  let planner = sampler(state, config)
  let trials = 4000
  var best = 0
  for index in 0..<trials {
    let (id, via, _) = planner.sampleParent(key(index))
    #expect(via == "population" && (id == 1 || id == 2))
    if id == 1 { best += 1 }
  }
  let p = 1 / Double(1 << offspring)
  #expect(withinBinomialBound(best, trials: trials, probability: p), "\(best) of \(trials), p = \(p)")
}

@Test func equalScoresKeepPopulationOrder() throws {
  let config = try Fixtures.smokeConfig()
  let state = SystemState.bare(config)
  // Population order 3, 1, 2 (not id order), all scoring 50; 3 has one child, so the walk
  // takes 3 half the time and otherwise 1 (the next in population order), never 2.
  state.addBarePath(id: 1, task: task, correct: 50, config: config)
  state.addBarePath(id: 2, task: task, correct: 50, config: config)
  state.addBarePath(id: 3, task: task, correct: 50, offspring: 1, config: config)
  // A path without validation ranks last whatever its position.
  state.addBarePath(id: 5, task: task, correct: nil, config: config)
  state.population = [5, 3, 1, 2]
  state.seeds = [0]
  let planner = sampler(state, config)
  var counts: [Int: Int] = [:]
  let trials = 2000
  for index in 0..<trials { counts[planner.sampleParent(key(index)).id, default: 0] += 1 }
  #expect(Set(counts.keys) == [3, 1], "\(counts)")
  #expect(withinBinomialBound(counts[3] ?? 0, trials: trials, probability: 0.5), "\(counts)")
}

@Test func emptyPopulationChoosesTheFirstSeedWithoutOffspringAndRotatesPastIt() throws {
  let config = try Fixtures.smokeConfig()
  let state = SystemState.bare(config)
  state.addBarePath(id: 5, task: "a", correct: 70, config: config)
  state.addBarePath(id: 7, task: "b", correct: 20, config: config)
  state.population = []
  state.seeds = [0, 5, 7]
  let planner = sampler(state, config)
  for index in 0..<200 {
    let (id, via, seeds) = planner.sampleParent(key(index))
    #expect(id == 0 && via == "seed" && seeds == [5, 7, 0], "key \(index): \(id) via \(via), seeds \(seeds)")
  }
  // The first seed has two children for this task: accepted a quarter of the time (rotation
  // [0, 7, 5]), else the next seed, which has none (rotation [7, 5, 0]).
  state.seeds = [5, 0, 7]
  state.path(5).addOffspring(for: task)
  state.path(5).addOffspring(for: task)
  state.path(5).addOffspring(for: "another task")
  var first = 0
  let trials = 2000
  for index in 0..<trials {
    let (id, via, seeds) = planner.sampleParent(key(index))
    #expect(via == "seed")
    if id == 5 {
      first += 1
      #expect(seeds == [0, 7, 5])
    } else {
      #expect(id == 0 && seeds == [7, 5, 0], "key \(index): \(id), seeds \(seeds)")
    }
  }
  #expect(withinBinomialBound(first, trials: trials, probability: 0.25), "\(first) of \(trials)")
  // The state's seed list itself is not changed by sampling (the evolver stores the rotation).
  #expect(state.seeds == [5, 0, 7])
}

@Test func populationWalkComesBeforeTheSeeds() throws {
  let config = try Fixtures.smokeConfig()
  let state = SystemState.bare(config)
  state.addBarePath(id: 1, task: task, correct: 5, offspring: 1, config: config)
  state.population = [1]
  state.seeds = [0]
  let planner = sampler(state, config)
  var counts: [String: Int] = [:]
  let trials = 2000
  for index in 0..<trials {
    let (id, via, seeds) = planner.sampleParent(key(index))
    counts[via, default: 0] += 1
    #expect((via == "population" && id == 1 && seeds == [0]) || (via == "seed" && id == 0))
  }
  #expect(counts["uniform"] == nil)
  #expect(withinBinomialBound(counts["population"] ?? 0, trials: trials, probability: 0.5), "\(counts)")
}

@Test func uniformFallbackCoversPopulationAndSeeds() throws {
  let config = try Fixtures.smokeConfig()
  let state = SystemState.bare(config)
  // 64 children each: every walk accepts with probability 2^-64, so the fallback decides.
  state.addBarePath(id: 1, task: task, correct: 50, offspring: 64, config: config)
  state.addBarePath(id: 2, task: task, correct: 60, offspring: 64, config: config)
  state.addBarePath(id: 3, task: "a", correct: 60, config: config)
  // Seeds count their children for the task being sampled for, not their own.
  state.path(3).offspring = [(task: "a", count: 0), (task: task, count: 64)]
  state.path(0).offspring = [(task: task, count: 64)]
  state.population = [1, 2]
  state.seeds = [3, 0]
  let planner = sampler(state, config)
  var counts: [Int: Int] = [:]
  let trials = 4000
  for index in 0..<trials {
    let (id, via, seeds) = planner.sampleParent(key(index))
    #expect(via == "uniform" && seeds == [3, 0])
    counts[id, default: 0] += 1
  }
  #expect(Set(counts.keys) == [0, 1, 2, 3])
  for (id, count) in counts {
    #expect(withinBinomialBound(count, trials: trials, probability: 0.25), "path \(id): \(count)")
  }
}

@Test func samplingIsAFunctionOfTheKey() throws {
  let config = try Fixtures.smokeConfig()
  let state = SystemState.bare(config)
  state.addBarePath(id: 1, task: task, correct: 50, offspring: 1, config: config)
  state.addBarePath(id: 2, task: task, correct: 50, offspring: 2, config: config)
  state.population = [1, 2]
  state.seeds = [0]
  let planner = sampler(state, config)
  var distinct = Set<Int>()
  for index in 0..<100 {
    let first = planner.sampleParent(key(index))
    let again = planner.sampleParent(key(index))
    #expect(first.id == again.id && first.via == again.via && first.seeds == again.seeds)
    distinct.insert(first.id)
  }
  #expect(distinct == [0, 1, 2])
}

// MARK: Draw

@Test func stepMovesOneAlongTheRangeAndClampsAtBothEnds() {
  let range = [10, 20, 30, 40]
  var seen: [Int: Set<Int>] = [:]
  var ups = 0
  let trials = 1000
  for value in range {
    for index in 0..<trials {
      var stream = StreamKey(seed: 3).child("step", index).stream
      let stepped = Draw.step(value, in: range, &stream)
      seen[value, default: []].insert(stepped ?? -1)
      if value == 20 && stepped == 30 { ups += 1 }
    }
  }
  #expect(seen[10] == [10, 20])
  #expect(seen[20] == [10, 30])
  #expect(seen[30] == [20, 40])
  #expect(seen[40] == [30, 40])
  #expect(withinBinomialBound(ups, trials: trials, probability: 0.5), "\(ups) steps up of \(trials)")
  var stream = StreamKey(seed: 3).stream
  #expect(Draw.step(25, in: range, &stream) == nil)
  #expect(Draw.step(7, in: [7], &stream) == 7)
}

@Test func firesNeverAtZeroAndAlwaysAtOne() {
  var half = 0
  let trials = 2000
  for index in 0..<trials {
    var stream = StreamKey(seed: 4).child("fires", index).stream
    #expect(!Draw.fires(0, &stream))
    #expect(Draw.fires(1_000_000, &stream))
    if Draw.fires(500_000, &stream) { half += 1 }
  }
  #expect(withinBinomialBound(half, trials: trials, probability: 0.5), "\(half) of \(trials)")
}
