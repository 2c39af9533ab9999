import Foundation
import MuNetModel
import MuNetRuntime
import Testing

/// The hand-written backward against central finite differences of the independent `Double`
/// reference (``ReferenceViT``), parameter by parameter, on ``smallConfig`` with batch 3.
///
/// Method: the engine computes the gradient in `Float` (Tier 0). The oracle perturbs one
/// parameter by ±h (h = 1e-5) in the `Double` model and takes `(L(θ+h) − L(θ−h)) / 2h`; its
/// error (truncation ~h², rounding ~1e-16/h) is below 1e-9, so the comparison measures the
/// engine. Tolerance: `|g − fd| ≤ 1e-3·|fd| + 1e-4·s`, with `s` the largest |fd| of that
/// parameter tensor, floored at 1e-2 (a gradient that is 0 in exact arithmetic, like the key
/// bias's, carries ~1e-8 of rounding). `Float` rounding through a few hundred operations stays
/// near 1e-6 relative, while a mistake in a backward formula (a missing term, a transposed
/// view, a wrong scale) is off by O(10%) or more. Worst observed error / tolerance: ~0.006
/// (run with MUNET_GRADIENT_REPORT=1 to print it per tensor).
@Suite struct GradientCheckTests {
  /// Parameter groups checked separately, so a failure names the component.
  enum Group: String, CaseIterable, CustomTestStringConvertible {
    case embedding, cls, posembed, attention, mlp, adapter, encoderNorm, head

    func contains(_ name: String) -> Bool {
      switch self {
      case .embedding: name.hasPrefix("embedding/")
      case .cls: name == "cls"
      case .posembed: name.hasPrefix("posembed_input/")
      case .attention:
        name.hasPrefix("encoderblock_")
          && (name.contains("/LayerNorm_0/") || name.contains("/MultiHeadDotProductAttention_1/"))
      case .mlp:
        name.hasPrefix("encoderblock_") && (name.contains("/LayerNorm_2/") || name.contains("/MlpBlock_3/"))
      case .adapter: name.hasPrefix("residual_adapter_")
      case .encoderNorm: name.hasPrefix("encoder_norm/")
      case .head: name.hasPrefix("head/")
      }
    }

    var testDescription: String { rawValue }
  }

  static let step = 1e-5

  /// The engine's loss and forward agree with the reference (forward check).
  @Test func forwardMatchesDoubleReference() throws {
    let model = try randomizedModel(smallConfig, seed: 11)
    let batch = try TestBatch(smallConfig, count: 3, seed: 5)
    let workspace = try ViTWorkspace(config: smallConfig, batchCapacity: 3)
    let logits = workspace.forward(model, images: batch.images, compute: Compute(tier: .reference))
    let expected = ReferenceViT(model).logits(pixels: batch.pixels, count: 3)
    for i in 0..<3 {
      for j in 0..<smallConfig.classCount {
        #expect(abs(Double(logits[i, j]) - expected[i][j]) <= 1e-5 * max(1, abs(expected[i][j])),
                "logit [\(i), \(j)]: engine \(logits[i, j]), reference \(expected[i][j])")
      }
    }
  }

  @Test(arguments: Group.allCases)
  func parameterGradientsMatchFiniteDifferences(group: Group) throws {
    let model = try randomizedModel(smallConfig, seed: 11)
    try checkGradients(model, batchSeed: 5) { group.contains($0) }
  }

  /// Frozen blocks, adapter and norms in the middle: the embedding's gradient still matches,
  /// so the input gradient goes through frozen components correctly; frozen ones get none.
  @Test func inputGradientsFlowThroughFrozenComponents() throws {
    let model = try randomizedModel(smallConfig, seed: 23, trainable: false)
    model.embedding.parameters.setTrainable(true)
    model.positionEmbedding.parameters.setTrainable(true)
    try checkGradients(model, batchSeed: 9) { $0.hasPrefix("embedding/") || $0.hasPrefix("posembed_input/") }
    for parameter in model.namedParameters() where !parameter.name.hasPrefix("embedding/")
      && !parameter.name.hasPrefix("posembed_input/") {
      #expect(parameter.gradient == nil, "\(parameter.name) is frozen but has a gradient buffer")
    }
  }

  /// Only the adapter is trainable: backward stops below it, and its gradient is right.
  @Test func onlyAdapterTrainable() throws {
    let model = try randomizedModel(smallConfig, seed: 31, trainable: false)
    model.adapters[1]!.parameters.setTrainable(true)
    try checkGradients(model, batchSeed: 3) { $0.hasPrefix("residual_adapter_1/") }
  }

  /// A 0-layer model (the µ2Net ti0 root): tokens → encoder_norm → head.
  @Test func zeroLayerModel() throws {
    var config = smallConfig
    config.layerCount = 0
    config.adapterDims = []
    let model = try randomizedModel(config, seed: 51)
    try checkGradients(model, batchSeed: 2) { _ in true }
  }

  /// Computes the engine gradient (Tier 0) and compares every element of every trainable
  /// parameter selected by `selected` with the reference's central difference.
  private func checkGradients(_ model: ViTModel, batchSeed: UInt64, selected: (String) -> Bool) throws {
    let config = model.config
    let batch = try TestBatch(config, count: 3, seed: batchSeed)
    let workspace = try ViTWorkspace(config: config, batchCapacity: 3)
    let loss = batch.labels.withUnsafeBufferPointer { labels in
      workspace.lossAndGradients(
        model, images: batch.images, labels: labels, compute: Compute(tier: .reference))
    }
    var reference = ReferenceViT(model)
    let pixels = batch.pixels
    let referenceLoss = reference.loss(pixels: pixels, labels: batch.labels)
    #expect(abs(loss - referenceLoss) <= 1e-5 * max(1, abs(referenceLoss)),
            "loss \(loss) vs \(referenceLoss)")

    let parameters = model.namedParameters().filter { selected($0.name) }
    try #require(!parameters.isEmpty, "no parameters selected")
    var checked = 0
    for parameter in parameters {
      let gradient = try #require(parameter.gradient, "\(parameter.name) has no gradient buffer")
      var differences: [Double] = []
      for index in 0..<parameter.value.elementCount {
        let original = reference.values[parameter.name]![index]
        reference.values[parameter.name]![index] = original + Self.step
        let plus = reference.loss(pixels: pixels, labels: batch.labels)
        reference.values[parameter.name]![index] = original - Self.step
        let minus = reference.loss(pixels: pixels, labels: batch.labels)
        reference.values[parameter.name]![index] = original
        differences.append((plus - minus) / (2 * Self.step))
      }
      let scale = max(1e-2, differences.map(abs).max()!)
      var worst = 0.0
      for index in differences.indices {
        let engine = Double(gradient.base[index]), expected = differences[index]
        let allowed = 1e-3 * abs(expected) + 1e-4 * scale
        worst = max(worst, abs(engine - expected) / allowed)
        #expect(abs(engine - expected) <= allowed,
                "\(parameter.name)[\(index)]: engine \(engine), finite difference \(expected)")
        checked += 1
      }
      if ProcessInfo.processInfo.environment["MUNET_GRADIENT_REPORT"] != nil {
        print("gradient check \(parameter.name): worst error / tolerance = \(worst)")
      }
    }
    #expect(checked > 0)
  }
}
