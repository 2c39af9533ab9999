import MuNetRuntime

/// One trainable tensor as the optimizer sees it: its values and its gradient, both flat.
///
/// The optimizer knows nothing of the model: a model hands it the list of its trainable
/// buffers (in a fixed order, which is part of the clipping order) and fills the gradients
/// before each step.
public struct TrainableParameter: @unchecked Sendable {
  public let values: UnsafeMutableBufferPointer<Float>
  public let gradients: UnsafeMutableBufferPointer<Float>

  public init(values: UnsafeMutableBufferPointer<Float>, gradients: UnsafeMutableBufferPointer<Float>) {
    precondition(values.count == gradients.count,
                 "parameter of \(values.count) values has \(gradients.count) gradients")
    self.values = values
    self.gradients = gradients
  }
}

/// SGD with momentum after global-norm gradient clipping: the reference optimizer
/// `optax.chain(clip_by_global_norm(maxNorm), sgd(lr, momentum, nesterov))`.
///
/// One ``step(learningRate:compute:)``:
/// 1. Clip: if the global L2 norm of all gradients exceeds ``maxGradientNorm``, every gradient
///    is multiplied by `maxNorm / norm` (`Compute.clipByGlobalNorm`; its sum of squares follows
///    the parameters' order, then each buffer's chunks, and never depends on the thread count).
/// 2. For every element, in `Float`, one rounding per operation as written (no FMA), with
///    `m` = ``momentum`` and `lr` the step's learning rate:
///    - `trace = g + m · trace` (no dampening);
///    - `u = trace`, or with Nesterov `u = g + m · trace` (the new trace);
///    - `value = value + (−lr) · u`.
///    With `m = 0` this is plain SGD: the trace is set to `g` (the same as `g + 0 · trace` for
///    a finite trace, without letting a stale non-finite trace leak in) and `u = g`.
///
/// Deviation from the reference: the trace is kept in `Float` between steps, whereas the
/// reference stores it in bfloat16 (`accumulator_dtype=bfloat16`), rounding it to 8
/// significant bits after every step. Float keeps the optimizer exact to the formula above and
/// costs 2 bytes per parameter more.
///
/// Memory: the traces come from an ``Arena`` planned up front (``reserveTraces(in:for:)``),
/// zero-filled, so a step makes no heap allocation. Tier 1 splits the element updates over
/// the threads (a static partition of the flattened elements; each element's update is
/// independent, so every thread count gives the same bits as Tier 0).
public final class SGDMomentum: @unchecked Sendable {
  /// `m`: 0 for plain SGD.
  public let momentum: Float
  /// Nesterov momentum (`opt_nesterov`).
  public let nesterov: Bool
  /// The global gradient norm is clipped to this (1.0 in the reference).
  public let maxGradientNorm: Float
  /// The trainable tensors, in the order used for clipping.
  public let parameters: [TrainableParameter]
  /// The momentum trace of each parameter (same order); readable and writable, e.g. to save it
  /// with a checkpoint or load one inherited from a parent.
  public let traces: [UnsafeMutableBufferPointer<Float>]
  /// The total number of trainable elements.
  public let elementCount: Int

  /// The gradient buffers, kept as an array for `clipByGlobalNorm` (no allocation per step).
  private let gradients: [UnsafeMutableBufferPointer<Float>]
  /// `elementStarts[i]` is the first flattened element of parameter `i`; the last entry is
  /// ``elementCount``.
  private let elementStarts: [Int]

  /// Adds the traces of `parameters` to an arena plan.
  public static func reserveTraces(in plan: inout ArenaPlan, for parameters: [TrainableParameter]) {
    for parameter in parameters { plan.reserve(elements: parameter.values.count) }
  }

  /// An optimizer over `parameters` with zero traces allocated from `arena`.
  public init(
    parameters: [TrainableParameter], momentum: Float, nesterov: Bool, maxGradientNorm: Float = 1,
    arena: Arena
  ) throws(ArenaError) {
    precondition(momentum.isFinite && momentum >= 0, "momentum \(momentum) must be finite and >= 0")
    precondition(maxGradientNorm > 0, "maximum gradient norm must be positive")
    var traces: [UnsafeMutableBufferPointer<Float>] = []
    var starts = [0]
    for parameter in parameters {
      traces.append(try arena.allocate(Shape(parameter.values.count)).buffer)
      starts.append(starts[starts.count - 1] + parameter.values.count)
    }
    self.momentum = momentum
    self.nesterov = nesterov
    self.maxGradientNorm = maxGradientNorm
    self.parameters = parameters
    self.traces = traces
    self.gradients = parameters.map(\.gradients)
    self.elementStarts = starts
    self.elementCount = starts[starts.count - 1]
  }

  /// Clips the gradients, then updates traces and values with `learningRate` (see
  /// ``SGDMomentum``). Returns the norm before clipping and the factor applied.
  @discardableResult
  public func step(learningRate: Float, compute: Compute) -> GlobalNormClip {
    let clip = compute.clipByGlobalNorm(gradients, maxNorm: maxGradientNorm)
    let job = SGDMomentumJob(
      parameters: parameters, traces: traces, elementStarts: elementStarts,
      momentum: momentum, nesterov: nesterov, learningRate: learningRate)
    compute.parallelFor(count: elementCount, grain: Compute.elementsPerTaskMin, job)
    return clip
  }

  /// Sets every trace to zero (a fresh child without an inherited trace).
  public func resetTraces() {
    for trace in traces { trace.update(repeating: 0) }
  }
}

/// The element updates for a range of flattened element indices (which may span parameters).
private struct SGDMomentumJob: RangeJob {
  let parameters: [TrainableParameter]
  let traces: [UnsafeMutableBufferPointer<Float>]
  let elementStarts: [Int]
  let momentum: Float
  let nesterov: Bool
  let learningRate: Float

  func run(range: Range<Int>) {
    var index = firstParameter(containing: range.lowerBound)
    while index < parameters.count && elementStarts[index] < range.upperBound {
      let start = elementStarts[index]
      let lower = max(range.lowerBound, start) - start
      let upper = min(range.upperBound, elementStarts[index + 1]) - start
      SGDMomentumKernel.update(
        values: parameters[index].values, gradients: parameters[index].gradients, trace: traces[index],
        elements: lower..<upper, momentum: momentum, nesterov: nesterov, learningRate: learningRate)
      index += 1
    }
  }

  /// The parameter whose elements contain `element` (the last one starting at or before it).
  private func firstParameter(containing element: Int) -> Int {
    var low = 0
    var high = parameters.count
    while high - low > 1 {
      let middle = (low + high) / 2
      if elementStarts[middle] <= element { low = middle } else { high = middle }
    }
    return low
  }
}

/// The Tier 0 SGD-with-momentum element update (see ``SGDMomentum`` for the formula).
public enum SGDMomentumKernel {
  /// Updates `trace` and `values` at the indices in `elements` from `gradients`.
  @inlinable
  public static func update(
    values: UnsafeMutableBufferPointer<Float>, gradients: UnsafeMutableBufferPointer<Float>,
    trace: UnsafeMutableBufferPointer<Float>, elements: Range<Int>,
    momentum: Float, nesterov: Bool, learningRate: Float
  ) {
    precondition(values.count == gradients.count && values.count == trace.count,
                 "SGD update: values, gradients and trace differ in length")
    precondition(elements.lowerBound >= 0 && elements.upperBound <= values.count,
                 "SGD update: elements \(elements) outside 0..<\(values.count)")
    guard !elements.isEmpty else { return }
    let value = values.baseAddress!, gradient = gradients.baseAddress!, traced = trace.baseAddress!
    let step = -learningRate
    if momentum == 0 {
      for k in elements {
        traced[k] = gradient[k]
        value[k] = value[k] + step * gradient[k]
      }
    } else if nesterov {
      for k in elements {
        let g = gradient[k]
        let newTrace = g + momentum * traced[k]
        traced[k] = newTrace
        value[k] = value[k] + step * (g + momentum * newTrace)
      }
    } else {
      for k in elements {
        let newTrace = gradient[k] + momentum * traced[k]
        traced[k] = newTrace
        value[k] = value[k] + step * newTrace
      }
    }
  }
}
