import Glibc
import Synchronization

/// A fault to inject into one step of a file operation (see ``FileFaults``).
public enum FileFault: Sendable, Equatable {
  /// The step fails with `errorNumber` and does nothing, as if its system call had returned -1:
  /// a full disk (`ENOSPC`), an I/O error (`EIO`) on write or fsync, a refused rename.
  case fail(errorNumber: Int32)
  /// ``FileStep/writeTemporary`` only: the first `keptBytes` bytes reach the file and the step
  /// reports success. What a crash leaves when the storage acknowledged data it had not
  /// persisted (a lying disk cache, a torn sector): the rename then publishes a torn file.
  case tear(keptBytes: Int)
  /// ``FileStep/writeTemporary`` only: the bytes reach the file with bit `bitIndex` flipped
  /// (bit `i` is bit `i % 8` of byte `i / 8`, modulo the size) and the step reports success:
  /// silent corruption on the way to the disk.
  case flipBit(bitIndex: Int)
}

/// The fault-injection point of munet's file layer: a test and audit facility, inert unless a
/// hook is installed.
///
/// ``AtomicFile/write(_:to:)``, ``readFile(_:limitBytes:)`` and
/// ``FileSystemAccess/makeDirectory(_:)``/``FileSystemAccess/remove(_:)`` ask every installed
/// hook, before each step (``FileStep``), whether to inject a ``FileFault`` into it; the first
/// hook that answers decides. Hooks see the step and the target path and may also act (the CLI's
/// `MUNET_FAULT_KILL_AT_WRITE` hook kills the process at a chosen step, to prove that a crash at
/// any point of a commit leaves a resumable system). No hook is installed by default and the
/// engine never installs one; only the CLI (from its environment) and tests do. Hooks must
/// filter by path when other file work runs concurrently in the process (test runners run
/// suites in parallel), and must not do file work through this layer themselves.
public enum FileFaults {
  /// Decides the fault for one step of one target file (nil: no fault).
  public typealias Hook = @Sendable (_ step: FileStep, _ target: String) -> FileFault?

  private struct Registry: ~Copyable {
    var nextToken = 0
    var hooks: [(token: Int, hook: Hook)] = []
  }

  private static let registry = Mutex(Registry())

  /// Installs `hook` (after any others); keep the token to remove it.
  public static func install(_ hook: @escaping Hook) -> Int {
    registry.withLock { registry in
      registry.nextToken += 1
      registry.hooks.append((registry.nextToken, hook))
      return registry.nextToken
    }
  }

  /// Removes the hook installed with `token` (nothing when it is gone already).
  public static func remove(_ token: Int) {
    registry.withLock { registry in registry.hooks.removeAll { $0.token == token } }
  }

  /// Runs `body` with `hook` installed, and removes it afterwards (also when `body` throws).
  public static func with<Result, Failure: Error>(
    _ hook: @escaping Hook, _ body: () throws(Failure) -> Result
  ) throws(Failure) -> Result {
    let token = install(hook)
    defer { remove(token) }
    return try body()
  }

  /// The fault the installed hooks choose for `step` of `target` (nil without hooks).
  static func fault(_ step: FileStep, _ target: String) -> FileFault? {
    let hooks = registry.withLock { registry in registry.hooks.map(\.hook) }
    for hook in hooks {
      if let fault = hook(step, target) { return fault }
    }
    return nil
  }

  /// True when the hooks make `step` of `target` fail; sets `errno` to the injected error.
  static func fails(_ step: FileStep, _ target: String) -> Bool {
    guard case .fail(let errorNumber) = fault(step, target) else { return false }
    errno = errorNumber
    return true
  }
}
