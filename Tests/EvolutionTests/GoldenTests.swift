import Foundation
import MuNetRuntime
import MuNetStorage
import Testing

@testable import MuNetEvolution

/// The pinned runs of golden/evolve/: every `<name>.json` there names a configuration, a seed,
/// optionally the golden run it continues (`from`), and the digests and journal that run must
/// reproduce. This debug-build test replays each one in-process; `scripts/evolve_golden.py
/// check` replays them with the release executable. Goldens are written only by
/// `scripts/evolve_golden.py make` (never by a test).
let goldenDirectory = repositoryRoot + "/golden/evolve"
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
  .deletingLastPathComponent().path

struct GoldenRun: Sendable, CustomStringConvertible {
  let name: String
  let config: String
  let seed: UInt64
  let from: String?
  let systemDigest: String
  let taskDigests: [(task: String, digest: String)]
  let journal: String

  var description: String { name }

  static func all() throws -> [GoldenRun] {
    let names = try FileManager.default.contentsOfDirectory(atPath: goldenDirectory)
      .filter { $0.hasSuffix(".json") }.sorted()
    return try names.map { try load(String($0.dropLast(5))) }
  }

  static func load(_ name: String) throws -> GoldenRun {
    let bytes = try readFile(goldenDirectory + "/\(name).json", limitBytes: 1 << 20)
    let json = try JSONValue.parse(bytes)
    let tasks = try #require(json["tasks"]?.objectValue)
    return GoldenRun(
      name: name, config: try #require(json["config"]?.stringValue),
      seed: UInt64(try #require(json["seed"]?.integerValue)), from: json["from"]?.stringValue,
      systemDigest: try #require(json["system_sha256"]?.stringValue),
      taskDigests: tasks.members.map { ($0.key, $0.value.stringValue ?? "") },
      journal: try #require(json["journal"]?.stringValue))
  }
}

/// Runs `golden` (and the run it continues) into a fresh temporary directory; returns it.
func replay(_ golden: GoldenRun, compute: Compute, parallelChildren: Bool) throws -> String {
  let source = try golden.from.map { try replay(GoldenRun.load($0), compute: compute, parallelChildren: parallelChildren) }
  var config = try EvolutionConfig.load(path: repositoryRoot + "/" + golden.config)
  config.seed = golden.seed
  let directory = NSTemporaryDirectory() + "munet-golden-\(golden.name)-\(UUID().uuidString)"
  let (state, store, _) = try SystemBuilder.prepare(
    config: config, directory: directory, from: source, run: JSONObject([("tier", "threads")]))
  let evolver = Evolver(config: config, state: state, store: store, compute: compute)
  evolver.trainsChildrenInParallel = parallelChildren
  try evolver.run()
  return directory
}

func fileDigests(_ directory: String) throws -> [String: String] {
  var result: [String: String] = [:]
  let enumerator = FileManager.default.enumerator(atPath: directory)!
  while let name = enumerator.nextObject() as? String {
    let path = directory + "/" + name
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
      result[name] = SHA256.hash(try readFile(path, limitBytes: 1 << 30)).hex
    }
  }
  return result
}

@Test func goldenRunsExist() throws {
  let runs = try GoldenRun.all()
  #expect(runs.count >= 4, "golden/evolve/ must pin several seeds of smoke.json and a smoke-add.json run")
  #expect(runs.contains { $0.from != nil })
}

@Test(arguments: try GoldenRun.all())
func goldenRunReplays(_ golden: GoldenRun) throws {
  // Alternate the ways of computing: the bits must not depend on them.
  let variant = golden.seed % 3
  let compute = variant == 2 ? Compute(tier: .reference) : Compute(tier: .threads, threadCount: 2)
  let directory = try replay(golden, compute: compute, parallelChildren: variant == 0)
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let (store, state, config) = try SystemStore.open(directory: directory)
  let expectedJournal = try readFile(repositoryRoot + "/" + golden.journal, limitBytes: 1 << 26)
  let journal = store.journalBytes
  if journal != expectedJournal {
    let lines = String(decoding: journal, as: UTF8.self).split(separator: "\n")
    let expected = String(decoding: expectedJournal, as: UTF8.self).split(separator: "\n")
    let index = zip(lines, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
      ?? min(lines.count, expected.count)
    Issue.record("""
      journal differs from \(golden.journal) at line \(index + 1):
        golden: \(index < expected.count ? String(expected[index]) : "<end>")
        now:    \(index < lines.count ? String(lines[index]) : "<end>")
      """)
  }
  for (task, digest) in golden.taskDigests {
    #expect(SystemDigest.task(task, state: state) == digest, "task \(task)")
  }
  #expect(SystemDigest.system(state: state, store: store, config: config) == golden.systemDigest)
}

/// Continuing a system with new tasks leaves every old task bit-identical, and the input
/// directory untouched.
@Test func continuationKeepsOldTasksAndInputFiles() throws {
  let runs = try GoldenRun.all()
  let continuation = try #require(runs.first { $0.from != nil })
  let sourceGolden = try GoldenRun.load(continuation.from!)
  let compute = Compute(tier: .threads, threadCount: 2)
  let source = try replay(sourceGolden, compute: compute, parallelChildren: true)
  defer { try? FileManager.default.removeItem(atPath: source) }
  let before = try fileDigests(source)
  var config = try EvolutionConfig.load(path: repositoryRoot + "/" + continuation.config)
  config.seed = continuation.seed
  let directory = NSTemporaryDirectory() + "munet-continue-\(UUID().uuidString)"
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let (state, store, _) = try SystemBuilder.prepare(
    config: config, directory: directory, from: source, run: JSONObject([("tier", "threads")]))
  try Evolver(config: config, state: state, store: store, compute: compute).run()
  #expect(try fileDigests(source) == before, "the input system's files changed")
  let (_, sourceState, _) = try SystemStore.open(directory: source)
  for (task, _) in sourceState.retainedPaths {
    #expect(SystemDigest.task(task, state: state) == SystemDigest.task(task, state: sourceState), "task \(task)")
  }
  #expect(config.tasks.contains { sourceState.retainedPath(of: $0.name) == nil }, "the continuation adds a task")
}
