import Foundation
import MuNetStorage
import MuNetTestSupport
import Testing

/// Encodes named tensors given as arrays (the writer takes buffer pointers).
private func encode(
  _ tensors: [(String, [Int], [Float])], metadata: [String: String] = [:]
) throws(SafeTensorsError) -> [UInt8] {
  var storage = tensors.map { $0.2 }
  let result: Result<[UInt8], SafeTensorsError> = withBuffers(&storage) { buffers in
    let inputs = tensors.indices.map {
      SafeTensors.Input(name: tensors[$0].0, shape: tensors[$0].1, values: buffers[$0])
    }
    do throws(SafeTensorsError) {
      return .success(try SafeTensors.encode(inputs, metadata: metadata, source: "test.safetensors"))
    } catch { return .failure(error) }
  }
  return try result.get()
}

/// Calls `body` with buffer pointers to every array (kept alive and unmoved meanwhile).
private func withBuffers<R>(
  _ arrays: inout [[Float]], _ body: ([UnsafeBufferPointer<Float>]) -> R
) -> R {
  func nest(_ index: Int, _ collected: [UnsafeBufferPointer<Float>]) -> R {
    if index == arrays.count { return body(collected) }
    return arrays[index].withUnsafeBufferPointer { nest(index + 1, collected + [$0]) }
  }
  return nest(0, [])
}

/// A file made by hand: the length prefix, `header` padded with spaces to `paddedTo`, `data`.
private func rawFile(_ header: String, data: [UInt8] = [], paddedTo alignment: Int = 8) -> [UInt8] {
  var headerBytes = Array(header.utf8)
  while headerBytes.count % alignment != 0 { headerBytes.append(0x20) }
  return littleEndian(UInt64(headerBytes.count)) + headerBytes + data
}

private func littleEndian(_ value: UInt64) -> [UInt8] {
  (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
}

/// A fresh scratch directory (removed by the caller).
private func scratchDirectory() throws -> String {
  let name = "munet-safetensors-\(UUID().uuidString)"
  let path = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
  return path
}

private func decodeError(_ bytes: [UInt8]) -> SafeTensorsError? {
  do throws(SafeTensorsError) {
    _ = try SafeTensors.decode(bytes, source: "bad.safetensors")
    return nil
  } catch { return error }
}

private func entry(_ dtype: String = "F32", _ shape: String, _ begin: Int, _ end: Int) -> String {
  #"{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[\#(begin),\#(end)]}"#
}

// MARK: - Writer

@Test func canonicalBytesOfASmallFile() throws {
  let bytes = try encode([("b", [2], [1, -2]), ("a", [], [0.5])], metadata: ["format": "pt"])
  let header = #"{"__metadata__":{"format":"pt"},"a":{"data_offsets":[0,4],"dtype":"F32","shape":[]},"#
    + #""b":{"data_offsets":[4,12],"dtype":"F32","shape":[2]}}"#
  // 138 bytes of JSON + 6 spaces = 144 = 0x90, so the buffer starts at 152 = 19 × 8.
  let expected: [UInt8] = [0x90, 0, 0, 0, 0, 0, 0, 0] + Array(header.utf8) + Array(repeating: 0x20, count: 6)
    + [0x00, 0x00, 0x00, 0x3F]  // a = 0.5 = 0x3F000000, little-endian
    + [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0]  // b = [1.0 = 0x3F800000, -2.0 = 0xC0000000]
  #expect(header.utf8.count == 138)
  #expect(bytes == expected)
}

@Test func writerOutputDoesNotDependOnInputOrder() throws {
  let tensors: [(String, [Int], [Float])] = [
    ("head/kernel", [2, 3], [1, 2, 3, 4, 5, 6]), ("cls", [1, 1, 2], [-0.0, 7]), ("empty", [0, 4], []),
    ("Z", [1], [Float.infinity]),
  ]
  let forward = try encode(tensors, metadata: ["seed": "1", "generation": "4"])
  let backward = try encode(tensors.reversed(), metadata: ["generation": "4", "seed": "1"])
  #expect(forward == backward)
  let headerLength = Int(forward[0]) | Int(forward[1]) << 8
  #expect(forward[2..<8].allSatisfy { $0 == 0 })
  #expect((8 + headerLength) % 8 == 0, "the buffer starts 8-byte aligned")
  #expect(forward[8 + headerLength - 1] == 0x20 || forward[8 + headerLength - 1] == 0x7D)
  #expect(forward.count == 8 + headerLength + 4 * 9, "6 + 2 + 0 + 1 values, no holes")
}

@Test func roundTripKeepsEveryBit() throws {
  var random = SplitMix64(seed: 99)
  let shapes: [[Int]] = [[3, 5], [7], [], [2, 0, 3], [4, 1, 2, 2]]
  let tensors: [(String, [Int], [Float])] = shapes.enumerated().map { index, shape in
    let count = shape.reduce(1, *)
    let values = (0..<count).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: random.next())) }
    return ("t\(index)/é", shape, values)
  }
  let bytes = try encode(tensors, metadata: ["note": "a \"quoted\" \n value"])
  let file = try SafeTensors.decode(bytes, source: "round.safetensors")
  #expect(file.tensors.map(\.name) == tensors.map(\.0).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
  #expect(file.metadata("note") == "a \"quoted\" \n value")
  for (name, shape, values) in tensors {
    let tensor = try #require(file.tensor(named: name))
    #expect(tensor.shape == shape)
    #expect(file.values(of: tensor).map(\.bitPattern) == values.map(\.bitPattern))
  }
  #expect(file.tensor(named: "t9") == nil)
  // Re-encoding what was read gives the same bytes.
  let reread = file.tensors.map { ($0.name, $0.shape, file.values(of: $0)) }
  let again = try encode(reread, metadata: ["note": "a \"quoted\" \n value"])
  #expect(again == bytes)
}

@Test func writerRejectsBadInput() {
  func error(_ tensors: [(String, [Int], [Float])]) -> SafeTensorsError? {
    do throws(SafeTensorsError) { _ = try encode(tensors); return nil } catch { return error }
  }
  let source = "test.safetensors"
  #expect(error([("a", [1], [1]), ("a", [1], [2])]) == .duplicateName(source: source, name: "a"))
  #expect(error([("", [1], [1])]) == .invalidName(source: source, tensor: ""))
  #expect(error([("__metadata__", [1], [1])]) == .invalidName(source: source, tensor: "__metadata__"))
  #expect(error([("a", [2, 2], [1, 2, 3])])
          == .sizeMismatch(source: source, tensor: "a", shape: [2, 2], byteCount: 12))
  #expect(error([("a", [-1], [])]) == .sizeMismatch(source: source, tensor: "a", shape: [-1], byteCount: 0))
}

@Test func writeAndReadThroughAFile() throws {
  let directory = try scratchDirectory()
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let path = directory + "/weights.safetensors"
  var values: [Float] = [1, 2, 3]
  try values.withUnsafeBufferPointer { buffer in
    try SafeTensors.write([SafeTensors.Input(name: "w", shape: [3], values: buffer)], to: path)
  }
  let file = try SafeTensors.read(path: path, limitBytes: 1 << 20)
  #expect(file.source == path)
  var loaded = [Float](repeating: 0, count: 3)
  loaded.withUnsafeMutableBufferPointer { file.copyValues(of: file.tensors[0], into: $0) }
  #expect(loaded == values)
  values = []
  do throws(SafeTensorsError) {
    _ = try SafeTensors.read(path: directory + "/missing.safetensors", limitBytes: 100)
    Issue.record("reading a missing file must fail")
  } catch {
    guard case .storage(.system(_, .open, _, _)) = error else { Issue.record("unexpected \(error)"); return }
  }
}

// MARK: - Reader

@Test func readerAcceptsNonCanonicalButValidFiles() throws {
  // Keys in any order, whitespace, metadata first, buffer laid out out of name order, no
  // alignment padding: all allowed by the format.
  let header = #"{ "__metadata__": {"format": "pt"}, "b": "# + entry("F32", "[1]", 0, 4) + ", \"a\": "
    + entry("F32", "[2]", 4, 12) + "}"
  let data: [UInt8] = [0, 0, 0x80, 0x3F] + [0, 0, 0, 0x40, 0, 0, 0x40, 0x40]
  let file = try SafeTensors.decode(rawFile(header, data: data, paddedTo: 1), source: "x")
  #expect(file.tensors.map(\.name) == ["a", "b"])
  #expect(file.values(of: file.tensors[0]) == [2, 3])
  #expect(file.values(of: file.tensors[1]) == [1])
  #expect(file.metadata.map(\.key) == ["format"])
}

@Test func malformedFilesGiveTypedErrors() {
  let s = "bad.safetensors"
  let four: [UInt8] = [0, 0, 0x80, 0x3F]
  let exactKeys = "the entry must have exactly the keys data_offsets, dtype and shape"
  let badOffsets = "data_offsets is not [begin, end] with 0 <= begin <= end"
  let cases: [([UInt8], SafeTensorsError)] = [
    ([1, 2, 3], .truncated(source: s, byteCount: 3)),
    (littleEndian(200 << 20), .headerTooLarge(source: s, headerBytes: 200 << 20, limitBytes: 100 << 20)),
    (littleEndian(.max), .headerTooLarge(source: s, headerBytes: .max, limitBytes: 100 << 20)),
    (littleEndian(64) + Array("{}".utf8), .headerOutsideFile(source: s, headerBytes: 64, fileBytes: 10)),
    (littleEndian(0), .headerNotObject(source: s)),
    (rawFile(" {}"), .headerNotObject(source: s)),
    (rawFile("[]"), .headerNotObject(source: s)),
    (rawFile(#"{"a":"#), .invalidHeaderJSON(source: s, error: JSONError(.unexpectedEnd, offset: 8))),
    (rawFile(#"{"a":1} x"#), .invalidHeaderJSON(source: s, error: JSONError(.trailingData, offset: 8))),
    (rawFile(#"{"a":"# + entry("F32", "[1]", 0, 4) + #","a":"# + entry("F32", "[1]", 4, 8) + "}",
             data: four + four),
     .duplicateName(source: s, name: "a")),
    (rawFile(#"{"w":"# + entry("F16", "[2]", 0, 4) + "}", data: four),
     .unsupportedDType(source: s, tensor: "w", dtype: "F16")),
    (rawFile(#"{"w":"# + entry("F32", "[2]", 0, 4) + "}", data: four),
     .sizeMismatch(source: s, tensor: "w", shape: [2], byteCount: 4)),
    (rawFile(#"{"w":"# + entry("F32", "[1099511627776,1099511627776]", 0, 4) + "}", data: four),
     .sizeMismatch(source: s, tensor: "w", shape: [1 << 40, 1 << 40], byteCount: 4)),
    (rawFile(#"{"w":"# + entry("F32", "[2]", 0, 8) + "}", data: four),
     .offsetsOutsideBuffer(source: s, tensor: "w", end: 8, bufferBytes: 4)),
    (rawFile(#"{"a":"# + entry("F32", "[2]", 0, 8) + #","b":"# + entry("F32", "[2]", 4, 12) + "}",
             data: four + four + four),
     .overlap(source: s, tensor: "b", other: "a")),
    (rawFile(#"{"a":"# + entry("F32", "[1]", 0, 4) + #","b":"# + entry("F32", "[1]", 8, 12) + "}",
             data: four + four + four),
     .hole(source: s, offset: 4, length: 4)),
    (rawFile(#"{"a":"# + entry("F32", "[1]", 4, 8) + "}", data: four + four),
     .hole(source: s, offset: 0, length: 4)),
    (rawFile(#"{"a":"# + entry("F32", "[1]", 0, 4) + "}", data: four + four),
     .hole(source: s, offset: 4, length: 4)),
    (rawFile(#"{"a":[1]}"#), .invalidEntry(source: s, tensor: "a", reason: "the entry is not an object")),
    (rawFile(#"{"a":{"dtype":"F32","shape":[]}}"#),
     .invalidEntry(source: s, tensor: "a", reason: exactKeys)),
    (rawFile(#"{"a":{"dtype":"F32","shape":[],"data_offsets":[0,0],"x":1}}"#),
     .invalidEntry(source: s, tensor: "a", reason: exactKeys)),
    (rawFile(#"{"a":{"dtype":3,"shape":[],"data_offsets":[0,0]}}"#),
     .invalidEntry(source: s, tensor: "a", reason: "dtype is not a string")),
    (rawFile(#"{"a":"# + entry("F32", "[-1]", 0, 0) + "}"),
     .invalidEntry(source: s, tensor: "a", reason: "shape is not an array of non-negative integers")),
    (rawFile(#"{"a":"# + entry("F32", "[1.0]", 0, 4) + "}", data: four),
     .invalidEntry(source: s, tensor: "a", reason: "shape is not an array of non-negative integers")),
    (rawFile(#"{"a":"# + entry("F32", "[1]", 4, 0) + "}", data: four),
     .invalidEntry(source: s, tensor: "a", reason: badOffsets)),
    (rawFile(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, data: four),
     .invalidEntry(source: s, tensor: "a", reason: badOffsets)),
    (rawFile(#"{"__metadata__":{"k":1}}"#),
     .invalidMetadata(source: s, reason: "the value of \"k\" is not a string")),
    (rawFile(#"{"__metadata__":[]}"#), .invalidMetadata(source: s, reason: "__metadata__ is not an object")),
  ]
  for (bytes, expected) in cases {
    let error = decodeError(bytes)
    #expect(error == expected, "\(expected)")
    #expect(error?.description.hasPrefix(s) == true)
  }
  // An empty file with only "{}" is valid: no tensors, empty buffer.
  #expect(decodeError(rawFile("{}")) == nil)
}

@Test func randomCorruptionNeverCrashesTheReader() throws {
  let valid = try encode([("a", [2, 3], [1, 2, 3, 4, 5, 6]), ("b", [1], [7])], metadata: ["m": "v"])
  var random = SplitMix64(seed: 5)
  var rejected = 0
  for _ in 0..<3000 {
    var bytes = valid
    for _ in 0..<(1 + random.below(3)) where !bytes.isEmpty {
      let position = random.below(bytes.count)
      switch random.below(3) {
      case 0: bytes[position] = UInt8(truncatingIfNeeded: random.next())
      case 1: bytes.removeLast(bytes.count - position)
      default: bytes[position] ^= UInt8(1 << random.below(8))
      }
    }
    do throws(SafeTensorsError) {
      let file = try SafeTensors.decode(bytes, source: "fuzz")
      // Whatever is accepted must index the buffer exactly.
      let total = file.tensors.reduce(0) { $0 + $1.dataOffsets.count }
      #expect(file.dataStart + total == bytes.count)
    } catch {
      rejected += 1
    }
  }
  #expect(rejected > 1000)
}

// MARK: - Python compatibility

/// True when `python3` runs and can import numpy (checked once).
private let pythonWithNumpy: Bool = {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = ["python3", "-c", "import numpy"]
  process.standardOutput = FileHandle.nullDevice
  process.standardError = FileHandle.nullDevice
  do { try process.run() } catch { return false }
  process.waitUntilExit()
  return process.terminationStatus == 0
}()

/// Runs `python3 -c script args...`, returning its standard output.
private func runPython(_ script: String, _ arguments: [String]) throws -> String {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = ["python3", "-c", script] + arguments
  let output = Pipe()
  process.standardOutput = output
  try process.run()
  let data = output.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  #expect(process.terminationStatus == 0, "python3 failed")
  return String(decoding: data, as: UTF8.self)
}

// Skipped (not failed) when python3 or numpy is missing: this checks compatibility with
// another implementation, not munet's own logic, which the tests above cover.
@Test(.enabled(if: pythonWithNumpy, "needs python3 with numpy"))
func pythonReadsWhatTheWriterWrites() throws {
  let directory = try scratchDirectory()
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let path = directory + "/model.safetensors"
  var random = SplitMix64(seed: 3)
  let shapes: [(String, [Int], [Float])] = [("kernel", [3, 4], []), ("bias", [4], []), ("scalar", [], [])]
  let tensors: [(String, [Int], [Float])] = shapes.map {
    let count = $0.1.reduce(1, *)
    return ($0.0, $0.1, (0..<count).map { _ in Float(Int(random.below(2001)) - 1000) / 64 })
  }
  try AtomicFile.write(try encode(tensors, metadata: ["format": "munet"]), to: path)
  let script = """
    import json, struct, sys, numpy as np
    data = open(sys.argv[1], 'rb').read()
    (n,) = struct.unpack('<Q', data[:8])
    assert (8 + n) % 8 == 0 and data[8:9] == b'{'
    header = json.loads(data[8:8 + n])
    buf = data[8 + n:]
    out = {'__metadata__': header.pop('__metadata__')}
    for name, e in sorted(header.items()):
        b, e2 = e['data_offsets']
        a = np.frombuffer(buf[b:e2], dtype='<f4').reshape(e['shape'])
        out[name] = {'shape': list(a.shape), 'bits': a.reshape(-1).view('<u4').tolist()}
    print(json.dumps(out, sort_keys=True))
    """
  let printed = try runPython(script, [path])
  let result = try JSONValue.parse(printed.trimmingCharacters(in: .whitespacesAndNewlines))
  #expect(result["__metadata__"] == ["format": "munet"])
  for (name, shape, values) in tensors {
    #expect(result[name]?["shape"] == .array(shape.map { .integer(Int64($0)) }), "\(name)")
    #expect(result[name]?["bits"] == .array(values.map { .integer(Int64($0.bitPattern)) }), "\(name)")
  }
}

@Test(.enabled(if: pythonWithNumpy, "needs python3 with numpy"))
func readerReadsWhatPythonWrites() throws {
  let directory = try scratchDirectory()
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let path = directory + "/python.safetensors"
  // The layout of the reference writer: metadata first, names sorted, header padded with spaces.
  let script = """
    import json, struct, sys, numpy as np
    tensors = {'w': np.arange(6, dtype='<f4').reshape(2, 3) / 8, 'b': np.array([-1.5, 2.25], dtype='<f4')}
    header, offset, blobs = {'__metadata__': {'format': 'np'}}, 0, []
    for name in sorted(tensors):
        raw = tensors[name].tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(tensors[name].shape),
                        'data_offsets': [offset, offset + len(raw)]}
        offset += len(raw); blobs.append(raw)
    text = json.dumps(header).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    open(sys.argv[1], 'wb').write(struct.pack('<Q', len(text)) + text + b''.join(blobs))
    """
  _ = try runPython(script, [path])
  let file = try SafeTensors.read(path: path, limitBytes: 1 << 20)
  #expect(file.metadata("format") == "np")
  #expect(file.tensors.map(\.name) == ["b", "w"])
  #expect(file.tensors[1].shape == [2, 3])
  #expect(file.values(of: file.tensors[0]) == [-1.5, 2.25])
  #expect(file.values(of: file.tensors[1]) == [0, 0.125, 0.25, 0.375, 0.5, 0.625])
}
