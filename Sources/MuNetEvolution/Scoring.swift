import MuNetModel
import MuNetRuntime
import MuNetTraining

/// µ2Net's score, `quality × sizeBase^(accounted / P) × flopsBase^(FLOPs / F)`, in fixed point.
///
/// The penalty is computed once per path in `Float` with munet's own `exp` and `log` (the same
/// bits on every platform), then rounded to an integer factor in units of 2^-30; the score is
/// `correct · factor / count` in integers (``ValidationScoring``). Scores therefore compare
/// exactly, and the tie rule decides equal ones. With both bases 1.0 (the default) the factor
/// is exactly 2^30 and the score orders paths by validation accuracy.
public struct Scorer: Sendable {
  public let settings: EvolutionConfig.Score

  public init(settings: EvolutionConfig.Score) { self.settings = settings }

  /// The penalty factor (1...2^30) of a path with these accounted parameters and FLOPs.
  public func factor(accountedParameters: Double, flops: Int) -> Int64 {
    var penalty: Float = 1
    if settings.sizeBaseMicros != 1_000_000 {
      penalty *= Self.power(settings.sizeBaseMicros, accountedParameters / Double(settings.referenceParams))
    }
    if settings.flopsBaseMicros != 1_000_000 {
      penalty *= Self.power(settings.flopsBaseMicros, Double(flops) / Double(settings.flopsReference))
    }
    let scaled = (Double(penalty) * Double(ValidationScoring.one)).rounded(.toNearestOrEven)
    return min(ValidationScoring.one, max(1, Int64(scaled)))
  }

  /// `(micros / 10⁶)^exponent` as `exp(log(base) · exponent)` in `Float`.
  static func power(_ micros: Int64, _ exponent: Double) -> Float {
    let base = Float(Double(micros) / 1e6)
    return Elementary.exp(Elementary.log(base) * Float(exponent))
  }

  /// The fixed-point score of `quality` under `factor`.
  public static func score(_ quality: Quality, factor: Int64) -> Int64 {
    ValidationScoring(factor: factor, bar: nil).score(correct: quality.correct, count: quality.count)
  }

  /// Multiply-adds × 2 of one image through a model of `config` (forward pass; analytic).
  public static func forwardFLOPs(_ config: ViTConfig) -> Int {
    let tokens = config.tokenCount, width = config.width
    var multiplyAdds = config.patchCount * config.patchFeatures * width
    for layer in 0..<config.layerCount {
      multiplyAdds += 4 * tokens * width * width + 2 * tokens * tokens * width + 2 * tokens * width * config.mlpDim
      if let dim = config.adapterDims[layer] { multiplyAdds += 2 * tokens * width * dim }
    }
    multiplyAdds += width * config.classCount
    return 2 * multiplyAdds
  }
}

extension SystemState {
  /// The penalty factor of `path` as the system is now (sharing counts change as tasks lock
  /// components, so scores are recomputed on demand, as in µ2Net).
  public func scoreFactor(of path: EvolutionPath, scorer: Scorer) -> Int64 {
    scorer.factor(
      accountedParameters: accountedParameters(componentIDs: path.componentIDs, task: path.task),
      flops: Scorer.forwardFLOPs(modelConfig(path.hyperparameters, classCount: path.classCount)))
  }

  /// The score of `path` now (nil when it has no validation: the root).
  public func score(of path: EvolutionPath, scorer: Scorer) -> Int64? {
    path.validation.map { Scorer.score($0, factor: scoreFactor(of: path, scorer: scorer)) }
  }
}
