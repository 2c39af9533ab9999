import MuNetRuntime

/// How a parameter tensor is filled when a component is created.
///
/// The draws follow flax's initialisers (the ones vit_jax and the µ2Net notebooks use), each
/// element drawn in index order from the parameter's own stream (``ParameterStore``):
public enum ParameterInitializer: Sendable, Equatable {
  /// All +0.
  case zeros
  /// All 1 (LayerNorm scales).
  case ones
  /// `standardDeviation · z` with `z` = ``RandomStream/nextNormal()`` (flax `normal(stddev)`).
  case normal(standardDeviation: Float)
  /// flax `lecun_normal`: `z · σ` with `z` = ``RandomStream/nextTruncatedNormal(bound:)`` on
  /// [-2, 2] and `σ = Float(√(1 / fanIn) / 0.87962566103423978)` (the divisor makes the
  /// truncated distribution's variance `1 / fanIn`).
  case lecunNormal(fanIn: Int)
  /// flax `xavier_uniform`: `(2u − 1) · limit` with `u` = ``RandomStream/nextFloat()`` (so
  /// `2u − 1` is exact, in [-1, 1)) and `limit = Float(√(6 / (fanIn + fanOut)))`.
  case xavierUniform(fanIn: Int, fanOut: Int)

  /// Fills `buffer` in index order from `stream`.
  public func fill(_ buffer: UnsafeMutableBufferPointer<Float>, from stream: inout RandomStream) {
    switch self {
    case .zeros:
      buffer.update(repeating: 0)
    case .ones:
      buffer.update(repeating: 1)
    case .normal(let standardDeviation):
      for index in buffer.indices { buffer[index] = standardDeviation * stream.nextNormal() }
    case .lecunNormal(let fanIn):
      precondition(fanIn >= 1, "lecunNormal: fan-in must be positive")
      let sigma = Float((1 / Double(fanIn)).squareRoot() / 0.87962566103423978)
      for index in buffer.indices { buffer[index] = sigma * stream.nextTruncatedNormal(bound: 2) }
    case .xavierUniform(let fanIn, let fanOut):
      precondition(fanIn + fanOut >= 1, "xavierUniform: fans must be positive")
      let limit = Float((6 / Double(fanIn + fanOut)).squareRoot())
      for index in buffer.indices { buffer[index] = (2 * stream.nextFloat() - 1) * limit }
    }
  }
}

/// One parameter tensor of a component: its full file name, file shape and initialiser.
public struct ParameterSpec: Sendable, Equatable {
  /// The full name, `<component>/<sub>/.../<leaf>` (vit_jax naming), e.g.
  /// `encoderblock_0/MultiHeadDotProductAttention_1/query/kernel`; just `cls` for the class token.
  public let name: String
  /// The shape in the file (vit_jax layout). The engine reads the same memory as a matrix.
  public let shape: Shape
  public let initializer: ParameterInitializer

  public init(name: String, shape: Shape, initializer: ParameterInitializer) {
    self.name = name
    self.shape = shape
    self.initializer = initializer
  }
}

/// A parameter as the optimizer and the file writer see it: full name, values, and the
/// gradient buffer (nil when its component is frozen).
public struct NamedParameter: @unchecked Sendable {
  public let name: String
  /// The values, shaped as in the file (see ``ParameterSpec/shape``).
  public let value: Tensor
  /// The gradient (same shape), or nil for a frozen component.
  public let gradient: Tensor?

  public init(name: String, value: Tensor, gradient: Tensor?) {
    self.name = name
    self.value = value
    self.gradient = gradient
  }
}

/// A parameter copied out of (or into) a model, e.g. for a checkpoint file.
public struct ParameterArray: Equatable, Sendable {
  public var name: String
  public var shape: [Int]
  /// Row-major values; `values.count` is the product of `shape`.
  public var values: [Float]

  public init(name: String, shape: [Int], values: [Float]) {
    self.name = name
    self.shape = shape
    self.values = values
  }
}

/// The parameters of one component, in arena memory the store owns.
///
/// Values live in one arena planned from the specs. A *trainable* store also owns a second
/// arena with one gradient tensor per value; a frozen store has none, so frozen components cost
/// no gradient memory (and the optimizer, which sees `gradient == nil`, keeps no state for them).
///
/// Initial values: parameter `name` is drawn from the stream `initKey.child("parameter", name)`,
/// so a component's values depend only on the key and its parameter names, never on the order
/// in which components are created.
public final class ParameterStore: @unchecked Sendable {
  /// The component's name (`embedding`, `encoderblock_2`, ...).
  public let componentName: String
  /// The tensors' specs in the component's own order (not sorted).
  public let specs: [ParameterSpec]
  /// The values, one tensor per spec (same order).
  public let values: [Tensor]
  /// The gradients, one per spec, or nil when the component is frozen.
  public private(set) var gradients: [Tensor]?

  private let valueArena: Arena
  private var gradientArena: Arena?

  /// A store with freshly initialised values (see the type's doc for the streams).
  public init(componentName: String, specs: [ParameterSpec], trainable: Bool, initKey: StreamKey) {
    self.componentName = componentName
    self.specs = specs
    (valueArena, values) = ParameterStore.allocate(specs, arenaName: componentName)
    for (spec, value) in zip(specs, values) {
      var stream = initKey.child("parameter", spec.name).stream
      spec.initializer.fill(value.buffer, from: &stream)
    }
    if trainable { setTrainable(true) }
  }

  /// A store whose values are all +0, to be filled by the caller (e.g. a resized table).
  init(componentName: String, specs: [ParameterSpec], trainable: Bool) {
    self.componentName = componentName
    self.specs = specs
    (valueArena, values) = ParameterStore.allocate(specs, arenaName: componentName)
    if trainable { setTrainable(true) }
  }

  /// A copy of `other`'s values with its own memory; trainable or not as asked.
  public init(copying other: ParameterStore, trainable: Bool) {
    componentName = other.componentName
    specs = other.specs
    (valueArena, values) = ParameterStore.allocate(specs, arenaName: componentName)
    for (value, source) in zip(values, other.values) { value.copy(from: source) }
    if trainable { setTrainable(true) }
  }

  /// True when the component has gradient buffers (and so is trained).
  public var trainable: Bool { gradients != nil }

  /// Makes the component trainable (allocating zeroed gradient buffers) or frozen (releasing
  /// them). Not for the hot path: it allocates.
  public func setTrainable(_ trainable: Bool) {
    guard trainable != self.trainable else { return }
    if trainable {
      let (arena, tensors) = ParameterStore.allocate(specs, arenaName: componentName + ".gradients")
      gradientArena = arena
      gradients = tensors
    } else {
      gradients = nil
      gradientArena = nil
    }
  }

  /// Sets every gradient to +0 (nothing when frozen).
  public func zeroGradients() {
    guard let gradients else { return }
    for index in gradients.indices { gradients[index].fill(0) }
  }

  /// Number of scalar parameters.
  public var parameterCount: Int { specs.reduce(0) { $0 + $1.shape.elementCount } }

  /// The store's parameters as ``NamedParameter``s, in spec order.
  public var namedParameters: [NamedParameter] {
    specs.indices.map { index in
      NamedParameter(name: specs[index].name, value: values[index], gradient: gradients?[index])
    }
  }

  /// The values of spec `index` (a hot-path accessor: no allocation).
  @inline(__always)
  func value(_ index: Int) -> Tensor { values[index] }

  /// The gradient of spec `index`, or nil when frozen.
  @inline(__always)
  func gradient(_ index: Int) -> Tensor? { gradients?[index] }

  private static func allocate(_ specs: [ParameterSpec], arenaName: String) -> (Arena, [Tensor]) {
    var plan = ArenaPlan()
    for spec in specs { plan.reserve(spec.shape) }
    let arena = Arena(name: arenaName, plan: plan)
    let tensors = specs.map { spec in arena.allocatePlanned(spec.shape) }
    return (arena, tensors)
  }
}

extension Arena {
  /// `allocate` for memory that was planned for: running out is a programmer error.
  func allocatePlanned(_ shape: Shape) -> Tensor {
    do {
      return try allocate(shape)
    } catch {
      preconditionFailure("planned arena ran out: \(error)")
    }
  }
}
