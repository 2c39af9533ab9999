import MuNetStorage

/// The Markdown leaderboard of a system (`munet report`, and the end of `munet evolve`).
public enum Report {
  /// Per task: retained path, validation and test accuracy, parameters and accounted
  /// parameters, architecture; then components shared between tasks and totals.
  public static func leaderboard(state: SystemState, config: EvolutionConfig) -> String {
    var lines = [
      "| task | path | validation | test | parameters | accounted | layers | adapters | image | lr |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for task in state.tasks {
      guard let id = state.retainedPath(of: task.name) else {
        lines.append("| \(task.name) | - | - | - | - | - | - | - | - | - |")
        continue
      }
      let path = state.path(id)
      let hyper = path.hyperparameters
      let accounted = state.accountedParameters(componentIDs: path.componentIDs, task: path.task)
      lines.append(
        "| \(task.name)\(task.isPrivate ? " (private)" : "") | \(id) | \(percent(path.validation)) | "
          + "\(percent(path.test)) | \(state.parameterCount(of: path)) | \(Int(accounted.rounded())) | "
          + "\(hyper.layerCount) | \(hyper.adapterLayers.count) | \(hyper.imageSize) | \(hyper[.learningRate]) |")
    }
    let shared = sharedComponents(state)
    let total = state.componentIDs.reduce(0) { $0 + state.component($1).parameterCount }
    lines.append("")
    lines.append("Shared components (used by two or more retained paths): "
      + (shared.isEmpty ? "none" : shared.map { "\($0.name) #\($0.id) (\($0.users.joined(separator: ", ")))" }
        .joined(separator: "; ")))
    lines.append("Total parameters in the system: \(total) in \(state.componentIDs.count) components "
      + "(root \(state.parameterCount(of: state.root))).")
    return lines.joined(separator: "\n") + "\n"
  }

  /// Components used by the retained paths of two or more tasks (or a task and the root).
  public static func sharedComponents(_ state: SystemState) -> [(id: Int, name: String, users: [String])] {
    var result: [(id: Int, name: String, users: [String])] = []
    let retained = state.retainedPaths
    for id in state.componentIDs {
      var users = retained.filter { state.path($0.id).componentIDs.contains(id) }.map(\.task)
      if state.root.componentIDs.contains(id) { users.insert("root", at: 0) }
      if users.count >= 2 { result.append((id, state.component(id).name, users)) }
    }
    return result
  }

  /// The report files the history sections link to, with what they show.
  public static let plotFiles: [(name: String, title: String)] = [
    ("scores.svg", "Best validation accuracy of each task's population, per generation"),
    ("parameters.svg", "Parameters of each task's kept path as tasks were added"),
    ("sharing.svg", "Components shared between retained paths"),
  ]

  /// The Markdown sections `munet report` adds after the leaderboard: the plots, the
  /// parameters as tasks were added, and the accuracy matrix with forgetting and backward
  /// transfer (definitions in ``AccuracyMatrix``).
  public static func historySections(_ history: ReportHistory) -> String {
    var lines = ["", "## Plots", ""]
    for (name, title) in plotFiles { lines.append("![\(title)](\(name))") }
    lines.append("")
    lines += growthSection(history)
    lines.append("")
    lines += accuracySection(history.accuracy)
    return lines.joined(separator: "\n") + "\n"
  }

  static func growthSection(_ history: ReportHistory) -> [String] {
    var lines = [
      "## Parameters as tasks were added",
      "",
      "One row per task end, in run order (stage and round count from 0, as in the journal). "
        + "*parameters* and *accounted* are the kept path's at that moment (accounted: µ2Net's "
        + "accounted_num_params, each component divided among the tasks using it); *system* is what the "
        + "system held right after it: the distinct components of the root and of every retained path. "
        + "Table: [growth.csv](growth.csv); plot: [parameters.svg](parameters.svg).",
      "",
      "| step | stage | round | task | path | parameters | accounted | system parameters "
        + "| system components |",
      "|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for (index, record) in history.taskEnds.enumerated() {
      let accounted = record.accountedParameters.flatMap(Double.init).map { String(Int($0.rounded())) }
      lines.append(
        "| \(index + 1) | \(record.stage) | \(record.round) | \(record.task) | \(text(record.best)) | "
          + "\(text(record.parameters)) | \(accounted ?? "-") | \(text(record.systemParameters)) | "
          + "\(text(record.systemComponents)) |")
    }
    if history.taskEnds.isEmpty {
      lines.append("| - | - | - | (no task has ended yet) | - | - | - | - | - |")
    }
    if let note = history.systemTotalsNote {
      lines.append("")
      lines.append(note)
    }
    return lines
  }

  static func accuracySection(_ matrix: AccuracyMatrix) -> [String] {
    var lines = [
      "## Accuracy matrix",
      "",
      "Test accuracy (%) of each task's retained path (rows) after each task end (columns: number, the task "
        + "that ended, its round; **bold**: that task). munet does not re-test old tasks at a task end, and "
        + "need not: a finished task's path is immutable (its components are locked), and every task end "
        + "verified every other task's logits bit for bit (`outputs_sha256`). So a task's entry is its last "
        + "recorded test result, carried forward until the task is trained again and keeps another path. "
        + "Table: [accuracy-matrix.csv](accuracy-matrix.csv).",
      "",
    ]
    guard !matrix.steps.isEmpty else { return lines + ["(no task has ended yet)"] }
    let labels = stepLabels(matrix)
    lines.append("| task | " + labels.joined(separator: " | ") + " | forgetting | BWT |")
    lines.append("|---|" + String(repeating: "---:|", count: labels.count + 2))
    for (j, task) in matrix.tasks.enumerated() {
      var cells = [task]
      for (i, step) in matrix.steps.enumerated() {
        let value = percentOrDash(matrix.values[i][j].flatMap(ReportFixed.accuracy))
        cells.append(step.task == task && value != "-" ? "**\(value)**" : value)
      }
      cells.append(percentOrDash(matrix.forgetting(task: j)))
      cells.append(percentOrDash(matrix.backwardTransfer(task: j)))
      lines.append("| " + cells.joined(separator: " | ") + " |")
    }
    let defined = matrix.tasks.indices.filter { matrix.forgetting(task: $0) != nil }.count
    lines += [
      "",
      "- average accuracy after the last step: \(percentOrDash(matrix.averageAccuracy))%",
      "- forgetting, mean over the \(defined) task\(defined == 1 ? "" : "s") learned before the last "
        + "step: \(percentOrDash(matrix.meanForgetting)) points. A task's forgetting is the highest "
        + "accuracy it had at any earlier step minus its accuracy at the last step (Chaudhry et al. 2018): "
        + "0 for a task never trained again; it can be positive only when a later iteration of the task "
        + "kept a path with a lower test accuracy (paths are chosen by validation score).",
      "- backward transfer BWT, mean over the same tasks: \(percentOrDash(matrix.backwardTransfer)) "
        + "points. A task's BWT is its accuracy at the last step minus its accuracy when it was first "
        + "learned (the first step where it has a value; Lopez-Paz & Ranzato 2017, Avalanche's BWT, i.e. "
        + "minus Avalanche's Forgetting).",
    ]
    if matrix.steps.first?.task == nil {
      lines.append("- *start*: the results of the tasks carried over from the system this stage continues.")
    }
    return lines
  }

  /// Column labels of the matrix's rows: "3 mnist-mini r1" (task ends numbered from 1), "start s1".
  public static func stepLabels(_ matrix: AccuracyMatrix) -> [String] {
    var number = 0
    return matrix.steps.map { step in
      if step.task != nil { number += 1 }
      return step.label(number: number)
    }
  }

  static func percentOrDash(_ value: Int64?) -> String { value.map { ReportFixed.percentText($0) } ?? "-" }

  static func text(_ value: Int?) -> String { value.map(String.init) ?? "-" }

  static func percent(_ quality: Quality?) -> String {
    guard let quality, quality.count > 0 else { return "-" }
    let basisPoints = (quality.correct * 10_000 + quality.count / 2) / quality.count
    let fraction = basisPoints % 100
    return "\(basisPoints / 100).\(fraction < 10 ? "0" : "")\(fraction)%"
  }
}
