import CAllocationCounter
import Foundation
import MuNetModel
import MuNetRuntime

/// The gradient-check configuration: 8 × 8 two-channel images, patch 4 (4 patches + class
/// token), width 8, 2 heads, MLP 16, 2 layers, an adapter (width 4) before layer 1 only, so
/// both the adapter and the no-adapter paths are exercised; 3 classes.
let smallConfig = ViTConfig(
  imageSize: 8, patchSize: 4, channels: 2, width: 8, heads: 2, mlpDim: 16, layerCount: 2,
  classCount: 3, adapterDims: [nil, 4])

/// Images, labels and the arena that holds the images.
final class TestBatch {
  let arena: Arena
  let images: Tensor
  let labels: [Int32]

  /// `count` images with pixels uniform in [-1, 1) and labels `i mod classes`.
  init(_ config: ViTConfig, count: Int, seed: UInt64) throws {
    let shape = Shape(count, config.imageSize, config.imageSize, config.channels)
    var plan = ArenaPlan()
    plan.reserve(shape)
    arena = Arena(name: "test-images", plan: plan)
    images = try arena.allocate(shape)
    var stream = StreamKey(seed: seed).child("images").stream
    for index in 0..<images.elementCount { images.base[index] = 2 * stream.nextFloat() - 1 }
    labels = (0..<count).map { Int32(($0 * 7 + Int(seed)) % config.classCount) }
  }

  var pixels: [Double] { (0..<images.elementCount).map { Double(images.base[$0]) } }
}

/// A model whose every parameter is random (so that no gradient is trivially zero): LayerNorm
/// scales `1 + 0.2 z`, everything else `0.4 z`, z standard normal from a test stream.
func randomizedModel(_ config: ViTConfig, seed: UInt64, trainable: Bool = true) throws -> ViTModel {
  let model = try ViTModel(config: config, initKey: StreamKey(seed: seed), trainable: trainable)
  randomize(model, seed: seed)
  return model
}

func randomize(_ model: ViTModel, seed: UInt64) {
  for parameter in model.namedParameters() {
    var stream = StreamKey(seed: seed).child("test-values", parameter.name).stream
    let isScale = parameter.name.hasSuffix("/scale")
    for index in 0..<parameter.value.elementCount {
      let z = stream.nextNormal()
      parameter.value.base[index] = isScale ? 1 + 0.2 * z : 0.4 * z
    }
  }
}

/// The bit patterns of a matrix view, row by row.
func bits(_ matrix: Matrix) -> [UInt32] {
  (0..<matrix.rows).flatMap { i in (0..<matrix.cols).map { j in matrix[i, j].bitPattern } }
}

func bits(_ tensor: Tensor) -> [UInt32] { (0..<tensor.elementCount).map { tensor.base[$0].bitPattern } }

/// An independent `Double` implementation of the model, written from the definitions (vit_jax
/// semantics, flax parameter layouts read from the file-shaped parameters): the oracle for the
/// gradient checks. It shares no code with the engine.
struct ReferenceViT {
  let config: ViTConfig
  var values: [String: [Double]]

  init(_ model: ViTModel) {
    config = model.config
    values = [:]
    for parameter in model.namedParameters() {
      values[parameter.name] = (0..<parameter.value.elementCount).map { Double(parameter.value.base[$0]) }
    }
  }

  /// Mean softmax cross-entropy of the batch.
  func loss(pixels: [Double], labels: [Int32]) -> Double {
    let allLogits = logits(pixels: pixels, count: labels.count)
    var total = 0.0
    for (row, label) in zip(allLogits, labels) {
      let maximum = row.max()!
      let sum = row.reduce(0) { $0 + Foundation.exp($1 - maximum) }
      total += Foundation.log(sum) + maximum - row[Int(label)]
    }
    return total / Double(labels.count)
  }

  func logits(pixels: [Double], count: Int) -> [[Double]] {
    (0..<count).map { imageLogits(pixels: pixels, image: $0) }
  }

  private func imageLogits(pixels: [Double], image: Int) -> [Double] {
    var x = tokens(pixels: pixels, image: image)
    for layer in 0..<config.layerCount {
      if config.adapterDims[layer] != nil {
        let prefix = "residual_adapter_\(layer)"
        let hidden = dense(layerNorm(x, prefix + "/LayerNorm_0"), prefix + "/Dense_1").map { $0.map(gelu) }
        x = add(x, dense(hidden, prefix + "/Dense_2"))
      }
      let prefix = "encoderblock_\(layer)"
      x = add(x, attention(layerNorm(x, prefix + "/LayerNorm_0"), prefix + "/MultiHeadDotProductAttention_1"))
      let hidden = dense(layerNorm(x, prefix + "/LayerNorm_2"), prefix + "/MlpBlock_3/Dense_0")
        .map { $0.map(gelu) }
      x = add(x, dense(hidden, prefix + "/MlpBlock_3/Dense_1"))
    }
    let feature = layerNorm([x[0]], "encoder_norm")
    return dense(feature, "head")[0]
  }

  /// Patch convolution (HWIO kernel), class token, position embeddings.
  private func tokens(pixels: [Double], image: Int) -> [[Double]] {
    let p = config.patchSize, c = config.channels, s = config.imageSize, d = config.width
    let g = config.gridSize
    let kernel = values["embedding/kernel"]!, bias = values["embedding/bias"]!
    let position = values["posembed_input/pos_embedding"]!, cls = values["cls"]!
    var x = [(0..<d).map { cls[$0] + position[$0] }]
    for gy in 0..<g {
      for gx in 0..<g {
        var row = bias
        for py in 0..<p {
          for px in 0..<p {
            for channel in 0..<c {
              let pixel = pixels[((image * s + gy * p + py) * s + gx * p + px) * c + channel]
              for out in 0..<d { row[out] += pixel * kernel[((py * p + px) * c + channel) * d + out] }
            }
          }
        }
        let token = x.count
        x.append((0..<d).map { row[$0] + position[token * d + $0] })
      }
    }
    return x
  }

  private func layerNorm(_ x: [[Double]], _ prefix: String) -> [[Double]] {
    let scale = values[prefix + "/scale"]!, bias = values[prefix + "/bias"]!
    return x.map { row in
      let n = Double(row.count)
      let mean = row.reduce(0, +) / n
      let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
      let rstd = 1 / (variance + Double(config.layerNormEpsilon)).squareRoot()
      return row.indices.map { (row[$0] - mean) * rstd * scale[$0] + bias[$0] }
    }
  }

  /// `x · kernel + bias` with the kernel read as `[inputs, outputs]` row-major (flax Dense and
  /// DenseGeneral: `[D, H, dh]` and `[H, dh, D]` flatten to that).
  private func dense(_ x: [[Double]], _ prefix: String) -> [[Double]] {
    let kernel = values[prefix + "/kernel"]!, bias = values[prefix + "/bias"]!
    let inputs = x[0].count, outputs = bias.count
    precondition(kernel.count == inputs * outputs)
    return x.map { row in
      (0..<outputs).map { out in
        var sum = bias[out]
        for i in 0..<inputs { sum += row[i] * kernel[i * outputs + out] }
        return sum
      }
    }
  }

  private func attention(_ h: [[Double]], _ prefix: String) -> [[Double]] {
    let q = dense(h, prefix + "/query"), k = dense(h, prefix + "/key"), v = dense(h, prefix + "/value")
    let tokens = h.count, dh = config.headDim
    var context = Array(repeating: Array(repeating: 0.0, count: config.width), count: tokens)
    for head in 0..<config.heads {
      let lanes = (head * dh)..<((head + 1) * dh)
      for t in 0..<tokens {
        let scores = (0..<tokens).map { s in
          lanes.reduce(0.0) { $0 + q[t][$1] * k[s][$1] } / Double(dh).squareRoot()
        }
        let maximum = scores.max()!
        let e = scores.map { Foundation.exp($0 - maximum) }
        let total = e.reduce(0, +)
        for lane in lanes {
          context[t][lane] = (0..<tokens).reduce(0.0) { $0 + e[$1] / total * v[$1][lane] }
        }
      }
    }
    return dense(context, prefix + "/out")
  }

  private func add(_ x: [[Double]], _ y: [[Double]]) -> [[Double]] {
    zip(x, y).map { zip($0, $1).map(+) }
  }

  private func gelu(_ x: Double) -> Double {
    switch config.geluForm {
    case .tanh: 0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
    case .exact: 0.5 * x * (1 + Foundation.erf(x / 2.0.squareRoot()))
    }
  }
}
