import CMuNetSupport
import Foundation
@testable import MuNetCLI
import MuNetData
import MuNetEvolution
import MuNetStorage
import Testing

// Regressions for what the audit campaigns found (spec/audit-figures.md): each input used to
// trap (or allocate what a header claimed) and must now be refused with a typed error.

private func configProblems(_ edit: (inout JSONObject) -> Void) throws -> [String] {
  guard case .object(var object) = try JSONValue.parse(AuditSystem.configText) else { return [] }
  edit(&object)
  do {
    _ = try EvolutionConfig.parse(.object(object), source: "test")
    return []
  } catch {
    guard case .config(_, let problems) = error else { return ["unexpected \(error)"] }
    return problems
  }
}

private func root(_ key: String, _ value: JSONValue) -> (inout JSONObject) -> Void {
  { object in
    var root = object["root"]!.objectValue!
    root.set(key, value)
    object.set("root", .object(root))
  }
}

@Test func configurationSizesOutOfRangeAreReportedNotTrapped() throws {
  // Each of these trapped while the default ranges were derived (stride by 0, a reversed range,
  // an overflowing multiple) or allocated a range of a trillion values.
  #expect(try configProblems(root("patch_size", 0)).contains { $0.contains("patch_size") })
  #expect(try configProblems(root("patch_size", .integer(1 << 62))).contains { $0.contains("patch_size") })
  #expect(try configProblems { $0.set("layers_max", -1) }.contains { $0.contains("layers_max") })
  #expect(
    try configProblems { $0.set("layers_max", .integer(1 << 40)) }.contains { $0.contains("layers_max") })
  #expect(try configProblems(root("width", .integer(1 << 40))).contains { $0.contains("root: width") })
  #expect(try configProblems(root("mlp_dim", .integer(1 << 40))).contains { $0.contains("root: mlp_dim") })
}

@Test func everyProblemOfAConfigurationIsListedAtOnce() throws {
  // A misspelt key (found while reading) and out-of-range values (found after reading) used
  // to be reported in two rounds: the second only after the first was fixed.
  let problems = try configProblems { object in
    object.set("generatoins", 3)
    object.set("rounds", 0)
    object.set("layers_max", -1)
    object.set("seed", "zero")
  }
  #expect(problems.contains("unknown setting generatoins"))
  #expect(problems.contains("seed must be an integer"))
  #expect(problems.contains { $0.hasPrefix("rounds") })
  #expect(problems.contains { $0.hasPrefix("layers_max") })
}

@Test func missingDatasetsAreConfigurationProblems() throws {
  let directory = try ScratchFiles.makeDirectory("config-datasets")
  defer { ScratchFiles.remove(directory) }
  let path = directory + "/config.json"
  let text = AuditSystem.configText.replacingOccurrences(of: "\"fashion-mini\"", with: "\"/no/such/dataset\"")
    .replacingOccurrences(of: "\"rounds\": 1", with: "\"rounds\": 0")
  try ScratchFiles.write(Array(text.utf8), to: path)
  #expect {
    _ = try EvolutionConfig.load(path: path)
  } throws: { error in
    guard case .config(_, let problems) = error as? EvolutionError else { return false }
    return problems.count == 2 && problems.contains { $0.contains("/no/such/dataset") }
      && problems.contains { $0.hasPrefix("rounds") }
  }
}

// MARK: Manifests

/// The final manifest of the audit system, edited and resealed (a valid checksum: what a
/// hostile or buggy writer produces), then opened.
private func openEditedManifest(_ edit: (inout JSONObject) -> Void) throws -> EvolutionError? {
  let directory = try ScratchFiles.makeDirectory("hostile-manifest")
  defer { ScratchFiles.remove(directory) }
  let system = try auditSystem.get()
  var files = system.snapshots.last!.files
  guard case .object(var manifest) = try JSONValue.parse(files[SystemStore.manifestName]!) else { return nil }
  var state = manifest["state"]!.objectValue!
  edit(&state)
  manifest.set("state", .object(state))
  files[SystemStore.manifestName] = ParserFuzzer.sealManifest(JSONValue.object(manifest).canonicalBytes)
  try ScratchFiles.writeTree(files, to: directory + "/edited")
  do {
    _ = try SystemStore.open(directory: directory + "/edited")
    return nil
  } catch {
    return error
  }
}

private func edited(_ array: String, _ index: Int, _ key: String, _ value: JSONValue) -> (inout JSONObject) ->
  Void
{
  { state in
    var list = state[array]!.arrayValue!
    var entry = list[index].objectValue!
    entry.set(key, value)
    list[index] = .object(entry)
    state.set(array, .array(list))
  }
}

@Test func inconsistentManifestsAreRefusedNamingTheManifest() throws {
  let edits: [(String, (inout JSONObject) -> Void)] = [
    // Used to trap: a path or component id given twice (SystemState.insert's precondition).
    (
      "repeated path id",
      { state in
        let paths = state["paths"]!.arrayValue!
        state.set("paths", .array(paths + [paths.last!]))
      }
    ),
    (
      "repeated component id",
      { state in
        let components = state["components"]!.arrayValue!
        state.set("components", .array(components + [components[0]]))
      }
    ),
    // Used to overflow when the next id was derived from it.
    (
      "id at Int64.max",
      { state in
        var paths = state["paths"]!.arrayValue!
        var last = paths.removeLast().objectValue!
        last.set("id", .integer(Int64.max))
        state.set("paths", .array(paths + [.object(last)]))
      }
    ),
    // Would loop forever in ancestors(of:) (a parent cycle) or look up a missing parent.
    ("parent cycle", edited("paths", 0, "parent", .integer(1))),
    ("missing parent", edited("paths", 1, "parent", .integer(999))),
    // Would make the evolver run rounds forever, or build a model of -1 layers.
    (
      "cursor beyond the rounds",
      { state in
        state.set(
          "cursor",
          .object(
            JSONObject([
              ("round", 5), ("task_index", 0), ("generation", 0), ("task_started", false),
              ("finished", false),
            ])))
      }
    ),
    (
      "negative num_layers",
      { state in
        var paths = state["paths"]!.arrayValue!
        var path = paths[1].objectValue!
        var hyper = path["hyperparameters"]!.objectValue!
        hyper.set("num_layers", -1)
        path.set("hyperparameters", .object(hyper))
        paths[1] = .object(path)
        state.set("paths", .array(paths))
      }
    ),
    (
      "task listed twice",
      { state in
        let tasks = state["tasks"]!.arrayValue!
        state.set("tasks", .array(tasks + [tasks[0]]))
      }
    ),
    (
      "retained path of another task",
      { state in
        var retained = state["retained"]!.objectValue!
        let ids = retained.members.map(\.value)
        retained.set(retained.members[0].key, ids.last!)
        state.set("retained", .object(retained))
      }
    ),
  ]
  for (name, edit) in edits {
    let error = try openEditedManifest(edit)
    #expect(error != nil, "\(name): opened")
    #expect(
      error.map { "\($0)".contains(SystemStore.manifestName) } == true,
      "\(name): \(String(describing: error))")
  }
}

// MARK: Data files

@Test func aCSVWhoseFirstRowClaimsManyColumnsIsRefusedBeforeAllocating() throws {
  let directory = try ScratchFiles.makeDirectory("hostile-csv")
  defer { ScratchFiles.remove(directory) }
  // 40,000 pixel columns (a 200 × 200 image) × 40,000 rows would be 6.4 GB of Float, from a
  // 160 KB file.
  let path = directory + "/wide.csv"
  let first = Array(repeating: "1", count: 40_001).joined(separator: ",")
  let text = first + "\n" + String(repeating: "1\n", count: 40_000)
  try ScratchFiles.write(Array(text.utf8), to: path)
  let peakBefore = munet_peak_rss_bytes()
  #expect(throws: DataError(file: path, problem: .raggedRow(line: 2, columns: 1, expected: 40_001))) {
    _ = try CSVFormat.read(path)
  }
  // The peak resident size of the whole process, so other tests count too: far below 6.4 GB.
  #expect(munet_peak_rss_bytes() - peakBefore < 1 << 30, "the reader allocated what the first row claimed")
}

@Test func aComponentFileCannotClaimASizeItsDataDoesNotHave() throws {
  // A position table of 2^20 tokens × 0 values per token: no data, but the component built
  // from its token count used to be allocated (1 GiB at width 256) before its shape was checked.
  let bytes = try SafeTensors.encode(
    [
      .init(
        name: "posembed_input/pos_embedding", shape: [1, 1 << 20, 0],
        values: UnsafeBufferPointer(start: nil, count: 0))
    ],
    metadata: ["munet.format": ComponentFile.formatName, "munet.component": "posembed_input"],
    source: "hostile")
  let file = try SafeTensors.decode(bytes, source: "hostile.safetensors")
  let factory = ComponentFactory(
    architecture: .init(patchSize: 4, channels: 1, width: 256, heads: 2, mlpDim: 8))
  let peakBefore = munet_peak_rss_bytes()
  #expect {
    _ = try factory.load(file, name: "posembed_input", source: "hostile.safetensors")
  } throws: { error in
    "\(error)".contains("hostile.safetensors") && "\(error)".contains("pos_embedding has shape")
  }
  #expect(munet_peak_rss_bytes() - peakBefore < 256 << 20, "the loader allocated what the shape claimed")
}

@Test func aConfigurationsCanonicalFormReadsBackEqual() throws {
  // max_gradient_norm used to be written from its Float (0.1 as 0.10000000149011612), which
  // the reader refuses (more than six decimals): the run's manifest could not be read back.
  for norm in ["0.1", "1.65536", "2.5", "0.000001"] {
    let text = AuditSystem.configText.replacingOccurrences(
      of: "\"validations\": 1,", with: "\"validations\": 1, \"max_gradient_norm\": \(norm),")
    let config = try EvolutionConfig.parse(JSONValue.parse(text), source: "test")
    #expect(config.training.maxGradientNorm == Float(norm)!)
    let again = try EvolutionConfig.parse(config.json, source: "canonical")
    #expect(again == config && again.json.canonicalText.contains("\"max_gradient_norm\":\(norm)"))
  }
}

@Test func aComponentFileMustBeCanonical() throws {
  // The same values with other bytes (here a newline in the header's padding) would give a
  // component a second identity; with the manifest resealed to its digest it used to load.
  let system = try auditSystem.get()
  var files = system.snapshots.last!.files
  let name = files.keys.filter { $0.hasPrefix("components/") }.sorted()[0]
  var bytes = files[name]!
  let headerEnd = 8 + Int(bytes[0]) + Int(bytes[1]) << 8
  #expect(bytes[headerEnd - 1] == 0x20, "the seed file's header ends in padding")
  bytes[headerEnd - 1] = 0x0A
  #expect((try? SafeTensors.decode(bytes, source: "x")) != nil, "still a valid safetensors file")
  files[name] = bytes
  files[SystemStore.manifestName] = ParserFuzzer.resealComponent(files[SystemStore.manifestName]!, name: name, bytes)
  let directory = try ScratchFiles.makeDirectory("noncanonical-component")
  defer { ScratchFiles.remove(directory) }
  try ScratchFiles.writeTree(files, to: directory)
  #expect {
    _ = try SystemStore.open(directory: directory)
  } throws: { error in
    "\(error)".contains(name) && "\(error)".contains("canonical")
  }
}
