import Glibc

/// The files of one dataset and their format.
///
/// Folder naming convention (what ``DatasetLoader/discover(_:)`` looks for). A split's files
/// are named by a split prefix: `train`; `validation`, `valid` or `val`; `test` or `t10k`
/// (the first name found wins, in that order). Per prefix P, one of:
/// - IDX: `P-images-idx3-ubyte` (or `P-images-idx4-ubyte`) with `P-labels-idx1-ubyte`;
/// - NPY: `P-images.npy` with `P-labels.npy`;
/// - CSV: `P.csv` (label in the last column).
/// A folder must have a train split; validation and test are optional. A folder without any
/// train file but with exactly one `*.csv` file is a one-file dataset.
///
/// A path to a single file is a one-file dataset: a CSV file, or an images file (IDX or NPY)
/// whose labels file has the same name with the last `images` replaced by `labels` (and, for
/// IDX, `idx3`/`idx4` by `idx1`), e.g. `foo-images.npy` + `foo-labels.npy`.
public struct DatasetFiles: Sendable, Equatable {
  /// How the files are encoded.
  public enum Format: Sendable, Equatable {
    case idx
    case npy
    /// CSV, with an image shape and pixel maximum if declared (else inferred, see ``CSVFormat``).
    case csv(shape: ImageShape?, pixelMaximum: Float?)
  }

  /// One split's files: images (and labels; CSV files hold both, so `labels` is nil).
  public struct Part: Sendable, Equatable {
    /// The images file (or the CSV file).
    public var images: String
    /// The labels file; nil for CSV.
    public var labels: String?

    /// A split's files.
    public init(images: String, labels: String?) {
      self.images = images
      self.labels = labels
    }
  }

  /// The encoding of every file.
  public var format: Format
  /// The train file, or the only file of a one-file dataset.
  public var train: Part
  /// The validation files, if the dataset has them.
  public var validation: Part?
  /// The test files, if the dataset has them.
  public var test: Part?

  /// Files of one dataset.
  public init(format: Format, train: Part, validation: Part? = nil, test: Part? = nil) {
    self.format = format
    self.train = train
    self.validation = validation
    self.test = test
  }

  /// The reference code's split rule for these files: given splits are used; a missing test or
  /// validation split is cut from the start of train, 5% each (test first).
  public var referencePolicy: SplitPolicy {
    switch (validation != nil, test != nil) {
    case (true, true): return .given
    case (false, true): return .validationFromTrain(percent: 5)
    case (true, false): return .testFromTrain(percent: 5)
    case (false, false): return .oneFile(testPercent: 5, validationPercent: 5)
    }
  }

  /// Every file path, in the order train, validation, test (images before labels).
  public var paths: [String] {
    [train, validation, test].compactMap { $0 }.flatMap { [$0.images] + ($0.labels.map { [$0] } ?? []) }
  }
}

/// Loads datasets from files and cuts their splits.
public enum DatasetLoader {
  /// Split prefixes in lookup order.
  static let trainPrefixes = ["train"]
  static let validationPrefixes = ["validation", "valid", "val"]
  static let testPrefixes = ["test", "t10k"]

  /// The dataset files at `path` (a folder or a file), following the naming convention of
  /// ``DatasetFiles``.
  public static func discover(_ path: String) throws(DataError) -> DatasetFiles {
    if FileSystem.isDirectory(path) { return try discoverFolder(path) }
    guard FileSystem.isFile(path) else {
      throw DataError(file: path, problem: .unknownDataset("no such file or folder"))
    }
    return try discoverFile(path)
  }

  /// Loads `files` and cuts them into splits by `policy` (default: the files' reference policy).
  /// The class count is `classCount` if given (it must exceed every label), else the largest
  /// label + 1 over all files.
  public static func load(
    _ files: DatasetFiles, name: String, source: String, policy: SplitPolicy? = nil, classCount: Int? = nil,
    limits: LoadLimits = .standard
  ) throws(DataError) -> DatasetSplits {
    let train = try loadPart(files.train, format: files.format, limits: limits)
    let validation = try files.validation.map { part throws(DataError) in
      try loadPart(part, format: files.format, limits: limits)
    }
    let test = try files.test.map { part throws(DataError) in
      try loadPart(part, format: files.format, limits: limits)
    }
    let parts = [train, validation, test].compactMap { $0 }
    for part in parts where part.images.shape != train.images.shape {
      throw DataError(
        file: part.path,
        problem: .badImageShape(
          "images are \(part.images.shape), but the train images are \(train.images.shape)"))
    }
    let labelMaximum = parts.map { $0.labels.max() ?? 0 }.max() ?? 0
    let classes = classCount ?? Int(labelMaximum) + 1
    if Int(labelMaximum) >= classes {
      throw DataError(
        file: name, problem: .badLabel(index: -1, value: "label \(labelMaximum) but only \(classes) classes"))
    }
    let metadata = DatasetMetadata(
      name: name, source: source, files: files.paths,
      pixelMaximum: parts.map(\.images.pixelMaximum).max() ?? 255)
    func dataset(_ part: LoadedPart) -> Dataset {
      Dataset(
        metadata: metadata, shape: part.images.shape, classCount: classes,
        pixels: part.images.pixels, labels: part.labels)
    }
    return try split(
      train: dataset(train), validation: validation.map(dataset), test: test.map(dataset),
      policy: policy ?? files.referencePolicy, name: name)
  }

  /// Discovers and loads the dataset at `path` with the reference split rule.
  public static func load(path: String, limits: LoadLimits = .standard) throws(DataError) -> DatasetSplits {
    let files = try discover(path)
    return try load(files, name: path, source: "files at \(path)", limits: limits)
  }

  /// Applies `policy`; the train split must not be empty.
  static func split(
    train: Dataset, validation: Dataset?, test: Dataset?, policy: SplitPolicy, name: String
  ) throws(DataError) -> DatasetSplits {
    let counts = policy.splitCounts(
      trainFileCount: train.count, validationFileCount: validation?.count,
      testFileCount: test?.count)
    let splits: DatasetSplits
    switch policy {
    case .given:
      guard let validation, let test else {
        throw DataError(file: name, problem: .emptySplit("the policy needs validation and test files"))
      }
      splits = DatasetSplits(train: train, validation: validation, test: test, policy: policy)
    case .validationFromTrain:
      guard let test else {
        throw DataError(file: name, problem: .emptySplit("the policy needs a test file"))
      }
      splits = DatasetSplits(
        train: train.slice(counts.validation..<train.count),
        validation: train.slice(0..<counts.validation), test: test, policy: policy)
    case .testFromTrain:
      guard let validation else {
        throw DataError(file: name, problem: .emptySplit("the policy needs a validation file"))
      }
      splits = DatasetSplits(
        train: train.slice(counts.test..<train.count), validation: validation,
        test: train.slice(0..<counts.test), policy: policy)
    case .oneFile:
      let validationEnd = counts.test + counts.validation
      splits = DatasetSplits(
        train: train.slice(validationEnd..<train.count),
        validation: train.slice(counts.test..<validationEnd),
        test: train.slice(0..<counts.test), policy: policy)
    }
    guard splits.train.count > 0 else {
      throw DataError(file: name, problem: .emptySplit("the train split is empty"))
    }
    return splits
  }

  // MARK: Loading one split

  struct LoadedPart {
    let path: String
    let images: LoadedImages
    let labels: [Int32]
  }

  static func loadPart(
    _ part: DatasetFiles.Part, format: DatasetFiles.Format, limits: LoadLimits
  ) throws(DataError) -> LoadedPart {
    let images: LoadedImages
    let labels: [Int32]
    switch format {
    case .csv(let shape, let pixelMaximum):
      (images, labels) = try CSVFormat.read(
        part.images, shape: shape, pixelMaximum: pixelMaximum, limits: limits)
      return LoadedPart(path: part.images, images: images, labels: labels)
    case .idx:
      images = try IDXFormat.readImages(part.images, limits: limits)
      labels = try IDXFormat.readLabels(try labelsPath(part), limits: limits)
    case .npy:
      images = try NPYFormat.readImages(part.images, limits: limits)
      labels = try NPYFormat.readLabels(try labelsPath(part), limits: limits)
    }
    guard images.count == labels.count else {
      throw DataError(
        file: try labelsPath(part), problem: .countMismatch(images: images.count, labels: labels.count))
    }
    return LoadedPart(path: part.images, images: images, labels: labels)
  }

  private static func labelsPath(_ part: DatasetFiles.Part) throws(DataError) -> String {
    guard let labels = part.labels else {
      throw DataError(file: part.images, problem: .unknownDataset("no labels file for these images"))
    }
    return labels
  }

  // MARK: Discovery

  private static func discoverFolder(_ folder: String) throws(DataError) -> DatasetFiles {
    var format: DatasetFiles.Format?
    func find(_ prefixes: [String]) throws(DataError) -> DatasetFiles.Part? {
      for prefix in prefixes {
        guard let (found, part) = try partNamed(prefix, in: folder) else { continue }
        if let format, format != found {
          throw DataError(file: part.images, problem: .unknownDataset("mixes formats with the other splits"))
        }
        format = found
        return part
      }
      return nil
    }
    if let train = try find(trainPrefixes) {
      let validation = try find(validationPrefixes)
      let test = try find(testPrefixes)
      return DatasetFiles(format: format!, train: train, validation: validation, test: test)
    }
    let csvFiles = FileSystem.list(folder).filter { $0.hasSuffix(".csv") }
    guard csvFiles.count == 1 else {
      throw DataError(
        file: folder,
        problem: .unknownDataset(
          "no train-images-idx3-ubyte, train-images.npy or train.csv (and not exactly one *.csv file)"))
    }
    return DatasetFiles(
      format: .csv(shape: nil, pixelMaximum: nil),
      train: .init(images: FileSystem.join(folder, csvFiles[0]), labels: nil))
  }

  /// The files of split `prefix` in `folder`, if any; an images file without its labels throws.
  private static func partNamed(
    _ prefix: String, in folder: String
  ) throws(DataError) -> (DatasetFiles.Format, DatasetFiles.Part)? {
    let candidates: [(DatasetFiles.Format, String, String?)] = [
      (.idx, "\(prefix)-images-idx3-ubyte", "\(prefix)-labels-idx1-ubyte"),
      (.idx, "\(prefix)-images-idx4-ubyte", "\(prefix)-labels-idx1-ubyte"),
      (.npy, "\(prefix)-images.npy", "\(prefix)-labels.npy"),
      (.csv(shape: nil, pixelMaximum: nil), "\(prefix).csv", nil),
    ]
    for (format, imagesName, labelsName) in candidates {
      let images = FileSystem.join(folder, imagesName)
      guard FileSystem.isFile(images) else { continue }
      guard let labelsName else { return (format, .init(images: images, labels: nil)) }
      let labels = FileSystem.join(folder, labelsName)
      guard FileSystem.isFile(labels) else {
        throw DataError(file: labels, problem: .unknownDataset("missing: the labels for \(imagesName)"))
      }
      return (format, .init(images: images, labels: labels))
    }
    return nil
  }

  private static func discoverFile(_ path: String) throws(DataError) -> DatasetFiles {
    if path.hasSuffix(".csv") {
      return DatasetFiles(
        format: .csv(shape: nil, pixelMaximum: nil), train: .init(images: path, labels: nil))
    }
    let (folder, name) = FileSystem.split(path)
    guard let range = name.ranges(of: "images").last else {
      throw DataError(
        file: path,
        problem: .unknownDataset(
          "a dataset file must be a .csv file or an images file whose name contains 'images'"))
    }
    var labelsName = name
    labelsName.replaceSubrange(range, with: "labels")
    let format: DatasetFiles.Format = name.hasSuffix(".npy") ? .npy : .idx
    if format == .idx {
      labelsName = labelsName.replacing("idx3", with: "idx1").replacing("idx4", with: "idx1")
    }
    let labels = FileSystem.join(folder, labelsName)
    guard FileSystem.isFile(labels) else {
      throw DataError(file: labels, problem: .unknownDataset("missing: the labels for \(name)"))
    }
    return DatasetFiles(format: format, train: .init(images: path, labels: labels))
  }
}

/// The few file-system queries the data module needs (Glibc; no Foundation in engine modules).
enum FileSystem {
  static func isDirectory(_ path: String) -> Bool { mode(path).map { $0 == S_IFDIR } ?? false }
  static func isFile(_ path: String) -> Bool { mode(path).map { $0 == S_IFREG } ?? false }

  private static func mode(_ path: String) -> mode_t? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return info.st_mode & S_IFMT
  }

  /// The names in `folder` (without "." and ".."), sorted by their UTF-8 bytes; empty if unreadable.
  static func list(_ folder: String) -> [String] {
    guard let directory = opendir(folder) else { return [] }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
      let name = withUnsafePointer(to: &entry.pointee.d_name) { pointer in
        pointer.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
  }

  static func join(_ folder: String, _ name: String) -> String {
    folder.hasSuffix("/") ? folder + name : folder + "/" + name
  }

  /// (folder, name) of a path; the folder is "." for a bare name.
  static func split(_ path: String) -> (String, String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let folder = slash == path.startIndex ? "/" : String(path[..<slash])
    return (folder, String(path[path.index(after: slash)...]))
  }

  /// The parent of an absolute path ("/" for "/").
  static func parent(_ path: String) -> String { split(path).0 }
}
