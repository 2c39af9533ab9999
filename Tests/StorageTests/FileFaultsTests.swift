import Foundation
import MuNetStorage
import Testing

// The fault-injection point of the file layer (FileFaults): each injected fault does what it
// says, at the step it names, and only to the files its hook selects (other tests write files
// concurrently in this process).

private func scratchDirectory() throws -> String {
  let path = NSTemporaryDirectory() + "munet-file-faults-" + UUID().uuidString
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}

/// A hook injecting `fault` into `step` of `target` only.
private func only(_ step: FileStep, of target: String, _ fault: FileFault) -> FileFaults.Hook {
  { candidate, path in candidate == step && path == target ? fault : nil }
}

private let writeSteps: [FileStep] = [
  .openTemporary, .writeTemporary, .syncTemporary, .closeTemporary, .rename, .openDirectory, .syncDirectory,
]

@Test(arguments: writeSteps)
func aFailingWriteStepThrowsItAndLeavesTheOldContentOrTheNew(step: FileStep) throws {
  let directory = try scratchDirectory()
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let path = directory + "/state.json"
  try AtomicFile.write(Array("old".utf8), to: path)
  do {
    try FileFaults.with(only(step, of: path, .fail(errorNumber: EIO))) { () throws(StorageError) in
      try AtomicFile.write(Array("new content".utf8), to: path)
    }
    Issue.record("an injected \(step) failure must throw")
  } catch {
    #expect(error == .system(target: path, step: step, file: error.file, errorNumber: EIO))
    #expect(error.description.contains(path) && error.description.contains(step.rawValue))
  }
  // Before the rename the target keeps its old content; after it (the directory's fsync), the
  // new content is in place although the write reported the failure.
  let expected = [.openDirectory, .syncDirectory].contains(step) ? "new content" : "old"
  #expect(try readFile(path, limitBytes: 100) == Array(expected.utf8))
  #expect(!FileManager.default.fileExists(atPath: AtomicFile.temporaryPath(for: path)))
}

@Test func tornAndFlippedWritesPublishDamagedBytesAndReportSuccess() throws {
  let directory = try scratchDirectory()
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let path = directory + "/data.bin"
  let bytes: [UInt8] = Array(0..<100)
  try FileFaults.with(only(.writeTemporary, of: path, .tear(keptBytes: 37))) { () throws(StorageError) in
    try AtomicFile.write(bytes, to: path)
  }
  #expect(try readFile(path, limitBytes: 1000) == Array(bytes.prefix(37)))
  try FileFaults.with(only(.writeTemporary, of: path, .flipBit(bitIndex: 8 * 10 + 3))) {
    () throws(StorageError) in
    try AtomicFile.write(bytes, to: path)
  }
  var flipped = bytes
  flipped[10] ^= 8
  #expect(try readFile(path, limitBytes: 1000) == flipped)
  // Without a hook the same write is intact.
  try AtomicFile.write(bytes, to: path)
  #expect(try readFile(path, limitBytes: 1000) == bytes)
}

@Test(arguments: [FileStep.open, .stat, .read])
func aFailingReadStepThrowsIt(step: FileStep) throws {
  let directory = try scratchDirectory()
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let path = directory + "/data.bin"
  try AtomicFile.write([1, 2, 3], to: path)
  #expect(throws: StorageError.system(target: path, step: step, file: path, errorNumber: EIO)) {
    try FileFaults.with(only(step, of: path, .fail(errorNumber: EIO))) { () throws(StorageError) in
      _ = try readFile(path, limitBytes: 10)
    }
  }
  #expect(try readFile(path, limitBytes: 10) == [1, 2, 3])
}

@Test func directoryCreationAndRemovalConsultTheHooks() throws {
  let directory = try scratchDirectory()
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let child = directory + "/child"
  #expect(
    throws: StorageError.system(target: child, step: .createDirectory, file: child, errorNumber: ENOSPC)
  ) {
    try FileFaults.with(only(.createDirectory, of: child, .fail(errorNumber: ENOSPC))) {
      () throws(StorageError) in
      try FileSystemAccess.makeDirectory(child)
    }
  }
  #expect(!FileSystemAccess.exists(child))
  let file = directory + "/kept"
  try AtomicFile.write([1], to: file)
  FileFaults.with(only(.remove, of: file, .fail(errorNumber: EIO))) { FileSystemAccess.remove(file) }
  #expect(FileSystemAccess.exists(file), "a failing removal leaves the file (removal is best effort)")
  FileSystemAccess.remove(file)
  #expect(!FileSystemAccess.exists(file))
}

@Test func hooksSeeEveryWriteStepInOrderAndAreRemoved() throws {
  let directory = try scratchDirectory()
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let path = directory + "/seen"
  let seen = StepLog()
  try FileFaults.with({ step, target in
    if target == path { seen.append(step) }
    return nil
  }) { () throws(StorageError) in
    try AtomicFile.write([1, 2], to: path)
    _ = try readFile(path, limitBytes: 10)
  }
  #expect(seen.steps == writeSteps + [.open, .stat, .read, .read])
  #expect(seen.steps.filter(\.isWrite) == writeSteps)
  try AtomicFile.write([3], to: path)
  #expect(seen.steps.count == 11, "a removed hook sees nothing")
}

private final class StepLog: @unchecked Sendable {
  private let lock = NSLock()
  private var recorded: [FileStep] = []
  func append(_ step: FileStep) { lock.withLock { recorded.append(step) } }
  var steps: [FileStep] { lock.withLock { recorded } }
}

extension StorageError {
  /// The file a `.system` error names.
  fileprivate var file: String {
    if case .system(_, _, let file, _) = self { return file }
    return ""
  }
}
