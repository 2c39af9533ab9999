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

  static func percent(_ quality: Quality?) -> String {
    guard let quality, quality.count > 0 else { return "-" }
    let basisPoints = (quality.correct * 10_000 + quality.count / 2) / quality.count
    let fraction = basisPoints % 100
    return "\(basisPoints / 100).\(fraction < 10 ? "0" : "")\(fraction)%"
  }
}
