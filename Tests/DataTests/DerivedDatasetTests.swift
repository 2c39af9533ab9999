import Foundation
import MuNetData
import MuNetRuntime
import Testing

/// The stored values of example `index` of `dataset`, HWC, as Floats.
private func storedImage(_ dataset: Dataset, _ index: Int) -> [Float] {
  let shape = dataset.shape
  var values: [Float] = []
  for y in 0..<shape.height {
    for x in 0..<shape.width {
      for channel in 0..<shape.channels {
        values.append(dataset.storedValue(index, y: y, x: x, channel: channel))
      }
    }
  }
  return values
}

private func load(_ name: String) throws -> DatasetSplits {
  try DatasetRegistry.load(name, locations: repositoryLocations)
}

private func splitList(_ splits: DatasetSplits) -> [(String, Dataset)] {
  [("train", splits.train), ("validation", splits.validation), ("test", splits.test)]
}

/// The stored values of every example of `dataset` (uint8 storage only), example after example.
private func storedBytes(_ dataset: Dataset) -> [UInt8] {
  guard case .uint8(let values) = dataset.pixels else {
    Issue.record("\(dataset.metadata.name): expected uint8 pixels")
    return []
  }
  let elements = dataset.shape.elementCount
  return Array(values[(dataset.examples.lowerBound * elements)..<(dataset.examples.upperBound * elements)])
}

/// Expects `derived` to have the examples and labels of `base` (grey, uint8), with example
/// pixels related by `source(y, x)`: derived (y, x) = base at the returned (y, x) position.
private func expectMoved(
  _ derived: DatasetSplits, from base: DatasetSplits, source: (Int, Int) -> (Int, Int),
  sourceLocation: SourceLocation = #_sourceLocation
) {
  let (height, width) = (base.shape.height, base.shape.width)
  let sourcePositions = (0..<(height * width)).map { position in
    let (y, x) = source(position / width, position % width)
    return y * width + x
  }
  for ((name, moved), (_, original)) in zip(splitList(derived), splitList(base)) {
    let (movedBytes, originalBytes) = (storedBytes(moved), storedBytes(original))
    #expect(moved.count == original.count, "\(name)", sourceLocation: sourceLocation)
    var mismatches = 0
    for index in 0..<min(moved.count, original.count) {
      if moved.label(index) != original.label(index) { mismatches += 1 }
      let start = index * height * width
      for (position, sourcePosition) in sourcePositions.enumerated()
      where movedBytes[start + position] != originalBytes[start + sourcePosition] {
        mismatches += 1
      }
    }
    #expect(mismatches == 0, "\(name): \(mismatches) mismatches", sourceLocation: sourceLocation)
  }
}

/// One split of `images` (each `shape`) with labels `labels`, and the same as validation and test.
private func syntheticSplits(
  _ images: [[Float]], labels: [Int32], shape: ImageShape, classCount: Int
) -> DatasetSplits {
  let metadata = DatasetMetadata(name: "synthetic", source: "test", files: [], pixelMaximum: 1)
  let dataset = Dataset(
    metadata: metadata, shape: shape, classCount: classCount, pixels: .float(images.flatMap { $0 }),
    labels: labels)
  return DatasetSplits(train: dataset, validation: dataset, test: dataset, policy: .given)
}

private func syntheticUInt8Splits(_ image: [UInt8], shape: ImageShape) -> DatasetSplits {
  let metadata = DatasetMetadata(name: "synthetic", source: "test", files: [], pixelMaximum: 255)
  let dataset = Dataset(metadata: metadata, shape: shape, classCount: 1, pixels: .uint8(image), labels: [0])
  return DatasetSplits(train: dataset, validation: dataset, test: dataset, policy: .given)
}

private func derive(
  _ splits: DatasetSplits, _ transform: DatasetTransform
) throws(DataError) -> DatasetSplits {
  try DerivedDatasets.apply(transform, to: splits, part: "part", stepName: "step", wholeName: "whole")
}

@Suite struct DerivedDatasetTests {
  // MARK: Rotation

  @Test func rotationByZeroAndFullTurnsIsTheIdentity() throws {
    let base = try load("mnist-mini")
    for degrees in [0, 360, -360] {
      let rotated = try load("mnist-mini/rotated:\(degrees)")
      expectMoved(rotated, from: base) { ($0, $1) }
      #expect(rotated.name == "mnist-mini/rotated:\(degrees)")
      guard case .uint8 = rotated.train.pixels else {
        Issue.record("uint8 pixels must stay uint8")
        continue
      }
    }
  }

  @Test func quarterTurnsMovePixelsExactlyOnASquareImage() throws {
    let base = try load("mnist-mini")
    let last = base.shape.width - 1
    // Counter-clockwise as displayed: the top-right corner becomes the top-left one.
    expectMoved(try load("mnist-mini/rotated:90"), from: base) { y, x in (x, last - y) }
    expectMoved(try load("mnist-mini/rotated:-90"), from: base) { y, x in (last - x, y) }
    expectMoved(try load("mnist-mini/rotated:270"), from: base) { y, x in (last - x, y) }
    expectMoved(try load("mnist-mini/rotated:-180"), from: base) { y, x in (last - y, last - x) }
  }

  @Test func twoHalfTurnsGiveTheImageBack() throws {
    let base = try load("mnist-mini")
    expectMoved(try load("mnist-mini/rotated:180/rotated:180"), from: base) { ($0, $1) }
    // Two 45° turns are not exactly 90° (interpolation), but close: most pixels within 1/4 of
    // the range, and the image is not unchanged.
    let twice = try load("mnist-mini/rotated:45/rotated:45")
    let quarter = try load("mnist-mini/rotated:90")
    let a = storedImage(twice.test, 0)
    let b = storedImage(quarter.test, 0)
    let close = zip(a, b).filter { abs($0 - $1) <= 64 }.count
    #expect(close >= a.count * 9 / 10 && a != b)
  }

  @Test func cosineAndSineAreExactAtQuarterTurnsAndCloseElsewhere() {
    #expect(DerivedDatasets.rotationCosineSine(degrees: 0) == (1, 0))
    let quarter = DerivedDatasets.rotationCosineSine(degrees: 90)
    #expect(quarter.cosine == 0 && quarter.sine == 1)
    let half = DerivedDatasets.rotationCosineSine(degrees: -180)
    #expect(half.cosine == -1 && half.sine == 0)
    let threeQuarters = DerivedDatasets.rotationCosineSine(degrees: 270)
    #expect(threeQuarters.cosine == 0 && threeQuarters.sine == -1)
    let diagonal = DerivedDatasets.rotationCosineSine(degrees: 45)
    #expect(diagonal.cosine == diagonal.sine)
    for degrees in [1, 17, 30, 60, 89, 91, 135, 200, 301, 359, -1, -45, -359] {
      let (cosine, sine) = DerivedDatasets.rotationCosineSine(degrees: degrees)
      let radians = Double(degrees) * Double.pi / 180
      #expect(abs(Double(cosine) - Foundation.cos(radians)) < 2e-7, "cos \(degrees)")
      #expect(abs(Double(sine) - Foundation.sin(radians)) < 2e-7, "sin \(degrees)")
    }
  }

  /// An independent Double reference of the documented rotation (libm cos/sin).
  private func referenceRotation(_ image: [Float], height: Int, width: Int, degrees: Int) -> [Double] {
    let radians = Double(degrees) * Double.pi / 180
    let (c, s) = (Foundation.cos(radians), Foundation.sin(radians))
    let (cx, cy) = (Double(width - 1) / 2, Double(height - 1) / 2)
    func value(_ y: Int, _ x: Int) -> Double {
      y >= 0 && y < height && x >= 0 && x < width ? Double(image[y * width + x]) : 0
    }
    var output: [Double] = []
    for y in 0..<height {
      for x in 0..<width {
        let (dx, dy) = (Double(x) - cx, Double(y) - cy)
        let sx = cx + c * dx - s * dy
        let sy = cy + s * dx + c * dy
        let (x0, y0) = (Int(sx.rounded(.down)), Int(sy.rounded(.down)))
        let (fx, fy) = (sx - Double(x0), sy - Double(y0))
        let top = value(y0, x0) * (1 - fx) + value(y0, x0 + 1) * fx
        let bottom = value(y0 + 1, x0) * (1 - fx) + value(y0 + 1, x0 + 1) * fx
        output.append(top * (1 - fy) + bottom * fy)
      }
    }
    return output
  }

  @Test func floatRotationMatchesADoubleReference() throws {
    // A smooth-and-sharp test image, 9 x 12 (not square, odd and even sides).
    let (height, width) = (9, 12)
    var image: [Float] = []
    for y in 0..<height {
      for x in 0..<width { image.append(Float((y * 7 + x * 13) % 17) / 16) }
    }
    let shape = ImageShape(height: height, width: width)
    let splits = syntheticSplits([image], labels: [0], shape: shape, classCount: 1)
    for degrees in [30, -75, 123, 200] {
      let rotated = try derive(splits, .rotated(degrees: degrees))
      guard case .float(let values) = rotated.test.pixels else {
        Issue.record("float pixels must stay float")
        return
      }
      let reference = referenceRotation(image, height: height, width: width, degrees: degrees)
      let worst = zip(values, reference).map { abs(Double($0) - $1) }.max() ?? 0
      #expect(worst < 1e-5, "\(degrees)°: worst difference \(worst)")
    }
  }

  @Test func uint8RotationRoundsHalfwayValuesToEven() throws {
    // A 1 x 2 image turned 90°: the source points are half a pixel outside, so each output is
    // (a + b) / 2 × 1/2 — 2.5 for 5, 5 and 3.5 for 7, 7.
    let shape = ImageShape(height: 1, width: 2)
    let five = try derive(syntheticUInt8Splits([5, 5], shape: shape), .rotated(degrees: 90))
    let seven = try derive(syntheticUInt8Splits([7, 7], shape: shape), .rotated(degrees: 90))
    #expect(five.test.pixels == .uint8([2, 2]))
    #expect(seven.test.pixels == .uint8([4, 4]))
    let float = try derive(
      syntheticSplits([[5, 5]], labels: [0], shape: shape, classCount: 1), .rotated(degrees: 90))
    #expect(float.test.pixels == .float([2.5, 2.5]))
  }

  @Test func uint8RotationIsTheRoundedFloatRotation() throws {
    let base = try load("mnist-mini")
    let rotated = try load("mnist-mini/rotated:33")
    var floatImages: [[Float]] = []
    for index in 0..<10 { floatImages.append(storedImage(base.test, index)) }
    let floatSplits = syntheticSplits(
      floatImages, labels: Array(repeating: 0, count: 10), shape: base.shape, classCount: 1)
    let floatRotated = try derive(floatSplits, .rotated(degrees: 33))
    var mismatches = 0
    for index in 0..<10 {
      let expected = storedImage(floatRotated.test, index).map {
        min(max($0.rounded(.toNearestOrEven), 0), 255)
      }
      if storedImage(rotated.test, index) != expected { mismatches += 1 }
    }
    #expect(mismatches == 0)
    #expect(storedImage(rotated.test, 0) != storedImage(base.test, 0))
  }

  // MARK: Permutation

  @Test func permutationIsABijectionSharedByEverySplit() throws {
    let base = try load("mnist-mini")
    let permutation = DerivedDatasets.pixelPermutation(key: 1, shape: base.shape)
    #expect(permutation.sorted() == Array(0..<784))
    #expect(permutation != Array(0..<784))
    let width = base.shape.width
    let permuted = try load("mnist-mini/permuted:1")
    expectMoved(permuted, from: base) { y, x in
      let source = permutation[y * width + x]
      return (source / width, source % width)
    }
    #expect(permuted.name == "mnist-mini/permuted:1" && permuted.classCount == 10)
  }

  @Test func permutationDependsOnlyOnTheKeyAndTheImageSize() throws {
    let shape = ImageShape(height: 28, width: 28)
    let one = DerivedDatasets.pixelPermutation(key: 1, shape: shape)
    #expect(DerivedDatasets.pixelPermutation(key: 1, shape: shape) == one)
    let colour = ImageShape(height: 28, width: 28, channels: 3)
    #expect(DerivedDatasets.pixelPermutation(key: 1, shape: colour) == one)
    let zero = DerivedDatasets.pixelPermutation(key: 0, shape: shape)
    let two = DerivedDatasets.pixelPermutation(key: 2, shape: shape)
    #expect(zero != one && two != one && zero != two && zero != Array(0..<784))
    // Pixels that stay in place: about one per permutation, never most of them.
    #expect(zip(one, two).filter { $0 == $1 }.count < 20)
    let again = try load("mnist-mini/permuted:1")
    let first = try load("mnist-mini/permuted:1")
    #expect(again.train.pixels == first.train.pixels && again.test.pixels == first.test.pixels)
    let other = try load("mnist-mini/permuted:2")
    #expect(other.train.pixels != first.train.pixels)
  }

  // MARK: Class splits

  @Test func splitKeepsTheListedClassesRelabelledInOrder() throws {
    let base = try load("mnist-mini")
    for (name, classes) in [("split:0-1", [0, 1]), ("split:0,1", [0, 1]), ("split:7,2,4", [7, 2, 4])] {
      let split = try load("mnist-mini/" + name)
      #expect(split.classCount == classes.count && split.name == "mnist-mini/" + name)
      for ((splitName, derived), (_, original)) in zip(splitList(split), splitList(base)) {
        let histogram = original.labelHistogram()
        #expect(derived.labelHistogram() == classes.map { histogram[$0] }, "\(name) \(splitName)")
        // The kept examples, in order, with their pixels.
        let kept = (0..<original.count).filter { classes.contains(Int(original.label($0))) }
        #expect(derived.count == kept.count)
        var mismatches = 0
        for (index, source) in kept.enumerated() where index < derived.count {
          if derived.label(index) != Int32(classes.firstIndex(of: Int(original.label(source)))!) {
            mismatches += 1
          }
          if storedImage(derived, index) != storedImage(original, source) { mismatches += 1 }
        }
        #expect(mismatches == 0, "\(name) \(splitName)")
      }
    }
    let split = try load("mnist-mini/split:0-1")
    #expect((split.train.count, split.validation.count, split.test.count) == (202, 11, 65))
  }

  @Test func splitOfAPathAndOfTheRegisteredNameAgree() throws {
    let byName = try load("mnist-mini/split:2-3")
    let byPath = try DatasetRegistry.load(repositoryLocations.fixturesDirectory + "/mnist-mini/split:2-3")
    #expect(byPath.train.pixels == byName.train.pixels && byPath.test.pixels == byName.test.pixels)
    #expect(byPath.train.count == byName.train.count && byPath.classCount == 2)
  }

  // MARK: Chains

  @Test func transformsChainInOrder() throws {
    let base = try load("mnist-mini")
    let split = try load("mnist-mini/split:0-1")
    let last = base.shape.width - 1
    let chained = try load("mnist-mini/split:0-1/rotated:90")
    #expect(chained.name == "mnist-mini/split:0-1/rotated:90" && chained.classCount == 2)
    #expect(chained.train.metadata.source.hasSuffix(", then split:0-1, then rotated:90"))
    expectMoved(chained, from: split) { y, x in (x, last - y) }
    // Permuting then rotating is not rotating then permuting; each follows its own order.
    let width = base.shape.width
    let permutation = DerivedDatasets.pixelPermutation(key: 3, shape: base.shape)
    func permutedSource(_ y: Int, _ x: Int) -> (Int, Int) {
      let source = permutation[y * width + x]
      return (source / width, source % width)
    }
    let permuteThenRotate = try load("mnist-mini/permuted:3/rotated:90")
    expectMoved(permuteThenRotate, from: base) { y, x in permutedSource(x, last - y) }
    let rotateThenPermute = try load("mnist-mini/rotated:90/permuted:3")
    expectMoved(rotateThenPermute, from: base) { y, x in
      let (sourceY, sourceX) = permutedSource(y, x)
      return (sourceX, last - sourceY)
    }
    #expect(permuteThenRotate.test.pixels != rotateThenPermute.test.pixels)
  }

  // MARK: Names and errors

  @Test func namesSplitIntoTheLongestExistingBaseAndParts() throws {
    let existing: Set<String> = ["a", "a/b", "x:y"]
    let parsed = try #require(
      try DerivedDatasetName.parse("a/b/rotated:-5/split:0,2") { existing.contains($0) })
    #expect(parsed.base == "a/b")
    #expect(parsed.steps.map(\.transform) == [.rotated(degrees: -5), .split(classes: [0, 2])])
    #expect(parsed.steps.map(\.text) == ["rotated:-5", "split:0,2"])
    #expect(try DerivedDatasetName.parse("x:y") { existing.contains($0) } == nil)
    #expect(try DerivedDatasetName.parse("a/b") { existing.contains($0) } == nil)
    #expect(try DerivedDatasetName.parse("a/c") { existing.contains($0) } == nil)
    let missingBase = try #require(try DerivedDatasetName.parse("m/n/permuted:7") { _ in false })
    #expect(missingBase.base == "m/n" && missingBase.steps.map(\.transform) == [.permuted(key: 7)])
    let unknownBase = dataError { () throws(DataError) in
      try DatasetRegistry.load("no-such-set/rotated:5", locations: repositoryLocations)
    }
    guard case .unknownDataset? = unknownBase?.problem else {
      Issue.record("expected .unknownDataset, got \(String(describing: unknownBase))")
      return
    }
  }

  @Test func badPartsNameTheWholeNameAndThePart() {
    let cases: [(name: String, part: String)] = [
      ("mnist-mini/rotated:abc", "rotated:abc"),
      ("mnist-mini/split:3-3", "split:3-3"),
      ("mnist-mini/split:0-11", "split:0-11"),
      ("mnist-mini/unknown:1", "unknown:1"),
      ("mnist-mini/rotated:361", "rotated:361"),
      ("mnist-mini/rotated:+45", "rotated:+45"),
      ("mnist-mini/rotated:045", "rotated:045"),
      ("mnist-mini/rotated:", "rotated:"),
      ("mnist-mini/permuted:-1", "permuted:-1"),
      ("mnist-mini/permuted:1.5", "permuted:1.5"),
      ("mnist-mini/split:4", "split:4"),
      ("mnist-mini/split:1,1", "split:1,1"),
      ("mnist-mini/split:0-2,1", "split:0-2,1"),
      ("mnist-mini/split:5-3", "split:5-3"),
      ("mnist-mini/split:0-70000", "split:0-70000"),
      ("mnist-mini/split:0,,1", "split:0,,1"),
      ("mnist-mini/split:0-1/", ""),
      ("mnist-mini/typo/rotated:4", "typo"),
      ("mnist-mini/rotated:4/typo", "typo"),
    ]
    for (name, part) in cases {
      let error = dataError { () throws(DataError) in
        try DatasetRegistry.load(name, locations: repositoryLocations)
      }
      guard let error, case .badDerivedName(let found, let reason) = error.problem else {
        Issue.record("\(name): expected .badDerivedName, got \(String(describing: error))")
        continue
      }
      #expect(error.file == name && found == part, "\(name)")
      #expect(error.description.contains(name) && error.description.contains("'\(part)'") && !reason.isEmpty)
    }
  }

  @Test func aSplitThatLeavesASplitEmptyIsAnError() throws {
    let shape = ImageShape(height: 2, width: 2)
    let metadata = DatasetMetadata(name: "tiny", source: "test", files: [], pixelMaximum: 1)
    func dataset(_ labels: [Int32]) -> Dataset {
      Dataset(
        metadata: metadata, shape: shape, classCount: 4,
        pixels: .float([Float](repeating: 0.5, count: labels.count * 4)), labels: labels)
    }
    let splits = DatasetSplits(
      train: dataset([0, 1, 2, 3]), validation: dataset([2, 3]), test: dataset([0, 1, 2]), policy: .given)
    let error = dataError { () throws(DataError) in try derive(splits, .split(classes: [0, 1])) }
    guard let error, case .badDerivedName(let part, let reason) = error.problem else {
      Issue.record("expected .badDerivedName, got \(String(describing: error))")
      return
    }
    #expect(error.file == "whole" && part == "part" && reason.contains("validation"))
    let kept = try derive(splits, .split(classes: [3, 2]))
    #expect(kept.classCount == 2 && kept.validation.labelHistogram() == [1, 1] && kept.test.count == 1)
    #expect(kept.test.label(0) == 1)
  }
}
