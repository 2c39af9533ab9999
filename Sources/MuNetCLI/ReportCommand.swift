import ArgumentParser
import MuNetEvolution
import MuNetStorage

/// `munet report`: the leaderboard (Markdown), the µ2Net-style CSV tables, the growth and
/// accuracy-matrix tables and the SVG plots of a system.
struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report",
    abstract: "Write a system's leaderboard.md, its CSV tables and SVG plots.",
    discussion: """
      population.csv, paths.csv and components.csv follow the schema of the reference µ2Net \
      code's state files (columns task_name, id, parent_id, …, hparams.*, metrics.*, score; \
      components id, name, num_params, train_locks); see ReportTables for munet's additions \
      and differences. growth.csv has one row per task end (the kept path's parameters and \
      accounted parameters, the system's total); accuracy-matrix.csv the test accuracy of every \
      task after every task end, with forgetting and backward transfer (defined in \
      leaderboard.md). scores.svg plots each task's best validation accuracy per generation, \
      parameters.svg the parameters as tasks were added, sharing.svg which tasks share which \
      components. Everything is read from the system's state and this stage's journal; the \
      same system gives the same bytes.
      """)

  @Argument(help: "System directory (written by munet evolve).") var directory: String
  @Option(help: "Folder to write into (default: DIRECTORY/report).") var out: String?

  func run() throws {
    let folder = out ?? directory + "/report"
    for written in try Self.write(directory: directory, to: folder) { print("wrote \(written)") }
  }

  /// The report files as (name, text), in writing order.
  static func files(of system: InspectedSystem) throws -> [(name: String, text: String)] {
    let journal = try system.store.journalEntries()
    let history = try ReportHistory(state: system.state, journal: journal)
    return [
      ("leaderboard.md", leaderboard(system) + Report.historySections(history)),
      ("population.csv",
       try ReportTables.population(state: system.state, config: system.config, journal: journal)),
      ("paths.csv", try ReportTables.paths(state: system.state, config: system.config, journal: journal)),
      ("components.csv", ReportTables.components(state: system.state)),
      ("growth.csv", ReportTables.growth(history)),
      ("accuracy-matrix.csv", ReportTables.accuracyMatrix(history.accuracy)),
      ("scores.svg", ReportPlots.scores(history)),
      ("parameters.svg", ReportPlots.parameters(history)),
      ("sharing.svg", ReportPlots.sharing(state: system.state)),
    ]
  }

  /// Opens `directory`, writes every report file into `folder` (atomically) and returns their
  /// paths.
  static func write(directory: String, to folder: String) throws -> [String] {
    let system = try InspectedSystem(directory: directory)
    let files = try files(of: system)
    do { try FileSystemAccess.makeDirectory(folder) } catch {
      throw InspectionError("\(folder): cannot be created: \(error)")
    }
    var written: [String] = []
    for (name, text) in files {
      let path = folder + "/" + name
      do { try AtomicFile.write(Array(text.utf8), to: path) } catch {
        throw InspectionError("\(path): cannot be written: \(error)")
      }
      written.append(path)
    }
    return written
  }

  /// The Markdown document: where the system is in its run, its digests, the leaderboard.
  static func leaderboard(_ system: InspectedSystem) -> String {
    let state = system.state
    let config = system.config
    let cursor = state.cursor
    let progress = cursor.finished
      ? "finished (\(config.rounds) rounds)"
      : "in progress: round \(cursor.round + 1) of \(config.rounds), "
        + "task \(config.tasks[cursor.taskIndex].name), "
        + "generation \(cursor.generation) of \(config.generations)"
    var lines = [
      "# munet system \(system.directory)",
      "",
      "- tasks: \(config.tasks.map(\.name).joined(separator: ", ")); seed \(config.seed); "
        + "stage \(state.stage)",
      "- run: \(progress)",
      "- \(state.pathIDs.count) paths, \(state.componentIDs.count) components",
      "- system digest: `\(SystemDigest.system(state: state, store: system.store, config: config))`",
    ]
    for (task, id) in state.retainedPaths {
      lines.append("- task digest \(task): `\(SystemDigest.path(state.path(id), state: state))`")
    }
    lines.append("")
    return lines.joined(separator: "\n") + "\n" + Report.leaderboard(state: state, config: config)
  }
}
