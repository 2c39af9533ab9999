import MuNetStorage
import MuNetTestSupport
import Testing

private func parse(_ text: String, limits: JSONLimits = .standard) throws(JSONError) -> JSONValue {
  try JSONValue.parse(text, limits: limits)
}

/// The typed error `text` fails with (nil when it parses).
private func failure(_ text: String, limits: JSONLimits = .standard) -> JSONError? {
  failure(Array(text.utf8), limits: limits)
}

private func failure(_ bytes: [UInt8], limits: JSONLimits = .standard) -> JSONError? {
  do throws(JSONError) {
    _ = try JSONValue.parse(bytes, limits: limits)
    return nil
  } catch {
    return error
  }
}

// MARK: - Round trips and canonical form

@Test func parsesEveryKindOfValue() throws {
  let text = #" { "s" : "a\"b" , "i" : -42, "d": 1.5e-3, "t": true, "f": false, "n": null, "#
    + #""a": [1, [], {}] } "#
  let value = try parse(text)
  #expect(value["s"] == .string("a\"b"))
  #expect(value["i"] == .integer(-42))
  #expect(value["d"] == .number(JSONDecimal(exactly: "1.5e-3")!))
  #expect(value["t"] == .bool(true))
  #expect(value["f"] == .bool(false))
  #expect(value["n"] == .null)
  #expect(value["a"] == [1, [], [:]])
  #expect(value["missing"] == nil)
}

@Test func canonicalOutputSortsKeysAndHasNoWhitespace() throws {
  let value = try parse(#"{"b": 1, "a": {"z": [true, null], "y": "x"}, "B": 2, "_": 3, "é": 4, "aa": 5}"#)
  // Byte-wise UTF-8 order: "B" (0x42) < "_" (0x5F) < "a" < "aa" < "b" < "é" (0xC3 0xA9).
  #expect(value.canonicalText == #"{"B":2,"_":3,"a":{"y":"x","z":[true,null]},"aa":5,"b":1,"é":4}"#)
  let literal: JSONValue = ["b": 1, "a": ["z": [true, nil], "y": "x"], "B": 2, "_": 3, "é": 4, "aa": 5]
  #expect(literal == value)
  #expect(literal.canonicalBytes == value.canonicalBytes)
}

@Test func roundTripsThroughCanonicalText() throws {
  let texts = [
    #"{"k":[1,-1,0,9223372036854775807,-9223372036854775808,"x",{"n":null}]}"#,
    #"[0.5,-0.0,1e+16,1E-7,123.456e78,-0]"#,
    #""\u0000\u001f\b\t\n\f\r\"\\/ é 𝄞 \u007f""#,
    #"[[[[]]],{"":{"":""}}]"#,
  ]
  for text in texts {
    let value = try parse(text)
    let again = try JSONValue.parse(value.canonicalBytes)
    #expect(again == value, "\(text)")
    #expect(again.canonicalBytes == value.canonicalBytes, "\(text)")
  }
}

@Test func escapesAreWrittenCanonically() throws {
  // "\/" reads as "/", written unescaped; \u00e9 as raw UTF-8; DEL raw; other controls \u00xx.
  let value = try parse(#""\/\u00e9\u0001\u001F\u0008\u000c\u007f\ud834\udd1e""#)
  #expect(value.canonicalBytes == Array(#""/é\u0001\u001f\b\f"#.utf8) + [0x7F] + Array("𝄞\"".utf8))
}

@Test func numbersKeepTheirTextAndIntegersTheirValue() throws {
  #expect(try parse("[1.0, 1.00, 100, -0]").canonicalText == "[1.0,1.00,100,-0]")
  #expect(try parse("1.0") != parse("1.00"))
  #expect(try parse("-9223372036854775808") == .integer(Int64.min))
  #expect(JSONDecimal(0.1)?.text == "0.1")
  #expect(JSONDecimal(100.0)?.text == "100.0")
  #expect(JSONDecimal(1e-5)?.text == "1e-05")
  #expect(JSONDecimal(1e16)?.text == "1e+16")
  #expect(JSONDecimal(Double.nan) == nil)
  #expect(JSONDecimal(-Double.infinity) == nil)
  #expect(JSONDecimal(exactly: "01") == nil)
  #expect(JSONDecimal(exactly: "1.") == nil)
  #expect(JSONDecimal(exactly: "+1") == nil)
  #expect(JSONDecimal(exactly: "-1.25E+3")?.doubleValue == -1250)
  // Every Double's description is itself valid JSON that reads back to the same Double.
  var random = SplitMix64(seed: 7)
  for _ in 0..<2000 {
    let double = Double(bitPattern: random.next())
    guard let decimal = JSONDecimal(double) else { #expect(!double.isFinite); continue }
    let parsed = try JSONValue.parse(decimal.text)
    guard case .number(let back) = parsed else {
      Issue.record("\(decimal.text) did not parse as a decimal")
      continue
    }
    #expect(back.doubleValue.bitPattern == double.bitPattern, "\(decimal.text)")
  }
}

@Test func stringsCompareByBytesNotCanonicalEquivalence() throws {
  let composed = JSONValue.string("\u{E9}")
  let decomposed = JSONValue.string("e\u{301}")
  #expect(composed != decomposed)
  // Both spellings are distinct keys of one object.
  let object = try parse("{\"\u{E9}\": 1, \"e\u{301}\": 2}")
  #expect(object.objectValue?.count == 2)
  #expect(object["e\u{301}"] == 2)
}

@Test func objectSetKeepsOrder() {
  var object = JSONObject([("m", 1), ("c", 2)])
  object.set("a", 3)
  object.set("z", 4)
  object.set("m", 5)
  object.set("c", nil)
  #expect(JSONValue.object(object).canonicalText == #"{"a":3,"m":5,"z":4}"#)
}

// MARK: - Malformed input

@Test func malformedInputGivesTypedErrorsWithOffsets() {
  let cases: [(String, JSONError.Reason, Int)] = [
    ("", .unexpectedEnd, 0),
    ("   ", .unexpectedEnd, 3),
    (#"{"a":1"#, .unexpectedEnd, 6),
    (#"["abc"#, .unexpectedEnd, 5),
    ("[1,", .unexpectedEnd, 3),
    ("tru", .unexpectedEnd, 3),
    ("nul!", .unexpectedByte(0x21), 3),
    ("[1 2]", .unexpectedByte(0x32), 3),
    (#"{"a" 1}"#, .unexpectedByte(0x31), 5),
    ("{1:2}", .unexpectedByte(0x31), 1),
    (#"{"a":1,}"#, .unexpectedByte(0x7D), 7),
    ("[1,]", .unexpectedByte(0x5D), 3),
    ("'a'", .unexpectedByte(0x27), 0),
    ("NaN", .unexpectedByte(0x4E), 0),
    ("\u{FEFF}1", .unexpectedByte(0xEF), 0),
    ("1 2", .trailingData, 2),
    ("{} x", .trailingData, 3),
    (#""\x""#, .invalidEscape, 1),
    (#"["ab\"#, .unexpectedEnd, 5),
    (#""\u12G4""#, .invalidUnicodeEscape, 1),
    (#""\ud800""#, .invalidUnicodeEscape, 1),
    (#""\ud800\u0041""#, .invalidUnicodeEscape, 7),
    (#""\udc00""#, .invalidUnicodeEscape, 1),
    (#""\u12"#, .unexpectedEnd, 5),
    ("\"a\tb\"", .controlCharacterInString, 2),
    ("\"a\nb\"", .controlCharacterInString, 2),
    (#"{"a":1,"a":2}"#, .duplicateKey("a"), 7),
    (#"{"b":1,"a":2,"b":3}"#, .duplicateKey("b"), 18),
    ("01", .invalidNumber, 0),
    ("-", .invalidNumber, 0),
    ("-a", .invalidNumber, 0),
    ("1.", .invalidNumber, 0),
    ("1.e5", .invalidNumber, 0),
    ("1e", .invalidNumber, 0),
    ("1e+", .invalidNumber, 0),
    ("+1", .unexpectedByte(0x2B), 0),
    (".5", .unexpectedByte(0x2E), 0),
    ("9223372036854775808", .numberOutOfRange, 0),
    ("[-9223372036854775809]", .numberOutOfRange, 1),
    ("123456789012345678901234567890", .numberOutOfRange, 0),
    ("1e400", .numberOutOfRange, 0),
    ("-1.5e99999", .numberOutOfRange, 0),
  ]
  for (text, reason, offset) in cases {
    #expect(failure(text) == JSONError(reason, offset: offset), "input: \(text)")
  }
}

@Test func invalidUTF8IsRejected() {
  let cases: [([UInt8], Int)] = [
    ([0x22, 0x80, 0x22], 1),              // lone continuation byte
    ([0x22, 0xC0, 0xAF, 0x22], 1),        // overlong "/"
    ([0x22, 0xE0, 0x80, 0xAF, 0x22], 2),  // overlong 3-byte
    ([0x22, 0xED, 0xA0, 0x80, 0x22], 2),  // UTF-8-encoded surrogate
    ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 2),  // above U+10FFFF
    ([0x22, 0xC3, 0x28, 0x22], 2),        // missing continuation
    ([0x22, 0xFF, 0x22], 1),
  ]
  for (bytes, offset) in cases {
    #expect(failure(bytes) == JSONError(.invalidUTF8, offset: offset), "bytes: \(bytes)")
  }
  #expect(failure([0x22, 0xE2, 0x82]) == JSONError(.unexpectedEnd, offset: 3))
}

@Test func limitsAreEnforced() throws {
  let deep64 = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
  #expect(try parse(deep64).canonicalText == deep64)
  let deep65 = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
  #expect(failure(deep65) == JSONError(.nestingTooDeep(limit: 64), offset: 64))
  let deepObjects = String(repeating: #"{"a":"#, count: 65) + "1" + String(repeating: "}", count: 65)
  #expect(failure(deepObjects) == JSONError(.nestingTooDeep(limit: 64), offset: 64 * 5))
  // A million unclosed brackets must fail on depth, not overflow the stack.
  #expect(failure(String(repeating: "[", count: 1_000_000))?.reason == .nestingTooDeep(limit: 64))

  let small = JSONLimits(inputBytesMax: 10, depthMax: 2, stringBytesMax: 3, numberBytesMax: 4)
  #expect(failure("[1, 2, 3, 4]", limits: small) == JSONError(.inputTooLarge(limitBytes: 10), offset: 0))
  #expect(failure(#""abcd""#, limits: small) == JSONError(.stringTooLong(limitBytes: 3), offset: 5))
  #expect(failure(#""\u00e9é""#, limits: small) == JSONError(.stringTooLong(limitBytes: 3), offset: 9))
  #expect(failure("12345", limits: small) == JSONError(.numberTooLong(limitBytes: 4), offset: 0))
  #expect(failure("[[[]]]", limits: small) == JSONError(.nestingTooDeep(limit: 2), offset: 2))
  #expect(try parse(#"[["abc"]]"#, limits: small) == [["abc"]])
}

// MARK: - Fuzzing

@Test func randomMutationsNeverCrashAndParsedValuesRoundTrip() throws {
  let seeds = [
    #"{"name":"encoderblock_0","shape":[64,256],"lr":0.01,"nested":{"a":[true,false,null,-3]}}"#,
    #"[1.5e-3,"é\n\u0041\ud834\udd1e",{"":{}},[[[]]],-0,9223372036854775807]"#,
    #"{"__metadata__":{"format":"pt"},"w":{"data_offsets":[0,16],"dtype":"F32","shape":[2,2]}}"#,
  ].map { Array($0.utf8) }
  let alphabet = Array(#"{}[],:"\\/-+.0123456789eEtrufalsn u"#.utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xED, 0xFF]
  var random = SplitMix64(seed: 20_240_601)
  var parsedCount = 0
  var failedCount = 0
  for _ in 0..<4000 {
    var bytes = seeds[random.below(seeds.count)]
    for _ in 0..<(1 + random.below(4)) {
      let position = random.below(bytes.count + 1)
      switch random.below(5) {
      case 0 where position < bytes.count: bytes[position] = alphabet[random.below(alphabet.count)]
      case 1: bytes.insert(alphabet[random.below(alphabet.count)], at: position)
      case 2 where position < bytes.count: bytes.remove(at: position)
      case 3: bytes.removeLast(bytes.count - position)
      default:
        if position < bytes.count { bytes[position] ^= UInt8(1 << random.below(8)) }
      }
    }
    let value: JSONValue
    do throws(JSONError) {
      value = try JSONValue.parse(bytes, limits: JSONLimits(depthMax: 8))
    } catch {
      failedCount += 1
      #expect(error.offset >= 0 && error.offset <= bytes.count)
      continue
    }
    parsedCount += 1
    let canonical = value.canonicalBytes
    let again = try JSONValue.parse(canonical)
    #expect(again == value)
    #expect(again.canonicalBytes == canonical)
  }
  // Both outcomes must actually occur, or the mutations test nothing.
  #expect(parsedCount > 50)
  #expect(failedCount > 1000)
}
