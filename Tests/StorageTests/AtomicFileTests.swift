import Foundation
import MuNetStorage
import Testing

/// A fresh empty directory for one test.
private func makeScratchDirectory() throws -> String {
  let path = FileManager.default.temporaryDirectory
    .appendingPathComponent("munet-storage-\(UUID().uuidString)").path
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
  return path
}

private func removeDirectory(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

@Test func writeThenReadRoundTrips() throws {
  let directory = try makeScratchDirectory()
  defer { removeDirectory(directory) }
  let path = directory + "/data.bin"
  let bytes = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }
  try AtomicFile.write(bytes, to: path)
  #expect(try readFile(path, limitBytes: 1 << 20) == bytes)
  #expect(FileManager.default.contents(atPath: path) == Data(bytes))
  #expect(!FileManager.default.fileExists(atPath: AtomicFile.temporaryPath(for: path)))

  try AtomicFile.write([], to: directory + "/empty")
  #expect(try readFile(directory + "/empty", limitBytes: 0) == [])
}

@Test func writeReplacesTheWholeFile() throws {
  let directory = try makeScratchDirectory()
  defer { removeDirectory(directory) }
  let path = directory + "/state.json"
  try AtomicFile.write(Array(repeating: 0x41, count: 5000), to: path)
  try AtomicFile.write(Array("short".utf8), to: path)
  #expect(try readFile(path, limitBytes: 100) == Array("short".utf8))
  let names = try FileManager.default.contentsOfDirectory(atPath: directory)
  #expect(names == ["state.json"], "no temporary file may remain")
}

@Test func missingDirectoryErrorNamesThePathAndStep() throws {
  let directory = try makeScratchDirectory()
  defer { removeDirectory(directory) }
  let path = directory + "/no-such-directory/out.bin"
  #expect(throws: StorageError.self) { try AtomicFile.write([1, 2, 3], to: path) }
  do {
    try AtomicFile.write([1, 2, 3], to: path)
  } catch {
    guard case .system(let target, let step, let file, let errorNumber) = error else {
      Issue.record("unexpected error \(error)")
      return
    }
    #expect(target == path)
    #expect(step == .openTemporary)
    #expect(file == AtomicFile.temporaryPath(for: path))
    #expect(errorNumber == ENOENT)
    #expect(error.description.contains(path))
    #expect(error.description.contains("open temporary file"))
  }
}

@Test func failedRenameLeavesNoTemporaryFile() throws {
  let directory = try makeScratchDirectory()
  defer { removeDirectory(directory) }
  let path = directory + "/occupied"
  try FileManager.default.createDirectory(atPath: path + "/inside", withIntermediateDirectories: true)
  do {
    try AtomicFile.write([9], to: path)
    Issue.record("renaming a file over a non-empty directory must fail")
  } catch {
    guard case .system(_, let step, _, _) = error else {
      Issue.record("unexpected error \(error)")
      return
    }
    #expect(step == .rename)
  }
  #expect(!FileManager.default.fileExists(atPath: AtomicFile.temporaryPath(for: path)))
}

@Test func readFileEnforcesTheLimitAndNamesMissingFiles() throws {
  let directory = try makeScratchDirectory()
  defer { removeDirectory(directory) }
  let path = directory + "/hundred"
  try AtomicFile.write(Array(repeating: 7, count: 100), to: path)
  #expect(try readFile(path, limitBytes: 100).count == 100)
  #expect(throws: StorageError.fileTooLarge(target: path, limitBytes: 99)) {
    try readFile(path, limitBytes: 99)
  }
  let missing = directory + "/absent"
  do {
    _ = try readFile(missing, limitBytes: 10)
    Issue.record("reading a missing file must fail")
  } catch {
    #expect(error == .system(target: missing, step: .open, file: missing, errorNumber: ENOENT))
    #expect(error.description.contains(missing))
  }
}
