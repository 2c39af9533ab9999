import ArgumentParser

/// `munet bench ...`: performance measurements. Each benchmark is a subcommand in its own file;
/// add new ones (e.g. `train-step`) to `subcommands` below.
public struct BenchCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure the speed of munet's kernels and steps.",
    subcommands: [BenchEvolveCommand.self, BenchTrainStepCommand.self, BenchGEMMCommand.self, BenchKernelsCommand.self, BenchModelCommand.self]
  )

  public init() {}
}
