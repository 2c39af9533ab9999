/// Height, width and channels of one image (stored row-major, channels last: HWC).
public struct ImageShape: Equatable, Hashable, Sendable, CustomStringConvertible {
  /// Rows.
  public let height: Int
  /// Columns.
  public let width: Int
  /// Values per pixel (1 for grey).
  public let channels: Int

  /// A shape with positive dimensions.
  public init(height: Int, width: Int, channels: Int = 1) {
    precondition(height > 0 && width > 0 && channels > 0, "ImageShape: dimensions must be positive")
    self.height = height
    self.width = width
    self.channels = channels
  }

  /// Values per image: height × width × channels.
  public var elementCount: Int { height * width * channels }

  /// "HxWxC".
  public var description: String { "\(height)x\(width)x\(channels)" }
}

/// The pixel values of every example of one loaded file, example after example, each HWC.
/// Arrays are shared copy-on-write, so slicing a ``Dataset`` never copies pixels.
public enum ImagePixels: Sendable, Equatable {
  case uint8([UInt8])
  case float([Float])

  /// Number of stored values.
  public var count: Int {
    switch self {
    case .uint8(let values): return values.count
    case .float(let values): return values.count
    }
  }
}

/// Where a dataset came from and how its stored values map to [-1, 1].
public struct DatasetMetadata: Sendable, Equatable {
  /// The registry name, or the path it was loaded from.
  public var name: String
  /// One line: where the data comes from (package, file), for `munet data list` and logs.
  public var source: String
  /// The files loaded, in the order train, validation, test.
  public var files: [String]
  /// The stored value that means "white": `pixelMaximum` maps to +1 and 0 to -1 by
  /// x / (pixelMaximum / 2) - 1, i.e. x / 127.5 - 1 for uint8 (as the reference code does) and
  /// x / 8 - 1 for optdigits' 0...16.
  public var pixelMaximum: Float

  /// Metadata; `pixelMaximum` must be positive.
  public init(name: String, source: String, files: [String], pixelMaximum: Float) {
    precondition(pixelMaximum > 0, "pixelMaximum must be positive")
    self.name = name
    self.source = source
    self.files = files
    self.pixelMaximum = pixelMaximum
  }
}

/// Labelled images: a contiguous range of the examples of one loaded file.
///
/// Example `i` of a dataset is example `examples.lowerBound + i` of the underlying storage, so
/// splits are O(1) slices that share the pixels. Labels are in 0..<``classCount``.
public struct Dataset: Sendable {
  /// Name, source and pixel scale.
  public let metadata: DatasetMetadata
  /// The shape of every image.
  public let shape: ImageShape
  /// Labels are in 0..<classCount.
  public let classCount: Int
  /// All pixels of the underlying file (not only this dataset's range).
  public let pixels: ImagePixels
  /// All labels of the underlying file.
  public let storageLabels: [Int32]
  /// This dataset's examples within the underlying file.
  public let examples: Range<Int>

  /// A dataset over all examples of `pixels` and `labels`. Needs consistent sizes and labels in
  /// 0..<classCount (loaders check these and throw ``DataError`` before calling this).
  public init(
    metadata: DatasetMetadata, shape: ImageShape, classCount: Int, pixels: ImagePixels, labels: [Int32]
  ) {
    precondition(pixels.count == labels.count * shape.elementCount, "Dataset: pixels and labels disagree")
    precondition(labels.allSatisfy { $0 >= 0 && Int($0) < classCount }, "Dataset: label out of range")
    self.init(
      metadata: metadata, shape: shape, classCount: classCount, pixels: pixels,
      storageLabels: labels, examples: 0..<labels.count)
  }

  private init(
    metadata: DatasetMetadata, shape: ImageShape, classCount: Int, pixels: ImagePixels,
    storageLabels: [Int32], examples: Range<Int>
  ) {
    self.metadata = metadata
    self.shape = shape
    self.classCount = classCount
    self.pixels = pixels
    self.storageLabels = storageLabels
    self.examples = examples
  }

  /// Number of examples.
  public var count: Int { examples.count }

  /// The label of example `index` (0..<count).
  public func label(_ index: Int) -> Int32 {
    precondition(index >= 0 && index < count, "Dataset.label: index \(index) out of 0..<\(count)")
    return storageLabels[examples.lowerBound + index]
  }

  /// Examples `range` (relative to this dataset) as a dataset sharing the same storage.
  public func slice(_ range: Range<Int>) -> Dataset {
    precondition(
      range.lowerBound >= 0 && range.upperBound <= count, "Dataset.slice: \(range) out of 0..<\(count)")
    let start = examples.lowerBound + range.lowerBound
    return Dataset(
      metadata: metadata, shape: shape, classCount: classCount, pixels: pixels,
      storageLabels: storageLabels, examples: start..<(start + range.count))
  }

  /// The same examples under another metadata (e.g. a registry name) or class count.
  public func relabelled(metadata: DatasetMetadata, classCount: Int) -> Dataset {
    precondition(classCount >= self.classCount, "Dataset.relabelled: cannot shrink the class count")
    return Dataset(
      metadata: metadata, shape: shape, classCount: classCount, pixels: pixels,
      storageLabels: storageLabels, examples: examples)
  }

  /// Number of examples of each class, indexed by label.
  public func labelHistogram() -> [Int] {
    var counts = [Int](repeating: 0, count: classCount)
    for index in examples { counts[Int(storageLabels[index])] += 1 }
    return counts
  }

  /// The stored value of one pixel of example `index`, as a Float (not scaled).
  public func storedValue(_ index: Int, y: Int, x: Int, channel: Int = 0) -> Float {
    precondition(index >= 0 && index < count, "Dataset.storedValue: index \(index) out of 0..<\(count)")
    precondition(
      y >= 0 && y < shape.height && x >= 0 && x < shape.width,
      "Dataset.storedValue: (\(y), \(x)) outside the image")
    precondition(channel >= 0 && channel < shape.channels, "Dataset.storedValue: bad channel \(channel)")
    let offset =
      (examples.lowerBound + index) * shape.elementCount
      + (y * shape.width + x) * shape.channels + channel
    switch pixels {
    case .uint8(let values): return Float(values[offset])
    case .float(let values): return values[offset]
    }
  }

  /// Example `index` scaled to [-1, 1] (x / (pixelMaximum / 2) - 1, see ``DatasetMetadata``)
  /// into `output[0..<shape.elementCount]`, HWC. Values above `pixelMaximum` give more than 1;
  /// the pipeline clips at the end, as the reference does.
  public func writeScaled(_ index: Int, to output: UnsafeMutablePointer<Float>) {
    precondition(index >= 0 && index < count, "Dataset.writeScaled: index \(index) out of 0..<\(count)")
    let elements = shape.elementCount
    let start = (examples.lowerBound + index) * elements
    let half = metadata.pixelMaximum / 2
    switch pixels {
    case .uint8(let values):
      values.withUnsafeBufferPointer { source in
        for offset in 0..<elements { output[offset] = Float(source[start + offset]) / half - 1 }
      }
    case .float(let values):
      values.withUnsafeBufferPointer { source in
        for offset in 0..<elements { output[offset] = source[start + offset] / half - 1 }
      }
    }
  }
}

/// The three splits of one task.
public struct DatasetSplits: Sendable {
  /// Training examples (shuffled and augmented by ``TaskData``).
  public let train: Dataset
  /// Validation examples (the score of a path).
  public let validation: Dataset
  /// Test examples (reported, never used for selection).
  public let test: Dataset
  /// How they were made from the files.
  public let policy: SplitPolicy

  /// Splits that agree in image shape and class count.
  public init(train: Dataset, validation: Dataset, test: Dataset, policy: SplitPolicy) {
    precondition(train.shape == validation.shape && train.shape == test.shape, "splits differ in image shape")
    precondition(
      train.classCount == validation.classCount && train.classCount == test.classCount,
      "splits differ in class count")
    self.train = train
    self.validation = validation
    self.test = test
    self.policy = policy
  }

  /// The name (from the train split's metadata).
  public var name: String { train.metadata.name }
  /// The image shape of every split.
  public var shape: ImageShape { train.shape }
  /// The class count of every split.
  public var classCount: Int { train.classCount }
}

/// How the train / validation / test splits are cut from a dataset's files. Every split is a
/// contiguous slice in file order (no shuffling), so splits are deterministic.
///
/// Percent boundaries are `round(count × percent / 100)` with ties to even (exact integer
/// arithmetic), the rounding of TFDS's percent slicing that the reference code uses.
public enum SplitPolicy: Sendable, Equatable, CustomStringConvertible {
  /// Separate train, validation and test files, used as they are.
  case given
  /// The reference default when a dataset has train and test but no validation:
  /// validation = the first `percent`% of train, train = the rest, test as given.
  case validationFromTrain(percent: Int)
  /// Train and validation but no test file: test = the first `percent`% of train, train = the
  /// rest, validation as given.
  case testFromTrain(percent: Int)
  /// One file only: test = the first `testPercent`%, validation = the next
  /// `validationPercent`%, train = the rest (the reference default is 5 and 5).
  case oneFile(testPercent: Int, validationPercent: Int)

  /// The reference code's default for a dataset with train and test: validation = 5% of train.
  public static let referenceDefault = SplitPolicy.validationFromTrain(percent: 5)
  /// The reference code's default for a dataset that is one file: test 5%, validation 5%.
  public static let referenceOneFile = SplitPolicy.oneFile(testPercent: 5, validationPercent: 5)

  /// The rule in words.
  public var description: String {
    switch self {
    case .given: return "train, validation and test files as given"
    case .validationFromTrain(let percent):
      return "validation = first \(percent)% of train, train = the rest, test as given"
    case .testFromTrain(let percent):
      return "test = first \(percent)% of train, train = the rest, validation as given"
    case .oneFile(let test, let validation):
      return "test = first \(test)%, validation = next \(validation)%, train = the rest"
    }
  }

  /// `count × percent / 100` rounded to the nearest integer, ties to even.
  public static func boundary(count: Int, percent: Int) -> Int {
    precondition(count >= 0 && percent >= 0 && percent <= 100, "SplitPolicy.boundary: bad arguments")
    let scaled = count * percent
    let quotient = scaled / 100
    let remainder = scaled % 100
    if remainder > 50 || (remainder == 50 && quotient % 2 == 1) { return quotient + 1 }
    return quotient
  }

  /// The example counts (train, validation, test) this policy gives for files with
  /// `trainFileCount` examples in the train (or only) file and the given validation and test
  /// file counts (nil when there is no such file).
  public func splitCounts(
    trainFileCount: Int, validationFileCount: Int?, testFileCount: Int?
  ) -> (train: Int, validation: Int, test: Int) {
    switch self {
    case .given:
      return (trainFileCount, validationFileCount ?? 0, testFileCount ?? 0)
    case .validationFromTrain(let percent):
      let validation = SplitPolicy.boundary(count: trainFileCount, percent: percent)
      return (trainFileCount - validation, validation, testFileCount ?? 0)
    case .testFromTrain(let percent):
      let test = SplitPolicy.boundary(count: trainFileCount, percent: percent)
      return (trainFileCount - test, validationFileCount ?? 0, test)
    case .oneFile(let testPercent, let validationPercent):
      let testEnd = SplitPolicy.boundary(count: trainFileCount, percent: testPercent)
      let validationEnd = SplitPolicy.boundary(
        count: trainFileCount, percent: testPercent + validationPercent)
      return (trainFileCount - validationEnd, validationEnd - testEnd, testEnd)
    }
  }
}

/// The images of one file as a loader returns them, before labels and splits are attached.
public struct LoadedImages: Sendable, Equatable {
  /// All values, image after image (HWC).
  public var pixels: ImagePixels
  /// Number of images.
  public var count: Int
  /// Shape of each image.
  public var shape: ImageShape
  /// The stored value for white (255 for uint8 files; see each loader for inferred values).
  public var pixelMaximum: Float

  /// Images whose value count is count × shape.elementCount.
  public init(pixels: ImagePixels, count: Int, shape: ImageShape, pixelMaximum: Float) {
    precondition(pixels.count == count * shape.elementCount, "LoadedImages: size mismatch")
    self.pixels = pixels
    self.count = count
    self.shape = shape
    self.pixelMaximum = pixelMaximum
  }
}
