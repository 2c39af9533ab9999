import MuNetData
import MuNetModel
import MuNetRuntime

/// One validation during training.
public struct ValidationRecord: Equatable, Sendable {
  /// Steps done when it ran (1-based: the last one has `step == steps`).
  public let step: Int
  public let correct: Int
  public let count: Int
  /// `correct · factor / count` (``ValidationScoring``): what the kept snapshot is chosen by.
  public let score: Int64
  /// True when its parameters became the kept snapshot.
  public let kept: Bool
  /// Mean training loss over the steps since the previous validation (for display).
  public let meanTrainLoss: Double

  /// Accuracy as a fraction (presentation only; decisions compare `correct` exactly).
  public var accuracy: Double { count == 0 ? 0 : Double(correct) / Double(count) }
}

/// What a training run produced. The model holds the kept (best-validation) parameters.
public struct TrainingResult: Equatable, Sendable {
  public var validations: [ValidationRecord] = []
  /// The kept validation (nil when training diverged before any).
  public var best: ValidationRecord?
  public var testCorrect = 0
  public var testCount = 0
  /// True when a loss became NaN or infinite; training stopped at `stepsRun`.
  public var diverged = false
  public var stepsRun = 0

  public var testAccuracy: Double { testCount == 0 ? 0 : Double(testCorrect) / Double(testCount) }
}

/// Progress reported after every step (display only: never fed back into training).
public struct TrainingProgress: Sendable {
  public let step: Int
  public let steps: Int
  public let loss: Double
  public let learningRate: Float
  public let validation: ValidationRecord?
}

public enum TrainingError: Error, CustomStringConvertible {
  case invalidSettings([String])
  case mismatch(String)
  case memory(ArenaError)

  public var description: String {
    switch self {
    case .invalidSettings(let problems): return "invalid training settings:\n  " + problems.joined(separator: "\n  ")
    case .mismatch(let message): return message
    case .memory(let error): return error.description
    }
  }
}

/// Trains one model on one task: SGD with momentum, global-norm clipping, a learning-rate
/// schedule, validations at fixed step counts and a best-validation snapshot.
///
/// Determinism: every input is a function of (data, seed, settings); batches come from
/// ``TaskData`` (keyed streams), the kept snapshot is chosen by comparing integer counts of
/// correct validation answers, and all arithmetic goes through `Compute`. So the trained bits
/// are the same in Tier 0 and Tier 1 for every thread count. All memory is planned up front:
/// a training step makes no heap allocation.
public final class Trainer {
  public let model: ViTModel
  public let data: TaskData
  public let settings: TrainingSettings
  public let compute: Compute

  private let workspace: ViTWorkspace
  private let optimizer: SGDMomentum
  private let arena: Arena
  private let images: Tensor
  private let labels: UnsafeMutableBufferPointer<Int32>
  private let trainable: [TrainableParameter]
  private let snapshot: [UnsafeMutableBufferPointer<Float>]
  /// Validation and test run through the evaluator's loop, on this trainer's memory.
  private let evaluator: Evaluator

  public init(model: ViTModel, data: TaskData, settings: TrainingSettings, compute: Compute) throws(TrainingError) {
    let problems = settings.problems()
    guard problems.isEmpty else { throw .invalidSettings(problems) }
    let config = model.config
    guard data.outputHeight == config.imageSize, data.channels == config.channels,
          data.batchSize == settings.batchSize, data.evaluationBatchSize == settings.evaluationBatchSize
    else {
      throw .mismatch("data for '\(data.name)' (\(data.outputHeight)px, \(data.channels) channels, batch "
        + "\(data.batchSize)) does not match the model (\(config.imageSize)px, \(config.channels) channels) "
        + "and settings (batch \(settings.batchSize))")
    }
    self.model = model
    self.data = data
    self.settings = settings
    self.compute = compute
    let capacity = max(settings.batchSize, settings.evaluationBatchSize)
    do {
      workspace = try ViTWorkspace(config: config, batchCapacity: capacity)
    } catch {
      throw .mismatch("model configuration: \(error)")
    }
    trainable = model.namedParameters().compactMap { parameter in
      parameter.gradient.map { TrainableParameter(values: parameter.value.buffer, gradients: $0.buffer) }
    }
    let imageShape = Shape(capacity, config.imageSize, config.imageSize, config.channels)
    var plan = ArenaPlan()
    plan.reserve(imageShape)
    SGDMomentum.reserveTraces(in: &plan, for: trainable)
    for parameter in trainable { plan.reserve(elements: parameter.values.count) }
    arena = Arena(name: "trainer", plan: plan)
    do {
      images = try arena.allocate(imageShape)
      optimizer = try SGDMomentum(
        parameters: trainable, momentum: settings.momentum, nesterov: settings.nesterov,
        maxGradientNorm: settings.maxGradientNorm, arena: arena)
      var saved: [UnsafeMutableBufferPointer<Float>] = []
      for parameter in trainable { saved.append(try arena.allocate(Shape(parameter.values.count)).buffer) }
      snapshot = saved
    } catch {
      throw .memory(error)
    }
    labels = .allocate(capacity: capacity)
    labels.initialize(repeating: 0)
    evaluator = Evaluator(
      model: model, data: data, compute: compute, workspace: workspace, arena: nil, images: images,
      labels: labels, ownsLabels: false)
  }

  deinit { labels.deallocate() }

  /// Trains for `settings.steps` steps, keeps the best validation's parameters in the model and
  /// evaluates them on the test split.
  public func run(progress: ((TrainingProgress) -> Void)? = nil) -> TrainingResult {
    var result = TrainingResult()
    let schedule = settings.learningRateSchedule
    var lossSum = 0.0
    var lossSteps = 0
    for step in 0..<settings.steps {
      let (loss, learningRate) = trainStep(step, schedule: schedule)
      result.stepsRun = step + 1
      guard loss.isFinite else {
        result.diverged = true
        break
      }
      lossSum += loss
      lossSteps += 1
      var record: ValidationRecord?
      if settings.validates(afterStep: step) {
        record = validate(step: step + 1, meanTrainLoss: lossSum / Double(lossSteps), best: result.best)
        result.validations.append(record!)
        if record!.kept { result.best = record }
        lossSum = 0
        lossSteps = 0
      }
      progress?(TrainingProgress(
        step: step + 1, steps: settings.steps, loss: loss, learningRate: learningRate, validation: record))
    }
    if result.best != nil { restoreSnapshot() }
    if settings.evaluatesTest {
      let test = evaluate(.test, examplesMax: nil)
      result.testCorrect = test.correct
      result.testCount = test.count
    }
    return result
  }

  /// One training step: batch `step`, forward, backward, and (when the loss is finite) the
  /// clipped SGD update with the schedule's rate. Returns the batch's mean loss and the rate.
  @discardableResult
  public func trainStep(_ step: Int, schedule: LearningRateSchedule) -> (loss: Double, learningRate: Float) {
    data.trainBatch(step: step, images: images.buffer, labels: labels, compute: compute)
    let batchLabels = UnsafeBufferPointer(rebasing: labels[0..<settings.batchSize])
    let loss = workspace.lossAndGradients(
      model, images: batchTensor(settings.batchSize), labels: batchLabels, compute: compute)
    let learningRate = schedule.learningRate(step: step)
    if loss.isFinite { optimizer.step(learningRate: learningRate, compute: compute) }
    return (loss, learningRate)
  }

  /// Correct answers of the model as it is now on `split` (the first `examplesMax` examples).
  public func evaluate(_ split: TaskData.EvaluationSplit, examplesMax: Int?) -> (correct: Int, count: Int) {
    evaluator.accuracy(split, examplesMax: examplesMax)
  }

  private func validate(step: Int, meanTrainLoss: Double, best: ValidationRecord?) -> ValidationRecord {
    let (correct, count) = evaluate(.validation, examplesMax: settings.validationExamplesMax)
    let score = settings.scoring.score(correct: correct, count: count)
    let kept: Bool
    if let bar = best?.score ?? settings.scoring.bar {
      kept = settings.tieRule == .latest ? score >= bar : score > bar
    } else {
      kept = true
    }
    if kept { takeSnapshot() }
    return ValidationRecord(
      step: step, correct: correct, count: count, score: score, kept: kept, meanTrainLoss: meanTrainLoss)
  }

  /// The first `count` images of the input buffer as a `[count, S, S, C]` tensor.
  private func batchTensor(_ count: Int) -> Tensor {
    let shape = images.shape
    precondition(count >= 1 && count <= shape[0], "batch of \(count) outside 1...\(shape[0])")
    return Tensor(base: images.base, shape: Shape(count, shape[1], shape[2], shape[3]))
  }

  private func takeSnapshot() {
    for (parameter, saved) in zip(trainable, snapshot) {
      saved.baseAddress!.update(from: parameter.values.baseAddress!, count: parameter.values.count)
    }
  }

  private func restoreSnapshot() {
    for (parameter, saved) in zip(trainable, snapshot) {
      parameter.values.baseAddress!.update(from: saved.baseAddress!, count: saved.count)
    }
  }
}
