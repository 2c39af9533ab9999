import MuNetRuntime

/// One ViT path: its configuration and the components it uses, in forward order.
///
///     images → patches → embedding → prepend cls → + posembed_input
///       → for each layer i: [residual_adapter_i] → encoderblock_i
///       → encoder_norm (class token) → head → logits
///
/// Components are shared by reference: a µ2Net child reuses its parent's frozen components and
/// owns copies of the ones it trains. Activations live in a ``ViTWorkspace``.
///
/// Backward stages, bottom to top: 0 the tokens (`embedding`, `cls`, `posembed_input`), then
/// `1 + 2i` adapter `i` and `2 + 2i` block `i`, `2L + 1` `encoder_norm`, `2L + 2` `head`.
/// Backward stops at the lowest stage that has a trainable component.
public final class ViTModel {
  public let config: ViTConfig
  public let embedding: PatchEmbedding
  public let classToken: ClassToken
  public let positionEmbedding: PositionEmbedding
  /// `adapters[i]` runs before `blocks[i]`; nil where the configuration has no adapter.
  public let adapters: [ResidualAdapter?]
  public let blocks: [EncoderBlock]
  public let encoderNorm: EncoderNorm
  public let head: Head

  /// A freshly initialised model: every parameter drawn from its own stream under `initKey`
  /// (``ParameterStore``), so the result does not depend on the order components are built.
  public init(config: ViTConfig, initKey: StreamKey, trainable: Bool = true) throws(ViTModelError) {
    do { try config.validate() } catch { throw .invalidConfig(error.description) }
    self.config = config
    let width = config.width
    embedding = PatchEmbedding(
      patchSize: config.patchSize, channels: config.channels, width: width, trainable: trainable,
      initKey: initKey)
    classToken = ClassToken(width: width, trainable: trainable, initKey: initKey)
    positionEmbedding = PositionEmbedding(
      tokenCount: config.tokenCount, width: width, trainable: trainable, initKey: initKey)
    adapters = config.adapterDims.enumerated().map { index, dim in
      dim.map {
        ResidualAdapter(index: index, width: width, adapterDim: $0, trainable: trainable, initKey: initKey)
      }
    }
    blocks = (0..<config.layerCount).map { index in
      EncoderBlock(
        index: index, width: width, heads: config.heads, mlpDim: config.mlpDim, trainable: trainable,
        initKey: initKey)
    }
    encoderNorm = EncoderNorm(width: width, trainable: trainable, initKey: initKey)
    head = Head(width: width, classCount: config.classCount, trainable: trainable, initKey: initKey)
  }

  /// A model made of existing components (shared, not copied). Throws when a component does
  /// not fit `config` (wrong widths, names, token count or adapter dimension).
  public init(
    config: ViTConfig, embedding: PatchEmbedding, classToken: ClassToken,
    positionEmbedding: PositionEmbedding, adapters: [ResidualAdapter?], blocks: [EncoderBlock],
    encoderNorm: EncoderNorm, head: Head
  ) throws(ViTModelError) {
    do { try config.validate() } catch { throw .invalidConfig(error.description) }
    self.config = config
    self.embedding = embedding
    self.classToken = classToken
    self.positionEmbedding = positionEmbedding
    self.adapters = adapters
    self.blocks = blocks
    self.encoderNorm = encoderNorm
    self.head = head
    try checkComponents()
  }

  private func checkComponents() throws(ViTModelError) {
    func require(_ condition: Bool, _ component: String, _ problem: String) throws(ViTModelError) {
      if !condition { throw .componentMismatch(component: component, problem: problem) }
    }
    let width = config.width
    try require(
      embedding.patchSize == config.patchSize && embedding.channels == config.channels
        && embedding.width == width, "embedding", "patch size, channels or width differ")
    try require(classToken.width == width, "cls", "width differs")
    try require(
      positionEmbedding.tokenCount == config.tokenCount && positionEmbedding.width == width,
      "posembed_input", "has \(positionEmbedding.tokenCount) tokens, expected \(config.tokenCount)")
    try require(adapters.count == config.layerCount, "residual_adapter", "wrong count")
    try require(blocks.count == config.layerCount, "encoderblock", "wrong count")
    for layer in 0..<config.layerCount {
      let block = blocks[layer]
      try require(
        block.index == layer && block.width == width && block.heads == config.heads
          && block.mlpDim == config.mlpDim, "encoderblock_\(layer)", "index or shape differs")
      let adapter = adapters[layer]
      try require(
        adapter?.adapterDim == config.adapterDims[layer] && (adapter?.index ?? layer) == layer
          && (adapter?.width ?? width) == width, "residual_adapter_\(layer)", "dimension or index differs")
    }
    try require(encoderNorm.width == width, "encoder_norm", "width differs")
    try require(head.width == width && head.classCount == config.classCount, "head", "shape differs")
  }

  /// The components in forward order.
  public var components: [any ViTComponent] {
    var list: [any ViTComponent] = [embedding, classToken, positionEmbedding]
    for layer in 0..<config.layerCount {
      if let adapter = adapters[layer] { list.append(adapter) }
      list.append(blocks[layer])
    }
    list.append(encoderNorm)
    list.append(head)
    return list
  }

  /// Every parameter with its gradient (nil when frozen), sorted by name (UTF-8 byte order):
  /// the canonical order for the optimizer and for files.
  public func namedParameters() -> [NamedParameter] {
    components.flatMap(\.parameters.namedParameters)
      .sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
  }

  /// Number of scalar parameters.
  public var parameterCount: Int { components.reduce(0) { $0 + $1.parameterCount } }

  /// Number of scalar parameters in trainable components.
  public var trainableParameterCount: Int {
    components.reduce(0) { $0 + ($1.trainable ? $1.parameterCount : 0) }
  }

  /// Sets every trainable component's gradients to +0.
  public func zeroGradients() {
    for component in components { component.parameters.zeroGradients() }
  }

  /// Copies of all parameters in canonical order, in file shapes (for saving).
  public func exportParameters() -> [ParameterArray] {
    namedParameters().map { parameter in
      ParameterArray(
        name: parameter.name, shape: parameter.value.shape.dims, values: Array(parameter.value.buffer))
    }
  }

  /// Overwrites the parameters from `arrays` (file names and shapes). Every parameter of the
  /// model must be present with its exact shape; arrays the model does not use are an error
  /// unless `allowingUnused` (e.g. a 12-block checkpoint loaded into a 3-block path). Nothing
  /// is written unless everything checks out.
  public func loadParameters(_ arrays: [ParameterArray], allowingUnused: Bool = false) throws(ViTModelError) {
    var byName: [String: Int] = [:]
    for (index, array) in arrays.enumerated() {
      if byName.updateValue(index, forKey: array.name) != nil { throw .duplicateParameter(array.name) }
    }
    let parameters = namedParameters()
    var sources: [Int] = []
    for parameter in parameters {
      guard let index = byName[parameter.name] else { throw .missingParameter(parameter.name) }
      let array = arrays[index]
      guard array.shape == parameter.value.shape.dims,
            array.values.count == parameter.value.elementCount else {
        throw .shapeMismatch(name: parameter.name, expected: parameter.value.shape.dims, found: array.shape)
      }
      sources.append(index)
    }
    if !allowingUnused {
      let used = Set(parameters.map(\.name))
      let unused = arrays.map(\.name).filter { !used.contains($0) }
        .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
      if let first = unused.first { throw .unexpectedParameter(first) }
    }
    for (parameter, index) in zip(parameters, sources) {
      arrays[index].values.withUnsafeBufferPointer { source in
        parameter.value.base.update(from: source.baseAddress!, count: source.count)
      }
    }
  }

  /// The backward stage of a component (see the type's doc).
  var stageCount: Int { 2 * config.layerCount + 3 }

  /// The lowest backward stage with a trainable component, or nil when everything is frozen.
  var firstTrainableStage: Int? {
    if embedding.trainable || classToken.trainable || positionEmbedding.trainable { return 0 }
    for layer in 0..<config.layerCount {
      if adapters[layer]?.trainable == true { return 1 + 2 * layer }
      if blocks[layer].trainable { return 2 + 2 * layer }
    }
    if encoderNorm.trainable { return 2 * config.layerCount + 1 }
    if head.trainable { return 2 * config.layerCount + 2 }
    return nil
  }
}

/// A model that cannot be built or loaded.
public enum ViTModelError: Error, Equatable, CustomStringConvertible {
  case invalidConfig(String)
  case componentMismatch(component: String, problem: String)
  case missingParameter(String)
  case unexpectedParameter(String)
  case duplicateParameter(String)
  case shapeMismatch(name: String, expected: [Int], found: [Int])

  public var description: String {
    switch self {
    case .invalidConfig(let message): message
    case .componentMismatch(let component, let problem): "component \(component) does not fit: \(problem)"
    case .missingParameter(let name): "parameter \(name) is missing"
    case .unexpectedParameter(let name): "parameter \(name) is not part of the model"
    case .duplicateParameter(let name): "parameter \(name) appears twice"
    case .shapeMismatch(let name, let expected, let found):
      "parameter \(name) has shape \(found), expected \(expected)"
    }
  }
}
