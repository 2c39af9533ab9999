import MuNetModel
import MuNetRuntime
import MuNetStorage

/// Correct answers out of a number of examples: a validation or test result.
public struct Quality: Equatable, Sendable {
  public var correct: Int
  public var count: Int

  public init(correct: Int, count: Int) {
    self.correct = correct
    self.count = count
  }

  /// For display only; decisions use the integers.
  public var accuracy: Double { count == 0 ? 0 : Double(correct) / Double(count) }
}

/// One model of the system (µ2Net `Path`): which components it runs, in forward order, its
/// hyperparameters, its metrics and its parent.
public final class EvolutionPath {
  public let id: Int
  /// The task it solves (``SystemState/rootTask`` for the root).
  public let task: String
  /// The nearest surviving ancestor (nil for the root).
  public internal(set) var parent: Int?
  public let hyperparameters: Hyperparameters
  /// Component ids in forward order: embedding, cls, posembed_input, then per layer the
  /// optional adapter and the block, encoder_norm, and (except the root) head.
  public let componentIDs: [Int]
  public let classCount: Int
  /// The kept (best) validation.
  public internal(set) var validation: Quality?
  public internal(set) var test: Quality?
  /// SHA-256 of its logits on the first test examples, recorded when its task ended.
  public internal(set) var outputsDigest: String?
  /// Children created from this path, per task (µ2Net `offsprings_per_task`), by task name.
  public internal(set) var offspring: [(task: String, count: Int)]

  init(
    id: Int, task: String, parent: Int?, hyperparameters: Hyperparameters, componentIDs: [Int], classCount: Int,
    validation: Quality? = nil, test: Quality? = nil, outputsDigest: String? = nil,
    offspring: [(task: String, count: Int)] = []
  ) {
    self.id = id
    self.task = task
    self.parent = parent
    self.hyperparameters = hyperparameters
    self.componentIDs = componentIDs
    self.classCount = classCount
    self.validation = validation
    self.test = test
    self.outputsDigest = outputsDigest
    self.offspring = offspring
  }

  public func offspringCount(for task: String) -> Int { offspring.first { $0.task == task }?.count ?? 0 }

  func addOffspring(for task: String) {
    if let index = offspring.firstIndex(where: { $0.task == task }) {
      offspring[index].count += 1
    } else {
      offspring.append((task, 1))
      offspring.sort { JSONObject.keyPrecedes($0.task, $1.task) }
    }
  }
}

/// Where a run is: the next thing to do. Committed after every generation and task end.
public struct Cursor: Equatable, Sendable {
  public var round = 0
  public var taskIndex = 0
  /// The next generation of the current task iteration.
  public var generation = 0
  /// True once `start_task` ran for the current task iteration.
  public var taskStarted = false
  public var finished = false

  public init() {}
}

/// The whole system: components, paths, the retained path of every task, and the state of the
/// task iteration in progress. Everything needed to continue a run bit-identically is here
/// (and in the manifest written from it).
public final class SystemState {
  /// The pseudo-task that locks the root's components (µ2Net `NOT_TRAINABLE`).
  public static let rootTask = "_root"

  public let factory: ComponentFactory
  /// By id. Read through ``component(_:)``; iterate ``componentIDs`` (sorted) only.
  private(set) var components: [Int: StoredComponent] = [:]
  private(set) var paths: [Int: EvolutionPath] = [:]
  public internal(set) var rootID: Int
  /// The retained path of every task that has finished an iteration, by task name.
  private(set) var retained: [String: Int] = [:]
  /// Tasks known to the system in introduction order, with class counts and privacy.
  public internal(set) var tasks: [(name: String, classCount: Int, isPrivate: Bool)] = []
  /// The active population of the current task iteration (path ids in insertion order).
  public internal(set) var population: [Int] = []
  /// The seeds of the current task iteration, in their current (rotated) order.
  public internal(set) var seeds: [Int] = []
  public internal(set) var cursor = Cursor()
  /// 0 for a new system, k for the k-th continuation (`--from`).
  public internal(set) var stage = 0
  public internal(set) var nextPathID = 0
  public internal(set) var nextComponentID = 0
  /// One entry per stage: the configuration's SHA-256 and the system it continued.
  public internal(set) var history: [JSONValue] = []

  init(factory: ComponentFactory, rootID: Int) {
    self.factory = factory
    self.rootID = rootID
  }

  // MARK: Lookup

  public func component(_ id: Int) -> StoredComponent { components[id]! }
  public func path(_ id: Int) -> EvolutionPath { paths[id]! }
  public var root: EvolutionPath { path(rootID) }
  public var componentIDs: [Int] { components.keys.sorted() }
  public var pathIDs: [Int] { paths.keys.sorted() }
  /// (task, path id) of every retained path, by task name in byte order.
  public var retainedPaths: [(task: String, id: Int)] {
    retained.keys.sorted { JSONObject.keyPrecedes($0, $1) }.map { ($0, retained[$0]!) }
  }
  public func retainedPath(of task: String) -> Int? { retained[task] }
  public func taskInfo(_ name: String) -> (name: String, classCount: Int, isPrivate: Bool)? {
    tasks.first { $0.name == name }
  }

  // MARK: Mutation of the state (used by the evolver and the store)

  func insert(_ component: StoredComponent) {
    precondition(components[component.id] == nil, "component \(component.id) exists")
    components[component.id] = component
    nextComponentID = max(nextComponentID, component.id + 1)
  }

  func insert(_ path: EvolutionPath) {
    precondition(paths[path.id] == nil, "path \(path.id) exists")
    paths[path.id] = path
    nextPathID = max(nextPathID, path.id + 1)
  }

  func setRetained(_ task: String, _ id: Int?) { retained[task] = id }

  func allocatePathID() -> Int {
    defer { nextPathID += 1 }
    return nextPathID
  }

  func allocateComponentID() -> Int {
    defer { nextComponentID += 1 }
    return nextComponentID
  }

  /// Removes every path not in `keep` (root and retained paths), re-links the survivors'
  /// parents to their nearest surviving ancestor, and drops components no path uses.
  func prune(keeping keep: Set<Int>) {
    for id in pathIDs where keep.contains(id) {
      let path = paths[id]!
      var parent = path.parent
      while let candidate = parent, !keep.contains(candidate) { parent = paths[candidate]?.parent }
      path.parent = parent
    }
    for id in pathIDs where !keep.contains(id) { paths[id] = nil }
    var used = Set<Int>()
    for id in pathIDs { used.formUnion(paths[id]!.componentIDs) }
    for id in componentIDs where !used.contains(id) { components[id] = nil }
  }

  // MARK: Derived quantities

  /// The ancestors of `path`, nearest first (parent, its parent, …, the root).
  public func ancestors(of path: EvolutionPath) -> [EvolutionPath] {
    var result: [EvolutionPath] = []
    var next = path.parent
    while let id = next, let ancestor = paths[id] {
      result.append(ancestor)
      next = ancestor.parent
    }
    return result
  }

  /// µ2Net `accounted_num_params`: Σ params(c) / |locks(c) ∪ {task} \ {root}| in component
  /// order, in `Double` (a fixed order of IEEE operations: the same bits everywhere).
  public func accountedParameters(componentIDs: [Int], task: String) -> Double {
    var total = 0.0
    for id in componentIDs {
      let stored = component(id)
      var users = Set(stored.locks)
      users.insert(task)
      users.remove(SystemState.rootTask)
      // The root path itself (task `_root`) has no other user: it counts as one.
      total += Double(stored.parameterCount) / Double(max(1, users.count))
    }
    return total
  }

  /// Total parameters of a path's components.
  public func parameterCount(of path: EvolutionPath) -> Int {
    path.componentIDs.reduce(0) { $0 + component($1).parameterCount }
  }

  /// The ViT configuration of a path with these hyperparameters and classes.
  public func modelConfig(_ hyper: Hyperparameters, classCount: Int) -> ViTConfig {
    let a = factory.architecture
    var adapterDims = [Int?](repeating: nil, count: hyper.layerCount)
    for layer in hyper.adapterLayers where layer < hyper.layerCount { adapterDims[layer] = hyper.adapterDim }
    return ViTConfig(
      imageSize: hyper.imageSize, patchSize: a.patchSize, channels: a.channels, width: a.width, heads: a.heads,
      mlpDim: a.mlpDim, layerCount: hyper.layerCount, classCount: classCount, adapterDims: adapterDims)
  }

  /// The model of `path` over the stored (shared, frozen) components.
  public func model(of path: EvolutionPath) throws(EvolutionError) -> ViTModel {
    try Self.assemble(
      config: modelConfig(path.hyperparameters, classCount: path.classCount),
      components: path.componentIDs.map { component($0).component })
  }

  /// A model from components in forward order.
  static func assemble(config: ViTConfig, components: [any ViTComponent]) throws(EvolutionError) -> ViTModel {
    var adapters = [ResidualAdapter?](repeating: nil, count: config.layerCount)
    var blocks: [EncoderBlock] = []
    var embedding: PatchEmbedding?, classToken: ClassToken?, position: PositionEmbedding?
    var norm: EncoderNorm?, head: Head?
    for component in components {
      switch component {
      case let c as PatchEmbedding: embedding = c
      case let c as ClassToken: classToken = c
      case let c as PositionEmbedding: position = c
      case let c as EncoderNorm: norm = c
      case let c as Head: head = c
      case let c as EncoderBlock: blocks.append(c)
      case let c as ResidualAdapter where c.index < adapters.count: adapters[c.index] = c
      default: throw .model("component \(component.name) does not fit the path")
      }
    }
    guard let embedding, let classToken, let position, let norm, let head else {
      throw .model("a path lacks one of embedding, cls, posembed_input, encoder_norm, head")
    }
    do {
      return try ViTModel(
        config: config, embedding: embedding, classToken: classToken, positionEmbedding: position,
        adapters: adapters, blocks: blocks, encoderNorm: norm, head: head)
    } catch {
      throw .model("\(error)")
    }
  }
}
