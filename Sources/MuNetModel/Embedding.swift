import MuNetRuntime

/// `embedding`: the patch convolution (kernel = stride = patch size, VALID) as a matrix product
/// over flattened patches.
///
/// Parameters (file layout = engine layout): `embedding/kernel` `[p, p, C, D]` (flax HWIO; the
/// same memory is the `[p·p·C, D]` matrix whose row `(py·p + px)·C + c` multiplies pixel
/// `(py, px)`, channel `c` of a patch), lecun-normal (fan-in `p·p·C`, flax `nn.Conv` default);
/// `embedding/bias` `[D]`, zeros. Output row `b·P + gy·G + gx` is patch `(gy, gx)` of image `b`.
public final class PatchEmbedding: ViTComponent {
  public let parameters: ParameterStore
  public let patchSize: Int
  public let channels: Int
  public let width: Int

  static let kernelSlot = 0, biasSlot = 1

  /// A freshly initialised embedding.
  public init(patchSize: Int, channels: Int, width: Int, trainable: Bool, initKey: StreamKey) {
    self.patchSize = patchSize
    self.channels = channels
    self.width = width
    let specs = [
      ParameterSpec(name: "embedding/kernel", shape: Shape(patchSize, patchSize, channels, width),
                    initializer: .lecunNormal(fanIn: patchSize * patchSize * channels)),
      ParameterSpec(name: "embedding/bias", shape: Shape(width), initializer: .zeros),
    ]
    parameters = ParameterStore(
      componentName: "embedding", specs: specs, trainable: trainable, initKey: initKey)
  }

  /// A copy with its own memory (µ2Net clone).
  public init(copying other: PatchEmbedding, trainable: Bool) {
    patchSize = other.patchSize
    channels = other.channels
    width = other.width
    parameters = ParameterStore(copying: other.parameters, trainable: trainable)
  }

  var kernel: Matrix { parameters.value(Self.kernelSlot).rows(patchSize * patchSize * channels, cols: width) }

  /// `output = patches · kernel + bias` (`patches` is `rows × p·p·C`, `output` `rows × D`).
  public func forward(patches: Matrix, into output: Matrix, compute: Compute) {
    compute.gemmEngine.gemm(
      patches, kernel, output, addingBias: parameters.value(Self.biasSlot).vector)
  }

  /// Kernel and bias gradients from the output gradient (the input, pixels, needs none).
  /// Does nothing when frozen.
  public func backward(patches: Matrix, outputGradient: Matrix, compute: Compute, accumulate: Bool) {
    guard let kernelGradient = parameters.gradient(Self.kernelSlot),
          let biasGradient = parameters.gradient(Self.biasSlot) else { return }
    let kernelMatrix = kernelGradient.rows(patchSize * patchSize * channels, cols: width)
    compute.gemmEngine.gemm(patches.transposed, outputGradient, kernelMatrix, accumulate: accumulate)
    compute.columnSums(outputGradient, into: biasGradient.vector, accumulate: accumulate)
  }

  /// Copies the patches of `batch` images (`[batch, S, S, C]`, channels last, dense) into the
  /// rows of `patches` (`batch·G² × p·p·C`): row `b·G² + gy·G + gx`, column `(py·p + px)·C + c`
  /// holds pixel `(gy·p + py, gx·p + px)`, channel `c` of image `b`. Pure data movement.
  public static func extractPatches(
    images: UnsafePointer<Float>, batch: Int, imageSize: Int, patchSize: Int, channels: Int,
    into patches: Matrix, compute: Compute
  ) {
    let grid = imageSize / patchSize
    precondition(patches.rows == batch * grid * grid && patches.cols == patchSize * patchSize * channels,
                 "extractPatches: patch matrix is \(patches.rows)x\(patches.cols)")
    precondition(patches.isDenseRowMajor, "extractPatches: patches must be dense")
    let job = PatchExtractionJob(
      images: images, patches: patches.base, imageSize: imageSize, patchSize: patchSize,
      channels: channels)
    compute.parallelFor(
      count: batch, grain: Compute.rowGrain(cols: imageSize * imageSize * channels), job)
  }
}

/// Copies whole images `range` into their patch rows (see ``PatchEmbedding/extractPatches``).
private struct PatchExtractionJob: RangeJob {
  let images: UnsafePointer<Float>
  let patches: UnsafeMutablePointer<Float>
  let imageSize: Int, patchSize: Int, channels: Int

  func run(range: Range<Int>) {
    let grid = imageSize / patchSize
    let rowLength = patchSize * channels  // one patch row: contiguous in the image
    let features = patchSize * rowLength
    for b in range {
      for gy in 0..<grid {
        for gx in 0..<grid {
          let destination = patches + ((b * grid + gy) * grid + gx) * features
          for py in 0..<patchSize {
            let pixelRow = gy * patchSize + py
            let source = images + ((b * imageSize + pixelRow) * imageSize + gx * patchSize) * channels
            (destination + py * rowLength).update(from: source, count: rowLength)
          }
        }
      }
    }
  }
}

/// `cls`: the class token prepended to every image's patch tokens. File name `cls`, shape
/// `[1, 1, D]`, zeros (vit_jax).
public final class ClassToken: ViTComponent {
  public let parameters: ParameterStore
  public let width: Int

  public init(width: Int, trainable: Bool, initKey: StreamKey) {
    self.width = width
    let specs = [ParameterSpec(name: "cls", shape: Shape(1, 1, width), initializer: .zeros)]
    parameters = ParameterStore(componentName: "cls", specs: specs, trainable: trainable, initKey: initKey)
  }

  public init(copying other: ClassToken, trainable: Bool) {
    width = other.width
    parameters = ParameterStore(copying: other.parameters, trainable: trainable)
  }
}

/// `posembed_input`: learned position embeddings added to the tokens. File name
/// `posembed_input/pos_embedding`, shape `[1, T, D]` (token 0 is the class token), normal with
/// standard deviation 0.02 (vit_jax `posemb_init`).
public final class PositionEmbedding: ViTComponent {
  public let parameters: ParameterStore
  public let tokenCount: Int
  public let width: Int

  public init(tokenCount: Int, width: Int, trainable: Bool, initKey: StreamKey) {
    self.tokenCount = tokenCount
    self.width = width
    parameters = ParameterStore(
      componentName: "posembed_input", specs: PositionEmbedding.specs(tokenCount: tokenCount, width: width),
      trainable: trainable, initKey: initKey)
  }

  /// A table of zeros, filled by the caller (``resized(toGrid:trainable:)``).
  init(zeroedTokenCount tokenCount: Int, width: Int, trainable: Bool) {
    self.tokenCount = tokenCount
    self.width = width
    parameters = ParameterStore(
      componentName: "posembed_input", specs: PositionEmbedding.specs(tokenCount: tokenCount, width: width),
      trainable: trainable)
  }

  static func specs(tokenCount: Int, width: Int) -> [ParameterSpec] {
    [
      ParameterSpec(name: "posembed_input/pos_embedding", shape: Shape(1, tokenCount, width),
                    initializer: .normal(standardDeviation: 0.02)),
    ]
  }

  public init(copying other: PositionEmbedding, trainable: Bool) {
    tokenCount = other.tokenCount
    width = other.width
    parameters = ParameterStore(copying: other.parameters, trainable: trainable)
  }

  /// The `[T, D]` table (row 0: the class token's embedding).
  public var table: Tensor { parameters.value(0) }
}

/// The token stage: `x[b, 0] = cls + pos[0]`, `x[b, 1 + p] = embedded[b·P + p] + pos[1 + p]`
/// (vit_jax: prepend the class token, then add the position embeddings), and its gradients.
enum TokenStage {
  /// Fills the `batch·T × D` token stream from the embedded patches.
  static func forward(
    embedded: Matrix, classToken: ClassToken, positions: PositionEmbedding, batch: Int,
    into tokens: Matrix, compute: Compute
  ) {
    let width = tokens.cols, tokenCount = positions.tokenCount, patchCount = tokenCount - 1
    let stride = tokenCount * width
    // Row stride 0 broadcasts one row of parameters over the batch.
    let classRows = Matrix(base: tokens.base, rows: batch, cols: width, rowStride: stride)
    let cls = Matrix(base: classToken.parameters.value(0).base, rows: batch, cols: width, rowStride: 0)
    let position = positions.table.base
    compute.add(cls, Matrix(base: position, rows: batch, cols: width, rowStride: 0), into: classRows)
    let patchRows = Matrix(
      base: tokens.base + width, rows: batch, cols: patchCount * width, rowStride: stride)
    let patchesAsImages = Matrix(base: embedded.base, rows: batch, cols: patchCount * width)
    let patchPositions = Matrix(base: position + width, rows: batch, cols: patchCount * width, rowStride: 0)
    compute.add(patchesAsImages, patchPositions, into: patchRows)
  }

  /// Gradients of `cls` and `posembed_input` (sums over the batch, images in ascending order,
  /// ``Compute/columnSums(_:into:accumulate:)``), and the embedded patches' gradient
  /// (gathered into `embeddedGradient`, dense `batch·P × D`) when the embedding is trainable.
  static func backward(
    tokensGradient: Matrix, classToken: ClassToken, positions: PositionEmbedding,
    embedding: PatchEmbedding, patches: Matrix, embeddedGradient: Matrix, batch: Int,
    compute: Compute, accumulate: Bool
  ) {
    let width = tokensGradient.cols, tokenCount = positions.tokenCount, patchCount = tokenCount - 1
    let stride = tokenCount * width
    let base = tokensGradient.base
    if let classGradient = classToken.parameters.gradient(0) {
      let classRows = Matrix(base: base, rows: batch, cols: width, rowStride: stride)
      compute.columnSums(classRows, into: classGradient.vector, accumulate: accumulate)
    }
    if let positionGradient = positions.parameters.gradient(0) {
      let images = Matrix(base: base, rows: batch, cols: stride)
      compute.columnSums(images, into: positionGradient.vector, accumulate: accumulate)
    }
    if embedding.trainable {
      let patchRows = Matrix(base: base + width, rows: batch, cols: patchCount * width, rowStride: stride)
      let gathered = Matrix(base: embeddedGradient.base, rows: batch, cols: patchCount * width)
      compute.copy(patchRows, into: gathered)
      embedding.backward(
        patches: patches, outputGradient: embeddedGradient, compute: compute, accumulate: accumulate)
    }
  }
}
