import MuNetModel
import MuNetRuntime
import Testing

@Suite struct ParameterTests {
  /// The reference configuration's parameter count, from the architecture:
  /// embedding 4·4·1·64 + 64, cls 64, posembed 50·64, per block 2·128 (LayerNorms)
  /// + 4·(64·64 + 64) (q, k, v, out) + (64·256 + 256) + (256·64 + 64) (MLP), encoder_norm 128,
  /// head 64·10 + 10.
  @Test func referenceConfigurationParameterCount() throws {
    let model = try ViTModel(config: .reference, initKey: StreamKey(seed: 0))
    let block = 2 * 128 + 4 * (64 * 64 + 64) + (64 * 256 + 256) + (256 * 64 + 64)
    let expected = (16 * 64 + 64) + 64 + 50 * 64 + 4 * block + 128 + (64 * 10 + 10)
    #expect(model.parameterCount == expected)
    #expect(model.parameterCount == 205_066)
    let adapter = ResidualAdapter(
      index: 0, width: 64, adapterDim: 16, trainable: false, initKey: StreamKey(seed: 0))
    #expect(adapter.parameterCount == 128 + (64 * 16 + 16) + (16 * 64 + 64))
  }

  @Test func namesAndShapesFollowVitJax() throws {
    let model = try ViTModel(config: smallConfig, initKey: StreamKey(seed: 0))
    let parameters = model.namedParameters()
    let names = parameters.map(\.name)
    #expect(names == names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
    #expect(Set(names).count == names.count)
    let shapes = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.value.shape.dims) })
    let expected: [String: [Int]] = [
      "embedding/kernel": [4, 4, 2, 8], "embedding/bias": [8], "cls": [1, 1, 8],
      "posembed_input/pos_embedding": [1, 5, 8],
      "encoderblock_0/LayerNorm_0/scale": [8], "encoderblock_0/LayerNorm_0/bias": [8],
      "encoderblock_0/MultiHeadDotProductAttention_1/query/kernel": [8, 2, 4],
      "encoderblock_0/MultiHeadDotProductAttention_1/query/bias": [2, 4],
      "encoderblock_0/MultiHeadDotProductAttention_1/key/kernel": [8, 2, 4],
      "encoderblock_0/MultiHeadDotProductAttention_1/value/bias": [2, 4],
      "encoderblock_0/MultiHeadDotProductAttention_1/out/kernel": [2, 4, 8],
      "encoderblock_0/MultiHeadDotProductAttention_1/out/bias": [8],
      "encoderblock_1/LayerNorm_2/scale": [8],
      "encoderblock_1/MlpBlock_3/Dense_0/kernel": [8, 16], "encoderblock_1/MlpBlock_3/Dense_0/bias": [16],
      "encoderblock_1/MlpBlock_3/Dense_1/kernel": [16, 8], "encoderblock_1/MlpBlock_3/Dense_1/bias": [8],
      "residual_adapter_1/LayerNorm_0/scale": [8], "residual_adapter_1/Dense_1/kernel": [8, 4],
      "residual_adapter_1/Dense_1/bias": [4], "residual_adapter_1/Dense_2/kernel": [4, 8],
      "residual_adapter_1/Dense_2/bias": [8],
      "encoder_norm/scale": [8], "encoder_norm/bias": [8], "head/kernel": [8, 3], "head/bias": [3],
    ]
    for (name, shape) in expected { #expect(shapes[name] == shape, "\(name)") }
    #expect(names.count == 4 + 2 * 16 + 6 + 2 + 2)
    #expect(!names.contains { $0.hasPrefix("residual_adapter_0") })
  }

  /// Initial values: same key, same bits; a component built alone equals the one in a model
  /// (init does not depend on order); the vit_jax/flax initialisers' fixed values and ranges.
  @Test func initialisationIsKeyedByName() throws {
    let key = StreamKey(seed: 2024)
    let first = try ViTModel(config: .reference, initKey: key)
    let second = try ViTModel(config: .reference, initKey: key)
    for (a, b) in zip(first.namedParameters(), second.namedParameters()) {
      #expect(bits(a.value) == bits(b.value), "\(a.name)")
    }
    let alone = EncoderBlock(index: 2, width: 64, heads: 4, mlpDim: 256, trainable: false, initKey: key)
    for (a, b) in zip(alone.parameters.values, first.blocks[2].parameters.values) {
      #expect(bits(a) == bits(b))
    }
    #expect(bits(first.blocks[1].parameters.values[2]) != bits(first.blocks[2].parameters.values[2]))
    let other = try ViTModel(config: .reference, initKey: StreamKey(seed: 2025))
    #expect(bits(other.embedding.parameters.values[0]) != bits(first.embedding.parameters.values[0]))

    let byName = Dictionary(uniqueKeysWithValues: first.namedParameters().map { ($0.name, $0.value) })
    func values(_ name: String) -> [Float] {
      let tensor = byName[name]!
      return (0..<tensor.elementCount).map { tensor.base[$0] }
    }
    #expect(values("head/kernel").allSatisfy { $0 == 0 } && values("head/bias").allSatisfy { $0 == 0 })
    #expect(values("cls").allSatisfy { $0 == 0 })
    #expect(values("encoder_norm/scale").allSatisfy { $0 == 1 })
    #expect(values("encoderblock_0/MultiHeadDotProductAttention_1/query/bias").allSatisfy { $0 == 0 })
    let xavierLimit = Float((6.0 / 128).squareRoot())
    let query = values("encoderblock_0/MultiHeadDotProductAttention_1/query/kernel")
    #expect(query.allSatisfy { abs($0) <= xavierLimit } && query.contains { abs($0) > 0.9 * xavierLimit })
    let mlpBias = values("encoderblock_0/MlpBlock_3/Dense_0/bias")
    #expect(mlpBias.allSatisfy { $0 != 0 && abs($0) < 1e-5 })
    let position = values("posembed_input/pos_embedding")
    let squares = position.reduce(0) { $0 + Double($1) * Double($1) }
    let deviation = (squares / Double(position.count)).squareRoot()
    #expect(abs(deviation - 0.02) < 0.002, "posembed deviation \(deviation)")
    // lecun normal, fan-in 16: deviation 1/4, truncated at 2 deviations (|w| ≤ 0.5 / 0.8796).
    let embedding = values("embedding/kernel")
    #expect(embedding.allSatisfy { abs($0) <= 0.5 / 0.87962566 + 1e-6 })

    let adapter = ResidualAdapter(index: 1, width: 64, adapterDim: 8, trainable: true, initKey: key)
    #expect(bits(adapter.parameters.values[4]).allSatisfy { $0 == 0 }, "Dense_2 kernel must start at zero")
    #expect(bits(adapter.parameters.values[2]).contains { $0 != 0 }, "Dense_1 kernel is random")
  }

  @Test func exportAndLoadRoundTrip() throws {
    let source = try randomizedModel(smallConfig, seed: 77)
    let target = try ViTModel(config: smallConfig, initKey: StreamKey(seed: 1), trainable: false)
    let arrays = source.exportParameters()
    try target.loadParameters(arrays)
    for (a, b) in zip(source.namedParameters(), target.namedParameters()) {
      #expect(a.name == b.name && bits(a.value) == bits(b.value))
    }

    var missing = arrays
    missing.removeFirst()
    #expect(throws: ViTModelError.missingParameter(arrays[0].name)) { try target.loadParameters(missing) }
    var reshaped = arrays
    reshaped[0].shape = [reshaped[0].values.count]
    #expect(throws: ViTModelError.shapeMismatch(
      name: arrays[0].name, expected: arrays[0].shape, found: reshaped[0].shape)) {
      try target.loadParameters(reshaped)
    }
    let unused = ParameterArray(
      name: "encoderblock_9/LayerNorm_0/scale", shape: [8], values: .init(repeating: 1, count: 8))
    let extra = arrays + [unused]
    #expect(throws: ViTModelError.unexpectedParameter("encoderblock_9/LayerNorm_0/scale")) {
      try target.loadParameters(extra)
    }
    try target.loadParameters(extra, allowingUnused: true)
  }

  @Test func componentsMustFitTheConfiguration() throws {
    let model = try ViTModel(config: smallConfig, initKey: StreamKey(seed: 0))
    let wider = try ViTModel(config: ViTConfig(
      imageSize: 8, patchSize: 4, channels: 2, width: 16, heads: 2, mlpDim: 16, layerCount: 2,
      classCount: 3, adapterDims: [nil, 4]), initKey: StreamKey(seed: 0))
    #expect(throws: ViTModelError.self) {
      try ViTModel(
        config: smallConfig, embedding: model.embedding, classToken: model.classToken,
        positionEmbedding: model.positionEmbedding, adapters: model.adapters,
        blocks: [model.blocks[0], wider.blocks[1]], encoderNorm: model.encoderNorm, head: model.head)
    }
    #expect(throws: ViTModelError.self) {
      try ViTModel(config: smallConfig.withAdapter(nil, atLayer: 1), initKey: StreamKey(seed: 0))
        .loadParameters(model.exportParameters())
    }
  }
}

@Suite struct PositionResizeTests {
  @Test func shrinkingToTwoByTwoKeepsTheCorners() throws {
    let model = try ViTModel(config: ViTConfig(
      imageSize: 224, patchSize: 16, channels: 3, width: 4, heads: 1, mlpDim: 4, layerCount: 0,
      classCount: 2), initKey: StreamKey(seed: 5))
    let original = model.positionEmbedding
    #expect(original.gridSize == 14)
    let resized = original.resized(toGrid: 2, trainable: true)
    #expect(resized.tokenCount == 5 && resized.trainable)
    let source = original.table.base, result = resized.table.base
    let corners = [0, 13, 14 * 13, 14 * 14 - 1]  // grid indices of the four corners
    for d in 0..<4 { #expect(result[d] == source[d], "class token entry kept") }
    for (index, corner) in corners.enumerated() {
      for d in 0..<4 { #expect(result[(1 + index) * 4 + d] == source[(1 + corner) * 4 + d]) }
    }
    let same = original.resized(toGrid: 14, trainable: false)
    #expect(bits(same.table) == bits(original.table))
  }

  /// Against values computed with scipy 1.17 `scipy.ndimage.zoom(grid, (z, z, 1), order=1)`.
  @Test func matchesScipyZoom() {
    let grid: [Float] = (0..<18).map { Float($0) * Float($0) * 0.25 - 3 }  // 3 × 3 × 2
    let expected5: [Float] = [
      -3.0, -2.75, -2.5, -1.75, -2.0, -0.75, -0.5, 1.25, 1.0, 3.25, 1.5, 3.25, 3.5, 5.75, 5.5, 8.25,
      8.5, 11.75, 11.5, 15.25, 6.0, 9.25, 9.5, 13.25, 13.0, 17.25, 17.5, 22.25, 22.0, 27.25, 19.5,
      24.25, 24.5, 29.75, 29.5, 35.25, 35.5, 41.75, 41.5, 48.25, 33.0, 39.25, 39.5, 46.25, 46.0,
      53.25, 53.5, 61.25, 61.0, 69.25,
    ]
    #expect(resize(grid, grid: 3, width: 2, to: 5) == expected5)
    let four: [Float] = [
      1.5, -2.0, 0.25, 4.0, 3.0, 0.5, -1.0, 2.0, 0.0, 1.0, 2.5, -3.5, 2.0, -0.5, 1.25, 0.75,
    ]
    #expect(resize(four, grid: 4, width: 1, to: 3) == [1.5, -0.875, 4.0, 1.5, 0.75, -0.75, 2.0, 0.375, 0.75])
    #expect(resize(four, grid: 4, width: 1, to: 1) == [1.5])
  }

  private func resize(_ values: [Float], grid: Int, width: Int, to newGrid: Int) -> [Float] {
    var output = [Float](repeating: .nan, count: newGrid * newGrid * width)
    values.withUnsafeBufferPointer { source in
      output.withUnsafeMutableBufferPointer { destination in
        PositionEmbedding.resizeGrid(source, grid: grid, width: width, toGrid: newGrid, into: destination)
      }
    }
    return output
  }
}
