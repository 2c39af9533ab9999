/// Tier 0 softmax cross-entropy with integer labels, its gradient, and the accuracy count.
///
/// Logits are `rows × classes`; `labels[i]` (in `0..<classes`) is row `i`'s class. Rows are
/// independent, so Tier 1 splits rows; the mean over rows is a separate fixed-order reduction
/// (``meanLoss(_:batchCount:)``).
public enum CrossEntropyKernel {
  /// Per-row losses `losses[i] = logsumexp(logits[i, :]) − logits[i, labels[i]]` for the rows
  /// in `rows`, and, when `logitsGradient` is given, `dlogits = (softmax − onehot) / batchCount`.
  ///
  /// Per row, exactly (same steps 1–2 as ``SoftmaxKernel/forward(_:into:rows:)``):
  /// 1. `m` = the row maximum (first element, then replaced by any strictly greater one).
  /// 2. `e_j = Elementary.exp(x_j - m)` in `Float`; `s = +0 + Double(e_0) + ...` in `Double`,
  ///    ascending `j`.
  /// 3. `loss = Elementary.log(Float(s)) - (x_label - m)` in `Float` (this form keeps the loss
  ///    accurate when the logits are large).
  /// 4. Gradient: `p_j = e_j / Float(s)`, then `dlogits_j = (p_j - 1) / Float(batchCount)` for
  ///    `j == label` and `p_j / Float(batchCount)` otherwise.
  ///
  /// `logitsGradient` may be the same view as `logits`. `batchCount` is the number of rows the
  /// mean loss is taken over (normally `logits.rows`; larger when a batch is split).
  ///
  /// Rows with unit column stride compute step 2 a vector of lanes at a time (as
  /// ``SoftmaxKernel/forward(_:into:rows:)`` does): the same bits as
  /// ``scalarLossAndGradient(_:labels:losses:logitsGradient:batchCount:rows:)``.
  public static func lossAndGradient(
    _ logits: Matrix, labels: UnsafeBufferPointer<Int32>, losses: UnsafeMutableBufferPointer<Float>,
    logitsGradient: Matrix?, batchCount: Int, rows: Range<Int>
  ) {
    lossAndGradientRows(
      logits, labels: labels, losses: losses, logitsGradient: logitsGradient, batchCount: batchCount,
      rows: rows, vectorised: true)
  }

  /// The plain per-element form of ``lossAndGradient(_:labels:losses:logitsGradient:batchCount:rows:)``
  /// (`exp` one element at a time): the definition of its bits, kept as the reference the
  /// vectorised form is tested against.
  public static func scalarLossAndGradient(
    _ logits: Matrix, labels: UnsafeBufferPointer<Int32>, losses: UnsafeMutableBufferPointer<Float>,
    logitsGradient: Matrix?, batchCount: Int, rows: Range<Int>
  ) {
    lossAndGradientRows(
      logits, labels: labels, losses: losses, logitsGradient: logitsGradient, batchCount: batchCount,
      rows: rows, vectorised: false)
  }

  @inline(__always)
  static func lossAndGradientRows(
    _ logits: Matrix, labels: UnsafeBufferPointer<Int32>, losses: UnsafeMutableBufferPointer<Float>,
    logitsGradient: Matrix?, batchCount: Int, rows: Range<Int>, vectorised: Bool
  ) {
    checkArguments(logits, labels: labels, "softmaxCrossEntropy")
    KernelCheck.count(losses.count, logits.rows, "losses", "softmaxCrossEntropy")
    KernelCheck.range(rows, within: logits.rows, "softmaxCrossEntropy")
    precondition(batchCount >= 1, "softmaxCrossEntropy: batchCount must be positive")
    if let logitsGradient { KernelCheck.sameShape(logits, logitsGradient, "softmaxCrossEntropy") }
    let divisor = Float(batchCount)
    let logitsContiguous = vectorised && logits.colStride == 1
    for i in rows {
      let label = checkedLabel(labels, row: i, classes: logits.cols)
      let maximum = logitsContiguous
        ? SoftmaxKernel.rowMaximumContiguous(logits.rowPointer(i), count: logits.cols)
        : SoftmaxKernel.rowMaximum(logits, row: i)
      let labelLogit = logits[i, label]
      let total: Double
      if let gradient = logitsGradient {
        let gradientRow = gradient.rowPointer(i)
        let stride = gradient.colStride
        if logitsContiguous && stride == 1 {
          SoftmaxKernel.exponentiateShiftedContiguous(
            logits.rowPointer(i), maximum: maximum, into: gradientRow, count: logits.cols)
          var sum = 0.0
          for j in 0..<logits.cols { sum += Double(gradientRow[j]) }
          total = sum
        } else {
          total = SoftmaxKernel.exponentiateShifted(
            logits, row: i, maximum: maximum, into: gradientRow, stride: stride)
        }
        let sum = Float(total)
        for j in 0..<gradient.cols {
          let probability = gradientRow[j &* stride] / sum
          let target: Float = j == label ? 1 : 0
          gradientRow[j &* stride] = (probability - target) / divisor
        }
      } else if logitsContiguous {
        total = SoftmaxKernel.sumOfShiftedExponentialsContiguous(
          logits.rowPointer(i), maximum: maximum, count: logits.cols)
      } else {
        total = sumOfShiftedExponentials(logits, row: i, maximum: maximum)
      }
      losses[i] = Elementary.log(Float(total)) - (labelLogit - maximum)
    }
  }

  /// The mean loss: `(+0 + Double(losses[0]) + Double(losses[1]) + ...) / Double(batchCount)`,
  /// summed in ascending row order in `Double` (0 when there are no rows).
  public static func meanLoss(_ losses: UnsafeMutableBufferPointer<Float>, batchCount: Int) -> Double {
    guard !losses.isEmpty else { return 0 }
    precondition(batchCount >= 1, "meanLoss: batchCount must be positive")
    var total = 0.0
    for loss in losses { total += Double(loss) }
    return total / Double(batchCount)
  }

  /// The predicted class of each row in `rows`: the index of the row maximum, the *lowest*
  /// index winning ties (scan ascending, replace only on strictly greater). A NaN never wins
  /// unless it is in column 0, where nothing can replace it.
  public static func argmax(
    _ logits: Matrix, into predictions: UnsafeMutableBufferPointer<Int32>, rows: Range<Int>
  ) {
    precondition(logits.cols >= 1 || logits.rows == 0, "argmax: rows need at least one column")
    precondition(logits.cols <= Int(Int32.max), "argmax: too many columns for Int32")
    KernelCheck.count(predictions.count, logits.rows, "predictions", "argmax")
    KernelCheck.range(rows, within: logits.rows, "argmax")
    for i in rows { predictions[i] = Int32(rowArgmax(logits, row: i)) }
  }

  /// How many rows in `rows` have ``argmax(_:into:rows:)`` equal to their label.
  public static func correctCount(
    _ logits: Matrix, labels: UnsafeBufferPointer<Int32>, rows: Range<Int>
  ) -> Int {
    checkArguments(logits, labels: labels, "correctCount")
    KernelCheck.range(rows, within: logits.rows, "correctCount")
    var count = 0
    for i in rows where rowArgmax(logits, row: i) == checkedLabel(labels, row: i, classes: logits.cols) {
      count += 1
    }
    return count
  }

  @inline(__always)
  static func rowArgmax(_ logits: Matrix, row: Int) -> Int {
    let xRow = logits.rowPointer(row)
    let stride = logits.colStride
    var best = 0
    var bestValue = xRow[0]
    for j in 1..<logits.cols {
      let value = xRow[j &* stride]
      if value > bestValue {
        best = j
        bestValue = value
      }
    }
    return best
  }

  /// Step 2 without storing the exponentials (the loss-only path); same bits as storing them.
  @inline(__always)
  static func sumOfShiftedExponentials(_ logits: Matrix, row: Int, maximum: Float) -> Double {
    let xRow = logits.rowPointer(row)
    let stride = logits.colStride
    var total = 0.0
    for j in 0..<logits.cols { total += Double(Elementary.exp(xRow[j &* stride] - maximum)) }
    return total
  }

  static func checkArguments(
    _ logits: Matrix, labels: UnsafeBufferPointer<Int32>, _ operation: StaticString
  ) {
    precondition(logits.cols >= 1 || logits.rows == 0, "\(operation): rows need at least one class")
    KernelCheck.count(labels.count, logits.rows, "labels", operation)
  }

  @inline(__always)
  static func checkedLabel(_ labels: UnsafeBufferPointer<Int32>, row: Int, classes: Int) -> Int {
    let label = Int(labels[row])
    precondition(label >= 0 && label < classes, "label \(label) of row \(row) outside 0..<\(classes)")
    return label
  }
}
