import MuNetModel
import MuNetStorage

/// The manifest's JSON form of a system (spec/formats.md, "System directory").
///
/// `{format, config, state, journal}` is the digested body; the file adds `run` (tier, threads,
/// version: facts that do not change results) and `sha256`, the SHA-256 of the canonical text
/// of everything else.
enum ManifestCodec {
  static func body(state: SystemState, config: EvolutionConfig, journal: JSONValue) -> JSONObject {
    JSONObject([
      ("format", .string(SystemStore.formatName)), ("config", config.json), ("state", stateJSON(state)),
      ("journal", journal),
    ])
  }

  static func stateJSON(_ state: SystemState) -> JSONValue {
    func int(_ value: Int) -> JSONValue { .integer(Int64(value)) }
    func ids(_ list: [Int]) -> JSONValue { .array(list.map(int)) }
    func quality(_ value: Quality?) -> JSONValue {
      value.map { .array([int($0.correct), int($0.count)]) } ?? .null
    }
    var retained = JSONObject()
    for (task, id) in state.retainedPaths { retained.set(task, int(id)) }
    let paths: [JSONValue] = state.pathIDs.map { id in
      let path = state.path(id)
      var offspring = JSONObject()
      for entry in path.offspring { offspring.set(entry.task, int(entry.count)) }
      return .object(JSONObject([
        ("id", int(path.id)), ("task", .string(path.task)), ("parent", path.parent.map(int) ?? .null),
        ("class_count", int(path.classCount)), ("hyperparameters", path.hyperparameters.json),
        ("components", ids(path.componentIDs)), ("validation", quality(path.validation)),
        ("test", quality(path.test)), ("outputs_sha256", path.outputsDigest.map { .string($0) } ?? .null),
        ("offspring", .object(offspring)),
      ]))
    }
    let components: [JSONValue] = state.componentIDs.map { id in
      let stored = state.component(id)
      return .object(JSONObject([
        ("id", int(id)), ("name", .string(stored.name)), ("sha256", .string(stored.digest)),
        ("parameters", int(stored.parameterCount)), ("locks", .array(stored.locks.map { .string($0) })),
      ]))
    }
    let cursor = state.cursor
    return .object(JSONObject([
      ("stage", int(state.stage)),
      ("cursor", .object(JSONObject([
        ("round", int(cursor.round)), ("task_index", int(cursor.taskIndex)), ("generation", int(cursor.generation)),
        ("task_started", .bool(cursor.taskStarted)), ("finished", .bool(cursor.finished)),
      ]))),
      ("next_path_id", int(state.nextPathID)), ("next_component_id", int(state.nextComponentID)),
      ("root", int(state.rootID)), ("retained", .object(retained)),
      ("tasks", .array(state.tasks.map { task in
        .object(JSONObject([
          ("name", .string(task.name)), ("class_count", int(task.classCount)), ("private", .bool(task.isPrivate)),
        ]))
      })),
      ("population", ids(state.population)), ("seeds", ids(state.seeds)),
      ("paths", .array(paths)), ("components", .array(components)), ("history", .array(state.history)),
    ]))
  }

  static func config(_ manifest: JSONObject) throws(EvolutionError) -> EvolutionConfig {
    guard let json = manifest["config"] else { throw .format("the manifest has no config") }
    return try EvolutionConfig.parse(json, source: "the manifest's config")
  }

  /// Rebuilds the state; `load(id, name, digest)` reads and verifies one component.
  static func state(
    _ manifest: JSONObject, config: EvolutionConfig,
    load: (Int, String, String) throws(EvolutionError) -> any ViTComponent
  ) throws(EvolutionError) -> SystemState {
    let reader = StateReader(object: manifest["state"]?.objectValue ?? JSONObject())
    guard manifest["state"]?.objectValue != nil else { throw .format("the manifest has no state") }
    let state = SystemState(
      factory: ComponentFactory(architecture: config.root.architecture), rootID: try reader.int("root"))
    state.stage = try reader.int("stage")
    let cursor = try reader.object("cursor")
    let cursorReader = StateReader(object: cursor)
    state.cursor.round = try cursorReader.int("round")
    state.cursor.taskIndex = try cursorReader.int("task_index")
    state.cursor.generation = try cursorReader.int("generation")
    state.cursor.taskStarted = try cursorReader.bool("task_started")
    state.cursor.finished = try cursorReader.bool("finished")
    try checkCursor(state.cursor, config: config)
    // Read first: ids are below them, so allocating the next id never overflows.
    let nextPathID = try reader.int("next_path_id")
    let nextComponentID = try reader.int("next_component_id")
    guard nextPathID <= idLimit, nextComponentID <= idLimit else {
      throw .format("next_path_id and next_component_id must be at most \(idLimit)")
    }
    for entry in try reader.array("components") {
      let item = StateReader(object: entry.objectValue ?? JSONObject())
      let id = try item.int("id")
      guard id < nextComponentID, state.components[id] == nil else {
        throw .format("component id \(id) is repeated or not below next_component_id")
      }
      let name = try item.string("name")
      let digest = try item.string("sha256")
      let locks = try item.array("locks").map { value throws(EvolutionError) in
        guard let text = value.stringValue else { throw .format("component \(id): locks must be strings") }
        return text
      }
      let component = try load(id, name, digest)
      guard component.parameterCount == (try item.int("parameters")) else {
        throw .format("component \(id): parameter count differs from its file")
      }
      state.insert(StoredComponent(id: id, component: component, locks: locks, digest: digest))
    }
    for entry in try reader.array("paths") {
      let path = try path(entry, state: state, config: config)
      guard path.id < nextPathID, state.paths[path.id] == nil else {
        throw .format("path id \(path.id) is repeated or not below next_path_id")
      }
      state.insert(path)
    }
    guard let root = state.paths[state.rootID], root.task == SystemState.rootTask, root.parent == nil else {
      throw .format("the root path \(state.rootID) is missing or is not the root")
    }
    for (task, value) in try reader.object("retained").members.map({ ($0.key, $0.value) }) {
      guard let id = value.integerValue.flatMap({ Int(exactly: $0) }), state.paths[id] != nil else {
        throw .format("retained path of \(task) is missing")
      }
      state.setRetained(task, id)
    }
    for entry in try reader.array("tasks") {
      let item = StateReader(object: entry.objectValue ?? JSONObject())
      let task = (try item.string("name"), try item.int("class_count"), try item.bool("private"))
      guard state.taskInfo(task.0) == nil, (1...classCountMax).contains(task.1) else {
        throw .format("task \(task.0) is listed twice or its class_count is outside 1...\(classCountMax)")
      }
      state.tasks.append(task)
    }
    state.population = try reader.ids("population", in: state)
    state.seeds = try reader.ids("seeds", in: state)
    state.history = try reader.array("history")
    state.nextPathID = max(state.nextPathID, nextPathID)
    state.nextComponentID = max(state.nextComponentID, nextComponentID)
    try checkReferences(state, config: config)
    return state
  }

  /// The largest id (and next id) a manifest may hold: far above any run, far below overflow.
  static let idLimit = 1 << 48
  /// The largest class count of a task or path (``MuNetData/LoadLimits`` allows labels below 2^16).
  static let classCountMax = 1 << 16

  /// The cursor must be one the evolver can produce for this configuration: a finished run
  /// stands at the end of its last round; otherwise the round is within the configured rounds,
  /// and a task not started yet is at generation 0.
  private static func checkCursor(_ cursor: Cursor, config: EvolutionConfig) throws(EvolutionError) {
    let atEnd = cursor.round == config.rounds && cursor.taskIndex == 0 && cursor.generation == 0
      && !cursor.taskStarted
    let inside = cursor.round < config.rounds && cursor.taskIndex < config.tasks.count
      && cursor.generation <= config.generations && (cursor.taskStarted || cursor.generation == 0)
    guard cursor.finished ? atEnd : inside else { throw .format("the cursor is outside the configuration") }
  }

  /// What the evolver relies on without checking: retained paths belong to their task, the
  /// task being evolved is known, and every path but the root assembles into a model (its
  /// components fit its hyperparameters and class count).
  private static func checkReferences(_ state: SystemState, config: EvolutionConfig) throws(EvolutionError) {
    for (task, id) in state.retainedPaths {
      guard state.path(id).task == task, state.taskInfo(task) != nil else {
        throw .format("the retained path \(id) of \(task) is not a path of that known task")
      }
    }
    let cursor = state.cursor
    if cursor.taskStarted && !cursor.finished {
      guard let task = state.taskInfo(config.tasks[cursor.taskIndex].name) else {
        throw .format("the task in progress is not among the system's tasks")
      }
      for id in state.population
      where state.path(id).task != task.name || state.path(id).classCount != task.classCount {
        throw .format("population path \(id) does not belong to the task in progress")
      }
    }
    for id in state.pathIDs where id != state.rootID {
      let path = state.path(id)
      do { _ = try state.model(of: path) } catch { throw .format("path \(id) does not assemble: \(error)") }
    }
  }

  private static func path(
    _ json: JSONValue, state: SystemState, config: EvolutionConfig
  ) throws(EvolutionError) -> EvolutionPath {
    let item = StateReader(object: json.objectValue ?? JSONObject())
    let id = try item.int("id")
    let componentIDs = try item.array("components").map { value throws(EvolutionError) -> Int in
      guard let raw = value.integerValue, let componentID = Int(exactly: raw), state.components[componentID] != nil else {
        throw .format("path \(id) refers to a component that is not in the manifest")
      }
      return componentID
    }
    let parent: Int? = try item.optionalInt("parent")
    // Parents are created before their children (and re-linked only to older ancestors), so a
    // parent id is smaller: no cycles, and it was read before.
    if let parent, parent >= id || state.paths[parent] == nil {
      throw .format("path \(id): parent \(parent) is not an earlier path")
    }
    var offspring: [(task: String, count: Int)] = []
    for member in try item.object("offspring").members {
      guard let count = member.value.integerValue.flatMap({ Int(exactly: $0) }), count >= 0 else {
        throw .format("path \(id): offspring counts must be integers")
      }
      offspring.append((member.key, count))
    }
    let hyperparameters = try Hyperparameters.parse(item.value("hyperparameters"))
    // Every value within the domain any configuration of this architecture allows (a path of
    // an earlier stage may exceed this stage's ranges, never the domain).
    var domain = config
    domain.layersMax = EvolutionConfig.layersMaxLimit
    for key in HyperKey.allCases
    where !EvolutionConfig.valueIsValid(hyperparameters[key], key: key, config: domain) {
      throw .format("path \(id): hyperparameter \(key.rawValue) = \(hyperparameters[key]) is outside its range")
    }
    let classCount = try item.int("class_count")
    guard classCount <= classCountMax else { throw .format("path \(id): class_count above \(classCountMax)") }
    return EvolutionPath(
      id: id, task: try item.string("task"), parent: parent,
      hyperparameters: hyperparameters, componentIDs: componentIDs,
      classCount: classCount, validation: try item.quality("validation"),
      test: try item.quality("test"), outputsDigest: try item.optionalString("outputs_sha256"), offspring: offspring)
  }
}

/// Typed field access with messages that name the field.
struct StateReader {
  let object: JSONObject

  func value(_ key: String) throws(EvolutionError) -> JSONValue {
    guard let value = object[key] else { throw .format("field \(key) is missing") }
    return value
  }

  func int(_ key: String) throws(EvolutionError) -> Int {
    guard let raw = try value(key).integerValue, let result = Int(exactly: raw), result >= 0 else {
      throw .format("field \(key) must be a non-negative integer")
    }
    return result
  }

  func optionalInt(_ key: String) throws(EvolutionError) -> Int? {
    if try value(key) == .null { return nil }
    return try int(key)
  }

  func bool(_ key: String) throws(EvolutionError) -> Bool {
    guard let result = try value(key).boolValue else { throw .format("field \(key) must be true or false") }
    return result
  }

  func string(_ key: String) throws(EvolutionError) -> String {
    guard let result = try value(key).stringValue else { throw .format("field \(key) must be a string") }
    return result
  }

  func optionalString(_ key: String) throws(EvolutionError) -> String? {
    if try value(key) == .null { return nil }
    return try string(key)
  }

  func array(_ key: String) throws(EvolutionError) -> [JSONValue] {
    guard let result = try value(key).arrayValue else { throw .format("field \(key) must be a list") }
    return result
  }

  func object(_ key: String) throws(EvolutionError) -> JSONObject {
    guard let result = try value(key).objectValue else { throw .format("field \(key) must be an object") }
    return result
  }

  func quality(_ key: String) throws(EvolutionError) -> Quality? {
    let raw = try value(key)
    if raw == .null { return nil }
    guard let pair = raw.arrayValue, pair.count == 2, let correct = pair[0].integerValue, let count = pair[1].integerValue,
          correct >= 0, correct <= count, count <= Int64(Int32.max) else {
      throw .format("field \(key) must be [correct, count]")
    }
    return Quality(correct: Int(correct), count: Int(count))
  }

  func ids(_ key: String, in state: SystemState) throws(EvolutionError) -> [Int] {
    try array(key).map { value throws(EvolutionError) -> Int in
      guard let raw = value.integerValue, let id = Int(exactly: raw), state.paths[id] != nil else {
        throw .format("field \(key) refers to a path that is not in the manifest")
      }
      return id
    }
  }
}
