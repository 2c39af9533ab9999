import Foundation
@testable import MuNetCLI
import MuNetData
import MuNetEvolution
import MuNetRuntime
import MuNetStorage
import Testing

// `munet digest`, `report`, `eval` and `predict` on a tiny system evolved in-process: the smoke
// configuration cut to one round, one generation and one child per task (about a second in a
// debug build). Tests that damage files work on their own copy.

/// The system every test inspects (built once), and what the run left in memory.
struct InspectedFixture: @unchecked Sendable {
  let directory: String
  let systemDigest: String
  let taskDigests: [String: String]
  let tests: [String: Quality]
  let validations: [String: Quality]
  let pathCount: Int
  let componentCount: Int
  let childEvents: Int

  static let shared: InspectedFixture = {
    do { return try build() } catch { fatalError("cannot build the inspection fixture: \(error)") }
  }()

  static let tasks = ["mnist-mini", "fashion-mini"]

  private static func build() throws -> InspectedFixture {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().path
    var config = try EvolutionConfig.load(path: root + "/fixtures/configs/smoke.json")
    precondition(config.tasks.map(\.name) == tasks, "the smoke configuration changed its tasks")
    config.rounds = 1
    config.generations = 1
    config.childrenPerGeneration = 1
    let directory = try makeTemporaryDirectory() + "/system"
    let run = JSONObject([("tier", .string("threads")), ("threads", .integer(2))])
    let (state, store, resumed) = try SystemBuilder.prepare(
      config: config, directory: directory, from: nil, run: run)
    precondition(!resumed)
    let compute = Compute(tier: .threads, threadCount: 2)
    try Evolver(config: config, state: state, store: store, compute: compute).run()
    var taskDigests: [String: String] = [:]
    var tests: [String: Quality] = [:]
    var validations: [String: Quality] = [:]
    for (task, id) in state.retainedPaths {
      taskDigests[task] = SystemDigest.task(task, state: state)
      tests[task] = state.path(id).test
      validations[task] = state.path(id).validation
    }
    let childEvents = try store.journalEntries().filter { $0["event"]?.stringValue == "child" }.count
    return InspectedFixture(
      directory: directory, systemDigest: SystemDigest.system(state: state, store: store, config: config),
      taskDigests: taskDigests, tests: tests, validations: validations, pathCount: state.pathIDs.count,
      componentCount: state.componentIDs.count, childEvents: childEvents)
  }

  /// A copy of the system to damage.
  func copy() throws -> String {
    let target = try makeTemporaryDirectory() + "/system"
    try FileManager.default.copyItem(atPath: directory, toPath: target)
    return target
  }
}

private func isLowercaseHex64(_ text: Substring) -> Bool {
  text.count == 64 && text.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
}

// MARK: digest

@Test func digestPrintsTheSystemDigestAsItsFirstWord() throws {
  let fixture = InspectedFixture.shared
  let line = try DigestCommand.line(directory: fixture.directory, task: nil)
  let first = try #require(line.split(separator: " ").first)
  #expect(isLowercaseHex64(first))
  #expect(String(first) == fixture.systemDigest, "reopening gives the digest the run had in memory")
  #expect(line.hasSuffix("system \(fixture.directory)"))
  var command = try MuNetCommand.parseAsRoot(["digest", fixture.directory])
  try command.run()
}

@Test func taskDigestIsTheRetainedPathDigest() throws {
  let fixture = InspectedFixture.shared
  #expect(fixture.taskDigests.count == 2)
  for task in InspectedFixture.tasks {
    let line = try DigestCommand.line(directory: fixture.directory, task: task)
    let first = try #require(line.split(separator: " ").first)
    #expect(isLowercaseHex64(first))
    #expect(String(first) == fixture.taskDigests[task])
    #expect(String(first) != fixture.systemDigest)
  }
  #expect(fixture.taskDigests["mnist-mini"] != fixture.taskDigests["fashion-mini"])
}

@Test func anUnknownTaskIsAnErrorListingTheKnownTasks() throws {
  let fixture = InspectedFixture.shared
  #expect {
    _ = try DigestCommand.line(directory: fixture.directory, task: "cifar-nope")
  } throws: { error in
    let text = "\(error)"
    return text.contains("cifar-nope") && text.contains("fashion-mini, mnist-mini")
  }
  #expect(throws: InspectionError.self) {
    _ = try EvalCommand.evaluate(
      directory: fixture.directory, task: "cifar-nope", split: .test, compute: Compute(tier: .reference))
  }
}

@Test func aFlippedByteInAComponentFileFailsNamingTheFile() throws {
  let directory = try InspectedFixture.shared.copy()
  let (store, state, _) = try SystemStore.open(directory: directory)
  let id = try #require(state.retainedPaths.first.map { state.path($0.id).componentIDs.last! })
  let file = store.componentPath(id)
  var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
  bytes[bytes.count - 1] ^= 0x01
  try bytes.write(to: URL(fileURLWithPath: file))
  for task in [nil, "mnist-mini"] as [String?] {
    #expect {
      _ = try DigestCommand.line(directory: directory, task: task)
    } throws: { error in
      "\(error)".contains(file) && "\(error)".contains("checksum mismatch")
    }
  }
  #expect { _ = try ReportCommand.write(directory: directory, to: directory + "/report") } throws: { error in
    "\(error)".contains(file)
  }
  #expect(!FileManager.default.fileExists(atPath: directory + "/report"), "nothing written when corrupt")
}

@Test func aTruncatedManifestOrJournalFailsNamingTheFile() throws {
  let directory = try InspectedFixture.shared.copy()
  let manifest = directory + "/" + SystemStore.manifestName
  let original = try Data(contentsOf: URL(fileURLWithPath: manifest))
  try original.prefix(original.count / 2).write(to: URL(fileURLWithPath: manifest))
  #expect { _ = try DigestCommand.line(directory: directory, task: nil) } throws: { error in
    "\(error)".contains(manifest) && "\(error)".contains("truncated")
  }
  try original.write(to: URL(fileURLWithPath: manifest))
  let restored = try DigestCommand.line(directory: directory, task: nil)
  #expect(restored.hasPrefix(InspectedFixture.shared.systemDigest))

  let journal = directory + "/" + SystemStore.journalName
  let lines = try Data(contentsOf: URL(fileURLWithPath: journal))
  try lines.prefix(lines.count - 10).write(to: URL(fileURLWithPath: journal))
  #expect { _ = try DigestCommand.line(directory: directory, task: nil) } throws: { error in
    "\(error)".contains(journal) && "\(error)".contains("truncated")
  }
}

@Test func aDirectoryWithoutASystemIsAClearError() throws {
  let directory = try makeTemporaryDirectory()
  #expect { _ = try DigestCommand.line(directory: directory, task: nil) } throws: { error in
    "\(error)".contains(directory) && "\(error)".contains("no manifest.json")
  }
}

// MARK: report

/// Fields of one CSV line (RFC 4180 quoting; the report has no line breaks inside fields).
private func csvFields(_ line: Substring) -> [String] {
  var fields: [String] = []
  var current = ""
  var quoted = false
  var characters = Array(line)[...]
  while let character = characters.popFirst() {
    if quoted {
      if character == "\"" {
        if characters.first == "\"" {
          current.append("\"")
          characters = characters.dropFirst()
        } else {
          quoted = false
        }
      } else {
        current.append(character)
      }
    } else if character == "\"" {
      quoted = true
    } else if character == "," {
      fields.append(current)
      current = ""
    } else {
      current.append(character)
    }
  }
  fields.append(current)
  return fields
}

/// Rows of a CSV file as dictionaries by column name; every row must have the header's width.
private func csvRows(_ path: String) throws -> (header: [String], rows: [[String: String]]) {
  let text = try String(contentsOfFile: path, encoding: .utf8)
  #expect(text.hasSuffix("\n"))
  let lines = text.split(separator: "\n")
  let header = csvFields(lines[0])
  let rows = lines.dropFirst().map { line in
    let fields = csvFields(line)
    #expect(fields.count == header.count, "\(path): \(line)")
    return Dictionary(uniqueKeysWithValues: zip(header, fields))
  }
  return (header, rows)
}

@Test func reportWritesTheLeaderboardAndTheReferenceTables() throws {
  let fixture = InspectedFixture.shared
  let folder = try makeTemporaryDirectory() + "/out/report"
  var command = try MuNetCommand.parseAsRoot(["report", fixture.directory, "--out", folder])
  try command.run()
  let names = [
    "leaderboard.md", "population.csv", "paths.csv", "components.csv", "growth.csv", "accuracy-matrix.csv",
    "scores.svg", "parameters.svg", "sharing.svg",
  ]
  #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == names.sorted())

  let leaderboard = try String(contentsOfFile: folder + "/leaderboard.md", encoding: .utf8)
  #expect(leaderboard.contains(fixture.systemDigest))
  for task in InspectedFixture.tasks {
    #expect(leaderboard.contains("| \(task) |"))
    #expect(leaderboard.contains(fixture.taskDigests[task]!))
  }
  #expect(leaderboard.contains("Total parameters in the system"))

  let pathColumns = [
    "task_name", "id", "parent_id", "parent_task_name", "final_accounted_params", "components",
  ]
  let population = try csvRows(folder + "/population.csv")
  #expect(Array(population.header.prefix(6)) == pathColumns)
  for column in ["hparams.ds_image_size", "hparams.adapter_layers", "hparams.num_classes", "metrics.quality",
                 "metrics.test_quality", "metrics.offsprings_per_task"] {
    #expect(population.header.contains(column))
  }
  #expect(population.header.last == "score")
  #expect(population.rows.count == fixture.pathCount)
  #expect(population.rows.map { Int($0["id"]!)! } == population.rows.map { Int($0["id"]!)! }.sorted())
  #expect(population.rows.first?["task_name"] == SystemState.rootTask)
  #expect(population.rows.first?["parent_id"] == "-1")
  for task in InspectedFixture.tasks {
    let row = try #require(population.rows.first { $0["task_name"] == task })
    let test = try #require(fixture.tests[task])
    #expect(row["metrics.test_correct"] == String(test.correct))
    #expect(row["metrics.test_count"] == String(test.count))
    #expect(row["metrics.test_quality"].flatMap(Double.init) == Double(test.correct) / Double(test.count))
    #expect(row["metrics.validation_correct"] == String(fixture.validations[task]!.correct))
    #expect(row["metrics.offsprings_per_task"]?.hasPrefix("{") == true)
  }

  let paths = try csvRows(folder + "/paths.csv")
  #expect(paths.header == population.header)
  #expect(paths.rows.count == 1 + fixture.childEvents, "the root and every child the journal records")

  let components = try csvRows(folder + "/components.csv")
  #expect(components.header == ["id", "name", "num_params", "train_locks", "sha256"])
  #expect(components.rows.count == fixture.componentCount)
  #expect(components.rows.map { Int($0["id"]!)! } == components.rows.map { Int($0["id"]!)! }.sorted())
  #expect(components.rows.contains { $0["train_locks"] == SystemState.rootTask })

  // Deterministic: the same system gives the same bytes.
  let again = try makeTemporaryDirectory()
  _ = try ReportCommand.write(directory: fixture.directory, to: again)
  for name in names {
    #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))
      == Data(contentsOf: URL(fileURLWithPath: again + "/" + name)))
  }
}

@Test func csvFieldsAreQuotedOnlyWhenNeeded() {
  #expect(ReportTables.field("mnist-mini") == "mnist-mini")
  #expect(ReportTables.field("") == "")
  #expect(ReportTables.field("_root,fashion-mini") == "\"_root,fashion-mini\"")
  #expect(ReportTables.field("{\"a\":1}") == "\"{\"\"a\"\":1}\"")
  #expect(ReportTables.field("two\nlines") == "\"two\nlines\"")
  #expect(csvFields(Substring(ReportTables.field("x,\"y\"") + ",z")) == ["x,\"y\"", "z"])
}

// MARK: eval and predict

@Test(arguments: [Tier.reference, Tier.threads])
func evalReproducesTheRecordedResults(tier: Tier) throws {
  let fixture = InspectedFixture.shared
  let compute = Compute(tier: tier, threadCount: tier == .reference ? 1 : 3)
  for task in InspectedFixture.tasks {
    let test = try EvalCommand.evaluate(
      directory: fixture.directory, task: task, split: .test, compute: compute)
    #expect(test.recorded == fixture.tests[task])
    #expect(test.correct == fixture.tests[task]!.correct && test.count == fixture.tests[task]!.count)
    #expect(test.mustAgree && test.agrees)
    let validation = try EvalCommand.evaluate(
      directory: fixture.directory, task: task, split: .validation, compute: compute)
    #expect(validation.recorded == fixture.validations[task])
    #expect(validation.agrees)
  }
  var command = try MuNetCommand.parseAsRoot(
    ["eval", fixture.directory, "--task", "mnist-mini", "--tier", tier.rawValue, "--threads", "2"])
  try command.run()
}

@Test func predictLabelsAndPredictionsAgreeWithEval() throws {
  let fixture = InspectedFixture.shared
  let compute = Compute(tier: .threads, threadCount: 2)
  let task = "fashion-mini"
  let (_, all) = try PredictCommand.predictions(
    directory: fixture.directory, task: task, input: task, limit: nil, compute: compute)
  let test = try #require(fixture.tests[task])
  #expect(all.count == test.count)
  #expect(all.filter { $0.predicted == $0.label }.count == test.correct)
  let splits = try DatasetRegistry.load(task)
  #expect(all.map(\.label) == (0..<splits.test.count).map { Int(splits.test.label($0)) })
  #expect(all.allSatisfy { (0..<10).contains($0.predicted) })

  let folder = try #require(DataLocations.repositoryRoot()) + "/fixtures/data/" + task
  let (_, first) = try PredictCommand.predictions(
    directory: fixture.directory, task: task, input: folder, limit: 7, compute: compute)
  #expect(first.map(\.predicted) == all.prefix(7).map(\.predicted), "a folder: the same images as the name")
  var command = try MuNetCommand.parseAsRoot(
    ["predict", fixture.directory, "--task", task, "--input", task, "--limit", "3"])
  try command.run()
}
