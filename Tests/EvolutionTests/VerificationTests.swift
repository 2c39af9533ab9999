import Foundation
import MuNetModel
import MuNetRuntime
import MuNetStorage
import Testing

@testable import MuNetEvolution

// `munet verify` and `munet diff` in the engine (Verifier, SystemDiff, the comparisons): they
// pass on real runs (the golden smoke runs, a continuation) and name a planted divergence
// precisely (a journal decision, a tensor value). Tests that damage a system work on a copy of
// a small one (smoke.json cut to one round), which takes about a second to evolve in debug.

private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
  .deletingLastPathComponent().path

private func temporaryDirectory(_ label: String) throws -> String {
  let path = NSTemporaryDirectory() + "munet-verification-\(label)-" + UUID().uuidString
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}

/// Evolves `config` into a new directory (Tier 1, children in parallel) and returns it.
private func evolve(_ config: EvolutionConfig, from source: String? = nil, label: String) throws -> String {
  let directory = try temporaryDirectory(label) + "/system"
  let run = JSONObject([("tier", "threads"), ("threads", 2)])
  let (state, store, _) = try SystemBuilder.prepare(
    config: config, directory: directory, from: source, run: run)
  let compute = Compute(tier: .threads, threadCount: 2)
  let evolver = Evolver(config: config, state: state, store: store, compute: compute)
  evolver.trainsChildrenInParallel = true
  try evolver.run()
  return directory
}

/// Replays the record in `directory` into a temporary directory and compares.
private func verify(
  _ directory: String, from source: String? = nil, until: GenerationMark? = nil
) throws -> VerificationReport {
  let verifier = try Verifier(directory: directory, from: source)
  verifier.until = until
  verifier.trainsChildrenInParallel = true
  let replay = try temporaryDirectory("replay") + "/system"
  defer { try? FileManager.default.removeItem(atPath: replay) }
  return try verifier.run(
    replayDirectory: replay, compute: Compute(tier: .threads, threadCount: 2),
    run: JSONObject([("tier", "threads")]))
}

private func loadConfig(_ name: String, seed: UInt64? = nil) throws -> EvolutionConfig {
  var config = try EvolutionConfig.load(path: root + "/fixtures/configs/" + name)
  if let seed { config.seed = seed }
  return config
}

/// smoke.json cut to one round (both tasks, two generations of two children).
private func smallConfig(seed: UInt64 = 0) throws -> EvolutionConfig {
  var config = try loadConfig("smoke.json", seed: seed)
  config.rounds = 1
  return config
}

/// A golden run's pinned system digest (golden/evolve/NAME.json).
private func goldenDigest(_ name: String) throws -> String {
  let json = try JSONValue.parse(try readFile(root + "/golden/evolve/\(name).json", limitBytes: 1 << 20))
  return try #require(json["system_sha256"]?.stringValue)
}

private func copySystem(_ directory: String) throws -> String {
  let target = try temporaryDirectory("copy") + "/system"
  try FileManager.default.copyItem(atPath: directory, toPath: target)
  return target
}

/// The small system every damage test copies (built once).
private let smallSystem: Result<String, any Error> = Result { try evolve(try smallConfig(), label: "small") }

// MARK: Re-sealing edited systems

/// Re-seals a system after a test edited its journal or component files, so that it opens
/// again: the manifest's journal summary (length, lines, SHA-256 of the whole journal file),
/// the digests of the components in `componentDigests`, and the manifest's own SHA-256.
private func reseal(_ directory: String, componentDigests: [Int: String] = [:]) throws {
  let manifestPath = directory + "/" + SystemStore.manifestName
  var manifest = try #require(try JSONValue.parse(readFile(manifestPath, limitBytes: 1 << 26)).objectValue)
  let journal = try readFile(directory + "/" + SystemStore.journalName, limitBytes: 1 << 26)
  manifest.set("journal", .object(JSONObject([
    ("bytes", .integer(Int64(journal.count))),
    ("lines", .integer(Int64(journal.filter { $0 == 0x0A }.count))),
    ("sha256", .string(SHA256.hash(journal).hex)),
  ])))
  var state = try #require(manifest["state"]?.objectValue)
  let components = try #require(state["components"]?.arrayValue).map { entry -> JSONValue in
    guard var object = entry.objectValue, let id = object["id"]?.integerValue,
          let digest = componentDigests[Int(id)] else { return entry }
    object.set("sha256", .string(digest))
    return .object(object)
  }
  state.set("components", .array(components))
  manifest.set("state", .object(state))
  manifest.set("sha256", nil)
  manifest.set("sha256", .string(SHA256.hash(JSONValue.object(manifest).canonicalBytes).hex))
  try AtomicFile.write(JSONValue.object(manifest).canonicalBytes + [0x0A], to: manifestPath)
}

/// Edits the journal line of `task`'s child `child` of `generation` (round 0) and re-seals.
private func editChildLine(
  _ directory: String, task: String, generation: Int, child: Int, _ edit: (inout JSONObject) throws -> Void
) throws {
  let path = directory + "/" + SystemStore.journalName
  var lines = JournalComparison.lines(try readFile(path, limitBytes: 1 << 26)).map { Array($0) }
  let index = try #require(lines.firstIndex { line in
    let entry = try? JSONValue.parse(line)
    return entry?["event"] == "child" && entry?["task"] == .string(task) && entry?["round"] == 0
      && entry?["generation"] == .integer(Int64(generation)) && entry?["child"] == .integer(Int64(child))
  })
  var object = try #require(try JSONValue.parse(lines[index]).objectValue)
  try edit(&object)
  lines[index] = JSONValue.object(object).canonicalBytes
  try AtomicFile.write(lines.flatMap { $0 + [0x0A] }, to: path)
  try reseal(directory)
}

/// Rewrites component `id`'s file with value `index` of tensor `tensor` changed to `value`,
/// and re-seals (the manifest then records the new file's digest). Returns the old value.
@discardableResult
private func changeTensor(
  _ directory: String, component id: Int, tensor: String, index: Int, to value: Float
) throws -> Float {
  let (store, state, _) = try SystemStore.open(directory: directory)
  let component = ComponentFactory.copy(state.component(id).component, trainable: false)
  let parameter = try #require(component.parameters.namedParameters.first { $0.name == tensor })
  let old = parameter.value.buffer[index]
  parameter.value.buffer[index] = value
  let bytes = ComponentFile.encode(component)
  try AtomicFile.write(bytes, to: store.componentPath(id))
  try reseal(directory, componentDigests: [id: SHA256.hash(bytes).hex])
  return old
}

// MARK: Passing runs

@Test func verifyPassesOnTheGoldenSmokeRunAndItsContinuation() throws {
  let source = try evolve(try loadConfig("smoke.json", seed: 0), label: "golden")
  defer { try? FileManager.default.removeItem(atPath: source) }
  let (sourceStore, sourceState, sourceConfig) = try SystemStore.open(directory: source)
  #expect(SystemDigest.system(state: sourceState, store: sourceStore, config: sourceConfig)
          == (try goldenDigest("smoke-seed0")), "the replayed golden run is the pinned one")
  let report = try verify(source)
  #expect(report.passed, "\(report.text)")
  #expect(report.linesChecked == report.recordedLines)
  #expect(report.recordedLines == (try sourceStore.journalEntries()).count)
  #expect(report.childrenChecked == 16, "2 rounds × 2 tasks × 2 generations × 2 children")
  #expect(report.componentsChecked == sourceState.componentIDs.count)
  #expect(report.taskDigestsChecked == 2)
  #expect(report.systemDigest == (try goldenDigest("smoke-seed0")))
  #expect(report.text.hasPrefix("verified: 32 of 32 journal lines (16 children"))

  let continuation = try evolve(try loadConfig("smoke-add.json", seed: 0), from: source, label: "golden-add")
  defer { try? FileManager.default.removeItem(atPath: continuation) }
  let continued = try verify(continuation, from: source)
  #expect(continued.passed, "\(continued.text)")
  #expect(continued.systemDigest == (try goldenDigest("smoke-add-seed0")))
  #expect(continued.childrenChecked == 4)

  // A continuation needs the system it continued, and only that one.
  #expect { _ = try Verifier(directory: continuation, from: nil) } throws: { error in
    "\(error)".contains("pass --from") && "\(error)".contains(SystemDigest.system(
      state: sourceState, store: sourceStore, config: sourceConfig))
  }
  #expect { _ = try Verifier(directory: continuation, from: try smallSystem.get()) } throws: { error in
    "\(error)".contains("is not the system") && "\(error)".contains(try! smallSystem.get())
  }
  #expect { _ = try Verifier(directory: source, from: try smallSystem.get()) } throws: { error in
    "\(error)".contains("not a continuation")
  }
}

@Test func untilVerifiesAPrefixOnly() throws {
  let system = try smallSystem.get()
  let mark = GenerationMark(round: 0, task: "mnist-mini", generation: 0)
  let report = try verify(system, until: mark)
  #expect(report.passed, "\(report.text)")
  #expect(report.stoppedAt == mark)
  #expect(report.linesChecked == 4, "task_start, generation, two children")
  #expect(report.childrenChecked == 2)
  #expect(report.recordedLines == 16)
  #expect(report.systemDigest == nil, "a prefix says nothing about the final state")
  #expect(report.text.contains("verified a prefix, up to round 0, task mnist-mini, generation 0"))

  let verifier = try Verifier(directory: system, from: nil)
  for bad in [GenerationMark(round: 1, task: "mnist-mini", generation: 0),
              GenerationMark(round: 0, task: "cifar", generation: 0),
              GenerationMark(round: 0, task: "mnist-mini", generation: 2)] {
    #expect(throws: EvolutionError.self) { try verifier.check(until: bad) }
  }
}

@Test func aRecordOfAnInterruptedRunIsVerifiedUpToItsLastCommit() throws {
  let config = try smallConfig()
  let directory = try temporaryDirectory("interrupted") + "/system"
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let (state, store, _) = try SystemBuilder.prepare(
    config: config, directory: directory, from: nil, run: JSONObject([("tier", "reference")]))
  let evolver = Evolver(config: config, state: state, store: store, compute: Compute(tier: .reference))
  var commits = 0
  evolver.stopAfterCommit = { _ in
    commits += 1
    return commits == 4  // two generations and the end of mnist-mini, one generation of fashion-mini
  }
  try evolver.run()
  #expect(!state.cursor.finished)
  let report = try verify(directory)
  #expect(report.passed, "\(report.text)")
  #expect(report.recordedLines == 12 && report.linesChecked == 12)
  #expect(report.systemDigest == SystemDigest.system(state: state, store: store, config: config))
}

@Test func generationMarksParse() {
  #expect(GenerationMark(parsing: "1:mnist-mini:0")
          == GenerationMark(round: 1, task: "mnist-mini", generation: 0))
  #expect(GenerationMark(parsing: "0:data/a:b.csv:3")
          == GenerationMark(round: 0, task: "data/a:b.csv", generation: 3))
  for bad in ["", "1", "1:mnist", "x:mnist:0", "1::0", "1:mnist:-1", "-1:mnist:0"] {
    #expect(GenerationMark(parsing: bad) == nil, "\(bad)")
  }
}

// MARK: Planted divergences

@Test func aChangedParentInTheJournalIsNamed() throws {
  let directory = try copySystem(try smallSystem.get())
  defer { try? FileManager.default.removeItem(atPath: directory) }
  var original: JSONValue?
  try editChildLine(directory, task: "mnist-mini", generation: 1, child: 1) { line in
    original = line["parent"]
    line.set("parent", .integer((line["parent"]?.integerValue ?? 0) + 1))
  }
  let report = try verify(directory)
  guard case .journal(let divergence)? = report.divergence else {
    Issue.record("expected a journal divergence: \(report.text)")
    return
  }
  let location = divergence.location
  #expect(location.line == 7)
  #expect(location.event == "child" && location.round == 0 && location.task == "mnist-mini")
  #expect(location.generation == 1 && location.child == 1 && location.stage == 0)
  guard case .fields(let fields) = divergence.kind else {
    Issue.record("expected field differences")
    return
  }
  let recorded = try #require(original?.integerValue)
  #expect(fields == [FieldDifference(path: "parent", a: .integer(recorded + 1), b: .integer(recorded))])
  #expect(report.linesChecked == 6, "every line before it matched")
  #expect(report.text.contains(
    "DIVERGENCE at journal line 7 (child): stage 0, round 0, task mnist-mini, generation 1, child 1"))
  #expect(report.text.contains("parent: recorded \(recorded + 1), replay \(recorded)"))
}

@Test func aChangedValidationCountInTheJournalIsNamed() throws {
  let directory = try copySystem(try smallSystem.get())
  defer { try? FileManager.default.removeItem(atPath: directory) }
  var correct: Int64 = 0
  try editChildLine(directory, task: "fashion-mini", generation: 0, child: 0) { line in
    var validations = try #require(line["validations"]?.arrayValue)
    var second = try #require(validations[1].objectValue)
    correct = try #require(second["correct"]?.integerValue)
    second.set("correct", .integer(correct + 1))
    validations[1] = .object(second)
    line.set("validations", .array(validations))
  }
  let report = try verify(directory)
  guard case .journal(let divergence)? = report.divergence, case .fields(let fields) = divergence.kind else {
    Issue.record("expected a journal divergence: \(report.text)")
    return
  }
  #expect(divergence.location.task == "fashion-mini" && divergence.location.generation == 0)
  #expect(divergence.location.child == 0 && divergence.location.round == 0)
  #expect(fields == [
    FieldDifference(path: "validations[1].correct", a: .integer(correct + 1), b: .integer(correct)),
  ])
  #expect(report.text.contains("validations[1].correct: recorded \(correct + 1), replay \(correct)"))
}

@Test func aChangedTensorValueInAComponentFileIsNamed() throws {
  let directory = try copySystem(try smallSystem.get())
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let (_, state, _) = try SystemStore.open(directory: directory)
  // The head of mnist-mini's retained path: made by a kept child, kept to the end.
  let retained = state.path(try #require(state.retainedPath(of: "mnist-mini")))
  let headID = try #require(retained.componentIDs.last)
  #expect(state.component(headID).name == "head")
  let old = try changeTensor(directory, component: headID, tensor: "head/kernel", index: 5, to: 0.5)
  let report = try verify(directory)
  guard case .component(let difference, let createdAt)? = report.divergence else {
    Issue.record("expected a component divergence: \(report.text)")
    return
  }
  #expect(difference.id == headID && difference.name == "head")
  #expect(difference.tensors.count == 1)
  let tensor = try #require(difference.tensors.first)
  #expect(tensor.name == "head/kernel")
  guard case .values(let differing, let count, let first, let recorded, let replayed, let maximum)
    = tensor.kind else {
    Issue.record("expected differing values")
    return
  }
  #expect(differing == 1 && first == 5 && count == 16 * 10)
  #expect(recorded == 0.5 && replayed == old)
  #expect(maximum == (0.5 - Double(old)).magnitude)
  let location = try #require(createdAt, "the child that made the head is named")
  #expect(location.event == "child" && location.task == "mnist-mini")
  let entry = try SystemStore.open(directory: directory).0.journalEntries()[location.line - 1]
  #expect(entry["path"] == .integer(Int64(retained.id)))
  #expect(report.text.contains("DIVERGENCE in component \(headID) (head)"))
  #expect(report.text.contains("tensor head/kernel: 1 of 160 values differ, first at index 5"))
}

@Test func aKeptChildWithOtherParametersNamesTheTensor() throws {
  let directory = try copySystem(try smallSystem.get())
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let (store, state, _) = try SystemStore.open(directory: directory)
  let retained = state.path(try #require(state.retainedPath(of: "fashion-mini")))
  let line = try #require(try store.journalEntries().first {
    $0["event"] == "child" && $0["path"] == .integer(Int64(retained.id))
  })
  let headID = try #require(retained.componentIDs.last)
  // As if the recorded run had trained that child to other values: its head file and the
  // parameters digest of its journal line both differ from what the replay computes.
  try changeTensor(directory, component: headID, tensor: "head/bias", index: 2, to: 7)
  try editChildLine(
    directory, task: "fashion-mini", generation: Int(line["generation"]!.integerValue!),
    child: Int(line["child"]!.integerValue!)
  ) { entry in entry.set("parameters_sha256", .string(String(repeating: "0", count: 64))) }
  let report = try verify(directory)
  guard case .journal(let divergence)? = report.divergence, case .fields(let fields) = divergence.kind else {
    Issue.record("expected a journal divergence: \(report.text)")
    return
  }
  #expect(fields.map(\.path) == ["parameters_sha256"])
  #expect(divergence.location.line == Int(try #require(store.journalEntries().firstIndex(of: line))) + 1)
  let component = try #require(divergence.components.first { $0.id == headID })
  #expect(component.tensors.map(\.name) == ["head/bias"])
  #expect(report.text.contains("tensor head/bias: 1 of 10 values differ, first at index 2: recorded 7.0"))
}

@Test func aJournalWithAnExtraLineIsNamed() throws {
  let directory = try copySystem(try smallSystem.get())
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let path = directory + "/" + SystemStore.journalName
  var bytes = try readFile(path, limitBytes: 1 << 26)
  bytes += Array(#"{"event":"note","round":0,"stage":0,"task":"fashion-mini"}"#.utf8) + [0x0A]
  try AtomicFile.write(bytes, to: path)
  try reseal(directory)
  let report = try verify(directory)
  guard case .journal(let divergence)? = report.divergence, case .onlyIn(.a, _) = divergence.kind else {
    Issue.record("expected a line only the record has: \(report.text)")
    return
  }
  #expect(divergence.location.line == 17 && divergence.location.event == "note")
  #expect(report.linesChecked == 16)
}

// MARK: diff

@Test func diffOfACopyIsIdentical() throws {
  let system = try smallSystem.get()
  let copy = try copySystem(system)
  defer { try? FileManager.default.removeItem(atPath: copy) }
  let report = try SystemDiff.compare(system, copy)
  #expect(report.isIdentical)
  #expect(report.configDifferences.isEmpty && report.journalDivergence == nil)
  #expect(report.stateDifferences.isEmpty)
  #expect(report.text.contains("identical: system digest \(report.digestA)"))
}

@Test func diffOfTwoSeedsNamesTheSeedAndTheFirstJournalLine() throws {
  let other = try evolve(try smallConfig(seed: 1), label: "seed1")
  defer { try? FileManager.default.removeItem(atPath: other) }
  let report = try SystemDiff.compare(try smallSystem.get(), other)
  #expect(!report.isIdentical)
  #expect(report.configDifferences == [FieldDifference(path: "seed", a: 0, b: 1)])
  let divergence = try #require(report.journalDivergence)
  // Find the first differing line independently.
  let linesA = try SystemStore.open(directory: try smallSystem.get()).0.journalEntries()
  let linesB = try SystemStore.open(directory: other).0.journalEntries()
  let first = try #require(zip(linesA, linesB).enumerated().first { $0.element.0 != $0.element.1 }?.offset)
  #expect(divergence.location.line == first + 1)
  guard case .fields(let fields) = divergence.kind else {
    Issue.record("expected differing fields")
    return
  }
  #expect(!fields.isEmpty)
  for field in fields {
    let key = try #require(field.path.split(separator: ".").first.map(String.init))
    #expect(linesA[first][key.split(separator: "[").first.map(String.init) ?? key] != nil)
  }
  #expect(!report.stateDifferences.isEmpty)
  #expect(report.text.contains("seed: A 0, B 1"))
}

@Test func diffNamesAChangedTensor() throws {
  let system = try smallSystem.get()
  let copy = try copySystem(system)
  defer { try? FileManager.default.removeItem(atPath: copy) }
  let (_, state, _) = try SystemStore.open(directory: copy)
  let id = state.root.componentIDs[0]
  #expect(state.component(id).name == "embedding")
  let old = try changeTensor(copy, component: id, tensor: "embedding/bias", index: 3, to: 2)
  let report = try SystemDiff.compare(system, copy)
  #expect(!report.isIdentical)
  #expect(report.configDifferences.isEmpty && report.journalDivergence == nil)
  #expect(report.stateDifferences.count == 1)
  guard case .component(let difference)? = report.stateDifferences.first else {
    Issue.record("expected a component difference: \(report.text)")
    return
  }
  #expect(difference.id == id && difference.tensors.count == 1)
  #expect(difference.tensors.first?.name == "embedding/bias")
  #expect(difference.tensors.first?.kind == .values(
    differing: 1, count: 16, firstIndex: 3, a: old, b: 2, maxAbsoluteDifference: (2 - Double(old)).magnitude))
  #expect(report.text.contains("tensor embedding/bias: 1 of 16 values differ, first at index 3"))
}

// MARK: Comparisons

@Test func jsonDifferencesNameNestedFields() throws {
  let a = try JSONValue.parse(#"{"a":1,"b":{"c":[1,2,{"d":true}],"e":"x"},"list":[1,2],"only_a":null}"#)
  let b = try JSONValue.parse(#"{"a":1,"b":{"c":[1,3,{"d":false}],"e":"x"},"list":[1],"only_b":0}"#)
  let found = JSONComparison.differences(a, b)
  #expect(found.map(\.path) == ["b.c[1]", "b.c[2].d", "list", "only_a", "only_b"])
  #expect(found[2] == FieldDifference(path: "list", a: [1, 2], b: [1]))
  #expect(found[3].b == nil && found[4].a == nil)
  #expect(found[0].text(SideLabels(a: "A", b: "B")) == "b.c[1]: A 2, B 3")
  #expect(found[3].text(SideLabels(a: "A", b: "B")) == "only_a: A null, B absent")
  #expect(JSONComparison.differences(a, b, limit: 2).count == 2)
  #expect(JSONComparison.differences(a, a).isEmpty)
}

@Test func tensorDifferencesCountBitsAndTheLargestGap() {
  let factory = ComponentFactory(architecture: EvolutionConfig.RootArchitecture(width: 8))
  let a = factory.fresh(
    "encoder_norm", tokenCount: 1, adapterDim: 1, classCount: 1, initKey: StreamKey(seed: 3))
  let b = ComponentFactory.copy(a, trainable: false)
  #expect(TensorComparison.differences(a, b).isEmpty)
  let scale = b.parameters.namedParameters.first { $0.name == "encoder_norm/scale" }!
  let original = scale.value.buffer[2]
  scale.value.buffer[2] = original + 0.25
  scale.value.buffer[6] += 0.5
  let found = TensorComparison.differences(a, b)
  #expect(found.count == 1)
  #expect(found.first?.kind == .values(
    differing: 2, count: 8, firstIndex: 2, a: original, b: original + 0.25, maxAbsoluteDifference: 0.5))
  scale.value.buffer[4] = .nan
  guard case .values(3, _, _, _, _, nil)? = TensorComparison.differences(a, b).first?.kind else {
    Issue.record("a NaN makes the largest gap not finite")
    return
  }
}
