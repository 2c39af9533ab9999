import Foundation
import MuNetData
import Testing

/// Label histograms of the committed fixtures, computed independently with Python from the
/// fixture files (scripts/data_convert.py summary and a slice of it) when they were made.
private let mnistMiniHistograms = (
  train: [93, 109, 95, 86, 101, 88, 89, 113, 83, 93], validation: [4, 7, 4, 7, 4, 4, 5, 4, 4, 7],
  test: [24, 41, 32, 24, 37, 29, 24, 34, 21, 34]
)
private let fashionMiniHistograms = (
  train: [99, 101, 81, 86, 90, 93, 95, 111, 100, 94], validation: [8, 3, 5, 6, 5, 7, 5, 4, 2, 5],
  test: [32, 35, 39, 24, 30, 27, 28, 29, 29, 27]
)
private let optdigitsHistograms = (
  train: [123, 127, 122, 128, 128, 128, 128, 126, 121, 127],
  validation: [17, 17, 19, 17, 19, 18, 17, 18, 19, 19],
  test: [38, 38, 36, 38, 34, 36, 36, 35, 34, 34]
)

@Suite struct DatasetRegistryTests {
  @Test func mnistMiniLoadsWithTheDocumentedSplits() throws {
    let splits = try DatasetRegistry.load("mnist-mini", locations: repositoryLocations)
    #expect(splits.policy == .validationFromTrain(percent: 5))
    #expect((splits.train.count, splits.validation.count, splits.test.count) == (950, 50, 300))
    #expect(splits.shape == ImageShape(height: 28, width: 28) && splits.classCount == 10)
    #expect(splits.train.labelHistogram() == mnistMiniHistograms.train)
    #expect(splits.validation.labelHistogram() == mnistMiniHistograms.validation)
    #expect(splits.test.labelHistogram() == mnistMiniHistograms.test)
    // Contiguous slices in file order: validation is file examples 0..<50, train 50..<1000.
    #expect(splits.validation.examples == 0..<50 && splits.train.examples == 50..<1000)
    #expect(splits.validation.label(0) == 5 && splits.validation.label(1) == 0)  // MNIST's first labels
    #expect(splits.test.label(0) == 7 && splits.test.label(1) == 2)
    // Pixel (14, 14) of the first training image is 240 (read with Python from the IDX file).
    #expect(splits.validation.storedValue(0, y: 14, x: 14) == 240)
    #expect(splits.train.metadata.pixelMaximum == 255 && splits.train.metadata.name == "mnist-mini")
  }

  @Test func fashionMiniLoadsWithTheDocumentedSplits() throws {
    let splits = try DatasetRegistry.load("fashion-mini", locations: repositoryLocations)
    #expect((splits.train.count, splits.validation.count, splits.test.count) == (950, 50, 300))
    #expect(splits.train.labelHistogram() == fashionMiniHistograms.train)
    #expect(splits.validation.labelHistogram() == fashionMiniHistograms.validation)
    #expect(splits.test.labelHistogram() == fashionMiniHistograms.test)
    #expect(splits.validation.storedValue(0, y: 14, x: 14) == 217)
  }

  @Test func optdigitsMiniUsesTheTwentyTenSplit() throws {
    let splits = try DatasetRegistry.load("optdigits-mini", locations: repositoryLocations)
    #expect(splits.policy == .oneFile(testPercent: 20, validationPercent: 10))
    #expect((splits.test.count, splits.validation.count, splits.train.count) == (359, 180, 1258))
    #expect(splits.test.examples == 0..<359 && splits.validation.examples == 359..<539)
    #expect(splits.train.labelHistogram() == optdigitsHistograms.train)
    #expect(splits.validation.labelHistogram() == optdigitsHistograms.validation)
    #expect(splits.test.labelHistogram() == optdigitsHistograms.test)
    #expect(splits.shape == ImageShape(height: 8, width: 8) && splits.train.metadata.pixelMaximum == 16)
    // Row 0 of digits.csv starts 0,0,5,13,9,1,0,0; 16 maps to +1 and 0 to -1 (x / 8 - 1).
    #expect(Array(scaledExample(splits.test, 0).prefix(8)) == [-1, -1, -0.375, 0.625, 0.125, -0.875, -1, -1])
  }

  @Test func splitBoundariesRoundToNearestEven() {
    #expect(SplitPolicy.boundary(count: 60000, percent: 5) == 3000)
    #expect(SplitPolicy.boundary(count: 1797, percent: 20) == 359)  // 359.4
    #expect(SplitPolicy.boundary(count: 1797, percent: 30) == 539)  // 539.1
    #expect(SplitPolicy.boundary(count: 10, percent: 5) == 0)  // 0.5, tie to even
    #expect(SplitPolicy.boundary(count: 30, percent: 5) == 2)  // 1.5, tie to even
    #expect(SplitPolicy.boundary(count: 19, percent: 5) == 1)  // 0.95
    let counts = SplitPolicy.oneFile(testPercent: 5, validationPercent: 5)
      .splitCounts(trainFileCount: 1797, validationFileCount: nil, testFileCount: nil)
    #expect(counts.test == 90 && counts.validation == 90 && counts.train == 1617)  // 89.85, 179.7
  }

  @Test func registeredListingMatchesTheLoadedSplits() throws {
    for dataset in DatasetRegistry.all where DatasetRegistry.isPresent(dataset, in: repositoryLocations) {
      let splits = try DatasetRegistry.load(dataset.name, locations: repositoryLocations)
      let listed = dataset.splitCounts
      #expect(
        (splits.train.count, splits.validation.count, splits.test.count)
          == (listed.train, listed.validation, listed.test), "\(dataset.name)")
      #expect(splits.shape == dataset.shape && splits.classCount == dataset.classCount, "\(dataset.name)")
    }
  }

  @Test func missingFetchedDataTellsTheUserToRunFetchData() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    let locations = DataLocations(dataDirectory: directory.path, fixturesDirectory: directory.path)
    let error = dataError { () throws(DataError) in try DatasetRegistry.load("mnist", locations: locations) }
    #expect(error?.file == directory.path + "/mnist/train-images-idx3-ubyte")
    guard case .missing(let hint)? = error?.problem else {
      Issue.record("expected .missing, got \(String(describing: error))")
      return
    }
    #expect(hint.contains("scripts/fetch-data") && hint.contains("MUNET_DATA_DIR"))
    let fixtureError = dataError { () throws(DataError) in
      try DatasetRegistry.load("mnist-mini", locations: locations)
    }
    guard case .missing(let fixtureHint)? = fixtureError?.problem else {
      Issue.record("expected .missing, got \(String(describing: fixtureError))")
      return
    }
    #expect(fixtureHint.contains("MUNET_FIXTURES_DIR"))
    let unknown = dataError { () throws(DataError) in
      try DatasetRegistry.load("no-such-set", locations: locations)
    }
    #expect(unknown?.file == "no-such-set")
    guard case .unknownDataset? = unknown?.problem else {
      Issue.record("expected .unknownDataset, got \(String(describing: unknown))")
      return
    }
  }

  @Test func locationsFromTheEnvironmentFindTheFixtures() {
    // Either MUNET_FIXTURES_DIR is set, or the repository is found from the current directory
    // or from the test binary (which lives under .build in this checkout).
    let locations = DataLocations.fromEnvironment()
    #expect(FileManager.default.fileExists(atPath: locations.fixturesDirectory + "/mnist-mini/SOURCE.md"))
  }
}

@Suite struct DatasetFolderTests {
  @Test func folderWithIDXTrainValidationAndTestIsGiven() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    let shape = ImageShape(height: 2, width: 2)
    for (prefix, count, label) in [("train", 6, Int32(1)), ("val", 2, Int32(2)), ("t10k", 3, Int32(0))] {
      try directory.write(
        "\(prefix)-images-idx3-ubyte",
        IDXFormat.encodeImages([UInt8](repeating: 9, count: count * 4), count: count, shape: shape))
      try directory.write(
        "\(prefix)-labels-idx1-ubyte", IDXFormat.encodeLabels([Int32](repeating: label, count: count)))
    }
    let splits = try DatasetRegistry.load(directory.path)
    #expect(splits.policy == .given)
    #expect((splits.train.count, splits.validation.count, splits.test.count) == (6, 2, 3))
    #expect(splits.classCount == 3 && splits.validation.label(0) == 2 && splits.test.label(2) == 0)
  }

  @Test func folderWithNPYTrainAndTestTakesValidationFromTrain() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    let count = 40
    let pixels = (0..<(count * 9)).map { UInt8($0 % 256) }
    let labels = (0..<count).map { Int64($0 % 4) }
    for prefix in ["train", "test"] {
      try directory.write(
        "\(prefix)-images.npy", NPYFormat.encode(descr: "|u1", shape: [count, 3, 3], data: pixels))
      try directory.write(
        "\(prefix)-labels.npy",
        NPYFormat.encode(descr: "<i8", shape: [count], data: littleEndianBytes(labels)))
    }
    let splits = try DatasetRegistry.load(directory.path)
    #expect(splits.policy == .validationFromTrain(percent: 5))
    #expect((splits.train.count, splits.validation.count, splits.test.count) == (38, 2, 40))
    #expect(splits.train.label(0) == 2)  // file example 2
    #expect(splits.train.storedValue(0, y: 0, x: 0) == 18)  // pixel 2 * 9
  }

  @Test func oneCSVFileUsesTheReferenceFiveFiveRule() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    let rows = (0..<40).map { "\($0 % 17),0,0,\($0 % 3),\($0 % 5)" }.joined(separator: "\n")
    let path = try directory.write("anything.csv", text: rows)
    let fromFolder = try DatasetRegistry.load(directory.path)
    let fromFile = try DatasetRegistry.load(path)
    for splits in [fromFolder, fromFile] {
      #expect(splits.policy == .oneFile(testPercent: 5, validationPercent: 5))
      #expect((splits.test.count, splits.validation.count, splits.train.count) == (2, 2, 36))
      #expect(splits.train.label(0) == 4 && splits.classCount == 5)
    }
  }

  @Test func singleImagesFileFindsItsLabels() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    let shape = ImageShape(height: 1, width: 1)
    let images = try directory.write(
      "x-images-idx3-ubyte", IDXFormat.encodeImages(Array(0..<20), count: 20, shape: shape))
    try directory.write("x-labels-idx1-ubyte", IDXFormat.encodeLabels((0..<20).map { Int32($0 % 2) }))
    let splits = try DatasetRegistry.load(images)
    #expect((splits.test.count, splits.validation.count, splits.train.count) == (1, 1, 18))
  }

  @Test func brokenFoldersGiveTypedErrors() throws {
    let directory = try ScratchDirectory()
    defer { directory.remove() }
    let empty = dataError { () throws(DataError) in try DatasetRegistry.load(directory.path) }
    #expect(empty?.file == directory.path)
    let shape = ImageShape(height: 2, width: 2)
    try directory.write(
      "train-images-idx3-ubyte",
      IDXFormat.encodeImages([UInt8](repeating: 0, count: 12), count: 3, shape: shape))
    let noLabels = dataError { () throws(DataError) in try DatasetRegistry.load(directory.path) }
    #expect(noLabels?.file == directory.path + "/train-labels-idx1-ubyte")
    let labels = try directory.write("train-labels-idx1-ubyte", IDXFormat.encodeLabels([0, 1]))
    #expect(
      dataError { () throws(DataError) in try DatasetRegistry.load(directory.path) }
        == DataError(file: labels, problem: .countMismatch(images: 3, labels: 2)))
    try directory.write("train-labels-idx1-ubyte", IDXFormat.encodeLabels([0, 1, 1]))
    let test = try directory.write(
      "test-images-idx3-ubyte",
      IDXFormat.encodeImages(
        [UInt8](repeating: 0, count: 9), count: 1, shape: ImageShape(height: 3, width: 3)))
    try directory.write("test-labels-idx1-ubyte", IDXFormat.encodeLabels([0]))
    #expect(
      dataError { () throws(DataError) in try DatasetRegistry.load(directory.path) }
        == DataError(file: test, problem: .badImageShape("images are 3x3x1, but the train images are 2x2x1")))
  }
}

@Suite(
  .enabled(
    if: FileManager.default.fileExists(atPath: repositoryRoot + "/data/mnist/SOURCE.md")
      && FileManager.default.fileExists(atPath: repositoryRoot + "/data/fashion-mnist/SOURCE.md")))
struct FetchedDataTests {
  @Test func fetchedMNISTHasTheKnownSizesAndLabelCounts() throws {
    let splits = try DatasetRegistry.load("mnist", locations: repositoryLocations)
    #expect((splits.train.count, splits.validation.count, splits.test.count) == (57000, 3000, 10000))
    // Original MNIST class counts (train 60k, test 10k); validation is the first 3000.
    let full = zip(splits.train.labelHistogram(), splits.validation.labelHistogram()).map { $0 + $1 }
    #expect(full == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    #expect(splits.test.labelHistogram() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    let fashion = try DatasetRegistry.load("fashion-mnist", locations: repositoryLocations)
    #expect(fashion.test.labelHistogram() == [Int](repeating: 1000, count: 10))
  }
}
