import ArgumentParser

/// The `munet` command line. Each subcommand lives in its own file.
public struct MuNetCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "munet",
    abstract: "A deterministic µ2Net-style evolutionary multitask engine.",
    subcommands: [
      EvolveCommand.self, DigestCommand.self, VerifyCommand.self, DiffCommand.self, ReportCommand.self,
      EvalCommand.self, PredictCommand.self, TrainCommand.self, DataCommand.self, CheckNumericsCommand.self,
      CheckMathCommand.self, BenchCommand.self, CLIReferenceCommand.self, FuzzCommand.self,
    ],
    // No arguments: the bundled evolution demo.
    defaultSubcommand: EvolveCommand.self
  )

  public init() {}

  /// Parses the command line and runs the command, after installing the fault injection the
  /// environment asks for (``FaultInjection``: `MUNET_FAULT_KILL_AT_WRITE`, `MUNET_FAULT_LOG`).
  public static func main() {
    FaultInjection.installFromEnvironment()
    main(nil)
  }
}
