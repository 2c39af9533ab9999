import MuNetRuntime

/// `encoderblock_i`: a pre-LayerNorm transformer block (vit_jax `Encoder1DBlock`).
///
///     mid = x + Attention(LayerNorm_0(x))        out = mid + MLP(LayerNorm_2(mid))
///     Attention(h) = concat_heads(softmax(Q Kᵀ) V) · W_out + b_out,
///       Q = (h W_q + b_q) · (1/√dh),  K = h W_k + b_k,  V = h W_v + b_v
///     MLP(h) = GELU(h W_0 + b_0) W_1 + b_1
///
/// The 1/√dh scaling multiplies Q after its bias (flax divides the query by √depth before the
/// logits; the product by the `Float` reciprocal is the same bits when dh is a power of 4).
///
/// Parameters (file layout = engine layout; a `[D, H, dh]` kernel is the `[D, D]` matrix whose
/// column `h·dh + k` is head `h`, lane `k`):
/// `LayerNorm_0/{scale,bias}` `[D]`;
/// `MultiHeadDotProductAttention_1/{query,key,value}/kernel` `[D, H, dh]` and `/bias` `[H, dh]`;
/// `MultiHeadDotProductAttention_1/out/kernel` `[H, dh, D]`, `/bias` `[D]`;
/// `LayerNorm_2/{scale,bias}` `[D]`; `MlpBlock_3/Dense_0/kernel` `[D, M]`, `/bias` `[M]`;
/// `MlpBlock_3/Dense_1/kernel` `[M, D]`, `/bias` `[D]`.
/// Initialisers as vit_jax: xavier-uniform kernels (fans `D, D` for attention, `D, M` and
/// `M, D` for the MLP), zero attention biases, MLP biases normal with deviation 1e-6, LayerNorm
/// scale 1 and bias 0.
public final class EncoderBlock: ViTComponent {
  public let parameters: ParameterStore
  public let index: Int
  public let width: Int
  public let heads: Int
  public let mlpDim: Int

  enum Slot {
    static let norm0Scale = 0, norm0Bias = 1
    static let queryKernel = 2, queryBias = 3, keyKernel = 4, keyBias = 5
    static let valueKernel = 6, valueBias = 7, outKernel = 8, outBias = 9
    static let norm2Scale = 10, norm2Bias = 11
    static let dense0Kernel = 12, dense0Bias = 13, dense1Kernel = 14, dense1Bias = 15
  }

  /// A freshly initialised block `index`.
  public init(index: Int, width: Int, heads: Int, mlpDim: Int, trainable: Bool, initKey: StreamKey) {
    precondition(width % heads == 0, "width \(width) not divisible by \(heads) heads")
    self.index = index
    self.width = width
    self.heads = heads
    self.mlpDim = mlpDim
    let name = "encoderblock_\(index)"
    let attention = name + "/MultiHeadDotProductAttention_1"
    let mlp = name + "/MlpBlock_3"
    let headDim = width / heads
    var specs = layerNormSpecs(name + "/LayerNorm_0", width: width)
    for projection in ["query", "key", "value"] {
      specs.append(ParameterSpec(
        name: "\(attention)/\(projection)/kernel", shape: Shape(width, heads, headDim),
        initializer: .xavierUniform(fanIn: width, fanOut: width)))
      specs.append(ParameterSpec(
        name: "\(attention)/\(projection)/bias", shape: Shape(heads, headDim), initializer: .zeros))
    }
    specs.append(ParameterSpec(
      name: attention + "/out/kernel", shape: Shape(heads, headDim, width),
      initializer: .xavierUniform(fanIn: width, fanOut: width)))
    specs.append(ParameterSpec(name: attention + "/out/bias", shape: Shape(width), initializer: .zeros))
    specs += layerNormSpecs(name + "/LayerNorm_2", width: width)
    let mlpBias = ParameterInitializer.normal(standardDeviation: 1e-6)
    specs.append(ParameterSpec(
      name: mlp + "/Dense_0/kernel", shape: Shape(width, mlpDim),
      initializer: .xavierUniform(fanIn: width, fanOut: mlpDim)))
    specs.append(ParameterSpec(name: mlp + "/Dense_0/bias", shape: Shape(mlpDim), initializer: mlpBias))
    specs.append(ParameterSpec(
      name: mlp + "/Dense_1/kernel", shape: Shape(mlpDim, width),
      initializer: .xavierUniform(fanIn: mlpDim, fanOut: width)))
    specs.append(ParameterSpec(name: mlp + "/Dense_1/bias", shape: Shape(width), initializer: mlpBias))
    parameters = ParameterStore(componentName: name, specs: specs, trainable: trainable, initKey: initKey)
  }

  /// A copy with its own memory (µ2Net clone).
  public init(copying other: EncoderBlock, trainable: Bool) {
    index = other.index
    width = other.width
    heads = other.heads
    mlpDim = other.mlpDim
    parameters = ParameterStore(copying: other.parameters, trainable: trainable)
  }

  @inline(__always) private func value(_ slot: Int) -> Tensor { parameters.value(slot) }
  @inline(__always) private func square(_ slot: Int) -> Matrix { value(slot).rows(width, cols: width) }

  /// `output = block(input)` for `batch` images of `tokens` tokens (`input`, `output`:
  /// `batch·tokens × D`), saving what backward needs in `saved`.
  func forward(
    input x: Matrix, into output: Matrix, saved: EncoderBlockSaved, batch: Int, tokens: Int,
    config: ViTConfig, compute: Compute
  ) {
    let rows = x.rows, gemm = compute.gemmEngine
    let geometry = AttentionGeometry(batch: batch, tokens: tokens, width: width, heads: heads)
    compute.layerNormForward(
      x, scale: value(Slot.norm0Scale), bias: value(Slot.norm0Bias), epsilon: config.layerNormEpsilon,
      saved: saved.norm0)
    let normed = saved.norm0.output.rows(rows, cols: width)
    let query = saved.query.rows(rows, cols: width)
    let key = saved.key.rows(rows, cols: width)
    let valueRows = saved.value.rows(rows, cols: width)
    gemm.gemm(normed, square(Slot.queryKernel), query, addingBias: value(Slot.queryBias).vector)
    compute.scale(query, by: geometry.queryScale, into: query)
    gemm.gemm(normed, square(Slot.keyKernel), key, addingBias: value(Slot.keyBias).vector)
    gemm.gemm(normed, square(Slot.valueKernel), valueRows, addingBias: value(Slot.valueBias).vector)

    for head in 0..<heads {
      gemm.gemmBatched(
        geometry.heads(saved.query, head), geometry.heads(saved.key, head).transposed,
        geometry.scores(saved.probabilities, head), accumulate: false)
    }
    let probabilities = saved.probabilities.rows(geometry.scoreRows, cols: tokens)
    compute.softmaxRows(probabilities, into: probabilities)
    for head in 0..<heads {
      gemm.gemmBatched(
        geometry.scores(saved.probabilities, head), geometry.heads(saved.value, head),
        geometry.heads(saved.context, head), accumulate: false)
    }

    let middle = saved.middle.rows(rows, cols: width)
    gemm.gemm(
      saved.context.rows(rows, cols: width), square(Slot.outKernel), middle,
      addingBias: value(Slot.outBias).vector)
    compute.addInPlace(x, to: middle)

    compute.layerNormForward(
      middle, scale: value(Slot.norm2Scale), bias: value(Slot.norm2Bias),
      epsilon: config.layerNormEpsilon, saved: saved.norm2)
    let hidden = saved.hidden.rows(rows, cols: mlpDim)
    let activated = saved.activated.rows(rows, cols: mlpDim)
    gemm.gemm(
      saved.norm2.output.rows(rows, cols: width), value(Slot.dense0Kernel).rows(width, cols: mlpDim),
      hidden, accumulate: false)
    compute.addBiasGELU(
      hidden, value(Slot.dense0Bias).vector, form: config.geluForm, sums: hidden, into: activated,
      terms: saved.geluTerms?.rows(rows, cols: mlpDim))
    gemm.gemm(
      activated, value(Slot.dense1Kernel).rows(mlpDim, cols: width), output,
      addingBias: value(Slot.dense1Bias).vector)
    compute.addInPlace(middle, to: output)
  }

  /// Backward through the block. On entry `streamGradient` holds dL/d(output); on exit, when
  /// `computeInputGradient`, dL/d(input) (it is updated in place). Parameter gradients are
  /// written (or added, with `accumulate`) only when the block is trainable.
  func backward(
    input x: Matrix, saved: EncoderBlockSaved, scratch: BackwardScratch, streamGradient dy: Matrix,
    batch: Int, tokens: Int, config: ViTConfig, computeInputGradient: Bool, compute: Compute,
    accumulate: Bool
  ) {
    let rows = x.rows, gemm = compute.gemmEngine
    let grads = parameters.gradients
    let geometry = AttentionGeometry(batch: batch, tokens: tokens, width: width, heads: heads)
    let normGradient = scratch.normGradient.rows(rows, cols: width)

    // MLP branch: out = mid + Dense_1(GELU(Dense_0(LayerNorm_2(mid)))).
    let activated = saved.activated.rows(rows, cols: mlpDim)
    let hiddenGradient = scratch.hiddenGradient.rows(rows, cols: mlpDim)
    let normed2 = saved.norm2.output.rows(rows, cols: width)
    if let grads {
      gemm.gemm(activated.transposed, dy, grads[Slot.dense1Kernel].rows(mlpDim, cols: width),
                accumulate: accumulate)
      compute.columnSums(dy, into: grads[Slot.dense1Bias].vector, accumulate: accumulate)
    }
    gemm.gemm(dy, value(Slot.dense1Kernel).rows(mlpDim, cols: width).transposed, hiddenGradient,
              accumulate: false)
    geluBackward(
      saved.hidden.rows(rows, cols: mlpDim), terms: saved.geluTerms?.rows(rows, cols: mlpDim),
      outputGradient: hiddenGradient, form: config.geluForm, compute: compute)
    if let grads {
      gemm.gemm(normed2.transposed, hiddenGradient, grads[Slot.dense0Kernel].rows(width, cols: mlpDim),
                accumulate: accumulate)
      compute.columnSums(hiddenGradient, into: grads[Slot.dense0Bias].vector, accumulate: accumulate)
    }
    gemm.gemm(hiddenGradient, value(Slot.dense0Kernel).rows(width, cols: mlpDim).transposed, normGradient,
              accumulate: false)
    let middle = saved.middle.rows(rows, cols: width)
    if let grads {
      compute.layerNormParameterGradients(
        middle, outputGradient: normGradient, saved: saved.norm2, scaleGradient: grads[Slot.norm2Scale],
        biasGradient: grads[Slot.norm2Bias], accumulate: accumulate)
    }
    compute.layerNormInputGradient(
      middle, outputGradient: normGradient, scale: value(Slot.norm2Scale), saved: saved.norm2,
      into: normGradient)
    compute.addInPlace(normGradient, to: dy)  // dy is now dL/d(mid)

    // Attention branch: mid = x + Attention(LayerNorm_0(x)).
    let contextGradient = scratch.contextGradient.rows(rows, cols: width)
    if let grads {
      gemm.gemm(
        saved.context.rows(rows, cols: width).transposed, dy, grads[Slot.outKernel].rows(width, cols: width),
        accumulate: accumulate)
      compute.columnSums(dy, into: grads[Slot.outBias].vector, accumulate: accumulate)
    }
    gemm.gemm(dy, square(Slot.outKernel).transposed, contextGradient, accumulate: false)
    for head in 0..<heads {
      let contextHeads = geometry.heads(scratch.contextGradient, head)
      gemm.gemmBatched(
        contextHeads, geometry.heads(saved.value, head).transposed,
        geometry.scores(scratch.probabilityGradient, head), accumulate: false)
      gemm.gemmBatched(
        geometry.scores(saved.probabilities, head).transposed, contextHeads,
        geometry.heads(scratch.valueGradient, head), accumulate: false)
    }
    let scoreGradient = scratch.probabilityGradient.rows(geometry.scoreRows, cols: tokens)
    compute.softmaxRowsBackward(
      outputs: saved.probabilities.rows(geometry.scoreRows, cols: tokens), outputGradient: scoreGradient,
      into: scoreGradient)
    for head in 0..<heads {
      let scores = geometry.scores(scratch.probabilityGradient, head)
      gemm.gemmBatched(
        scores, geometry.heads(saved.key, head), geometry.heads(scratch.queryGradient, head),
        accumulate: false)
      gemm.gemmBatched(
        scores.transposed, geometry.heads(saved.query, head), geometry.heads(scratch.keyGradient, head),
        accumulate: false)
    }
    let queryGradient = scratch.queryGradient.rows(rows, cols: width)
    compute.scale(queryGradient, by: geometry.queryScale, into: queryGradient)

    let normed0 = saved.norm0.output.rows(rows, cols: width)
    projectionBackward(
      normed0, Slot.queryKernel, Slot.queryBias, scratch.queryGradient.rows(rows, cols: width),
      grads: grads, normGradient: normGradient, first: true, compute: compute, accumulate: accumulate)
    projectionBackward(
      normed0, Slot.keyKernel, Slot.keyBias, scratch.keyGradient.rows(rows, cols: width),
      grads: grads, normGradient: normGradient, first: false, compute: compute, accumulate: accumulate)
    projectionBackward(
      normed0, Slot.valueKernel, Slot.valueBias, scratch.valueGradient.rows(rows, cols: width),
      grads: grads, normGradient: normGradient, first: false, compute: compute, accumulate: accumulate)
    if let grads {
      compute.layerNormParameterGradients(
        x, outputGradient: normGradient, saved: saved.norm0, scaleGradient: grads[Slot.norm0Scale],
        biasGradient: grads[Slot.norm0Bias], accumulate: accumulate)
    }
    guard computeInputGradient else { return }
    compute.layerNormInputGradient(
      x, outputGradient: normGradient, scale: value(Slot.norm0Scale), saved: saved.norm0, into: normGradient)
    compute.addInPlace(normGradient, to: dy)
  }

  /// One of Q, K, V: its kernel and bias gradients (when trainable) and its share of the
  /// LayerNorm_0 output gradient (`first` writes it, later projections add to it, in the
  /// fixed order query, key, value).
  private func projectionBackward(
    _ normed: Matrix, _ kernelSlot: Int, _ biasSlot: Int, _ gradient: Matrix, grads: [Tensor]?,
    normGradient: Matrix, first: Bool, compute: Compute, accumulate: Bool
  ) {
    if let grads {
      compute.gemmEngine.gemm(
        normed.transposed, gradient, grads[kernelSlot].rows(width, cols: width), accumulate: accumulate)
      compute.columnSums(gradient, into: grads[biasSlot].vector, accumulate: accumulate)
    }
    compute.gemmEngine.gemm(gradient, square(kernelSlot).transposed, normGradient, accumulate: !first)
  }
}

/// Per-head views of the attention tensors for `batch` images.
///
/// Q, K, V and the context are `batch·T × D` with head `h` in columns `h·dh ..< (h+1)·dh`, so
/// head `h` of image `b` is the `T × dh` view at `b·T·D + h·dh` with row stride `D`. The
/// attention probabilities are `[batch, H, T, T]`: head `h` of image `b` at `(b·H + h)·T·T`.
/// Products run per head over the batch (``GEMMEngine/gemmBatched(_:_:_:accumulate:)``).
struct AttentionGeometry {
  let batch: Int, tokens: Int, width: Int, heads: Int

  var headDim: Int { width / heads }
  /// Rows of the probability matrix: one per (image, head, query token).
  var scoreRows: Int { batch * heads * tokens }
  /// `Float(1 / √dh)`, rounded once.
  var queryScale: Float { Float(1 / Double(headDim).squareRoot()) }

  func heads(_ tensor: Tensor, _ head: Int) -> MatrixBatch {
    MatrixBatch(
      first: Matrix(base: tensor.base + head * headDim, rows: tokens, cols: headDim, rowStride: width),
      count: batch, batchStride: tokens * width)
  }

  func scores(_ tensor: Tensor, _ head: Int) -> MatrixBatch {
    MatrixBatch(
      first: Matrix(base: tensor.base + head * tokens * tokens, rows: tokens, cols: tokens),
      count: batch, batchStride: heads * tokens * tokens)
  }
}

/// `dx = dy ⊙ gelu'(x)` in place in `dy`: from the terms the forward saved when there are
/// some (training workspaces), else recomputing them (the same bits).
func geluBackward(
  _ x: Matrix, terms: Matrix?, outputGradient dy: Matrix, form: GELUForm, compute: Compute
) {
  if let terms {
    compute.geluBackward(x, terms: terms, outputGradient: dy, form: form, into: dy)
  } else {
    compute.geluBackward(x, outputGradient: dy, form: form, into: dy)
  }
}

/// What ``EncoderBlock`` saves in its forward pass for the backward pass.
struct EncoderBlockSaved {
  let norm0: LayerNormSaved
  let query: Tensor, key: Tensor, value: Tensor
  let probabilities: Tensor
  let context: Tensor
  let middle: Tensor
  let norm2: LayerNormSaved
  let hidden: Tensor, activated: Tensor
  /// The GELU term (`tanh` or `erf`) of each `hidden` element, so that backward need not
  /// recompute it; nil in workspaces planned without (evaluation).
  let geluTerms: Tensor?

  init(_ allocator: TensorAllocator, config: ViTConfig, batch: Int, savingGELUTerms: Bool) {
    let rows = batch * config.tokenCount, width = config.width
    norm0 = LayerNormSaved(allocator, rows: rows, cols: width)
    query = allocator.take(Shape(rows, width))
    key = allocator.take(Shape(rows, width))
    value = allocator.take(Shape(rows, width))
    probabilities = allocator.take(Shape(batch * config.heads * config.tokenCount, config.tokenCount))
    context = allocator.take(Shape(rows, width))
    middle = allocator.take(Shape(rows, width))
    norm2 = LayerNormSaved(allocator, rows: rows, cols: width)
    hidden = allocator.take(Shape(rows, config.mlpDim))
    activated = allocator.take(Shape(rows, config.mlpDim))
    geluTerms = savingGELUTerms ? allocator.take(Shape(rows, config.mlpDim)) : nil
  }
}

/// Gradient buffers reused by every stage of one backward pass.
struct BackwardScratch {
  let normGradient: Tensor
  let queryGradient: Tensor, keyGradient: Tensor, valueGradient: Tensor
  let contextGradient: Tensor
  let probabilityGradient: Tensor
  let hiddenGradient: Tensor

  init(_ allocator: TensorAllocator, config: ViTConfig, batch: Int) {
    let rows = batch * config.tokenCount, width = config.width
    normGradient = allocator.take(Shape(rows, width))
    let attention = config.layerCount > 0
    let attentionRows = attention ? rows : 0
    queryGradient = allocator.take(Shape(attentionRows, width))
    keyGradient = allocator.take(Shape(attentionRows, width))
    valueGradient = allocator.take(Shape(attentionRows, width))
    contextGradient = allocator.take(Shape(attentionRows, width))
    probabilityGradient = allocator.take(
      Shape(attention ? batch * config.heads * config.tokenCount : 0, config.tokenCount))
    let hiddenMax = max(attention ? config.mlpDim : 0, config.adapterDims.reduce(0) { max($0, $1 ?? 0) })
    hiddenGradient = allocator.take(Shape(rows, hiddenMax))
  }
}
