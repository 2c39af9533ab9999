/// A dataset file (or name) that cannot be loaded: which file, and what is wrong with it.
///
/// Every loader throws this for bad input, and checks a header *before* allocating anything
/// whose size the header decides, so a corrupt or hostile file gives this error, never a crash
/// or a huge allocation.
public struct DataError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The file (or dataset name or folder) the problem is in.
  public let file: String
  /// What is wrong.
  public let problem: DataProblem

  /// An error about `file`.
  public init(file: String, problem: DataProblem) {
    self.file = file
    self.problem = problem
  }

  /// "FILE: PROBLEM".
  public var description: String { "\(file): \(problem)" }
}

/// What is wrong with a dataset file. Byte counts and positions are those of the file on disk.
public enum DataProblem: Equatable, Sendable, CustomStringConvertible {
  /// The operating system refused to open, stat or read the file (its message).
  case unreadable(String)
  /// The file is larger than the loader's limit (``LoadLimits/fileBytesMax``).
  case fileTooLarge(limitBytes: Int)
  /// The file does not start with the expected magic number or signature.
  case badMagic(found: String, expected: String)
  /// The file ends inside its header.
  case truncatedHeader(neededBytes: Int, fileBytes: Int)
  /// A header field is invalid (e.g. an NPY header that is not a dict of descr/fortran_order/shape).
  case badHeader(String)
  /// The number of dimensions is not one the loader accepts (e.g. labels must be 1-D).
  case unsupportedRank(found: Int, expected: String)
  /// A dimension is zero.
  case zeroDimension(axis: Int)
  /// The product of the dimensions is larger than ``LoadLimits/elementsMax`` (or overflows).
  case tooManyElements(dims: [Int], limit: Int)
  /// The file is shorter than its header says.
  case truncated(expectedBytes: Int, fileBytes: Int)
  /// The file is longer than its header says.
  case trailingBytes(expectedBytes: Int, fileBytes: Int)
  /// NPY data stored in Fortran (column-major) order; munet reads C order only.
  case fortranOrder
  /// An NPY dtype this loader does not read.
  case unsupportedDtype(String)
  /// A CSV row has a different number of columns than the first row.
  case raggedRow(line: Int, columns: Int, expected: Int)
  /// A CSV field is not a number (or a pixel is negative or not finite).
  case badNumber(line: Int, column: Int, text: String)
  /// A pixel value (number `index` in file order) is negative or not finite.
  case badPixel(index: Int, value: String)
  /// A label is negative, not an integer, or not below ``LoadLimits/classCountMax``.
  case badLabel(index: Int, value: String)
  /// The images file and the labels file hold different numbers of examples.
  case countMismatch(images: Int, labels: Int)
  /// The pixel columns do not form the declared or an inferable (square) image shape.
  case badImageShape(String)
  /// A split the policy needs is missing, or the train split would be empty.
  case emptySplit(String)
  /// A registered dataset whose files are absent; `hint` says how to get them.
  case missing(hint: String)
  /// Neither a registered dataset name nor a dataset file or folder.
  case unknownDataset(String)
  /// A part of a derived dataset name (`BASE/rotated:DEG`, `/permuted:K`, `/split:CLASSES`) that
  /// is unknown or malformed, or that cannot apply to its base; the error's `file` is the whole name.
  case badDerivedName(part: String, reason: String)

  /// The problem in words.
  public var description: String {
    switch self {
    case .unreadable(let reason): return "cannot read: \(reason)"
    case .fileTooLarge(let limit): return "file is larger than the limit of \(limit) bytes"
    case .badMagic(let found, let expected): return "bad magic number \(found), expected \(expected)"
    case .truncatedHeader(let needed, let size):
      return "file ends inside its header (\(size) bytes, the header needs \(needed))"
    case .badHeader(let what): return "bad header: \(what)"
    case .unsupportedRank(let found, let expected): return "\(found) dimensions, expected \(expected)"
    case .zeroDimension(let axis): return "dimension \(axis) is zero"
    case .tooManyElements(let dims, let limit):
      return "shape \(dims) has more than \(limit) elements"
    case .truncated(let expected, let size):
      return "file is truncated: \(size) bytes, the header says \(expected)"
    case .trailingBytes(let expected, let size):
      return "file has \(size - expected) bytes after the \(expected) its header describes"
    case .fortranOrder: return "fortran_order is True; only C-order arrays are supported"
    case .unsupportedDtype(let dtype): return "unsupported dtype '\(dtype)'"
    case .raggedRow(let line, let columns, let expected):
      return "line \(line) has \(columns) columns, expected \(expected)"
    case .badNumber(let line, let column, let text):
      return "line \(line), column \(column): '\(text)' is not a valid value"
    case .badPixel(let index, let value): return "pixel value \(index) is invalid: \(value)"
    case .badLabel(let index, let value): return "label \(index) is invalid: \(value)"
    case .countMismatch(let images, let labels):
      return "\(images) images but \(labels) labels"
    case .badImageShape(let what): return "bad image shape: \(what)"
    case .emptySplit(let what): return "cannot make the splits: \(what)"
    case .missing(let hint): return "dataset files are missing. \(hint)"
    case .unknownDataset(let what): return "not a dataset: \(what)"
    case .badDerivedName(let part, let reason): return "bad derived-task part '\(part)': \(reason)"
    }
  }
}

/// Upper bounds every loader enforces before it allocates.
public struct LoadLimits: Sendable, Equatable {
  /// Largest file read (default 2 GiB: the full MNIST training images are 47 MB).
  public var fileBytesMax: Int
  /// Largest number of pixel values in one file (default 2^31).
  public var elementsMax: Int
  /// Labels must lie in 0..<classCountMax (default 65,536).
  public var classCountMax: Int

  /// Limits; the defaults are ``standard``.
  public init(fileBytesMax: Int = 1 << 31, elementsMax: Int = 1 << 31, classCountMax: Int = 1 << 16) {
    precondition(fileBytesMax >= 0 && elementsMax > 0 && classCountMax > 0, "LoadLimits: bad limits")
    self.fileBytesMax = fileBytesMax
    self.elementsMax = elementsMax
    self.classCountMax = classCountMax
  }

  /// The defaults.
  public static let standard = LoadLimits()
}
