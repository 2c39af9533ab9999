import ArgumentParser
import CMuNetSupport
import MuNetData
import MuNetModel
import MuNetRuntime
import MuNetStorage
import MuNetTraining

/// `munet train`: trains one ViT on one task (the "train from scratch" baseline, or "fine-tune
/// all" with `--init-from`), prints validation and test accuracy and saves the model.
struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train one ViT on one task and save it as a safetensors file.",
    discussion: """
      DATASET is a name from `munet data list` (mnist-mini, fashion-mini and optdigits-mini are \
      committed; mnist, fashion-mnist and optdigits need scripts/fetch-data) or a path to a \
      dataset file or folder. The same arguments give the same bits in tiers reference and \
      threads, for any --threads.
      """)

  @Option(name: .customLong("task"), help: "Dataset name or path.") var task: String
  @Option(help: "Training steps (batches).") var steps = 1000
  @Option(help: "Seed of every random stream (init, data order, augmentation).") var seed: UInt64 = 0
  @OptionGroup var tierOptions: TierOptions
  @Option(help: "Where to save the model (canonical safetensors).") var out: String?

  @Option(help: "Validations during training, evenly spaced; the best is kept (default: min(10, steps)).")
  var validations: Int?
  @Option(help: "Images per training batch.") var batchSize = 64
  @Option(help: "Peak learning rate.") var learningRate = 0.1
  @Option(help: "Schedule: cosine, constant, restarts or linear.") var schedule = "cosine"
  @Option(help: "Warmup as a fraction of the steps.") var warmupRatio = 0.1
  @Option(help: "SGD momentum (0: plain SGD).") var momentum: Float = 0.9
  @Flag(help: "Nesterov momentum.") var nesterov = false
  @Option(help: "At most this many validation examples (all when omitted).") var validationMax: Int?

  @Option(help: "Image side the model sees (default: the dataset's).") var imageSize: Int?
  @Option(help: "Patch side.") var patchSize = 4
  @Option(help: "Model width D.") var width = 64
  @Option(help: "Attention heads.") var heads = 4
  @Option(help: "MLP width.") var mlpDim = 256
  @Option(help: "Encoder blocks.") var layers = 4
  @Option(help: "Start from this model file (fine-tune all); the head is re-initialised if classes differ.")
  var initFrom: String?

  @Option(help: "Augmentation: none, crop (random crop, no flip) or reference (µ2Net: crop + flip).")
  var augment = "none"
  @Option(help: "Smallest crop area fraction (with --augment crop/reference).") var cropAreaMin: Float = 0.5

  func validate() throws {
    var problems: [String] = []
    if LearningRateSchedule.Kind(rawValue: schedule) == nil {
      problems.append("--schedule must be cosine, constant, restarts or linear")
    }
    if !["none", "crop", "reference"].contains(augment) { problems.append("--augment must be none, crop or reference") }
    if !(cropAreaMin > 0 && cropAreaMin <= 1) { problems.append("--crop-area-min must be in (0, 1]") }
    if let imageSize, imageSize < patchSize || imageSize % patchSize != 0 {
      problems.append("--image-size must be a multiple of --patch-size")
    }
    problems += settings.problems().map { "training: \($0)" }
    guard problems.isEmpty else { throw ValidationError(problems.joined(separator: "\n")) }
  }

  var settings: TrainingSettings {
    var settings = TrainingSettings(steps: steps, validations: validationCount)
    settings.batchSize = batchSize
    settings.learningRate = learningRate
    settings.schedule = LearningRateSchedule.Kind(rawValue: schedule) ?? .cosine
    settings.warmupRatio = warmupRatio
    settings.momentum = momentum
    settings.nesterov = nesterov
    settings.validationExamplesMax = validationMax
    return settings
  }

  var validationCount: Int { validations ?? min(10, max(steps, 1)) }

  var augmentation: AugmentationParameters {
    switch augment {
    case "crop": return AugmentationParameters(
      crop: true, areaRangeMin: cropAreaMin, aspectRatioRangeMin: 0.75, flipLeftRight: false)
    case "reference": return AugmentationParameters(
      crop: true, areaRangeMin: cropAreaMin, aspectRatioRangeMin: 0.75, flipLeftRight: true)
    default: return .none
    }
  }

  func run() throws {
    let splits = try DatasetRegistry.load(task)
    let size = imageSize ?? splits.train.shape.height
    let config = ViTConfig(
      imageSize: size, patchSize: patchSize, channels: splits.train.shape.channels, width: width,
      heads: heads, mlpDim: mlpDim, layerCount: layers, classCount: splits.train.classCount)
    try config.validate()
    let root = StreamKey(seed: seed)
    let model = try makeModel(config: config, key: root.child("init"))
    let data = TaskData(
      name: task, splits: splits, seed: root, batchSize: batchSize, imageSize: size,
      augmentation: augmentation, evaluationBatchSize: settings.evaluationBatchSize)
    let compute = tierOptions.makeCompute()
    let trainer = try Trainer(model: model, data: data, settings: settings, compute: compute)
    printHeader(config: config, splits: splits, model: model, compute: compute)
    let display = ProgressDisplay(steps: steps)
    let result = trainer.run { display.update($0) }
    display.finish()
    try report(result, model: model, config: config, seconds: display.elapsedSeconds)
  }

  private func makeModel(config: ViTConfig, key: StreamKey) throws -> ViTModel {
    let model = try ViTModel(config: config, initKey: key)
    guard let initFrom else { return model }
    let (source, _) = try ModelFile.load(path: initFrom)
    guard source.config.imageSize == config.imageSize, source.config.patchSize == config.patchSize,
          source.config.width == config.width, source.config.layerCount == config.layerCount else {
      throw ValidationError("\(initFrom): its architecture (\(source.config)) differs from the one asked for "
                            + "(\(config)); pass matching --image-size/--patch-size/--width/--layers")
    }
    // A new task with another class count gets the fresh zero-initialised head.
    let keepHead = source.config.classCount == config.classCount
    let arrays = source.exportParameters().filter { keepHead || !$0.name.hasPrefix("head/") }
      + (keepHead ? [] : model.exportParameters().filter { $0.name.hasPrefix("head/") })
    try model.loadParameters(arrays, allowingUnused: false)
    return model
  }

  private func printHeader(config: ViTConfig, splits: DatasetSplits, model: ViTModel, compute: Compute) {
    print("munet train: task \(task) (train \(splits.train.count), validation \(splits.validation.count), "
          + "test \(splits.test.count), \(splits.train.classCount) classes)")
    print("model: \(config), \(model.parameterCount) parameters")
    print("training: \(steps) steps of \(batchSize), lr \(learningRate) \(schedule), warmup \(warmupRatio), "
          + "momentum \(momentum)\(nesterov ? " nesterov" : ""), augment \(augment), seed \(seed)")
    print("compute: \(compute.tier), \(compute.gemmEngine.name), build \(MuNetBuild.configuration)")
  }

  private func report(_ result: TrainingResult, model: ViTModel, config: ViTConfig, seconds: Double) throws {
    if result.diverged {
      throw ValidationError("training diverged (loss not finite) at step \(result.stepsRun); try a lower --learning-rate")
    }
    let best = result.best!
    print("validation accuracy \(percent(best.correct, best.count)) (best of \(result.validations.count), "
          + "step \(best.step))")
    print("test accuracy \(percent(result.testCorrect, result.testCount)) "
          + "(\(result.testCorrect)/\(result.testCount))")
    print("time \(String(format2: seconds)) s, \(String(format2: Double(result.stepsRun) / max(seconds, 1e-9))) steps/s")
    guard let out else { return }
    let metadata: [String: String] = [
      "munet.task": task,
      "munet.seed": String(seed),
      "munet.steps": String(steps),
      "munet.training": trainingDescription,
      "munet.validation_correct": "\(best.correct)/\(best.count)",
      "munet.test_correct": "\(result.testCorrect)/\(result.testCount)",
      "munet.version": MuNetBuild.version,
    ]
    try ModelFile.save(model: model, metadata: metadata, to: out)
    let bytes = try readFile(out, limitBytes: 1 << 34)
    print("saved \(out) sha256 \(SHA256.hash(bytes).hex)")
  }

  private var trainingDescription: String {
    "batch=\(batchSize) lr=\(learningRate) schedule=\(schedule) warmup=\(warmupRatio) momentum=\(momentum) "
      + "nesterov=\(nesterov) validations=\(validationCount) augment=\(augment) crop_area_min=\(cropAreaMin)"
      + (initFrom.map { " init_from=\($0)" } ?? "")
  }

  private func percent(_ correct: Int, _ count: Int) -> String {
    count == 0 ? "n/a" : String(format2: 100 * Double(correct) / Double(count)) + "%"
  }
}

/// The terminal progress line of a training run (presentation only: reads the clock).
final class ProgressDisplay {
  let steps: Int
  let startNanoseconds = munet_monotonic_ns()
  let isTerminal = munet_stdout_is_terminal() != 0
  private var lastPrintNanoseconds: UInt64 = 0
  private var lossAverage = 0.0
  private var lastValidation = ""

  init(steps: Int) { self.steps = steps }

  var elapsedSeconds: Double { Double(munet_monotonic_ns() - startNanoseconds) / 1e9 }

  func update(_ progress: TrainingProgress) {
    lossAverage = progress.step == 1 ? progress.loss : 0.98 * lossAverage + 0.02 * progress.loss
    if let validation = progress.validation {
      lastValidation = " val \(String(format2: 100 * validation.accuracy))%\(validation.kept ? "*" : "")"
      if !isTerminal { printLine(progress) }
    }
    let now = munet_monotonic_ns()
    guard isTerminal, now - lastPrintNanoseconds > 200_000_000 || progress.step == steps else { return }
    lastPrintNanoseconds = now
    printLine(progress)
  }

  private func printLine(_ progress: TrainingProgress) {
    let seconds = elapsedSeconds
    let rate = Double(progress.step) / max(seconds, 1e-9)
    let eta = Double(steps - progress.step) / max(rate, 1e-9)
    let line = "step \(progress.step)/\(steps) loss \(String(format2: lossAverage)) lr "
      + "\(progress.learningRate)\(lastValidation) \(String(format2: rate)) steps/s eta \(Int(eta)) s"
    if isTerminal { print("\r\u{1B}[K" + line, terminator: "") } else { print(line) }
    munet_flush_stdout()
  }

  func finish() { if isTerminal { print("") } }
}
