import MuNetModel
import MuNetRuntime
import MuNetStorage

/// munet's model file: one ViT path as a canonical safetensors file that describes itself
/// (spec/formats.md).
///
/// The tensors are the model's parameters under their vit_jax names and file shapes
/// (spec/model.md), `F32`, in ``SafeTensors``' canonical form. `__metadata__` holds:
/// - ``formatKey`` (`munet.format`) = ``formatName`` (`munet-vit-1`);
/// - ``configKey`` (`munet.config`): the architecture as canonical JSON (``configJSON(_:)``);
/// - ``checksumKey`` (`munet.sha256`): the SHA-256 of the data section (every byte after the
///   header), lowercase hex. safetensors itself has no checksum, so without it a flipped data
///   byte would load as a silently different model;
/// - whatever the caller adds (any other key).
///
/// The reader checks, before it allocates anything for the model: the safetensors structure
/// (``SafeTensors/decode(_:source:)``), the format name, the checksum, every configuration field
/// against ``ConfigLimits``, and that the configuration's parameter count equals the file's
/// number of values (so the model it builds is never larger than the file). Then every
/// parameter must be present with its exact shape and no other tensor may be present.
public enum ModelFile {
  /// The metadata key of the format name.
  public static let formatKey = "munet.format"
  /// The format name this version writes and reads.
  public static let formatName = "munet-vit-1"
  /// The metadata key of the configuration JSON.
  public static let configKey = "munet.config"
  /// The metadata key of the data checksum.
  public static let checksumKey = "munet.sha256"
  /// Keys the writer sets itself; callers may not pass them.
  public static let reservedKeys = [checksumKey, configKey, formatKey]
  /// The largest model file ``load(path:trainable:limitBytes:)`` reads by default (2 GiB).
  public static let fileBytesMax = 2 << 30

  /// What the reader accepts in `munet.config` (inclusive bounds).
  public enum ConfigLimits {
    public static let imageSizeMax = 4096
    public static let channelsMax = 64
    public static let widthMax = 16384
    public static let mlpDimMax = 65536
    public static let layerCountMax = 1024
    public static let classCountMax = 1_000_000
    public static let adapterDimMax = 65536
    /// The configuration JSON's size in bytes.
    public static let jsonBytesMax = 64 << 10
    /// LayerNorm epsilon must be in `(0, layerNormEpsilonMax]`.
    public static let layerNormEpsilonMax: Float = 1
  }

  // MARK: Writing

  /// Writes `model` to `path` (atomically; same model and metadata, same bytes).
  ///
  /// `metadata` is stored as given next to the keys the writer sets (``reservedKeys``, which
  /// `metadata` must not contain).
  public static func save(
    model: ViTModel, metadata: [String: String], to path: String
  ) throws(ModelFileError) {
    if let key = reservedKeys.first(where: { metadata[$0] != nil }) {
      throw .reservedMetadataKey(path: path, key: key)
    }
    let parameters = model.namedParameters()
      .sorted { JSONObject.keyPrecedes($0.name, $1.name) }
    // SafeTensors lays the tensors out in this same order, so this is the hash of the data
    // section it writes (NumpyForwardTests checks it against the file).
    var hasher = SHA256()
    for parameter in parameters {
      hashLittleEndian(UnsafeBufferPointer(parameter.value.buffer), into: &hasher)
    }
    var fullMetadata = metadata
    fullMetadata[formatKey] = formatName
    fullMetadata[configKey] = configJSON(model.config).canonicalText
    fullMetadata[checksumKey] = hasher.finalize().hex
    let inputs = parameters.map { parameter in
      SafeTensors.Input(
        name: parameter.name, shape: parameter.value.shape.dims,
        values: UnsafeBufferPointer(parameter.value.buffer))
    }
    do throws(SafeTensorsError) {
      try SafeTensors.write(inputs, metadata: fullMetadata, to: path)
    } catch {
      throw .safeTensors(path: path, error)
    }
  }

  /// The canonical configuration object: keys `adapterDims` (array of integer or null, one per
  /// layer), `channels`, `classCount`, `geluForm` (`"tanh"` or `"exact"`), `heads`,
  /// `imageSize`, `layerCount`, `layerNormEpsilon` (a JSON number: the shortest decimal that
  /// reads back as the same `Float`), `mlpDim`, `patchSize`, `width`.
  public static func configJSON(_ config: ViTConfig) -> JSONValue {
    let epsilon = JSONDecimal(exactly: config.layerNormEpsilon.description)
    precondition(epsilon != nil, "LayerNorm epsilon \(config.layerNormEpsilon) is not a finite number")
    return [
      "adapterDims": .array(config.adapterDims.map { $0.map { .integer(Int64($0)) } ?? .null }),
      "channels": .integer(Int64(config.channels)),
      "classCount": .integer(Int64(config.classCount)),
      "geluForm": .string(config.geluForm.rawValue),
      "heads": .integer(Int64(config.heads)),
      "imageSize": .integer(Int64(config.imageSize)),
      "layerCount": .integer(Int64(config.layerCount)),
      "layerNormEpsilon": .number(epsilon!),
      "mlpDim": .integer(Int64(config.mlpDim)),
      "patchSize": .integer(Int64(config.patchSize)),
      "width": .integer(Int64(config.width)),
    ]
  }

  // MARK: Reading

  /// Reads the model file at `path`: the model (with its own memory; trainable or frozen as
  /// asked) and the caller's metadata (every key but ``reservedKeys``).
  public static func load(
    path: String, trainable: Bool = false, limitBytes: Int = fileBytesMax
  ) throws(ModelFileError) -> (model: ViTModel, metadata: [String: String]) {
    let file: SafeTensorsFile
    do throws(SafeTensorsError) {
      file = try SafeTensors.read(path: path, limitBytes: limitBytes)
    } catch {
      throw .safeTensors(path: path, error)
    }
    guard let format = file.metadata(formatKey) else {
      throw .notAModelFile(path: path, reason: "no \(formatKey) in the metadata")
    }
    guard format == formatName else { throw .unsupportedFormat(path: path, format: format) }
    try verifyChecksum(file, path: path)
    guard let configText = file.metadata(configKey) else {
      throw .notAModelFile(path: path, reason: "no \(configKey) in the metadata")
    }
    let config = try parseConfig(configText, source: path)
    let valueCount = (file.bytes.count - file.dataStart) / 4
    guard let expected = parameterCount(config), expected == valueCount else {
      throw .parameterMismatch(
        path: path,
        reason: "the configuration needs a different number of values than the file's \(valueCount)")
    }
    let model: ViTModel
    do throws(ViTModelError) {
      model = try ViTModel(config: config, initKey: StreamKey(seed: 0), trainable: trainable)
    } catch {
      throw .invalidConfig(path: path, reason: error.description)
    }
    try copyParameters(from: file, into: model, path: path)
    var metadata: [String: String] = [:]
    for (key, value) in file.metadata where !reservedKeys.contains(key) { metadata[key] = value }
    return (model, metadata)
  }

  /// The configuration in `text` (a `munet.config` value), every field checked against
  /// ``ConfigLimits`` and ``ViTConfig/validate()``; `source` names the file in errors.
  public static func parseConfig(_ text: String, source: String) throws(ModelFileError) -> ViTConfig {
    func invalid(_ reason: String) -> ModelFileError { .invalidConfig(path: source, reason: reason) }
    let limits = JSONLimits(
      inputBytesMax: ConfigLimits.jsonBytesMax, depthMax: 2, stringBytesMax: 64, numberBytesMax: 32)
    let json: JSONValue
    do throws(JSONError) { json = try JSONValue.parse(text, limits: limits) } catch {
      throw invalid("\(configKey) is not valid JSON: \(error)")
    }
    guard case .object(let object) = json else { throw invalid("\(configKey) is not a JSON object") }
    let known = [
      "adapterDims", "channels", "classCount", "geluForm", "heads", "imageSize", "layerCount",
      "layerNormEpsilon", "mlpDim", "patchSize", "width",
    ]
    if let unknown = object.members.first(where: { !known.contains($0.key) }) {
      throw invalid("unknown key \"\(unknown.key)\"")
    }
    func integer(_ key: String, _ range: ClosedRange<Int>) throws(ModelFileError) -> Int {
      guard let value = object[key] else { throw invalid("missing \"\(key)\"") }
      guard let number = value.integerValue, number >= range.lowerBound, number <= range.upperBound else {
        throw invalid("\"\(key)\" must be an integer in \(range.lowerBound)...\(range.upperBound)")
      }
      return Int(number)
    }
    let imageSize = try integer("imageSize", 1...ConfigLimits.imageSizeMax)
    let patchSize = try integer("patchSize", 1...imageSize)
    let channels = try integer("channels", 1...ConfigLimits.channelsMax)
    let width = try integer("width", 1...ConfigLimits.widthMax)
    let heads = try integer("heads", 1...width)
    let mlpDim = try integer("mlpDim", 1...ConfigLimits.mlpDimMax)
    let layerCount = try integer("layerCount", 0...ConfigLimits.layerCountMax)
    let classCount = try integer("classCount", 1...ConfigLimits.classCountMax)
    let adapterDims = try parseAdapterDims(object["adapterDims"], layerCount: layerCount, source: source)
    guard let geluName = object["geluForm"]?.stringValue, let geluForm = GELUForm(rawValue: geluName) else {
      throw invalid("\"geluForm\" must be \"tanh\" or \"exact\"")
    }
    let epsilon = try parseEpsilon(object["layerNormEpsilon"], source: source)
    let config = ViTConfig(
      imageSize: imageSize, patchSize: patchSize, channels: channels, width: width, heads: heads,
      mlpDim: mlpDim, layerCount: layerCount, classCount: classCount, adapterDims: adapterDims,
      geluForm: geluForm, layerNormEpsilon: epsilon)
    do throws(ViTConfigError) { try config.validate() } catch { throw invalid(error.description) }
    return config
  }

  private static func parseAdapterDims(
    _ value: JSONValue?, layerCount: Int, source: String
  ) throws(ModelFileError) -> [Int?] {
    let problem = "\"adapterDims\" must be an array of \(layerCount) entries, each null or an integer "
      + "in 1...\(ConfigLimits.adapterDimMax)"
    guard let elements = value?.arrayValue, elements.count == layerCount else {
      throw .invalidConfig(path: source, reason: problem)
    }
    var dims: [Int?] = []
    for element in elements {
      if element == .null {
        dims.append(nil)
      } else if let dim = element.integerValue, dim >= 1, dim <= ConfigLimits.adapterDimMax {
        dims.append(Int(dim))
      } else {
        throw .invalidConfig(path: source, reason: problem)
      }
    }
    return dims
  }

  /// The epsilon: a JSON number or a string holding one, read as the nearest `Float`.
  private static func parseEpsilon(_ value: JSONValue?, source: String) throws(ModelFileError) -> Float {
    let text: String?
    switch value {
    case .integer(let number)?: text = String(number)
    case .number(let decimal)?: text = decimal.text
    case .string(let string)?: text = JSONDecimal(exactly: string)?.text
    default: text = nil
    }
    guard let text, let epsilon = Float(text), epsilon.isFinite, epsilon > 0,
          epsilon <= ConfigLimits.layerNormEpsilonMax
    else {
      throw .invalidConfig(
        path: source,
        reason: "\"layerNormEpsilon\" must be a number (or a string holding one) in "
          + "(0, \(ConfigLimits.layerNormEpsilonMax)]")
    }
    return epsilon
  }

  /// The number of parameter values a model of `config` has, nil on overflow.
  ///
  /// Must agree with the components' specs (spec/model.md); the loader checks it against the
  /// file before it builds anything, and the model's own shape check runs after.
  public static func parameterCount(_ config: ViTConfig) -> Int? {
    let width = config.width
    var total = 0
    func add(_ factors: Int...) -> Bool {
      var product = 1
      for factor in factors {
        let (next, overflow) = product.multipliedReportingOverflow(by: factor)
        if overflow { return false }
        product = next
      }
      let (sum, overflow) = total.addingReportingOverflow(product)
      total = sum
      return !overflow
    }
    // Per block: attention (q, k, v, out), MLP, two LayerNorms.
    let blockCounts = [
      4 * width * width + 4 * width, 2 * width * config.mlpDim + config.mlpDim + width, 4 * width,
    ]
    guard add(config.patchFeatures, width), add(width), add(width), add(config.tokenCount, width),
          add(config.layerCount, blockCounts.reduce(0, +)), add(2, width), add(width + 1, config.classCount)
    else { return nil }
    for dim in config.adapterDims {
      guard let dim else { continue }
      guard add(2, width), add(2 * width + 1, dim), add(width) else { return nil }
    }
    return total
  }

  private static func verifyChecksum(_ file: SafeTensorsFile, path: String) throws(ModelFileError) {
    guard let expected = file.metadata(checksumKey) else {
      throw .notAModelFile(path: path, reason: "no \(checksumKey) in the metadata")
    }
    let actual = file.bytes.withUnsafeBytes { raw in
      SHA256.hash(UnsafeRawBufferPointer(rebasing: raw[file.dataStart...])).hex
    }
    guard expected.utf8.elementsEqual(actual.utf8) else {
      throw .checksumMismatch(path: path, expected: expected, actual: actual)
    }
  }

  private static func copyParameters(
    from file: SafeTensorsFile, into model: ViTModel, path: String
  ) throws(ModelFileError) {
    let parameters = model.namedParameters()
    for parameter in parameters {
      guard let tensor = file.tensor(named: parameter.name) else {
        throw .parameterMismatch(path: path, reason: "parameter \(parameter.name) is missing")
      }
      guard tensor.shape == parameter.value.shape.dims else {
        throw .parameterMismatch(
          path: path,
          reason: "parameter \(parameter.name) has shape \(tensor.shape), "
            + "expected \(parameter.value.shape.dims)")
      }
      file.copyValues(of: tensor, into: parameter.value.buffer)
    }
    if file.tensors.count != parameters.count {
      let names = parameters.map(\.name)
      let extra = file.tensors.first { !names.contains($0.name) }?.name ?? "?"
      throw .parameterMismatch(path: path, reason: "tensor \(extra) is not a parameter of the model")
    }
  }

  /// Feeds the little-endian bytes of `values` to `hasher` (the bytes the file holds).
  private static func hashLittleEndian(_ values: UnsafeBufferPointer<Float>, into hasher: inout SHA256) {
    #if _endian(little)
    hasher.update(UnsafeRawBufferPointer(values))
    #else
    for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { hasher.update($0) } }
    #endif
  }
}

/// A model file that cannot be written or read; every case names the file.
public enum ModelFileError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The safetensors layer refused the file (structure, size, I/O); its error names the file.
  case safeTensors(path: String, SafeTensorsError)
  /// A valid safetensors file that lacks munet's metadata.
  case notAModelFile(path: String, reason: String)
  /// `munet.format` names a format this version does not read.
  case unsupportedFormat(path: String, format: String)
  /// The data section's SHA-256 differs from `munet.sha256`: the data was altered.
  case checksumMismatch(path: String, expected: String, actual: String)
  /// `munet.config` is malformed or outside ``ModelFile/ConfigLimits``.
  case invalidConfig(path: String, reason: String)
  /// The tensors do not match the configuration (missing, extra, wrong shape or count).
  case parameterMismatch(path: String, reason: String)
  /// The caller's metadata uses a key the writer sets itself.
  case reservedMetadataKey(path: String, key: String)

  /// The file the error is about.
  public var path: String {
    switch self {
    case .safeTensors(let path, _), .notAModelFile(let path, _), .unsupportedFormat(let path, _),
      .checksumMismatch(let path, _, _), .invalidConfig(let path, _), .parameterMismatch(let path, _),
      .reservedMetadataKey(let path, _):
      return path
    }
  }

  public var description: String {
    switch self {
    case .safeTensors(_, let error):
      return error.description
    case .notAModelFile(let path, let reason):
      return "\(path): not a munet model file: \(reason)"
    case .unsupportedFormat(let path, let format):
      return "\(path): model format \"\(format)\" is not supported "
        + "(this version reads \(ModelFile.formatName))"
    case .checksumMismatch(let path, let expected, let actual):
      return "\(path): data checksum mismatch (the file is corrupted): SHA-256 of the data is \(actual), "
        + "the metadata says \(expected)"
    case .invalidConfig(let path, let reason):
      return "\(path): invalid model configuration: \(reason)"
    case .parameterMismatch(let path, let reason):
      return "\(path): the tensors do not match the configuration: \(reason)"
    case .reservedMetadataKey(let path, let key):
      return "\(path): metadata key \"\(key)\" is reserved for the model file writer"
    }
  }
}
