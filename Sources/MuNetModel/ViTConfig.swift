import MuNetRuntime

/// The shape of one ViT path: image and patch sizes, widths, depth, classes, adapters.
///
/// Everything the model's parameter shapes and the workspace's arena plan depend on. Images are
/// square (`imageSize × imageSize × channels`, channels last); munet feeds grey images as one
/// channel (it does not tile them to three as the µ2Net notebooks do).
public struct ViTConfig: Equatable, Sendable, CustomStringConvertible {
  /// Side of the (square) input image in pixels; a multiple of ``patchSize``.
  public var imageSize: Int
  /// Side of one square patch in pixels.
  public var patchSize: Int
  /// Channels per pixel (1 for grey images).
  public var channels: Int
  /// Width of the token stream (vit_jax `hidden_size`).
  public var width: Int
  /// Attention heads; divides ``width``.
  public var heads: Int
  /// Width of the hidden layer of each block's MLP.
  public var mlpDim: Int
  /// Encoder blocks.
  public var layerCount: Int
  /// Outputs of the head.
  public var classCount: Int
  /// Bottleneck width of `residual_adapter_i` for each layer `i`, nil where there is none.
  /// Must have ``layerCount`` entries.
  public var adapterDims: [Int?]
  /// The GELU formula of the MLPs and adapters (flax `nn.gelu` default: tanh).
  public var geluForm: GELUForm
  /// The epsilon of every LayerNorm (flax default 1e-6).
  public var layerNormEpsilon: Float

  /// A configuration; `adapterDims` defaults to no adapters.
  public init(
    imageSize: Int, patchSize: Int, channels: Int, width: Int, heads: Int, mlpDim: Int,
    layerCount: Int, classCount: Int, adapterDims: [Int?]? = nil, geluForm: GELUForm = .tanh,
    layerNormEpsilon: Float = 1e-6
  ) {
    self.imageSize = imageSize
    self.patchSize = patchSize
    self.channels = channels
    self.width = width
    self.heads = heads
    self.mlpDim = mlpDim
    self.layerCount = layerCount
    self.classCount = classCount
    self.adapterDims = adapterDims ?? Array(repeating: nil, count: max(0, layerCount))
    self.geluForm = geluForm
    self.layerNormEpsilon = layerNormEpsilon
  }

  /// The reference configuration for tests and benchmarks: 28 × 28 grey images, patch 4
  /// (49 patches + class token = 50 tokens), width 64, 4 heads, MLP 256, 4 layers, 10 classes.
  public static let reference = ViTConfig(
    imageSize: 28, patchSize: 4, channels: 1, width: 64, heads: 4, mlpDim: 256, layerCount: 4,
    classCount: 10)

  /// Patches along one side of the image.
  public var gridSize: Int { imageSize / patchSize }
  /// Patches per image.
  public var patchCount: Int { gridSize * gridSize }
  /// Tokens per image: the patches and the class token (token 0).
  public var tokenCount: Int { patchCount + 1 }
  /// Width of one attention head.
  public var headDim: Int { width / heads }
  /// Values in one flattened patch (`patchSize² · channels`).
  public var patchFeatures: Int { patchSize * patchSize * channels }
  /// Values in one image (`imageSize² · channels`).
  public var imageElements: Int { imageSize * imageSize * channels }

  /// The same configuration with adapter `dim` before layer `layer` (nil removes it).
  public func withAdapter(_ dim: Int?, atLayer layer: Int) -> ViTConfig {
    var copy = self
    copy.adapterDims[layer] = dim
    return copy
  }

  /// Throws when the configuration cannot describe a model.
  public func validate() throws(ViTConfigError) {
    func require(_ condition: Bool, _ message: String) throws(ViTConfigError) {
      if !condition { throw ViTConfigError.invalid(message) }
    }
    try require(patchSize >= 1 && imageSize >= patchSize, "image size \(imageSize) < patch size \(patchSize)")
    try require(imageSize % patchSize == 0, "image size \(imageSize) not a multiple of patch \(patchSize)")
    try require(channels >= 1, "channels must be positive")
    try require(width >= 1 && heads >= 1, "width and heads must be positive")
    try require(width % heads == 0, "width \(width) not divisible by \(heads) heads")
    try require(mlpDim >= 1, "MLP dimension must be positive")
    try require(layerCount >= 0, "layer count must be non-negative")
    try require(classCount >= 1, "class count must be positive")
    try require(adapterDims.count == layerCount,
                "\(adapterDims.count) adapter entries for \(layerCount) layers")
    for dim in adapterDims { try require((dim ?? 1) >= 1, "adapter dimension must be positive") }
    try require(layerNormEpsilon > 0, "LayerNorm epsilon must be positive")
  }

  public var description: String {
    let adapters = adapterDims.map { $0.map(String.init) ?? "-" }.joined(separator: ",")
    return "ViT(image \(imageSize), patch \(patchSize), channels \(channels), width \(width), "
      + "heads \(heads), mlp \(mlpDim), layers \(layerCount), classes \(classCount), "
      + "adapters [\(adapters)], gelu \(geluForm.rawValue))"
  }
}

/// A configuration that cannot describe a model.
public enum ViTConfigError: Error, Equatable, CustomStringConvertible {
  case invalid(String)

  public var description: String {
    switch self { case .invalid(let message): "invalid ViT configuration: \(message)" }
  }
}
