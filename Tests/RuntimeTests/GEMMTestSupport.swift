import MuNetRuntime

/// SplitMix64: a tiny deterministic generator for test data (independent of the engine's own
/// random streams, so these tests do not move when those do).
struct SplitMix64 {
  private var state: UInt64

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in `range` (small ranges; the modulo bias is irrelevant for tests).
  mutating func int(in range: ClosedRange<Int>) -> Int {
    range.lowerBound + Int(next() % UInt64(range.count))
  }

  mutating func bool() -> Bool { next() & 1 == 1 }

  /// Mostly full-precision values in [-1, 1); sometimes ±0 or small integers, so signed zeros
  /// and exact products also occur.
  mutating func float() -> Float {
    switch next() % 16 {
    case 0: return 0
    case 1: return -0.0
    case 2: return Float(int(in: -3...3))
    default: return Float(Int32(truncatingIfNeeded: next() >> 32)) * 0x1p-31
    }
  }
}

/// How a test matrix is laid out in its storage.
enum TestLayout: Int, CaseIterable {
  /// Dense row-major.
  case rowMajor
  /// The transposed view of a dense row-major matrix (`rowStride == 1`).
  case transposed
  /// A block inside a larger row-major matrix (padded rows, offset start).
  case rowMajorBlock
  /// A block inside a larger transposed matrix.
  case transposedBlock
  /// Neither stride is 1.
  case strided
}

/// A matrix view with its own storage (freed on deinit), padded around the view so writes
/// outside it are detected by comparing the whole storage.
final class TestMatrix {
  let storage: UnsafeMutableBufferPointer<Float>
  let view: Matrix

  init(rows: Int, cols: Int, layout: TestLayout, rng: inout SplitMix64) {
    let (parentRows, parentCols, rowOffset, colOffset, colStride): (Int, Int, Int, Int, Int)
    switch layout {
    case .rowMajor, .transposed:
      (parentRows, parentCols, rowOffset, colOffset, colStride) = (rows, cols, 0, 0, 1)
    case .rowMajorBlock, .transposedBlock:
      (parentRows, parentCols, rowOffset, colOffset, colStride) =
        (rows + rng.int(in: 0...3), cols + rng.int(in: 1...5), rng.int(in: 0...2), rng.int(in: 0...3), 1)
    case .strided:
      (parentRows, parentCols, rowOffset, colOffset, colStride) = (rows, 2 * cols + 3, 0, 1, 2)
    }
    let isTransposed = layout == .transposed || layout == .transposedBlock
    // Storage is row-major `storedRows × storedCols`; a transposed layout stores the transpose.
    let storedRows = (isTransposed ? parentCols : parentRows) + rowOffset + 1
    let storedCols = isTransposed ? parentRows + colOffset : parentCols + colOffset
    let count = max(1, storedRows * storedCols + 7)
    storage = .allocate(capacity: count)
    for index in 0..<count { storage[index] = rng.float() }
    let start = storage.baseAddress! + rowOffset * storedCols + colOffset
    if isTransposed {
      view = Matrix(base: start, rows: cols, cols: rows, rowStride: storedCols, colStride: 1).transposed
    } else {
      view = Matrix(base: start, rows: rows, cols: cols, rowStride: storedCols, colStride: colStride)
    }
  }

  /// A copy with identical storage contents and layout.
  init(copying other: TestMatrix) {
    storage = .allocate(capacity: other.storage.count)
    _ = storage.initialize(from: other.storage)
    var view = other.view
    view.base = storage.baseAddress! + (other.view.base - other.storage.baseAddress!)
    self.view = view
  }

  deinit { storage.deallocate() }

  /// Every stored float's bits, including the padding around the view.
  var bits: [UInt32] { storage.map(\.bitPattern) }

  /// The bits of the stored floats that are not elements of the view.
  var bitsOutsideView: [UInt32] {
    var inView = [Bool](repeating: false, count: storage.count)
    let offset = view.base - storage.baseAddress!
    for i in 0..<view.rows {
      for j in 0..<view.cols { inView[offset + i * view.rowStride + j * view.colStride] = true }
    }
    return storage.indices.filter { !inView[$0] }.map { storage[$0].bitPattern }
  }
}

/// One random product: operands, the output before the product, and a sub-range.
struct RandomProduct: CustomStringConvertible {
  let a: TestMatrix
  let b: TestMatrix
  let c: TestMatrix
  let accumulate: Bool
  private(set) var rows: Range<Int>
  private(set) var cols: Range<Int>
  let layouts: (TestLayout, TestLayout, TestLayout)

  /// Random layouts, accumulation and (when `subRanges`) output ranges, all from `seed`.
  init(m: Int, k: Int, n: Int, seed: UInt64, subRanges: Bool) {
    var rng = SplitMix64(seed: seed)
    let all = TestLayout.allCases
    let layouts = (all[rng.int(in: 0...all.count - 1)], all[rng.int(in: 0...all.count - 1)],
                   all[rng.int(in: 0...all.count - 1)])
    let accumulate = rng.bool()
    self.init(m: m, k: k, n: n, layouts: layouts, accumulate: accumulate, rng: &rng)
    if subRanges {
      rows = RandomProduct.subRange(of: m, rng: &rng)
      cols = RandomProduct.subRange(of: n, rng: &rng)
    }
  }

  /// Given layouts and accumulation, random contents; the whole output range.
  init(
    m: Int, k: Int, n: Int, layouts: (TestLayout, TestLayout, TestLayout), accumulate: Bool,
    rng: inout SplitMix64
  ) {
    self.layouts = layouts
    a = TestMatrix(rows: m, cols: k, layout: layouts.0, rng: &rng)
    b = TestMatrix(rows: k, cols: n, layout: layouts.1, rng: &rng)
    c = TestMatrix(rows: m, cols: n, layout: layouts.2, rng: &rng)
    self.accumulate = accumulate
    rows = 0..<m
    cols = 0..<n
  }

  private static func subRange(of count: Int, rng: inout SplitMix64) -> Range<Int> {
    guard count > 0 && rng.int(in: 0...2) > 0 else { return 0..<count }
    let lower = rng.int(in: 0...count)
    return lower..<rng.int(in: lower...count)
  }

  var description: String {
    "\(a.view.rows)x\(a.view.cols)·\(b.view.rows)x\(b.view.cols) layouts \(layouts) "
      + "accumulate \(accumulate) rows \(rows) cols \(cols)"
  }
}
