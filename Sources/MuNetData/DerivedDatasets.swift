import MuNetRuntime

// Derived continual-learning tasks (spec/data.md, "Derived tasks"): `BASE/rotated:DEG`,
// `BASE/permuted:K` and `BASE/split:CLASSES`, chained left to right. The transforms run once, at
// load time, on the stored pixels of every split, so the pipeline (``TaskData``) sees an ordinary
// ``Dataset`` and needs to know nothing about them.

/// One transform of a derived dataset name.
public enum DatasetTransform: Sendable, Equatable {
  /// Every image rotated counter-clockwise (as displayed, row 0 at the top) by `degrees`
  /// (-360...360) about its centre: bilinear sampling, stored value 0 outside the image.
  case rotated(degrees: Int)
  /// The pixel positions of every image permuted by the permutation of key `key`
  /// (``DerivedDatasets/pixelPermutation(key:shape:)``), the same for every split.
  case permuted(key: UInt64)
  /// Only the examples of `classes`, relabelled 0..<classes.count in the listed order.
  case split(classes: [Int])
}

/// A dataset name with transforms: a base dataset (a registered name or a path) followed by
/// `/`-separated parts `rotated:DEG`, `permuted:K` or `split:CLASSES`, applied in order.
public struct DerivedDatasetName: Sendable, Equatable {
  /// One part of the name: its text (e.g. `rotated:45`) and what it does.
  public struct Step: Sendable, Equatable {
    /// The part as written in the name.
    public let text: String
    /// The transform it names.
    public let transform: DatasetTransform
  }

  /// The whole name, as given.
  public let name: String
  /// The base dataset: a registered name or a path.
  public let base: String
  /// The transforms, in the order they apply.
  public let steps: [Step]

  /// Splits `name` into a base and its transform parts, or returns nil when `name` has no
  /// transform parts (an ordinary name or path).
  ///
  /// Rule, with `name` cut at every `/` into components: when `name` itself is a dataset
  /// (`isDataset`: a registered name or an existing file or folder), or no component after the
  /// first contains a `:`, it is not derived (so a mistyped path is reported as a missing
  /// dataset). Otherwise the base is the longest proper prefix of whole components that is a
  /// dataset, and every later component must be a transform. When no prefix is a dataset, the
  /// base ends before the first component (after the first) that contains a `:`, and loading
  /// that base reports what is wrong with it.
  /// Throws ``DataProblem/badDerivedName(part:reason:)`` for an unknown or malformed part.
  public static func parse(
    _ name: String, isDataset: (String) -> Bool
  ) throws(DataError) -> DerivedDatasetName? {
    if isDataset(name) { return nil }
    let components = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    guard components.dropFirst().contains(where: { $0.contains(":") }) else { return nil }
    var baseEnd: Int?
    for end in stride(from: components.count - 1, through: 1, by: -1)
    where isDataset(components[..<end].joined(separator: "/")) {
      baseEnd = end
      break
    }
    if baseEnd == nil { baseEnd = (1..<components.count).first { components[$0].contains(":") } }
    guard let baseEnd else { return nil }
    var steps: [Step] = []
    for text in components[baseEnd...] {
      steps.append(Step(text: text, transform: try DerivedDatasets.parseStep(text, name: name)))
    }
    return DerivedDatasetName(
      name: name, base: components[..<baseEnd].joined(separator: "/"), steps: steps)
  }

  /// `base` (the loaded base dataset) with every step applied in order. Each step's splits are
  /// named by the base and the parts so far, so the result is named ``name``.
  public func apply(to base: DatasetSplits) throws(DataError) -> DatasetSplits {
    var splits = base
    var stepName = self.base
    for step in steps {
      stepName += "/" + step.text
      splits = try DerivedDatasets.apply(
        step.transform, to: splits, part: step.text, stepName: stepName, wholeName: name)
    }
    return splits
  }
}

/// The derived-task transforms: parsing, rotation, pixel permutation and class splits.
public enum DerivedDatasets {
  /// The transform names a part may start with.
  public static let transformNames = ["rotated", "permuted", "split"]
  /// The largest |DEG| of `rotated:DEG`.
  public static let degreesMax = 360

  // MARK: Parsing

  /// The transform named by one part (`rotated:45`, `permuted:3`, `split:0-1`, `split:0,1,5-7`)
  /// of the dataset name `name`. Numbers must be written plainly (no sign on positive numbers,
  /// no leading zeros), so one task has exactly one name.
  public static func parseStep(_ part: String, name: String) throws(DataError) -> DatasetTransform {
    func bad(_ reason: String) -> DataError {
      DataError(file: name, problem: .badDerivedName(part: part, reason: reason))
    }
    guard let colon = part.firstIndex(of: ":") else {
      throw bad("not a transform; after the base dataset every part must be NAME:ARGUMENT")
    }
    let kind = String(part[..<colon])
    let argument = String(part[part.index(after: colon)...])
    switch kind {
    case "rotated":
      guard let degrees = plainInteger(argument), (-degreesMax...degreesMax).contains(degrees) else {
        throw bad("the angle must be an integer number of degrees in -360...360, e.g. rotated:45")
      }
      return .rotated(degrees: degrees)
    case "permuted":
      guard let key = plainUnsigned(argument) else {
        throw bad("the permutation key must be an integer ≥ 0 (below 2^64), e.g. permuted:1")
      }
      return .permuted(key: key)
    case "split":
      return .split(classes: try parseClasses(argument, bad: bad))
    default:
      throw bad("unknown transform '\(kind)' (known: \(transformNames.joined(separator: ", ")))")
    }
  }

  /// `A-B` (A < B, both included) or a comma list of classes and such ranges; at least two
  /// classes, none twice, each below ``LoadLimits/classCountMax`` of the standard limits.
  private static func parseClasses(
    _ argument: String, bad: (String) -> DataError
  ) throws(DataError) -> [Int] {
    let syntax = "the classes must be A-B (A < B) or a comma list such as 0,1 or 0-2,5"
    let classLimit = LoadLimits.standard.classCountMax
    var classes: [Int] = []
    var listed = [Bool](repeating: false, count: classLimit)
    for item in argument.split(separator: ",", omittingEmptySubsequences: false) {
      let bounds = item.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
      guard bounds.count <= 2, let low = plainUnsigned(bounds[0]), let high = plainUnsigned(bounds.last!)
      else { throw bad(syntax) }
      guard high < UInt64(classLimit) else { throw bad("class \(high) is not below \(classLimit)") }
      guard bounds.count == 1 || low < high else { throw bad(syntax + "; '\(item)' is not A < B") }
      for label in Int(low)...Int(high) {
        guard !listed[label] else { throw bad("class \(label) is listed twice") }
        listed[label] = true
        classes.append(label)
      }
    }
    guard classes.count >= 2 else { throw bad("a split needs at least two classes; " + syntax) }
    return classes
  }

  /// `text` as an Int if it is written plainly: an optional "-", then digits without leading
  /// zeros ("0" itself is fine, "-0" is not).
  private static func plainInteger(_ text: String) -> Int? {
    guard text.count <= 18, let value = Int(text), String(value) == text else { return nil }
    return value
  }

  /// `text` as a UInt64 if it is plain digits without leading zeros.
  private static func plainUnsigned(_ text: String) -> UInt64? {
    guard let value = UInt64(text), String(value) == text else { return nil }
    return value
  }

  // MARK: Applying

  /// `splits` with `transform` applied to each of train, validation and test. `part` is the
  /// transform's text, `stepName` the name of the result and `wholeName` the full derived name
  /// (for errors).
  public static func apply(
    _ transform: DatasetTransform, to splits: DatasetSplits, part: String, stepName: String,
    wholeName: String
  ) throws(DataError) -> DatasetSplits {
    let base = splits.train.metadata
    let metadata = DatasetMetadata(
      name: stepName, source: base.source + ", then " + part, files: base.files,
      pixelMaximum: base.pixelMaximum)
    let each: (Dataset) -> Dataset
    switch transform {
    case .rotated(let degrees):
      let samples = rotationSamples(shape: splits.shape, degrees: degrees)
      each = { rotated($0, samples: samples, metadata: metadata) }
    case .permuted(let key):
      let permutation = pixelPermutation(key: key, shape: splits.shape)
      each = { permuted($0, permutation: permutation, metadata: metadata) }
    case .split(let classes):
      if let label = classes.max(), label >= splits.classCount {
        throw DataError(
          file: wholeName,
          problem: .badDerivedName(
            part: part,
            reason: "class \(label) does not exist: the base has \(splits.classCount) classes, "
              + "0...\(splits.classCount - 1)"))
      }
      each = { classSplit($0, classes: classes, metadata: metadata) }
    }
    let result = DatasetSplits(
      train: each(splits.train), validation: each(splits.validation), test: each(splits.test),
      policy: splits.policy)
    let named = [("train", result.train), ("validation", result.validation), ("test", result.test)]
    for (splitName, dataset) in named where dataset.count == 0 {
      throw DataError(
        file: wholeName,
        problem: .badDerivedName(part: part, reason: "leaves the \(splitName) split without examples"))
    }
    return result
  }

  // MARK: Rotation

  /// π/180 in `Double`.
  static let radiansPerDegree = Double.pi / 180

  /// (cos θ, sin θ) for θ = `degrees`° as munet defines them (spec/data.md, "Derived tasks"):
  /// with d = degrees mod 360 in 0..<360, q = d / 90 (integer division) and r = d mod 90,
  ///
  ///     (c, s) = (1, 0)                                             when r = 0
  ///            = (Elementary.cos(ρ(r)), Elementary.cos(ρ(90 - r)))  otherwise,
  ///     ρ(n)   = Float(Double(n) × (π / 180 in Double))
  ///
  /// i.e. sin r° = cos (90 − r)°, then q quarter turns (c, s) → (−s, c), which are exact. So
  /// multiples of 90° give exactly 0 and ±1, and 45° gives c == s.
  public static func rotationCosineSine(degrees: Int) -> (cosine: Float, sine: Float) {
    let reduced = (degrees % 360 + 360) % 360
    let remainder = reduced % 90
    var cosine: Float = 1
    var sine: Float = 0
    if remainder != 0 {
      cosine = Elementary.cos(Float(Double(remainder) * radiansPerDegree))
      sine = Elementary.cos(Float(Double(90 - remainder) * radiansPerDegree))
    }
    for _ in 0..<(reduced / 90) { (cosine, sine) = (-sine, cosine) }
    return (cosine, sine)
  }

  /// Where one output pixel of a rotation samples its input: the pixel positions
  /// (y × width + x) of its four neighbours, -1 for a neighbour outside the image, and the
  /// bilinear weights.
  public struct RotationSample: Sendable, Equatable {
    /// Position of (⌊y⌋, ⌊x⌋), or -1.
    public var topLeft: Int
    /// Position of (⌊y⌋, ⌊x⌋ + 1), or -1.
    public var topRight: Int
    /// Position of (⌊y⌋ + 1, ⌊x⌋), or -1.
    public var bottomLeft: Int
    /// Position of (⌊y⌋ + 1, ⌊x⌋ + 1), or -1.
    public var bottomRight: Int
    /// x − ⌊x⌋.
    public var xFraction: Float
    /// y − ⌊y⌋.
    public var yFraction: Float
  }

  /// The sample of every output pixel (row-major) of a rotation by `degrees`, the same for every
  /// image of `shape`. With (c, s) = ``rotationCosineSine(degrees:)``, centre
  /// cx = Float(width − 1) / 2, cy = Float(height − 1) / 2, and for output pixel (y, x),
  /// in `Float`, each operation rounded on its own:
  ///
  ///     dx = Float(x) − cx,  dy = Float(y) − cy
  ///     sourceX = cx + (c × dx − s × dy)
  ///     sourceY = cy + (s × dx + c × dy)
  ///
  /// (the inverse rotation: the content turns counter-clockwise as displayed for positive angles).
  public static func rotationSamples(shape: ImageShape, degrees: Int) -> [RotationSample] {
    let (c, s) = rotationCosineSine(degrees: degrees)
    let (height, width) = (shape.height, shape.width)
    let centreX = Float(width - 1) / 2
    let centreY = Float(height - 1) / 2
    func position(_ y: Int, _ x: Int) -> Int {
      y >= 0 && y < height && x >= 0 && x < width ? y * width + x : -1
    }
    var samples: [RotationSample] = []
    samples.reserveCapacity(height * width)
    for y in 0..<height {
      for x in 0..<width {
        let dx = Float(x) - centreX
        let dy = Float(y) - centreY
        let sourceX = centreX + (c * dx - s * dy)
        let sourceY = centreY + (s * dx + c * dy)
        let floorX = sourceX.rounded(.down)
        let floorY = sourceY.rounded(.down)
        let (left, top) = (Int(floorX), Int(floorY))
        samples.append(
          RotationSample(
            topLeft: position(top, left), topRight: position(top, left + 1),
            bottomLeft: position(top + 1, left), bottomRight: position(top + 1, left + 1),
            xFraction: sourceX - floorX, yFraction: sourceY - floorY))
      }
    }
    return samples
  }

  /// `dataset` with every image resampled through `samples` (``rotationSamples(shape:degrees:)``).
  /// Per output value, channel by channel, with v(p) the stored value at position p (0 when
  /// p = -1) as a `Float`:
  ///
  ///     top    = v(topLeft) + (v(topRight) − v(topLeft)) × xFraction
  ///     bottom = v(bottomLeft) + (v(bottomRight) − v(bottomLeft)) × xFraction
  ///     value  = top + (bottom − top) × yFraction
  ///
  /// (the ``BilinearResize`` formula). Float pixels keep `value`; uint8 pixels store
  /// `value.rounded(.toNearestOrEven)` clamped to 0...255.
  public static func rotated(
    _ dataset: Dataset, samples: [RotationSample], metadata: DatasetMetadata
  ) -> Dataset {
    let shape = dataset.shape
    precondition(samples.count == shape.height * shape.width, "DerivedDatasets.rotated: wrong sample count")
    let pixels: ImagePixels
    switch dataset.pixels {
    case .uint8(let values):
      pixels = .uint8(
        resampled(values, examples: dataset.examples, shape: shape, samples: samples, read: { Float($0) }) {
          UInt8(min(max($0.rounded(.toNearestOrEven), 0), 255))
        })
    case .float(let values):
      pixels = .float(
        resampled(values, examples: dataset.examples, shape: shape, samples: samples, read: { $0 }) { $0 })
    }
    return Dataset(
      metadata: metadata, shape: shape, classCount: dataset.classCount, pixels: pixels,
      labels: labels(of: dataset))
  }

  private static func resampled<Value>(
    _ values: [Value], examples: Range<Int>, shape: ImageShape, samples: [RotationSample],
    read: (Value) -> Float, write: (Float) -> Value
  ) -> [Value] {
    let elements = shape.elementCount
    let channels = shape.channels
    var output: [Value] = []
    output.reserveCapacity(examples.count * elements)
    for example in examples {
      let start = example * elements
      for sample in samples {
        for channel in 0..<channels {
          func value(_ position: Int) -> Float {
            position < 0 ? 0 : read(values[start + position * channels + channel])
          }
          let topLeft = value(sample.topLeft)
          let bottomLeft = value(sample.bottomLeft)
          let top = topLeft + (value(sample.topRight) - topLeft) * sample.xFraction
          let bottom = bottomLeft + (value(sample.bottomRight) - bottomLeft) * sample.xFraction
          output.append(write(top + (bottom - top) * sample.yFraction))
        }
      }
    }
    return output
  }

  // MARK: Permutation

  /// The pixel permutation of `permuted:key` for images of `shape`: a Fisher–Yates shuffle
  /// (``RandomStream/shuffle(_:)``) of 0..<height × width drawn from the stream
  /// `StreamKey(seed: key).child("permuted-pixels").child("height", height).child("width", width)`.
  /// Output position p (y × width + x) takes input position `permutation[p]`, all channels
  /// together. Key 0 is a permutation like any other (the unpermuted task is the base itself).
  public static func pixelPermutation(key: UInt64, shape: ImageShape) -> [Int] {
    var stream = StreamKey(seed: key).child("permuted-pixels").child("height", shape.height)
      .child("width", shape.width).stream
    var permutation = Array(0..<(shape.height * shape.width))
    stream.shuffle(&permutation)
    return permutation
  }

  /// `dataset` with output position p of every image taken from input position `permutation[p]`.
  public static func permuted(_ dataset: Dataset, permutation: [Int], metadata: DatasetMetadata) -> Dataset {
    let shape = dataset.shape
    precondition(permutation.count == shape.height * shape.width, "DerivedDatasets.permuted: wrong size")
    func apply<Value>(_ values: [Value]) -> [Value] {
      let elements = shape.elementCount
      let channels = shape.channels
      var output: [Value] = []
      output.reserveCapacity(dataset.count * elements)
      for example in dataset.examples {
        let start = example * elements
        for source in permutation {
          for channel in 0..<channels { output.append(values[start + source * channels + channel]) }
        }
      }
      return output
    }
    let pixels: ImagePixels
    switch dataset.pixels {
    case .uint8(let values): pixels = .uint8(apply(values))
    case .float(let values): pixels = .float(apply(values))
    }
    return Dataset(
      metadata: metadata, shape: shape, classCount: dataset.classCount, pixels: pixels,
      labels: labels(of: dataset))
  }

  // MARK: Class split

  /// The examples of `dataset` whose label is in `classes`, in their order, with label
  /// `classes[i]` replaced by i; the class count becomes `classes.count`. Every class must be
  /// below the dataset's class count, none listed twice.
  public static func classSplit(_ dataset: Dataset, classes: [Int], metadata: DatasetMetadata) -> Dataset {
    var newLabel = [Int32](repeating: -1, count: dataset.classCount)
    for (index, label) in classes.enumerated() {
      precondition(label >= 0 && label < dataset.classCount, "classSplit: class \(label) out of range")
      precondition(newLabel[label] < 0, "classSplit: class \(label) listed twice")
      newLabel[label] = Int32(index)
    }
    let kept = dataset.examples.filter { newLabel[Int(dataset.storageLabels[$0])] >= 0 }
    func gather<Value>(_ values: [Value]) -> [Value] {
      let elements = dataset.shape.elementCount
      var output: [Value] = []
      output.reserveCapacity(kept.count * elements)
      for example in kept {
        output.append(contentsOf: values[(example * elements)..<((example + 1) * elements)])
      }
      return output
    }
    let pixels: ImagePixels
    switch dataset.pixels {
    case .uint8(let values): pixels = .uint8(gather(values))
    case .float(let values): pixels = .float(gather(values))
    }
    return Dataset(
      metadata: metadata, shape: dataset.shape, classCount: classes.count, pixels: pixels,
      labels: kept.map { newLabel[Int(dataset.storageLabels[$0])] })
  }

  private static func labels(of dataset: Dataset) -> [Int32] {
    Array(dataset.storageLabels[dataset.examples])
  }
}
