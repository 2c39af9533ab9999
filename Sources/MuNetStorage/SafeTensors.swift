/// The safetensors file format (huggingface/safetensors), `F32` only: a canonical writer and a
/// bounds-checked reader.
///
/// Layout: 8 bytes N (unsigned 64-bit little-endian), then N bytes of UTF-8 JSON starting with
/// `{`, then the byte buffer. Each header entry is
/// `{"data_offsets":[begin,end],"dtype":"F32","shape":[...]}` with offsets relative to the
/// buffer; an optional `__metadata__` entry is a string→string map. Data is little-endian,
/// row-major.
///
/// Canonical form (what ``encode(_:metadata:source:)`` writes, byte for byte the same for the
/// same tensors): tensors laid out in ascending name order (byte-wise UTF-8), contiguous from
/// offset 0 with no holes; the JSON header with every object's keys sorted byte-wise (so
/// `__metadata__` sits where `_` sorts, and is omitted when empty), no whitespace, integers
/// only; then spaces (0x20) so that the buffer starts at an offset that is a multiple of 8.
/// The reference writer orders by dtype alignment first, then name; with one dtype that is the
/// same order.
public enum SafeTensors {
  /// The largest header the reader accepts, checked before anything is allocated for it.
  public static let headerBytesMax = 100 << 20

  /// The key of the metadata map in the header.
  public static let metadataKey = "__metadata__"

  /// One tensor to write: its name, its shape and its values (row-major).
  public struct Input {
    public var name: String
    public var shape: [Int]
    public var values: UnsafeBufferPointer<Float>

    public init(name: String, shape: [Int], values: UnsafeBufferPointer<Float>) {
      self.name = name
      self.shape = shape
      self.values = values
    }
  }

  // MARK: Writing

  /// The canonical bytes of a file holding `tensors` and `metadata` (see ``SafeTensors``).
  ///
  /// Throws when a name is empty or `__metadata__`, appears twice, or a shape does not match
  /// its value count; `source` names the file in the error.
  public static func encode(
    _ tensors: [Input], metadata: [String: String] = [:], source: String
  ) throws(SafeTensorsError) -> [UInt8] {
    let ordered = tensors.sorted { JSONObject.keyPrecedes($0.name, $1.name) }
    var members: [JSONMember] = []
    var offset = 0
    for index in ordered.indices {
      let tensor = ordered[index]
      if index > 0 && ordered[index - 1].name.utf8.elementsEqual(tensor.name.utf8) {
        throw .duplicateName(source: source, name: tensor.name)
      }
      guard !tensor.name.isEmpty, tensor.name != metadataKey else {
        throw .invalidName(source: source, tensor: tensor.name)
      }
      guard let elements = elementCount(tensor.shape), elements == tensor.values.count else {
        throw .sizeMismatch(source: source, tensor: tensor.name, shape: tensor.shape,
                            byteCount: tensor.values.count * 4)
      }
      let end = offset + elements * 4
      let entry: JSONValue = [
        "data_offsets": [.integer(Int64(offset)), .integer(Int64(end))],
        "dtype": "F32",
        "shape": .array(tensor.shape.map { .integer(Int64($0)) }),
      ]
      members.append(JSONMember(key: tensor.name, value: entry))
      offset = end
    }
    if !metadata.isEmpty {
      let pairs = metadata.map { JSONMember(key: $0.key, value: .string($0.value)) }
      members.append(JSONMember(key: metadataKey, value: .object(JSONObject(pairs))))
    }
    var header = JSONValue.object(JSONObject(members)).canonicalBytes
    while header.count % 8 != 0 { header.append(0x20) }

    var bytes: [UInt8] = []
    bytes.reserveCapacity(8 + header.count + offset)
    appendLittleEndian(UInt64(header.count), to: &bytes)
    bytes.append(contentsOf: header)
    for tensor in ordered {
      for index in tensor.values.indices { appendLittleEndian(tensor.values[index].bitPattern, to: &bytes) }
    }
    return bytes
  }

  /// Writes the canonical file to `path` atomically (``AtomicFile/write(_:to:)``).
  public static func write(
    _ tensors: [Input], metadata: [String: String] = [:], to path: String
  ) throws(SafeTensorsError) {
    let bytes = try encode(tensors, metadata: metadata, source: path)
    do throws(StorageError) { try AtomicFile.write(bytes, to: path) } catch { throw .storage(error) }
  }

  // MARK: Reading

  /// Reads and checks the file at `path` (at most `limitBytes` bytes).
  public static func read(path: String, limitBytes: Int) throws(SafeTensorsError) -> SafeTensorsFile {
    let bytes: [UInt8]
    do throws(StorageError) {
      bytes = try readFile(path, limitBytes: limitBytes)
    } catch {
      throw .storage(error)
    }
    return try decode(bytes, source: path)
  }

  /// Checks and indexes a whole file held in `bytes`; `source` names it in errors.
  ///
  /// Checks, in order: at least 8 bytes; N ≤ ``headerBytesMax`` (before any allocation) and
  /// 8 + N ≤ file size; the header starts with `{` and is valid JSON (strict, no duplicate
  /// keys: ``SafeTensorsError/duplicateName(source:name:)``); `__metadata__` is a
  /// string→string map; every entry has exactly `dtype`, `shape` and `data_offsets`, the
  /// dtype is `F32`, the shape holds non-negative integers, `begin ≤ end ≤ buffer size` and
  /// `shape product × 4 == end − begin`; the entries, taken by offset, cover the buffer exactly
  /// (no overlap, no hole).
  public static func decode(_ bytes: [UInt8], source: String) throws(SafeTensorsError) -> SafeTensorsFile {
    guard bytes.count >= 8 else { throw .truncated(source: source, byteCount: bytes.count) }
    var headerLength: UInt64 = 0
    for index in 0..<8 { headerLength |= UInt64(bytes[index]) << (8 * UInt64(index)) }
    guard headerLength <= UInt64(headerBytesMax) else {
      throw .headerTooLarge(source: source, headerBytes: headerLength, limitBytes: headerBytesMax)
    }
    let headerEnd = 8 + Int(headerLength)
    guard headerEnd <= bytes.count else {
      throw .headerOutsideFile(source: source, headerBytes: headerLength, fileBytes: bytes.count)
    }
    guard headerLength > 0, bytes[8] == 0x7B else { throw .headerNotObject(source: source) }
    let header = try parseHeader(bytes[8..<headerEnd], source: source)
    let bufferBytes = bytes.count - headerEnd

    var metadata: [(key: String, value: String)] = []
    var tensors: [SafeTensor] = []
    for member in header.members {
      if member.key == metadataKey {
        metadata = try parseMetadata(member.value, source: source)
      } else {
        tensors.append(try parseEntry(member, bufferBytes: bufferBytes, source: source))
      }
    }
    try checkCoverage(tensors, bufferBytes: bufferBytes, source: source)
    return SafeTensorsFile(source: source, bytes: bytes, dataStart: headerEnd, metadata: metadata,
                           tensors: tensors)
  }

  private static func parseHeader(
    _ header: ArraySlice<UInt8>, source: String
  ) throws(SafeTensorsError) -> JSONObject {
    let limits = JSONLimits(inputBytesMax: headerBytesMax, depthMax: 8, stringBytesMax: headerBytesMax)
    let result: Result<JSONValue, JSONError> = header.withUnsafeBytes { buffer in
      do throws(JSONError) { return .success(try JSONValue.parse(buffer, limits: limits)) } catch {
        return .failure(error)
      }
    }
    switch result {
    case .success(.object(let object)): return object
    case .success: throw .headerNotObject(source: source)
    case .failure(let error):
      if case .duplicateKey(let key) = error.reason { throw .duplicateName(source: source, name: key) }
      throw .invalidHeaderJSON(source: source, error: error)
    }
  }

  private static func parseMetadata(
    _ value: JSONValue, source: String
  ) throws(SafeTensorsError) -> [(key: String, value: String)] {
    guard case .object(let map) = value else {
      throw .invalidMetadata(source: source, reason: "__metadata__ is not an object")
    }
    var pairs: [(key: String, value: String)] = []
    for member in map.members {
      guard case .string(let text) = member.value else {
        throw .invalidMetadata(source: source, reason: "the value of \"\(member.key)\" is not a string")
      }
      pairs.append((member.key, text))
    }
    return pairs
  }

  private static func parseEntry(
    _ member: JSONMember, bufferBytes: Int, source: String
  ) throws(SafeTensorsError) -> SafeTensor {
    let name = member.key
    func invalid(_ reason: String) -> SafeTensorsError {
      .invalidEntry(source: source, tensor: name, reason: reason)
    }
    guard case .object(let entry) = member.value else { throw invalid("the entry is not an object") }
    guard entry.count == 3, let dtypeValue = entry["dtype"], let shapeValue = entry["shape"],
          let offsetsValue = entry["data_offsets"]
    else { throw invalid("the entry must have exactly the keys data_offsets, dtype and shape") }
    guard case .string(let dtype) = dtypeValue else { throw invalid("dtype is not a string") }
    guard dtype == "F32" else { throw .unsupportedDType(source: source, tensor: name, dtype: dtype) }
    guard let shape = nonNegativeIntegers(shapeValue) else {
      throw invalid("shape is not an array of non-negative integers")
    }
    guard let offsets = nonNegativeIntegers(offsetsValue), offsets.count == 2, offsets[0] <= offsets[1] else {
      throw invalid("data_offsets is not [begin, end] with 0 <= begin <= end")
    }
    guard offsets[1] <= bufferBytes else {
      throw .offsetsOutsideBuffer(source: source, tensor: name, end: offsets[1], bufferBytes: bufferBytes)
    }
    let byteCount = offsets[1] - offsets[0]
    guard let elements = elementCount(shape),
          elements.multipliedReportingOverflow(by: 4) == (byteCount, false)
    else { throw .sizeMismatch(source: source, tensor: name, shape: shape, byteCount: byteCount) }
    return SafeTensor(name: name, shape: shape, dataOffsets: offsets[0]..<offsets[1])
  }

  /// Entries ordered by (begin, end, name) must tile `0..<bufferBytes` exactly.
  private static func checkCoverage(
    _ tensors: [SafeTensor], bufferBytes: Int, source: String
  ) throws(SafeTensorsError) {
    let byOffset = tensors.sorted { a, b in
      let (left, right) = (a.dataOffsets, b.dataOffsets)
      if left != right { return (left.lowerBound, left.upperBound) < (right.lowerBound, right.upperBound) }
      return JSONObject.keyPrecedes(a.name, b.name)
    }
    var covered = 0
    var previous: String?
    for tensor in byOffset {
      let begin = tensor.dataOffsets.lowerBound
      if begin < covered, let previous {
        throw .overlap(source: source, tensor: tensor.name, other: previous)
      }
      if begin > covered { throw .hole(source: source, offset: covered, length: begin - covered) }
      covered = tensor.dataOffsets.upperBound
      previous = tensor.name
    }
    if covered < bufferBytes { throw .hole(source: source, offset: covered, length: bufferBytes - covered) }
  }

  /// The integers of an array value when all are non-negative and fit in `Int`.
  private static func nonNegativeIntegers(_ value: JSONValue) -> [Int]? {
    guard case .array(let elements) = value else { return nil }
    var result: [Int] = []
    for element in elements {
      guard case .integer(let number) = element, number >= 0 else { return nil }
      result.append(Int(number))
    }
    return result
  }

  /// The product of `shape` (1 for a scalar), nil for a negative dimension or on overflow.
  static func elementCount(_ shape: [Int]) -> Int? {
    var product = 1
    for dimension in shape {
      guard dimension >= 0 else { return nil }
      let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
      guard !overflow else { return nil }
      product = next
    }
    return product
  }

  private static func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
    for index in 0..<MemoryLayout<T>.size { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * index))) }
  }
}

/// One tensor of a checked file: its name, shape and byte range in the buffer.
public struct SafeTensor: Sendable, Equatable {
  public let name: String
  public let shape: [Int]
  /// The byte range relative to the start of the buffer (after the header).
  public let dataOffsets: Range<Int>

  /// The number of `Float` values (the shape's product).
  public var elementCount: Int { dataOffsets.count / 4 }
}

/// A checked safetensors file: the bytes plus an index sorted by tensor name (no dictionary).
public struct SafeTensorsFile: Sendable {
  /// The label errors and messages use for this file (usually its path).
  public let source: String
  /// The whole file.
  public let bytes: [UInt8]
  /// Where the buffer starts in ``bytes`` (8 + header length).
  public let dataStart: Int
  /// The `__metadata__` map, in ascending byte-wise key order (empty when absent).
  public let metadata: [(key: String, value: String)]
  /// The tensors in ascending byte-wise name order.
  public let tensors: [SafeTensor]

  /// The metadata value for `key`, or nil.
  public func metadata(_ key: String) -> String? {
    metadata.first { $0.key.utf8.elementsEqual(key.utf8) }?.value
  }

  /// The tensor called `name` (binary search), or nil.
  public func tensor(named name: String) -> SafeTensor? {
    var low = 0
    var high = tensors.count
    while low < high {
      let middle = (low + high) / 2
      if JSONObject.keyPrecedes(tensors[middle].name, name) { low = middle + 1 } else { high = middle }
    }
    guard low < tensors.count, tensors[low].name.utf8.elementsEqual(name.utf8) else { return nil }
    return tensors[low]
  }

  /// Copies the values of `tensor` (decoded from little-endian) into `destination`, which must
  /// hold exactly ``SafeTensor/elementCount`` floats.
  public func copyValues(of tensor: SafeTensor, into destination: UnsafeMutableBufferPointer<Float>) {
    precondition(destination.count == tensor.elementCount,
                 "\(source): tensor \(tensor.name) has \(tensor.elementCount) values, "
                   + "destination \(destination.count)")
    bytes.withUnsafeBytes { raw in
      let start = dataStart + tensor.dataOffsets.lowerBound
      for index in 0..<tensor.elementCount {
        let bits = raw.loadUnaligned(fromByteOffset: start + 4 * index, as: UInt32.self)
        destination[index] = Float(bitPattern: UInt32(littleEndian: bits))
      }
    }
  }

  /// The values of `tensor` as a new array.
  public func values(of tensor: SafeTensor) -> [Float] {
    [Float](unsafeUninitializedCapacity: tensor.elementCount) { buffer, count in
      copyValues(of: tensor, into: buffer)
      count = tensor.elementCount
    }
  }
}

/// A safetensors file the reader rejects or input the writer refuses; `source` names the file.
public enum SafeTensorsError: Error, Equatable, Sendable, CustomStringConvertible {
  /// Fewer than the 8 bytes of the header length.
  case truncated(source: String, byteCount: Int)
  /// The header length is above ``SafeTensors/headerBytesMax``.
  case headerTooLarge(source: String, headerBytes: UInt64, limitBytes: Int)
  /// The header length runs past the end of the file.
  case headerOutsideFile(source: String, headerBytes: UInt64, fileBytes: Int)
  /// The header does not start with `{` or is not a JSON object.
  case headerNotObject(source: String)
  /// The header is not valid JSON (the JSON error has the offset within the header).
  case invalidHeaderJSON(source: String, error: JSONError)
  /// A name given twice: two tensors in the writer's input, or a duplicate key anywhere in the
  /// header (two tensors, or a field twice in one entry).
  case duplicateName(source: String, name: String)
  /// A tensor name the writer cannot use (empty, or `__metadata__`).
  case invalidName(source: String, tensor: String)
  /// An entry lacks a field or has one of the wrong type.
  case invalidEntry(source: String, tensor: String, reason: String)
  /// A dtype other than `F32`.
  case unsupportedDType(source: String, tensor: String, dtype: String)
  /// `__metadata__` is not a string→string map.
  case invalidMetadata(source: String, reason: String)
  /// The shape's element count × 4 differs from the byte count (or the shape overflows).
  case sizeMismatch(source: String, tensor: String, shape: [Int], byteCount: Int)
  /// `data_offsets` end past the buffer.
  case offsetsOutsideBuffer(source: String, tensor: String, end: Int, bufferBytes: Int)
  /// Two tensors share bytes.
  case overlap(source: String, tensor: String, other: String)
  /// Bytes of the buffer no tensor covers.
  case hole(source: String, offset: Int, length: Int)
  /// Reading or writing the file failed.
  case storage(StorageError)

  public var description: String {
    switch self {
    case .truncated(let source, let count):
      return "\(source): truncated safetensors file (\(count) bytes, the header length alone needs 8)"
    case .headerTooLarge(let source, let header, let limit):
      return "\(source): safetensors header of \(header) bytes exceeds the limit of \(limit) bytes"
    case .headerOutsideFile(let source, let header, let file):
      return "\(source): safetensors header of \(header) bytes runs past the end of the \(file)-byte file"
    case .headerNotObject(let source):
      return "\(source): safetensors header is not a JSON object"
    case .invalidHeaderJSON(let source, let error):
      return "\(source): safetensors header: \(error)"
    case .duplicateName(let source, let name):
      return "\(source): \"\(name)\" appears twice"
    case .invalidName(let source, let tensor):
      return "\(source): \"\(tensor)\" cannot be a tensor name"
    case .invalidEntry(let source, let tensor, let reason):
      return "\(source): tensor \"\(tensor)\": \(reason)"
    case .unsupportedDType(let source, let tensor, let dtype):
      return "\(source): tensor \"\(tensor)\" has dtype \(dtype); only F32 is supported"
    case .invalidMetadata(let source, let reason):
      return "\(source): \(reason)"
    case .sizeMismatch(let source, let tensor, let shape, let bytes):
      return "\(source): tensor \"\(tensor)\" of shape \(shape) does not fit \(bytes) bytes of F32"
    case .offsetsOutsideBuffer(let source, let tensor, let end, let buffer):
      return "\(source): tensor \"\(tensor)\" ends at byte \(end) of a \(buffer)-byte buffer"
    case .overlap(let source, let tensor, let other):
      return "\(source): tensors \"\(other)\" and \"\(tensor)\" overlap"
    case .hole(let source, let offset, let length):
      return "\(source): \(length) bytes at buffer offset \(offset) belong to no tensor"
    case .storage(let error):
      return error.description
    }
  }
}
