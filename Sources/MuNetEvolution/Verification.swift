import MuNetModel
import MuNetRuntime
import MuNetStorage

/// A generation of a run as `munet verify --until ROUND:TASK:GENERATION` names it: round and
/// generation 0-based, as in the journal; the task by name.
public struct GenerationMark: Equatable, Sendable, CustomStringConvertible {
  public let round: Int
  public let task: String
  public let generation: Int

  public init(round: Int, task: String, generation: Int) {
    self.round = round
    self.task = task
    self.generation = generation
  }

  /// Parses `ROUND:TASK:GENERATION`; the task is everything between the first and the last
  /// colon (a dataset path may hold colons). Nil when the text has another form.
  public init?(parsing text: String) {
    guard let first = text.firstIndex(of: ":"), let last = text.lastIndex(of: ":"), first < last,
          let round = Int(text[..<first]), let generation = Int(text[text.index(after: last)...]),
          round >= 0, generation >= 0 else { return nil }
    let task = String(text[text.index(after: first)..<last])
    guard !task.isEmpty else { return nil }
    self.init(round: round, task: task, generation: generation)
  }

  public var description: String { "round \(round), task \(task), generation \(generation)" }
}

/// The first place where a replay departs from its record.
public enum VerificationDivergence: Sendable {
  /// A journal line differs (or one side has lines the other lacks).
  case journal(JournalDivergence)
  /// A stored component differs from the record's component of the same id; `createdAt` is the
  /// journal line of the child that made it (nil for the root's or a continuation's copies).
  case component(ComponentDifference, createdAt: JournalLocation?)
  /// The final states differ (the journals agree).
  case state([StateDifference])
  /// A digest differs although the journal and state agree (`what`: `system`, `task NAME`).
  case digest(what: String, recorded: String?, replay: String?)
}

/// What ``Verifier`` checked, and the first divergence if any.
public struct VerificationReport: Sendable {
  public static let labels = SideLabels(a: "recorded", b: "replay")

  /// Lines of the recorded journal.
  public internal(set) var recordedLines = 0
  /// Journal lines the replay produced that equal the record's, byte for byte.
  public internal(set) var linesChecked = 0
  /// Of those, `child` lines, and the kept children among them.
  public internal(set) var childrenChecked = 0
  public internal(set) var keptChildrenChecked = 0
  /// Stored components of the replay compared with the record's (the same digest).
  public internal(set) var componentsChecked = 0
  /// Task digests compared at the end (full verifications only).
  public internal(set) var taskDigestsChecked = 0
  /// The system digest both sides share (full verifications that pass).
  public internal(set) var systemDigest: String?
  /// Set when the replay stopped at `--until` (a prefix was verified).
  public internal(set) var stoppedAt: GenerationMark?
  /// True when `--until` named the record's last generation or one it does not reach (then
  /// everything was verified).
  public internal(set) var untilBeyondRecord = false
  public internal(set) var divergence: VerificationDivergence?

  /// True when nothing differed.
  public var passed: Bool { divergence == nil }

  /// What was checked: `<lines> journal lines (<children> children, <kept> kept), <n> components`.
  public var checkedText: String {
    "\(linesChecked) of \(recordedLines) journal lines "
      + "(\(childrenChecked) children, \(keptChildrenChecked) kept), \(componentsChecked) stored components"
  }

  /// The report as printed by `munet verify` (several lines, no final newline).
  public var text: String {
    let labels = Self.labels
    guard let divergence else {
      if let stoppedAt {
        return "verified a prefix, up to \(stoppedAt) (--until): \(checkedText) identical to the record; "
          + "the rest of the run and its final state were not checked"
      }
      return "verified: \(checkedText), \(taskDigestsChecked) task digests and the system digest "
        + "\(systemDigest ?? "-"): the replay is identical to the record"
        + (untilBeyondRecord ? " (the record ends at or before --until: all of it was verified)" : "")
    }
    var lines: [String] = []
    switch divergence {
    case .journal(let journal):
      lines.append("DIVERGENCE at " + journal.text(labels))
    case .component(let component, let createdAt):
      let origin = createdAt.map { ", created at \($0)" } ?? ""
      lines.append("DIVERGENCE in component \(component.id) (\(component.name))\(origin): "
        + "the record's file differs from the replay's")
      lines.append(component.text(labels, indent: "  "))
    case .state(let differences):
      lines.append(
        "DIVERGENCE in the final state (the journals agree): " + plural(differences.count, "difference"))
      lines += differences.map { "  " + $0.text(labels).replacing("\n", with: "\n  ") }
    case .digest(let what, let recorded, let replay):
      lines.append("DIVERGENCE of the \(what) digest: recorded \(recorded ?? "-"), replay \(replay ?? "-")")
    }
    lines.append("identical before it: \(checkedText)")
    return lines.joined(separator: "\n")
  }
}

/// Re-executes the run recorded in a system directory and compares it with the record
/// (`munet verify`): every journal line as it is produced (stopping at the first bad
/// generation), every stored component as it is created, then the final state and digests.
///
/// The replay runs the record's canonical configuration (seed included) into a new directory;
/// a continuation (the last `state.history` entry has `from_sha256`) also needs the system it
/// continued, whose digest must be that one. Every decision of a run depends only on the
/// configuration, the seed and the state it started from (spec/algorithm.md §3), so a replay
/// in a deterministic tier reproduces the record bit for bit, or shows where it does not.
public final class Verifier {
  public let directory: String
  public let source: String?
  public let config: EvolutionConfig
  /// The system digest of the record.
  public let recordedDigest: String
  /// For a continuation, the digest of the system it continued (its `from_sha256`).
  public let continuedDigest: String?
  /// The run facts of the record (tier, threads, version).
  public var recordedRun: JSONObject { recordStore.run }
  /// Where the record's cursor is (a record of an interrupted run is verified up to it).
  public var recordedCursor: Cursor { recordState.cursor }
  /// Stop after this generation (verifies a prefix).
  public var until: GenerationMark?
  /// Train the children of a generation in parallel (same bits; see ``Evolver``).
  public var trainsChildrenInParallel = false
  /// Receives the replay's progress.
  public weak var observer: EvolutionObserver?
  /// Called after every checked commit with the last line checked and the report so far.
  public var progress: ((JournalLocation?, VerificationReport) -> Void)?

  let recordStore: SystemStore
  let recordState: SystemState
  private var recordedLines: [ArraySlice<UInt8>] = []
  private var report = VerificationReport()
  private var checkedBytes = 0
  private var checkedComponents = Set<Int>()
  /// The child line that created each replayed component.
  private var createdAt: [Int: JournalLocation] = [:]

  /// Opens the record in `directory` (verifying every file) and, for a continuation, checks
  /// that `source` holds the system it continued.
  public init(directory: String, from source: String?) throws(EvolutionError) {
    self.directory = directory
    self.source = source
    (recordStore, recordState, config) = try StateComparison.open(directory)
    recordedDigest = SystemDigest.system(state: recordState, store: recordStore, config: config)
    continuedDigest = recordState.history.last?["from_sha256"]?.stringValue
    switch (continuedDigest, source) {
    case (let expected?, nil):
      throw .directory(
        path: directory,
        problem: "continues another system (stage \(recordState.stage), "
          + "from the system with digest \(expected)); pass --from with the directory of that system")
    case (let expected?, let source?):
      let (sourceStore, sourceState, sourceConfig) = try StateComparison.open(source)
      let actual = SystemDigest.system(state: sourceState, store: sourceStore, config: sourceConfig)
      guard actual == expected else {
        throw .directory(
          path: source,
          problem: "is not the system \(directory) continues: its system digest is \(actual), "
            + "the record continues \(expected)")
      }
    case (nil, let source?):
      throw .directory(
        path: directory, problem: "is a new system (stage \(recordState.stage)), not a continuation; "
          + "do not pass --from \(source)")
    case (nil, nil): break
    }
  }

  /// Checks that `mark` names a generation of the configuration.
  public func check(until mark: GenerationMark) throws(EvolutionError) {
    var problems: [String] = []
    if mark.round >= config.rounds {
      problems.append("round \(mark.round) is not below the \(config.rounds) rounds")
    }
    if !config.tasks.contains(where: { $0.name == mark.task }) {
      problems.append("task \(mark.task) is not one of \(config.tasks.map(\.name).joined(separator: ", "))")
    }
    if mark.generation >= config.generations {
      problems.append("generation \(mark.generation) is not below the \(config.generations) generations")
    }
    guard problems.isEmpty else {
      throw .format("--until \(mark.round):\(mark.task):\(mark.generation) names no generation of the run: "
        + problems.joined(separator: "; "))
    }
  }

  /// Replays the run into `replayDirectory` (which must not hold a system) with `compute`, and
  /// compares. `run` is the replay's run facts (tier, threads, version).
  public func run(
    replayDirectory: String, compute: Compute, run: JSONObject
  ) throws(EvolutionError) -> VerificationReport {
    if let until { try check(until: until) }
    guard !SystemStore.holdsSystem(replayDirectory) else {
      throw .directory(
        path: replayDirectory, problem: "already holds a system; the replay needs a new directory")
    }
    report = VerificationReport()
    recordedLines = JournalComparison.lines(recordStore.journalBytes)
    report.recordedLines = recordedLines.count
    checkedBytes = 0
    checkedComponents = []
    createdAt = [:]
    let (state, store, _) = try SystemBuilder.prepare(
      config: config, directory: replayDirectory, from: source, run: run)
    if !checkCommit(state: state, store: store) {
      let evolver = Evolver(config: config, state: state, store: store, compute: compute)
      evolver.observer = observer
      evolver.trainsChildrenInParallel = trainsChildrenInParallel
      evolver.stopAfterCommit = { [unowned self] _ in self.checkCommit(state: state, store: store) }
      try evolver.run()
    }
    if report.divergence == nil && report.stoppedAt == nil { compareFinal(state: state, store: store) }
    return report
  }

  // MARK: After every commit

  /// Compares the journal lines and the components the last commit added; true to stop (a
  /// divergence, `until` reached, or the record's cursor reached).
  private func checkCommit(state: SystemState, store: SystemStore) -> Bool {
    let bytes = store.journalBytes
    let newLines = JournalComparison.lines(Array(bytes[checkedBytes...]))
    checkedBytes = bytes.count
    var last: JournalLocation?
    for line in newLines {
      let index = report.linesChecked
      let recorded = index < recordedLines.count ? recordedLines[index] : nil
      if var divergence = JournalComparison.compare(recorded, line, number: index + 1) {
        divergence.components = childComponents(divergence, replayLine: line, state: state)
        report.divergence = .journal(divergence)
        return true
      }
      let entry = JournalComparison.parse(line)
      let location = JournalLocation(line: index + 1, entry: entry)
      report.linesChecked += 1
      if location.event == "child" { noteChild(entry, location: location, state: state) }
      last = location
    }
    for id in state.componentIDs where !checkedComponents.contains(id) {
      checkedComponents.insert(id)
      guard let recorded = recordState.components[id] else { continue }  // dropped later in the record
      let replayed = state.component(id)
      guard recorded.digest == replayed.digest && recorded.name == replayed.name else {
        let difference = recorded.name == replayed.name
          ? TensorComparison.componentDifference(id: id, a: recorded, b: replayed)
          : ComponentDifference(
            id: id, name: recorded.name, digestA: recorded.digest, digestB: replayed.digest, tensors: [],
            note: "the record's component \(id) is \(recorded.name), the replay's \(replayed.name)")
        report.divergence = .component(difference, createdAt: createdAt[id])
        return true
      }
      report.componentsChecked += 1
    }
    progress?(last, report)
    // At the record's cursor the whole record is compared, even if --until names this very
    // generation.
    if state.cursor == recordState.cursor { return true }
    if let until, reached(until, cursor: state.cursor) {
      report.stoppedAt = until
      return true
    }
    return false
  }

  private func reached(_ mark: GenerationMark, cursor: Cursor) -> Bool {
    guard !cursor.finished, cursor.taskStarted else { return false }
    return cursor.round == mark.round && config.tasks[cursor.taskIndex].name == mark.task
      && cursor.generation == mark.generation + 1
  }

  /// Counts a checked child line and remembers which components it created.
  private func noteChild(_ entry: JSONValue?, location: JournalLocation, state: SystemState) {
    report.childrenChecked += 1
    guard entry?["kept"]?.boolValue == true else { return }
    report.keptChildrenChecked += 1
    for (id, _) in Self.createdComponents(entry, state: state) { createdAt[id] = location }
  }

  /// The (id, name) of the components a kept child's line created in `state` (its components
  /// whose source is not `shared`), in forward order.
  static func createdComponents(_ entry: JSONValue?, state: SystemState) -> [(id: Int, name: String)] {
    guard let pathID = entry?["path"]?.integerValue.flatMap({ Int(exactly: $0) }),
          let path = state.paths[pathID], let sources = entry?["components"]?.arrayValue,
          sources.count == path.componentIDs.count else { return [] }
    var result: [(id: Int, name: String)] = []
    for (source, id) in zip(sources, path.componentIDs) {
      guard let pair = source.arrayValue, pair.count == 2, let name = pair[0].stringValue,
            let how = pair[1].stringValue, !how.hasPrefix("shared") else { continue }
      result.append((id, name))
    }
    return result
  }

  /// For a child kept on both sides as the same path whose parameters differ: each component
  /// it created, compared tensor by tensor with the record's (in the recorded state, or its
  /// file if that still exists).
  private func childComponents(
    _ divergence: JournalDivergence, replayLine: ArraySlice<UInt8>, state: SystemState
  ) -> [ComponentDifference] {
    guard case .fields(let fields) = divergence.kind,
          fields.contains(where: { $0.path == "parameters_sha256" }),
          let recordedEntry = JournalComparison.parse(recordedLines[divergence.location.line - 1]),
          let replayEntry = JournalComparison.parse(replayLine),
          recordedEntry["event"]?.stringValue == "child",
          recordedEntry["kept"]?.boolValue == true, replayEntry["kept"]?.boolValue == true,
          recordedEntry["path"] == replayEntry["path"] else { return [] }
    var result: [ComponentDifference] = []
    for (id, name) in Self.createdComponents(replayEntry, state: state) {
      let replayed = state.component(id)
      guard let (component, digest) = recordedComponent(id, name: name) else {
        result.append(ComponentDifference(
          id: id, name: name, digestA: nil, digestB: replayed.digest, tensors: [],
          note: "the record no longer holds it (\(SystemStore.componentsFolder)/\(id).safetensors "
            + "was dropped with its path): its tensors cannot be compared"))
        continue
      }
      guard digest != replayed.digest else { continue }
      let tensors = TensorComparison.differences(component, replayed.component)
      result.append(ComponentDifference(
        id: id, name: name, digestA: digest, digestB: replayed.digest, tensors: tensors))
    }
    return result
  }

  /// The record's component `id` named `name`: from the recorded state, else from its file if
  /// it is still in the directory (a component of a path dropped after the record's last
  /// commit). Nil when neither holds it.
  private func recordedComponent(_ id: Int, name: String) -> (any ViTComponent, String)? {
    if let stored = recordState.components[id], stored.name == name {
      return (stored.component, stored.digest)
    }
    let path = recordStore.componentPath(id)
    guard FileSystemAccess.exists(path),
          let bytes = try? readFile(path, limitBytes: ComponentFile.fileBytesMax),
          let file = try? SafeTensors.decode(bytes, source: path),
          file.metadata("munet.component") == name,
          let component = try? recordState.factory.load(file, name: name, source: path) else { return nil }
    return (component, SHA256.hash(bytes).hex)
  }

  // MARK: At the end

  /// The record's remaining lines, the final state, the task digests and the system digest.
  private func compareFinal(state: SystemState, store: SystemStore) {
    if report.linesChecked < recordedLines.count {
      let index = report.linesChecked
      let entry = JournalComparison.parse(recordedLines[index])
      report.divergence = .journal(JournalDivergence(
        location: JournalLocation(line: index + 1, entry: entry), kind: .onlyIn(.a, entry)))
      return
    }
    report.untilBeyondRecord = until != nil
    let differences = StateComparison.differences(recordState, state, limit: 50)
    guard differences.isEmpty else {
      report.divergence = .state(differences)
      return
    }
    var tasks = recordState.retainedPaths.map(\.task)
    for (task, _) in state.retainedPaths where !tasks.contains(task) { tasks.append(task) }
    for task in tasks {
      let recorded = SystemDigest.task(task, state: recordState)
      let replayed = SystemDigest.task(task, state: state)
      guard recorded == replayed else {
        report.divergence = .digest(what: "task \(task)", recorded: recorded, replay: replayed)
        return
      }
      report.taskDigestsChecked += 1
    }
    let replayed = SystemDigest.system(state: state, store: store, config: config)
    guard replayed == recordedDigest else {
      report.divergence = .digest(what: "system", recorded: recordedDigest, replay: replayed)
      return
    }
    report.systemDigest = replayed
  }
}

/// `1 difference`, `2 differences`.
func plural(_ count: Int, _ noun: String) -> String { "\(count) \(noun)" + (count == 1 ? "" : "s") }
