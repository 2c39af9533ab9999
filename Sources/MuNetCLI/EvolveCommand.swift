import ArgumentParser
import CMuNetSupport
import MuNetData
import MuNetEvolution
import MuNetRuntime
import MuNetStorage
import MuNetTraining

/// `munet evolve`: runs (or resumes, or continues) a µ2Net evolution and prints the leaderboard.
struct EvolveCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "evolve",
    abstract: "Evolve a multitask system (µ2Net); resumes an interrupted run when run again.",
    discussion: """
      With no arguments, runs the bundled demo (fixtures/configs/demo.json: three small tasks from \
      fixtures/, a few minutes on 2 cores) into runs/demo-seed0. Running the same command again \
      resumes an interrupted run from its last committed generation, bit-identical to a run that \
      was never interrupted. --from continues a finished system with the tasks of --config \
      (new tasks, or old ones to revisit) into --out; the source directory is only read.
      """)

  @Option(help: "Run configuration (JSON; spec/algorithm.md). Default: the bundled demo.") var config: String?
  @Option(help: "System directory to write (default: runs/<config name>-seed<seed>).") var out: String?
  @Option(name: .customLong("from"), help: "Continue this finished system directory.") var from: String?
  @Option(help: "Seed of every random stream (overrides the configuration's).") var seed: UInt64?
  @OptionGroup var tierOptions: TierOptions
  @Option(help: "With --tier threads: split the threads over whole children (children) or inside each child's kernels (kernels). Same bits either way.")
  var parallel = "children"
  @Flag(help: "One line per child instead of a live progress line.") var quiet = false

  func validate() throws {
    guard ["children", "kernels"].contains(parallel) else {
      throw ValidationError("--parallel must be children or kernels, not '\(parallel)'")
    }
  }

  func run() throws {
    let configPath = try config ?? Self.bundledConfig("demo.json")
    var evolution = try EvolutionConfig.load(path: configPath)
    if let seed { evolution.seed = seed }
    let directory = out ?? "runs/\(Self.stem(configPath))-seed\(evolution.seed)"
    let compute = tierOptions.makeCompute()
    let runFacts = JSONObject([
      ("tier", .string(tierOptions.tier)), ("threads", .integer(Int64(tierOptions.threads))),
      ("munet_version", .string(MuNetBuild.version)), ("build", .string(MuNetBuild.configuration)),
    ])
    let (state, store, resumed) = try SystemBuilder.prepare(
      config: evolution, directory: directory, from: from, run: runFacts)
    print("munet evolve: \(configPath) seed \(evolution.seed) -> \(directory)"
          + (resumed ? " (resuming)" : "") + (from.map { " continuing \($0)" } ?? ""))
    print("tasks: \(evolution.tasks.map(\.name).joined(separator: ", ")); \(evolution.rounds) rounds × "
          + "\(evolution.generations) generations × \(evolution.childrenPerGeneration) children; "
          + "compute \(compute.tier) (\(compute.gemmEngine.name)), build \(MuNetBuild.configuration)")
    munet_install_interrupt_message(
      "\nmunet evolve: interrupted. Everything committed is kept; run the same command again to resume.\n")
    let observer = EvolveProgress(directory: directory, quiet: quiet)
    if state.cursor.finished {
      print("the run in \(directory) is already complete")
    } else {
      let evolver = Evolver(config: evolution, state: state, store: store, compute: compute)
      evolver.observer = observer
      evolver.trainsChildrenInParallel = parallel == "children" && compute.tier == .threads && compute.threadCount > 1
      observer.isParallel = evolver.trainsChildrenInParallel
      try evolver.run()
      observer.finish()
    }
    print("")
    print(Report.leaderboard(state: state, config: evolution), terminator: "")
    print("digest \(SystemDigest.system(state: state, store: store, config: evolution))")
  }

  /// `fixtures/configs/NAME` of the repository munet runs from.
  static func bundledConfig(_ name: String) throws -> String {
    let root = DataLocations.repositoryRoot() ?? "."
    let path = root + "/fixtures/configs/" + name
    guard FileSystemAccess.exists(path) else {
      throw ValidationError("the bundled configuration \(path) is missing; pass --config")
    }
    return path
  }

  static func stem(_ path: String) -> String {
    var name = Substring(path.split(separator: "/").last ?? "run")
    if name.hasSuffix(".json") { name = name.dropLast(5) }
    return String(name)
  }
}

/// The evolve command's display and telemetry (reads the clock: presentation only).
final class EvolveProgress: EvolutionObserver {
  let directory: String
  let quiet: Bool
  let isTerminal = munet_stdout_is_terminal() != 0
  let start = munet_monotonic_ns()
  private var childStart: UInt64 = 0
  /// Training time of each child of the current generation, by child index; with children
  /// trained in parallel, only the generation's time, under index 0.
  private var trainSeconds: [Int: Double] = [:]
  /// True when the generation's children trained together (their time is the generation's).
  private var generationTimed = false
  private var lastPrint: UInt64 = 0
  private var steps = 0
  private var label = ""
  private var telemetry: [UInt8]

  /// True when children train in parallel (then only generation times are known).
  var isParallel = false

  init(directory: String, quiet: Bool) {
    self.directory = directory
    self.quiet = quiet
    telemetry = (try? readFile(directory + "/" + SystemStore.telemetryName, limitBytes: 1 << 28)) ?? []
  }

  private var seconds: Double { Double(munet_monotonic_ns() - start) / 1e9 }

  func taskStarted(round: Int, task: String, seeds: Int, population: Int) {
    clearLine()
    print("round \(round + 1) task \(task): \(seeds) seeds, population \(population)")
    record(["event": "task_start", "task": .string(task), "round": .integer(Int64(round))])
  }

  func childStarted(round: Int, task: String, generation: Int, plan: ChildPlan, steps: Int) {
    if plan.index == 0 { generationTimed = false }
    if plan.index == 0 || !isParallel { childStart = munet_monotonic_ns() }
    self.steps = steps
    label = Self.label(generation: generation, plan: plan)
  }

  static func label(generation: Int, plan: ChildPlan) -> String {
    "  g\(generation) c\(plan.index) parent \(plan.parentID) (\(plan.parentVia))"
  }

  func trainingStep(_ progress: TrainingProgress) {
    guard isTerminal, !quiet else { return }
    let now = munet_monotonic_ns()
    guard now - lastPrint > 200_000_000 else { return }
    lastPrint = now
    print("\r\u{1B}[K\(label) step \(progress.step)/\(steps) loss \(String(format2: progress.loss))", terminator: "")
    munet_flush_stdout()
  }

  func childTrained(outcome: ChildOutcome, trainedAlone: Bool) {
    let now = munet_monotonic_ns()
    if trainedAlone {
      trainSeconds[outcome.plan.index] = Double(now - childStart) / 1e9
      childStart = now
    } else if outcome.plan.index == 0 {
      // Children trained together: only the generation's time is known; shown on its first child.
      trainSeconds[0] = Double(now - childStart) / 1e9
      generationTimed = true
    }
  }

  func childFinished(round: Int, task: String, generation: Int, outcome: ChildOutcome) {
    clearLine()
    let childSeconds = trainSeconds.removeValue(forKey: outcome.plan.index)
    let best = outcome.result.best.map { "val \(String(format2: 100 * $0.accuracy))%" } ?? "no validation kept"
    let status = outcome.result.diverged ? "diverged" : outcome.kept ? "kept as path \(outcome.pathID!)" : "rejected"
    let mutations = outcome.plan.mutations.isEmpty ? "" : " [\(outcome.plan.mutations.joined(separator: ", "))]"
    let time = childSeconds.map { " \(String(format2: $0)) s" + (generationTimed ? " (generation)" : "") } ?? ""
    print("\(Self.label(generation: generation, plan: outcome.plan)): \(best), \(status)\(mutations)\(time)")
    munet_flush_stdout()
    record([
      "event": "child", "task": .string(task), "round": .integer(Int64(round)),
      "generation": .integer(Int64(generation)), "child": .integer(Int64(outcome.plan.index)),
      "train_seconds": childSeconds.map { .number(JSONDecimal($0)!) } ?? .null,
      "steps": .integer(Int64(outcome.result.stepsRun)),
    ])
  }

  func taskEnded(round: Int, task: String, best: EvolutionPath, state: SystemState) {
    clearLine()
    let validation = best.validation.map { String(format2: 100 * $0.accuracy) + "%" } ?? "-"
    let test = best.test.map { String(format2: 100 * $0.accuracy) + "%" } ?? "-"
    print("  task \(task) keeps path \(best.id): validation \(validation), test \(test), "
          + "\(state.parameterCount(of: best)) parameters")
    record(["event": "task_end", "task": .string(task), "round": .integer(Int64(round))])
  }

  func committed(cursor: Cursor) {
    try? AtomicFile.write(telemetry, to: directory + "/" + SystemStore.telemetryName)
  }

  func finish() {
    clearLine()
    print("evolution done in \(String(format2: seconds)) s")
  }

  private func clearLine() {
    if isTerminal && !quiet { print("\r\u{1B}[K", terminator: "") }
  }

  private func record(_ value: JSONValue) {
    var entry = value.objectValue ?? JSONObject()
    entry.set("wall_seconds", .number(JSONDecimal(seconds)!))
    telemetry.append(contentsOf: JSONValue.object(entry).canonicalBytes)
    telemetry.append(0x0A)
  }
}
