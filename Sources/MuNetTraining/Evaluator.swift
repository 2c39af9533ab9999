import MuNetData
import MuNetModel
import MuNetRuntime
import MuNetStorage

/// Runs a model forward on evaluation data: accuracy, class predictions, and a digest of the
/// raw logits (the bitwise "outputs unchanged" check of evolution).
///
/// Memory is planned once: one workspace and one image buffer of `data.evaluationBatchSize`
/// images. Every method evaluates in batches of that size, in file order, with no
/// augmentation, so results depend only on (model, data, split), never on the thread count
/// in Tiers 0 and 1.
public final class Evaluator {
  public let model: ViTModel
  public let data: TaskData
  public let compute: Compute

  private let workspace: ViTWorkspace
  /// Owns `images` when the evaluator allocated it (nil when it borrows a trainer's).
  private let arena: Arena?
  private let images: Tensor
  private let labels: UnsafeMutableBufferPointer<Int32>
  private let ownsLabels: Bool

  public convenience init(model: ViTModel, data: TaskData, compute: Compute) throws(TrainingError) {
    let config = model.config
    guard data.outputHeight == config.imageSize, data.channels == config.channels else {
      throw .mismatch(
        "data for '\(data.name)' (\(data.outputHeight)px, \(data.channels) channels) does not match the "
          + "model (\(config.imageSize)px, \(config.channels) channels)")
    }
    let capacity = data.evaluationBatchSize
    let workspace: ViTWorkspace
    do {
      // Forward only: no GELU terms for a backward pass.
      workspace = try ViTWorkspace(config: config, batchCapacity: capacity, savingGELUTerms: false)
    } catch {
      throw .mismatch("model configuration: \(error)")
    }
    let shape = Shape(capacity, config.imageSize, config.imageSize, config.channels)
    var plan = ArenaPlan()
    plan.reserve(shape)
    let arena = Arena(name: "evaluator", plan: plan)
    let images: Tensor
    do { images = try arena.allocate(shape) } catch { throw .memory(error) }
    let labels = UnsafeMutableBufferPointer<Int32>.allocate(capacity: capacity)
    labels.initialize(repeating: 0)
    self.init(
      model: model, data: data, compute: compute, workspace: workspace, arena: arena, images: images,
      labels: labels, ownsLabels: true)
  }

  /// An evaluator over a trainer's memory (its workspace, image and label buffers, which hold
  /// at least `data.evaluationBatchSize` images): one evaluation loop for both.
  init(
    model: ViTModel, data: TaskData, compute: Compute, workspace: ViTWorkspace, arena: Arena?, images: Tensor,
    labels: UnsafeMutableBufferPointer<Int32>, ownsLabels: Bool
  ) {
    precondition(images.shape[0] >= data.evaluationBatchSize && labels.count >= data.evaluationBatchSize,
                 "evaluator buffers smaller than the evaluation batch")
    self.model = model
    self.data = data
    self.compute = compute
    self.workspace = workspace
    self.arena = arena
    self.images = images
    self.labels = labels
    self.ownsLabels = ownsLabels
  }

  deinit { if ownsLabels { labels.deallocate() } }

  /// Correct answers on the first `examplesMax` examples of `split` (all when nil).
  public func accuracy(_ split: TaskData.EvaluationSplit, examplesMax: Int? = nil) -> (correct: Int, count: Int) {
    var correct = 0
    let count = forEachBatch(split, examplesMax: examplesMax) { logits, labels in
      correct += compute.correctCount(logits: logits, labels: labels)
    }
    return (correct, count)
  }

  /// SHA-256 of the logits (little-endian `Float` bits, row by row) of the first `examplesMax`
  /// examples of `split`. Equal digests mean bit-identical outputs.
  public func outputDigest(_ split: TaskData.EvaluationSplit, examplesMax: Int?) -> SHA256.Digest {
    var hasher = SHA256()
    var row: [UInt8] = []
    _ = forEachBatch(split, examplesMax: examplesMax) { logits, _ in
      for index in 0..<logits.rows {
        row.removeAll(keepingCapacity: true)
        let pointer = logits.rowPointer(index)
        for column in 0..<logits.cols {
          let bits = pointer[column * logits.colStride].bitPattern
          for shift in stride(from: 0, to: 32, by: 8) { row.append(UInt8(truncatingIfNeeded: bits >> shift)) }
        }
        hasher.update(row)
      }
    }
    return hasher.finalize()
  }

  /// The predicted class (argmax of the logits, first index on ties) of the first `examplesMax`
  /// examples of `split`, with their labels.
  public func predictions(
    _ split: TaskData.EvaluationSplit, examplesMax: Int? = nil
  ) -> [(predicted: Int, label: Int)] {
    var result: [(predicted: Int, label: Int)] = []
    _ = forEachBatch(split, examplesMax: examplesMax) { logits, labels in
      for index in 0..<logits.rows {
        let pointer = logits.rowPointer(index)
        var best = 0
        for column in 1..<logits.cols
        where pointer[column * logits.colStride] > pointer[best * logits.colStride] {
          best = column
        }
        result.append((best, Int(labels[index])))
      }
    }
    return result
  }

  /// Runs the model on consecutive evaluation batches; returns the number of examples seen.
  private func forEachBatch(
    _ split: TaskData.EvaluationSplit, examplesMax: Int?,
    _ body: (Matrix, UnsafeBufferPointer<Int32>) -> Void
  ) -> Int {
    let available = data.dataset(split).count
    let count = min(available, examplesMax ?? available)
    var done = 0
    var batch = 0
    while done < count {
      let size = data.evaluationBatch(split, batch: batch, images: images.buffer, labels: labels, compute: compute)
      let used = min(size, count - done)
      let shape = images.shape
      let tensor = Tensor(base: images.base, shape: Shape(used, shape[1], shape[2], shape[3]))
      let logits = workspace.forward(model, images: tensor, compute: compute)
      body(logits, UnsafeBufferPointer(rebasing: labels[0..<used]))
      done += used
      batch += 1
    }
    return count
  }
}
