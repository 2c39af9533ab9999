import ArgumentParser
import CMuNetSupport
import MuNetBLAS
import MuNetModel
import MuNetRuntime

/// `munet bench model`: time one forward+backward step of the ViT (reference configuration by
/// default) per tier, and print its parameter count and workspace size.
///
/// Each tier gets a warm-up step, then `steps` timed steps; the median and the minimum are
/// printed (milliseconds). Tier 1's loss and gradients are then compared with Tier 0's bit for
/// bit; Tier 2's (OpenBLAS) by their largest difference relative to the largest gradient.
struct BenchModelCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "model",
    abstract: "Benchmark a ViT forward+backward step (Tier 0 and Tier 1).")

  @Option(help: "reference (Tier 0), threads (Tier 1), blas (Tier 2), or all.") var tier: String = "all"
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
    guard ["reference", "threads", "blas", "all"].contains(tier) else {
      throw ValidationError("--tier must be reference, threads, blas or all")
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
    if tier == "reference" || tier == "all" { computes.append(Compute(tier: .reference)) }
    if tier == "threads" || tier == "all" { computes.append(Compute(tier: .threads, threadCount: threads)) }
    if tier == "blas" || tier == "all" { computes.append(Compute.blas(threads: threads)) }
    var tier0: (loss: Double, gradients: [Float])?
    for compute in computes {
      let (times, loss) = labels.withUnsafeBufferPointer { labelBuffer in
        measure(workspace, model, images, labelBuffer, compute)
      }
      let sorted = times.sorted()
      let median = sorted[sorted.count / 2]
      print("\(compute.tier): \(compute.gemmEngine.name): forward+backward median \(format(median)) ms, "
            + "min \(format(sorted[0])) ms, loss \(loss)")
      let gradients = allGradients(model)
      if let tier0 {
        if compute.tier == .threads {
          let equal = loss.bitPattern == tier0.loss.bitPattern
            && zip(gradients, tier0.gradients).allSatisfy { $0.bitPattern == $1.bitPattern }
          print("  loss and gradients equal Tier 0 bit for bit: \(equal)")
        } else {
          let scale = tier0.gradients.reduce(Float(0)) { max($0, abs($1)) }
          let difference = zip(gradients, tier0.gradients).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
          print("  largest gradient difference from Tier 0: \(difference / scale) of the largest gradient")
        }
      } else if compute.tier == .reference {
        tier0 = (loss, gradients)
      }
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

  private func allGradients(_ model: ViTModel) -> [Float] {
    model.namedParameters().flatMap { parameter in
      (0..<parameter.value.elementCount).map { parameter.gradient!.base[$0] }
    }
  }

  private func format(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
  }
}
