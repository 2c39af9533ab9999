import Foundation
import MuNetData
import MuNetModel
import MuNetRuntime
import MuNetStorage
import MuNetTestSupport
import MuNetTraining
import Testing

/// The checkout this test file is in.
private let checkoutRoot = URL(fileURLWithPath: #filePath)
  .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// A fresh empty directory for one test, removed by `remove()`.
private struct TemporaryDirectory {
  let path: String

  init() throws {
    path = FileManager.default.temporaryDirectory
      .appendingPathComponent("munet-modelfile-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
  }

  func file(_ name: String) -> String { path + "/" + name }
  func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// `python3` on the PATH, when it can import numpy (checked once).
private enum PythonNumpy {
  static let executable: String? = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":") {
      let candidate = String(directory) + "/python3"
      guard FileManager.default.isExecutableFile(atPath: candidate) else { continue }
      if let result = try? run(candidate, ["-c", "import numpy"]), result.status == 0 { return candidate }
      return nil
    }
    return nil
  }()

  static var available: Bool { executable != nil }

  /// Runs `executable` with `arguments`; exit status and the combined output.
  static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
  }

  /// `bench/numpy_vit.py` with `arguments`.
  static func numpyViT(_ arguments: [String]) throws -> (status: Int32, output: String) {
    try run(executable!, [checkoutRoot + "/bench/numpy_vit.py"] + arguments)
  }
}

/// The reference configuration with an adapter of width 8 before block 1.
private let adapterConfig = ViTConfig.reference.withAdapter(8, atLayer: 1)

/// A model of `adapterConfig` whose every parameter is its seeded initial value plus seeded
/// noise in [-0.1, 0.1): the zero-initialised head, adapter output, biases and class token
/// become non-zero and the LayerNorm scales differ from 1, so every term of the forward shows
/// in the logits.
private func perturbedModel(seed: UInt64 = 2024) throws -> ViTModel {
  let model = try ViTModel(config: adapterConfig, initKey: StreamKey(seed: seed))
  var random = SplitMix64(seed: seed)
  for parameter in model.namedParameters() {
    let buffer = parameter.value.buffer
    for index in buffer.indices { buffer[index] += 0.1 * random.signedUnit() }
  }
  return model
}

/// The first evaluation batch (16 test images) of mnist-mini as the trainer prepares it.
private func fixtureImages(count: Int = 16) throws -> [Float] {
  let locations = DataLocations(
    dataDirectory: checkoutRoot + "/data", fixturesDirectory: checkoutRoot + "/fixtures/data")
  let splits = try DatasetRegistry.load("mnist-mini", locations: locations)
  let data = TaskData(
    name: "mnist-mini", splits: splits, seed: StreamKey(seed: 1), batchSize: count, imageSize: 28,
    augmentation: .none, evaluationBatchSize: count)
  var images = [Float](repeating: .nan, count: count * data.imageElementCount)
  var labels = [Int32](repeating: -1, count: count)
  let produced = images.withUnsafeMutableBufferPointer { imageBuffer in
    labels.withUnsafeMutableBufferPointer { labelBuffer in
      data.evaluationBatch(.test, batch: 0, images: imageBuffer, labels: labelBuffer)
    }
  }
  #expect(produced == count)
  return images
}

/// Tier 0 logits of `model` on `images` ([count, 28, 28, 1]), row-major.
private func tierZeroLogits(_ model: ViTModel, images: [Float], count: Int) throws -> [Float] {
  let config = model.config
  let workspace = try ViTWorkspace(config: config, batchCapacity: count)
  var input = images
  return input.withUnsafeMutableBufferPointer { buffer in
    let tensor = Tensor(
      base: buffer.baseAddress!, shape: Shape(count, config.imageSize, config.imageSize, config.channels))
    let logits = workspace.forward(model, images: tensor, compute: Compute(tier: .reference))
    return (0..<logits.rows).flatMap { row in (0..<logits.cols).map { logits[row, $0] } }
  }
}

private func npyFloat32(_ values: [Float], shape: [Int]) -> [UInt8] {
  let data = values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
  return NPYFormat.encode(descr: "<f4", shape: shape, data: data)
}

private func write(_ bytes: [UInt8], to path: String) throws {
  try Data(bytes).write(to: URL(fileURLWithPath: path))
}

private func readBytes(_ path: String) throws -> [UInt8] {
  Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// The loader's error for the file at `path` (nil, with a recorded issue, when it loads).
private func loadError(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> ModelFileError? {
  do {
    _ = try ModelFile.load(path: path)
    Issue.record("\(path) loaded, expected an error", sourceLocation: sourceLocation)
    return nil
  } catch {
    #expect(error.path == path, sourceLocation: sourceLocation)
    #expect(error.description.contains(path), "\(error)", sourceLocation: sourceLocation)
    return error
  }
}

/// The name of the error's case ("" for nil), for expectations on the kind of error.
private func caseName(_ error: ModelFileError?) -> String {
  guard let error else { return "" }
  return Mirror(reflecting: error).children.first?.label ?? "\(error)"
}

/// `bytes` with the first occurrence of `old` replaced by `new` (same length).
private func replacing(_ old: String, with new: String, in bytes: [UInt8]) -> [UInt8] {
  let (from, to) = (Array(old.utf8), Array(new.utf8))
  precondition(from.count == to.count)
  let starts = 0...(bytes.count - from.count)
  guard let start = starts.first(where: { bytes[$0..<$0 + from.count].elementsEqual(from) }) else {
    Issue.record("\(old) not found")
    return bytes
  }
  var result = bytes
  result.replaceSubrange(start..<start + from.count, with: to)
  return result
}

@Suite struct NumpyForwardTests {
  @Test(.enabled(if: PythonNumpy.available, "needs python3 with numpy on the PATH"))
  func numpyForwardMatchesMunetLogits() throws {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let count = 16
    let model = try perturbedModel()
    let modelPath = directory.file("model.safetensors")
    try ModelFile.save(model: model, metadata: ["task": "mnist-mini"], to: modelPath)
    let images = try fixtureImages(count: count)
    let logits = try tierZeroLogits(model, images: images, count: count)
    let largest = logits.map(abs).max() ?? 0
    #expect(largest > 0.5, "logits should not be trivially small (max |logit| \(largest))")
    let imagesPath = directory.file("images.npy")
    let logitsPath = directory.file("logits.npy")
    try write(npyFloat32(images, shape: [count, 28, 28, 1]), to: imagesPath)
    try write(npyFloat32(logits, shape: [count, 10]), to: logitsPath)

    let result = try PythonNumpy.numpyViT(
      [modelPath, imagesPath, "--logits", logitsPath, "--tolerance", "1e-4"])
    #expect(result.status == 0, "numpy_vit.py failed:\n\(result.output)")
    print("numpy_vit.py:\n\(result.output)")
    // Measured: 7.6e-7 (max |logit| 1.08). Variants of the forward that are wrong in one detail
    // differ by 2.3e-4 (exact instead of tanh GELU), 4e-4 (LayerNorm epsilon 1e-5), 0.13 (adapter
    // skipped), 0.25 (Q scaled before its bias), 0.47 (patches in (px, py) order); so 1e-5
    // separates them with room on both sides.
    let difference = result.output.split(separator: "\n")
      .first { $0.hasPrefix("max |difference| = ") }
      .flatMap { Double($0.dropFirst("max |difference| = ".count).prefix { $0 != " " }) }
    #expect(difference.map { $0 <= 1e-5 } == true, "max |difference| \(String(describing: difference))")

    // The comparison can fail: one logit moved by 1e-3 is caught.
    var shifted = logits
    shifted[7] += 1e-3
    let shiftedPath = directory.file("shifted.npy")
    try write(npyFloat32(shifted, shape: [count, 10]), to: shiftedPath)
    let failing = try PythonNumpy.numpyViT([modelPath, imagesPath, "--logits", shiftedPath])
    #expect(failing.status == 1, "a shifted logit should exceed the tolerance:\n\(failing.output)")

    // numpy checks the checksum on its own: a flipped data byte is refused.
    var corrupted = try readBytes(modelPath)
    corrupted[corrupted.count - 5] ^= 0x10
    let corruptedPath = directory.file("corrupted.safetensors")
    try write(corrupted, to: corruptedPath)
    let refused = try PythonNumpy.numpyViT([corruptedPath, imagesPath, "--logits", logitsPath])
    #expect(refused.status == 2 && refused.output.contains("SHA-256"), "\(refused.output)")
  }

  @Test func saveLoadRoundTripsBitExactlyAndSavingIsDeterministic() throws {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let model = try perturbedModel()
    let metadata = ["task": "mnist-mini", "note": "round trip \u{00e9}"]
    let first = directory.file("first.safetensors")
    let second = directory.file("second.safetensors")
    try ModelFile.save(model: model, metadata: metadata, to: first)
    try ModelFile.save(model: model, metadata: metadata, to: second)
    let bytes = try readBytes(first)
    #expect(bytes == (try readBytes(second)), "saving twice gave different bytes")

    let (loaded, loadedMetadata) = try ModelFile.load(path: first)
    #expect(loaded.config == model.config)
    #expect(loadedMetadata == metadata)
    let original = model.namedParameters()
    let restored = loaded.namedParameters()
    #expect(original.map(\.name) == restored.map(\.name))
    for (a, b) in zip(original, restored) {
      #expect(a.value.shape == b.value.shape)
      #expect(a.value.buffer.map(\.bitPattern) == b.value.buffer.map(\.bitPattern), "\(a.name) differs")
    }
    // The loaded model writes the same file again.
    let third = directory.file("third.safetensors")
    try ModelFile.save(model: loaded, metadata: loadedMetadata, to: third)
    #expect(bytes == (try readBytes(third)))
  }

  @Test func fileHoldsTheAgreedMetadataAndChecksum() throws {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let path = directory.file("model.safetensors")
    try ModelFile.save(model: try perturbedModel(), metadata: [:], to: path)
    let file = try SafeTensors.read(path: path, limitBytes: 1 << 30)
    #expect(file.metadata("munet.format") == "munet-vit-1")
    #expect(file.metadata("munet.config") ==
      #"{"adapterDims":[null,8,null,null],"channels":1,"classCount":10,"#
      + #""geluForm":"tanh","heads":4,"imageSize":28,"layerCount":4,"layerNormEpsilon":1e-06,"#
      + #""mlpDim":256,"patchSize":4,"width":64}"#)
    #expect(file.dataStart % 8 == 0)
    let data = Array(file.bytes[file.dataStart...])
    #expect(file.metadata("munet.sha256") == SHA256.hash(data).hex)
    // 72 tensors in the reference model (spec/model.md) and 6 in the adapter.
    #expect(file.tensors.count == 72 + 6)
    // 205,066 values in the reference model (bench/README.md), 2·64 + 129·8 + 64 in the adapter.
    #expect(data.count == 4 * (205_066 + 1_224))
  }

  @Test func truncatedFilesGiveTypedErrorsNamingTheFile() throws {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let path = directory.file("model.safetensors")
    try ModelFile.save(model: try perturbedModel(), metadata: [:], to: path)
    let bytes = try readBytes(path)
    for keep in [0, 5, 100, bytes.count - 4096, bytes.count - 1] {
      let truncated = directory.file("truncated-\(keep).safetensors")
      try write(Array(bytes.prefix(keep)), to: truncated)
      let error = loadError(truncated)
      guard case .safeTensors? = error else {
        Issue.record("truncated to \(keep) bytes: \(String(describing: error))")
        continue
      }
    }
  }

  @Test func aFlippedDataByteFailsTheChecksum() throws {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let path = directory.file("model.safetensors")
    try ModelFile.save(model: try perturbedModel(), metadata: [:], to: path)
    var bytes = try readBytes(path)
    bytes[bytes.count / 2] ^= 0x01
    let corrupted = directory.file("corrupted.safetensors")
    try write(bytes, to: corrupted)
    let error = loadError(corrupted)
    guard case .checksumMismatch(_, let expected, let actual)? = error else {
      Issue.record("expected a checksum mismatch, got \(String(describing: error))")
      return
    }
    #expect(expected != actual && expected.utf8.count == 64 && actual.utf8.count == 64)
    #expect(error!.description.contains("corrupted"))
  }

  @Test func editedHeadersGiveTypedErrors() throws {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let path = directory.file("model.safetensors")
    try ModelFile.save(model: try perturbedModel(), metadata: [:], to: path)
    let bytes = try readBytes(path)
    func load(_ edited: [UInt8], _ name: String) throws -> ModelFileError? {
      let file = directory.file(name)
      try write(edited, to: file)
      return loadError(file)
    }
    // The configuration is a JSON string inside the header JSON, so its quotes are escaped.
    // Same parameter count, other shapes: caught by the shape check.
    let heads = try load(replacing(#"\"heads\":4"#, with: #"\"heads\":8"#, in: bytes), "heads.safetensors")
    #expect(caseName(heads) == "parameterMismatch", "\(String(describing: heads))")
    // Another token count: caught by the value count, before the model is built.
    let patch = try load(
      replacing(#"\"patchSize\":4"#, with: #"\"patchSize\":7"#, in: bytes), "patch.safetensors")
    #expect(caseName(patch) == "parameterMismatch", "\(String(describing: patch))")
    let gelu = try load(
      replacing(#"\"geluForm\":\"tanh\""#, with: #"\"geluForm\":\"tanx\""#, in: bytes), "gelu.safetensors")
    #expect(caseName(gelu) == "invalidConfig", "\(String(describing: gelu))")
    let format = try load(replacing("munet-vit-1", with: "munet-vit-9", in: bytes), "format.safetensors")
    #expect(format == .unsupportedFormat(path: directory.file("format.safetensors"), format: "munet-vit-9"))
    let checksum = try load(replacing("munet.sha256", with: "munet.sha257", in: bytes), "nosum.safetensors")
    #expect(caseName(checksum) == "notAModelFile", "\(String(describing: checksum))")
  }

  @Test func plainSafetensorsAndReservedKeysAreRefused() throws {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let plain = directory.file("plain.safetensors")
    let values: [Float] = [1, 2, 3]
    try values.withUnsafeBufferPointer { buffer in
      try SafeTensors.write([SafeTensors.Input(name: "cls", shape: [1, 1, 3], values: buffer)], to: plain)
    }
    let error = loadError(plain)
    #expect(caseName(error) == "notAModelFile", "\(String(describing: error))")

    let target = directory.file("reserved.safetensors")
    #expect(throws: ModelFileError.reservedMetadataKey(path: target, key: "munet.config")) {
      try ModelFile.save(model: try perturbedModel(), metadata: ["munet.config": "{}"], to: target)
    }
    #expect(!FileManager.default.fileExists(atPath: target))
  }

  @Test func configParsingEnforcesEveryField() throws {
    let good = ModelFile.configJSON(adapterConfig).canonicalText
    #expect(try ModelFile.parseConfig(good, source: "x") == adapterConfig)
    // The epsilon may be a string holding a decimal.
    let stringEpsilon = good.replacingOccurrences(
      of: #""layerNormEpsilon":1e-06"#, with: #""layerNormEpsilon":"1e-6""#)
    #expect(try ModelFile.parseConfig(stringEpsilon, source: "x") == adapterConfig)
    let exact = ModelFile.configJSON(ViTConfig(
      imageSize: 8, patchSize: 2, channels: 3, width: 12, heads: 3, mlpDim: 5, layerCount: 1, classCount: 2,
      geluForm: .exact, layerNormEpsilon: 1e-5))
    #expect(exact.canonicalText.contains(#""geluForm":"exact""#) && exact.canonicalText.contains("1e-05"))

    let bad: [(String, String)] = [
      (#""width":64"#, #""width":16385"#),
      (#""width":64"#, #""width":-64"#),
      (#""heads":4"#, #""heads":5"#),
      (#""imageSize":28"#, #""imageSize":30"#),
      (#""layerCount":4"#, #""layerCount":3"#),
      (#""adapterDims":[null,8,null,null]"#, #""adapterDims":[null,0,null,null]"#),
      (#""channels":1"#, #""channels":1.5"#),
      (#""layerNormEpsilon":1e-06"#, #""layerNormEpsilon":0"#),
      (#""layerNormEpsilon":1e-06"#, #""layerNormEpsilon":"tiny""#),
      (#""layerNormEpsilon":1e-06"#, #""layerNormEpsilon":1e99"#),
      (#""classCount":10,"#, ""),
      (#""classCount":10,"#, #""classCount":10,"extra":1,"#),
    ]
    for (old, new) in bad {
      let text = good.replacingOccurrences(of: old, with: new)
      #expect(text != good)
      #expect(throws: ModelFileError.self, "\(new)") { try ModelFile.parseConfig(text, source: "x") }
    }
  }

  @Test func parameterCountAgreesWithTheModel() throws {
    let configs = [
      adapterConfig, ViTConfig.reference,
      ViTConfig(imageSize: 8, patchSize: 2, channels: 3, width: 12, heads: 3, mlpDim: 5, layerCount: 2,
                classCount: 7, adapterDims: [3, 4]),
      ViTConfig(
        imageSize: 6, patchSize: 6, channels: 1, width: 4, heads: 1, mlpDim: 2, layerCount: 0, classCount: 1),
    ]
    for config in configs {
      let model = try ViTModel(config: config, initKey: StreamKey(seed: 5), trainable: false)
      #expect(ModelFile.parameterCount(config) == model.parameterCount, "\(config)")
    }
  }
}
