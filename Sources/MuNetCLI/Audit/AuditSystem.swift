import Foundation
import MuNetEvolution
import MuNetRuntime
import MuNetStorage

/// The small evolution the audits work on (`munet fuzz`, the storage fault campaign and their
/// tests): two fixture tasks, one round, two generations of two children, a width-8 model
/// trained for a few steps. Small enough to run hundreds of times, big enough to have every
/// kind of commit: the creation, generations that keep children (new component files), and
/// task ends that drop paths, lock components and delete files.
struct AuditSystem: @unchecked Sendable {
  static let configText = """
    {
      "format": "munet-evolve-config-1",
      "tasks": ["mnist-mini", "fashion-mini"],
      "seed": 7,
      "rounds": 1,
      "generations": 2,
      "children_per_generation": 2,
      "layers_max": 1,
      "root": {"init": "random", "patch_size": 4, "channels": 1, "width": 8, "heads": 2, "mlp_dim": 16, "layers": 0},
      "training": {
        "batch_size": 8, "evaluation_batch_size": 50, "validations": 1,
        "train_examples_per_validation_max": 32, "validation_examples_max": 20
      },
      "hyperparameters": {
        "defaults": {"ds_image_size": 8, "opt_lr": 0.05, "_mu_": 0.3},
        "ranges": {"ds_image_size": [8, 12]}
      },
      "immutability_examples": 10
    }
    """

  /// The files of a system directory after one commit, by path relative to the directory.
  struct Snapshot {
    var files: [String: [UInt8]]
    /// The system digest of the commit.
    var digest: String
  }

  let config: EvolutionConfig
  /// The directory after every commit, in order (the creation first, the finished run last).
  let snapshots: [Snapshot]
  /// File-system write steps of the whole run from scratch (``FileStep/isWrite``): the step,
  /// its file relative to the system directory ("." for the directory itself), and the commit
  /// it belongs to (an index into ``snapshots``: what the file holds once that commit is done).
  let writeSteps: [(step: FileStep, name: String, commit: Int)]

  /// The final system digest.
  var finalDigest: String { snapshots.last!.digest }

  static func parsedConfig() throws -> EvolutionConfig {
    try EvolutionConfig.parse(JSONValue.parse(configText), source: "the audit configuration")
  }

  /// Runs the configuration from scratch in `directory` (which must not hold a system),
  /// snapshotting it after every commit.
  static func build(in directory: String) throws -> AuditSystem {
    let config = try parsedConfig()
    let recorder = StepRecorder(directory: directory)
    var snapshots: [Snapshot] = []
    try FileFaults.with(recorder.hook) { () throws -> Void in
      let (state, store, _) = try SystemBuilder.prepare(
        config: config, directory: directory, from: nil, run: runFacts)
      snapshots.append(
        Snapshot(files: try ScratchFiles.readTree(directory), digest: digest(state, store, config)))
      recorder.commit = snapshots.count
      let evolver = Evolver(config: config, state: state, store: store, compute: Compute(tier: .reference))
      var failure: Error?
      evolver.stopAfterCommit = { _ in
        do {
          snapshots.append(
            Snapshot(files: try ScratchFiles.readTree(directory), digest: digest(state, store, config)))
          recorder.commit = snapshots.count
        } catch {
          failure = error
        }
        return false
      }
      try evolver.run()
      if let failure { throw failure }
    }
    return AuditSystem(config: config, snapshots: snapshots, writeSteps: recorder.steps)
  }

  /// Resumes (or creates anew) the run in `directory` and runs it to the end: its final digest.
  static func resume(_ directory: String, config: EvolutionConfig) throws -> String {
    let (state, store, _) = try SystemBuilder.prepare(
      config: config, directory: directory, from: nil, run: runFacts)
    if !state.cursor.finished {
      try Evolver(config: config, state: state, store: store, compute: Compute(tier: .reference)).run()
    }
    return digest(state, store, config)
  }

  static let runFacts = JSONObject([("tier", .string("reference")), ("threads", .integer(1))])

  static func digest(_ state: SystemState, _ store: SystemStore, _ config: EvolutionConfig) -> String {
    SystemDigest.system(state: state, store: store, config: config)
  }
}

/// Records the write steps under a directory (a ``FileFaults`` hook that injects nothing).
final class StepRecorder: @unchecked Sendable {
  let directory: String
  private let lock = NSLock()
  private var recorded: [(step: FileStep, name: String, commit: Int)] = []
  private var commitIndex = 0

  init(directory: String) { self.directory = directory }

  var steps: [(step: FileStep, name: String, commit: Int)] { lock.withLock { recorded } }

  /// The commit the next steps belong to.
  var commit: Int {
    get { lock.withLock { commitIndex } }
    set { lock.withLock { commitIndex = newValue } }
  }

  var hook: FileFaults.Hook {
    { [self] step, target in
      guard step.isWrite, let name = ScratchFiles.relative(target, to: directory) else { return nil }
      lock.withLock { recorded.append((step, name, commitIndex)) }
      return nil
    }
  }
}

/// Plain (not atomic, not synced) file access for scratch directories: fast, and invisible to
/// ``FileFaults`` hooks.
enum ScratchFiles {
  /// A fresh empty directory under `parent` (default: /dev/shm when it exists, a RAM disk).
  static func makeDirectory(_ label: String, parent: String? = nil) throws -> String {
    let base =
      parent ?? (FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory())
    let path = base + "/munet-\(label)-\(getpid())-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  static func remove(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

  /// `path` relative to `directory` ("." for the directory itself), nil when outside it.
  static func relative(_ path: String, to directory: String) -> String? {
    if path == directory { return "." }
    return path.hasPrefix(directory + "/") ? String(path.dropFirst(directory.count + 1)) : nil
  }

  static func write(_ bytes: [UInt8], to path: String) throws {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw ScratchError(path: path, step: "open") }
    defer { close(descriptor) }
    var offset = 0
    while offset < bytes.count {
      let written = bytes.withUnsafeBytes {
        Glibc.write(descriptor, $0.baseAddress! + offset, bytes.count - offset)
      }
      guard written > 0 else { throw ScratchError(path: path, step: "write") }
      offset += written
    }
  }

  static func read(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ScratchError(path: path, step: "read")
    }
    return [UInt8](data)
  }

  /// Every regular file under `directory`, by relative path.
  static func readTree(_ directory: String) throws -> [String: [UInt8]] {
    var files: [String: [UInt8]] = [:]
    guard let names = FileManager.default.enumerator(atPath: directory) else { return files }
    while let name = names.nextObject() as? String {
      var isDirectory: ObjCBool = false
      if FileManager.default.fileExists(atPath: directory + "/" + name, isDirectory: &isDirectory),
        !isDirectory.boolValue
      {
        files[name] = try read(directory + "/" + name)
      }
    }
    return files
  }

  /// Replaces the content of `directory` with `files`.
  static func writeTree(_ files: [String: [UInt8]], to directory: String) throws {
    remove(directory)
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for (name, bytes) in files {
      let path = directory + "/" + name
      try FileManager.default.createDirectory(
        atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      try write(bytes, to: path)
    }
  }
}

struct ScratchError: Error, CustomStringConvertible {
  let path: String
  let step: String
  var description: String { "\(path): \(step) failed (errno \(errno))" }
}
