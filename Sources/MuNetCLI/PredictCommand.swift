import ArgumentParser
import MuNetData
import MuNetEvolution
import MuNetRuntime
import MuNetTraining

/// `munet predict`: task-routed inference: the class one task's retained path predicts for each
/// image of a dataset.
struct PredictCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "predict",
    abstract: "Predict classes for images with one task's retained path of a system.",
    discussion: """
      --input is anything `munet train --task` accepts: a registered dataset name or a dataset \
      file or folder. The images are the TEST split of that input (as munet data splits it: the \
      test file, or the test part of a single file), in file order, resized to the path's image \
      size without augmentation. Prints one line per image: index (in the test split), \
      predicted class, label; then the number of correct predictions.
      """)

  @Argument(help: "System directory (written by munet evolve).") var directory: String
  @Option(help: "Task whose retained path predicts.") var task: String
  @Option(help: "Dataset name, file or folder whose test images to classify.") var input: String
  @Option(help: "At most this many images (default: the whole test split).") var limit: Int?
  @OptionGroup var tierOptions: TierOptions

  func validate() throws {
    if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
  }

  func run() throws {
    let compute = tierOptions.makeCompute()
    let (pathID, predictions) = try Self.predictions(
      directory: directory, task: task, input: input, limit: limit, compute: compute)
    print("munet predict: \(directory) task \(task) path \(pathID) on the test split of \(input) "
          + "(\(predictions.count) images)")
    print("index predicted label")
    var correct = 0
    for (index, prediction) in predictions.enumerated() {
      print("\(index) \(prediction.predicted) \(prediction.label)")
      if prediction.predicted == prediction.label { correct += 1 }
    }
    print("correct: \(qualityText(correct, predictions.count))")
  }

  /// The retained path of `task` and its (predicted, label) for the first `limit` test images
  /// of `input`.
  static func predictions(
    directory: String, task: String, input: String, limit: Int?, compute: Compute
  ) throws -> (pathID: Int, predictions: [(predicted: Int, label: Int)]) {
    let system = try InspectedSystem(directory: directory)
    let path = try system.retainedPath(of: task)
    let evaluator = try system.evaluator(for: path, splits: try system.dataset(input), compute: compute)
    return (path.id, evaluator.predictions(.test, examplesMax: limit))
  }
}
