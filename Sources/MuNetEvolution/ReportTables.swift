import MuNetStorage
import MuNetTraining

/// The CSV tables of `munet report`, in the schema of the reference µ2Net code
/// (google-research muNet, `mu2Net.ipynb`: the DataFrames `save_state` writes into its state
/// directory with `df.to_csv(index=False)`), so the reference's analysis code can read them.
///
/// - `population.csv` (µ2Net `pop_to_df`): one row per path the system holds (the root, every
///   task's retained path and, mid-run, the active population), sorted by id.
/// - `paths.csv` (µ2Net `Population.paths_df`, the accumulated `paths_to_df` of every path ever
///   sampled): the paths the system holds that the journal does not record (the root, paths
///   carried over by `--from`), then one row per child the journal records, kept or rejected,
///   in creation order (so ids ascend; a rejected child has no id, as munet allocates ids to
///   kept children only). A child that is no longer held (pruned or rejected) has no
///   components, accounted parameters, test result or offspring: the journal does not record
///   them. A row's `parent_id` is the parent the child was created from (population.csv shows
///   the nearest surviving ancestor instead, as µ2Net's re-linked tree does).
/// - `components.csv` (µ2Net `components_to_df`): one row per component the system holds,
///   sorted by id. µ2Net accumulates components of pruned paths too; munet keeps no trace of
///   their ids.
///
/// Path columns, as the reference: `task_name`, `id`, `parent_id` (-1 for none),
/// `parent_task_name`, `final_accounted_params`, `components` (ids joined by `_`), one
/// `hparams.<key>` per hyperparameter (`adapter_layers` joined by `_`, `num_classes`, µ2Net+
/// `_mu_|<mutation>` rates), `metrics.<key>` columns, `score`. The metrics are the reference's
/// that munet records (`quality`, `test_quality`, `offsprings`, `offsprings_per_task`,
/// `private`, `improved`, `mutations` as a JSON list of munet's mutation texts) plus munet's exact
/// counts (`validation_correct`, `validation_count`, `test_correct`, `test_count`),
/// `outputs_sha256` and `parent_via`. `score` is the fixed-point score (units of 2^-30) as a
/// decimal, recomputed as the system is now, as µ2Net does. The root's task is
/// ``SystemState/rootTask`` (µ2Net `NOT_TRAINABLE`); it has no accounted parameters or score.
/// Components: `id`, `name`, `num_params`, `train_locks` (sorted, joined by `,`), and munet's
/// `sha256` of the component file.
///
/// Booleans are written `True`/`False` (as pandas writes them), empty fields stand for µ2Net's
/// `None`/NaN, and a field holding a comma, quote or line break is quoted (RFC 4180). The text
/// depends only on the state, configuration and journal: the same system gives the same bytes.
public enum ReportTables {
  /// `population.csv`; `journal` (``SystemStore/journalEntries()``) supplies the mutations and
  /// parent choice of paths created in the current stage (may be empty).
  public static func population(
    state: SystemState, config: EvolutionConfig, journal: [JSONValue] = []
  ) throws(EvolutionError) -> String {
    let children = try childEntries(journal)
    let scorer = Scorer(settings: config.score)
    let rows = state.pathIDs.map { id in
      row(of: state.path(id), state: state, child: children.byPath[id], scorer: scorer)
    }
    return table(rows, state: state)
  }

  /// `paths.csv` (see the type's doc).
  public static func paths(
    state: SystemState, config: EvolutionConfig, journal: [JSONValue]
  ) throws(EvolutionError) -> String {
    let children = try childEntries(journal)
    let scorer = Scorer(settings: config.score)
    let held = Set(state.pathIDs)
    var rows = state.pathIDs.filter { children.byPath[$0] == nil }.map {
      row(of: state.path($0), state: state, child: nil, scorer: scorer)
    }
    for child in children.all {
      if let id = child.pathID, held.contains(id) {
        // The parent it was created from (µ2Net appends a path to paths_df before re-linking
        // parents to surviving ancestors); population.csv shows the re-linked one.
        var heldRow = row(of: state.path(id), state: state, child: child, scorer: scorer)
        heldRow.parentID = child.parentID
        rows.append(heldRow)
      } else {
        rows.append(row(of: child, state: state))
      }
    }
    return table(rows, state: state)
  }

  /// `components.csv`.
  public static func components(state: SystemState) -> String {
    var lines = [["id", "name", "num_params", "train_locks", "sha256"].joined(separator: ",")]
    for id in state.componentIDs {
      let stored = state.component(id)
      lines.append([
        String(id), stored.name, String(stored.parameterCount), stored.locks.joined(separator: ","),
        stored.digest,
      ].map(field).joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// `growth.csv`: one row per task end (``ReportHistory/taskEnds``): `step` (from 1), `stage`,
  /// `round`, `task`, `path` (the kept path), its `parameters` and `accounted_parameters` (as the
  /// journal recorded them), and `system_parameters` / `system_components` (what the system held
  /// right after it; empty when the journal does not determine it).
  public static func growth(_ history: ReportHistory) -> String {
    var lines = [
      "step,stage,round,task,path,parameters,accounted_parameters,system_parameters,system_components",
    ]
    for (index, record) in history.taskEnds.enumerated() {
      let fields = [
        String(index + 1), String(record.stage), String(record.round), record.task, optional(record.best),
        optional(record.parameters), record.accountedParameters ?? "", optional(record.systemParameters),
        optional(record.systemComponents),
      ]
      lines.append(fields.map(field).joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// `accuracy-matrix.csv`: one row per task (first column `task`), one column per step of the
  /// matrix (``Report/stepLabels(_:)``), then `forgetting` and `backward_transfer`; values are
  /// percentages with four decimals (fixed point, see ``AccuracyMatrix``), empty where undefined.
  public static func accuracyMatrix(_ matrix: AccuracyMatrix) -> String {
    var lines = [(["task"] + Report.stepLabels(matrix) + ["forgetting", "backward_transfer"]).map(field)
      .joined(separator: ",")]
    func percent(_ value: Int64?) -> String { value.map { ReportFixed.percentText($0, decimals: 4) } ?? "" }
    for (j, task) in matrix.tasks.enumerated() {
      var fields = [task]
      fields += matrix.values.map { row in percent(row[j].flatMap(ReportFixed.accuracy)) }
      fields += [percent(matrix.forgetting(task: j)), percent(matrix.backwardTransfer(task: j))]
      lines.append(fields.map(field).joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  static func optional(_ value: Int?) -> String { value.map(String.init) ?? "" }

  /// `text` as one CSV field: quoted (inner quotes doubled) when it holds a comma, a quote or a
  /// line break.
  public static func field(_ text: String) -> String {
    let special = text.utf8.contains { byte in
      byte == UInt8(ascii: ",") || byte == UInt8(ascii: "\"") || byte == 0x0A || byte == 0x0D
    }
    guard special else { return text }
    var quoted = "\""
    for character in text { quoted += character == "\"" ? "\"\"" : String(character) }
    return quoted + "\""
  }

  // MARK: Rows

  /// One path row; nil fields are written empty.
  struct PathRow {
    var id: Int?
    var task: String
    var parentID: Int?
    var hyperparameters: Hyperparameters
    var classCount: Int
    var componentIDs: [Int]?
    var accountedParameters: Double?
    var validation: Quality?
    var test: Quality?
    var outputsDigest: String?
    var offspring: [(task: String, count: Int)]?
    var improved: Bool?
    var mutations: [String]?
    var parentVia: String?
    /// Fixed point, units of 2^-30.
    var score: Int64?
  }

  /// A `child` event of the journal.
  struct ChildEntry {
    var pathID: Int?
    var task: String
    var parentID: Int
    var parentVia: String
    var hyperparameters: Hyperparameters
    var mutations: [String]
    var kept: Bool
    /// The best validation (most correct; the last such) and its score, when it validated.
    var best: (quality: Quality, score: Int64)?
  }

  static func row(of path: EvolutionPath, state: SystemState, child: ChildEntry?, scorer: Scorer) -> PathRow {
    let isRoot = path.id == state.rootID
    return PathRow(
      id: path.id, task: path.task, parentID: path.parent, hyperparameters: path.hyperparameters,
      classCount: path.classCount, componentIDs: path.componentIDs,
      accountedParameters: isRoot
        ? nil : state.accountedParameters(componentIDs: path.componentIDs, task: path.task),
      validation: path.validation, test: path.test, outputsDigest: path.outputsDigest,
      offspring: path.offspring,
      improved: isRoot ? nil : true, mutations: child?.mutations, parentVia: child?.parentVia,
      score: state.score(of: path, scorer: scorer))
  }

  static func row(of child: ChildEntry, state: SystemState) -> PathRow {
    PathRow(
      id: child.pathID, task: child.task, parentID: child.parentID, hyperparameters: child.hyperparameters,
      classCount: state.taskInfo(child.task)?.classCount ?? 0, componentIDs: nil, accountedParameters: nil,
      validation: child.best?.quality, test: nil, outputsDigest: nil, offspring: nil, improved: child.kept,
      mutations: child.mutations, parentVia: child.parentVia, score: child.best?.score)
  }

  /// The journal's `child` events in order, and those that became paths by id.
  static func childEntries(
    _ journal: [JSONValue]
  ) throws(EvolutionError) -> (all: [ChildEntry], byPath: [Int: ChildEntry]) {
    var all: [ChildEntry] = []
    var byPath: [Int: ChildEntry] = [:]
    for (index, line) in journal.enumerated() where line["event"]?.stringValue == "child" {
      let child: ChildEntry
      do { child = try childEntry(line) } catch {
        throw .format("journal line \(index + 1): \(error)")
      }
      all.append(child)
      if let id = child.pathID { byPath[id] = child }
    }
    return (all, byPath)
  }

  static func childEntry(_ line: JSONValue) throws(EvolutionError) -> ChildEntry {
    guard let task = line["task"]?.stringValue,
          let parent = line["parent"]?.integerValue.flatMap({ Int(exactly: $0) }),
          let hyperJSON = line["hyperparameters"], let kept = line["kept"]?.boolValue else {
      throw .format("a child event lacks task, parent, hyperparameters or kept")
    }
    var best: (quality: Quality, score: Int64)?
    for record in line["validations"]?.arrayValue ?? [] {
      guard let correct = record["correct"]?.integerValue.flatMap({ Int(exactly: $0) }),
            let count = record["count"]?.integerValue.flatMap({ Int(exactly: $0) }),
            let score = record["score"]?.integerValue else {
        throw .format("a validation lacks correct, count or score")
      }
      if best == nil || correct >= best!.quality.correct {
        best = (Quality(correct: correct, count: count), score)
      }
    }
    return ChildEntry(
      pathID: line["path"]?.integerValue.flatMap { Int(exactly: $0) }, task: task, parentID: parent,
      parentVia: line["parent_via"]?.stringValue ?? "",
      hyperparameters: try Hyperparameters.parse(hyperJSON),
      mutations: (line["mutations"]?.arrayValue ?? []).compactMap(\.stringValue), kept: kept, best: best)
  }

  // MARK: Table text

  static let metricNames = [
    "improved", "mutations", "offsprings", "offsprings_per_task", "outputs_sha256", "parent_via", "private",
    "quality", "test_correct", "test_count", "test_quality", "validation_correct", "validation_count",
  ]

  static func table(_ rows: [PathRow], state: SystemState) -> String {
    var hyperNames = HyperKey.allCases.map(\.rawValue) + ["adapter_layers", "num_classes"]
    for row in rows {
      for rate in row.hyperparameters.mutationRates where !hyperNames.contains("_mu_|" + rate.name) {
        hyperNames.append("_mu_|" + rate.name)
      }
    }
    hyperNames.sort { JSONObject.keyPrecedes($0, $1) }
    let header = ["task_name", "id", "parent_id", "parent_task_name", "final_accounted_params", "components"]
      + hyperNames.map { "hparams." + $0 } + metricNames.map { "metrics." + $0 } + ["score"]
    // Parent tasks: the paths the system holds, and the rows (pruned children in paths.csv).
    var taskOf: [Int: String] = [:]
    for id in state.pathIDs { taskOf[id] = state.path(id).task }
    for row in rows { if let id = row.id { taskOf[id] = row.task } }
    var lines = [header.map(field).joined(separator: ",")]
    for row in rows {
      let parentTask = row.parentID.flatMap { taskOf[$0] }
      var fields: [String] = [row.task, row.id.map { String($0) } ?? "", String(row.parentID ?? -1)]
      fields.append(parentTask ?? "")
      fields.append(row.accountedParameters.map(decimal) ?? "")
      fields.append(row.componentIDs.map { ids in ids.map { String($0) }.joined(separator: "_") } ?? "")
      fields += hyperNames.map { hyperText($0, row) }
      fields += metricNames.map { metricText($0, row, state: state) }
      fields.append(row.score.map(scoreText) ?? "")
      lines.append(fields.map(field).joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  static func hyperText(_ name: String, _ row: PathRow) -> String {
    let hyper = row.hyperparameters
    if let key = HyperKey(rawValue: name) { return valueText(hyper[key]) }
    switch name {
    case "adapter_layers": return hyper.adapterLayers.map(String.init).joined(separator: "_")
    case "num_classes": return String(row.classCount)
    default:
      let rate = String(name.dropFirst(5))
      guard let entry = hyper.mutationRates.first(where: { $0.name == rate }) else { return "" }
      return HyperValue.decimalText(entry.micros)
    }
  }

  static func metricText(_ name: String, _ row: PathRow, state: SystemState) -> String {
    switch name {
    case "improved": return row.improved.map(boolText) ?? ""
    case "mutations": return row.mutations.map { JSONValue.array($0.map { .string($0) }).canonicalText } ?? ""
    case "offsprings":
      return row.offspring.map { list in String(list.first { $0.task == row.task }?.count ?? 0) } ?? ""
    case "offsprings_per_task":
      return row.offspring.map { list in
        JSONValue.object(JSONObject(list.map { ($0.task, JSONValue.integer(Int64($0.count))) })).canonicalText
      } ?? ""
    case "outputs_sha256": return row.outputsDigest ?? ""
    case "parent_via": return row.parentVia ?? ""
    case "private": return boolText(state.taskInfo(row.task)?.isPrivate ?? false)
    case "quality": return row.validation.map(accuracyText) ?? ""
    case "test_correct": return row.test.map { String($0.correct) } ?? ""
    case "test_count": return row.test.map { String($0.count) } ?? ""
    case "test_quality": return row.test.map(accuracyText) ?? ""
    case "validation_correct": return row.validation.map { String($0.correct) } ?? ""
    case "validation_count": return row.validation.map { String($0.count) } ?? ""
    default: preconditionFailure("unknown metric \(name)")
    }
  }

  static func valueText(_ value: HyperValue) -> String {
    switch value {
    case .integer(let number): String(number)
    case .decimal(let micros): HyperValue.decimalText(micros)
    case .flag(let flag): boolText(flag)
    case .word(let word): word
    }
  }

  static func boolText(_ value: Bool) -> String { value ? "True" : "False" }

  /// correct / count as the shortest decimal that reads back as the same `Double`.
  static func accuracyText(_ quality: Quality) -> String {
    quality.count == 0 ? "" : decimal(Double(quality.correct) / Double(quality.count))
  }

  /// A fixed-point score (units of 2^-30) as a decimal (exact: the division is by a power of two).
  static func scoreText(_ score: Int64) -> String { decimal(Double(score) / Double(ValidationScoring.one)) }

  static func decimal(_ value: Double) -> String { value.isFinite ? "\(value)" : "" }
}
