import MuNetRuntime

/// `residual_adapter_i`: the µ2Net residual adapter inserted before `encoderblock_i`.
///
///     out = x + Dense_2(GELU(Dense_1(LayerNorm_0(x))))
///
/// Parameters: `LayerNorm_0/{scale,bias}` `[D]` (1, 0); `Dense_1/kernel` `[D, A]` lecun-normal
/// (fan-in `D`, flax `nn.Dense` default), `Dense_1/bias` `[A]` zeros; `Dense_2/kernel` `[A, D]`
/// and `Dense_2/bias` `[D]` **zeros**, so a new adapter is the identity. Sub-module names follow
/// the checkpoint-file convention of the other components (one counter over a module's
/// children: `LayerNorm_0`, `Dense_1`, `Dense_2`).
///
/// Identity, exactly: with a zero `Dense_2` every product chain gives +0, so `out = x + 0`,
/// which is `x` bit for bit except that a −0 in `x` becomes +0 (and a non-finite GELU output
/// would give NaN).
public final class ResidualAdapter: ViTComponent {
  public let parameters: ParameterStore
  public let index: Int
  public let width: Int
  public let adapterDim: Int

  enum Slot {
    static let normScale = 0, normBias = 1
    static let dense1Kernel = 2, dense1Bias = 3, dense2Kernel = 4, dense2Bias = 5
  }

  /// A new adapter before layer `index` (its initial function is the identity).
  public init(index: Int, width: Int, adapterDim: Int, trainable: Bool, initKey: StreamKey) {
    self.index = index
    self.width = width
    self.adapterDim = adapterDim
    let name = "residual_adapter_\(index)"
    var specs = layerNormSpecs(name + "/LayerNorm_0", width: width)
    specs += [
      ParameterSpec(name: name + "/Dense_1/kernel", shape: Shape(width, adapterDim),
                    initializer: .lecunNormal(fanIn: width)),
      ParameterSpec(name: name + "/Dense_1/bias", shape: Shape(adapterDim), initializer: .zeros),
      ParameterSpec(name: name + "/Dense_2/kernel", shape: Shape(adapterDim, width), initializer: .zeros),
      ParameterSpec(name: name + "/Dense_2/bias", shape: Shape(width), initializer: .zeros),
    ]
    parameters = ParameterStore(componentName: name, specs: specs, trainable: trainable, initKey: initKey)
  }

  /// A copy with its own memory (µ2Net clone).
  public init(copying other: ResidualAdapter, trainable: Bool) {
    index = other.index
    width = other.width
    adapterDim = other.adapterDim
    parameters = ParameterStore(copying: other.parameters, trainable: trainable)
  }

  @inline(__always) private func value(_ slot: Int) -> Tensor { parameters.value(slot) }

  /// `output = adapter(input)` (`rows × D`), saving what backward needs.
  func forward(
    input x: Matrix, into output: Matrix, saved: AdapterSaved, config: ViTConfig, compute: Compute
  ) {
    let rows = x.rows, gemm = compute.gemmEngine
    compute.layerNormForward(
      x, scale: value(Slot.normScale), bias: value(Slot.normBias), epsilon: config.layerNormEpsilon,
      saved: saved.norm)
    let hidden = saved.hidden.rows(rows, cols: adapterDim)
    let activated = saved.activated.rows(rows, cols: adapterDim)
    gemm.gemm(
      saved.norm.output.rows(rows, cols: width), value(Slot.dense1Kernel).rows(width, cols: adapterDim),
      hidden, accumulate: false)
    compute.addBiasGELU(
      hidden, value(Slot.dense1Bias).vector, form: config.geluForm, sums: hidden, into: activated,
      terms: saved.geluTerms?.rows(rows, cols: adapterDim))
    gemm.gemm(
      activated, value(Slot.dense2Kernel).rows(adapterDim, cols: width), output,
      addingBias: value(Slot.dense2Bias).vector)
    compute.addInPlace(x, to: output)
  }

  /// Backward through the adapter; `streamGradient` goes from dL/d(output) to dL/d(input) in
  /// place when `computeInputGradient` (see ``EncoderBlock``).
  func backward(
    input x: Matrix, saved: AdapterSaved, scratch: BackwardScratch, streamGradient dy: Matrix,
    config: ViTConfig, computeInputGradient: Bool, compute: Compute, accumulate: Bool
  ) {
    let rows = x.rows, gemm = compute.gemmEngine
    let grads = parameters.gradients
    let hiddenGradient = scratch.hiddenGradient.rows(rows, cols: adapterDim)
    let normGradient = scratch.normGradient.rows(rows, cols: width)
    if let grads {
      gemm.gemm(saved.activated.rows(rows, cols: adapterDim).transposed, dy,
                grads[Slot.dense2Kernel].rows(adapterDim, cols: width), accumulate: accumulate)
      compute.columnSums(dy, into: grads[Slot.dense2Bias].vector, accumulate: accumulate)
    }
    gemm.gemm(dy, value(Slot.dense2Kernel).rows(adapterDim, cols: width).transposed, hiddenGradient,
              accumulate: false)
    geluBackward(
      saved.hidden.rows(rows, cols: adapterDim), terms: saved.geluTerms?.rows(rows, cols: adapterDim),
      outputGradient: hiddenGradient, form: config.geluForm, compute: compute)
    if let grads {
      gemm.gemm(saved.norm.output.rows(rows, cols: width).transposed, hiddenGradient,
                grads[Slot.dense1Kernel].rows(width, cols: adapterDim), accumulate: accumulate)
      compute.columnSums(hiddenGradient, into: grads[Slot.dense1Bias].vector, accumulate: accumulate)
    }
    gemm.gemm(hiddenGradient, value(Slot.dense1Kernel).rows(width, cols: adapterDim).transposed, normGradient,
              accumulate: false)
    if let grads {
      compute.layerNormParameterGradients(
        x, outputGradient: normGradient, saved: saved.norm, scaleGradient: grads[Slot.normScale],
        biasGradient: grads[Slot.normBias], accumulate: accumulate)
    }
    guard computeInputGradient else { return }
    compute.layerNormInputGradient(
      x, outputGradient: normGradient, scale: value(Slot.normScale), saved: saved.norm, into: normGradient)
    compute.addInPlace(normGradient, to: dy)
  }
}

/// What ``ResidualAdapter`` saves in its forward pass.
struct AdapterSaved {
  let norm: LayerNormSaved
  let hidden: Tensor, activated: Tensor
  /// The GELU terms of `hidden` (see ``EncoderBlockSaved/geluTerms``).
  let geluTerms: Tensor?

  init(_ allocator: TensorAllocator, config: ViTConfig, batch: Int, adapterDim: Int, savingGELUTerms: Bool) {
    let rows = batch * config.tokenCount
    norm = LayerNormSaved(allocator, rows: rows, cols: config.width)
    hidden = allocator.take(Shape(rows, adapterDim))
    activated = allocator.take(Shape(rows, adapterDim))
    geluTerms = savingGELUTerms ? allocator.take(Shape(rows, adapterDim)) : nil
  }
}

/// `encoder_norm`: the final LayerNorm (`encoder_norm/{scale,bias}` `[D]`, 1 and 0). Only the
/// class token reaches the head, so only its row is normalised (LayerNorm is per row).
public final class EncoderNorm: ViTComponent {
  public let parameters: ParameterStore
  public let width: Int

  public init(width: Int, trainable: Bool, initKey: StreamKey) {
    self.width = width
    parameters = ParameterStore(
      componentName: "encoder_norm", specs: layerNormSpecs("encoder_norm", width: width),
      trainable: trainable, initKey: initKey)
  }

  public init(copying other: EncoderNorm, trainable: Bool) {
    width = other.width
    parameters = ParameterStore(copying: other.parameters, trainable: trainable)
  }
}

/// `head`: the linear classifier on the normalised class token. `head/kernel` `[D, classes]`
/// and `head/bias` `[classes]`, both zeros (vit_jax `head_bias_init = 0`, zero kernel init).
public final class Head: ViTComponent {
  public let parameters: ParameterStore
  public let width: Int
  public let classCount: Int

  public init(width: Int, classCount: Int, trainable: Bool, initKey: StreamKey) {
    self.width = width
    self.classCount = classCount
    let specs = [
      ParameterSpec(name: "head/kernel", shape: Shape(width, classCount), initializer: .zeros),
      ParameterSpec(name: "head/bias", shape: Shape(classCount), initializer: .zeros),
    ]
    parameters = ParameterStore(componentName: "head", specs: specs, trainable: trainable, initKey: initKey)
  }

  public init(copying other: Head, trainable: Bool) {
    width = other.width
    classCount = other.classCount
    parameters = ParameterStore(copying: other.parameters, trainable: trainable)
  }

  var kernel: Matrix { parameters.value(0).rows(width, cols: classCount) }

  /// `logits = features · kernel + bias` (`batch × D` → `batch × classes`).
  func forward(features: Matrix, into logits: Matrix, compute: Compute) {
    compute.gemmEngine.gemm(features, kernel, logits, addingBias: parameters.value(1).vector)
  }

  /// Kernel and bias gradients (when trainable).
  func backwardParameters(features: Matrix, logitsGradient: Matrix, compute: Compute, accumulate: Bool) {
    guard let grads = parameters.gradients else { return }
    compute.gemmEngine.gemm(
      features.transposed, logitsGradient, grads[0].rows(width, cols: classCount), accumulate: accumulate)
    compute.columnSums(logitsGradient, into: grads[1].vector, accumulate: accumulate)
  }

  /// `featuresGradient = logitsGradient · kernelᵀ`.
  func backwardInput(logitsGradient: Matrix, into featuresGradient: Matrix, compute: Compute) {
    compute.gemmEngine.gemm(logitsGradient, kernel.transposed, featuresGradient, accumulate: false)
  }
}
