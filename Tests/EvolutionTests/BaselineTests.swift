import MuNetRuntime
import MuNetStorage
import Testing

@testable import MuNetEvolution

/// The baselines of the reference code, built from a root with two blocks.
private func baselineSources(_ baseline: EvolutionConfig.Baseline) throws -> [String: ComponentSource] {
  var config = try Fixtures.smokeConfig()
  config.root = .seeded(EvolutionConfig.RootArchitecture(patchSize: 4, channels: 1, width: 16, heads: 2, mlpDim: 32, layers: 2))
  config.defaults[.layerCount] = .integer(2)
  config.baseline = baseline
  #expect(config.problems().isEmpty)
  let state = try SystemBuilder.newSystem(config)
  let planner = ChildPlanner(config: config, state: state, scorer: Scorer(settings: config.score), task: "t", classCount: 10)
  let plan = planner.planBaseline(baseline, index: 0, key: StreamKey(seed: 3))
  #expect(plan.parentID == state.rootID && plan.mutations.isEmpty && plan.bar == nil)
  var result: [String: ComponentSource] = [:]
  for (name, source) in plan.components { result[name] = source }
  return result
}

private func isShared(_ source: ComponentSource?) -> Bool { if case .shared = source { true } else { false } }
private func isCloned(_ source: ComponentSource?) -> Bool { if case .cloned = source { true } else { false } }

@Test func finetuneAllClonesEveryRootComponent() throws {
  let sources = try baselineSources(.finetuneAll)
  for name in ["embedding", "cls", "posembed_input", "encoderblock_0", "encoderblock_1", "encoder_norm"] {
    #expect(isCloned(sources[name]) || sources[name] == .resized(2), "\(name): \(String(describing: sources[name]))")
  }
  #expect(sources["head"] == .fresh)
}

@Test func freezeBottomSharesTheLowerBlocksOnly() throws {
  let sources = try baselineSources(.freezeBottom(layers: 1))
  #expect(isShared(sources["embedding"]) && isShared(sources["cls"]) && isShared(sources["encoderblock_0"]))
  #expect(isCloned(sources["encoderblock_1"]) && isCloned(sources["encoder_norm"]))
  #expect(sources["head"] == .fresh)
}

@Test func adaptersTrainOnlyAdaptersNormAndHead() throws {
  let sources = try baselineSources(.adapters(dim: 8))
  #expect(sources["residual_adapter_0"] == .fresh && sources["residual_adapter_1"] == .fresh)
  #expect(isShared(sources["encoderblock_0"]) && isShared(sources["encoderblock_1"]) && isShared(sources["embedding"]))
  #expect(isCloned(sources["encoder_norm"]) && sources["head"] == .fresh)
}

@Test func scratchInitialisesEverythingAfresh() throws {
  let sources = try baselineSources(.scratch)
  #expect(sources.values.allSatisfy { $0 == .fresh })
}

@Test func baselineConfigRoundTripsAndEvolutionFormIsUnchanged() throws {
  let plain = try Fixtures.smokeConfig()
  #expect(plain.json["baseline"] == nil, "an evolution's canonical form has no baseline key (goldens depend on it)")
  for baseline: EvolutionConfig.Baseline in [.finetuneAll, .freezeBottom(layers: 0), .adapters(dim: 4), .scratch] {
    var config = plain
    config.baseline = baseline
    #expect(try EvolutionConfig.parse(config.json, source: "test").baseline == baseline)
  }
  #expect(throws: EvolutionError.self) {
    try EvolutionConfig.parse(try JSONValue.parse(#"{"tasks": ["a"], "baseline": {"kind": "adapters"}}"#), source: "t")
  }
}
