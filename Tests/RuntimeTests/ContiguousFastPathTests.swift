import MuNetRuntime
import MuNetTestSupport
import Testing

/// The GELU (tanh form) backward and the softmax forward have a fast path for rows with unit
/// column stride (vectorised loops, `VectorisedKernelTests`). The column-major layout takes the
/// plain per-element loop; both must give the same bits, on longer rows (64 and more) and with
/// special values, in place as well as out of place.
@Suite struct ContiguousFastPathTests {
  /// Random values in [-8, 8] with saturating, signed-zero, infinite and NaN entries mixed in.
  static func values(rows: Int, cols: Int, seed: UInt64) -> [[Float]] {
    var rng = SplitMix64(seed: seed)
    let specials: [Float] = [0, -0, 1e20, -1e20, 30, -30, .infinity, -.infinity, .nan, 9.5, -9.5]
    return (0..<rows).map { i in
      (0..<cols).map { j in
        (i * cols + j) % 17 == 5 ? specials[(i + j) % specials.count] : rng.float(in: -8...8)
      }
    }
  }

  func geluBackwardBits(_ x: [[Float]], _ dy: [[Float]], layout: KernelLayout, inPlace: Bool) -> [UInt32] {
    let xm = HostMatrix(x, layout: layout), dym = HostMatrix(dy, layout: layout)
    let dx = inPlace ? dym : HostMatrix(rows: xm.rows, cols: xm.cols, layout: layout)
    Compute(tier: .reference).geluBackward(xm.matrix, outputGradient: dym.matrix, form: .tanh, into: dx.matrix)
    return (0..<dx.rows).flatMap { i in (0..<dx.cols).map { j in dx[i, j].bitPattern } }
  }

  @Test(arguments: [1, 63, 64, 65, 200])
  func geluTanhBackwardContiguousEqualsStrided(cols: Int) {
    let x = Self.values(rows: 5, cols: cols, seed: UInt64(cols))
    let dy = Self.values(rows: 5, cols: cols, seed: UInt64(cols) + 1000).map { $0.map { $0.isNaN ? 1 : $0 } }
    let strided = geluBackwardBits(x, dy, layout: .columnMajor, inPlace: false)
    for layout in [KernelLayout.dense, .padded] {
      for inPlace in [false, true] {
        #expect(geluBackwardBits(x, dy, layout: layout, inPlace: inPlace) == strided, "\(layout) \(inPlace)")
      }
    }
    // And against the documented scalar derivative directly.
    let expected = (0..<5).flatMap { i in
      (0..<cols).map { j in (dy[i][j] * GELUKernel.tanhFormDerivative(x[i][j])).bitPattern }
    }
    #expect(strided == expected)
  }

  func softmaxBits(_ x: [[Float]], layout: KernelLayout, inPlace: Bool) -> [UInt32] {
    let xm = HostMatrix(x, layout: layout)
    let y = inPlace ? xm : HostMatrix(rows: xm.rows, cols: xm.cols, layout: layout)
    Compute(tier: .reference).softmaxRows(xm.matrix, into: y.matrix)
    return (0..<y.rows).flatMap { i in (0..<y.cols).map { j in y[i, j].bitPattern } }
  }

  @Test(arguments: [1, 2, 50, 64, 130])
  func softmaxContiguousEqualsStrided(cols: Int) {
    // Row 0 keeps its special values (inf/NaN rows must give the same NaNs); the others are finite.
    let x = Self.values(rows: 6, cols: cols, seed: UInt64(cols) + 7).enumerated().map { i, row in
      i == 0 ? row : row.map { $0.isFinite ? $0 * 4 : -3 }
    }
    let strided = softmaxBits(x, layout: .columnMajor, inPlace: false)
    for layout in [KernelLayout.dense, .padded] {
      for inPlace in [false, true] {
        #expect(softmaxBits(x, layout: layout, inPlace: inPlace) == strided, "\(layout) \(inPlace)")
      }
    }
  }
}
