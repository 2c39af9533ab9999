import Foundation
@testable import MuNetCLI
@testable import MuNetEvolution
import MuNetRuntime
import MuNetStorage
import Testing

// `munet report`'s growth table, accuracy matrix and SVG plots: the continual-learning math on
// hand-made journal lines, then the files of the golden smoke run (golden/evolve/smoke-seed0:
// smoke.json, seed 0, replayed in-process) and of its continuation (smoke-add-seed0).

// MARK: Hand-made journal

/// A task_end line as the evolver writes it (best null: every child diverged).
private func taskEnd(_ task: String, round: Int, best: Int?, test: (Int, Int)? = nil) -> String {
  guard let best, let test else {
    return #"{"best":null,"event":"task_end","round":\#(round),"stage":0,"task":"\#(task)"}"#
  }
  return #"{"accounted_parameters":650.0,"best":\#(best),"dropped":[],"event":"task_end","#
    + #""outputs_sha256":"","parameters":650,"round":\#(round),"stage":0,"task":"\#(task)","#
    + #""test":[\#(test.0),\#(test.1)],"validation":[1,10]}"#
}

/// Three tasks over two rounds: A improves when revisited (50% → 70%), B keeps its path (30%),
/// C is revisited and keeps a worse path (50% → 35%); D never keeps a path.
private let handMadeJournal = [
  #"{"event":"task_start","population":[],"round":0,"seeds":[0],"stage":0,"task":"A"}"#,
  taskEnd("A", round: 0, best: 1, test: (50, 100)),
  taskEnd("B", round: 0, best: 2, test: (30, 100)),
  taskEnd("C", round: 0, best: 3, test: (40, 80)),
  taskEnd("D", round: 0, best: nil),
  taskEnd("A", round: 1, best: 4, test: (70, 100)),
  taskEnd("B", round: 1, best: 2, test: (30, 100)),
  taskEnd("C", round: 1, best: 5, test: (28, 80)),
]

private func parsed(_ lines: [String]) throws -> [JSONValue] { try lines.map { try JSONValue.parse($0) } }

/// Percent → fixed-point accuracy (units of 10⁻¹²).
private func points(_ percent: Int64) -> Int64 { percent * ReportFixed.one / 100 }

@Test func accuracyMatrixOfAHandMadeJournal() throws {
  let records = try ReportHistory.taskEnds(try parsed(handMadeJournal))
  #expect(records.count == 7)
  let matrix = AccuracyMatrix(taskEnds: records, tasks: ["A", "B", "C", "D"])
  #expect(matrix.steps.count == 7, "one row per task end, no start row for a first stage")
  // The diagonal (the task that ended at each step) is the recorded test result.
  for (i, record) in records.enumerated() {
    let j = try #require(matrix.tasks.firstIndex(of: record.task))
    #expect(matrix.values[i][j] == record.test)
  }
  // Earlier results are carried forward until the task is trained again.
  let c = Quality(correct: 40, count: 80)
  #expect(matrix.values.map { $0[2] } == [nil, nil, c, c, c, c, Quality(correct: 28, count: 80)])
  #expect(matrix.values.allSatisfy { $0[3] == nil }, "D never kept a path")
  #expect(matrix.firstStep(task: 0) == 0 && matrix.firstStep(task: 2) == 2)
  #expect(matrix.firstStep(task: 3) == nil)

  // Forgetting: max over earlier steps minus the last step.
  #expect(matrix.forgetting(task: 0) == 0, "A improved: its last value is its highest")
  #expect(matrix.forgetting(task: 1) == 0, "B kept its path")
  #expect(matrix.forgetting(task: 2) == points(15), "C: 50% earlier, 35% last")
  #expect(matrix.forgetting(task: 3) == nil)
  #expect(matrix.meanForgetting == points(5))
  // BWT: last minus the first time learned.
  #expect(matrix.backwardTransfer(task: 0) == points(20))
  #expect(matrix.backwardTransfer(task: 1) == 0)
  #expect(matrix.backwardTransfer(task: 2) == -points(15))
  #expect(matrix.backwardTransfer == 16_666_666_667, "(20 + 0 - 15) / 3 points, rounded half away from zero")
  #expect(matrix.averageAccuracy == points(45), "(70 + 30 + 35) / 3")

  let csv = ReportTables.accuracyMatrix(matrix).split(separator: "\n").map(String.init)
  #expect(csv.first == "task,1 A r0,2 B r0,3 C r0,4 D r0,5 A r1,6 B r1,7 C r1,forgetting,backward_transfer")
  #expect(csv[1] == "A,50.0000,50.0000,50.0000,50.0000,70.0000,70.0000,70.0000,0.0000,20.0000")
  #expect(csv[3] == "C,,,50.0000,50.0000,50.0000,50.0000,35.0000,15.0000,-15.0000")
  #expect(csv[4] == "D,,,,,,,,,")
  let section = Report.accuracySection(matrix).joined(separator: "\n")
  #expect(section.contains("| C | - | - | **50.00** | 50.00 | 50.00 | 50.00 | **35.00** | 15.00 | -15.00 |"))
  #expect(section.contains("backward transfer BWT, mean over the same tasks: 1.67 points"))
  #expect(section.contains("forgetting, mean over the 3 tasks learned before the last step: 5.00 points"))
  #expect(section.contains("outputs_sha256"), "the report says the carried values rest on the check")
}

@Test func theMatrixOfAContinuationStartsWithTheCarriedResults() throws {
  let records = [TaskEndRecord(stage: 1, round: 0, task: "C", best: 9, test: Quality(correct: 3, count: 4))]
  let matrix = AccuracyMatrix(
    taskEnds: records, tasks: ["A", "B", "C"], initial: ["A": Quality(correct: 1, count: 2)], stage: 1)
  #expect(Report.stepLabels(matrix) == ["start s1", "1 C r0"])
  #expect(matrix.values[0] == [Quality(correct: 1, count: 2), nil, nil])
  #expect(matrix.forgetting(task: 0) == 0 && matrix.backwardTransfer(task: 0) == 0)
  #expect(matrix.forgetting(task: 2) == nil, "C was first learned at the last step")
  #expect(matrix.averageAccuracy == points(125) / 2, "(50% + 75%) / 2")
}

@Test func malformedTaskEndsAreFormatErrorsNamingTheLine() throws {
  var lines = handMadeJournal
  lines[2] = lines[2].replacingOccurrences(of: "\"test\":[30,100]", with: "\"test\":[300,100]")
  #expect { _ = try ReportHistory.taskEnds(try parsed(lines)) } throws: { error in
    "\(error)".contains("journal line 3") && "\(error)".contains("correct <= count")
  }
}

@Test func fixedPointTextRoundsHalfAwayFromZero() {
  #expect(ReportFixed.accuracy(Quality(correct: 1, count: 3)) == 333_333_333_333)
  #expect(ReportFixed.accuracy(Quality(correct: 2, count: 3)) == 666_666_666_667)
  #expect(ReportFixed.accuracy(Quality(correct: 0, count: 0)) == nil)
  #expect(ReportFixed.percentText(333_333_333_333) == "33.33")
  #expect(ReportFixed.percentText(666_666_666_667) == "66.67")
  #expect(ReportFixed.percentText(ReportFixed.one) == "100.00")
  #expect(ReportFixed.percentText(-166_666_666_667) == "-16.67")
  #expect(ReportFixed.percentText(-49_999_999) == "0.00", "no sign on a value that rounds to zero")
  #expect(ReportFixed.percentText(50_000_000) == "0.01")
  #expect(ReportFixed.decimalText(-5, fractionDigits: 1, decimals: 0) == "-1")
  #expect(ReportFixed.decimalText(1234, fractionDigits: 1, decimals: 1) == "123.4")
  #expect(ReportFixed.decimalText(7, fractionDigits: 3, decimals: 3) == "0.007")
  #expect(ReportFixed.mean([1, 2]) == 2 && ReportFixed.mean([-1, -2]) == -2 && ReportFixed.mean([]) == nil)
}

// MARK: The golden run

/// The golden smoke run and its continuation, evolved once, with their reports.
private struct GoldenReport: @unchecked Sendable {
  let directory: String
  let continued: String
  let report: String
  let continuedReport: String

  static let shared: GoldenReport = {
    do { return try build() } catch { fatalError("cannot build the golden report fixture: \(error)") }
  }()

  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

  /// Runs golden/evolve/`name`.json's configuration and seed (continuing `from`) into a new
  /// directory and checks the system digest is the golden one.
  static func replay(_ name: String, from source: String?) throws -> String {
    let golden = try JSONValue.parse(try readFile(root + "/golden/evolve/\(name).json", limitBytes: 1 << 20))
    var config = try EvolutionConfig.load(path: root + "/" + (try #require(golden["config"]?.stringValue)))
    config.seed = UInt64(try #require(golden["seed"]?.integerValue))
    let directory = try makeTemporaryDirectory() + "/" + name
    let (state, store, _) = try SystemBuilder.prepare(
      config: config, directory: directory, from: source, run: JSONObject([("tier", .string("threads"))]))
    let compute = Compute(tier: .threads, threadCount: 2)
    let evolver = Evolver(config: config, state: state, store: store, compute: compute)
    evolver.trainsChildrenInParallel = true
    try evolver.run()
    let digest = SystemDigest.system(state: state, store: store, config: config)
    precondition(digest == golden["system_sha256"]?.stringValue, "\(name) no longer reproduces its digest")
    return directory
  }

  static func build() throws -> GoldenReport {
    let directory = try replay("smoke-seed0", from: nil)
    let continued = try replay("smoke-add-seed0", from: directory)
    let report = try makeTemporaryDirectory() + "/report"
    let continuedReport = try makeTemporaryDirectory() + "/report"
    _ = try ReportCommand.write(directory: directory, to: report)
    _ = try ReportCommand.write(directory: continued, to: continuedReport)
    return GoldenReport(
      directory: directory, continued: continued, report: report, continuedReport: continuedReport)
  }
}

private func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

private func journalEvents(_ directory: String, _ event: String) throws -> [JSONValue] {
  try InspectedSystem(directory: directory).store.journalEntries()
    .filter { $0["event"]?.stringValue == event }
}

private let svgNames = ["scores.svg", "parameters.svg", "sharing.svg"]
private let newNames = ["growth.csv", "accuracy-matrix.csv"] + svgNames

@Test func reportOfTheGoldenRunWritesEveryFileAndLinksThePlots() throws {
  let golden = GoldenReport.shared
  for folder in [golden.report, golden.continuedReport] {
    let names = try FileManager.default.contentsOfDirectory(atPath: folder)
    for name in ["leaderboard.md", "population.csv", "paths.csv", "components.csv"] + newNames {
      #expect(names.contains(name), "\(folder)/\(name)")
    }
    let leaderboard = try read(folder + "/leaderboard.md")
    for name in newNames { #expect(leaderboard.contains("(\(name))"), "leaderboard.md links \(name)") }
    #expect(leaderboard.contains("## Parameters as tasks were added"))
    #expect(leaderboard.contains("## Accuracy matrix"))
  }
}

@Test func growthHasOneRowPerTaskEndAndTheSystemTotals() throws {
  let golden = GoldenReport.shared
  for (directory, folder) in [(golden.directory, golden.report), (golden.continued, golden.continuedReport)] {
    let ends = try journalEvents(directory, "task_end")
    let lines = try read(folder + "/growth.csv").split(separator: "\n").map { $0.split(separator: ",",
      omittingEmptySubsequences: false).map(String.init) }
    #expect(lines[0] == [
      "step", "stage", "round", "task", "path", "parameters", "accounted_parameters", "system_parameters",
      "system_components",
    ])
    #expect(lines.count - 1 == ends.count)
    for (row, end) in zip(lines.dropFirst(), ends) {
      #expect(row[3] == end["task"]?.stringValue)
      #expect(row[4] == end["best"]?.integerValue.map { String($0) })
      #expect(row[5] == end["parameters"]?.integerValue.map { String($0) })
      #expect(row[6] == end["accounted_parameters"]?.canonicalText)
      #expect(!row[7].isEmpty && !row[8].isEmpty, "the journal determines every total of these runs")
    }
    // After the last task end the system holds exactly what the final state holds.
    let system = try InspectedSystem(directory: directory)
    let total = system.state.componentIDs.reduce(0) { $0 + system.state.component($1).parameterCount }
    #expect(lines.last?[7] == String(total))
    #expect(lines.last?[8] == String(system.state.componentIDs.count))
  }
  // In the smoke run the system grows when a task keeps a new path, and a task end that keeps
  // the same path (fashion-mini, round 1) leaves it unchanged.
  let rows = try read(golden.report + "/growth.csv").split(separator: "\n").dropFirst()
    .map { $0.split(separator: ",").map(String.init) }
  let totals = rows.map { Int($0[7])! }
  #expect(totals == totals.sorted() && totals[0] < totals[1])
  #expect(rows[3][4] == rows[1][4] && totals[3] == totals[2])
}

@Test func goldenMatrixDiagonalIsTheRecordedTestAndUnrevisitedTasksForgetNothing() throws {
  let golden = GoldenReport.shared
  let system = try InspectedSystem(directory: golden.directory)
  let history = try ReportHistory(state: system.state, journal: try system.store.journalEntries())
  let matrix = history.accuracy
  let ends = try journalEvents(golden.directory, "task_end")
  #expect(matrix.steps.count == ends.count && matrix.tasks == ["mnist-mini", "fashion-mini"])
  var bests: [String: Set<Int64>] = [:]
  for (i, end) in ends.enumerated() {
    let task = try #require(end["task"]?.stringValue)
    let pair = end["test"]?.arrayValue?.compactMap { $0.integerValue } ?? []
    let test = Quality(correct: Int(try #require(pair.first)), count: Int(try #require(pair.last)))
    #expect(matrix.values[i][matrix.tasks.firstIndex(of: task)!] == test)
    bests[task, default: []].insert(try #require(end["best"]?.integerValue))
  }
  // Every final value is the retained path's test result.
  for (j, task) in matrix.tasks.enumerated() {
    #expect(matrix.values.last?[j] == system.state.path(system.state.retainedPath(of: task)!).test)
  }
  let fashion = matrix.tasks.firstIndex(of: "fashion-mini")!
  #expect(bests["fashion-mini"]?.count == 1, "the golden run keeps fashion-mini's first path")
  #expect(matrix.forgetting(task: fashion) == 0 && matrix.backwardTransfer(task: fashion) == 0)
  let csv = try read(golden.report + "/accuracy-matrix.csv")
  #expect(csv.hasPrefix("task,1 mnist-mini r0,2 fashion-mini r0,3 mnist-mini r1,4 fashion-mini r1,"))

  // The continuation starts with the carried results of both tasks.
  let continued = try InspectedSystem(directory: golden.continued)
  let next = try ReportHistory(state: continued.state, journal: try continued.store.journalEntries()).accuracy
  #expect(Report.stepLabels(next) == ["start s1", "1 optdigits-mini r0"])
  #expect(Array(next.values[0].prefix(2)) == matrix.values.last.map { Array($0) })
  #expect(next.forgetting(task: 0) == 0 && next.forgetting(task: 1) == 0)
}

@Test func scoresFollowTheJournalsGenerations() throws {
  let golden = GoldenReport.shared
  let system = try InspectedSystem(directory: golden.directory)
  let journal = try system.store.journalEntries()
  let history = try ReportHistory(state: system.state, journal: journal)
  #expect(history.generations.count == journal.filter { $0["event"]?.stringValue == "generation" }.count)
  #expect(history.generations.map(\.index) == Array(history.generations.indices))
  // Under the default score (accuracy order) the best of the last generation of a task
  // iteration is the validation of the path the task kept.
  for end in history.taskEnds {
    let last = try #require(history.generations.last { $0.task == end.task && $0.round == end.round })
    #expect(last.bestValidation == end.validation)
  }
}

/// Checks that every tag of `text` is closed in order (self-closing tags count as closed).
private func tagsAreBalanced(_ text: String) -> Bool {
  var stack: [Substring] = []
  var rest = text[...]
  while let open = rest.firstIndex(of: "<") {
    guard let close = rest[open...].firstIndex(of: ">") else { return false }
    let tag = rest[rest.index(after: open)..<close]
    rest = rest[rest.index(after: close)...]
    if tag.hasPrefix("/") {
      guard stack.popLast() == tag.dropFirst() else { return false }
    } else if !tag.hasSuffix("/") {
      stack.append(tag.prefix { $0 != " " })
    }
  }
  return stack.isEmpty
}

@Test func svgPlotsAreWellFormedDeterministicAndNameEveryTask() throws {
  let golden = GoldenReport.shared
  let again = try makeTemporaryDirectory()
  _ = try ReportCommand.write(directory: golden.continued, to: again)
  let tasks = ["mnist-mini", "fashion-mini", "optdigits-mini"]
  for name in svgNames {
    let text = try read(golden.continuedReport + "/" + name)
    #expect(text.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""), "\(name)")
    #expect(text.hasSuffix("</svg>\n"))
    #expect(tagsAreBalanced(text), "\(name)")
    #expect(text.contains("<line") || text.contains("<polyline"), "\(name) draws something")
    let shown = name == "parameters.svg" ? ["optdigits-mini"] : tasks
    for task in shown { #expect(text.contains(task), "\(name) names \(task)") }
    let first = try Data(contentsOf: URL(fileURLWithPath: golden.continuedReport + "/" + name))
    let second = try Data(contentsOf: URL(fileURLWithPath: again + "/" + name))
    #expect(second == first, "\(name) is deterministic")
  }
  for name in svgNames {
    let text = try read(golden.report + "/" + name)
    #expect(tagsAreBalanced(text))
    for task in tasks.prefix(2) { #expect(text.contains(task), "\(name) of the first stage names \(task)") }
  }
  // The sharing graph: one edge per pair of users of a shared component, labelled with it.
  let system = try InspectedSystem(directory: golden.continued)
  let sharing = try read(golden.continuedReport + "/sharing.svg")
  for component in Report.sharedComponents(system.state) {
    #expect(sharing.contains("\(component.name) #\(component.id)"))
  }
  #expect(sharing.contains(">root</text>"))
}

@Test func svgTextIsEscaped() {
  #expect(ReportPlots.escape("a<b & \"c\" 'd'>") == "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;")
  #expect(ReportPlots.number(12.34) == "12.3" && ReportPlots.number(-0.04) == "0.0")
  #expect(ReportPlots.number(0.05) == "0.1" && ReportPlots.number(-2.25) == "-2.3")
}

@Test func aRunInProgressWithoutATaskEndStillGetsEveryFile() throws {
  var config = try EvolutionConfig.load(path: GoldenReport.root + "/fixtures/configs/smoke.json")
  config.childrenPerGeneration = 1
  let directory = try makeTemporaryDirectory() + "/system"
  let (state, store, _) = try SystemBuilder.prepare(
    config: config, directory: directory, from: nil, run: JSONObject([("tier", .string("threads"))]))
  let evolver = Evolver(config: config, state: state, store: store, compute: Compute(tier: .reference))
  evolver.stopAfterCommit = { _ in true }
  try evolver.run()
  let folder = try makeTemporaryDirectory() + "/report"
  _ = try ReportCommand.write(directory: directory, to: folder)
  let leaderboard = try read(folder + "/leaderboard.md")
  #expect(leaderboard.contains("(no task has ended yet)"))
  #expect(try read(folder + "/growth.csv").split(separator: "\n").count == 1, "the header only")
  #expect(try read(folder + "/accuracy-matrix.csv") == "task,forgetting,backward_transfer\nmnist-mini,,\n")
  for name in svgNames { #expect(tagsAreBalanced(try read(folder + "/" + name)), "\(name)") }
  #expect(try read(folder + "/scores.svg").contains("mnist-mini"), "the first generation is plotted")
}
