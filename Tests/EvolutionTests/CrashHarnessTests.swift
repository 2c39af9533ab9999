import Foundation
import MuNetEvolution
import MuNetRuntime
import MuNetStorage
import Testing

// The quick version of scripts/crash_harness.py: the debug `munet` (next to the test bundle)
// is killed with SIGKILL at seeded random points of a small evolution, half the time after a
// random delay (mostly inside a generation), half the time just before a chosen file-system
// write step (MUNET_FAULT_KILL_AT_WRITE: inside a checkpoint commit), and resumed each time
// with the same command; every chain of kills must end with the digest of an uninterrupted run.

/// A configuration small enough for tens of kills in a debug build (about a second a run).
private let crashConfig = """
  {
    "format": "munet-evolve-config-1", "tasks": ["mnist-mini", "fashion-mini"], "seed": 11,
    "rounds": 1, "generations": 2, "children_per_generation": 2, "layers_max": 1,
    "root": {"init": "random", "patch_size": 4, "channels": 1, "width": 8, "heads": 2, "mlp_dim": 16, "layers": 0},
    "training": {"batch_size": 8, "evaluation_batch_size": 50, "validations": 1,
                 "train_examples_per_validation_max": 32, "validation_examples_max": 20},
    "hyperparameters": {"defaults": {"ds_image_size": 8, "opt_lr": 0.05, "_mu_": 0.3},
                        "ranges": {"ds_image_size": [8, 12]}},
    "immutability_examples": 10
  }
  """

private let crashRepositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent().deletingLastPathComponent().path

/// The debug `munet` built with the tests: next to the test bundle, else in .build/debug.
private func munetExecutable() -> String? {
  let besideBundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    .appendingPathComponent("munet").path
  for candidate in [besideBundle, crashRepositoryRoot + "/.build/debug/munet"]
  where FileManager.default.isExecutableFile(atPath: candidate) {
    return candidate
  }
  return nil
}

/// One `munet evolve` process: how it ended and the write steps it started.
private struct EvolveRun {
  var killed: Bool
  var status: Int32
  var output: String
  var steps: [(step: String, target: String)]
  var seconds: Double

  var digest: String? {
    output.split(separator: "\n").last { $0.hasPrefix("digest ") }.map { String($0.dropFirst(7)) }
  }

  /// Manifest renames the process completed (a step was started after them).
  var completedCommits: Int {
    steps.indices.filter { index in
      steps[index].step == "rename" && steps[index].target.hasSuffix("/manifest.json")
        && index + 1 < steps.count
    }.count
  }
}

private func evolve(
  _ executable: String, config: String, out: String, log: String, killAtWrite: Int? = nil,
  killAfter: Double? = nil
) throws -> EvolveRun {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = ["evolve", "--config", config, "--out", out, "--quiet"]
  process.currentDirectoryURL = URL(fileURLWithPath: crashRepositoryRoot)
  var environment = ProcessInfo.processInfo.environment
  environment["MUNET_FAULT_LOG"] = log
  environment["MUNET_FAULT_KILL_AT_WRITE"] = killAtWrite.map(String.init)
  process.environment = environment
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = pipe
  try? FileManager.default.removeItem(atPath: log)
  let start = Date()
  try process.run()
  if let killAfter {
    let deadline = Date().addingTimeInterval(killAfter)
    while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
  }
  let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  process.waitUntilExit()
  let seconds = Date().timeIntervalSince(start)
  let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
  var steps: [(String, String)] = []
  for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
    let fields = line.split(separator: " ", maxSplits: 2).map(String.init)
    if fields.count == 3 { steps.append((fields[1], fields[2])) }
  }
  let killed = process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL
  return EvolveRun(
    killed: killed, status: process.terminationStatus, output: output, steps: steps, seconds: seconds)
}

private let checkpointFiles = ["manifest.json", "journal.jsonl", "components/"]

@Test(.timeLimit(.minutes(3)))
func killedEvolutionsResumeToTheUninterruptedDigest() throws {
  let executable = try #require(munetExecutable(), "build munet first (swift build): the harness spawns it")
  let scratch = NSTemporaryDirectory() + "munet-crash-harness-" + UUID().uuidString
  try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(atPath: scratch) }
  let config = scratch + "/crash.json"
  try crashConfig.write(toFile: config, atomically: true, encoding: .utf8)

  let reference = try evolve(
    executable, config: config, out: scratch + "/reference", log: scratch + "/reference.log")
  let referenceDigest = try #require(reference.digest, "the reference run failed: \(reference.output)")
  let commitEnds = reference.steps.indices.filter {
    reference.steps[$0].step == "rename" && reference.steps[$0].target.hasSuffix("/manifest.json")
  }.map { $0 + 1 }
  #expect(reference.steps.count > 100 && commitEnds.count == 7, "the run commits too little to test")

  var random = StreamKey(seed: 2024).child("crash-harness").stream
  var kills: [String] = []
  var kinds = (time: 0, writeStep: 0)
  var chain = 0
  let killsWanted = 40
  while kills.count < killsWanted && chain < 30 {
    chain += 1
    let out = scratch + "/chain\(chain)"
    var commits = 0
    var chainKills = 0
    while true {
      let done = commits == 0 ? 0 : commitEnds[min(commits, commitEnds.count) - 1]
      let remaining = max(1, reference.steps.count - done)
      let wantKill = chainKills < 6 && kills.count < killsWanted
      // A chain's first process starts from nothing, so it takes the reference's steps: its
      // first kill goes to a step of the manifest, the journal or a component file in turn.
      let first = chainKills == 0
      let byWriteStep = first || random.nextBool(numerator: 1, denominator: 2)
      let fileSteps = reference.steps.indices.filter {
        reference.steps[$0].target.contains(checkpointFiles[chain % 3])
      }
      let killAtWrite =
        !wantKill || !byWriteStep
        ? nil
        : first ? 1 + fileSteps[random.nextInt(below: fileSteps.count)] : 1 + random.nextInt(below: remaining)
      let killAfter =
        wantKill && !byWriteStep
        ? reference.seconds * Double(remaining) / Double(reference.steps.count) * random.nextDouble() : nil
      let run = try evolve(
        executable, config: config, out: out, log: scratch + "/chain\(chain).log", killAtWrite: killAtWrite,
        killAfter: killAfter)
      if run.killed {
        chainKills += 1
        commits += run.completedCommits
        let at =
          run.steps.last.map { "\($0.step) \($0.target.replacingOccurrences(of: out + "/", with: ""))" }
          ?? "start"
        kills.append("chain \(chain) \(byWriteStep ? "write-step \(killAtWrite!)" : "time"): \(at)")
        if byWriteStep { kinds.writeStep += 1 } else { kinds.time += 1 }
        continue
      }
      #expect(
        run.status == 0,
        "chain \(chain) failed after \(chainKills) kills: \(run.output)\n\(kills.suffix(chainKills))")
      #expect(
        run.digest == referenceDigest,
        "chain \(chain) resumed to another digest after kills \(kills.suffix(chainKills))")
      break
    }
  }
  print(
    "crash harness: \(kills.count) kills in \(chain) chains (\(kinds.time) time, \(kinds.writeStep) write-step)"
  )
  #expect(kills.count >= 32, "only \(kills.count) kills landed")
  #expect(kinds.time >= 5 && kinds.writeStep >= 5, "kill kinds: \(kinds)")
  // Write-step kills landed in each kind of checkpoint file.
  for file in checkpointFiles {
    #expect(
      kills.contains { $0.contains("write-step") && $0.contains(file) },
      "no write-step kill in \(file): \(kills)")
  }
}

/// A process killed while it creates a system leaves a directory without a manifest; running the
/// same command again must create it (it used to refuse: "not empty and holds no munet system").
@Test func aCreationKilledBeforeItsFirstCommitIsRunAgain() throws {
  let scratch = NSTemporaryDirectory() + "munet-crash-creation-" + UUID().uuidString
  defer { try? FileManager.default.removeItem(atPath: scratch) }
  let config = try EvolutionConfig.parse(JSONValue.parse(crashConfig), source: "test")
  let run = JSONObject([("tier", .string("reference")), ("threads", .integer(1))])
  let directory = scratch + "/system"
  // Crash (every write step fails) at the manifest's rename: the components and journal exist.
  let crashed = CrashAfter(prefix: directory + "/") { step, target in
    step == .rename && target.hasSuffix("/manifest.json")
  }
  #expect(throws: EvolutionError.self) {
    try FileFaults.with(crashed.hook) { () throws(EvolutionError) -> Void in
      _ = try SystemBuilder.prepare(config: config, directory: directory, from: nil, run: run)
    }
  }
  #expect(!SystemStore.holdsSystem(directory) && SystemStore.holdsInterruptedCreation(directory))
  let (state, _, resumed) = try SystemBuilder.prepare(
    config: config, directory: directory, from: nil, run: run)
  #expect(!resumed && state.pathIDs == [0])
  #expect(SystemStore.holdsSystem(directory))

  // Anything else in a directory without a manifest is still refused.
  let other = scratch + "/other"
  try FileManager.default.createDirectory(atPath: other + "/components", withIntermediateDirectories: true)
  try Data("notes".utf8).write(to: URL(fileURLWithPath: other + "/notes.txt"))
  #expect(!SystemStore.holdsInterruptedCreation(other))
  #expect(throws: EvolutionError.self) {
    _ = try SystemBuilder.prepare(config: config, directory: other, from: nil, run: run)
  }
}

/// Fails every write step under `prefix` from the first one `trigger` selects on.
private final class CrashAfter: @unchecked Sendable {
  let prefix: String
  let trigger: @Sendable (FileStep, String) -> Bool
  private let lock = NSLock()
  private var crashed = false

  init(prefix: String, trigger: @escaping @Sendable (FileStep, String) -> Bool) {
    self.prefix = prefix
    self.trigger = trigger
  }

  var hook: FileFaults.Hook {
    { [self] step, target in
      guard step.isWrite, (target + "/").hasPrefix(prefix) else { return nil }
      return lock.withLock {
        if crashed || trigger(step, target) {
          crashed = true
          return .fail(errorNumber: ECANCELED)
        }
        return nil
      }
    }
  }
}
