import ArgumentParser
import Foundation
import MuNetEvolution

/// `munet diff`: where two system directories first differ, and how.
struct DiffCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "diff",
    abstract: "Show where two system directories differ: configuration, journal, state.",
    discussion: """
      Lists the canonical configuration keys whose values differ, the first journal line that \
      differs (its stage, round, task, generation and child, and the fields that differ), then \
      the state: paths and components only one side holds, components of the same id with \
      different digests (which tensors differ, where, and by how much) and other fields. Both \
      directories are verified first. Run facts (tier, threads, version) are shown but do not \
      count. Exit status: 0 identical, 1 different, 2 an error.
      """)

  @Argument(help: "First system directory (A).") var directoryA: String
  @Argument(help: "Second system directory (B).") var directoryB: String

  func run() throws {
    let report: SystemDiffReport
    do {
      report = try SystemDiff.compare(directoryA, directoryB)
    } catch {
      FileHandle.standardError.write(Data("munet diff: error: \(error)\n".utf8))
      throw ExitCode(2)
    }
    print(report.text)
    if !report.isIdentical { throw ExitCode(1) }
  }
}
