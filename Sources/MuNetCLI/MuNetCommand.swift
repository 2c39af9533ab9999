import ArgumentParser

/// The `munet` command line. Each subcommand lives in its own file.
public struct MuNetCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "munet",
    abstract: "A deterministic µ2Net-style evolutionary multitask engine.",
    subcommands: [
      TrainCommand.self, DataCommand.self, CheckNumericsCommand.self, CheckMathCommand.self,
      BenchCommand.self,
    ],
    // Until `munet evolve` exists, no arguments runs the numerics self-check.
    defaultSubcommand: CheckNumericsCommand.self
  )

  public init() {}
}
