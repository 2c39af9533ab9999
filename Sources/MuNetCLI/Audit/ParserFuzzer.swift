import CMuNetSupport
import Foundation
import MuNetData
import MuNetEvolution
import MuNetModel
import MuNetRuntime
import MuNetStorage
import MuNetTraining

/// The parsers `munet fuzz` feeds hostile input to.
enum FuzzTarget: String, CaseIterable, Sendable {
  case idxImages = "idx-images"
  case idxLabels = "idx-labels"
  case npyImages = "npy-images"
  case npyLabels = "npy-labels"
  case csv
  /// A dataset folder (train and test IDX files) with one file fuzzed: `DatasetLoader.load`.
  case dataset
  case safetensors
  case json
  /// A run configuration: JSON, then `EvolutionConfig.parse`.
  case config
  /// A `munet train` model file: `ModelFile.load`.
  case model
  /// A system directory whose manifest is fuzzed: `SystemStore.open`.
  case manifest
  /// A system directory whose journal is fuzzed (half the time with the manifest resealed).
  case journal
  /// A system directory with one component file fuzzed (half the time with its digest resealed).
  case component

  /// The targets that need the audit system (a small evolved system directory).
  var needsSystem: Bool { [.manifest, .journal, .component].contains(self) }
}

/// What one input did.
enum FuzzOutcome: Equatable {
  /// The parser accepted it (and what was built from it passed its checks).
  case accepted
  /// The parser refused it with a typed error.
  case rejected
  /// The parser accepted it but a check of the result failed: a bug, with what failed.
  case violation(String)
}

/// Counts per target.
struct FuzzCounts: Sendable {
  var inputs = 0
  var accepted = 0
  var rejected = 0
  var violations: [String] = []
  /// The slowest input, in seconds.
  var slowestSeconds = 0.0
}

/// Seeded fuzzing of every parser: each input is a seed input (a valid file of the format)
/// mutated 1 to 4 times (bit flips, byte inserts and deletes, truncation, chunk copies, length
/// fields set to huge values, numbers in text set to extreme ones), or a structural mutation of
/// its JSON (re-sealed with a correct checksum where the format has one, so the checks behind
/// the checksum are reached), or random bytes. Every input must be accepted or refused with a
/// typed error: no trap, no hang, no allocation the input's size does not justify.
///
/// Before each input, its bytes and a description are written to `scratch/current-input` and
/// `scratch/current-input.txt`, so a crash (or an out-of-memory kill) leaves the input behind.
final class ParserFuzzer {
  let seed: UInt64
  let scratch: String
  let system: AuditSystem?
  var seeds: [FuzzTarget: [(bytes: [UInt8], fields: [LengthField])]] = [:]
  private(set) var counts: [FuzzTarget: FuzzCounts] = [:]
  /// Set by the watchdog's caller: the input now running (for hang reports).
  let progress = FuzzProgress()

  init(seed: UInt64, scratch: String, system: AuditSystem?) throws {
    self.seed = seed
    self.scratch = scratch
    self.system = system
    try makeSeeds()
  }

  /// Runs `iterations` inputs over `targets`, round robin.
  func run(iterations: Int, targets: [FuzzTarget], report: ((Int) -> Void)? = nil) throws {
    for iteration in 0..<iterations {
      let target = targets[iteration % targets.count]
      let input = makeInput(target: target, iteration: iteration)
      try record(input, target: target, iteration: iteration)
      let start = munet_monotonic_ns()
      progress.started(target: target, iteration: iteration, at: start)
      let outcome = try execute(target, input)
      let seconds = Double(munet_monotonic_ns() - start) / 1e9
      progress.finished()
      var count = counts[target, default: FuzzCounts()]
      count.inputs += 1
      count.slowestSeconds = max(count.slowestSeconds, seconds)
      switch outcome {
      case .accepted: count.accepted += 1
      case .rejected: count.rejected += 1
      case .violation(let message): count.violations.append("input \(iteration): \(message)")
      }
      counts[target] = count
      if let report, (iteration + 1) % 1000 == 0 { report(iteration + 1) }
    }
  }

  /// Runs one stored input again (`munet fuzz parsers --reproduce`).
  func reproduce(_ input: FuzzInput, target: FuzzTarget) throws -> FuzzOutcome {
    try execute(target, input)
  }

  // MARK: Inputs

  /// The input `iteration` of `target`: the same for the same seed, everywhere.
  func makeInput(target: FuzzTarget, iteration: Int) -> FuzzInput {
    let key = StreamKey(seed: seed).child("fuzz").child("target", target.rawValue).child("input", iteration)
    var mutator = FuzzMutator(key: key)
    let seedInputs = seeds[target]!
    let variant = mutator.below(seedInputs.count)
    let base = seedInputs[variant]
    let reseal = mutator.chance(3, in: 4)
    func input(_ bytes: [UInt8]) -> FuzzInput {
      FuzzInput(bytes: rebuild(target, bytes, reseal: reseal), variant: variant, reseal: reseal)
    }
    switch mutator.below(20) {
    case 0: return FuzzInput(bytes: mutator.randomBytes(lengthMax: 512), variant: variant, reseal: reseal)
    case 1: return input(base.bytes)
    case 2...8 where target == .journal:
      // One line of the journal mutated as JSON.
      var lines = base.bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
      let index = mutator.below(max(1, lines.count - 1))
      guard let json = try? JSONValue.parse(lines[index]) else { break }
      lines[index] = mutator.mutate(json).canonicalBytes
      return input(Array(lines.joined(separator: [0x0A])))
    case 2...8 where target.isJSONLike:
      guard let json = try? JSONValue.parse(base.bytes) else { break }
      return input(mutator.mutate(json).canonicalBytes + (target == .manifest ? [0x0A] : []))
    case 2...6 where target == .safetensors || target == .model || target == .component:
      guard let header = Self.safetensorsHeader(base.bytes), let json = try? JSONValue.parse(header.json)
      else { break }
      var mutated = json
      // Aim at the metadata half the time (the model's configuration, the format names).
      if mutator.chance(1, in: 2), case .object(var object) = json,
        var metadata = object["__metadata__"]?.objectValue,
        !metadata.members.isEmpty
      {
        let member = mutator.pick(metadata.members)
        if member.key == ModelFile.configKey,
          let config = try? JSONValue.parse(member.value.stringValue ?? "")
        {
          metadata.set(member.key, .string(mutator.mutate(config).canonicalText))
        } else {
          metadata.set(member.key, mutator.mutate(member.value))
        }
        object.set("__metadata__", .object(metadata))
        mutated = .object(object)
      } else {
        mutated = mutator.mutate(json)
      }
      return input(Self.safetensorsBytes(header: mutated.canonicalBytes, data: header.data))
    default: break
    }
    return input(mutator.mutate(base.bytes, fields: base.fields))
  }

  /// With `reseal`, a mutated manifest or model file gets correct checksums again, so that
  /// the checks behind them are reached (system files are resealed in the manifest when run).
  private func rebuild(_ target: FuzzTarget, _ mutated: [UInt8], reseal: Bool) -> [UInt8] {
    guard reseal else { return mutated }
    switch target {
    case .manifest: return Self.sealManifest(mutated)
    case .model: return Self.sealModel(mutated)
    default: return mutated
    }
  }

  // MARK: Running

  private var inputPath: String { scratch + "/input" }
  private var systemPath: String { scratch + "/system" }
  private var datasetPath: String { scratch + "/dataset" }

  private func record(_ input: FuzzInput, target: FuzzTarget, iteration: Int) throws {
    try ScratchFiles.write(input.bytes, to: scratch + "/current-input")
    let text =
      "munet fuzz parsers --reproduce \(scratch)/current-input --target \(target.rawValue) "
      + "--variant \(input.variant)\(input.reseal ? " --reseal" : "")  # seed \(seed) input \(iteration)\n"
    try ScratchFiles.write(Array(text.utf8), to: scratch + "/current-input.txt")
  }

  private func execute(_ target: FuzzTarget, _ fuzzInput: FuzzInput) throws -> FuzzOutcome {
    let input = fuzzInput.bytes
    switch target {
    case .idxImages:
      try ScratchFiles.write(input, to: inputPath)
      return images { () throws(DataError) in try IDXFormat.readImages(inputPath) }
    case .idxLabels:
      try ScratchFiles.write(input, to: inputPath)
      return outcome { () throws(DataError) in _ = try IDXFormat.readLabels(inputPath) }
    case .npyImages:
      try ScratchFiles.write(input, to: inputPath)
      return images { () throws(DataError) in try NPYFormat.readImages(inputPath) }
    case .npyLabels:
      try ScratchFiles.write(input, to: inputPath)
      return outcome { () throws(DataError) in _ = try NPYFormat.readLabels(inputPath) }
    case .csv:
      try ScratchFiles.write(input, to: inputPath)
      return images { () throws(DataError) in try CSVFormat.read(inputPath).images }
    case .dataset:
      return try runDataset(input, position: fuzzInput.variant)
    case .safetensors:
      return runSafeTensors(input)
    case .json:
      return runJSON(input)
    case .config:
      return runConfig(input)
    case .model:
      try ScratchFiles.write(input, to: inputPath)
      return outcome { () throws(ModelFileError) in _ = try ModelFile.load(path: inputPath) }
    case .manifest, .journal, .component:
      return try runSystem(target, fuzzInput)
    }
  }

  private func outcome<E: Error>(_ body: () throws(E) -> Void) -> FuzzOutcome {
    do { try body() } catch { return .rejected }
    return .accepted
  }

  private func images(_ body: () throws(DataError) -> LoadedImages) -> FuzzOutcome {
    let loaded: LoadedImages
    do { loaded = try body() } catch { return .rejected }
    guard loaded.count > 0, loaded.pixels.count == loaded.count * loaded.shape.elementCount else {
      return .violation(
        "accepted images with \(loaded.pixels.count) values for \(loaded.count) × \(loaded.shape)")
    }
    return .accepted
  }

  /// The dataset folder with file `position` (train images, train labels, test images, test
  /// labels) replaced by the input.
  private func runDataset(_ input: [UInt8], position: Int) throws -> FuzzOutcome {
    let names = [
      "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
      "t10k-labels-idx1-ubyte",
    ]
    try FileManager.default.createDirectory(atPath: datasetPath, withIntermediateDirectories: true)
    for (index, name) in names.enumerated() {
      try ScratchFiles.write(
        index == position ? input : Self.datasetFiles[index], to: datasetPath + "/" + name)
    }
    let splits: DatasetSplits
    do { splits = try DatasetLoader.load(path: datasetPath) } catch { return .rejected }
    for dataset in [splits.train, splits.validation, splits.test] where dataset.count > 0 {
      let labels = (0..<dataset.count).map { dataset.label($0) }
      guard labels.allSatisfy({ $0 >= 0 && Int($0) < dataset.classCount }) else {
        return .violation("accepted a dataset with a label outside 0..<\(dataset.classCount)")
      }
    }
    return .accepted
  }

  private func runSafeTensors(_ input: [UInt8]) -> FuzzOutcome {
    let file: SafeTensorsFile
    do { file = try SafeTensors.decode(input, source: "fuzz") } catch { return .rejected }
    var total = 0
    for tensor in file.tensors {
      total += file.values(of: tensor).count
      guard tensor.dataOffsets.upperBound <= input.count - file.dataStart else {
        return .violation("tensor \(tensor.name) runs past the buffer")
      }
    }
    guard 4 * total == input.count - file.dataStart else {
      return .violation(
        "accepted tensors covering \(4 * total) of \(input.count - file.dataStart) data bytes")
    }
    return .accepted
  }

  private func runJSON(_ input: [UInt8]) -> FuzzOutcome {
    let value: JSONValue
    do { value = try JSONValue.parse(input) } catch { return .rejected }
    // The canonical text is JSON and reads back as the same value.
    guard let again = try? JSONValue.parse(value.canonicalBytes), again == value else {
      return .violation("the canonical text of an accepted value does not read back equal")
    }
    return .accepted
  }

  private func runConfig(_ input: [UInt8]) -> FuzzOutcome {
    let config: EvolutionConfig
    do {
      let json = try JSONValue.parse(input)
      config = try EvolutionConfig.parse(json, source: "fuzz")
    } catch {
      return .rejected
    }
    // What a run does first with an accepted configuration.
    guard let again = try? EvolutionConfig.parse(config.json, source: "canonical"), again == config else {
      return .violation("the canonical form of an accepted configuration does not read back equal")
    }
    _ = config.trainingSettings(config.defaults, trainCount: 1000)
    _ = try? SystemBuilder.newSystem(config).pathIDs
    return .accepted
  }

  /// The audit system with the manifest, the journal or component `variant` replaced by the
  /// input; with `reseal`, the manifest records the fuzzed journal or component digest.
  private func runSystem(_ target: FuzzTarget, _ fuzzInput: FuzzInput) throws -> FuzzOutcome {
    guard let system else { preconditionFailure("the system targets need the audit system") }
    let input = fuzzInput.bytes
    var files = system.snapshots.last!.files
    let manifest = files[SystemStore.manifestName]!
    switch target {
    case .manifest:
      files[SystemStore.manifestName] = input
    case .journal:
      files[SystemStore.journalName] = input
      if fuzzInput.reseal { files[SystemStore.manifestName] = Self.resealJournal(manifest, input) }
    default:
      let names = files.keys.filter { $0.hasPrefix(SystemStore.componentsFolder + "/") }.sorted()
      let name = names[fuzzInput.variant % names.count]
      files[name] = input
      if fuzzInput.reseal {
        files[SystemStore.manifestName] = Self.resealComponent(manifest, name: name, input)
      }
    }
    try ScratchFiles.writeTree(files, to: systemPath)
    let opened: (SystemStore, SystemState, EvolutionConfig)
    do { opened = try SystemStore.open(directory: systemPath) } catch { return .rejected }
    let (store, state, config) = opened
    // What the inspection commands and a resume do next with an accepted system.
    _ = SystemDigest.system(state: state, store: store, config: config)
    _ = Report.leaderboard(state: state, config: config)
    _ = try? store.journalEntries()
    for (task, _) in state.retainedPaths { _ = SystemDigest.task(task, state: state) }
    for id in state.componentIDs {
      let stored = state.component(id)
      guard SHA256.hash(ComponentFile.encode(stored.component)).hex == stored.digest else {
        return .violation("component \(id) loaded with values its digest does not match")
      }
    }
    return .accepted
  }
}

/// One fuzz input: its bytes, which seed input it came from (for the dataset and component
/// targets: which file it replaces) and whether the system files are resealed around it.
struct FuzzInput: Sendable {
  var bytes: [UInt8]
  var variant = 0
  var reseal = false
}

extension FuzzTarget {
  var isJSONLike: Bool { [.json, .config, .manifest, .journal].contains(self) }
}

/// The input running now (for the hang watchdog).
final class FuzzProgress: @unchecked Sendable {
  private let lock = NSLock()
  private var current: (target: FuzzTarget, iteration: Int, start: UInt64)?

  func started(target: FuzzTarget, iteration: Int, at start: UInt64) {
    lock.withLock { current = (target, iteration, start) }
  }

  func finished() { lock.withLock { current = nil } }

  var running: (target: FuzzTarget, iteration: Int, start: UInt64)? { lock.withLock { current } }
}
