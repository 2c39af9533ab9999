import MuNetStorage
import MuNetTraining

/// A run configuration (`munet evolve --config FILE`): the tasks, the evolution budget, the
/// root model, the training budget per child, the mutation settings, the hyperparameter
/// defaults and ranges, and the score. spec/algorithm.md documents every key and default.
public struct EvolutionConfig: Equatable, Sendable {
  /// One task: a dataset name or path; private tasks never seed or parent other tasks.
  public struct TaskSpec: Equatable, Sendable {
    public var name: String
    public var isPrivate: Bool
    public init(name: String, isPrivate: Bool = false) {
      self.name = name
      self.isPrivate = isPrivate
    }
  }

  /// The architecture of a randomly initialised root (µ2Net "ti0").
  public struct RootArchitecture: Equatable, Sendable {
    public var patchSize = 4
    public var channels = 1
    public var width = 32
    public var heads = 2
    public var mlpDim = 64
    /// Blocks the root holds (and the default `num_layers`).
    public var layers = 0

    public init(patchSize: Int = 4, channels: Int = 1, width: Int = 32, heads: Int = 2, mlpDim: Int = 64, layers: Int = 0) {
      self.patchSize = patchSize
      self.channels = channels
      self.width = width
      self.heads = heads
      self.mlpDim = mlpDim
      self.layers = layers
    }
  }

  /// Where the root comes from.
  public enum Root: Equatable, Sendable {
    /// Random initialisation from the seed (zero or more blocks).
    case seeded(RootArchitecture)
    /// A `munet train` model file (its head is dropped; every task gets its own). The
    /// architecture is read from the file when the configuration is loaded.
    case file(path: String, architecture: RootArchitecture)

    /// The root's architecture (`layers`: the blocks it holds).
    public var architecture: RootArchitecture {
      switch self {
      case .seeded(let architecture), .file(_, let architecture): architecture
      }
    }
  }

  /// The training budget of one child (µ2Net `Task`).
  public struct Training: Equatable, Sendable {
    public var batchSize = 32
    public var evaluationBatchSize = 250
    public var validations = 2
    /// Steps between validations = ceil(min(train examples, this) / batch size).
    public var trainExamplesPerValidationMax = 640
    /// The first this-many validation examples score a path.
    public var validationExamplesMax = 250
    /// The gradient clipping norm, in millionths: the configuration's exact decimal, so the
    /// canonical form writes back what was read.
    public var maxGradientNormMicros: Int64 = 1_000_000
    /// The clipping norm the trainer uses: the `Float` nearest to the decimal.
    public var maxGradientNorm: Float { Float(Double(maxGradientNormMicros) / 1e6) }
    /// µ2Net keeps the latest of equal-scoring validations (`>=`); muNet the first (`>`).
    public var tieRule: TrainingSettings.TieRule = .latest
  }

  /// Mutation settings.
  public struct Mutation: Equatable, Sendable {
    /// µ2Net+: every mutation has its own probability, itself mutated (`_mu_|<name>`).
    public var perMutationMu = false
    /// Insert residual adapters (µ2Net `mutate_adapters`).
    public var adapters = true
    /// Components always cloned into trainable copies.
    public var forceClone = ["encoder_norm"]
  }

  /// score = quality × sizeBase^(accounted params / referenceParams)
  ///               × flopsBase^(forward FLOPs / flopsReference).
  public struct Score: Equatable, Sendable {
    /// In millionths; 1.0 = no size penalty (µ2Net default).
    public var sizeBaseMicros: Int64 = 1_000_000
    public var referenceParams = 100_000
    /// In millionths; 1.0 = no FLOPs term (µ2Net+ option).
    public var flopsBaseMicros: Int64 = 1_000_000
    public var flopsReference = 1_000_000
  }

  public var tasks: [TaskSpec]
  public var seed: UInt64 = 0
  public var rounds = 2
  public var generations = 2
  public var childrenPerGeneration = 2
  public var root: Root = .seeded(RootArchitecture())
  /// Largest `num_layers` a path may reach (blocks beyond the root's are randomly initialised).
  public var layersMax = 2
  public var training = Training()
  public var mutation = Mutation()
  public var defaults: Hyperparameters
  /// Mutation range per key (nil: the key keeps its default). Values in ascending steps.
  public var ranges: [[HyperValue]?]
  /// The µ2Net+ range of per-mutation probabilities (millionths).
  public var muRange: [Int64]
  public var score = Score()
  /// Test examples whose logits are hashed to prove that finished tasks never change.
  public var immutabilityExamples = 100
  /// When set, every child is a baseline model built from the root (no evolution).
  public var baseline: Baseline?

  /// The reference code's baselines (`exp_config_set_baseline_*`): every child is built from the
  /// root with a fixed recipe, keeps the configured default hyperparameters and is never
  /// mutated. For equal training compute, give a baseline one child and as many validations as
  /// the evolution spends per task (rounds × generations × children × validations).
  public enum Baseline: Equatable, Sendable {
    /// Every root component cloned and trained ("Finetune all").
    case finetuneAll
    /// The root's blocks below `layers` (and embedding, cls, posembed) frozen; the rest trained
    /// ("Freeze bottom layers:X").
    case freezeBottom(layers: Int)
    /// A residual adapter of width `dim` before every block; only adapters, encoder_norm and
    /// head trained ("Adapters:X").
    case adapters(dim: Int)
    /// Every component freshly initialised: training from scratch.
    case scratch
  }

  public init(tasks: [TaskSpec]) {
    self.tasks = tasks
    defaults = EvolutionConfig.standardDefaults
    ranges = EvolutionConfig.standardRanges(layersMax: layersMax, patchSize: 4)
    muRange = stride(from: 20_000, through: 300_000, by: 20_000).map { Int64($0) }
  }

  public func range(_ key: HyperKey) -> [HyperValue]? { ranges[key.position] }

  // MARK: Defaults

  /// munet's defaults (µ2Net values, except where the small 28-pixel tasks call for others:
  /// spec/algorithm.md lists them).
  public static let standardDefaults: Hyperparameters = {
    var values = [HyperValue](repeating: .integer(0), count: HyperKey.allCases.count)
    func set(_ key: HyperKey, _ value: HyperValue) { values[key.position] = value }
    set(.mu, .decimal(200_000))
    set(.adapterDim, .integer(16))
    set(.areaRangeMin, .decimal(500_000))
    set(.aspectRatioRangeMin, .decimal(750_000))
    set(.brightnessDelta, .decimal(0))
    set(.contrastDelta, .decimal(0))
    set(.crop, .flag(true))
    set(.flipLeftRight, .flag(false))
    set(.imageSize, .integer(16))
    set(.layerCount, .integer(0))
    set(.learningRate, .decimal(20_000))
    set(.schedule, .word("cosine"))
    set(.warmupRatio, .decimal(100_000))
    set(.momentum, .decimal(900_000))
    set(.nesterov, .flag(false))
    return Hyperparameters(values: values)
  }()

  /// munet's default ranges (µ2Net "v2" where it has one; see spec/algorithm.md).
  public static func standardRanges(layersMax: Int, patchSize: Int) -> [[HyperValue]?] {
    var ranges = [[HyperValue]?](repeating: nil, count: HyperKey.allCases.count)
    func decimals(_ values: [Int64]) -> [HyperValue] { values.map(HyperValue.decimal) }
    ranges[HyperKey.mu.position] = decimals(stride(from: 100_000, through: 300_000, by: 20_000).map { Int64($0) })
    ranges[HyperKey.adapterDim.position] = [4, 8, 16, 32, 64].map(HyperValue.integer)
    ranges[HyperKey.areaRangeMin.position] = decimals([50_000, 100_000, 200_000, 500_000, 1_000_000])
    ranges[HyperKey.aspectRatioRangeMin.position] = decimals([250_000, 500_000, 750_000, 1_000_000])
    ranges[HyperKey.brightnessDelta.position] = decimals([0, 10_000, 20_000, 50_000, 100_000, 200_000])
    ranges[HyperKey.contrastDelta.position] = decimals([0, 10_000, 20_000, 50_000, 100_000, 200_000])
    ranges[HyperKey.crop.position] = [.flag(true), .flag(false)]
    ranges[HyperKey.flipLeftRight.position] = [.flag(true), .flag(false)]
    ranges[HyperKey.imageSize.position] = stride(from: 2 * patchSize, through: 8 * patchSize, by: patchSize)
      .map(HyperValue.integer)
    ranges[HyperKey.layerCount.position] = (0...layersMax).map(HyperValue.integer)
    ranges[HyperKey.learningRate.position] = decimals(
      [100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000])
    ranges[HyperKey.schedule.position] = ["constant", "cosine", "restarts"].map(HyperValue.word)
    ranges[HyperKey.warmupRatio.position] = decimals([10_000, 20_000, 50_000, 100_000, 200_000, 300_000, 400_000])
    ranges[HyperKey.momentum.position] = decimals(
      [500_000, 600_000, 700_000, 800_000, 850_000, 900_000, 950_000, 980_000, 990_000])
    ranges[HyperKey.nesterov.position] = [.flag(true), .flag(false)]
    return ranges
  }

  // MARK: Derived values

  /// Training settings of a child with hyperparameters `hyper` on a task of `trainCount`
  /// examples (µ2Net: steps between validations = ceil(min(N, max examples) / batch)).
  public func trainingSettings(_ hyper: Hyperparameters, trainCount: Int) -> TrainingSettings {
    let examples = min(trainCount, training.trainExamplesPerValidationMax)
    let stepsPerValidation = (examples + training.batchSize - 1) / training.batchSize
    var settings = TrainingSettings(steps: stepsPerValidation * training.validations, validations: training.validations)
    settings.batchSize = training.batchSize
    settings.evaluationBatchSize = training.evaluationBatchSize
    settings.validationExamplesMax = training.validationExamplesMax
    settings.learningRate = hyper[.learningRate].doubleValue!
    settings.schedule = .init(rawValue: hyper[.schedule].wordValue!)!
    settings.warmupRatio = hyper[.warmupRatio].doubleValue!
    settings.momentum = Float(hyper[.momentum].doubleValue!)
    settings.nesterov = hyper[.nesterov].flagValue!
    settings.maxGradientNorm = training.maxGradientNorm
    settings.tieRule = training.tieRule
    settings.evaluatesTest = false
    return settings
  }
}
