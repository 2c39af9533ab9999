import MuNetRuntime
import MuNetTestSupport
import Testing

/// Padding elements are set to this NaN so that a kernel writing outside its view is caught
/// by a bit comparison.
let paddingSentinel = Float(bitPattern: 0x7FC0_BEEF)

/// An owned `Float` buffer for tests (arena-free, freed on deinit).
final class HostBuffer: @unchecked Sendable {
  let pointer: UnsafeMutablePointer<Float>
  let count: Int

  init(count: Int, fill: Float = 0) {
    self.count = count
    pointer = .allocate(capacity: max(count, 1))
    pointer.initialize(repeating: fill, count: max(count, 1))
  }

  convenience init(_ values: [Float]) {
    self.init(count: values.count)
    for (k, value) in values.enumerated() { pointer[k] = value }
  }

  convenience init(
    random count: Int, _ rng: inout SplitMix64, in range: ClosedRange<Float> = -1...1
  ) {
    self.init(count: count)
    for k in 0..<count { pointer[k] = rng.float(in: range) }
  }

  deinit { pointer.deallocate() }

  var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }
  var values: [Float] { Array(buffer) }
  var bits: [UInt32] { buffer.map(\.bitPattern) }

  subscript(index: Int) -> Float {
    get { pointer[index] }
    set { pointer[index] = newValue }
  }

  func clone() -> HostBuffer { HostBuffer(values) }
}

/// How a test matrix is laid out in its storage.
enum KernelLayout: CaseIterable, Sendable {
  case dense
  /// Rows `cols + 3` apart; the gaps hold ``paddingSentinel``.
  case padded
  /// Column-major: `rowStride == 1`, `colStride == rows` (a transposed view).
  case columnMajor
}

/// An owned matrix for tests, with its view in any ``KernelLayout``.
final class HostMatrix: @unchecked Sendable {
  let rows: Int
  let cols: Int
  let layout: KernelLayout
  let storage: HostBuffer
  let matrix: Matrix

  init(rows: Int, cols: Int, layout: KernelLayout = .dense) {
    self.rows = rows
    self.cols = cols
    self.layout = layout
    switch layout {
    case .dense:
      storage = HostBuffer(count: rows * cols)
      matrix = Matrix(base: storage.pointer, rows: rows, cols: cols)
    case .padded:
      let stride = cols + 3
      storage = HostBuffer(count: rows * stride, fill: paddingSentinel)
      matrix = Matrix(base: storage.pointer, rows: rows, cols: cols, rowStride: stride, colStride: 1)
    case .columnMajor:
      storage = HostBuffer(count: rows * cols)
      matrix = Matrix(base: storage.pointer, rows: rows, cols: cols, rowStride: 1, colStride: rows)
    }
    for i in 0..<rows { for j in 0..<cols { matrix[i, j] = 0 } }
  }

  convenience init(
    random rows: Int, _ cols: Int, _ rng: inout SplitMix64, in range: ClosedRange<Float> = -1...1,
    layout: KernelLayout = .dense
  ) {
    self.init(rows: rows, cols: cols, layout: layout)
    for i in 0..<rows { for j in 0..<cols { matrix[i, j] = rng.float(in: range) } }
  }

  convenience init(_ values: [[Float]], layout: KernelLayout = .dense) {
    self.init(rows: values.count, cols: values.first?.count ?? 0, layout: layout)
    for i in 0..<rows { for j in 0..<cols { matrix[i, j] = values[i][j] } }
  }

  subscript(row: Int, col: Int) -> Float {
    get { matrix[row, col] }
    set { matrix[row, col] = newValue }
  }

  /// The bits of the whole storage, padding included.
  var bits: [UInt32] { storage.bits }

  /// The view's elements as Double rows.
  var doubles: [[Double]] { (0..<rows).map { i in (0..<cols).map { j in Double(matrix[i, j]) } } }

  func clone() -> HostMatrix {
    let copy = HostMatrix(rows: rows, cols: cols, layout: layout)
    copy.storage.pointer.update(from: storage.pointer, count: storage.count)
    return copy
  }
}

/// Tier 0 and the Tier 1 executors for every thread count the contract names.
///
/// Each test makes its own: a `ThreadPool` must not be driven from two tests at once.
final class TierSet: @unchecked Sendable {
  static let threadCounts = [1, 2, 3, 4, 7]
  let reference = Compute(tier: .reference)
  let threaded = TierSet.threadCounts.map { Compute(tier: .threads, threadCount: $0) }
}

/// The index of the first element where `a` and `b` differ (or the count, if lengths differ).
func firstMismatch(_ a: [UInt32], _ b: [UInt32]) -> Int? {
  if a.count != b.count { return min(a.count, b.count) }
  return a.indices.first { a[$0] != b[$0] }
}

/// Runs `run` on Tier 0 and on every Tier 1 executor and expects the returned bits to be equal.
/// `run` must build fresh outputs (and fresh copies of in-place targets) each time.
func expectTiersBitwiseEqual(
  _ tiers: TierSet, _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
  _ run: (Compute) -> [UInt32]
) {
  let expected = run(tiers.reference)
  for compute in tiers.threaded {
    let actual = run(compute)
    let mismatch = firstMismatch(expected, actual)
    #expect(mismatch == nil,
            "\(what): threads(\(compute.threadCount)) differs from Tier 0 at \(mismatch ?? -1)",
            sourceLocation: sourceLocation)
  }
}

/// The central-difference gradient of `f` at `x`: `(f(x + h e_k) − f(x − h e_k)) / 2h` with
/// `h = 1e-5 · max(1, |x_k|)`, all in Double (truncation error ~h², rounding ~1e-16/h).
func centralDifferences(at x: [Double], _ f: ([Double]) -> Double) -> [Double] {
  var point = x
  return x.indices.map { k in
    let h = 1e-5 * max(1, abs(x[k]))
    point[k] = x[k] + h
    let up = f(point)
    point[k] = x[k] - h
    let down = f(point)
    point[k] = x[k]
    return (up - down) / (2 * h)
  }
}

/// True when `actual` is within `absolute + relative · |expected|` of `expected`.
func withinTolerance(_ actual: Double, _ expected: Double, absolute: Double, relative: Double) -> Bool {
  abs(actual - expected) <= absolute + relative * abs(expected)
}

/// Flattens rows.
func flattenRows(_ rows: [[Double]]) -> [Double] { rows.flatMap { $0 } }

/// Splits `values` into rows of `cols`.
func splitRows(_ values: [Double], cols: Int) -> [[Double]] {
  stride(from: 0, to: values.count, by: max(cols, 1)).map { Array(values[$0..<min($0 + cols, values.count)]) }
}

/// The bits of a Double as two words (high, low) for bit comparisons next to Float bits.
func doubleWords(_ value: Double) -> [UInt32] {
  [UInt32(truncatingIfNeeded: value.bitPattern >> 32), UInt32(truncatingIfNeeded: value.bitPattern)]
}
