// A libFuzzer entry point for munet's parsers (scripts/libfuzzer.sh builds and runs it).
//
// Not part of the package: SwiftPM cannot build a libFuzzer executable without a target of its
// own (and the package manifest is not to be changed for an audit tool), so the script compiles
// the engine modules with coverage instrumentation (`-sanitize=fuzzer`) into their own build
// directory and links this file against them with swiftc. MUNET_LIBFUZZER_TARGET picks the
// parser; the seeded campaign of `munet fuzz parsers` covers the same parsers deterministically.
import Foundation
import MuNetData
import MuNetEvolution
import MuNetStorage
import MuNetTraining

private let target = ProcessInfo.processInfo.environment["MUNET_LIBFUZZER_TARGET"] ?? "safetensors"
private let scratch: String = {
  let path = "/dev/shm/munet-libfuzzer-\(getpid())"
  try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}()

private func withFile(_ bytes: [UInt8], _ body: (String) -> Void) {
  let path = scratch + "/input"
  FileManager.default.createFile(atPath: path, contents: Data(bytes))
  body(path)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  let bytes = start.map { [UInt8](UnsafeBufferPointer(start: $0, count: count)) } ?? []
  switch target {
  case "safetensors":
    if let file = try? SafeTensors.decode(bytes, source: "input") {
      for tensor in file.tensors { _ = file.values(of: tensor) }
    }
  case "json":
    if let value = try? JSONValue.parse(bytes) {
      precondition((try? JSONValue.parse(value.canonicalBytes)) == value)
    }
  case "config":
    if let json = try? JSONValue.parse(bytes), let config = try? EvolutionConfig.parse(json, source: "input")
    {
      precondition((try? EvolutionConfig.parse(config.json, source: "canonical")) == config)
    }
  case "idx-images": withFile(bytes) { _ = try? IDXFormat.readImages($0) }
  case "idx-labels": withFile(bytes) { _ = try? IDXFormat.readLabels($0) }
  case "npy-images": withFile(bytes) { _ = try? NPYFormat.readImages($0) }
  case "npy-labels": withFile(bytes) { _ = try? NPYFormat.readLabels($0) }
  case "csv": withFile(bytes) { _ = try? CSVFormat.read($0) }
  case "model": withFile(bytes) { _ = try? ModelFile.load(path: $0) }
  default: fatalError("unknown MUNET_LIBFUZZER_TARGET \(target)")
  }
  return 0
}
