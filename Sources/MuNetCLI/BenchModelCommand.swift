import ArgumentParser
import CMuNetSupport
import MuNetModel
import MuNetRuntime

/// `munet bench model`: time one forward+backward step of the ViT (reference configuration by
/// default) per tier, and print its parameter count and workspace size.
///
/// Each tier gets a warm-up step, then `steps` timed steps; the median and the minimum are
/// printed (milliseconds). Before timing, Tier 1's logits, loss and gradients are checked
/// against Tier 0's bit for bit.
struct BenchModelCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "model",
    abstract: "Benchmark a ViT forward+backward step (Tier 0 and Tier 1).")

  @Option(help: "reference (Tier 0), threads (Tier 1), or all (both).") var tier: String = "all"
  @Option(help: "Threads for Tier 1.") var threads = 2
  @Option(help: "Images per batch.") var batch = 64
  @Option(help: "Timed steps per tier (the median is reported).") var steps = 10
  @Option(help: "Image side in pixels.") var imageSize = ViTConfig.reference.imageSize
  @Option(help: "Patch side in pixels.") var patchSize = ViTConfig.reference.patchSize
  @Option(help: "Width D.") var width = ViTConfig.reference.width
  @Option(help: "Attention heads.") var heads = ViTConfig.reference.heads
  @Option(help: "MLP width.") var mlp = ViTConfig.reference.mlpDim
  @Option(help: "Encoder blocks.") var layers = ViTConfig.reference.layerCount

  func validate() throws {
    guard ["reference", "threads", "all"].contains(tier) else {
      throw ValidationError("--tier must be reference, threads or all")
    }
    guard threads >= 1 && threads <= ThreadPool.threadCountMax else {
      throw ValidationError("--threads must be in 1...\(ThreadPool.threadCountMax)")
    }
    guard batch >= 1 && steps >= 1 else { throw ValidationError("--batch and --steps must be positive") }
  }

  func run() throws {
    let config = ViTConfig(
      imageSize: imageSize, patchSize: patchSize, channels: 1, width: width, heads: heads, mlpDim: mlp,
      layerCount: layers, classCount: 10)
    let model = try ViTModel(config: config, initKey: StreamKey(seed: 0))
    // A non-zero head, so that the Tier 1 = Tier 0 check compares non-zero gradients (the
    // work is the same with the zero-initialised head).
    for index in 0..<model.head.parameters.values[0].elementCount {
      model.head.parameters.values[0].base[index] = Float(index % 7) * 0.01 - 0.03
    }
    let workspace = try ViTWorkspace(config: config, batchCapacity: batch)
    let imageShape = Shape(batch, imageSize, imageSize, 1)
    var plan = ArenaPlan()
    plan.reserve(imageShape)
    let arena = Arena(name: "bench-images", plan: plan)
    let images = try arena.allocate(imageShape)
    var stream = StreamKey(seed: 1).child("bench-images").stream
    for index in 0..<images.elementCount { images.base[index] = 2 * stream.nextFloat() - 1 }
    let labels = (0..<batch).map { Int32($0 % 10) }

    print("munet bench model (\(MuNetBuild.configuration)): \(config)")
    print("parameters \(model.parameterCount), batch \(batch), workspace "
          + "\(workspace.plannedBytes / 1_000_000) MB, \(steps) timed steps after 1 warm-up")
    var computes: [Compute] = []
    if tier != "threads" { computes.append(Compute(tier: .reference)) }
    if tier != "reference" { computes.append(Compute(tier: .threads, threadCount: threads)) }
    var results: [[UInt32]] = []
    for compute in computes {
      let (times, loss) = labels.withUnsafeBufferPointer { labelBuffer in
        measure(workspace, model, images, labelBuffer, compute)
      }
      results.append([UInt32(truncatingIfNeeded: loss.bitPattern)] + gradientBits(model))
      let sorted = times.sorted()
      let median = sorted[sorted.count / 2]
      print("\(compute.gemmEngine.name): forward+backward median \(format(median)) ms, "
            + "min \(format(sorted[0])) ms, loss \(loss)")
    }
    if results.count == 2 {
      print("Tier 1 gradients and loss equal Tier 0 bit for bit: \(results[0] == results[1])")
    }
  }

  private func measure(
    _ workspace: ViTWorkspace, _ model: ViTModel, _ images: Tensor, _ labels: UnsafeBufferPointer<Int32>,
    _ compute: Compute
  ) -> ([Double], Double) {
    var loss = workspace.lossAndGradients(model, images: images, labels: labels, compute: compute)
    var times: [Double] = []
    for _ in 0..<steps {
      let start = munet_monotonic_ns()
      loss = workspace.lossAndGradients(model, images: images, labels: labels, compute: compute)
      times.append(Double(munet_monotonic_ns() - start) / 1e6)
    }
    return (times, loss)
  }

  private func gradientBits(_ model: ViTModel) -> [UInt32] {
    model.namedParameters().flatMap { parameter in
      (0..<parameter.value.elementCount).map { parameter.gradient!.base[$0].bitPattern }
    }
  }

  private func format(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
  }
}
