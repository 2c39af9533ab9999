import ArgumentParser
import MuNetData
import MuNetEvolution
import MuNetRuntime
import MuNetTraining

/// `munet eval`: task-routed evaluation of a system: builds only the task's retained path and
/// evaluates it on the task's data, then compares with the result the run recorded.
struct EvalCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval",
    abstract: "Evaluate one task's retained path of a system and compare with its recorded result.",
    discussion: """
      Builds only the task's path (its components, nothing else of the system) at the path's \
      image size, with no augmentation. --split test evaluates the whole test split; --split \
      validation the first validation examples that scored the path during evolution \
      (training.validation_examples_max). When the run and this command both use tier \
      reference or threads, the result must equal the recorded one exactly, or the command fails.
      """)

  @Argument(help: "System directory (written by munet evolve).") var directory: String
  @Option(help: "Task whose retained path to evaluate.") var task: String
  @Option(help: "test or validation.") var split = "test"
  @OptionGroup var tierOptions: TierOptions

  func validate() throws {
    guard TaskData.EvaluationSplit(rawValue: split) != nil else {
      throw ValidationError("--split must be test or validation, not '\(split)'")
    }
  }

  /// What an evaluation found.
  struct Outcome {
    let pathID: Int
    let split: TaskData.EvaluationSplit
    let correct: Int
    let count: Int
    /// The result the run recorded for this split (nil: none recorded).
    let recorded: Quality?
    /// True when agreement is required: the run and this evaluation both in a deterministic tier.
    let mustAgree: Bool

    var agrees: Bool { recorded.map { $0.correct == correct && $0.count == count } ?? false }
  }

  func run() throws {
    let compute = tierOptions.makeCompute()
    let outcome = try Self.evaluate(
      directory: directory, task: task, split: TaskData.EvaluationSplit(rawValue: split)!, compute: compute)
    print("munet eval: \(directory) task \(task) path \(outcome.pathID), \(split) split, "
          + "compute \(compute.tier) (\(compute.gemmEngine.name))")
    print("\(split): \(qualityText(outcome.correct, outcome.count))")
    guard let recorded = outcome.recorded else {
      print("recorded \(split): none")
      return
    }
    let verdict = outcome.agrees ? "agrees" : outcome.mustAgree ? "DIFFERS" : "differs (Tier 2 results may)"
    print("recorded \(split): \(qualityText(recorded.correct, recorded.count)): \(verdict)")
    if outcome.mustAgree && !outcome.agrees {
      throw InspectionError("the evaluation of task \(task) differs from the recorded \(split) result")
    }
  }

  /// Evaluates `task`'s retained path of the system in `directory` on `split`.
  static func evaluate(
    directory: String, task: String, split: TaskData.EvaluationSplit, compute: Compute
  ) throws -> Outcome {
    let system = try InspectedSystem(directory: directory)
    let path = try system.retainedPath(of: task)
    let evaluator = try system.evaluator(for: path, splits: try system.dataset(task), compute: compute)
    let examplesMax = split == .validation ? system.config.training.validationExamplesMax : nil
    let (correct, count) = evaluator.accuracy(split, examplesMax: examplesMax)
    return Outcome(
      pathID: path.id, split: split, correct: correct, count: count,
      recorded: split == .test ? path.test : path.validation,
      mustAgree: system.recordedTierIsDeterministic && compute.tier != .blas)
  }
}
