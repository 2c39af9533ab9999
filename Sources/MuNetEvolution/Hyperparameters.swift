import MuNetStorage

/// The hyperparameters a path carries (µ2Net's `hparams`), in byte order of their names.
///
/// Byte order is the order the reference visits them when mutating (`sorted(hparams)`), so
/// `_mu_` comes first and a freshly mutated µ already applies to the remaining keys of the
/// same child. `ds_*` keys describe the data pipeline and are chosen once per generation.
public enum HyperKey: String, CaseIterable, Sendable, Comparable {
  case mu = "_mu_"
  case adapterDim = "adapter_dim"
  case areaRangeMin = "ds_area_range_min"
  case aspectRatioRangeMin = "ds_aspect_ratio_range_min"
  case brightnessDelta = "ds_brightness_delta"
  case contrastDelta = "ds_contrast_delta"
  case crop = "ds_crop"
  case flipLeftRight = "ds_flip_left_right"
  case imageSize = "ds_image_size"
  case layerCount = "num_layers"
  case learningRate = "opt_lr"
  case schedule = "opt_lr_schedule"
  case warmupRatio = "opt_lr_warmup_ratio"
  case momentum = "opt_momentum"
  case nesterov = "opt_nesterov"

  /// How values of the key are written and compared.
  public enum Kind: Sendable { case integer, decimal, flag, word }

  public var kind: Kind {
    switch self {
    case .adapterDim, .imageSize, .layerCount: .integer
    case .crop, .flipLeftRight, .nesterov: .flag
    case .schedule: .word
    default: .decimal
    }
  }

  /// True for the data-pipeline keys (`ds_*`), sampled per generation, not per child.
  public var isData: Bool { rawValue.hasPrefix("ds_") }

  /// Position in ``allCases`` (byte order of the names).
  public var position: Int { HyperKey.allCases.firstIndex(of: self)! }

  public static func < (lhs: HyperKey, rhs: HyperKey) -> Bool { lhs.position < rhs.position }
}

/// One hyperparameter value. Decimals are exact fixed-point integers (millionths), so every
/// comparison and step is integer arithmetic and a value written to JSON reads back identical.
public enum HyperValue: Equatable, Hashable, Sendable, CustomStringConvertible {
  case integer(Int)
  /// The value × 10⁶ (at most six decimal places).
  case decimal(Int64)
  case flag(Bool)
  case word(String)

  /// 10⁶: one in millionths.
  public static let decimalOne: Int64 = 1_000_000

  public var integerValue: Int? { if case .integer(let value) = self { value } else { nil } }
  public var micros: Int64? { if case .decimal(let value) = self { value } else { nil } }
  public var flagValue: Bool? { if case .flag(let value) = self { value } else { nil } }
  public var wordValue: String? { if case .word(let value) = self { value } else { nil } }

  /// The decimal as a `Double` (correctly rounded: the same `Double` its text parses to).
  public var doubleValue: Double? { micros.map { Double($0) / 1e6 } }

  /// The canonical JSON form: integers, decimals with at least one fraction digit, booleans,
  /// strings.
  public var json: JSONValue {
    switch self {
    case .integer(let value): .integer(Int64(value))
    case .decimal(let value): .number(JSONDecimal(exactly: HyperValue.decimalText(value))!)
    case .flag(let value): .bool(value)
    case .word(let value): .string(value)
    }
  }

  public var description: String { json.canonicalText }

  /// `micros` as plain decimal text, e.g. 10000 → `0.01`, 1000000 → `1.0`.
  static func decimalText(_ micros: Int64) -> String {
    let sign = micros < 0 ? "-" : ""
    let magnitude = micros.magnitude
    var fraction = String(magnitude % 1_000_000)
    fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
    while fraction.count > 1 && fraction.hasSuffix("0") { fraction.removeLast() }
    return "\(sign)\(magnitude / 1_000_000).\(fraction)"
  }

  /// A value of `kind` from JSON; nil when the JSON has the wrong type or a decimal has more
  /// than six decimal places or is out of range.
  public static func parse(_ json: JSONValue, kind: HyperKey.Kind) -> HyperValue? {
    switch (kind, json) {
    case (.integer, .integer(let value)): return Int(exactly: value).map(HyperValue.integer)
    case (.decimal, .integer(let value)):
      let (scaled, overflow) = value.multipliedReportingOverflow(by: decimalOne)
      return overflow ? nil : .decimal(scaled)
    case (.decimal, .number(let decimal)): return parseMicros(decimal.text).map(HyperValue.decimal)
    case (.flag, .bool(let value)): return .flag(value)
    case (.word, .string(let value)): return .word(value)
    default: return nil
    }
  }

  /// Exact decimal text (JSON number grammar) → millionths, or nil when not exact or too large.
  static func parseMicros(_ text: String) -> Int64? {
    var digits: [Int] = []
    var fractionDigits = 0
    var exponent = 0
    var negative = false
    var seenPoint = false
    var bytes = Array(text.utf8)[...]
    if bytes.first == UInt8(ascii: "-") { negative = true; bytes = bytes.dropFirst() }
    while let byte = bytes.first, byte != UInt8(ascii: "e"), byte != UInt8(ascii: "E") {
      bytes = bytes.dropFirst()
      if byte == UInt8(ascii: ".") { seenPoint = true; continue }
      guard byte >= 0x30 && byte <= 0x39 else { return nil }
      digits.append(Int(byte - 0x30))
      if seenPoint { fractionDigits += 1 }
    }
    if !bytes.isEmpty {
      guard let value = Int(String(decoding: bytes.dropFirst(), as: UTF8.self)), abs(value) < 100 else {
        return nil
      }
      exponent = value
    }
    // value = digits · 10^(exponent − fractionDigits); we want value · 10^6.
    let shift = exponent - fractionDigits + 6
    var result: Int64 = 0
    for (index, digit) in digits.enumerated() {
      let remaining = digits.count - 1 - index
      if remaining + shift < 0 {
        if digit != 0 { return nil }
        continue
      }
      var term = Int64(digit)
      for _ in 0..<(remaining + shift) {
        let (product, overflow) = term.multipliedReportingOverflow(by: 10)
        if overflow { return nil }
        term = product
      }
      let (sum, overflow) = result.addingReportingOverflow(term)
      if overflow { return nil }
      result = sum
    }
    return negative ? -result : result
  }
}

/// A path's hyperparameters: one value per ``HyperKey``, the layers that carry a residual
/// adapter, and (µ2Net+) per-mutation probabilities.
public struct Hyperparameters: Equatable, Sendable {
  /// `values[key.position]`.
  public private(set) var values: [HyperValue]
  /// Layers with a `residual_adapter_i`, ascending.
  public var adapterLayers: [Int] = []
  /// µ2Net+ `_mu_|<mutation>` probabilities (millionths), by mutation name in byte order.
  public var mutationRates: [(name: String, micros: Int64)] = []

  public init(values: [HyperValue]) {
    precondition(values.count == HyperKey.allCases.count, "one value per hyperparameter")
    self.values = values
  }

  public subscript(key: HyperKey) -> HyperValue {
    get { values[key.position] }
    set { values[key.position] = newValue }
  }

  public var mu: Int64 { self[.mu].micros! }
  public var layerCount: Int { self[.layerCount].integerValue! }
  public var adapterDim: Int { self[.adapterDim].integerValue! }
  public var imageSize: Int { self[.imageSize].integerValue! }

  /// The µ2Net+ probability of mutation `name` (defaults to µ).
  public func mutationRate(_ name: String) -> Int64 {
    mutationRates.first { $0.name == name }?.micros ?? mu
  }

  public mutating func setMutationRate(_ name: String, _ micros: Int64) {
    if let index = mutationRates.firstIndex(where: { $0.name == name }) {
      mutationRates[index].micros = micros
    } else {
      mutationRates.append((name, micros))
      mutationRates.sort { JSONObject.keyPrecedes($0.name, $1.name) }
    }
  }

  public static func == (lhs: Hyperparameters, rhs: Hyperparameters) -> Bool {
    lhs.values == rhs.values && lhs.adapterLayers == rhs.adapterLayers
      && lhs.mutationRates.map(\.name) == rhs.mutationRates.map(\.name)
      && lhs.mutationRates.map(\.micros) == rhs.mutationRates.map(\.micros)
  }

  /// Canonical JSON: every key by name, `adapter_layers`, and `_mu_|…` rates when present.
  public var json: JSONValue {
    var object = JSONObject()
    for key in HyperKey.allCases { object.set(key.rawValue, self[key].json) }
    object.set("adapter_layers", .array(adapterLayers.map { .integer(Int64($0)) }))
    for rate in mutationRates {
      object.set("_mu_|" + rate.name, HyperValue.decimal(rate.micros).json)
    }
    return .object(object)
  }

  /// Reads ``json``'s form; the message names the offending key.
  public static func parse(_ json: JSONValue) throws(EvolutionError) -> Hyperparameters {
    guard let object = json.objectValue else { throw .format("hyperparameters must be an object") }
    var values: [HyperValue] = []
    for key in HyperKey.allCases {
      guard let raw = object[key.rawValue], let value = HyperValue.parse(raw, kind: key.kind) else {
        throw .format("hyperparameter \(key.rawValue) is missing or has the wrong type")
      }
      values.append(value)
    }
    var result = Hyperparameters(values: values)
    guard let layers = object["adapter_layers"]?.arrayValue else {
      throw .format("hyperparameter adapter_layers is missing")
    }
    for layer in layers {
      guard let value = layer.integerValue, let index = Int(exactly: value), index >= 0 else {
        throw .format("adapter_layers holds a value that is not a layer index")
      }
      result.adapterLayers.append(index)
    }
    guard result.adapterLayers == result.adapterLayers.sorted(), Set(result.adapterLayers).count == layers.count
    else { throw .format("adapter_layers must be ascending without repeats") }
    for member in object.members where member.key.hasPrefix("_mu_|") {
      guard let value = HyperValue.parse(member.value, kind: .decimal)?.micros else {
        throw .format("hyperparameter \(member.key) is not a decimal")
      }
      result.mutationRates.append((String(member.key.dropFirst(5)), value))
    }
    let known = Set(HyperKey.allCases.map(\.rawValue) + ["adapter_layers"])
    if let unknown = object.members.first(where: { !known.contains($0.key) && !$0.key.hasPrefix("_mu_|") }) {
      throw .format("unknown hyperparameter \(unknown.key)")
    }
    return result
  }
}
