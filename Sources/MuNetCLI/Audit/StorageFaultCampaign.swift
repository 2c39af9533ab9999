import Foundation
import MuNetEvolution
import MuNetRuntime
import MuNetStorage

/// Storage faults against the audit system (``AuditSystem``), in-process:
///
/// - **At rest**: a committed directory (the snapshot after a random commit) with one file
///   damaged: truncated, torn (a prefix kept, the rest zeros or the file's previous version),
///   bits flipped, deleted, emptied, garbage appended, replaced by its previous version, or
///   unreadable (an injected read error). Then `SystemStore.open`.
/// - **During a commit**: the run from scratch with one write step faulted through
///   ``FileFaults``: the step fails (EIO), or the process "crashes" there (this and every later
///   step fails), or a write is torn or has a bit flipped and the process crashes right after.
///   Then open the directory and resume the run to its end.
///
/// Every fault must end in the last committed state (same system digest, and every component's
/// values match its digest) or in a resumed run with the uninterrupted digest, or in a typed
/// error that names the damaged file; anything else (a wrong digest, an error naming another
/// file, a crash) is a finding.
final class StorageFaultCampaign {
  enum Verdict: String, CaseIterable {
    /// A typed error naming the damaged file.
    case detected
    /// Opened as the committed state, unchanged (the damage was outside what is read).
    case unaffected
    /// After a commit fault: the run resumed and finished with the uninterrupted digest.
    case recovered
    /// A wrong state, a wrong final digest, or an error that names another file.
    case undetected
  }

  struct Tally {
    var injected = 0
    var verdicts: [Verdict: Int] = [:]
    mutating func add(_ verdict: Verdict) {
      injected += 1
      verdicts[verdict, default: 0] += 1
    }
  }

  let system: AuditSystem
  let scratch: String
  let seed: UInt64
  /// By fault kind.
  private(set) var tallies: [String: Tally] = [:]
  private(set) var findings: [String] = []

  init(system: AuditSystem, scratch: String, seed: UInt64) {
    self.system = system
    self.scratch = scratch
    self.seed = seed
  }

  var injected: Int { tallies.values.reduce(0) { $0 + $1.injected } }
  func count(_ verdict: Verdict) -> Int { tallies.values.reduce(0) { $0 + ($1.verdicts[verdict] ?? 0) } }

  private func record(_ kind: String, _ verdict: Verdict, _ detail: @autoclosure () -> String) {
    tallies[kind, default: Tally()].add(verdict)
    if verdict == .undetected { findings.append("\(kind): \(detail())") }
  }

  // MARK: At rest

  static let restKinds = [
    "truncate", "torn-zeros", "torn-previous", "flip-bits", "delete", "empty", "append", "previous-version",
    "read-error",
  ]

  /// `count` faults on committed directories, each chosen from a stream of `seed`.
  func runAtRest(count: Int) throws {
    let directory = scratch + "/at-rest"
    for index in 0..<count {
      var random = StreamKey(seed: seed).child("storage-at-rest").child("fault", index).stream
      let commit = random.nextInt(below: system.snapshots.count)
      let snapshot = system.snapshots[commit]
      let previous = commit > 0 ? system.snapshots[commit - 1].files : [:]
      // The manifest, the journal or a component file with equal chance (there are many
      // more components), then which component.
      let components = snapshot.files.keys.filter { $0.hasPrefix(SystemStore.componentsFolder + "/") }.sorted()
      let name: String
      switch random.nextInt(below: 3) {
      case 0: name = SystemStore.manifestName
      case 1: name = SystemStore.journalName
      default: name = components[random.nextInt(below: components.count)]
      }
      let kind = Self.restKinds[random.nextInt(below: Self.restKinds.count)]
      var files = snapshot.files
      let original = files[name]!
      var readFailure: String?
      switch kind {
      case "truncate": files[name] = Array(original.prefix(random.nextInt(below: max(1, original.count))))
      case "torn-zeros":
        let kept = random.nextInt(below: max(1, original.count))
        files[name] = Array(original.prefix(kept)) + [UInt8](repeating: 0, count: original.count - kept)
      case "torn-previous":
        let old = previous[name] ?? []
        let kept = random.nextInt(below: max(1, original.count))
        files[name] = Array(original.prefix(kept)) + Array(old.dropFirst(kept))
      case "flip-bits":
        var bytes = original
        if !bytes.isEmpty {
          for _ in 0..<(1 + random.nextInt(below: 3)) {
            bytes[random.nextInt(below: bytes.count)] ^= UInt8(1) << UInt8(random.nextInt(below: 8))
          }
        }
        files[name] = bytes
      case "delete": files[name] = nil
      case "empty": files[name] = []
      case "append":
        files[name] =
          original
          + (0..<(1 + random.nextInt(below: 64))).map { _ in UInt8(truncatingIfNeeded: random.nextUInt32()) }
      case "previous-version": files[name] = previous[name] ?? []
      default: readFailure = directory + "/" + name
      }
      try ScratchFiles.writeTree(files, to: directory)
      let failing = readFailure
      let verdict = FileFaults.with({ step, target in
        step == .read && target == failing ? .fail(errorNumber: EIO) : nil
      }) { () -> (Verdict, String) in
        judgeOpen(directory, damaged: name, commit: commit)
      }
      record(kind + " " + Self.fileClass(name), verdict.0, "commit \(commit), \(name): \(verdict.1)")
    }
  }

  /// Opens `directory` (the snapshot of `commit`, damaged): detected when the error names
  /// `damaged`; unaffected when the state is the committed one (digest and component values);
  /// recovered when it is an earlier commit's (a manifest rolled back: what a crash before the
  /// commit point leaves) and the run resumes from it to the uninterrupted digest; otherwise
  /// undetected, with why.
  private func judgeOpen(_ directory: String, damaged: String, commit: Int) -> (Verdict, String) {
    let expected = system.snapshots[commit].digest
    let opened: (SystemStore, SystemState, EvolutionConfig)
    // A damaged manifest may reference files that are gone (a stale manifest): an error
    // naming one of them names what failed, which is all a reader can know.
    func names(_ message: String) -> Bool {
      message.contains(damaged) || (damaged == SystemStore.manifestName && message.contains(directory + "/"))
    }
    do {
      opened = try SystemStore.open(directory: directory)
    } catch {
      let message = "\(error)"
      return names(message) ? (.detected, message) : (.undetected, "the error names another file: \(message)")
    }
    let (store, state, config) = opened
    let digest = AuditSystem.digest(state, store, config)
    for id in state.componentIDs
    where SHA256.hash(ComponentFile.encode(state.component(id).component)).hex
      != state.component(id).digest
    {
      return (.undetected, "component \(id) has values its digest does not match")
    }
    if digest == expected { return (.unaffected, "") }
    guard system.snapshots[..<commit].contains(where: { $0.digest == digest }) else {
      return (.undetected, "opened with digest \(digest), committed \(expected)")
    }
    do {
      let final = try AuditSystem.resume(directory, config: system.config)
      guard final == system.finalDigest else {
        return (
          .undetected,
          "rolled back to an earlier commit, resumed to \(final), uninterrupted \(system.finalDigest)"
        )
      }
      return (.recovered, "")
    } catch {
      let message = "\(error)"
      return names(message) ? (.detected, message) : (.undetected, "resume failed: \(message)")
    }
  }

  static func fileClass(_ name: String) -> String {
    name.hasPrefix(SystemStore.componentsFolder + "/") ? "component" : name
  }

  // MARK: During a commit

  /// `fail`: the step fails (EIO) and the run stops with the error. `crash`: the process dies
  /// there (the step and every later one fail). `tear`, `flip`: the write of the bytes keeps a
  /// prefix or flips a bit, reports success, and the process dies at its next operation.
  /// `tear-continue`, `flip-continue`: the same damage from a lying disk, and the run goes on.
  static let commitKinds = ["fail", "crash", "tear", "flip", "tear-continue", "flip-continue"]

  /// One trial per write step of the run and kind (`fail` and `crash` at every step, the
  /// others at every write of file bytes), or `sample` of them drawn with the seed.
  func runDuringCommits(sample: Int? = nil) throws {
    var trials: [(step: Int, kind: String)] = []
    for step in system.writeSteps.indices {
      for kind in Self.commitKinds
      where kind == "fail" || kind == "crash" || system.writeSteps[step].step == .writeTemporary {
        trials.append((step, kind))
      }
    }
    if let sample {
      var random = StreamKey(seed: seed).child("storage-commits").stream
      random.shuffle(&trials)
      trials = Array(trials.prefix(sample))
    }
    for (index, trial) in trials.enumerated() {
      try runTrial(step: trial.step, kind: trial.kind, index: index)
    }
  }

  /// The run from scratch with write step `step` (an index into ``AuditSystem/writeSteps``)
  /// faulted by `kind`, then opened and resumed to its end.
  private func runTrial(step: Int, kind: String, index: Int) throws {
    let directory = scratch + "/commit"
    ScratchFiles.remove(directory)
    var random = StreamKey(seed: seed).child("storage-commit-trial").child("trial", index).stream
    let faulted = system.writeSteps[step]
    let size =
      system.snapshots[min(faulted.commit, system.snapshots.count - 1)].files[faulted.name]?.count ?? 0
    let fault: FileFault
    switch kind {
    case "fail", "crash": fault = .fail(errorNumber: kind == "fail" ? EIO : ECANCELED)
    case "tear", "tear-continue": fault = .tear(keptBytes: random.nextInt(below: max(1, size)))
    default: fault = .flipBit(bitIndex: random.nextInt(below: max(1, 8 * size)))
    }
    let crashes = kind != "fail" && !kind.hasSuffix("-continue")
    let injector = CommitFaultInjector(directory: directory, step: step, fault: fault, crashes: crashes)
    let label = "\(kind) \(faulted.step) \(Self.fileClass(faulted.name))"
    let context = "step \(step + 1) (\(faulted.step) \(faulted.name))"
    do {
      try FileFaults.with(injector.hook) { () throws -> Void in
        _ = try AuditSystem.resume(directory, config: system.config)
      }
    } catch {
      // The faulted run stopped with an error, as a failing disk or a crash stops it.
    }
    guard injector.fired else {
      record(label, .undetected, "\(context): the fault never fired")
      return
    }
    func named(_ message: String) -> Bool { message.contains(faulted.name) }
    // What the fault left must open as some commit's state (or be refused naming the file).
    if SystemStore.holdsSystem(directory) {
      do {
        let (store, state, config) = try SystemStore.open(directory: directory)
        let digest = AuditSystem.digest(state, store, config)
        guard system.snapshots.contains(where: { $0.digest == digest }) else {
          record(label, .undetected, "\(context): opened with digest \(digest), which no commit had")
          return
        }
      } catch {
        let message = "\(error)"
        record(label, named(message) ? .detected : .undetected, "\(context): \(message)")
        return
      }
    }
    // Then the run resumes to the uninterrupted digest.
    do {
      let final = try AuditSystem.resume(directory, config: system.config)
      record(
        label, final == system.finalDigest ? .recovered : .undetected,
        "\(context): resumed to \(final), uninterrupted \(system.finalDigest)")
    } catch {
      let message = "\(error)"
      record(label, named(message) ? .detected : .undetected, "\(context): resume failed: \(message)")
    }
  }
}

/// Injects one commit fault at write step `step` (counting only steps under `directory`). With
/// `crashes`, the process is taken to crash there: for a failing step, it and every later step
/// fail; for a torn or flipped write, that write completes (damaged, and renamed into place)
/// and every step from the next operation on fails.
final class CommitFaultInjector: @unchecked Sendable {
  let directory: String
  let step: Int
  let fault: FileFault
  let crashes: Bool
  private let lock = NSLock()
  private var count = 0
  private var crashing = false
  private var crashed = false
  private var firedFlag = false

  init(directory: String, step: Int, fault: FileFault, crashes: Bool) {
    self.directory = directory
    self.step = step
    self.fault = fault
    self.crashes = crashes
  }

  var fired: Bool { lock.withLock { firedFlag } }

  var hook: FileFaults.Hook {
    { [self] step, target in
      guard step.isWrite, ScratchFiles.relative(target, to: directory) != nil else { return nil }
      return lock.withLock { decide(step) }
    }
  }

  private func decide(_ step: FileStep) -> FileFault? {
    defer { count += 1 }
    // A damaged write finishes its own steps; the crash comes with the next operation.
    if crashing && [.openTemporary, .createDirectory, .remove].contains(step) { crashed = true }
    if crashed { return .fail(errorNumber: ECANCELED) }
    guard count == self.step else { return nil }
    firedFlag = true
    switch fault {
    case .fail: crashed = crashes
    default: crashing = crashes
    }
    return fault
  }
}
