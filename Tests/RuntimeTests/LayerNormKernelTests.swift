import Foundation
import MuNetRuntime
import MuNetTestSupport
import PropertyBased
import Testing

/// Double reference of layer normalization of one row (biased variance, like flax).
func referenceLayerNorm(_ row: [Double], scale: [Double], bias: [Double], epsilon: Double = 1e-6)
  -> (y: [Double], mean: Double, rstd: Double)
{
  let n = Double(row.count)
  let mean = row.reduce(0, +) / n
  let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
  let rstd = 1 / (variance + epsilon).squareRoot()
  let y = row.indices.map { (row[$0] - mean) * rstd * scale[$0] + bias[$0] }
  return (y, mean, rstd)
}

/// The outputs of one forward and backward pass.
typealias LayerNormOutputs = (
  y: HostMatrix, mean: HostBuffer, rstd: HostBuffer, dx: HostMatrix, dScale: HostBuffer, dBias: HostBuffer
)

/// Everything one layer-norm case needs, with Float buffers for the kernels.
struct LayerNormCase {
  let x: HostMatrix
  let scale: HostBuffer
  let bias: HostBuffer
  let dy: HostMatrix

  init(rows: Int, cols: Int, offset: Float, seed: UInt64, layout: KernelLayout = .dense) {
    var rng = SplitMix64(seed: seed)
    x = HostMatrix(random: rows, cols, &rng, in: (offset - 2)...(offset + 2), layout: layout)
    scale = HostBuffer(random: cols, &rng, in: -1.5...1.5)
    bias = HostBuffer(random: cols, &rng)
    dy = HostMatrix(random: rows, cols, &rng, layout: layout)
  }

  var rows: Int { x.rows }
  var cols: Int { x.cols }

  /// Forward then backward on `compute`; returns every output.
  func run(_ compute: Compute, accumulateFrom start: (HostBuffer, HostBuffer)? = nil)
    -> LayerNormOutputs
  {
    let y = HostMatrix(rows: rows, cols: cols, layout: x.layout)
    let mean = HostBuffer(count: rows), rstd = HostBuffer(count: rows)
    compute.layerNorm(x.matrix, scale: scale.buffer, bias: bias.buffer, into: y.matrix,
                      mean: mean.buffer, rstd: rstd.buffer)
    let dx = HostMatrix(rows: rows, cols: cols, layout: x.layout)
    let dScale = start?.0.clone() ?? HostBuffer(count: cols, fill: .nan)
    let dBias = start?.1.clone() ?? HostBuffer(count: cols, fill: .nan)
    compute.layerNormBackward(
      x.matrix, outputGradient: dy.matrix, scale: scale.buffer, mean: mean.buffer, rstd: rstd.buffer,
      inputGradient: dx.matrix, scaleGradient: dScale.buffer, biasGradient: dBias.buffer,
      accumulate: start != nil)
    return (y, mean, rstd, dx, dScale, dBias)
  }
}

@Suite struct LayerNormKernelTests {
  /// Forward against the Double reference. Tolerances: y within 1e-5·(1 + |y|), mean within
  /// 1e-6 relative, rstd within 1e-5 relative. Rounding the mean to Float moves `x − mean` by up
  /// to ulp(mean)/2 (3.8e-6 at mean 100, σ ≈ 1), the rest is a few ulp.
  @Test(arguments: [Float(0), 100])
  func forwardMatchesDoubleReference(offset: Float) {
    let data = LayerNormCase(rows: 9, cols: 37, offset: offset, seed: 41, layout: .padded)
    let out = data.run(Compute(tier: .reference))
    let scale = data.scale.values.map(Double.init), bias = data.bias.values.map(Double.init)
    for (i, row) in data.x.doubles.enumerated() {
      let expected = referenceLayerNorm(row, scale: scale, bias: bias)
      #expect(withinTolerance(Double(out.mean[i]), expected.mean, absolute: 0, relative: 1e-6))
      #expect(withinTolerance(Double(out.rstd[i]), expected.rstd, absolute: 0, relative: 1e-5))
      for j in 0..<data.cols {
        #expect(withinTolerance(Double(out.y[i, j]), expected.y[j], absolute: 1e-5, relative: 1e-5),
                "(\(i), \(j))")
      }
    }
  }

  /// Backward against central differences of `L = Σ dy ⊙ layerNorm(x; γ, β)` in Double, for
  /// dx, dγ and dβ. Tolerance: absolute 2e-5 + relative 1e-4 (gradients are O(1); the Float
  /// kernel is good to ~1e-6, the differences to ~1e-9).
  @Test(arguments: [(1, 1, Float(0)), (1, 4, 0), (3, 5, 0), (2, 8, 50), (5, 3, -3)])
  func backwardMatchesCentralDifferences(rows: Int, cols: Int, offset: Float) {
    let data = LayerNormCase(rows: rows, cols: cols, offset: offset, seed: UInt64(42 + rows * cols))
    let out = data.run(Compute(tier: .reference))
    let x = flattenRows(data.x.doubles), upstream = flattenRows(data.dy.doubles)
    let scale = data.scale.values.map(Double.init), bias = data.bias.values.map(Double.init)
    func loss(_ x: [Double], _ scale: [Double], _ bias: [Double]) -> Double {
      let y = splitRows(x, cols: cols).flatMap { referenceLayerNorm($0, scale: scale, bias: bias).y }
      return zip(y, upstream).reduce(0) { $0 + $1.0 * $1.1 }
    }
    let dx = centralDifferences(at: x) { loss($0, scale, bias) }
    let dScale = centralDifferences(at: scale) { loss(x, $0, bias) }
    let dBias = centralDifferences(at: bias) { loss(x, scale, $0) }
    for (k, expected) in dx.enumerated() {
      let actual = Double(out.dx[k / cols, k % cols])
      #expect(withinTolerance(actual, expected, absolute: 2e-5, relative: 1e-4), "dx \(k)")
    }
    for j in 0..<cols {
      #expect(withinTolerance(Double(out.dScale[j]), dScale[j], absolute: 2e-5, relative: 1e-4), "dγ \(j)")
      #expect(withinTolerance(Double(out.dBias[j]), dBias[j], absolute: 2e-5, relative: 1e-4), "dβ \(j)")
    }
  }

  /// The documented order, written out here, gives the same bits (forward and backward).
  @Test func followsTheDocumentedOrder() {
    let data = LayerNormCase(rows: 6, cols: 29, offset: 3, seed: 43, layout: .columnMajor)
    let start = (HostBuffer(count: 29, fill: 0.25), HostBuffer(count: 29, fill: -0.5))
    let out = data.run(Compute(tier: .reference), accumulateFrom: start)
    let n = data.cols
    var dScale = [Float](repeating: 0.25, count: n), dBias = [Float](repeating: -0.5, count: n)
    for i in 0..<data.rows {
      var sum = 0.0
      for j in 0..<n { sum += Double(data.x[i, j]) }
      let meanD = sum / Double(n)
      var squares = 0.0
      for j in 0..<n { squares += (Double(data.x[i, j]) - meanD) * (Double(data.x[i, j]) - meanD) }
      let mean = Float(meanD)
      let rstd = Float(1 / (squares / Double(n) + Double(Float(1e-6))).squareRoot())
      #expect(out.mean[i].bitPattern == mean.bitPattern && out.rstd[i].bitPattern == rstd.bitPattern)
      let xhat = (0..<n).map { (data.x[i, $0] - mean) * rstd }
      let g = (0..<n).map { data.dy[i, $0] * data.scale[$0] }
      var sumG = 0.0, sumGX = 0.0
      for j in 0..<n {
        #expect(out.y[i, j].bitPattern == (xhat[j] * data.scale[j] + data.bias[j]).bitPattern)
        sumG += Double(g[j])
        sumGX += Double(g[j]) * Double(xhat[j])
        dScale[j] += data.dy[i, j] * xhat[j]
        dBias[j] += data.dy[i, j]
      }
      let meanG = Float(sumG / Double(n)), meanGX = Float(sumGX / Double(n))
      for j in 0..<n {
        #expect(out.dx[i, j].bitPattern == (rstd * ((g[j] - meanG) - xhat[j] * meanGX)).bitPattern)
      }
    }
    #expect(out.dScale.bits == dScale.map(\.bitPattern))
    #expect(out.dBias.bits == dBias.map(\.bitPattern))
  }

  @Test func singleColumnAndEmptyShapes() {
    let compute = Compute(tier: .threads, threadCount: 2)
    let single = LayerNormCase(rows: 4, cols: 1, offset: 7, seed: 44)
    let out = single.run(compute)
    for i in 0..<4 {
      #expect(out.y[i, 0] == single.bias[0])
      #expect(out.mean[i] == single.x[i, 0])
      #expect(out.rstd[i] == Float(1 / Double(Float(1e-6)).squareRoot()))
      #expect(out.dx[i, 0] == 0)
    }
    #expect(out.dScale[0] == 0)
    #expect(out.dBias[0] == (0..<4).reduce(Float(0)) { $0 + single.dy[$1, 0] })

    // No rows: the forward does nothing; the parameter gradients are +0 (or kept).
    let empty = LayerNormCase(rows: 0, cols: 40, offset: 0, seed: 45)
    let emptyOut = empty.run(compute)
    #expect(emptyOut.dScale.values.allSatisfy { $0.bitPattern == 0 })
    #expect(emptyOut.dBias.values.allSatisfy { $0.bitPattern == 0 })
  }

  /// `dx` may overwrite `dy` (parameter gradients are taken first).
  @Test func backwardInPlaceOverOutputGradient() {
    let data = LayerNormCase(rows: 50, cols: 96, offset: 0, seed: 46)
    let compute = Compute(tier: .threads, threadCount: 3)
    let out = data.run(compute)
    let dScale = HostBuffer(count: 96), dBias = HostBuffer(count: 96)
    let inPlace = data.dy.clone()
    compute.layerNormBackward(
      data.x.matrix, outputGradient: inPlace.matrix, scale: data.scale.buffer, mean: out.mean.buffer,
      rstd: out.rstd.buffer, inputGradient: inPlace.matrix, scaleGradient: dScale.buffer,
      biasGradient: dBias.buffer)
    #expect(inPlace.bits == out.dx.bits)
    #expect(dScale.bits == out.dScale.bits && dBias.bits == out.dBias.bits)
  }

  /// Tier 1 equals Tier 0 bitwise for thread counts {1, 2, 3, 4, 7} on random shapes.
  @Test func tier1MatchesTier0() async {
    let tiers = TierSet()
    await propertyCheck(
      count: 20, input: Gen.int(in: 0...250), Gen.int(in: 1...100), Gen<UInt64>.value()
    ) { rows, cols, seed in
      var rng = SplitMix64(seed: seed)
      let layout = KernelLayout.allCases[rng.below(3)]
      let offset = rng.float(in: -5...5)
      let data = LayerNormCase(rows: rows, cols: cols, offset: offset, seed: seed, layout: layout)
      let start = (HostBuffer(random: cols, &rng), HostBuffer(random: cols, &rng))
      let accumulate = rng.below(2) == 1
      expectTiersBitwiseEqual(tiers, "layerNorm \(rows)x\(cols) \(layout)") { compute in
        let out = data.run(compute, accumulateFrom: accumulate ? start : nil)
        return out.y.bits + out.mean.bits + out.rstd.bits + out.dx.bits + out.dScale.bits + out.dBias.bits
      }
    }
  }
}
