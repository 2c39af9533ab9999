import MuNetStorage
import Testing

@testable import MuNetEvolution

@Test func hyperKeysAreInByteOrderOfTheirNames() {
  let names = HyperKey.allCases.map(\.rawValue)
  #expect(names == names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
  #expect(HyperKey.allCases.first == .mu)
}

@Test func decimalsReadExactlyAndWriteCanonically() {
  #expect(HyperValue.parseMicros("0.01") == 10_000)
  #expect(HyperValue.parseMicros("1e-05") == 10)
  #expect(HyperValue.parseMicros("0.0000001") == nil)
  #expect(HyperValue.parseMicros("2.5E+2") == 250_000_000)
  #expect(HyperValue.decimalText(10_000) == "0.01")
  #expect(HyperValue.decimalText(1_000_000) == "1.0")
  #expect(HyperValue.decimalText(-250_000) == "-0.25")
  for micros: Int64 in [0, 1, 100, 999_999, 1_000_000, 123_456_789] {
    #expect(HyperValue.parseMicros(HyperValue.decimalText(micros)) == micros)
  }
}

@Test func configCanonicalFormRoundTrips() throws {
  let text = """
    {"tasks": ["mnist-mini", {"name": "fashion-mini", "private": true}], "rounds": 3,
     "hyperparameters": {"defaults": {"opt_lr": 0.05}, "ranges": {"ds_image_size": null}}}
    """
  let config = try EvolutionConfig.parse(try JSONValue.parse(text), source: "test")
  #expect(config.rounds == 3)
  #expect(config.tasks[1].isPrivate)
  #expect(config.defaults[.learningRate] == .decimal(50_000))
  #expect(config.range(.imageSize) == nil)
  let again = try EvolutionConfig.parse(config.json, source: "canonical")
  #expect(again == config)
  #expect(again.json.canonicalText == config.json.canonicalText)
}

@Test func configErrorsNameEverySetting() throws {
  let text = """
    {"tasks": [], "rounds": 0, "generatons": 2, "hyperparameters": {"defaults": {"opt_lr": 0.123}}}
    """
  #expect {
    try EvolutionConfig.parse(try JSONValue.parse(text), source: "bad.json")
  } throws: { error in
    let message = "\(error)"
    return message.contains("bad.json") && message.contains("unknown setting generatons")
  }
  let second = """
    {"tasks": ["a"], "rounds": 0, "hyperparameters": {"defaults": {"opt_lr": 0.123}}}
    """
  #expect {
    try EvolutionConfig.parse(try JSONValue.parse(second), source: "bad.json")
  } throws: { error in
    let message = "\(error)"
    return message.contains("rounds must be in") && message.contains("opt_lr (0.123) is not in its range")
  }
}
