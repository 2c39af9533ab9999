import MuNetData
import MuNetRuntime
import Testing

private let mnistMini = try! DatasetRegistry.load("mnist-mini", locations: repositoryLocations)

private func taskData(
  seed: UInt64 = 42, batchSize: Int = 100, imageSize: Int = 28,
  augmentation: AugmentationParameters = .referenceDefault,
  evaluationBatchSize: Int? = nil, splits: DatasetSplits = mnistMini
) -> TaskData {
  TaskData(
    name: "mnist-mini", splits: splits, seed: StreamKey(seed: seed), batchSize: batchSize,
    imageSize: imageSize, augmentation: augmentation, evaluationBatchSize: evaluationBatchSize)
}

/// Training batch `step` as arrays.
private func trainBatch(
  _ data: TaskData, step: Int, compute: Compute? = nil
) -> (images: [Float], labels: [Int32]) {
  var images = [Float](repeating: .nan, count: data.batchSize * data.imageElementCount)
  var labels = [Int32](repeating: -1, count: data.batchSize)
  images.withUnsafeMutableBufferPointer { imageBuffer in
    labels.withUnsafeMutableBufferPointer { labelBuffer in
      data.trainBatch(step: step, images: imageBuffer, labels: labelBuffer, compute: compute)
    }
  }
  return (images, labels)
}

private func augmented(_ data: TaskData, index: Int, epoch: Int) -> [Float] {
  var output = [Float](repeating: .nan, count: data.imageElementCount)
  output.withUnsafeMutableBufferPointer { data.augmentedExample(index: index, epoch: epoch, into: $0) }
  return output
}

@Suite struct ShuffleTests {
  @Test func eachEpochIsAPermutationThatDependsOnSeedAndEpoch() {
    let data = taskData()
    let epoch0 = data.permutation(epoch: 0)
    let epoch1 = data.permutation(epoch: 1)
    #expect(epoch0.sorted() == Array(0..<950) && epoch1.sorted() == Array(0..<950))
    #expect(epoch0 != epoch1 && epoch0 != Array(0..<950))
    #expect(taskData(seed: 43).permutation(epoch: 0) != epoch0)
    #expect(taskData().permutation(epoch: 0) == epoch0, "a new pipeline with the same seed repeats the order")
    // Another task name shuffles differently.
    let other = TaskData(
      name: "other", splits: mnistMini, seed: StreamKey(seed: 42), batchSize: 100,
      imageSize: 28, augmentation: .none)
    #expect(other.permutation(epoch: 0) != epoch0)
    // Random access and the two-slot cache agree with a fresh computation.
    _ = data.permutation(epoch: 7)
    #expect(data.permutation(epoch: 0) == epoch0 && data.permutation(epoch: 1) == epoch1)
  }

  @Test func stepsWalkTheShuffledOrderAndWrapIntoTheNextEpoch() {
    let data = taskData(augmentation: .none)
    let epoch0 = data.permutation(epoch: 0)
    let epoch1 = data.permutation(epoch: 1)
    var seen: [Int32] = []
    for step in 0..<10 { seen += trainBatch(data, step: step).labels }
    // 10 steps of 100 = epoch 0's 950 examples, then epoch 1's first 50 (the last batch wraps).
    let expected = (epoch0 + epoch1.prefix(50)).map { mnistMini.train.label($0) }
    #expect(seen == expected)
    #expect(data.trainExample(atPosition: 949) == (0, epoch0[949]))
    #expect(data.trainExample(atPosition: 950) == (1, epoch1[0]))
  }

  @Test func batchesLargerThanTheTrainSplitSpanSeveralEpochs() {
    let tiny = try! DatasetRegistry.load("optdigits-mini", locations: repositoryLocations)
    let splits = DatasetSplits(
      train: tiny.train.slice(0..<3), validation: tiny.validation, test: tiny.test,
      policy: tiny.policy)
    let data = TaskData(
      name: "tiny", splits: splits, seed: StreamKey(seed: 1), batchSize: 8, imageSize: 8,
      augmentation: .none)
    let labels = trainBatch(data, step: 0).labels
    let expected = (0..<8).map { position in
      splits.train.label(data.permutation(epoch: position / 3)[position % 3])
    }
    #expect(labels == expected)
  }
}

@Suite struct AugmentationTests {
  @Test func anExampleIsTheSameAloneOrInABatchOnAnyThreadCount() {
    let parameters = AugmentationParameters(
      crop: true, areaRangeMin: 0.05, aspectRatioRangeMin: 0.5,
      flipLeftRight: true, brightnessDelta: 0.1, contrastDelta: 0.2)
    let data = taskData(batchSize: 12, imageSize: 16, augmentation: parameters)
    let step = 80  // positions 960..<972: epoch 1
    let reference = trainBatch(data, step: step)
    for threads in [1, 2, 3, 4, 7] {
      let batch = trainBatch(data, step: step, compute: Compute(tier: .threads, threadCount: threads))
      #expect(batch.images.map(\.bitPattern) == reference.images.map(\.bitPattern), "threads \(threads)")
      #expect(batch.labels == reference.labels)
    }
    for slot in 0..<12 {
      let (epoch, index) = data.trainExample(atPosition: step * 12 + slot)
      let alone = augmented(data, index: index, epoch: epoch)
      let inBatch = Array(
        reference.images[(slot * data.imageElementCount)..<((slot + 1) * data.imageElementCount)])
      #expect(alone.map(\.bitPattern) == inBatch.map(\.bitPattern), "slot \(slot)")
    }
    // A different batch size puts the same example in another slot of another step: same values.
    let other = taskData(batchSize: 5, imageSize: 16, augmentation: parameters)
    let (epoch, index) = other.trainExample(atPosition: 962)
    let slot = 962 % 5
    let otherBatch = trainBatch(other, step: 962 / 5).images
    #expect(
      Array(otherBatch[(slot * 256)..<((slot + 1) * 256)]) == augmented(data, index: index, epoch: epoch))
  }

  @Test func augmentationDiffersAcrossEpochsAndSeeds() {
    let data = taskData(imageSize: 20)
    for index in 0..<10 {
      #expect(
        augmented(data, index: index, epoch: 0) != augmented(data, index: index, epoch: 1), "example \(index)"
      )
      #expect(
        augmented(data, index: index, epoch: 0)
          != augmented(taskData(seed: 7, imageSize: 20), index: index, epoch: 0))
      #expect(augmented(data, index: index, epoch: 3) == augmented(data, index: index, epoch: 3))
    }
  }

  @Test func withoutAugmentationATrainExampleIsTheScaledImage() {
    let data = taskData(augmentation: .none)
    for index in [0, 17, 949] {
      let scaled = scaledExample(mnistMini.train, index)
      #expect(augmented(data, index: index, epoch: 2).map(\.bitPattern) == scaled.map(\.bitPattern))
      #expect(scaled.allSatisfy { $0 >= -1 && $0 <= 1 })
    }
    // uint8 scaling is x / 127.5 - 1: 0 -> -1, 255 -> 1, 240 -> 0.88235295.
    let value = mnistMini.validation.storedValue(0, y: 14, x: 14)
    #expect(value == 240 && scaledExample(mnistMini.validation, 0)[14 * 28 + 14] == Float(240) / 127.5 - 1)
  }

  @Test func brightnessAddsTheDocumentedShift() {
    let delta: Float = 0.2
    let parameters = AugmentationParameters(
      crop: false, areaRangeMin: 1, aspectRatioRangeMin: 1,
      flipLeftRight: false, brightnessDelta: delta)
    let data = taskData(augmentation: parameters)
    var shifts: Set<Float> = []
    for index in 0..<10 {
      // The documented draw: u from the example's "brightness" stream, shift = u * 2δ - δ.
      var stream = data.exampleKey(index: index, epoch: 0).child("brightness").stream
      let shift = stream.nextFloat() * (delta + delta) + (-delta)
      #expect(shift >= -delta && shift < delta)
      shifts.insert(shift)
      let expected = scaledExample(mnistMini.train, index).map { min(max($0 + shift, -1), 1) }
      #expect(augmented(data, index: index, epoch: 0).map(\.bitPattern) == expected.map(\.bitPattern))
    }
    #expect(shifts.count == 10, "each example draws its own shift")
  }

  @Test func contrastScalesAroundTheMeanByTheDocumentedFactor() {
    let delta: Float = 0.3
    let parameters = AugmentationParameters(
      crop: false, areaRangeMin: 1, aspectRatioRangeMin: 1,
      flipLeftRight: false, contrastDelta: delta)
    let data = taskData(augmentation: parameters)
    for index in 0..<5 {
      var stream = data.exampleKey(index: index, epoch: 4).child("contrast").stream
      let factor = stream.nextFloat() * ((1 + delta) - (1 - delta)) + (1 - delta)
      let scaled = scaledExample(mnistMini.train, index)
      let mean = Float(scaled.reduce(0.0) { $0 + Double($1) } / Double(scaled.count))
      let expected = scaled.map { min(max(($0 - mean) * factor + mean, -1), 1) }
      #expect(augmented(data, index: index, epoch: 4).map(\.bitPattern) == expected.map(\.bitPattern))
    }
  }

  @Test func flipFollowsTheDocumentedDraw() {
    let flipOnly = AugmentationParameters(
      crop: false, areaRangeMin: 1, aspectRatioRangeMin: 1, flipLeftRight: true)
    let data = taskData(augmentation: flipOnly)
    var flips = 0
    for index in 0..<40 {
      var stream = data.exampleKey(index: index, epoch: 0).child("flip").stream
      let flip = stream.nextFloat() > 0.5
      flips += flip ? 1 : 0
      let scaled = scaledExample(mnistMini.train, index)
      let expected = flip ? (0..<28).flatMap { y in (0..<28).map { x in scaled[y * 28 + 27 - x] } } : scaled
      #expect(augmented(data, index: index, epoch: 0) == expected)
    }
    #expect(flips > 8 && flips < 32, "about half flip, got \(flips) of 40")
  }

  @Test func cropTakesTheDocumentedBoxThenResizes() {
    let cropOnly = AugmentationParameters(
      crop: true, areaRangeMin: 0.1, aspectRatioRangeMin: 0.5, flipLeftRight: false)
    let data = taskData(imageSize: 12, augmentation: cropOnly)
    for index in 0..<5 {
      var stream = data.exampleKey(index: index, epoch: 1).child("crop").stream
      let box = DistortedCrop.sample(
        height: 28, width: 28, areaMin: 0.1, aspectRatioMin: 0.5, aspectRatioMax: 2,
        stream: &stream)
      let scaled = scaledExample(mnistMini.train, index)
      let crop = (0..<box.height).flatMap { y in
        (0..<box.width).map { x in scaled[(box.y + y) * 28 + box.x + x] }
      }
      let expected = BilinearResize.resized(
        crop, height: box.height, width: box.width, outputHeight: 12, outputWidth: 12
      )
      .map { min(max($0, -1), 1) }
      #expect(augmented(data, index: index, epoch: 1) == expected, "box \(box)")
    }
  }

  @Test func everyOutputIsClippedToMinusOneOne() {
    let parameters = AugmentationParameters(
      crop: true, areaRangeMin: 0.01, aspectRatioRangeMin: 0.25,
      flipLeftRight: true, brightnessDelta: 0.2, contrastDelta: 0.2)
    let data = taskData(batchSize: 64, imageSize: 32, augmentation: parameters)
    for step in 0..<3 {
      #expect(trainBatch(data, step: step).images.allSatisfy { $0 >= -1 && $0 <= 1 })
    }
  }
}

@Suite struct EvaluationBatchTests {
  @Test func evaluationBatchesAreInFileOrderWithAPartialLastBatch() {
    let data = taskData(batchSize: 16, imageSize: 14, evaluationBatchSize: 128)
    #expect(data.evaluationBatchCount(.test) == 3 && data.evaluationBatchCount(.validation) == 1)
    var images = [Float](repeating: .nan, count: 128 * data.imageElementCount)
    var labels = [Int32](repeating: -1, count: 128)
    var allLabels: [Int32] = []
    var sizes: [Int] = []
    for batch in 0..<3 {
      let size = images.withUnsafeMutableBufferPointer { imageBuffer in
        labels.withUnsafeMutableBufferPointer { labelBuffer in
          data.evaluationBatch(
            .test, batch: batch, images: imageBuffer, labels: labelBuffer,
            compute: Compute(tier: .threads, threadCount: 2))
        }
      }
      sizes.append(size)
      allLabels += labels.prefix(size)
      // Example 0 of the batch is test example batch * 128, scaled and resized 28 -> 14.
      let expected = BilinearResize.resized(
        scaledExample(mnistMini.test, batch * 128), height: 28, width: 28,
        outputHeight: 14, outputWidth: 14
      ).map { min(max($0, -1), 1) }
      #expect(Array(images.prefix(196)) == expected)
    }
    #expect(sizes == [128, 128, 44])
    #expect(allLabels == (0..<300).map { mnistMini.test.label($0) })
  }

  @Test func optdigitsScalesSixteenGreyLevelsAndResizes() throws {
    let splits = try DatasetRegistry.load("optdigits-mini", locations: repositoryLocations)
    let data = TaskData(
      name: "optdigits-mini", splits: splits, seed: StreamKey(seed: 0), batchSize: 4,
      imageSize: 16, augmentation: .none)
    var images = [Float](repeating: .nan, count: 4 * 256)
    var labels = [Int32](repeating: -1, count: 4)
    let size = images.withUnsafeMutableBufferPointer { imageBuffer in
      labels.withUnsafeMutableBufferPointer {
        data.evaluationBatch(.validation, batch: 0, images: imageBuffer, labels: $0)
      }
    }
    #expect(size == 4 && labels == (0..<4).map { splits.validation.label($0) })
    #expect(images.allSatisfy { $0 >= -1 && $0 <= 1 })
    #expect(images.min() == -1 && images.max()! > 0.5)  // background 0 -> -1; strokes up to 16 -> 1
  }
}
