import ArgumentParser
import Foundation
import MuNetRuntime

/// `munet check-numerics`: the numerics self-check an auditor runs first on a new machine.
///
/// 1. Environment: build, AVX2/FMA, OpenBLAS core and version, and probes that subnormals are
///    kept and arithmetic rounds to nearest-even on every thread.
/// 2. Every op on the ViT's shapes and edge shapes: Tier 1 (threads 1, 2, 3, 4, 7) must be
///    bitwise equal to Tier 0; Tier 2 must be within ``GEMMBound`` (products) or bitwise equal
///    (other ops). OpenBLAS's equality across thread counts and across repeats is reported.
/// 3. Golden digests: small Tier 0 cases hashed and compared with golden/kernel-digests.json,
///    the same file the debug tests compare with, so debug and release must give the same bits.
///
/// Exits with status 1 and lists every violation when anything fails.
/// `--write-golden PATH` instead (re)writes the digest file: a deliberate step, run when results
/// change on purpose.
struct CheckNumericsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check-numerics",
    abstract: "Check Tier 1 and Tier 2 against Tier 0, kernel bits against golden/, and the FP environment.")

  @Option(help: "Largest Tier 1 thread count (runs 1, 2, 3, 4, 7 up to it, and it).")
  var threadsMax = 7

  @Flag(help: "A reduced set of small shapes (seconds, even in a debug build).")
  var quick = false

  @Option(help: "The golden digest file.")
  var golden = GoldenDigests.defaultPath

  @Option(help: "Write the golden digests of this build to PATH and exit (no checks run).")
  var writeGolden: String?

  @Flag(help: "With --write-golden: replace an existing file.")
  var force = false

  @Flag(help: "Print one JSON object as the last line.")
  var json = false

  func validate() throws {
    guard threadsMax >= 1 && threadsMax <= ThreadPool.threadCountMax else {
      throw ValidationError("--threads-max must be in 1...\(ThreadPool.threadCountMax)")
    }
    if force && writeGolden == nil { throw ValidationError("--force only applies to --write-golden") }
  }

  func run() throws {
    if let path = writeGolden { return try writeGoldenFile(to: path) }
    let goldenFile = try GoldenDigests.load(golden)
    print("munet check-numerics \(MuNetBuild.version) (\(MuNetBuild.configuration)\(quick ? ", quick" : ""))")
    let report = NumericsCheck.run(
      quick: quick, threadsMax: threadsMax, golden: goldenFile,
      onEnvironment: { environment in
        let tier1 = NumericsEngines.tier1Threads(threadsMax: threadsMax)
        NumericsTable.environmentLines(environment, tier1Threads: tier1).forEach { print($0) }
        print("")
        print(NumericsTable.header)
      },
      onCase: { print(NumericsTable.row($0)) })
    printSummary(report)
    if json { try printJSON(report) }
    if !report.passed { throw ExitCode(1) }
  }

  private func printSummary(_ report: NumericsReport) {
    let golden = report.golden
    let failedCases = report.cases.filter { !$0.passed }.count
    print("")
    print("golden digests: \(golden.matched)/\(golden.total) match (build: \(report.configuration))"
          + (golden.unexpected.isEmpty ? "" : ", \(golden.unexpected.count) unknown in \(self.golden)"))
    let gemm = report.cases.filter { $0.kind == .gemm }
    let worstRatio = gemm.compactMap(\.tier2BoundRatio).max() ?? 0
    let blasThreadsEqual = gemm.filter { $0.tier2ThreadCountsBitwiseEqual == true }.count
    let blasRepeatsEqual = gemm.filter(\.tier2RepeatsBitwiseEqual).count
    print("OpenBLAS: worst bound ratio \(NumericsFormat.ratio(worstRatio)); 1 vs 2 threads bitwise equal in "
          + "\(blasThreadsEqual)/\(gemm.count) products, repeats equal in \(blasRepeatsEqual)/\(gemm.count) "
          + "(measured, not promised)")
    for violation in report.violations { print("VIOLATION: \(violation)") }
    print(String(format: "check-numerics: %@, %d cases (%d failed), %d violations, %.1f s",
                 report.passed ? "PASSED" : "FAILED", report.cases.count, failedCases,
                 report.violations.count, report.elapsedSeconds))
  }

  private func printJSON(_ report: NumericsReport) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    print(String(decoding: try encoder.encode(report), as: UTF8.self))
  }

  private func writeGoldenFile(to path: String) throws {
    let cases = GoldenDigests.cases
    let digests = GoldenDigests.compute(cases)
    try GoldenDigests.write(digests, note: GoldenDigests.note(cases), to: path, force: force)
    for (name, digest) in digests { print("\(digest)  \(name)") }
    print("wrote \(digests.count) golden digests to \(path) (build: \(MuNetBuild.configuration))")
  }
}
