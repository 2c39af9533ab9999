/// Softmax cross-entropy and accuracy on the executor (``CrossEntropyKernel``). Tier 1 splits
/// rows; the mean over rows is then summed on the calling thread in ascending row order.
extension Compute {
  /// Per-row losses into `losses`, `dlogits = (softmax − onehot) / batchCount` into
  /// `logitsGradient`, and the returned loss `Σ_i losses[i] / batchCount` (``CrossEntropyKernel``).
  ///
  /// `batchCount` defaults to `logits.rows` (the mean over this batch). `logitsGradient` may be
  /// the same view as `logits`.
  public func softmaxCrossEntropy(
    logits: Matrix, labels: UnsafeBufferPointer<Int32>, losses: UnsafeMutableBufferPointer<Float>,
    logitsGradient: Matrix, batchCount: Int? = nil
  ) -> Double {
    let divisor = batchCount ?? max(1, logits.rows)
    let job = CrossEntropyJob(
      logits: logits, labels: labels, losses: losses, logitsGradient: logitsGradient, batchCount: divisor)
    parallelRows(logits.rows, cols: logits.cols, job)
    return CrossEntropyKernel.meanLoss(losses, batchCount: divisor)
  }

  /// The loss only (validation): per-row losses into `losses` and `Σ_i losses[i] / batchCount`.
  /// The losses have the same bits as in
  /// ``softmaxCrossEntropy(logits:labels:losses:logitsGradient:batchCount:)``.
  public func softmaxCrossEntropyLoss(
    logits: Matrix, labels: UnsafeBufferPointer<Int32>, losses: UnsafeMutableBufferPointer<Float>,
    batchCount: Int? = nil
  ) -> Double {
    let divisor = batchCount ?? max(1, logits.rows)
    let job = CrossEntropyJob(
      logits: logits, labels: labels, losses: losses, logitsGradient: nil, batchCount: divisor)
    parallelRows(logits.rows, cols: logits.cols, job)
    return CrossEntropyKernel.meanLoss(losses, batchCount: divisor)
  }

  /// Each row's predicted class (lowest index wins ties; ``CrossEntropyKernel/argmax(_:into:rows:)``).
  public func argmaxRows(_ logits: Matrix, into predictions: UnsafeMutableBufferPointer<Int32>) {
    parallelRows(logits.rows, cols: logits.cols, ArgmaxJob(logits: logits, predictions: predictions))
  }

  /// How many rows' argmax equals their label (the numerator of accuracy).
  public func correctCount(logits: Matrix, labels: UnsafeBufferPointer<Int32>) -> Int {
    let job = CorrectCountJob(logits: logits, labels: labels)
    return parallelCount(count: logits.rows, grain: Compute.rowGrain(cols: logits.cols), job)
  }
}

private struct CrossEntropyJob: RangeJob {
  let logits: Matrix
  let labels: UnsafeBufferPointer<Int32>
  let losses: UnsafeMutableBufferPointer<Float>
  let logitsGradient: Matrix?
  let batchCount: Int

  func run(range: Range<Int>) {
    CrossEntropyKernel.lossAndGradient(
      logits, labels: labels, losses: losses, logitsGradient: logitsGradient, batchCount: batchCount,
      rows: range)
  }
}

private struct ArgmaxJob: RangeJob {
  let logits: Matrix
  let predictions: UnsafeMutableBufferPointer<Int32>
  func run(range: Range<Int>) { CrossEntropyKernel.argmax(logits, into: predictions, rows: range) }
}

private struct CorrectCountJob: CountingRangeJob {
  let logits: Matrix
  let labels: UnsafeBufferPointer<Int32>
  func count(range: Range<Int>) -> Int {
    CrossEntropyKernel.correctCount(logits, labels: labels, rows: range)
  }
}
