import Foundation
import Synchronization
import MuNetStorage

/// Opt-in crash injection for audits (spec/audit-figures.md, scripts/crash_harness.py), read from
/// the environment by the CLI only (the engine never reads the environment):
///
/// - `MUNET_FAULT_KILL_AT_WRITE=N`: the process sends itself SIGKILL just before the N-th
///   (1-based) file-system write step: a step of an atomic write (open temporary, write, fsync,
///   close, rename, open directory, fsync directory), a directory creation or a file removal.
///   Counting starts at 1 in every process. It proves that a crash at any point of a commit
///   leaves a system that resumes to the same digest.
/// - `MUNET_FAULT_LOG=PATH`: appends one line per write step to PATH, before the step runs:
///   `<n> <step> <target>` (the step is the `FileStep` case name, e.g. `rename`). A harness reads it to learn
///   how many steps a run takes and where a kill landed. Lines are written with `write(2)` on
///   an `O_APPEND` descriptor, so they survive the SIGKILL.
///
/// Neither variable changes any result: a run that is not killed computes the same bits.
enum FaultInjection {
  static let killVariable = "MUNET_FAULT_KILL_AT_WRITE"
  static let logVariable = "MUNET_FAULT_LOG"

  /// Installs the hook the environment asks for (none when neither variable is set). Exits
  /// with a message when a variable is malformed, before any work starts.
  static func installFromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) {
    var killAt: Int?
    if let text = environment[killVariable] {
      guard let value = Int(text), value >= 1 else {
        FileHandle.standardError.write(
          Data("munet: \(killVariable) must be a positive integer, not '\(text)'\n".utf8))
        exit(64)
      }
      killAt = value
    }
    var logDescriptor: Int32?
    if let path = environment[logVariable] {
      let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
      guard descriptor >= 0 else {
        FileHandle.standardError.write(Data("munet: cannot open \(logVariable) file '\(path)'\n".utf8))
        exit(64)
      }
      logDescriptor = descriptor
    }
    guard killAt != nil || logDescriptor != nil else { return }
    let counter = WriteStepCounter(killAt: killAt, logDescriptor: logDescriptor)
    _ = FileFaults.install { step, target in
      counter.record(step, target)
      return nil
    }
  }
}

/// Counts write steps, logs them and kills the process at the chosen one.
final class WriteStepCounter: Sendable {
  let killAt: Int?
  let logDescriptor: Int32?
  private let count = Mutex(0)

  init(killAt: Int?, logDescriptor: Int32?) {
    self.killAt = killAt
    self.logDescriptor = logDescriptor
  }

  func record(_ step: FileStep, _ target: String) {
    guard step.isWrite else { return }
    let number = count.withLock { value in
      value += 1
      return value
    }
    if let logDescriptor {
      let line = "\(number) \(step) \(target)\n"
      _ = Array(line.utf8).withUnsafeBytes { write(logDescriptor, $0.baseAddress, $0.count) }
    }
    if number == killAt { kill(getpid(), SIGKILL) }
  }
}
