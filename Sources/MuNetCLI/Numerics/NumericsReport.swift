import CMuNetSupport
import Foundation
import MuNetRuntime

/// Everything one check-numerics run found (printed as the `--json` line).
struct NumericsReport: Codable {
  var command = "check-numerics"
  var configuration: String
  var quick: Bool
  var tier1Threads: [Int]
  var tier2Threads: [Int]
  var environment: NumericsEnvironment
  /// The main thread's floating-point probes again after every kernel ran (a library could
  /// have changed the thread's rounding or flush settings).
  var floatingPointAfter: FloatingPointProbe.Outcome
  var cases: [NumericsCaseResult]
  var golden: GoldenComparison
  var violations: [String]
  /// No violation.
  var passed: Bool
  var elapsedSeconds: Double

  /// Environment, case, golden and after-run violations, in that order.
  static func collectViolations(
    environment: NumericsEnvironment, after: FloatingPointProbe.Outcome, cases: [NumericsCaseResult],
    golden: GoldenComparison
  ) -> [String] {
    var afterEnvironment = environment
    afterEnvironment.floatingPoint = after
    let afterViolations = afterEnvironment.violations.map { "after running the kernels: " + $0 }
    return environment.violations + cases.flatMap(\.violations) + golden.violations + afterViolations
  }
}

/// The whole check, without printing: what `munet check-numerics` runs and the tests call.
enum NumericsCheck {
  /// Runs the environment probes, every case (`onCase` is called after each), the golden
  /// comparison and the after-run probes.
  static func run(
    quick: Bool, threadsMax: Int, golden: GoldenFile,
    onEnvironment: (NumericsEnvironment) -> Void = { _ in },
    onCase: (NumericsCaseResult) -> Void = { _ in }
  ) -> NumericsReport {
    let start = munet_monotonic_ns()
    let environment = NumericsEnvironment.probe(threads: threadsMax)
    onEnvironment(environment)
    let engines = NumericsEngines(threadsMax: threadsMax)
    var results: [NumericsCaseResult] = []
    for numericsCase in NumericsCatalog.cases(quick: quick) {
      let result = NumericsRunner.run(numericsCase, engines: engines)
      onCase(result)
      results.append(result)
    }
    let comparison = GoldenDigests.compare(GoldenDigests.compute(), with: golden)
    let after = FloatingPointProbe().run()
    let violations = NumericsReport.collectViolations(
      environment: environment, after: after, cases: results, golden: comparison)
    return NumericsReport(
      configuration: MuNetBuild.configuration, quick: quick, tier1Threads: engines.tier1Threads,
      tier2Threads: engines.tier2Threads, environment: environment, floatingPointAfter: after,
      cases: results, golden: comparison, violations: violations, passed: violations.isEmpty,
      elapsedSeconds: Double(munet_monotonic_ns() - start) / 1e9)
  }
}

/// Number formats of the table.
enum NumericsFormat {
  /// `0`, `inf`, or 2 significant digits in scientific notation.
  static func error(_ value: Double) -> String {
    if value == 0 { return "0" }
    if !value.isFinite { return value.isNaN ? "nan" : "inf" }
    return String(format: "%.1e", value)
  }

  static func ratio(_ value: Double) -> String {
    value.isFinite ? String(format: "%.3f", value) : "inf"
  }

  static func yesNo(_ value: Bool?) -> String {
    guard let value else { return "-" }
    return value ? "yes" : "no"
  }
}

/// The aligned table of check-numerics.
struct NumericsTable {
  static let columns: [(title: String, width: Int)] = [
    ("op", 18), ("shape", 20), ("T1 bitwise", 16), ("T1 max|err|", 12), ("T2 max|err|", 12),
    ("T2 bound", 9), ("T2 1v2", 7), ("T2 rep", 7), ("ms", 8), ("status", 6),
  ]

  static func line(_ cells: [String]) -> String {
    var text = ""
    for (index, cell) in cells.enumerated() {
      let width = columns[index].width
      let isLeft = index < 3 || index == cells.count - 1
      let padding = String(repeating: " ", count: max(0, width - cell.count))
      text += index == 0 ? "" : " "
      text += isLeft ? cell + padding : padding + cell
    }
    while text.hasSuffix(" ") { text.removeLast() }
    return text
  }

  static var header: String { line(columns.map(\.title)) }

  static func row(_ result: NumericsCaseResult) -> String {
    let threads = result.tier1Threads.map(String.init).joined(separator: ",")
    let tier1 = result.tier1MismatchedThreads.isEmpty
      ? "yes " + threads
      : "NO " + result.tier1MismatchedThreads.map(String.init).joined(separator: ",")
    let bound = result.tier2BoundRatio.map(NumericsFormat.ratio) ?? "-"
    return line([
      result.op, result.shape, tier1, NumericsFormat.error(result.tier1MaxAbsoluteError),
      NumericsFormat.error(result.tier2MaxAbsoluteError), bound,
      NumericsFormat.yesNo(result.tier2ThreadCountsBitwiseEqual),
      NumericsFormat.yesNo(result.tier2RepeatsBitwiseEqual),
      String(format: "%.0f", result.elapsedMilliseconds), result.passed ? "ok" : "FAIL",
    ])
  }

  /// The environment block printed above the table.
  static func environmentLines(_ environment: NumericsEnvironment, tier1Threads: [Int]) -> [String] {
    let floatingPoint = environment.floatingPoint
    return [
      "build:        \(environment.configuration), engine compiled for \(environment.cpuLevel)",
      "cpu:          AVX2+FMA \(environment.cpuHasAVX2FMA ? "yes" : "no"), "
        + "AVX-512 \(environment.cpuHasAVX512 ? "yes" : "no")",
      "openblas:     core \(environment.openblasCore), version \(environment.openblasVersion)",
      "              \(environment.openblasConfig)",
      "subnormals:   " + (floatingPoint.subnormalsPreserved
        ? "kept (no FTZ/DAZ) on \(environment.probedThreads) threads" : "FLUSHED"),
      "rounding:     "
        + (floatingPoint.roundingNearestEven ? "to nearest, ties to even" : "NOT nearest-even"),
      "tier 1:       threads " + tier1Threads.map(String.init).joined(separator: ",")
        + " (GEMM also with every product split); tier 2: OpenBLAS, threads "
        + NumericsEngines.tier2ThreadCounts.map(String.init).joined(separator: ",") + ", each run twice",
    ]
  }
}
