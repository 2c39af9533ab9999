/// Why an evolution cannot start, continue or be read. Every message names the file or the
/// setting at fault.
public enum EvolutionError: Error, Equatable, CustomStringConvertible {
  /// A configuration problem (`source` is the config file or "--from" system).
  case config(source: String, problems: [String])
  /// A malformed value inside a file; the caller wraps it with the file name.
  case format(String)
  /// A file of a system directory that is missing, truncated, corrupt or inconsistent.
  case file(path: String, problem: String)
  /// A dataset that cannot be loaded.
  case data(task: String, problem: String)
  /// A model that cannot be built from a path's components.
  case model(String)
  /// Another task's outputs changed: the freezing guarantee failed (a bug, never expected).
  case immutabilityViolated(task: String, expected: String, found: String)
  /// The output directory holds something this run must not overwrite.
  case directory(path: String, problem: String)

  public var description: String {
    switch self {
    case .config(let source, let problems):
      return "\(source): invalid configuration:\n  " + problems.joined(separator: "\n  ")
    case .format(let message): return message
    case .file(let path, let problem): return "\(path): \(problem)"
    case .data(let task, let problem): return "task \(task): \(problem)"
    case .model(let message): return message
    case .immutabilityViolated(let task, let expected, let found):
      return "task \(task): outputs changed after another task trained (digest \(expected) became \(found))"
    case .directory(let path, let problem): return "\(path): \(problem)"
    }
  }
}
