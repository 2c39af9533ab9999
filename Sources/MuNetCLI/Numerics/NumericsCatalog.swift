import MuNetRuntime

/// The cases `munet check-numerics` runs: the ViT's shapes (tokens = 64 images × 49 patches =
/// 3136 rows, hidden 64, MLP 256, 4 heads of 16) and edge shapes, for every op.
enum NumericsCatalog {
  /// Edge shapes `m × k · k × n` (an empty output, a scalar, shapes smaller than and not a
  /// multiple of the GEMM kernel's 6 × 16 tile).
  static let edgeProducts = [(0, 5, 3), (1, 1, 1), (7, 13, 5), (97, 31, 45)]

  /// Edge shapes `rows × cols` for the row kernels.
  static let edgeRows = [(0, 5), (1, 1), (7, 13), (97, 31)]

  /// The full set (release build: about a minute on 2 cores), or with `quick` a reduced set of
  /// small shapes that a debug build runs in seconds.
  static func cases(quick: Bool) -> [NumericsCase] {
    quick ? quickCases : fullCases
  }

  static var fullCases: [NumericsCase] {
    var cases = vitProducts + edgeProductCases
    cases += [
      GEMMCases.batched(op: "batched gemm QKᵀ", count: 256, m: 49, k: 16, n: 49, bTransposed: true),
      GEMMCases.batched(op: "batched gemm PV", count: 256, m: 49, k: 49, n: 16, bTransposed: false),
    ]
    cases += [
      RowOpCases.add(rows: 3136, cols: 64),
      RowOpCases.addBias(rows: 3136, cols: 192),
      RowOpCases.addBias(rows: 3136, cols: 256),
      RowOpCases.columnSums(rows: 3136, cols: 64),
      RowOpCases.columnSums(rows: 3136, cols: 256),
      RowOpCases.sumOfSquares(count: 3136 * 256),
      RowOpCases.clipByGlobalNorm(counts: [3136 * 256, 64 * 192, 97]),
      RowOpCases.softmaxForward(rows: 12544, cols: 49),
      RowOpCases.softmaxBackward(rows: 12544, cols: 49),
      RowOpCases.layerNormForward(rows: 3136, cols: 64),
      RowOpCases.layerNormBackward(rows: 3136, cols: 64),
      RowOpCases.geluForward(rows: 3136, cols: 256, form: .tanh),
      RowOpCases.geluBackward(rows: 3136, cols: 256, form: .tanh),
      RowOpCases.geluForward(rows: 3136, cols: 256, form: .exact),
      RowOpCases.geluBackward(rows: 3136, cols: 256, form: .exact),
      RowOpCases.crossEntropyForward(rows: 64, cols: 10),
      RowOpCases.crossEntropyBackward(rows: 64, cols: 10),
    ]
    return cases + edgeRowCases
  }

  /// Small shapes only; every row kernel still gets one shape large enough for Tier 1 to split.
  static var quickCases: [NumericsCase] {
    var cases = edgeProductCases
    cases += [
      GEMMCases.batched(op: "batched gemm QKᵀ", count: 6, m: 49, k: 16, n: 49, bTransposed: true),
      GEMMCases.batched(op: "batched gemm PV", count: 6, m: 49, k: 49, n: 16, bTransposed: false),
    ]
    cases += [
      RowOpCases.add(rows: 196, cols: 64),
      RowOpCases.addBias(rows: 98, cols: 256),
      RowOpCases.columnSums(rows: 196, cols: 64),
      RowOpCases.sumOfSquares(count: 10 * 4096 + 17),
      RowOpCases.clipByGlobalNorm(counts: [10 * 4096 + 17, 97]),
      RowOpCases.softmaxForward(rows: 392, cols: 49),
      RowOpCases.softmaxBackward(rows: 392, cols: 49),
      RowOpCases.layerNormForward(rows: 196, cols: 64),
      RowOpCases.layerNormBackward(rows: 196, cols: 64),
      RowOpCases.geluForward(rows: 98, cols: 256, form: .tanh),
      RowOpCases.geluBackward(rows: 98, cols: 256, form: .tanh),
      RowOpCases.geluForward(rows: 98, cols: 256, form: .exact),
      RowOpCases.geluBackward(rows: 98, cols: 256, form: .exact),
      RowOpCases.crossEntropyForward(rows: 64, cols: 10),
      RowOpCases.crossEntropyBackward(rows: 64, cols: 10),
    ]
    return cases + edgeRowCases
  }

  /// The ViT's products, forward (`NN`) and backward (`dX = dY·Wᵀ`: `NT`; `dW = Xᵀ·dY`: `TN`).
  static var vitProducts: [NumericsCase] {
    [
      GEMMCases.gemm(op: "gemm NN", m: 3136, k: 16, n: 64, a: .dense, b: .dense),  // patch embedding
      GEMMCases.gemm(op: "gemm NN", m: 3136, k: 64, n: 192, a: .dense, b: .dense),  // Q, K, V
      GEMMCases.gemm(op: "gemm NN", m: 3136, k: 64, n: 64, a: .dense, b: .dense),  // attention output
      GEMMCases.gemm(op: "gemm NN", m: 3136, k: 64, n: 256, a: .dense, b: .dense),  // MLP in
      GEMMCases.gemm(op: "gemm NN", m: 3136, k: 256, n: 64, a: .dense, b: .dense),  // MLP out
      GEMMCases.gemm(op: "gemm NT", m: 3136, k: 192, n: 64, a: .dense, b: .transposed),
      GEMMCases.gemm(op: "gemm NT", m: 3136, k: 256, n: 64, a: .dense, b: .transposed),
      GEMMCases.gemm(op: "gemm TN", m: 64, k: 3136, n: 64, a: .transposed, b: .dense),
      GEMMCases.gemm(op: "gemm TN", m: 64, k: 3136, n: 192, a: .transposed, b: .dense),
      GEMMCases.gemm(op: "gemm TT", m: 64, k: 3136, n: 64, a: .transposed, b: .transposed),
      GEMMCases.gemm(op: "gemm NN acc", m: 3136, k: 64, n: 64, a: .dense, b: .dense, accumulate: true),
      GEMMCases.gemm(op: "gemm TN acc", m: 64, k: 3136, n: 64, a: .transposed, b: .dense, accumulate: true),
      GEMMCases.gemm(op: "gemm strided", m: 3136, k: 64, n: 64, a: .block, b: .strided, c: .block),
      GEMMCases.gemm(op: "gemm NN wide", m: 3136, k: 64, n: 192, a: .dense, b: .dense, wide: true),
      GEMMCases.gemm(op: "gemm TN wide", m: 64, k: 3136, n: 64, a: .transposed, b: .dense, wide: true),
    ]
  }

  /// Every edge product in all four transpose combinations, then accumulating and strided.
  static var edgeProductCases: [NumericsCase] {
    var cases: [NumericsCase] = []
    let layouts: [(ViewLayoutKind, ViewLayoutKind)] = [
      (.dense, .dense), (.dense, .transposed), (.transposed, .dense), (.transposed, .transposed),
    ]
    for (m, k, n) in edgeProducts {
      for (a, b) in layouts {
        let op = "gemm " + GEMMCases.transposeCode(a, b)
        cases.append(GEMMCases.gemm(op: op, m: m, k: k, n: n, a: a, b: b))
      }
    }
    for (m, k, n) in edgeProducts.dropFirst(2) {
      cases.append(GEMMCases.gemm(op: "gemm TT acc", m: m, k: k, n: n, a: .transposed, b: .transposed,
                                  accumulate: true))
      cases.append(GEMMCases.gemm(op: "gemm strided", m: m, k: k, n: n, a: .strided, b: .block, c: .strided,
                                  accumulate: true))
      cases.append(GEMMCases.gemm(op: "gemm NN wide", m: m, k: k, n: n, a: .dense, b: .dense, wide: true))
    }
    return cases
  }

  /// Every row kernel on every edge shape.
  static var edgeRowCases: [NumericsCase] {
    var cases: [NumericsCase] = []
    for (rows, cols) in edgeRows {
      cases += [
        RowOpCases.add(rows: rows, cols: cols),
        RowOpCases.addBias(rows: rows, cols: cols),
        RowOpCases.columnSums(rows: rows, cols: cols),
        RowOpCases.softmaxForward(rows: rows, cols: cols),
        RowOpCases.softmaxBackward(rows: rows, cols: cols),
        RowOpCases.layerNormForward(rows: rows, cols: cols),
        RowOpCases.layerNormBackward(rows: rows, cols: cols),
        RowOpCases.geluForward(rows: rows, cols: cols, form: .tanh),
        RowOpCases.geluBackward(rows: rows, cols: cols, form: .tanh),
        RowOpCases.geluForward(rows: rows, cols: cols, form: .exact),
        RowOpCases.geluBackward(rows: rows, cols: cols, form: .exact),
        RowOpCases.crossEntropyForward(rows: rows, cols: cols),
        RowOpCases.crossEntropyBackward(rows: rows, cols: cols),
      ]
    }
    return cases
  }
}
