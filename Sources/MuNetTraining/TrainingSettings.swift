import MuNetModel

/// How one model is trained on one task: the optimizer, the schedule and when to validate.
///
/// Defaults follow the µ2Net reference (SGD, momentum 0.9, no Nesterov, cosine schedule with a
/// 10% warmup from lr/100, global-norm clipping at 1.0), except the batch size (64 here; 512 in
/// the reference, sized for TPUs).
public struct TrainingSettings: Equatable, Sendable {
  /// Training steps (batches), `T` in the schedule.
  public var steps: Int
  /// Validations during training, evenly spaced; the last one is after the final step.
  public var validations: Int
  public var batchSize: Int = 64
  /// Batch size for validation and test.
  public var evaluationBatchSize: Int = 256
  /// At most this many validation examples are used (the first ones, in file order); nil = all.
  public var validationExamplesMax: Int? = nil
  public var learningRate: Double = 0.01
  public var schedule: LearningRateSchedule.Kind = .cosine
  public var warmupRatio: Double = 0.1
  public var momentum: Float = 0.9
  public var nesterov: Bool = false
  public var maxGradientNorm: Float = 1
  /// Which validation's parameters are kept when scores tie.
  public var tieRule: TieRule = .latest
  /// How a validation is scored, and the score a validation must reach to be kept at all.
  public var scoring: ValidationScoring = .accuracy
  /// Evaluate the kept parameters on the whole test split at the end of ``Trainer/run(progress:)``
  /// (evolution skips it for children and tests only the paths it retains).
  public var evaluatesTest = true

  /// Among equal validation scores, keep the first snapshot (muNet: `>`) or the latest
  /// (µ2Net: `>=`).
  public enum TieRule: String, Sendable, CaseIterable {
    case first, latest
  }

  public init(steps: Int, validations: Int) {
    self.steps = steps
    self.validations = validations
  }

  /// Checks every field; the messages list every problem at once.
  public func problems() -> [String] {
    var found: [String] = []
    if steps < 1 { found.append("steps must be at least 1, got \(steps)") }
    if validations < 1 || validations > max(steps, 1) {
      found.append("validations must be in 1...steps, got \(validations)")
    }
    if batchSize < 1 { found.append("batch size must be at least 1, got \(batchSize)") }
    if evaluationBatchSize < 1 { found.append("evaluation batch size must be at least 1") }
    if !(learningRate.isFinite && learningRate > 0) { found.append("learning rate must be positive") }
    if !(warmupRatio >= 0 && warmupRatio < 1) { found.append("warmup ratio must be in [0, 1)") }
    if !(momentum.isFinite && momentum >= 0 && momentum < 1) { found.append("momentum must be in [0, 1)") }
    if scoring.factor < 1 || scoring.factor > ValidationScoring.one {
      found.append("score factor must be in 1...2^30, got \(scoring.factor)")
    }
    if schedule == .restarts && steps % validations != 0 {
      found.append("restarts: validations (\(validations)) must divide steps (\(steps))")
    }
    return found
  }

  /// True when a validation follows step `step` (0-based): `validations` evenly spaced points,
  /// the last after the final step. Integer arithmetic only.
  public func validates(afterStep step: Int) -> Bool {
    let done = step + 1
    return done * validations / steps > step * validations / steps
  }

  /// The learning-rate schedule for these settings.
  public var learningRateSchedule: LearningRateSchedule {
    LearningRateSchedule(
      kind: schedule, peak: learningRate, totalSteps: steps, warmupRatio: warmupRatio,
      cycles: schedule == .restarts ? validations : 1)
  }
}

/// The fixed-point score of a validation and the bar it must clear to be kept.
///
/// `score = correct · factor / count` (integer division), where `factor` is a size penalty in
/// units of 2^-30 (``one`` = no penalty). µ2Net scores `quality × penalty`; scoring in integers
/// means two validations compare exactly, whatever the platform, and a score is a pure function
/// of (correct, count, factor). The penalty is constant over one training run, so the score
/// orders validations as their correct counts do.
public struct ValidationScoring: Equatable, Sendable {
  /// 1.0 in units of 2^-30.
  public static let one: Int64 = 1 << 30
  /// Plain accuracy, no bar: every first validation is kept.
  public static let accuracy = ValidationScoring(factor: one, bar: nil)

  /// The penalty in units of 2^-30, in 1...``one``.
  public var factor: Int64
  /// When set, a validation is kept only if its score reaches the bar under the tie rule (µ2Net:
  /// a same-task child must at least equal its parent's score).
  public var bar: Int64?

  public init(factor: Int64, bar: Int64?) {
    self.factor = factor
    self.bar = bar
  }

  /// The score of `correct` answers out of `count` (0 when `count` is 0).
  public func score(correct: Int, count: Int) -> Int64 {
    precondition(correct >= 0 && correct <= count && count <= Int(Int32.max), "score: bad counts")
    return count == 0 ? 0 : Int64(correct) * factor / Int64(count)
  }
}
