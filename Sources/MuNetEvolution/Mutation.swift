import MuNetModel
import MuNetRuntime
import MuNetStorage

/// Where a child's component comes from.
public enum ComponentSource: Equatable, Sendable {
  /// The stored (locked) component, referenced frozen.
  case shared(Int)
  /// A trainable copy of a stored component.
  case cloned(Int)
  /// The root's position embedding resized to a new grid (trainable).
  case resized(Int)
  /// Freshly initialised (trainable).
  case fresh
}

/// A child, fully decided before any child of its generation trains.
public struct ChildPlan: Sendable {
  public let index: Int
  public let parentID: Int
  /// How the parent was chosen: `population`, `seed` or `uniform`.
  public let parentVia: String
  public let hyperparameters: Hyperparameters
  /// (component name, source) in forward order.
  public let components: [(name: String, source: ComponentSource)]
  /// The mutations that fired, in the order they were decided (journal text).
  public let mutations: [String]
  /// The score the child must reach to be kept (its same-task parent's), or nil.
  public let bar: Int64?
  /// The child's score factor (its accounted parameters do not change while it trains).
  public let factor: Int64
  /// The key under which its fresh components are initialised.
  public let key: StreamKey
}

/// Integer random decisions (µ: millionths; all Bernoulli draws are exact integer tests).
enum Draw {
  /// True with probability `micros / 10⁶`.
  static func fires(_ micros: Int64, _ stream: inout RandomStream) -> Bool {
    stream.nextBool(numerator: UInt64(micros), denominator: UInt64(HyperValue.decimalOne))
  }

  /// µ2Net `incremental_mutation`: one step down or up (probability 1/2 each) along `range`,
  /// clamped at the ends. `value` must be in `range`.
  static func step<T: Equatable>(_ value: T, in range: [T], _ stream: inout RandomStream) -> T? {
    guard let index = range.firstIndex(of: value) else { return nil }
    let up = stream.nextBool(numerator: 1, denominator: 2)
    return range[min(range.count - 1, max(0, index + (up ? 1 : -1)))]
  }
}

/// Chooses parents and mutates them into children (µ2Net `PPDecay.sample_path`, `Path.clone`).
struct ChildPlanner {
  let config: EvolutionConfig
  let state: SystemState
  let scorer: Scorer
  let task: String
  let classCount: Int

  // MARK: Parent sampling

  /// µ2Net parent sampling: a decay walk over the active population sorted by score
  /// (descending; equal scores keep population order), accepting a path with probability
  /// 0.5^(its children for this task); then the same walk over the seeds, rotating the seed
  /// list past an accepted seed; then a uniform choice over population + seeds.
  func sampleParent(_ key: StreamKey) -> (id: Int, via: String, seeds: [Int]) {
    var stream = key.stream
    let scored = state.population.map { (id: $0, score: state.score(of: state.path($0), scorer: scorer) ?? Int64.min) }
    let ranked = scored.enumerated().sorted { lhs, rhs in
      lhs.element.score != rhs.element.score ? lhs.element.score > rhs.element.score : lhs.offset < rhs.offset
    }.map(\.element.id)
    for id in ranked where stream.nextBool(halfPower: state.path(id).offspringCount(for: task)) {
      return (id, "population", state.seeds)
    }
    for (position, id) in state.seeds.enumerated()
    where stream.nextBool(halfPower: state.path(id).offspringCount(for: task)) {
      let rotated = Array(state.seeds[(position + 1)...] + state.seeds[...position])
      return (id, "seed", rotated)
    }
    let candidates = state.population + state.seeds
    precondition(!candidates.isEmpty, "no parent candidates: the root is always a seed")
    return (candidates[stream.nextInt(below: candidates.count)], "uniform", state.seeds)
  }

  // MARK: Data hyperparameters (per generation)

  /// µ2Net `sample_ds_hparams`: the defaults, overwritten by the task's current best path,
  /// then each `ds_*` key with a range steps with probability µ (the configured default).
  func dataHyperparameters(best: EvolutionPath?, key: StreamKey) -> (Hyperparameters, [String]) {
    var hyper = config.defaults
    var mutations: [String] = []
    if let best {
      for dataKey in HyperKey.allCases where dataKey.isData { hyper[dataKey] = best.hyperparameters[dataKey] }
    }
    for dataKey in HyperKey.allCases where dataKey.isData {
      guard let range = config.range(dataKey) else { continue }
      var stream = key.child("hparam", dataKey.rawValue).stream
      guard Draw.fires(config.defaults.mu, &stream) else { continue }
      if let value = Draw.step(hyper[dataKey], in: range, &stream), value != hyper[dataKey] {
        mutations.append("hp:\(dataKey.rawValue) \(hyper[dataKey]) -> \(value)")
        hyper[dataKey] = value
      }
    }
    return (hyper, mutations)
  }

  // MARK: Children

  /// Child `index` of a generation: its parent was chosen by ``sampleParent(_:)``.
  func plan(
    index: Int, parentID: Int, parentVia: String, data: Hyperparameters, key: StreamKey
  ) throws(EvolutionError) -> ChildPlan {
    let parent = state.path(parentID)
    var hyper = parent.hyperparameters
    for dataKey in HyperKey.allCases where dataKey.isData { hyper[dataKey] = data[dataKey] }
    var decider = MutationDecider(config: config, key: key)
    for hyperKey in HyperKey.allCases where !hyperKey.isData {
      guard let range = config.range(hyperKey) else { continue }
      decider.mutate(hyperKey, in: range, hyper: &hyper)
    }
    let layerCount = hyper.layerCount
    hyper.adapterLayers.removeAll { $0 >= layerCount }
    if config.mutation.adapters {
      for layer in 0..<hyper.layerCount where !hyper.adapterLayers.contains(layer) {
        if decider.fires("add:residual_adapter_\(layer)", hyper: &hyper) {
          hyper.adapterLayers.append(layer)
        }
      }
      hyper.adapterLayers.sort()
    }
    let names = Self.componentNames(hyper)
    var components: [(name: String, source: ComponentSource)] = []
    let lineage = [parent] + state.ancestors(of: parent)
    for name in names {
      components.append((name, try resolve(name, hyper: &hyper, lineage: lineage, decider: &decider)))
    }
    let parentScore = parent.task == task ? state.score(of: parent, scorer: scorer) : nil
    let factor = childFactor(hyper: hyper, components: components)
    return ChildPlan(
      index: index, parentID: parentID, parentVia: parentVia, hyperparameters: hyper, components: components,
      mutations: decider.fired, bar: parentScore, factor: factor, key: key)
  }

  /// A baseline child (``EvolutionConfig/Baseline``): built from the root by a fixed recipe with
  /// the configured default hyperparameters; nothing is drawn.
  func planBaseline(_ baseline: EvolutionConfig.Baseline, index: Int, key: StreamKey) -> ChildPlan {
    let root = state.root
    var hyper = config.defaults
    hyper.adapterLayers = []
    if case .adapters(let dim) = baseline {
      hyper[.adapterDim] = .integer(dim)
      hyper.adapterLayers = Array(0..<hyper.layerCount)
    }
    let grid = hyper.imageSize / state.factory.architecture.patchSize
    var components: [(name: String, source: ComponentSource)] = []
    for name in Self.componentNames(hyper) {
      let rootID = root.componentIDs.first { state.component($0).name == name }
      components.append((name, Self.baselineSource(baseline, name: name, rootID: rootID, state: state, grid: grid)))
    }
    return ChildPlan(
      index: index, parentID: root.id, parentVia: "baseline", hyperparameters: hyper, components: components,
      mutations: [], bar: nil, factor: childFactor(hyper: hyper, components: components), key: key)
  }

  private static func baselineSource(
    _ baseline: EvolutionConfig.Baseline, name: String, rootID: Int?, state: SystemState, grid: Int
  ) -> ComponentSource {
    if case .scratch = baseline { return .fresh }
    guard let rootID else { return .fresh }
    if let table = state.component(rootID).component as? PositionEmbedding, table.tokenCount != grid * grid + 1 {
      return .resized(rootID)
    }
    switch (baseline, ComponentFactory.Kind(name: name)) {
    case (.finetuneAll, _), (_, .encoderNorm?): return .cloned(rootID)
    case (.freezeBottom(let layers), .block(let index)?): return index < layers ? .shared(rootID) : .cloned(rootID)
    default: return .shared(rootID)
    }
  }

  /// The component names of a path with `hyper`, in forward order (µ2Net's param-name list).
  static func componentNames(_ hyper: Hyperparameters) -> [String] {
    var names = ["embedding", "cls", "posembed_input"]
    for layer in 0..<hyper.layerCount {
      if hyper.adapterLayers.contains(layer) { names.append("residual_adapter_\(layer)") }
      names.append("encoderblock_\(layer)")
    }
    return names + ["encoder_norm", "head"]
  }

  /// µ2Net component resolution: the nearest ancestor holding a fitting component named
  /// `name`; unlocked ones are always cloned, locked ones cloned with probability µ (always
  /// for `force_clone`), else shared. Heads are taken only unlocked (so only from this task).
  private func resolve(
    _ name: String, hyper: inout Hyperparameters, lineage: [EvolutionPath], decider: inout MutationDecider
  ) throws(EvolutionError) -> ComponentSource {
    let grid = hyper.imageSize / state.factory.architecture.patchSize
    let tokenCount = grid * grid + 1
    for ancestor in lineage {
      guard let id = ancestor.componentIDs.first(where: { state.component($0).name == name }) else { continue }
      let stored = state.component(id)
      switch stored.component {
      case let table as PositionEmbedding where table.tokenCount != tokenCount: continue
      case let adapter as ResidualAdapter where adapter.adapterDim != hyper.adapterDim: continue
      case let head as Head where stored.isLocked || head.classCount != classCount: continue
      default: break
      }
      if !stored.isLocked || config.mutation.forceClone.contains(name) { return .cloned(id) }
      return decider.fires("clone:\(name)", hyper: &hyper) ? .cloned(id) : .shared(id)
    }
    if name == "posembed_input" {
      let rootTable = state.root.componentIDs.first { state.component($0).name == name }
      guard let rootTable else { throw .model("the root has no posembed_input") }
      return .resized(rootTable)
    }
    switch ComponentFactory.Kind(name: name) {
    case .head, .block, .adapter: return .fresh
    default: throw .model("no ancestor holds \(name)")
    }
  }

  /// The score factor of a planned child: shared components count their users plus this task.
  private func childFactor(hyper: Hyperparameters, components: [(name: String, source: ComponentSource)]) -> Int64 {
    let modelConfig = state.modelConfig(hyper, classCount: classCount)
    var accounted = 0.0
    let counts = Self.parameterCounts(modelConfig)
    for (name, source) in components {
      if case .shared(let id) = source {
        accounted += state.accountedParameters(componentIDs: [id], task: task)
      } else {
        accounted += Double(counts(name))
      }
    }
    return scorer.factor(accountedParameters: accounted, flops: Scorer.forwardFLOPs(modelConfig))
  }

  /// Parameters of each component of a model of `config`, by name.
  static func parameterCounts(_ config: ViTConfig) -> (String) -> Int {
    let d = config.width
    return { name in
      switch ComponentFactory.Kind(name: name)! {
      case .embedding: config.patchFeatures * d + d
      case .classToken: d
      case .positionEmbedding: config.tokenCount * d
      case .encoderNorm: 2 * d
      case .head: (d + 1) * config.classCount
      case .block: 4 * d * d + 4 * d + 2 * d * config.mlpDim + config.mlpDim + d + 4 * d
      case .adapter(let layer): 2 * d + (2 * d + 1) * (config.adapterDims[layer] ?? 0) + d
      }
    }
  }
}

/// Decides whether mutations fire: with one µ per path (µ2Net) or per mutation (µ2Net+).
/// Every decision draws from its own stream, keyed by the child and the mutation's name.
struct MutationDecider {
  let config: EvolutionConfig
  let key: StreamKey
  private(set) var fired: [String] = []

  init(config: EvolutionConfig, key: StreamKey) {
    self.config = config
    self.key = key
  }

  /// Whether mutation `name` fires for a child with `hyper`: with probability µ (`_mu_`), or
  /// with µ2Net+ the mutation's own rate, which first steps along the µ range with probability
  /// µ and is stored in `hyper`.
  mutating func fires(_ name: String, hyper: inout Hyperparameters) -> Bool {
    var stream = key.child("mutate", name).stream
    var rate = hyper.mu
    if config.mutation.perMutationMu {
      rate = hyper.mutationRate(name)
      if Draw.fires(hyper.mu, &stream), let stepped = Draw.step(rate, in: config.muRange, &stream) {
        rate = stepped
        hyper.setMutationRate(name, rate)
      }
    }
    let result = Draw.fires(rate, &stream)
    if result { fired.append(name) }
    return result
  }

  /// With probability µ (or its own rate), step `key` along `range`. A value outside the
  /// range (possible after `--from` with new ranges) is left unchanged.
  mutating func mutate(_ hyperKey: HyperKey, in range: [HyperValue], hyper: inout Hyperparameters) {
    let name = "hp:\(hyperKey.rawValue)"
    var stream = key.child("step", hyperKey.rawValue).stream
    let before = hyper[hyperKey]
    guard fires(name, hyper: &hyper) else { return }
    fired.removeLast()
    guard let value = Draw.step(before, in: range, &stream), value != before else { return }
    hyper[hyperKey] = value
    fired.append("\(name) \(before) -> \(value)")
  }
}
