import MuNetRuntime

/// The activations and scratch memory of forward and backward passes of one configuration, for
/// up to `batchCapacity` images: one arena planned up front, so that after a warm-up step a
/// training step makes no heap allocation.
///
/// A workspace serves any ``ViTModel`` with the same ``ViTConfig`` (e.g. a frozen parent and a
/// child sharing its components) and any batch of `1...batchCapacity` images. Backward uses the
/// activations of the latest forward; the logits and their gradient are views into the arena,
/// valid until the next forward.
///
/// Memory per image (floats), with `T` tokens, `D` width, `M` MLP width, `H` heads, `A` adapter
/// width: `T·(9·D + 2·M + H·T + 4)` per block and `T·(2·D + 2·A + 2)` per adapter (saved
/// activations and the output stream), plus patches, embeddings and one set of backward
/// scratch buffers (`T·(7·D + H·T + max(M, A))`). A workspace that saves the GELU terms (the
/// default) adds `T·M` per block and `T·A` per adapter.
public final class ViTWorkspace {
  public let config: ViTConfig
  public let batchCapacity: Int
  /// Whether forward saves each GELU input's `tanh` (or `erf`) term so that backward reads it
  /// instead of recomputing it (same bits either way; faster backward, more memory).
  public let savesGELUTerms: Bool
  /// The arena's size in bytes.
  public var plannedBytes: Int { arena.plannedBytes }
  /// Images in the latest forward pass (0 before the first).
  public private(set) var batchCount = 0

  private let arena: Arena
  private let layout: WorkspaceLayout

  /// A workspace for `config` and up to `batchCapacity` images (one allocation).
  /// `savingGELUTerms` is for training (see ``savesGELUTerms``); a workspace that only runs
  /// forward (evaluation) passes false and does without that memory.
  public init(config: ViTConfig, batchCapacity: Int, savingGELUTerms: Bool = true) throws(ViTModelError) {
    do { try config.validate() } catch { throw .invalidConfig(error.description) }
    precondition(batchCapacity >= 1, "batch capacity must be positive")
    self.config = config
    self.batchCapacity = batchCapacity
    savesGELUTerms = savingGELUTerms
    let planner = TensorAllocator(arena: nil)
    _ = WorkspaceLayout(planner, config: config, batch: batchCapacity, savingGELUTerms: savingGELUTerms)
    arena = Arena(name: "vit-workspace", plan: planner.plan)
    layout = WorkspaceLayout(
      TensorAllocator(arena: arena), config: config, batch: batchCapacity, savingGELUTerms: savingGELUTerms)
  }

  /// The bytes a workspace for `config` and `batchCapacity` images would allocate.
  public static func plannedBytes(
    config: ViTConfig, batchCapacity: Int, savingGELUTerms: Bool = true
  ) -> Int {
    let planner = TensorAllocator(arena: nil)
    _ = WorkspaceLayout(planner, config: config, batch: batchCapacity, savingGELUTerms: savingGELUTerms)
    return planner.plan.totalBytes
  }

  /// The logits of the latest forward (`batchCount × classes`).
  public var logits: Matrix { layout.logits.rows(batchCount, cols: config.classCount) }

  /// The buffer backward reads dL/d(logits) from (`batchCount × classes`); filled by
  /// ``lossAndGradients(_:images:labels:compute:accumulateGradients:)`` or by the caller.
  public var logitsGradient: Matrix { layout.logitsGradient.rows(batchCount, cols: config.classCount) }

  /// The per-image losses of the latest loss computation.
  public var losses: UnsafeMutableBufferPointer<Float> { layout.losses.prefix(batchCount) }

  /// Runs the model on `images` (`[batch, S, S, C]`, channels last) and returns the logits.
  @discardableResult
  public func forward(_ model: ViTModel, images: Tensor, compute: Compute) -> Matrix {
    precondition(model.config == config, "model \(model.config) does not match workspace \(config)")
    let shape = images.shape
    precondition(shape.rank == 4 && shape[1] == config.imageSize && shape[2] == config.imageSize
                 && shape[3] == config.channels, "images \(shape) do not match \(config)")
    let batch = shape[0]
    precondition(batch >= 1 && batch <= batchCapacity, "batch \(batch) outside 1...\(batchCapacity)")
    batchCount = batch
    let width = config.width, tokens = config.tokenCount, rows = batch * tokens
    let patchRows = batch * config.patchCount
    let patches = layout.patches.rows(patchRows, cols: config.patchFeatures)
    let embedded = layout.embedded.rows(patchRows, cols: width)
    PatchEmbedding.extractPatches(
      images: images.base, batch: batch, imageSize: config.imageSize, patchSize: config.patchSize,
      channels: config.channels, into: patches, compute: compute)
    model.embedding.forward(patches: patches, into: embedded, compute: compute)
    TokenStage.forward(
      embedded: embedded, classToken: model.classToken, positions: model.positionEmbedding, batch: batch,
      into: stream(0, rows: rows), compute: compute)
    for layer in 0..<config.layerCount {
      if let adapter = model.adapters[layer], let saved = layout.adapters[layer] {
        let input = layout.adapterStreams[layer]
        adapter.forward(
          input: stream(input, rows: rows), into: stream(input + 1, rows: rows), saved: saved, config: config,
          compute: compute)
      }
      let input = layout.blockStreams[layer]
      model.blocks[layer].forward(
        input: stream(input, rows: rows), into: stream(input + 1, rows: rows), saved: layout.blocks[layer],
        batch: batch, tokens: tokens, config: config, compute: compute)
    }
    let norm = model.encoderNorm.parameters
    compute.layerNormForward(
      classRows(layout.streams[layout.streams.count - 1], batch: batch), scale: norm.value(0),
      bias: norm.value(1), epsilon: config.layerNormEpsilon, saved: layout.finalNorm)
    let features = layout.finalNorm.output.rows(batch, cols: width)
    model.head.forward(features: features, into: logits, compute: compute)
    return logits
  }

  /// Backward from ``logitsGradient`` through `model` (the model of the latest forward).
  ///
  /// Writes the gradients of trainable components (adds to them with `accumulateGradients`),
  /// skips the parameter gradients of frozen ones, and stops below the lowest trainable
  /// component (see ``ViTModel``).
  public func backward(_ model: ViTModel, compute: Compute, accumulateGradients: Bool = false) {
    precondition(model.config == config && batchCount > 0, "backward needs a forward of this configuration")
    guard let first = model.firstTrainableStage else { return }
    let batch = batchCount, width = config.width, tokens = config.tokenCount, rows = batch * tokens
    let layers = config.layerCount, accumulate = accumulateGradients
    let features = layout.finalNorm.output.rows(batch, cols: width)
    model.head.backwardParameters(
      features: features, logitsGradient: logitsGradient, compute: compute, accumulate: accumulate)
    guard 2 * layers + 2 > first else { return }
    let featuresGradient = layout.featuresGradient.rows(batch, cols: width)
    model.head.backwardInput(logitsGradient: logitsGradient, into: featuresGradient, compute: compute)

    let finalStream = classRows(layout.streams[layout.streams.count - 1], batch: batch)
    let norm = model.encoderNorm.parameters
    if let grads = norm.gradients {
      compute.layerNormParameterGradients(
        finalStream, outputGradient: featuresGradient, saved: layout.finalNorm, scaleGradient: grads[0],
        biasGradient: grads[1], accumulate: accumulate)
    }
    guard 2 * layers + 1 > first else { return }
    let streamGradient = layout.streamGradient.rows(rows, cols: width)
    compute.fill(streamGradient, with: 0)  // only the class tokens reach the head
    compute.layerNormInputGradient(
      finalStream, outputGradient: featuresGradient, scale: norm.value(0), saved: layout.finalNorm,
      into: classRows(layout.streamGradient, batch: batch))

    for layer in stride(from: layers - 1, through: 0, by: -1) {
      let blockStage = 2 + 2 * layer
      let blockInput = layout.blockStreams[layer]
      model.blocks[layer].backward(
        input: stream(blockInput, rows: rows), saved: layout.blocks[layer], scratch: layout.scratch,
        streamGradient: streamGradient, batch: batch, tokens: tokens, config: config,
        computeInputGradient: blockStage > first, compute: compute, accumulate: accumulate)
      guard blockStage > first else { return }
      if let adapter = model.adapters[layer], let saved = layout.adapters[layer] {
        let adapterStage = 1 + 2 * layer
        adapter.backward(
          input: stream(layout.adapterStreams[layer], rows: rows), saved: saved, scratch: layout.scratch,
          streamGradient: streamGradient, config: config, computeInputGradient: adapterStage > first,
          compute: compute, accumulate: accumulate)
        guard adapterStage > first else { return }
      }
    }
    let patchRows = batch * config.patchCount
    TokenStage.backward(
      tokensGradient: streamGradient, classToken: model.classToken, positions: model.positionEmbedding,
      embedding: model.embedding, patches: layout.patches.rows(patchRows, cols: config.patchFeatures),
      embeddedGradient: layout.embeddedGradient.rows(patchRows, cols: width), batch: batch,
      compute: compute, accumulate: accumulate)
  }

  /// One training step's numbers: forward, mean softmax cross-entropy over the batch, its
  /// gradient into ``logitsGradient``, backward. Returns the mean loss.
  @discardableResult
  public func lossAndGradients(
    _ model: ViTModel, images: Tensor, labels: UnsafeBufferPointer<Int32>, compute: Compute,
    accumulateGradients: Bool = false
  ) -> Double {
    forward(model, images: images, compute: compute)
    precondition(labels.count == batchCount, "\(labels.count) labels for \(batchCount) images")
    let loss = compute.softmaxCrossEntropy(
      logits: logits, labels: labels, losses: losses, logitsGradient: logitsGradient)
    backward(model, compute: compute, accumulateGradients: accumulateGradients)
    return loss
  }

  /// Forward and the mean loss only (evaluation).
  public func loss(
    _ model: ViTModel, images: Tensor, labels: UnsafeBufferPointer<Int32>, compute: Compute
  ) -> Double {
    forward(model, images: images, compute: compute)
    precondition(labels.count == batchCount, "\(labels.count) labels for \(batchCount) images")
    return compute.softmaxCrossEntropyLoss(logits: logits, labels: labels, losses: losses)
  }

  private func stream(_ index: Int, rows: Int) -> Matrix {
    layout.streams[index].rows(rows, cols: config.width)
  }

  /// The class-token rows (token 0 of each image) of a `batch·T × D` tensor.
  private func classRows(_ tensor: Tensor, batch: Int) -> Matrix {
    Matrix(base: tensor.base, rows: batch, cols: config.width, rowStride: config.tokenCount * config.width)
  }
}

/// Every tensor of a workspace, in allocation order (see ``TensorAllocator``).
struct WorkspaceLayout {
  let patches: Tensor, embedded: Tensor
  /// Token streams between stages: `streams[0]` from the token stage; each adapter and block
  /// reads stream `s` and writes stream `s + 1`.
  let streams: [Tensor]
  let adapterStreams: [Int]
  let blockStreams: [Int]
  let adapters: [AdapterSaved?]
  let blocks: [EncoderBlockSaved]
  let finalNorm: LayerNormSaved
  let logits: Tensor, logitsGradient: Tensor, losses: Tensor
  let scratch: BackwardScratch
  let streamGradient: Tensor, featuresGradient: Tensor, embeddedGradient: Tensor

  init(_ allocator: TensorAllocator, config: ViTConfig, batch: Int, savingGELUTerms: Bool) {
    let width = config.width, rows = batch * config.tokenCount, patchRows = batch * config.patchCount
    patches = allocator.take(Shape(patchRows, config.patchFeatures))
    embedded = allocator.take(Shape(patchRows, width))
    var streams = [allocator.take(Shape(rows, width))]
    var adapterStreams: [Int] = [], blockStreams: [Int] = []
    var adapters: [AdapterSaved?] = [], blocks: [EncoderBlockSaved] = []
    for layer in 0..<config.layerCount {
      if let dim = config.adapterDims[layer] {
        adapters.append(AdapterSaved(
          allocator, config: config, batch: batch, adapterDim: dim, savingGELUTerms: savingGELUTerms))
        adapterStreams.append(streams.count - 1)
        streams.append(allocator.take(Shape(rows, width)))
      } else {
        adapters.append(nil)
        adapterStreams.append(-1)
      }
      blocks.append(EncoderBlockSaved(
        allocator, config: config, batch: batch, savingGELUTerms: savingGELUTerms))
      blockStreams.append(streams.count - 1)
      streams.append(allocator.take(Shape(rows, width)))
    }
    self.streams = streams
    self.adapterStreams = adapterStreams
    self.blockStreams = blockStreams
    self.adapters = adapters
    self.blocks = blocks
    finalNorm = LayerNormSaved(allocator, rows: batch, cols: width)
    logits = allocator.take(Shape(batch, config.classCount))
    logitsGradient = allocator.take(Shape(batch, config.classCount))
    losses = allocator.take(Shape(batch))
    scratch = BackwardScratch(allocator, config: config, batch: batch)
    streamGradient = allocator.take(Shape(rows, width))
    featuresGradient = allocator.take(Shape(batch, width))
    embeddedGradient = allocator.take(Shape(patchRows, width))
  }
}
