import Foundation
import MuNetData
import MuNetModel
import MuNetRuntime
import MuNetStorage
import Testing

@testable import MuNetEvolution

// Helpers shared by the evolution tests: fixtures, hand-built systems, temporary directories.

enum Fixtures {
  /// The repository root (the directory holding fixtures/data), found from the working directory.
  static func repositoryRoot() throws -> String {
    try #require(
      DataLocations.repositoryRoot(), "no repository root (fixtures/data) above the working directory")
  }

  /// fixtures/configs/smoke.json.
  static func smokeConfigPath() throws -> String { try repositoryRoot() + "/fixtures/configs/smoke.json" }

  static func smokeConfig() throws -> EvolutionConfig {
    try EvolutionConfig.load(path: try smokeConfigPath())
  }

  /// The smoke configuration shrunk for in-process runs: 2 rounds of 1 generation of 2 children.
  static func reducedSmokeConfig(seed: UInt64 = 0) throws -> EvolutionConfig {
    var config = try smokeConfig()
    config.seed = seed
    config.rounds = 2
    config.generations = 1
    config.childrenPerGeneration = 2
    return config
  }
}

/// A fresh empty directory under the system's temporary directory; `body` runs with it, then it
/// is removed (also when `body` throws).
func withTemporaryDirectory<T>(_ label: String, _ body: (String) throws -> T) throws -> T {
  let path = NSTemporaryDirectory() + "munet-evolution-tests-\(label)-" + UUID().uuidString
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(atPath: path) }
  return try body(path)
}

// MARK: Hand-built systems

extension SystemState {
  /// A system with a component-less root path (enough for parent sampling under the default
  /// score, whose factor does not depend on components).
  static func bare(_ config: EvolutionConfig) -> SystemState {
    let state = SystemState(factory: ComponentFactory(architecture: config.root.architecture), rootID: 0)
    state.insert(EvolutionPath(
      id: 0, task: SystemState.rootTask, parent: nil, hyperparameters: config.defaults, componentIDs: [],
      classCount: 0))
    return state
  }

  /// Adds a component-less path of `task` with `correct` of 100 validation examples (nil: none)
  /// and `offspring` children for `task`.
  @discardableResult
  func addBarePath(id: Int, task: String, correct: Int?, offspring: Int = 0, config: EvolutionConfig) -> Int {
    insert(EvolutionPath(
      id: id, task: task, parent: 0, hyperparameters: config.defaults, componentIDs: [], classCount: 10,
      validation: correct.map { Quality(correct: $0, count: 100) },
      offspring: offspring == 0 ? [] : [(task: task, count: offspring)]))
    return id
  }

  /// Adds a path of `task` whose components are those its hyperparameters name: the stored ids
  /// in `reuse` (which gain `locks`), the rest freshly initialised, frozen and locked by `locks`.
  @discardableResult
  func addTestPath(
    task: String, parent: Int?, hyper: Hyperparameters, classCount: Int, reuse: [String: Int] = [:],
    locks: [String], validation: Quality?
  ) -> EvolutionPath {
    let modelConfig = self.modelConfig(hyper, classCount: classCount)
    var ids: [Int] = []
    for name in ChildPlanner.componentNames(hyper) {
      if let id = reuse[name] {
        for lock in locks { component(id).addLock(lock) }
        ids.append(id)
        continue
      }
      let component = factory.fresh(
        name, tokenCount: modelConfig.tokenCount, adapterDim: hyper.adapterDim, classCount: classCount,
        initKey: StreamKey(seed: 99).child("test-path", nextPathID).child(name))
      component.parameters.setTrainable(false)
      let id = allocateComponentID()
      insert(StoredComponent(id: id, component: component, locks: locks, digest: ""))
      ids.append(id)
    }
    let path = EvolutionPath(
      id: allocatePathID(), task: task, parent: parent, hyperparameters: hyper, componentIDs: ids,
      classCount: classCount, validation: validation)
    insert(path)
    return path
  }

  /// The components of a planned child, made as the evolver makes them (copies, resized
  /// tables, fresh components), in forward order.
  func materialize(_ plan: ChildPlan, classCount: Int) -> [any ViTComponent] {
    let modelConfig = self.modelConfig(plan.hyperparameters, classCount: classCount)
    return plan.components.map { name, source in
      switch source {
      case .shared(let id): return component(id).component
      case .cloned(let id): return ComponentFactory.copy(component(id).component, trainable: true)
      case .resized(let id):
        let table = component(id).component as! PositionEmbedding
        return table.resized(toGrid: modelConfig.gridSize, trainable: true)
      case .fresh:
        return factory.fresh(
          name, tokenCount: modelConfig.tokenCount, adapterDim: plan.hyperparameters.adapterDim,
          classCount: classCount, initKey: plan.key.child("init", name))
      }
    }
  }

  /// Commits a planned child as a path of `task` (new components unlocked), as the evolver does
  /// with a kept child.
  @discardableResult
  func commitTestChild(
    _ plan: ChildPlan, task: String, classCount: Int, validation: Quality
  ) -> EvolutionPath {
    var ids: [Int] = []
    for ((_, source), component) in zip(plan.components, materialize(plan, classCount: classCount)) {
      if case .shared(let id) = source {
        ids.append(id)
        continue
      }
      component.parameters.setTrainable(false)
      let id = allocateComponentID()
      insert(StoredComponent(id: id, component: component, locks: [], digest: ""))
      ids.append(id)
    }
    let path = EvolutionPath(
      id: allocatePathID(), task: task, parent: plan.parentID, hyperparameters: plan.hyperparameters,
      componentIDs: ids, classCount: classCount, validation: validation)
    insert(path)
    return path
  }

  /// The id of the component named `name` in `path`, if any.
  func componentID(named name: String, in path: EvolutionPath) -> Int? {
    path.componentIDs.first { component($0).name == name }
  }
}

/// A system to plan children in: the smoke configuration's random root; task "other" with a
/// retained path (one adapter, one block; locked by "other", sharing the root's embedding and
/// position table); and the active task "t" with two unlocked population paths, `first` (two
/// blocks, an adapter on layer 1, 16-pixel images, sharing the root's embedding) and `second`
/// (child of `first`: one block with an 8-wide adapter, 8-pixel images).
struct PlannerFixture {
  static let task = "t"
  static let classCount = 10

  let config: EvolutionConfig
  let state: SystemState
  let other: EvolutionPath
  let first: EvolutionPath
  let second: EvolutionPath

  init(config: EvolutionConfig) throws {
    self.config = config
    state = try SystemBuilder.newSystem(config)
    let root = state.root
    let rootEmbedding = try #require(state.componentID(named: "embedding", in: root))
    let rootTable = try #require(state.componentID(named: "posembed_input", in: root))

    var otherHyper = config.defaults
    otherHyper[.layerCount] = .integer(1)
    otherHyper.adapterLayers = [0]
    otherHyper[.imageSize] = root.hyperparameters[.imageSize]
    other = state.addTestPath(
      task: "other", parent: root.id, hyper: otherHyper, classCount: 10,
      reuse: ["embedding": rootEmbedding, "posembed_input": rootTable], locks: ["other"],
      validation: Quality(correct: 40, count: 100))
    state.tasks.append((name: "other", classCount: 10, isPrivate: false))
    state.setRetained("other", other.id)

    var firstHyper = config.defaults
    firstHyper[.layerCount] = .integer(2)
    firstHyper.adapterLayers = [1]
    firstHyper[.imageSize] = .integer(16)
    first = state.addTestPath(
      task: Self.task, parent: root.id, hyper: firstHyper, classCount: Self.classCount,
      reuse: ["embedding": rootEmbedding], locks: [], validation: Quality(correct: 60, count: 100))

    var secondHyper = config.defaults
    secondHyper[.layerCount] = .integer(1)
    secondHyper.adapterLayers = [0]
    secondHyper[.adapterDim] = .integer(8)
    secondHyper[.imageSize] = .integer(8)
    second = state.addTestPath(
      task: Self.task, parent: first.id, hyper: secondHyper, classCount: Self.classCount, locks: [],
      validation: Quality(correct: 70, count: 100))
    state.tasks.append((name: Self.task, classCount: Self.classCount, isPrivate: false))
    state.population = [first.id, second.id]
    state.seeds = [root.id, other.id]
  }

  var planner: ChildPlanner {
    ChildPlanner(
      config: config, state: state, scorer: Scorer(settings: config.score), task: Self.task,
      classCount: Self.classCount)
  }

  /// Every parent a child of "t" can have here: the population and the seeds.
  var parents: [EvolutionPath] { [first, second, state.root, other] }

  /// Child `index`'s plan from `parent` with this generation's data hyperparameters.
  func plan(parent: EvolutionPath, index: Int, seed: UInt64 = 5) throws -> ChildPlan {
    let key = StreamKey(seed: seed).child("child", index)
    let (data, _) = planner.dataHyperparameters(best: second, key: key.child("data"))
    return try planner.plan(index: index, parentID: parent.id, parentVia: "test", data: data, key: key)
  }
}
