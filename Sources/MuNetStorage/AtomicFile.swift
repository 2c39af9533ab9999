import Glibc

/// A failed file operation: which file, which step, and the operating system's error.
public enum StorageError: Error, Equatable, Sendable, CustomStringConvertible {
  /// One step of reading or writing `target` failed; `file` is the path that step operated on
  /// (the target itself, its temporary file, or its directory) and `errorNumber` is `errno`.
  case system(target: String, step: FileStep, file: String, errorNumber: Int32)
  /// `target` holds more than `limitBytes` bytes.
  case fileTooLarge(target: String, limitBytes: Int)

  public var description: String {
    switch self {
    case .system(let target, let step, let file, let errorNumber):
      let reason = String(cString: strerror(errorNumber))
      let subject = file == target ? "" : " \(file)"
      return "\(target): \(step.rawValue)\(subject) failed: \(reason) (errno \(errorNumber))"
    case .fileTooLarge(let target, let limitBytes):
      return "\(target): file is larger than the limit of \(limitBytes) bytes"
    }
  }
}

/// The steps of ``AtomicFile/write(_:to:)``, ``readFile(_:limitBytes:)`` and the directory
/// operations of ``FileSystemAccess``, named for errors and for fault injection (``FileFaults``).
public enum FileStep: String, Sendable {
  case openTemporary = "open temporary file"
  case writeTemporary = "write temporary file"
  case syncTemporary = "fsync temporary file"
  case closeTemporary = "close temporary file"
  case rename = "rename temporary file over the target"
  case openDirectory = "open directory"
  case syncDirectory = "fsync directory"
  case createDirectory = "create directory"
  case open = "open"
  case stat = "stat"
  case read = "read"
  case remove = "remove"

  /// True for the steps that change the file system (everything but open, stat and read).
  public var isWrite: Bool {
    switch self {
    case .open, .stat, .read: false
    default: true
    }
  }
}

/// Whole-file writes that are atomic and durable: after a crash at any point the target holds
/// either its old content or the complete new content, never a mix or a truncated file.
///
/// Sequence: write the bytes to `<directory>/.<name>.tmp`, fsync it, close it, rename it over the
/// target (atomic within one file system), then fsync the directory so the rename itself is
/// durable. On failure the temporary file is removed (best effort) and the target is untouched.
/// There must be at most one writer per target at a time (the temporary name is fixed, so a
/// stale temporary file left by a crash is simply overwritten by the next write).
///
/// Every step asks ``FileFaults`` first whether to inject a fault (a test and audit facility,
/// inert unless a hook is installed).
public enum AtomicFile {
  /// Replaces the content of `path` with `bytes` atomically (see ``AtomicFile``).
  public static func write(_ bytes: [UInt8], to path: String) throws(StorageError) {
    let (directory, name) = splitPath(path)
    let temporary = directory + "/." + name + ".tmp"
    do throws(StorageError) {
      try writeAndSync(bytes, temporary: temporary, target: path)
      guard !FileFaults.fails(.rename, path), rename(temporary, path) == 0 else {
        throw systemError(path, .rename, temporary)
      }
    } catch {
      unlink(temporary)
      throw error
    }
    try syncDirectory(directory, target: path)
  }

  /// The temporary file path ``write(_:to:)`` uses for `path`.
  public static func temporaryPath(for path: String) -> String {
    let (directory, name) = splitPath(path)
    return directory + "/." + name + ".tmp"
  }

  private static func writeAndSync(
    _ bytes: [UInt8], temporary: String, target: String
  ) throws(StorageError) {
    let flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC
    let descriptor = FileFaults.fails(.openTemporary, target) ? -1 : open(temporary, flags, 0o644)
    guard descriptor >= 0 else { throw systemError(target, .openTemporary, temporary) }
    var failure: StorageError?
    if !writeAll(faulted(bytes, target: target), to: descriptor) {
      failure = systemError(target, .writeTemporary, temporary)
    } else if FileFaults.fails(.syncTemporary, target) || fsync(descriptor) != 0 {
      failure = systemError(target, .syncTemporary, temporary)
    }
    let closed = close(descriptor) == 0 && !FileFaults.fails(.closeTemporary, target)
    if let failure { throw failure }
    guard closed else { throw systemError(target, .closeTemporary, temporary) }
  }

  /// The bytes to write after an injected ``FileFault`` (nil: the write step itself fails).
  private static func faulted(_ bytes: [UInt8], target: String) -> [UInt8]? {
    switch FileFaults.fault(.writeTemporary, target) {
    case nil: return bytes
    case .fail(let errorNumber):
      errno = errorNumber
      return nil
    case .tear(let keptBytes): return Array(bytes.prefix(max(0, keptBytes)))
    case .flipBit(let bitIndex):
      guard !bytes.isEmpty else { return bytes }
      var flipped = bytes
      let bit = bitIndex.magnitude % UInt(8 * bytes.count)
      flipped[Int(bit / 8)] ^= UInt8(1) << (bit % 8)
      return flipped
    }
  }

  /// Writes every byte, retrying partial writes and EINTR. False (with errno set) on failure,
  /// or at once for nil (an injected failure, errno already set).
  private static func writeAll(_ bytes: [UInt8]?, to descriptor: Int32) -> Bool {
    guard let bytes else { return false }
    return bytes.withUnsafeBytes { buffer in
      var offset = 0
      while offset < buffer.count {
        let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
        if written < 0 {
          if errno == EINTR { continue }
          return false
        }
        offset += written
      }
      return true
    }
  }

  /// fsyncs `directory` (so entries created or renamed in it are durable).
  static func syncDirectory(_ directory: String, target: String) throws(StorageError) {
    let descriptor =
      FileFaults.fails(.openDirectory, target) ? -1 : open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else { throw systemError(target, .openDirectory, directory) }
    let synced = !FileFaults.fails(.syncDirectory, target) && fsync(descriptor) == 0
    let error = systemError(target, .syncDirectory, directory)
    close(descriptor)
    guard synced else { throw error }
  }

  /// (directory, file name) of `path`; the directory is "." for a bare name and "/" at the root.
  static func splitPath(_ path: String) -> (directory: String, name: String) {
    precondition(!path.isEmpty && !path.hasSuffix("/"), "not a file path: '\(path)'")
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let directory = slash == path.startIndex ? "/" : String(path[..<slash])
    return (directory, String(path[path.index(after: slash)...]))
  }
}

/// The whole content of the file at `path`. Throws ``StorageError/fileTooLarge(target:limitBytes:)``
/// when it holds more than `limitBytes` bytes (checked before and while reading, so a file that
/// grows meanwhile is caught too), and ``StorageError/system(target:step:file:errorNumber:)``
/// naming the step (open, stat, read) when the system refuses.
public func readFile(_ path: String, limitBytes: Int) throws(StorageError) -> [UInt8] {
  precondition(limitBytes >= 0, "readFile: negative limit")
  let descriptor = FileFaults.fails(.open, path) ? -1 : open(path, O_RDONLY | O_CLOEXEC)
  guard descriptor >= 0 else { throw systemError(path, .open, path) }
  defer { close(descriptor) }
  var info = stat()
  guard !FileFaults.fails(.stat, path), fstat(descriptor, &info) == 0 else {
    throw systemError(path, .stat, path)
  }
  guard Int(info.st_size) <= limitBytes else {
    throw StorageError.fileTooLarge(target: path, limitBytes: limitBytes)
  }
  var bytes = [UInt8](repeating: 0, count: min(limitBytes, Int(info.st_size)) + 1)
  var count = 0
  while true {
    if count == bytes.count {
      guard count <= limitBytes else {
        throw StorageError.fileTooLarge(target: path, limitBytes: limitBytes)
      }
      bytes.append(contentsOf: repeatElement(0, count: min(max(count, 4096), limitBytes + 1 - count)))
    }
    let received = FileFaults.fails(.read, path) ? -1 : bytes.withUnsafeMutableBytes { buffer in
      read(descriptor, buffer.baseAddress! + count, buffer.count - count)
    }
    if received < 0 {
      if errno == EINTR { continue }
      throw systemError(path, .read, path)
    }
    if received == 0 { break }
    count += received
  }
  bytes.removeLast(bytes.count - count)
  return bytes
}

/// A ``StorageError/system(target:step:file:errorNumber:)`` with the current `errno`.
private func systemError(_ target: String, _ step: FileStep, _ file: String) -> StorageError {
  .system(target: target, step: step, file: file, errorNumber: errno)
}
