import MuNetRuntime

/// The non-GEMM kernels as check-numerics cases. Every tier runs munet's own kernels, so every
/// tier must give the Tier 0 bits. Inputs are uniform in `[-scale, scale)`; outputs start as
/// ``NumericsInputs/sentinel``.
enum RowOpCases {
  static func shapeLabel(rows: Int, cols: Int) -> String { "\(rows)x\(cols)" }

  /// A deterministic case named `op` on `rows × cols` whose `build` turns the case key into
  /// the run function.
  static func make(
    op: String, rows: Int, cols: Int, shape: String? = nil, key: StreamKey?,
    build: @escaping (StreamKey) -> (Compute) -> NumericsOutput
  ) -> NumericsCase {
    let label = shape ?? shapeLabel(rows: rows, cols: cols)
    let caseKey = key ?? NumericsInputs.caseKey("\(op) \(label)")
    return NumericsCase(op: op, shape: label, kind: .deterministic) {
      PreparedNumericsCase(run: build(caseKey))
    }
  }

  private static func output(_ count: Int) -> NumericsBuffer {
    NumericsBuffer(count: count, fill: NumericsInputs.sentinel)
  }

  /// `out = x + y` (the residual connection).
  static func add(rows: Int, cols: Int, key: StreamKey? = nil) -> NumericsCase {
    make(op: "add", rows: rows, cols: cols, key: key) { key in
      let x = NumericsInputs.uniform(rows * cols, key: key, operand: "x")
      let y = NumericsInputs.uniform(rows * cols, key: key, operand: "y")
      return { compute in
        let out = output(rows * cols)
        compute.add(x.matrix(rows: rows, cols: cols), y.matrix(rows: rows, cols: cols),
                    into: out.matrix(rows: rows, cols: cols))
        return NumericsOutput(floats: out.values)
      }
    }
  }

  /// `out[i, :] = x[i, :] + bias`.
  static func addBias(rows: Int, cols: Int, key: StreamKey? = nil) -> NumericsCase {
    make(op: "bias add", rows: rows, cols: cols, key: key) { key in
      let x = NumericsInputs.uniform(rows * cols, key: key, operand: "x")
      let bias = NumericsInputs.uniform(cols, key: key, operand: "bias")
      return { compute in
        let out = output(rows * cols)
        compute.addBias(
          x.matrix(rows: rows, cols: cols), bias.buffer, into: out.matrix(rows: rows, cols: cols))
        return NumericsOutput(floats: out.values)
      }
    }
  }

  /// `sums[j] = Σ_i x[i, j]` (a bias gradient).
  static func columnSums(rows: Int, cols: Int, key: StreamKey? = nil) -> NumericsCase {
    make(op: "column sums", rows: rows, cols: cols, key: key) { key in
      let x = NumericsInputs.uniform(rows * cols, key: key, operand: "x")
      return { compute in
        let sums = output(cols)
        compute.columnSums(x.matrix(rows: rows, cols: cols), into: sums.buffer)
        return NumericsOutput(floats: sums.values)
      }
    }
  }

  /// The sum of squares of one flat buffer (a `Double`).
  static func sumOfSquares(count: Int, key: StreamKey? = nil) -> NumericsCase {
    make(op: "sum of squares", rows: 1, cols: count, shape: "\(count)", key: key) { key in
      let x = NumericsInputs.uniform(count, key: key, operand: "x")
      return { compute in NumericsOutput(floats: [], doubles: [compute.sumOfSquares(x.buffer)]) }
    }
  }

  /// Global-norm clipping of several buffers to norm 1 (their norm is far above 1, so every
  /// element is scaled). Outputs: the scaled buffers, the factor, and the norm (`Double`).
  static func clipByGlobalNorm(counts: [Int], key: StreamKey? = nil) -> NumericsCase {
    let shape = counts.map(String.init).joined(separator: "+")
    return make(op: "clip global norm", rows: 1, cols: counts.reduce(0, +), shape: shape, key: key) { key in
      let inputs = counts.enumerated().map { index, count in
        NumericsInputs.uniform(count, key: key, operand: "buffer\(index)")
      }
      return { compute in
        let buffers = inputs.map(NumericsBuffer.init(copying:))
        let clip = compute.clipByGlobalNorm(buffers.map(\.buffer), maxNorm: 1)
        return NumericsOutput(floats: buffers.flatMap(\.values) + [clip.scale], doubles: [clip.norm])
      }
    }
  }

  /// Softmax over each row; logits in `[-8, 8)` (attention scores).
  static func softmaxForward(rows: Int, cols: Int, key: StreamKey? = nil) -> NumericsCase {
    make(op: "softmax fwd", rows: rows, cols: cols, key: key) { key in
      let x = NumericsInputs.uniform(rows * cols, key: key, operand: "x", scale: 8)
      return { compute in
        let y = output(rows * cols)
        compute.softmaxRows(x.matrix(rows: rows, cols: cols), into: y.matrix(rows: rows, cols: cols))
        return NumericsOutput(floats: y.values)
      }
    }
  }

  /// The softmax gradient, at the Tier 0 softmax of `[-8, 8)` logits.
  static func softmaxBackward(rows: Int, cols: Int, key: StreamKey? = nil) -> NumericsCase {
    make(op: "softmax bwd", rows: rows, cols: cols, key: key) { key in
      let x = NumericsInputs.uniform(rows * cols, key: key, operand: "x", scale: 8)
      let dy = NumericsInputs.uniform(rows * cols, key: key, operand: "dy")
      let y = NumericsBuffer(count: rows * cols)
      Compute(tier: .reference).softmaxRows(
        x.matrix(rows: rows, cols: cols), into: y.matrix(rows: rows, cols: cols))
      return { compute in
        let dx = output(rows * cols)
        compute.softmaxRowsBackward(
          outputs: y.matrix(rows: rows, cols: cols), outputGradient: dy.matrix(rows: rows, cols: cols),
          into: dx.matrix(rows: rows, cols: cols))
        return NumericsOutput(floats: dx.values)
      }
    }
  }

  /// The inputs of a LayerNorm case: `x` with a per-row offset (so means are not near 0),
  /// scale, bias.
  private struct LayerNormInputs {
    let x: NumericsBuffer, scale: NumericsBuffer, bias: NumericsBuffer

    init(rows: Int, cols: Int, key: StreamKey) {
      x = NumericsInputs.uniform(rows * cols, key: key, operand: "x")
      let offsets = NumericsInputs.uniform(rows, key: key, operand: "offset", scale: 4)
      for i in 0..<rows {
        for j in 0..<cols { x.pointer[i * cols + j] += offsets.pointer[i] }
      }
      scale = NumericsInputs.uniform(cols, key: key, operand: "scale")
      bias = NumericsInputs.uniform(cols, key: key, operand: "bias")
    }
  }

  /// LayerNorm forward. Outputs: `y`, then each row's mean and rstd.
  static func layerNormForward(rows: Int, cols: Int, key: StreamKey? = nil) -> NumericsCase {
    make(op: "layernorm fwd", rows: rows, cols: cols, key: key) { key in
      let inputs = LayerNormInputs(rows: rows, cols: cols, key: key)
      return { compute in
        let y = output(rows * cols), mean = output(rows), rstd = output(rows)
        compute.layerNorm(
          inputs.x.matrix(rows: rows, cols: cols), scale: inputs.scale.buffer, bias: inputs.bias.buffer,
          into: y.matrix(rows: rows, cols: cols), mean: mean.buffer, rstd: rstd.buffer)
        return NumericsOutput(floats: y.values + mean.values + rstd.values)
      }
    }
  }

  /// LayerNorm backward at the Tier 0 forward statistics. Outputs: `dx`, `dγ`, `dβ`.
  static func layerNormBackward(rows: Int, cols: Int, key: StreamKey? = nil) -> NumericsCase {
    make(op: "layernorm bwd", rows: rows, cols: cols, key: key) { key in
      let inputs = LayerNormInputs(rows: rows, cols: cols, key: key)
      let dy = NumericsInputs.uniform(rows * cols, key: key, operand: "dy")
      let y = NumericsBuffer(count: rows * cols), mean = NumericsBuffer(count: rows)
      let rstd = NumericsBuffer(count: rows)
      Compute(tier: .reference).layerNorm(
        inputs.x.matrix(rows: rows, cols: cols), scale: inputs.scale.buffer, bias: inputs.bias.buffer,
        into: y.matrix(rows: rows, cols: cols), mean: mean.buffer, rstd: rstd.buffer)
      return { compute in
        let dx = output(rows * cols), dScale = output(cols), dBias = output(cols)
        compute.layerNormBackward(
          inputs.x.matrix(rows: rows, cols: cols), outputGradient: dy.matrix(rows: rows, cols: cols),
          scale: inputs.scale.buffer, mean: mean.buffer, rstd: rstd.buffer,
          inputGradient: dx.matrix(rows: rows, cols: cols), scaleGradient: dScale.buffer,
          biasGradient: dBias.buffer)
        return NumericsOutput(floats: dx.values + dScale.values + dBias.values)
      }
    }
  }

  /// GELU forward (`form`); inputs in `[-4, 4)`, where both forms bend.
  static func geluForward(rows: Int, cols: Int, form: GELUForm, key: StreamKey? = nil) -> NumericsCase {
    make(op: "gelu \(form.rawValue) fwd", rows: rows, cols: cols, key: key) { key in
      let x = NumericsInputs.uniform(rows * cols, key: key, operand: "x", scale: 4)
      return { compute in
        let y = output(rows * cols)
        compute.gelu(x.matrix(rows: rows, cols: cols), form: form, into: y.matrix(rows: rows, cols: cols))
        return NumericsOutput(floats: y.values)
      }
    }
  }

  /// GELU backward (`form`); inputs in `[-4, 4)`.
  static func geluBackward(rows: Int, cols: Int, form: GELUForm, key: StreamKey? = nil) -> NumericsCase {
    make(op: "gelu \(form.rawValue) bwd", rows: rows, cols: cols, key: key) { key in
      let x = NumericsInputs.uniform(rows * cols, key: key, operand: "x", scale: 4)
      let dy = NumericsInputs.uniform(rows * cols, key: key, operand: "dy")
      return { compute in
        let dx = output(rows * cols)
        compute.geluBackward(
          x.matrix(rows: rows, cols: cols), outputGradient: dy.matrix(rows: rows, cols: cols), form: form,
          into: dx.matrix(rows: rows, cols: cols))
        return NumericsOutput(floats: dx.values)
      }
    }
  }

  /// Softmax cross-entropy, loss only. Outputs: per-row losses, mean loss (`Double`).
  static func crossEntropyForward(rows: Int, cols: Int, key: StreamKey? = nil) -> NumericsCase {
    make(op: "xent fwd", rows: rows, cols: cols, key: key) { key in
      let logits = NumericsInputs.uniform(rows * cols, key: key, operand: "logits", scale: 8)
      let labels = NumericsInputs.labels(rows, classes: max(cols, 1), key: key)
      return { compute in
        let losses = output(rows)
        let mean = labels.withUnsafeBufferPointer { labelBuffer in
          compute.softmaxCrossEntropyLoss(
            logits: logits.matrix(rows: rows, cols: cols), labels: labelBuffer, losses: losses.buffer)
        }
        return NumericsOutput(floats: losses.values, doubles: [mean])
      }
    }
  }

  /// Softmax cross-entropy with its gradient. Outputs: losses, `dlogits`, mean loss (`Double`).
  static func crossEntropyBackward(rows: Int, cols: Int, key: StreamKey? = nil) -> NumericsCase {
    make(op: "xent bwd", rows: rows, cols: cols, key: key) { key in
      let logits = NumericsInputs.uniform(rows * cols, key: key, operand: "logits", scale: 8)
      let labels = NumericsInputs.labels(rows, classes: max(cols, 1), key: key)
      return { compute in
        let losses = output(rows), gradient = output(rows * cols)
        let mean = labels.withUnsafeBufferPointer { labelBuffer in
          compute.softmaxCrossEntropy(
            logits: logits.matrix(rows: rows, cols: cols), labels: labelBuffer, losses: losses.buffer,
            logitsGradient: gradient.matrix(rows: rows, cols: cols))
        }
        return NumericsOutput(floats: losses.values + gradient.values, doubles: [mean])
      }
    }
  }
}
