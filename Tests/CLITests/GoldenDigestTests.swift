import Foundation
@testable import MuNetCLI
import Testing

/// The debug half of "debug and release give the same bits": this build's Tier 0 kernel
/// digests against the committed golden/kernel-digests.json (scripts/test runs the release half,
/// `munet check-numerics`, against the same file). The file is never written here.
@Test func goldenDigestsMatchThisBuild() throws {
  let file = try GoldenDigests.load(repositoryGoldenPath)
  let comparison = GoldenDigests.compare(GoldenDigests.compute(), with: file)
  #expect(comparison.mismatched == [], "regenerate deliberately with munet check-numerics --write-golden")
  #expect(comparison.missing == [])
  #expect(comparison.unexpected == [])
  #expect(comparison.total == GoldenDigests.cases.count && comparison.matched == comparison.total)
}

@Test func goldenCaseNamesAreUnique() {
  let names = GoldenDigests.cases.map(\.name)
  #expect(Set(names).count == names.count)
}

@Test func goldenComparisonReportsMismatchedMissingAndUnknownCases() {
  let digests = [(name: "a", digest: "11"), (name: "b", digest: "22"), (name: "c", digest: "33")]
  let file = GoldenFile(cases: ["a": "11", "b": "23", "stale": "44"], note: "")
  let comparison = GoldenDigests.compare(digests, with: file)
  #expect(comparison.matched == 1 && comparison.total == 3)
  #expect(comparison.mismatched == ["b"])
  #expect(comparison.missing == ["c"])
  #expect(comparison.unexpected == ["stale"])
  #expect(!comparison.passed)
  #expect(comparison.violations.count == 3)
}

@Test func aMissingGoldenFileIsAClearError() throws {
  let path = try makeTemporaryDirectory() + "/absent.json"
  #expect {
    _ = try GoldenDigests.load(path)
  } throws: { error in
    guard case GoldenDigestError.missing(let missingPath) = error else { return false }
    return missingPath == path && "\(error)".contains("--golden")
  }
}

@Test func digestsHashFloatsThenDoublesLittleEndian() {
  // Expected values from `printf '\x00\x00\x80\x3f' | sha256sum` (1.0 as a little-endian
  // Float) and the same followed by 1.0 as a little-endian Double.
  let one = NumericsOutput(floats: [1])
  #expect(one.digest.hex == "e00e5eb9444182f352323374ef4e08ebcb784725fdd4fd612d7730540b3e0c8c")
  let withDouble = NumericsOutput(floats: [1], doubles: [1])
  #expect(withDouble.digest.hex == "3a2c5396455ff587b8e208b87cd0fee971fa879212d3946d143529785279602a")
  #expect(NumericsOutput(floats: [flippedLastBit(1)]).digest != one.digest)
}

@Test func writeGoldenRefusesToOverwriteWithoutForce() throws {
  let path = try makeTemporaryDirectory() + "/kernel-digests.json"
  var command = try CheckNumericsCommand.parse(["--write-golden", path])
  try command.run()
  let written = try GoldenDigests.load(path)
  #expect(GoldenDigests.compare(GoldenDigests.compute(), with: written).passed)
  #expect(written.note.contains("elementary-exp-4096"))

  try Data("{}".utf8).write(to: URL(fileURLWithPath: path))
  #expect(throws: GoldenDigestError.self) { try command.run() }
  #expect(try String(contentsOfFile: path, encoding: .utf8) == "{}", "the refused write left the file alone")

  command = try CheckNumericsCommand.parse(["--write-golden", path, "--force"])
  try command.run()
  #expect(try GoldenDigests.load(path) == written)
}
