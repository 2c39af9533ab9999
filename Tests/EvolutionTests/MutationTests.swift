import MuNetModel
import MuNetRuntime
import Testing

@testable import MuNetEvolution

// Invariants of planned children over many child keys, from every kind of parent (population
// paths of the active task, the root, another task's locked retained path).

/// What the tests below count to show that their invariants were exercised, not vacuous.
private struct Coverage {
  var shared = 0, clonedLocked = 0, resized = 0, freshHeads = 0, clonedHeads = 0, addedAdapters = 0
  var steppedKeys = Set<HyperKey>()
}

/// Every violation of the planner's invariants in `plan` (a child of `parent` for the fixture's
/// task with data hyperparameters `data`).
private func violations(
  _ plan: ChildPlan, parent: EvolutionPath, data: Hyperparameters, fixture: PlannerFixture,
  coverage: inout Coverage
) -> [String] {
  let state = fixture.state
  let config = fixture.config
  let hyper = plan.hyperparameters
  var found: [String] = []
  func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { found.append("child \(plan.index) of path \(parent.id): " + message()) }
  }
  let names = plan.components.map(\.name)
  check(names == ChildPlanner.componentNames(hyper), "component names \(names)")

  // Hyperparameters: data keys from the generation, the others from the parent or one step
  // along their range, each step listed as a mutation.
  for key in HyperKey.allCases {
    if let range = config.range(key) { check(range.contains(hyper[key]), "\(key.rawValue) = \(hyper[key])") }
    if key.isData {
      check(hyper[key] == data[key], "\(key.rawValue) differs from the generation's")
      continue
    }
    let before = parent.hyperparameters[key]
    let listed = plan.mutations.contains("hp:\(key.rawValue) \(before) -> \(hyper[key])")
    if hyper[key] != before {
      coverage.steppedKeys.insert(key)
      check(listed, "\(key.rawValue) changed without its mutation \(plan.mutations)")
      if let range = config.range(key), let from = range.firstIndex(of: before),
        let to = range.firstIndex(of: hyper[key]) {
        check(abs(from - to) == 1, "\(key.rawValue) moved more than one step")
      }
      check(config.range(key) != nil, "\(key.rawValue) has no range but changed")
    } else {
      let listedAnyway = plan.mutations.contains { $0.hasPrefix("hp:\(key.rawValue) ") }
      check(!listedAnyway, "\(key.rawValue) listed unchanged")
    }
  }

  // Adapters: only on layers < num_layers; new ones only where a mutation added them.
  let layerCount = hyper.layerCount
  check(
    hyper.adapterLayers.allSatisfy { $0 >= 0 && $0 < layerCount },
    "adapters \(hyper.adapterLayers) with \(layerCount) layers")
  check(hyper.adapterLayers == Array(Set(hyper.adapterLayers)).sorted(), "adapter layers not ascending")
  for layer in hyper.adapterLayers where !parent.hyperparameters.adapterLayers.contains(layer) {
    coverage.addedAdapters += 1
    check(plan.mutations.contains("add:residual_adapter_\(layer)"), "adapter \(layer) added silently")
    check(config.mutation.adapters, "adapter \(layer) added with adapters disabled")
  }
  for layer in parent.hyperparameters.adapterLayers where layer < layerCount {
    check(hyper.adapterLayers.contains(layer), "inherited adapter \(layer) dropped")
  }

  // Component sources.
  let lineage = [parent] + state.ancestors(of: parent)
  let lineageIDs = Set(lineage.flatMap(\.componentIDs))
  let grid = hyper.imageSize / config.root.architecture.patchSize
  let tokenCount = grid * grid + 1
  let headSource: Int? = lineage.lazy.compactMap { path -> Int? in
    guard path.task == PlannerFixture.task, let id = state.componentID(named: "head", in: path),
          !state.component(id).isLocked else { return nil }
    return id
  }.first
  for (name, source) in plan.components {
    let forced = config.mutation.forceClone.contains(name)
    switch source {
    case .shared(let id):
      coverage.shared += 1
      let stored = state.component(id)
      check(stored.isLocked, "\(name) shares unlocked component \(id)")
      check(stored.name == name && lineageIDs.contains(id), "\(name) shares #\(id) outside the lineage")
      check(!forced, "\(name) must always be cloned")
      check(!plan.mutations.contains("clone:\(name)"), "\(name) shared although its clone mutation fired")
    case .cloned(let id):
      let stored = state.component(id)
      check(stored.name == name && lineageIDs.contains(id), "\(name) clones #\(id) outside the lineage")
      if stored.isLocked && !forced {
        coverage.clonedLocked += 1
        check(plan.mutations.contains("clone:\(name)"), "locked \(name) #\(id) cloned without a mutation")
      } else {
        check(!plan.mutations.contains("clone:\(name)"), "\(name) #\(id) listed as a clone mutation")
      }
    case .resized(let id):
      coverage.resized += 1
      let rootTable = state.componentID(named: "posembed_input", in: state.root)
      check(name == "posembed_input" && rootTable == id, "\(name) resized from #\(id)")
      let fitting = lineage.contains { path in
        state.componentID(named: name, in: path).map {
          (state.component($0).component as! PositionEmbedding).tokenCount == tokenCount
        } ?? false
      }
      check(!fitting, "posembed_input resized although the lineage holds a fitting table")
    case .fresh:
      let fresh = name == "head" || name.hasPrefix("encoderblock_") || name.hasPrefix("residual_adapter_")
      check(fresh, "\(name) fresh")
    }
    switch source {
    case .shared(let id), .cloned(let id):
      if let table = state.component(id).component as? PositionEmbedding {
        check(table.tokenCount == tokenCount, "posembed_input #\(id) has \(table.tokenCount) tokens")
      }
      if let adapter = state.component(id).component as? ResidualAdapter {
        check(adapter.adapterDim == hyper.adapterDim, "\(name) has dimension \(adapter.adapterDim)")
      }
    default: break
    }
    if name == "encoder_norm" {
      if case .cloned = source {} else { found.append("encoder_norm is \(source), not cloned") }
    }
    if name == "head" {
      if let headSource {
        coverage.clonedHeads += 1
        check(source == .cloned(headSource), "head is \(source), expected a clone of #\(headSource)")
      } else {
        coverage.freshHeads += 1
        check(source == .fresh, "head is \(source) with no unlocked head of the task in the lineage")
      }
    }
  }

  // The bar is the parent's score when it solves the same task.
  let parentScore = state.score(of: parent, scorer: Scorer(settings: config.score))
  let bar = parent.task == PlannerFixture.task ? parentScore : nil
  check(plan.bar == bar, "bar \(String(describing: plan.bar)), expected \(String(describing: bar))")

  // The planned components make a model of the planned configuration.
  do {
    _ = try SystemState.assemble(
      config: state.modelConfig(hyper, classCount: PlannerFixture.classCount),
      components: state.materialize(plan, classCount: PlannerFixture.classCount))
  } catch {
    found.append("child \(plan.index) of path \(parent.id) does not assemble: \(error)")
  }
  return found
}

/// Plans `count` children of every parent of `fixture` and returns the violations.
private func planAll(_ fixture: PlannerFixture, count: Int, coverage: inout Coverage) throws -> [String] {
  var found: [String] = []
  for parent in fixture.parents {
    for index in 0..<count {
      let key = StreamKey(seed: 5).child("child", index)
      let (data, _) = fixture.planner.dataHyperparameters(best: fixture.second, key: key.child("data"))
      let plan = try fixture.plan(parent: parent, index: index)
      found += violations(plan, parent: parent, data: data, fixture: fixture, coverage: &coverage)
    }
  }
  return found
}

@Test func plannedChildrenKeepTheInvariants() throws {
  let fixture = try PlannerFixture(config: try Fixtures.smokeConfig())
  var coverage = Coverage()
  let found = try planAll(fixture, count: 150, coverage: &coverage)
  #expect(found.count == 0, "\(found.count) violations, first: \(found.prefix(5))")
  // Every kind of source and mutation happened at least once.
  #expect(coverage.shared > 0 && coverage.clonedLocked > 0 && coverage.resized > 0)
  #expect(coverage.freshHeads > 0 && coverage.clonedHeads > 0 && coverage.addedAdapters > 0)
  let stepped: Set<HyperKey> = [.mu, .adapterDim, .layerCount, .learningRate, .schedule, .momentum, .nesterov]
  #expect(stepped.isSubset(of: coverage.steppedKeys), "stepped: \(coverage.steppedKeys)")
}

@Test func keysWithoutRangeAndDisabledAdaptersStayPut() throws {
  var config = try Fixtures.smokeConfig()
  config.ranges[HyperKey.momentum.position] = nil
  config.ranges[HyperKey.layerCount.position] = nil
  config.mutation.adapters = false
  let fixture = try PlannerFixture(config: config)
  var coverage = Coverage()
  let found = try planAll(fixture, count: 60, coverage: &coverage)
  #expect(found.count == 0, "\(found.count) violations, first: \(found.prefix(5))")
  #expect(coverage.addedAdapters == 0)
  #expect(!coverage.steppedKeys.contains(.momentum) && !coverage.steppedKeys.contains(.layerCount))
  #expect(coverage.steppedKeys.contains(.learningRate))
}

@Test func planningIsAFunctionOfTheKey() throws {
  let fixture = try PlannerFixture(config: try Fixtures.smokeConfig())
  var distinct = Set<[String]>()
  for parent in fixture.parents {
    for index in 0..<20 {
      let plan = try fixture.plan(parent: parent, index: index)
      let again = try fixture.plan(parent: parent, index: index)
      #expect(plan.hyperparameters == again.hyperparameters && plan.mutations == again.mutations)
      #expect(plan.components.map(\.name) == again.components.map(\.name))
      #expect(plan.components.map(\.source) == again.components.map(\.source))
      #expect(plan.factor == again.factor && plan.bar == again.bar)
      distinct.insert(plan.mutations)
    }
  }
  #expect(distinct.count > 10, "the mutations hardly depend on the key: \(distinct.count) distinct lists")
}

@Test func perMutationRatesStayInsideMuRange() throws {
  var config = try Fixtures.smokeConfig()
  config.mutation.perMutationMu = true
  let fixture = try PlannerFixture(config: config)
  var coverage = Coverage()
  #expect(try planAll(fixture, count: 60, coverage: &coverage).count == 0)
  var rates = 0
  var moved = 0
  // Chains of children, each planned from the previous one committed as a path: rates are
  // inherited and step along mu_range, never leaving it.
  for chain in 0..<4 {
    var parent = fixture.first
    for generation in 0..<25 {
      let key = StreamKey(seed: 6).child("chain", chain).child("generation", generation)
      let (data, _) = fixture.planner.dataHyperparameters(best: parent, key: key.child("data"))
      let plan = try fixture.planner.plan(
        index: 0, parentID: parent.id, parentVia: "test", data: data, key: key)
      let hyper = plan.hyperparameters
      for rate in hyper.mutationRates {
        rates += 1
        #expect(config.muRange.contains(rate.micros), "_mu_|\(rate.name) = \(rate.micros)")
        #expect(rate.name.hasPrefix("hp:") || rate.name.hasPrefix("add:") || rate.name.hasPrefix("clone:"))
        if rate.micros != hyper.mu { moved += 1 }
      }
      let written = hyper.json.objectValue!.members.filter { $0.key.hasPrefix("_mu_|") }
      #expect(written.count == hyper.mutationRates.count)
      parent = fixture.state.commitTestChild(
        plan, task: PlannerFixture.task, classCount: PlannerFixture.classCount,
        validation: Quality(correct: 50, count: 100))
    }
  }
  #expect(rates > 100 && moved > 10, "\(rates) rates, \(moved) differ from µ")
}

@Test func zeroMuFiresNothingButForcedClones() throws {
  var config = try Fixtures.smokeConfig()
  config.defaults[.mu] = .decimal(0)
  config.ranges[HyperKey.mu.position] = nil
  for perMutation in [false, true] {
    config.mutation.perMutationMu = perMutation
    let fixture = try PlannerFixture(config: config)
    let planner = fixture.planner
    for parent in fixture.parents {
      for index in 0..<40 {
        let key = StreamKey(seed: 7).child("child", index)
        let (data, dataMutations) = planner.dataHyperparameters(best: fixture.second, key: key.child("data"))
        #expect(dataMutations.isEmpty)
        for dataKey in HyperKey.allCases where dataKey.isData {
          #expect(data[dataKey] == fixture.second.hyperparameters[dataKey])
        }
        let plan = try planner.plan(
          index: index, parentID: parent.id, parentVia: "test", data: data, key: key)
        #expect(plan.mutations.isEmpty, "\(plan.mutations)")
        #expect(plan.hyperparameters.mutationRates.isEmpty)
        for hyperKey in HyperKey.allCases where !hyperKey.isData {
          #expect(plan.hyperparameters[hyperKey] == parent.hyperparameters[hyperKey])
        }
        #expect(plan.hyperparameters.adapterLayers == parent.hyperparameters.adapterLayers)
        for (name, source) in plan.components {
          switch source {
          case .shared(let id):
            #expect(!config.mutation.forceClone.contains(name) && fixture.state.component(id).isLocked)
          case .cloned(let id):
            let locked = fixture.state.component(id).isLocked
            #expect(!locked || config.mutation.forceClone.contains(name), "\(name) #\(id) cloned")
          case .resized, .fresh: break
          }
        }
      }
    }
  }
}

@Test func certainMuClonesEveryLockedComponentAndAddsEveryAdapter() throws {
  var config = try Fixtures.smokeConfig()
  config.defaults[.mu] = .decimal(1_000_000)
  config.ranges[HyperKey.mu.position] = nil
  let fixture = try PlannerFixture(config: config)
  for parent in fixture.parents {
    for index in 0..<30 {
      let plan = try fixture.plan(parent: parent, index: index)
      let hyper = plan.hyperparameters
      #expect(hyper.adapterLayers == Array(0..<hyper.layerCount))
      #expect(!plan.components.contains { if case .shared = $0.source { true } else { false } })
      for hyperKey in HyperKey.allCases where !hyperKey.isData && hyperKey != .mu {
        guard let range = config.range(hyperKey) else { continue }
        // Every key steps: it changes unless it sat at an end of its range and stepped outwards.
        let before = parent.hyperparameters[hyperKey]
        let atEnd = before == range.first || before == range.last
        #expect(hyper[hyperKey] != before || atEnd, "\(hyperKey.rawValue) did not step")
      }
    }
  }
}
