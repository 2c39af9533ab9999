import Foundation
import MuNetData
import MuNetEvolution
import MuNetModel
import MuNetRuntime
import MuNetStorage
import MuNetTraining

/// The valid inputs the fuzzer mutates, one set per target, made in-process (deterministic),
/// and the helpers that reseal mutated files with correct checksums.
extension ParserFuzzer {
  func makeSeeds() throws {
    let idxImages = IDXFormat.encodeImages(Self.ramp(48), count: 3, shape: ImageShape(height: 4, width: 4))
    let idxColour = IDXFormat.encodeImages(
      Self.ramp(36), count: 2, shape: ImageShape(height: 3, width: 3, channels: 2))
    let idxLabels = IDXFormat.encodeLabels([0, 1, 2, 1, 0])
    seeds[.idxImages] = [(idxImages, Self.idxFields(rank: 3)), (idxColour, Self.idxFields(rank: 4))]
    seeds[.idxLabels] = [(idxLabels, Self.idxFields(rank: 1))]

    let npyU1 = NPYFormat.encode(descr: "|u1", shape: [3, 4, 4], data: Self.ramp(48))
    let npyF4 = NPYFormat.encode(
      descr: "<f4", shape: [2, 3, 3], data: Self.floats((0..<18).map { Float($0) / 18 }))
    let npyF8 = NPYFormat.encode(
      descr: "<f8", shape: [2, 2, 2, 1],
      data: (0..<8).flatMap { index in
        withUnsafeBytes(of: (Double(index) * 30).bitPattern.littleEndian) { Array($0) }
      })
    let labelsU1 = NPYFormat.encode(descr: "|u1", shape: [5], data: [0, 1, 2, 1, 0])
    let labelsI4 = NPYFormat.encode(descr: "<i4", shape: [3], data: [1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0])
    let labelsI8 = NPYFormat.encode(
      descr: "<i8", shape: [2],
      data: [3] + [UInt8](repeating: 0, count: 7) + [1] + [UInt8](repeating: 0, count: 7))
    let npyFields = [LengthField(offset: 8, width: 2, order: .little)]
    seeds[.npyImages] = [
      (npyU1, npyFields), (npyF4, npyFields), (npyF8, npyFields), (Self.npyVersion2(npyU1), Self.npy2Fields),
    ]
    seeds[.npyLabels] = [
      (labelsU1, npyFields), (labelsI4, npyFields), (labelsI8, npyFields),
      (Self.npyVersion2(labelsI4), Self.npy2Fields),
    ]

    seeds[.csv] = [
      (Array("p0,p1,p2,p3,label\n0,255,3,4,1\n10,20,30,40,0\n1,2,3,4,2\n".utf8), []),
      (Array("0.5,0.25,1,0,3.0\r\n0,0,0,0.125,1\r\n\r\n".utf8), []),
      (Array(" 16, 0, 8, 4, 9 \n 1, 2, 3, 4, 0 \n".utf8), []),
    ]
    seeds[.dataset] = Self.datasetFiles.map { ($0, Self.idxFields(rank: $0[3] == 1 ? 1 : 3)) }

    let tensors = try Self.safetensorsSeed()
    seeds[.safetensors] = [(tensors, [LengthField(offset: 0, width: 8, order: .little)])]
    let model = try Self.modelSeed(scratch: scratch)
    seeds[.model] = [(model, [LengthField(offset: 0, width: 8, order: .little)])]

    let configBytes = Array(AuditSystem.configText.utf8)
    let canonicalConfig = try AuditSystem.parsedConfig().json.canonicalBytes
    seeds[.config] = [(configBytes, []), (canonicalConfig, [])]
    seeds[.json] = [
      (configBytes, []),
      (Array(#"{"a":[1,2.5e-3,-0,"\u00e9\ud83d\ude00",true,null],"b":{"c":"\\\"/"}}"#.utf8), []),
      (tensors[8..<min(tensors.count, 8 + 120)].map { $0 }, []),
    ]
    if let system {
      let files = system.snapshots.last!.files
      seeds[.manifest] = [(files[SystemStore.manifestName]!, [])]
      seeds[.journal] = [(files[SystemStore.journalName]!, [])]
      seeds[.component] = files.keys.filter { $0.hasPrefix(SystemStore.componentsFolder + "/") }.sorted()
        .map { (files[$0]!, [LengthField(offset: 0, width: 8, order: .little)]) }
    }
  }

  static func ramp(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 * 37) } }

  static func floats(_ values: [Float]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
  }

  /// The magic and every dimension of an IDX file of `rank` (big-endian UInt32).
  static func idxFields(rank: Int) -> [LengthField] {
    (0...rank).map { LengthField(offset: 4 * $0, width: 4, order: .big) }
  }

  static let npy2Fields = [LengthField(offset: 8, width: 4, order: .little)]

  /// A v2.0 `.npy` file of the same array (4-byte header length).
  static func npyVersion2(_ version1: [UInt8]) -> [UInt8] {
    let length = Int(version1[8]) | Int(version1[9]) << 8
    return [0x93] + Array("NUMPY".utf8) + [2, 0, UInt8(length & 0xFF), UInt8(length >> 8), 0, 0]
      + Array(version1[10...])
  }

  /// Train (20 images, 3 classes) and test (10 images) IDX files of a dataset folder.
  static let datasetFiles: [[UInt8]] = [
    IDXFormat.encodeImages(ramp(20 * 16), count: 20, shape: ImageShape(height: 4, width: 4)),
    IDXFormat.encodeLabels((0..<20).map { Int32($0 % 3) }),
    IDXFormat.encodeImages(ramp(10 * 16), count: 10, shape: ImageShape(height: 4, width: 4)),
    IDXFormat.encodeLabels((0..<10).map { Int32($0 % 3) }),
  ]

  static func safetensorsSeed() throws -> [UInt8] {
    let a: [Float] = [1, -2, 3.5, 0, .leastNonzeroMagnitude, -0.0]
    let b: [Float] = [0.25, 0.5, 0.75, 1]
    let c: [Float] = [42]
    return try a.withUnsafeBufferPointer { a in
      try b.withUnsafeBufferPointer { b in
        try c.withUnsafeBufferPointer { c in
          try SafeTensors.encode(
            [
              .init(name: "layer/kernel", shape: [2, 3], values: a),
              .init(name: "layer/bias", shape: [4], values: b),
              .init(name: "scalar", shape: [], values: c),
              .init(name: "empty", shape: [0, 5], values: UnsafeBufferPointer(start: nil, count: 0)),
            ], metadata: ["note": "seed", "munet.format": "other"], source: "seed")
        }
      }
    }
  }

  /// A small model file (one block with an adapter), as `munet train` writes it.
  static func modelSeed(scratch: String) throws -> [UInt8] {
    let config = ViTConfig(
      imageSize: 8, patchSize: 4, channels: 1, width: 8, heads: 2, mlpDim: 16, layerCount: 1, classCount: 3,
      adapterDims: [4])
    let model = try ViTModel(config: config, initKey: StreamKey(seed: 3).child("fuzz-model"))
    let path = scratch + "/seed-model.safetensors"
    try ModelFile.save(model: model, metadata: ["munet.task": "fuzz"], to: path)
    return try ScratchFiles.read(path)
  }

  // MARK: Sealing

  /// The header JSON and data section of safetensors bytes (nil when the length is unusable).
  static func safetensorsHeader(_ bytes: [UInt8]) -> (json: [UInt8], data: [UInt8])? {
    guard bytes.count >= 8 else { return nil }
    var length = 0
    for index in 0..<8 { length |= Int(bytes[index]) << (8 * index) }
    guard length >= 0, length <= bytes.count - 8 else { return nil }
    var header = Array(bytes[8..<8 + length])
    while header.last == 0x20 { header.removeLast() }
    return (header, Array(bytes[(8 + length)...]))
  }

  /// Safetensors bytes of a header (padded with spaces to a multiple of 8) and data.
  static func safetensorsBytes(header: [UInt8], data: [UInt8]) -> [UInt8] {
    var padded = header
    while padded.count % 8 != 0 { padded.append(0x20) }
    var bytes = (0..<8).map { UInt8(truncatingIfNeeded: padded.count >> (8 * $0)) }
    bytes += padded
    return bytes + data
  }

  /// A manifest with its `sha256` recomputed (unchanged when it is not a JSON object).
  static func sealManifest(_ bytes: [UInt8]) -> [UInt8] {
    guard case .object(var object)? = try? JSONValue.parse(bytes) else { return bytes }
    object.set("sha256", nil)
    object.set("sha256", .string(SHA256.hash(JSONValue.object(object).canonicalBytes).hex))
    return JSONValue.object(object).canonicalBytes + [0x0A]
  }

  /// The manifest re-sealed to record `journal` as its committed journal.
  static func resealJournal(_ manifest: [UInt8], _ journal: [UInt8]) -> [UInt8] {
    guard case .object(var object)? = try? JSONValue.parse(manifest) else { return manifest }
    let lines = journal.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    object.set(
      "journal",
      .object(
        JSONObject([
          ("bytes", .integer(Int64(journal.count))), ("lines", .integer(Int64(lines))),
          ("sha256", .string(SHA256.hash(journal).hex)),
        ])))
    return sealManifest(JSONValue.object(object).canonicalBytes)
  }

  /// The manifest re-sealed with the digest of `component` for the component file `name`.
  static func resealComponent(_ manifest: [UInt8], name: String, _ component: [UInt8]) -> [UInt8] {
    guard case .object(var object)? = try? JSONValue.parse(manifest),
      case .object(var state)? = object["state"],
      case .array(var components)? = state["components"]
    else { return manifest }
    let id = name.dropFirst(SystemStore.componentsFolder.count + 1).split(separator: ".").first.flatMap {
      Int64($0)
    }
    for index in components.indices {
      guard case .object(var entry) = components[index], entry["id"]?.integerValue == id else { continue }
      entry.set("sha256", .string(SHA256.hash(component).hex))
      components[index] = .object(entry)
    }
    state.set("components", .array(components))
    object.set("state", .object(state))
    return sealManifest(JSONValue.object(object).canonicalBytes)
  }

  /// A model file with `munet.sha256` recomputed over its data section.
  static func sealModel(_ bytes: [UInt8]) -> [UInt8] {
    guard let (header, data) = safetensorsHeader(bytes),
      case .object(var object)? = try? JSONValue.parse(header),
      case .object(var metadata)? = object["__metadata__"]
    else { return bytes }
    metadata.set(ModelFile.checksumKey, .string(SHA256.hash(data).hex))
    object.set("__metadata__", .object(metadata))
    return safetensorsBytes(header: JSONValue.object(object).canonicalBytes, data: data)
  }
}
