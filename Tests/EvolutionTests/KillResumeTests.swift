import Foundation
import MuNetStorage
import Testing

@testable import MuNetEvolution

// Acceptance: a run killed with SIGKILL at several points and resumed (the same command, run
// again) ends with the system of a run that was never interrupted. This drives the real
// `munet evolve` executable on the smoke configuration.

/// The `munet` executable of this build: next to the test bundle, else in the repository's
/// debug build folder.
private func munetExecutable() -> String? {
  let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
  let repository = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  let candidates = [
    bundle.deletingLastPathComponent().appendingPathComponent("munet").path,
    repository.appendingPathComponent(".build/debug/munet").path,
  ]
  return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// `munet evolve` on `config` into `directory`, its output appended to `log`.
private func startEvolve(
  _ executable: String, config: String, directory: String, log: String
) throws -> Process {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = ["evolve", "--config", config, "--out", directory, "--quiet", "--threads", "2"]
  process.currentDirectoryURL = URL(fileURLWithPath: try Fixtures.repositoryRoot())
  if !FileManager.default.fileExists(atPath: log) {
    _ = FileManager.default.createFile(atPath: log, contents: nil)
  }
  let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
  output.seekToEndOfFile()
  process.standardOutput = output
  process.standardError = output
  try process.run()
  return process
}

private func logText(_ log: String) -> String {
  (try? String(contentsOfFile: log, encoding: .utf8)).map { String($0.suffix(2000)) } ?? "(no log)"
}

/// Commits after the first recorded in the manifest of `directory` (nil: no manifest yet),
/// from its cursor. Throws when the manifest cannot be parsed (a torn write).
private func committedProgress(_ directory: String, config: EvolutionConfig) throws -> Int? {
  let path = directory + "/" + SystemStore.manifestName
  guard FileManager.default.fileExists(atPath: path) else { return nil }
  let json = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
  let cursor = try #require(json.objectValue?["state"]?.objectValue?["cursor"]?.objectValue)
  func field(_ name: String) throws -> Int { Int(try #require(cursor[name]?.integerValue)) }
  let taskIteration = try field("round") * config.tasks.count + (try field("task_index"))
  return taskIteration * (config.generations + 1) + (try field("generation"))
}

private func seconds(_ duration: Duration) -> Double {
  Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

@Test(.timeLimit(.minutes(5)))
func killedRunsResumeToTheUninterruptedSystem() throws {
  let executable = try #require(
    munetExecutable(),
    """
    the munet executable is not built next to the tests (\(CommandLine.arguments[0])) nor in .build/debug: \
    run the tests with `swift test` (which builds it) or `swift build` first
    """)
  let configPath = try Fixtures.smokeConfigPath()
  let config = try Fixtures.smokeConfig()
  let commits = config.rounds * config.tasks.count * (config.generations + 1)
  let clock = ContinuousClock()
  try withTemporaryDirectory("kill") { directory in
    let log = directory + "/munet.log"

    // The uninterrupted run: its digest, and when each commit landed (to aim the kills).
    let reference = directory + "/uninterrupted"
    let start = clock.now
    var committedAt: [Int: Double] = [:]
    let whole = try startEvolve(executable, config: configPath, directory: reference, log: log)
    while whole.isRunning {
      if let progress = try committedProgress(reference, config: config), committedAt[progress] == nil {
        committedAt[progress] = seconds(clock.now - start)
      }
      usleep(2_000)
    }
    whole.waitUntilExit()
    try #require(whole.terminationStatus == 0, "munet evolve failed: \(logText(log))")
    let (referenceStore, referenceState, referenceConfig) = try SystemStore.open(directory: reference)
    #expect(referenceConfig == config && referenceState.cursor.finished)
    let expected = SystemDigest.system(state: referenceState, store: referenceStore, config: referenceConfig)
    /// How long the step after commit `progress` took (a fallback when polling missed one).
    func stepSeconds(after progress: Int) -> Double {
      guard let from = committedAt[progress], let to = committedAt[progress + 1], to > from else {
        return seconds(clock.now - start) / Double(commits + 1) / 4
      }
      return to - from
    }

    // One run killed five times, resumed after each kill: as soon as its directory appears
    // (before the first manifest, as a rule), then some way into the step after commit 2 (the
    // end of the first task: test and immutability check), 4 (a generation), 6 (a task start
    // and generation) and 9 (a generation of the last task).
    let system = directory + "/killed"
    let killPoints: [(afterProgress: Int?, delayFraction: Double)] = [
      (nil, 0), (2, 0.5), (4, 0.3), (6, 0.6), (9, 0.4),
    ]
    var killedAt: [Int?] = []
    for (afterProgress, delayFraction) in killPoints {
      let process = try startEvolve(executable, config: configPath, directory: system, log: log)
      let deadline = clock.now + .seconds(120)
      while process.isRunning && clock.now < deadline {
        if let afterProgress {
          if let progress = try committedProgress(system, config: config), progress >= afterProgress { break }
          usleep(2_000)
        } else if FileManager.default.fileExists(atPath: system + "/" + SystemStore.componentsFolder) {
          break
        }
      }
      try #require(
        process.isRunning,
        "munet evolve ended before kill point \(String(describing: afterProgress)): \(logText(log))")
      if let afterProgress { usleep(UInt32(delayFraction * stepSeconds(after: afterProgress) * 1e6)) }
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
      #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL)
      // Whatever the moment, the last committed state is whole: it opens with every check.
      let progress = try committedProgress(system, config: config)
      if progress != nil { _ = try SystemStore.open(directory: system) }
      killedAt.append(progress)
    }
    let resumed = try startEvolve(executable, config: configPath, directory: system, log: log)
    resumed.waitUntilExit()
    try #require(resumed.terminationStatus == 0, "the resumed run failed: \(logText(log))")

    let (store, state, reopened) = try SystemStore.open(directory: system)
    #expect(state.cursor.finished)
    let digest = SystemDigest.system(state: state, store: store, config: reopened)
    #expect(digest == expected, "killed at \(killedAt)")
    for task in config.tasks {
      let digest = SystemDigest.task(task.name, state: state)
      #expect(digest == SystemDigest.task(task.name, state: referenceState))
    }
    #expect(SHA256.hash(store.journalBytes).hex == SHA256.hash(referenceStore.journalBytes).hex)
    let distinct = Set(killedAt.compactMap { $0 })
    #expect(distinct.count >= 3, "kills landed at committed progress \(killedAt) of \(commits)")
    #expect(killedAt.compactMap { $0 }.allSatisfy { $0 < commits })
  }
}
