/// The outcome of ``Compute/clipByGlobalNorm(_:maxNorm:)``.
public struct GlobalNormClip: Sendable, Equatable {
  /// The global L2 norm before clipping: `sumOfSquares.squareRoot()` in `Double`.
  public var norm: Double
  /// The factor every element was multiplied by (exactly 1 when nothing was clipped).
  public var scale: Float

  /// A result with the given norm and factor.
  public init(norm: Double, scale: Float) {
    self.norm = norm
    self.scale = scale
  }

  /// True when the gradients were scaled (the norm was above the limit, or not finite).
  public var clipped: Bool { scale != 1 }
}

/// Reductions on the executor. Tier 1 splits only independent outputs; the order of every sum
/// is the one documented on ``ReductionKernel``, whatever the thread count.
extension Compute {
  /// Partials of this many chunks are computed at once (kept on the stack: no heap allocation).
  static let partialChunksMax = 128

  /// `sums[j] = Σ_i x[i, j]` in ascending `i` with one `Float` accumulator per column, from the
  /// old value when `accumulate`, else +0 (``ReductionKernel/columnSums(_:into:accumulate:cols:)``).
  /// Tier 1 splits the columns.
  public func columnSums(
    _ x: Matrix, into sums: UnsafeMutableBufferPointer<Float>, accumulate: Bool = false
  ) {
    parallelColumns(x.cols, rows: x.rows, ColumnSumsJob(x: x, sums: sums, accumulate: accumulate))
  }

  /// `sums[i] = Σ_j x[i, j]` in ascending `j` in `Double`, rounded once
  /// (``ReductionKernel/rowSums(_:into:rows:)``). Tier 1 splits the rows.
  public func rowSums(_ x: Matrix, into sums: UnsafeMutableBufferPointer<Float>) {
    parallelRows(x.rows, cols: x.cols, RowSumsJob(x: x, sums: sums))
  }

  /// The sum of squares of one buffer, bitwise equal to ``ReductionKernel/sumOfSquares(_:)``.
  public func sumOfSquares(_ buffer: UnsafeMutableBufferPointer<Float>) -> Double {
    var total = 0.0
    addSumOfSquares(buffer, to: &total)
    return total
  }

  /// The sum of squares of several buffers, e.g. all gradients for a global norm.
  ///
  /// Order: `total = +0`; for each buffer in array order, for each of its chunks in ascending
  /// order, `total += ReductionKernel.chunkSumOfSquares(buffer, chunk)` in `Double`. (Chunks
  /// restart at each buffer; the result is the same as adding the per-buffer
  /// ``ReductionKernel/sumOfSquares(_:)`` chains one after the other, partial by partial.)
  /// Tier 1 computes the chunk partials in parallel and adds them in this order.
  public func sumOfSquares(_ buffers: [UnsafeMutableBufferPointer<Float>]) -> Double {
    var total = 0.0
    // Indexing rather than `for … in` over the array: the iterator allocates in debug builds.
    for index in buffers.indices { addSumOfSquares(buffers[index], to: &total) }
    return total
  }

  /// Scales `buffers` so that their global L2 norm is at most `maxNorm` (optax
  /// `clip_by_global_norm`): the norm from ``sumOfSquares(_:)-([UnsafeMutableBufferPointer<Float>])``,
  /// the factor from ``ReductionKernel/clipScale(sumOfSquares:maxNorm:)``, then every element
  /// multiplied by the factor (one rounding) unless it is exactly 1.
  @discardableResult
  public func clipByGlobalNorm(
    _ buffers: [UnsafeMutableBufferPointer<Float>], maxNorm: Float
  ) -> GlobalNormClip {
    let squares = sumOfSquares(buffers)
    let factor = ReductionKernel.clipScale(sumOfSquares: squares, maxNorm: maxNorm)
    if factor != 1 {
      for index in buffers.indices { scale(buffers[index], by: factor) }
    }
    return GlobalNormClip(norm: squares.squareRoot(), scale: factor)
  }

  /// Adds the chunk partials of `buffer` to `total` in ascending chunk order.
  private func addSumOfSquares(_ buffer: UnsafeMutableBufferPointer<Float>, to total: inout Double) {
    let chunkCount = ReductionKernel.chunkCount(elementCount: buffer.count)
    guard chunkCount > 0 else { return }
    if pool == nil || threadCount == 1 || chunkCount == 1 {
      for chunk in 0..<chunkCount { total += ReductionKernel.chunkSumOfSquares(buffer, chunk: chunk) }
      return
    }
    let batchMax = Compute.partialChunksMax
    withUnsafeTemporaryAllocation(of: Double.self, capacity: batchMax) { partials in
      var firstChunk = 0
      while firstChunk < chunkCount {
        let batch = min(batchMax, chunkCount - firstChunk)
        let job = ChunkSumsJob(buffer: buffer, firstChunk: firstChunk, partials: partials.baseAddress!)
        parallelFor(count: batch, job)
        for index in 0..<batch { total += partials[index] }
        firstChunk += batch
      }
    }
  }
}

private struct ColumnSumsJob: RangeJob {
  let x: Matrix, sums: UnsafeMutableBufferPointer<Float>, accumulate: Bool
  func run(range: Range<Int>) {
    ReductionKernel.columnSums(x, into: sums, accumulate: accumulate, cols: range)
  }
}

private struct RowSumsJob: RangeJob {
  let x: Matrix, sums: UnsafeMutableBufferPointer<Float>
  func run(range: Range<Int>) { ReductionKernel.rowSums(x, into: sums, rows: range) }
}

/// Partial `index` (chunk `firstChunk + index`) for each index in the range.
private struct ChunkSumsJob: RangeJob {
  let buffer: UnsafeMutableBufferPointer<Float>
  let firstChunk: Int
  let partials: UnsafeMutablePointer<Double>

  func run(range: Range<Int>) {
    for index in range {
      partials[index] = ReductionKernel.chunkSumOfSquares(buffer, chunk: firstChunk + index)
    }
  }
}
