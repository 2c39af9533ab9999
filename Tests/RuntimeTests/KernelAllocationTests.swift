import MuNetTestSupport
import MuNetRuntime
import Testing

@Suite struct KernelAllocationTests {
  /// A warmed-up forward and backward through every non-GEMM kernel makes no heap allocation,
  /// in Tier 0 and in Tier 1 (with shapes large enough that Tier 1 really splits).
  @Test(arguments: [Tier.reference, Tier.threads])
  func kernelsAllocateNothingAfterWarmUp(tier: Tier) throws {
    try #require(allocationCountingAvailable)
    let compute = Compute(tier: tier, threadCount: 3)
    var rng = SplitMix64(seed: 71)
    let rows = 96, cols = 200
    let x = HostMatrix(random: rows, cols, &rng), y = HostMatrix(rows: rows, cols: cols)
    let dy = HostMatrix(random: rows, cols, &rng), dx = HostMatrix(rows: rows, cols: cols)
    let vector = HostBuffer(random: cols, &rng), scale = HostBuffer(random: cols, &rng)
    let mean = HostBuffer(count: rows), rstd = HostBuffer(count: rows), losses = HostBuffer(count: rows)
    let dScale = HostBuffer(count: cols), dBias = HostBuffer(count: cols)
    let labels = UnsafeMutableBufferPointer<Int32>.allocate(capacity: rows)
    defer { labels.deallocate() }
    for i in 0..<rows { labels[i] = Int32(i % cols) }
    let predictions = UnsafeMutableBufferPointer<Int32>.allocate(capacity: rows)
    defer { predictions.deallocate() }
    let gradients = [dx.storage.buffer, dScale.buffer, dBias.buffer]
    let step = {
      compute.addBias(x.matrix, vector.buffer, into: y.matrix)
      compute.layerNorm(y.matrix, scale: scale.buffer, bias: vector.buffer, into: y.matrix,
                        mean: mean.buffer, rstd: rstd.buffer)
      compute.gelu(y.matrix, into: y.matrix)
      compute.softmaxRows(y.matrix, into: y.matrix)
      compute.softmaxRowsBackward(outputs: y.matrix, outputGradient: dy.matrix, into: dx.matrix)
      compute.geluBackward(x.matrix, outputGradient: dx.matrix, into: dx.matrix)
      compute.layerNormBackward(
        x.matrix, outputGradient: dy.matrix, scale: scale.buffer, mean: mean.buffer, rstd: rstd.buffer,
        inputGradient: dx.matrix, scaleGradient: dScale.buffer, biasGradient: dBias.buffer)
      compute.columnSums(dx.matrix, into: dBias.buffer, accumulate: true)
      compute.addInPlace(dy.matrix, to: dx.matrix)
      compute.accumulateScaled(dy.matrix, by: 0.5, into: dx.matrix)
      _ = compute.softmaxCrossEntropy(
        logits: x.matrix, labels: UnsafeBufferPointer(labels), losses: losses.buffer,
        logitsGradient: dx.matrix)
      compute.argmaxRows(x.matrix, into: predictions)
      _ = compute.correctCount(logits: x.matrix, labels: UnsafeBufferPointer(labels))
      compute.clipByGlobalNorm(gradients, maxNorm: 1)
    }
    step()  // Warm-up.
    let count = allocationCount(pool: compute.pool, step)
    #expect(count == 0, "a warmed-up kernel step made \(count) heap allocations in \(tier)")
  }
}
