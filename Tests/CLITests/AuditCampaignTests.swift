import Foundation
@testable import MuNetCLI
import MuNetEvolution
import MuNetStorage
import Testing

// Quick versions of the audit campaigns of spec/audit-figures.md (`munet fuzz parsers` and
// `munet fuzz storage` run the big ones): the same code, fewer inputs, fixed seeds.

/// The audit system, evolved once per test process (about a second in a debug build).
let auditSystem: Result<AuditSystem, Error> = Result {
  try AuditSystem.build(in: try ScratchFiles.makeDirectory("audit-tests") + "/system")
}

@Test func theAuditSystemHasEveryKindOfCommit() throws {
  let system = try auditSystem.get()
  // Creation, then per task two generations and a task end.
  #expect(system.snapshots.count == 7)
  #expect(Set(system.snapshots.map(\.digest)).count == 7, "every commit changes the state")
  let names = Set(system.writeSteps.map(\.name))
  #expect(names.contains(SystemStore.manifestName) && names.contains(SystemStore.journalName))
  #expect(system.writeSteps.contains { $0.step == .remove }, "a task end deletes dropped components")
  #expect(system.writeSteps.filter { $0.step == .rename && $0.name == SystemStore.manifestName }.count == 7)
}

@Test(.timeLimit(.minutes(2)))
func everyStorageFaultIsDetectedOrHarmless() throws {
  let system = try auditSystem.get()
  let scratch = try ScratchFiles.makeDirectory("storage-test")
  defer { ScratchFiles.remove(scratch) }
  let campaign = StorageFaultCampaign(system: system, scratch: scratch, seed: 5)
  try campaign.runAtRest(count: 1000)
  try campaign.runDuringCommits(sample: 16)
  #expect(campaign.injected == 1016)
  #expect(campaign.findings.isEmpty, "undetected faults:\n\(campaign.findings.joined(separator: "\n"))")
  #expect(campaign.count(.undetected) == 0)
  // The campaign exercises every outcome: refusals naming the file, damage outside what is
  // read, and runs that resume from a rolled-back or interrupted commit.
  #expect(
    campaign.count(.detected) > 500 && campaign.count(.unaffected) > 50 && campaign.count(.recovered) > 5)
  for kind in StorageFaultCampaign.restKinds {
    #expect(campaign.tallies.keys.contains { $0.hasPrefix(kind + " ") }, "no \(kind) fault was injected")
  }
}

@Test(.timeLimit(.minutes(2)))
func everyParserAcceptsOrRefusesHostileInput() throws {
  let system = try auditSystem.get()
  let scratch = try ScratchFiles.makeDirectory("fuzz-test")
  defer { ScratchFiles.remove(scratch) }
  let fuzzer = try ParserFuzzer(seed: 9, scratch: scratch, system: system)
  let targets = FuzzTarget.allCases
  try fuzzer.run(iterations: 150 * targets.count, targets: targets)
  for target in targets {
    let counts = fuzzer.counts[target] ?? FuzzCounts()
    #expect(counts.inputs == 150)
    #expect(counts.violations.isEmpty, "\(target.rawValue): \(counts.violations)")
    // The mutations reach both sides of every parser.
    #expect(counts.accepted > 0 && counts.rejected > 0, "\(target.rawValue): \(counts)")
  }
}

@Test func fuzzInputsDependOnlyOnTheSeed() throws {
  let scratch = try ScratchFiles.makeDirectory("fuzz-seed-test")
  defer { ScratchFiles.remove(scratch) }
  let first = try ParserFuzzer(seed: 3, scratch: scratch, system: nil)
  let second = try ParserFuzzer(seed: 3, scratch: scratch, system: nil)
  let other = try ParserFuzzer(seed: 4, scratch: scratch, system: nil)
  var differ = 0
  for iteration in 0..<50 {
    for target in [FuzzTarget.safetensors, .npyImages, .config] {
      let input = first.makeInput(target: target, iteration: iteration)
      #expect(input.bytes == second.makeInput(target: target, iteration: iteration).bytes)
      if input.bytes != other.makeInput(target: target, iteration: iteration).bytes { differ += 1 }
    }
  }
  #expect(differ > 100)
}
