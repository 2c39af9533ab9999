import MuNetRuntime

/// A task's input pipeline: training batches (shuffled, augmented) and evaluation batches
/// (fixed order, no augmentation), written into caller-provided `Float` buffers.
///
/// Output layout: images [count, outputHeight, outputWidth, channels] (NHWC, channels as stored:
/// grey images stay 1 channel, unlike the reference, which tiles them to 3), values in [-1, 1];
/// labels [count] as `Int32`.
///
/// **Training order.** Training is an endless sequence of epochs. Epoch `e` visits the train
/// split in the order of a Fisher–Yates shuffle (``RandomStream/shuffle(_:)``) of 0..<N drawn from
/// `seed.child("data").child("task", name).child("epoch", e).child("shuffle")`. The examples
/// are concatenated epoch after epoch, and step `s` takes positions s·B ..< (s+1)·B of that
/// sequence (position p is example `permutation_e[p mod N]` with e = p / N). So every step has
/// exactly B examples: the last partial batch of an epoch is completed with the first examples
/// of the next epoch, and an epoch of N examples ends mid-batch unless B divides N.
///
/// **Augmentation keys.** Example i of the train split in epoch e draws from
/// `seed.child("data").child("task", name).child("epoch", e).child("example", i)`, one child per
/// purpose (see ``ExamplePipeline``). The result for an example is a function of (seed, task,
/// epoch, i, parameters) only: not of the step, the batch slot or the thread count.
///
/// **Evaluation.** Validation and test batches take examples b·B' ..< min((b+1)·B', n) in file
/// order (B' = ``evaluationBatchSize``); the last batch may be partial and its size is returned.
///
/// Memory: every buffer is allocated in `init` (scratch per batch slot, two cached epoch
/// permutations); a batch makes no heap allocation. One caller at a time (the permutation cache
/// is mutable); the per-example work of one batch may run on several threads via `compute`.
public final class TaskData: @unchecked Sendable {
  /// The task name (part of every stream key).
  public let name: String
  /// The data.
  public let splits: DatasetSplits
  /// Examples per training batch (B).
  public let batchSize: Int
  /// Examples per evaluation batch (B').
  public let evaluationBatchSize: Int
  /// Output image rows.
  public let outputHeight: Int
  /// Output image columns.
  public let outputWidth: Int
  /// Training augmentation.
  public let augmentation: AugmentationParameters
  /// `seed.child("data").child("task", name)`.
  public let taskKey: StreamKey

  let pipeline: ExamplePipeline
  private let slotCount: Int
  private let sourceElements: Int
  private let imageScratch: UnsafeMutablePointer<Float>
  private let sampleScratch: UnsafeMutablePointer<BilinearResize.AxisSample>
  private let permutations: UnsafeMutablePointer<Int32>
  private var permutationEpochs: (Int, Int) = (-1, -1)
  private let batchExamples: UnsafeMutablePointer<Int>
  private let batchEpochs: UnsafeMutablePointer<Int>

  /// A pipeline for task `name` over `splits`, producing `imageSize` × `imageSize` images.
  public init(
    name: String, splits: DatasetSplits, seed: StreamKey, batchSize: Int, imageSize: Int,
    augmentation: AugmentationParameters, evaluationBatchSize: Int? = nil
  ) {
    precondition(batchSize > 0 && imageSize > 0, "TaskData: batch size and image size must be positive")
    precondition(splits.train.count > 0, "TaskData: empty train split")
    precondition(splits.train.count <= Int(Int32.max), "TaskData: train split too large")
    self.name = name
    self.splits = splits
    self.batchSize = batchSize
    self.evaluationBatchSize = evaluationBatchSize ?? batchSize
    precondition(self.evaluationBatchSize > 0, "TaskData: evaluation batch size must be positive")
    outputHeight = imageSize
    outputWidth = imageSize
    self.augmentation = augmentation
    taskKey = seed.child("data").child("task", name)
    pipeline = ExamplePipeline(outputHeight: imageSize, outputWidth: imageSize)
    slotCount = max(batchSize, self.evaluationBatchSize)
    sourceElements = splits.shape.elementCount
    imageScratch = .allocate(capacity: slotCount * 2 * sourceElements)
    imageScratch.initialize(repeating: 0, count: slotCount * 2 * sourceElements)
    sampleScratch = .allocate(capacity: slotCount * 2 * imageSize)
    sampleScratch.initialize(
      repeating: .init(lower: 0, upper: 0, fraction: 0), count: slotCount * 2 * imageSize)
    permutations = .allocate(capacity: 2 * splits.train.count)
    permutations.initialize(repeating: 0, count: 2 * splits.train.count)
    batchExamples = .allocate(capacity: batchSize)
    batchExamples.initialize(repeating: 0, count: batchSize)
    batchEpochs = .allocate(capacity: batchSize)
    batchEpochs.initialize(repeating: 0, count: batchSize)
  }

  deinit {
    imageScratch.deallocate()
    sampleScratch.deallocate()
    permutations.deallocate()
    batchExamples.deallocate()
    batchEpochs.deallocate()
  }

  /// Channels per output pixel (as stored).
  public var channels: Int { splits.shape.channels }
  /// Floats per output image: outputHeight × outputWidth × channels.
  public var imageElementCount: Int { outputHeight * outputWidth * channels }
  /// Examples in the train split (N).
  public var trainCount: Int { splits.train.count }

  // MARK: Training

  /// The (epoch, train index) at position `position` of the training sequence.
  public func trainExample(atPosition position: Int) -> (epoch: Int, index: Int) {
    precondition(position >= 0, "TaskData: negative position")
    let epoch = position / trainCount
    ensurePermutation(epoch)
    return (epoch, Int(permutations[(epoch % 2) * trainCount + position % trainCount]))
  }

  /// The shuffled order of the train split in `epoch` (allocates; for tests and tools).
  public func permutation(epoch: Int) -> [Int] {
    ensurePermutation(epoch)
    return (0..<trainCount).map { Int(permutations[(epoch % 2) * trainCount + $0]) }
  }

  /// Training batch `step` (≥ 0): `batchSize` augmented examples into `images`
  /// (≥ batchSize × ``imageElementCount`` floats) and their labels into `labels`.
  public func trainBatch(
    step: Int, images: UnsafeMutableBufferPointer<Float>, labels: UnsafeMutableBufferPointer<Int32>,
    compute: Compute? = nil
  ) {
    precondition(step >= 0, "TaskData.trainBatch: negative step")
    precondition(
      images.count >= batchSize * imageElementCount && labels.count >= batchSize,
      "TaskData.trainBatch: buffers too small")
    let (start, overflow) = step.multipliedReportingOverflow(by: batchSize)
    precondition(!overflow && start <= Int.max - batchSize, "TaskData.trainBatch: step too large")
    for slot in 0..<batchSize {
      let (epoch, index) = trainExample(atPosition: start + slot)
      batchEpochs[slot] = epoch
      batchExamples[slot] = index
      labels[slot] = splits.train.label(index)
    }
    let job = TrainJob(data: self, images: images.baseAddress!)
    if let compute { compute.parallelFor(count: batchSize, job) } else { job.run(range: 0..<batchSize) }
  }

  /// Train example `index` as it is augmented in `epoch` (the same code a batch runs), into
  /// `output` (≥ ``imageElementCount`` floats). Uses batch slot 0's scratch.
  public func augmentedExample(index: Int, epoch: Int, into output: UnsafeMutableBufferPointer<Float>) {
    precondition(
      index >= 0 && index < trainCount && epoch >= 0, "TaskData.augmentedExample: bad index or epoch")
    precondition(output.count >= imageElementCount, "TaskData.augmentedExample: buffer too small")
    augment(index: index, epoch: epoch, slot: 0, output: output.baseAddress!)
  }

  /// The stream key of train example `index` in `epoch`.
  public func exampleKey(index: Int, epoch: Int) -> StreamKey {
    taskKey.child("epoch", epoch).child("example", index)
  }

  fileprivate func augmentSlot(_ slot: Int, images: UnsafeMutablePointer<Float>) {
    augment(
      index: batchExamples[slot], epoch: batchEpochs[slot], slot: slot,
      output: images + slot * imageElementCount)
  }

  private func augment(index: Int, epoch: Int, slot: Int, output: UnsafeMutablePointer<Float>) {
    pipeline.augmented(
      splits.train, index: index, key: exampleKey(index: index, epoch: epoch),
      parameters: augmentation, scratch: scratch(slot), output: output)
  }

  private func ensurePermutation(_ epoch: Int) {
    let slot = epoch % 2
    if (slot == 0 ? permutationEpochs.0 : permutationEpochs.1) == epoch { return }
    var buffer = UnsafeMutableBufferPointer(start: permutations + slot * trainCount, count: trainCount)
    for position in 0..<trainCount { buffer[position] = Int32(position) }
    var stream = taskKey.child("epoch", epoch).child("shuffle").stream
    stream.shuffle(&buffer)
    if slot == 0 { permutationEpochs.0 = epoch } else { permutationEpochs.1 = epoch }
  }

  private func scratch(_ slot: Int) -> ExamplePipeline.Scratch {
    let images = imageScratch + slot * 2 * sourceElements
    let samples = sampleScratch + slot * 2 * outputHeight
    return ExamplePipeline.Scratch(
      image: images, cropped: images + sourceElements,
      rows: samples, columns: samples + outputHeight)
  }

  // MARK: Evaluation

  /// The evaluation splits.
  public enum EvaluationSplit: String, Sendable, CaseIterable {
    case validation, test
  }

  /// The dataset of `split`.
  public func dataset(_ split: EvaluationSplit) -> Dataset {
    split == .validation ? splits.validation : splits.test
  }

  /// Batches of `split`: ceil(count / evaluationBatchSize).
  public func evaluationBatchCount(_ split: EvaluationSplit) -> Int {
    (dataset(split).count + evaluationBatchSize - 1) / evaluationBatchSize
  }

  /// Evaluation batch `batch` of `split` into `images` and `labels`; returns its size (the
  /// last batch may be partial; slots past it are left untouched).
  @discardableResult
  public func evaluationBatch(
    _ split: EvaluationSplit, batch: Int, images: UnsafeMutableBufferPointer<Float>,
    labels: UnsafeMutableBufferPointer<Int32>, compute: Compute? = nil
  ) -> Int {
    let data = dataset(split)
    precondition(
      batch >= 0 && batch < evaluationBatchCount(split), "TaskData.evaluationBatch: bad batch \(batch)")
    let start = batch * evaluationBatchSize
    let count = min(evaluationBatchSize, data.count - start)
    precondition(
      images.count >= count * imageElementCount && labels.count >= count,
      "TaskData.evaluationBatch: buffers too small")
    for slot in 0..<count { labels[slot] = data.label(start + slot) }
    let job = EvaluationJob(data: self, dataset: data, start: start, images: images.baseAddress!)
    if let compute { compute.parallelFor(count: count, job) } else { job.run(range: 0..<count) }
    return count
  }

  fileprivate func evaluateSlot(
    _ slot: Int, dataset: Dataset, start: Int, images: UnsafeMutablePointer<Float>
  ) {
    pipeline.plain(
      dataset, index: start + slot, scratch: scratch(slot), output: images + slot * imageElementCount)
  }
}

/// Batch slots of a training batch (a struct, not a closure: no per-call heap context).
private struct TrainJob: RangeJob {
  let data: TaskData
  let images: UnsafeMutablePointer<Float>

  func run(range: Range<Int>) {
    for slot in range { data.augmentSlot(slot, images: images) }
  }
}

private struct EvaluationJob: RangeJob {
  let data: TaskData
  let dataset: Dataset
  let start: Int
  let images: UnsafeMutablePointer<Float>

  func run(range: Range<Int>) {
    for slot in range { data.evaluateSlot(slot, dataset: dataset, start: start, images: images) }
  }
}
