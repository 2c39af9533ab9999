import MuNetData
import MuNetModel
import MuNetRuntime
import MuNetStorage
import MuNetTraining

/// What happened to one child (journal and progress display).
public struct ChildOutcome: Sendable {
  public let plan: ChildPlan
  public let result: TrainingResult
  /// True when the child joined the population.
  public let kept: Bool
  /// Its path id when kept.
  public let pathID: Int?
  /// SHA-256 of its parameters after training (the kept snapshot when kept).
  public let parametersDigest: String
}

/// Receives progress from an ``Evolver`` (display and telemetry; never fed back).
public protocol EvolutionObserver: AnyObject {
  func taskStarted(round: Int, task: String, seeds: Int, population: Int)
  func childStarted(round: Int, task: String, generation: Int, plan: ChildPlan, steps: Int)
  /// Per-step progress (only when children train one at a time).
  func trainingStep(_ progress: TrainingProgress)
  /// A child finished training (before it is committed). `trainedAlone` is false when the
  /// children of the generation trained in parallel (they are reported after all finished).
  func childTrained(outcome: ChildOutcome, trainedAlone: Bool)
  func childFinished(round: Int, task: String, generation: Int, outcome: ChildOutcome)
  func taskEnded(round: Int, task: String, best: EvolutionPath, state: SystemState)
  func committed(cursor: Cursor)
}

/// Runs the µ2Net active-task loop over a ``SystemState``, committing to a ``SystemStore``
/// after every generation and every task end.
///
/// Every random decision draws from a stream keyed by (seed, stage, round, task, generation,
/// child, purpose); the children of a generation are planned before any trains and committed in
/// child order. So the result depends on the configuration and seed only: not on the thread
/// count, nor on where a previous process was interrupted.
public final class Evolver {
  public let config: EvolutionConfig
  public let state: SystemState
  public let store: SystemStore
  public let compute: Compute
  public weak var observer: EvolutionObserver?
  /// Train the children of a generation in parallel (one whole child per thread of `compute`,
  /// each with Tier 0 kernels) instead of one after the other with `compute`'s kernels. The
  /// bits are the same either way; this is faster for small models.
  public var trainsChildrenInParallel = false
  /// Stop (after the next commit) when this returns true: for tests that interrupt runs.
  public var stopAfterCommit: ((Cursor) -> Bool)?

  private let scorer: Scorer
  private var splitsByTask: [String: DatasetSplits] = [:]

  public init(config: EvolutionConfig, state: SystemState, store: SystemStore, compute: Compute) {
    self.config = config
    self.state = state
    self.store = store
    self.compute = compute
    scorer = Scorer(settings: config.score)
  }

  /// Runs until the configured rounds are done (or ``stopAfterCommit`` says stop).
  public func run() throws(EvolutionError) {
    while !state.cursor.finished {
      let task = config.tasks[state.cursor.taskIndex]
      if !state.cursor.taskStarted {
        try startTask(task)
        state.cursor.taskStarted = true
        state.cursor.generation = 0
      }
      if state.cursor.generation < config.generations {
        try runGeneration(task.name, generation: state.cursor.generation)
        state.cursor.generation += 1
      } else {
        try endTask(task.name)
        advanceCursor()
      }
      try store.commit(state: state, config: config)
      observer?.committed(cursor: state.cursor)
      if stopAfterCommit?(state.cursor) == true { return }
    }
  }

  private func advanceCursor() {
    state.cursor.taskStarted = false
    state.cursor.generation = 0
    state.cursor.taskIndex += 1
    if state.cursor.taskIndex == config.tasks.count {
      state.cursor.taskIndex = 0
      state.cursor.round += 1
      if state.cursor.round == config.rounds { state.cursor.finished = true }
    }
  }

  // MARK: Keys

  private func taskKey(_ task: String) -> StreamKey {
    StreamKey(seed: config.seed).child("stage", state.stage).child("round", state.cursor.round).child("task", task)
  }

  // MARK: Task start

  /// µ2Net `start_task`: the task's retained path (if any) is the population and loses the
  /// task's lock; the seeds are the root and every other non-private task's retained path,
  /// shuffled.
  private func startTask(_ spec: EvolutionConfig.TaskSpec) throws(EvolutionError) {
    let task = spec.name
    let splits = try splits(task)
    if state.taskInfo(task) == nil {
      state.tasks.append((task, splits.train.classCount, spec.isPrivate))
    }
    state.population = []
    if let id = state.retainedPath(of: task) {
      state.population = [id]
      for componentID in state.path(id).componentIDs { state.component(componentID).removeLock(task) }
    }
    var seeds = [state.rootID]
    for (other, id) in state.retainedPaths where other != task && state.taskInfo(other)?.isPrivate == false {
      seeds.append(id)
    }
    seeds.sort()
    var stream = taskKey(task).child("seeds").stream
    stream.shuffle(&seeds)
    state.seeds = seeds
    store.append(.object(JSONObject([
      ("event", "task_start"), ("stage", .integer(Int64(state.stage))), ("round", .integer(Int64(state.cursor.round))),
      ("task", .string(task)), ("population", ids(state.population)), ("seeds", ids(seeds)),
    ])))
    observer?.taskStarted(round: state.cursor.round, task: task, seeds: seeds.count, population: state.population.count)
  }

  // MARK: Generations

  private func runGeneration(_ task: String, generation: Int) throws(EvolutionError) {
    let key = taskKey(task).child("generation", generation)
    let classCount = state.taskInfo(task)!.classCount
    let planner = ChildPlanner(config: config, state: state, scorer: scorer, task: task, classCount: classCount)
    var (data, dataMutations) = (config.defaults, [String]())
    var plans: [ChildPlan] = []
    if let baseline = config.baseline {
      for child in 0..<config.childrenPerGeneration {
        plans.append(planner.planBaseline(baseline, index: child, key: key.child("child", child)))
      }
    } else {
      (data, dataMutations) = planner.dataHyperparameters(best: bestPath(), key: key.child("data-hyperparameters"))
      for child in 0..<config.childrenPerGeneration {
        let childKey = key.child("child", child)
        let (parentID, via, seeds) = planner.sampleParent(childKey.child("parent"))
        state.seeds = seeds
        plans.append(try planner.plan(index: child, parentID: parentID, parentVia: via, data: data, key: childKey))
        state.path(parentID).addOffspring(for: task)
      }
    }
    store.append(.object(JSONObject([
      ("event", "generation"), ("stage", .integer(Int64(state.stage))), ("round", .integer(Int64(state.cursor.round))),
      ("task", .string(task)), ("generation", .integer(Int64(generation))),
      ("data_hyperparameters", dataJSON(data)), ("data_mutations", .array(dataMutations.map { .string($0) })),
    ])))
    let splits = try splits(task)
    func makeData() -> TaskData {
      TaskData(
        name: task, splits: splits, seed: key, batchSize: config.training.batchSize,
        imageSize: data.imageSize, augmentation: Self.augmentation(data),
        evaluationBatchSize: config.training.evaluationBatchSize)
    }
    var outcomes: [(ChildOutcome, ViTModel)] = []
    if trainsChildrenInParallel && plans.count > 1 {
      // Each child gets its own data pipeline (same key: same batches) and a Tier 0 executor;
      // the pool runs whole children. Every child computes exactly what it would alone.
      let children = try plans.map { plan throws(EvolutionError) in
        try prepare(plan, task: task, generation: generation, classCount: classCount, data: makeData(),
                    compute: Compute(tier: .reference))
      }
      let lanes = ChildTrainingJob.balance(children, threads: compute.threadCount)
      compute.parallelFor(count: lanes.count, ChildTrainingJob(children: children, lanes: lanes))
      for child in children { outcomes.append(finish(child, trainedAlone: false)) }
    } else {
      let shared = makeData()
      for plan in plans {
        let child = try prepare(
          plan, task: task, generation: generation, classCount: classCount, data: shared, compute: compute)
        child.train { [weak self] progress in self?.observer?.trainingStep(progress) }
        outcomes.append(finish(child, trainedAlone: true))
      }
    }
    for (outcome, model) in outcomes {
      let committed = commitChild(outcome, model: model, task: task, classCount: classCount)
      store.append(childJSON(committed, task: task, generation: generation))
      observer?.childFinished(round: state.cursor.round, task: task, generation: generation, outcome: committed)
    }
  }

  /// Builds a planned child's model and trainer.
  private func prepare(
    _ plan: ChildPlan, task: String, generation: Int, classCount: Int, data: TaskData, compute: Compute
  ) throws(EvolutionError) -> ChildTraining {
    let modelConfig = state.modelConfig(plan.hyperparameters, classCount: classCount)
    let components = plan.components.map { name, source in materialize(name, source, plan: plan, config: modelConfig) }
    let model = try SystemState.assemble(config: modelConfig, components: components)
    var settings = config.trainingSettings(plan.hyperparameters, trainCount: data.trainCount)
    settings.scoring = ValidationScoring(factor: plan.factor, bar: plan.bar)
    observer?.childStarted(round: state.cursor.round, task: task, generation: generation, plan: plan, steps: settings.steps)
    do {
      let trainer = try Trainer(model: model, data: data, settings: settings, compute: compute)
      return ChildTraining(plan: plan, trainer: trainer)
    } catch {
      throw .model("child \(plan.index) of generation \(generation) of \(task): \(error)")
    }
  }

  private func finish(_ child: ChildTraining, trainedAlone: Bool) -> (ChildOutcome, ViTModel) {
    let result = child.result!
    let model = child.trainer.model
    let kept = result.best != nil && !result.diverged
    let outcome = ChildOutcome(
      plan: child.plan, result: result, kept: kept, pathID: nil, parametersDigest: Self.parametersDigest(model))
    observer?.childTrained(outcome: outcome, trainedAlone: trainedAlone)
    return (outcome, model)
  }

  /// The component of a child: a stored one (frozen), or a new trainable one.
  private func materialize(
    _ name: String, _ source: ComponentSource, plan: ChildPlan, config modelConfig: ViTConfig
  ) -> any ViTComponent {
    switch source {
    case .shared(let id): return state.component(id).component
    case .cloned(let id): return ComponentFactory.copy(state.component(id).component, trainable: true)
    case .resized(let id):
      let table = state.component(id).component as! PositionEmbedding
      return table.resized(toGrid: modelConfig.gridSize, trainable: true)
    case .fresh:
      return state.factory.fresh(
        name, tokenCount: modelConfig.tokenCount, adapterDim: plan.hyperparameters.adapterDim,
        classCount: modelConfig.classCount, initKey: plan.key.child("init", name))
    }
  }

  /// Adds a kept child to the system: its new components (frozen from now on: only copies
  /// train) and its path join the population. Rejected children leave nothing behind.
  private func commitChild(_ outcome: ChildOutcome, model: ViTModel, task: String, classCount: Int) -> ChildOutcome {
    guard outcome.kept, let best = outcome.result.best else { return outcome }
    var componentIDs: [Int] = []
    for ((_, source), component) in zip(outcome.plan.components, model.components) {
      if case .shared(let id) = source {
        componentIDs.append(id)
        continue
      }
      component.parameters.setTrainable(false)
      let id = state.allocateComponentID()
      let bytes = ComponentFile.encode(component)
      state.insert(StoredComponent(id: id, component: component, locks: [], digest: SHA256.hash(bytes).hex))
      store.stage(componentID: id, bytes: bytes)
      componentIDs.append(id)
    }
    let path = EvolutionPath(
      id: state.allocatePathID(), task: task, parent: outcome.plan.parentID,
      hyperparameters: outcome.plan.hyperparameters, componentIDs: componentIDs, classCount: classCount,
      validation: Quality(correct: best.correct, count: best.count))
    state.insert(path)
    state.population.append(path.id)
    return ChildOutcome(
      plan: outcome.plan, result: outcome.result, kept: true, pathID: path.id,
      parametersDigest: outcome.parametersDigest)
  }

  // MARK: Task end

  /// µ2Net `end_task`: keep the best path, drop the rest, lock the kept path's components,
  /// test it, and prove every other task's outputs unchanged.
  private func endTask(_ task: String) throws(EvolutionError) {
    guard let best = bestPath() else {
      // Possible only when every child of a new task diverged: the task keeps no path (the
      // leaderboard shows it empty) and is tried again in its next round.
      state.population = []
      state.seeds = []
      store.append(.object(JSONObject([
        ("event", "task_end"), ("stage", .integer(Int64(state.stage))), ("round", .integer(Int64(state.cursor.round))),
        ("task", .string(task)), ("best", .null),
      ])))
      return
    }
    var keep: Set<Int> = [state.rootID, best.id]
    for (other, id) in state.retainedPaths where other != task { keep.insert(id) }
    let dropped = state.population.filter { !keep.contains($0) }
    state.setRetained(task, best.id)
    state.prune(keeping: keep)
    for id in best.componentIDs { state.component(id).addLock(task) }
    if best.test == nil {
      let evaluator = try evaluator(for: best)
      let (correct, count) = evaluator.accuracy(.test)
      best.test = Quality(correct: correct, count: count)
    }
    try checkOutputs(of: best)
    for (other, id) in state.retainedPaths where other != task { try checkOutputs(of: state.path(id)) }
    state.population = []
    state.seeds = []
    let accounted = state.accountedParameters(componentIDs: best.componentIDs, task: task)
    store.append(.object(JSONObject([
      ("event", "task_end"), ("stage", .integer(Int64(state.stage))), ("round", .integer(Int64(state.cursor.round))),
      ("task", .string(task)), ("best", .integer(Int64(best.id))), ("dropped", ids(dropped)),
      ("validation", qualityJSON(best.validation)), ("test", qualityJSON(best.test)),
      ("outputs_sha256", .string(best.outputsDigest ?? "")),
      ("accounted_parameters", .number(JSONDecimal(accounted)!)),
      ("parameters", .integer(Int64(state.parameterCount(of: best)))),
    ])))
    observer?.taskEnded(round: state.cursor.round, task: task, best: best, state: state)
  }

  /// Records the path's output digest, or checks it against the recorded one.
  private func checkOutputs(of path: EvolutionPath) throws(EvolutionError) {
    let digest = try evaluator(for: path).outputDigest(.test, examplesMax: config.immutabilityExamples).hex
    if let expected = path.outputsDigest {
      guard expected == digest else { throw .immutabilityViolated(task: path.task, expected: expected, found: digest) }
    } else {
      path.outputsDigest = digest
    }
  }

  /// An evaluator of `path` on its task's data at its image size (no augmentation).
  public func evaluator(for path: EvolutionPath) throws(EvolutionError) -> Evaluator {
    try Self.evaluator(for: path, state: state, splits: try splits(path.task), config: config, compute: compute)
  }

  public static func evaluator(
    for path: EvolutionPath, state: SystemState, splits: DatasetSplits, config: EvolutionConfig, compute: Compute
  ) throws(EvolutionError) -> Evaluator {
    let data = TaskData(
      name: path.task, splits: splits, seed: StreamKey(seed: 0), batchSize: config.training.evaluationBatchSize,
      imageSize: path.hyperparameters.imageSize, augmentation: .none,
      evaluationBatchSize: config.training.evaluationBatchSize)
    do {
      return try Evaluator(model: try state.model(of: path), data: data, compute: compute)
    } catch {
      throw .model("path \(path.id) of \(path.task): \(error)")
    }
  }

  // MARK: Helpers

  /// The population's best path: highest score, ties to the highest id (µ2Net `get_best_path`).
  private func bestPath() -> EvolutionPath? {
    var best: (path: EvolutionPath, score: Int64)?
    for id in state.population {
      let path = state.path(id)
      let score = state.score(of: path, scorer: scorer) ?? Int64.min
      if best == nil || score > best!.score || (score == best!.score && id > best!.path.id) { best = (path, score) }
    }
    return best?.path
  }

  private func splits(_ task: String) throws(EvolutionError) -> DatasetSplits {
    if let cached = splitsByTask[task] { return cached }
    let splits: DatasetSplits
    do { splits = try DatasetRegistry.load(task) } catch { throw .data(task: task, problem: "\(error)") }
    let channels = state.factory.architecture.channels
    guard splits.train.shape.channels == channels else {
      throw .data(task: task, problem: "images have \(splits.train.shape.channels) channels, the root expects \(channels)")
    }
    splitsByTask[task] = splits
    return splits
  }

  static func augmentation(_ hyper: Hyperparameters) -> AugmentationParameters {
    func float(_ key: HyperKey) -> Float { Float(hyper[key].doubleValue!) }
    return AugmentationParameters(
      crop: hyper[.crop].flagValue!, areaRangeMin: float(.areaRangeMin),
      aspectRatioRangeMin: float(.aspectRatioRangeMin), flipLeftRight: hyper[.flipLeftRight].flagValue!,
      brightnessDelta: float(.brightnessDelta), contrastDelta: float(.contrastDelta))
  }

  /// SHA-256 of a model's parameters in canonical order (little-endian `Float` bits).
  static func parametersDigest(_ model: ViTModel) -> String {
    var hasher = SHA256()
    for parameter in model.namedParameters() {
      hasher.update(Array(parameter.name.utf8))
      hasher.update(UnsafeRawBufferPointer(parameter.value.buffer))
    }
    return hasher.finalize().hex
  }

  private func ids(_ list: [Int]) -> JSONValue { .array(list.map { .integer(Int64($0)) }) }

  private func qualityJSON(_ quality: Quality?) -> JSONValue {
    quality.map { .array([.integer(Int64($0.correct)), .integer(Int64($0.count))]) } ?? .null
  }

  private func dataJSON(_ hyper: Hyperparameters) -> JSONValue {
    var object = JSONObject()
    for key in HyperKey.allCases where key.isData { object.set(key.rawValue, hyper[key].json) }
    return .object(object)
  }

  private func childJSON(_ outcome: ChildOutcome, task: String, generation: Int) -> JSONValue {
    let plan = outcome.plan
    let result = outcome.result
    let components: [JSONValue] = plan.components.map { name, source in
      let text: String
      switch source {
      case .shared(let id): text = "shared \(id)"
      case .cloned(let id): text = "cloned \(id)"
      case .resized(let id): text = "resized \(id)"
      case .fresh: text = "fresh"
      }
      return .array([.string(name), .string(text)])
    }
    let validations: [JSONValue] = result.validations.map { record in
      .object(JSONObject([
        ("step", .integer(Int64(record.step))), ("correct", .integer(Int64(record.correct))),
        ("count", .integer(Int64(record.count))), ("score", .integer(record.score)), ("kept", .bool(record.kept)),
      ]))
    }
    return .object(JSONObject([
      ("event", "child"), ("stage", .integer(Int64(state.stage))), ("round", .integer(Int64(state.cursor.round))),
      ("task", .string(task)), ("generation", .integer(Int64(generation))), ("child", .integer(Int64(plan.index))),
      ("parent", .integer(Int64(plan.parentID))), ("parent_via", .string(plan.parentVia)),
      ("mutations", .array(plan.mutations.map { .string($0) })),
      ("hyperparameters", plan.hyperparameters.json), ("components", .array(components)),
      ("bar", plan.bar.map { .integer($0) } ?? .null), ("factor", .integer(plan.factor)),
      ("validations", .array(validations)), ("steps_run", .integer(Int64(result.stepsRun))),
      ("diverged", .bool(result.diverged)), ("kept", .bool(outcome.kept)),
      ("path", outcome.pathID.map { .integer(Int64($0)) } ?? .null),
      ("parameters_sha256", .string(outcome.parametersDigest)),
    ]))
  }
}

/// One child being trained (a class: the pool's job refers to it from several threads, each
/// child touched by exactly one).
final class ChildTraining: @unchecked Sendable {
  let plan: ChildPlan
  let trainer: Trainer
  var result: TrainingResult?

  init(plan: ChildPlan, trainer: Trainer) {
    self.plan = plan
    self.trainer = trainer
  }

  func train(progress: ((TrainingProgress) -> Void)? = nil) { result = trainer.run(progress: progress) }
}

/// Trains whole children on the pool's threads: lane `t` trains the children listed for it, one
/// after the other (a struct job: no closure context is allocated per call). Which child runs
/// on which lane only changes speed, never bits: each child's training touches only its own
/// model, trainer and data pipeline.
struct ChildTrainingJob: RangeJob {
  let children: [ChildTraining]
  let lanes: [[Int]]

  func run(range: Range<Int>) {
    for lane in range {
      for index in lanes[lane] { children[index].train() }
    }
  }

  /// A fixed schedule decided before any child trains: longest first, each to the lane with the
  /// least work so far (ties to the lower lane), where a child's work is its forward FLOPs per
  /// image times its steps. Children differ in depth and image size, so this balances better
  /// than cutting the list in contiguous halves.
  static func balance(_ children: [ChildTraining], threads: Int) -> [[Int]] {
    let laneCount = max(1, min(threads, children.count))
    let work = children.map { child in
      Scorer.forwardFLOPs(child.trainer.model.config) * child.trainer.settings.steps
    }
    let order = work.indices.sorted { work[$0] != work[$1] ? work[$0] > work[$1] : $0 < $1 }
    var lanes = [[Int]](repeating: [], count: laneCount)
    var load = [Int](repeating: 0, count: laneCount)
    for index in order {
      let lane = load.indices.min { load[$0] != load[$1] ? load[$0] < load[$1] : $0 < $1 }!
      lanes[lane].append(index)
      load[lane] += work[index]
    }
    return lanes
  }
}
