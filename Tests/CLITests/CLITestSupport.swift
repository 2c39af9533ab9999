import Foundation
@testable import MuNetCLI

/// The repository's golden digest file (the one check-numerics reads); tests only read it.
let repositoryGoldenPath: String = URL(fileURLWithPath: #filePath)
  .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  .appendingPathComponent(GoldenDigests.defaultPath).path

/// A fresh empty directory under the system's temporary directory.
func makeTemporaryDirectory() throws -> String {
  let path = NSTemporaryDirectory() + "munet-cli-tests-" + UUID().uuidString
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}

/// `value` with its lowest significand bit flipped (the smallest possible change).
func flippedLastBit(_ value: Float) -> Float { Float(bitPattern: value.bitPattern ^ 1) }
