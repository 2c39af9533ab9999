import MuNetRuntime

/// The learning-rate schedules of the reference (`Path.get_optimizer`, optax), step by step.
///
/// With `T` = ``totalSteps`` (batches between validations × validations per child) and
/// `W = int(warmupRatio · T)` (truncation toward zero of the `Double` product, as Python's
/// `int`), the learning rate at 0-based step `s` is:
/// - ``Kind/cosine``: `start + (peak − start)·s/W` for `s < W`, then
///   `peak · 0.5 · (1 + cos(π · min(s − W, T − W) / (T − W)))`, which reaches 0 at `s = T` and
///   stays there. `start = peak / warmupStartDivisor`. With `W = 0` the first step is the peak.
///   (optax `warmup_cosine_decay_schedule(start, peak, W, T)`.)
/// - ``Kind/constant``: `0.5 · peak` at every step (the same mean as the cosine).
/// - ``Kind/restarts``: ``cycles`` identical cosine schedules of length `L = T / cycles`, each
///   with its own warmup `int(warmupRatio · L)`; step `s` uses cycle `min(s / L, cycles − 1)`
///   at the local step `s − cycle · L` (optax `sgdr_schedule`).
/// - ``Kind/linear`` (µ3Net): `start + (peak − start)·s/W` for `s < W`, then
///   `peak + (start − peak) · min(s − W, T − W) / (T − W)` down to `start` at `s = T`.
///
/// muNet and µ2Net warm up from `peak / 100`; µ3Net and µ4Net from `peak / 1000`
/// (``warmupStartDivisor``).
///
/// Arithmetic: every step is computed in `Double` and rounded once to `Float` at the end, except
/// the cosine itself, which is munet's own `Elementary.cos` on `Float` (never libm) evaluated at
/// the phase `π · k / D` rounded to `Float`. That rounding makes the absolute error of the
/// cosine term about 1e-7 · peak; near the end of a decay, where the rate approaches 0, the
/// *relative* error grows, exactly as in the reference's float32 optax schedule.
public struct LearningRateSchedule: Sendable, Equatable {
  /// The schedule families of the reference (`opt_lr_schedule`).
  public enum Kind: String, Sendable, CaseIterable {
    case constant, cosine, restarts, linear
  }

  public let kind: Kind
  /// The peak learning rate (`opt_lr`).
  public let peak: Double
  /// `T`: the number of training steps of one child.
  public let totalSteps: Int
  /// `opt_lr_warmup_ratio`.
  public let warmupRatio: Double
  /// The number of cosine cycles of ``Kind/restarts`` (validations per child); 1 otherwise.
  public let cycles: Int
  /// The warmup starts at `peak / warmupStartDivisor`: 100 (muNet, µ2Net) or 1000 (µ3Net).
  public let warmupStartDivisor: Double

  /// A schedule; `cycles` matters only for ``Kind/restarts`` and must divide `totalSteps`.
  /// A cosine decay needs at least one step after the warmup (as optax requires).
  public init(
    kind: Kind, peak: Double, totalSteps: Int, warmupRatio: Double, cycles: Int = 1,
    warmupStartDivisor: Double = 100
  ) {
    precondition(peak.isFinite && peak >= 0, "learning rate \(peak) must be finite and non-negative")
    precondition(totalSteps >= 1, "a schedule needs at least one step, got \(totalSteps)")
    precondition(warmupRatio >= 0 && warmupRatio < 1, "warmup ratio \(warmupRatio) outside [0, 1)")
    precondition(cycles >= 1 && (kind != .restarts || totalSteps % cycles == 0),
                 "restarts: \(cycles) cycles do not divide \(totalSteps) steps")
    precondition(warmupStartDivisor >= 1, "warmup start divisor \(warmupStartDivisor) below 1")
    self.kind = kind
    self.peak = peak
    self.totalSteps = totalSteps
    self.warmupRatio = warmupRatio
    self.cycles = kind == .restarts ? cycles : 1
    self.warmupStartDivisor = warmupStartDivisor
    precondition(kind == .constant || kind == .linear || warmupSteps < cycleSteps,
                 "cosine decay of \(cycleSteps) steps leaves no step after a warmup of \(warmupSteps)")
  }

  /// The length of one cycle: `T / cycles` for ``Kind/restarts``, else `T`.
  public var cycleSteps: Int { totalSteps / cycles }

  /// `W = int(warmupRatio · cycleSteps)` (0 for ``Kind/constant``).
  public var warmupSteps: Int {
    kind == .constant ? 0 : Int(warmupRatio * Double(cycleSteps))
  }

  /// The warmup's first value, `peak / warmupStartDivisor`.
  public var warmupStart: Double { peak / warmupStartDivisor }

  /// The learning rate at 0-based step `step` (steps past the end keep the final value).
  public func learningRate(step: Int) -> Float {
    precondition(step >= 0, "negative step \(step)")
    switch kind {
    case .constant:
      return Float(0.5 * peak)
    case .cosine:
      return warmupCosine(step: step)
    case .restarts:
      let cycle = min(step / cycleSteps, cycles - 1)
      return warmupCosine(step: step - cycle * cycleSteps)
    case .linear:
      let warmup = warmupSteps
      if step < warmup { return warmupValue(step: step, warmup: warmup) }
      let decay = totalSteps - warmup
      guard decay > 0 else { return Float(peak) }
      let fraction = Double(min(step - warmup, decay)) / Double(decay)
      return Float(peak + (warmupStart - peak) * fraction)
    }
  }

  /// Linear warmup then cosine decay to 0 over one cycle of ``cycleSteps`` steps.
  private func warmupCosine(step: Int) -> Float {
    let warmup = warmupSteps
    if step < warmup { return warmupValue(step: step, warmup: warmup) }
    let decay = cycleSteps - warmup
    let phase = Double.pi * Double(min(step - warmup, decay)) / Double(decay)
    let cosine = Double(Elementary.cos(Float(phase)))
    return Float(peak * (0.5 * (1 + cosine)))
  }

  /// `start + (peak − start) · step / warmup`.
  private func warmupValue(step: Int, warmup: Int) -> Float {
    Float(warmupStart + (peak - warmupStart) * (Double(step) / Double(warmup)))
  }
}
