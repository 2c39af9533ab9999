import MuNetModel
import MuNetRuntime
import MuNetStorage
import MuNetTraining

/// Makes the state a run starts from: a new system around a root, or a continuation of an
/// existing system (`--from`), and opens the store it is committed to.
public enum SystemBuilder {
  /// Opens the run in `directory`: resumes it when it holds a system of the same configuration;
  /// otherwise creates it (new, or continuing `from`). Returns the state and store to run.
  public static func prepare(
    config: EvolutionConfig, directory: String, from source: String?, run: JSONObject
  ) throws(EvolutionError) -> (SystemState, SystemStore, resumed: Bool) {
    if SystemStore.holdsSystem(directory) {
      let (store, state, stored) = try SystemStore.open(directory: directory)
      guard stored.json == config.json else {
        throw .directory(
          path: directory,
          problem: "holds a run of a different configuration (or seed); use a new --out to start another run")
      }
      try checkRun(store.run, run, directory: directory)
      return (state, store, true)
    }
    let store = try SystemStore.create(directory: directory)
    store.run = run
    let state: SystemState
    var sourceDigest: String?
    if let source {
      (state, sourceDigest) = try continuation(of: source, config: config, into: store)
    } else {
      state = try newSystem(config)
      for id in state.componentIDs {
        store.stage(componentID: id, bytes: ComponentFile.encode(state.component(id).component))
      }
    }
    state.history.append(.object(JSONObject([
      ("stage", .integer(Int64(state.stage))), ("config_sha256", .string(SHA256.hash(config.json.canonicalBytes).hex)),
      // The continued system by content, not by path: where it lived does not change results.
      ("from_sha256", sourceDigest.map { .string($0) } ?? .null),
    ])))
    try store.commit(state: state, config: config)
    return (state, store, false)
  }

  /// Results of Tiers 0 and 1 do not depend on the thread count, so a run may resume with
  /// other threads; Tier 2 (OpenBLAS) results do, so it must resume with the same tier and
  /// threads.
  static func checkRun(_ recorded: JSONObject, _ current: JSONObject, directory: String) throws(EvolutionError) {
    let recordedTier = recorded["tier"]?.stringValue ?? ""
    let currentTier = current["tier"]?.stringValue ?? ""
    let deterministic = ["reference", "threads"]
    if deterministic.contains(recordedTier) && deterministic.contains(currentTier) { return }
    guard recordedTier == currentTier, recorded["threads"] == current["threads"] else {
      throw .directory(
        path: directory,
        problem: "was run with --tier \(recordedTier) and \(recorded["threads"]?.canonicalText ?? "?") threads; "
          + "Tier 2 results depend on both, so resume with the same")
    }
  }

  /// A new system: the root path alone, its components locked by the root pseudo-task.
  public static func newSystem(_ config: EvolutionConfig) throws(EvolutionError) -> SystemState {
    let architecture = config.root.architecture
    let factory = ComponentFactory(architecture: architecture)
    let state = SystemState(factory: factory, rootID: 0)
    let rootComponents: [any ViTComponent]
    switch config.root {
    case .seeded(let a):
      let key = StreamKey(seed: config.seed).child("root")
      let grid = config.defaults.imageSize / a.patchSize
      var list: [any ViTComponent] = ["embedding", "cls", "posembed_input"].map { name in
        factory.fresh(name, tokenCount: grid * grid + 1, adapterDim: 1, classCount: 1, initKey: key.child("init", name))
      }
      for layer in 0..<a.layers {
        let name = "encoderblock_\(layer)"
        list.append(factory.fresh(name, tokenCount: 1, adapterDim: 1, classCount: 1, initKey: key.child("init", name)))
      }
      list.append(factory.fresh("encoder_norm", tokenCount: 1, adapterDim: 1, classCount: 1, initKey: key.child("init", "encoder_norm")))
      rootComponents = list
    case .file(let path, let a):
      rootComponents = try Self.rootComponents(file: path, architecture: a, factory: factory)
    }
    var ids: [Int] = []
    for component in rootComponents {
      component.parameters.setTrainable(false)
      let id = state.allocateComponentID()
      let digest = SHA256.hash(ComponentFile.encode(component)).hex
      state.insert(StoredComponent(id: id, component: component, locks: [SystemState.rootTask], digest: digest))
      ids.append(id)
    }
    var hyper = config.defaults
    if let table = rootComponents.first(where: { $0 is PositionEmbedding }) as? PositionEmbedding {
      hyper[.imageSize] = .integer(table.gridSize * architecture.patchSize)
    }
    // The root holds all its blocks; its children use the first `num_layers` (the configured
    // default, e.g. 3 of a 12-block checkpoint) and may grow to `layers_max`.
    let root = EvolutionPath(
      id: state.allocatePathID(), task: SystemState.rootTask, parent: nil, hyperparameters: hyper,
      componentIDs: ids, classCount: 0)
    state.insert(root)
    state.rootID = root.id
    return state
  }

  /// The root's components from `path`: a `munet train` model file (its architecture must be the
  /// recorded one), or a plain safetensors ViT checkpoint with munet's (vit_jax) tensor names,
  /// read by the recorded architecture (extra tensors, such as a head or blocks beyond
  /// `layers`, are ignored). The head is dropped: every task gets its own.
  static func rootComponents(
    file path: String, architecture a: EvolutionConfig.RootArchitecture, factory: ComponentFactory
  ) throws(EvolutionError) -> [any ViTComponent] {
    let file: SafeTensorsFile
    do { file = try SafeTensors.read(path: path, limitBytes: ModelFile.fileBytesMax) } catch {
      throw .file(path: path, problem: "\(error)")
    }
    if file.metadata(ModelFile.formatKey) != nil {
      let model: ViTModel
      do { model = try ModelFile.load(path: path).model } catch { throw .file(path: path, problem: "\(error)") }
      let c = model.config
      guard c.patchSize == a.patchSize, c.channels == a.channels, c.width == a.width, c.heads == a.heads,
            c.mlpDim == a.mlpDim, c.layerCount == a.layers else {
        throw .file(path: path, problem: "the model's architecture differs from the one the configuration records")
      }
      guard c.adapterDims.allSatisfy({ $0 == nil }) else {
        throw .file(path: path, problem: "a root with residual adapters is not supported")
      }
      return model.components.filter { !($0 is Head) }
    }
    let names = ["embedding", "cls", "posembed_input"] + (0..<a.layers).map { "encoderblock_\($0)" } + ["encoder_norm"]
    var components: [any ViTComponent] = []
    for name in names {
      components.append(try factory.load(file, name: name, source: path, onlyThisComponent: false))
    }
    return components
  }

  /// A continuation of the system in `source`: every path and component carried over (the
  /// files copied after verification; the source is only read), the cursor reset for the new
  /// configuration's tasks. Also returns the source's system digest.
  static func continuation(
    of source: String, config: EvolutionConfig, into store: SystemStore
  ) throws(EvolutionError) -> (SystemState, digest: String) {
    let (sourceStore, state, sourceConfig) = try SystemStore.open(directory: source)
    let digest = SystemDigest.system(state: state, store: sourceStore, config: sourceConfig)
    guard state.cursor.finished else {
      throw .directory(path: source, problem: "its run has not finished; finish it before continuing from it")
    }
    guard sourceConfig.root.architecture == config.root.architecture else {
      throw .config(source: source, problems: ["root: the architecture differs from the system's (\(source))"])
    }
    for task in config.tasks {
      if let known = state.taskInfo(task.name), known.isPrivate != task.isPrivate {
        throw .config(source: source, problems: ["tasks: \(task.name) changes its privacy"])
      }
    }
    try store.stageCopies(of: state, from: sourceStore)
    state.stage += 1
    state.cursor = Cursor()
    state.population = []
    state.seeds = []
    return (state, digest)
  }
}
