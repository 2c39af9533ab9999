import ArgumentParser
import CMuNetSupport
import MuNetRuntime

#if canImport(Glibc)
import Glibc
#endif

/// `munet bench kernels`: time the non-GEMM kernels on ViT-Ti-like shapes.
///
/// Shapes: `rows = batch × tokens` activations of width `hidden` (LayerNorm, residual add) and
/// `mlp` (bias add, GELU, bias gradient), attention probabilities `batch × heads × tokens` rows
/// of `tokens` (softmax), logits `batch × classes` (cross-entropy), and one flat buffer of
/// `parameters` floats (global-norm sum of squares). Each line is the median of `repeats` runs.
public struct BenchKernelsCommand: ParsableCommand {
  /// The subcommand's name and help.
  public static let configuration = CommandConfiguration(
    commandName: "kernels",
    abstract: "Time the non-GEMM kernels (softmax, LayerNorm, GELU, cross-entropy, reductions).")

  @Option(help: "reference (Tier 0) or threads (Tier 1).") var tier: String = "threads"
  @Option(help: "Threads for Tier 1.") var threads: Int = 2
  @Option(help: "Images per batch.") var batch: Int = 64
  @Option(help: "Tokens per image (patches + class token).") var tokens: Int = 65
  @Option(help: "Hidden width.") var hidden: Int = 192
  @Option(help: "MLP width.") var mlp: Int = 768
  @Option(help: "Attention heads.") var heads: Int = 3
  @Option(help: "Classes of the head.") var classes: Int = 10
  @Option(help: "Elements of the flat parameter buffer.") var parameters: Int = 5_500_000
  @Option(help: "Timed runs per kernel (the median is printed).") var repeats: Int = 15
  @Flag(help: """
    Time with the calling thread's CPU clock instead of the wall clock (Tier 0 only): time \
    taken by other processes on a shared machine is then not counted.
    """)
  var cpuTime = false
  @Option(help: "Only the kernels whose name contains this text (e.g. gelu, softmax).") var only: String?

  /// Required by ArgumentParser.
  public init() {}

  /// Allocates the operands in one arena and prints one timing line per kernel.
  public func run() throws {
    guard let chosen = Tier(rawValue: tier), chosen != .blas else {
      throw ValidationError("--tier must be reference or threads")
    }
    if cpuTime && chosen != .reference {
      throw ValidationError("--cpu-time needs --tier reference (it times the calling thread only)")
    }
    let compute = Compute(tier: chosen, threadCount: chosen == .reference ? 1 : threads)
    let rows = batch * tokens, attentionRows = batch * heads * tokens
    var plan = ArenaPlan()
    let shapes = [
      Shape(rows, hidden), Shape(rows, hidden), Shape(rows, hidden), Shape(rows, mlp), Shape(rows, mlp),
      Shape(rows, mlp), Shape(attentionRows, tokens), Shape(attentionRows, tokens), Shape(batch, classes),
      Shape(batch, classes), Shape(mlp), Shape(mlp), Shape(mlp), Shape(rows), Shape(rows), Shape(batch),
      Shape(parameters), Shape(attentionRows, tokens),
    ]
    for shape in shapes { plan.reserve(shape) }
    let arena = Arena(name: "bench kernels", plan: plan)
    let t = try shapes.map { try arena.allocate($0) }
    for tensor in t { fillPattern(tensor) }
    let (x, y, dy) = (t[0].matrix, t[1].matrix, t[2].matrix)
    let (hiddenMLP, outMLP, dMLP) = (t[3].matrix, t[4].matrix, t[5].matrix)
    let (scores, dScores) = (t[6].matrix, t[7].matrix)
    let (logits, dLogits) = (t[8].matrix, t[9].matrix)
    let (scale, bias, dBias) = (t[10].buffer, t[11].buffer, t[12].buffer)
    let (mean, rstd, losses, flat) = (t[13].buffer, t[14].buffer, t[15].buffer, t[16].buffer)
    let lnScale = UnsafeMutableBufferPointer(rebasing: scale[0..<hidden])
    let lnBias = UnsafeMutableBufferPointer(rebasing: bias[0..<hidden])
    let lnGradScale = UnsafeMutableBufferPointer(rebasing: dBias[0..<hidden])
    let lnGradBias = UnsafeMutableBufferPointer(rebasing: scale[hidden..<(2 * hidden)])
    let dScoresInput = t[17].matrix
    var labels = (0..<batch).map { Int32($0 % classes) }

    print("bench kernels \(compute.gemmEngine.name) \(MuNetBuild.configuration): rows \(rows)x\(hidden), "
          + "mlp \(rows)x\(mlp), attention \(attentionRows)x\(tokens), logits \(batch)x\(classes), "
          + "parameters \(parameters); median of \(repeats) (ms\(cpuTime ? ", thread CPU time" : ""))")
    time("layerNorm forward") {
      compute.layerNorm(x, scale: lnScale, bias: lnBias, into: y, mean: mean, rstd: rstd)
    }
    time("layerNorm backward") {
      compute.layerNormBackward(x, outputGradient: dy, scale: lnScale, mean: mean, rstd: rstd,
                                inputGradient: y, scaleGradient: lnGradScale, biasGradient: lnGradBias)
    }
    time("residual addInPlace") { compute.addInPlace(dy, to: y) }
    time("addBias (mlp)") { compute.addBias(hiddenMLP, bias, into: outMLP) }
    time("gelu tanh forward") { compute.gelu(hiddenMLP, into: outMLP) }
    time("gelu tanh backward") { compute.geluBackward(hiddenMLP, outputGradient: dMLP, into: outMLP) }
    time("gelu exact forward") { compute.gelu(hiddenMLP, form: .exact, into: outMLP) }
    time("gelu exact backward") {
      compute.geluBackward(hiddenMLP, outputGradient: dMLP, form: .exact, into: outMLP)
    }
    time("columnSums (mlp bias grad)") { compute.columnSums(dMLP, into: dBias) }
    time("softmax forward") { compute.softmaxRows(scores, into: dScores) }
    time("softmax backward") {
      compute.softmaxRowsBackward(outputs: dScores, outputGradient: scores, into: dScoresInput)
    }
    time("cross-entropy + grad") {
      labels.withUnsafeMutableBufferPointer { labelBuffer in
        _ = compute.softmaxCrossEntropy(logits: logits, labels: UnsafeBufferPointer(labelBuffer),
                                        losses: losses, logitsGradient: dLogits)
      }
    }
    time("sumOfSquares (parameters)") { _ = compute.sumOfSquares(flat) }
  }

  private func time(_ name: String, _ body: () -> Void) {
    if let only, !name.contains(only) { return }
    body()
    var samples: [Double] = []
    for _ in 0..<max(1, repeats) {
      let start = now()
      body()
      samples.append(Double(now() - start) / 1e6)
    }
    samples.sort()
    let median = samples[samples.count / 2]
    let label = name + String(repeating: " ", count: max(0, 28 - name.count))
    print("  \(label) \(format3(median))")
  }

  /// Nanoseconds on the wall clock, or on this thread's CPU clock with `--cpu-time`.
  private func now() -> UInt64 {
    guard cpuTime else { return UInt64(munet_monotonic_ns()) }
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
  }

  /// A fixed pseudo-random pattern in [-1, 1] (benchmark data only).
  private func fillPattern(_ tensor: Tensor) {
    for k in 0..<tensor.elementCount {
      tensor.base[k] = Float((UInt32(truncatingIfNeeded: k) &* 2_654_435_761) >> 8) / Float(1 << 23) - 1
    }
  }

  private func format3(_ value: Double) -> String {
    let scaled = (value * 1000).rounded()
    let whole = Int(scaled) / 1000, fraction = Int(scaled) % 1000
    let digits = String(fraction)
    return "\(whole)." + String(repeating: "0", count: 3 - digits.count) + digits
  }
}
