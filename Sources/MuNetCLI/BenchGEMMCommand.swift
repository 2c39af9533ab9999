import ArgumentParser
import CMuNetSupport
import Foundation
import MuNetBLAS
import MuNetRuntime

/// `munet bench gemm`: GFLOP/s of the Tier 0/1 kernel against OpenBLAS on the ViT's shapes.
///
/// All engines are measured interleaved (rep 1 of every engine, then rep 2, ...) in one run,
/// because absolute speeds on shared machines drift; the ratios are the numbers to trust.
/// Before timing, each shape is checked: Tier 1 must equal Tier 0 bit for bit and OpenBLAS
/// must be within ``GEMMBound`` of Tier 0.
struct BenchGEMMCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gemm",
    abstract: "Benchmark matrix products: Tier 0, Tier 1 and OpenBLAS (GFLOP/s, medians).")

  @Option(help: "Shapes as MxKxN, optionally with :at / :bt when a or b is a transposed view.")
  var shapes: [String] = [
    "3136x64x192", "3136x256x64", "64x3136x64:at", "64x3136x64", "3136x64x64", "512x512x512",
  ]

  @Option(help: "Timed repetitions per engine and shape (the median is reported).")
  var reps = 7

  @Option(help: "Threads for Tier 1 and the multi-threaded OpenBLAS column.")
  var threads = 2

  @Option(help: "Minimum duration of one timed sample, in milliseconds.")
  var sampleMilliseconds = 50.0

  @Option(help: ArgumentHelp(
    "Pause before each engine's sample, in milliseconds, so the previous engine's threads park.",
    discussion: """
      OpenBLAS workers busy-wait for about 2^28 cycles (~75 ms) after each call; without a \
      pause they hold the second core while the next engine is being timed.
      """))
  var settleMilliseconds = 100.0

  @Flag(help: "Print one JSON object as the last line.")
  var json = false

  func validate() throws {
    guard reps >= 1 else { throw ValidationError("--reps must be at least 1") }
    guard threads >= 1 && threads <= ThreadPool.threadCountMax else {
      throw ValidationError("--threads must be in 1...\(ThreadPool.threadCountMax)")
    }
    for spec in shapes where BenchShape(parsing: spec) == nil {
      throw ValidationError("bad shape '\(spec)': expected MxKxN[:at][:bt]")
    }
  }

  func run() throws {
    let pool = ThreadPool(threadCount: threads)
    let engines: [any GEMMEngine] = [
      ReferenceGEMM(), ThreadedGEMM(pool: pool),
      OpenBLASGEMM(threads: 1), OpenBLASGEMM(threads: threads),
    ]
    print("munet bench gemm (\(MuNetBuild.configuration)), \(reps) reps, engines: "
          + engines.map(\.name).joined(separator: ", "))
    print("OpenBLAS: \(MuNetBLASInfo.config)")
    if let forced = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] {
      print("note: OPENBLAS_CORETYPE=\(forced) in the environment chose OpenBLAS's kernels; "
            + "without it OpenBLAS picks them for this CPU itself")
    }
    var results: [BenchGEMMResult] = []
    let table = BenchGEMMTable(threads: threads)
    table.printHeader()
    for spec in shapes {
      let shape = BenchShape(parsing: spec)!
      let result = measure(shape, engines: engines)
      table.printRow(result)
      results.append(result)
    }
    if json { try printJSON(results, engines: engines) }
  }

  private func measure(_ shape: BenchShape, engines: [any GEMMEngine]) -> BenchGEMMResult {
    let operands = BenchOperands(shape)
    defer { operands.release() }
    let check = operands.check(engines: engines)
    let samples = BenchTimer.interleaved(
      engines: engines, reps: reps, sampleNanoseconds: sampleMilliseconds * 1e6,
      settleNanoseconds: settleMilliseconds * 1e6, flopsPerCall: shape.flops
    ) { engine in
      engine.gemm(operands.a, operands.b, operands.c, accumulate: false)
    }
    let medians = samples.map(BenchTimer.median)
    return BenchGEMMResult(
      shape: shape.label, tier0: medians[0], tier1: medians[1], blas1: medians[2],
      blasThreads: medians[3], check: check)
  }

  private func printJSON(_ results: [BenchGEMMResult], engines: [any GEMMEngine]) throws {
    let report = BenchGEMMReport(
      command: "bench gemm", configuration: MuNetBuild.configuration, reps: reps, threads: threads,
      engines: engines.map(\.name), openblasConfig: MuNetBLASInfo.config, shapes: results)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    print(String(decoding: try encoder.encode(report), as: UTF8.self))
  }
}

/// One benchmark shape: `a` is `m × k`, `b` is `k × n`, either possibly a transposed view.
struct BenchShape {
  var m: Int
  var k: Int
  var n: Int
  var aTransposed: Bool
  var bTransposed: Bool
  var label: String

  init?(parsing spec: String) {
    let parts = spec.split(separator: ":")
    let extents = parts.first?.split(separator: "x").compactMap { Int($0) } ?? []
    guard extents.count == 3, extents.allSatisfy({ $0 >= 1 }) else { return nil }
    let flags = Set(parts.dropFirst().map(String.init))
    guard flags.isSubset(of: ["at", "bt"]) else { return nil }
    (m, k, n) = (extents[0], extents[1], extents[2])
    aTransposed = flags.contains("at")
    bTransposed = flags.contains("bt")
    label = spec
  }

  var flops: Double { 2 * Double(m) * Double(k) * Double(n) }
}

/// The buffers of one shape, filled with a fixed pseudo-random pattern in [-1, 1).
struct BenchOperands {
  let a: Matrix
  let b: Matrix
  let c: Matrix

  init(_ shape: BenchShape) {
    a = BenchOperands.matrix(rows: shape.m, cols: shape.k, transposed: shape.aTransposed, seed: 1)
    b = BenchOperands.matrix(rows: shape.k, cols: shape.n, transposed: shape.bTransposed, seed: 2)
    c = BenchOperands.matrix(rows: shape.m, cols: shape.n, transposed: false, seed: 3)
  }

  private static func matrix(rows: Int, cols: Int, transposed: Bool, seed: UInt64) -> Matrix {
    let count = rows * cols
    let base = UnsafeMutablePointer<Float>.allocate(capacity: count)
    var state = seed &* 0x9E37_79B9_7F4A_7C15
    for index in 0..<count {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      base[index] = Float(Int32(truncatingIfNeeded: state >> 32)) * 0x1p-31
    }
    if transposed { return Matrix(base: base, rows: cols, cols: rows).transposed }
    return Matrix(base: base, rows: rows, cols: cols)
  }

  func release() {
    a.base.deallocate()
    b.base.deallocate()
    c.base.deallocate()
  }

  struct Check {
    var tier1BitwiseEqual: Bool
    var blasBoundRatio: Double
    var blasBoundPassed: Bool
    /// Measured, never promised: OpenBLAS on 1 thread and on `threads` gave the same bits.
    var blasThreadsBitwiseEqual: Bool
  }

  /// Tier 1 against Tier 0 bitwise; every OpenBLAS engine against Tier 0 within the bound.
  func check(engines: [any GEMMEngine]) -> Check {
    // Engine order: Tier 0, Tier 1, OpenBLAS 1 thread, OpenBLAS `threads`.
    var outputs = engines.map { engine -> [Float] in
      engine.gemm(a, b, c, accumulate: false)
      return (0..<c.rows * c.cols).map { c.base[$0] }
    }
    let bits = outputs.map { $0.map(\.bitPattern) }
    var ratio = 0.0
    var passed = true
    var referenceValues = outputs[0]
    referenceValues.withUnsafeMutableBufferPointer { referenceBuffer in
      let reference = Matrix(base: referenceBuffer.baseAddress!, rows: c.rows, cols: c.cols)
      for index in 2..<outputs.count {
        outputs[index].withUnsafeMutableBufferPointer { buffer in
          let candidate = Matrix(base: buffer.baseAddress!, rows: c.rows, cols: c.cols)
          let report = GEMMBound.check(a, b, cOld: nil, candidate: candidate, reference: reference)
          ratio = max(ratio, report.maxBoundRatio)
          passed = passed && report.passed
        }
      }
    }
    return Check(
      tier1BitwiseEqual: bits[1] == bits[0], blasBoundRatio: ratio, blasBoundPassed: passed,
      blasThreadsBitwiseEqual: bits[2] == bits[3])
  }
}

enum BenchTimer {
  /// GFLOP/s samples per engine: `reps` rounds, each timing every engine once in turn.
  static func interleaved(
    engines: [any GEMMEngine], reps: Int, sampleNanoseconds: Double, settleNanoseconds: Double,
    flopsPerCall: Double, _ call: (any GEMMEngine) -> Void
  ) -> [[Double]] {
    let callsPerSample = engines.map { engine -> Int in
      call(engine)  // warm-up: packing buffers, OpenBLAS threads, caches
      let start = munet_monotonic_ns()
      call(engine)
      let elapsed = Double(max(1, munet_monotonic_ns() - start))
      return max(1, Int((sampleNanoseconds / elapsed).rounded(.up)))
    }
    var samples = Array(repeating: [Double](), count: engines.count)
    for _ in 0..<reps {
      for (index, engine) in engines.enumerated() {
        settle(nanoseconds: settleNanoseconds)
        let start = munet_monotonic_ns()
        for _ in 0..<callsPerSample[index] { call(engine) }
        let elapsed = Double(max(1, munet_monotonic_ns() - start))
        samples[index].append(flopsPerCall * Double(callsPerSample[index]) / elapsed)
      }
    }
    return samples
  }

  /// Sleeps, so that threads still spinning after the previous engine's calls park.
  static func settle(nanoseconds: Double) {
    guard nanoseconds > 0 else { return }
    var request = timespec(
      tv_sec: Int(nanoseconds / 1e9), tv_nsec: Int(nanoseconds.truncatingRemainder(dividingBy: 1e9)))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 { request = remaining }
  }

  static func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
  }
}

struct BenchGEMMResult: Codable {
  var shape: String
  /// GFLOP/s medians.
  var tier0: Double
  var tier1: Double
  var blas1: Double
  var blasThreads: Double
  var tier0OverBlas1: Double
  var tier1OverBlasThreads: Double
  var tier1BitwiseEqual: Bool
  var blasBoundRatio: Double
  var blasBoundPassed: Bool
  var blasThreadsBitwiseEqual: Bool

  init(
    shape: String, tier0: Double, tier1: Double, blas1: Double, blasThreads: Double,
    check: BenchOperands.Check
  ) {
    self.shape = shape
    self.tier0 = tier0
    self.tier1 = tier1
    self.blas1 = blas1
    self.blasThreads = blasThreads
    tier0OverBlas1 = tier0 / blas1
    tier1OverBlasThreads = tier1 / blasThreads
    tier1BitwiseEqual = check.tier1BitwiseEqual
    blasBoundRatio = check.blasBoundRatio
    blasBoundPassed = check.blasBoundPassed
    blasThreadsBitwiseEqual = check.blasThreadsBitwiseEqual
  }
}

struct BenchGEMMReport: Codable {
  var command: String
  var configuration: String
  var reps: Int
  var threads: Int
  var engines: [String]
  var openblasConfig: String
  /// GFLOP/s per shape.
  var shapes: [BenchGEMMResult]
}

/// The human-readable table.
struct BenchGEMMTable {
  let threads: Int

  func printHeader() {
    let columns = [
      "shape".padding(toLength: 16, withPad: " ", startingAt: 0),
      "tier0", "tier1(\(threads))", "blas(1)", "blas(\(threads))", "t0/b1", "t1/b\(threads)", "check",
    ]
    print(columns.enumerated().map { $0 == 0 ? $1 : pad($1, 10) }.joined())
  }

  func printRow(_ r: BenchGEMMResult) {
    let check = (r.tier1BitwiseEqual ? "t1==t0" : "T1!=T0")
      + (r.blasBoundPassed ? " bound ok " : " BOUND FAIL ") + String(format: "(%.3f)", r.blasBoundRatio)
      + (r.blasThreadsBitwiseEqual ? " b1==b\(threads)" : " b1!=b\(threads)")
    let cells = [
      String(format: "%.1f", r.tier0), String(format: "%.1f", r.tier1),
      String(format: "%.1f", r.blas1), String(format: "%.1f", r.blasThreads),
      String(format: "%.2f", r.tier0OverBlas1), String(format: "%.2f", r.tier1OverBlasThreads),
    ]
    print(r.shape.padding(toLength: 16, withPad: " ", startingAt: 0)
          + cells.map { pad($0, 10) }.joined() + "  " + check)
  }

  private func pad(_ text: String, _ width: Int) -> String {
    String(repeating: " ", count: max(0, width - text.count)) + text
  }
}
