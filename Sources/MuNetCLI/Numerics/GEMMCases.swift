import MuNetRuntime

/// How a matrix view sits in its storage (the layouts check-numerics feeds to the products).
enum ViewLayoutKind: String {
  /// Dense row-major.
  case dense
  /// The transposed view of a dense row-major matrix (`rowStride == 1`).
  case transposed
  /// The middle third of the columns of a wider matrix, from its second row (a Q/K/V slice).
  case block
  /// Every other column of a padded matrix: neither stride is 1 (OpenBLAS needs a copy).
  case strided
}

/// A `rows × cols` view at `offset` into `storageCount` floats.
struct ViewLayout {
  let rows: Int, cols: Int, rowStride: Int, colStride: Int, offset: Int, storageCount: Int

  init(_ kind: ViewLayoutKind, rows: Int, cols: Int) {
    self.rows = rows
    self.cols = cols
    switch kind {
    case .dense:
      (rowStride, colStride, offset, storageCount) = (cols, 1, 0, rows * cols)
    case .transposed:
      (rowStride, colStride, offset, storageCount) = (1, rows, 0, rows * cols)
    case .block:
      let width = 3 * max(cols, 1)
      (rowStride, colStride, offset, storageCount) = (width, 1, width + cols, (rows + 2) * width)
    case .strided:
      let width = 2 * cols + 3
      (rowStride, colStride, offset, storageCount) = (width, 2, width + 1, (rows + 2) * width)
    }
  }

  func view(_ storage: NumericsBuffer) -> Matrix { view(storage.pointer) }

  func view(_ base: UnsafeMutablePointer<Float>) -> Matrix {
    Matrix(base: base + offset, rows: rows, cols: cols, rowStride: rowStride, colStride: colStride)
  }

  /// Storage index of view element `(i, j)`.
  func index(_ i: Int, _ j: Int) -> Int { offset + i * rowStride + j * colStride }

  /// The view's elements in row-major order, then every storage element outside the view in
  /// ascending order (so a write outside the view changes the output too).
  func gather(_ storage: NumericsBuffer) -> [Float] {
    var inView = [Bool](repeating: false, count: storageCount)
    var values = [Float]()
    values.reserveCapacity(storageCount)
    for i in 0..<rows {
      for j in 0..<cols {
        inView[index(i, j)] = true
        values.append(storage.pointer[index(i, j)])
      }
    }
    for position in 0..<storageCount where !inView[position] { values.append(storage.pointer[position]) }
    return values
  }
}

/// Matrix products: `c = (accumulate ? c : 0) + a · b` with operands in various layouts.
enum GEMMCases {
  /// The transpose code of a product: `N` or `T` for `a`, then for `b`.
  static func transposeCode(_ a: ViewLayoutKind, _ b: ViewLayoutKind) -> String {
    (a == .transposed ? "T" : "N") + (b == .transposed ? "T" : "N")
  }

  /// `m×k · k×n`.
  static func shapeLabel(m: Int, k: Int, n: Int) -> String { "\(m)x\(k)·\(k)x\(n)" }

  /// One product. `wide` draws `a` and `b` with ``NumericsInputs/wideRange(_:key:operand:)``.
  static func gemm(
    op: String, m: Int, k: Int, n: Int, a aKind: ViewLayoutKind, b bKind: ViewLayoutKind,
    c cKind: ViewLayoutKind = .dense, accumulate: Bool = false, wide: Bool = false, key: StreamKey? = nil
  ) -> NumericsCase {
    let shape = shapeLabel(m: m, k: k, n: n)
    let caseKey = key ?? NumericsInputs.caseKey("\(op) \(shape)")
    return NumericsCase(op: op, shape: shape, kind: .gemm) {
      let aLayout = ViewLayout(aKind, rows: m, cols: k)
      let bLayout = ViewLayout(bKind, rows: k, cols: n)
      let cLayout = ViewLayout(cKind, rows: m, cols: n)
      let draw = wide ? NumericsInputs.wideRange : { count, key, operand in
        NumericsInputs.uniform(count, key: key, operand: operand)
      }
      let a = draw(aLayout.storageCount, caseKey, "a")
      let b = draw(bLayout.storageCount, caseKey, "b")
      let cInitial = NumericsBuffer(count: cLayout.storageCount, fill: NumericsInputs.sentinel)
      if accumulate {
        let old = NumericsInputs.uniform(m * n, key: caseKey, operand: "c")
        for i in 0..<m {
          for j in 0..<n { cInitial.pointer[cLayout.index(i, j)] = old.pointer[i * n + j] }
        }
      }
      let run = { (compute: Compute) -> NumericsOutput in
        let c = NumericsBuffer(copying: cInitial)
        compute.gemmEngine.gemm(aLayout.view(a), bLayout.view(b), cLayout.view(c), accumulate: accumulate)
        return NumericsOutput(floats: cLayout.gather(c))
      }
      let boundCheck = { (candidate: NumericsOutput, reference: NumericsOutput) -> NumericsBoundSummary in
        var summary = NumericsBoundSummary()
        let cOld = accumulate ? cLayout.view(cInitial) : nil
        withOutputBases(candidate.floats, reference.floats) { candidateBase, referenceBase in
          summary.merge(checkBound(
            aLayout.view(a), bLayout.view(b), cOld: cOld, candidate: candidateBase,
            reference: referenceBase, rows: m, cols: n))
        }
        summary.paddingIntact = samePadding(candidate.floats, reference.floats, viewCount: m * n)
        return summary
      }
      return PreparedNumericsCase(run: run, boundCheck: boundCheck)
    }
  }

  /// A batch of `count` products `m×k · k×n` with dense items; `b` is the transposed view of a
  /// dense batch when `bTransposed` (attention scores `Q · Kᵀ`).
  static func batched(
    op: String, count: Int, m: Int, k: Int, n: Int, bTransposed: Bool, key: StreamKey? = nil
  ) -> NumericsCase {
    let shape = "\(count) × " + shapeLabel(m: m, k: k, n: n)
    let caseKey = key ?? NumericsInputs.caseKey("\(op) \(shape)")
    return NumericsCase(op: op, shape: shape, kind: .gemm) {
      let a = NumericsInputs.uniform(count * m * k, key: caseKey, operand: "a")
      let b = NumericsInputs.uniform(count * k * n, key: caseKey, operand: "b")
      // The closures use the buffers themselves (not only views of them), which keeps them alive.
      let aBatch = { MatrixBatch(first: a.matrix(rows: m, cols: k), count: count, batchStride: m * k) }
      let bBatch = {
        bTransposed
          ? MatrixBatch(first: b.matrix(rows: n, cols: k), count: count, batchStride: k * n).transposed
          : MatrixBatch(first: b.matrix(rows: k, cols: n), count: count, batchStride: k * n)
      }
      let run = { (compute: Compute) -> NumericsOutput in
        let c = NumericsBuffer(count: count * m * n, fill: NumericsInputs.sentinel)
        let cBatch = MatrixBatch(first: c.matrix(rows: m, cols: n), count: count, batchStride: m * n)
        compute.gemmEngine.gemmBatched(aBatch(), bBatch(), cBatch, accumulate: false)
        return NumericsOutput(floats: c.values)
      }
      let boundCheck = { (candidate: NumericsOutput, reference: NumericsOutput) -> NumericsBoundSummary in
        var summary = NumericsBoundSummary()
        let (aItems, bItems) = (aBatch(), bBatch())
        withOutputBases(candidate.floats, reference.floats) { candidateBase, referenceBase in
          for item in 0..<count {
            let offset = item * m * n
            summary.merge(checkBound(
              aItems[item], bItems[item], cOld: nil, candidate: candidateBase + offset,
              reference: referenceBase + offset, rows: m, cols: n))
          }
        }
        return summary
      }
      return PreparedNumericsCase(run: run, boundCheck: boundCheck)
    }
  }

  /// Calls `body` with mutable base pointers of (copies of) two output arrays, as
  /// ``GEMMBound`` takes `Matrix` views. An empty array gets a placeholder that is never read.
  static func withOutputBases<Result>(
    _ candidate: [Float], _ reference: [Float],
    _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Result
  ) -> Result {
    precondition(reference.count == candidate.count, "bound check: outputs differ in size")
    var candidateCopy = candidate, referenceCopy = reference
    let placeholder = UnsafeMutablePointer<Float>.allocate(capacity: 2)
    defer { placeholder.deallocate() }
    return candidateCopy.withUnsafeMutableBufferPointer { candidateBuffer in
      referenceCopy.withUnsafeMutableBufferPointer { referenceBuffer in
        body(candidateBuffer.baseAddress ?? placeholder, referenceBuffer.baseAddress ?? placeholder + 1)
      }
    }
  }

  /// ``GEMMBound/check(_:_:cOld:candidate:reference:)`` on dense `rows × cols` outputs at the
  /// given bases.
  static func checkBound(
    _ a: Matrix, _ b: Matrix, cOld: Matrix?, candidate: UnsafeMutablePointer<Float>,
    reference: UnsafeMutablePointer<Float>, rows: Int, cols: Int
  ) -> GEMMBoundReport {
    GEMMBound.check(
      a, b, cOld: cOld, candidate: Matrix(base: candidate, rows: rows, cols: cols),
      reference: Matrix(base: reference, rows: rows, cols: cols))
  }

  /// True when everything after the first `viewCount` values (the storage outside the output
  /// view) has the same bits in both outputs.
  static func samePadding(_ candidate: [Float], _ reference: [Float], viewCount: Int) -> Bool {
    guard candidate.count == reference.count else { return false }
    for index in viewCount..<candidate.count {
      if candidate[index].bitPattern != reference[index].bitPattern { return false }
    }
    return true
  }
}
