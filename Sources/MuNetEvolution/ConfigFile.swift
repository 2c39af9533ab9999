import MuNetData
import MuNetModel
import MuNetStorage
import MuNetTraining

/// Reading and writing run configurations (JSON). Unknown keys are errors, so a misspelt
/// setting never silently falls back to its default. The canonical form (``EvolutionConfig/json``)
/// spells out every setting, defaults included; a system directory stores it, and a resumed
/// run must present the same one.
extension EvolutionConfig {
  public static let fileBytesMax = 1 << 20

  /// Reads and checks the configuration file at `path`: everything ``parse(_:source:)`` checks,
  /// and that every task's dataset can be found (``datasetProblems()``), all reported at once
  /// before any work starts.
  public static func load(path: String) throws(EvolutionError) -> EvolutionConfig {
    let bytes: [UInt8]
    do { bytes = try readFile(path, limitBytes: fileBytesMax) } catch {
      throw .file(path: path, problem: "\(error)")
    }
    let json: JSONValue
    do { json = try JSONValue.parse(bytes) } catch {
      throw .file(path: path, problem: "not valid JSON: \(error)")
    }
    let (config, problems) = read(json)
    let all = problems + (config?.datasetProblems() ?? [])
    guard let config, all.isEmpty else { throw .config(source: path, problems: all) }
    return config
  }

  /// The configuration in `json`; `source` names it in errors. Every problem is reported at once:
  /// the keys, types and values the reader refuses, then every setting out of its range.
  public static func parse(_ json: JSONValue, source: String) throws(EvolutionError) -> EvolutionConfig {
    let (config, problems) = read(json)
    guard let config, problems.isEmpty else { throw .config(source: source, problems: problems) }
    return config
  }

  /// The configuration in `json` (nil when it is not an object) and every problem found.
  private static func read(_ json: JSONValue) -> (EvolutionConfig?, [String]) {
    var reader = ConfigReader()
    guard let config = reader.read(json) else {
      return (nil, reader.problems.isEmpty ? ["unreadable"] : reader.problems)
    }
    return (config, reader.problems + config.problems())
  }

  /// The tasks whose dataset cannot be found: a registered name whose files are missing, or a
  /// path that does not exist (the files themselves are read and checked when a task starts).
  ///
  /// A derived task (`mnist/rotated:90`, spec/data.md) is checked by its base and its parts.
  public func datasetProblems(locations: DataLocations = .fromEnvironment()) -> [String] {
    var found: [String] = []
    for task in tasks {
      var base = task.name
      do {
        let derived = try DerivedDatasetName.parse(task.name) { name in
          DatasetRegistry.named(name) != nil || FileSystemAccess.exists(name)
        }
        if let derived { base = derived.base }
      } catch {
        found.append("tasks: '\(task.name)': \(error)")
        continue
      }
      let what = base == task.name ? "" : " (the base of '\(task.name)')"
      if let dataset = DatasetRegistry.named(base) {
        if !DatasetRegistry.isPresent(dataset, in: locations) {
          found.append("tasks: the files of dataset '\(base)'\(what) are missing (scripts/fetch-data)")
        }
      } else if !base.isEmpty && !FileSystemAccess.exists(base) {
        found.append("tasks: '\(base)'\(what) is neither a registered dataset nor an existing file or folder")
      }
    }
    return found
  }

  /// Everything wrong with the settings (empty when valid).
  public func problems() -> [String] {
    var found: [String] = []
    func check(_ condition: Bool, _ message: @autoclosure () -> String) {
      if !condition { found.append(message()) }
    }
    check(!tasks.isEmpty, "tasks: at least one task is needed")
    check(Set(tasks.map(\.name)).count == tasks.count, "tasks: a task is listed twice")
    for task in tasks {
      check(!task.name.isEmpty && !task.name.hasPrefix("_"), "tasks: '\(task.name)' is not a task name")
    }
    check((1...1000).contains(rounds), "rounds must be in 1...1000")
    check((1...100_000).contains(generations), "generations must be in 1...100000")
    check((1...1024).contains(childrenPerGeneration), "children_per_generation must be in 1...1024")
    check((0...Self.layersMaxLimit).contains(layersMax), "layers_max must be in 0...\(Self.layersMaxLimit)")
    do {
      // The model file's limits (ModelFile.ConfigLimits), so a configuration cannot ask for a
      // model no file could hold; the patch at most the largest image size.
      let root = root.architecture
      typealias Limits = ModelFile.ConfigLimits
      let patchMax = Self.imageSizeMax
      check((1...patchMax).contains(root.patchSize), "root: patch_size must be in 1...\(patchMax)")
      check((1...Limits.channelsMax).contains(root.channels),
            "root: channels must be in 1...\(Limits.channelsMax)")
      check((1...Limits.widthMax).contains(root.width), "root: width must be in 1...\(Limits.widthMax)")
      check(root.heads >= 1 && root.heads <= root.width && root.width % root.heads == 0,
            "root: heads must divide width")
      check((1...Limits.mlpDimMax).contains(root.mlpDim), "root: mlp_dim must be in 1...\(Limits.mlpDimMax)")
      check(root.layers >= 0 && root.layers <= layersMax, "root: layers must be in 0...layers_max")
    }
    check((1...65_536).contains(training.batchSize), "training.batch_size must be in 1...65536")
    check((1...65_536).contains(training.evaluationBatchSize), "training.evaluation_batch_size must be in 1...65536")
    check((1...10_000).contains(training.validations), "training.validations must be in 1...10000")
    check(training.trainExamplesPerValidationMax >= 1, "training.train_examples_per_validation_max must be ≥ 1")
    check(training.validationExamplesMax >= 1, "training.validation_examples_max must be ≥ 1")
    check(training.maxGradientNormMicros > 0, "training.max_gradient_norm must be > 0")
    check(immutabilityExamples >= 1, "immutability_examples must be ≥ 1")
    switch baseline {
    case .freezeBottom(let layers)?:
      check((0...defaults.layerCount).contains(layers), "baseline.layers must be in 0...num_layers")
    case .adapters(let dim)?: check((1...65_536).contains(dim), "baseline.dim must be in 1...65536")
    default: break
    }
    check(score.sizeBaseMicros > 0 && score.sizeBaseMicros <= 1_000_000, "score.size_base must be in (0, 1]")
    check(score.flopsBaseMicros > 0 && score.flopsBaseMicros <= 1_000_000, "score.flops_base must be in (0, 1]")
    check(score.referenceParams >= 1 && score.flopsReference >= 1, "score references must be ≥ 1")
    check(!muRange.isEmpty && muRange.allSatisfy { (0...1_000_000).contains($0) }, "mu_range must hold values in [0, 1]")
    check(muRange == muRange.sorted() && Set(muRange).count == muRange.count, "mu_range must be ascending")
    for key in HyperKey.allCases {
      let value = defaults[key]
      check(Self.valueIsValid(value, key: key, config: self), "hyperparameters.defaults.\(key.rawValue): \(value) is not allowed")
      if let range = range(key) {
        check(!range.isEmpty, "hyperparameters.ranges.\(key.rawValue) is empty")
        check(Set(range).count == range.count, "hyperparameters.ranges.\(key.rawValue) repeats a value")
        for entry in range {
          check(Self.valueIsValid(entry, key: key, config: self), "hyperparameters.ranges.\(key.rawValue): \(entry) is not allowed")
        }
        check(range.contains(value), "hyperparameters.defaults.\(key.rawValue) (\(value)) is not in its range")
      }
    }
    check(defaults.adapterLayers.isEmpty, "hyperparameters.defaults: adapter_layers must be empty")
    if mutation.perMutationMu {
      // A rate steps along mu_range from the path's µ; a µ outside it would never move.
      let mus = (range(.mu) ?? [defaults[.mu]]).compactMap(\.micros)
      check(mus.allSatisfy(muRange.contains), "mutation.per_mutation_mu: every value of _mu_ must be in mu_range")
    }
    return found
  }

  /// Whether `value` is a legal value of `key` (right kind and within its documented domain).
  static func valueIsValid(_ value: HyperValue, key: HyperKey, config: EvolutionConfig) -> Bool {
    switch (key, value) {
    case (.adapterDim, .integer(let dim)): return (1...65_536).contains(dim)
    case (.imageSize, .integer(let size)):
      let patch = config.patchSize
      return size >= patch && size <= imageSizeMax && patch > 0 && size % patch == 0
    case (.layerCount, .integer(let layers)): return layers >= 0 && layers <= config.layersMax
    case (.mu, .decimal(let micros)): return (0...1_000_000).contains(micros)
    case (.areaRangeMin, .decimal(let micros)): return micros > 0 && micros <= 1_000_000
    case (.aspectRatioRangeMin, .decimal(let micros)): return micros >= 1_000 && micros <= 1_000_000
    case (.brightnessDelta, .decimal(let micros)), (.contrastDelta, .decimal(let micros)):
      return (0...1_000_000).contains(micros)
    case (.learningRate, .decimal(let micros)): return micros > 0 && micros <= 10_000_000
    case (.warmupRatio, .decimal(let micros)): return micros >= 0 && micros < 1_000_000
    case (.momentum, .decimal(let micros)): return micros >= 0 && micros < 1_000_000
    case (.schedule, .word(let word)): return ["constant", "cosine", "restarts", "linear"].contains(word)
    case (.crop, .flag), (.flipLeftRight, .flag), (.nesterov, .flag): return true
    default: return false
    }
  }

  /// The root's patch size.
  var patchSize: Int { root.architecture.patchSize }

  /// The largest `layers_max`.
  public static let layersMaxLimit = 64
  /// The largest `ds_image_size` (and root patch size).
  public static let imageSizeMax = 1024

  // MARK: Canonical form

  /// Every setting as canonical JSON (sorted keys, defaults spelt out).
  public var json: JSONValue {
    func decimal(_ micros: Int64) -> JSONValue { HyperValue.decimal(micros).json }
    var rootObject: JSONObject
    switch root {
    case .seeded(let a):
      rootObject = JSONObject([
        ("init", "random"), ("patch_size", .integer(Int64(a.patchSize))), ("channels", .integer(Int64(a.channels))),
        ("width", .integer(Int64(a.width))), ("heads", .integer(Int64(a.heads))),
        ("mlp_dim", .integer(Int64(a.mlpDim))), ("layers", .integer(Int64(a.layers))),
      ])
    case .file(let path, let a):
      rootObject = JSONObject([
        ("init", "file"), ("path", .string(path)),
        ("architecture", .object(JSONObject([
          ("patch_size", .integer(Int64(a.patchSize))), ("channels", .integer(Int64(a.channels))),
          ("width", .integer(Int64(a.width))), ("heads", .integer(Int64(a.heads))),
          ("mlp_dim", .integer(Int64(a.mlpDim))), ("layers", .integer(Int64(a.layers))),
        ]))),
      ])
    }
    var defaultsObject = JSONObject()
    var rangesObject = JSONObject()
    for key in HyperKey.allCases {
      defaultsObject.set(key.rawValue, defaults[key].json)
      rangesObject.set(key.rawValue, range(key).map { .array($0.map(\.json)) } ?? .null)
    }
    return .object(JSONObject([
      ("format", .string(Self.formatName)),
      ("tasks", .array(tasks.map { task in
        .object(JSONObject([("name", .string(task.name)), ("private", .bool(task.isPrivate))]))
      })),
      ("seed", .integer(Int64(bitPattern: seed))),
      ("rounds", .integer(Int64(rounds))),
      ("generations", .integer(Int64(generations))),
      ("children_per_generation", .integer(Int64(childrenPerGeneration))),
      ("layers_max", .integer(Int64(layersMax))),
      ("root", .object(rootObject)),
      ("training", .object(JSONObject([
        ("batch_size", .integer(Int64(training.batchSize))),
        ("evaluation_batch_size", .integer(Int64(training.evaluationBatchSize))),
        ("validations", .integer(Int64(training.validations))),
        ("train_examples_per_validation_max", .integer(Int64(training.trainExamplesPerValidationMax))),
        ("validation_examples_max", .integer(Int64(training.validationExamplesMax))),
        // The decimal as read. Written from the Float, 0.1 became 0.10000000149011612: more
        // than six decimals, which the reader refuses, so such a run could not be resumed.
        ("max_gradient_norm", decimal(training.maxGradientNormMicros)),
        ("tie_rule", .string(training.tieRule.rawValue)),
      ]))),
      ("mutation", .object(JSONObject([
        ("per_mutation_mu", .bool(mutation.perMutationMu)),
        ("adapters", .bool(mutation.adapters)),
        ("force_clone", .array(mutation.forceClone.map { .string($0) })),
      ]))),
      ("hyperparameters", .object(JSONObject([
        ("defaults", .object(defaultsObject)), ("ranges", .object(rangesObject)),
        ("mu_range", .array(muRange.map(decimal))),
      ]))),
      ("score", .object(JSONObject([
        ("size_base", decimal(score.sizeBaseMicros)), ("reference_params", .integer(Int64(score.referenceParams))),
        ("flops_base", decimal(score.flopsBaseMicros)), ("flops_reference", .integer(Int64(score.flopsReference))),
      ]))),
      ("immutability_examples", .integer(Int64(immutabilityExamples))),
    ] + baselineMember))
  }

  public static let formatName = "munet-evolve-config-1"

  /// `baseline` is written only when set (an evolution's canonical form has no such key).
  private var baselineMember: [(String, JSONValue)] {
    guard let baseline else { return [] }
    let object: JSONObject
    switch baseline {
    case .finetuneAll: object = JSONObject([("kind", "finetune_all")])
    case .freezeBottom(let layers): object = JSONObject([("kind", "freeze_bottom"), ("layers", .integer(Int64(layers)))])
    case .adapters(let dim): object = JSONObject([("kind", "adapters"), ("dim", .integer(Int64(dim)))])
    case .scratch: object = JSONObject([("kind", "scratch")])
    }
    return [("baseline", .object(object))]
  }
}

/// Reads a configuration object key by key, collecting every problem.
struct ConfigReader {
  var problems: [String] = []

  mutating func read(_ json: JSONValue) -> EvolutionConfig? {
    guard let top = json.objectValue else {
      problems.append("the configuration must be a JSON object")
      return nil
    }
    unknownKeys(top, allowed: [
      "format", "tasks", "seed", "rounds", "generations", "children_per_generation", "layers_max", "root",
      "training", "mutation", "hyperparameters", "score", "immutability_examples", "baseline",
    ], in: "")
    if let format = top["format"], format.stringValue != EvolutionConfig.formatName {
      problems.append("format must be \"\(EvolutionConfig.formatName)\"")
    }
    var config = EvolutionConfig(tasks: readTasks(top["tasks"]))
    config.seed = UInt64(bitPattern: integer(top["seed"], "seed") ?? 0)
    config.rounds = int(top["rounds"], "rounds") ?? config.rounds
    config.generations = int(top["generations"], "generations") ?? config.generations
    config.childrenPerGeneration = int(top["children_per_generation"], "children_per_generation")
      ?? config.childrenPerGeneration
    config.layersMax = int(top["layers_max"], "layers_max") ?? config.layersMax
    config.immutabilityExamples = int(top["immutability_examples"], "immutability_examples")
      ?? config.immutabilityExamples
    if let root = top["root"] { readRoot(root, into: &config) }
    if let training = top["training"] { readTraining(training, into: &config.training) }
    if let mutation = top["mutation"] { readMutation(mutation, into: &config.mutation) }
    if let score = top["score"] { readScore(score, into: &config.score) }
    // The standard ranges derive from two settings checked only later (problems()): clamped
    // here, so that an out-of-range value is reported instead of trapping or allocating.
    config.ranges = EvolutionConfig.standardRanges(
      layersMax: min(max(config.layersMax, 0), EvolutionConfig.layersMaxLimit),
      patchSize: min(max(config.patchSize, 1), EvolutionConfig.imageSizeMax))
    config.defaults[.layerCount] = .integer(config.root.architecture.layers)
    if let hyper = top["hyperparameters"] { readHyperparameters(hyper, into: &config) }
    if let baseline = top["baseline"], baseline != .null { config.baseline = readBaseline(baseline) }
    return config
  }

  private mutating func readTasks(_ json: JSONValue?) -> [EvolutionConfig.TaskSpec] {
    guard let list = json?.arrayValue else {
      problems.append("tasks: a list of task names (or objects with a name) is required")
      return []
    }
    var tasks: [EvolutionConfig.TaskSpec] = []
    for entry in list {
      if let name = entry.stringValue {
        tasks.append(.init(name: name))
      } else if let object = entry.objectValue, let name = object["name"]?.stringValue {
        unknownKeys(object, allowed: ["name", "private"], in: "tasks.")
        tasks.append(.init(name: name, isPrivate: flag(object["private"], "tasks.private") ?? false))
      } else {
        problems.append("tasks: each entry is a name or an object with a \"name\"")
      }
    }
    return tasks
  }

  private mutating func readRoot(_ json: JSONValue, into config: inout EvolutionConfig) {
    guard let object = object(json, "root") else { return }
    switch object["init"]?.stringValue {
    case "file":
      unknownKeys(object, allowed: ["init", "path", "architecture"], in: "root.")
      guard let path = object["path"]?.stringValue, !path.isEmpty else {
        problems.append("root.path: the model file is required with init \"file\"")
        return
      }
      // A system's manifest records the architecture, so it can be read without the file.
      if let recorded = object["architecture"] {
        guard let fields = self.object(recorded, "root.architecture") else { return }
        config.root = .file(path: path, architecture: readArchitecture(fields, prefix: "root.architecture."))
        return
      }
      do {
        let (model, _) = try ModelFile.load(path: path)
        let c = model.config
        let standard = ViTConfig.reference
        if c.geluForm != standard.geluForm || c.layerNormEpsilon != standard.layerNormEpsilon {
          problems.append("root.path: \(path) uses a GELU form or LayerNorm epsilon munet evolve does not support")
        }
        let architecture = EvolutionConfig.RootArchitecture(
          patchSize: c.patchSize, channels: c.channels, width: c.width, heads: c.heads, mlpDim: c.mlpDim,
          layers: c.layerCount)
        config.root = .file(path: path, architecture: architecture)
      } catch {
        problems.append(
          "root.path: \(error) (a plain safetensors ViT checkpoint needs root.architecture: patch_size, "
            + "channels, width, heads, mlp_dim, layers)")
      }
    case "random", nil:
      config.root = .seeded(readArchitecture(object, prefix: "root.", allowing: ["init"]))
    case let other?:
      problems.append("root.init must be \"random\" or \"file\", not \"\(other)\"")
    }
  }

  private mutating func readArchitecture(
    _ object: JSONObject, prefix: String, allowing extra: [String] = []
  ) -> EvolutionConfig.RootArchitecture {
    unknownKeys(object, allowed: extra + ["patch_size", "channels", "width", "heads", "mlp_dim", "layers"], in: prefix)
    var a = EvolutionConfig.RootArchitecture()
    a.patchSize = int(object["patch_size"], prefix + "patch_size") ?? a.patchSize
    a.channels = int(object["channels"], prefix + "channels") ?? a.channels
    a.width = int(object["width"], prefix + "width") ?? a.width
    a.heads = int(object["heads"], prefix + "heads") ?? a.heads
    a.mlpDim = int(object["mlp_dim"], prefix + "mlp_dim") ?? a.mlpDim
    a.layers = int(object["layers"], prefix + "layers") ?? a.layers
    return a
  }

  private mutating func readBaseline(_ json: JSONValue) -> EvolutionConfig.Baseline? {
    guard let object = object(json, "baseline") else { return nil }
    switch object["kind"]?.stringValue {
    case "finetune_all":
      unknownKeys(object, allowed: ["kind"], in: "baseline.")
      return .finetuneAll
    case "freeze_bottom":
      unknownKeys(object, allowed: ["kind", "layers"], in: "baseline.")
      guard let layers = int(object["layers"], "baseline.layers") else {
        problems.append("baseline.layers is required with freeze_bottom")
        return nil
      }
      return .freezeBottom(layers: layers)
    case "adapters":
      unknownKeys(object, allowed: ["kind", "dim"], in: "baseline.")
      guard let dim = int(object["dim"], "baseline.dim") else {
        problems.append("baseline.dim is required with adapters")
        return nil
      }
      return .adapters(dim: dim)
    case "scratch":
      unknownKeys(object, allowed: ["kind"], in: "baseline.")
      return .scratch
    default:
      problems.append("baseline.kind must be finetune_all, freeze_bottom, adapters or scratch")
      return nil
    }
  }

  private mutating func readTraining(_ json: JSONValue, into training: inout EvolutionConfig.Training) {
    guard let object = object(json, "training") else { return }
    unknownKeys(object, allowed: [
      "batch_size", "evaluation_batch_size", "validations", "train_examples_per_validation_max",
      "validation_examples_max", "max_gradient_norm", "tie_rule",
    ], in: "training.")
    training.batchSize = int(object["batch_size"], "training.batch_size") ?? training.batchSize
    training.evaluationBatchSize = int(object["evaluation_batch_size"], "training.evaluation_batch_size")
      ?? training.evaluationBatchSize
    training.validations = int(object["validations"], "training.validations") ?? training.validations
    training.trainExamplesPerValidationMax = int(
      object["train_examples_per_validation_max"], "training.train_examples_per_validation_max")
      ?? training.trainExamplesPerValidationMax
    training.validationExamplesMax = int(object["validation_examples_max"], "training.validation_examples_max")
      ?? training.validationExamplesMax
    if let norm = object["max_gradient_norm"] {
      if let micros = HyperValue.parse(norm, kind: .decimal)?.micros {
        training.maxGradientNormMicros = micros
      } else {
        problems.append("training.max_gradient_norm must be a number")
      }
    }
    if let rule = object["tie_rule"] {
      if let value = rule.stringValue.flatMap(TrainingSettings.TieRule.init(rawValue:)) {
        training.tieRule = value
      } else {
        problems.append("training.tie_rule must be \"latest\" or \"first\"")
      }
    }
  }

  private mutating func readMutation(_ json: JSONValue, into mutation: inout EvolutionConfig.Mutation) {
    guard let object = object(json, "mutation") else { return }
    unknownKeys(object, allowed: ["per_mutation_mu", "adapters", "force_clone"], in: "mutation.")
    mutation.perMutationMu = flag(object["per_mutation_mu"], "mutation.per_mutation_mu") ?? mutation.perMutationMu
    mutation.adapters = flag(object["adapters"], "mutation.adapters") ?? mutation.adapters
    if let list = object["force_clone"] {
      let names = list.arrayValue?.compactMap(\.stringValue)
      if let names, names.count == list.arrayValue?.count {
        mutation.forceClone = names
      } else {
        problems.append("mutation.force_clone must be a list of component names")
      }
    }
  }

  private mutating func readScore(_ json: JSONValue, into score: inout EvolutionConfig.Score) {
    guard let object = object(json, "score") else { return }
    unknownKeys(object, allowed: ["size_base", "reference_params", "flops_base", "flops_reference"], in: "score.")
    score.sizeBaseMicros = decimal(object["size_base"], "score.size_base") ?? score.sizeBaseMicros
    score.referenceParams = int(object["reference_params"], "score.reference_params") ?? score.referenceParams
    score.flopsBaseMicros = decimal(object["flops_base"], "score.flops_base") ?? score.flopsBaseMicros
    score.flopsReference = int(object["flops_reference"], "score.flops_reference") ?? score.flopsReference
  }

  private mutating func readHyperparameters(_ json: JSONValue, into config: inout EvolutionConfig) {
    guard let object = object(json, "hyperparameters") else { return }
    unknownKeys(object, allowed: ["defaults", "ranges", "mu_range"], in: "hyperparameters.")
    let keys = HyperKey.allCases.map(\.rawValue)
    if let defaults = object["defaults"], let members = self.object(defaults, "hyperparameters.defaults") {
      unknownKeys(members, allowed: keys, in: "hyperparameters.defaults.")
      for key in HyperKey.allCases {
        guard let raw = members[key.rawValue] else { continue }
        if let value = HyperValue.parse(raw, kind: key.kind) {
          config.defaults[key] = value
        } else {
          problems.append("hyperparameters.defaults.\(key.rawValue): \(raw.canonicalText) has the wrong type")
        }
      }
    }
    if let ranges = object["ranges"], let members = self.object(ranges, "hyperparameters.ranges") {
      unknownKeys(members, allowed: keys, in: "hyperparameters.ranges.")
      for key in HyperKey.allCases {
        guard let raw = members[key.rawValue] else { continue }
        if raw == .null {
          config.ranges[key.position] = nil
          continue
        }
        let values = raw.arrayValue?.compactMap { HyperValue.parse($0, kind: key.kind) }
        if let values, values.count == raw.arrayValue?.count {
          config.ranges[key.position] = values
        } else {
          problems.append("hyperparameters.ranges.\(key.rawValue) must be null or a list of values of its type")
        }
      }
    }
    if let list = object["mu_range"] {
      let values = list.arrayValue?.compactMap { HyperValue.parse($0, kind: .decimal)?.micros }
      if let values, values.count == list.arrayValue?.count {
        config.muRange = values
      } else {
        problems.append("hyperparameters.mu_range must be a list of numbers")
      }
    }
  }

  // MARK: Typed readers

  private mutating func object(_ json: JSONValue, _ name: String) -> JSONObject? {
    guard let object = json.objectValue else {
      problems.append("\(name) must be an object")
      return nil
    }
    return object
  }

  private mutating func unknownKeys(_ object: JSONObject, allowed: [String], in prefix: String) {
    for member in object.members where !allowed.contains(member.key) {
      problems.append("unknown setting \(prefix)\(member.key)")
    }
  }

  private mutating func integer(_ json: JSONValue?, _ name: String) -> Int64? {
    guard let json else { return nil }
    guard let value = json.integerValue else {
      problems.append("\(name) must be an integer")
      return nil
    }
    return value
  }

  private mutating func int(_ json: JSONValue?, _ name: String) -> Int? {
    integer(json, name).flatMap { Int(exactly: $0) }
  }

  private mutating func flag(_ json: JSONValue?, _ name: String) -> Bool? {
    guard let json else { return nil }
    guard let value = json.boolValue else {
      problems.append("\(name) must be true or false")
      return nil
    }
    return value
  }

  private mutating func decimal(_ json: JSONValue?, _ name: String) -> Int64? {
    guard let json else { return nil }
    guard let value = HyperValue.parse(json, kind: .decimal)?.micros else {
      problems.append("\(name) must be a number with at most six decimal places")
      return nil
    }
    return value
  }
}
