import ArgumentParser
import CMuNetSupport
import Foundation
import MuNetStorage

/// `munet fuzz` (hidden): the audit campaigns of spec/audit-figures.md. Not part of the
/// command reference: a tool for auditing munet itself.
struct FuzzCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fuzz",
    abstract: "Audit campaigns: hostile input for every parser, storage faults for system directories.",
    shouldDisplay: false,
    subcommands: [FuzzParsersCommand.self, FuzzStorageCommand.self],
    defaultSubcommand: FuzzParsersCommand.self)
}

/// `munet fuzz parsers`: seeded mutation fuzzing of every parser (``ParserFuzzer``).
struct FuzzParsersCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "parsers",
    abstract: "Feed mutated and random bytes to every parser; every input must be accepted or refused "
      + "with a typed error (no crash, no hang, no header-sized allocation).",
    discussion: """
      Inputs go round robin over the targets. Before each input its bytes are written to \
      SCRATCH/current-input and the command that replays it to SCRATCH/current-input.txt, so a \
      crash leaves the input behind. Exit status 1 when a check of an accepted input failed.
      """)

  @Option(help: "Inputs in total.") var iterations = 10_000
  @Option(help: "Seed of the inputs.") var seed: UInt64 = 0
  @Option(
    help: "Only this target (repeatable): \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")).")
  var target: [String] = []
  @Option(help: "Scratch directory (default: a new one under /dev/shm or the temporary directory).")
  var scratch: String?
  @Option(help: "An input taking longer than this many seconds is a hang: report it and exit 3.")
  var hangSeconds = 20.0
  @Option(help: "Replay this input file (with --target, --variant, --reseal) instead of fuzzing.")
  var reproduce: String?
  @Option(help: "With --reproduce: the input's variant.") var variant = 0
  @Flag(help: "With --reproduce: reseal the system files around the input.") var reseal = false
  @Option(help: "Run only input N of the campaign (same --seed, --iterations, --target), keep it in SCRATCH.")
  var input: Int?
  @Option(help: "Write the seed inputs to DIR/<target>/ (a corpus for scripts/libfuzzer.sh) and stop.")
  var writeSeeds: String?

  func validate() throws {
    for name in target where FuzzTarget(rawValue: name) == nil {
      throw ValidationError("unknown target '\(name)'")
    }
    guard iterations >= 0 else { throw ValidationError("--iterations must not be negative") }
  }

  func run() throws {
    let targets = target.isEmpty ? FuzzTarget.allCases : target.compactMap(FuzzTarget.init(rawValue:))
    let directory = try scratch ?? ScratchFiles.makeDirectory("fuzz")
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let start = munet_monotonic_ns()
    var system: AuditSystem?
    if targets.contains(where: \.needsSystem) {
      system = try AuditSystem.build(in: directory + "/audit-system")
    }
    let fuzzer = try ParserFuzzer(seed: seed, scratch: directory, system: system)
    if let writeSeeds {
      for target in targets {
        let folder = writeSeeds + "/" + target.rawValue
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for (index, seed) in (fuzzer.seeds[target] ?? []).enumerated() {
          try ScratchFiles.write(seed.bytes, to: folder + "/seed\(index)")
        }
      }
      print("seed inputs written to \(writeSeeds)")
      if scratch == nil { ScratchFiles.remove(directory) }
      return
    }
    if let input {
      let target = targets[input % targets.count]
      let fuzzInput = fuzzer.makeInput(target: target, iteration: input)
      try ScratchFiles.write(fuzzInput.bytes, to: directory + "/input-\(input)")
      print("input \(input) (\(target.rawValue), variant \(fuzzInput.variant)\(fuzzInput.reseal ? ", resealed" : "")) "
            + "in \(directory)/input-\(input): \(try fuzzer.reproduce(fuzzInput, target: target))")
      return
    }
    if let reproduce {
      let input = FuzzInput(bytes: try ScratchFiles.read(reproduce), variant: variant, reseal: reseal)
      print("\(targets[0].rawValue): \(try fuzzer.reproduce(input, target: targets[0]))")
      if scratch == nil { ScratchFiles.remove(directory) }
      return
    }
    print("munet fuzz parsers: \(iterations) inputs, seed \(seed), scratch \(directory)")
    Watchdog.start(progress: fuzzer.progress, hangSeconds: hangSeconds, scratch: directory)
    try fuzzer.run(iterations: iterations, targets: targets) { done in
      if done % 20_000 == 0 { print("  \(done) inputs") }
    }
    let seconds = Double(munet_monotonic_ns() - start) / 1e9
    print(Self.table(fuzzer.counts, targets: targets))
    print(
      "total \(iterations) inputs in \(String(format: "%.1f", seconds)) s, crashes 0, hangs 0, "
        + "peak RSS \(munet_peak_rss_bytes() >> 20) MiB")
    let violations = fuzzer.counts.values.flatMap(\.violations)
    for violation in violations.prefix(20) { print("violation: \(violation)") }
    if violations.isEmpty { ScratchFiles.remove(directory) } else { throw ExitCode(1) }
  }

  static func table(_ counts: [FuzzTarget: FuzzCounts], targets: [FuzzTarget]) -> String {
    var lines = [
      "| target | inputs | accepted | rejected | violations | slowest (ms) |",
      "|---|---:|---:|---:|---:|---:|",
    ]
    for target in targets {
      let count = counts[target] ?? FuzzCounts()
      lines.append(
        "| \(target.rawValue) | \(count.inputs) | \(count.accepted) | \(count.rejected) | "
          + "\(count.violations.count) | \(String(format: "%.1f", 1000 * count.slowestSeconds)) |")
    }
    return lines.joined(separator: "\n")
  }
}

/// `munet fuzz storage`: the storage fault campaign (``StorageFaultCampaign``).
struct FuzzStorageCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "storage",
    abstract: "Damage committed system directories and fault the writes of commits; every fault must be "
      + "detected by name or leave (or resume to) the committed state.",
    discussion: """
      Works on a small evolution (two fixture tasks) built first in the scratch directory. \
      Exit status 1 when a fault went undetected.
      """)

  @Option(help: "Faults on committed directories (at rest).") var faults = 1000
  @Option(help: "Commit-fault trials: a number drawn with the seed, or all (every write step × kind).")
  var commitTrials = "all"
  @Option(help: "Seed of the faults.") var seed: UInt64 = 0
  @Option(help: "Scratch directory (default: a new one under /dev/shm or the temporary directory).")
  var scratch: String?

  func validate() throws {
    guard commitTrials == "all" || Int(commitTrials).map({ $0 >= 0 }) == true else {
      throw ValidationError("--commit-trials must be a number or all")
    }
  }

  func run() throws {
    let directory = try scratch ?? ScratchFiles.makeDirectory("storage-faults")
    let start = munet_monotonic_ns()
    let system = try AuditSystem.build(in: directory + "/audit-system")
    print(
      "munet fuzz storage: seed \(seed), audit system of \(system.snapshots.count) commits and "
        + "\(system.writeSteps.count) write steps, digest \(system.finalDigest)")
    let campaign = StorageFaultCampaign(system: system, scratch: directory, seed: seed)
    try campaign.runAtRest(count: faults)
    try campaign.runDuringCommits(sample: Int(commitTrials))
    let seconds = Double(munet_monotonic_ns() - start) / 1e9
    print(Self.table(campaign))
    let verdicts = StorageFaultCampaign.Verdict.allCases.map { "\($0.rawValue) \(campaign.count($0))" }
    print(
      "injected \(campaign.injected): \(verdicts.joined(separator: ", ")) in \(String(format: "%.1f", seconds)) s"
    )
    for finding in campaign.findings.prefix(30) { print("undetected: \(finding)") }
    if campaign.findings.isEmpty { ScratchFiles.remove(directory) } else { throw ExitCode(1) }
  }

  static func table(_ campaign: StorageFaultCampaign) -> String {
    let verdicts = StorageFaultCampaign.Verdict.allCases
    var lines = [
      "| fault | injected | " + verdicts.map(\.rawValue).joined(separator: " | ") + " |",
      "|---|---:|" + String(repeating: "---:|", count: verdicts.count),
    ]
    for (kind, tally) in campaign.tallies.sorted(by: { $0.key < $1.key }) {
      lines.append(
        "| \(kind) | \(tally.injected) | "
          + verdicts.map { String(tally.verdicts[$0] ?? 0) }.joined(separator: " | ") + " |")
    }
    return lines.joined(separator: "\n")
  }
}

/// Ends the process when one input runs longer than the limit (a hang), after saying which.
enum Watchdog {
  static func start(progress: FuzzProgress, hangSeconds: Double, scratch: String) {
    let thread = Thread {
      while true {
        Thread.sleep(forTimeInterval: 0.5)
        guard let running = progress.running else { continue }
        let seconds = Double(munet_monotonic_ns() - running.start) / 1e9
        if seconds > hangSeconds {
          let message =
            "munet fuzz: HANG: input \(running.iteration) of \(running.target.rawValue) runs for "
            + "\(Int(seconds)) s; it is in \(scratch)/current-input (see current-input.txt)\n"
          munet_exit_with_message(message, 3)
        }
      }
    }
    thread.start()
  }
}
