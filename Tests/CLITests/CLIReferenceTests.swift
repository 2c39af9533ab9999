import Foundation
import Testing

@testable import MuNetCLI

/// spec/cli.md is generated from the commands' help; a stale copy fails here, loudly.
@Test func cliReferenceMatchesTheCommands() throws {
  let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("spec/cli.md").path
  let file = try String(contentsOfFile: path, encoding: .utf8)
  let generated = CLIReference.markdown()
  #expect(file == generated, "spec/cli.md is stale: regenerate it with `.build/release/munet cli-reference > spec/cli.md`")
  #expect(generated.contains("## munet evolve") && generated.contains("## munet digest"))
}
