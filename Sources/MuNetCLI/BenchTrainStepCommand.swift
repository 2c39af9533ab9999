import ArgumentParser
import CMuNetSupport
import MuNetData
import MuNetModel
import MuNetRuntime
import MuNetTraining

/// `munet bench train-step`: training steps per second of the reference configuration (4 blocks,
/// width 64, 4 heads, MLP 256, 28×28 input with 4×4 patches, batch 64, SGD momentum 0.9 with
/// global-norm clipping), the configuration `bench/train_step_compare.py` runs in PyTorch and
/// JAX. A step is everything the trainer does: batch assembly from mnist-mini, forward,
/// backward, clipping, update.
struct BenchTrainStepCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train-step",
    abstract: "Training steps per second of the reference ViT configuration.")

  @OptionGroup var tierOptions: TierOptions
  @Option(help: "Timed steps per run.") var steps = 30
  @Option(help: "Untimed steps before the first run.") var warmup = 3
  @Option(help: "Runs (the median is reported).") var runs = 5
  @Option(help: "Images per batch.") var batchSize = 64
  @Flag(help: "Print one JSON object as the last line.") var json = false

  func validate() throws {
    guard steps >= 1 && runs >= 1 && warmup >= 0 && batchSize >= 1 else {
      throw ValidationError("--steps, --runs and --batch-size must be positive, --warmup non-negative")
    }
  }

  func run() throws {
    let splits = try DatasetRegistry.load("mnist-mini")
    let config = ViTConfig.reference
    let model = try ViTModel(config: config, initKey: StreamKey(seed: 0).child("init"))
    var settings = TrainingSettings(steps: warmup + steps * runs, validations: 1)
    settings.batchSize = batchSize
    let data = TaskData(
      name: "mnist-mini", splits: splits, seed: StreamKey(seed: 0), batchSize: batchSize,
      imageSize: config.imageSize, augmentation: .none, evaluationBatchSize: settings.evaluationBatchSize)
    let compute = tierOptions.makeCompute()
    let trainer = try Trainer(model: model, data: data, settings: settings, compute: compute)
    let schedule = settings.learningRateSchedule
    for step in 0..<warmup { trainer.trainStep(step, schedule: schedule) }
    var rates: [Double] = []
    var step = warmup
    for _ in 0..<runs {
      let start = munet_monotonic_ns()
      for _ in 0..<steps {
        trainer.trainStep(step, schedule: schedule)
        step += 1
      }
      rates.append(Double(steps) / (Double(munet_monotonic_ns() - start) / 1e9))
    }
    let median = rates.sorted()[rates.count / 2]
    // The trainer's workspace holds max(batch, evaluation batch) images; the rest of the
    // process (binary, dataset, parameters, gradients, optimizer state) comes on top.
    let workspaceBytes = ViTWorkspace.plannedBytes(
      config: config, batchCapacity: max(batchSize, settings.evaluationBatchSize))
    let peakResidentBytes = Int(munet_peak_rss_bytes())
    print("munet bench train-step (\(MuNetBuild.configuration)): \(config), batch \(batchSize), "
          + "\(model.parameterCount) parameters")
    print("tier \(compute.tier), \(compute.gemmEngine.name): median \(String(format2: median)) steps/s "
          + "over \(runs) runs of \(steps) steps (runs: \(rates.map { String(format2: $0) }.joined(separator: ", ")))")
    print("memory: workspace arena plan \(workspaceBytes / 1_000_000) MB, peak resident "
          + "\(peakResidentBytes / 1_000_000) MB (whole process)")
    if json {
      let runsText = rates.map { String(format2: $0) }.joined(separator: ",")
      print("{\"batch\":\(batchSize),\"build\":\"\(MuNetBuild.configuration)\",\"engine\":\"\(compute.gemmEngine.name)\","
            + "\"peak_resident_bytes\":\(peakResidentBytes),"
            + "\"runs\":[\(runsText)],\"steps_per_second\":\(String(format2: median)),"
            + "\"threads\":\(compute.threadCount),\"tier\":\"\(compute.tier.rawValue)\","
            + "\"workspace_planned_bytes\":\(workspaceBytes)}")
    }
  }
}
