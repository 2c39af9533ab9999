import MuNetTestSupport
import MuNetModel
import MuNetRuntime
import Testing

/// A mid-size configuration whose activations are large enough for Tier 1 to split the
/// non-GEMM kernels (≥ 8192 elements) across threads: 16 × 16 grey images, patch 4 (17 tokens),
/// width 32, 2 heads, MLP 64, 2 layers, an adapter (8) before layer 0, 10 classes.
let splitConfig = ViTConfig(
  imageSize: 16, patchSize: 4, channels: 1, width: 32, heads: 2, mlpDim: 64, layerCount: 2,
  classCount: 10, adapterDims: [8, nil])

@Suite struct ModelBehaviourTests {
  @Test func newAdapterIsExactlyTheIdentity() throws {
    let plain = smallConfig.withAdapter(nil, atLayer: 1)
    let base = try randomizedModel(plain, seed: 41)
    let withAdapters = plain.withAdapter(3, atLayer: 0).withAdapter(5, atLayer: 1)
    let key = StreamKey(seed: 99)
    let adapters = [
      ResidualAdapter(index: 0, width: plain.width, adapterDim: 3, trainable: true, initKey: key),
      ResidualAdapter(index: 1, width: plain.width, adapterDim: 5, trainable: true, initKey: key),
    ]
    let adapted = try ViTModel(
      config: withAdapters, embedding: base.embedding, classToken: base.classToken,
      positionEmbedding: base.positionEmbedding, adapters: adapters, blocks: base.blocks,
      encoderNorm: base.encoderNorm, head: base.head)
    let batch = try TestBatch(plain, count: 3, seed: 2)
    let compute = Compute(tier: .reference)
    let plainWorkspace = try ViTWorkspace(config: plain, batchCapacity: 3)
    let adaptedWorkspace = try ViTWorkspace(config: withAdapters, batchCapacity: 3)
    let expected = bits(plainWorkspace.forward(base, images: batch.images, compute: compute))
    #expect(expected.contains { Float(bitPattern: $0) != 0 }, "logits must not be trivially zero")
    #expect(bits(adaptedWorkspace.forward(adapted, images: batch.images, compute: compute)) == expected)

    // The adapter is really on the path: a non-zero Dense_2 changes the output.
    adapters[1].parameters.values[4].base[0] = 0.5
    #expect(bits(adaptedWorkspace.forward(adapted, images: batch.images, compute: compute)) != expected)
  }

  @Test func frozenComponentsHaveNoGradientBuffers() throws {
    let model = try ViTModel(config: smallConfig, initKey: StreamKey(seed: 1), trainable: false)
    #expect(model.namedParameters().allSatisfy { $0.gradient == nil })
    #expect(model.trainableParameterCount == 0)
    let batch = try TestBatch(smallConfig, count: 2, seed: 4)
    let workspace = try ViTWorkspace(config: smallConfig, batchCapacity: 2)
    let loss = batch.labels.withUnsafeBufferPointer {
      workspace.lossAndGradients(model, images: batch.images, labels: $0, compute: Compute(tier: .reference))
    }
    #expect(loss.isFinite)

    model.head.parameters.setTrainable(true)
    let trainable = model.namedParameters().filter { $0.gradient != nil }.map(\.name)
    #expect(trainable == ["head/bias", "head/kernel"])
    let headCount = smallConfig.width * smallConfig.classCount + smallConfig.classCount
    #expect(model.trainableParameterCount == headCount)
    model.head.parameters.setTrainable(false)
    #expect(model.head.parameters.gradients == nil)

    let clone = EncoderBlock(copying: model.blocks[0], trainable: true)
    #expect(clone.trainable && !model.blocks[0].trainable)
    #expect(bits(clone.parameters.values[2]) == bits(model.blocks[0].parameters.values[2]))
    #expect(clone.parameters.values[2].base != model.blocks[0].parameters.values[2].base)
  }

  /// Tier 1 must equal Tier 0 bit for bit for the whole forward and backward: logits, loss and
  /// every gradient, for 1, 2, 3 and 7 threads, with the default GEMM split threshold and with
  /// every product split (threshold 1).
  @Test func tier1EqualsTier0Bitwise() throws {
    let model = try randomizedModel(splitConfig, seed: 7)
    let batch = try TestBatch(splitConfig, count: 16, seed: 8)
    let workspace = try ViTWorkspace(config: splitConfig, batchCapacity: 16)
    func run(_ compute: Compute) -> [[UInt32]] {
      let loss = batch.labels.withUnsafeBufferPointer {
        workspace.lossAndGradients(model, images: batch.images, labels: $0, compute: compute)
      }
      return [bits(workspace.logits), [UInt32(truncatingIfNeeded: loss.bitPattern)]]
        + model.namedParameters().map { bits($0.gradient!) }
    }
    let expected = run(Compute(tier: .reference))
    for threads in [1, 2, 3, 7] {
      let pool = ThreadPool(threadCount: threads)
      let engines: [any GEMMEngine] = [
        ThreadedGEMM(pool: pool), ThreadedGEMM(pool: pool, multiplyAddsPerThreadMin: 1),
      ]
      for engine in engines {
        let result = run(Compute(tier: .threads, pool: pool, gemmEngine: engine))
        #expect(result == expected, "Tier 1 with \(threads) threads (\(engine.name)) differs from Tier 0")
      }
    }
  }

  @Test(arguments: [Tier.reference, Tier.threads])
  func trainingStepAllocatesNothingAfterWarmUp(tier: Tier) throws {
    try #require(allocationCountingAvailable, "allocation counting needs glibc")
    let compute = Compute(tier: tier, threadCount: 3)
    let config = ViTConfig.reference.withAdapter(16, atLayer: 2)
    let model = try ViTModel(config: config, initKey: StreamKey(seed: 3))
    model.blocks[0].parameters.setTrainable(false)
    randomize(model, seed: 3)
    let batch = try TestBatch(config, count: 4, seed: 1)
    let workspace = try ViTWorkspace(config: config, batchCapacity: 4)
    try batch.labels.withUnsafeBufferPointer { labels in
      let step = {
        _ = workspace.lossAndGradients(model, images: batch.images, labels: labels, compute: compute)
      }
      step()  // warm-up: per-thread GEMM scratch
      let count = allocationCount(pool: compute.pool, step)
      #expect(count == 0, "a warmed-up forward+backward made \(count) heap allocations in \(tier)")
      let forwardCount = allocationCount(pool: compute.pool) {
        _ = workspace.loss(model, images: batch.images, labels: labels, compute: compute)
      }
      #expect(forwardCount == 0)
      try #require(allocationCountingAvailable)
    }
  }

  /// An image's logits do not depend on the other images of its batch (nothing mixes rows
  /// across images in the forward pass), so a partial batch gives the same bits.
  @Test func partialBatchGivesSameLogits() throws {
    let model = try randomizedModel(smallConfig, seed: 5)
    let batch = try TestBatch(smallConfig, count: 4, seed: 6)
    let workspace = try ViTWorkspace(config: smallConfig, batchCapacity: 4)
    let compute = Compute(tier: .reference)
    let full = bits(workspace.forward(model, images: batch.images, compute: compute))
    let twoImages = batch.images.reshaped(Shape(4, 8, 8, 2))
    let half = Tensor(base: twoImages.base, shape: Shape(2, 8, 8, 2))
    let partial = bits(workspace.forward(model, images: half, compute: compute))
    #expect(partial == Array(full[0..<(2 * smallConfig.classCount)]))
  }

  @Test func accumulatedGradientsAddUp() throws {
    let model = try randomizedModel(smallConfig, seed: 15)
    let batch = try TestBatch(smallConfig, count: 3, seed: 16)
    let workspace = try ViTWorkspace(config: smallConfig, batchCapacity: 3)
    let compute = Compute(tier: .reference)
    batch.labels.withUnsafeBufferPointer { labels in
      workspace.lossAndGradients(model, images: batch.images, labels: labels, compute: compute)
      let single = model.namedParameters().map { parameter in
        (0..<parameter.value.elementCount).map { parameter.gradient!.base[$0] }
      }
      workspace.lossAndGradients(
        model, images: batch.images, labels: labels, compute: compute, accumulateGradients: true)
      for (parameter, once) in zip(model.namedParameters(), single) {
        for index in once.indices {
          let twice = parameter.gradient!.base[index]
          #expect(abs(twice - 2 * once[index]) <= 1e-5 * max(1e-3, abs(2 * once[index])),
                  "\(parameter.name)[\(index)]: \(twice) vs 2 × \(once[index])")
        }
      }
    }
  }
}
