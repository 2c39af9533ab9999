import ArgumentParser
import MuNetEvolution

/// `munet digest`: the SHA-256 of a system (or of one task's retained path), first on its line
/// so scripts can compare runs with `cut -d' ' -f1`.
struct DigestCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "digest",
    abstract: "Print the SHA-256 of a system directory's canonical state (or of one task's path).",
    discussion: """
      The system digest covers the configuration, every path, component digest, lock, metric \
      and counter, and the committed journal; not the tier, threads or munet version. A task \
      digest covers the task's retained path only: its components' bytes and hyperparameters \
      (see SystemDigest). Every file is verified first: a corrupt or truncated file is an \
      error naming it.
      """)

  @Argument(help: "System directory (written by munet evolve).") var directory: String
  @Option(help: "Digest this task's retained path instead of the whole system.") var task: String?

  func run() throws {
    print(try Self.line(directory: directory, task: task))
  }

  /// The output line: `<sha256>  system <directory>` or `<sha256>  task <name>`.
  static func line(directory: String, task: String?) throws -> String {
    let system = try InspectedSystem(directory: directory)
    guard let task else {
      return SystemDigest.system(state: system.state, store: system.store, config: system.config)
        + "  system \(directory)"
    }
    let path = try system.retainedPath(of: task)
    return SystemDigest.path(path, state: system.state) + "  task \(task)"
  }
}
