import ArgumentParser
import CMuNetSupport
import Foundation
import MuNetEvolution
import MuNetRuntime
import MuNetStorage

/// `munet bench evolve`: children trained per hour on a run configuration (default: the demo),
/// for each way of computing, measured side by side: the first `--task-iterations` task
/// iterations of the run (default: round 1, every task), run in turn for every mode, `--runs`
/// times, medians reported. Every mode computes the same
/// bits (the digests printed must agree).
struct BenchEvolveCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "evolve",
    abstract: "Children per hour of an evolution, per way of computing (same bits in each).")

  @Option(help: "Run configuration (default: the bundled demo).") var config: String?
  @Option(help: "Task iterations to time per run (default: every task of the first round).")
  var taskIterations: Int?
  @Option(help: "Runs per mode (the median is reported).") var runs = 3
  @Option(help: "Threads of the threaded modes.") var threads = 2
  @Flag(help: "Print one JSON object as the last line.") var json = false

  struct Mode {
    let name: String
    let compute: () -> Compute
    let parallelChildren: Bool
  }

  func validate() throws {
    guard (taskIterations ?? 1) >= 1 && runs >= 1 && threads >= 1 && threads <= ThreadPool.threadCountMax else {
      throw ValidationError("--task-iterations, --runs and --threads must be positive")
    }
  }

  func run() throws {
    let path = try config ?? EvolveCommand.bundledConfig("demo.json")
    let evolution = try EvolutionConfig.load(path: path)
    let iterations = min(taskIterations ?? evolution.tasks.count, evolution.tasks.count * evolution.rounds)
    let threadCount = threads
    let modes = [
      Mode(name: "reference (1 thread)", compute: { Compute(tier: .reference) }, parallelChildren: false),
      Mode(name: "threads, kernels (\(threadCount))", compute: { Compute(tier: .threads, threadCount: threadCount) },
           parallelChildren: false),
      Mode(name: "threads, children (\(threadCount))", compute: { Compute(tier: .threads, threadCount: threadCount) },
           parallelChildren: true),
    ]
    let children = iterations * evolution.generations * evolution.childrenPerGeneration
    print("munet bench evolve (\(MuNetBuild.configuration)): \(path), \(iterations) task iterations × "
          + "\(evolution.generations) generations × \(evolution.childrenPerGeneration) children per run, "
          + "\(runs) runs per mode")
    var seconds = [[Double]](repeating: [], count: modes.count)
    var digests = [String](repeating: "", count: modes.count)
    for _ in 0..<runs {
      for (index, mode) in modes.enumerated() {
        let (time, digest) = try timeRun(evolution, iterations: iterations, mode: mode)
        seconds[index].append(time)
        digests[index] = digest
      }
    }
    var results: [String] = []
    let baseline = median(seconds[0])
    for (index, mode) in modes.enumerated() {
      let time = median(seconds[index])
      let perHour = Double(children) * 3600 / time
      print("\(mode.name): median \(String(format2: time)) s, \(Int(perHour.rounded())) children/hour, "
            + "×\(String(format2: baseline / time)) vs reference; digest \(digests[index].prefix(16))")
      results.append("{\"children_per_hour\":\(Int(perHour.rounded())),\"mode\":\"\(mode.name)\",\"seconds\":\(String(format2: time))}")
    }
    if Set(digests).count != 1 { throw ValidationError("the modes computed different bits: \(digests)") }
    if json { print("{\"children\":\(children),\"modes\":[\(results.joined(separator: ","))]}") }
  }

  /// One timed run in a fresh temporary directory; returns seconds and the system digest.
  private func timeRun(_ evolution: EvolutionConfig, iterations: Int, mode: Mode) throws -> (Double, String) {
    let directory = NSTemporaryDirectory() + "munet-bench-evolve-" + UUID().uuidString
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let start = munet_monotonic_ns()
    let (state, store, _) = try SystemBuilder.prepare(
      config: evolution, directory: directory, from: nil, run: JSONObject([("tier", "threads")]))
    let evolver = Evolver(config: evolution, state: state, store: store, compute: mode.compute())
    evolver.trainsChildrenInParallel = mode.parallelChildren
    let taskCount = evolution.tasks.count
    evolver.stopAfterCommit = { cursor in
      cursor.finished || cursor.round * taskCount + cursor.taskIndex >= iterations
    }
    try evolver.run()
    let time = Double(munet_monotonic_ns() - start) / 1e9
    return (time, SystemDigest.system(state: state, store: store, config: evolution))
  }

  private func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
}
