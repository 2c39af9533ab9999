import ArgumentParser
@testable import MuNetCLI
import MuNetRuntime
import Testing

/// The reduced check, end to end in this (debug) build: no violation, every tier compared.
@Test func quickCheckHasNoViolation() throws {
  let golden = try GoldenDigests.load(repositoryGoldenPath)
  let report = NumericsCheck.run(quick: true, threadsMax: 7, golden: golden)
  #expect(report.violations == [])
  // Copied out first: `#expect(report.passed)` would print the whole report when it fails.
  let passed = report.passed
  #expect(passed, "see the violations above")
  #expect(report.tier1Threads == [1, 2, 3, 4, 7])
  #expect(report.tier2Threads == [1, 2])
  #expect(report.cases.count == NumericsCatalog.quickCases.count)
  #expect(report.cases.allSatisfy { $0.tier1Threads == [1, 2, 3, 4, 7] && $0.tier2Threads == [1, 2] })
  // OpenBLAS really was compared: some products differ from Tier 0, all within the bound.
  let products = report.cases.filter { $0.kind == .gemm }
  #expect(products.contains { $0.tier2MaxAbsoluteError > 0 })
  #expect(products.allSatisfy { ($0.tier2BoundRatio ?? 2) <= 1 })
  #expect(report.golden.matched == report.golden.total)
}

@Test func threadsMaxLimitsAndExtendsTier1ThreadCounts() {
  #expect(NumericsEngines.tier1Threads(threadsMax: 7) == [1, 2, 3, 4, 7])
  #expect(NumericsEngines.tier1Threads(threadsMax: 3) == [1, 2, 3])
  #expect(NumericsEngines.tier1Threads(threadsMax: 5) == [1, 2, 3, 4, 5])
  #expect(NumericsEngines.tier1Threads(threadsMax: 8) == [1, 2, 3, 4, 7, 8])
}

/// Real Tier 0 outputs of a small case, and the runs of a check where every tier agreed.
private func agreeingRuns(
  _ numericsCase: NumericsCase
) -> (prepared: PreparedNumericsCase, reference: NumericsOutput, tier1: [Tier1Run], tier2: [Tier2Run]) {
  let prepared = numericsCase.prepare()
  let reference = prepared.run(Compute(tier: .reference))
  let tier1 = [1, 2, 3].map { Tier1Run(threads: $0, variant: "default", output: reference) }
  let tier2 = [1, 2].map { Tier2Run(threads: $0, first: reference, second: reference) }
  return (prepared, reference, tier1, tier2)
}

private func evaluate(
  _ numericsCase: NumericsCase, _ prepared: PreparedNumericsCase, _ reference: NumericsOutput,
  _ tier1: [Tier1Run], _ tier2: [Tier2Run]
) -> NumericsCaseResult {
  NumericsEvaluation.evaluate(
    op: numericsCase.op, shape: numericsCase.shape, kind: numericsCase.kind, reference: reference,
    tier1: tier1, tier2: tier2, boundCheck: prepared.boundCheck)
}

@Test func agreeingTiersPass() {
  let numericsCase = RowOpCases.softmaxForward(rows: 7, cols: 13)
  let (prepared, reference, tier1, tier2) = agreeingRuns(numericsCase)
  let result = evaluate(numericsCase, prepared, reference, tier1, tier2)
  #expect(result.passed)
  #expect(result.tier1Threads == [1, 2, 3] && result.tier1MismatchedThreads == [])
  #expect(result.tier2BitwiseEqualTier0 && result.tier2ThreadCountsBitwiseEqual == true)
}

@Test func aPlantedTier1DifferenceIsAViolation() {
  let numericsCase = RowOpCases.softmaxForward(rows: 7, cols: 13)
  var (prepared, reference, tier1, tier2) = agreeingRuns(numericsCase)
  var perturbed = reference
  perturbed.floats[40] = flippedLastBit(perturbed.floats[40])
  tier1[2] = Tier1Run(threads: 3, variant: "default", output: perturbed)
  let result = evaluate(numericsCase, prepared, reference, tier1, tier2)
  #expect(!result.passed)
  #expect(result.tier1MismatchedThreads == [3])
  #expect(result.tier1MaxAbsoluteError == Double(reference.floats[40].ulp))
  #expect(result.violations.count == 1)
  #expect(result.violations.first?.contains("Tier 1 (3 threads, default) is not bitwise equal") == true)
  #expect(NumericsTable.row(result).contains("NO 3"))
}

@Test func aPlantedUnwrittenTier1OutputIsAViolation() {
  // A tier that skips an output leaves the sentinel NaN there; NaN != value is an error of +inf.
  let numericsCase = RowOpCases.layerNormForward(rows: 7, cols: 13)
  var (prepared, reference, tier1, tier2) = agreeingRuns(numericsCase)
  var unwritten = reference
  unwritten.floats[0] = NumericsInputs.sentinel
  tier1[0] = Tier1Run(threads: 1, variant: "default", output: unwritten)
  let result = evaluate(numericsCase, prepared, reference, tier1, tier2)
  #expect(result.tier1MismatchedThreads == [1])
  #expect(result.tier1MaxAbsoluteError == .infinity)
}

@Test func aTier2DifferenceInADeterministicKernelIsAViolation() {
  let numericsCase = RowOpCases.crossEntropyBackward(rows: 7, cols: 13)
  var (prepared, reference, tier1, tier2) = agreeingRuns(numericsCase)
  var perturbed = reference
  perturbed.doubles[0] = perturbed.doubles[0].nextUp  // the mean loss
  tier2[1] = Tier2Run(threads: 2, first: perturbed, second: perturbed)
  let result = evaluate(numericsCase, prepared, reference, tier1, tier2)
  #expect(result.violations.count == 1)
  #expect(result.violations.first?.contains("Tier 2 (2 threads) is not bitwise equal") == true)
  #expect(!result.tier2BitwiseEqualTier0)
}

@Test func aTier2ProductOutsideTheBoundIsAViolation() {
  let numericsCase = GEMMCases.gemm(op: "gemm NN", m: 7, k: 13, n: 5, a: .dense, b: .dense)
  var (prepared, reference, tier1, tier2) = agreeingRuns(numericsCase)
  var perturbed = reference
  perturbed.floats[3] += 0.5  // far beyond (k + 2)·ε·Σ|a||b| ≈ 1e-5
  tier2[0] = Tier2Run(threads: 1, first: perturbed, second: perturbed)
  let result = evaluate(numericsCase, prepared, reference, tier1, tier2)
  #expect(result.violations.count == 1)
  #expect(result.violations.first?.contains("Tier 2 (1 thread) outside the GEMM bound in 1 of 35") == true)
  #expect((result.tier2BoundRatio ?? 0) > 1)
}

@Test func aTier2ProductWithinTheBoundPassesEvenAcrossThreadCounts() {
  // OpenBLAS promises no bits: a 1-ulp difference between thread counts and between repeats is
  // reported, never a violation.
  let numericsCase = GEMMCases.gemm(op: "gemm TN acc", m: 7, k: 13, n: 5, a: .transposed, b: .dense,
                                    accumulate: true)
  var (prepared, reference, tier1, tier2) = agreeingRuns(numericsCase)
  var nudged = reference
  nudged.floats[9] = flippedLastBit(nudged.floats[9])
  tier2[1] = Tier2Run(threads: 2, first: nudged, second: reference)
  let result = evaluate(numericsCase, prepared, reference, tier1, tier2)
  #expect(result.passed)
  #expect(result.tier2ThreadCountsBitwiseEqual == false)
  #expect(!result.tier2RepeatsBitwiseEqual)
  #expect((result.tier2BoundRatio ?? 0) > 0 && (result.tier2BoundRatio ?? 2) <= 1)
}

@Test func aTier2WriteOutsideTheOutputViewIsAViolation() {
  let numericsCase = GEMMCases.gemm(op: "gemm strided", m: 7, k: 13, n: 5, a: .strided, b: .block,
                                    c: .strided)
  var (prepared, reference, tier1, tier2) = agreeingRuns(numericsCase)
  var stray = reference
  stray.floats[7 * 5] = 0  // the first storage element after the view's values: padding
  tier2[0] = Tier2Run(threads: 1, first: stray, second: stray)
  let result = evaluate(numericsCase, prepared, reference, tier1, tier2)
  #expect(result.violations == ["gemm strided 7x13·13x5: Tier 2 (1 thread) wrote outside the output view"])
}

@Test func munetWithoutArgumentsRunsTheEvolveDemo() throws {
  let command = try MuNetCommand.parseAsRoot([])
  #expect(command is EvolveCommand)
  #expect((command as? EvolveCommand)?.config == nil)
  #expect(try MuNetCommand.parseAsRoot(["bench", "kernels"]) is BenchKernelsCommand)
  #expect(throws: (any Error).self) { try MuNetCommand.parseAsRoot(["bench-kernels"]) }
}
