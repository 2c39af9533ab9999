import MuNetRuntime
import MuNetTestSupport
import Testing

/// The vectorised GELU, softmax and cross-entropy kernels give the bits of their plain scalar
/// references (`GELUKernel.scalarForward` and friends, one element at a time) on row lengths
/// that leave every kind of remainder after the vectors (1, 7, 15, 17, 33 and 97 columns), in
/// Tier 0 and in Tier 1 with 1, 2, 3, 4 and 7 threads, in place and out of place, dense and
/// padded. There are enough rows that Tier 1 splits them, so row ranges start at odd offsets and
/// softmax's blocks of four rows are cut at different places.
@Suite struct VectorisedKernelTests {
  static let columnCounts = [1, 7, 15, 17, 33, 97]

  /// Rows for `cols` columns: Tier 1 cuts them into at least two ranges (plus a ragged end).
  static func rowCount(cols: Int) -> Int { 2 * Compute.rowGrain(cols: cols) + 3 }

  /// Values in [-10, 10] with zeros of both signs, huge and tiny values, infinities and NaNs
  /// mixed in (`specials: false` keeps them finite and moderate).
  static func values(rows: Int, cols: Int, seed: UInt64, specials: Bool = true) -> [[Float]] {
    var rng = SplitMix64(seed: seed)
    let special: [Float] = [
      0, -0.0, 1e20, -1e20, 9.0109, -9.0109, 30, -30, 0x1p-140, -0x1p-140, .infinity, -.infinity,
      .nan, Float(bitPattern: 0x7F80_1234), 3.5, -0.25,
    ]
    return (0..<rows).map { i in
      (0..<cols).map { j in
        specials && rng.below(13) == 0 ? special[(i &* 7 &+ j) % special.count] : rng.float(in: -10...10)
      }
    }
  }

  static func bits(_ m: HostMatrix) -> [UInt32] {
    (0..<m.rows).flatMap { i in (0..<m.cols).map { j in m[i, j].bitPattern } }
  }

  /// Bit equality, except that two NaNs match whatever their payloads: NaN payloads of kernel
  /// outputs are not part of the contract (spec/determinism.md, "NaNs").
  static func firstDifference(_ a: [UInt32], _ b: [UInt32]) -> Int? {
    if a.count != b.count { return min(a.count, b.count) }
    return a.indices.first { k in
      let x = Float(bitPattern: a[k]), y = Float(bitPattern: b[k])
      return !(a[k] == b[k] || (x.isNaN && y.isNaN))
    }
  }

  /// Runs `kernel` on every executor (fresh outputs each time) and expects the bits of
  /// `reference`.
  static func expectAllTiersEqual(
    _ what: String, reference: [UInt32], sourceLocation: SourceLocation = #_sourceLocation,
    _ kernel: (Compute) -> [UInt32]
  ) {
    let tiers = TierSet()
    for compute in [tiers.reference] + tiers.threaded {
      let mismatch = firstDifference(reference, kernel(compute))
      let executor = "\(compute.tier) \(compute.threadCount) thread(s)"
      #expect(mismatch == nil, "\(what): \(executor) differs from the scalar loop at \(mismatch ?? -1)",
              sourceLocation: sourceLocation)
    }
  }

  @Test(arguments: columnCounts)
  func geluEqualsScalarLoop(cols: Int) {
    let rows = Self.rowCount(cols: cols)
    let xValues = Self.values(rows: rows, cols: cols, seed: UInt64(cols))
    let dyValues = Self.values(rows: rows, cols: cols, seed: UInt64(cols) + 100, specials: false)
    for form in GELUForm.allCases {
      for layout in [KernelLayout.dense, .padded] {
        let x = HostMatrix(xValues, layout: layout), dy = HostMatrix(dyValues, layout: layout)
        let y = HostMatrix(rows: rows, cols: cols, layout: layout)
        GELUKernel.scalarForward(x.matrix, form: form, into: y.matrix, rows: 0..<rows)
        let dx = HostMatrix(rows: rows, cols: cols, layout: layout)
        GELUKernel.scalarBackward(
          x.matrix, outputGradient: dy.matrix, form: form, into: dx.matrix, rows: 0..<rows)
        let shape = "\(rows)x\(cols) \(layout)"
        Self.expectAllTiersEqual("gelu \(form) \(shape)", reference: Self.bits(y)) { compute in
          let out = HostMatrix(rows: rows, cols: cols, layout: layout)
          compute.gelu(x.matrix, form: form, into: out.matrix)
          return Self.bits(out)
        }
        Self.expectAllTiersEqual("gelu \(form) in place \(cols)", reference: Self.bits(y)) { compute in
          let inPlace = x.clone()
          compute.gelu(inPlace.matrix, form: form, into: inPlace.matrix)
          return Self.bits(inPlace)
        }
        Self.expectAllTiersEqual("gelu' \(form) \(shape)", reference: Self.bits(dx)) { compute in
          let out = HostMatrix(rows: rows, cols: cols, layout: layout)
          compute.geluBackward(x.matrix, outputGradient: dy.matrix, form: form, into: out.matrix)
          return Self.bits(out)
        }
        Self.expectAllTiersEqual("gelu' \(form) into dy \(cols)", reference: Self.bits(dx)) { compute in
          let inPlace = dy.clone()
          compute.geluBackward(x.matrix, outputGradient: inPlace.matrix, form: form, into: inPlace.matrix)
          return Self.bits(inPlace)
        }
      }
    }
  }

  /// Softmax rows: random, with special values, maxima of ±0 (the first zero's sign decides), a
  /// NaN first, and a maximum that appears twice.
  static func softmaxValues(rows: Int, cols: Int, seed: UInt64) -> [[Float]] {
    var values = Self.values(rows: rows, cols: cols, seed: seed, specials: false).map { $0.map { $0 * 3 } }
    let special = Self.values(rows: rows, cols: cols, seed: seed + 1)
    for i in 0..<rows where i % 5 == 1 { values[i] = special[i] }
    if rows > 4 {
      // The largest value is zero; the first zero (-0, column 3) is not the first one a lane
      // reduction would meet (+0 in column 9, lane 1).
      values[2] = (0..<cols).map { j in j > 0 && j % 3 == 0 ? 0 : -(Float(j) + 0.5) }
      if cols > 3 { values[2][3] = -0.0 }
      values[3] = (0..<cols).map { j in j == 0 ? -0.0 : 0 }
      values[4][0] = .nan
    }
    if rows > 6 && cols > 1 {
      values[6][cols - 1] = 40
      values[6][cols / 2] = 40
    }
    return values
  }

  @Test(arguments: columnCounts)
  func softmaxEqualsScalarLoop(cols: Int) {
    let rows = Self.rowCount(cols: cols)
    let xValues = Self.softmaxValues(rows: rows, cols: cols, seed: UInt64(cols) + 200)
    let dyValues = Self.values(rows: rows, cols: cols, seed: UInt64(cols) + 300, specials: false)
    for layout in [KernelLayout.dense, .padded] {
      let x = HostMatrix(xValues, layout: layout), dy = HostMatrix(dyValues, layout: layout)
      let y = HostMatrix(rows: rows, cols: cols, layout: layout)
      SoftmaxKernel.scalarForward(x.matrix, into: y.matrix, rows: 0..<rows)
      let dx = HostMatrix(rows: rows, cols: cols, layout: layout)
      SoftmaxKernel.scalarBackward(
        outputs: y.matrix, outputGradient: dy.matrix, into: dx.matrix, rows: 0..<rows)
      Self.expectAllTiersEqual("softmax \(rows)x\(cols) \(layout)", reference: Self.bits(y)) { compute in
        let out = HostMatrix(rows: rows, cols: cols, layout: layout)
        compute.softmaxRows(x.matrix, into: out.matrix)
        return Self.bits(out)
      }
      Self.expectAllTiersEqual("softmax in place \(cols)", reference: Self.bits(y)) { compute in
        let inPlace = x.clone()
        compute.softmaxRows(inPlace.matrix, into: inPlace.matrix)
        return Self.bits(inPlace)
      }
      Self.expectAllTiersEqual("softmax' \(rows)x\(cols) \(layout)", reference: Self.bits(dx)) { compute in
        let out = HostMatrix(rows: rows, cols: cols, layout: layout)
        compute.softmaxRowsBackward(outputs: y.matrix, outputGradient: dy.matrix, into: out.matrix)
        return Self.bits(out)
      }
      Self.expectAllTiersEqual("softmax' into dy \(cols)", reference: Self.bits(dx)) { compute in
        let inPlace = dy.clone()
        compute.softmaxRowsBackward(outputs: y.matrix, outputGradient: inPlace.matrix, into: inPlace.matrix)
        return Self.bits(inPlace)
      }
    }
  }

  @Test(arguments: columnCounts)
  func crossEntropyEqualsScalarLoop(cols: Int) {
    let rows = Self.rowCount(cols: cols)
    let logits = HostMatrix(Self.softmaxValues(rows: rows, cols: cols, seed: UInt64(cols) + 400))
    let labels = (0..<rows).map { Int32(($0 &* 7) % cols) }
    labels.withUnsafeBufferPointer { labelBuffer in
      let referenceLosses = HostBuffer(count: rows)
      let referenceGradient = HostMatrix(rows: rows, cols: cols)
      CrossEntropyKernel.scalarLossAndGradient(
        logits.matrix, labels: labelBuffer, losses: referenceLosses.buffer,
        logitsGradient: referenceGradient.matrix, batchCount: rows, rows: 0..<rows)
      let lossOnly = HostBuffer(count: rows)
      CrossEntropyKernel.scalarLossAndGradient(
        logits.matrix, labels: labelBuffer, losses: lossOnly.buffer, logitsGradient: nil, batchCount: rows,
        rows: 0..<rows)
      #expect(Self.firstDifference(lossOnly.bits, referenceLosses.bits) == nil)
      Self.expectAllTiersEqual(
        "cross-entropy \(rows)x\(cols)", reference: referenceLosses.bits + Self.bits(referenceGradient)
      ) { compute in
        let losses = HostBuffer(count: rows)
        let gradient = HostMatrix(rows: rows, cols: cols)
        _ = compute.softmaxCrossEntropy(
          logits: logits.matrix, labels: labelBuffer, losses: losses.buffer, logitsGradient: gradient.matrix)
        return losses.bits + Self.bits(gradient)
      }
      let lossOnlyName = "cross-entropy loss only \(rows)x\(cols)"
      Self.expectAllTiersEqual(lossOnlyName, reference: referenceLosses.bits) { compute in
        let losses = HostBuffer(count: rows)
        _ = compute.softmaxCrossEntropyLoss(logits: logits.matrix, labels: labelBuffer, losses: losses.buffer)
        return losses.bits
      }
    }
  }
}
