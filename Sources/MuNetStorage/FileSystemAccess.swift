import Glibc

/// The directory operations the engine needs (Glibc; no Foundation in engine modules).
public enum FileSystemAccess {
  /// Whether anything exists at `path`.
  public static func exists(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0
  }

  /// Whether `path` is a directory.
  public static func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
  }

  /// The names in `directory` (without "." and ".."), sorted by their UTF-8 bytes; empty if
  /// unreadable.
  public static func entries(_ directory: String) -> [String] {
    guard let handle = opendir(directory) else { return [] }
    defer { closedir(handle) }
    var names: [String] = []
    while let entry = readdir(handle) {
      let name = withUnsafePointer(to: &entry.pointee.d_name) { pointer in
        pointer.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
  }

  /// Creates `path` and any missing parents (mode 0755); the parent of each new directory is
  /// fsynced so the new entry survives a crash. Succeeds when it already is a directory.
  public static func makeDirectory(_ path: String) throws(StorageError) {
    if isDirectory(path) { return }
    let parent = parentDirectory(path)
    if parent != path && !isDirectory(parent) { try makeDirectory(parent) }
    let created = !FileFaults.fails(.createDirectory, path) && mkdir(path, 0o755) == 0
    guard created || (errno == EEXIST && isDirectory(path)) else {
      throw .system(target: path, step: .createDirectory, file: path, errorNumber: errno)
    }
    try AtomicFile.syncDirectory(parent, target: path)
  }

  /// Removes the file at `path` (best effort: a missing file is not an error; nor is an
  /// injected ``FileFault``, which leaves the file in place).
  public static func remove(_ path: String) {
    if FileFaults.fails(.remove, path) { return }
    unlink(path)
  }

  /// The directory holding `path` ("." for a bare name).
  public static func parentDirectory(_ path: String) -> String {
    var trimmed = Substring(path)
    while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
    guard let slash = trimmed.lastIndex(of: "/") else { return "." }
    return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
  }
}
