import MuNetData
import MuNetEvolution
import MuNetRuntime
import MuNetStorage
import MuNetTraining

/// A problem with what an inspection command (`digest`, `report`, `eval`, `predict`) was asked
/// to read; the message says what is wrong and what would be right.
struct InspectionError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// A system directory opened for reading, shared by the inspection commands.
struct InspectedSystem {
  let directory: String
  let store: SystemStore
  let state: SystemState
  let config: EvolutionConfig

  /// Opens `directory`, verifying the manifest's checksum, the committed journal and every
  /// component file (``SystemStore/open(directory:)``): a corrupt or truncated file is an error
  /// naming it, never a result.
  init(directory: String) throws {
    guard SystemStore.holdsSystem(directory) else {
      throw InspectionError(
        "\(directory): holds no munet system (no \(SystemStore.manifestName)); "
          + "pass a directory `munet evolve` wrote")
    }
    self.directory = directory
    (store, state, config) = try SystemStore.open(directory: directory)
  }

  /// Names of the tasks with a retained path, in byte order.
  var retainedTasks: [String] { state.retainedPaths.map(\.task) }

  /// The retained path of `task`; an unknown task is an error listing the known ones.
  func retainedPath(of task: String) throws -> EvolutionPath {
    guard let id = state.retainedPath(of: task) else {
      let known = retainedTasks.isEmpty ? "none yet" : retainedTasks.joined(separator: ", ")
      let reason = state.taskInfo(task) == nil ? "is not a task of" : "has no retained path yet in"
      throw InspectionError(
        "task '\(task)' \(reason) the system in \(directory); tasks with a retained path: \(known)")
    }
    return state.path(id)
  }

  /// The dataset of `nameOrPath` (a registered name or a dataset file/folder), checked to have
  /// the channels the system's components expect.
  func dataset(_ nameOrPath: String) throws -> DatasetSplits {
    let splits: DatasetSplits
    do { splits = try DatasetRegistry.load(nameOrPath) } catch {
      throw EvolutionError.data(task: nameOrPath, problem: "\(error)")
    }
    let channels = config.root.architecture.channels
    guard splits.train.shape.channels == channels else {
      throw EvolutionError.data(
        task: nameOrPath,
        problem: "images have \(splits.train.shape.channels) channels, the system expects \(channels)")
    }
    return splits
  }

  /// An evaluator of `path` (its retained model only) on `splits` at the path's image size.
  func evaluator(for path: EvolutionPath, splits: DatasetSplits, compute: Compute) throws -> Evaluator {
    try Evolver.evaluator(for: path, state: state, splits: splits, config: config, compute: compute)
  }

  /// True when the run that wrote the system used a deterministic tier (reference or threads):
  /// then its recorded results are reproducible bit for bit in those tiers.
  var recordedTierIsDeterministic: Bool {
    ["reference", "threads"].contains(store.run["tier"]?.stringValue ?? "")
  }
}

/// "correct/count (accuracy%)" with two decimals.
func qualityText(_ correct: Int, _ count: Int) -> String {
  let accuracy = count == 0 ? 0 : 100 * Double(correct) / Double(count)
  return "\(correct)/\(count) (\(String(format2: accuracy))%)"
}
