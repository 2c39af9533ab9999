import MuNetRuntime
import MuNetStorage

/// A binary field of a format whose value sizes something (a header length, a dimension): the
/// mutator sets these to huge and boundary values, the classic way to make a parser allocate
/// or read what a header claims.
struct LengthField: Sendable {
  enum Order: Sendable { case little, big }
  let offset: Int
  let width: Int
  let order: Order
}

/// Seeded mutations of bytes and of JSON values (every choice from a ``RandomStream``: the same
/// seed gives the same inputs on every machine).
struct FuzzMutator {
  var stream: RandomStream

  init(key: StreamKey) { stream = key.stream }

  mutating func below(_ count: Int) -> Int { count <= 1 ? 0 : stream.nextInt(below: count) }
  mutating func chance(_ numerator: UInt64, in denominator: UInt64) -> Bool {
    stream.nextBool(numerator: numerator, denominator: denominator)
  }
  mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: stream.nextUInt32()) }
  mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }

  /// Random bytes (length 0...`lengthMax`): the input no parser was written for.
  mutating func randomBytes(lengthMax: Int) -> [UInt8] {
    (0..<below(lengthMax + 1)).map { _ in byte() }
  }

  /// 1 to 4 byte-level mutations of `input`; `fields` are its length fields.
  mutating func mutate(_ input: [UInt8], fields: [LengthField]) -> [UInt8] {
    var bytes = input
    for _ in 0..<(1 + below(4)) { mutateOnce(&bytes, fields: fields) }
    return bytes
  }

  private mutating func mutateOnce(_ bytes: inout [UInt8], fields: [LengthField]) {
    switch below(10) {
    case 0, 1:  // flip 1 to 8 bits
      guard !bytes.isEmpty else { return }
      for _ in 0..<(1 + below(8)) { bytes[below(bytes.count)] ^= UInt8(1) << UInt8(below(8)) }
    case 2:  // a byte to a boundary value
      guard !bytes.isEmpty else { return }
      bytes[below(bytes.count)] = pick([0, 1, 0x7F, 0x80, 0xFF, 0x20, 0x22, 0x2C, 0x7B, 0x0A])
    case 3:  // insert bytes
      let position = below(bytes.count + 1)
      let inserted = (0..<(1 + below(8))).map { _ in byte() }
      bytes.insert(contentsOf: inserted, at: position)
    case 4:  // delete bytes
      guard !bytes.isEmpty else { return }
      let start = below(bytes.count)
      bytes.removeSubrange(start..<min(bytes.count, start + 1 + below(16)))
    case 5:  // truncate
      bytes.removeLast(bytes.count - below(bytes.count + 1))
    case 6:  // duplicate a chunk elsewhere
      guard !bytes.isEmpty else { return }
      let start = below(bytes.count)
      let chunk = Array(bytes[start..<min(bytes.count, start + 1 + below(64))])
      bytes.insert(contentsOf: chunk, at: below(bytes.count + 1))
    case 7, 8:  // a length field to a huge or boundary value
      guard let field = fields.isEmpty ? nil : pick(fields), field.offset + field.width <= bytes.count else {
        return mutateOnce(&bytes, fields: [])
      }
      setField(field, in: &bytes)
    default:  // a decimal number in text to an extreme one
      replaceNumberText(&bytes)
    }
  }

  private mutating func setField(_ field: LengthField, in bytes: inout [UInt8]) {
    let bits = 8 * field.width
    let all: UInt64 = bits == 64 ? .max : (1 << UInt64(bits)) - 1
    var current: UInt64 = 0
    for index in 0..<field.width {
      let byte = UInt64(bytes[field.offset + (field.order == .little ? index : field.width - 1 - index)])
      current |= byte << UInt64(8 * index)
    }
    let candidates: [UInt64] = [
      all, all >> 1, (all >> 1) &+ 1, 0, 1, current &+ 1, current &- 1, current &* 2, current &* 1000,
      UInt64(bytes.count), UInt64(bytes.count) &+ 1, UInt64(SafeTensors.headerBytesMax) &+ 1, 1 << 31,
      1 << 32,
      stream.nextUInt64(),
    ]
    let value = pick(candidates) & all
    for index in 0..<field.width {
      let byte = UInt8(truncatingIfNeeded: value >> UInt64(8 * index))
      bytes[field.offset + (field.order == .little ? index : field.width - 1 - index)] = byte
    }
  }

  static let extremeNumbers = [
    "0", "-1", "-0", "1", "4294967295", "4294967296", "2147483648", "9223372036854775807",
    "9223372036854775808", "-9223372036854775808", "99999999999999999999999999", "1e308", "1e400", "1e-400",
    "0.0000001", "1.5", "65536", "1024", "100000000",
  ]

  /// Replaces a run of ASCII digits (a number in JSON, CSV or a NumPy header) by an extreme one.
  private mutating func replaceNumberText(_ bytes: inout [UInt8]) {
    func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
    var runs: [Range<Int>] = []
    var index = 0
    while index < bytes.count {
      guard isDigit(bytes[index]) else {
        index += 1
        continue
      }
      let start = index
      while index < bytes.count && isDigit(bytes[index]) { index += 1 }
      runs.append(start..<index)
    }
    guard !runs.isEmpty else { return }
    bytes.replaceSubrange(pick(runs), with: Array(pick(Self.extremeNumbers).utf8))
  }

  // MARK: JSON values

  /// One structural mutation of a JSON value: a random node replaced, removed, duplicated or
  /// nudged. The result may break any rule of the format above JSON (types, ranges, references).
  mutating func mutate(_ value: JSONValue) -> JSONValue {
    var paths: [[JSONStep]] = []
    Self.collectPaths(value, prefix: [], into: &paths)
    let path = pick(paths)
    let replacement = mutateNode(Self.node(value, at: path[...]), isRoot: path.isEmpty)
    return Self.replace(value, at: path[...], with: replacement)
  }

  enum JSONStep { case key(String), index(Int) }

  private static func collectPaths(_ value: JSONValue, prefix: [JSONStep], into paths: inout [[JSONStep]]) {
    guard paths.count < 20_000 else { return }
    paths.append(prefix)
    switch value {
    case .array(let elements):
      for index in elements.indices {
        collectPaths(elements[index], prefix: prefix + [.index(index)], into: &paths)
      }
    case .object(let object):
      for member in object.members {
        collectPaths(member.value, prefix: prefix + [.key(member.key)], into: &paths)
      }
    default: break
    }
  }

  private static func node(_ value: JSONValue, at path: ArraySlice<JSONStep>) -> JSONValue {
    guard let step = path.first else { return value }
    switch (step, value) {
    case (.index(let index), .array(let elements)): return node(elements[index], at: path.dropFirst())
    case (.key(let key), .object(let object)): return node(object[key]!, at: path.dropFirst())
    default: return value
    }
  }

  /// `value` with the node at `path` replaced by `replacement` (nil removes it).
  private static func replace(
    _ value: JSONValue, at path: ArraySlice<JSONStep>, with replacement: JSONValue?
  ) -> JSONValue {
    guard let step = path.first else { return replacement ?? .null }
    let last = path.count == 1
    switch (step, value) {
    case (.index(let index), .array(var elements)):
      if last && replacement == nil {
        elements.remove(at: index)
      } else {
        elements[index] = replace(elements[index], at: path.dropFirst(), with: replacement)
      }
      return .array(elements)
    case (.key(let key), .object(var object)):
      object.set(
        key, last && replacement == nil ? nil : replace(object[key]!, at: path.dropFirst(), with: replacement)
      )
      return .object(object)
    default: return value
    }
  }

  private mutating func mutateNode(_ node: JSONValue, isRoot: Bool) -> JSONValue? {
    switch below(12) {
    case 0: return isRoot ? .null : nil  // remove the member or element
    case 1: return .null
    case 2:
      return pick([
        .bool(true), .string(""), .string("x"), .string("../../etc/passwd"), .array([]),
        .object(JSONObject()),
      ])
    case 3: return .integer(pick([0, -1, 1, Int64.max, Int64.min, 1 << 31, 1 << 32, 65_536, 1_000_000_000]))
    case 4: return .number(JSONDecimal(exactly: pick(["0.5", "1e300", "-1.5", "1e-300", "0.0000001"]))!)
    case 5:  // nudge an integer
      guard case .integer(let value) = node else { return .integer(Int64(below(1000)) - 1) }
      return .integer(pick([value &+ 1, value &- 1, value &* 2, -value, value &* 1_000_000]))
    case 6:  // deep nesting
      var deep: JSONValue = node
      for _ in 0..<(1 + below(80)) { deep = .array([deep]) }
      return deep
    case 7:  // duplicate an element or add a member
      switch node {
      case .array(let elements) where !elements.isEmpty: return .array(elements + [pick(elements)])
      case .object(var object):
        object.set("unexpected", node == .object(object) ? .integer(1) : node)
        return .object(object)
      default: return .array([node, node])
      }
    case 8:  // drop array elements
      guard case .array(let elements) = node else { return .array([]) }
      return .array(Array(elements.prefix(below(elements.count + 1))))
    case 9:  // a long array of copies
      return .array(Array(repeating: node, count: 1 + below(200)))
    case 10:  // swap with a string of digits
      return .string(pick(Self.extremeNumbers))
    default:  // a string changed
      guard case .string(let text) = node else { return .string(String(repeating: "a", count: below(300))) }
      return .string(pick([text + "x", String(text.dropLast()), text.uppercased(), "", text + text]))
    }
  }
}
