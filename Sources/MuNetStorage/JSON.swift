/// A JSON value (RFC 8259) with one canonical text form, for run logs, configs and file headers.
///
/// Why a type of our own: Foundation is not allowed in engine modules, and the engine needs
/// *byte-identical* output for equal values. So objects keep their members sorted by the UTF-8
/// bytes of the key (which is the order of Unicode code points) and keys are unique; numbers
/// are never formatted from a binary float by this type except through ``JSONDecimal/init(_:)``,
/// which uses Swift's shortest round-trip `description` (deterministic, implemented in the
/// Swift runtime, not by the C library). Strings compare by their UTF-8 bytes, not by Swift's
/// canonical equivalence, so two values are equal exactly when their canonical texts are.
///
/// Parse with ``parse(_:limits:)``, write with ``canonicalBytes``.
public enum JSONValue: Sendable, Equatable {
  case null
  case bool(Bool)
  /// A number written without fraction or exponent that fits in `Int64`.
  case integer(Int64)
  /// Any other number, kept as its decimal text (never rounded through a binary float).
  case number(JSONDecimal)
  case string(String)
  case array([JSONValue])
  case object(JSONObject)

  public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
    switch (lhs, rhs) {
    case (.null, .null): return true
    case (.bool(let a), .bool(let b)): return a == b
    case (.integer(let a), .integer(let b)): return a == b
    case (.number(let a), .number(let b)): return a == b
    case (.string(let a), .string(let b)): return a.utf8.elementsEqual(b.utf8)
    case (.array(let a), .array(let b)): return a == b
    case (.object(let a), .object(let b)): return a == b
    default: return false
    }
  }

  /// The member `key` of an object; nil for a missing key or a value that is not an object.
  public subscript(key: String) -> JSONValue? {
    guard case .object(let object) = self else { return nil }
    return object[key]
  }

  /// The string, when this is a string.
  public var stringValue: String? {
    if case .string(let value) = self { return value }
    return nil
  }

  /// The integer, when this is an integer.
  public var integerValue: Int64? {
    if case .integer(let value) = self { return value }
    return nil
  }

  /// The Boolean, when this is a Boolean.
  public var boolValue: Bool? {
    if case .bool(let value) = self { return value }
    return nil
  }

  /// The elements, when this is an array.
  public var arrayValue: [JSONValue]? {
    if case .array(let value) = self { return value }
    return nil
  }

  /// The object, when this is an object.
  public var objectValue: JSONObject? {
    if case .object(let value) = self { return value }
    return nil
  }
}

/// A JSON object: members with unique keys, always sorted by the UTF-8 bytes of the key.
public struct JSONObject: Sendable, Equatable {
  /// The members in ascending key order (byte-wise UTF-8, i.e. Unicode code point order).
  public private(set) var members: [JSONMember]

  /// An object of `members` in any order. Duplicate keys are a programmer error (the parser
  /// reports them in input as ``JSONError/Reason/duplicateKey(_:)``).
  public init(_ members: [JSONMember] = []) {
    var sorted = members
    sorted.sort { JSONObject.keyPrecedes($0.key, $1.key) }
    for index in sorted.indices.dropFirst() {
      precondition(!sorted[index - 1].key.utf8.elementsEqual(sorted[index].key.utf8),
                   "JSONObject: duplicate key \"\(sorted[index].key)\"")
    }
    self.members = sorted
  }

  /// An object from key/value pairs in any order (duplicate keys are a programmer error).
  public init(_ pairs: [(String, JSONValue)]) {
    self.init(pairs.map { JSONMember(key: $0.0, value: $0.1) })
  }

  /// Members already sorted and unique (checked by the caller).
  init(sortedUnique members: [JSONMember]) { self.members = members }

  /// The number of members.
  public var count: Int { members.count }

  /// The value of `key` (binary search over the sorted keys), or nil.
  public subscript(key: String) -> JSONValue? {
    guard let index = index(of: key) else { return nil }
    return members[index].value
  }

  /// Sets, replaces or (with nil) removes the member `key`, keeping the order.
  public mutating func set(_ key: String, _ value: JSONValue?) {
    let position = insertionPoint(of: key)
    let exists = position < members.count && members[position].key.utf8.elementsEqual(key.utf8)
    switch (value, exists) {
    case (let value?, true): members[position].value = value
    case (let value?, false): members.insert(JSONMember(key: key, value: value), at: position)
    case (nil, true): members.remove(at: position)
    case (nil, false): break
    }
  }

  public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
    guard lhs.members.count == rhs.members.count else { return false }
    for index in lhs.members.indices {
      let (a, b) = (lhs.members[index], rhs.members[index])
      guard a.key.utf8.elementsEqual(b.key.utf8), a.value == b.value else { return false }
    }
    return true
  }

  /// The canonical key order: byte-wise comparison of the UTF-8 encodings.
  public static func keyPrecedes(_ lhs: String, _ rhs: String) -> Bool {
    lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
  }

  private func index(of key: String) -> Int? {
    let position = insertionPoint(of: key)
    guard position < members.count, members[position].key.utf8.elementsEqual(key.utf8) else { return nil }
    return position
  }

  /// The first index whose key does not precede `key`.
  private func insertionPoint(of key: String) -> Int {
    var low = 0
    var high = members.count
    while low < high {
      let middle = (low + high) / 2
      if JSONObject.keyPrecedes(members[middle].key, key) { low = middle + 1 } else { high = middle }
    }
    return low
  }
}

/// One member of a ``JSONObject``.
public struct JSONMember: Sendable, Equatable {
  public var key: String
  public var value: JSONValue

  public init(key: String, value: JSONValue) {
    self.key = key
    self.value = value
  }
}

/// A JSON number that is not an `Int64` integer, kept as its exact decimal text.
///
/// The text always matches the RFC 8259 number grammar
/// (`-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`). Two decimals are equal when their
/// texts are equal (`1.0` and `1.00` differ): the canonical form is the text that was given.
public struct JSONDecimal: Sendable, Equatable, CustomStringConvertible {
  /// The number as written.
  public let text: String

  /// A decimal from its exact text; nil when `text` is not a JSON number.
  public init?(exactly text: String) {
    let bytes = Array(text.utf8)
    guard JSONDecimal.grammarLength(bytes, from: 0) == bytes.count, !bytes.isEmpty else { return nil }
    self.text = text
  }

  /// A decimal from an integer (written in plain decimal digits).
  public init(_ value: Int64) { text = String(value) }

  /// A decimal from a finite `Double`, written as Swift's `description`: the shortest digit
  /// string that reads back as the same `Double` (for example `0.1`, `100.0`, `1e-05`,
  /// `1e+16`). That algorithm is part of the Swift runtime and does not depend on the C
  /// library or locale, so the text is the same on every platform. nil for NaN and infinities,
  /// which JSON cannot represent.
  public init?(_ value: Double) {
    guard value.isFinite else { return nil }
    text = value.description
  }

  /// The value rounded to the nearest `Double` (Swift's correctly rounded decimal parser).
  public var doubleValue: Double { Double(text) ?? .nan }

  public var description: String { text }

  /// The length of the longest prefix of `bytes[start...]` that is a JSON number, or nil when
  /// none starts there. Used by the parser (which reports where a malformed number breaks) and
  /// by ``init(exactly:)``.
  static func grammarLength(_ bytes: [UInt8], from start: Int) -> Int? {
    bytes.withUnsafeBytes { grammarLength($0, from: start).map { $0.length } }
  }

  /// The JSON number at `start`: its length and whether it has a fraction or exponent; nil
  /// when the bytes there break the grammar (no digit, a leading zero followed by a digit, a
  /// `.` or exponent without digits).
  static func grammarLength(
    _ bytes: UnsafeRawBufferPointer, from start: Int
  ) -> (length: Int, isInteger: Bool)? {
    var index = start
    func digit(_ at: Int) -> Bool { at < bytes.count && bytes[at] >= 0x30 && bytes[at] <= 0x39 }
    func digits() -> Bool {
      guard digit(index) else { return false }
      while digit(index) { index += 1 }
      return true
    }
    var isInteger = true
    if index < bytes.count && bytes[index] == 0x2D { index += 1 }
    guard index < bytes.count else { return nil }
    if bytes[index] == 0x30 {
      index += 1
      if digit(index) { return nil }
    } else if !digits() {
      return nil
    }
    if index < bytes.count && bytes[index] == 0x2E {
      index += 1
      isInteger = false
      guard digits() else { return nil }
    }
    if index < bytes.count && (bytes[index] == 0x65 || bytes[index] == 0x45) {
      index += 1
      isInteger = false
      if index < bytes.count && (bytes[index] == 0x2B || bytes[index] == 0x2D) { index += 1 }
      guard digits() else { return nil }
    }
    return (index - start, isInteger)
  }
}

/// Limits the parser enforces, so that hostile or corrupt input fails with a typed error
/// instead of exhausting memory or the stack.
public struct JSONLimits: Sendable, Equatable {
  /// The largest input accepted, checked before anything is parsed.
  public var inputBytesMax: Int
  /// The deepest nesting of arrays and objects (a top-level `[]` is depth 1).
  public var depthMax: Int
  /// The longest string (key or value), in bytes of UTF-8 after unescaping.
  public var stringBytesMax: Int
  /// The longest number literal, in bytes.
  public var numberBytesMax: Int

  public init(
    inputBytesMax: Int = 64 << 20, depthMax: Int = 64, stringBytesMax: Int = 1 << 20,
    numberBytesMax: Int = 128
  ) {
    precondition(inputBytesMax >= 0 && depthMax >= 1 && stringBytesMax >= 0 && numberBytesMax >= 1)
    self.inputBytesMax = inputBytesMax
    self.depthMax = depthMax
    self.stringBytesMax = stringBytesMax
    self.numberBytesMax = numberBytesMax
  }

  /// Depth 64, 64 MiB input, 1 MiB strings, 128-byte numbers.
  public static let standard = JSONLimits()
}

/// Input the parser rejects: why, and the byte offset (0-based) where it was found.
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
  public enum Reason: Equatable, Sendable {
    /// The input is longer than ``JSONLimits/inputBytesMax`` (offset 0).
    case inputTooLarge(limitBytes: Int)
    /// The input ends inside a value (or is empty).
    case unexpectedEnd
    /// A byte that cannot start or continue anything here.
    case unexpectedByte(UInt8)
    /// Bytes in a string that are not well-formed UTF-8.
    case invalidUTF8
    /// A raw control character (below U+0020) inside a string.
    case controlCharacterInString
    /// A backslash followed by anything but `" \ / b f n r t u`.
    case invalidEscape
    /// `\u` not followed by 4 hex digits, or a surrogate without its pair.
    case invalidUnicodeEscape
    /// Arrays and objects nested deeper than ``JSONLimits/depthMax``.
    case nestingTooDeep(limit: Int)
    /// An object key that already appeared in the same object.
    case duplicateKey(String)
    /// A string longer than ``JSONLimits/stringBytesMax`` after unescaping.
    case stringTooLong(limitBytes: Int)
    /// A number that breaks the grammar (leading zero, missing digits).
    case invalidNumber
    /// A number literal longer than ``JSONLimits/numberBytesMax``.
    case numberTooLong(limitBytes: Int)
    /// An integer outside `Int64`, or a number whose magnitude overflows `Double`.
    case numberOutOfRange
    /// Something other than whitespace after the top-level value.
    case trailingData
  }

  public let reason: Reason
  /// The 0-based byte offset in the input where the problem was detected.
  public let offset: Int

  public init(_ reason: Reason, offset: Int) {
    self.reason = reason
    self.offset = offset
  }

  public var description: String { "JSON: \(reason) at byte \(offset)" }
}

// MARK: - Parsing

extension JSONValue {
  /// Parses one JSON text (RFC 8259, strict): whitespace around the value is allowed, nothing
  /// else. Rejects duplicate keys, invalid UTF-8, lone surrogates and anything past `limits`.
  public static func parse(
    _ bytes: UnsafeRawBufferPointer, limits: JSONLimits = .standard
  ) throws(JSONError) -> JSONValue {
    guard bytes.count <= limits.inputBytesMax else {
      throw JSONError(.inputTooLarge(limitBytes: limits.inputBytesMax), offset: 0)
    }
    var parser = JSONParser(bytes: bytes, limits: limits)
    parser.skipWhitespace()
    let value = try parser.parseValue(depth: 0)
    parser.skipWhitespace()
    guard parser.index == bytes.count else { throw JSONError(.trailingData, offset: parser.index) }
    return value
  }

  /// Parses the bytes of an array (see the `UnsafeRawBufferPointer` overload).
  public static func parse(_ bytes: [UInt8], limits: JSONLimits = .standard) throws(JSONError) -> JSONValue {
    // Typed throws do not pass through `withUnsafeBytes`, so the error is carried out as a value.
    let result: Result<JSONValue, JSONError> = bytes.withUnsafeBytes { buffer in
      do throws(JSONError) {
        return .success(try parse(buffer, limits: limits))
      } catch {
        return .failure(error)
      }
    }
    return try result.get()
  }

  /// Parses the UTF-8 of `text`.
  public static func parse(_ text: String, limits: JSONLimits = .standard) throws(JSONError) -> JSONValue {
    try parse(Array(text.utf8), limits: limits)
  }
}

/// A recursive-descent parser; recursion depth is bounded by ``JSONLimits/depthMax``.
private struct JSONParser {
  let bytes: UnsafeRawBufferPointer
  let limits: JSONLimits
  var index = 0

  init(bytes: UnsafeRawBufferPointer, limits: JSONLimits) {
    self.bytes = bytes
    self.limits = limits
  }

  mutating func skipWhitespace() {
    while index < bytes.count {
      switch bytes[index] {
      case 0x20, 0x09, 0x0A, 0x0D: index += 1
      default: return
      }
    }
  }

  func peek() throws(JSONError) -> UInt8 {
    guard index < bytes.count else { throw JSONError(.unexpectedEnd, offset: index) }
    return bytes[index]
  }

  mutating func expect(_ byte: UInt8) throws(JSONError) {
    let found = try peek()
    guard found == byte else { throw JSONError(.unexpectedByte(found), offset: index) }
    index += 1
  }

  mutating func parseValue(depth: Int) throws(JSONError) -> JSONValue {
    switch try peek() {
    case 0x7B: return .object(try parseObject(depth: depth + 1))
    case 0x5B: return .array(try parseArray(depth: depth + 1))
    case 0x22: return .string(try parseString())
    case 0x74: try parseLiteral("true"); return .bool(true)
    case 0x66: try parseLiteral("false"); return .bool(false)
    case 0x6E: try parseLiteral("null"); return .null
    case 0x2D, 0x30...0x39: return try parseNumber()
    case let byte: throw JSONError(.unexpectedByte(byte), offset: index)
    }
  }

  mutating func parseLiteral(_ word: StaticString) throws(JSONError) {
    let pointer = word.utf8Start
    for offset in 0..<word.utf8CodeUnitCount { try expect(pointer[offset]) }
  }

  mutating func enter(depth: Int) throws(JSONError) {
    guard depth <= limits.depthMax else {
      throw JSONError(.nestingTooDeep(limit: limits.depthMax), offset: index)
    }
    index += 1
    skipWhitespace()
  }

  mutating func parseArray(depth: Int) throws(JSONError) -> [JSONValue] {
    try enter(depth: depth)
    var elements: [JSONValue] = []
    if try peek() == 0x5D { index += 1; return elements }
    while true {
      elements.append(try parseValue(depth: depth))
      skipWhitespace()
      let separator = try peek()
      index += 1
      if separator == 0x5D { return elements }
      guard separator == 0x2C else { throw JSONError(.unexpectedByte(separator), offset: index - 1) }
      skipWhitespace()
    }
  }

  mutating func parseObject(depth: Int) throws(JSONError) -> JSONObject {
    try enter(depth: depth)
    var members: [JSONMember] = []
    var sorted = true
    if try peek() == 0x7D { index += 1; return JSONObject(sortedUnique: members) }
    while true {
      let keyOffset = index
      guard try peek() == 0x22 else { throw JSONError(.unexpectedByte(bytes[index]), offset: index) }
      let key = try parseString()
      skipWhitespace()
      try expect(0x3A)
      skipWhitespace()
      let value = try parseValue(depth: depth)
      if let last = members.last {
        if last.key.utf8.elementsEqual(key.utf8) { throw JSONError(.duplicateKey(key), offset: keyOffset) }
        if !JSONObject.keyPrecedes(last.key, key) { sorted = false }
      }
      members.append(JSONMember(key: key, value: value))
      skipWhitespace()
      let separator = try peek()
      index += 1
      if separator == 0x7D { break }
      guard separator == 0x2C else { throw JSONError(.unexpectedByte(separator), offset: index - 1) }
      skipWhitespace()
    }
    if !sorted { try sortAndCheckDuplicates(&members) }
    return JSONObject(sortedUnique: members)
  }

  /// Sorts members that arrived out of order; a duplicate is reported at the end of the object
  /// (its position in the input is no longer known after sorting).
  func sortAndCheckDuplicates(_ members: inout [JSONMember]) throws(JSONError) {
    members.sort { JSONObject.keyPrecedes($0.key, $1.key) }
    for position in members.indices.dropFirst()
    where members[position - 1].key.utf8.elementsEqual(members[position].key.utf8) {
      throw JSONError(.duplicateKey(members[position].key), offset: index - 1)
    }
  }

  mutating func parseNumber() throws(JSONError) -> JSONValue {
    let start = index
    guard let (length, isInteger) = JSONDecimal.grammarLength(bytes, from: start) else {
      throw JSONError(.invalidNumber, offset: start)
    }
    guard length <= limits.numberBytesMax else {
      throw JSONError(.numberTooLong(limitBytes: limits.numberBytesMax), offset: start)
    }
    index = start + length
    let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
    if isInteger {
      if let value = integer(start: start, end: index) { return .integer(value) }
      // "-0" is kept as a decimal so that the sign survives a round trip.
      if text == "-0" { return .number(JSONDecimal(unchecked: text)) }
      throw JSONError(.numberOutOfRange, offset: start)
    }
    guard let value = Double(text), value.isFinite else { throw JSONError(.numberOutOfRange, offset: start) }
    return .number(JSONDecimal(unchecked: text))
  }

  /// The integer in `bytes[start..<end]` (grammar already checked), nil on `Int64` overflow or
  /// for `-0`.
  func integer(start: Int, end: Int) -> Int64? {
    let negative = bytes[start] == 0x2D
    var value: Int64 = 0
    for position in (negative ? start + 1 : start)..<end {
      let digit = Int64(bytes[position] - 0x30)
      // Accumulate negatively: Int64.min has no positive counterpart.
      let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
      let (next, overflow2) = times10.subtractingReportingOverflow(digit)
      if overflow1 || overflow2 { return nil }
      value = next
    }
    if negative { return value == 0 ? nil : value }
    return value == Int64.min ? nil : -value
  }

  mutating func parseString() throws(JSONError) -> String {
    index += 1  // the opening quote
    var decoded: [UInt8] = []
    while true {
      guard index < bytes.count else { throw JSONError(.unexpectedEnd, offset: index) }
      let byte = bytes[index]
      switch byte {
      case 0x22:
        index += 1
        return String(decoding: decoded, as: UTF8.self)
      case 0x5C:
        try parseEscape(into: &decoded)
      case 0x00..<0x20:
        throw JSONError(.controlCharacterInString, offset: index)
      case 0x20..<0x80:
        decoded.append(byte)
        index += 1
      default:
        let length = try utf8SequenceLength(at: index)
        decoded.append(contentsOf: bytes[index..<index + length])
        index += length
      }
      guard decoded.count <= limits.stringBytesMax else {
        throw JSONError(.stringTooLong(limitBytes: limits.stringBytesMax), offset: index)
      }
    }
  }

  /// The length of the well-formed UTF-8 sequence (2 to 4 bytes) starting at `at`
  /// (Unicode Table 3-7: no overlongs, no surrogates, nothing above U+10FFFF).
  func utf8SequenceLength(at start: Int) throws(JSONError) -> Int {
    let lead = bytes[start]
    let length: Int
    var secondRange: ClosedRange<UInt8> = 0x80...0xBF
    switch lead {
    case 0xC2...0xDF: length = 2
    case 0xE0: length = 3; secondRange = 0xA0...0xBF
    case 0xE1...0xEC, 0xEE...0xEF: length = 3
    case 0xED: length = 3; secondRange = 0x80...0x9F
    case 0xF0: length = 4; secondRange = 0x90...0xBF
    case 0xF1...0xF3: length = 4
    case 0xF4: length = 4; secondRange = 0x80...0x8F
    default: throw JSONError(.invalidUTF8, offset: start)
    }
    for offset in 1..<length {
      let position = start + offset
      guard position < bytes.count else { throw JSONError(.unexpectedEnd, offset: position) }
      let range = offset == 1 ? secondRange : 0x80...0xBF
      guard range.contains(bytes[position]) else { throw JSONError(.invalidUTF8, offset: position) }
    }
    return length
  }

  mutating func parseEscape(into decoded: inout [UInt8]) throws(JSONError) {
    let escapeOffset = index
    index += 1
    guard index < bytes.count else { throw JSONError(.unexpectedEnd, offset: index) }
    let byte = bytes[index]
    index += 1
    switch byte {
    case 0x22, 0x5C, 0x2F: decoded.append(byte)
    case 0x62: decoded.append(0x08)
    case 0x66: decoded.append(0x0C)
    case 0x6E: decoded.append(0x0A)
    case 0x72: decoded.append(0x0D)
    case 0x74: decoded.append(0x09)
    case 0x75: appendUTF8(try parseUnicodeEscape(escapeOffset: escapeOffset), to: &decoded)
    default: throw JSONError(.invalidEscape, offset: escapeOffset)
    }
  }

  /// The scalar of `\uXXXX` (the `\u` already consumed), joining a surrogate pair.
  mutating func parseUnicodeEscape(escapeOffset: Int) throws(JSONError) -> UInt32 {
    let first = try hex4(escapeOffset: escapeOffset)
    switch first {
    case 0xD800...0xDBFF:
      let lowOffset = index
      guard index + 1 < bytes.count, bytes[index] == 0x5C, bytes[index + 1] == 0x75 else {
        throw JSONError(.invalidUnicodeEscape, offset: escapeOffset)
      }
      index += 2
      let second = try hex4(escapeOffset: lowOffset)
      guard (0xDC00...0xDFFF).contains(second) else {
        throw JSONError(.invalidUnicodeEscape, offset: lowOffset)
      }
      return 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
    case 0xDC00...0xDFFF:
      throw JSONError(.invalidUnicodeEscape, offset: escapeOffset)
    default:
      return first
    }
  }

  mutating func hex4(escapeOffset: Int) throws(JSONError) -> UInt32 {
    var value: UInt32 = 0
    for _ in 0..<4 {
      guard index < bytes.count else { throw JSONError(.unexpectedEnd, offset: index) }
      let byte = bytes[index]
      let digit: UInt8
      switch byte {
      case 0x30...0x39: digit = byte - 0x30
      case 0x41...0x46: digit = byte - 0x41 + 10
      case 0x61...0x66: digit = byte - 0x61 + 10
      default: throw JSONError(.invalidUnicodeEscape, offset: escapeOffset)
      }
      value = value << 4 | UInt32(digit)
      index += 1
    }
    return value
  }

  func appendUTF8(_ scalar: UInt32, to decoded: inout [UInt8]) {
    switch scalar {
    case 0..<0x80:
      decoded.append(UInt8(scalar))
    case 0x80..<0x800:
      decoded.append(UInt8(0xC0 | scalar >> 6))
      decoded.append(UInt8(0x80 | scalar & 0x3F))
    case 0x800..<0x10000:
      decoded.append(UInt8(0xE0 | scalar >> 12))
      decoded.append(UInt8(0x80 | scalar >> 6 & 0x3F))
      decoded.append(UInt8(0x80 | scalar & 0x3F))
    default:
      decoded.append(UInt8(0xF0 | scalar >> 18))
      decoded.append(UInt8(0x80 | scalar >> 12 & 0x3F))
      decoded.append(UInt8(0x80 | scalar >> 6 & 0x3F))
      decoded.append(UInt8(0x80 | scalar & 0x3F))
    }
  }
}

extension JSONDecimal {
  /// Text the parser has already checked against the grammar.
  fileprivate init(unchecked text: String) { self.text = text }
}

// MARK: - Canonical output

extension JSONValue {
  /// The canonical text as UTF-8 bytes: no whitespace at all, object members in ascending
  /// byte-wise key order, integers in plain decimal, decimals as their text.
  ///
  /// Strings: `"` and `\` are escaped as `\"` and `\\`; the control characters U+0008, U+0009,
  /// U+000A, U+000C, U+000D as `\b \t \n \f \r`; the other characters below U+0020 as `\u00xx`
  /// (lowercase hex); everything else, `/` and non-ASCII included, is written as its UTF-8.
  public var canonicalBytes: [UInt8] {
    var output: [UInt8] = []
    write(to: &output)
    return output
  }

  /// ``canonicalBytes`` as a `String`.
  public var canonicalText: String { String(decoding: canonicalBytes, as: UTF8.self) }

  /// Appends the canonical text to `output`.
  public func write(to output: inout [UInt8]) {
    switch self {
    case .null: output.append(contentsOf: "null".utf8)
    case .bool(let value): output.append(contentsOf: (value ? "true" : "false").utf8)
    case .integer(let value): output.append(contentsOf: String(value).utf8)
    case .number(let value): output.append(contentsOf: value.text.utf8)
    case .string(let value): JSONValue.writeString(value, to: &output)
    case .array(let elements):
      output.append(0x5B)
      for index in elements.indices {
        if index > 0 { output.append(0x2C) }
        elements[index].write(to: &output)
      }
      output.append(0x5D)
    case .object(let object):
      output.append(0x7B)
      for index in object.members.indices {
        if index > 0 { output.append(0x2C) }
        JSONValue.writeString(object.members[index].key, to: &output)
        output.append(0x3A)
        object.members[index].value.write(to: &output)
      }
      output.append(0x7D)
    }
  }

  /// Appends `text` as a quoted, escaped JSON string (see ``canonicalBytes``).
  public static func writeString(_ text: String, to output: inout [UInt8]) {
    let hexDigits: StaticString = "0123456789abcdef"
    output.append(0x22)
    for byte in text.utf8 {
      switch byte {
      case 0x22: output.append(0x5C); output.append(0x22)
      case 0x5C: output.append(0x5C); output.append(0x5C)
      case 0x08: output.append(0x5C); output.append(0x62)
      case 0x09: output.append(0x5C); output.append(0x74)
      case 0x0A: output.append(0x5C); output.append(0x6E)
      case 0x0C: output.append(0x5C); output.append(0x66)
      case 0x0D: output.append(0x5C); output.append(0x72)
      case 0x00..<0x20:
        output.append(contentsOf: "\\u00".utf8)
        output.append(hexDigits.utf8Start[Int(byte >> 4)])
        output.append(hexDigits.utf8Start[Int(byte & 15)])
      default: output.append(byte)
      }
    }
    output.append(0x22)
  }
}

// MARK: - Literals

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
  ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
  public init(stringLiteral value: String) { self = .string(value) }
  public init(integerLiteral value: Int64) { self = .integer(value) }
  public init(booleanLiteral value: Bool) { self = .bool(value) }
  public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
  public init(nilLiteral: ()) { self = .null }
  /// An object; the literal's order does not matter (members are sorted), duplicates trap.
  public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
}
