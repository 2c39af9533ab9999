import ArgumentParser
import CMuNetSupport
import Foundation
import MuNetEvolution
import MuNetRuntime
import MuNetStorage

/// `munet verify`: re-executes the run recorded in a system directory and compares the replay
/// with the record, line by line, then the final state (spec/audit.md).
struct VerifyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "verify",
    abstract: "Re-execute a recorded run and check that it reproduces its record exactly.",
    discussion: """
      Replays the run's canonical configuration (seed included) in a new directory and compares \
      every journal line the replay writes with the recorded one as soon as it is committed, \
      every stored component with the recorded one of the same id, then the final state, the \
      task digests and the system digest. It stops at the first divergence and names it: the \
      journal line (stage, round, task, generation, child), the fields that differ, and for a \
      component the tensors that differ (first index, values, largest difference). A \
      continuation (munet evolve --from) is replayed from the system it continued: pass that \
      directory with --from (its system digest must be the one the record names). A record of \
      an interrupted run is verified up to its last commit. Exit status: 0 identical, 1 a \
      divergence, 2 an error (unreadable directory, wrong --from). Results of a run recorded with \
      --tier blas are only reproducible with the same tier and threads.
      """)

  @Argument(help: "System directory to verify (written by munet evolve).") var directory: String
  @Option(
    name: .customLong("from"),
    help: ArgumentHelp("For a continuation: the system directory it continued.", valueName: "directory"))
  var from: String?
  @Option(help: ArgumentHelp(
    "Stop after this generation (0-based, as in the journal; e.g. 1:mnist-mini:0): verifies a prefix.",
    valueName: "round:task:generation"))
  var until: String?
  @OptionGroup var tierOptions: TierOptions
  @Option(
    name: .customLong("replay-into"),
    help: ArgumentHelp(
      "Write the replay to this new directory and keep it "
        + "(default: a temporary directory, removed afterwards).",
      valueName: "directory"))
  var replayInto: String?
  @Flag(help: "Print only the result, not a line per checked commit.") var quiet = false

  func validate() throws {
    if let until, GenerationMark(parsing: until) == nil {
      throw ValidationError("--until must be ROUND:TASK:GENERATION (e.g. 1:mnist-mini:0), not '\(until)'")
    }
  }

  func run() throws {
    let report: VerificationReport
    do {
      report = try verify()
    } catch {
      FileHandle.standardError.write(Data("munet verify: error: \(error)\n".utf8))
      throw ExitCode(2)
    }
    print(report.text)
    if !report.passed { throw ExitCode(1) }
  }

  /// Replays and compares; prints the header and the progress, returns the report.
  func verify() throws -> VerificationReport {
    let start = munet_monotonic_ns()
    let verifier = try Verifier(directory: directory, from: from)
    if let until {
      let mark = GenerationMark(parsing: until)!
      try verifier.check(until: mark)
      verifier.until = mark
    }
    let compute = tierOptions.makeCompute()
    let recorded = verifier.recordedRun
    let recordedTier = recorded["tier"]?.stringValue ?? "?"
    let recordedThreads = recorded["threads"]?.canonicalText ?? "?"
    let recordedVersion = recorded["munet_version"]?.stringValue ?? "?"
    print("munet verify: \(directory)" + (from.map { " (continuing \($0))" } ?? "")
          + ", recorded with tier \(recordedTier), \(recordedThreads) threads, munet \(recordedVersion)")
    let tasks = verifier.config.tasks.map(\.name).joined(separator: ", ")
    print("replaying \(tasks) with seed \(verifier.config.seed) "
          + "in tier \(tierOptions.tier) (\(tierOptions.threads) threads)")
    let tier = tierOptions.tier
    if let warning = Self.tierWarning(recorded: recorded, tier: tier, threads: tierOptions.threads) {
      print("note: \(warning)")
    }
    if !quiet {
      verifier.progress = { location, _ in
        guard let location else { return }
        print("  identical up to \(location)")
      }
    }
    verifier.trainsChildrenInParallel = compute.tier == .threads && compute.threadCount > 1
    let temporary = replayInto == nil
    let replayDirectory = try replayInto ?? Self.temporaryDirectory()
    defer { if temporary { try? FileManager.default.removeItem(atPath: replayDirectory) } }
    let runFacts = JSONObject([
      ("tier", .string(tierOptions.tier)), ("threads", .integer(Int64(tierOptions.threads))),
      ("munet_version", .string(MuNetBuild.version)), ("build", .string(MuNetBuild.configuration)),
    ])
    let report = try verifier.run(replayDirectory: replayDirectory, compute: compute, run: runFacts)
    let seconds = Double(munet_monotonic_ns() - start) / 1e9
    print("replay took \(String(format2: seconds)) s" + (temporary ? "" : "; kept in \(replayDirectory)"))
    return report
  }

  /// Why the replay may differ for reasons other than a fault: the record used Tier 2
  /// (OpenBLAS), whose bits depend on the tier and thread count.
  static func tierWarning(recorded: JSONObject, tier: String, threads: Int) -> String? {
    guard recorded["tier"]?.stringValue == "blas" else { return nil }
    let recordedThreads = recorded["threads"]?.integerValue
    guard tier != "blas" || recordedThreads != Int64(threads) else { return nil }
    return "the run was recorded with --tier blas and \(recordedThreads.map { "\($0)" } ?? "?") threads; "
      + "Tier 2 results depend on both, so replay with the same to expect identical bits"
  }

  /// A new, empty directory for the replay (inside the system's temporary directory).
  static func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "munet-verify-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }
}
