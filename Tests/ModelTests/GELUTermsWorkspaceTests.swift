import MuNetModel
import MuNetRuntime
import Testing

/// A workspace that saves the GELU terms for backward (training) and one that does not
/// (evaluation, backward recomputes them) give the same bits, and differ in memory by exactly
/// the saved terms.
@Suite struct GELUTermsWorkspaceTests {
  /// Logits, loss and every gradient, bit for bit, for both GELU forms, with an adapter
  /// (the small configuration) and in Tier 0 and Tier 1.
  @Test(arguments: GELUForm.allCases)
  func savedTermsGiveTheBitsOfRecomputedTerms(form: GELUForm) throws {
    let config = ViTConfig(
      imageSize: 8, patchSize: 4, channels: 2, width: 8, heads: 2, mlpDim: 20, layerCount: 2,
      classCount: 3, adapterDims: [nil, 5], geluForm: form)
    let model = try randomizedModel(config, seed: 21)
    // Scale the MLP input kernels up so that some hidden units saturate tanh/erf in Float.
    for block in model.blocks {
      let kernel = block.parameters.values[12]  // MlpBlock_3/Dense_0/kernel
      for index in 0..<kernel.elementCount { kernel.base[index] *= 12 }
    }
    let batch = try TestBatch(config, count: 3, seed: 22)
    let saving = try ViTWorkspace(config: config, batchCapacity: 3)
    let recomputing = try ViTWorkspace(config: config, batchCapacity: 3, savingGELUTerms: false)
    #expect(saving.savesGELUTerms && !recomputing.savesGELUTerms)
    func run(_ workspace: ViTWorkspace, _ compute: Compute) -> [[UInt32]] {
      let loss = batch.labels.withUnsafeBufferPointer {
        workspace.lossAndGradients(model, images: batch.images, labels: $0, compute: compute)
      }
      return [bits(workspace.logits), [UInt32(truncatingIfNeeded: loss.bitPattern)]]
        + model.namedParameters().map { bits($0.gradient!) }
    }
    let expected = run(recomputing, Compute(tier: .reference))
    #expect(expected[0].contains { $0 != 0 } && expected.dropFirst(2).allSatisfy { $0.contains { $0 != 0 } })
    #expect(run(saving, Compute(tier: .reference)) == expected, "\(form): saved terms, Tier 0")
    #expect(run(saving, Compute(tier: .threads, threadCount: 3)) == expected, "\(form): saved terms, Tier 1")
  }

  /// The saved terms cost one `rows × M` tensor per block and `rows × A` per adapter.
  @Test func savedTermsMemory() {
    let config = ViTConfig.reference.withAdapter(16, atLayer: 2)
    let rows = 64 * config.tokenCount
    let with = ViTWorkspace.plannedBytes(config: config, batchCapacity: 64)
    let without = ViTWorkspace.plannedBytes(config: config, batchCapacity: 64, savingGELUTerms: false)
    let expected = ArenaPlan.paddedBytes(elements: rows * config.mlpDim) * config.layerCount
      + ArenaPlan.paddedBytes(elements: rows * 16)
    #expect(with - without == expected)
  }
}
