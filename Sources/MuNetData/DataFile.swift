import Glibc

/// An open dataset file that is read in pieces, so a loader can check a header against the
/// file's size before it allocates anything whose size that header decides.
///
/// Use ``withFile(_:limits:_:)``; the descriptor is closed when the body returns or throws.
struct DataFile {
  let path: String
  /// The file's size in bytes at open time (checked against ``LoadLimits/fileBytesMax``).
  let byteCount: Int
  private let descriptor: Int32

  private init(path: String, descriptor: Int32, byteCount: Int) {
    self.path = path
    self.descriptor = descriptor
    self.byteCount = byteCount
  }

  /// Opens `path`, checks its size against `limits`, runs `body`, closes the file.
  static func withFile<Result>(
    _ path: String, limits: LoadLimits, _ body: (DataFile) throws(DataError) -> Result
  ) throws(DataError) -> Result {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw DataFile.systemError(path, step: "open") }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0 else { throw DataFile.systemError(path, step: "stat") }
    guard (info.st_mode & S_IFMT) == S_IFREG else {
      throw DataError(file: path, problem: .unreadable("not a regular file"))
    }
    let size = Int(info.st_size)
    guard size <= limits.fileBytesMax else {
      throw DataError(file: path, problem: .fileTooLarge(limitBytes: limits.fileBytesMax))
    }
    return try body(DataFile(path: path, descriptor: descriptor, byteCount: size))
  }

  /// Bytes `offset..<offset + count` of the file. The caller has checked `count` against the
  /// file size; a file that shrank meanwhile is reported as truncated.
  func read(offset: Int, count: Int) throws(DataError) -> [UInt8] {
    precondition(offset >= 0 && count >= 0, "DataFile.read: negative range")
    var failure: DataError?
    let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
      initialized = 0
      while initialized < count {
        let received = pread(
          descriptor, buffer.baseAddress! + initialized, count - initialized,
          off_t(offset + initialized))
        if received < 0 {
          if errno == EINTR { continue }
          failure = DataFile.systemError(path, step: "read")
          break
        }
        if received == 0 {
          failure = DataError(
            file: path,
            problem: .truncated(
              expectedBytes: offset + count,
              fileBytes: offset + initialized))
          break
        }
        initialized += received
      }
      if failure != nil {
        // Keep the buffer consistent: zero what was not read (the array is discarded anyway).
        buffer.baseAddress!.advanced(by: initialized).initialize(repeating: 0, count: count - initialized)
        initialized = count
      }
    }
    if let failure { throw failure }
    return bytes
  }

  /// The whole file (for text formats, whose size is already bounded by the limits).
  func readAll() throws(DataError) -> [UInt8] { try read(offset: 0, count: byteCount) }

  /// The first `min(count, byteCount)` bytes: enough to parse a header.
  func readPrefix(_ count: Int) throws(DataError) -> [UInt8] {
    try read(offset: 0, count: min(count, byteCount))
  }

  private static func systemError(_ path: String, step: String) -> DataError {
    let code = errno
    return DataError(
      file: path, problem: .unreadable("\(step) failed: \(String(cString: strerror(code))) (errno \(code))"))
  }
}

/// Overflow-checked products and size checks shared by the binary loaders.
enum DataChecks {
  /// The product of `dims` if every dim is positive and the product is at most
  /// `limits.elementsMax`; otherwise the matching ``DataError``.
  static func elementCount(_ dims: [Int], file: String, limits: LoadLimits) throws(DataError) -> Int {
    var product = 1
    for (axis, dim) in dims.enumerated() {
      guard dim > 0 else { throw DataError(file: file, problem: .zeroDimension(axis: axis)) }
      let (next, overflow) = product.multipliedReportingOverflow(by: dim)
      guard !overflow, next <= limits.elementsMax else {
        throw DataError(file: file, problem: .tooManyElements(dims: dims, limit: limits.elementsMax))
      }
      product = next
    }
    return product
  }

  /// Throws unless the file is exactly `expected` bytes long.
  static func requireSize(_ expected: Int, of file: DataFile) throws(DataError) {
    if file.byteCount < expected {
      throw DataError(
        file: file.path, problem: .truncated(expectedBytes: expected, fileBytes: file.byteCount))
    }
    if file.byteCount > expected {
      throw DataError(
        file: file.path, problem: .trailingBytes(expectedBytes: expected, fileBytes: file.byteCount))
    }
  }

  /// Checks that every label is in 0..<limits.classCountMax.
  static func checkLabels(_ labels: [Int32], file: String, limits: LoadLimits) throws(DataError) {
    for (index, label) in labels.enumerated() where label < 0 || Int(label) >= limits.classCountMax {
      throw DataError(
        file: file,
        problem: .badLabel(
          index: index, value: "\(label) is outside 0..<\(limits.classCountMax)"))
    }
  }

  /// "0x" and 8 hex digits.
  static func hex32(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
  }
}
