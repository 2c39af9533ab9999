import MuNetStorage

/// What a system's journal says happened, step by step, for `munet report`: every task end
/// (with the system's size at that moment), every generation (with the best validation of the
/// task's population after it) and the continual-learning accuracy matrix.
///
/// Everything is derived from the committed journal and the state it leads to; nothing reads
/// the clock, and equal inputs give equal values (integers and fixed-point numbers only).
public struct ReportHistory: Sendable {
  /// One row per `task_end` event, in journal order.
  public let taskEnds: [TaskEndRecord]
  /// One row per `generation` event, in journal order.
  public let generations: [GenerationRecord]
  /// Test accuracy of every task after every task end (see ``AccuracyMatrix``).
  public let accuracy: AccuracyMatrix
  /// Why some task ends have no system totals (nil when all have them).
  public let systemTotalsNote: String?

  /// Replays `journal` (``SystemStore/journalEntries()``, the committed journal of `state`'s
  /// stage). Malformed events are a format error naming the line.
  public init(state: SystemState, journal: [JSONValue]) throws(EvolutionError) {
    let events = try JournalEvent.parse(journal)
    var replay = SystemReplay(state: state, events: events)
    let taskNames = state.tasks.map(\.name)
    let held = Set(state.pathIDs)

    // The retained paths when the journal starts: a task's first task_start names the path
    // it had (its population); a task the journal never starts kept its path all along.
    var firstPopulation: [String: [Int]] = [:]
    for case .taskStart(_, let task, let population) in events where firstPopulation[task] == nil {
      firstPopulation[task] = population
    }
    var retained: [String: Int] = [:]
    for task in taskNames {
      if let population = firstPopulation[task] {
        retained[task] = population.first
      } else {
        retained[task] = state.retainedPath(of: task)
      }
    }
    var initialTests: [String: Quality] = [:]
    var validationOf: [Int: Quality] = [:]
    for id in state.pathIDs { validationOf[id] = state.path(id).validation }
    for task in taskNames {
      if let id = retained[task], held.contains(id), let test = state.path(id).test {
        initialTests[task] = test
      }
    }

    var taskEnds: [TaskEndRecord] = []
    var generations: [GenerationRecord] = []
    var population: [Int] = []
    var pending: GenerationRecord?
    func flush() {
      guard var record = pending else { return }
      record.bestValidation = Self.best(population.compactMap { validationOf[$0] })
      generations.append(record)
      pending = nil
    }
    for event in events {
      switch event {
      case .taskStart(_, _, let ids):
        flush()
        population = ids
      case .generation(let stage, let round, let task, let generation):
        flush()
        pending = GenerationRecord(
          index: generations.count, stage: stage, round: round, task: task, generation: generation,
          children: 0, kept: 0, bestValidation: nil)
      case .child(let child):
        pending?.children += 1
        guard let id = child.pathID else { continue }
        pending?.kept += 1
        population.append(id)
        validationOf[id] = child.validation
        replay.add(child, state: state)
      case .taskEnd(var record):
        flush()
        population = []
        if let best = record.best {
          retained[record.task] = best
          validationOf[best] = record.validation
        }
        let paths = [state.rootID] + taskNames.compactMap { retained[$0] }
        if let total = replay.total(of: paths) {
          record.systemParameters = total.parameters
          record.systemComponents = total.components
        }
        taskEnds.append(record)
      }
    }
    flush()
    self.taskEnds = taskEnds
    self.generations = generations
    accuracy = AccuracyMatrix(taskEnds: taskEnds, tasks: taskNames, initial: initialTests, stage: state.stage)
    systemTotalsNote = replay.note
  }

  /// The `task_end` events of `journal`, in order, without system totals (those need the
  /// state): for computing an ``AccuracyMatrix`` from a journal alone.
  public static func taskEnds(_ journal: [JSONValue]) throws(EvolutionError) -> [TaskEndRecord] {
    var records: [TaskEndRecord] = []
    for case .taskEnd(let record) in try JournalEvent.parse(journal) { records.append(record) }
    return records
  }

  /// The highest accuracy of `qualities` (the first of equal ones); nil when empty.
  static func best(_ qualities: [Quality]) -> Quality? {
    var best: Quality?
    for quality in qualities where quality.count > 0 {
      if let current = best, quality.correct * current.count <= current.correct * quality.count { continue }
      best = quality
    }
    return best
  }

  /// The parameter count of component `name` in a path with these hyperparameters and classes
  /// (spec/model.md, "Parameters"); nil for an unknown name.
  public static func parameterCount(
    name: String, hyperparameters: Hyperparameters, classCount: Int,
    architecture a: EvolutionConfig.RootArchitecture
  ) -> Int? {
    guard let kind = ComponentFactory.Kind(name: name) else { return nil }
    let width = a.width
    switch kind {
    case .embedding: return a.patchSize * a.patchSize * a.channels * width + width
    case .classToken: return width
    case .positionEmbedding:
      let grid = hyperparameters.imageSize / a.patchSize
      return (grid * grid + 1) * width
    case .encoderNorm: return 2 * width
    case .head: return (width + 1) * classCount
    case .block: return 4 * width * width + 4 * width + 2 * width * a.mlpDim + a.mlpDim + width + 4 * width
    case .adapter: return 2 * width + (2 * width + 1) * hyperparameters.adapterDim + width
    }
  }
}

/// One `task_end` event: a step of the run.
public struct TaskEndRecord: Equatable, Sendable {
  public var stage: Int
  public var round: Int
  public var task: String
  /// The retained path; nil when every child of the task's first iteration diverged.
  public var best: Int?
  public var validation: Quality?
  public var test: Quality?
  /// Of the best path.
  public var parameters: Int?
  /// Of the best path at that moment, as recorded (Swift's shortest round-trip decimal).
  public var accountedParameters: String?
  /// Parameters of the distinct components of the root and every retained path right after
  /// this task end (what the system held then); nil when the journal does not determine it.
  public var systemParameters: Int?
  /// Number of those components.
  public var systemComponents: Int?

  public init(
    stage: Int, round: Int, task: String, best: Int?, validation: Quality? = nil, test: Quality? = nil,
    parameters: Int? = nil, accountedParameters: String? = nil
  ) {
    self.stage = stage
    self.round = round
    self.task = task
    self.best = best
    self.validation = validation
    self.test = test
    self.parameters = parameters
    self.accountedParameters = accountedParameters
  }
}

/// One `generation` event and what its children left in the population.
public struct GenerationRecord: Equatable, Sendable {
  /// 0-based position among the journal's generations (all tasks, in run order).
  public var index: Int
  public var stage: Int
  public var round: Int
  public var task: String
  public var generation: Int
  public var children: Int
  public var kept: Int
  /// The highest kept validation accuracy in the task's population after this generation (its
  /// retained path, if any, and the children kept so far in this task iteration); nil when
  /// none is known.
  public var bestValidation: Quality?
}

// MARK: Journal events

/// The journal events the report reads, parsed.
enum JournalEvent {
  case taskStart(stage: Int, task: String, population: [Int])
  case generation(stage: Int, round: Int, task: String, generation: Int)
  case child(ChildRecord)
  case taskEnd(TaskEndRecord)

  struct ChildRecord {
    var task: String
    var pathID: Int?
    var hyperparameters: Hyperparameters
    /// (name, source id) in forward order; source nil for a new component (cloned, resized,
    /// fresh), else the shared component's id.
    var components: [(name: String, shared: Int?)]
    /// The last kept validation.
    var validation: Quality?
  }

  static func parse(_ journal: [JSONValue]) throws(EvolutionError) -> [JournalEvent] {
    var events: [JournalEvent] = []
    for (index, line) in journal.enumerated() {
      do throws(EvolutionError) {
        if let event = try parse(line) { events.append(event) }
      } catch {
        throw .format("journal line \(index + 1): \(error)")
      }
    }
    return events
  }

  private static func parse(_ line: JSONValue) throws(EvolutionError) -> JournalEvent? {
    let event = line["event"]?.stringValue
    guard ["task_start", "generation", "child", "task_end"].contains(event) else { return nil }
    guard let task = line["task"]?.stringValue else { throw .format("a \(event!) event lacks task") }
    let stage = try integer(line, "stage")
    let round = try integer(line, "round")
    switch event {
    case "task_start":
      return .taskStart(stage: stage, task: task, population: try ids(line["population"], "population"))
    case "generation":
      return .generation(stage: stage, round: round, task: task, generation: try integer(line, "generation"))
    case "child":
      guard let kept = line["kept"]?.boolValue, let hyperJSON = line["hyperparameters"] else {
        throw .format("a child event lacks kept or hyperparameters")
      }
      var components: [(name: String, shared: Int?)] = []
      for pair in line["components"]?.arrayValue ?? [] {
        guard let items = pair.arrayValue, items.count == 2, let name = items[0].stringValue,
              let source = items[1].stringValue else {
          throw .format("a child's components must be [name, source] pairs")
        }
        var shared: Int?
        if source.hasPrefix("shared ") {
          guard let id = Int(source.dropFirst(7)) else { throw .format("bad component source \(source)") }
          shared = id
        }
        components.append((name, shared))
      }
      var validation: Quality?
      for record in line["validations"]?.arrayValue ?? [] where record["kept"]?.boolValue == true {
        let pair = JSONValue.array([record["correct"] ?? .null, record["count"] ?? .null])
        validation = try quality(pair, "validations")
      }
      let pathID = kept ? try integer(line, "path") : nil
      return .child(ChildRecord(
        task: task, pathID: pathID, hyperparameters: try Hyperparameters.parse(hyperJSON),
        components: components, validation: validation))
    default:
      guard let bestJSON = line["best"] else { throw .format("a task_end event lacks best") }
      guard case .integer(let best) = bestJSON else {
        return .taskEnd(TaskEndRecord(stage: stage, round: round, task: task, best: nil))
      }
      var accounted: String?
      switch line["accounted_parameters"] {
      case .integer(let value): accounted = String(value)
      case .number(let decimal): accounted = decimal.text
      default: accounted = nil
      }
      return .taskEnd(TaskEndRecord(
        stage: stage, round: round, task: task, best: Int(best),
        validation: try quality(line["validation"] ?? .null, "validation"),
        test: try quality(line["test"] ?? .null, "test"),
        parameters: line["parameters"]?.integerValue.flatMap { Int(exactly: $0) },
        accountedParameters: accounted))
    }
  }

  private static func integer(_ line: JSONValue, _ key: String) throws(EvolutionError) -> Int {
    guard let value = line[key]?.integerValue, let result = Int(exactly: value), result >= 0 else {
      throw .format("\(key) must be a non-negative integer")
    }
    return result
  }

  private static func ids(_ value: JSONValue?, _ key: String) throws(EvolutionError) -> [Int] {
    guard let items = value?.arrayValue else { throw .format("\(key) must be an array of ids") }
    var result: [Int] = []
    for item in items {
      guard let id = item.integerValue.flatMap({ Int(exactly: $0) }) else {
        throw .format("\(key) must be an array of ids")
      }
      result.append(id)
    }
    return result
  }

  /// `[correct, count]` with 0 ≤ correct ≤ count; nil for JSON null.
  private static func quality(_ value: JSONValue, _ key: String) throws(EvolutionError) -> Quality? {
    if value == .null { return nil }
    guard let items = value.arrayValue, items.count == 2,
          let correct = items[0].integerValue.flatMap({ Int(exactly: $0) }),
          let count = items[1].integerValue.flatMap({ Int(exactly: $0) }),
          correct >= 0, correct <= count else {
      throw .format("\(key) must be [correct, count] with 0 <= correct <= count")
    }
    return Quality(correct: correct, count: count)
  }
}

// MARK: System size replay

/// Which components every path of the journal used, and their sizes, reconstructed from the
/// journal: a kept child's shared components are named by id; its other components (cloned,
/// resized, fresh) got new ids in order, child after child, in forward order (the evolver's
/// commit order), counting up to the state's `next_component_id`. Sizes come from the state for
/// components it still holds and from the architecture otherwise. Paths the state no longer
/// holds and the journal did not create (a retained path of an earlier stage replaced in this
/// one) are unknown.
struct SystemReplay {
  private var componentsOfPath: [Int: [Int]] = [:]
  private var countOf: [Int: Int] = [:]
  private var nextComponentID: Int
  private var consistent = true
  private(set) var note: String?
  private var missing: [Int] = []

  init(state: SystemState, events: [JournalEvent]) {
    for id in state.pathIDs { componentsOfPath[id] = state.path(id).componentIDs }
    for id in state.componentIDs { countOf[id] = state.component(id).parameterCount }
    var created = 0
    for case .child(let child) in events where child.pathID != nil {
      created += child.components.filter { $0.shared == nil }.count
    }
    nextComponentID = state.nextComponentID - created
    architecture = state.factory.architecture
    classCounts = state.tasks.map { ($0.name, $0.classCount) }
    if nextComponentID < 0 { fail("the journal creates more components than the state allocated") }
  }

  private let architecture: EvolutionConfig.RootArchitecture
  private let classCounts: [(String, Int)]

  private mutating func fail(_ reason: String) {
    guard consistent else { return }
    consistent = false
    note = "System totals are not shown: \(reason) (a report bug, or a journal from another munet version)."
  }

  /// Records the components of a kept child.
  mutating func add(_ child: JournalEvent.ChildRecord, state: SystemState) {
    guard let pathID = child.pathID else { return }
    let classCount = classCounts.first { $0.0 == child.task }?.1 ?? 0
    var ids: [Int] = []
    for (name, shared) in child.components {
      if let shared {
        ids.append(shared)
        continue
      }
      let id = nextComponentID
      nextComponentID += 1
      ids.append(id)
      let derived = ReportHistory.parameterCount(
        name: name, hyperparameters: child.hyperparameters, classCount: classCount,
        architecture: architecture)
      if let held = countOf[id] {
        if derived != held {
          fail("component \(id) (\(name)) has \(held) parameters, its shapes give \(derived ?? 0)")
        }
      } else if let derived {
        countOf[id] = derived
      }
    }
    if let held = componentsOfPath[pathID], held != ids {
      fail("path \(pathID) holds components \(held), the journal's allocation gives \(ids)")
    }
    componentsOfPath[pathID] = ids
  }

  /// Parameters and count of the distinct components of `paths`; nil when one is unknown.
  mutating func total(of paths: [Int]) -> (parameters: Int, components: Int)? {
    guard consistent else { return nil }
    var used = Set<Int>()
    for path in paths {
      guard let ids = componentsOfPath[path] else {
        if !missing.contains(path) {
          missing.append(path)
          note = "System totals are missing while path\(missing.count > 1 ? "s" : "") "
            + missing.map(String.init).joined(separator: ", ")
            + " (retained from an earlier stage, replaced in this one) were retained: the system no longer "
            + "holds them and this stage's journal does not record their components."
        }
        return nil
      }
      used.formUnion(ids)
    }
    var parameters = 0
    for id in used.sorted() {
      guard let count = countOf[id] else { return nil }
      parameters += count
    }
    return (parameters, used.count)
  }
}

// MARK: Accuracy matrix

/// The continual-learning accuracy matrix of a run and the metrics derived from it.
///
/// Rows are steps: one per `task_end` event in journal order (step i = "after the i-th task
/// iteration ended"), preceded, for a continuation (`--from`) whose carried-over tasks have
/// known results, by a "start" row holding them. Columns are tasks (introduction order).
/// `R[i][j]` is the test result (`[correct, count]`) of task j's retained path after step i, or
/// nil when task j has no retained path yet (or its result is unknown).
///
/// munet never re-evaluates old tasks at a task end: it does not need to, because a finished
/// task's path is immutable (its components are locked) and every task end verifies every
/// other task's logits bit for bit (`outputs_sha256`, spec/algorithm.md §8). So `R[i][j]`
/// is task j's last recorded test result, carried forward, and changes only when task j is
/// trained again and keeps a different path.
///
/// Definitions (T rows, accuracies correct/count, `f(j)` = the first row where task j has a
/// value, i.e. when it was first learned; the last row is T − 1):
/// - **forgetting** of task j (Chaudhry et al. 2018, "Riemannian Walk"), for tasks with
///   `f(j) < T − 1`: `max over f(j) ≤ i < T − 1 of R[i][j] − R[T−1][j]`. 0 for a task never
///   trained again; positive when a later iteration kept a path with a lower test accuracy than an
///   earlier one; negative when the last one improved on every earlier one.
/// - **backward transfer** of task j (Lopez-Paz & Ranzato 2017; Avalanche's `BWT`, the
///   negative of Avalanche's `Forgetting`, which is the first minus the last value):
///   `R[T−1][j] − R[f(j)][j]`, for `f(j) < T − 1`. BWT is the mean over those tasks.
/// - **average accuracy**: the mean of `R[T−1][j]` over the tasks with a value.
/// Metrics are fixed-point accuracies in units of 10⁻¹² (``ReportFixed``); means round half
/// away from zero.
public struct AccuracyMatrix: Equatable, Sendable {
  /// A row: the start of a continuation stage (task nil) or a task end.
  public struct Step: Equatable, Sendable {
    public var stage: Int
    public var round: Int?
    public var task: String?

    /// "3 mnist-mini r1" (task-end number, task, round), or "start s1" for a stage's start.
    public func label(number: Int) -> String {
      guard let task, let round else { return "start s\(stage)" }
      return "\(number) \(task) r\(round)"
    }
  }

  public let tasks: [String]
  public let steps: [Step]
  /// `values[i][j]`: row i, task j.
  public let values: [[Quality?]]

  /// The matrix of `taskEnds`; `initial` holds the results known before the first (a
  /// continuation's carried-over tasks; a "start" row is added when it is not empty). Tasks of
  /// `taskEnds` missing from `tasks` are appended in order of appearance.
  public init(taskEnds: [TaskEndRecord], tasks: [String], initial: [String: Quality] = [:], stage: Int = 0) {
    var names = tasks
    for record in taskEnds where !names.contains(record.task) { names.append(record.task) }
    var current = names.map { initial[$0] }
    var steps: [Step] = []
    var values: [[Quality?]] = []
    if current.contains(where: { $0 != nil }) {
      steps.append(Step(stage: stage, round: nil, task: nil))
      values.append(current)
    }
    for record in taskEnds {
      if record.best != nil, let j = names.firstIndex(of: record.task) { current[j] = record.test }
      steps.append(Step(stage: record.stage, round: record.round, task: record.task))
      values.append(current)
    }
    self.tasks = names
    self.steps = steps
    self.values = values
  }

  /// The first row where task j has a value (when it was first learned).
  public func firstStep(task j: Int) -> Int? { values.firstIndex { $0[j] != nil } }

  private func accuracy(_ i: Int, _ j: Int) -> Int64? { values[i][j].flatMap(ReportFixed.accuracy) }

  /// Rows of task j before the last one, from its first, when it has a value in the last row.
  private func earlierRows(task j: Int) -> (first: Int, last: Int64)? {
    guard let lastRow = values.indices.last, let first = firstStep(task: j), first < lastRow,
          let last = accuracy(lastRow, j), accuracy(first, j) != nil else { return nil }
    return (first, last)
  }

  /// Forgetting of task j (see the type's doc); nil when not defined.
  public func forgetting(task j: Int) -> Int64? {
    guard let (first, last) = earlierRows(task: j) else { return nil }
    let earlier = (first..<(values.count - 1)).compactMap { accuracy($0, j) }
    return earlier.max()! - last
  }

  /// Backward transfer of task j (see the type's doc); nil when not defined.
  public func backwardTransfer(task j: Int) -> Int64? {
    guard let (first, last) = earlierRows(task: j) else { return nil }
    return last - accuracy(first, j)!
  }

  /// Mean forgetting over the tasks where it is defined.
  public var meanForgetting: Int64? { ReportFixed.mean(tasks.indices.compactMap { forgetting(task: $0) }) }
  /// BWT: mean backward transfer over the tasks where it is defined.
  public var backwardTransfer: Int64? {
    ReportFixed.mean(tasks.indices.compactMap { backwardTransfer(task: $0) })
  }
  /// Mean accuracy of the last row.
  public var averageAccuracy: Int64? {
    guard let last = values.indices.last else { return nil }
    return ReportFixed.mean(tasks.indices.compactMap { accuracy(last, $0) })
  }
}

// MARK: Fixed point

/// Fixed-point accuracies and deterministic decimal text for the report (engine code has no
/// `String(format:)`, and the text must not depend on a locale or a float formatter).
public enum ReportFixed {
  /// Accuracy 1 (100 %) in the units of the report's fixed-point accuracies (10⁻¹²).
  public static let one: Int64 = 1_000_000_000_000

  /// correct / count in units of 10⁻¹², rounded half up; nil when count is 0. Requires
  /// 0 ≤ correct ≤ count.
  public static func accuracy(_ quality: Quality) -> Int64? {
    guard quality.count > 0 else { return nil }
    precondition(quality.correct >= 0 && quality.correct <= quality.count, "a quality has correct <= count")
    let count = Int64(quality.count)
    let (quotient, remainder) = count.dividingFullWidth(one.multipliedFullWidth(by: Int64(quality.correct)))
    return remainder * 2 >= count ? quotient + 1 : quotient
  }

  /// The mean of `values`, rounded half away from zero; nil when empty.
  public static func mean(_ values: [Int64]) -> Int64? {
    guard !values.isEmpty else { return nil }
    return roundedQuotient(values.reduce(0, +), Int64(values.count))
  }

  /// numerator / denominator (> 0) rounded half away from zero.
  public static func roundedQuotient(_ numerator: Int64, _ denominator: Int64) -> Int64 {
    precondition(denominator > 0)
    let magnitude = (numerator.magnitude + denominator.magnitude / 2) / denominator.magnitude
    return numerator < 0 ? -Int64(magnitude) : Int64(magnitude)
  }

  /// A fixed-point accuracy as a percentage with `decimals` (0 … 10) fraction digits, rounded
  /// half away from zero, without a sign for zero: `0.1234` → "12.34".
  public static func percentText(_ accuracy: Int64, decimals: Int = 2) -> String {
    decimalText(accuracy, fractionDigits: 10, decimals: decimals)
  }

  /// `value` × 10^-fractionDigits as a decimal with `decimals` ≤ fractionDigits fraction digits,
  /// rounded half away from zero; "-" only for a non-zero negative result.
  public static func decimalText(_ value: Int64, fractionDigits: Int, decimals: Int) -> String {
    precondition(decimals >= 0 && decimals <= fractionDigits && fractionDigits <= 18)
    var divisor: Int64 = 1
    for _ in 0..<(fractionDigits - decimals) { divisor *= 10 }
    let scaled = roundedQuotient(value, divisor)
    var scale: Int64 = 1
    for _ in 0..<decimals { scale *= 10 }
    let magnitude = scaled.magnitude
    var text = (scaled < 0 ? "-" : "") + String(magnitude / scale.magnitude)
    if decimals > 0 {
      let fraction = String(magnitude % scale.magnitude)
      text += "." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }
    return text
  }
}
