/// NumPy's `.npy` format, versions 1.0 and 2.0, C order only.
///
/// Layout: `\x93NUMPY`, major and minor version bytes, the header length (little-endian UInt16
/// in v1, UInt32 in v2), then the header: an ASCII Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 28, 28), }`, then the data.
///
/// Accepted dtypes: images `|u1` (also spelled `<u1`, `>u1`, `u1`), `<f4`, `<f8`
/// ([N, H, W] or [N, H, W, C]); labels `|u1`, `<i4`, `<i8` ([N]). `<f8` values are rounded to
/// Float. Float pixels must be finite and not negative; their ``DatasetMetadata/pixelMaximum``
/// is 1 when every value is at most 1, else 255. The header (at most 1 MiB) is parsed and the
/// file size checked against it before the data is read.
public enum NPYFormat {
  /// Longest header accepted.
  public static let headerBytesMax = 1 << 20

  /// The images of an `.npy` file.
  public static func readImages(
    _ path: String, limits: LoadLimits = .standard
  ) throws(DataError) -> LoadedImages {
    try DataFile.withFile(path, limits: limits) { file throws(DataError) in
      let header = try readHeader(file)
      guard header.shape.count == 3 || header.shape.count == 4 else {
        throw DataError(
          file: path, problem: .unsupportedRank(found: header.shape.count, expected: "3 or 4 (N, H, W[, C])"))
      }
      let elements = try DataChecks.elementCount(header.shape, file: path, limits: limits)
      let shape = ImageShape(
        height: header.shape[1], width: header.shape[2],
        channels: header.shape.count == 4 ? header.shape[3] : 1)
      switch header.descr {
      case "|u1", "<u1", ">u1", "u1":
        try DataChecks.requireSize(header.dataOffset + elements, of: file)
        let pixels = try file.read(offset: header.dataOffset, count: elements)
        return LoadedImages(pixels: .uint8(pixels), count: header.shape[0], shape: shape, pixelMaximum: 255)
      case "<f4", "<f8":
        let width = header.descr == "<f4" ? 4 : 8
        try DataChecks.requireSize(header.dataOffset + elements * width, of: file)
        let bytes = try file.read(offset: header.dataOffset, count: elements * width)
        let values = width == 4 ? decodeFloat32(bytes) : decodeFloat64(bytes)
        let maximum = try checkedMaximum(values, file: path)
        return LoadedImages(
          pixels: .float(values), count: header.shape[0], shape: shape,
          pixelMaximum: maximum <= 1 ? 1 : 255)
      default:
        throw DataError(file: path, problem: .unsupportedDtype(header.descr))
      }
    }
  }

  /// The labels of an `.npy` file ([N] of `|u1`, `<i4` or `<i8`).
  public static func readLabels(_ path: String, limits: LoadLimits = .standard) throws(DataError) -> [Int32] {
    try DataFile.withFile(path, limits: limits) { file throws(DataError) in
      let header = try readHeader(file)
      guard header.shape.count == 1 else {
        throw DataError(file: path, problem: .unsupportedRank(found: header.shape.count, expected: "1 (N)"))
      }
      let count = try DataChecks.elementCount(header.shape, file: path, limits: limits)
      let width: Int
      switch header.descr {
      case "|u1", "<u1", ">u1", "u1": width = 1
      case "<i4": width = 4
      case "<i8": width = 8
      default: throw DataError(file: path, problem: .unsupportedDtype(header.descr))
      }
      try DataChecks.requireSize(header.dataOffset + count * width, of: file)
      let bytes = try file.read(offset: header.dataOffset, count: count * width)
      var labels = [Int32](repeating: 0, count: count)
      for index in 0..<count {
        let value = littleEndianLabel(bytes, at: index * width, width: width)
        guard value >= 0, value < Int64(limits.classCountMax) else {
          throw DataError(
            file: path,
            problem: .badLabel(index: index, value: "\(value) is outside 0..<\(limits.classCountMax)"))
        }
        labels[index] = Int32(value)
      }
      return labels
    }
  }

  /// The bytes of a v1.0 `.npy` file with `descr`, C order and `shape`, whose data is `data`
  /// (already in that dtype's little-endian encoding). The header is padded to 64 bytes as
  /// NumPy does.
  public static func encode(descr: String, shape: [Int], data: [UInt8], fortranOrder: Bool = false) -> [UInt8]
  {
    let shapeText =
      shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header =
      "{'descr': '\(descr)', 'fortran_order': \(fortranOrder ? "True" : "False"), 'shape': \(shapeText), }"
    let unpadded = 10 + header.utf8.count + 1
    header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
    let length = header.utf8.count
    return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)]
      + Array(header.utf8) + data
  }

  // MARK: Header

  struct Header {
    var descr: String
    var shape: [Int]
    var dataOffset: Int
  }

  static func readHeader(_ file: DataFile) throws(DataError) -> Header {
    let path = file.path
    let prefix = try file.readPrefix(12)
    let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    guard prefix.count >= 6, Array(prefix[0..<6]) == magic else {
      let shown = prefix.prefix(6).map { DataChecks.hex32(UInt32($0)).suffix(2) }.joined()
      throw DataError(file: path, problem: .badMagic(found: "0x" + shown, expected: "\\x93NUMPY"))
    }
    guard prefix.count >= 10 else {
      throw DataError(file: path, problem: .truncatedHeader(neededBytes: 10, fileBytes: file.byteCount))
    }
    let major = prefix[6]
    let lengthBytes: Int
    switch major {
    case 1: lengthBytes = 2
    case 2: lengthBytes = 4
    default:
      throw DataError(
        file: path,
        problem: .badHeader("unsupported .npy version \(major).\(prefix[7]) (1.0 and 2.0 are read)"))
    }
    guard prefix.count >= 8 + lengthBytes else {
      throw DataError(
        file: path, problem: .truncatedHeader(neededBytes: 8 + lengthBytes, fileBytes: file.byteCount))
    }
    let headerLength = Int(littleEndianUnsigned(prefix, at: 8, width: lengthBytes))
    guard headerLength <= headerBytesMax else {
      throw DataError(
        file: path, problem: .badHeader("header length \(headerLength) exceeds \(headerBytesMax) bytes"))
    }
    let dataOffset = 8 + lengthBytes + headerLength
    guard file.byteCount >= dataOffset else {
      throw DataError(
        file: path, problem: .truncatedHeader(neededBytes: dataOffset, fileBytes: file.byteCount))
    }
    let text = try file.read(offset: 8 + lengthBytes, count: headerLength)
    var parser = DictParser(bytes: text, file: path)
    let fields = try parser.parse()
    guard case .string(let descr)? = fields["descr"] else {
      throw DataError(file: path, problem: .badHeader("no 'descr' string"))
    }
    guard case .boolean(let fortranOrder)? = fields["fortran_order"] else {
      throw DataError(file: path, problem: .badHeader("no 'fortran_order' True/False"))
    }
    guard case .tuple(let shape)? = fields["shape"] else {
      throw DataError(file: path, problem: .badHeader("no 'shape' tuple"))
    }
    if fortranOrder { throw DataError(file: path, problem: .fortranOrder) }
    return Header(descr: descr, shape: shape, dataOffset: dataOffset)
  }

  /// A parser for the one Python dict literal NumPy writes: string keys; values that are
  /// strings, True/False, or tuples of non-negative integers.
  struct DictParser {
    enum Value: Equatable { case string(String), boolean(Bool), tuple([Int]) }

    let bytes: [UInt8]
    let file: String
    var position = 0

    init(bytes: [UInt8], file: String) {
      self.bytes = bytes
      self.file = file
    }

    mutating func parse() throws(DataError) -> [String: Value] {
      var fields: [String: Value] = [:]
      try expect(UInt8(ascii: "{"))
      while true {
        skipSpace()
        if peek() == UInt8(ascii: "}") {
          position += 1
          break
        }
        let key = try string()
        try expect(UInt8(ascii: ":"))
        let value = try self.value()
        guard fields[key] == nil else { throw error("duplicate key '\(key)'") }
        fields[key] = value
        skipSpace()
        if peek() == UInt8(ascii: ",") {
          position += 1
          continue
        }
        try expect(UInt8(ascii: "}"))
        break
      }
      skipSpace()
      guard position == bytes.count else { throw error("unexpected text after the dict") }
      return fields
    }

    private mutating func value() throws(DataError) -> Value {
      skipSpace()
      switch peek() {
      case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try string())
      case UInt8(ascii: "("): return .tuple(try tuple())
      default:
        if matches("True") { return .boolean(true) }
        if matches("False") { return .boolean(false) }
        throw error("unexpected value at byte \(position)")
      }
    }

    private mutating func string() throws(DataError) -> String {
      skipSpace()
      guard let quote = peek(), quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") else {
        throw error("expected a quoted string at byte \(position)")
      }
      position += 1
      let start = position
      while position < bytes.count, bytes[position] != quote {
        guard bytes[position] >= 0x20, bytes[position] < 0x7F, bytes[position] != UInt8(ascii: "\\") else {
          throw error("unsupported character in a string at byte \(position)")
        }
        position += 1
      }
      guard position < bytes.count else { throw error("unterminated string") }
      let text = String(decoding: bytes[start..<position], as: UTF8.self)
      position += 1
      return text
    }

    private mutating func tuple() throws(DataError) -> [Int] {
      try expect(UInt8(ascii: "("))
      var items: [Int] = []
      while true {
        skipSpace()
        if peek() == UInt8(ascii: ")") {
          position += 1
          return items
        }
        items.append(try integer())
        skipSpace()
        if peek() == UInt8(ascii: ",") {
          position += 1
          continue
        }
        try expect(UInt8(ascii: ")"))
        return items
      }
    }

    private mutating func integer() throws(DataError) -> Int {
      var value = 0
      let start = position
      while let byte = peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
        let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
        let (next, overflow2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
        guard !overflow1, !overflow2 else { throw error("shape dimension too large") }
        value = next
        position += 1
      }
      guard position > start else { throw error("expected an integer at byte \(start)") }
      if peek() == UInt8(ascii: "L") { position += 1 }  // Python 2 long suffix
      return value
    }

    private mutating func expect(_ byte: UInt8) throws(DataError) {
      skipSpace()
      guard peek() == byte else {
        throw error("expected '\(Character(Unicode.Scalar(byte)))' at byte \(position)")
      }
      position += 1
    }

    private mutating func matches(_ word: String) -> Bool {
      let utf8 = Array(word.utf8)
      guard position + utf8.count <= bytes.count, Array(bytes[position..<(position + utf8.count)]) == utf8
      else {
        return false
      }
      position += utf8.count
      return true
    }

    private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipSpace() {
      while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D { position += 1 }
    }

    private func error(_ what: String) -> DataError {
      DataError(file: file, problem: .badHeader(what))
    }
  }

  // MARK: Decoding

  private static func littleEndianUnsigned(_ bytes: [UInt8], at offset: Int, width: Int) -> UInt64 {
    var value: UInt64 = 0
    for index in 0..<width { value |= UInt64(bytes[offset + index]) << (8 * UInt64(index)) }
    return value
  }

  /// A label of `width` bytes: u1 unsigned, i4 and i8 two's complement.
  private static func littleEndianLabel(_ bytes: [UInt8], at offset: Int, width: Int) -> Int64 {
    let raw = littleEndianUnsigned(bytes, at: offset, width: width)
    switch width {
    case 1: return Int64(raw)
    case 4: return Int64(Int32(truncatingIfNeeded: raw))
    default: return Int64(bitPattern: raw)
    }
  }

  private static func decodeFloat32(_ bytes: [UInt8]) -> [Float] {
    (0..<(bytes.count / 4)).map { index in
      let offset = index * 4
      let bits =
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8
        | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
      return Float(bitPattern: bits)
    }
  }

  private static func decodeFloat64(_ bytes: [UInt8]) -> [Float] {
    (0..<(bytes.count / 8)).map { index in
      var bits: UInt64 = 0
      for byte in 0..<8 { bits |= UInt64(bytes[index * 8 + byte]) << (8 * UInt64(byte)) }
      return Float(Double(bitPattern: bits))
    }
  }

  /// The largest value; throws on a value that is negative or not finite.
  private static func checkedMaximum(_ values: [Float], file: String) throws(DataError) -> Float {
    var maximum: Float = 0
    for (index, value) in values.enumerated() {
      guard value.isFinite, value >= 0 else {
        throw DataError(file: file, problem: .badPixel(index: index, value: "\(value)"))
      }
      maximum = Swift.max(maximum, value)
    }
    return maximum
  }
}
