import ArgumentParser
import CMuNetSupport
import MuNetData
import MuNetRuntime

/// `munet data ...`: the datasets munet knows and a look at their images.
struct DataCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "data",
    abstract: "List datasets and show images (data comes from scripts/fetch-data and fixtures/).",
    subcommands: [DataListCommand.self, DataShowCommand.self, DataBenchCommand.self]
  )
}

/// `munet data list`: every registered dataset, its splits and whether its files are present.
struct DataListCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list", abstract: "List the registered datasets, their splits and whether they are present.")

  func run() throws {
    let locations = DataLocations.fromEnvironment()
    print("data directory:     \(locations.dataDirectory)  (MUNET_DATA_DIR; filled by scripts/fetch-data)")
    print("fixtures directory: \(locations.fixturesDirectory)  (MUNET_FIXTURES_DIR)")
    print("")
    let header = ["name", "present", "train", "val", "test", "classes", "image", "source"]
    var rows: [[String]] = [header]
    for dataset in DatasetRegistry.all {
      let counts = dataset.splitCounts
      rows.append([
        dataset.name, DatasetRegistry.isPresent(dataset, in: locations) ? "yes" : "no",
        String(counts.train), String(counts.validation), String(counts.test), String(dataset.classCount),
        dataset.shape.description, dataset.source,
      ])
    }
    let widths = (0..<header.count).map { column in rows.map { $0[column].count }.max() ?? 0 }
    for row in rows {
      let cells = row.enumerated().map { column, cell in
        column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
      }
      print(cells.joined(separator: "  "))
    }
    print("")
    print("Any other NAME is read as a dataset folder or file (see DatasetFiles in Sources/MuNetData).")
    print("")
    print("Derived tasks: NAME (or a path) followed by /-separated transforms, applied in order:")
    print("  NAME/rotated:DEG    every image rotated DEG degrees (-360...360) counter-clockwise, bilinear")
    print("  NAME/permuted:K     pixel positions permuted by the fixed permutation of key K (K >= 0)")
    print("  NAME/split:A-B      only classes A..B (or a list, split:0,1 or split:0-2,5), relabelled 0..n-1")
    print("  e.g. mnist/split:0-1, mnist/split:2-3/rotated:45, mnist/permuted:1")
    print("  (exact definitions: spec/data.md, Derived tasks)")
  }
}

/// `munet data show NAME`: an ASCII rendering of one image and its label.
struct DataShowCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "show", abstract: "Print one image of a dataset as ASCII art, with its label.")

  @Argument(
    help: ArgumentHelp(
      "A registered dataset name (see `munet data list`) or a dataset folder or file, optionally "
        + "with derived-task parts such as /rotated:45, /permuted:1 or /split:0-1."))
  var name: String

  @Option(help: "Example index within the split.")
  var index = 0

  @Option(help: "Split: train, validation or test.")
  var split = "train"

  @Option(help: "Show the pipeline's output at this image size instead of the stored image.")
  var imageSize: Int?

  @Flag(help: "With --image-size and the train split: apply the reference default augmentation.")
  var augment = false

  @Option(help: "Seed of the augmentation streams (with --augment).")
  var seed: UInt64 = 0

  @Option(help: "Epoch of the augmentation (with --augment).")
  var epoch = 0

  func validate() throws {
    guard ["train", "validation", "test"].contains(split) else {
      throw ValidationError("--split must be train, validation or test")
    }
    if let imageSize, imageSize < 1 || imageSize > 1024 {
      throw ValidationError("--image-size must be in 1...1024")
    }
    if augment && (imageSize == nil || split != "train") {
      throw ValidationError("--augment needs --image-size and the train split")
    }
    guard epoch >= 0 else { throw ValidationError("--epoch must be ≥ 0") }
  }

  func run() throws {
    let splits = try DatasetRegistry.load(name)
    let dataset = split == "train" ? splits.train : split == "validation" ? splits.validation : splits.test
    guard index >= 0 && index < dataset.count else {
      throw ValidationError("--index must be in 0..<\(dataset.count) for the \(split) split of \(name)")
    }
    let shape = dataset.shape
    print(
      "\(splits.name) \(split)[\(index)] of \(dataset.count): label \(dataset.label(index)), "
        + "stored \(shape), \(splits.classCount) classes, split rule: \(splits.policy)")
    if let imageSize {
      showPipeline(splits, dataset: dataset, imageSize: imageSize)
    } else {
      var scaled = [Float](repeating: 0, count: shape.elementCount)
      scaled.withUnsafeMutableBufferPointer { dataset.writeScaled(index, to: $0.baseAddress!) }
      print(AsciiImage.render(scaled, height: shape.height, width: shape.width, channels: shape.channels))
    }
  }

  private func showPipeline(_ splits: DatasetSplits, dataset: Dataset, imageSize: Int) {
    // Evaluation batches of size 1, so evaluation batch `index` is example `index`.
    let data = TaskData(
      name: splits.name, splits: splits, seed: StreamKey(seed: seed), batchSize: 1, imageSize: imageSize,
      augmentation: augment ? .referenceDefault : .none, evaluationBatchSize: 1)
    var output = [Float](repeating: 0, count: data.imageElementCount)
    var label: [Int32] = [0]
    output.withUnsafeMutableBufferPointer { images in
      if split == "train" {
        data.augmentedExample(index: index, epoch: epoch, into: images)
      } else {
        label.withUnsafeMutableBufferPointer { labels in
          let evaluation: TaskData.EvaluationSplit = split == "validation" ? .validation : .test
          data.evaluationBatch(evaluation, batch: index, images: images, labels: labels)
        }
      }
    }
    let augmentation =
      augment ? ", reference default augmentation, seed \(seed), epoch \(epoch)" : ", no augmentation"
    print("pipeline output \(imageSize)x\(imageSize)x\(data.channels)" + augmentation)
    print(AsciiImage.render(output, height: imageSize, width: imageSize, channels: data.channels))
  }
}

/// `munet data bench`: how long loading and the input pipeline take (telemetry only).
struct DataBenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench", abstract: "Time loading a dataset and producing training and evaluation batches.")

  @Argument(help: "A registered dataset name or a dataset folder or file.")
  var name = "mnist-mini"

  @Option(help: "Batch size (training and evaluation).")
  var batchSize = 512

  @Option(help: "Output image size.")
  var imageSize = 32

  @Option(help: "Training steps to time.")
  var steps = 20

  @Option(help: "Threads for the per-example work (1 = no pool).")
  var threads = 1

  func validate() throws {
    guard batchSize >= 1, imageSize >= 1, steps >= 1 else { throw ValidationError("sizes must be positive") }
    guard threads >= 1 && threads <= ThreadPool.threadCountMax else {
      throw ValidationError("--threads must be in 1...\(ThreadPool.threadCountMax)")
    }
  }

  func run() throws {
    let loadStart = munet_monotonic_ns()
    let splits = try DatasetRegistry.load(name)
    let loadSeconds = Double(munet_monotonic_ns() - loadStart) / 1e9
    print(
      "\(splits.name): loaded \(splits.train.count) / \(splits.validation.count) / \(splits.test.count) "
        + "examples in \(format(loadSeconds * 1000)) ms")
    let compute: Compute? = threads > 1 ? Compute(tier: .threads, threadCount: threads) : nil
    let data = TaskData(
      name: splits.name, splits: splits, seed: StreamKey(seed: 0), batchSize: batchSize,
      imageSize: imageSize, augmentation: .referenceDefault)
    let images = UnsafeMutableBufferPointer<Float>.allocate(capacity: batchSize * data.imageElementCount)
    let labels = UnsafeMutableBufferPointer<Int32>.allocate(capacity: batchSize)
    defer {
      images.deallocate()
      labels.deallocate()
    }
    data.trainBatch(step: 0, images: images, labels: labels, compute: compute)  // warm-up
    let trainStart = munet_monotonic_ns()
    for step in 1...steps { data.trainBatch(step: step, images: images, labels: labels, compute: compute) }
    let trainSeconds = Double(munet_monotonic_ns() - trainStart) / 1e9
    let evalStart = munet_monotonic_ns()
    var evaluated = 0
    for batch in 0..<data.evaluationBatchCount(.test) {
      evaluated += data.evaluationBatch(.test, batch: batch, images: images, labels: labels, compute: compute)
    }
    let evalSeconds = Double(munet_monotonic_ns() - evalStart) / 1e9
    let trainRate = Double(steps * batchSize) / trainSeconds
    print(
      "train (reference default augmentation, \(imageSize)x\(imageSize), B=\(batchSize), "
        + "threads \(threads)): "
        + "\(format(trainSeconds / Double(steps) * 1000)) ms/batch, \(format(trainRate)) examples/s")
    print(
      "test (no augmentation): \(evaluated) examples in \(format(evalSeconds * 1000)) ms, "
        + "\(format(Double(evaluated) / evalSeconds)) examples/s")
  }

  private func format(_ value: Double) -> String {
    let rounded = (value * 10).rounded() / 10
    return String(rounded)
  }
}

/// ASCII art of an image with values in [-1, 1] (channels averaged), two characters per pixel.
enum AsciiImage {
  static let ramp = Array(" .:-=+*#%@")

  static func render(_ values: [Float], height: Int, width: Int, channels: Int) -> String {
    var lines: [String] = []
    for y in 0..<height {
      var line = ""
      for x in 0..<width {
        var sum: Float = 0
        for channel in 0..<channels { sum += values[(y * width + x) * channels + channel] }
        let unit = min(max((sum / Float(channels) + 1) / 2, 0), 1)
        let character = ramp[min(Int(unit * Float(ramp.count)), ramp.count - 1)]
        line.append(character)
        line.append(character)
      }
      lines.append(line)
    }
    return lines.joined(separator: "\n")
  }
}
