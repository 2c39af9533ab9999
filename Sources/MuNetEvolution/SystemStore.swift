import MuNetStorage

/// A system directory on disk:
///
///     manifest.json            the state (canonical JSON, with its own SHA-256)
///     journal.jsonl            one JSON object per decision, committed with the manifest
///     components/<id>.safetensors   one canonical file per component (SHA-256 in the manifest)
///     telemetry.jsonl          wall-clock timings (written by the CLI; never hashed)
///
/// Every file is written atomically (temp file, fsync, rename, fsync the directory). A commit
/// writes the new component files first, then the journal, then the manifest: the manifest is
/// the commit point, and it records the journal's length and SHA-256. A process killed at any
/// moment leaves the last committed state readable; journal lines past the recorded length
/// belong to an uncommitted generation and are dropped on resume.
public final class SystemStore {
  public static let manifestName = "manifest.json"
  public static let journalName = "journal.jsonl"
  public static let telemetryName = "telemetry.jsonl"
  public static let componentsFolder = "components"
  public static let formatName = "munet-system-1"
  public static let manifestBytesMax = 256 << 20
  public static let journalBytesMax = 1 << 30

  public let directory: String
  /// Run facts kept in the manifest but outside the digest (tier, threads, munet version).
  public var run: JSONObject = JSONObject()

  private var journal: [UInt8] = []
  private var journalLines = 0
  private var staged: [(id: Int, bytes: [UInt8])] = []

  private init(directory: String) { self.directory = directory }

  public var manifestPath: String { directory + "/" + Self.manifestName }
  public var journalPath: String { directory + "/" + Self.journalName }
  public func componentPath(_ id: Int) -> String { directory + "/" + Self.componentsFolder + "/\(id).safetensors" }

  /// A store for a new system in `directory`, which must not exist, be empty, or hold only
  /// what an interrupted creation leaves (``holdsInterruptedCreation(_:)``), which is
  /// overwritten.
  public static func create(directory: String) throws(EvolutionError) -> SystemStore {
    if FileSystemAccess.exists(directory) {
      guard FileSystemAccess.isDirectory(directory) else {
        throw .directory(path: directory, problem: "exists and is not a directory")
      }
      guard FileSystemAccess.entries(directory).isEmpty || holdsInterruptedCreation(directory) else {
        throw .directory(
          path: directory, problem: "is not empty and holds no munet system (no \(manifestName)); choose a new --out")
      }
    }
    do {
      try FileSystemAccess.makeDirectory(directory)
      try FileSystemAccess.makeDirectory(directory + "/" + componentsFolder)
    } catch {
      throw .directory(path: directory, problem: "cannot be created: \(error)")
    }
    return SystemStore(directory: directory)
  }

  /// Whether `directory` holds only the leftovers of a creation killed before its first commit
  /// (the manifest): no manifest; nothing but the components folder, the journal, the
  /// telemetry and temporary files of atomic writes; in the components folder nothing but
  /// component files and their temporary files. Such a directory is created again from the
  /// start, so rerunning the command that was interrupted works.
  public static func holdsInterruptedCreation(_ directory: String) -> Bool {
    let names = FileSystemAccess.entries(directory)
    guard !names.contains(manifestName), names.contains(componentsFolder) else { return false }
    let temporaries = [manifestName, journalName, telemetryName].map { "." + $0 + ".tmp" }
    let leftovers = [componentsFolder, journalName, telemetryName] + temporaries
    guard names.allSatisfy(leftovers.contains),
          FileSystemAccess.isDirectory(directory + "/" + componentsFolder) else { return false }
    return FileSystemAccess.entries(directory + "/" + componentsFolder).allSatisfy { name in
      name.hasSuffix(".safetensors") || (name.hasPrefix(".") && name.hasSuffix(".safetensors.tmp"))
    }
  }

  /// Whether `directory` holds a system (a manifest).
  public static func holdsSystem(_ directory: String) -> Bool {
    FileSystemAccess.exists(directory + "/" + manifestName)
  }

  // MARK: Writing

  /// Appends a journal line (committed with the next ``commit(state:config:)``).
  public func append(_ line: JSONValue) {
    journal.append(contentsOf: line.canonicalBytes)
    journal.append(0x0A)
    journalLines += 1
  }

  /// A component file to write at the next commit.
  func stage(componentID: Int, bytes: [UInt8]) { staged.append((componentID, bytes)) }

  /// Writes the staged component files, the journal, then the manifest.
  public func commit(state: SystemState, config: EvolutionConfig) throws(EvolutionError) {
    for (id, bytes) in staged {
      try write(bytes, to: componentPath(id))
    }
    staged = []
    try write(journal, to: journalPath)
    let body = ManifestCodec.body(state: state, config: config, journal: journalSummary)
    var manifest = body
    manifest.set("run", .object(run))
    manifest.set("sha256", .string(SHA256.hash(JSONValue.object(manifest).canonicalBytes).hex))
    var bytes = JSONValue.object(manifest).canonicalBytes
    bytes.append(0x0A)
    try write(bytes, to: manifestPath)
    removeUnusedComponentFiles(keeping: state)
  }

  /// Deletes the files of components the committed state no longer holds (paths dropped at a
  /// task's end). Runs after the manifest is committed, so a crash here leaves only harmless
  /// extra files, which the next commit removes.
  private func removeUnusedComponentFiles(keeping state: SystemState) {
    let folder = directory + "/" + Self.componentsFolder
    let live = Set(state.componentIDs.map { "\($0).safetensors" })
    for name in FileSystemAccess.entries(folder) where name.hasSuffix(".safetensors") && !live.contains(name) {
      FileSystemAccess.remove(folder + "/" + name)
    }
  }

  /// The committed journal's line count, length and SHA-256.
  var journalSummary: JSONValue {
    .object(JSONObject([
      ("lines", .integer(Int64(journalLines))), ("bytes", .integer(Int64(journal.count))),
      ("sha256", .string(SHA256.hash(journal).hex)),
    ]))
  }

  private func write(_ bytes: [UInt8], to path: String) throws(EvolutionError) {
    do { try AtomicFile.write(bytes, to: path) } catch {
      throw .file(path: path, problem: "cannot be written: \(error)")
    }
  }

  // MARK: Reading

  /// Opens the system in `directory`: verifies the manifest's checksum, the journal's committed
  /// prefix and every component file's SHA-256, and rebuilds the state. Journal lines past the
  /// committed length (an interrupted generation) are dropped from memory; the file is
  /// rewritten at the next commit.
  public static func open(directory: String) throws(EvolutionError) -> (SystemStore, SystemState, EvolutionConfig) {
    let store = SystemStore(directory: directory)
    let manifest = try store.readManifest()
    let config: EvolutionConfig
    do {
      config = try ManifestCodec.config(manifest)
    } catch {
      throw .file(path: store.manifestPath, problem: "\(error)")
    }
    try store.readJournal(manifest)
    let state: SystemState
    do {
      state = try ManifestCodec.state(manifest, config: config) { id, name, digest throws(EvolutionError) in
        let path = store.componentPath(id)
        let bytes: [UInt8]
        do { bytes = try readFile(path, limitBytes: ComponentFile.fileBytesMax) } catch {
          throw .file(path: path, problem: "cannot be read: \(error)")
        }
        return try ComponentFile.decode(
          bytes, expectedName: name, digest: digest,
          factory: ComponentFactory(architecture: config.root.architecture), source: path)
      }
    } catch let error {
      if case .file = error { throw error }
      throw .file(path: store.manifestPath, problem: "\(error)")
    }
    store.run = manifest["run"]?.objectValue ?? JSONObject()
    return (store, state, config)
  }

  private func readManifest() throws(EvolutionError) -> JSONObject {
    let bytes: [UInt8]
    do { bytes = try readFile(manifestPath, limitBytes: Self.manifestBytesMax) } catch {
      throw .file(path: manifestPath, problem: "cannot be read: \(error)")
    }
    let json: JSONValue
    do { json = try JSONValue.parse(bytes) } catch {
      throw .file(path: manifestPath, problem: "is not valid JSON (truncated or corrupt): \(error)")
    }
    guard var object = json.objectValue, let recorded = object["sha256"]?.stringValue else {
      throw .file(path: manifestPath, problem: "is not a munet system manifest")
    }
    object.set("sha256", nil)
    let actual = SHA256.hash(JSONValue.object(object).canonicalBytes).hex
    guard actual == recorded else {
      throw .file(path: manifestPath, problem: "checksum mismatch (SHA-256 \(actual), recorded \(recorded))")
    }
    guard object["format"]?.stringValue == Self.formatName else {
      throw .file(path: manifestPath, problem: "format is not \(Self.formatName)")
    }
    return object
  }

  private func readJournal(_ manifest: JSONObject) throws(EvolutionError) {
    guard let summary = manifest["journal"]?.objectValue, let lines = summary["lines"]?.integerValue,
          let length = summary["bytes"]?.integerValue, let digest = summary["sha256"]?.stringValue,
          lines >= 0, length >= 0, length <= Self.journalBytesMax else {
      throw .file(path: manifestPath, problem: "journal summary missing or out of range")
    }
    let bytes: [UInt8]
    do { bytes = try readFile(journalPath, limitBytes: Self.journalBytesMax) } catch {
      throw .file(path: journalPath, problem: "cannot be read: \(error)")
    }
    guard bytes.count >= Int(length) else {
      throw .file(path: journalPath, problem: "is truncated: \(bytes.count) bytes, \(length) committed")
    }
    let committed = Array(bytes[0..<Int(length)])
    let actual = SHA256.hash(committed).hex
    guard actual == digest else {
      throw .file(path: journalPath, problem: "checksum mismatch of the committed part (SHA-256 \(actual), recorded \(digest))")
    }
    journal = committed
    journalLines = Int(lines)
  }

  /// The committed journal, one JSON object per line.
  public func journalEntries() throws(EvolutionError) -> [JSONValue] {
    var entries: [JSONValue] = []
    var start = 0
    for index in journal.indices where journal[index] == 0x0A {
      do { entries.append(try JSONValue.parse(Array(journal[start..<index]))) } catch {
        throw .file(path: journalPath, problem: "line \(entries.count + 1) is not JSON: \(error)")
      }
      start = index + 1
    }
    return entries
  }

  /// The committed journal's bytes.
  public var journalBytes: [UInt8] { journal }

  /// Copies the component files of `state` from `source` into this store (at the next commit),
  /// verifying each against its digest first.
  func stageCopies(of state: SystemState, from source: SystemStore) throws(EvolutionError) {
    for id in state.componentIDs {
      let path = source.componentPath(id)
      let bytes: [UInt8]
      do { bytes = try readFile(path, limitBytes: ComponentFile.fileBytesMax) } catch {
        throw .file(path: path, problem: "cannot be read: \(error)")
      }
      let digest = SHA256.hash(bytes).hex
      guard digest == state.component(id).digest else {
        throw .file(path: path, problem: "checksum mismatch (SHA-256 \(digest), the manifest says \(state.component(id).digest))")
      }
      stage(componentID: id, bytes: bytes)
    }
  }
}
