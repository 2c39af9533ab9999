import ArgumentParser
import Foundation
@testable import MuNetCLI
import MuNetEvolution
import MuNetStorage
import Testing

// `munet verify` and `munet diff` as commands: a fresh `munet evolve` of smoke.json verifies
// (and is the pinned golden run), and the exit statuses are 0 identical, 1 different, 2 error.

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent().deletingLastPathComponent().path

/// Runs `arguments` as the `munet` command line; returns the exit status it would have.
private func exitStatus(_ arguments: [String]) throws -> Int32 {
  var command = try MuNetCommand.parseAsRoot(arguments)
  do {
    try command.run()
    return 0
  } catch let code as ExitCode {
    return code.rawValue
  }
}

/// `munet evolve` of smoke.json cut to one round, one generation and one child per task (well
/// under a second in debug), with `seed`, into a new directory.
private func evolveTiny(seed: Int) throws -> String {
  let folder = try makeTemporaryDirectory()
  let text = try String(contentsOfFile: repository + "/fixtures/configs/smoke.json", encoding: .utf8)
  var config = try #require(try JSONValue.parse(text).objectValue)
  for (key, value) in [("rounds", 1), ("generations", 1), ("children_per_generation", 1), ("seed", seed)] {
    config.set(key, .integer(Int64(value)))
  }
  let configPath = folder + "/tiny.json"
  try AtomicFile.write(JSONValue.object(config).canonicalBytes, to: configPath)
  #expect(try exitStatus(["evolve", "--config", configPath, "--out", folder + "/system", "--quiet"]) == 0)
  return folder + "/system"
}

@Test func verifyPassesOnAFreshSmokeRun() throws {
  let directory = try makeTemporaryDirectory() + "/system"
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let config = repository + "/fixtures/configs/smoke.json"
  #expect(try exitStatus(["evolve", "--config", config, "--seed", "1", "--out", directory, "--quiet"]) == 0)
  let goldenPath = repository + "/golden/evolve/smoke-seed1.json"
  let golden = try JSONValue.parse(try readFile(goldenPath, limitBytes: 1 << 20))
  let digest = try DigestCommand.line(directory: directory, task: nil).prefix(64)
  #expect(String(digest) == golden["system_sha256"]?.stringValue, "the fresh run is the pinned golden run")
  #expect(try exitStatus(["verify", directory, "--tier", "reference", "--quiet"]) == 0)
  #expect(try exitStatus(["verify", directory, "--until", "0:fashion-mini:0", "--quiet"]) == 0)
}

@Test func verifyExitStatusesAndOptions() throws {
  let directory = try evolveTiny(seed: 0)
  #expect(try exitStatus(["verify", directory]) == 0)
  // A decision changed in the record: exit 1.
  let damaged = try makeTemporaryDirectory() + "/system"
  try FileManager.default.copyItem(atPath: directory, toPath: damaged)
  let journalPath = damaged + "/" + SystemStore.journalName
  var lines = String(decoding: try readFile(journalPath, limitBytes: 1 << 24), as: UTF8.self)
    .split(separator: "\n").map(String.init)
  let index = try #require(lines.lastIndex { $0.contains(#""event":"child""#) })
  lines[index] = lines[index].replacing(#""steps_run":"#, with: #""steps_run":1"#)
  try AtomicFile.write(Array((lines.joined(separator: "\n") + "\n").utf8), to: journalPath)
  try reseal(damaged)
  #expect(try exitStatus(["verify", damaged, "--quiet"]) == 1)
  // Errors: exit 2.
  #expect(try exitStatus(["verify", try makeTemporaryDirectory()]) == 2, "no system")
  #expect(try exitStatus(["verify", directory, "--from", damaged]) == 2, "not a continuation")
  #expect(try exitStatus(["verify", directory, "--until", "3:mnist-mini:0"]) == 2, "no such round")
  #expect(throws: (any Error).self) {
    try MuNetCommand.parseAsRoot(["verify", directory, "--until", "mnist-mini"])
  }
  #expect(try exitStatus(["verify", directory, "--replay-into", damaged]) == 2, "needs a new directory")
  let kept = try makeTemporaryDirectory() + "/replay"
  #expect(try exitStatus(["verify", directory, "--replay-into", kept, "--quiet"]) == 0)
  #expect(try DigestCommand.line(directory: kept, task: nil).prefix(64)
          == (try DigestCommand.line(directory: directory, task: nil)).prefix(64),
          "the kept replay is the record")
}

@Test func diffExitStatuses() throws {
  let a = try evolveTiny(seed: 0)
  let b = try evolveTiny(seed: 5)
  #expect(try exitStatus(["diff", a, a]) == 0)
  #expect(try exitStatus(["diff", a, b]) == 1)
  #expect(try exitStatus(["diff", a, try makeTemporaryDirectory()]) == 2)
  let report = try SystemDiff.compare(a, b)
  #expect(report.text.contains("seed: A 0, B 5"))
}

@Test func verifyWarnsAboutBLASRecords() {
  let blas = JSONObject([("tier", "blas"), ("threads", 2)])
  #expect(VerifyCommand.tierWarning(recorded: blas, tier: "blas", threads: 2) == nil)
  #expect(VerifyCommand.tierWarning(recorded: blas, tier: "blas", threads: 1) != nil)
  #expect(VerifyCommand.tierWarning(recorded: blas, tier: "threads", threads: 2) != nil)
  let threads = JSONObject([("tier", "threads")])
  #expect(VerifyCommand.tierWarning(recorded: threads, tier: "reference", threads: 1) == nil)
}

/// Re-seals a system whose journal a test edited: the manifest's journal summary and its own
/// SHA-256, so that the directory opens again (and only a replay can tell).
private func reseal(_ directory: String) throws {
  let manifestPath = directory + "/" + SystemStore.manifestName
  var manifest = try #require(try JSONValue.parse(readFile(manifestPath, limitBytes: 1 << 24)).objectValue)
  let journal = try readFile(directory + "/" + SystemStore.journalName, limitBytes: 1 << 24)
  manifest.set("journal", .object(JSONObject([
    ("bytes", .integer(Int64(journal.count))),
    ("lines", .integer(Int64(journal.filter { $0 == 0x0A }.count))),
    ("sha256", .string(SHA256.hash(journal).hex)),
  ])))
  manifest.set("sha256", nil)
  manifest.set("sha256", .string(SHA256.hash(JSONValue.object(manifest).canonicalBytes).hex))
  try AtomicFile.write(JSONValue.object(manifest).canonicalBytes + [0x0A], to: manifestPath)
}
