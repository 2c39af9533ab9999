import MuNetRuntime
import MuNetTestSupport
import Testing

/// The vectorised layer-norm paths (four rows' `Double` chains side by side, vector lanes for
/// the per-element formulas) give the bits of their plain scalar references
/// (`LayerNormKernel.scalarForward`, `scalarBackwardInput`, `scalarBackwardParameters`), for
/// column counts that leave every remainder after the 4-column transposes and the 16- and
/// 8-lane vectors, for row ranges whose length and start are not multiples of four, in Tier 0
/// and Tier 1 (1, 2, 3, 4, 7 threads), dense, padded (rows apart by more than their length)
/// and column-major, in place and out of place.
@Suite struct LayerNormFastPathTests {
  static let columnCounts = [1, 3, 4, 7, 15, 17, 33, 64, 97, 256]

  /// The outputs of the scalar references over all rows.
  struct Outputs {
    var y: [UInt32], mean: [UInt32], rstd: [UInt32], dx: [UInt32], dScale: [UInt32], dBias: [UInt32]

    var all: [UInt32] { y + mean + rstd + dx + dScale + dBias }
  }

  /// One case: rows with different offsets and spreads (so row means differ and some are large
  /// against the spread), a row of special values, random parameters and start gradients.
  struct Case {
    let x: HostMatrix, dy: HostMatrix
    let scale: HostBuffer, bias: HostBuffer
    let startScale: HostBuffer, startBias: HostBuffer
    let layout: KernelLayout

    init(rows: Int, cols: Int, layout: KernelLayout, seed: UInt64, specials: Bool = true) {
      var rng = SplitMix64(seed: seed)
      var xValues = VectorisedKernelTests.values(rows: rows, cols: cols, seed: seed, specials: false)
      for i in 0..<rows {
        let offset = rng.float(in: -200...200), spread = rng.float(in: 0.001...3)
        xValues[i] = xValues[i].map { $0 * spread + offset }
      }
      if specials && rows > 5 {
        xValues[5] = VectorisedKernelTests.values(rows: 6, cols: cols, seed: seed + 1)[5]
      }
      let dyValues = VectorisedKernelTests.values(rows: rows, cols: cols, seed: seed + 2, specials: false)
      x = HostMatrix(xValues, layout: layout)
      dy = HostMatrix(dyValues, layout: layout)
      scale = HostBuffer(random: cols, &rng, in: -1.5...1.5)
      bias = HostBuffer(random: cols, &rng)
      startScale = HostBuffer(random: cols, &rng)
      startBias = HostBuffer(random: cols, &rng)
      self.layout = layout
    }

    var rows: Int { x.rows }
    var cols: Int { x.cols }

    /// The scalar references over all rows and columns (parameter gradients accumulated onto
    /// the start values).
    func reference() -> Outputs {
      let y = HostMatrix(rows: rows, cols: cols, layout: layout)
      let mean = HostBuffer(count: rows), rstd = HostBuffer(count: rows)
      LayerNormKernel.scalarForward(
        x.matrix, scale: scale.buffer, bias: bias.buffer, epsilon: LayerNormKernel.defaultEpsilon,
        into: y.matrix, mean: mean.buffer, rstd: rstd.buffer, rows: 0..<rows)
      let dx = HostMatrix(rows: rows, cols: cols, layout: layout)
      LayerNormKernel.scalarBackwardInput(
        x.matrix, outputGradient: dy.matrix, scale: scale.buffer, mean: mean.buffer, rstd: rstd.buffer,
        into: dx.matrix, rows: 0..<rows)
      let dScale = startScale.clone(), dBias = startBias.clone()
      LayerNormKernel.scalarBackwardParameters(
        x.matrix, outputGradient: dy.matrix, mean: mean.buffer, rstd: rstd.buffer,
        scaleGradient: dScale.buffer, biasGradient: dBias.buffer, accumulate: true, cols: 0..<cols)
      return Outputs(
        y: VectorisedKernelTests.bits(y), mean: mean.bits, rstd: rstd.bits,
        dx: VectorisedKernelTests.bits(dx), dScale: dScale.bits, dBias: dBias.bits)
    }

    /// Everything on `compute`; `inPlace` writes `y` over a copy of `x` and `dx` over a copy
    /// of `dy`.
    func run(_ compute: Compute, inPlace: Bool) -> Outputs {
      let y = inPlace ? x.clone() : HostMatrix(rows: rows, cols: cols, layout: layout)
      let input = inPlace ? y : x
      let mean = HostBuffer(count: rows, fill: .nan), rstd = HostBuffer(count: rows, fill: .nan)
      compute.layerNorm(
        input.matrix, scale: scale.buffer, bias: bias.buffer, into: y.matrix, mean: mean.buffer,
        rstd: rstd.buffer)
      let dx = inPlace ? dy.clone() : HostMatrix(rows: rows, cols: cols, layout: layout)
      let upstream = inPlace ? dx : dy
      let dScale = startScale.clone(), dBias = startBias.clone()
      compute.layerNormBackward(
        x.matrix, outputGradient: upstream.matrix, scale: scale.buffer, mean: mean.buffer,
        rstd: rstd.buffer, inputGradient: dx.matrix, scaleGradient: dScale.buffer,
        biasGradient: dBias.buffer, accumulate: true)
      return Outputs(
        y: VectorisedKernelTests.bits(y), mean: mean.bits, rstd: rstd.bits,
        dx: VectorisedKernelTests.bits(dx), dScale: dScale.bits, dBias: dBias.bits)
    }
  }

  @Test(arguments: columnCounts)
  func equalsScalarReference(cols: Int) {
    let rows = VectorisedKernelTests.rowCount(cols: cols)
    for layout in KernelLayout.allCases {
      let data = Case(rows: rows, cols: cols, layout: layout, seed: UInt64(cols) &* 31 &+ 7)
      let reference = data.reference()
      for inPlace in [false, true] {
        VectorisedKernelTests.expectAllTiersEqual(
          "layerNorm \(rows)x\(cols) \(layout) inPlace \(inPlace)", reference: reference.all
        ) { compute in data.run(compute, inPlace: inPlace).all }
      }
    }
  }

  /// Row ranges of every length 0...9 starting at offsets 0...3, through the kernels directly:
  /// rows outside the range are left alone, rows inside get the reference's bits (exactly:
  /// the values are finite, so there are no NaN payloads to excuse).
  @Test(arguments: [5, 16, 37])
  func rowRangesEqualScalarReference(cols: Int) {
    let data = Case(rows: 13, cols: cols, layout: .padded, seed: UInt64(cols) &+ 900, specials: false)
    let reference = data.reference()
    let epsilon = LayerNormKernel.defaultEpsilon
    for start in 0..<4 {
      for count in 0...9 {
        let rows = start..<(start + count)
        let y = HostMatrix(rows: data.rows, cols: cols, layout: .padded)
        let dx = HostMatrix(rows: data.rows, cols: cols, layout: .padded)
        let mean = HostBuffer(count: data.rows), rstd = HostBuffer(count: data.rows)
        LayerNormKernel.forward(
          data.x.matrix, scale: data.scale.buffer, bias: data.bias.buffer, epsilon: epsilon,
          into: y.matrix, mean: mean.buffer, rstd: rstd.buffer, rows: rows)
        LayerNormKernel.backwardInput(
          data.x.matrix, outputGradient: data.dy.matrix, scale: data.scale.buffer, mean: mean.buffer,
          rstd: rstd.buffer, into: dx.matrix, rows: rows)
        let yBits = VectorisedKernelTests.bits(y), dxBits = VectorisedKernelTests.bits(dx)
        // A new matrix's elements are +0 (the gaps between its rows hold the sentinel).
        let untouched = [UInt32](repeating: 0, count: cols)
        for i in 0..<data.rows {
          let inside = rows.contains(i)
          let row = (i * cols)..<(i * cols + cols)
          #expect(mean.bits[i] == (inside ? reference.mean[i] : 0), "mean \(i) of \(rows)")
          #expect(rstd.bits[i] == (inside ? reference.rstd[i] : 0), "rstd \(i) of \(rows)")
          #expect(Array(yBits[row]) == (inside ? Array(reference.y[row]) : untouched), "y \(i) of \(rows)")
          #expect(Array(dxBits[row]) == (inside ? Array(reference.dx[row]) : untouched), "dx \(i) of \(rows)")
        }
        // The gaps still hold the sentinel.
        let padding = (0..<data.rows).flatMap { i in (cols..<(cols + 3)).map { i * (cols + 3) + $0 } }
        #expect(padding.allSatisfy { y.storage[$0].bitPattern == paddingSentinel.bitPattern })
        #expect(padding.allSatisfy { dx.storage[$0].bitPattern == paddingSentinel.bitPattern })
      }
    }
  }
}
