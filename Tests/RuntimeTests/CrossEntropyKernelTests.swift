import Foundation
import MuNetRuntime
import MuNetTestSupport
import PropertyBased
import Testing

/// Double reference: softmax cross-entropy of one row.
func referenceCrossEntropy(_ row: [Double], label: Int) -> Double {
  let maximum = row.max()!
  let total = row.reduce(0) { $0 + Foundation.exp($1 - maximum) }
  return Foundation.log(total) + maximum - row[label]
}

/// Logits, labels and output buffers of one cross-entropy case.
struct CrossEntropyCase {
  let logits: HostMatrix
  let labels: [Int32]

  init(logits: HostMatrix, labels: [Int32]) {
    self.logits = logits
    self.labels = labels
  }

  init(
    rows: Int, classes: Int, seed: UInt64, range: ClosedRange<Float> = -6...6, layout: KernelLayout = .dense
  ) {
    var rng = SplitMix64(seed: seed)
    logits = HostMatrix(random: rows, classes, &rng, in: range, layout: layout)
    // Every third row takes a class at an end of the range.
    labels = (0..<rows).map { i in
      switch i % 3 {
      case 0: Int32(classes - 1)
      case 1: 0
      default: Int32(rng.below(classes))
      }
    }
  }

  func run(_ compute: Compute, batchCount: Int? = nil)
    -> (loss: Double, losses: HostBuffer, gradient: HostMatrix, lossOnly: Double, lossesOnly: HostBuffer)
  {
    let rows = logits.rows, classes = logits.cols
    let losses = HostBuffer(count: rows, fill: .nan)
    let gradient = HostMatrix(rows: rows, cols: classes, layout: logits.layout)
    let lossesOnly = HostBuffer(count: rows, fill: .nan)
    return labels.withUnsafeBufferPointer { labelBuffer in
      let loss = compute.softmaxCrossEntropy(
        logits: logits.matrix, labels: labelBuffer, losses: losses.buffer,
        logitsGradient: gradient.matrix, batchCount: batchCount)
      let lossOnly = compute.softmaxCrossEntropyLoss(
        logits: logits.matrix, labels: labelBuffer, losses: lossesOnly.buffer, batchCount: batchCount)
      return (loss, losses, gradient, lossOnly, lossesOnly)
    }
  }

  func predictions(_ compute: Compute) -> (argmax: [Int32], correct: Int) {
    var predicted = [Int32](repeating: -1, count: logits.rows)
    predicted.withUnsafeMutableBufferPointer { compute.argmaxRows(logits.matrix, into: $0) }
    let correct = labels.withUnsafeBufferPointer { compute.correctCount(logits: logits.matrix, labels: $0) }
    return (predicted, correct)
  }
}

@Suite struct CrossEntropyKernelTests {
  /// Losses against the Double reference: absolute 2e-6 + relative 1e-5 (a few ulp of log(s)
  /// and of `x_label − max`). The mean: relative 1e-6 (Double sum of Float losses). The
  /// loss-only path gives the same bits.
  @Test func lossesMatchDoubleReference() {
    let data = CrossEntropyCase(rows: 19, classes: 10, seed: 61, layout: .padded)
    let out = data.run(Compute(tier: .reference))
    var referenceTotal = 0.0
    for (i, row) in data.logits.doubles.enumerated() {
      let expected = referenceCrossEntropy(row, label: Int(data.labels[i]))
      referenceTotal += expected
      #expect(withinTolerance(Double(out.losses[i]), expected, absolute: 2e-6, relative: 1e-5), "row \(i)")
    }
    #expect(withinTolerance(out.loss, referenceTotal / 19, absolute: 0, relative: 1e-6))
    #expect(out.lossesOnly.bits == out.losses.bits)
    #expect(out.lossOnly.bitPattern == out.loss.bitPattern)
  }

  /// dlogits against central differences of the Double mean loss (divided by `batchCount`).
  /// Tolerance: absolute 1e-7 + relative 2e-5 (entries are p/B, O(0.01–0.1), good to a few ulp).
  @Test(arguments: [(1, 1, 1), (1, 4, 1), (3, 5, 3), (4, 3, 10)])
  func gradientMatchesCentralDifferences(rows: Int, classes: Int, batchCount: Int) {
    let data = CrossEntropyCase(rows: rows, classes: classes, seed: UInt64(62 + rows * classes))
    let out = data.run(Compute(tier: .reference), batchCount: batchCount)
    let numeric = centralDifferences(at: flattenRows(data.logits.doubles)) { point in
      let rowsD = splitRows(point, cols: classes)
      let total = rowsD.indices.reduce(0.0) {
        $0 + referenceCrossEntropy(rowsD[$1], label: Int(data.labels[$1]))
      }
      return total / Double(batchCount)
    }
    for (k, expected) in numeric.enumerated() {
      let actual = Double(out.gradient[k / classes, k % classes])
      #expect(withinTolerance(actual, expected, absolute: 1e-7, relative: 2e-5), "element \(k)")
    }
    let lossTotal = (0..<rows).reduce(0.0) { $0 + Double(out.losses[$1]) }
    #expect(out.loss.bitPattern == (lossTotal / Double(batchCount)).bitPattern)
  }

  /// The documented steps, written out here with `Elementary`, give the same bits.
  @Test func followsTheDocumentedOrder() {
    let data = CrossEntropyCase(rows: 6, classes: 33, seed: 63, range: -20...20, layout: .columnMajor)
    let out = data.run(Compute(tier: .reference))
    for i in 0..<6 {
      let label = Int(data.labels[i])
      var maximum = data.logits[i, 0]
      for j in 1..<33 where data.logits[i, j] > maximum { maximum = data.logits[i, j] }
      let exps = (0..<33).map { Elementary.exp(data.logits[i, $0] - maximum) }
      var total = 0.0
      for e in exps { total += Double(e) }
      let loss = Elementary.log(Float(total)) - (data.logits[i, label] - maximum)
      #expect(out.losses[i].bitPattern == loss.bitPattern)
      for j in 0..<33 {
        let p = exps[j] / Float(total)
        let expected = (j == label ? p - 1 : p) / Float(6)
        #expect(out.gradient[i, j].bitPattern == expected.bitPattern, "(\(i), \(j))")
      }
    }
  }

  /// Large logits stay finite; labels at both ends; a single class has zero loss and gradient.
  @Test func largeLogitsAndEdgeLabels() {
    let logits = HostMatrix([
      [1e30, 0, -1e30, 5],
      [1e30, 0, -1e30, 5],
      [88, 89, 1000, -1000],
      [88, 89, 1000, -1000],
      [-3e38, -3e38, -3e38, -3e38],
    ])
    let data = CrossEntropyCase(logits: logits, labels: [0, 3, 2, 3, 3])
    let out = data.run(Compute(tier: .threads, threadCount: 2))
    let expected: [Float] = [0, 1e30, 0, 2000, Float(Foundation.log(4.0))]
    for i in 0..<5 {
      #expect(out.losses[i].isFinite)
      #expect(withinTolerance(Double(out.losses[i]), Double(expected[i]), absolute: 1e-6, relative: 1e-6),
              "row \(i)")
      for j in 0..<4 { #expect(out.gradient[i, j].isFinite) }
    }
    #expect(out.gradient[3, 3] == -1 / Float(5))
    #expect(out.gradient[4, 0] == 0.25 / Float(5))

    let single = CrossEntropyCase(logits: HostMatrix([[3], [-1e30]]), labels: [0, 0])
    let singleOut = single.run(Compute(tier: .reference))
    #expect(singleOut.losses.values == [0, 0] && singleOut.loss == 0)
    #expect(singleOut.gradient.doubles == [[0], [0]])

    let empty = CrossEntropyCase(logits: HostMatrix(rows: 0, cols: 4), labels: [])
    #expect(empty.run(Compute(tier: .threads, threadCount: 3)).loss == 0)
    #expect(empty.predictions(Compute(tier: .threads, threadCount: 3)).correct == 0)
  }

  /// argmax: the lowest index wins ties; the count compares with labels.
  @Test func argmaxLowestIndexWinsTies() {
    let logits = HostMatrix([[1, 3, 3, 2], [5, 5, 5, 5], [-1, -2, -3, -1], [0, 0, 0, 7], [2, .nan, 9, 1]])
    let data = CrossEntropyCase(logits: logits, labels: [1, 0, 3, 3, 2])
    let result = data.predictions(Compute(tier: .reference))
    #expect(result.argmax == [1, 0, 0, 3, 2])
    #expect(result.correct == 4)
  }

  /// Tier 1 equals Tier 0 bitwise for thread counts {1, 2, 3, 4, 7} on random shapes.
  @Test func tier1MatchesTier0() async {
    let tiers = TierSet()
    await propertyCheck(
      count: 20, input: Gen.int(in: 0...250), Gen.int(in: 1...100), Gen<UInt64>.value()
    ) { rows, classes, seed in
      var rng = SplitMix64(seed: seed)
      let layout = KernelLayout.allCases[rng.below(3)]
      let data = CrossEntropyCase(rows: rows, classes: classes, seed: seed, range: -40...40, layout: layout)
      let batchCount = rows + rng.below(3)
      expectTiersBitwiseEqual(tiers, "crossEntropy \(rows)x\(classes) \(layout)") { compute in
        let out = data.run(compute, batchCount: max(1, batchCount))
        let predicted = data.predictions(compute)
        let lossBits = out.losses.bits + out.gradient.bits + doubleWords(out.loss)
        let lossOnlyBits = out.lossesOnly.bits + doubleWords(out.lossOnly)
        let predictionBits = predicted.argmax.map { UInt32(bitPattern: $0) } + [UInt32(predicted.correct)]
        return lossBits + lossOnlyBits + predictionBits
      }
    }
  }
}
