import Foundation
import MuNetRuntime
import MuNetStorage
import Testing

@testable import MuNetEvolution

// The system directory: reopening is exact, damage is reported by file, interrupted runs resume
// bit-identically (in process, through Evolver.stopAfterCommit). All runs use the smoke
// configuration shrunk to 2 rounds × 1 generation × 2 children (8 commits after the first).

private let threadsFacts = JSONObject([("tier", .string("threads")), ("threads", .integer(2))])
private let referenceFacts = JSONObject([("tier", .string("reference")), ("threads", .integer(1))])

private struct Evolution {
  let state: SystemState
  let store: SystemStore
  let config: EvolutionConfig
  let resumed: Bool
  /// Commits made by this call (the one in `prepare` not counted).
  let commits: Int
  var digest: String { SystemDigest.system(state: state, store: store, config: config) }
}

/// Runs (or resumes) the system of `config` in `directory` to its end, or until it has
/// committed `stopAfter` times.
private func evolve(
  _ config: EvolutionConfig, in directory: String, compute: Compute, facts: JSONObject = threadsFacts,
  stopAfter: Int? = nil
) throws -> Evolution {
  let (state, store, resumed) = try SystemBuilder.prepare(
    config: config, directory: directory, from: nil, run: facts)
  let evolver = Evolver(config: config, state: state, store: store, compute: compute)
  var commits = 0
  evolver.stopAfterCommit = { _ in
    commits += 1
    return stopAfter.map { commits >= $0 } ?? false
  }
  try evolver.run()
  return Evolution(state: state, store: store, config: config, resumed: resumed, commits: commits)
}

private func threads() -> Compute { Compute(tier: .threads, threadCount: 2) }

/// The uninterrupted run (Tier 1, 2 threads): its system digest, task digests and commits.
private struct Baseline: Sendable {
  let digest: String
  let taskDigests: [String]
  let commits: Int
}

private let baseline: Result<Baseline, any Error> = Result {
  try withTemporaryDirectory("baseline") { directory in
    let run = try evolve(try Fixtures.reducedSmokeConfig(), in: directory + "/system", compute: threads())
    let digests = run.config.tasks.map { SystemDigest.task($0.name, state: run.state) ?? "none" }
    return Baseline(digest: run.digest, taskDigests: digests, commits: run.commits)
  }
}

/// The `.file` error opening the system in `directory` throws; nil (with an issue recorded)
/// when it opens or fails otherwise.
private func openError(
  _ directory: String, sourceLocation: SourceLocation = #_sourceLocation
) -> (path: String, problem: String)? {
  do {
    _ = try SystemStore.open(directory: directory)
    Issue.record("\(directory) opened", sourceLocation: sourceLocation)
  } catch {
    if case .file(let path, let problem) = error { return (path, problem) }
    Issue.record("expected a file error, got \(error)", sourceLocation: sourceLocation)
  }
  return nil
}

private func bytes(_ path: String) throws -> [UInt8] {
  Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

private func sha(_ bytes: [UInt8]) -> String { SHA256.hash(bytes).hex }

private func write(_ bytes: [UInt8], _ path: String) throws {
  try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// A copy of the system directory `source` for damaging.
private func copy(_ source: String, to parent: String, _ name: String) throws -> String {
  let destination = parent + "/" + name
  try FileManager.default.copyItem(atPath: source, toPath: destination)
  return destination
}

@Test func tiersAgreeAndAReopenedSystemIsIdentical() throws {
  let expected = try baseline.get()
  try withTemporaryDirectory("reference") { directory in
    let config = try Fixtures.reducedSmokeConfig()
    let system = directory + "/system"
    let run = try evolve(config, in: system, compute: Compute(tier: .reference), facts: referenceFacts)
    #expect(!run.resumed && run.state.cursor.finished)
    #expect(run.commits == expected.commits && run.commits == 8)
    #expect(run.digest == expected.digest)
    let taskDigests = config.tasks.map { SystemDigest.task($0.name, state: run.state) ?? "none" }
    #expect(taskDigests == expected.taskDigests)

    let original = JSONValue.object(
      ManifestCodec.body(state: run.state, config: config, journal: run.store.journalSummary))
    let (store, state, reopenedConfig) = try SystemStore.open(directory: system)
    #expect(reopenedConfig == config)
    let reopened = JSONValue.object(
      ManifestCodec.body(state: state, config: reopenedConfig, journal: store.journalSummary))
    #expect(sha(reopened.canonicalBytes) == sha(original.canonicalBytes))
    #expect(SystemDigest.system(state: state, store: store, config: reopenedConfig) == expected.digest)
    #expect(store.run == referenceFacts)
    // The manifest file is the body plus the run facts and its own checksum.
    var file = try #require(try JSONValue.parse(try bytes(system + "/manifest.json")).objectValue)
    file.set("run", nil)
    file.set("sha256", nil)
    #expect(sha(JSONValue.object(file).canonicalBytes) == sha(original.canonicalBytes))
    // Loaded components re-encode to the bytes their digests name.
    for id in state.componentIDs {
      let stored = state.component(id)
      #expect(SHA256.hash(ComponentFile.encode(stored.component)).hex == stored.digest, "component \(id)")
      #expect(!stored.component.trainable)
    }
    // The journal: one child line per child, task starts and ends around them.
    let events = try store.journalEntries().map { $0.objectValue?["event"]?.stringValue ?? "?" }
    #expect(events.filter { $0 == "child" }.count == 8)
    #expect(events.filter { $0 == "task_start" }.count == 4 && events.filter { $0 == "task_end" }.count == 4)
    #expect(events.first == "task_start" && events.last == "task_end")
    // Opening it again as a run resumes a finished system: nothing more happens.
    let again = try evolve(config, in: system, compute: threads())
    #expect(again.resumed && again.commits == 0 && again.digest == expected.digest)
  }
}

@Test(arguments: [1, 2, 5, 7])
func runStoppedAfterCommitsResumesToTheSameSystem(stopAfter: Int) throws {
  let expected = try baseline.get()
  try withTemporaryDirectory("stop-\(stopAfter)") { directory in
    let config = try Fixtures.reducedSmokeConfig()
    let system = directory + "/system"
    let first = try evolve(config, in: system, compute: threads(), stopAfter: stopAfter)
    #expect(!first.resumed && first.commits == stopAfter && !first.state.cursor.finished)
    // Resume with the other deterministic tier for one of the stops: results must not change.
    let reference = stopAfter == 2
    let rest = try evolve(
      config, in: system, compute: reference ? Compute(tier: .reference) : threads(),
      facts: reference ? referenceFacts : threadsFacts)
    #expect(rest.resumed && rest.state.cursor.finished)
    #expect(first.commits + rest.commits == expected.commits)
    #expect(rest.digest == expected.digest)
    let (store, state, reopened) = try SystemStore.open(directory: system)
    #expect(SystemDigest.system(state: state, store: store, config: reopened) == expected.digest)
  }
}

@Test func uncommittedJournalLinesAreIgnoredAndDropped() throws {
  let expected = try baseline.get()
  try withTemporaryDirectory("journal") { directory in
    let config = try Fixtures.reducedSmokeConfig()
    let system = directory + "/system"
    let journalPath = system + "/journal.jsonl"
    var stops: [Int] = []
    for stopAfter in [3, 2] {
      let run = try evolve(config, in: system, compute: threads(), stopAfter: stopAfter)
      stops.append(run.commits)
      let committed = try bytes(journalPath)
      #expect(sha(committed) == sha(run.store.journalBytes))
      // What a process killed mid-generation leaves: lines past the committed length, the
      // last one torn.
      try write(committed + Array("{\"event\":\"generation\",\"junk\":1}\n{\"event\":\"ch".utf8), journalPath)
      let (store, state, _) = try SystemStore.open(directory: system)
      #expect(sha(store.journalBytes) == sha(committed))
      #expect(try store.journalEntries().count == run.store.journalEntries().count)
      #expect(SystemDigest.system(state: state, store: store, config: config) == run.digest)
    }
    #expect(stops == [3, 2])
    let rest = try evolve(config, in: system, compute: threads())
    #expect(rest.resumed && rest.commits == expected.commits - 5)
    #expect(rest.digest == expected.digest)
    let journal = try bytes(journalPath)
    #expect(sha(journal) == sha(rest.store.journalBytes))
    #expect(!String(decoding: journal, as: UTF8.self).contains("junk"))
  }
}

@Test func damagedFilesAreReportedByName() throws {
  try withTemporaryDirectory("damage") { directory in
    let config = try Fixtures.reducedSmokeConfig()
    let system = directory + "/system"
    // Two commits: the first task is done; components, journal and manifest all exist.
    let run = try evolve(config, in: system, compute: threads(), stopAfter: 2)
    let live = run.state.componentIDs
    #expect(live.count > 5)
    let manifestBytes = try bytes(system + "/manifest.json")
    let journalBytes = try bytes(system + "/journal.jsonl")
    #expect(journalBytes.count > 1000)

    // One byte flipped in a component file (in its header, then in its tensor data).
    for (copyIndex, id) in [live[1], live[live.count - 1]].enumerated() {
      let damaged = try copy(system, to: directory, "component-\(copyIndex)")
      let path = damaged + "/components/\(id).safetensors"
      var content = try bytes(path)
      let offset = copyIndex == 0 ? 12 : content.count - 3
      content[offset] ^= 0x01
      try write(content, path)
      let error = openError(damaged)
      #expect(error?.path == path)
      #expect(error?.problem.contains("checksum mismatch") == true, "\(String(describing: error))")
    }
    // A component file missing.
    do {
      let damaged = try copy(system, to: directory, "missing")
      let path = damaged + "/components/\(live[0]).safetensors"
      try FileManager.default.removeItem(atPath: path)
      #expect(openError(damaged)?.path == path)
    }
    // The manifest truncated, or changed without its checksum.
    let manifestCases: [(String, [UInt8])] = [
      ("manifest-half", Array(manifestBytes.prefix(manifestBytes.count / 2))),
      ("manifest-empty", []),
      ("manifest-edited", Array(String(decoding: manifestBytes, as: UTF8.self)
        .replacingOccurrences(of: "\"rounds\":2", with: "\"rounds\":3").utf8)),
    ]
    for (name, content) in manifestCases {
      let damaged = try copy(system, to: directory, name)
      #expect(content != manifestBytes)
      try write(content, damaged + "/manifest.json")
      let error = openError(damaged)
      #expect(error?.path == damaged + "/manifest.json", "\(name): \(String(describing: error))")
    }
    // The journal truncated inside its committed part, or one committed byte changed.
    do {
      let damaged = try copy(system, to: directory, "journal-half")
      try write(Array(journalBytes.prefix(journalBytes.count / 2)), damaged + "/journal.jsonl")
      let error = openError(damaged)
      #expect(error?.path == damaged + "/journal.jsonl")
      #expect(error?.problem.contains("truncated") == true, "\(String(describing: error))")
    }
    do {
      let damaged = try copy(system, to: directory, "journal-byte")
      var content = journalBytes
      content[content.count / 2] ^= 0x20
      try write(content, damaged + "/journal.jsonl")
      let error = openError(damaged)
      #expect(error?.path == damaged + "/journal.jsonl")
      #expect(error?.problem.contains("checksum mismatch") == true, "\(String(describing: error))")
    }
    // The undamaged original still opens.
    _ = try SystemStore.open(directory: system)
  }
}

@Test func anotherSeedGrowsAnotherSystem() throws {
  let expected = try baseline.get()
  try withTemporaryDirectory("seed") { directory in
    let config = try Fixtures.reducedSmokeConfig(seed: 1)
    let run = try evolve(config, in: directory + "/system", compute: threads())
    #expect(run.digest != expected.digest)
    // Not only the recorded seed: the retained paths' components differ too.
    let digests = run.config.tasks.map { SystemDigest.task($0.name, state: run.state) ?? "none" }
    #expect(!expected.taskDigests.contains("none") && !digests.contains("none"))
    for (mine, theirs) in zip(digests, expected.taskDigests) { #expect(mine != theirs) }
  }
}

@Test func aRunKilledBeforeItsFirstCommitStartsAfresh() throws {
  let config = try Fixtures.reducedSmokeConfig()
  try withTemporaryDirectory("first-commit") { directory in
    // What a process killed inside `prepare` leaves: the components folder (some files, a
    // temporary one) and the journal, no manifest.
    let system = directory + "/system"
    try FileManager.default.createDirectory(atPath: system + "/components", withIntermediateDirectories: true)
    try write([1, 2, 3], system + "/components/0.safetensors")
    try write([1, 2], system + "/components/.1.safetensors.tmp")
    try write([], system + "/journal.jsonl")
    try write([7], system + "/.manifest.json.tmp")
    let (state, _, resumed) = try SystemBuilder.prepare(
      config: config, directory: system, from: nil, run: threadsFacts)
    #expect(!resumed && state.cursor == Cursor())
    let (_, reopened, _) = try SystemStore.open(directory: system)
    #expect(reopened.componentIDs == state.componentIDs)
    let again = try SystemBuilder.prepare(config: config, directory: system, from: nil, run: threadsFacts)
    #expect(again.resumed)

    // Anything else in the directory is not ours: refuse it.
    for (index, foreign) in ["notes.txt", "components/notes.txt"].enumerated() {
      let other = directory + "/other-\(index)"
      try FileManager.default.createDirectory(
        atPath: other + "/components", withIntermediateDirectories: true)
      try write([1], other + "/" + foreign)
      do {
        _ = try SystemBuilder.prepare(config: config, directory: other, from: nil, run: threadsFacts)
        Issue.record("a directory holding \(foreign) was taken over")
      } catch {
        guard case .directory(let path, _)? = error as? EvolutionError else {
          Issue.record("expected a directory error, got \(error)")
          continue
        }
        #expect(path == other)
      }
    }
  }
}

@Test func aSystemResumesOnlyWithItsOwnConfigurationAndTier() throws {
  var config = try Fixtures.reducedSmokeConfig()
  try withTemporaryDirectory("mismatch") { directory in
    let system = directory + "/system"
    _ = try SystemBuilder.prepare(config: config, directory: system, from: nil, run: threadsFacts)
    config.childrenPerGeneration = 3
    do {
      _ = try SystemBuilder.prepare(config: config, directory: system, from: nil, run: threadsFacts)
      Issue.record("a system was resumed with another configuration")
    } catch {
      guard case .directory(let path, _)? = error as? EvolutionError else { throw error }
      #expect(path == system)
    }
  }
  // Tiers 0 and 1 interchange; Tier 2 needs the same tier and thread count.
  func blas(_ threads: Int64) -> JSONObject {
    JSONObject([("tier", .string("blas")), ("threads", .integer(threads))])
  }
  try SystemBuilder.checkRun(threadsFacts, referenceFacts, directory: "d")
  try SystemBuilder.checkRun(blas(2), blas(2), directory: "d")
  for (recorded, current) in [(blas(2), blas(4)), (blas(2), threadsFacts), (threadsFacts, blas(2))] {
    #expect(throws: EvolutionError.self) { try SystemBuilder.checkRun(recorded, current, directory: "d") }
  }
}
